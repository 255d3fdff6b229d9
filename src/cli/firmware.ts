/**
 * The one place the runner meets the BIOS (src/machine/bios, attached through PcConfig.firmware), so the
 * rest of the CLI does not depend on how firmware is wired to the board.
 */
import type { PcConfig } from '../machine/pc.ts';

/**
 * Board configuration for booting a disk or floppy image: the BIOS, with its screen output (INT 10h
 * teletype and firmware messages) mirrored to COM1, as a -nographic user expects to see it.
 */
export function biosConfig(): Partial<PcConfig> {
  return { firmware: 'bios', bios: { serialMirror: true } };
}
