/**
 * `npm run images`: assembles every guest in images/catalog.json from its NASM source and writes the binary
 * the catalog names, then prints one line per guest with its size and boot medium.
 *
 *   npm run images                 rebuild all guests
 *   npm run images -- NAME...      rebuild only these
 *   npm run images -- --check      change nothing; fail when a committed binary differs from its source
 *
 * Needs nasm (Debian package nasm). Sources include images/lib/*.inc.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseGuestCatalog, type GuestCatalog, type GuestImage } from '../src/machine/guest-images.ts';

export const IMAGES_DIR = resolve(import.meta.dirname, '../images');

export function loadCatalog(): GuestCatalog {
  return parseGuestCatalog(JSON.parse(readFileSync(join(IMAGES_DIR, 'catalog.json'), 'utf8')));
}

/** Assembles a guest's source with nasm and returns the bytes (nothing is written under images/). */
export function assembleGuest(guest: GuestImage): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'visor86-images-'));
  try {
    const out = join(dir, `${guest.name}.bin`);
    execFileSync(
      'nasm',
      ['-f', 'bin', '-I', join(IMAGES_DIR, 'lib') + '/', '-o', out, join(IMAGES_DIR, guest.source)],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function medium(guest: GuestImage): string {
  if (guest.boot === 'multiboot') return 'multiboot kernel';
  return `${guest.boot} of ${guest.diskSize} bytes`;
}

function main(args: string[]): number {
  const check = args.includes('--check');
  const names = args.filter((a) => !a.startsWith('--'));
  try {
    execFileSync('nasm', ['-v'], { stdio: 'ignore' });
  } catch {
    console.error('images: nasm is not installed (Debian: apt-get install nasm)');
    return 1;
  }
  const catalog = loadCatalog();
  const unknown = names.filter((n) => !catalog.guests.some((g) => g.name === n));
  if (unknown.length > 0) {
    console.error(`images: no guest named ${unknown.join(', ')}`);
    return 1;
  }
  let failures = 0;
  let total = 0;
  for (const guest of catalog.guests) {
    if (names.length > 0 && !names.includes(guest.name)) continue;
    let built: Uint8Array;
    try {
      built = assembleGuest(guest);
    } catch {
      console.error(`images: ${guest.name}: nasm failed on ${guest.source}`);
      failures++;
      continue;
    }
    const path = join(IMAGES_DIR, guest.image);
    const committed = existsSync(path) ? new Uint8Array(readFileSync(path)) : null;
    const same = committed !== null && sameBytes(committed, built);
    let state: string;
    if (check) {
      state = same ? 'matches its source' : 'DIFFERS from its source';
      if (!same) failures++;
    } else {
      if (!same) writeFileSync(path, built);
      state = same ? 'unchanged' : committed === null ? 'created' : 'updated';
    }
    total += built.length;
    console.log(
      `${guest.name.padEnd(12)} ${String(built.length).padStart(6)} bytes  ${guest.image.padEnd(28)} ${medium(guest).padEnd(30)} ${state}`,
    );
  }
  console.log(`images: ${total} bytes in all${failures ? `, ${failures} problem(s)` : ''}`);
  return failures ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
