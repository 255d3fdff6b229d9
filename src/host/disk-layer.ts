/**
 * Disk layers: the sectors a VM wrote, as a sparse map per drive. The page keeps a VM's disks as its base
 * images (the boot image, or a blank disk) plus layers; the worker keeps the disks themselves and reports
 * what was written since the base (`WriteTrackingDisk`).
 *
 * A snapshot holds the layer of sectors that changed since its parent snapshot (a delta, like ESXi's delta
 * disks or a qcow2 overlay), so a tree of snapshots stores each written sector once per snapshot that
 * changed it, not a copy of the disk each. The disk at a snapshot is its base with the layers of its
 * ancestors applied root first (`flattenLayers`). Deleting a snapshot merges its layer into each child's
 * (the child's own sectors win), so every remaining snapshot still sees the same disk. A linked clone's
 * layers lie on a base instead of the bare images: the disk of the snapshot it was cloned from, read from
 * the source's layers (vm-store.ts); its stored disk is `diffLayers(live, base)`.
 *
 *   drive ids: hd0..hd3 = ATA primary master, primary slave, secondary master, secondary slave; fd0, fd1 = A:, B:
 */
import {
  SECTOR_SIZE,
  checkSectorRange,
  type BlockDevice,
  type BlockDeviceStats,
} from '../devices/block-device.ts';
import type { StateValue } from '../machine/snapshot-file.ts';

/** drive id -> sector number -> the sector's 512 bytes. */
export type DiskLayer = Map<string, Map<number, Uint8Array>>;

export const DISK_LAYER_FORMAT = 'visor86-sector-layer';
export const DISK_LAYER_VERSION = 1;

export function emptyLayer(): DiskLayer {
  return new Map();
}

/** Number of sectors a layer holds. */
export function layerSectors(layer: DiskLayer): number {
  let n = 0;
  for (const sectors of layer.values()) n += sectors.size;
  return n;
}

/** Bytes of sector data a layer holds. */
export function layerBytes(layer: DiskLayer): number {
  return layerSectors(layer) * SECTOR_SIZE;
}

/** `upper` laid over `lower`: a new layer with every sector of both, `upper`'s where both have one. */
export function overlayLayers(lower: DiskLayer, upper: DiskLayer): DiskLayer {
  const out: DiskLayer = new Map();
  for (const [drive, sectors] of lower) out.set(drive, new Map(sectors));
  for (const [drive, sectors] of upper) {
    let target = out.get(drive);
    if (!target) out.set(drive, (target = new Map()));
    for (const [sector, bytes] of sectors) target.set(sector, bytes);
  }
  return out;
}

/** The disk seen through several layers, lowest first. */
export function flattenLayers(layers: Iterable<DiskLayer>): DiskLayer {
  let out: DiskLayer = new Map();
  for (const layer of layers) out = overlayLayers(out, layer);
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The sectors of `live` that `reference` does not have, or has with other contents: what a new snapshot
 * must store when the disk is `live` and its parent snapshot's disk is `reference` (both relative to the
 * same base, and `live` holding every sector `reference` holds, as a disk that only ever gains writes does).
 */
export function diffLayers(live: DiskLayer, reference: DiskLayer): DiskLayer {
  const out: DiskLayer = new Map();
  for (const [drive, sectors] of live) {
    const ref = reference.get(drive);
    for (const [sector, bytes] of sectors) {
      const old = ref?.get(sector);
      if (old && sameBytes(old, bytes)) continue;
      let target = out.get(drive);
      if (!target) out.set(drive, (target = new Map()));
      target.set(sector, bytes);
    }
  }
  return out;
}

/** True when both layers hold the same sectors with the same contents. */
export function layersEqual(a: DiskLayer, b: DiskLayer): boolean {
  if (layerSectors(a) !== layerSectors(b)) return false;
  for (const [drive, sectors] of a) {
    const other = b.get(drive);
    for (const [sector, bytes] of sectors) {
      const o = other?.get(sector);
      if (!o || !sameBytes(o, bytes)) return false;
    }
  }
  return true;
}

/** A layer as a state tree for the snapshot container: per drive, sorted sector numbers and their data. */
export function layerToState(layer: DiskLayer): StateValue {
  const drives: { [drive: string]: StateValue } = {};
  for (const [drive, sectors] of [...layer].sort(([a], [b]) => a.localeCompare(b))) {
    if (sectors.size === 0) continue;
    const numbers = Uint32Array.from([...sectors.keys()].sort((a, b) => a - b));
    const data = new Uint8Array(numbers.length * SECTOR_SIZE);
    numbers.forEach((sector, i) => data.set(sectors.get(sector)!, i * SECTOR_SIZE));
    drives[drive] = { sectors: numbers, data };
  }
  return { format: DISK_LAYER_FORMAT, version: DISK_LAYER_VERSION, drives };
}

const DRIVE_ID = /^(hd[0-3]|fd[01])$/;

/** Reads a layer back from layerToState's tree. Throws an Error naming what is malformed. */
export function layerFromState(state: StateValue): DiskLayer {
  const s = state as { [field: string]: StateValue };
  if (!s || typeof s !== 'object' || s.format !== DISK_LAYER_FORMAT) throw new Error('not a disk layer');
  if (s.version !== DISK_LAYER_VERSION) {
    throw new Error(
      `disk layer version ${String(s.version)} is not supported (expected ${DISK_LAYER_VERSION})`,
    );
  }
  const drives = s.drives as { [drive: string]: StateValue };
  if (!drives || typeof drives !== 'object' || Array.isArray(drives))
    throw new Error('disk layer has no drives');
  const out: DiskLayer = new Map();
  for (const [drive, value] of Object.entries(drives)) {
    if (!DRIVE_ID.test(drive)) throw new Error(`disk layer names an unknown drive "${drive}"`);
    const { sectors, data } = (value ?? {}) as { sectors?: StateValue; data?: StateValue };
    if (!(sectors instanceof Uint32Array) || !(data instanceof Uint8Array)) {
      throw new Error(`disk layer drive ${drive} is malformed`);
    }
    if (data.length !== sectors.length * SECTOR_SIZE) {
      throw new Error(`disk layer drive ${drive} has ${data.length} bytes for ${sectors.length} sectors`);
    }
    const map = new Map<number, Uint8Array>();
    for (let i = 0; i < sectors.length; i++) {
      map.set(sectors[i], data.slice(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE));
    }
    out.set(drive, map);
  }
  return out;
}

/**
 * A disk that remembers which sectors were written since it was made from its base image, so the worker
 * can report the VM's disk as a layer over the base (for snapshots and for keeping it across page reloads).
 */
export class WriteTrackingDisk implements BlockDevice, BlockDeviceStats {
  readonly sectorCount: number;
  readonly readOnly = false;
  sectorsRead = 0;
  sectorsWritten = 0;
  /** One flag per sector: written since the base. */
  private readonly written: Uint8Array;
  private writtenCount = 0;

  /** `data` is used in place (pass a copy of the base image). */
  constructor(readonly data: Uint8Array) {
    if (data.length % SECTOR_SIZE !== 0) {
      throw new Error(`disk image of ${data.length} bytes is not a multiple of ${SECTOR_SIZE}-byte sectors`);
    }
    this.sectorCount = data.length / SECTOR_SIZE;
    this.written = new Uint8Array(this.sectorCount);
  }

  read(sector: number, count: number, into: Uint8Array, offset: number): void {
    checkSectorRange(this, sector, count, into, offset);
    into.set(this.data.subarray(sector * SECTOR_SIZE, (sector + count) * SECTOR_SIZE), offset);
    this.sectorsRead += count;
  }

  write(sector: number, count: number, from: Uint8Array, offset: number): void {
    checkSectorRange(this, sector, count, from, offset);
    this.data.set(from.subarray(offset, offset + count * SECTOR_SIZE), sector * SECTOR_SIZE);
    for (let s = sector; s < sector + count; s++) {
      if (this.written[s] === 0) {
        this.written[s] = 1;
        this.writtenCount++;
      }
    }
    this.sectorsWritten += count;
  }

  /** Sectors written since the base. */
  get writtenSectors(): number {
    return this.writtenCount;
  }

  /** The written sectors and their current contents (copies). */
  writtenLayer(): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    if (this.writtenCount === 0) return out;
    for (let s = 0; s < this.sectorCount; s++) {
      if (this.written[s]) out.set(s, this.data.slice(s * SECTOR_SIZE, (s + 1) * SECTOR_SIZE));
    }
    return out;
  }

  /** Writes a layer's sectors onto the disk (restoring a saved disk over a fresh base); they count as written. */
  apply(sectors: Map<number, Uint8Array>, drive: string): void {
    for (const [sector, bytes] of sectors) {
      if (!Number.isInteger(sector) || sector < 0 || sector >= this.sectorCount) {
        throw new Error(
          `saved disk ${drive} has sector ${sector}, past the end of a ${this.sectorCount}-sector disk`,
        );
      }
      if (bytes.length !== SECTOR_SIZE)
        throw new Error(`saved disk ${drive} sector ${sector} is not 512 bytes`);
      this.data.set(bytes, sector * SECTOR_SIZE);
      if (this.written[sector] === 0) {
        this.written[sector] = 1;
        this.writtenCount++;
      }
    }
  }
}
