/**
 * The guest images the page offers: `images/catalog.json` (our own guests, see images/README.md), plus a "Linux"
 * entry when `images/linux/bzImage` is present (fetched by a separate step; absent in a fresh checkout).
 * Fetching goes through a `fetch` function so tests can serve files from disk.
 */
import { DEFAULT_LINUX_CMDLINE, type BootMedia } from './protocol.ts';
import { buildBootMedia, parseGuestCatalog, type GuestImage } from '../machine/guest-images.ts';

export interface CatalogEntry {
  /** Stable id ("monitor", "linux"). */
  id: string;
  title: string;
  description: string;
  /** How it boots (a saved machine is imported, never offered by the catalog). */
  kind: Exclude<BootMedia['kind'], 'saved'>;
  /** Paths relative to the images/ folder: the image, or the kernel then the initrd. */
  files: string[];
  memoryMiB: number;
  /** A blank hard disk to add, in MiB (the boot medium's own size comes from the catalog). */
  diskMiB: number;
  cmdline?: string;
  /** The first line the guest prints on COM1 (tests look for it). */
  banner?: string;
  /** Where the guest talks: COM1 or the VGA text screen (the console opens on that view). */
  console: 'serial' | 'vga';
  /** The catalog entry, for building its boot medium. */
  guest?: GuestImage;
}

export type Fetcher = (url: string, init?: RequestInit) => Promise<Response>;

/**
 * Reads catalog.json (schema and checks: src/machine/guest-images.ts, images/README.md). A catalog that
 * fails its checks yields no entries and the reason in `problems`, so the page still offers local files.
 */
export function parseCatalog(json: unknown): { entries: CatalogEntry[]; problems: string[] } {
  let catalog;
  try {
    catalog = parseGuestCatalog(json);
  } catch (e) {
    return { entries: [], problems: [(e as Error).message] };
  }
  const entries = catalog.guests.map((guest): CatalogEntry => ({
    id: guest.name,
    title: guest.name,
    description: guest.description,
    kind: guest.boot,
    files: [guest.image],
    memoryMiB: guest.memoryMiB,
    diskMiB: 0,
    banner: guest.banner,
    console: guest.console,
    guest,
  }));
  return { entries, problems: [] };
}

/** A file that exists and is not the dev server's HTML fallback page. */
async function exists(fetcher: Fetcher, url: string): Promise<boolean> {
  try {
    const response = await fetcher(url, { method: 'HEAD', cache: 'no-store' });
    return response.ok && !(response.headers.get('content-type') ?? '').includes('text/html');
  } catch {
    return false;
  }
}

export const LINUX_ENTRY: CatalogEntry = {
  id: 'linux',
  title: 'Linux',
  description: 'A Linux kernel with a BusyBox initramfs, booted directly (no BIOS); shell on COM1.',
  kind: 'linux',
  files: ['linux/bzImage', 'linux/initrd.gz'],
  memoryMiB: 128,
  diskMiB: 0,
  cmdline: DEFAULT_LINUX_CMDLINE,
  banner: 'Linux version',
  console: 'serial',
};

/** Loads the catalog from `base` (the images/ folder URL, ending in '/'). Never throws. */
export async function loadCatalog(
  base: string,
  fetcher: Fetcher = fetch,
): Promise<{ entries: CatalogEntry[]; problems: string[] }> {
  let parsed: { entries: CatalogEntry[]; problems: string[] } = { entries: [], problems: [] };
  try {
    const response = await fetcher(`${base}catalog.json`, { cache: 'no-cache' });
    const type = response.headers.get('content-type') ?? '';
    if (response.ok && !type.includes('text/html')) parsed = parseCatalog(await response.json());
    else parsed.problems.push(`no guest catalog at ${base}catalog.json (HTTP ${response.status})`);
  } catch (e) {
    parsed.problems.push(`the guest catalog could not be read: ${(e as Error).message}`);
  }
  if (!parsed.entries.some((e) => e.id === 'linux') && (await exists(fetcher, `${base}linux/bzImage`))) {
    const initrd = await exists(fetcher, `${base}linux/initrd.gz`);
    parsed.entries.push(initrd ? LINUX_ENTRY : { ...LINUX_ENTRY, files: ['linux/bzImage'] });
  }
  return parsed;
}

/** Fetches an entry's files and turns them into boot media. Throws with the URL that failed. */
export async function fetchMedia(
  base: string,
  entry: CatalogEntry,
  fetcher: Fetcher = fetch,
): Promise<BootMedia> {
  const files = await Promise.all(
    entry.files.map(async (file) => {
      const url = `${base}${file}`;
      const response = await fetcher(url);
      const type = response.headers.get('content-type') ?? '';
      if (!response.ok || type.includes('text/html')) {
        throw new Error(
          `${entry.title}: ${url} is missing (HTTP ${response.status}); were the images built?`,
        );
      }
      return new Uint8Array(await response.arrayBuffer());
    }),
  );
  if (entry.guest) {
    // A guest of the library: its binary padded to the medium it boots from.
    const medium = buildBootMedia(entry.guest, files[0]);
    if (entry.kind === 'multiboot') return { kind: 'multiboot', kernel: medium, cmdline: entry.cmdline };
    return { kind: entry.kind === 'floppy' ? 'floppy' : 'disk', image: medium };
  }
  switch (entry.kind) {
    case 'multiboot':
      return { kind: 'multiboot', kernel: files[0], cmdline: entry.cmdline };
    case 'linux':
      return {
        kind: 'linux',
        kernel: files[0],
        initrd: files[1],
        cmdline: entry.cmdline ?? DEFAULT_LINUX_CMDLINE,
      };
    case 'disk':
      return { kind: 'disk', image: files[0] };
    case 'floppy':
      return { kind: 'floppy', image: files[0] };
  }
}
