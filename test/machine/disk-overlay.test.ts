/**
 * Copy-on-write disks: reads fall through the chain to the base, writes stay in the top overlay, the base is
 * never written, snapshots split layers off without changing what the guest reads, clones share blocks, and
 * the serialized chain comes back identical (or is refused with a reason).
 */
import { describe, expect, test } from 'vitest';
import { SECTOR_SIZE } from '../../src/devices/block-device.ts';
import {
  createBaseImage,
  createOverlay,
  deserializeLayer,
  deserializeOverlay,
  DiskOverlay,
  imageId,
  serializeLayer,
  serializeOverlay,
  type DiskBase,
} from '../../src/machine/disk-overlay.ts';
import { decodeSnapshot, encodeSnapshot, type StateValue } from '../../src/machine/snapshot-file.ts';
import type { DeviceState } from '../../src/devices/device.ts';

const SECTORS = 100;

/** A base whose sector n is filled with the byte n. */
function patternedBase(): { base: DiskBase; bytes: Uint8Array } {
  const bytes = new Uint8Array(SECTORS * SECTOR_SIZE);
  for (let s = 0; s < SECTORS; s++) bytes.fill(s, s * SECTOR_SIZE, (s + 1) * SECTOR_SIZE);
  return { base: createBaseImage(bytes, 'test-base'), bytes };
}

/** Byte arrays compared in one step (toEqual walks them element by element, slowly). */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.compare(actual, expected)).toBe(0);
}

function sectorOf(fill: number, count = 1): Uint8Array {
  return new Uint8Array(count * SECTOR_SIZE).fill(fill);
}

/** The first byte of each of `count` sectors from `start`. */
function firstBytes(disk: { read: DiskOverlay['read'] }, start: number, count: number): number[] {
  const buffer = new Uint8Array(count * SECTOR_SIZE);
  disk.read(start, count, buffer, 0);
  return Array.from({ length: count }, (_, i) => buffer[i * SECTOR_SIZE]);
}

describe('copy-on-write overlays', () => {
  test('reads fall through to the base; writes stay in the overlay and the base is untouched', () => {
    const { base, bytes } = patternedBase();
    const before = bytes.slice();
    const disk = createOverlay(base);
    expect(firstBytes(disk, 0, 5)).toEqual([0, 1, 2, 3, 4]);
    disk.write(2, 2, sectorOf(0xaa, 2), 0);
    expect(firstBytes(disk, 0, 5)).toEqual([0, 1, 0xaa, 0xaa, 4]);
    expectSameBytes(bytes, before);
    expect(disk.overlaidSectors).toBe(2);
    expect(disk.storedBytes).toBe(2 * SECTOR_SIZE);
    expect(disk.holds(2) && disk.holds(3) && !disk.holds(4)).toBe(true);
    // A whole read spanning overlaid and base sectors, at an offset into the buffer.
    const buffer = new Uint8Array(12 * SECTOR_SIZE);
    disk.read(0, 10, buffer, 2 * SECTOR_SIZE);
    expect(buffer[2 * SECTOR_SIZE + 3 * SECTOR_SIZE + 511]).toBe(0xaa);
    expect(buffer[2 * SECTOR_SIZE + 9 * SECTOR_SIZE]).toBe(9);
    expect(() => base.write()).toThrow(/read-only base/);
  });

  test('out-of-range access throws and changes nothing', () => {
    const { base } = patternedBase();
    const disk = createOverlay(base);
    expect(() => disk.write(SECTORS - 1, 2, sectorOf(1, 2), 0)).toThrow(/past the end/);
    expect(() => disk.read(-1, 1, sectorOf(0), 0)).toThrow(/bad sector range/);
    expect(disk.overlaidSectors).toBe(0);
  });

  test('the sector map grows past its first allocation', () => {
    const { base } = patternedBase();
    const disk = createOverlay(base);
    for (let s = 0; s < SECTORS; s += 3) disk.write(s, 1, sectorOf(200 + (s % 50)), 0);
    for (let s = 0; s < SECTORS; s++) {
      expect(firstBytes(disk, s, 1)[0]).toBe(s % 3 === 0 ? 200 + (s % 50) : s);
    }
    expect(disk.overlaidSectors).toBe(Math.ceil(SECTORS / 3));
  });

  test('chains: the nearest layer wins, frozen layers refuse writes and cannot be written through', () => {
    const { base } = patternedBase();
    const bottom = createOverlay(base);
    bottom.write(10, 2, sectorOf(1, 2), 0);
    bottom.freeze();
    expect(bottom.readOnly).toBe(true);
    expect(() => bottom.write(0, 1, sectorOf(0), 0)).toThrow(/frozen/);
    const middle = bottom.child();
    middle.write(11, 2, sectorOf(2, 2), 0);
    middle.freeze();
    const top = middle.child();
    top.write(12, 1, sectorOf(3), 0);
    expect(firstBytes(top, 9, 5)).toEqual([9, 1, 2, 3, 13]);
    expect(firstBytes(middle, 9, 5)).toEqual([9, 1, 2, 2, 13]);
    expect(firstBytes(bottom, 9, 5)).toEqual([9, 1, 1, 12, 13]);
    expect(top.depth).toBe(3);
    expect(top.base).toBe(base);
    expect(top.chainStoredBytes).toBe(5 * SECTOR_SIZE);
    expect(() => createOverlay(top)).toThrow(/frozen/);
    expect(() => top.child()).toThrow(/frozen/);
  });

  test('linked clones share their parent chain: no block is copied and each clone writes on its own', () => {
    const { base } = patternedBase();
    const golden = createOverlay(base);
    golden.write(0, 4, sectorOf(7, 4), 0);
    golden.freeze();
    const a = golden.child();
    const b = createOverlay(golden);
    expect(a.parent).toBe(golden);
    expect(b.parent).toBe(golden);
    expect(a.storedBytes).toBe(0);
    expect(firstBytes(a, 0, 5)).toEqual([7, 7, 7, 7, 4]);
    a.write(1, 1, sectorOf(0xa), 0);
    b.write(1, 1, sectorOf(0xb), 0);
    expect(firstBytes(a, 0, 3)).toEqual([7, 0xa, 7]);
    expect(firstBytes(b, 0, 3)).toEqual([7, 0xb, 7]);
    expect(firstBytes(golden, 0, 3)).toEqual([7, 7, 7]);
    // A clone straight from the base.
    expect(firstBytes(createOverlay(base), 0, 3)).toEqual([0, 1, 2]);
  });

  test('flatten makes a full clone that shares nothing but the base', () => {
    const { base } = patternedBase();
    const bottom = createOverlay(base);
    bottom.write(5, 3, sectorOf(1, 3), 0);
    const top = bottom.freeze().child();
    top.write(6, 1, sectorOf(2), 0);
    const clone = top.flatten();
    expect(clone.parent).toBe(base);
    expect(clone.readOnly).toBe(false);
    expect(clone.overlaidSectors).toBe(3);
    expectSameBytes(clone.toImage(), top.toImage());
    clone.write(5, 1, sectorOf(9), 0);
    expect(firstBytes(top, 5, 1)).toEqual([1]);
    expect(firstBytes(clone, 4, 4)).toEqual([4, 9, 2, 1]);
  });

  test('takeSnapshot splits a frozen layer off under the live overlay; revertTo goes back to it', () => {
    const { base } = patternedBase();
    const live = createOverlay(base);
    live.write(3, 1, sectorOf(0x33), 0);
    const image = live.toImage();
    const snapshot = live.takeSnapshot();
    expect(snapshot.isFrozen).toBe(true);
    expect(snapshot.id).not.toBe(live.id);
    expect(live.parent).toBe(snapshot);
    expect(live.storedBytes).toBe(0);
    expectSameBytes(live.toImage(), image);
    live.write(3, 1, sectorOf(0x44), 0);
    live.write(50, 1, sectorOf(0x55), 0);
    expect(firstBytes(live, 3, 1)).toEqual([0x44]);
    live.revertTo(snapshot);
    expectSameBytes(live.toImage(), image);
    live.revertTo(base);
    expect(firstBytes(live, 3, 1)).toEqual([3]);
    const other = createBaseImage(new Uint8Array(SECTORS * SECTOR_SIZE), 'other');
    expect(() => live.revertTo(other)).toThrow(/different base/);
    expect(() => live.revertTo(createOverlay(base))).toThrow(/frozen/);
    expect(() => snapshot.takeSnapshot()).toThrow(/frozen/);
  });

  test('absorbParent (deleting a snapshot) keeps what the child reads and skips the parent', () => {
    const { base } = patternedBase();
    const grand = createOverlay(base);
    grand.write(0, 1, sectorOf(0x10), 0);
    const parent = grand.freeze().child();
    parent.write(1, 2, sectorOf(0x20, 2), 0);
    const child = parent.freeze().child();
    child.write(2, 1, sectorOf(0x30), 0);
    const image = child.toImage();
    child.absorbParent();
    expect(child.parent).toBe(grand);
    expectSameBytes(child.toImage(), image);
    expect(child.overlaidSectors).toBe(2);
  });

  test('serializeOverlay / deserializeOverlay round trip through the snapshot container', async () => {
    const { base } = patternedBase();
    const bottom = createOverlay(base);
    bottom.write(0, 9, sectorOf(0x61, 9), 0);
    const top = bottom.freeze().child();
    top.write(40, 2, sectorOf(0x62, 2), 0);
    top.write(99, 1, sectorOf(0x63), 0);
    const file = await encodeSnapshot(serializeOverlay(top) as StateValue);
    const state = (await decodeSnapshot(file)) as DeviceState;
    const restored = deserializeOverlay(state, () => base);
    expectSameBytes(restored.toImage(), top.toImage());
    expect(restored.id).toBe(top.id);
    expect(restored.depth).toBe(2);
    expect((restored.parent as DiskOverlay).id).toBe(bottom.id);
    expect(restored.isFrozen).toBe(false);
    expect(restored.overlaidSectors).toBe(3);

    // loadState replaces the chain of an existing overlay object in place.
    const other = createOverlay(base);
    other.write(7, 1, sectorOf(0xee), 0);
    other.loadState(state);
    expectSameBytes(other.toImage(), top.toImage());

    // One layer at a time, for stores that keep layers apart.
    const layer = deserializeLayer(serializeLayer(bottom), base);
    expectSameBytes(deserializeLayer(serializeLayer(top), layer).toImage(), top.toImage());
  });

  test('a saved disk over another base, or a malformed one, is refused and changes nothing', () => {
    const { base } = patternedBase();
    const disk = createOverlay(base);
    disk.write(1, 1, sectorOf(0x77), 0);
    const state = serializeOverlay(disk);
    const stranger = createOverlay(createBaseImage(new Uint8Array(SECTORS * SECTOR_SIZE), 'stranger'));
    stranger.write(2, 1, sectorOf(0x11), 0);
    expect(() => stranger.loadState(state)).toThrow(/base image test-base/);
    expect(firstBytes(stranger, 2, 1)).toEqual([0x11]);
    expect(() => deserializeOverlay({ ...state, version: 2 }, () => base)).toThrow(/version 2/);
    expect(() => deserializeOverlay({ ...state, format: 'x' }, () => base)).toThrow(/not a visor86 disk/);
    const layers = state.layers as DeviceState[];
    const badData = { ...layers[0], data: new Uint8Array(3) };
    expect(() => deserializeOverlay({ ...state, layers: [badData] }, () => base)).toThrow(/'data'/);
    const pastEnd = { ...layers[0], sectors: new Uint32Array([SECTORS]) };
    expect(() => deserializeOverlay({ ...state, layers: [pastEnd] }, () => base)).toThrow(/past the end/);
    const liveParent = { ...layers[0], frozen: false };
    expect(() => deserializeOverlay({ ...state, layers: [liveParent, layers[0]] }, () => base)).toThrow(
      /not frozen/,
    );
  });

  test('a chain of 100 snapshots: every one reads as it was taken, revert to any, collapse the chain', () => {
    const { base } = patternedBase();
    const live = createOverlay(base);
    const layers: DiskOverlay[] = [];
    for (let i = 0; i < 100; i++) {
      live.write(i % SECTORS, 1, sectorOf(100 + i), 0); // snapshot i changed sector i
      live.write(0, 1, sectorOf(i), 0); // and every snapshot rewrites sector 0
      layers.push(live.takeSnapshot());
    }
    expect(live.depth).toBe(101);
    expect(firstBytes(layers[42], 0, 3)).toEqual([42, 101, 102]);
    expect(firstBytes(layers[42], 43, 1)).toEqual([43]); // snapshot 43's change is not in 42
    live.revertTo(layers[50]);
    expect(firstBytes(live, 0, 1)).toEqual([50]);
    expect(firstBytes(live, 50, 2)).toEqual([150, 51]);
    // Deleting snapshots 1-98: each child absorbs its parent; what every remaining layer reads stays.
    const top = layers[99];
    const image = top.toImage();
    while (top.depth > 1) top.absorbParent();
    expectSameBytes(top.toImage(), image);
    expect(top.parent).toBe(base);
    expect(top.overlaidSectors).toBe(100);
  });

  test('imageId names an image by its SHA-256; base images must be whole sectors', async () => {
    expect(await imageId(new Uint8Array(0))).toBe(
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(() => createBaseImage(new Uint8Array(100))).toThrow(/512-byte sectors/);
    expect(() => new DiskOverlay(createOverlay(patternedBase().base))).toThrow(/frozen/);
  });
});
