/**
 * What the benchmark's main thread asks a worker to run, and what the worker answers (scripts/bench.ts runs
 * every measurement in a fresh worker_thread, so no run warms the next one up and a stuck one can be ended).
 */
import type { JitMode } from './options.ts';
import type { Outcome } from './results.ts';

export type EngineSpec = { name: 'visor86'; jit: JitMode } | { name: 'v86'; jit: boolean };

export interface LinuxFiles {
  kernel: Uint8Array;
  initrd: Uint8Array;
  cmdline: string;
  memoryMiB: number;
}

export interface V86Files {
  wasmPath: string;
  bios: Uint8Array;
  vgaBios: Uint8Array;
}

export type Task = { engine: EngineSpec; label: string; timeoutMs: number; v86?: V86Files } & (
  | { kind: 'bench-guest'; image: Uint8Array }
  /** Like bench-guest, but waits for a 'go' message after posting 'ready' (workload d). */
  | { kind: 'multivm-member'; image: Uint8Array }
  | { kind: 'linux-boot'; linux: LinuxFiles }
  | { kind: 'busybox'; linux: LinuxFiles }
);

export interface StepTiming {
  seconds: number;
  instructions: number | null;
  output: string[];
}

export interface TaskResult {
  outcome: Outcome;
  message?: string;
  seconds: number | null;
  instructions: number | null;
  check?: string;
  /** busybox: the timed steps that completed, by name, and "total" (ready to done). */
  steps?: Record<string, StepTiming>;
  /** visor86: seconds its worker spent on the interpreter's warm-up before the machine was built (untimed). */
  warmUpSeconds?: number;
}

export type WorkerMessage =
  { type: 'progress'; text: string } | { type: 'ready' } | { type: 'result'; result: TaskResult };

/** Sets the bench guest's iteration count: the dword after the "BENCH-ITERATIONS" marker in its image. */
export function withIterations(image: Uint8Array, iterations: number): Uint8Array {
  const copy = new Uint8Array(image);
  const marker = Buffer.from(copy).indexOf('BENCH-ITERATIONS');
  if (marker < 0) throw new Error('images/bench/bench.bin has no BENCH-ITERATIONS marker');
  new DataView(copy.buffer).setUint32(marker + 16, iterations, true);
  return copy;
}

/** The bench guest's final line, "bench: iterations=N checksum=XXXXXXXX". */
export const BENCH_FINAL_LINE = /^bench: iterations=(\d+) checksum=([0-9A-F]{8})/;

export function formatProgress(
  label: string,
  seconds: number,
  instructions: number | null,
  line: string,
): string {
  const count = instructions === null ? '' : `, ${(instructions / 1e9).toFixed(2)} G instructions`;
  const shown = line.length > 70 ? line.slice(0, 67) + '...' : line;
  return `${label}: ${seconds.toFixed(0)} s${count}; console: ${JSON.stringify(shown)}`;
}
