import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VmRunner } from '../../src/host/vm-runner.ts';
import type { HostToVm, VmConfig, VmStats, VmToHost } from '../../src/host/protocol.ts';
import { nodeEnv, standInConfig, waitFor } from './helpers.ts';

const text = (s: string) => new TextEncoder().encode(s);

/** A runner and everything it posted. */
class Harness {
  readonly messages: VmToHost[] = [];
  readonly runner = new VmRunner(nodeEnv((message) => this.messages.push(message)));
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
  get errors(): string[] {
    return this.messages.filter((m) => m.type === 'error').map((m) => m.message);
  }
  lastStats(): VmStats | undefined {
    const all = this.messages.filter((m) => m.type === 'stats');
    return all.at(-1)?.stats;
  }
  async until(check: (h: Harness) => boolean, what: string, timeoutMs?: number): Promise<void> {
    await waitFor(() => check(this), what, timeoutMs);
  }
}

const harnesses: Harness[] = [];
function start(config: VmConfig): Harness {
  const h = new Harness();
  harnesses.push(h);
  h.send({ type: 'create', config });
  return h;
}
afterEach(() => {
  for (const h of harnesses.splice(0)) h.runner.dispose();
});

describe('VmRunner', () => {
  it('refuses bad media at creation and stays uncreated', () => {
    const h = start({
      name: 'bad',
      memoryMiB: 4,
      diskMiB: 0,
      media: { kind: 'multiboot', kernel: new Uint8Array(64) },
    });
    expect(h.states).toEqual([]);
    expect(h.errors).toEqual([expect.stringMatching(/^bad: not a Multiboot kernel/)]);
    h.send({ type: 'power-on' });
    expect(h.errors[1]).toBe('the VM has not been created');
  });

  it('refuses a kernel that does not fit in RAM at creation', () => {
    const h = start(
      standInConfig('monitor', {
        memoryMiB: 2,
        media: {
          kind: 'linux',
          kernel: new Uint8Array(
            readFileSync(join(import.meta.dirname, '..', 'machine', 'fixtures', 'tiny-bzimage.bin')),
          ),
          cmdline: 'x'.repeat(100_000),
        },
      }),
    );
    expect(h.states).toEqual([]);
    expect(h.errors[0]).toMatch(/command line is 100000 bytes/);
  });

  it('boots, answers on COM1, pauses, resets and powers off', async () => {
    const h = start(standInConfig('monitor'));
    expect(h.states).toEqual(['off']);
    h.send({ type: 'power-on' });
    expect(h.states).toEqual(['off', 'running']);
    await h.until((x) => x.output.includes('> '), 'the monitor prompt');
    expect(h.output).toContain('visor86 stand-in monitor ready');

    h.send({ type: 'serial-input', bytes: text('echo hello from the host\r') });
    await h.until((x) => x.output.includes('hello from the host\r\n> '), 'the echo');

    h.send({ type: 'pause' });
    expect(h.states.at(-1)).toBe('paused');
    const paused = h.lastStats()!.instructions;
    await new Promise((r) => setTimeout(r, 1200));
    expect(h.lastStats()!.instructions).toBe(paused);
    expect(h.lastStats()!.mips).toBe(0);

    h.send({ type: 'resume' });
    h.send({ type: 'serial-input', bytes: text('ver\r') });
    await h.until((x) => x.output.includes('stand-in monitor 1.0'), 'the answer after resuming');

    h.send({ type: 'reset' });
    const before = h.output.length;
    await h.until((x) => x.output.slice(before).includes('monitor ready'), 'the banner after reset');

    h.send({ type: 'power-off' });
    expect(h.states.at(-1)).toBe('off');
    h.send({ type: 'pause' });
    expect(h.errors.at(-1)).toBe('cannot pause a VM that is powered off');
  });

  it('feeds long input through the 16-byte FIFO without losing characters', async () => {
    const h = start(standInConfig('monitor'));
    h.send({ type: 'power-on' });
    await h.until((x) => x.output.includes('> '), 'the prompt');
    const line = 'echo ' + 'abcdefghij'.repeat(6);
    h.send({ type: 'serial-input', bytes: text(line + '\r') });
    await h.until((x) => x.output.includes('abcdefghij'.repeat(6) + '\r\n> '), 'the whole line echoed back');
  });

  it('paces an idle guest to the wall clock and sleeps instead of spinning', async () => {
    const h = start(standInConfig('monitor'));
    h.send({ type: 'power-on' });
    await h.until((x) => (x.lastStats()?.wallUptimeMs ?? 0) > 2500, 'three seconds of statistics', 10_000);
    const stats = h.lastStats()!;
    // The PIT ticks at 100 Hz in virtual time; paced, virtual time keeps up with the wall clock, no more.
    expect(stats.virtualUptimeMs).toBeLessThan(stats.wallUptimeMs + 150);
    expect(stats.virtualUptimeMs).toBeGreaterThan(stats.wallUptimeMs - 600);
    expect(stats.cpuPercent).toBeLessThan(30);
    expect(stats.irqCounts[0]).toBeGreaterThan(150);
    expect(stats.memoryUsedMiB).toBeGreaterThan(0);
  });

  it('stops running a guest halted for good (hello: CLI; HLT) and uses no CPU', async () => {
    const binary = new Uint8Array(
      readFileSync(join(import.meta.dirname, '..', '..', 'images', 'hello', 'hello.bin')),
    );
    const image = new Uint8Array(1474560);
    image.set(binary);
    const h = start({ name: 'hello', memoryMiB: 4, diskMiB: 0, media: { kind: 'floppy', image } });
    h.send({ type: 'power-on' });
    await h.until((x) => x.output.includes('hello: done'), 'the BIOS boot and the banner');
    await h.until((x) => x.lastStats()?.waiting === true, 'the runner to notice the halt');
    const stats = h.lastStats()!;
    await new Promise((r) => setTimeout(r, 1100));
    expect(h.lastStats()!.instructions).toBe(stats.instructions);
    expect(h.lastStats()!.cpuPercent).toBeLessThan(5);
    expect(h.lastStats()!.diskReads).toBeGreaterThan(0);
    expect(h.output).toContain('visor86 BIOS');
  });

  it('runs a busy guest flat out and still takes commands between slices', async () => {
    const h = start(standInConfig('spin'));
    h.send({ type: 'power-on' });
    await h.until((x) => x.output.includes('spin 1\r\n'), 'the first spin report');
    await h.until((x) => (x.lastStats()?.mips ?? 0) > 0, 'a statistics tick');
    expect(h.lastStats()!.cpuPercent).toBeGreaterThan(50);
    h.send({ type: 'power-off' });
    expect(h.states.at(-1)).toBe('off');
  });

  it('powers off when the guest exits through isa-debug-exit', async () => {
    const kernel = new Uint8Array(
      readFileSync(join(import.meta.dirname, '..', 'machine', 'fixtures', 'tiny-multiboot.bin')),
    );
    const h = start({ name: 'tiny', memoryMiB: 4, diskMiB: 0, media: { kind: 'multiboot', kernel } });
    h.send({ type: 'power-on' });
    await h.until((x) => x.states.at(-1) === 'off' && x.states.length === 3, 'the guest to power off');
    expect(h.messages.find((m) => m.type === 'state' && m.reason?.includes('exit status 11'))).toBeDefined();
    expect(h.output).toContain('magic=2badb002');
  });

  it('reports a crash of the emulator with the CPU position and stays usable', async () => {
    const h = start(standInConfig('spin'));
    h.send({ type: 'power-on' });
    await h.until((x) => x.output.includes('spin'), 'the banner');
    // Make the machine throw as an emulator bug would.
    const pc = (h.runner as unknown as { pc: { run: () => never } }).pc;
    pc.run = () => {
      throw new Error('unimplemented opcode 0F FF');
    };
    await h.until((x) => x.states.at(-1) === 'crashed', 'the crash');
    expect(h.errors.at(-1)).toMatch(/^guest crashed: unimplemented opcode 0F FF \(EIP=[0-9a-f]{8}\)$/);
    h.send({ type: 'power-on' });
    expect(h.states.at(-1)).toBe('running');
  });

  it('sends the text screen when it changes', async () => {
    const h = start(standInConfig('vga'));
    h.send({ type: 'set-view', screen: 'live' });
    h.send({ type: 'power-on' });
    await h.until((x) => x.messages.filter((m) => m.type === 'screen').length >= 3, 'three screen frames');
    const frames = h.messages.filter((m) => m.type === 'screen').map((m) => m.frame);
    const last = frames.at(-1)!;
    expect([last.cols, last.rows]).toEqual([80, 25]);
    const row1 = Array.from(last.cells.subarray(80, 160), (c) => String.fromCharCode(c & 0xff)).join('');
    expect(row1).toContain('visor86 stand-in VGA text screen');
    expect(last.cells[80 + 2] >> 8).toBe(0x1e);
    expect(last.palette).toHaveLength(16);
    expect(new Set(frames.map((f) => f.generation)).size).toBe(frames.length);
  });

  it('takes keys and Ctrl-Alt-Del into the keyboard controller', () => {
    const h = start(standInConfig('monitor'));
    h.send({ type: 'power-on' });
    h.send({ type: 'key', code: 'KeyA', down: true });
    h.send({ type: 'key', code: 'KeyA', down: false });
    h.send({ type: 'ctrl-alt-del' });
    expect(h.errors).toEqual([]);
    expect(h.messages.some((m) => m.type === 'log' && m.text === 'sent Ctrl-Alt-Del')).toBe(true);
  });
});
