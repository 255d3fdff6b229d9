/**
 * Importing a machine saved by `visor86 run --save` into the page (vm-store.ts): a machine that uses no
 * disk or floppy image becomes a VM whose boot medium is the saved machine and whose one snapshot, "you are
 * here", is dated when it was saved. Powering it on, reverting to the snapshot, resetting it and reloading
 * the page all resume the machine exactly where it was saved: the stand-in monitor was saved halfway through
 * typing a line, and the rest of the line typed into the VM completes it. Machines that use disk images are
 * refused with the message that says so, and nothing is created.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Hypervisor, type VmRecord } from '../../src/host/hypervisor.ts';
import { MemoryStorage } from '../../src/host/storage.ts';
import { SAVED_SNAPSHOT_NAME, VmStore } from '../../src/host/vm-store.ts';
import { mediaFromFiles } from '../../src/host/media.ts';
import { createPc } from '../../src/machine/pc.ts';
import { bootMultiboot } from '../../src/machine/multiboot.ts';
import { encodeSnapshot, type StateValue } from '../../src/machine/snapshot-file.ts';
import type { DeviceState } from '../../src/devices/device.ts';
import { InProcessWorker, standIn, standInConfig, waitFor } from './helpers.ts';

const SAVED_AT = '2026-03-04T05:06:07.000Z';
const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

/**
 * The stand-in monitor booted directly (as `visor86 run --kernel` does), at its prompt with "echo half"
 * typed but not entered, and its `ticks` counter read: the machine state and what COM1 showed.
 */
function monitorHalfwayThroughALine(): { state: DeviceState; output: string } {
  let output = '';
  const pc = createPc({
    memoryMiB: 4,
    onSerialOutput: (com, bytes) => {
      if (com === 0) output += Buffer.from(bytes).toString('latin1');
    },
  });
  bootMultiboot(pc, standIn('monitor'));
  const runUntil = (text: string) => {
    for (let i = 0; i < 2000 && !output.includes(text); i++) pc.run(100_000);
    if (!output.includes(text)) throw new Error(`the monitor never printed ${JSON.stringify(text)}`);
  };
  runUntil('> ');
  pc.sendSerial(0, new TextEncoder().encode('echo half'));
  runUntil('> echo half');
  return { state: pc.saveState(), output };
}

/** The file `visor86 run --kernel standin-monitor.bin --save FILE` writes (src/cli/snapshot.ts). */
function cliFile(state: DeviceState, media: Record<string, StateValue> = {}): Promise<Uint8Array> {
  return encodeSnapshot({
    format: 'visor86-snapshot',
    version: 1,
    created: SAVED_AT,
    producer: 'visor86 run',
    config: {
      memoryMiB: 4,
      firmware: 'none',
      serialMirror: false,
      kernel: { path: '/home/learner/guests/standin-monitor.bin', initrd: null, append: 'quiet' },
      media,
    },
    machine: state as StateValue,
  });
}

/** A page load: a hypervisor with in-process workers (each a real VmRunner) and a store on `storage`. */
function load(storage: MemoryStorage) {
  const hv = new Hypervisor(() => new InProcessWorker(), { watchdog: false });
  const store = new VmStore(hv, storage);
  const serial = new Map<string, string>();
  hv.subscribe((e) => {
    if (e.type === 'serial')
      serial.set(e.vm.id, (serial.get(e.vm.id) ?? '') + Buffer.from(e.bytes).toString('latin1'));
  });
  cleanup.push(() => hv.dispose());
  const out = (vm: VmRecord) => serial.get(vm.id) ?? '';
  return {
    hv,
    store,
    out,
    /** Types into COM1 and waits until the console shows `answer` once more than before. */
    async type(vm: VmRecord, text: string, answer: string) {
      const before = out(vm).split(answer).length;
      hv.sendSerial(vm.id, new TextEncoder().encode(text));
      await waitFor(() => out(vm).split(answer).length > before, `${JSON.stringify(answer)} on ${vm.name}`);
    },
    waitState: (vm: VmRecord, state: string) => waitFor(() => vm.state === state, `${vm.name} ${state}`),
  };
}

describe('importing a machine saved by visor86 run --save', () => {
  const saved = monitorHalfwayThroughALine();

  it('creates a VM with the machine as its medium and one snapshot, "you are here", dated when saved', async () => {
    const storage = new MemoryStorage();
    const page = load(storage);
    const vm = await page.store.importFile(await cliFile(saved.state), 'monitor-prompt.visor86');
    await page.store.idle();
    expect(vm).toMatchObject({ name: 'monitor-prompt', image: 'monitor-prompt.visor86', state: 'off' });
    expect(vm.config).toMatchObject({ memoryMiB: 4, diskMiB: 0 });
    expect(vm.config.media).toMatchObject({
      kind: 'saved',
      firmware: 'none',
      origin: 'kernel standin-monitor.bin, quiet',
    });
    const tree = page.store.tree(vm.id);
    const [node] = tree.list();
    expect(tree.size).toBe(1);
    expect(tree.current).toBe(node.id);
    expect(node).toMatchObject({ name: SAVED_SNAPSHOT_NAME, powerState: 'running', parent: null });
    expect(node.createdAt).toBe(Date.parse(SAVED_AT));
    expect(node.description).toContain('kernel standin-monitor.bin');
    expect([...storage.records.keys()].sort()).toEqual(
      [
        expect.stringMatching(/^media\/[0-9a-f]{64}$/),
        `vm/${vm.id}/disk`,
        `vm/${vm.id}/meta`,
        `vm/${vm.id}/snap/${node.id}/disk`,
        `vm/${vm.id}/snap/${node.id}/machine`,
      ].sort(),
    );
  });

  it('resumes where it was saved on power-on, on revert and on reset; COM1 continues', async () => {
    const page = load(new MemoryStorage());
    const vm = await page.store.importFile(await cliFile(saved.state), 'monitor-prompt.visor86');

    // Power on: the monitor is still halfway through "echo half"; the rest of the line completes it.
    page.hv.action(vm.id, 'power-on');
    await page.waitState(vm, 'running');
    await page.type(vm, '-way\r', 'half-way\r\n> ');
    expect(page.out(vm)).not.toContain('stand-in monitor'); // resumed, not booted: no banner
    await page.type(vm, 'ticks\r', 'ticks=');

    // Revert to the snapshot while running: back to the half-typed line.
    const [node] = page.store.tree(vm.id).list();
    await page.store.revert(vm.id, node.id);
    expect(vm.state).toBe('running');
    await page.type(vm, '-again\r', 'half-again\r\n> ');

    // Reset: this VM starts by resuming its saved machine.
    page.hv.action(vm.id, 'reset');
    await waitFor(() => vm.log.some((l) => l.text === 'reset'), 'the reset');
    await page.type(vm, '-reset\r', 'half-reset\r\n> ');

    // Powered off, then reverted: it resumes running from the snapshot.
    page.hv.action(vm.id, 'power-off');
    await page.waitState(vm, 'off');
    await page.store.revert(vm.id, node.id);
    await page.waitState(vm, 'running');
    await page.type(vm, '-off\r', 'half-off\r\n> ');
    expect(page.out(vm)).not.toContain('stand-in monitor');
  });

  it('comes back after a reload, and resumes there again', async () => {
    const storage = new MemoryStorage();
    const first = load(storage);
    const vm = await first.store.importFile(await cliFile(saved.state), 'monitor-prompt.visor86');
    await first.store.idle();
    first.hv.dispose();

    const second = load(storage);
    const { restored, problems } = await second.store.restore();
    expect(problems).toEqual([]);
    expect(restored.map((v) => [v.name, v.state, v.config.media.kind])).toEqual([
      ['monitor-prompt', 'off', 'saved'],
    ]);
    expect(second.store.tree(vm.id).current).toBe(second.store.tree(vm.id).list()[0].id);
    second.hv.action(vm.id, 'power-on');
    await second.type(restored[0], '-reloaded\r', 'half-reloaded\r\n> ');
  });

  it('exports and imports again like any VM', async () => {
    const page = load(new MemoryStorage());
    const vm = await page.store.importFile(await cliFile(saved.state), 'monitor-prompt.visor86');
    const exported = await page.store.exportVm(vm.id);
    const copy = await page.store.importFile(exported, 'monitor-prompt.visor86');
    expect(copy.name).toBe('monitor-prompt-2');
    expect(copy.config.media.kind).toBe('saved');
    page.hv.action(copy.id, 'power-on');
    await page.type(copy, '-copy\r', 'half-copy\r\n> ');
  });

  it('imports a bare Pc.saveState() too, dated when it was imported', async () => {
    const page = load(new MemoryStorage());
    const before = Date.now();
    const vm = await page.store.importFile(await encodeSnapshot(saved.state as StateValue), 'bare.state');
    const [node] = page.store.tree(vm.id).list();
    expect(node.name).toBe('saved machine');
    expect(node.createdAt).toBeGreaterThanOrEqual(before);
    expect(vm.config.media).toMatchObject({ kind: 'saved', origin: 'a machine state' });
    await page.store.revert(vm.id, node.id);
    await page.type(vm, '-bare\r', 'half-bare\r\n> ');
  });

  it('is pointed to Import when picked as a boot image in the create dialog', async () => {
    const file = await cliFile(saved.state);
    expect(() => mediaFromFiles([{ name: 'linux-prompt.visor86', bytes: file }])).toThrow(
      'linux-prompt.visor86 is a visor86 file (an exported VM or snapshot, or a machine saved by visor86 run ' +
        '--save), not a boot image: import it with Import under Snapshots, or drop it on the page',
    );
  });

  it('refuses machines that use disk images, or that this build cannot load, creating nothing', async () => {
    const storage = new MemoryStorage();
    const page = load(storage);
    const existing = await page.hv.createVm(standInConfig('spin', { name: 'existing' }), 'spin');
    await page.store.idle();
    const records = [...storage.records.keys()].sort();

    const withDisk = structuredClone(saved.state);
    (withDisk.media as DeviceState).disk0 = { kind: 'device', sectorCount: 2048, readOnly: false };
    const diskFile = await cliFile(withDisk, {
      disk0: { path: '/home/learner/disk.img', bytes: 1048576, sha256: 'sha256:00' },
    });
    const withFloppy = structuredClone(saved.state);
    (withFloppy.media as DeviceState).floppy0 = { kind: 'device', sectorCount: 2880, readOnly: false };
    const oldVersion = { ...saved.state, version: 1 };
    const huge = { ...saved.state, memoryBytes: 3584 * 1024 * 1024 };
    const cases: Array<[Uint8Array, string, string]> = [
      [
        diskFile,
        'disk.visor86',
        'disk.visor86: this file holds a machine saved by the command line (visor86 run --save) that uses ' +
          'hard disk 0 (/home/learner/disk.img); disk and floppy images stay on the computer that saved it',
      ],
      [
        await encodeSnapshot(withFloppy as StateValue),
        'floppy.state',
        'floppy.state: this file holds a machine saved by the command line (visor86 run --save) that uses ' +
          'floppy drive A;',
      ],
      [
        await cliFile(oldVersion),
        'old.visor86',
        'old.visor86: the saved machine cannot be loaded: machine state version 1 is older than this build reads',
      ],
      [
        await encodeSnapshot(huge as StateValue),
        'huge.state',
        'huge.state: the saved machine has 3584 MiB of RAM; the page runs VMs of 2 to 2048 MiB',
      ],
      [
        await encodeSnapshot({ format: 'visor86-snapshot', version: 9 }),
        'new.visor86',
        'new.visor86: this machine saved by visor86 run has version 9, which this build cannot read',
      ],
    ];
    for (const [bytes, name, message] of cases) {
      await expect(page.store.importFile(bytes, name)).rejects.toThrow(message);
    }
    await page.store.idle();
    expect(page.hv.list().map((v) => v.name)).toEqual(['existing']);
    expect([...storage.records.keys()].sort()).toEqual(records);
    expect(existing.state).toBe('off');
  });
});
