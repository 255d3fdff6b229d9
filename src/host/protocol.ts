/**
 * The messages between the page (src/host/hypervisor.ts) and a VM's Worker (src/host/vm-worker.ts).
 *
 * The Worker owns the machine; the page only sends commands and receives batched output and statistics.
 * Every message is plain structured-clonable data; byte arrays travel as transferables where the sender
 * gives them up (serial output, screen cells). This file is the whole contract: both sides import it, and
 * nothing else crosses the boundary.
 *
 *   page -> worker   create, power-on, pause, resume, reset, power-off,
 *                    serial-input, key, ctrl-alt-del, set-view,
 *                    snapshot-take, snapshot-load, disk-save   (answered by requestId)
 *   worker -> page   state, serial-output, screen, stats, log, error,
 *                    snapshot-data, disk-data, done             (answers, with the request's id)
 *
 * Machine states and disks cross as snapshot containers (src/machine/snapshot-file.ts: magic, version,
 * SHA-256, gzip): `machine` holds Pc.saveState(), `disk` a disk layer (src/host/disk-layer.ts) of every
 * sector written since the VM's base images.
 */

/** A VM's power state. `starting` exists only on the page (the worker is being spawned or is loading). */
export type VmState = 'off' | 'starting' | 'running' | 'paused' | 'crashed';

/** What the VM boots. Direct kernel boot needs no firmware; disks and floppies boot through the BIOS. */
export type BootMedia =
  | {
      kind: 'multiboot';
      kernel: Uint8Array;
      cmdline?: string;
      modules?: Array<{ data: Uint8Array; string?: string }>;
    }
  | { kind: 'linux'; kernel: Uint8Array; initrd?: Uint8Array; cmdline?: string }
  | { kind: 'disk'; image: Uint8Array }
  | { kind: 'floppy'; image: Uint8Array }
  /**
   * A whole machine saved by `visor86 run --save` that uses no disk or floppy image (a kernel booted
   * directly): the VM starts by resuming it, at power-on and at every reset, as a directly booted kernel
   * starts by loading the kernel again.
   */
  | {
      kind: 'saved';
      /** Snapshot container of Pc.saveState(). */
      machine: Uint8Array;
      firmware: 'bios' | 'none';
      /** With firmware 'bios': whether it mirrors its screen output to COM1 (default true). */
      serialMirror?: boolean;
      /** How the saved machine was booted, for people: "kernel bzImage + initrd.gz, console=ttyS0". */
      origin: string;
    };

export interface VmConfig {
  name: string;
  /** RAM in MiB. */
  memoryMiB: number;
  media: BootMedia;
  /** A blank hard disk to attach, in MiB (0: none). */
  diskMiB: number;
  /**
   * Pace virtual time to the wall clock: a guest never runs ahead of real time (an idle guest sleeps instead
   * of racing through timer ticks). A busy guest is slower than the nominal 100 MIPS anyway, so pacing
   * never slows it down. Default true.
   */
  pace?: boolean;
  /** RTC time at power-on in ms since the epoch; default: the host's clock at power-on. */
  rtcTime?: number;
}

/** How often the worker sends the text screen: `live` while the page shows it, `background` otherwise. */
export type ScreenRate = 'live' | 'background';

/** The VM's power state a snapshot was taken in ('running' and 'paused' ones hold the machine). */
export type SnapshotPowerState = 'off' | 'running' | 'paused';

export type HostToVm =
  /** `disk`: a saved disk layer over the base images (a VM restored after a page reload). */
  | { type: 'create'; config: VmConfig; disk?: Uint8Array }
  | { type: 'power-on' }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'reset' }
  | { type: 'power-off' }
  | { type: 'serial-input'; bytes: Uint8Array }
  /** A key as a DOM KeyboardEvent.code ('KeyA', 'Enter', 'ControlLeft'). */
  | { type: 'key'; code: string; down: boolean }
  | { type: 'ctrl-alt-del' }
  | { type: 'set-view'; screen: ScreenRate }
  /** Capture the machine (unless off) and the disks now; answered by snapshot-data. */
  | { type: 'snapshot-take'; requestId: number }
  /**
   * Revert: disks become the base images with `disk` applied; with `machine` the machine is restored and
   * left in `powerState` (running resumes exactly where the snapshot was taken), without it the VM is off.
   * Both are checked before anything changes. Answered by done.
   */
  | {
      type: 'snapshot-load';
      requestId: number;
      machine: Uint8Array | null;
      disk: Uint8Array;
      powerState: SnapshotPowerState;
    }
  /** The disks as a layer over the base images (to keep them across page reloads); answered by disk-data. */
  | { type: 'disk-save'; requestId: number };

/** The VGA text screen, sent when it changed (throttled). `cells` is a copy the page owns. */
export interface ScreenFrame {
  cols: number;
  rows: number;
  /** Row-major cells: character | attribute << 8. */
  cells: Uint16Array;
  cursor: { row: number; col: number; visible: boolean };
  /** Attribute bit 7 means blink (true) or bright background (false). */
  blink: boolean;
  blank: boolean;
  /** The 16 text colours as 0xRRGGBB. */
  palette: number[];
  generation: number;
}

export interface VmStats {
  /** Guest instructions retired since power-on. */
  instructions: number;
  /** Millions of instructions per wall-clock second, over the last interval. */
  mips: number;
  /** Share of one host core the worker spent running the guest, 0-100. */
  cpuPercent: number;
  /** Guest (virtual) time since power-on, in ms. */
  virtualUptimeMs: number;
  /** Wall-clock time since power-on (pauses included), in ms. */
  wallUptimeMs: number;
  /** Acknowledged interrupts per IRQ line (0-15) since the last reset. */
  irqCounts: number[];
  /** Sectors read from and written to all disks and floppies since power-on. */
  diskReads: number;
  diskWrites: number;
  /** RAM the guest has touched (non-zero 4 KiB pages), in MiB; refreshed gradually. */
  memoryUsedMiB: number;
  /** True when the guest is halted with nothing to wake it but input. */
  waiting: boolean;
}

export type LogLevel = 'info' | 'warn' | 'error';

export type VmToHost =
  | { type: 'state'; state: Exclude<VmState, 'starting'>; reason?: string }
  | { type: 'serial-output'; bytes: Uint8Array }
  | { type: 'screen'; frame: ScreenFrame }
  | { type: 'stats'; stats: VmStats }
  | { type: 'log'; level: LogLevel; text: string }
  /** A command failed (`create` with a bad image, an action not allowed in this state) or the guest crashed. */
  | { type: 'error'; message: string; command?: HostToVm['type']; requestId?: number }
  | {
      type: 'snapshot-data';
      requestId: number;
      powerState: SnapshotPowerState;
      /** Snapshot container of Pc.saveState(), null when the VM was off. */
      machine: Uint8Array | null;
      /** Snapshot container of the disk layer (every sector written since the base images). */
      disk: Uint8Array;
    }
  | { type: 'disk-data'; requestId: number; disk: Uint8Array }
  | { type: 'done'; requestId: number };

/** The commands a user can give a VM (the toolbar's power actions). */
export type PowerAction = 'power-on' | 'pause' | 'resume' | 'reset' | 'power-off' | 'ctrl-alt-del';

/**
 * The kernel command line a Linux guest gets unless its catalog entry says otherwise (README, "Linux": why
 * these two and nothing more).
 */
export const DEFAULT_LINUX_CMDLINE = 'console=ttyS0 tsc=reliable';

/** Human names of the states, as the VM list shows them. */
export const STATE_LABELS: Record<VmState, string> = {
  off: 'Powered off',
  starting: 'Starting',
  running: 'Running',
  paused: 'Paused',
  crashed: 'Crashed',
};
