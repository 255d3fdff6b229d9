/**
 * Runs one benchmark task in visor86, synchronously, in the calling (worker) thread. Instruction counts are
 * the CPU's own (cpu.instructionCount, exact); wall time is performance.now() around the guest's work.
 */
import { createPc, type Pc } from '../../src/machine/pc.ts';
import { bootMultiboot } from '../../src/machine/multiboot.ts';
import { bootLinux } from '../../src/machine/linux-boot.ts';
import { SerialWatcher } from './guest-scripts.ts';
import {
  BENCH_FINAL_LINE,
  formatProgress,
  type LinuxFiles,
  type StepTiming,
  type Task,
  type TaskResult,
} from './tasks.ts';
import type { JitMode } from './options.ts';

const PROGRESS_EVERY_MS = 10_000;
/** Instructions per pc.run call in the Linux workloads: markers are timed to this granularity. */
const LINUX_SLICE = 100_000;

function setJit(pc: Pc, mode: JitMode): void {
  pc.cpu.jitMode = mode;
}

/** Creates the bench guest's PC; the returned function runs it to its exit and reports. */
export function prepareBenchGuest(
  task: Task & { image: Uint8Array },
  jit: JitMode,
  progress: (text: string) => void,
): () => TaskResult {
  let serial = '';
  const watcher = new SerialWatcher({});
  const pc = createPc({
    memoryMiB: 16,
    onSerialOutput: (com, bytes) => {
      if (com !== 0) return;
      watcher.push(bytes);
      serial += Buffer.from(bytes).toString('latin1');
    },
  });
  setJit(pc, jit);
  bootMultiboot(pc, task.image);
  return () => {
    const cpu = pc.cpu;
    const start = cpu.instructionCount;
    const t0 = performance.now();
    let nextProgress = t0 + PROGRESS_EVERY_MS;
    let reason = 'budget';
    while (reason === 'budget') {
      reason = pc.run(1_000_000);
      const now = performance.now();
      if (now - t0 > task.timeoutMs) {
        return {
          outcome: 'timeout',
          message: `did not finish within ${(task.timeoutMs / 1000).toFixed(0)} s (${cpu.instructionCount - start} instructions)`,
          seconds: null,
          instructions: null,
        };
      }
      if (now >= nextProgress) {
        nextProgress = now + PROGRESS_EVERY_MS;
        progress(
          formatProgress(task.label, (now - t0) / 1000, cpu.instructionCount - start, watcher.lastLine()),
        );
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const instructions = cpu.instructionCount - start;
    const final = serial
      .split('\n')
      .map((l) => BENCH_FINAL_LINE.exec(l.trim()))
      .find((m) => m);
    if (reason !== 'exit' || pc.exitStatus !== 1 || !final) {
      return {
        outcome: 'failed',
        message: `the bench guest stopped (${reason}, exit status ${pc.exitStatus ?? 'none'}) ${
          final ? '' : 'without its final line'
        }; console: ${JSON.stringify(watcher.lastLine())}`,
        seconds: null,
        instructions: null,
      };
    }
    return { outcome: 'ok', seconds, instructions, check: `checksum ${final[2]}` };
  };
}

/** Boots Linux and runs until the prompt (linux-boot) or the busybox workload's "done" marker. */
export function runLinux(
  task: Task & { linux: LinuxFiles },
  jit: JitMode,
  progress: (text: string) => void,
): TaskResult {
  let pc: Pc | null = null;
  let finished = false;
  let ready: { t: number; n: number } | null = null;
  let stepStart: { t: number; n: number } | null = null;
  let failure: string | null = null;
  const steps: Record<string, StepTiming> = {};
  const busybox = task.kind === 'busybox';
  let result: TaskResult | null = null;
  let t0 = 0;
  let start = 0;
  const now = () => ({ t: performance.now(), n: pc ? pc.cpu.instructionCount : 0 });
  const watcher = new SerialWatcher({
    onPrompt: () => {
      if (busybox) return;
      const at = now();
      finished = true;
      result = { outcome: 'ok', seconds: (at.t - t0) / 1000, instructions: at.n - start };
    },
    onMarker: (marker, output) => {
      if (!busybox) return;
      const at = now();
      if (marker.kind === 'ready') ready = at;
      else if (marker.kind === 'begin') stepStart = at;
      else if (marker.kind === 'end' && marker.step && stepStart) {
        steps[marker.step] = {
          seconds: (at.t - stepStart.t) / 1000,
          instructions: at.n - stepStart.n,
          output,
        };
        stepStart = null;
      } else if (marker.kind === 'done') {
        if (ready)
          steps.total = { seconds: (at.t - ready.t) / 1000, instructions: at.n - ready.n, output: [] };
        finished = true;
        result = { outcome: 'ok', seconds: (at.t - t0) / 1000, instructions: at.n - start, steps };
      } else failure = `unexpected marker ${marker.kind} ${marker.step ?? ''}`;
    },
  });
  pc = createPc({
    memoryMiB: task.linux.memoryMiB,
    onSerialOutput: (com, bytes) => com === 0 && watcher.push(bytes),
  });
  setJit(pc, jit);
  bootLinux(pc, task.linux.kernel, { initrd: task.linux.initrd, cmdline: task.linux.cmdline });
  const cpu = pc.cpu;
  start = cpu.instructionCount;
  t0 = performance.now();
  let nextProgress = t0 + PROGRESS_EVERY_MS;
  const goal = busybox ? 'the end of the busybox workload (@@BENCH done)' : 'the shell prompt';
  while (!finished && !failure) {
    const reason = pc.run(LINUX_SLICE);
    if (finished) break;
    if (reason === 'reset' || reason === 'idle' || reason === 'exit') {
      failure = `the guest stopped (${reason === 'idle' ? 'halted with interrupts off' : reason}) before ${goal}`;
      break;
    }
    const t = performance.now();
    if (t - t0 > task.timeoutMs) {
      const where = busybox && ready ? `; finished steps: ${Object.keys(steps).join(', ') || 'none'}` : '';
      return {
        outcome: 'timeout',
        message: `did not reach ${goal} within ${(task.timeoutMs / 1000).toFixed(0)} s (${(
          (cpu.instructionCount - start) /
          1e9
        ).toFixed(2)} G instructions${where}); console: ${JSON.stringify(watcher.lastLine())}`,
        seconds: null,
        instructions: null,
        steps,
      };
    }
    if (t >= nextProgress) {
      nextProgress = t + PROGRESS_EVERY_MS;
      progress(formatProgress(task.label, (t - t0) / 1000, cpu.instructionCount - start, watcher.lastLine()));
    }
  }
  if (result) return result;
  return {
    outcome: 'failed',
    message: `${failure ?? 'stopped'}; console: ${JSON.stringify(watcher.lastLine())}`,
    seconds: null,
    instructions: null,
    steps,
  };
}
