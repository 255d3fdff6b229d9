/**
 * One VM in a terminal, the way `qemu -nographic` runs one: COM1's output goes to stdout (or a file), stdin
 * goes to COM1 through the Ctrl-A escape, and the run ends with an exit status a script can test.
 *
 * The machine runs in slices sized to take about TARGET_SLICE_MS of host time; between slices the event
 * loop gets a turn (stdin, timers, stdout drain). A guest that halts with nothing to wake it but input
 * waits for input; a guest halted between timer interrupts is paced so its virtual time does not run ahead
 * of the wall clock. Nothing here is module state: several runners can share a process.
 */
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setImmediate, setTimeout } from 'node:timers';
import { createPc } from '../machine/pc.ts';
import type { Pc, StopReason } from '../machine/pc.ts';
import { bootLinux, isLinuxKernel } from '../machine/linux-boot.ts';
import { bootMultiboot, findMultibootHeader } from '../machine/multiboot.ts';
import type { BlockDevice } from '../devices/block-device.ts';
import { NS_PER_INSTRUCTION } from '../machine/clock.ts';
import { EscapeFilter, ESCAPE_HELP } from './escape.ts';
import type { EscapeCommand } from './escape.ts';
import { biosConfig } from './firmware.ts';
import { describeFileError, FLOPPY_IMAGE_SIZES, openFloppy, openImage, readWholeFile } from './media.ts';
import { createBaseImage, createOverlay } from '../machine/disk-overlay.ts';
import type { PcConfig } from '../machine/pc.ts';
import { readSnapshotFile, writeSnapshotFile } from './snapshot.ts';
import type { MediaRef, SnapshotConfig } from './snapshot.ts';
import type { FileBlockDevice } from './media.ts';
import { MAX_DISKS, MAX_FLOPPIES, UsageError } from './options.ts';
import type { RunOptions } from './options.ts';
import { warmUpInterpreter } from '../machine/warm-up.ts';
import { DEFAULT_LINUX_CMDLINE } from '../host/protocol.ts';

/** A readable stdin, possibly a TTY (raw mode is used when it is). */
export type CliInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** The streams a run talks to: process.stdin/stdout/stderr by default, anything stream-like in tests. */
export interface CliIo {
  stdin: CliInput;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const EXIT_TIMEOUT = 124;
export const EXIT_USAGE = 2;

/** Host time one slice should take: short enough for stdin and timers to feel immediate. */
const TARGET_SLICE_MS = 25;
const MIN_SLICE = 10_000;
const MAX_SLICE = 5_000_000;
/** While typed input waits for room in the UART, slices stay short so the guest gets it promptly. */
const INPUT_SLICE = 100_000;
/** Longest single wait while a halted guest waits for its next timer event. */
const MAX_PACING_WAIT_MS = 50;
/** How far virtual time may lag the wall clock before the pacing baseline moves (no catch-up bursts). */
const MAX_LAG_MS = 100;
/** Typed input queued beyond this pauses stdin until the guest reads some. */
const INPUT_HIGH_WATER = 64 * 1024;
const IF_FLAG = 0x200;
/** Images from this size on get a note while their SHA-256 is computed (it takes a few seconds). */
const LARGE_IMAGE_BYTES = 256 * 1024 * 1024;
/** From this RAM size on, a note says the machine is being saved (compressing it takes a few seconds). */
const LARGE_RAM_BYTES = 512 * 1024 * 1024;

/** Runs one VM to completion and returns the process exit status. */
export async function runVm(options: RunOptions, io: CliIo): Promise<number> {
  const runner = new VmRunner(options, io);
  try {
    await runner.setUp();
  } catch (e) {
    runner.dispose();
    if (e instanceof UsageError) {
      io.stderr.write(`visor86: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
  try {
    // Once the options and files proved good (a bad one is refused at once): see machine/warm-up.ts.
    warmUp(io);
    return await runner.run();
  } finally {
    runner.dispose();
  }
}

class VmRunner {
  private pc: Pc | null = null;
  private result: number | null = null;
  private readonly images: FileBlockDevice[] = [];
  private serialFd: number | null = null;
  private rebootKernel: (() => void) | null = null;
  private resetNotes = 0;
  /** How to rebuild this board, written into --save files. */
  private snapshotConfig: SnapshotConfig | null = null;
  /** False once the emulation failed: its state is not worth saving. */
  private saveable = true;

  // Typed input waiting for room in COM1's receiver.
  private readonly inputQueue: Uint8Array[] = [];
  private inputQueued = 0;
  private inputPaused = false;
  private readonly escape: EscapeFilter;
  private stdinAttached = false;
  private rawMode = false;

  // --until: the text as bytes and the tail of the output that could start a match.
  private readonly untilBytes: Buffer | null;
  private untilTail: Buffer = Buffer.alloc(0);

  private stdoutBlocked = false;
  private wake: (() => void) | null = null;
  private timeoutTimer: ReturnType<typeof setTimeout> | null = null;

  private readonly onStdinData = (chunk: Buffer | string) => this.typed(chunk);
  private readonly onStdoutError = (e: Error) => {
    if ((e as { code?: string }).code !== 'EPIPE') this.note(`stdout: ${e.message}`);
    this.finish(1);
  };

  constructor(
    private readonly options: RunOptions,
    private readonly io: CliIo,
  ) {
    this.escape = new EscapeFilter((command) => this.escapeCommand(command));
    this.untilBytes = options.until !== undefined ? Buffer.from(options.until, 'utf8') : null;
  }

  /** Opens the files, builds the PC and loads what it boots (or restores it). Throws UsageError for bad input. */
  async setUp(): Promise<void> {
    const o = this.options;
    if (o.save !== undefined) checkWritablePath(o.save);
    if (o.snapshot !== undefined) await this.setUpFromSnapshot(o.snapshot);
    else this.setUpFresh();
  }

  /** Opens `path` for a media slot; with copy-on-write, read-only under a new overlay, recorded in `refs`. */
  private openMedium(
    path: string,
    floppy: boolean,
    cow: boolean,
    slot: string,
    refs: Record<string, MediaRef>,
    expected?: MediaRef,
  ): BlockDevice {
    const image = floppy
      ? openFloppy(path, { readOnly: cow })
      : openImage('disk image', path, { readOnly: cow });
    this.images.push(image.device);
    if (!cow) {
      if (image.readOnly) this.note(`'${path}' is read-only on the host: the guest cannot write to it`);
      return image.device;
    }
    if (expected && image.size !== expected.bytes) {
      throw new UsageError(
        `${floppy ? 'floppy' : 'disk'} image '${path}' is ${image.size} bytes; the snapshot was taken over ` +
          `${expected.bytes} bytes`,
      );
    }
    if (image.size >= LARGE_IMAGE_BYTES) {
      this.note(`reading '${path}' (${(image.size / 2 ** 30).toFixed(1)} GiB) to compute its SHA-256`);
    }
    const sha256 = image.device.sha256();
    if (expected && sha256 !== expected.sha256) {
      throw new UsageError(
        `${floppy ? 'floppy' : 'disk'} image '${path}' has changed since the snapshot was taken ` +
          '(its SHA-256 differs); the saved disk changes only fit the original',
      );
    }
    refs[slot] = { path: resolve(path), bytes: image.size, sha256 };
    return createOverlay(createBaseImage(image.device, sha256));
  }

  private setUpFresh(): void {
    const o = this.options;
    // With --save the guest writes to a copy-on-write overlay that goes into the snapshot, so the images on
    // the host stay as they are and the snapshot can be resumed over them.
    const cow = o.save !== undefined;
    const disks: BlockDevice[] = [];
    const floppies: BlockDevice[] = [];
    const refs: Record<string, MediaRef> = {};
    const diskPaths: string[] = [];
    const floppyPaths: string[] = [];
    if (o.image !== undefined) {
      let size = 0;
      try {
        size = statSync(o.image).size;
      } catch {
        // openImage reports it
      }
      (FLOPPY_IMAGE_SIZES.includes(size) ? floppyPaths : diskPaths).push(o.image);
    }
    diskPaths.push(...o.disks);
    floppyPaths.push(...o.floppies);
    if (diskPaths.length > MAX_DISKS) throw new UsageError(`at most ${MAX_DISKS} hard disks`);
    if (floppyPaths.length > MAX_FLOPPIES)
      throw new UsageError(`at most ${MAX_FLOPPIES} floppies (A: and B:)`);
    diskPaths.forEach((path, i) => {
      // The positional IMAGE is a floppy only when its size says so; --floppy images are checked as floppies.
      disks.push(this.openMedium(path, false, cow, `disk${i}`, refs));
    });
    floppyPaths.forEach((path, i) => floppies.push(this.openMedium(path, true, cow, `floppy${i}`, refs)));
    if (cow && (disks.length > 0 || floppies.length > 0)) {
      this.note(
        'with --save the guest writes to a copy-on-write overlay saved in the snapshot; images stay unchanged',
      );
    }

    const kernel = o.kernel !== undefined ? readWholeFile('kernel', o.kernel) : null;
    const initrd = o.initrd !== undefined ? readWholeFile('initrd', o.initrd) : undefined;
    if (kernel && !isLinuxKernel(kernel) && findMultibootHeader(kernel) < 0) {
      throw new UsageError(
        `kernel '${o.kernel}' is neither a Linux bzImage (no "HdrS" header) nor a Multiboot kernel ` +
          '(no Multiboot header in its first 8 KiB)',
      );
    }

    const firmware = kernel ? null : biosConfig();
    const pc = this.buildPc({
      // Direct kernel boot runs no firmware, so COM1 carries nothing but the guest's own output.
      ...(firmware ?? {}),
      memoryMiB: o.memoryMiB,
      rtcTime: o.rtcTime ?? Date.now(),
      disks,
      floppies,
    });
    this.snapshotConfig = {
      memoryMiB: o.memoryMiB,
      firmware: firmware ? 'bios' : 'none',
      serialMirror: firmware?.bios?.serialMirror ?? false,
      kernel: o.kernel
        ? {
            path: resolve(o.kernel),
            initrd: o.initrd !== undefined ? resolve(o.initrd) : null,
            append: o.append ?? null,
          }
        : null,
      media: refs,
    };

    if (kernel) {
      const boot = () => bootKernel(pc, kernel, initrd, o.initrd, o.append);
      try {
        boot();
      } catch (e) {
        throw new UsageError(`kernel '${o.kernel}': ${(e as Error).message}`);
      }
      this.rebootKernel = boot;
    }
  }

  /** Rebuilds the board a snapshot names over the same images, then restores it. */
  private async setUpFromSnapshot(path: string): Promise<void> {
    const loaded = await readSnapshotFile(path);
    const config = loaded.config;
    const refs: Record<string, MediaRef> = {};
    const disks: Array<BlockDevice | undefined> = [];
    const floppies: Array<BlockDevice | undefined> = [];
    for (const [slot, ref] of Object.entries(config.media)) {
      const floppy = slot.startsWith('floppy');
      const index = Number(slot.slice(floppy ? 6 : 4));
      const device = this.openMedium(ref.path, floppy, true, slot, refs, ref);
      (floppy ? floppies : disks)[index] = device;
    }
    const pc = this.buildPc({
      ...(config.firmware === 'bios'
        ? { firmware: 'bios', bios: { serialMirror: config.serialMirror } }
        : {}),
      memoryMiB: config.memoryMiB,
      disks,
      floppies,
    });
    try {
      pc.loadState(loaded.machine);
    } catch (e) {
      throw new UsageError(`snapshot '${path}': ${(e as Error).message}`);
    }
    this.snapshotConfig = { ...config, media: refs };
    const kernel = config.kernel;
    if (kernel) {
      // The kernel is in RAM already; its file is needed again only if the guest resets the machine.
      this.rebootKernel = () => {
        const image = readWholeFile('kernel', kernel.path);
        const initrd = kernel.initrd !== null ? readWholeFile('initrd', kernel.initrd) : undefined;
        bootKernel(pc, image, initrd, kernel.initrd ?? undefined, kernel.append ?? undefined);
      };
    }
    this.note(`resumed '${path}' (saved ${loaded.created})`);
  }

  private buildPc(config: PcConfig): Pc {
    let pc: Pc;
    try {
      pc = createPc({
        ...config,
        onSerialOutput: (com, bytes) => {
          if (com === 0) this.serialOutput(bytes);
        },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    this.pc = pc;
    const o = this.options;
    if (o.serial.kind === 'file') {
      try {
        this.serialFd = openSync(o.serial.path, 'w');
      } catch (e) {
        throw new UsageError(`cannot write serial output file '${o.serial.path}': ${(e as Error).message}`);
      }
    }
    return pc;
  }

  async run(): Promise<number> {
    const pc = this.pc!;
    const o = this.options;
    if (o.serial.kind === 'stdio') this.attachStdin();
    this.io.stdout.on('error', this.onStdoutError);
    if (o.timeoutSeconds !== undefined) {
      this.timeoutTimer = setTimeout(() => {
        this.note(`timeout: stopped after ${o.timeoutSeconds} s`);
        this.finish(EXIT_TIMEOUT);
      }, o.timeoutSeconds * 1000);
    }

    let slice = 200_000;
    let wallBase = performance.now();
    let virtualBase = pc.clock.now();
    while (this.result === null) {
      this.feedInput();
      let budget = this.inputQueued > 0 ? Math.min(slice, INPUT_SLICE) : slice;
      const next = pc.timers.next;
      if (pc.cpu.halted && !this.interruptWaiting() && next !== Infinity && pc.cpu.flags & IF_FLAG) {
        // Halted until the next timer event: sleep until the wall clock gets there (virtual time may lag
        // the wall clock after busy stretches, by MAX_LAG_MS at most), then skip to it and run a slice.
        let wall = performance.now() - wallBase;
        const virtual = (pc.clock.now() - virtualBase) / 1e6;
        if (wall - virtual > MAX_LAG_MS) {
          wallBase += wall - virtual - MAX_LAG_MS;
          wall = virtual + MAX_LAG_MS;
        }
        const dueIn = (next - virtualBase) / 1e6 - wall;
        if (dueIn > 1) {
          await this.waitForEvent(Math.min(dueIn, MAX_PACING_WAIT_MS));
          continue;
        }
        budget += Math.ceil((next - pc.clock.now()) / NS_PER_INSTRUCTION);
      }
      const startMs = performance.now();
      const startCount = pc.cpu.instructionCount;
      let reason: StopReason;
      try {
        reason = pc.run(budget);
      } catch (e) {
        this.note(`emulation stopped: ${(e as Error).message}`);
        this.saveable = false;
        this.finish(1);
        break;
      }
      const elapsed = performance.now() - startMs;
      const executed = pc.cpu.instructionCount - startCount;
      if (executed > MIN_SLICE && elapsed > 0) {
        const fit = (executed / elapsed) * TARGET_SLICE_MS;
        slice = Math.round(Math.min(MAX_SLICE, Math.max(MIN_SLICE, (slice + fit) / 2)));
      }
      if (this.result !== null) break; // --until matched, or stdout failed
      if (reason === 'exit') {
        this.finish((pc.exitStatus ?? 0) & 0xff);
        break;
      }
      if (reason === 'reset') this.afterReset();
      if (this.stdoutBlocked) await this.waitForDrain();
      if (reason === 'idle') {
        if ((pc.cpu.flags & IF_FLAG) === 0) {
          // HLT with interrupts off: nothing but an NMI could wake it, and nothing here raises one.
          if (this.untilBytes) {
            this.note(`the guest halted with interrupts off before '${o.until}' appeared`);
            this.finish(1);
          } else {
            this.note('the guest halted with interrupts off');
            this.finish(0);
          }
          break;
        }
        // Halted with interrupts on and no timer armed: only input can wake it.
        await this.waitForEvent(null);
        wallBase = performance.now();
        virtualBase = pc.clock.now();
        continue;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const status = this.result ?? 0;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = null;
    if (o.save !== undefined) {
      if (!this.saveable) {
        this.note(`the machine state is not saved to '${o.save}': the emulation failed`);
        return status;
      }
      if (pc.memory.ramSize >= LARGE_RAM_BYTES) {
        this.note(`saving ${pc.memory.ramSize >> 20} MiB of RAM and the devices to '${o.save}'...`);
      }
      try {
        const bytes = await writeSnapshotFile(o.save, this.snapshotConfig!, pc);
        this.note(`saved the machine to '${o.save}' (${bytes} bytes)`);
      } catch (e) {
        this.note((e as Error).message);
        return status === 0 || status === EXIT_TIMEOUT ? 1 : status;
      }
    }
    return status;
  }

  /** Releases files, the terminal and listeners; safe to call more than once. */
  dispose(): void {
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = null;
    this.io.stdout.removeListener('error', this.onStdoutError);
    if (this.stdinAttached) {
      this.stdinAttached = false;
      this.io.stdin.removeListener('data', this.onStdinData);
      this.io.stdin.pause();
    }
    if (this.rawMode) {
      this.rawMode = false;
      this.io.stdin.setRawMode?.(false);
    }
    for (const image of this.images) image.close();
    this.images.length = 0;
    if (this.serialFd !== null) closeSync(this.serialFd);
    this.serialFd = null;
  }

  // ---- output ----

  private serialOutput(bytes: Uint8Array): void {
    if (this.serialFd !== null) {
      let done = 0;
      while (done < bytes.length) done += writeSync(this.serialFd, bytes, done, bytes.length - done);
    } else if (!this.io.stdout.write(bytes)) {
      this.stdoutBlocked = true;
    }
    if (this.untilBytes && this.result === null) {
      const window = Buffer.concat([this.untilTail, bytes]);
      if (window.indexOf(this.untilBytes) >= 0) {
        this.finish(0);
      } else {
        this.untilTail = window.subarray(Math.max(0, window.length - (this.untilBytes.length - 1)));
      }
    }
  }

  private async waitForDrain(): Promise<void> {
    const drained = once(this.io.stdout as NodeJS.EventEmitter, 'drain').catch(() => undefined);
    await Promise.race([drained, this.waitForEvent(null)]);
    this.stdoutBlocked = false;
    this.wakeUp();
  }

  private note(message: string): void {
    this.io.stderr.write(`visor86: ${message}\n`);
  }

  private finish(status: number): void {
    if (this.result === null) this.result = status;
    this.wakeUp();
  }

  /** An interrupt the halted CPU would take at once (the board's own test, from outside). */
  private interruptWaiting(): boolean {
    const cpu = this.pc!.cpu;
    return cpu.nmiPending || ((cpu.flags & IF_FLAG) !== 0 && this.pc!.pic.hasInterrupt());
  }

  // ---- input ----

  private attachStdin(): void {
    const stdin = this.io.stdin;
    if (stdin.isTTY && typeof stdin.setRawMode === 'function') {
      stdin.setRawMode(true);
      this.rawMode = true;
    }
    stdin.on('data', this.onStdinData);
    stdin.resume();
    this.stdinAttached = true;
  }

  private typed(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const forGuest = this.escape.filter(bytes);
    if (forGuest.length > 0 && this.result === null) {
      this.inputQueue.push(forGuest.slice());
      this.inputQueued += forGuest.length;
      if (this.inputQueued > INPUT_HIGH_WATER && !this.inputPaused) {
        this.inputPaused = true;
        this.io.stdin.pause();
      }
    }
    this.wakeUp();
  }

  /** Moves queued input into COM1's receiver as far as it has room. */
  private feedInput(): void {
    const pc = this.pc!;
    while (this.inputQueue.length > 0) {
      const room = pc.uarts[0].rxSpace();
      if (room <= 0) break;
      const head = this.inputQueue[0];
      const n = Math.min(room, head.length);
      pc.sendSerial(0, head.subarray(0, n));
      this.inputQueued -= n;
      if (n === head.length) this.inputQueue.shift();
      else this.inputQueue[0] = head.subarray(n);
    }
    if (this.inputPaused && this.inputQueued < INPUT_HIGH_WATER / 2) {
      this.inputPaused = false;
      if (this.stdinAttached) this.io.stdin.resume();
    }
  }

  private escapeCommand(command: EscapeCommand): void {
    if (command === 'help') {
      this.io.stderr.write(ESCAPE_HELP);
    } else if (command === 'save') {
      const lf = this.rawMode ? '\n' : '';
      if (this.options.save === undefined) {
        this.io.stderr.write(`${lf}visor86: C-a s saves to the file given with --save; there is none\n`);
      } else {
        this.io.stderr.write(`${lf}visor86: C-a s: saving the machine and stopping\n`);
        this.finish(0);
      }
    } else {
      this.io.stderr.write(`${this.rawMode ? '\n' : ''}visor86: terminated by C-a x\n`);
      this.finish(0);
    }
  }

  // ---- waiting ----

  /** Resolves on input, quit, timeout or drain, or after `ms` milliseconds (null: no limit). */
  private waitForEvent(ms: number | null): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const done = () => {
        if (timer) clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      if (this.result !== null || (ms === null && this.inputQueued > 0 && this.pc!.uarts[0].rxSpace() > 0)) {
        resolve();
        return;
      }
      this.wake = done;
      if (ms !== null) timer = setTimeout(done, ms);
    });
  }

  private wakeUp(): void {
    this.wake?.();
  }

  // ---- resets ----

  /** With --kernel a reset boots the same kernel again, as QEMU does; the BIOS restarts by itself. */
  private afterReset(): void {
    if (!this.rebootKernel) return;
    if (this.resetNotes++ < 3) this.note('the guest reset the machine; booting the kernel again');
    try {
      this.rebootKernel();
    } catch (e) {
      this.note(`cannot boot the kernel again: ${(e as Error).message}`);
      this.finish(1);
    }
  }
}

/** Loads a Linux bzImage or a Multiboot kernel (with its initrd as module 0) and points the CPU at it. */
/** The interpreter's warm-up. Its failure would be a bug of the emulator's: said, but the VM still runs. */
function warmUp(io: CliIo): void {
  try {
    warmUpInterpreter();
  } catch (e) {
    io.stderr.write(`visor86: note: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

function bootKernel(
  pc: Pc,
  kernel: Uint8Array,
  initrd: Uint8Array | undefined,
  initrdName: string | undefined,
  cmdline: string | undefined,
): void {
  if (isLinuxKernel(kernel)) {
    // Without a command line the kernel writes to the VGA screen only, which this runner does not show.
    bootLinux(pc, kernel, { initrd, cmdline: cmdline ?? DEFAULT_LINUX_CMDLINE });
  } else {
    bootMultiboot(pc, kernel, {
      cmdline: cmdline ?? '',
      modules: initrd ? [{ data: initrd, string: initrdName }] : [],
    });
  }
}

/** Refuses a --save path whose directory does not exist or that names a directory, before the run starts. */
function checkWritablePath(path: string): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(dirname(resolve(path))).isDirectory();
  } catch (e) {
    throw new UsageError(`cannot write snapshot '${path}': ${describeFileError(e)}`);
  }
  if (!isDirectory)
    throw new UsageError(`cannot write snapshot '${path}': a part of the path is not a directory`);
  try {
    if (statSync(path).isDirectory()) throw new UsageError(`cannot write snapshot '${path}': is a directory`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
}
