/**
 * The narrow sink disks talk to: whole 512-byte sectors in and out (STYLE.md "What we take" 4 and 12).
 *
 * ATA and floppy controllers only ever see this interface, so an image can live in memory, behind a
 * copy-on-write overlay over a shared read-only base, or in a host file, without the devices knowing.
 */

/** Bytes per sector for every BlockDevice. Floppies and ATA disks both use 512-byte sectors here. */
export const SECTOR_SIZE = 512;

export interface BlockDevice {
  /** Size of the medium in 512-byte sectors. */
  readonly sectorCount: number;
  /** True when writes must be refused (write-protected floppy, read-only base image). */
  readonly readOnly: boolean;
  /** Copies `count` sectors starting at `sector` into `into[offset ...]`. Throws on out-of-range sectors. */
  read(sector: number, count: number, into: Uint8Array, offset: number): void;
  /** Copies `count` sectors from `from[offset ...]` to the medium. Throws when read-only or out of range. */
  write(sector: number, count: number, from: Uint8Array, offset: number): void;
  /** Makes earlier writes durable (ATA FLUSH CACHE). Optional: memory images have nothing to flush. */
  flush?(): void;
}

/** Sector counters for UI statistics; kept apart from BlockDevice so wrappers need not implement them. */
export interface BlockDeviceStats {
  readonly sectorsRead: number;
  readonly sectorsWritten: number;
}

/** Checks a sector range against a medium and a buffer; shared by every BlockDevice implementation. */
export function checkSectorRange(
  device: BlockDevice,
  sector: number,
  count: number,
  buffer: Uint8Array,
  offset: number,
): void {
  if (!Number.isInteger(sector) || !Number.isInteger(count) || sector < 0 || count < 0) {
    throw new RangeError(`bad sector range ${sector}+${count}`);
  }
  if (sector + count > device.sectorCount) {
    throw new RangeError(
      `sectors ${sector}+${count} are past the end of a ${device.sectorCount}-sector disk`,
    );
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + count * SECTOR_SIZE > buffer.length) {
    throw new RangeError(`buffer of ${buffer.length} bytes cannot hold ${count} sectors at offset ${offset}`);
  }
}

/** A disk image held in one Uint8Array (the array is used in place, not copied). */
export class MemoryBlockDevice implements BlockDevice, BlockDeviceStats {
  readonly sectorCount: number;
  readonly readOnly: boolean;
  sectorsRead = 0;
  sectorsWritten = 0;

  constructor(
    readonly data: Uint8Array,
    options: { readOnly?: boolean } = {},
  ) {
    if (data.length % SECTOR_SIZE !== 0) {
      throw new Error(`disk image of ${data.length} bytes is not a multiple of ${SECTOR_SIZE}-byte sectors`);
    }
    this.sectorCount = data.length / SECTOR_SIZE;
    this.readOnly = options.readOnly ?? false;
  }

  read(sector: number, count: number, into: Uint8Array, offset: number): void {
    checkSectorRange(this, sector, count, into, offset);
    into.set(this.data.subarray(sector * SECTOR_SIZE, (sector + count) * SECTOR_SIZE), offset);
    this.sectorsRead += count;
  }

  write(sector: number, count: number, from: Uint8Array, offset: number): void {
    if (this.readOnly) throw new Error('write to a read-only disk');
    checkSectorRange(this, sector, count, from, offset);
    this.data.set(from.subarray(offset, offset + count * SECTOR_SIZE), sector * SECTOR_SIZE);
    this.sectorsWritten += count;
  }
}
