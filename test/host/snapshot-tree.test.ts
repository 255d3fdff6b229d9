import { describe, expect, it } from 'vitest';
import { SnapshotTree, checkSnapshotText } from '../../src/host/snapshot-tree.ts';
import {
  diffLayers,
  emptyLayer,
  flattenLayers,
  layerFromState,
  layerSectors,
  layerToState,
  layersEqual,
  overlayLayers,
  type DiskLayer,
} from '../../src/host/disk-layer.ts';

/** A sector filled with one byte value. */
const sector = (value: number) => new Uint8Array(512).fill(value);

function write(disk: DiskLayer, drive: string, at: number, value: number): void {
  let sectors = disk.get(drive);
  if (!sectors) disk.set(drive, (sectors = new Map()));
  sectors.set(at, sector(value));
}

function clone(disk: DiskLayer): DiskLayer {
  return overlayLayers(emptyLayer(), disk);
}

const valueAt = (disk: DiskLayer, drive: string, at: number) => disk.get(drive)?.get(at)?.[0];

/** Deterministic pseudo-random numbers (a 32-bit LCG), so a failure can be replayed. */
function random(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.floor((state / 2 ** 32) * n);
  };
}

const take = (tree: SnapshotTree, name: string, live: DiskLayer, now: number, running = true) =>
  tree.take({
    name,
    powerState: running ? 'running' : 'off',
    machineBytes: running ? 1000 : 0,
    liveDisk: live,
    now,
  });

describe('disk layers', () => {
  it('overlay, diff and flatten', () => {
    const a = emptyLayer();
    write(a, 'hd0', 1, 1);
    write(a, 'hd0', 2, 2);
    const b = emptyLayer();
    write(b, 'hd0', 2, 20);
    write(b, 'fd0', 7, 7);
    const ab = overlayLayers(a, b);
    expect(valueAt(ab, 'hd0', 1)).toBe(1);
    expect(valueAt(ab, 'hd0', 2)).toBe(20);
    expect(valueAt(ab, 'fd0', 7)).toBe(7);
    expect(valueAt(a, 'hd0', 2)).toBe(2); // inputs untouched
    const live = clone(ab);
    write(live, 'hd0', 3, 3);
    write(live, 'hd0', 1, 1); // rewritten with the same bytes: not a change
    const d = diffLayers(live, ab);
    expect(layerSectors(d)).toBe(1);
    expect(valueAt(d, 'hd0', 3)).toBe(3);
    expect(layersEqual(flattenLayers([a, b, d]), live)).toBe(true);
  });

  it('survives the container state form and refuses malformed ones', () => {
    const a = emptyLayer();
    write(a, 'hd1', 2048, 9);
    write(a, 'hd1', 5, 5);
    write(a, 'fd0', 0, 1);
    expect(layersEqual(layerFromState(layerToState(a)), a)).toBe(true);
    expect(() => layerFromState({ format: 'x' })).toThrow('not a disk layer');
    expect(() => layerFromState({ format: 'visor86-sector-layer', version: 9, drives: {} })).toThrow(
      'disk layer version 9 is not supported',
    );
    expect(() =>
      layerFromState({
        format: 'visor86-sector-layer',
        version: 1,
        drives: { hd0: { sectors: new Uint32Array([1, 2]), data: new Uint8Array(512) } },
      }),
    ).toThrow('disk layer drive hd0 has 512 bytes for 2 sectors');
    expect(() =>
      layerFromState({
        format: 'visor86-sector-layer',
        version: 1,
        drives: { zz9: { sectors: new Uint32Array(0), data: new Uint8Array(0) } },
      }),
    ).toThrow('unknown drive "zz9"');
  });
});

describe('SnapshotTree', () => {
  it('takes snapshots as children of "you are here" and stores only what changed', () => {
    const tree = new SnapshotTree();
    const live = emptyLayer();
    write(live, 'hd0', 0, 1);
    const s1 = take(tree, 'installed', live, 1);
    expect(tree.current).toBe(s1.id);
    expect(s1.parent).toBeNull();
    write(live, 'hd0', 1, 2);
    const s2 = take(tree, 'configured', live, 2);
    expect(s2.parent).toBe(s1.id);
    expect([...s2.layer.get('hd0')!.keys()]).toEqual([1]);
    expect(tree.path(s2.id).map((n) => n.name)).toEqual(['installed', 'configured']);
    expect(tree.depth(s2.id)).toBe(2);
  });

  it('reverts to a snapshot and branches from it', () => {
    const tree = new SnapshotTree();
    let live = emptyLayer();
    write(live, 'hd0', 0, 1);
    const s1 = take(tree, 'one', live, 1);
    write(live, 'hd0', 0, 2);
    const s2 = take(tree, 'two', live, 2);
    const back = tree.revert(s1.id);
    expect(tree.current).toBe(s1.id);
    expect(valueAt(back.disk, 'hd0', 0)).toBe(1);
    live = clone(back.disk);
    write(live, 'hd0', 5, 5);
    const s3 = take(tree, 'branch', live, 3);
    expect(s3.parent).toBe(s1.id);
    expect(tree.children(s1.id).map((n) => n.id)).toEqual([s2.id, s3.id]);
    expect(valueAt(tree.diskAt(s2.id), 'hd0', 0)).toBe(2);
    expect(valueAt(tree.diskAt(s3.id), 'hd0', 0)).toBe(1);
  });

  it('deletes a snapshot: children move up and keep the blocks they depended on', () => {
    const tree = new SnapshotTree();
    const live = emptyLayer();
    write(live, 'hd0', 0, 1);
    const s1 = take(tree, 'base', live, 1);
    write(live, 'hd0', 1, 2); // only in s2's layer
    write(live, 'hd0', 2, 2);
    const s2 = take(tree, 'middle', live, 2);
    write(live, 'hd0', 2, 3); // s3 overrides sector 2
    const s3 = take(tree, 'top', live, 3);
    const before = tree.diskAt(s3.id);
    const result = tree.delete(s2.id);
    expect(result.removed.id).toBe(s2.id);
    expect(result.changed.map((n) => n.id)).toEqual([s3.id]);
    expect(tree.get(s3.id)!.parent).toBe(s1.id);
    expect(valueAt(tree.get(s3.id)!.layer, 'hd0', 1)).toBe(2);
    expect(valueAt(tree.get(s3.id)!.layer, 'hd0', 2)).toBe(3);
    expect(layersEqual(tree.diskAt(s3.id), before)).toBe(true);
    // Deleting "you are here" moves the marker to the parent.
    tree.delete(s3.id);
    expect(tree.current).toBe(s1.id);
    tree.delete(s1.id);
    expect(tree.current).toBeNull();
    expect(tree.size).toBe(0);
  });

  it('deletes a snapshot with several children, each keeping its disk', () => {
    const tree = new SnapshotTree();
    let live = emptyLayer();
    write(live, 'hd0', 9, 9);
    const root = take(tree, 'root', live, 1);
    const kids = [];
    for (let i = 0; i < 3; i++) {
      live = clone(tree.revert(root.id).disk);
      write(live, 'hd0', i, 10 + i);
      kids.push(take(tree, `kid ${i}`, live, 2 + i));
    }
    const disks = kids.map((k) => tree.diskAt(k.id));
    tree.delete(root.id);
    kids.forEach((k, i) => {
      expect(tree.get(k.id)!.parent).toBeNull();
      expect(layersEqual(tree.diskAt(k.id), disks[i])).toBe(true);
    });
    expect(tree.children(null).length).toBe(3);
  });

  it('checks names, descriptions and the machine state a snapshot needs', () => {
    expect(() => checkSnapshotText('   ')).toThrow('the snapshot needs a name');
    expect(() => checkSnapshotText('x'.repeat(81))).toThrow('at most 80 characters (this one has 81)');
    expect(checkSnapshotText('  a  ', ' b ')).toEqual({ name: 'a', description: 'b' });
    const tree = new SnapshotTree();
    expect(() =>
      tree.take({ name: 'x', powerState: 'running', machineBytes: 0, liveDisk: emptyLayer(), now: 1 }),
    ).toThrow('a running snapshot needs the machine state');
    expect(() => tree.revert('s99')).toThrow('no snapshot with id s99');
    expect(tree.size).toBe(0);
  });

  it('round-trips through JSON and refuses inconsistent trees', () => {
    const tree = new SnapshotTree();
    const live = emptyLayer();
    write(live, 'hd0', 3, 3);
    const a = take(tree, 'a', live, 1);
    const b = take(tree, 'b', live, 2, false);
    tree.edit(b.id, 'b2', 'described');
    const layers = new Map(tree.list().map((n) => [n.id, n.layer]));
    const json = JSON.parse(JSON.stringify(tree.toJSON()));
    const back = SnapshotTree.fromJSON(json, layers);
    expect(back.toJSON()).toEqual(tree.toJSON());
    expect(valueAt(back.diskAt(b.id), 'hd0', 3)).toBe(3);
    expect(back.get(b.id)!.description).toBe('described');
    // A new snapshot after the round trip gets a fresh id.
    expect(take(back, 'c', live, 3).id).not.toMatch(new RegExp(`^(${a.id}|${b.id})$`));
    expect(() => SnapshotTree.fromJSON({ ...json, version: 2 })).toThrow('snapshot tree version 2');
    expect(() => SnapshotTree.fromJSON({ ...json, current: 's77' })).toThrow('missing snapshot s77');
    const orphan = { ...json, nodes: [{ ...json.nodes[1], parent: 'nope' }] };
    expect(() => SnapshotTree.fromJSON({ ...orphan, current: null })).toThrow('missing parent nope');
    const cycle = {
      ...json,
      current: null,
      nodes: [
        { ...json.nodes[0], parent: json.nodes[1].id },
        { ...json.nodes[1], parent: json.nodes[0].id },
      ],
    };
    expect(() => SnapshotTree.fromJSON(cycle)).toThrow('cycle');
  });

  it('keeps every invariant over a tree of 100 snapshots with branches, reverts and deletes', () => {
    const rand = random(86);
    const tree = new SnapshotTree();
    /** The disk each snapshot saw when it was taken: what reverting to it must give back. */
    const expected = new Map<string, DiskLayer>();
    let live = emptyLayer();
    let taken = 0;
    let deleted = 0;
    let reverts = 0;
    let now = 1_000;
    const drives = ['hd0', 'hd1', 'fd0'];

    const checkAll = () => {
      tree.check();
      expect(tree.size).toBe(taken - deleted);
      for (const node of tree.list()) {
        expect(layersEqual(tree.diskAt(node.id), expected.get(node.id)!)).toBe(true);
        if (node.parent) expect(tree.get(node.parent)!.createdAt).toBeLessThanOrEqual(node.createdAt);
      }
      if (tree.current !== null) expect(tree.get(tree.current)).toBeDefined();
      // The live disk descends from "you are here": it holds every sector that snapshot's disk holds.
      const here = tree.diskAt(tree.current);
      for (const [drive, sectors] of here)
        for (const s of sectors.keys()) expect(live.get(drive)?.has(s)).toBe(true);
    };

    while (taken < 120) {
      for (let i = rand(6); i > 0; i--) write(live, drives[rand(3)], rand(64), 1 + rand(250));
      const op = rand(10);
      if (op < 6 || tree.size === 0) {
        const node = take(tree, `snapshot ${taken + 1}`, live, now++, rand(4) !== 0);
        expected.set(node.id, clone(live));
        taken++;
      } else if (op < 9) {
        const nodes = tree.list();
        const target = nodes[rand(nodes.length)];
        live = clone(tree.revert(target.id).disk);
        expect(layersEqual(live, expected.get(target.id)!)).toBe(true);
        expect(tree.current).toBe(target.id);
        reverts++;
      } else if (deleted < 20) {
        const nodes = tree.list();
        const target = nodes[rand(nodes.length)];
        const parent = target.parent;
        const wasHere = tree.current === target.id;
        const kids = tree.children(target.id).map((n) => n.id);
        tree.delete(target.id);
        expected.delete(target.id);
        deleted++;
        for (const kid of kids) expect(tree.get(kid)!.parent).toBe(parent);
        if (wasHere) expect(tree.current).toBe(parent);
      }
      checkAll();
    }
    // Delete until exactly 100 remain, then check the shape: branches, depth, and the JSON round trip.
    while (tree.size > 100) {
      const nodes = tree.list();
      tree.delete(nodes[rand(nodes.length)].id);
      deleted++;
      checkAll();
    }
    expect(tree.size).toBe(100);
    expect(reverts).toBeGreaterThan(10);
    const branching = tree.list().filter((n) => tree.children(n.id).length >= 2).length;
    expect(branching).toBeGreaterThan(3);
    expect(Math.max(...tree.list().map((n) => tree.depth(n.id)))).toBeGreaterThan(5);
    const layers = new Map(tree.list().map((n) => [n.id, layerFromState(layerToState(n.layer))]));
    const back = SnapshotTree.fromJSON(JSON.parse(JSON.stringify(tree.toJSON())), layers);
    for (const node of back.list())
      expect(layersEqual(back.diskAt(node.id), expected.get(node.id)!)).toBe(true);
    expect(back.current).toBe(tree.current);
  });
});
