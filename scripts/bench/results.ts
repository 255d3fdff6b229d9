/**
 * The benchmark's results: one sample per run, medians per engine, ratios between engines measured in the
 * same run, the JSON written to bench/results.json and the table printed at the end. Pure functions, and
 * the JSON text in the repository's Prettier style.
 */
import { format, resolveConfig } from 'prettier';

export const RESULTS_VERSION = 1;

export const ENGINES = ['visor86', 'v86Jit', 'v86Interpreter'] as const;
export type Engine = (typeof ENGINES)[number];
export const ENGINE_TITLES: Record<Engine, string> = {
  visor86: 'visor86',
  v86Jit: 'v86-JIT',
  v86Interpreter: 'v86-interpreter',
};

/** How one run ended. */
export type Outcome = 'ok' | 'timeout' | 'failed';

/** One run of one workload on one engine. */
export interface RunSample {
  outcome: Outcome;
  /** Wall-clock seconds of the measured part (null when it did not finish). */
  seconds: number | null;
  /** Guest instructions retired in the measured part, as the emulator counts them (null: not counted). */
  instructions: number | null;
  /** What the guest answered (a checksum, a line of output), to compare engines. */
  check?: string;
  /** Why it did not finish, or what it reached. */
  message?: string;
  /**
   * visor86: seconds its worker spent on the interpreter's warm-up (src/machine/warm-up.ts) before the
   * machine was built, as the page's VM workers and the CLI do; not part of `seconds`.
   */
  warmUpSeconds?: number;
}

/** All runs of one workload on one engine, summarised. */
export interface EngineResult {
  /** 'ok' when every run finished; otherwise the outcome of the first run that did not. */
  status: Outcome;
  /** The message of the first run that did not finish. */
  message?: string;
  /** Medians over the runs that finished (null when none did). */
  seconds: number | null;
  instructions: number | null;
  mips: number | null;
  /** The check every finished run agreed on, or a list of the differing answers. */
  check?: string;
  runs: RunSample[];
}

export interface ResultRow {
  /** Stable name, e.g. "bench-guest", "busybox/gzip", "multivm/4". */
  workload: string;
  description: string;
  visor86?: EngineResult;
  v86Jit?: EngineResult;
  v86Interpreter?: EngineResult;
  /**
   * Speed of visor86 relative to each v86 mode, from median seconds: v86 seconds / visor86 seconds, so 0.5
   * means visor86 takes twice as long. Null when either side has no time.
   */
  ratios: { vsV86Jit: number | null; vsV86Interpreter: number | null };
  /** True when the engines' checks differ (the guests computed different answers). */
  checkMismatch?: boolean;
  /** Multi-VM rows: how many VMs ran at once and how their aggregate compares with single-VM speed. */
  multiVm?: { vms: number; perVmMips: number[]; efficiencyVsCores: number | null };
}

export interface BenchResults {
  version: number;
  date: string;
  host: {
    cpus: number;
    cpuModel: string;
    node: string;
    platform: string;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
    note?: string;
  };
  visor86: { jit: string; commit: string };
  v86: { enabled: boolean; version: string | null; bios: string | null; instructionCounter: string };
  options: Record<string, unknown>;
  rows: ResultRow[];
}

/** The median of a list of numbers (the mean of the middle two for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Summarises the runs of one workload on one engine. */
export function summarize(runs: readonly RunSample[]): EngineResult {
  const finished = runs.filter((r) => r.outcome === 'ok' && r.seconds !== null);
  const failed = runs.find((r) => r.outcome !== 'ok');
  const seconds = median(finished.map((r) => r.seconds as number));
  const counted = finished.filter((r) => r.instructions !== null);
  const instructions =
    counted.length === finished.length ? median(counted.map((r) => r.instructions as number)) : null;
  const mipsValues = counted
    .filter((r) => (r.seconds as number) > 0)
    .map((r) => (r.instructions as number) / (r.seconds as number) / 1e6);
  const checks = [...new Set(finished.map((r) => r.check).filter((c): c is string => c !== undefined))];
  const result: EngineResult = {
    status: failed ? failed.outcome : 'ok',
    seconds,
    instructions,
    mips: counted.length === finished.length ? median(mipsValues) : null,
    runs: [...runs],
  };
  if (failed?.message) result.message = failed.message;
  if (checks.length === 1) result.check = checks[0];
  else if (checks.length > 1) result.check = `DIFFERENT: ${checks.join(' | ')}`;
  return result;
}

/** v86's median seconds over visor86's: how visor86's speed compares (>1: visor86 is faster). */
export function speedRatio(
  visor86: EngineResult | undefined,
  other: EngineResult | undefined,
): number | null {
  if (!visor86 || !other || visor86.seconds === null || other.seconds === null || visor86.seconds <= 0)
    return null;
  return other.seconds / visor86.seconds;
}

/** Builds a table row from the samples of each engine that ran the workload. */
export function makeRow(
  workload: string,
  description: string,
  samples: Partial<Record<Engine, readonly RunSample[]>>,
): ResultRow {
  const row: ResultRow = { workload, description, ratios: { vsV86Jit: null, vsV86Interpreter: null } };
  for (const engine of ENGINES) {
    const runs = samples[engine];
    if (runs && runs.length > 0) row[engine] = summarize(runs);
  }
  row.ratios.vsV86Jit = speedRatio(row.visor86, row.v86Jit);
  row.ratios.vsV86Interpreter = speedRatio(row.visor86, row.v86Interpreter);
  const checks = ENGINES.map((e) => row[e]?.check).filter((c): c is string => c !== undefined);
  if (new Set(checks).size > 1 || checks.some((c) => c.startsWith('DIFFERENT:'))) row.checkMismatch = true;
  return row;
}

/**
 * Aggregate MIPS of N VMs against what two (or `cores`) independent single VMs would give: the issue's
 * target is 85% of two cores' worth at 8 VMs.
 */
export function multiVmEfficiency(
  aggregateMips: number | null,
  singleVmMips: number | null,
  vms: number,
  cores: number,
): number | null {
  if (aggregateMips === null || singleVmMips === null || singleVmMips <= 0) return null;
  return aggregateMips / (singleVmMips * Math.min(vms, cores));
}

function formatSeconds(r: EngineResult | undefined): string {
  if (!r) return '-';
  if (r.status !== 'ok') return r.status === 'timeout' ? 'timeout' : 'failed';
  return r.seconds === null ? '-' : r.seconds < 10 ? r.seconds.toFixed(2) : r.seconds.toFixed(1);
}

export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

function formatMips(n: number | null | undefined): string {
  return n === null || n === undefined ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(1);
}

function formatRatio(n: number | null): string {
  return n === null ? '-' : `${n < 0.1 ? n.toFixed(3) : n.toFixed(2)}x`;
}

const TABLE_COLUMNS = [
  'workload',
  'visor86 s',
  'visor86 instr',
  'visor86 MIPS',
  'v86-JIT s',
  'v86-JIT MIPS',
  'v86-interp s',
  'v86-interp MIPS',
  'vs v86-JIT',
  'vs v86-interp',
] as const;

/** Table cells of each row, in TABLE_COLUMNS order. */
export function tableCells(rows: readonly ResultRow[]): string[][] {
  return rows.map((row) => [
    row.workload + (row.checkMismatch ? ' (!)' : ''),
    formatSeconds(row.visor86),
    formatCount(row.visor86?.instructions),
    formatMips(row.visor86?.mips),
    formatSeconds(row.v86Jit),
    formatMips(row.v86Jit?.mips),
    formatSeconds(row.v86Interpreter),
    formatMips(row.v86Interpreter?.mips),
    formatRatio(row.ratios.vsV86Jit),
    formatRatio(row.ratios.vsV86Interpreter),
  ]);
}

/** The results as a fixed-width text table with notes for timeouts, failures and mismatches below it. */
export function formatTable(rows: readonly ResultRow[]): string {
  const cells = [Array.from(TABLE_COLUMNS), ...tableCells(rows)];
  const widths = TABLE_COLUMNS.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)];
  const notes: string[] = [];
  // One note per engine and message, naming every workload it applies to (a busybox run that timed out
  // fails all of its steps the same way).
  const failures = new Map<string, string[]>();
  for (const row of rows) {
    for (const engine of ENGINES) {
      const r = row[engine];
      if (!r || r.status === 'ok') continue;
      const key = `${ENGINE_TITLES[engine]}: ${r.message ?? r.status}`;
      failures.set(key, [...(failures.get(key) ?? []), row.workload]);
    }
  }
  for (const [key, workloads] of failures) notes.push(`${workloads.join(', ')}, ${key}`);
  for (const row of rows) {
    if (row.checkMismatch) {
      const answers = ENGINES.filter((e) => row[e]?.check !== undefined).map(
        (e) => `${ENGINE_TITLES[e]} ${row[e]?.check}`,
      );
      notes.push(`${row.workload}: the engines computed different answers: ${answers.join('; ')}`);
    }
    const multi = row.multiVm;
    if (multi && multi.vms > 1 && multi.efficiencyVsCores !== null) {
      notes.push(
        `${row.workload}: aggregate ${formatMips(row.visor86?.mips)} MIPS is ${(multi.efficiencyVsCores * 100).toFixed(0)}% ` +
          `of min(VMs, cores) x single-VM MIPS`,
      );
    }
  }
  out.push(
    '',
    'seconds and MIPS are medians; "vs v86" = v86 seconds / visor86 seconds (above 1x: visor86 is faster)',
  );
  if (notes.length) out.push(...notes.map((n) => `note: ${n}`));
  return out.join('\n');
}

/** Checks the shape of a results object (what bench/results.json must hold); returns the problems found. */
export function validateResults(value: unknown): string[] {
  const problems: string[] = [];
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(value)) return ['results: not an object'];
  if (value.version !== RESULTS_VERSION) problems.push(`version: expected ${RESULTS_VERSION}`);
  if (typeof value.date !== 'string' || Number.isNaN(Date.parse(value.date)))
    problems.push('date: not an ISO date');
  if (!isObject(value.host) || typeof value.host.cpus !== 'number')
    problems.push('host: missing or without cpus');
  if (!Array.isArray(value.rows)) return [...problems, 'rows: not an array'];
  value.rows.forEach((row: unknown, i: number) => {
    if (!isObject(row)) return problems.push(`rows[${i}]: not an object`);
    if (typeof row.workload !== 'string' || !row.workload) problems.push(`rows[${i}].workload: missing`);
    if (!isObject(row.ratios)) problems.push(`rows[${i}].ratios: missing`);
    let engines = 0;
    for (const engine of ENGINES) {
      const r = row[engine];
      if (r === undefined) continue;
      engines++;
      if (!isObject(r)) {
        problems.push(`rows[${i}].${engine}: not an object`);
        continue;
      }
      if (!['ok', 'timeout', 'failed'].includes(r.status as string))
        problems.push(`rows[${i}].${engine}.status: bad`);
      for (const key of ['seconds', 'instructions', 'mips'] as const) {
        if (r[key] !== null && typeof r[key] !== 'number')
          problems.push(`rows[${i}].${engine}.${key}: not a number or null`);
      }
      if (!Array.isArray(r.runs) || r.runs.length === 0) problems.push(`rows[${i}].${engine}.runs: empty`);
    }
    if (engines === 0) problems.push(`rows[${i}]: no engine measured it`);
    return undefined;
  });
  return problems;
}

/**
 * The results as the text of a JSON file at `path`, formatted as Prettier formats it there (the repository's
 * settings), so that a results file kept in bench/ passes `npm run lint` as written.
 */
export async function resultsJson(results: BenchResults, path: string): Promise<string> {
  const options = (await resolveConfig(path)) ?? {};
  return format(JSON.stringify(results, null, 2), { ...options, filepath: path, parser: 'json' });
}
