#!/usr/bin/env node
// Entry point for `npx visor86`. The emulator runs several times faster bundled into one module (module
// imports between files cost a getter call each under a TypeScript loader), so the CLI is bundled with
// esbuild into node_modules/.cache/visor86 on each start (about 0.1 s) and imported from there.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'node_modules', '.cache', 'visor86', `cli-${process.pid}.mjs`);
await build({
  entryPoints: [join(root, 'src/cli/main.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile,
  logLevel: 'error',
});
const { rm } = await import('node:fs/promises');
let main;
try {
  ({ main } = await import(outfile));
} finally {
  await rm(outfile, { force: true });
}
process.exitCode = await main(process.argv.slice(2));
