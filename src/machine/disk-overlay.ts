/**
 * Disks for VMs: a read-only base image that many machines share, and copy-on-write overlays on top of it
 * (the layering qcow2 backing files and VMware delta disks use). Everything here is a BlockDevice, so the
 * ATA and floppy controllers use an overlay without knowing it is one.
 *
 *   base image   DiskBase: one Uint8Array (or a read-only BlockDevice, e.g. a host file), never written.
 *   overlay      DiskOverlay: a sector map (which sectors this layer holds) and the sectors' data, growable.
 *                Reads take the sector from the nearest layer that holds it, else from the base; writes go
 *                into the top layer only. A frozen overlay is read-only and may be the parent of others.
 *
 * API for the host (snapshot trees, clones, storage use):
 *   createBaseImage(bytes, id?)         a shared base; `id` names it in saved states ('sha256:...' from
 *                                       imageId(bytes) is a good one). createBaseImage(device, id) wraps a
 *                                       read-only BlockDevice instead.
 *   createOverlay(parent)               a writable overlay over a base or over a frozen overlay (a linked
 *                                       clone: it shares every block of its parent chain)
 *   overlay.freeze() / overlay.child()  make a layer read-only / a new writable layer on top of a frozen one
 *   overlay.takeSnapshot()              for the overlay a running machine uses: moves its sectors into a new
 *                                       frozen layer (returned) and goes on, empty, on top of it; the machine
 *                                       keeps the same BlockDevice object
 *   overlay.revertTo(layer)             drops the live overlay's sectors and puts it on top of `layer`
 *   overlay.absorbParent()              copies in the parent's sectors it lacks and skips the parent (what
 *                                       deleting a snapshot needs from each child); reads do not change
 *   overlay.flatten()                   a full clone: a new writable overlay on the base holding every sector
 *                                       of the chain, sharing nothing but the base; toImage() gives the bytes
 *   storedBytes, chainStoredBytes, overlaidSectors, depth, base.byteLength   for 'storage use'
 *   serializeOverlay(o) / deserializeOverlay(state, resolveBase) / o.loadState(state)   the whole chain as
 *                                       named fields and typed arrays (the snapshot container's StateValue)
 *   serializeLayer(o) / deserializeLayer(state, parent)   one layer, for stores that keep layers apart
 *
 * Layer ids (crypto.getRandomValues; no module-level state) name content only once a layer is frozen: a
 * writable overlay keeps its id while its sectors change, and takeSnapshot gives the split-off layer a new one.
 */
import type { BlockDevice } from '../devices/block-device.ts';
import { checkSectorRange, SECTOR_SIZE } from '../devices/block-device.ts';
import type { DeviceState } from '../devices/device.ts';

/** Sectors per storage cluster: an overlay allocates 4 KiB at a time and keeps one presence byte per cluster. */
const CLUSTER_SECTORS = 8;
const CLUSTER_BYTES = CLUSTER_SECTORS * SECTOR_SIZE;
const INITIAL_SLOTS = 16;

export const DISK_STATE_FORMAT = 'visor86-disk';
export const DISK_LAYER_FORMAT = 'visor86-disk-layer';
/** Version of the layout serializeOverlay / serializeLayer write. */
export const DISK_STATE_VERSION = 1;

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** 'sha256:<hex>' of an image, a stable id for a base built from it. */
export async function imageId(bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return 'sha256:' + Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A read-only base image. Writes throw. */
export class DiskBase implements BlockDevice {
  readonly sectorCount: number;
  readonly readOnly = true;
  /** Bytes the base occupies (its full size). */
  readonly byteLength: number;
  private readonly bytes: Uint8Array | null;
  private readonly device: BlockDevice | null;

  constructor(
    source: Uint8Array | BlockDevice,
    readonly id: string,
  ) {
    if (source instanceof Uint8Array) {
      if (source.length === 0 || source.length % SECTOR_SIZE !== 0) {
        throw new Error(`a base image of ${source.length} bytes is not a whole number of 512-byte sectors`);
      }
      this.bytes = source;
      this.device = null;
      this.sectorCount = source.length / SECTOR_SIZE;
    } else {
      if (source.sectorCount < 1) throw new Error('a base image needs at least one sector');
      this.bytes = null;
      this.device = source;
      this.sectorCount = source.sectorCount;
    }
    this.byteLength = this.sectorCount * SECTOR_SIZE;
  }

  read(sector: number, count: number, into: Uint8Array, offset: number): void {
    checkSectorRange(this, sector, count, into, offset);
    if (this.bytes)
      into.set(this.bytes.subarray(sector * SECTOR_SIZE, (sector + count) * SECTOR_SIZE), offset);
    else this.device!.read(sector, count, into, offset);
  }

  write(): void {
    throw new Error(`write to the read-only base image ${this.id}`);
  }
}

/** A shared base over `bytes` (used in place, never written) or over a read-only BlockDevice. */
export function createBaseImage(source: Uint8Array | BlockDevice, id: string = randomId()): DiskBase {
  return new DiskBase(source, id);
}

/** A writable overlay over a base or a frozen overlay. */
export function createOverlay(parent: DiskBase | DiskOverlay): DiskOverlay {
  return new DiskOverlay(parent);
}

export class DiskOverlay implements BlockDevice {
  readonly sectorCount: number;
  /** Names this layer in saved states; a layer split off by takeSnapshot gets a new one. */
  id: string;
  private parentLayer: DiskBase | DiskOverlay;
  private frozen = false;
  // The sector map: cluster number -> storage slot; per slot a presence byte (bit i = sector i of the
  // cluster is held here) and CLUSTER_BYTES of data.
  private slots = new Map<number, number>();
  private masks = new Uint8Array(INITIAL_SLOTS);
  private data = new Uint8Array(INITIAL_SLOTS * CLUSTER_BYTES);
  private slotCount = 0;
  private present = 0;

  constructor(parent: DiskBase | DiskOverlay, id: string = randomId()) {
    if (parent instanceof DiskOverlay && !parent.frozen) {
      throw new Error('an overlay can only be put on a base image or a frozen overlay (freeze() it first)');
    }
    this.parentLayer = parent;
    this.sectorCount = parent.sectorCount;
    this.id = id;
  }

  /** The layer below: a frozen overlay or the base. */
  get parent(): DiskBase | DiskOverlay {
    return this.parentLayer;
  }

  /** The base image at the bottom of the chain. */
  get base(): DiskBase {
    let layer: DiskBase | DiskOverlay = this.parentLayer;
    while (layer instanceof DiskOverlay) layer = layer.parentLayer;
    return layer;
  }

  /** A frozen overlay refuses writes (BlockDevice.readOnly). */
  get readOnly(): boolean {
    return this.frozen;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  /** Sectors this layer holds. */
  get overlaidSectors(): number {
    return this.present;
  }

  /** Bytes of sector data this layer holds (what it adds to storage use). */
  get storedBytes(): number {
    return this.present * SECTOR_SIZE;
  }

  /** Bytes held by this layer and every overlay below it (the base not included). */
  get chainStoredBytes(): number {
    let total = 0;
    for (const layer of this.chain()) total += layer.storedBytes;
    return total;
  }

  /** Overlays in the chain, this one included. */
  get depth(): number {
    return this.chain().length;
  }

  /** This overlay and every overlay below it, top first. */
  chain(): DiskOverlay[] {
    const layers: DiskOverlay[] = [this];
    for (let p = this.parentLayer; p instanceof DiskOverlay; p = p.parentLayer) layers.push(p);
    return layers;
  }

  /** True when this layer itself holds `sector`. */
  holds(sector: number): boolean {
    const slot = this.slots.get(Math.floor(sector / CLUSTER_SECTORS));
    return slot !== undefined && (this.masks[slot] & (1 << (sector % CLUSTER_SECTORS))) !== 0;
  }

  /** Makes this layer read-only for good, so it can be a parent. Returns this. */
  freeze(): this {
    this.frozen = true;
    return this;
  }

  /** A new writable overlay on top of this frozen one (a linked clone). */
  child(): DiskOverlay {
    if (!this.frozen) throw new Error('only a frozen overlay can have children (freeze() it first)');
    return new DiskOverlay(this);
  }

  read(sector: number, count: number, into: Uint8Array, offset: number): void {
    checkSectorRange(this, sector, count, into, offset);
    // Sectors no overlay holds are read from the base in runs, one base read per run.
    let runStart = -1;
    for (let i = 0; i < count; i++) {
      const s = sector + i;
      const at = offset + i * SECTOR_SIZE;
      if (this.readFromOverlays(s, into, at)) {
        if (runStart >= 0) this.readBaseRun(runStart, s, into, offset + (runStart - sector) * SECTOR_SIZE);
        runStart = -1;
      } else if (runStart < 0) {
        runStart = s;
      }
    }
    if (runStart >= 0) {
      this.readBaseRun(runStart, sector + count, into, offset + (runStart - sector) * SECTOR_SIZE);
    }
  }

  private readBaseRun(start: number, end: number, into: Uint8Array, at: number): void {
    this.base.read(start, end - start, into, at);
  }

  /** Copies `sector` from the nearest overlay holding it; false when it comes from the base. */
  private readFromOverlays(sector: number, into: Uint8Array, at: number): boolean {
    const cluster = Math.floor(sector / CLUSTER_SECTORS);
    const bit = 1 << (sector % CLUSTER_SECTORS);
    let layer: DiskBase | DiskOverlay = this as DiskOverlay;
    while (layer instanceof DiskOverlay) {
      const slot = layer.slots.get(cluster);
      if (slot !== undefined && (layer.masks[slot] & bit) !== 0) {
        const from = slot * CLUSTER_BYTES + (sector % CLUSTER_SECTORS) * SECTOR_SIZE;
        into.set(layer.data.subarray(from, from + SECTOR_SIZE), at);
        return true;
      }
      layer = layer.parentLayer;
    }
    return false;
  }

  write(sector: number, count: number, from: Uint8Array, offset: number): void {
    if (this.frozen) throw new Error('write to a frozen disk overlay');
    checkSectorRange(this, sector, count, from, offset);
    for (let i = 0; i < count; i++) {
      const at = offset + i * SECTOR_SIZE;
      this.store(sector + i, from.subarray(at, at + SECTOR_SIZE));
    }
  }

  /** Puts one sector's bytes into this layer (no frozen check: callers decide). */
  private store(sector: number, bytes: Uint8Array): void {
    const cluster = Math.floor(sector / CLUSTER_SECTORS);
    const bit = 1 << (sector % CLUSTER_SECTORS);
    let slot = this.slots.get(cluster);
    if (slot === undefined) {
      slot = this.allocateSlot();
      this.slots.set(cluster, slot);
    }
    if ((this.masks[slot] & bit) === 0) {
      this.masks[slot] |= bit;
      this.present++;
    }
    this.data.set(bytes, slot * CLUSTER_BYTES + (sector % CLUSTER_SECTORS) * SECTOR_SIZE);
  }

  private allocateSlot(): number {
    if (this.slotCount === this.masks.length) {
      const masks = new Uint8Array(this.masks.length * 2);
      masks.set(this.masks);
      this.masks = masks;
      const data = new Uint8Array(masks.length * CLUSTER_BYTES);
      data.set(this.data);
      this.data = data;
    }
    return this.slotCount++;
  }

  /** Calls `visit(sector, bytes)` for every sector this layer holds, in sector order. */
  private forEachSector(visit: (sector: number, bytes: Uint8Array) => void): void {
    const clusters = [...this.slots.keys()].sort((a, b) => a - b);
    for (const cluster of clusters) {
      const slot = this.slots.get(cluster)!;
      const mask = this.masks[slot];
      for (let i = 0; i < CLUSTER_SECTORS; i++) {
        if ((mask & (1 << i)) === 0) continue;
        const from = slot * CLUSTER_BYTES + i * SECTOR_SIZE;
        visit(cluster * CLUSTER_SECTORS + i, this.data.subarray(from, from + SECTOR_SIZE));
      }
    }
  }

  private clearStorage(): void {
    this.slots = new Map();
    this.masks = new Uint8Array(INITIAL_SLOTS);
    this.data = new Uint8Array(INITIAL_SLOTS * CLUSTER_BYTES);
    this.slotCount = 0;
    this.present = 0;
  }

  /** Moves this layer's storage into `other` (which must be empty) and leaves this one empty. */
  private moveStorageTo(other: DiskOverlay): void {
    other.slots = this.slots;
    other.masks = this.masks;
    other.data = this.data;
    other.slotCount = this.slotCount;
    other.present = this.present;
    this.clearStorage();
  }

  /**
   * For the writable overlay a running machine uses: its sectors move into a new frozen layer (returned, with
   * a new id), and this overlay goes on empty on top of it. What the guest reads does not change.
   */
  takeSnapshot(): DiskOverlay {
    if (this.frozen) throw new Error('a frozen overlay cannot take a snapshot; take it of the writable top');
    const layer = new DiskOverlay(this.parentLayer);
    this.moveStorageTo(layer);
    layer.frozen = true;
    this.parentLayer = layer;
    return layer;
  }

  /** Drops this writable overlay's sectors and puts it on top of `layer` (a frozen overlay or the base). */
  revertTo(layer: DiskBase | DiskOverlay): void {
    if (this.frozen) throw new Error('a frozen overlay cannot be reverted');
    if (layer instanceof DiskOverlay && !layer.frozen) throw new Error('can only revert to a frozen overlay');
    if (layer === this) throw new Error('an overlay cannot be its own parent');
    const base = layer instanceof DiskOverlay ? layer.base : layer;
    if (base !== this.base) {
      throw new Error(
        `cannot revert onto a different base image (${base.id}, this disk uses ${this.base.id})`,
      );
    }
    this.clearStorage();
    this.parentLayer = layer;
  }

  /**
   * Copies in every sector the parent holds that this layer lacks, then skips the parent (its parent becomes
   * this layer's). Reads give the same bytes before and after, so frozen layers may do it too.
   */
  absorbParent(): void {
    const parent = this.parentLayer;
    if (!(parent instanceof DiskOverlay)) return;
    parent.forEachSector((sector, bytes) => {
      if (!this.holds(sector)) this.store(sector, bytes);
    });
    this.parentLayer = parent.parentLayer;
  }

  /** A full clone: a new writable overlay on the base holding every sector any overlay in the chain holds. */
  flatten(): DiskOverlay {
    const clone = new DiskOverlay(this.base);
    const chain = this.chain();
    // Bottom layer first, so a nearer layer's copy of a sector overwrites a farther one's.
    for (let i = chain.length - 1; i >= 0; i--) chain[i].forEachSector((s, bytes) => clone.store(s, bytes));
    return clone;
  }

  /** The whole disk as one image (base plus every overlay). */
  toImage(): Uint8Array {
    const image = new Uint8Array(this.sectorCount * SECTOR_SIZE);
    this.read(0, this.sectorCount, image, 0);
    return image;
  }

  /** Replaces this overlay's chain and sectors with a saved one over the same base; keeps this object. */
  loadState(state: DeviceState): void {
    this.prepareLoad(state)();
  }

  /**
   * Checks and decodes a saved chain (throwing, with nothing changed, when it is malformed or lies over
   * another base); returns the function that puts it in place. Lets a machine check every disk first.
   */
  prepareLoad(state: DeviceState): () => void {
    const restored = deserializeOverlay(state, (id, sectors) => {
      const base = this.base;
      if (id !== base.id || sectors !== base.sectorCount) {
        throw new Error(
          `the saved disk lies over base image ${id} (${sectors} sectors); this disk's base is ${base.id} ` +
            `(${base.sectorCount} sectors)`,
        );
      }
      return base;
    });
    return () => {
      this.clearStorage();
      restored.moveStorageTo(this);
      this.parentLayer = restored.parentLayer;
      this.id = restored.id;
    };
  }

  /** Internal to serialization: the layer's sectors, packed. */
  packedSectors(): { sectors: Uint32Array; data: Uint8Array } {
    const sectors = new Uint32Array(this.present);
    const data = new Uint8Array(this.present * SECTOR_SIZE);
    let n = 0;
    this.forEachSector((sector, bytes) => {
      sectors[n] = sector;
      data.set(bytes, n * SECTOR_SIZE);
      n++;
    });
    return { sectors, data };
  }

  /** Internal to deserialization: builds a layer from packed sectors. */
  static fromPacked(
    parent: DiskBase | DiskOverlay,
    id: string,
    sectors: Uint32Array,
    data: Uint8Array,
    frozen: boolean,
  ): DiskOverlay {
    const layer = new DiskOverlay(parent, id);
    for (let i = 0; i < sectors.length; i++) {
      if (sectors[i] >= layer.sectorCount) {
        throw new Error(`disk layer ${id} holds sector ${sectors[i]}, past the end of the disk`);
      }
      if (i > 0 && sectors[i] <= sectors[i - 1]) {
        throw new Error(`disk layer ${id} lists its sectors out of order`);
      }
      layer.store(sectors[i], data.subarray(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE));
    }
    layer.frozen = frozen;
    return layer;
  }
}

/** One layer as named fields: its id, whether frozen, the sectors it holds (ascending) and their bytes. */
export function serializeLayer(layer: DiskOverlay): DeviceState {
  const { sectors, data } = layer.packedSectors();
  return {
    format: DISK_LAYER_FORMAT,
    version: DISK_STATE_VERSION,
    id: layer.id,
    frozen: layer.isFrozen,
    sectorCount: layer.sectorCount,
    sectors,
    data,
  };
}

/** Rebuilds one layer saved by serializeLayer on top of `parent`. Throws naming what is malformed. */
export function deserializeLayer(state: DeviceState, parent: DiskBase | DiskOverlay): DiskOverlay {
  if (state === null || typeof state !== 'object' || state.format !== DISK_LAYER_FORMAT) {
    throw new Error('not a visor86 disk layer');
  }
  if (state.version !== DISK_STATE_VERSION) {
    throw new Error(
      `disk layer version ${String(state.version)} is not supported (this build reads ${DISK_STATE_VERSION})`,
    );
  }
  const { id, frozen, sectorCount, sectors, data } = state;
  if (typeof id !== 'string' || id === '') throw new Error("disk layer field 'id' is malformed");
  if (typeof frozen !== 'boolean') throw new Error(`disk layer ${id}: field 'frozen' is not a boolean`);
  if (sectorCount !== parent.sectorCount) {
    throw new Error(
      `disk layer ${id} is for a ${String(sectorCount)}-sector disk, its parent has ${parent.sectorCount}`,
    );
  }
  if (!(sectors instanceof Uint32Array)) throw new Error(`disk layer ${id}: field 'sectors' is malformed`);
  if (!(data instanceof Uint8Array) || data.length !== sectors.length * SECTOR_SIZE) {
    throw new Error(`disk layer ${id}: field 'data' does not hold ${sectors.length} sectors`);
  }
  if (parent instanceof DiskOverlay && !parent.isFrozen) {
    throw new Error(`disk layer ${id}: its parent ${parent.id} is not frozen`);
  }
  return DiskOverlay.fromPacked(parent, id, sectors, data, frozen);
}

/** An overlay and every overlay below it, bottom first, with the base's id and size. */
export function serializeOverlay(overlay: DiskOverlay): DeviceState {
  const layers = overlay.chain().reverse().map(serializeLayer);
  const base = overlay.base;
  return {
    format: DISK_STATE_FORMAT,
    version: DISK_STATE_VERSION,
    baseId: base.id,
    baseSectors: base.sectorCount,
    layers,
  };
}

/**
 * Rebuilds an overlay chain saved by serializeOverlay. `resolveBase(id, sectorCount)` returns the base it
 * was taken over (or throws when there is none). Throws an Error naming what is malformed.
 */
export function deserializeOverlay(
  state: DeviceState,
  resolveBase: (id: string, sectorCount: number) => DiskBase,
): DiskOverlay {
  if (state === null || typeof state !== 'object' || state.format !== DISK_STATE_FORMAT) {
    throw new Error('not a visor86 disk state');
  }
  if (state.version !== DISK_STATE_VERSION) {
    throw new Error(
      `disk state version ${String(state.version)} is not supported (this build reads ${DISK_STATE_VERSION})`,
    );
  }
  const { baseId, baseSectors, layers } = state;
  if (typeof baseId !== 'string') throw new Error("disk state field 'baseId' is malformed");
  if (typeof baseSectors !== 'number' || !Number.isInteger(baseSectors) || baseSectors < 1) {
    throw new Error("disk state field 'baseSectors' is malformed");
  }
  if (!Array.isArray(layers) || layers.length === 0) throw new Error('disk state holds no overlay');
  const base = resolveBase(baseId, baseSectors);
  if (base.id !== baseId || base.sectorCount !== baseSectors) {
    throw new Error(`base image ${base.id} does not match the saved disk's base ${baseId}`);
  }
  let parent: DiskBase | DiskOverlay = base;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i] as DeviceState;
    if (i < layers.length - 1 && layer && typeof layer === 'object' && layer.frozen !== true) {
      throw new Error(`disk state layer ${i} has children but is not frozen`);
    }
    parent = deserializeLayer(layer, parent);
  }
  return parent as DiskOverlay;
}
