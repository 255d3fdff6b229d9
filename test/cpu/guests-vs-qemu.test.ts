/**
 * The independent oracle: every CPU test program in test/guests runs in visor86 and its COM1 output must
 * equal what QEMU printed for the same binary (test/guests/golden, recorded by `npm run golden`).
 * Also checks that each committed binary is what its NASM source assembles to (when nasm is installed).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { createPc } from '../../src/machine/pc.ts';
import { bootMultiboot } from '../../src/machine/multiboot.ts';
import { commandExists, requirement } from '../helpers/requirements.ts';

const GUESTS = resolve(import.meta.dirname, '../guests');
const names = readdirSync(join(GUESTS, 'build'))
  .filter((f) => f.endsWith('.bin'))
  .map((f) => f.slice(0, -4))
  .sort();
/** Instructions a program may run before it counts as hung (they finish in a few million). */
const BUDGET = 200_000_000;

/** Boots a program as QEMU's -kernel would and returns its COM1 output plus the exit line. */
export function runGuest(binary: Uint8Array): string {
  const out: number[] = [];
  const pc = createPc({ memoryMiB: 64, onSerialOutput: (com, bytes) => com === 0 && out.push(...bytes) });
  bootMultiboot(pc, binary);
  let left = BUDGET;
  while (left > 0) {
    const reason = pc.run(1_000_000);
    if (reason !== 'budget') break;
    left -= 1_000_000;
  }
  return Buffer.from(out).toString('latin1') + `exit: ${pc.exitStatus ?? 'none'}\n`;
}

describe('CPU test programs against QEMU golden output', () => {
  test('there are at least 25 programs', () => {
    expect(names.length).toBeGreaterThanOrEqual(25);
  });

  test.each(names)('%s', (name) => {
    const golden = readFileSync(join(GUESTS, 'golden', `${name}.txt`), 'latin1');
    const output = runGuest(readFileSync(join(GUESTS, 'build', `${name}.bin`)));
    expect(output).toBe(golden);
  });

  const noNasm = requirement('nasm', commandExists('nasm'), 'apt-get install nasm');
  test.skipIf(noNasm !== null).each(names)('%s.bin is built from its source', (name) => {
    const dir = mkdtempSync(join(tmpdir(), 'visor86-guest-'));
    const out = join(dir, `${name}.bin`);
    execFileSync('nasm', [
      '-f',
      'bin',
      '-I',
      join(GUESTS, 'lib') + '/',
      '-o',
      out,
      join(GUESTS, `${name}.asm`),
    ]);
    expect(Buffer.compare(readFileSync(out), readFileSync(join(GUESTS, 'build', `${name}.bin`)))).toBe(0);
  });
});
