/**
 * A floppy drive attached to the 82077AA, and the media formats it accepts (chosen from the image size).
 * Drive behaviour follows the 82077AA datasheet's drive interface (TRK0, WP, DSKCHG signals); formats are
 * the standard IBM PC MFM layouts, 512-byte sectors.
 */
import type { DeviceState } from './device.ts';
import { stateBoolean, stateNumber } from './device.ts';
import type { BlockDevice } from './block-device.ts';
import { SECTOR_SIZE } from './block-device.ts';

// Data rates as programmed in DSR/CCR bits 1-0.
export const FDC_RATE_500K = 0;
export const FDC_RATE_300K = 1;
export const FDC_RATE_250K = 2;
export const FDC_RATE_1M = 3;

export interface FloppyFormat {
  readonly name: string;
  readonly cylinders: number;
  readonly heads: number;
  readonly sectorsPerTrack: number;
  /** The data rate the controller must use to read this media. */
  readonly rate: number;
}

export const FLOPPY_FORMATS: readonly FloppyFormat[] = [
  { name: '360K', cylinders: 40, heads: 2, sectorsPerTrack: 9, rate: FDC_RATE_250K },
  { name: '720K', cylinders: 80, heads: 2, sectorsPerTrack: 9, rate: FDC_RATE_250K },
  { name: '1.2M', cylinders: 80, heads: 2, sectorsPerTrack: 15, rate: FDC_RATE_500K },
  { name: '1.44M', cylinders: 80, heads: 2, sectorsPerTrack: 18, rate: FDC_RATE_500K },
  { name: '1.68M DMF', cylinders: 80, heads: 2, sectorsPerTrack: 21, rate: FDC_RATE_500K },
  { name: '2.88M', cylinders: 80, heads: 2, sectorsPerTrack: 36, rate: FDC_RATE_1M },
];

/** The format of an image of `sectors` 512-byte sectors, or an Error naming the accepted sizes. */
export function floppyFormatFor(sectors: number): FloppyFormat {
  const format = FLOPPY_FORMATS.find((f) => f.cylinders * f.heads * f.sectorsPerTrack === sectors);
  if (format === undefined) {
    const sizes = FLOPPY_FORMATS.map(
      (f) => `${f.name} (${f.cylinders * f.heads * f.sectorsPerTrack * SECTOR_SIZE})`,
    );
    throw new Error(
      `floppy image of ${sectors * SECTOR_SIZE} bytes is not a known size: ${sizes.join(', ')}`,
    );
  }
  return format;
}

export class FloppyDrive {
  media: BlockDevice | null = null;
  format: FloppyFormat | null = null;
  /** Present cylinder number: where the head is (the controller's PCN for this drive). */
  cylinder = 0;
  /** The DSKCHG line: set at power-on and when media is removed or inserted, cleared by a step pulse. */
  diskChanged = true;
  /** The sector whose ID field passed under the head last (READ ID reports the next one). */
  lastSector = 0;

  insert(media: BlockDevice): void {
    this.format = floppyFormatFor(media.sectorCount);
    this.media = media;
    this.diskChanged = true;
  }

  eject(): void {
    this.media = null;
    this.format = null;
    this.diskChanged = true;
  }

  get writeProtected(): boolean {
    return this.media?.readOnly ?? false;
  }

  /** Moves the head; a step pulse with a disk inserted clears DSKCHG. */
  stepTo(cylinder: number): void {
    if (cylinder !== this.cylinder && this.media !== null) this.diskChanged = false;
    this.cylinder = cylinder;
  }

  /** Power-on state (media stays inserted: it is not device state). */
  powerOn(): void {
    this.cylinder = 0;
    this.diskChanged = true;
    this.lastSector = 0;
  }

  saveState(): DeviceState {
    return { cylinder: this.cylinder, diskChanged: this.diskChanged, lastSector: this.lastSector };
  }

  /** Checks the fields; returns a function that applies them (so the controller can validate all first). */
  prepareLoad(state: DeviceState, prefix: string): () => void {
    const number = (field: string, max: number): number => {
      let v: number;
      try {
        v = stateNumber(state, field);
      } catch {
        throw new Error(`state field '${prefix}.${field}' is not a number`);
      }
      if (!Number.isInteger(v) || v < 0 || v > max)
        throw new Error(`state field '${prefix}.${field}' is out of range`);
      return v;
    };
    const cylinder = number('cylinder', 255);
    const lastSector = number('lastSector', 255);
    let diskChanged: boolean;
    try {
      diskChanged = stateBoolean(state, 'diskChanged');
    } catch {
      throw new Error(`state field '${prefix}.diskChanged' is not a boolean`);
    }
    return () => {
      this.cylinder = cylinder;
      this.lastSector = lastSector;
      this.diskChanged = diskChanged;
    };
  }
}
