/**
 * Runs one benchmark task in v86 (npm package `v86`, its WebAssembly build, SeaBIOS from Debian), with its
 * JIT or with `disable_jit: true`. v86 exposes a guest instruction counter (get_instruction_counter(), a
 * 32-bit value that wraps), sampled often enough here to be extended to 64 bits. Serial output arrives as
 * one event per byte, synchronously as the guest writes the UART, so markers are timed where they happen.
 */
import type { V86 as V86Emulator, V86Options } from 'v86';
import { SerialWatcher } from './guest-scripts.ts';
import { BENCH_FINAL_LINE, formatProgress, type StepTiming, type Task, type TaskResult } from './tasks.ts';

const PROGRESS_EVERY_MS = 10_000;
/** v86 reaches a few hundred MIPS at most: 2^32 instructions take far longer than this. */
const COUNTER_SAMPLE_MS = 200;

/** v86 ends a guest that writes port 0xF4 (isa-debug-exit) by throwing this string from its run loop. */
const V86_HALT = 'HALT';

export async function runV86(
  task: Task,
  disableJit: boolean,
  progress: (text: string) => void,
): Promise<TaskResult> {
  if (!task.v86) throw new Error('v86 task without its files');
  const { V86 } = (await import('v86')) as { V86: new (options: V86Options) => V86Emulator };
  const options: V86Options = {
    wasm_path: task.v86.wasmPath,
    bios: { buffer: toArrayBuffer(task.v86.bios) },
    vga_bios: { buffer: toArrayBuffer(task.v86.vgaBios) },
    autostart: true,
    disable_jit: disableJit,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
  };
  if (task.kind === 'bench-guest' || task.kind === 'multivm-member') {
    options.multiboot = { buffer: toArrayBuffer(task.image) };
    options.memory_size = 16 * 1024 * 1024;
  } else {
    options.bzimage = { buffer: toArrayBuffer(task.linux.kernel) };
    options.initrd = { buffer: toArrayBuffer(task.linux.initrd) };
    options.cmdline = task.linux.cmdline;
    options.memory_size = task.linux.memoryMiB * 1024 * 1024;
  }

  const emulator = new V86(options);
  // The instruction counter, extended past its 32 bits.
  let lastRaw = 0;
  let total = 0;
  const count = () => {
    const raw = emulator.get_instruction_counter() >>> 0;
    total += (raw - lastRaw) >>> 0;
    lastRaw = raw;
    return total;
  };

  return await new Promise<TaskResult>((resolve) => {
    let t0 = 0;
    let n0 = 0;
    let started = false;
    let done = false;
    const timers: Array<ReturnType<typeof setInterval>> = [];
    const finish = (result: TaskResult) => {
      if (done) return;
      done = true;
      for (const t of timers) clearInterval(t);
      emulator.stop().catch(() => undefined);
      resolve(result);
    };
    const at = () => ({ t: performance.now(), n: count() });
    // Stays installed after the result: the bench guest's exit throws right after its last line.
    const onUncaught = (error: unknown) => {
      if (error === V86_HALT) {
        // The bench guest powered off through port 0xF4 after its last line; anything else is a failure.
        finish({
          outcome: 'failed',
          message: `the guest wrote port 0xF4 (exit) before finishing; console: ${JSON.stringify(watcher.lastLine())}`,
          seconds: null,
          instructions: null,
        });
        return;
      }
      finish({
        outcome: 'failed',
        message: `v86 threw: ${String(error)}`,
        seconds: null,
        instructions: null,
      });
    };
    process.on('uncaughtException', onUncaught);

    const steps: Record<string, StepTiming> = {};
    let ready: { t: number; n: number } | null = null;
    let stepStart: { t: number; n: number } | null = null;
    let benchLine = '';
    const watcher = new SerialWatcher({
      onPrompt: () => {
        if (task.kind !== 'linux-boot') return;
        const end = at();
        finish({ outcome: 'ok', seconds: (end.t - t0) / 1000, instructions: end.n - n0 });
      },
      onMarker: (marker, output) => {
        if (task.kind !== 'busybox') return;
        const now = at();
        if (marker.kind === 'ready') ready = now;
        else if (marker.kind === 'begin') stepStart = now;
        else if (marker.kind === 'end' && marker.step && stepStart) {
          steps[marker.step] = {
            seconds: (now.t - stepStart.t) / 1000,
            instructions: now.n - stepStart.n,
            output,
          };
          stepStart = null;
        } else if (marker.kind === 'done') {
          if (ready)
            steps.total = { seconds: (now.t - ready.t) / 1000, instructions: now.n - ready.n, output: [] };
          finish({ outcome: 'ok', seconds: (now.t - t0) / 1000, instructions: now.n - n0, steps });
        }
      },
    });

    emulator.add_listener('emulator-started', () => {
      if (started) return;
      started = true;
      const s = at();
      t0 = s.t;
      n0 = s.n;
      timers.push(setInterval(count, COUNTER_SAMPLE_MS));
      timers.push(
        setInterval(() => {
          const now = at();
          progress(formatProgress(task.label, (now.t - t0) / 1000, now.n - n0, watcher.lastLine()));
        }, PROGRESS_EVERY_MS),
      );
    });

    let benchStarted = false;
    emulator.add_listener('serial0-output-byte', (byte: number) => {
      if ((task.kind === 'bench-guest' || task.kind === 'multivm-member') && !benchStarted) {
        // The guest's first byte: SeaBIOS has run and handed over, the benchmark starts now.
        benchStarted = true;
        const s = at();
        t0 = s.t;
        n0 = s.n;
      }
      watcher.pushByte(byte);
      if (task.kind === 'bench-guest' || task.kind === 'multivm-member') {
        if (byte !== 10) {
          if (byte !== 13) benchLine += String.fromCharCode(byte);
          return;
        }
        const final = BENCH_FINAL_LINE.exec(benchLine.trim());
        benchLine = '';
        if (final) {
          const end = at();
          finish({
            outcome: 'ok',
            seconds: (end.t - t0) / 1000,
            instructions: end.n - n0,
            check: `checksum ${final[2]}`,
          });
        }
      }
    });

    const deadline = setTimeout(() => {
      const now = at();
      const goal =
        task.kind === 'linux-boot'
          ? 'the shell prompt'
          : task.kind === 'busybox'
            ? 'the end of the busybox workload (@@BENCH done)'
            : 'the end of the bench guest';
      const where =
        task.kind === 'busybox' && ready
          ? `; finished steps: ${Object.keys(steps).join(', ') || 'none'}`
          : '';
      finish({
        outcome: 'timeout',
        message: `did not reach ${goal} within ${(task.timeoutMs / 1000).toFixed(0)} s (${(
          (now.n - n0) /
          1e9
        ).toFixed(2)} G instructions${where}); console: ${JSON.stringify(watcher.lastLine())}`,
        seconds: null,
        instructions: null,
        steps,
      });
    }, task.timeoutMs);
    timers.push(deadline as unknown as ReturnType<typeof setInterval>);
  });
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
