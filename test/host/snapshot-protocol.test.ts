/**
 * Snapshots through the worker protocol: VmRunner driven in-process (snapshot-take, snapshot-load,
 * disk-save and their answers), then the same through the Hypervisor's requests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VmRunner } from '../../src/host/vm-runner.ts';
import { Hypervisor } from '../../src/host/hypervisor.ts';
import type { HostToVm, VmConfig, VmToHost } from '../../src/host/protocol.ts';
import { decodeSnapshot, encodeSnapshot } from '../../src/machine/snapshot-file.ts';
import { layerFromState, layerToState } from '../../src/host/disk-layer.ts';
import type { VmDisks } from '../../src/host/boot.ts';
import { InProcessWorker, nodeEnv, standInConfig, waitFor } from './helpers.ts';

const text = (s: string) => new TextEncoder().encode(s);

class Harness {
  readonly messages: VmToHost[] = [];
  readonly runner = new VmRunner(nodeEnv((message) => this.messages.push(structuredClone(message))));
  private nextRequest = 1;
  send(message: HostToVm): void {
    this.runner.handle(message);
  }
  get output(): string {
    return this.messages
      .filter((m) => m.type === 'serial-output')
      .map((m) => Buffer.from(m.bytes).toString('latin1'))
      .join('');
  }
  get states(): string[] {
    return this.messages.filter((m) => m.type === 'state').map((m) => m.state);
  }
  get disks(): VmDisks {
    return (this.runner as unknown as { disks: VmDisks }).disks;
  }
  async until(check: (h: Harness) => boolean, what: string, timeoutMs?: number): Promise<void> {
    await waitFor(() => check(this), what, timeoutMs);
  }
  /** Sends a request and waits for its answer (or the error carrying its id). */
  async request(message: Record<string, unknown> & { type: HostToVm['type'] }): Promise<VmToHost> {
    const requestId = this.nextRequest++;
    this.send({ ...message, requestId } as HostToVm);
    let answer: VmToHost | undefined;
    await this.until(
      (h) => !!(answer = h.messages.find((m) => 'requestId' in m && m.requestId === requestId)),
      `the answer to ${message.type}`,
    );
    return answer!;
  }
}

const harnesses: Harness[] = [];
function start(config: VmConfig, disk?: Uint8Array): Harness {
  const h = new Harness();
  harnesses.push(h);
  h.send({ type: 'create', config, disk });
  return h;
}
afterEach(() => {
  for (const h of harnesses.splice(0)) h.runner.dispose();
});

/** Writes `value` over one sector of a VM's disk, as the guest's ATA commands would. */
function writeSector(h: Harness, drive: number, sector: number, value: number): void {
  h.disks.hard[drive]!.write(sector, 1, new Uint8Array(512).fill(value), 0);
}
const sectorValue = (h: Harness, drive: number, sector: number) => h.disks.hard[drive]!.data[sector * 512];

describe('snapshots through VmRunner', () => {
  it('resumes a running guest exactly where the snapshot was taken', async () => {
    // The spinner runs with interrupts off and prints "spin N" at fixed instruction counts: after a
    // revert it must print exactly what it printed after the snapshot the first time.
    const h = start(standInConfig('spin', { diskMiB: 1 }));
    h.send({ type: 'power-on' });
    await h.until((x) => x.output.includes('spin 1\r\n'), 'spin 1');
    // The state is captured when the request is handled (synchronously, after the output so far is
    // flushed); the guest goes on running while it is encoded, and a fast one prints "spin 2" before the
    // answer comes. What it printed after the snapshot starts here, not at the answer.
    const taking = h.request({ type: 'snapshot-take' });
    const at = h.output.length;
    const snap = await taking;
    if (snap.type !== 'snapshot-data') throw new Error(`unexpected ${snap.type}`);
    expect(snap.powerState).toBe('running');
    expect(snap.machine).toBeInstanceOf(Uint8Array);
    await h.until((x) => x.output.slice(at).includes('spin 2\r\n'), 'spin 2');
    const after = h.output.slice(at, h.output.indexOf('spin 2\r\n', at) + 8);
    expect(after).toMatch(/spin 2\r\n$/);

    const done = await h.request({
      type: 'snapshot-load',
      machine: snap.machine,
      disk: snap.disk,
      powerState: 'running',
    });
    expect(done.type).toBe('done');
    expect(h.states.at(-1)).toBe('running');
    const again = h.output.length;
    await h.until((x) => x.output.slice(again).includes('spin 2\r\n'), 'spin 2 after the revert');
    expect(h.output.slice(again, again + after.length)).toBe(after);
  });

  it('keeps RAM and disks of the moment, and reverts paused and powered-off snapshots', async () => {
    const h = start(standInConfig('monitor', { diskMiB: 1 }));
    h.send({ type: 'power-on' });
    await h.until((x) => x.output.includes('> '), 'the prompt');
    writeSector(h, 0, 7, 0x11);
    h.send({ type: 'pause' });
    const paused = await h.request({ type: 'snapshot-take' });
    if (paused.type !== 'snapshot-data') throw new Error(`unexpected ${paused.type}`);
    expect(paused.powerState).toBe('paused');
    const layer = layerFromState(await decodeSnapshot(paused.disk));
    expect([...layer.get('hd0')!.keys()]).toEqual([7]);

    h.send({ type: 'resume' });
    writeSector(h, 0, 7, 0x22);
    writeSector(h, 0, 8, 0x33);
    h.send({ type: 'serial-input', bytes: text('echo changed\r') });
    await h.until((x) => x.output.includes('changed\r\n> '), 'the echo');
    h.send({ type: 'power-off' });
    const off = await h.request({ type: 'snapshot-take' });
    if (off.type !== 'snapshot-data') throw new Error(`unexpected ${off.type}`);
    expect(off.powerState).toBe('off');
    expect(off.machine).toBeNull();

    await h.request({
      type: 'snapshot-load',
      machine: paused.machine,
      disk: paused.disk,
      powerState: 'paused',
    });
    expect(h.states.at(-1)).toBe('paused');
    expect(sectorValue(h, 0, 7)).toBe(0x11);
    expect(sectorValue(h, 0, 8)).toBe(0);
    h.send({ type: 'resume' });
    const at = h.output.length;
    h.send({ type: 'serial-input', bytes: text('echo back\r') });
    await h.until((x) => x.output.slice(at).includes('back\r\n> '), 'the monitor answering after the revert');

    await h.request({ type: 'snapshot-load', machine: null, disk: off.disk, powerState: 'off' });
    expect(h.states.at(-1)).toBe('off');
    expect(sectorValue(h, 0, 7)).toBe(0x22);
    expect(sectorValue(h, 0, 8)).toBe(0x33);
    const saved = await h.request({ type: 'disk-save' });
    if (saved.type !== 'disk-data') throw new Error(`unexpected ${saved.type}`);
    expect([
      ...layerFromState(await decodeSnapshot(saved.disk))
        .get('hd0')!
        .keys(),
    ]).toEqual([7, 8]);
  });

  it('creates a VM on saved disks', async () => {
    const disk = await encodeSnapshot(
      layerToState(new Map([['hd0', new Map([[3, new Uint8Array(512).fill(0x5a)]])]])),
    );
    const h = start(standInConfig('monitor', { diskMiB: 1 }), disk);
    await h.until((x) => x.states.length > 0, 'the creation');
    expect(h.states).toEqual(['off']);
    expect(sectorValue(h, 0, 3)).toBe(0x5a);
    // A layer naming a drive the VM does not have is refused.
    const bad = await encodeSnapshot(layerToState(new Map([['hd2', new Map([[0, new Uint8Array(512)]])]])));
    const h2 = start(standInConfig('monitor', { diskMiB: 1 }), bad);
    await h2.until((x) => x.messages.some((m) => m.type === 'error'), 'the refusal');
    expect(h2.messages.find((m) => m.type === 'error')).toMatchObject({
      command: 'create',
      message: 'the saved disks name drive hd2, which this VM does not have',
    });
  });

  it('refuses corrupted, truncated and mismatched states with a message and leaves the VM as it was', async () => {
    const h = start(standInConfig('monitor', { diskMiB: 1 }));
    h.send({ type: 'power-on' });
    await h.until((x) => x.output.includes('> '), 'the prompt');
    const snap = await h.request({ type: 'snapshot-take' });
    if (snap.type !== 'snapshot-data') throw new Error(`unexpected ${snap.type}`);
    writeSector(h, 0, 1, 0x77);

    const corrupted = snap.machine!.slice();
    corrupted[corrupted.length - 10] ^= 0xff;
    const tries: Array<[Uint8Array | null, Uint8Array, RegExp]> = [
      [
        corrupted,
        snap.disk,
        /machine state is unreadable: snapshot is corrupted: its SHA-256 hash does not match/,
      ],
      [snap.machine!.subarray(0, 100), snap.disk, /snapshot is truncated/],
      [snap.machine, snap.disk.subarray(0, 60), /the saved disks are unreadable: snapshot is truncated/],
      [
        snap.machine,
        text('definitely not a snapshot, just some text '.repeat(3)),
        /not a visor86 snapshot: bad magic/,
      ],
    ];
    for (const [machine, disk, message] of tries) {
      const answer = await h.request({ type: 'snapshot-load', machine, disk, powerState: 'running' });
      expect(answer.type).toBe('error');
      expect(answer.type === 'error' && answer.message).toMatch(message);
    }
    // A state from a VM with other memory: the machine refuses it.
    const other = start(standInConfig('monitor', { memoryMiB: 8, diskMiB: 1 }));
    other.send({ type: 'power-on' });
    const wrongSize = await other.request({ type: 'snapshot-take' });
    if (wrongSize.type !== 'snapshot-data') throw new Error(`unexpected ${wrongSize.type}`);
    const refused = await h.request({
      type: 'snapshot-load',
      machine: wrongSize.machine,
      disk: snap.disk,
      powerState: 'running',
    });
    expect(refused.type === 'error' && refused.message).toMatch(/8388608 bytes of RAM, this machine 4194304/);
    // Still running, on its own disks, and still taking commands.
    expect(h.states.at(-1)).toBe('running');
    expect(sectorValue(h, 0, 1)).toBe(0x77);
    const at = h.output.length;
    h.send({ type: 'serial-input', bytes: text('echo still here\r') });
    await h.until((x) => x.output.slice(at).includes('still here\r\n> '), 'the monitor answering');
  });
});

describe('snapshots through the Hypervisor', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  function setup() {
    const workers: InProcessWorker[] = [];
    const hv = new Hypervisor(
      () => {
        const w = new InProcessWorker();
        workers.push(w);
        return w;
      },
      { watchdog: false },
    );
    const serial = new Map<string, string>();
    hv.subscribe((e) => {
      if (e.type === 'serial')
        serial.set(e.vm.id, (serial.get(e.vm.id) ?? '') + Buffer.from(e.bytes).toString('latin1'));
    });
    cleanup.push(() => hv.dispose());
    return { hv, workers, out: (id: string) => serial.get(id) ?? '' };
  }

  it('captures and reverts, and reverts a crashed VM on a fresh worker', async () => {
    const { hv, workers, out } = setup();
    const vm = await hv.createVm(standInConfig('monitor', { diskMiB: 1 }), 'monitor', { id: 'keep-me' });
    expect(vm.id).toBe('keep-me');
    const second = await hv.createVm(standInConfig('spin'), 'spin');
    expect(second.id).toBe('vm1');
    hv.action(vm.id, 'power-on');
    await waitFor(() => out(vm.id).includes('> '), 'the prompt');
    const captured = await hv.captureSnapshot(vm.id);
    expect(captured.powerState).toBe('running');
    hv.sendSerial(vm.id, text('echo one\r'));
    await waitFor(() => out(vm.id).includes('one\r\n> '), 'the echo');

    workers[0].die('simulated failure');
    expect(vm.state).toBe('crashed');
    await expect(hv.captureSnapshot(vm.id)).rejects.toThrow('cannot take a snapshot of a VM that is crashed');
    await hv.loadSnapshot(vm.id, captured);
    await waitFor(() => vm.state === 'running', 'the VM running again');
    expect(workers.length).toBe(3);
    const at = out(vm.id).length;
    hv.sendSerial(vm.id, text('echo two\r'));
    await waitFor(() => out(vm.id).slice(at).includes('two\r\n> '), 'the echo after the revert');
    expect(await hv.saveDisks(vm.id)).toBeInstanceOf(Uint8Array);
  });

  it('rejects a request when the worker refuses it or goes away', async () => {
    const { hv, workers } = setup();
    const vm = await hv.createVm(standInConfig('monitor'), 'monitor');
    await expect(
      hv.loadSnapshot(vm.id, { powerState: 'running', machine: text('junk'), disk: text('junk') }),
    ).rejects.toThrow(/saved disks are unreadable: not a visor86 snapshot/);
    expect(vm.state).toBe('off');
    workers[0].hung = true;
    const pending = hv.captureSnapshot(vm.id);
    hv.deleteVm(vm.id);
    await expect(pending).rejects.toThrow('monitor: the VM was deleted');
  });
});
