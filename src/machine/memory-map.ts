/**
 * The physical memory map the board reports (ACPI spec "E820" address range types): conventional memory up
 * to the EBDA, the EBDA, the VGA/ROM hole, extended memory, and the BIOS ROM alias under 4 GiB.
 */
export const E820_RAM = 1;
export const E820_RESERVED = 2;

export interface MemoryRegion {
  base: number;
  length: number;
  type: number;
}

/** The EBDA: 1 KiB below 640 KiB, as BIOSes reserve it. */
export const EBDA_BASE = 0x9fc00;

export function biosMemoryMap(ramSize: number): MemoryRegion[] {
  return [
    { base: 0, length: EBDA_BASE, type: E820_RAM },
    { base: EBDA_BASE, length: 0xa0000 - EBDA_BASE, type: E820_RESERVED },
    { base: 0xf0000, length: 0x10000, type: E820_RESERVED },
    { base: 0x100000, length: ramSize - 0x100000, type: E820_RAM },
    { base: 0xfffc0000, length: 0x40000, type: E820_RESERVED },
  ];
}
