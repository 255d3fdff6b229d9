/**
 * Linked clones in the page's VM library (vm-store.ts over the in-memory storage fake, in-process
 * workers): a new VM on a snapshot's disk that reads the source's stored layers instead of copying them;
 * its writes stay its own; the source snapshot cannot be deleted under it; a deleted source VM is kept for
 * it; everything survives a reload; its export is a self-contained file.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Hypervisor, type VmRecord } from '../../src/host/hypervisor.ts';
import { MemoryStorage } from '../../src/host/storage.ts';
import { VmStore } from '../../src/host/vm-store.ts';
import type { VmDisks } from '../../src/host/boot.ts';
import { layerFromState, layerSectors, overlayLayers, type DiskLayer } from '../../src/host/disk-layer.ts';
import { SnapshotTree } from '../../src/host/snapshot-tree.ts';
import { decodeSnapshot } from '../../src/machine/snapshot-file.ts';
import { InProcessWorker, standInConfig, waitFor } from './helpers.ts';

const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

/** A page load: a hypervisor with in-process workers and a store on `storage`. */
function load(storage: MemoryStorage) {
  const hv = new Hypervisor(() => new InProcessWorker(), { watchdog: false });
  const store = new VmStore(hv, storage);
  const serial = new Map<string, string>();
  hv.subscribe((e) => {
    if (e.type === 'serial')
      serial.set(e.vm.id, (serial.get(e.vm.id) ?? '') + Buffer.from(e.bytes).toString('latin1'));
  });
  cleanup.push(() => hv.dispose());
  const disk = (vm: VmRecord) => {
    const internal = (hv as unknown as { vms: Map<string, { worker: InProcessWorker }> }).vms.get(vm.id)!;
    return (internal.worker.runner as unknown as { disks: VmDisks }).disks.hard[0]!;
  };
  return {
    hv,
    store,
    out: (id: string) => serial.get(id) ?? '',
    /** The first byte of a sector of the VM's first hard disk. */
    sector: (vm: VmRecord, n: number) => disk(vm).data[n * 512],
    write: (vm: VmRecord, n: number, value: number) =>
      disk(vm).write(n, 1, new Uint8Array(512).fill(value), 0),
    /** Fills `count` sectors from `first` with random bytes (which do not compress). */
    scribble: (vm: VmRecord, first: number, count: number) =>
      disk(vm).write(first, count, randomBytes(count * 512), 0),
  };
}
type Page = ReturnType<typeof load>;

async function runningMonitor(page: Page, name: string): Promise<VmRecord> {
  const vm = await page.hv.createVm(standInConfig('monitor', { name, diskMiB: 1 }), 'stand-in monitor');
  page.hv.action(vm.id, 'power-on');
  await waitFor(() => page.out(vm.id).includes('> '), 'the prompt');
  return vm;
}

async function powerOff(page: Page, vm: VmRecord): Promise<void> {
  page.hv.action(vm.id, 'power-off');
  await waitFor(() => vm.state === 'off', `${vm.name} off`);
  await page.store.idle();
}

/** Reverts a VM to its "you are here" snapshot and waits for it to run. */
async function resume(page: Page, vm: VmRecord): Promise<void> {
  await page.store.revert(vm.id, page.store.tree(vm.id).current!);
  await waitFor(() => vm.state === 'running', `${vm.name} running`);
}

const stored = (storage: MemoryStorage) => [...storage.records.values()].reduce((n, v) => n + v.length, 0);
const keysOf = (storage: MemoryStorage, prefix: string) =>
  [...storage.records.keys()].filter((k) => k.startsWith(prefix)).sort();

/** A source VM with 160 random sectors (80 KiB that do not compress) and a running snapshot of them. */
async function sourceWithSnapshot(page: Page, name = 'source') {
  const vm = await runningMonitor(page, name);
  page.scribble(vm, 100, 160);
  page.write(vm, 3, 0x33);
  const snap = await page.store.takeSnapshot(vm.id, 'golden', 'the disk the clones share');
  return { vm, snap };
}

describe('linked clones', () => {
  it('share the source snapshot’s stored blocks instead of copying them', async () => {
    const storage = new MemoryStorage();
    const page = load(storage);
    const { vm, snap } = await sourceWithSnapshot(page);
    await page.store.idle();
    const layerKey = `vm/${vm.id}/snap/${snap.id}/disk`;
    const layerSize = storage.records.get(layerKey)!.length;
    expect(layerSize).toBeGreaterThan(160 * 512);
    const machineSize = storage.records.get(`vm/${vm.id}/snap/${snap.id}/machine`)!.length;

    const before = stored(storage);
    const clone = await page.store.linkedClone(vm.id, snap.id);
    await page.store.idle();
    expect(clone.name).toBe('source-golden-linked');
    const grown = stored(storage) - before;
    // Its definition, the copied machine state and empty layers: nothing of the 80 KiB disk.
    expect(grown).toBeLessThan(machineSize + 8192);
    expect(keysOf(storage, 'media/')).toHaveLength(1);
    for (const k of keysOf(storage, `vm/${clone.id}/`)) {
      if (!k.endsWith('/machine')) expect(storage.records.get(k)!.length, k).toBeLessThan(4096);
    }

    // Its one snapshot is the source's, "you are here"; the store names its base.
    const tree = page.store.tree(clone.id);
    expect(tree.list().map((n) => [n.name, n.description, n.powerState])).toEqual([
      ['golden', 'the disk the clones share', 'running'],
    ]);
    expect(tree.current).toBe(tree.list()[0].id);
    expect(page.store.linkedInfo(clone.id)).toEqual({
      vm: vm.id,
      snapshot: snap.id,
      vmName: 'source',
      snapshotName: 'golden',
      sourceDeleted: false,
    });
    expect(page.store.linkedInfo(vm.id)).toBeNull();
    expect(page.store.clonesOf(vm.id, snap.id)).toEqual([clone.name]);

    // Storage use: the shared layer is the source's; the clone shows it as shared, not in its total.
    const usage = page.store.usage(clone.id);
    expect(usage.shared).toBe(layerSize);
    expect(usage.total).toBe(usage.definition + usage.disks + usage.snapshots);
    expect(usage.total).toBeLessThan(grown + storage.records.get(keysOf(storage, 'media/')[0])!.length + 1);
    expect(page.store.usage(vm.id).snapshots).toBeGreaterThanOrEqual(layerSize);
    expect(page.store.totalUsage()).toBe(stored(storage));

    // The clone deleted, the snapshot is the source's alone again and can go.
    page.hv.deleteVm(clone.id);
    await page.store.idle();
    expect(keysOf(storage, `vm/${clone.id}/`)).toEqual([]);
    expect(page.store.clonesOf(vm.id)).toEqual([]);
    await page.store.deleteSnapshot(vm.id, snap.id);
    expect(storage.records.has(layerKey)).toBe(false);
  });

  it('keeps the clone’s writes and the source’s apart', async () => {
    const storage = new MemoryStorage();
    const page = load(storage);
    const { vm, snap } = await sourceWithSnapshot(page);
    const shared = page.sector(vm, 120);
    const clone = await page.store.linkedClone(vm.id, snap.id);
    await resume(page, clone);
    expect(page.sector(clone, 3)).toBe(0x33);
    expect(page.sector(clone, 120)).toBe(shared);

    page.write(clone, 3, 0x44);
    page.write(clone, 7, 0x77);
    expect(page.sector(vm, 3)).toBe(0x33);
    expect(page.sector(vm, 7)).toBe(0);
    page.write(vm, 3, 0x55);
    expect(page.sector(clone, 3)).toBe(0x44);

    // A snapshot in the clone holds only what the clone changed since its base.
    const mine = await page.store.takeSnapshot(clone.id, 'mine');
    expect([...mine.layer.get('hd0')!.keys()].sort((a, b) => a - b)).toEqual([3, 7]);
    page.write(clone, 3, 0x33); // back to the base's contents
    page.write(clone, 8, 0x88);
    const later = await page.store.takeSnapshot(clone.id, 'later');
    expect(later.layer.get('hd0')?.get(3)?.[0]).toBe(0x33);
    await page.store.revert(clone.id, mine.id);
    await waitFor(() => clone.state === 'running', 'the clone back at "mine"');
    expect([page.sector(clone, 3), page.sector(clone, 7), page.sector(clone, 8)]).toEqual([0x44, 0x77, 0]);
    await page.store.revert(clone.id, later.id);
    await waitFor(() => clone.state === 'running', 'the clone at "later"');
    expect([page.sector(clone, 3), page.sector(clone, 8), page.sector(clone, 120)]).toEqual([
      0x33,
      0x88,
      shared,
    ]);

    // The clone's stored disks are its own sectors only, not the 160 it reads through.
    await powerOff(page, clone);
    const own = layerFromState(await decodeSnapshot(storage.records.get(`vm/${clone.id}/disk`)!));
    expect(layerSectors(own)).toBeLessThanOrEqual(3);
    // And the source's snapshot is as it was.
    await page.store.revert(vm.id, snap.id);
    await waitFor(() => vm.state === 'running', 'the source back at its snapshot');
    expect([page.sector(vm, 3), page.sector(vm, 7), page.sector(vm, 120)]).toEqual([0x33, 0, shared]);
  });

  it('refuses to delete the source snapshot while a clone uses it, until the clone is independent', async () => {
    const storage = new MemoryStorage();
    const page = load(storage);
    const vm = await runningMonitor(page, 'source');
    page.write(vm, 1, 0x11);
    const parent = await page.store.takeSnapshot(vm.id, 'parent');
    page.scribble(vm, 100, 160);
    page.write(vm, 3, 0x33);
    const snap = await page.store.takeSnapshot(vm.id, 'golden');
    const shared = page.sector(vm, 150);
    const clone = await page.store.linkedClone(vm.id, snap.id);
    page.write(vm, 9, 0x99);
    const child = await page.store.takeSnapshot(vm.id, 'child');
    await expect(page.store.deleteSnapshot(vm.id, snap.id)).rejects.toThrow(
      `snapshot "golden" is the shared disk of the linked clone ${clone.name}: delete it or make it independent first`,
    );
    expect(page.store.tree(vm.id).get(snap.id)).toBeDefined();
    // Its child and parent can go: the parent's sectors move into the shared snapshot, whose disk stays.
    await page.store.deleteSnapshot(vm.id, child.id);
    await page.store.deleteSnapshot(vm.id, parent.id);
    expect(page.store.tree(vm.id).get(snap.id)!.layer.get('hd0')!.get(1)![0]).toBe(0x11);
    await powerOff(page, vm);
    page.hv.dispose();

    const second = load(storage);
    expect((await second.store.restore()).problems).toEqual([]);
    const back = second.hv.get(clone.id)!;
    await resume(second, back);
    const sectors = () => [1, 3, 150].map((n) => second.sector(back, n));
    expect(sectors()).toEqual([0x11, 0x33, shared]);
    await expect(second.store.deleteSnapshot(vm.id, snap.id)).rejects.toThrow('linked clone');

    const before = stored(storage);
    await second.store.makeIndependent(back.id);
    expect(second.store.linkedInfo(back.id)).toBeNull();
    expect(stored(storage) - before).toBeGreaterThan(160 * 512); // the base is its own now
    expect(second.store.usage(back.id).shared).toBe(0);
    await second.store.deleteSnapshot(vm.id, snap.id);
    await second.store.idle();
    expect(keysOf(storage, `vm/${vm.id}/snap/`)).toEqual([]);
    expect(sectors()).toEqual([0x11, 0x33, shared]); // the running clone never noticed
    await powerOff(second, back);
    second.hv.dispose();

    const third = load(storage);
    const { restored, problems } = await third.store.restore();
    expect(problems).toEqual([]);
    const last = restored.find((v) => v.id === clone.id)!;
    await resume(third, last);
    expect([1, 3, 150].map((n) => third.sector(last, n))).toEqual([0x11, 0x33, shared]);
  });

  it('keeps what a clone reads when the source VM is deleted, and drops it with the last clone', async () => {
    const storage = new MemoryStorage();
    const page = load(storage);
    const { vm, snap } = await sourceWithSnapshot(page);
    const shared = page.sector(vm, 130);
    page.write(vm, 4, 0x40);
    await page.store.takeSnapshot(vm.id, 'unshared'); // not on the clone's path: it goes
    const clone = await page.store.linkedClone(vm.id, snap.id);
    const layer = storage.records.get(`vm/${vm.id}/snap/${snap.id}/disk`)!;
    await powerOff(page, vm);
    page.hv.deleteVm(vm.id);
    await page.store.idle();

    expect(keysOf(storage, `vm/${vm.id}/`)).toEqual([]);
    const kept = [...new Set(keysOf(storage, 'vm/').map((k) => k.split('/')[1]))].filter(
      (id) => id !== clone.id,
    );
    expect(kept).toEqual([expect.stringMatching(new RegExp(`^${vm.id}\\.kept\\d+$`))]);
    expect(keysOf(storage, `vm/${kept[0]}/`)).toEqual([
      `vm/${kept[0]}/meta`,
      `vm/${kept[0]}/snap/${snap.id}/disk`,
    ]);
    expect(storage.records.get(`vm/${kept[0]}/snap/${snap.id}/disk`)).toEqual(layer);
    expect(page.store.linkedInfo(clone.id)).toMatchObject({
      vmName: 'source',
      snapshotName: 'golden',
      sourceDeleted: true,
    });
    expect(page.store.usage(clone.id).shared).toBe(layer.length);
    expect(page.store.totalUsage()).toBe(stored(storage));

    await resume(page, clone);
    expect([page.sector(clone, 3), page.sector(clone, 130), page.sector(clone, 4)]).toEqual([
      0x33,
      shared,
      0,
    ]);
    page.write(clone, 5, 0x50);
    await powerOff(page, clone);

    // A reload: the kept records are no VM, the clone comes back on its base.
    page.hv.dispose();
    const again = load(storage);
    const { restored, problems } = await again.store.restore();
    expect(problems).toEqual([]);
    expect(restored.map((v) => v.name)).toEqual([clone.name]);
    const back = restored[0];
    expect([again.sector(back, 5), again.sector(back, 130)]).toEqual([0x50, shared]);
    expect(again.store.linkedInfo(back.id)?.sourceDeleted).toBe(true);
    // A new VM after the reload never lands on the kept records.
    const fresh = await again.hv.createVm(standInConfig('spin', { name: 'fresh' }), 'spin');
    expect(fresh.id).not.toContain('.');
    again.hv.deleteVm(fresh.id);

    again.hv.deleteVm(back.id);
    await again.store.idle();
    expect(storage.records.size).toBe(0);
    expect(again.store.totalUsage()).toBe(0);
  });

  it('comes back after a reload, own writes over the shared base', async () => {
    const storage = new MemoryStorage();
    const first = load(storage);
    const { vm, snap } = await sourceWithSnapshot(first);
    const shared = first.sector(vm, 101);
    const clone = await first.store.linkedClone(vm.id, snap.id);
    await resume(first, clone);
    first.write(clone, 3, 0x3c);
    const own = await first.store.takeSnapshot(clone.id, 'own');
    first.write(clone, 6, 0x6c);
    await powerOff(first, clone);
    await powerOff(first, vm);
    first.hv.dispose();

    const second = load(storage);
    const { restored, problems } = await second.store.restore();
    expect(problems).toEqual([]);
    const back = restored.find((v) => v.id === clone.id)!;
    expect(back.name).toBe(clone.name);
    expect([second.sector(back, 3), second.sector(back, 6), second.sector(back, 101)]).toEqual([
      0x3c,
      0x6c,
      shared,
    ]);
    expect(second.store.linkedInfo(back.id)).toMatchObject({ vm: vm.id, snapshot: snap.id });
    expect(second.store.clonesOf(vm.id)).toEqual([clone.name]);
    expect(second.store.usage(back.id).shared).toBe(
      storage.records.get(`vm/${vm.id}/snap/${snap.id}/disk`)!.length,
    );
    await second.store.revert(back.id, own.id);
    await waitFor(() => back.state === 'running', 'the restored clone at "own"');
    expect([second.sector(back, 3), second.sector(back, 6), second.sector(back, 101)]).toEqual([
      0x3c,
      0,
      shared,
    ]);
    await expect(second.store.deleteSnapshot(vm.id, snap.id)).rejects.toThrow('linked clone');
  });

  it('exports a clone as a self-contained file that imports as an independent VM', async () => {
    const page = load(new MemoryStorage());
    const { vm, snap } = await sourceWithSnapshot(page);
    const shared = page.sector(vm, 140);
    const clone = await page.store.linkedClone(vm.id, snap.id);
    await resume(page, clone);
    page.write(clone, 2, 0x22);
    const mine = await page.store.takeSnapshot(clone.id, 'mine');
    page.write(clone, 2, 0x23);
    const vmFile = await page.store.exportVm(clone.id);
    const snapFile = await page.store.exportSnapshot(clone.id, mine.id);
    const fullClone = await page.store.cloneSnapshot(clone.id, mine.id);
    expect(page.store.linkedInfo(fullClone.id)).toBeNull();
    expect(fullClone.name).toBe(`${clone.name}-mine`);

    const storage = new MemoryStorage();
    const elsewhere = load(storage);
    const imported = await elsewhere.store.importFile(vmFile, 'clone.visor86');
    expect(elsewhere.store.linkedInfo(imported.id)).toBeNull();
    expect([
      elsewhere.sector(imported, 2),
      elsewhere.sector(imported, 140),
      elsewhere.sector(imported, 3),
    ]).toEqual([0x23, shared, 0x33]);
    const tree = elsewhere.store.tree(imported.id);
    expect(tree.list().map((n) => n.name)).toEqual(['golden', 'mine']);
    await elsewhere.store.revert(imported.id, tree.list()[0].id);
    await waitFor(() => imported.state === 'running', 'the import at "golden"');
    expect([elsewhere.sector(imported, 2), elsewhere.sector(imported, 140)]).toEqual([0, shared]);
    await elsewhere.store.revert(imported.id, mine.id);
    await waitFor(() => imported.state === 'running', 'the import at "mine"');
    expect([elsewhere.sector(imported, 2), elsewhere.sector(imported, 140)]).toEqual([0x22, shared]);

    const single = await elsewhere.store.importFile(snapFile, 'mine.visor86');
    expect([elsewhere.sector(single, 2), elsewhere.sector(single, 140)]).toEqual([0x22, shared]);
    await elsewhere.store.idle();
    expect(keysOf(storage, 'vm/').every((k) => !k.includes('.kept'))).toBe(true);
  });

  it('chains: a clone of a clone survives both sources being deleted; a base clone shares the base', async () => {
    const storage = new MemoryStorage();
    const page = load(storage);
    const { vm, snap } = await sourceWithSnapshot(page, 'a');
    const shared = page.sector(vm, 110);
    const b = await page.store.linkedClone(vm.id, snap.id);
    await resume(page, b);
    page.write(b, 20, 0x20);
    const bSnap = await page.store.takeSnapshot(b.id, 'b-snap');
    const c = await page.store.linkedClone(b.id, bSnap.id);
    expect(page.store.clonesOf(vm.id)).toEqual([b.name]);
    const d = await page.store.linkedClone(b.id, null); // b's base disks: a's snapshot, like b
    expect(page.store.linkedInfo(d.id)).toMatchObject({ vm: vm.id, snapshot: snap.id });
    expect(page.store.tree(d.id).size).toBe(0);
    page.hv.action(d.id, 'power-on');
    await waitFor(() => page.out(d.id).includes('> '), 'd booted on the shared base');
    expect([page.sector(d, 110), page.sector(d, 20)]).toEqual([shared, 0]);
    await powerOff(page, d);
    page.hv.deleteVm(d.id);

    await powerOff(page, vm);
    await powerOff(page, b);
    page.hv.deleteVm(b.id);
    page.hv.deleteVm(vm.id);
    await page.store.idle();
    expect(page.hv.list().map((v) => v.name)).toEqual([c.name]);
    expect(page.store.linkedInfo(c.id)).toMatchObject({ vmName: b.name, sourceDeleted: true });
    await resume(page, c);
    expect([page.sector(c, 20), page.sector(c, 110), page.sector(c, 3)]).toEqual([0x20, shared, 0x33]);
    await powerOff(page, c);

    page.hv.dispose();
    const again = load(storage);
    const { restored, problems } = await again.store.restore();
    expect(problems).toEqual([]);
    const back = restored[0];
    await resume(again, back);
    expect([again.sector(back, 20), again.sector(back, 110)]).toEqual([0x20, shared]);
    await powerOff(again, back);
    // Independent: the kept records of both deleted VMs go.
    await again.store.makeIndependent(back.id);
    await again.store.idle();
    expect(keysOf(storage, 'vm/').filter((k) => k.includes('.kept'))).toEqual([]);
    await resume(again, back);
    expect([again.sector(back, 20), again.sector(back, 110)]).toEqual([0x20, shared]);
  });
});

describe('SnapshotTree for linked clones', () => {
  const sector = (value: number) => new Uint8Array(512).fill(value);
  const layer = (sectors: Record<number, number>): DiskLayer =>
    new Map([['hd0', new Map(Object.entries(sectors).map(([n, v]) => [Number(n), sector(v)]))]]);
  const firstBytes = (l: DiskLayer) =>
    Object.fromEntries([...(l.get('hd0') ?? new Map<number, Uint8Array>())].map(([n, b]) => [n, b[0]]));
  const take = (tree: SnapshotTree, name: string, liveDisk: DiskLayer, base?: DiskLayer) =>
    tree.take({ name, powerState: 'off', machineBytes: 0, liveDisk, base, now: 0 });

  it('takes snapshots relative to a base, even of a sector written back to the base’s contents', () => {
    const base = layer({ 1: 0x10, 2: 0x20 });
    const tree = new SnapshotTree();
    const a = take(tree, 'a', layer({ 1: 0x10, 2: 0x21 }), base);
    expect(firstBytes(a.layer)).toEqual({ 2: 0x21 });
    const b = take(tree, 'b', layer({ 1: 0x10, 2: 0x20, 3: 0x30 }), base);
    expect(firstBytes(b.layer)).toEqual({ 2: 0x20, 3: 0x30 });
    expect(firstBytes(overlayLayers(base, tree.diskAt(b.id)))).toEqual({ 1: 0x10, 2: 0x20, 3: 0x30 });
    // Without the base, the base's sectors would count as the snapshot's own.
    expect(firstBytes(take(new SnapshotTree(), 'c', layer({ 1: 0x10 })).layer)).toEqual({ 1: 0x10 });
  });

  it('prunes to the snapshots clones read and their ancestors, keeping their disks', () => {
    const tree = new SnapshotTree();
    const root = take(tree, 'root', layer({ 1: 1 }));
    const kept = take(tree, 'kept', layer({ 1: 1, 2: 2 }));
    take(tree, 'below', layer({ 1: 1, 2: 2, 3: 3 }));
    tree.revert(root.id);
    const side = take(tree, 'side', layer({ 1: 1, 4: 4 }));
    const before = firstBytes(tree.diskAt(kept.id));
    const removed = tree.prune([kept.id]);
    expect(removed.map((n) => n.name).sort()).toEqual(['below', 'side']);
    expect(tree.list().map((n) => n.name)).toEqual(['root', 'kept']);
    expect(firstBytes(tree.diskAt(kept.id))).toEqual(before);
    expect(tree.current).toBeNull(); // "you are here" was on the removed side branch
    expect(tree.get(side.id)).toBeUndefined();
    expect(tree.prune([]).map((n) => n.name)).toEqual(['root', 'kept']);
    expect(tree.size).toBe(0);
  });
});
