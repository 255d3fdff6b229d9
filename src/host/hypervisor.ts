/**
 * The hypervisor, page side: the registry of VMs, their lifecycle, one Worker each, crash detection and the
 * host's aggregate statistics. It knows nothing of the DOM; the UI subscribes to its events.
 *
 * A VM's worker lives from creation until the VM is deleted or crashes: it keeps the VM's disks across
 * power cycles. A worker that throws, or stops sending its 1 Hz statistics for HEARTBEAT_TIMEOUT_MS while
 * the machine should be running, is terminated and its VM shown as crashed, with its last log lines and
 * console output kept for the crash panel. Powering a crashed VM on spawns a fresh worker.
 *
 * Snapshots (the tree and storage are vm-store.ts's): `captureSnapshot` asks the worker for the machine and
 * disks as snapshot containers, `loadSnapshot` has it revert to them, `saveDisks` fetches the disks alone.
 * Each is a request with an id that the worker answers (or refuses with an error carrying the id); a worker
 * that dies or is let go meanwhile rejects the requests it had.
 */
import type {
  HostToVm,
  LogLevel,
  PowerAction,
  ScreenFrame,
  ScreenRate,
  SnapshotPowerState,
  VmConfig,
  VmState,
  VmStats,
  VmToHost,
} from './protocol.ts';
import { canDelete, isAllowed, isPoweredOn } from './lifecycle.ts';

/** What the hypervisor needs of a Worker (a real one, or an in-process stand-in in tests). */
export interface WorkerLike {
  postMessage(message: HostToVm, transfer?: Transferable[]): void;
  terminate(): void;
  onmessage: ((event: MessageEvent<VmToHost>) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
}

export type SpawnWorker = () => WorkerLike;

/** Spawns a real VM worker (Vite bundles vm-worker.ts and its imports as a module worker). */
export function spawnVmWorker(): WorkerLike {
  return new Worker(new URL('./vm-worker.ts', import.meta.url), {
    type: 'module',
    name: 'visor86-vm',
  }) as unknown as WorkerLike;
}

export const HEARTBEAT_TIMEOUT_MS = 15_000;
/** How long a worker has to confirm a power-off before it is terminated (pulling the plug). */
export const POWER_OFF_TIMEOUT_MS = 3000;
export const CREATE_TIMEOUT_MS = 30_000;
/** How long a snapshot request may take (encoding a large RAM image is the slow part). */
export const REQUEST_TIMEOUT_MS = 120_000;
const LOG_LINES = 200;
const CONSOLE_TAIL_CHARS = 4000;
export const HISTORY_POINTS = 60;

export interface LogLine {
  time: number;
  level: LogLevel;
  text: string;
}

export interface VmRecord {
  readonly id: string;
  name: string;
  /** What it boots, for the VM list ("monitor", "bzImage + initrd.gz"). */
  readonly image: string;
  /** Where the guest talks to the user, when known (catalog guests): its console opens on that view. */
  readonly console: 'serial' | 'vga' | undefined;
  readonly config: VmConfig;
  state: VmState;
  /** Why it is in this state (the guest powered off, the crash message). */
  reason: string;
  stats: VmStats;
  /** MIPS over the last HISTORY_POINTS seconds. */
  mipsHistory: number[];
  log: LogLine[];
  /** The last characters of COM1 output (for the crash panel). */
  consoleTail: string;
  screen: ScreenFrame | null;
  /** The guest has drawn on the VGA text screen (the page offers the screen view). */
  usesScreen: boolean;
  /** The guest has written to COM1. */
  usesSerial: boolean;
  readonly createdAt: number;
  /** When the VM last entered its state (wall ms). */
  stateSince: number;
}

export type HypervisorEvent =
  | { type: 'added'; vm: VmRecord }
  | { type: 'removed'; vm: VmRecord }
  | { type: 'changed'; vm: VmRecord }
  | { type: 'stats'; vm: VmRecord }
  | { type: 'log'; vm: VmRecord; line: LogLine }
  | { type: 'serial'; vm: VmRecord; bytes: Uint8Array }
  | { type: 'screen'; vm: VmRecord; frame: ScreenFrame };

export interface HostSummary {
  total: number;
  byState: Record<VmState, number>;
  memoryAssignedMiB: number;
  /** RAM of the VMs that are powered on (their machines exist). */
  memoryReservedMiB: number;
  /** RAM the running guests have touched. */
  memoryUsedMiB: number;
  mips: number;
  /** Sum of the workers' CPU use, as a share of one core (may exceed 100). */
  cpuPercent: number;
}

export function emptyStats(): VmStats {
  return {
    instructions: 0,
    mips: 0,
    cpuPercent: 0,
    virtualUptimeMs: 0,
    wallUptimeMs: 0,
    irqCounts: new Array<number>(16).fill(0),
    diskReads: 0,
    diskWrites: 0,
    memoryUsedMiB: 0,
    waiting: false,
  };
}

interface VmInternal {
  record: VmRecord;
  worker: WorkerLike | null;
  lastMessage: number;
  screenRate: ScreenRate;
  /** The disks the VM was created with or last saved (a layer container), for a worker started again. */
  disk: Uint8Array | undefined;
}

/** The machine and disks of a VM at one moment, as the worker sent them (snapshot containers). */
export interface CapturedState {
  powerState: SnapshotPowerState;
  machine: Uint8Array | null;
  disk: Uint8Array;
}

type Answer = Extract<VmToHost, { requestId: number }>;

interface PendingRequest {
  vm: VmInternal;
  resolve: (answer: Answer) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export interface HypervisorOptions {
  now?: () => number;
  heartbeatTimeoutMs?: number;
  createTimeoutMs?: number;
  powerOffTimeoutMs?: number;
  /** Whether to start the heartbeat watchdog timer (tests drive `checkHeartbeats` themselves). */
  watchdog?: boolean;
}

export class Hypervisor {
  private readonly vms = new Map<string, VmInternal>();
  private readonly listeners = new Set<(event: HypervisorEvent) => void>();
  private readonly now: () => number;
  private readonly heartbeatTimeoutMs: number;
  private readonly createTimeoutMs: number;
  private readonly powerOffTimeoutMs: number;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private nextId = 1;
  private nextRequest = 1;
  private readonly pending = new Map<number, PendingRequest>();
  readonly startedAt: number;

  constructor(
    private readonly spawn: SpawnWorker = spawnVmWorker,
    options: HypervisorOptions = {},
  ) {
    this.now = options.now ?? (() => Date.now());
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    this.createTimeoutMs = options.createTimeoutMs ?? CREATE_TIMEOUT_MS;
    this.powerOffTimeoutMs = options.powerOffTimeoutMs ?? POWER_OFF_TIMEOUT_MS;
    this.startedAt = this.now();
    if (options.watchdog !== false) this.watchdog = setInterval(() => this.checkHeartbeats(), 2000);
  }

  /** Terminates every worker (page unload, tests). */
  dispose(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    for (const vm of this.vms.values()) vm.worker?.terminate();
    this.vms.clear();
  }

  subscribe(listener: (event: HypervisorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): VmRecord[] {
    return [...this.vms.values()].map((vm) => vm.record);
  }

  get(id: string): VmRecord | undefined {
    return this.vms.get(id)?.record;
  }

  /**
   * Creates a VM: spawns its worker and has it check and load the media. Resolves once the worker
   * accepted the configuration; rejects with the worker's message (and leaves nothing behind) when not.
   */
  createVm(
    config: VmConfig,
    image: string,
    options: {
      console?: 'serial' | 'vga';
      /** Keep this id (a VM restored from storage); otherwise a new one. */
      id?: string;
      /** Saved disks (a disk layer container) to start from instead of the bare images. */
      disk?: Uint8Array;
      /** When the VM was first created (restored VMs keep theirs). */
      createdAt?: number;
    } = {},
  ): Promise<VmRecord> {
    const name = config.name.trim();
    if (!name) return Promise.reject(new Error('the VM needs a name'));
    if (this.list().some((vm) => vm.name === name)) {
      return Promise.reject(new Error(`there is already a VM named "${name}"`));
    }
    if (options.id !== undefined && (this.vms.has(options.id) || !/^[\w-]{1,64}$/.test(options.id))) {
      return Promise.reject(new Error(`VM id "${options.id}" is taken or not valid`));
    }
    const id = options.id ?? this.freshId();
    const now = options.createdAt ?? this.now();
    const record: VmRecord = {
      id,
      name,
      image,
      console: options.console,
      config: { ...config, name },
      state: 'off',
      reason: '',
      stats: emptyStats(),
      mipsHistory: [],
      log: [],
      consoleTail: '',
      screen: null,
      usesScreen: false,
      usesSerial: false,
      createdAt: now,
      stateSince: now,
    };
    const vm: VmInternal = {
      record,
      worker: null,
      lastMessage: this.now(),
      screenRate: 'background',
      disk: options.disk,
    };
    return new Promise<VmRecord>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => fail(new Error('the VM worker did not answer')), this.createTimeoutMs);
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        vm.worker?.terminate();
        reject(error);
      };
      let worker: WorkerLike;
      try {
        worker = this.startWorker(vm, (message) => {
          if (settled) return false;
          if (message.type === 'error') fail(new Error(message.message));
          else if (message.type === 'state') {
            settled = true;
            clearTimeout(timer);
            this.vms.set(id, vm);
            this.emit({ type: 'added', vm: record });
            resolve(record);
          }
          return true;
        });
      } catch (e) {
        fail(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      worker.postMessage({ type: 'create', config: record.config, disk: vm.disk });
    });
  }

  /** A VM id not in use: vm1, vm2, ... (restored VMs keep theirs, so skip those). */
  private freshId(): string {
    for (;;) {
      const id = `vm${this.nextId++}`;
      if (!this.vms.has(id)) return id;
    }
  }

  /** Spawns a worker for `vm`; `intercept` sees each message first and may swallow it (creation). */
  private startWorker(vm: VmInternal, intercept?: (message: VmToHost) => boolean): WorkerLike {
    const worker = this.spawn();
    vm.worker = worker;
    vm.lastMessage = this.now();
    worker.onmessage = (event) => {
      if (vm.worker !== worker) return; // a message from a worker we already let go
      vm.lastMessage = this.now();
      if (intercept && intercept(event.data)) return;
      this.onMessage(vm, event.data);
    };
    worker.onerror = (event) => {
      if (vm.worker !== worker) return;
      event.preventDefault?.();
      const where = event.filename ? ` (${event.filename}:${event.lineno})` : '';
      this.crash(vm, `the VM's worker died: ${event.message || 'unknown error'}${where}`);
    };
    return worker;
  }

  private onMessage(vm: VmInternal, message: VmToHost): void {
    const record = vm.record;
    switch (message.type) {
      case 'state':
        if (message.state === 'crashed') {
          this.crash(vm, message.reason ?? 'the guest crashed');
          return;
        }
        this.setState(vm, message.state, message.reason ?? '');
        return;
      case 'serial-output': {
        record.usesSerial = true;
        let text = '';
        for (let i = 0; i < message.bytes.length; i++) text += String.fromCharCode(message.bytes[i]);
        record.consoleTail = (record.consoleTail + text).slice(-CONSOLE_TAIL_CHARS);
        this.emit({ type: 'serial', vm: record, bytes: message.bytes });
        return;
      }
      case 'screen': {
        record.screen = message.frame;
        if (!record.usesScreen && screenHasContent(message.frame)) {
          record.usesScreen = true;
          this.emit({ type: 'changed', vm: record });
        }
        this.emit({ type: 'screen', vm: record, frame: message.frame });
        return;
      }
      case 'stats':
        record.stats = message.stats;
        if (record.state === 'running' || record.state === 'paused') {
          record.mipsHistory.push(message.stats.mips);
          if (record.mipsHistory.length > HISTORY_POINTS) record.mipsHistory.shift();
        }
        this.emit({ type: 'stats', vm: record });
        return;
      case 'log':
        this.addLog(vm, message.level, message.text);
        return;
      case 'error':
        if (message.requestId !== undefined && this.settle(message.requestId, new Error(message.message)))
          return;
        this.addLog(vm, 'error', message.message);
        if (record.state === 'starting' && message.command === 'power-on') {
          this.crash(vm, message.message);
        }
        return;
      case 'snapshot-data':
      case 'disk-data':
      case 'done':
        this.settle(message.requestId, message);
        return;
    }
  }

  /** Resolves (or rejects, given an Error) a pending request; false when there is none with this id. */
  private settle(requestId: number, answer: Answer | Error): boolean {
    const request = this.pending.get(requestId);
    if (!request) return false;
    this.pending.delete(requestId);
    clearTimeout(request.timer);
    if (answer instanceof Error) request.reject(answer);
    else request.resolve(answer);
    return true;
  }

  /** Rejects every request a VM's worker had open (it died, or was let go). */
  private failRequests(vm: VmInternal, reason: string): void {
    for (const [id, request] of this.pending) {
      if (request.vm === vm) this.settle(id, new Error(`${vm.record.name}: ${reason}`));
    }
  }

  /** Sends a request to the VM's worker and waits for the answer of type `answer`. */
  private request<T extends Answer['type']>(
    vm: VmInternal,
    message: Extract<HostToVm, { requestId: number }>,
    answer: T,
  ): Promise<Extract<Answer, { type: T }>> {
    const worker = vm.worker;
    if (!worker) return Promise.reject(new Error(`${vm.record.name}: the VM has no running worker`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(message.requestId, new Error(`${vm.record.name}: the VM's worker did not answer`)),
        REQUEST_TIMEOUT_MS,
      );
      this.pending.set(message.requestId, {
        vm,
        timer,
        reject,
        resolve: (a) => {
          if (a.type === answer) resolve(a as Extract<Answer, { type: T }>);
          else reject(new Error(`${vm.record.name}: unexpected answer ${a.type} to ${message.type}`));
        },
      });
      worker.postMessage(message);
    });
  }

  /**
   * The VM's machine (unless it is off) and disks now, for a snapshot. A running guest goes on running;
   * the state is taken between two run slices. Refused while starting and when crashed.
   */
  async captureSnapshot(id: string): Promise<CapturedState> {
    const vm = this.mustGet(id);
    const state = vm.record.state;
    if (state === 'starting' || state === 'crashed' || !vm.worker) {
      throw new Error(`${vm.record.name}: cannot take a snapshot of a VM that is ${state}`);
    }
    const answer = await this.request(
      vm,
      { type: 'snapshot-take', requestId: this.nextRequest++ },
      'snapshot-data',
    );
    vm.disk = answer.disk.slice();
    return { powerState: answer.powerState, machine: answer.machine, disk: answer.disk };
  }

  /**
   * Reverts the VM to a captured state: its disks become `disk`, and with a machine state it resumes
   * exactly there (running or paused as it was taken); without one it is off. A crashed VM gets a fresh
   * worker first. Rejects with the worker's message (and the VM as it was) when the state does not load.
   */
  async loadSnapshot(id: string, captured: CapturedState): Promise<void> {
    const vm = this.mustGet(id);
    if (vm.record.state === 'starting') throw new Error(`${vm.record.name}: wait until it has started`);
    if (!vm.worker) {
      // Crashed: a fresh worker, created on the snapshot's disks; the load below makes the rest.
      this.startWorker(vm).postMessage({ type: 'create', config: vm.record.config, disk: captured.disk });
    }
    await this.request(
      vm,
      {
        type: 'snapshot-load',
        requestId: this.nextRequest++,
        machine: captured.machine,
        disk: captured.disk,
        powerState: captured.powerState,
      },
      'done',
    );
    vm.disk = captured.disk;
    if (captured.powerState !== 'off') {
      vm.record.mipsHistory = [];
      this.post(vm, { type: 'set-view', screen: vm.screenRate });
    }
  }

  /** The VM's disks as a layer container over its images (null when it has no worker: crashed). */
  async saveDisks(id: string): Promise<Uint8Array | null> {
    const vm = this.mustGet(id);
    if (!vm.worker) return vm.disk ?? null;
    const answer = await this.request(vm, { type: 'disk-save', requestId: this.nextRequest++ }, 'disk-data');
    vm.disk = answer.disk.slice();
    return answer.disk;
  }

  private addLog(vm: VmInternal, level: LogLevel, text: string): void {
    const log = vm.record.log;
    const line = { time: this.now(), level, text };
    log.push(line);
    if (log.length > LOG_LINES) log.splice(0, log.length - LOG_LINES);
    this.emit({ type: 'log', vm: vm.record, line });
    this.emit({ type: 'changed', vm: vm.record });
  }

  private setState(vm: VmInternal, state: VmState, reason: string): void {
    const record = vm.record;
    if (record.state !== state) {
      record.state = state;
      record.stateSince = this.now();
    }
    record.reason = reason;
    if (state === 'off') record.stats = { ...emptyStats(), diskReads: record.stats.diskReads };
    this.emit({ type: 'changed', vm: record });
  }

  private crash(vm: VmInternal, reason: string): void {
    vm.worker?.terminate();
    vm.worker = null;
    this.failRequests(vm, reason);
    if (vm.record.state !== 'crashed') this.addLog(vm, 'error', reason);
    vm.record.stats = { ...vm.record.stats, mips: 0, cpuPercent: 0 };
    this.setState(vm, 'crashed', reason);
  }

  /** Marks as crashed every VM whose worker has been silent too long while it should be working. */
  checkHeartbeats(): void {
    const now = this.now();
    for (const vm of this.vms.values()) {
      if (!vm.worker || !isPoweredOn(vm.record.state)) continue;
      const silent = now - vm.lastMessage;
      if (silent > this.heartbeatTimeoutMs) {
        this.crash(
          vm,
          `the VM's worker stopped responding (no heartbeat for ${Math.round(silent / 1000)} s)`,
        );
      }
    }
  }

  /** Carries out a power action. Throws when the VM's state does not allow it. */
  action(id: string, action: PowerAction): void {
    const vm = this.mustGet(id);
    const state = vm.record.state;
    if (!isAllowed(state, action)) {
      throw new Error(`${vm.record.name}: cannot ${action.replace(/-/g, ' ')} a VM that is ${state}`);
    }
    if (action === 'power-on') {
      if (!vm.worker) {
        // After a crash: a fresh worker, created again from the configuration. Its answer to `create`
        // (state off) is swallowed: the page already shows the VM as starting.
        let created = false;
        this.startWorker(vm, (message) => {
          if (created) return false;
          if (message.type === 'state' && message.state === 'off') return (created = true);
          if (message.type === 'error' && message.command === 'create') {
            created = true;
            this.crash(vm, message.message);
            return true;
          }
          return false;
        }).postMessage({ type: 'create', config: vm.record.config, disk: vm.disk });
      }
      vm.record.consoleTail = '';
      vm.record.usesScreen = false;
      vm.record.usesSerial = false;
      vm.record.screen = null;
      vm.record.mipsHistory = [];
      this.setState(vm, 'starting', '');
      this.post(vm, { type: 'set-view', screen: vm.screenRate });
    }
    this.post(vm, { type: action });
    if (action === 'power-off') this.forceOffLater(vm);
  }

  /**
   * Power off always works: a worker that does not confirm in time (stuck inside the emulator) is
   * terminated, like pulling the plug. Its disks go with it; the next power-on starts a fresh worker.
   */
  private forceOffLater(vm: VmInternal): void {
    const worker = vm.worker;
    setTimeout(() => {
      if (vm.worker !== worker || !worker || !isPoweredOn(vm.record.state)) return;
      worker.terminate();
      vm.worker = null;
      this.failRequests(vm, 'powered off by terminating its worker');
      this.addLog(vm, 'warn', 'the worker did not answer: powered off by terminating it');
      this.setState(vm, 'off', 'powered off by terminating its worker (it did not answer)');
    }, this.powerOffTimeoutMs);
  }

  /** Runs `action` on every VM in `ids` that accepts it; returns how many did. */
  actionAll(ids: Iterable<string>, action: PowerAction): number {
    let n = 0;
    for (const id of ids) {
      const vm = this.vms.get(id);
      if (vm && isAllowed(vm.record.state, action)) {
        this.action(id, action);
        n++;
      }
    }
    return n;
  }

  /** Removes a VM that is off or crashed. */
  deleteVm(id: string): void {
    const vm = this.mustGet(id);
    if (!canDelete(vm.record.state)) throw new Error(`${vm.record.name}: power it off before deleting it`);
    vm.worker?.terminate();
    vm.worker = null;
    this.failRequests(vm, 'the VM was deleted');
    this.vms.delete(id);
    this.emit({ type: 'removed', vm: vm.record });
  }

  rename(id: string, name: string): void {
    const vm = this.mustGet(id);
    const trimmed = name.trim();
    if (!trimmed) throw new Error('the VM needs a name');
    if (this.list().some((other) => other.id !== id && other.name === trimmed)) {
      throw new Error(`there is already a VM named "${trimmed}"`);
    }
    vm.record.name = trimmed;
    this.emit({ type: 'changed', vm: vm.record });
  }

  sendSerial(id: string, bytes: Uint8Array): void {
    const vm = this.vms.get(id);
    if (vm && isPoweredOn(vm.record.state)) this.post(vm, { type: 'serial-input', bytes });
  }

  sendKey(id: string, code: string, down: boolean): void {
    const vm = this.vms.get(id);
    if (vm && isPoweredOn(vm.record.state)) this.post(vm, { type: 'key', code, down });
  }

  /** Tells the VM's worker whether its screen is on show (15 Hz updates) or not (1 Hz). */
  setView(id: string, screen: ScreenRate): void {
    const vm = this.vms.get(id);
    if (!vm || vm.screenRate === screen) return;
    vm.screenRate = screen;
    this.post(vm, { type: 'set-view', screen });
  }

  summary(): HostSummary {
    const byState: Record<VmState, number> = { off: 0, starting: 0, running: 0, paused: 0, crashed: 0 };
    const out: HostSummary = {
      total: 0,
      byState,
      memoryAssignedMiB: 0,
      memoryReservedMiB: 0,
      memoryUsedMiB: 0,
      mips: 0,
      cpuPercent: 0,
    };
    for (const { record } of this.vms.values()) {
      out.total++;
      byState[record.state]++;
      out.memoryAssignedMiB += record.config.memoryMiB;
      if (isPoweredOn(record.state)) {
        out.memoryReservedMiB += record.config.memoryMiB;
        out.memoryUsedMiB += record.stats.memoryUsedMiB;
      }
      if (record.state === 'running') {
        out.mips += record.stats.mips;
        out.cpuPercent += record.stats.cpuPercent;
      }
    }
    return out;
  }

  private post(vm: VmInternal, message: HostToVm): void {
    vm.worker?.postMessage(message);
  }

  private mustGet(id: string): VmInternal {
    const vm = this.vms.get(id);
    if (!vm) throw new Error(`no VM with id ${id}`);
    return vm;
  }

  private emit(event: HypervisorEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** True when the screen shows something other than blanks (the guest uses the VGA text screen). */
export function screenHasContent(frame: ScreenFrame): boolean {
  if (frame.blank) return false;
  const first = frame.cells[0];
  for (let i = 0; i < frame.cells.length; i++) {
    const ch = frame.cells[i] & 0xff;
    if ((ch !== 0x20 && ch !== 0) || frame.cells[i] !== first) return true;
  }
  return false;
}
