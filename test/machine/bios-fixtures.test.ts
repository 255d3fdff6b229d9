/**
 * The BIOS test boot sectors are committed as NASM source and as the binary the tests load. This test
 * re-assembles every fixtures/bios-*.asm and checks the committed .bin is exactly what the source gives.
 * Without nasm it skips with a printed reason (and fails when CI=true).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandExists, requirement } from '../helpers/requirements.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const SOURCES = readdirSync(FIXTURES).filter((f) => f.startsWith('bios-') && f.endsWith('.asm'));
const skip = requirement('nasm', commandExists('nasm'), 'apt-get install nasm');

describe.skipIf(skip !== null)('BIOS fixture binaries match their NASM source', () => {
  it('finds the fixtures', () => {
    expect(SOURCES.length).toBeGreaterThanOrEqual(8);
  });

  for (const source of SOURCES) {
    it(source, () => {
      const dir = mkdtempSync(join(tmpdir(), 'visor86-bios-'));
      try {
        const out = join(dir, 'out.bin');
        execFileSync('nasm', ['-f', 'bin', '-I', FIXTURES, '-o', out, join(FIXTURES, source)]);
        const built = readFileSync(out);
        const committed = readFileSync(join(FIXTURES, source.replace(/\.asm$/, '.bin')));
        expect(built.length).toBe(512);
        expect(Buffer.compare(built, committed)).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
