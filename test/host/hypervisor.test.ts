import { afterEach, describe, expect, it } from 'vitest';
import { Hypervisor, type HypervisorEvent } from '../../src/host/hypervisor.ts';
import { InProcessWorker, standInConfig, waitFor } from './helpers.ts';

const text = (s: string) => new TextEncoder().encode(s);

/** A hypervisor over in-process workers, with everything it emitted. */
function setup(options: ConstructorParameters<typeof Hypervisor>[1] = {}) {
  const workers: InProcessWorker[] = [];
  const hv = new Hypervisor(
    () => {
      const w = new InProcessWorker();
      workers.push(w);
      return w;
    },
    { watchdog: false, ...options },
  );
  const events: HypervisorEvent[] = [];
  const serial = new Map<string, string>();
  hv.subscribe((e) => {
    events.push(e);
    if (e.type === 'serial')
      serial.set(e.vm.id, (serial.get(e.vm.id) ?? '') + Buffer.from(e.bytes).toString('latin1'));
  });
  cleanup.push(() => hv.dispose());
  return { hv, workers, events, serial, out: (id: string) => serial.get(id) ?? '' };
}
const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

describe('Hypervisor', () => {
  it('creates nothing from a bad image and names the problem', async () => {
    const { hv, workers, events } = setup();
    const config = standInConfig('monitor', { media: { kind: 'multiboot', kernel: new Uint8Array(100) } });
    await expect(hv.createVm(config, 'junk')).rejects.toThrow(/not a Multiboot kernel/);
    expect(hv.list()).toEqual([]);
    expect(events).toEqual([]);
    expect(workers[0].terminated).toBe(true);
  });

  it('refuses a duplicate name and an empty one', async () => {
    const { hv } = setup();
    await hv.createVm(standInConfig('monitor', { name: 'a' }), 'monitor');
    await expect(hv.createVm(standInConfig('monitor', { name: 'a' }), 'monitor')).rejects.toThrow(
      'already a VM named "a"',
    );
    await expect(hv.createVm(standInConfig('monitor', { name: '  ' }), 'monitor')).rejects.toThrow(
      'needs a name',
    );
    expect(hv.list().map((vm) => vm.name)).toEqual(['a']);
  });

  it('runs several VMs side by side; pausing one leaves the others running', async () => {
    const { hv, out } = setup();
    const monitor = await hv.createVm(standInConfig('monitor'), 'monitor');
    const spin = await hv.createVm(standInConfig('spin'), 'spin');
    const vga = await hv.createVm(standInConfig('vga'), 'vga');
    expect(hv.list().map((vm) => vm.state)).toEqual(['off', 'off', 'off']);
    expect(hv.actionAll([monitor.id, spin.id, vga.id], 'power-on')).toBe(3);
    expect(monitor.state).toBe('starting');
    await waitFor(() => hv.list().every((vm) => vm.state === 'running'), 'all running');
    await waitFor(() => out(monitor.id).includes('> ') && out(spin.id).includes('spinner'), 'both banners');
    expect(out(monitor.id)).not.toContain('spinner');
    await waitFor(() => vga.usesScreen, 'the VGA guest to draw');
    expect(monitor.usesSerial && !vga.usesSerial).toBe(true);

    hv.action(spin.id, 'pause');
    await waitFor(() => spin.state === 'paused', 'the pause');
    await waitFor(() => spin.stats.mips === 0 && monitor.stats.instructions > 0, 'a stats tick');
    const frozen = spin.stats.instructions;
    const vgaBefore = vga.stats.instructions;
    hv.sendSerial(monitor.id, text('echo still here\r'));
    await waitFor(() => out(monitor.id).includes('still here\r\n'), 'the monitor to answer');
    await waitFor(() => vga.stats.instructions > vgaBefore, 'the VGA guest to advance');
    expect(spin.stats.instructions).toBe(frozen);

    const summary = hv.summary();
    expect(summary.byState).toMatchObject({ running: 2, paused: 1 });
    expect(summary.memoryAssignedMiB).toBe(12);
    expect(summary.memoryReservedMiB).toBe(12);

    hv.action(vga.id, 'power-off');
    await waitFor(() => vga.state === 'off', 'power off');
    expect(() => hv.action(vga.id, 'pause')).toThrow('cannot pause a VM that is off');
    expect(hv.summary().memoryReservedMiB).toBe(8);
    expect(() => hv.deleteVm(spin.id)).toThrow('power it off');
    hv.deleteVm(vga.id);
    expect(hv.list().map((vm) => vm.name)).toEqual(['monitor', 'spin']);
  });

  it('shows a VM whose worker died as crashed, keeps its last lines, and restarts it', async () => {
    const { hv, workers, out } = setup();
    const a = await hv.createVm(standInConfig('monitor', { name: 'a' }), 'monitor');
    const b = await hv.createVm(standInConfig('monitor', { name: 'b' }), 'monitor');
    hv.actionAll([a.id, b.id], 'power-on');
    await waitFor(() => out(a.id).includes('> ') && out(b.id).includes('> '), 'both prompts');
    workers[0].die('RangeError: out of memory');
    expect(a.state).toBe('crashed');
    expect(a.reason).toBe("the VM's worker died: RangeError: out of memory (vm-worker.ts:1)");
    expect(a.log.at(-1)?.text).toBe(a.reason);
    expect(a.log.some((line) => line.text.startsWith('powered on'))).toBe(true);
    expect(a.consoleTail).toContain('monitor ready');
    expect(workers[0].terminated).toBe(true);

    hv.sendSerial(b.id, text('ver\r'));
    await waitFor(() => out(b.id).includes('stand-in monitor 1.0'), 'b to keep answering');

    hv.action(a.id, 'power-on');
    expect(workers).toHaveLength(3);
    await waitFor(() => a.state === 'running', 'a to run again');
    expect(a.reason).toBe('');
  });

  it('declares a silent worker crashed after the heartbeat timeout', async () => {
    let now = 0;
    const { hv, workers } = setup({ now: () => now, heartbeatTimeoutMs: 5000 });
    const vm = await hv.createVm(standInConfig('spin'), 'spin');
    hv.action(vm.id, 'power-on');
    await waitFor(() => vm.state === 'running', 'running');
    now = 4000;
    hv.checkHeartbeats();
    expect(vm.state).toBe('running');
    workers[0].hung = true;
    now = 12_000;
    hv.checkHeartbeats();
    expect(vm.state).toBe('crashed');
    expect(vm.reason).toMatch(/stopped responding \(no heartbeat for 12 s\)/);
  });

  it('powers off a worker that does not answer by terminating it, and starts a fresh one', async () => {
    const { hv, workers } = setup({ powerOffTimeoutMs: 200 });
    const vm = await hv.createVm(standInConfig('spin'), 'spin');
    hv.action(vm.id, 'power-on');
    await waitFor(() => vm.state === 'running', 'running');
    workers[0].hung = true; // stuck inside the emulator: no answer
    hv.action(vm.id, 'power-off');
    expect(vm.state).toBe('running');
    await waitFor(() => vm.state === 'off', 'the forced power off');
    expect(workers[0].terminated).toBe(true);
    expect(vm.reason).toMatch(/terminating its worker/);
    hv.action(vm.id, 'power-on');
    expect(workers).toHaveLength(2);
    await waitFor(() => vm.state === 'running', 'running again');
  });

  it('reports a guest that crashed the emulator', async () => {
    const { hv, workers, out } = setup();
    const vm = await hv.createVm(standInConfig('spin'), 'spin');
    hv.action(vm.id, 'power-on');
    await waitFor(() => out(vm.id).includes('spinner'), 'the banner');
    const pc = (workers[0].runner as unknown as { pc: { run: () => never } }).pc;
    pc.run = () => {
      throw new Error('boom');
    };
    await waitFor(() => vm.state === 'crashed', 'the crash');
    expect(vm.reason).toMatch(/^guest crashed: boom/);
  });
});
