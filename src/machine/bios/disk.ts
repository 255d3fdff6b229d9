/**
 * INT 13h disk services for floppy drives 00h-01h and hard disks 80h-83h: the IBM AT functions (CHS) and the
 * Phoenix/IBM Enhanced Disk Drive extensions 41h-48h (EDD 1.1: extended read/write/verify/seek, drive
 * parameters with the 1Ah/1Eh result). Function numbers, status codes and table layouts follow Ralf Brown's
 * Interrupt List (INT 13h) and the EDD specification (T13/1386D "BIOS Enhanced Disk Drive Services").
 *
 * The firmware lives outside the guest, so it reads and writes the media directly (the BlockDevice behind
 * each drive) instead of programming the ATA and floppy controllers: nothing in the controllers changes, no
 * interrupt is left pending, and a later guest driver finds them as POST left them. The only device state
 * touched is the floppy drive's head position and disk-change line, which a real read also moves (seek).
 *
 * Hard disks are numbered 80h upwards in ATA order (primary master, primary slave, secondary master, secondary
 * slave), skipping empty positions. CHS calls see a BIOS geometry: the disk's own geometry when it has at
 * most 1024 cylinders, else the usual LBA-assisted translation (63 sectors, 16-255 heads).
 */
import type { Pc } from '../pc.ts';
import { DS, ES } from '../../cpu/constants.ts';
import type { BlockDevice } from '../../devices/block-device.ts';
import { SECTOR_SIZE } from '../../devices/block-device.ts';
import type { AtaDisk } from '../../devices/ata-disk.ts';
import type { FloppyDrive } from '../../devices/floppy-82077aa-drive.ts';
import {
  BDA_DISK_COUNT,
  BDA_DISK_STATUS,
  BDA_EQUIPMENT,
  BDA_FLOPPY_CYLINDER,
  BDA_FLOPPY_RECALIBRATE,
  BDA_FLOPPY_STATUS,
  ROM_SEGMENT,
} from './layout.ts';
import { ROM_DISKETTE_PARAMS } from './rom.ts';
import {
  AH,
  AL,
  AX,
  BL,
  BX,
  CH,
  CL,
  CX,
  DH,
  DI,
  DL,
  DONE,
  DX,
  SI,
  type BiosCall,
  GuestMemory,
} from './hypercall.ts';

// Status codes (AH after INT 13h).
export const DISK_OK = 0x00;
export const DISK_BAD_COMMAND = 0x01;
export const DISK_WRITE_PROTECTED = 0x03;
export const DISK_SECTOR_NOT_FOUND = 0x04;
export const DISK_CHANGED = 0x06;
export const DISK_TIMEOUT = 0x80;

export const FIRST_HARD_DISK = 0x80;
const MAX_CHS_COUNT = 128;
/** Sectors moved per BlockDevice call (64 KiB of scratch buffer). */
const CHUNK_SECTORS = 128;

// EDD.
const EDD_INSTALL_SIGNATURE = 0x55aa;
const EDD_INSTALLED_SIGNATURE = 0xaa55;
/** Version 2.1 (EDD-1.1): functions 42h-44h, 47h, 48h with the 1Ah/1Eh parameter table. */
const EDD_VERSION = 0x21;
const EDD_SUPPORT_FIXED_DISK_ACCESS = 0x0001;
const EDD_PARAMS_V1 = 0x1a;
const EDD_PARAMS_V2 = 0x1e;
const EDD_INFO_CHS_VALID = 0x0002;
const DAP_MIN_SIZE = 0x10;
const DAP_FLAT_SIZE = 0x18;
const DAP_FLAT_BUFFER = 0xffffffff;

/** AH=15h drive types. */
const TYPE_NONE = 0x00;
const TYPE_FLOPPY_CHANGELINE = 0x02;
const TYPE_HARD_DISK = 0x03;

/** CMOS/INT 13h floppy drive types and their largest media. */
export const FLOPPY_TYPE_1440K = 4;
const FLOPPY_TYPES: ReadonlyMap<string, number> = new Map([
  ['360K', 1],
  ['1.2M', 2],
  ['720K', 3],
  ['1.44M', 4],
  ['1.68M DMF', 4],
  ['2.88M', 5],
]);
const FLOPPY_TYPE_GEOMETRY: ReadonlyMap<number, Geometry> = new Map([
  [1, { cylinders: 40, heads: 2, sectors: 9 }],
  [2, { cylinders: 80, heads: 2, sectors: 15 }],
  [3, { cylinders: 80, heads: 2, sectors: 9 }],
  [4, { cylinders: 80, heads: 2, sectors: 18 }],
  [5, { cylinders: 80, heads: 2, sectors: 36 }],
]);

interface Geometry {
  cylinders: number;
  heads: number;
  sectors: number;
}

/** One BIOS drive as INT 13h sees it. */
export interface BiosDrive {
  number: number;
  media: BlockDevice | null;
  /** The BIOS (logical) CHS geometry. */
  geometry: Geometry;
  /** Floppies: the drive (head position, disk change line) and its CMOS type. */
  floppy: FloppyDrive | null;
  floppyType: number;
  /** Hard disks: the ATA disk (its own geometry is what EDD reports). */
  ata: AtaDisk | null;
}

/** The floppy drive type a drive answers with: from its media, else a 1.44 MB drive. */
export function floppyType(drive: FloppyDrive | null): number {
  return (drive?.format && FLOPPY_TYPES.get(drive.format.name)) || FLOPPY_TYPE_1440K;
}

/** BIOS geometry of a hard disk: its own up to 1024 cylinders, else LBA-assisted translation. */
export function biosGeometry(disk: AtaDisk): Geometry {
  if (disk.cylinders <= 1024) {
    return { cylinders: disk.cylinders, heads: disk.heads, sectors: disk.sectorsPerTrack };
  }
  const sectors = 63;
  let heads = 16;
  for (const candidate of [16, 32, 64, 128, 255]) {
    heads = candidate;
    if (disk.sectorCount <= 1024 * candidate * sectors) break;
  }
  return { cylinders: Math.min(1024, Math.floor(disk.sectorCount / (heads * sectors))), heads, sectors };
}

export class DiskServices {
  private readonly buffer = new Uint8Array(CHUNK_SECTORS * SECTOR_SIZE);

  constructor(
    private readonly pc: Pc,
    private readonly call: BiosCall,
    private readonly guest: GuestMemory,
  ) {}

  /** The hard disks in BIOS order (80h, 81h, ...). */
  hardDisks(): AtaDisk[] {
    return this.pc.hardDisks.filter((d): d is AtaDisk => d !== undefined);
  }

  /** Floppy drives POST reported in the equipment word. */
  floppyCount(): number {
    const equipment = this.pc.memory.read16(BDA_EQUIPMENT);
    return equipment & 1 ? ((equipment >> 6) & 3) + 1 : 0;
  }

  drive(number: number): BiosDrive | null {
    if (number < FIRST_HARD_DISK) {
      if (number >= this.floppyCount()) return null;
      const floppy = this.pc.floppy.drives[number] ?? null;
      if (!floppy) return null;
      const type = floppyType(floppy);
      const geometry = floppy.format
        ? {
            cylinders: floppy.format.cylinders,
            heads: floppy.format.heads,
            sectors: floppy.format.sectorsPerTrack,
          }
        : FLOPPY_TYPE_GEOMETRY.get(type)!;
      return { number, media: floppy.media, geometry, floppy, floppyType: type, ata: null };
    }
    const index = number - FIRST_HARD_DISK;
    if (index >= this.pc.memory.read8(BDA_DISK_COUNT)) return null;
    const ata = this.hardDisks()[index];
    if (!ata) return null;
    return { number, media: ata.block, geometry: biosGeometry(ata), floppy: null, floppyType: 0, ata };
  }

  /**
   * Moves `count` sectors between the drive and guest memory at `linear` ('read': media to memory,
   * 'write': memory to media, 'verify': checks the range only). Returns the status and the sectors moved.
   */
  transfer(
    drive: BiosDrive,
    lba: number,
    count: number,
    linear: number,
    op: 'read' | 'write' | 'verify',
  ): { status: number; done: number } {
    const media = drive.media;
    if (!media) return { status: drive.floppy ? DISK_TIMEOUT : DISK_SECTOR_NOT_FOUND, done: 0 };
    if (op === 'write' && media.readOnly) return { status: DISK_WRITE_PROTECTED, done: 0 };
    if (!Number.isSafeInteger(lba) || lba < 0 || lba + count > media.sectorCount) {
      return { status: DISK_SECTOR_NOT_FOUND, done: 0 };
    }
    let done = 0;
    try {
      while (done < count) {
        const n = Math.min(CHUNK_SECTORS, count - done);
        const address = linear + done * SECTOR_SIZE;
        if (op === 'read') {
          media.read(lba + done, n, this.buffer, 0);
          this.guest.writeBytes(address, this.buffer, n * SECTOR_SIZE);
        } else if (op === 'write') {
          this.guest.readBytes(address, this.buffer, n * SECTOR_SIZE);
          media.write(lba + done, n, this.buffer, 0);
        }
        done += n;
      }
    } catch (e) {
      // A media error; anything else (a guest page fault, CPU_FAULT) propagates: the stub re-runs the call
      // once the guest has handled it.
      if (e instanceof Error) return { status: DISK_SECTOR_NOT_FOUND, done };
      throw e;
    }
    if (drive.floppy) this.seeked(drive, Math.floor(lba / (drive.geometry.heads * drive.geometry.sectors)));
    return { status: DISK_OK, done };
  }

  /** After a floppy access: the head moved there, which clears the disk change line. */
  private seeked(drive: BiosDrive, cylinder: number): void {
    const mem = this.pc.memory;
    drive.floppy!.stepTo(cylinder);
    drive.floppy!.diskChanged = false;
    mem.write8(BDA_FLOPPY_CYLINDER + drive.number, cylinder);
    mem.write8(BDA_FLOPPY_RECALIBRATE, mem.read8(BDA_FLOPPY_RECALIBRATE) | (1 << drive.number));
  }

  /** Reads sector 0 of a drive to guest memory at `linear` (INT 19h). Returns a status code. */
  readBootSector(number: number, linear: number): number {
    const drive = this.drive(number);
    if (!drive) return DISK_BAD_COMMAND;
    return this.transfer(drive, 0, 1, linear, 'read').status;
  }

  // ---- INT 13h ----

  int13(): number {
    const cpu = this.pc.cpu;
    const r8 = cpu.reg8;
    const fn = r8[AH];
    const number = r8[DL];
    if (fn === 0x01) {
      // Status of the last operation; reading it does not change it.
      const status = this.pc.memory.read8(number < FIRST_HARD_DISK ? BDA_FLOPPY_STATUS : BDA_DISK_STATUS);
      r8[AL] = status;
      this.call.status(status);
      return DONE;
    }
    const drive = this.drive(number);
    let status: number;
    if (fn === 0x15) {
      status = this.getType(drive);
    } else if (!drive) {
      status = this.finish(DISK_BAD_COMMAND);
    } else {
      status = this.dispatch(fn, drive);
    }
    this.pc.memory.write8(number < FIRST_HARD_DISK ? BDA_FLOPPY_STATUS : BDA_DISK_STATUS, status);
    return DONE;
  }

  private dispatch(fn: number, drive: BiosDrive): number {
    const r8 = this.pc.cpu.reg8;
    switch (fn) {
      case 0x10: // test drive ready
        return this.finish(drive.media ? DISK_OK : DISK_TIMEOUT);
      case 0x00: // reset
      case 0x0d: // alternate reset
      case 0x11: // recalibrate
      case 0x14: // controller diagnostic
      case 0x0c: // seek
      case 0x09: // initialize drive parameters
      case 0x17: // set media type for format
      case 0x18:
      case 0x47: // extended seek
        return this.finish(DISK_OK);
      case 0x02:
      case 0x03:
      case 0x04:
        return this.chsTransfer(fn, drive);
      case 0x05:
        return this.finish(this.formatTrack(drive));
      case 0x08:
        return this.getParameters(drive);
      case 0x16: // disk change line (a read clears it: it seeks)
        if (!drive.floppy) return this.finish(DISK_BAD_COMMAND);
        return this.finish(!drive.media ? DISK_TIMEOUT : drive.floppy.diskChanged ? DISK_CHANGED : DISK_OK);
      case 0x41:
        if (this.pc.cpu.reg16[BX] !== EDD_INSTALL_SIGNATURE || !drive.ata)
          return this.finish(DISK_BAD_COMMAND);
        this.pc.cpu.reg16[BX] = EDD_INSTALLED_SIGNATURE;
        this.pc.cpu.reg16[CX] = EDD_SUPPORT_FIXED_DISK_ACCESS;
        r8[AH] = EDD_VERSION;
        this.call.setCarry(false);
        return DISK_OK;
      case 0x42:
      case 0x43:
      case 0x44:
        return drive.ata ? this.eddTransfer(fn, drive) : this.finish(DISK_BAD_COMMAND);
      case 0x48:
        return drive.ata ? this.eddParameters(drive) : this.finish(DISK_BAD_COMMAND);
      default:
        return this.finish(DISK_BAD_COMMAND);
    }
  }

  /** Returns the status in AH and CF. */
  private finish(status: number): number {
    this.call.status(status);
    return status;
  }

  /** AH=02h/03h/04h: AL sectors at cylinder CH + CL bits 6-7, sector CL bits 0-5, head DH, buffer ES:BX. */
  private chsTransfer(fn: number, drive: BiosDrive): number {
    const cpu = this.pc.cpu;
    const r8 = cpu.reg8;
    const count = r8[AL];
    const cylinder = r8[CH] | ((r8[CL] & 0xc0) << 2);
    const sector = r8[CL] & 0x3f;
    const head = r8[DH];
    const g = drive.geometry;
    if (count === 0 || count > MAX_CHS_COUNT) {
      r8[AL] = 0;
      return this.finish(DISK_BAD_COMMAND);
    }
    if (!drive.media) {
      r8[AL] = 0;
      return this.finish(drive.floppy ? DISK_TIMEOUT : DISK_SECTOR_NOT_FOUND);
    }
    if (sector === 0 || sector > g.sectors || head >= g.heads || cylinder >= g.cylinders) {
      r8[AL] = 0;
      return this.finish(DISK_SECTOR_NOT_FOUND);
    }
    const lba = (cylinder * g.heads + head) * g.sectors + sector - 1;
    const op = fn === 0x02 ? 'read' : fn === 0x03 ? 'write' : 'verify';
    const { status, done } = this.transfer(drive, lba, count, this.guest.at(ES, cpu.reg16[BX]), op);
    r8[AL] = done;
    return this.finish(status);
  }

  /** AH=05h: format the sectors listed at ES:BX (C, H, R, N per sector) with the fill byte 0xF6. */
  private formatTrack(drive: BiosDrive): number {
    if (!drive.floppy) return DISK_OK;
    const media = drive.media;
    if (!media) return DISK_TIMEOUT;
    if (media.readOnly) return DISK_WRITE_PROTECTED;
    const cpu = this.pc.cpu;
    const g = drive.geometry;
    const fields = this.guest.at(ES, cpu.reg16[BX]);
    const fill = new Uint8Array(SECTOR_SIZE).fill(0xf6);
    for (let i = 0; i < cpu.reg8[AL]; i++) {
      const c = this.guest.read8(fields + i * 4);
      const h = this.guest.read8(fields + i * 4 + 1);
      const r = this.guest.read8(fields + i * 4 + 2);
      if (r === 0 || r > g.sectors || h >= g.heads || c >= g.cylinders) return DISK_SECTOR_NOT_FOUND;
      media.write((c * g.heads + h) * g.sectors + r - 1, 1, fill, 0);
    }
    return DISK_OK;
  }

  /** AH=08h: drive parameters. */
  private getParameters(drive: BiosDrive): number {
    const cpu = this.pc.cpu;
    const r8 = cpu.reg8;
    const g = drive.geometry;
    const maxCylinder = Math.min(g.cylinders, 1024) - 1;
    cpu.reg16[AX] = 0;
    r8[CH] = maxCylinder & 0xff;
    r8[CL] = (g.sectors & 0x3f) | ((maxCylinder >> 2) & 0xc0);
    r8[DH] = g.heads - 1;
    if (drive.floppy) {
      cpu.reg16[BX] = drive.floppyType;
      r8[DL] = this.floppyCount();
      cpu.loadSegment(ES, ROM_SEGMENT);
      cpu.reg16[DI] = ROM_DISKETTE_PARAMS;
    } else {
      r8[BL] = 0;
      r8[DL] = this.pc.memory.read8(BDA_DISK_COUNT);
    }
    this.call.setCarry(false);
    return DISK_OK;
  }

  /** AH=15h: drive type (AH: 0 none, 2 floppy with change line, 3 hard disk with CX:DX sectors). */
  private getType(drive: BiosDrive | null): number {
    const cpu = this.pc.cpu;
    this.call.setCarry(false);
    if (!drive) {
      cpu.reg8[AH] = TYPE_NONE;
      return DISK_OK;
    }
    if (drive.floppy) {
      cpu.reg8[AH] = TYPE_FLOPPY_CHANGELINE;
      return DISK_OK;
    }
    const g = drive.geometry;
    const sectors = g.cylinders * g.heads * g.sectors;
    cpu.reg16[CX] = sectors >>> 16;
    cpu.reg16[DX] = sectors & 0xffff;
    cpu.reg8[AH] = TYPE_HARD_DISK;
    return DISK_OK;
  }

  /** AH=42h/43h/44h: the disk address packet at DS:SI (size, count, buffer seg:off or flat, 64-bit LBA). */
  private eddTransfer(fn: number, drive: BiosDrive): number {
    const cpu = this.pc.cpu;
    const g = this.guest;
    const dap = g.at(DS, cpu.reg16[SI]);
    const size = g.read8(dap);
    if (size < DAP_MIN_SIZE) return this.finish(DISK_BAD_COMMAND);
    const count = g.read16(dap + 2);
    const pointer = g.read32(dap + 4);
    let linear = GuestMemory.linear(pointer >>> 16, pointer & 0xffff);
    if (pointer === DAP_FLAT_BUFFER && size >= DAP_FLAT_SIZE) linear = g.read32(dap + 0x10);
    const lba = g.read32(dap + 8) + g.read32(dap + 12) * 0x100000000;
    const op = fn === 0x42 ? 'read' : fn === 0x43 ? 'write' : 'verify';
    const { status, done } = this.transfer(drive, lba, count, linear, op);
    g.write16(dap + 2, done);
    return this.finish(status);
  }

  /** AH=48h: the drive parameter table at DS:SI (1Ah bytes, or 1Eh with a DPTE pointer, here "none"). */
  private eddParameters(drive: BiosDrive): number {
    const cpu = this.pc.cpu;
    const g = this.guest;
    const table = g.at(DS, cpu.reg16[SI]);
    const room = g.read16(table);
    if (room < EDD_PARAMS_V1) return this.finish(DISK_BAD_COMMAND);
    const ata = drive.ata!;
    const size = room >= EDD_PARAMS_V2 ? EDD_PARAMS_V2 : EDD_PARAMS_V1;
    const total = ata.sectorCount;
    g.write16(table, size);
    g.write16(table + 2, EDD_INFO_CHS_VALID);
    g.write32(table + 4, ata.cylinders);
    g.write32(table + 8, ata.heads);
    g.write32(table + 12, ata.sectorsPerTrack);
    g.write32(table + 16, total % 0x100000000);
    g.write32(table + 20, Math.floor(total / 0x100000000));
    g.write16(table + 24, SECTOR_SIZE);
    if (size === EDD_PARAMS_V2) g.write32(table + 26, DAP_FLAT_BUFFER);
    return this.finish(DISK_OK);
  }
}
