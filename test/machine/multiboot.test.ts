import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPc } from '../../src/machine/pc.ts';
import { bootMultiboot, findMultibootHeader } from '../../src/machine/multiboot.ts';

const KERNEL = new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures', 'tiny-multiboot.bin')));
const text = (s: string) => new TextEncoder().encode(s);

function boot(options: Parameters<typeof bootMultiboot>[2]): { status: number | null; output: string } {
  const chunks: Uint8Array[] = [];
  const pc = createPc({ memoryMiB: 16, onSerialOutput: (com, bytes) => com === 0 && chunks.push(bytes) });
  bootMultiboot(pc, KERNEL, options);
  expect(pc.run(1_000_000)).toBe('exit');
  return { status: pc.exitStatus, output: Buffer.concat(chunks).toString('latin1') };
}

describe('Multiboot direct boot of the tiny a.out-kludge kernel', () => {
  it('has its header at the start of the file', () => {
    expect(findMultibootHeader(KERNEL)).toBe(0);
  });

  it('prints its command line and module 0', () => {
    const { status, output } = boot({
      cmdline: 'tiny console=com1',
      modules: [{ data: text('MODULE-ZERO-DATA'), string: 'initrd.img' }],
    });
    expect(status).toBe((5 << 1) | 1);
    const lines = output.split('\n');
    // Info flags: memory, cmdline, mods, mmap, loader name.
    expect(lines[0]).toBe('magic=2badb002 flags=0000024d');
    expect(lines[1]).toBe('cmdline=tiny console=com1');
    // Module 0 page aligned after the kernel's bss (which ends below 0x101000).
    expect(lines[2]).toBe('mods=1 mod0=00101000 size=16 data=MODULE-Z string=initrd.img');
  });

  it('works without a command line or modules', () => {
    const { output } = boot({});
    expect(output).toBe('magic=2badb002 flags=00000241\ncmdline=\nmods=0\n');
  });
});
