/**
 * The page's VM library over the in-memory storage fake and in-process workers: snapshots taken, reverted
 * and deleted with their disks; everything back after a "reload" (a new hypervisor and store on the same
 * storage); export and import of VMs and snapshots; damaged files refused with nothing touched.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Hypervisor, type VmRecord } from '../../src/host/hypervisor.ts';
import { MemoryStorage } from '../../src/host/storage.ts';
import { VmStore, exportFileName, fileProblem } from '../../src/host/vm-store.ts';
import type { VmDisks } from '../../src/host/boot.ts';
import { encodeSnapshot, SnapshotFormatError } from '../../src/machine/snapshot-file.ts';
import { InProcessWorker, standInConfig, waitFor } from './helpers.ts';

const text = (s: string) => new TextEncoder().encode(s);
const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

/** A hypervisor with in-process workers and a store on `storage` (a page load). */
function load(storage: MemoryStorage) {
  const workers: InProcessWorker[] = [];
  const hv = new Hypervisor(
    () => {
      const w = new InProcessWorker();
      workers.push(w);
      return w;
    },
    { watchdog: false },
  );
  const store = new VmStore(hv, storage);
  const serial = new Map<string, string>();
  hv.subscribe((e) => {
    if (e.type === 'serial')
      serial.set(e.vm.id, (serial.get(e.vm.id) ?? '') + Buffer.from(e.bytes).toString('latin1'));
  });
  cleanup.push(() => hv.dispose());
  const disks = (vm: VmRecord): VmDisks => {
    const internal = (hv as unknown as { vms: Map<string, { worker: InProcessWorker }> }).vms.get(vm.id)!;
    return (internal.worker.runner as unknown as { disks: VmDisks }).disks;
  };
  return {
    hv,
    store,
    workers,
    out: (id: string) => serial.get(id) ?? '',
    /** The first byte of a sector of the VM's first hard disk. */
    sector: (vm: VmRecord, n: number) => disks(vm).hard[0]!.data[n * 512],
    write: (vm: VmRecord, n: number, value: number) =>
      disks(vm).hard[0]!.write(n, 1, new Uint8Array(512).fill(value), 0),
  };
}

async function runningMonitor(page: ReturnType<typeof load>, name = 'mon'): Promise<VmRecord> {
  const vm = await page.hv.createVm(standInConfig('monitor', { name, diskMiB: 1 }), 'stand-in monitor');
  page.hv.action(vm.id, 'power-on');
  await waitFor(() => page.out(vm.id).includes('> '), 'the prompt');
  return vm;
}

describe('VmStore', () => {
  it('keeps a new VM in storage and counts its bytes', async () => {
    const storage = new MemoryStorage();
    const page = load(storage);
    const vm = await page.hv.createVm(standInConfig('monitor', { diskMiB: 1 }), 'stand-in monitor');
    await page.store.idle();
    expect([...storage.records.keys()].sort()).toEqual([
      expect.stringMatching(/^media\/[0-9a-f]{64}$/),
      `vm/${vm.id}/meta`,
    ]);
    const usage = page.store.usage(vm.id);
    expect(usage.definition).toBeGreaterThan(100);
    expect(usage.total).toBe(usage.definition + usage.disks + usage.snapshots);
    expect(page.store.totalUsage()).toBe(usage.total);
    page.hv.deleteVm(vm.id);
    await page.store.idle();
    expect(storage.records.size).toBe(0);
    expect(page.store.totalUsage()).toBe(0);
  });

  it('stores media once for every VM made from them', async () => {
    const storage = new MemoryStorage();
    const page = load(storage);
    const a = await page.hv.createVm(standInConfig('monitor', { name: 'a' }), 'stand-in monitor');
    const b = await page.hv.createVm(standInConfig('monitor', { name: 'b' }), 'stand-in monitor');
    const c = await page.hv.createVm(standInConfig('spin', { name: 'c' }), 'stand-in spinner');
    await page.store.idle();
    const media = () => [...storage.records.keys()].filter((k) => k.startsWith('media/'));
    expect(media()).toHaveLength(2);
    const mediaBytes = storage.records.get(media()[0])!.length;
    expect(page.store.usage(a.id).definition).toBeGreaterThan(mediaBytes);
    const sum = [...storage.records.values()].reduce((n, v) => n + v.length, 0);
    expect(page.store.totalUsage()).toBe(sum);
    page.hv.deleteVm(a.id);
    await page.store.idle();
    expect(media()).toHaveLength(2); // b still uses the monitor's media
    page.hv.deleteVm(b.id);
    page.hv.deleteVm(c.id);
    await page.store.idle();
    expect(storage.records.size).toBe(0);
  });

  it('takes, reverts and deletes snapshots with their disks and memory', async () => {
    const page = load(new MemoryStorage());
    const vm = await runningMonitor(page);
    page.write(vm, 5, 0x11);
    const one = await page.store.takeSnapshot(vm.id, 'one', 'first state');
    expect(one).toMatchObject({
      name: 'one',
      description: 'first state',
      powerState: 'running',
      parent: null,
    });
    expect(one.machineBytes).toBeGreaterThan(0);
    page.write(vm, 5, 0x22);
    page.write(vm, 6, 0x66);
    const two = await page.store.takeSnapshot(vm.id, 'two');
    expect(two.parent).toBe(one.id);
    expect([...two.layer.get('hd0')!.keys()]).toEqual([5, 6]);
    expect(page.store.usage(vm.id).snapshots).toBeGreaterThan(0);

    await page.store.revert(vm.id, one.id);
    expect(page.store.tree(vm.id).current).toBe(one.id);
    expect(page.sector(vm, 5)).toBe(0x11);
    expect(page.sector(vm, 6)).toBe(0);
    await waitFor(() => vm.state === 'running', 'running after the revert');
    const at = page.out(vm.id).length;
    page.hv.sendSerial(vm.id, text('echo after revert\r'));
    await waitFor(() => page.out(vm.id).slice(at).includes('after revert\r\n> '), 'the monitor answering');

    // Deleting "one" leaves "two" with the sector it only had through "one"'s layer... and its own.
    await page.store.deleteSnapshot(vm.id, one.id);
    expect(page.store.tree(vm.id).current).toBeNull();
    expect(page.store.tree(vm.id).get(two.id)!.parent).toBeNull();
    await page.store.revert(vm.id, two.id);
    expect(page.sector(vm, 5)).toBe(0x22);
    expect(page.sector(vm, 6)).toBe(0x66);

    await expect(page.store.takeSnapshot(vm.id, '  ')).rejects.toThrow('the snapshot needs a name');
    await expect(page.store.revert(vm.id, 's99')).rejects.toThrow('mon has no snapshot s99');
  });

  it('leaves the tree unchanged when storage refuses a write', async () => {
    const storage = new MemoryStorage();
    const page = load(storage);
    const vm = await runningMonitor(page);
    const one = await page.store.takeSnapshot(vm.id, 'one');
    storage.failNextCommit = 'quota exceeded';
    await expect(page.store.takeSnapshot(vm.id, 'two')).rejects.toThrow('quota exceeded');
    expect(
      page.store
        .tree(vm.id)
        .list()
        .map((n) => n.name),
    ).toEqual(['one']);
    expect(page.store.tree(vm.id).current).toBe(one.id);
    storage.failNextCommit = 'quota exceeded';
    await expect(page.store.deleteSnapshot(vm.id, one.id)).rejects.toThrow('quota exceeded');
    expect(page.store.tree(vm.id).get(one.id)).toBeDefined();
  });

  it('brings VMs, disks and snapshot trees back after a reload', async () => {
    const storage = new MemoryStorage();
    const first = load(storage);
    const vm = await runningMonitor(first, 'kept');
    first.write(vm, 9, 0x99);
    const snap = await first.store.takeSnapshot(vm.id, 'before', 'kept across reloads');
    first.write(vm, 9, 0xaa);
    first.hv.action(vm.id, 'power-off');
    await waitFor(() => vm.state === 'off', 'off');
    await first.store.idle();
    first.hv.dispose();

    const second = load(storage);
    const { restored, problems } = await second.store.restore();
    expect(problems).toEqual([]);
    expect(restored.map((v) => [v.id, v.name, v.state])).toEqual([[vm.id, 'kept', 'off']]);
    const again = restored[0];
    expect(second.sector(again, 9)).toBe(0xaa); // the disks as they were at power-off
    const tree = second.store.tree(again.id);
    expect(tree.list().map((n) => [n.name, n.description])).toEqual([['before', 'kept across reloads']]);
    expect(tree.current).toBe(snap.id);
    await second.store.revert(again.id, snap.id);
    await waitFor(() => again.state === 'running', 'running from the snapshot');
    expect(second.sector(again, 9)).toBe(0x99);
    // A new VM after the reload gets an id of its own.
    const other = await second.hv.createVm(standInConfig('spin'), 'spin');
    expect(other.id).not.toBe(again.id);
  });

  it('names a stored VM it cannot load and leaves its records alone', async () => {
    const storage = new MemoryStorage();
    storage.records.set('vm/vm7/meta', text('{ not json'));
    const page = load(storage);
    const { restored, problems } = await page.store.restore();
    expect(restored).toEqual([]);
    expect(problems).toEqual(['stored VM vm7: its definition is not valid JSON']);
    expect(storage.records.has('vm/vm7/meta')).toBe(true);
  });

  it('exports a VM with its snapshots and imports it elsewhere', async () => {
    const page = load(new MemoryStorage());
    const vm = await runningMonitor(page, 'travel');
    page.write(vm, 1, 0x01);
    const a = await page.store.takeSnapshot(vm.id, 'a');
    page.write(vm, 1, 0x02);
    const b = await page.store.takeSnapshot(vm.id, 'b');
    await page.store.revert(vm.id, a.id);
    page.write(vm, 2, 0x03);
    const c = await page.store.takeSnapshot(vm.id, 'c');
    const phases: string[] = [];
    const file = await page.store.exportVm(vm.id, (_done, _total, phase) => phases.push(phase));
    expect(phases).toContain('compressing');

    const elsewhere = load(new MemoryStorage());
    const imported = await elsewhere.store.importFile(file, exportFileName('travel'));
    expect(imported.name).toBe('travel');
    const tree = elsewhere.store.tree(imported.id);
    expect(tree.list().map((n) => [n.name, n.parent])).toEqual([
      ['a', null],
      ['b', a.id],
      ['c', a.id],
    ]);
    expect(tree.current).toBe(c.id);
    await elsewhere.store.revert(imported.id, b.id);
    expect(elsewhere.sector(imported, 1)).toBe(0x02);
    expect(elsewhere.sector(imported, 2)).toBe(0);
    await waitFor(() => imported.state === 'running', 'the imported VM running from b');

    // The same file again: a second VM with a free name.
    const twice = await elsewhere.store.importFile(file, 'travel.visor86');
    expect(twice.name).toBe('travel-2');
  });

  it('exports one snapshot as a file that imports as a VM at that snapshot', async () => {
    const page = load(new MemoryStorage());
    const vm = await runningMonitor(page, 'single');
    page.write(vm, 4, 0x44);
    const first = await page.store.takeSnapshot(vm.id, 'first');
    page.write(vm, 4, 0x45);
    const second = await page.store.takeSnapshot(vm.id, 'second', 'on top');
    const file = await page.store.exportSnapshot(vm.id, second.id);
    expect(exportFileName('single', 'second')).toBe('single-second.visor86');

    const elsewhere = load(new MemoryStorage());
    const imported = await elsewhere.store.importFile(file, 'single-second.visor86');
    const tree = elsewhere.store.tree(imported.id);
    expect(tree.list().map((n) => [n.name, n.description, n.parent])).toEqual([['second', 'on top', null]]);
    expect(elsewhere.sector(imported, 4)).toBe(0x45);
    await elsewhere.store.revert(imported.id, second.id);
    await waitFor(() => imported.state === 'running', 'running from the imported snapshot');
    expect(first.id).not.toBe(second.id);
  });

  it('clones a snapshot into a new VM that shares the media but not the disks', async () => {
    const storage = new MemoryStorage();
    const page = load(storage);
    const vm = await runningMonitor(page, 'origin');
    page.write(vm, 3, 0x33);
    const snap = await page.store.takeSnapshot(vm.id, 'base');
    const clone = await page.store.cloneSnapshot(vm.id, snap.id);
    expect(clone.name).toBe('origin-base');
    expect(
      page.store
        .tree(clone.id)
        .list()
        .map((n) => n.name),
    ).toEqual(['base']);
    expect([...storage.records.keys()].filter((k) => k.startsWith('media/'))).toHaveLength(1);
    await page.store.revert(clone.id, page.store.tree(clone.id).current!);
    await waitFor(() => clone.state === 'running', 'the clone running');
    expect(page.sector(clone, 3)).toBe(0x33);
    page.write(clone, 3, 0x44);
    expect(page.sector(vm, 3)).toBe(0x33);
  });

  it('refuses corrupted, truncated, wrong-version and foreign files, creating nothing', async () => {
    const page = load(new MemoryStorage());
    const vm = await runningMonitor(page, 'src');
    await page.store.takeSnapshot(vm.id, 'snap');
    const file = await page.store.exportVm(vm.id);

    const storage = new MemoryStorage();
    const other = load(storage);
    const existing = await other.hv.createVm(standInConfig('spin', { name: 'existing' }), 'spin');
    await other.store.idle();
    const before = new Map([...storage.records].map(([k, v]) => [k, v.slice()]));

    const corrupted = file.slice();
    corrupted[corrupted.length - 100] ^= 0x40;
    const truncated = file.subarray(0, file.length - 1000);
    const wrongVersion = file.slice();
    new DataView(wrongVersion.buffer).setUint32(8, 7, true);
    // A machine saved by the command line that uses a disk image (which stays on that computer).
    const foreign = await encodeSnapshot({
      format: 'visor86-machine',
      version: 2,
      media: { disk0: { kind: 'device', sectorCount: 2048, readOnly: false } },
    });
    const laterExport = await encodeSnapshot({ format: 'visor86-export', version: 2, kind: 'vm' });
    const cases: Array<[Uint8Array, string, string]> = [
      [corrupted, 'c.visor86', 'c.visor86 is corrupted: its SHA-256 hash does not match its contents'],
      [
        truncated,
        't.visor86',
        `t.visor86 is truncated: ${file.length - 1048} of ${file.length - 48} payload bytes`,
      ],
      [
        wrongVersion,
        'v.visor86',
        'v.visor86 has file format version 7, which this build cannot read (it reads version 1)',
      ],
      [
        text('hello, this is a text file and not a VM at all, really'),
        'notes.txt',
        'notes.txt is not a visor86 file (it does not start',
      ],
      [text('tiny'), 'tiny.bin', 'tiny.bin is not a visor86 file: it has only 4 bytes'],
      [
        foreign,
        'state.snap',
        'state.snap: this file holds a machine saved by the command line (visor86 run --save) that uses hard disk 0;',
      ],
      [
        laterExport,
        'new.visor86',
        'new.visor86: export version 2 is not supported (this build reads version 1)',
      ],
    ];
    for (const [bytes, name, message] of cases) {
      await expect(other.store.importFile(bytes, name)).rejects.toThrow(message);
    }
    await other.store.idle();
    expect(other.hv.list().map((v) => v.name)).toEqual(['existing']);
    expect([...storage.records.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, v] of before) expect(storage.records.get(k)).toEqual(v);
    expect(existing.state).toBe('off');
    expect(fileProblem('x', new SnapshotFormatError('snapshot payload is empty'))).toBe(
      'x is damaged: payload is empty',
    );
  });
});
