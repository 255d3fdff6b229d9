/**
 * `npm run bench`: visor86 side by side with v86, in the same run (issue #8). Workloads:
 *   bench    the bench guest (images/bench, Multiboot), N iterations of its six kernels
 *   linux    Linux (images/linux from `npm run fetch:linux`) from power-on to the shell prompt on COM1
 *   busybox  busybox steps inside that Linux, run by our /init and timed by markers on COM1
 *   multivm  1, 2, 4 and 8 VMs of the bench guest at once (worker_threads), aggregate MIPS (visor86 only)
 * v86 runs bench, linux and busybox with its JIT and with disable_jit. Every run happens in a fresh worker
 * thread; runs of the engines alternate, so noise from the rest of the machine spreads over all of them.
 * Prints a table of medians and writes the same as JSON (bench/results.json). Options: --help.
 *
 * Run it bundled (the npm script does): under tsx every module import goes through a getter and the CPU
 * runs several times slower. The script bundles with --minify-syntax, as the page's production build
 * minifies (imported constants become literals).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { DEFAULT_JIT_MODE } from '../src/cpu/jit/mode.ts';
import { warmUpInterpreter } from '../src/machine/warm-up.ts';
import { busyboxInitScript, BUSYBOX_STEPS } from './bench/guest-scripts.ts';
import { appendToInitrd, gunzipAll, readCpio, unpackedView } from './bench/initrd.ts';
import {
  BenchUsageError,
  parseBenchArgs,
  USAGE,
  type BenchOptions,
  type EngineName,
  type WorkloadGroup,
} from './bench/options.ts';
import {
  ENGINE_TITLES,
  formatTable,
  makeRow,
  multiVmEfficiency,
  RESULTS_VERSION,
  resultsJson,
  type BenchResults,
  type Engine,
  type ResultRow,
  type RunSample,
} from './bench/results.ts';
import { prepareBenchGuest, runLinux } from './bench/run-visor86.ts';
import { runV86 } from './bench/run-v86.ts';
import { ensureSeabios } from './bench/seabios.ts';
import {
  withIterations,
  type EngineSpec,
  type LinuxFiles,
  type Task,
  type TaskResult,
  type V86Files,
  type WorkerMessage,
} from './bench/tasks.ts';

/** Extra wall time a worker gets past its own timeout before the main thread ends it. */
const WORKER_GRACE_MS = 60_000;

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

// ---------------------------------------------------------------------------------------------------------
// Worker side: run one task, post progress and the result.

async function workerMain(): Promise<void> {
  const task = workerData as Task;
  const port = parentPort;
  if (!port) return;
  const post = (m: WorkerMessage) => port.postMessage(m);
  const progress = (text: string) => post({ type: 'progress', text });
  let result: TaskResult;
  let warmUpSeconds: number | undefined;
  try {
    if (task.engine.name === 'visor86') {
      // As a VM's worker in the page and the CLI do before they build the machine (outside the timing).
      warmUpSeconds = warmUpInterpreter().milliseconds / 1000;
    }
    if (task.engine.name === 'v86') {
      // v86 logs a few lines (e.g. "Test exited with code 0x00" on port 0xF4) with console.log: keep stdout for
      // the table.
      console.log = (...args: unknown[]) => process.stderr.write(`v86: ${args.map(String).join(' ')}\n`);
      if (task.kind === 'multivm-member') throw new Error('multivm runs visor86 only');
      result = await runV86(task, !task.engine.jit, progress);
    } else if (task.kind === 'bench-guest' || task.kind === 'multivm-member') {
      const run = prepareBenchGuest(task, task.engine.jit, progress);
      if (task.kind === 'multivm-member') {
        const go = new Promise<void>((resolve) => port.once('message', () => resolve()));
        post({ type: 'ready' });
        await go;
      }
      result = run();
    } else {
      result = runLinux(task, task.engine.jit, progress);
    }
  } catch (e) {
    result = {
      outcome: 'failed',
      message: `error: ${e instanceof Error ? e.message : String(e)}`,
      seconds: null,
      instructions: null,
    };
  }
  if (warmUpSeconds !== undefined) result.warmUpSeconds = warmUpSeconds;
  post({ type: 'result', result });
}

// ---------------------------------------------------------------------------------------------------------
// Main side.

interface RunningTask {
  worker: Worker;
  ready: Promise<void>;
  result: Promise<TaskResult>;
}

function startTask(task: Task): RunningTask {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: task });
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const result = new Promise<TaskResult>((resolve) => {
    let settled = false;
    const settle = (r: TaskResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(killer);
      markReady();
      void worker.terminate();
      resolve(r);
    };
    const killer = setTimeout(() => {
      settle({
        outcome: 'timeout',
        message: `no answer within ${((task.timeoutMs + WORKER_GRACE_MS) / 1000).toFixed(0)} s; the worker was ended`,
        seconds: null,
        instructions: null,
      });
    }, task.timeoutMs + WORKER_GRACE_MS);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') log(m.text);
      else if (m.type === 'ready') markReady();
      else if (m.type === 'result') settle(m.result);
    });
    worker.on('error', (e) =>
      settle({ outcome: 'failed', message: `worker error: ${e.message}`, seconds: null, instructions: null }),
    );
    worker.on('exit', (code) =>
      settle({
        outcome: 'failed',
        message: `worker exited (code ${code}) without a result`,
        seconds: null,
        instructions: null,
      }),
    );
  });
  return { worker, ready, result };
}

function toSample(r: TaskResult): RunSample {
  const sample: RunSample = { outcome: r.outcome, seconds: r.seconds, instructions: r.instructions };
  if (r.check !== undefined) sample.check = r.check;
  if (r.message !== undefined) sample.message = r.message;
  if (r.warmUpSeconds !== undefined) sample.warmUpSeconds = r.warmUpSeconds;
  return sample;
}

function describeSample(s: RunSample): string {
  if (s.outcome !== 'ok') return `${s.outcome}: ${s.message ?? ''}`;
  const mips =
    s.instructions !== null && s.seconds ? `, ${(s.instructions / s.seconds / 1e6).toFixed(1)} MIPS` : '';
  const warmUp = s.warmUpSeconds !== undefined ? ` (after a ${s.warmUpSeconds.toFixed(3)} s warm-up)` : '';
  return `${s.seconds?.toFixed(2)} s${mips}${s.check ? `, ${s.check}` : ''}${warmUp}`;
}

interface Context {
  options: BenchOptions;
  root: string;
  engines: Array<{ key: Engine; spec: EngineSpec }>;
  v86Files?: V86Files;
  benchImage: Uint8Array;
  linux?: { kernel: Uint8Array; initrd: Uint8Array; busyboxInitrd: Uint8Array };
}

function linuxFiles(ctx: Context, initrd: Uint8Array): LinuxFiles {
  if (!ctx.linux) throw new Error('no Linux images');
  return { kernel: ctx.linux.kernel, initrd, cmdline: ctx.options.cmdline, memoryMiB: ctx.options.memoryMiB };
}

const ENGINE_OPTION_NAMES: Record<Engine, EngineName> = {
  visor86: 'visor86',
  v86Jit: 'v86-jit',
  v86Interpreter: 'v86-interp',
};

/** The time limit of one run: the workload's, or the engine's own when lower. */
function runTimeoutMs(ctx: Context, group: WorkloadGroup, engine: Engine): number {
  const cap = ctx.options.engineTimeoutSeconds[ENGINE_OPTION_NAMES[engine]];
  return Math.min(ctx.options.timeoutSeconds[group], cap ?? Infinity) * 1000;
}

/** Runs `makeTask` for every engine, run after run (engines alternate); skips an engine after a timeout. */
async function measure(
  ctx: Context,
  group: WorkloadGroup,
  name: string,
  runs: number,
  makeTask: (engine: EngineSpec, label: string, timeoutMs: number) => Task,
): Promise<Partial<Record<Engine, TaskResult[]>>> {
  const out: Partial<Record<Engine, TaskResult[]>> = {};
  const timedOut = new Set<Engine>();
  for (let run = 1; run <= runs; run++) {
    for (const { key, spec } of ctx.engines) {
      if (timedOut.has(key)) continue;
      const label = `${name} ${ENGINE_TITLES[key]} run ${run}/${runs}`;
      const result = await startTask(makeTask(spec, label, runTimeoutMs(ctx, group, key))).result;
      (out[key] ??= []).push(result);
      log(`${label}: ${describeSample(toSample(result))}`);
      if (result.outcome === 'timeout') {
        timedOut.add(key);
        if (run < runs) log(`${name} ${ENGINE_TITLES[key]}: timed out, its remaining runs are skipped`);
      }
    }
  }
  return out;
}

async function benchGuestRows(ctx: Context): Promise<ResultRow[]> {
  const image = withIterations(ctx.benchImage, ctx.options.iterations);
  const results = await measure(
    ctx,
    'bench',
    'bench-guest',
    ctx.options.runs,
    (engine, label, timeoutMs) => ({
      kind: 'bench-guest',
      engine,
      label,
      timeoutMs,
      image,
      v86: ctx.v86Files,
    }),
  );
  const samples = Object.fromEntries(Object.entries(results).map(([k, rs]) => [k, rs.map(toSample)]));
  return [
    makeRow(
      'bench-guest',
      `the bench guest, ${ctx.options.iterations} iterations of sieve, CRC-32, sorts, string ops, mul/div, branches`,
      samples,
    ),
  ];
}

async function linuxBootRows(ctx: Context): Promise<ResultRow[]> {
  const linux = linuxFiles(ctx, ctx.linux!.initrd);
  const results = await measure(
    ctx,
    'linux',
    'linux-boot',
    ctx.options.linuxRuns,
    (engine, label, timeoutMs) => ({
      kind: 'linux-boot',
      engine,
      label,
      timeoutMs,
      linux,
      v86: ctx.v86Files,
    }),
  );
  const samples = Object.fromEntries(Object.entries(results).map(([k, rs]) => [k, rs.map(toSample)]));
  return [makeRow('linux-boot', 'Linux from power-on to the busybox shell prompt on COM1', samples)];
}

async function busyboxRows(ctx: Context): Promise<ResultRow[]> {
  const linux = linuxFiles(ctx, ctx.linux!.busyboxInitrd);
  const results = await measure(
    ctx,
    'busybox',
    'busybox',
    ctx.options.linuxRuns,
    (engine, label, timeoutMs) => ({
      kind: 'busybox',
      engine,
      label,
      timeoutMs,
      linux,
      v86: ctx.v86Files,
    }),
  );
  const steps = [
    ...BUSYBOX_STEPS.map((s) => ({ name: s.name, description: s.description, expected: s.expected })),
    { name: 'total', description: 'all the steps above, from the first marker to the last' },
  ];
  return steps.map((step) => {
    const samples: Partial<Record<Engine, RunSample[]>> = {};
    for (const [engine, runs] of Object.entries(results) as Array<[Engine, TaskResult[]]>) {
      samples[engine] = runs.map((r): RunSample => {
        const timing = r.steps?.[step.name];
        if (timing) {
          const sample: RunSample = {
            outcome: 'ok',
            seconds: timing.seconds,
            instructions: timing.instructions,
          };
          const answer = timing.output.join(' / ');
          if (answer) sample.check = answer;
          if ('expected' in step && step.expected && !step.expected.test(answer)) {
            sample.outcome = 'failed';
            sample.message = `wrong answer: ${JSON.stringify(answer)} (a correct CPU prints ${step.expected.source})`;
          }
          return sample;
        }
        return {
          outcome: r.outcome === 'ok' ? 'failed' : r.outcome,
          seconds: null,
          instructions: null,
          message: r.outcome === 'ok' ? 'the step printed no end marker' : r.message,
        };
      });
    }
    return makeRow(`busybox/${step.name}`, step.description, samples);
  });
}

async function multiVmRows(ctx: Context): Promise<ResultRow[]> {
  const image = withIterations(ctx.benchImage, ctx.options.multiVmIterations);
  const timeoutMs = runTimeoutMs(ctx, 'multivm', 'visor86');
  const jit = ctx.options.jit;
  const rows: ResultRow[] = [];
  const perVm = new Map<number, number[]>();
  const samplesByCount = new Map<number, RunSample[]>();
  for (let run = 1; run <= ctx.options.runs; run++) {
    for (const vms of ctx.options.vmCounts) {
      const label = `multivm ${vms} VM${vms > 1 ? 's' : ''} run ${run}/${ctx.options.runs}`;
      const tasks = Array.from({ length: vms }, (_, i) =>
        startTask({
          kind: 'multivm-member',
          engine: { name: 'visor86', jit },
          label: `${label} VM ${i + 1}`,
          timeoutMs,
          image,
        }),
      );
      await Promise.all(tasks.map((t) => t.ready));
      const t0 = performance.now();
      for (const t of tasks) t.worker.postMessage('go');
      const ends: number[] = [];
      const results = await Promise.all(
        tasks.map((t) =>
          t.result.then((r) => {
            ends.push(performance.now());
            return r;
          }),
        ),
      );
      const failed = results.find((r) => r.outcome !== 'ok');
      let sample: RunSample;
      if (failed) {
        sample = { outcome: failed.outcome, seconds: null, instructions: null, message: failed.message };
      } else {
        const seconds = (Math.max(...ends) - t0) / 1000;
        const instructions = results.reduce((sum, r) => sum + (r.instructions ?? 0), 0);
        sample = {
          outcome: 'ok',
          seconds,
          instructions,
          check: [...new Set(results.map((r) => r.check))].join(' | '),
        };
        perVm.set(
          vms,
          results.map((r) => Number(((r.instructions ?? 0) / (r.seconds ?? 1) / 1e6).toFixed(2))),
        );
      }
      (samplesByCount.get(vms) ?? samplesByCount.set(vms, []).get(vms)!).push(sample);
      log(`${label}: ${describeSample(sample)}`);
    }
  }
  const cores = availableParallelism();
  const single = samplesByCount.has(1)
    ? (makeRow('x', '', { visor86: samplesByCount.get(1)! }).visor86?.mips ?? null)
    : null;
  for (const vms of ctx.options.vmCounts) {
    const row = makeRow(
      `multivm/${vms}`,
      `${vms} bench-guest VM${vms > 1 ? 's' : ''} at once (${ctx.options.multiVmIterations} iterations each), aggregate MIPS`,
      {
        visor86: samplesByCount.get(vms) ?? [],
      },
    );
    row.multiVm = {
      vms,
      perVmMips: perVm.get(vms) ?? [],
      efficiencyVsCores: multiVmEfficiency(row.visor86?.mips ?? null, single, vms, cores),
    };
    rows.push(row);
  }
  return rows;
}

/** Writes the JSON whole or not at all (a reader never sees half a file). */
async function writeResults(path: string, results: BenchResults): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, await resultsJson(results, path));
  renameSync(temporary, path);
}

function gitCommit(root: string): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(process.argv.slice(2), process.env, DEFAULT_JIT_MODE);
  } catch (e) {
    if (e instanceof BenchUsageError) {
      console.error(`bench: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    throw e;
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  if (import.meta.url.endsWith('.ts')) {
    console.error('bench: run the bundled benchmark (npm run bench): worker threads need plain JavaScript');
    process.exit(2);
  }
  const root = process.cwd();
  if (!existsSync(join(root, 'images/bench/bench.bin'))) {
    console.error(`bench: images/bench/bench.bin not found in ${root}: run from the repository root`);
    process.exit(2);
  }
  const loadBefore = loadavg();
  const commit = gitCommit(root); // the tree the bundle was built from, not where HEAD is at the end
  const skipped: string[] = [];
  const ctx: Context = {
    options,
    root,
    engines: options.engines.includes('visor86')
      ? [{ key: 'visor86', spec: { name: 'visor86', jit: options.jit } }]
      : [],
    benchImage: new Uint8Array(readFileSync(join(root, 'images/bench/bench.bin'))),
  };

  let v86Version: string | null = null;
  let biosVersion: string | null = null;
  const v86Groups = options.only.filter((g) => g !== 'multivm');
  const v86Engines = options.engines.filter((e) => e !== 'visor86');
  if (v86Engines.length > 0 && v86Groups.length > 0) {
    const wasmPath = join(root, 'node_modules/v86/build/v86.wasm');
    if (!existsSync(wasmPath)) {
      console.error(
        'bench: node_modules/v86 is missing: run npm install (v86 is a devDependency), or use --no-v86',
      );
      process.exit(2);
    }
    v86Version = JSON.parse(readFileSync(join(root, 'node_modules/v86/package.json'), 'utf8'))
      .version as string;
    try {
      const seabios = ensureSeabios(join(root, 'bench/.cache/seabios'), log);
      biosVersion = seabios.version;
      ctx.v86Files = { wasmPath, bios: seabios.bios, vgaBios: seabios.vgaBios };
    } catch (e) {
      console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(2);
    }
    if (v86Engines.includes('v86-jit')) ctx.engines.push({ key: 'v86Jit', spec: { name: 'v86', jit: true } });
    if (v86Engines.includes('v86-interp')) {
      ctx.engines.push({ key: 'v86Interpreter', spec: { name: 'v86', jit: false } });
    }
  }

  const needLinux = options.only.some((g) => g === 'linux' || g === 'busybox');
  if (needLinux) {
    const kernelPath = join(root, 'images/linux/bzImage');
    const initrdPath = join(root, 'images/linux/initrd.gz');
    if (!existsSync(kernelPath) || !existsSync(initrdPath)) {
      const reason = 'images/linux/bzImage and initrd.gz not found (npm run fetch:linux makes them)';
      skipped.push(`linux, busybox: ${reason}`);
      log(`skipping linux and busybox: ${reason}`);
    } else {
      const initrd = new Uint8Array(readFileSync(initrdPath));
      const files = unpackedView(readCpio(gunzipAll(initrd)));
      if (!files.has('bin/busybox'))
        throw new Error(`${initrdPath} has no bin/busybox: run npm run fetch:linux -- --force`);
      const busyboxInitrd = appendToInitrd(initrd, [
        { path: 'init', mode: 0o100755, data: new TextEncoder().encode(busyboxInitScript()) },
      ]);
      mkdirSync(join(root, 'bench/.cache'), { recursive: true });
      writeFileSync(join(root, 'bench/.cache/initrd-busybox.gz'), busyboxInitrd);
      ctx.linux = { kernel: new Uint8Array(readFileSync(kernelPath)), initrd, busyboxInitrd };
    }
  }

  const outPath = isAbsolute(options.out) ? options.out : join(root, options.out);
  const rows: ResultRow[] = [];
  const results = (): BenchResults => ({
    version: RESULTS_VERSION,
    date: new Date().toISOString(),
    host: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      loadAverageBefore: loadBefore.map((l) => Number(l.toFixed(2))),
      loadAverageAfter: loadavg().map((l) => Number(l.toFixed(2))),
      ...(process.env.BENCH_NOTE ? { note: process.env.BENCH_NOTE } : {}),
    },
    visor86: { jit: options.jit, commit },
    v86: {
      enabled: ctx.engines.some((e) => e.key !== 'visor86'),
      version: v86Version,
      bios: biosVersion,
      instructionCounter: 'v86 get_instruction_counter() (32 bits, sampled every 200 ms and extended)',
    },
    options: { ...options, skipped },
    rows,
  });

  const groups: Record<WorkloadGroup, (c: Context) => Promise<ResultRow[]>> = {
    bench: benchGuestRows,
    linux: linuxBootRows,
    busybox: busyboxRows,
    multivm: multiVmRows,
  };
  log(
    `engines: ${ctx.engines.map((e) => ENGINE_TITLES[e.key]).join(', ')} (visor86 jit ${options.jit}` +
      `${v86Version ? `, v86 ${v86Version}` : ''}); ${options.runs} run(s) (${options.linuxRuns} of linux and busybox) ` +
      `of ${options.only.join(', ')}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
  );
  for (const group of options.only) {
    if ((group === 'linux' || group === 'busybox') && !ctx.linux) continue;
    if (group === 'multivm' && !options.engines.includes('visor86')) {
      skipped.push('multivm: it measures visor86, which --engines left out');
      continue;
    }
    rows.push(...(await groups[group](ctx)));
    await writeResults(outPath, results());
  }
  const final = results();
  await writeResults(outPath, final);
  console.log(formatTable(rows));
  console.log(
    `\n${final.date}, ${final.host.cpus} CPUs (${final.host.cpuModel}), Node ${final.host.node}, load average ` +
      `${final.host.loadAverageBefore.join(' ')} before, ${final.host.loadAverageAfter.join(' ')} after; JSON: ${outPath}`,
  );
}

if (isMainThread) {
  main().catch((e) => {
    console.error(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  });
} else {
  void workerMain();
}
