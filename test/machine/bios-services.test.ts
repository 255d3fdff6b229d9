/**
 * BIOS services called one at a time from TypeScript (an `int n; cli; hlt` planted at 0000:0600), on a PC
 * that booted a halting boot sector: the error paths and the functions the boot-sector tests leave out.
 */
import { describe, expect, it } from 'vitest';
import { AtaDisk } from '../../src/devices/ata-disk.ts';
import { MemoryBlockDevice, type BlockDevice } from '../../src/devices/block-device.ts';
import { FLAG_CF, FLAG_IF, FLAG_ZF } from '../../src/cpu/flags.ts';
import { CS, ES } from '../../src/cpu/constants.ts';
import { biosGeometry } from '../../src/machine/bios/disk.ts';
import { Bios, HYPERCALL_PORT } from '../../src/machine/bios/index.ts';
import { createPc } from '../../src/machine/pc.ts';
import {
  bootMachine,
  callInt,
  diskImage,
  FLOPPY_144_SECTORS,
  haltSector,
  type Machine,
} from './bios-helpers.ts';

const AL = 0;
const AH = 1;
const CL = 4;
const CH = 5;
const DL = 8;
const DH = 9;
const BL = 12;
const AX = 0;
const CX = 2;
const DX = 4;
const BX = 6;
const DI = 14;

/** A PC with a halting hard disk (80h) and a data floppy in A:, booted and halted. */
function bootedMachine(options: { readOnlyDisk?: boolean } = {}): { m: Machine; disk: Uint8Array } {
  const disk = diskImage(8192, haltSector(), { 10: 'sector ten' });
  const floppy = diskImage(FLOPPY_144_SECTORS, null, { 1: 'floppy data' });
  const m = bootMachine({
    disks: [new MemoryBlockDevice(disk, { readOnly: options.readOnlyDisk })],
    floppies: [new MemoryBlockDevice(floppy)],
  });
  m.runUntil(() => m.pc.cpu.halted && (m.pc.cpu.getFlags() & FLAG_IF) === 0, 50_000_000);
  expect(m.serial()).toContain('Booting from hard disk 80h');
  return { m, disk };
}

const carry = (m: Machine) => (m.pc.cpu.getFlags() & FLAG_CF) !== 0;
const zero = (m: Machine) => (m.pc.cpu.getFlags() & FLAG_ZF) !== 0;

describe('BIOS ROM and tables', () => {
  it('puts the reset vector at F000:FFF0, aliased below 4 GiB, and the ROM is read-only', () => {
    const pc = createPc({ firmware: 'bios' });
    expect(pc.cpu.sreg[CS]).toBe(0xf000);
    expect(pc.cpu.eip).toBe(0xfff0);
    const low = pc.memory.readBytes(0xffff0, 16);
    expect(Array.from(pc.memory.readBytes(0xfffffff0, 16))).toEqual(Array.from(low));
    expect(Array.from(low.subarray(0, 5))).toEqual([0xea, 0x5b, 0xe0, 0x00, 0xf0]); // jmp far F000:E05B
    expect(String.fromCharCode(...pc.memory.readBytes(0xffff5, 8))).toBe('01/01/26');
    expect(pc.memory.read8(0xffffe)).toBe(0xfc);
    pc.memory.write8(0xffff0, 0x90);
    expect(pc.memory.read8(0xffff0)).toBe(0xea);
  });

  it('leaves the PC without a ROM by default (direct kernel boot)', () => {
    const pc = createPc();
    expect(pc.bios).toBeNull();
    expect(pc.memory.read8(0xffff0)).toBe(0);
  });

  it('fills the IVT: services at the AT entry points, unused vectors at an IRET', () => {
    const { m } = bootedMachine();
    const mem = m.pc.memory;
    const vector = (n: number) => [mem.read16(n * 4 + 2), mem.read16(n * 4)];
    expect(vector(0x13)).toEqual([0xf000, 0xe3fe]);
    expect(vector(0x10)).toEqual([0xf000, 0xf065]);
    expect(vector(0x16)).toEqual([0xf000, 0xe82e]);
    expect(vector(0x1e)).toEqual([0xf000, 0xefc7]);
    expect(vector(0x41)).toEqual([0x9fc0, 0x3d]);
    expect(vector(0x60)).toEqual([0, 0]);
    const [seg, off] = vector(0xc0);
    expect(mem.read8(seg * 16 + off)).toBe(0xcf); // IRET
    expect(mem.read16(0x40e)).toBe(0x9fc0); // EBDA segment
    expect(mem.read16(0x400)).toBe(0x3f8); // COM1
    expect(mem.read8(0x475)).toBe(1); // one hard disk
    // The FDPT for 80h: 8 cylinders, 16 heads, 63 sectors.
    expect([mem.read16(0x9fc3d), mem.read8(0x9fc3f), mem.read8(0x9fc3d + 14)]).toEqual([8, 16, 63]);
  });

  it('leaves the controllers idle after POST and boot: no pending interrupt, FDC out of reset', () => {
    const { m } = bootedMachine();
    const ports = m.pc.ports;
    expect(ports.in8(0x3f2)).toBe(0x0c); // DOR: out of reset, DMA gate, motors off
    expect(ports.in8(0x3f4)).toBe(0x80); // MSR: ready for a command
    expect(ports.in8(0x1f7)).toBe(0x50); // ATA status: DRDY DSC
    ports.out8(0x20, 0x0a); // OCW3: read IRR
    ports.out8(0xa0, 0x0a);
    expect(ports.in8(0x20) & ~0x01).toBe(0); // only the timer may be waiting
    expect(ports.in8(0xa0)).toBe(0);
    expect(ports.in8(0x21)).toBe(0xb8); // IRQ 0, 1, 2, 6 unmasked
  });

  it('ignores the hypercall port when the OUT does not come from the ROM', () => {
    const { m } = bootedMachine();
    const before = m.pc.memory.readBytes(0x400, 256);
    m.pc.ports.out8(HYPERCALL_PORT, 0); // the CPU sits in the boot sector at 0000:7C01
    expect(Array.from(m.pc.memory.readBytes(0x400, 256))).toEqual(Array.from(before));
    expect(m.pc.ports.in8(HYPERCALL_PORT)).toBe(0xff);
  });

  it('has no TypeScript state beyond a version', () => {
    const pc = createPc({ firmware: 'bios' });
    const bios = pc.bios as Bios;
    expect(bios.saveState()).toEqual({ version: 1 });
    expect(() => bios.loadState({ version: 2 })).toThrow(/version/);
  });

  it('uses LBA-assisted translation for disks over 1024 cylinders', () => {
    const sectors = (n: number): BlockDevice => ({
      sectorCount: n,
      readOnly: true,
      read: () => {},
      write: () => {},
    });
    expect(biosGeometry(new AtaDisk(sectors(8192)))).toEqual({ cylinders: 8, heads: 16, sectors: 63 });
    // 2 GiB: 4161 cylinders of 16 x 63 become 520 of 128 x 63.
    expect(biosGeometry(new AtaDisk(sectors(4194304)))).toEqual({ cylinders: 520, heads: 128, sectors: 63 });
    expect(biosGeometry(new AtaDisk(sectors(200_000_000)))).toEqual({
      cylinders: 1024,
      heads: 255,
      sectors: 63,
    });
  });
});

describe('INT 13h', () => {
  it('reads a hard disk sector by CHS and refuses addresses outside the geometry', () => {
    const { m } = bootedMachine();
    const cpu = m.pc.cpu;
    callInt(m, 0x13, { ax: 0x0201, cx: 0x000b, dx: 0x0080, es: 0x0800, bx: 0 }); // C0 H0 S11 = LBA 10
    expect(carry(m)).toBe(false);
    expect(cpu.reg8[AL]).toBe(1);
    expect(String.fromCharCode(...m.pc.memory.readBytes(0x8000, 10))).toBe('sector ten');
    callInt(m, 0x13, { ax: 0x0201, cx: 0x0040, dx: 0x0080, es: 0x0800, bx: 0 }); // sector 0: invalid
    expect(carry(m)).toBe(true);
    expect(cpu.reg8[AH]).toBe(0x04);
    callInt(m, 0x13, { ax: 0x0100, dx: 0x0080 }); // status of the last operation
    expect(cpu.reg8[AH]).toBe(0x04);
    expect(carry(m)).toBe(true);
    callInt(m, 0x13, { ax: 0x0201, cx: 0x0801, dx: 0x0080, es: 0x0800, bx: 0 }); // cylinder 8 of 0-7
    expect(cpu.reg8[AH]).toBe(0x04);
  });

  it('answers for absent drives: AH=15h "no drive", other functions "bad command"', () => {
    const { m } = bootedMachine();
    const cpu = m.pc.cpu;
    callInt(m, 0x13, { ax: 0x1500, dx: 0x0081 });
    expect(carry(m)).toBe(false);
    expect(cpu.reg8[AH]).toBe(0);
    callInt(m, 0x13, { ax: 0x0201, cx: 0x0001, dx: 0x0081, bx: 0x8000 });
    expect(carry(m)).toBe(true);
    expect(cpu.reg8[AH]).toBe(0x01);
    callInt(m, 0x13, { ax: 0x0800, dx: 0x0001 }); // floppy B: not reported
    expect(carry(m)).toBe(true);
  });

  it('reports drive types and parameters (AH=15h, AH=08h)', () => {
    const { m } = bootedMachine();
    const cpu = m.pc.cpu;
    callInt(m, 0x13, { ax: 0x1500, dx: 0x0080 });
    expect(cpu.reg8[AH]).toBe(0x03);
    expect((cpu.reg16[CX] << 16) | cpu.reg16[DX]).toBe(8 * 16 * 63);
    callInt(m, 0x13, { ax: 0x1500, dx: 0x0000 });
    expect(cpu.reg8[AH]).toBe(0x02); // floppy with change line
    callInt(m, 0x13, { ax: 0x0800, dx: 0x0000 });
    expect(carry(m)).toBe(false);
    expect([cpu.reg8[BL], cpu.reg16[CX], cpu.reg8[DH], cpu.reg8[DL]]).toEqual([4, 0x4f12, 1, 1]);
    expect([cpu.sreg[ES], cpu.reg16[DI]]).toEqual([0xf000, 0xefc7]);
    expect(m.pc.memory.read8(0xfefc7 + 4)).toBe(18); // diskette parameter table: sectors per track
  });

  it('reads floppies by CHS, reports a media change (AH=16h) until the next read', () => {
    const { m } = bootedMachine();
    const cpu = m.pc.cpu;
    const readSector2 = () => callInt(m, 0x13, { ax: 0x0201, cx: 0x0002, dx: 0x0000, bx: 0x8000 });
    callInt(m, 0x13, { ax: 0x1600, dx: 0x0000 });
    expect(carry(m)).toBe(false); // INT 19h read the boot sector: the change line is clear
    readSector2();
    expect(carry(m)).toBe(false);
    expect(String.fromCharCode(...m.pc.memory.readBytes(0x8000, 11))).toBe('floppy data');
    m.pc.floppy.ejectMedia(0);
    readSector2();
    expect(cpu.reg8[AH]).toBe(0x80); // no media: timeout
    const other = diskImage(FLOPPY_144_SECTORS, null, { 1: 'other disk' });
    m.pc.floppy.insertMedia(0, new MemoryBlockDevice(other));
    callInt(m, 0x13, { ax: 0x1600, dx: 0x0000 });
    expect(carry(m)).toBe(true);
    expect(cpu.reg8[AH]).toBe(0x06);
    readSector2();
    expect(String.fromCharCode(...m.pc.memory.readBytes(0x8000, 10))).toBe('other disk');
    callInt(m, 0x13, { ax: 0x1600, dx: 0x0000 });
    expect(cpu.reg8[AH]).toBe(0x00);
    callInt(m, 0x13, { ax: 0x4100, bx: 0x55aa, dx: 0x0000 }); // no EDD for floppies
    expect(carry(m)).toBe(true);
  });

  it('fails EDD transfers past the end of the disk and writes to a read-only disk', () => {
    const { m } = bootedMachine({ readOnlyDisk: true });
    const cpu = m.pc.cpu;
    const mem = m.pc.memory;
    const dap = (lba: number) => {
      mem.writeBytes(0x0700, new Uint8Array([0x10, 0, 2, 0, 0x00, 0x80, 0, 0]));
      mem.write32(0x0708, lba);
      mem.write32(0x070c, 0);
    };
    dap(8191);
    callInt(m, 0x13, { ax: 0x4200, dx: 0x0080, si: 0x0700 });
    expect(carry(m)).toBe(true);
    expect(cpu.reg8[AH]).toBe(0x04);
    expect(mem.read16(0x0702)).toBe(0); // nothing transferred
    dap(10);
    callInt(m, 0x13, { ax: 0x4300, dx: 0x0080, si: 0x0700 });
    expect(cpu.reg8[AH]).toBe(0x03);
    expect(mem.read16(0x0702)).toBe(0);
    dap(10);
    callInt(m, 0x13, { ax: 0x4400, dx: 0x0080, si: 0x0700 }); // verify
    expect(carry(m)).toBe(false);
    expect(mem.read16(0x0702)).toBe(2);
  });
});

describe('INT 15h, 16h, 1Ah', () => {
  it('switches A20 (AX=2400h-2403h)', () => {
    const { m } = bootedMachine();
    const cpu = m.pc.cpu;
    callInt(m, 0x15, { ax: 0x2400 });
    expect(carry(m)).toBe(false);
    expect(m.pc.memory.a20Mask).not.toBe(-1);
    callInt(m, 0x15, { ax: 0x2402 });
    expect(cpu.reg8[AL]).toBe(0);
    callInt(m, 0x15, { ax: 0x2401 });
    expect(m.pc.memory.a20Mask).toBe(-1);
    callInt(m, 0x15, { ax: 0x2402 });
    expect(cpu.reg8[AL]).toBe(1);
    callInt(m, 0x15, { ax: 0x2403 });
    expect(cpu.reg16[BX]).toBe(3);
  });

  it('gives the configuration table (C0h), a 20-byte E820 entry when asked, and refuses the unknown', () => {
    const { m } = bootedMachine();
    const cpu = m.pc.cpu;
    callInt(m, 0x15, { ax: 0xc000 });
    expect(carry(m)).toBe(false);
    const table = cpu.sreg[ES] * 16 + cpu.reg16[BX];
    expect(m.pc.memory.read16(table)).toBe(8);
    expect(m.pc.memory.read8(table + 2)).toBe(0xfc);
    callInt(m, 0x15, { eax: 0xe820, ebx: 0, ecx: 20, edx: 0x534d4150, di: 0x0700 });
    expect(cpu.reg32[1]).toBe(20);
    expect(cpu.reg32[3]).toBe(1);
    callInt(m, 0x15, { ax: 0x5300 }); // APM: not offered
    expect(carry(m)).toBe(true);
    expect(cpu.reg8[AH]).toBe(0x86);
  });

  it('copies memory above 1 MiB with AH=87h', () => {
    const { m } = bootedMachine();
    const mem = m.pc.memory;
    mem.writeBytes(0x200000, new TextEncoder().encode('above the megabyte'));
    const gdt = new Uint8Array(48);
    const descriptor = (at: number, base: number) => {
      gdt.set([0xff, 0xff, base & 0xff, (base >> 8) & 0xff, (base >> 16) & 0xff, 0x93, 0, base >>> 24], at);
    };
    descriptor(0x10, 0x200000);
    descriptor(0x18, 0x8000);
    mem.writeBytes(0x0700, gdt);
    callInt(m, 0x15, { ax: 0x8700, cx: 9, si: 0x0700 });
    expect(carry(m)).toBe(false);
    expect(String.fromCharCode(...mem.readBytes(0x8000, 18))).toBe('above the megabyte');
  });

  it('stores and reads keys (INT 16h AH=05h, 01h, 00h, 02h)', () => {
    const { m } = bootedMachine();
    const cpu = m.pc.cpu;
    callInt(m, 0x16, { ax: 0x0100 });
    expect(zero(m)).toBe(true);
    callInt(m, 0x16, { ax: 0x0500, cx: 0x1e61 });
    expect(cpu.reg8[AL]).toBe(0);
    callInt(m, 0x16, { ax: 0x0100 });
    expect(zero(m)).toBe(false);
    expect(cpu.reg16[AX]).toBe(0x1e61);
    callInt(m, 0x16, { ax: 0x0000 });
    expect(cpu.reg16[AX]).toBe(0x1e61);
    callInt(m, 0x16, { ax: 0x0100 });
    expect(zero(m)).toBe(true);
    m.pc.keyboardController.keyboard.keyDown('CapsLock');
    m.pc.run(100_000);
    callInt(m, 0x16, { ax: 0x0200 });
    expect(cpu.reg8[AL] & 0x40).toBe(0x40);
  });

  it('sets and reads the RTC and the tick count (INT 1Ah AH=00h-05h)', () => {
    const { m } = bootedMachine();
    const cpu = m.pc.cpu;
    callInt(m, 0x1a, { ax: 0x0300, cx: 0x2359, dx: 0x5800 });
    callInt(m, 0x1a, { ax: 0x0500, cx: 0x1999, dx: 0x1231 });
    callInt(m, 0x1a, { ax: 0x0200 });
    expect([cpu.reg8[CH], cpu.reg8[CL], cpu.reg8[DH]]).toEqual([0x23, 0x59, 0x58]);
    callInt(m, 0x1a, { ax: 0x0400 });
    expect([cpu.reg16[CX], cpu.reg16[DX]]).toEqual([0x1999, 0x1231]);
    callInt(m, 0x1a, { ax: 0x0100, cx: 0x0018, dx: 0x00af }); // one tick before midnight
    callInt(m, 0x15, { ax: 0x8600, cx: 0x0003, dx: 0x0d40 }); // wait 0.2 s: the count wraps
    callInt(m, 0x1a, { ax: 0x0000 });
    expect(cpu.reg8[AL]).toBe(1); // midnight passed
    expect((cpu.reg16[CX] << 16) | cpu.reg16[DX]).toBeLessThan(10);
    callInt(m, 0x1a, { ax: 0x0000 });
    expect(cpu.reg8[AL]).toBe(0); // the flag is cleared by reading it
  });

  it('scrolls the screen on teletype output past the last row', () => {
    const { m } = bootedMachine();
    const video = (m.pc.bios as Bios).video;
    for (let i = 1; i <= 30; i++) video.print(`Line ${i}\r\n`);
    m.pc.flushSerial();
    const lines = m.pc.vga.textLines();
    expect(lines[23]).toBe('Line 30');
    expect(lines[0]).toBe('Line 7');
    expect(lines[24]).toBe('');
    expect(m.serial()).toContain('Line 30\r\n');
  });
});
