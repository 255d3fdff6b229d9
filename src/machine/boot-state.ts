/**
 * Machine state that direct kernel boot hands over (as `qemu -kernel` does, with no firmware running): flat
 * 32-bit protected mode with a small GDT in low memory. Used by the Multiboot and Linux loaders.
 */
import type { Pc } from './pc.ts';
import { CS, DS, ES, FS, GS, SS } from '../cpu/constants.ts';
import { loadSegmentForBoot } from '../cpu/protected.ts';
import { writeCr0 } from '../cpu/ops/system.ts';

/** Where the boot GDT lives: null, (unused), code 0x10, data 0x18 — the selectors Linux's boot protocol expects. */
export const BOOT_GDT_ADDRESS = 0x6000;
export const BOOT_CODE_SELECTOR = 0x10;
export const BOOT_DATA_SELECTOR = 0x18;

/** Flat 4 GiB descriptors: base 0, limit 0xFFFFF pages, 32-bit. */
const FLAT_CODE = [0x0000ffff, 0x00cf9b00];
const FLAT_DATA = [0x0000ffff, 0x00cf9300];

function write32(pc: Pc, address: number, value: number): void {
  pc.memory.write32(address, value);
}

/** Puts the CPU in flat 32-bit protected mode (paging off, interrupts off) at `entry`. */
export function enterFlatProtectedMode(pc: Pc, entry: number): void {
  const cpu = pc.cpu;
  for (let i = 0; i < 8; i++) write32(pc, BOOT_GDT_ADDRESS + i * 4, 0);
  write32(pc, BOOT_GDT_ADDRESS + 0x10, FLAT_CODE[0]);
  write32(pc, BOOT_GDT_ADDRESS + 0x14, FLAT_CODE[1]);
  write32(pc, BOOT_GDT_ADDRESS + 0x18, FLAT_DATA[0]);
  write32(pc, BOOT_GDT_ADDRESS + 0x1c, FLAT_DATA[1]);
  cpu.gdtrBase = BOOT_GDT_ADDRESS;
  cpu.gdtrLimit = 0x1f;
  cpu.idtrBase = 0;
  cpu.idtrLimit = 0x3ff;
  writeCr0(cpu, (cpu.cr0 | 1) & ~((1 << 29) | (1 << 30)));
  loadSegmentForBoot(cpu, CS, BOOT_CODE_SELECTOR);
  for (const seg of [DS, ES, FS, GS, SS]) loadSegmentForBoot(cpu, seg, BOOT_DATA_SELECTOR);
  cpu.setFlags(0, 0xffffffff);
  cpu.eip = entry | 0;
  cpu.halted = false;
}
