/**
 * Test harness for the BIOS: boots a PC with firmware 'bios' from floppy or hard disk images built around the
 * NASM boot sectors in ./fixtures, collects COM1 and debug-console output, and calls BIOS interrupts from
 * TypeScript on a machine whose boot sector has halted.
 */
import { readFileSync } from 'node:fs';
import { createPc, type Pc, type PcConfig, type StopReason } from '../../src/machine/pc.ts';
import { MemoryBlockDevice, SECTOR_SIZE } from '../../src/devices/block-device.ts';
import { CS, DS, ES, SS } from '../../src/cpu/constants.ts';

export const FLOPPY_144_SECTORS = 2880;

/** A fixture boot sector (fixtures/<name>.bin, built from <name>.asm). */
export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`./fixtures/${name}.bin`, import.meta.url)));
}

/** A disk image of `sectors` sectors with `boot` at sector 0 and NUL-terminated strings at other LBAs. */
export function diskImage(
  sectors: number,
  boot: Uint8Array | null,
  texts: Record<number, string> = {},
): Uint8Array {
  const image = new Uint8Array(sectors * SECTOR_SIZE);
  if (boot) image.set(boot, 0);
  for (const [lba, text] of Object.entries(texts)) {
    const bytes = new TextEncoder().encode(text + '\0');
    image.set(bytes, Number(lba) * SECTOR_SIZE);
  }
  return image;
}

export interface Machine {
  pc: Pc;
  /** Everything COM1 transmitted so far, as text. */
  serial(): string;
  /** Debug console (port 0xE9) bytes with the virtual time (ns) each was written at. */
  debug: Array<{ ch: string; ns: number }>;
  /** Runs until `done()` holds, the guest exits or `maxInstructions` pass. Returns the last stop reason. */
  runUntil(done: () => boolean, maxInstructions?: number): StopReason;
  /** Runs until the guest exits through port 0xF4 (or the budget ends). */
  runToExit(maxInstructions?: number): StopReason;
}

export interface BootOptions extends PcConfig {
  floppy?: Uint8Array;
  disk?: Uint8Array;
}

export function bootMachine(options: BootOptions = {}): Machine {
  let serial = '';
  const debug: Array<{ ch: string; ns: number }> = [];
  const { floppy, disk, ...config } = options;
  const pc: Pc = createPc({
    firmware: 'bios',
    ...config,
    floppies: floppy ? [new MemoryBlockDevice(floppy)] : config.floppies,
    disks: disk ? [new MemoryBlockDevice(disk)] : config.disks,
    onSerialOutput: (com, bytes) => {
      if (com === 0) serial += String.fromCharCode(...bytes);
    },
    onDebugOutput: (byte) => debug.push({ ch: String.fromCharCode(byte), ns: pc.clock.now() }),
  });
  const runUntil = (done: () => boolean, maxInstructions = 200_000_000): StopReason => {
    let reason: StopReason = 'budget';
    const slice = 100_000;
    for (let spent = 0; spent < maxInstructions && !done(); spent += slice) {
      reason = pc.run(slice);
      if (reason === 'exit') break;
    }
    return pc.exitStatus !== null ? 'exit' : reason;
  };
  return {
    pc,
    serial: () => serial,
    debug,
    runUntil,
    runToExit: (maxInstructions) => runUntil(() => pc.exitStatus !== null, maxInstructions),
  };
}

/** A boot sector that just stops: `cli; hlt`, signed. */
export function haltSector(): Uint8Array {
  const sector = new Uint8Array(SECTOR_SIZE);
  sector.set([0xfa, 0xf4]);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** Where callInt puts its `int n; cli; hlt` and its stack. */
const CALL_CODE = 0x0600;
const CALL_STACK = 0x7000;

export interface Registers {
  ax?: number;
  bx?: number;
  cx?: number;
  dx?: number;
  si?: number;
  di?: number;
  bp?: number;
  eax?: number;
  ebx?: number;
  ecx?: number;
  edx?: number;
  ds?: number;
  es?: number;
}

/**
 * Executes `int vector` in real mode with the given registers on a machine whose boot sector has halted,
 * and returns when the code after it halts. Read results from pc.cpu (reg8/reg16/reg32, getFlags()).
 */
export function callInt(
  machine: Machine,
  vector: number,
  regs: Registers,
  maxInstructions = 50_000_000,
): void {
  const { pc } = machine;
  const cpu = pc.cpu;
  pc.memory.writeBytes(CALL_CODE, new Uint8Array([0xcd, vector, 0xfa, 0xf4]));
  cpu.reg32.fill(0);
  const set16 = (index: number, value: number | undefined) => {
    if (value !== undefined) cpu.reg16[index * 2] = value;
  };
  const set32 = (index: number, value: number | undefined) => {
    if (value !== undefined) cpu.reg32[index] = value;
  };
  set32(0, regs.eax);
  set32(1, regs.ecx);
  set32(2, regs.edx);
  set32(3, regs.ebx);
  set16(0, regs.ax);
  set16(1, regs.cx);
  set16(2, regs.dx);
  set16(3, regs.bx);
  set16(5, regs.bp);
  set16(6, regs.si);
  set16(7, regs.di);
  cpu.reg16[4 * 2] = CALL_STACK;
  cpu.setSegmentReal(CS, 0);
  cpu.setSegmentReal(SS, 0);
  cpu.setSegmentReal(DS, regs.ds ?? 0);
  cpu.setSegmentReal(ES, regs.es ?? 0);
  cpu.eip = CALL_CODE;
  cpu.setFlags(0x200, 0xffffffff & ~0x2);
  cpu.halted = false;
  const done = () => cpu.halted && (cpu.getFlags() & 0x200) === 0;
  machine.runUntil(done, maxInstructions);
  if (!done()) throw new Error(`int ${vector.toString(16)}h did not return`);
}
