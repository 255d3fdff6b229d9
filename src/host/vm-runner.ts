/**
 * One VM's machine and its run loop: what a VM's Worker does, written without the Worker globals so the
 * tests can drive it in-process (vm-worker.ts only wires `onmessage` and `postMessage` to it).
 *
 * The run loop executes the guest in slices sized to about SLICE_TARGET_MS of wall time and returns to the
 * event loop between slices, so commands (pause, input, power off) get in within a slice. After each slice
 * it posts the batched serial output, and the text screen when it changed (throttled); a 1 Hz timer posts
 * statistics, which also serve the page as a heartbeat.
 *
 * Pacing (on by default): virtual time may not run ahead of the wall clock. A busy guest is slower than the
 * nominal 100 MIPS of the virtual clock, so it never waits and runs flat out; a guest sleeping in HLT would
 * otherwise skip from timer tick to timer tick as fast as the host allows (100% of a core to show a
 * prompt), and its clock would race ahead of the learner's. With pacing it sleeps until real time catches up.
 * When the guest falls behind (busy, or the tab was in the background) the lag is forgiven after MAX_LAG_MS
 * instead of being made up in a burst. A guest halted with nothing to wake it (`pc.run` returns 'idle')
 * stops the loop entirely until input arrives.
 *
 * Snapshots: `snapshot-take` captures the machine (Pc.saveState, synchronously between two slices, so the
 * state is consistent) and the disks' written sectors, then encodes both as snapshot containers while the
 * guest goes on running. `snapshot-load` decodes and checks everything, builds the machine on fresh disks
 * and loads the state into it, and only then replaces the running machine: a bad file changes nothing.
 * Commands that need to wait for encoding or decoding are handled one at a time; those arriving meanwhile
 * are queued in order.
 */
import type { Pc } from '../machine/pc.ts';
import { decodeSnapshot, encodeSnapshot } from '../machine/snapshot-file.ts';
import type { DeviceState } from '../devices/device.ts';
import { NS_PER_INSTRUCTION } from '../machine/clock.ts';
import {
  buildMachine,
  checkConfig,
  createDisks,
  loadSaved,
  resetNeedsRebuild,
  writtenLayer,
  type MachineHooks,
  type VmDisks,
} from './boot.ts';
import type {
  HostToVm,
  LogLevel,
  ScreenRate,
  SnapshotPowerState,
  VmConfig,
  VmStats,
  VmToHost,
} from './protocol.ts';
import { describeMedia } from './media.ts';
import { layerFromState, layerToState, type DiskLayer } from './disk-layer.ts';

/** Wall time one slice aims for: short enough that commands feel immediate, long enough to amortise. */
export const SLICE_TARGET_MS = 12;
const MIN_SLICE = 5_000;
const MAX_SLICE = 40_000_000;
/** How far virtual time may trail the wall clock before the difference is forgiven. */
export const MAX_LAG_MS = 250;
/** Screen frames per second while the page shows the screen, and while it does not. */
export const SCREEN_HZ: Record<ScreenRate, number> = { live: 15, background: 1 };
export const STATS_INTERVAL_MS = 1000;
/** RAM scanned per statistics tick for the "memory used" estimate. */
const SCAN_BYTES_PER_TICK = 16 * 1024 * 1024;
const PAGE = 4096;

/** What the runner needs from its surroundings (a Worker, or a test). */
export interface RunnerEnv {
  post(message: VmToHost, transfer?: Transferable[]): void;
  /** Wall-clock milliseconds (performance.now()). */
  now(): number;
  /** Calls `fn` after `delayMs` (0: as soon as pending messages were handled). Returns a cancel function. */
  schedule(fn: () => void, delayMs: number): () => void;
}

type RunnerState = 'off' | 'running' | 'paused' | 'crashed';

export class VmRunner {
  private config: VmConfig | null = null;
  private disks: VmDisks | null = null;
  /** The disk layer the VM was created with (restored from storage), applied again after a crash. */
  private initialDisk: DiskLayer | undefined;
  /** An asynchronous command in progress, and the commands that arrived meanwhile. */
  private busy = false;
  private readonly queue: HostToVm[] = [];
  private pc: Pc | null = null;
  private state: RunnerState = 'off';

  private cancelTick: (() => void) | null = null;
  private cancelStats: (() => void) | null = null;
  /** Halted with nothing to wake it but input. */
  private waiting = false;
  private sliceInstructions = 200_000;

  // Pacing: virtual ns and wall ms that correspond.
  private paceVirtualNs = 0;
  private paceWallMs = 0;

  // Output batching.
  private output: Uint8Array[] = [];
  private outputBytes = 0;
  private input: Uint8Array[] = [];
  private debugLine = '';

  // Screen.
  private screenRate: ScreenRate = 'background';
  private lastScreenMs = -Infinity;
  private lastScreenGeneration = -1;

  // Statistics.
  private poweredOnMs = 0;
  private busyMs = 0;
  private lastStatsMs = 0;
  private lastStatsInstructions = 0;
  private touchedPages: Uint8Array | null = null;
  private touchedCount = 0;
  private scanPage = 0;

  constructor(private readonly env: RunnerEnv) {}

  /**
   * Handles one message from the page. Never throws: failures become 'error' messages (with the request's
   * id when it had one). While an asynchronous command is in progress, later ones wait their turn.
   */
  handle(message: HostToVm): void {
    if (this.busy) {
      this.queue.push(message);
      return;
    }
    let pending: Promise<void> | void;
    try {
      pending = this.dispatch(message);
    } catch (e) {
      this.fail(message, e);
      return;
    }
    if (!pending) return;
    this.busy = true;
    pending
      .catch((e: unknown) => this.fail(message, e))
      .finally(() => {
        this.busy = false;
        while (!this.busy && this.queue.length > 0) this.handle(this.queue.shift()!);
      });
  }

  private fail(message: HostToVm, e: unknown): void {
    const requestId = 'requestId' in message ? message.requestId : undefined;
    this.post({ type: 'error', message: errorText(e), command: message.type, requestId });
  }

  /** Stops timers (tests; a Worker just terminates). */
  dispose(): void {
    this.stopLoop();
    this.cancelStats?.();
    this.cancelStats = null;
  }

  private dispatch(message: HostToVm): Promise<void> | void {
    if (message.type !== 'create' && !this.config) throw new Error('the VM has not been created');
    switch (message.type) {
      case 'create':
        return message.disk || message.config.media.kind === 'saved'
          ? this.createAsync(message.config, message.disk)
          : this.create(message.config);
      case 'snapshot-take':
        return this.takeSnapshot(message.requestId);
      case 'snapshot-load':
        return this.loadSnapshot(message);
      case 'disk-save':
        return this.saveDisk(message.requestId);
      case 'power-on':
        return this.powerOn();
      case 'pause':
        this.require('pause', ['running']);
        this.stopLoop();
        this.setState('paused');
        this.postStats();
        return;
      case 'resume':
        this.require('resume', ['paused']);
        this.setState('running');
        this.startLoop();
        return;
      case 'reset':
        this.require('reset', ['running', 'paused']);
        this.log('info', 'reset');
        if (this.config!.media.kind === 'saved') {
          this.stopLoop();
          return this.resumeSaved().then((pc) => {
            this.rebuild(pc);
            this.setState('running');
            this.startLoop();
          });
        }
        this.rebuild();
        this.setState('running');
        this.startLoop();
        return;
      case 'power-off':
        this.require('power off', ['running', 'paused']);
        this.powerOff('powered off');
        return;
      case 'serial-input':
        if (!this.pc) return;
        this.input.push(message.bytes);
        this.feedInput();
        this.wake();
        return;
      case 'key':
        if (!this.pc) return;
        if (message.down) this.pc.keyboardController.keyboard.keyDown(message.code);
        else this.pc.keyboardController.keyboard.keyUp(message.code);
        this.wake();
        return;
      case 'ctrl-alt-del':
        this.require('send Ctrl-Alt-Del', ['running']);
        this.pc!.keyboardController.keyboard.sendCtrlAltDel();
        this.log('info', 'sent Ctrl-Alt-Del');
        this.wake();
        return;
      case 'set-view':
        this.screenRate = message.screen;
        if (this.pc) this.maybePostScreen(true);
        return;
    }
  }

  private require(action: string, states: RunnerState[]): void {
    if (!states.includes(this.state)) {
      throw new Error(`cannot ${action} a VM that is ${this.state === 'off' ? 'powered off' : this.state}`);
    }
  }

  /** Creation that decodes first: saved disks (a VM restored after a reload), a saved machine. */
  private async createAsync(config: VmConfig, disk: Uint8Array | undefined): Promise<void> {
    if (this.config) throw new Error('the VM already exists');
    checkConfig(config);
    const saved = disk ? await decodeDisk(disk) : undefined;
    if (config.media.kind === 'saved') {
      // Load the machine once to prove it fits (hash, version, memory size, firmware, media slots).
      await loadSaved(config, createDisks(config, saved), { onSerialOutput: () => {} });
    }
    this.create(config, saved);
  }

  private create(config: VmConfig, saved?: DiskLayer): void {
    if (this.config) throw new Error('the VM already exists');
    checkConfig(config);
    const disks = createDisks(config, saved);
    // Build once to prove the media loads (a kernel too big for the RAM fails here, not at power-on).
    buildMachine(config, disks, { onSerialOutput: () => {} });
    this.config = config;
    this.disks = disks;
    this.initialDisk = saved;
    this.cancelStats = this.env.schedule(this.statsTick, STATS_INTERVAL_MS);
    this.setState('off');
  }

  private powerOn(): Promise<void> | void {
    this.require('power on', ['off', 'crashed']);
    const config = this.config!;
    // A crash may have left the disks half-written: back to what the VM was created with.
    if (this.state === 'crashed') this.disks = createDisks(config, this.initialDisk);
    // A saved machine starts where it was saved; anything else boots its media.
    if (config.media.kind === 'saved') return this.resumeSaved().then((pc) => this.poweredOn(pc));
    this.poweredOn(null);
  }

  private poweredOn(pc: Pc | null): void {
    const config = this.config!;
    this.rebuild(pc ?? undefined);
    this.poweredOnMs = this.env.now();
    this.busyMs = 0;
    this.lastStatsMs = this.poweredOnMs;
    this.lastStatsInstructions = this.pc!.cpu.instructionCount;
    this.log('info', `powered on: ${config.memoryMiB} MiB, ${describeMedia(config.media)}`);
    this.setState('running');
    this.startLoop();
  }

  /** The VM's saved machine, loaded onto a fresh board with the VM's disks ('saved' media). */
  private resumeSaved(): Promise<Pc> {
    return loadSaved(this.config!, this.disks!, this.hooks);
  }

  /**
   * Makes a fresh machine the VM's (power-on, reset, and guest resets of direct boots): `pc` when given
   * (a saved machine, loaded), otherwise built from the configuration.
   */
  private rebuild(pc?: Pc): void {
    this.stopLoop();
    this.pc = null;
    this.input = [];
    this.attach(pc ?? buildMachine(this.config!, this.disks!, this.hooks));
  }

  /** Makes `pc` the VM's machine (freshly built, or with a snapshot loaded). */
  private attach(pc: Pc): void {
    this.pc = pc;
    this.touchedPages = new Uint8Array(pc.memory.ramSize / PAGE);
    this.touchedCount = 0;
    this.scanPage = 0;
    this.lastScreenGeneration = -1;
    this.rebasePacing();
  }

  private readonly hooks: MachineHooks = {
    onSerialOutput: (com, bytes) => {
      if (com === 0) {
        this.output.push(bytes);
        this.outputBytes += bytes.length;
      }
    },
    onDebugOutput: (byte) => {
      if (byte === 10) {
        this.log('info', `debug port: ${this.debugLine}`);
        this.debugLine = '';
      } else if (this.debugLine.length < 200) this.debugLine += String.fromCharCode(byte);
    },
  };

  // ---- snapshots and disks ----

  private async takeSnapshot(requestId: number): Promise<void> {
    this.require('take a snapshot of', ['off', 'running', 'paused']);
    this.flushOutput(); // the page has everything the guest wrote before this point
    const powerState: SnapshotPowerState = this.pc ? (this.state as SnapshotPowerState) : 'off';
    const machineState = this.pc ? this.pc.saveState() : null;
    const layer = writtenLayer(this.disks!);
    const machine = machineState ? await encodeSnapshot(machineState) : null;
    const disk = await encodeSnapshot(layerToState(layer));
    this.post({ type: 'snapshot-data', requestId, powerState, machine, disk }, [
      disk.buffer as ArrayBuffer,
      ...(machine ? [machine.buffer as ArrayBuffer] : []),
    ]);
    this.log(
      'info',
      `snapshot taken (${powerState === 'off' ? 'powered off, disks only' : `${powerState}, with memory`})`,
    );
  }

  private async loadSnapshot(message: Extract<HostToVm, { type: 'snapshot-load' }>): Promise<void> {
    if (this.state === 'crashed') throw new Error('cannot revert a crashed VM: power it on or off first');
    const config = this.config!;
    // Decode and check everything, and build the new machine aside; the VM changes only once all worked.
    const layer = await decodeDisk(message.disk);
    const disks = createDisks(config, layer);
    let pc: Pc | null = null;
    if (message.machine) {
      if (message.powerState === 'off')
        throw new Error('a powered-off snapshot has no machine state to load');
      let state: DeviceState;
      try {
        state = (await decodeSnapshot(message.machine)) as DeviceState;
      } catch (e) {
        throw new Error(`the snapshot's machine state is unreadable: ${errorText(e)}`);
      }
      pc = buildMachine(config, disks, this.hooks);
      pc.loadState(state);
    } else if (message.powerState !== 'off') {
      throw new Error(`a ${message.powerState} snapshot needs its machine state`);
    }
    this.stopLoop();
    this.flushOutput();
    const wasOn = this.pc !== null;
    this.disks = disks;
    this.input = [];
    this.waiting = false;
    this.pc = null;
    if (!pc) {
      this.postStats();
      this.log('info', 'reverted to a powered-off snapshot');
      this.setState('off', 'reverted to a snapshot');
    } else {
      this.attach(pc);
      if (!wasOn) {
        this.poweredOnMs = this.env.now();
        this.lastStatsMs = this.poweredOnMs;
        this.busyMs = 0;
      }
      this.lastStatsInstructions = pc.cpu.instructionCount;
      this.log('info', `reverted to a snapshot (${message.powerState})`);
      this.setState(message.powerState);
      if (message.powerState === 'running') this.startLoop();
      this.maybePostScreen(true);
      this.postStats();
    }
    this.post({ type: 'done', requestId: message.requestId });
  }

  private async saveDisk(requestId: number): Promise<void> {
    const disk = await encodeSnapshot(layerToState(writtenLayer(this.disks!)));
    this.post({ type: 'disk-data', requestId, disk }, [disk.buffer as ArrayBuffer]);
  }

  private powerOff(reason: string): void {
    this.stopLoop();
    this.flushOutput();
    this.postStats();
    this.pc = null;
    this.input = [];
    this.log('info', reason);
    this.setState('off', reason);
  }

  private crash(error: unknown): void {
    this.stopLoop();
    this.flushOutput();
    const pc = this.pc;
    const where = pc ? ` (EIP=${(pc.cpu.eip >>> 0).toString(16).padStart(8, '0')})` : '';
    const message = `guest crashed: ${errorText(error)}${where}`;
    this.pc = null;
    this.log('error', message);
    this.post({ type: 'error', message });
    this.setState('crashed', message);
  }

  private setState(state: RunnerState, reason?: string): void {
    this.state = state;
    this.post({ type: 'state', state, reason });
  }

  private log(level: LogLevel, text: string): void {
    this.post({ type: 'log', level, text });
  }

  private post(message: VmToHost, transfer?: Transferable[]): void {
    this.env.post(message, transfer);
  }

  // ---- the run loop ----

  private startLoop(): void {
    this.waiting = false;
    this.rebasePacing();
    this.scheduleTick(0);
  }

  private stopLoop(): void {
    this.cancelTick?.();
    this.cancelTick = null;
  }

  private scheduleTick(delayMs: number): void {
    this.cancelTick?.();
    this.cancelTick = this.env.schedule(this.tick, delayMs);
  }

  /** Input or a key arrived: a guest waiting in HLT may have something to do now. */
  private wake(): void {
    if (this.state === 'running' && this.waiting) {
      this.waiting = false;
      this.scheduleTick(0);
    }
  }

  private rebasePacing(): void {
    this.paceVirtualNs = this.pc ? this.pc.clock.now() : 0;
    this.paceWallMs = this.env.now();
  }

  private readonly tick = (): void => {
    this.cancelTick = null;
    const pc = this.pc;
    if (this.state !== 'running' || !pc) return;
    const start = this.env.now();
    if (this.config!.pace !== false) {
      const virtualMs = (pc.clock.now() - this.paceVirtualNs) / 1e6;
      const ahead = virtualMs - (start - this.paceWallMs);
      if (ahead >= 1) {
        this.scheduleTick(Math.min(ahead, 100));
        return;
      }
      if (ahead < -MAX_LAG_MS) this.rebasePacing();
    }
    const before = pc.cpu.instructionCount;
    let reason;
    try {
      reason = this.runSlice(pc);
    } catch (e) {
      this.crash(e);
      return;
    }
    const end = this.env.now();
    const elapsed = end - start;
    this.busyMs += elapsed;
    const executed = pc.cpu.instructionCount - before;
    this.adaptSlice(executed, elapsed);
    // Instructions executed faster than the virtual clock's nominal rate move virtual time ahead of the wall
    // clock; that part is forgiven, as lag is, so a busy guest runs flat out. Only time skipped while the
    // guest waits in HLT is held back to the wall clock.
    const excessMs = (executed * NS_PER_INSTRUCTION) / 1e6 - elapsed;
    if (excessMs > 0) this.paceVirtualNs += excessMs * 1e6;

    switch (reason) {
      case 'exit':
        this.powerOff(`the guest powered off (exit status ${pc.exitStatus})`);
        return;
      case 'reset':
        this.log('info', 'the guest reset the machine');
        if (this.config!.media.kind === 'saved') {
          // This VM starts by resuming its saved machine: do that again (asynchronously, in turn).
          this.flushOutput();
          this.stopLoop();
          this.handle({ type: 'reset' });
          return;
        }
        if (resetNeedsRebuild(this.config!.media)) this.rebuild();
        break;
      case 'idle':
        this.waiting = true;
        break;
    }
    this.flushOutput();
    this.maybePostScreen(false);
    if (!this.waiting) this.scheduleTick(0);
  };

  /** Runs one slice; with input queued, in smaller steps so the UART's FIFO is refilled as the guest reads. */
  private runSlice(pc: Pc): ReturnType<Pc['run']> {
    if (this.input.length === 0) return pc.run(this.sliceInstructions);
    const step = Math.max(MIN_SLICE, this.sliceInstructions >> 4);
    let reason: ReturnType<Pc['run']> = 'budget';
    for (let done = 0; done < this.sliceInstructions; done += step) {
      reason = pc.run(step);
      this.feedInput();
      if (reason !== 'budget' && !(reason === 'idle' && this.input.length > 0)) break;
    }
    return reason;
  }

  /** Moves queued input into COM1's receiver, as much as its FIFO has room for. */
  private feedInput(): void {
    const pc = this.pc;
    if (!pc) return;
    const uart = pc.uarts[0];
    while (this.input.length > 0) {
      const space = uart.rxSpace();
      if (space <= 0) return;
      const chunk = this.input[0];
      const n = Math.min(space, chunk.length);
      pc.sendSerial(0, chunk.subarray(0, n));
      if (n === chunk.length) this.input.shift();
      else this.input[0] = chunk.subarray(n);
    }
  }

  /** Sizes the next slice from the instruction rate of this one (only slices that mostly executed count). */
  private adaptSlice(executed: number, elapsedMs: number): void {
    if (elapsedMs < 2 || executed < this.sliceInstructions / 2) return;
    const target = (executed / elapsedMs) * SLICE_TARGET_MS;
    const next = this.sliceInstructions * 0.5 + target * 0.5;
    this.sliceInstructions = Math.round(Math.max(MIN_SLICE, Math.min(MAX_SLICE, next)));
  }

  private flushOutput(): void {
    if (this.outputBytes === 0) return;
    let bytes: Uint8Array;
    if (this.output.length === 1) bytes = this.output[0];
    else {
      bytes = new Uint8Array(this.outputBytes);
      let at = 0;
      for (const chunk of this.output) {
        bytes.set(chunk, at);
        at += chunk.length;
      }
    }
    this.output = [];
    this.outputBytes = 0;
    this.post({ type: 'serial-output', bytes }, [bytes.buffer as ArrayBuffer]);
  }

  private maybePostScreen(force: boolean): void {
    const pc = this.pc;
    if (!pc) return;
    const now = this.env.now();
    if (!force && now - this.lastScreenMs < 1000 / SCREEN_HZ[this.screenRate]) return;
    const snapshot = pc.vga.textSnapshot();
    if (snapshot.generation === this.lastScreenGeneration) return;
    this.lastScreenMs = now;
    this.lastScreenGeneration = snapshot.generation;
    const cells = snapshot.cells.slice(); // the VGA keeps its array: send a copy the page may own
    this.post(
      {
        type: 'screen',
        frame: {
          cols: snapshot.cols,
          rows: snapshot.rows,
          cells,
          cursor: { row: snapshot.cursor.row, col: snapshot.cursor.col, visible: snapshot.cursor.visible },
          blink: snapshot.blink,
          blank: snapshot.blank,
          palette: Array.from(pc.vga.textPalette()),
          generation: snapshot.generation,
        },
      },
      [cells.buffer],
    );
  }

  // ---- statistics ----

  private readonly statsTick = (): void => {
    this.cancelStats = this.env.schedule(this.statsTick, STATS_INTERVAL_MS);
    this.scanMemory();
    this.postStats();
  };

  private postStats(): void {
    const pc = this.pc;
    const now = this.env.now();
    const interval = Math.max(1, now - this.lastStatsMs);
    const instructions = pc ? pc.cpu.instructionCount : 0;
    const running = this.state === 'running';
    const stats: VmStats = {
      instructions,
      mips: running ? (instructions - this.lastStatsInstructions) / interval / 1000 : 0,
      cpuPercent: running ? Math.min(100, (this.busyMs / interval) * 100) : 0,
      virtualUptimeMs: pc ? pc.clock.now() / 1e6 : 0,
      wallUptimeMs: pc ? now - this.poweredOnMs : 0,
      irqCounts: pc ? Array.from(pc.pic.irqCounts) : new Array<number>(16).fill(0),
      diskReads: 0,
      diskWrites: 0,
      memoryUsedMiB: pc ? (this.touchedCount * PAGE) / (1024 * 1024) : 0,
      waiting: this.waiting,
    };
    for (const disk of [...(this.disks?.hard ?? []), ...(this.disks?.floppies ?? [])]) {
      if (!disk) continue;
      stats.diskReads += disk.sectorsRead;
      stats.diskWrites += disk.sectorsWritten;
    }
    this.lastStatsMs = now;
    this.lastStatsInstructions = instructions;
    this.busyMs = 0;
    this.post({ type: 'stats', stats });
  }

  /** Checks the next part of RAM for pages the guest has touched (any non-zero byte). */
  private scanMemory(): void {
    const pc = this.pc;
    const touched = this.touchedPages;
    if (!pc || !touched) return;
    const ram = pc.memory.ram;
    const words = new Uint32Array(ram.buffer, ram.byteOffset, ram.byteLength >>> 2);
    const pages = touched.length;
    const count = Math.min(pages, SCAN_BYTES_PER_TICK / PAGE);
    for (let i = 0; i < count; i++) {
      const page = this.scanPage;
      this.scanPage = (page + 1) % pages;
      let used = 0;
      for (let w = page * (PAGE / 4), end = w + PAGE / 4; w < end; w++) {
        if (words[w] !== 0) {
          used = 1;
          break;
        }
      }
      if (used !== touched[page]) {
        this.touchedCount += used ? 1 : -1;
        touched[page] = used;
      }
    }
  }
}

/** A disk layer from its snapshot container; throws a message that says what is wrong with it. */
async function decodeDisk(bytes: Uint8Array): Promise<DiskLayer> {
  try {
    return layerFromState(await decodeSnapshot(bytes));
  } catch (e) {
    throw new Error(`the saved disks are unreadable: ${errorText(e)}`);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
