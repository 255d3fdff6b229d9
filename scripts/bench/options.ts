/**
 * Command-line options of `npm run bench` (scripts/bench.ts). Pure: parses argv and the environment, throws
 * BenchUsageError with a message saying what is wrong.
 */

export type JitMode = 'off' | 'auto' | 'on';

/** Workload groups, selectable with --only. */
export const WORKLOAD_GROUPS = ['bench', 'linux', 'busybox', 'multivm'] as const;
export type WorkloadGroup = (typeof WORKLOAD_GROUPS)[number];

/** Default wall-clock limit of one run of each workload, in seconds. */
export const DEFAULT_TIMEOUT_SECONDS: Record<WorkloadGroup, number> = {
  bench: 300,
  linux: 1800,
  busybox: 2400,
  multivm: 900,
};

/** The kernel command line both emulators boot Linux with. */
export const DEFAULT_LINUX_CMDLINE = 'console=ttyS0,115200 tsc=reliable panic=-1';

/** Engines, selectable with --engines (--no-v86 leaves visor86 alone). */
export const ENGINE_NAMES = ['visor86', 'v86-jit', 'v86-interp'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface BenchOptions {
  runs: number;
  /** Runs of the long Linux workloads (linux, busybox); default: runs. */
  linuxRuns: number;
  engines: EngineName[];
  only: WorkloadGroup[];
  jit: JitMode;
  /** Iterations of the bench guest's kernels (its BENCH-ITERATIONS field), for workload (a). */
  iterations: number;
  /**
   * The same for workload (d): long enough (about 7 s per VM) that the aggregate is what the VMs deliver
   * once running, not mostly each VM's start-up compiling (see docs/PERFORMANCE.md).
   */
  multiVmIterations: number;
  /** How many VMs run at once in workload (d). */
  vmCounts: number[];
  timeoutSeconds: Record<WorkloadGroup, number>;
  /** A lower limit for every run of one engine (--timeout-visor86=S ...), over the workload's own. */
  engineTimeoutSeconds: Partial<Record<EngineName, number>>;
  memoryMiB: number;
  cmdline: string;
  /** Where the JSON goes (relative to the repository root unless absolute). */
  out: string;
  help: boolean;
}

export class BenchUsageError extends Error {}

export const USAGE = `usage: npm run bench -- [options]

  --runs=N            runs of each workload; the table quotes medians (default 3)
  --runs-linux=N      runs of the linux and busybox workloads (default: --runs)
  --only=LIST         comma-separated workloads: ${WORKLOAD_GROUPS.join(', ')} (default: all)
  --no-v86            measure visor86 only
  --engines=LIST      comma-separated: ${ENGINE_NAMES.join(', ')} (default: all)
  --jit=off|auto|on   visor86's execution tier (default: $VISOR86_JIT, else the CPU's default)
  --iterations=N      iterations of the bench guest's kernels in the bench workload (default 30)
  --iterations-multivm=N  the same in the multivm workload (default 300: steady running, not start-up)
  --vms=LIST          VM counts for the multivm workload (default 1,2,4,8)
  --timeout=S         wall-clock limit of one run of every workload, seconds (defaults: ${Object.entries(
    DEFAULT_TIMEOUT_SECONDS,
  )
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')})
  --timeout-GROUP=S   the same for one workload, e.g. --timeout-linux=600
  --timeout-ENGINE=S  a lower limit for every run of one engine, e.g. --timeout-visor86=300
  --memory=MIB        guest RAM for the Linux workloads (default 128)
  --cmdline=STRING    kernel command line (default "${DEFAULT_LINUX_CMDLINE}")
  --out=PATH          where to write the JSON results (default bench/results.json)
  --help              this text`;

function positiveInteger(name: string, value: string, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new BenchUsageError(`--${name} wants a whole number from 1 to ${max}, not "${value}"`);
  }
  return n;
}

function parseJit(value: string, source: string): JitMode {
  const v = value.trim().toLowerCase();
  if (v === 'off' || v === 'auto' || v === 'on') return v;
  throw new BenchUsageError(`${source} must be off, auto or on, not "${value}"`);
}

/**
 * Parses the arguments after `npm run bench --`. `env` supplies VISOR86_JIT; `defaultJit` is the CPU's
 * own default, used when neither --jit nor VISOR86_JIT says otherwise.
 */
export function parseBenchArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  defaultJit: JitMode,
): BenchOptions {
  const options: BenchOptions = {
    runs: 3,
    linuxRuns: 0,
    engines: [...ENGINE_NAMES],
    only: [...WORKLOAD_GROUPS],
    jit: env.VISOR86_JIT ? parseJit(env.VISOR86_JIT, 'VISOR86_JIT') : defaultJit,
    iterations: 30,
    multiVmIterations: 300,
    vmCounts: [1, 2, 4, 8],
    timeoutSeconds: { ...DEFAULT_TIMEOUT_SECONDS },
    engineTimeoutSeconds: {},
    memoryMiB: 128,
    cmdline: DEFAULT_LINUX_CMDLINE,
    out: 'bench/results.json',
    help: false,
  };
  for (const arg of argv) {
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new BenchUsageError(`unexpected argument "${arg}" (options look like --name=value)`);
    const [, name, value] = match;
    const need = (): string => {
      if (value === undefined || value === '')
        throw new BenchUsageError(`--${name} needs a value (--${name}=...)`);
      return value;
    };
    switch (name) {
      case 'help':
        options.help = true;
        break;
      case 'runs':
        options.runs = positiveInteger(name, need(), 100);
        break;
      case 'runs-linux':
        options.linuxRuns = positiveInteger(name, need(), 100);
        break;
      case 'engines': {
        const names = need()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        for (const n of names) {
          if (!(ENGINE_NAMES as readonly string[]).includes(n)) {
            throw new BenchUsageError(`--engines: unknown engine "${n}" (known: ${ENGINE_NAMES.join(', ')})`);
          }
        }
        options.engines = ENGINE_NAMES.filter((n) => names.includes(n));
        break;
      }
      case 'only': {
        const groups = need()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        for (const g of groups) {
          if (!(WORKLOAD_GROUPS as readonly string[]).includes(g)) {
            throw new BenchUsageError(
              `--only: unknown workload "${g}" (known: ${WORKLOAD_GROUPS.join(', ')})`,
            );
          }
        }
        options.only = WORKLOAD_GROUPS.filter((g) => groups.includes(g));
        break;
      }
      case 'no-v86':
        if (value !== undefined) throw new BenchUsageError('--no-v86 takes no value');
        options.engines = options.engines.filter((n) => n === 'visor86');
        break;
      case 'jit':
        options.jit = parseJit(need(), '--jit');
        break;
      case 'iterations':
        options.iterations = positiveInteger(name, need(), 1_000_000);
        break;
      case 'iterations-multivm':
        options.multiVmIterations = positiveInteger(name, need(), 1_000_000);
        break;
      case 'vms':
        options.vmCounts = need()
          .split(',')
          .map((s) => positiveInteger('vms', s.trim(), 64));
        break;
      case 'timeout': {
        const s = positiveInteger(name, need(), 86_400);
        for (const g of WORKLOAD_GROUPS) options.timeoutSeconds[g] = s;
        break;
      }
      case 'memory':
        options.memoryMiB = positiveInteger(name, need(), 3584);
        break;
      case 'cmdline':
        options.cmdline = need();
        break;
      case 'out':
        options.out = need();
        break;
      default: {
        const group = /^timeout-(.+)$/.exec(name)?.[1];
        if (group && (WORKLOAD_GROUPS as readonly string[]).includes(group)) {
          options.timeoutSeconds[group as WorkloadGroup] = positiveInteger(name, need(), 86_400);
          break;
        }
        if (group && (ENGINE_NAMES as readonly string[]).includes(group)) {
          options.engineTimeoutSeconds[group as EngineName] = positiveInteger(name, need(), 86_400);
          break;
        }
        throw new BenchUsageError(`unknown option --${name} (see --help)`);
      }
    }
  }
  if (options.linuxRuns === 0) options.linuxRuns = options.runs;
  if (options.engines.length === 0) throw new BenchUsageError('no engine left to measure');
  return options;
}
