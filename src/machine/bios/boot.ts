/**
 * INT 19h (bootstrap loader) and INT 18h (boot failure). The order is the AT BIOS's: floppy A:, then the
 * first hard disk. A drive is bootable when its sector 0 reads and ends in the 55h AAh signature (checked for
 * floppies too); the sector is loaded at 0000:7C00 and entered with DL = the drive number. When nothing is
 * bootable, INT 18h says so and the machine waits with interrupts enabled (a floppy can still be inserted and
 * Ctrl-Alt-Del pressed).
 */
import type { Pc } from '../pc.ts';
import { BOOT_SECTOR_ADDRESS, BOOT_SIGNATURE, BOOT_SIGNATURE_OFFSET } from './layout.ts';
import { DH, DL, DONE, FAILED } from './hypercall.ts';
import { FIRST_HARD_DISK, type DiskServices } from './disk.ts';
import type { VideoServices } from './video.ts';

export const NO_BOOT_MESSAGE = 'No bootable device: insert a disk or floppy';

function driveName(number: number): string {
  return number < FIRST_HARD_DISK
    ? `floppy ${String.fromCharCode(0x41 + number)}:`
    : `hard disk ${number.toString(16).toUpperCase()}h`;
}

export class BootServices {
  constructor(
    private readonly pc: Pc,
    private readonly disk: DiskServices,
    private readonly video: VideoServices,
  ) {}

  /** The drives INT 19h tries, in order. */
  private candidates(): number[] {
    const drives: number[] = [];
    if (this.disk.floppyCount() > 0) drives.push(0x00);
    if (this.disk.hardDisks().length > 0) drives.push(FIRST_HARD_DISK);
    return drives;
  }

  int19(): number {
    const cpu = this.pc.cpu;
    for (const number of this.candidates()) {
      const drive = this.disk.drive(number);
      if (!drive?.media) continue; // an empty floppy drive: nothing to say, try the next device
      const name = driveName(number);
      this.video.print(`Booting from ${name}\r\n`);
      const status = this.disk.readBootSector(number, BOOT_SECTOR_ADDRESS);
      if (status !== 0) {
        this.video.print(`${name}: read error ${status.toString(16).padStart(2, '0')}h\r\n`);
        continue;
      }
      if (this.pc.memory.read16(BOOT_SECTOR_ADDRESS + BOOT_SIGNATURE_OFFSET) !== BOOT_SIGNATURE) {
        this.video.print(`${name} is not bootable (no 55AA signature)\r\n`);
        continue;
      }
      cpu.reg8[DL] = number;
      cpu.reg8[DH] = 0;
      return DONE;
    }
    return FAILED;
  }

  int18(): number {
    this.video.print(`${NO_BOOT_MESSAGE}\r\n`);
    return DONE;
  }
}
