/**
 * One ATA hard disk at a master/slave position: its geometry, IDENTIFY DEVICE data, settings changed by
 * commands, and its half of the register protocol (status, error, pending interrupt, PIO transfer state).
 * Follows ATA/ATAPI-6 (T13/1410D): 8.15 IDENTIFY DEVICE (word layout), 6.2 CHS/LBA translation,
 * 9.2 power-on/hardware reset defaults. The command engine lives in ata.ts (AtaChannel).
 */
import type { DeviceState } from './device.ts';
import { stateBoolean, stateBytes, stateNumber } from './device.ts';
import type { BlockDevice } from './block-device.ts';
import { SECTOR_SIZE } from './block-device.ts';
import {
  ATA_LBA28_LIMIT,
  ATA_MAX_MULTIPLE,
  ATA_POWER_ACTIVE_OR_IDLE,
  ATA_SR_DRDY,
  ATA_SR_DSC,
} from './ata-constants.ts';

export interface AtaDiskOptions {
  /** IDENTIFY model number (words 27-46), at most 40 ASCII characters. */
  model?: string;
  /** IDENTIFY serial number (words 10-19), at most 20 ASCII characters. */
  serial?: string;
  /** IDENTIFY firmware revision (words 23-26), at most 8 ASCII characters. */
  firmware?: string;
  /** Default CHS geometry; chosen from the size when omitted (16 heads, 63 sectors, <= 16383 cylinders). */
  cylinders?: number;
  heads?: number;
  sectorsPerTrack?: number;
}

/** No PIO transfer in progress. */
export const XFER_NONE = 0;
/** Data flows device -> host (reads, IDENTIFY). */
export const XFER_IN = 1;
/** Data flows host -> device (writes). */
export const XFER_OUT = 2;

/** How a command addresses sectors; decides how the task file is written back. */
export const ADDR_CHS = 0;
export const ADDR_LBA28 = 1;
export const ADDR_LBA48 = 2;

/** CHS cylinders stop at 16383 in IDENTIFY words 1 and 54 (ATA-6 6.2.1: larger disks report 16383/16/63). */
const MAX_DEFAULT_CYLINDERS = 16383;

export class AtaDisk {
  readonly sectorCount: number;
  readonly cylinders: number;
  readonly heads: number;
  readonly sectorsPerTrack: number;
  readonly model: string;
  readonly serial: string;
  readonly firmware: string;

  // Settings (restored to these defaults by power-on / hardware reset, kept across SRST).
  /** READ/WRITE MULTIPLE block size; 0 = multiple mode disabled. */
  multipleCount = 0;
  /** Translation set by INITIALIZE DEVICE PARAMETERS (IDENTIFY words 54-58). */
  currentCylinders = 0;
  currentHeads = 0;
  currentSectorsPerTrack = 0;
  writeCache = true;
  readLookahead = true;
  /** PIO mode selected by SET FEATURES (0-4). */
  pioMode = 4;
  powerMode = ATA_POWER_ACTIVE_OR_IDLE;

  // Register protocol state.
  status = ATA_SR_DRDY | ATA_SR_DSC;
  error = 0x01;
  irqPending = false;

  // PIO transfer state: the DRQ block being moved through the data port.
  readonly buffer = new Uint8Array(ATA_MAX_MULTIPLE * SECTOR_SIZE);
  transfer = XFER_NONE;
  /** The command being executed (-1 when idle). */
  command = -1;
  addressMode = ADDR_CHS;
  bufferPos = 0;
  bufferEnd = 0;
  /** Reads: next sector to load. Writes: first sector of the block in the buffer. */
  lba = 0;
  /** Sectors not yet transferred, including the block in the buffer. */
  sectorsLeft = 0;
  /** Sectors per DRQ block for this command (1, or the multiple count). */
  blockSize = 1;

  constructor(
    readonly block: BlockDevice,
    options: AtaDiskOptions = {},
  ) {
    if (block.sectorCount < 1) throw new Error('an ATA disk needs at least one sector');
    this.sectorCount = block.sectorCount;
    const geometry = defaultGeometry(block.sectorCount, options);
    this.cylinders = geometry.cylinders;
    this.heads = geometry.heads;
    this.sectorsPerTrack = geometry.sectorsPerTrack;
    this.model = asciiField('model', options.model ?? 'visor86 HARDDISK', 40);
    this.serial = asciiField('serial', options.serial ?? 'VSR86-00000001', 20);
    this.firmware = asciiField('firmware', options.firmware ?? '1.0', 8);
    this.powerOnReset();
  }

  /** Power-on / hardware reset: settings back to defaults, protocol idle. */
  powerOnReset(): void {
    this.multipleCount = 0;
    this.currentCylinders = this.cylinders;
    this.currentHeads = this.heads;
    this.currentSectorsPerTrack = this.sectorsPerTrack;
    this.writeCache = true;
    this.readLookahead = true;
    this.pioMode = 4;
    this.powerMode = ATA_POWER_ACTIVE_OR_IDLE;
    this.status = ATA_SR_DRDY | ATA_SR_DSC;
    this.error = 0x01; // diagnostic passed
    this.irqPending = false;
    this.endTransfer();
  }

  endTransfer(): void {
    this.transfer = XFER_NONE;
    this.command = -1;
    this.bufferPos = 0;
    this.bufferEnd = 0;
    this.sectorsLeft = 0;
  }

  /** INITIALIZE DEVICE PARAMETERS: returns false (ABRT) for a translation the device cannot use. */
  setTranslation(heads: number, sectorsPerTrack: number): boolean {
    if (heads < 1 || heads > 16 || sectorsPerTrack < 1 || sectorsPerTrack > 255) return false;
    const cylinders = Math.min(65535, Math.floor(this.chsCapacityLimit() / (heads * sectorsPerTrack)));
    if (cylinders < 1) return false;
    this.currentHeads = heads;
    this.currentSectorsPerTrack = sectorsPerTrack;
    this.currentCylinders = cylinders;
    return true;
  }

  private chsCapacityLimit(): number {
    return Math.min(this.sectorCount, ATA_LBA28_LIMIT);
  }

  /** CHS -> LBA in the current translation; -1 when the address does not exist (IDNF). */
  chsToLba(cylinder: number, head: number, sector: number): number {
    if (sector < 1 || sector > this.currentSectorsPerTrack) return -1;
    if (head >= this.currentHeads || cylinder >= this.currentCylinders) return -1;
    return (cylinder * this.currentHeads + head) * this.currentSectorsPerTrack + sector - 1;
  }

  /** Fills the buffer with the 256-word IDENTIFY DEVICE block (little-endian words). */
  fillIdentify(): void {
    const w = new Uint16Array(256);
    const lba28 = Math.min(this.sectorCount, ATA_LBA28_LIMIT);
    w[0] = 0x0040; // bit 6: fixed (non-removable) device
    w[1] = this.cylinders;
    w[3] = this.heads;
    w[4] = this.sectorsPerTrack * SECTOR_SIZE; // obsolete: unformatted bytes per track
    w[5] = SECTOR_SIZE; // obsolete: unformatted bytes per sector
    w[6] = this.sectorsPerTrack;
    putString(w, 10, 20, this.serial);
    w[20] = 3; // obsolete buffer type: dual ported, read cache
    w[21] = 512; // obsolete buffer size, 512-byte units
    w[22] = 4; // obsolete ECC bytes on READ/WRITE LONG
    putString(w, 23, 8, this.firmware);
    putString(w, 27, 40, this.model);
    w[47] = 0x8000 | ATA_MAX_MULTIPLE; // bits 15-8 are 80h per spec; bits 7-0 max sectors per DRQ block
    w[49] = 0x0200 | 0x0400 | 0x0800; // LBA, IORDY may be disabled, IORDY supported (no DMA)
    w[50] = 0x4000; // bit 14 must be one
    w[51] = 0x0200; // obsolete PIO timing mode 2
    w[53] = 0x0003; // words 54-58 and 64-70 are valid (word 88 not: no UDMA)
    w[54] = this.currentCylinders;
    w[55] = this.currentHeads;
    w[56] = this.currentSectorsPerTrack;
    const chsCapacity = Math.min(
      this.currentCylinders * this.currentHeads * this.currentSectorsPerTrack,
      0xffffffff,
    );
    w[57] = chsCapacity & 0xffff;
    w[58] = chsCapacity >>> 16;
    if (this.multipleCount) w[59] = 0x0100 | this.multipleCount; // bit 8: setting valid
    w[60] = lba28 & 0xffff;
    w[61] = lba28 >>> 16;
    w[64] = 0x0003; // PIO modes 3 and 4
    w[65] = 120; // minimum multiword DMA cycle (ns), required fields even without DMA
    w[66] = 120;
    w[67] = 120; // minimum PIO cycle without flow control
    w[68] = 120; // minimum PIO cycle with IORDY
    w[80] = 0x00f0; // major version: ATA/ATAPI-4 through -7
    // Supported: power management, write cache, look-ahead; LBA48, FLUSH CACHE, FLUSH CACHE EXT.
    w[82] = 0x4000 | 0x0040 | 0x0020 | 0x0008;
    w[83] = 0x4000 | 0x2000 | 0x1000 | 0x0400;
    w[84] = 0x4000;
    w[85] = 0x4000 | (this.readLookahead ? 0x0040 : 0) | (this.writeCache ? 0x0020 : 0) | 0x0008;
    w[86] = 0x2000 | 0x1000 | 0x0400;
    w[87] = 0x4000;
    const total = this.sectorCount;
    w[100] = total % 0x10000;
    w[101] = Math.floor(total / 0x10000) % 0x10000;
    w[102] = Math.floor(total / 0x100000000) % 0x10000;
    w[103] = 0;
    // Word 255: signature A5h and a checksum making all 512 bytes sum to 0 mod 256.
    w[255] = 0x00a5;
    let sum = 0;
    for (let i = 0; i < 255; i++) sum += (w[i] & 0xff) + (w[i] >> 8);
    sum += 0xa5;
    w[255] |= ((0x100 - (sum & 0xff)) & 0xff) << 8;
    for (let i = 0; i < 256; i++) {
      this.buffer[i * 2] = w[i] & 0xff;
      this.buffer[i * 2 + 1] = w[i] >> 8;
    }
  }

  saveState(): DeviceState {
    return {
      multipleCount: this.multipleCount,
      currentCylinders: this.currentCylinders,
      currentHeads: this.currentHeads,
      currentSectorsPerTrack: this.currentSectorsPerTrack,
      writeCache: this.writeCache,
      readLookahead: this.readLookahead,
      pioMode: this.pioMode,
      powerMode: this.powerMode,
      status: this.status,
      error: this.error,
      irqPending: this.irqPending,
      buffer: this.buffer.slice(),
      transfer: this.transfer,
      command: this.command,
      addressMode: this.addressMode,
      bufferPos: this.bufferPos,
      bufferEnd: this.bufferEnd,
      lba: this.lba,
      sectorsLeft: this.sectorsLeft,
      blockSize: this.blockSize,
    };
  }

  /** Validates everything first, then applies; `prefix` names the position in error messages. */
  loadState(state: DeviceState, prefix: string): void {
    const int = (field: string, min: number, max: number): number => {
      const v = stateNumber(state, field);
      if (!Number.isInteger(v) || v < min || v > max)
        throw new Error(`state field '${prefix}.${field}' is out of range`);
      return v;
    };
    const bool = (field: string): boolean => {
      try {
        return stateBoolean(state, field);
      } catch {
        throw new Error(`state field '${prefix}.${field}' is not a boolean`);
      }
    };
    let buffer: Uint8Array;
    try {
      buffer = stateBytes(state, 'buffer', this.buffer.length);
    } catch {
      throw new Error(`state field '${prefix}.buffer' is not a ${this.buffer.length}-byte array`);
    }
    const multipleCount = int('multipleCount', 0, ATA_MAX_MULTIPLE);
    const currentCylinders = int('currentCylinders', 1, 65535);
    const currentHeads = int('currentHeads', 1, 16);
    const currentSectorsPerTrack = int('currentSectorsPerTrack', 1, 255);
    const writeCache = bool('writeCache');
    const readLookahead = bool('readLookahead');
    const pioMode = int('pioMode', 0, 4);
    const powerMode = int('powerMode', 0, 0xff);
    const status = int('status', 0, 0xff);
    const error = int('error', 0, 0xff);
    const irqPending = bool('irqPending');
    const transfer = int('transfer', XFER_NONE, XFER_OUT);
    const command = int('command', -1, 0xff);
    const addressMode = int('addressMode', ADDR_CHS, ADDR_LBA48);
    const bufferEnd = int('bufferEnd', 0, this.buffer.length);
    const bufferPos = int('bufferPos', 0, bufferEnd);
    const lba = int('lba', 0, this.sectorCount);
    const sectorsLeft = int('sectorsLeft', 0, 65536);
    const blockSize = int('blockSize', 1, ATA_MAX_MULTIPLE);
    if (
      transfer !== XFER_NONE &&
      (bufferEnd === 0 || bufferEnd % SECTOR_SIZE !== 0 || bufferPos >= bufferEnd)
    ) {
      throw new Error(`state field '${prefix}.bufferEnd' does not describe a DRQ block in progress`);
    }
    if (bufferPos % 2 !== 0) throw new Error(`state field '${prefix}.bufferPos' is not word aligned`);
    this.multipleCount = multipleCount;
    this.currentCylinders = currentCylinders;
    this.currentHeads = currentHeads;
    this.currentSectorsPerTrack = currentSectorsPerTrack;
    this.writeCache = writeCache;
    this.readLookahead = readLookahead;
    this.pioMode = pioMode;
    this.powerMode = powerMode;
    this.status = status;
    this.error = error;
    this.irqPending = irqPending;
    this.buffer.set(buffer);
    this.transfer = transfer;
    this.command = command;
    this.addressMode = addressMode;
    this.bufferPos = bufferPos;
    this.bufferEnd = bufferEnd;
    this.lba = lba;
    this.sectorsLeft = sectorsLeft;
    this.blockSize = blockSize;
  }
}

/** Chooses the default CHS geometry: 16 heads and 63 sectors per track, cylinders capped at 16383. */
function defaultGeometry(
  sectors: number,
  options: AtaDiskOptions,
): { cylinders: number; heads: number; sectorsPerTrack: number } {
  if (
    options.cylinders !== undefined ||
    options.heads !== undefined ||
    options.sectorsPerTrack !== undefined
  ) {
    const { cylinders, heads, sectorsPerTrack } = options;
    if (
      !Number.isInteger(cylinders) ||
      !Number.isInteger(heads) ||
      !Number.isInteger(sectorsPerTrack) ||
      cylinders! < 1 ||
      cylinders! > 65535 ||
      heads! < 1 ||
      heads! > 16 ||
      sectorsPerTrack! < 1 ||
      sectorsPerTrack! > 255 ||
      cylinders! * heads! * sectorsPerTrack! > sectors
    ) {
      throw new Error(
        `ATA geometry ${cylinders}/${heads}/${sectorsPerTrack} does not fit a ${sectors}-sector disk`,
      );
    }
    return { cylinders: cylinders!, heads: heads!, sectorsPerTrack: sectorsPerTrack! };
  }
  let heads = 16;
  let sectorsPerTrack = 63;
  if (sectors < heads * sectorsPerTrack) {
    // Tiny disks (under 504 KiB): one head, so at least one whole cylinder exists.
    heads = 1;
    sectorsPerTrack = Math.min(63, sectors);
  }
  const cylinders = Math.min(MAX_DEFAULT_CYLINDERS, Math.floor(sectors / (heads * sectorsPerTrack)));
  return { cylinders, heads, sectorsPerTrack };
}

function asciiField(name: string, value: string, max: number): string {
  if (value.length > max || !/^[\x20-\x7e]*$/.test(value)) {
    throw new Error(`ATA ${name} must be at most ${max} printable ASCII characters`);
  }
  return value;
}

/** ATA strings: space padded, two characters per word with the first character in the high byte. */
function putString(words: Uint16Array, start: number, length: number, text: string): void {
  const padded = text.padEnd(length, ' ');
  for (let i = 0; i < length; i += 2) {
    words[start + i / 2] = (padded.charCodeAt(i) << 8) | padded.charCodeAt(i + 1);
  }
}
