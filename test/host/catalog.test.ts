import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fetchMedia, loadCatalog, parseCatalog, type Fetcher } from '../../src/host/catalog.ts';
import { checkMedia } from '../../src/host/media.ts';

const IMAGES = resolve(import.meta.dirname, '..', '..', 'images');

/** Serves a folder the way a static server does; `fallback` mimics a dev server's index.html answer. */
function folderFetcher(root: string, options: { fallback?: boolean; hide?: string[] } = {}): Fetcher {
  return async (url, init) => {
    const path = url.replace(/^base\//, '');
    const file = join(root, path);
    const found =
      !options.hide?.some((h) => path.startsWith(h)) && existsSync(file) && statSync(file).isFile();
    if (!found) {
      return options.fallback
        ? new Response('<!doctype html>', { status: 200, headers: { 'content-type': 'text/html' } })
        : new Response('not found', { status: 404 });
    }
    const type = path.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    return new Response(init?.method === 'HEAD' ? null : readFileSync(file), {
      headers: { 'content-type': type },
    });
  };
}

describe('the guest catalog', () => {
  it('reads images/catalog.json into entries with their banners and consoles', () => {
    const { entries, problems } = parseCatalog(
      JSON.parse(readFileSync(join(IMAGES, 'catalog.json'), 'utf8')),
    );
    expect(problems).toEqual([]);
    const monitor = entries.find((e) => e.id === 'monitor')!;
    expect(monitor).toMatchObject({ kind: 'disk', files: ['monitor/monitor.bin'], console: 'serial' });
    expect(monitor.banner).toMatch(/^monitor: /);
    expect(entries.find((e) => e.id === 'life')?.console).toBe('vga');
  });

  it('names what is wrong with a broken catalog instead of throwing', () => {
    expect(parseCatalog({ version: 2, guests: [] }).problems[0]).toMatch(/version 2 is not 1/);
    expect(parseCatalog(null).entries).toEqual([]);
  });

  it('builds boot media every loader accepts from each entry', async () => {
    const fetcher = folderFetcher(IMAGES);
    const { entries } = await loadCatalog('base/', fetcher);
    for (const entry of entries.filter((e) => e.id !== 'linux')) {
      const media = await fetchMedia('base/', entry, fetcher);
      expect(media.kind).toBe(entry.kind);
      expect(() => checkMedia(media, entry.id)).not.toThrow();
    }
  });

  it('offers Linux only when images/linux/bzImage is really there', async () => {
    const withLinux = await loadCatalog('base/', folderFetcher(IMAGES, { fallback: true }));
    const hasKernel = existsSync(join(IMAGES, 'linux', 'bzImage'));
    expect(withLinux.entries.some((e) => e.id === 'linux')).toBe(hasKernel);
    // A dev server answering a missing file with index.html does not count as a kernel.
    const without = await loadCatalog('base/', folderFetcher(IMAGES, { fallback: true, hide: ['linux/'] }));
    expect(without.entries.some((e) => e.id === 'linux')).toBe(false);
  });

  it('boots Linux with console=ttyS0 tsc=reliable and 128 MiB', async () => {
    // A folder with only a (tiny) bzImage and an initrd, served like images/linux/.
    const kernel = readFileSync(join(import.meta.dirname, '..', 'machine', 'fixtures', 'tiny-bzimage.bin'));
    const fetcher: Fetcher = async (url) => {
      if (url === 'base/linux/bzImage') return new Response(kernel);
      if (url === 'base/linux/initrd.gz') return new Response(new Uint8Array([0x1f, 0x8b, 8, 0]));
      return new Response('not found', { status: 404 });
    };
    const linux = (await loadCatalog('base/', fetcher)).entries.find((e) => e.id === 'linux')!;
    expect(linux).toMatchObject({
      title: 'Linux',
      memoryMiB: 128,
      console: 'serial',
      cmdline: 'console=ttyS0 tsc=reliable',
    });
    const media = await fetchMedia('base/', linux, fetcher);
    expect(media).toMatchObject({ kind: 'linux', cmdline: 'console=ttyS0 tsc=reliable' });
    expect(media.kind === 'linux' && media.initrd?.length).toBe(4);
  });

  it('reports a missing catalog and a missing image clearly', async () => {
    const empty = await loadCatalog('base/', folderFetcher('/nonexistent'));
    expect(empty.entries).toEqual([]);
    expect(empty.problems[0]).toMatch(/no guest catalog at base\/catalog\.json \(HTTP 404\)/);
    const { entries } = await loadCatalog('base/', folderFetcher(IMAGES));
    const hello = entries.find((e) => e.id === 'hello')!;
    await expect(
      fetchMedia('base/', { ...hello, files: ['hello/missing.bin'] }, folderFetcher(IMAGES)),
    ).rejects.toThrow('hello: base/hello/missing.bin is missing (HTTP 404)');
  });
});
