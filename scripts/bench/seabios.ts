/**
 * SeaBIOS for v86: bios.bin and vgabios-stdvga.bin from Debian's `seabios` package, fetched once with
 * `apt-get download` and unpacked with `dpkg-deb -x` (no root needed for either) into a git-ignored cache.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SeabiosFiles {
  bios: Uint8Array;
  vgaBios: Uint8Array;
  /** The package it came from, e.g. "seabios_1.16.2-1_all.deb". */
  version: string;
}

const FILES = ['bios.bin', 'vgabios-stdvga.bin'] as const;

function have(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function manual(cacheDir: string, reason: string): Error {
  return new Error(
    `v86 needs SeaBIOS, and ${reason}.\n` +
      `  On Debian or Ubuntu: apt-get download seabios && dpkg-deb -x seabios_*.deb x && ` +
      `cp x/usr/share/seabios/{bios.bin,vgabios-stdvga.bin} ${cacheDir}/\n` +
      `  Or run the benchmark without v86: npm run bench -- --no-v86`,
  );
}

/** Returns the two ROM images, fetching them into `cacheDir` first when they are not there. */
export function ensureSeabios(cacheDir: string, log: (message: string) => void): SeabiosFiles {
  const paths = FILES.map((f) => join(cacheDir, f));
  if (!paths.every((p) => existsSync(p))) {
    if (!have('apt-get') || !have('dpkg-deb')) throw manual(cacheDir, 'apt-get and dpkg-deb were not found');
    mkdirSync(cacheDir, { recursive: true });
    const work = mkdtempSync(join(tmpdir(), 'visor86-seabios-'));
    try {
      log('fetching SeaBIOS (Debian package seabios) for v86');
      const download = () =>
        execFileSync('apt-get', ['download', '-qq', 'seabios'], {
          cwd: work,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      try {
        download();
      } catch (e) {
        const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
        if (!isRoot) throw manual(cacheDir, `apt-get download seabios failed (${String(e).split('\n')[0]})`);
        log('apt-get download failed; updating the package lists (apt-get update) and trying again');
        execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
        download();
      }
      const deb = readdirSync(work).find((f) => f.startsWith('seabios') && f.endsWith('.deb'));
      if (!deb) throw manual(cacheDir, 'apt-get download seabios produced no .deb');
      execFileSync('dpkg-deb', ['-x', deb, 'x'], { cwd: work, stdio: 'ignore' });
      for (const f of FILES) {
        const from = join(work, 'x/usr/share/seabios', f);
        if (!existsSync(from)) throw manual(cacheDir, `${deb} has no /usr/share/seabios/${f}`);
        copyFileSync(from, join(cacheDir, f));
      }
      writeFileSync(join(cacheDir, 'VERSION'), `${deb}\n`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const versionPath = join(cacheDir, 'VERSION');
  return {
    bios: new Uint8Array(readFileSync(paths[0])),
    vgaBios: new Uint8Array(readFileSync(paths[1])),
    version: existsSync(versionPath) ? readFileSync(versionPath, 'utf8').trim() : 'unknown (placed by hand)',
  };
}
