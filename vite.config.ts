import { defineConfig, type Plugin } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { cpSync, createReadStream, existsSync, statSync } from 'node:fs';
import { resolve, sep } from 'node:path';

const IMAGES = resolve(import.meta.dirname, 'images');

/**
 * The page fetches guest images at run time from `images/` beside index.html. The dev server (and
 * `vite preview`) serve the repository's folder as plain files: Vite would otherwise try to transform
 * extension-less files such as bzImage as modules, and answer missing ones with index.html. A build copies
 * the folder into dist/images (sources and notes left out), so dist/ works from any static file server.
 */
function guestImages(): Plugin {
  let outDir = 'dist';
  let building = false;
  const serve = (
    req: { url?: string; method?: string },
    res: import('node:http').ServerResponse,
    next: () => void,
  ) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]);
    const file = resolve(IMAGES, '.' + path);
    if (file !== IMAGES && !file.startsWith(IMAGES + sep)) return next();
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    res.setHeader('Content-Length', statSync(file).size);
    res.setHeader('Cache-Control', 'no-cache');
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  };
  return {
    name: 'visor86-guest-images',
    configureServer(server) {
      server.middlewares.use('/images', serve);
    },
    configurePreviewServer(server) {
      server.middlewares.use('/images', serve);
    },
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
      building = config.command === 'build' && !config.isWorker;
    },
    closeBundle() {
      if (!building || !existsSync(IMAGES)) return;
      cpSync(IMAGES, resolve(outDir, 'images'), {
        recursive: true,
        filter: (src) => !/\.(asm|inc|md|ts)$/i.test(src),
      });
    },
  };
}

/**
 * Starts the test files that take minutes first (the Linux boot runs its CLI in a child process for ~10
 * minutes of CPU), so the short ones fill the other worker meanwhile instead of the long one starting last.
 */
const LONGEST_FIRST = ['test/linux/', 'test/e2e/', 'test/conformance/', 'test/cpu/guests-vs-qemu'];
class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONGEST_FIRST.findIndex((part) => f.moduleId.replaceAll('\\', '/').includes(part));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return sorted
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map((x) => x.f);
  }
}

export default defineConfig({
  root: '.',
  // Relative asset URLs: dist/ works from any folder of any static server.
  base: './',
  plugins: [guestImages()],
  build: { outDir: 'dist', target: 'es2022' },
  worker: { format: 'es' },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'threads',
    sequence: { sequencer: LongestFirstSequencer },
  },
});
