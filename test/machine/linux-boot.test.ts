import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPc } from '../../src/machine/pc.ts';
import type { Pc } from '../../src/machine/pc.ts';
import {
  bootLinux,
  CMDLINE_ADDRESS,
  isLinuxKernel,
  ZERO_PAGE_ADDRESS,
} from '../../src/machine/linux-boot.ts';
import { biosMemoryMap } from '../../src/machine/memory-map.ts';
import { CS, DS, EBP, EBX, EDI, ESI } from '../../src/cpu/constants.ts';
import { commandExists, requirement } from '../helpers/requirements.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const KERNEL = new Uint8Array(readFileSync(join(FIXTURES, 'tiny-bzimage.bin')));
const text = (s: string) => new TextEncoder().encode(s);

function machine(memoryMiB = 32): { pc: Pc; output: () => string } {
  const chunks: Uint8Array[] = [];
  const pc = createPc({ memoryMiB, onSerialOutput: (com, bytes) => com === 0 && chunks.push(bytes) });
  return { pc, output: () => Buffer.concat(chunks).toString('latin1') };
}

/** A copy of the fixture kernel with some header bytes changed. */
function patched(edit: (view: DataView, bytes: Uint8Array) => void, base = KERNEL): Uint8Array {
  const bytes = base.slice();
  edit(new DataView(bytes.buffer), bytes);
  return bytes;
}

describe('Linux bzImage direct boot', () => {
  it('boots the tiny bzImage, which reports the zero page on COM1 and exits', () => {
    const { pc, output } = machine(64);
    const info = bootLinux(pc, KERNEL, {
      cmdline: 'console=ttyS0 root=/dev/ram0',
      initrd: text('INITRD-DATA!'),
    });
    expect(info.protocol).toBe(0x020a);
    expect(info.kernelAddress).toBe(0x100000);
    expect(pc.run(1_000_000)).toBe('exit');
    expect(pc.exitStatus).toBe((0x10 << 1) | 1);
    const lines = output().split('\n');
    expect(lines[0]).toBe('loader=ff cs=0010 ds=0018 regs=00000000 if=0');
    expect(lines[1]).toBe('cmdline=console=ttyS0 root=/dev/ram0');
    expect(lines[2]).toBe(
      `e820=05 altmem=${(63 * 1024).toString(16).padStart(8, '0')} video=03 80x25 vga=01`,
    );
    // The initrd sits in the last page of RAM (64 MiB - 4 KiB).
    expect(lines[3]).toBe('initrd=03fff000 size=12 data=INITRD-D');
  });

  it('hands over the register state of the 32-bit boot protocol', () => {
    const { pc } = machine();
    bootLinux(pc, KERNEL);
    const cpu = pc.cpu;
    expect(cpu.eip >>> 0).toBe(0x100000);
    expect(cpu.reg32[ESI] >>> 0).toBe(ZERO_PAGE_ADDRESS);
    expect([cpu.reg32[EBP], cpu.reg32[EBX], cpu.reg32[EDI]]).toEqual([0, 0, 0]);
    expect(cpu.flags & 0x200).toBe(0);
    expect(cpu.cr0 & 1).toBe(1);
    expect(cpu.sreg[CS]).toBe(0x10);
    expect(cpu.sreg[DS]).toBe(0x18);
  });

  it('builds the zero page: header copy, loader fields, E820 table, screen_info', () => {
    const { pc } = machine(32);
    const initrd = new Uint8Array(10000).fill(0x5a);
    bootLinux(pc, KERNEL, { cmdline: 'a b c', initrd });
    const m = pc.memory;
    const zp = ZERO_PAGE_ADDRESS;
    expect(m.read32(zp + 0x202)).toBe(0x53726448); // "HdrS" copied with the header
    expect(m.read8(zp + 0x1f1)).toBe(1); // setup_sects
    expect(m.read8(zp + 0x210)).toBe(0xff); // type_of_loader: undefined
    expect(m.read8(zp + 0x211)).toBe(0x81); // LOADED_HIGH | CAN_USE_HEAP
    expect(m.read16(zp + 0x224)).toBe(0xe000 - 0x200); // heap_end_ptr
    expect(m.read32(zp + 0x228)).toBe(CMDLINE_ADDRESS);
    expect(new TextDecoder().decode(m.readBytes(CMDLINE_ADDRESS, 6))).toBe('a b c\0');
    // The initrd: page aligned, as high as possible.
    const initrdAt = m.read32(zp + 0x218);
    expect(initrdAt % 4096).toBe(0);
    expect(initrdAt).toBe(Math.floor((32 * 1024 * 1024 - 10000) / 4096) * 4096);
    expect(m.read32(zp + 0x21c)).toBe(10000);
    expect(m.readBytes(initrdAt, 10000)).toEqual(initrd);
    // E820.
    const map = biosMemoryMap(32 * 1024 * 1024);
    expect(m.read8(zp + 0x1e8)).toBe(map.length);
    map.forEach((region, i) => {
      const e = zp + 0x2d0 + i * 20;
      expect([
        m.read32(e) >>> 0,
        m.read32(e + 4),
        m.read32(e + 8),
        m.read32(e + 12),
        m.read32(e + 16),
      ]).toEqual([region.base, 0, region.length, 0, region.type]);
    });
    // alt_mem_k and screen_info.
    expect(m.read32(zp + 0x1e0)).toBe(31 * 1024);
    expect([m.read8(zp + 0x06), m.read8(zp + 0x07), m.read8(zp + 0x0e), m.read8(zp + 0x0f)]).toEqual([
      3, 80, 25, 1,
    ]);
    // The protected-mode kernel at 1 MiB.
    expect(m.readBytes(0x100000, 16)).toEqual(KERNEL.subarray(0x400, 0x410));
  });

  it('puts the initrd below initrd_addr_max', () => {
    const { pc } = machine(64);
    const kernel = patched((v) => v.setUint32(0x22c, 0x00ffffff, true));
    const info = bootLinux(pc, kernel, { initrd: new Uint8Array(5000) });
    expect(info.initrdAddress).toBe(0x1000000 - 0x2000);
  });

  it('treats setup_sects = 0 as 4', () => {
    // Move the protected-mode part from (1 + 1) * 512 to (4 + 1) * 512.
    const kernel = new Uint8Array(KERNEL.length + 3 * 512);
    kernel.set(KERNEL.subarray(0, 0x400));
    kernel.set(KERNEL.subarray(0x400), 0xa00);
    kernel[0x1f1] = 0;
    const { pc, output } = machine();
    expect(bootLinux(pc, kernel, { cmdline: 'four' }).setupSects).toBe(4);
    expect(pc.run(1_000_000)).toBe('exit');
    expect(output()).toContain('cmdline=four\n');
  });

  it('refuses what is not a bzImage', () => {
    const { pc } = machine();
    expect(isLinuxKernel(new Uint8Array(4096))).toBe(false);
    expect(() => bootLinux(pc, new Uint8Array(4096))).toThrow(/not a Linux bzImage.*HdrS/);
    expect(() => bootLinux(pc, new Uint8Array(16))).toThrow(/not a Linux bzImage/);
    expect(() => bootLinux(pc, KERNEL.subarray(0, 0x300))).toThrow(/truncated/);
  });

  it('refuses boot protocols older than 2.02 and zImages', () => {
    const { pc } = machine();
    const old = patched((v) => v.setUint16(0x206, 0x0201, true));
    expect(() => bootLinux(pc, old)).toThrow(/protocol 2\.01 is too old.*2\.02/);
    const zImage = patched((v) => v.setUint8(0x211, 0));
    expect(() => bootLinux(pc, zImage)).toThrow(/zImage/);
  });

  it('refuses a kernel too big for RAM, or fixed at an address beyond it', () => {
    const { pc } = machine(16);
    const big = patched((v) => v.setUint32(0x260, 32 * 1024 * 1024, true)); // init_size 32 MiB
    expect(() => bootLinux(pc, big)).toThrow(/needs memory up to 0x2100000 \(33 MiB\).*16 MiB of RAM/);
    const fixed = patched((v) => {
      v.setUint8(0x234, 0); // not relocatable
      v.setUint32(0x258, 0x2000000, true); // pref_address 32 MiB
    });
    expect(() => bootLinux(pc, fixed)).toThrow(/not relocatable.*0x2000000/);
  });

  it('refuses an initrd that does not fit', () => {
    const { pc } = machine(4);
    expect(() => bootLinux(pc, KERNEL, { initrd: new Uint8Array(4 * 1024 * 1024) })).toThrow(
      /initrd of 4194304 bytes does not fit/,
    );
    // Nor one that would fit in RAM but not under initrd_addr_max.
    const lowMax = patched((v) => v.setUint32(0x22c, 0x001fffff, true));
    expect(() => bootLinux(pc, lowMax, { initrd: new Uint8Array(2 * 1024 * 1024) })).toThrow(
      /does not fit.*initrd_addr_max/,
    );
  });

  it('respects cmdline_size', () => {
    const { pc } = machine();
    expect(() => bootLinux(pc, KERNEL, { cmdline: 'x'.repeat(256) })).toThrow(/256 bytes.*at most 255/);
    const bigger = patched((v) => v.setUint32(0x238, 2047, true));
    expect(() => bootLinux(pc, bigger, { cmdline: 'x'.repeat(2000) })).not.toThrow();
  });
});

describe('fixtures', () => {
  const skip = requirement('nasm', commandExists('nasm'), 'apt-get install nasm');
  const sources = readdirSync(FIXTURES).filter((f) => /^tiny-.*\.asm$/.test(f));

  it.skipIf(skip !== null)('the committed .bin files are what nasm builds from the .asm sources', () => {
    expect(sources.length).toBeGreaterThan(1);
    const dir = mkdtempSync(join(tmpdir(), 'visor86-fixtures-'));
    try {
      for (const source of sources) {
        const out = join(dir, source.replace(/\.asm$/, '.bin'));
        execFileSync('nasm', ['-f', 'bin', '-o', out, join(FIXTURES, source)], { stdio: 'pipe' });
        const committed = readFileSync(join(FIXTURES, source.replace(/\.asm$/, '.bin')));
        expect(readFileSync(out).equals(committed), `${source} matches its .bin`).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
