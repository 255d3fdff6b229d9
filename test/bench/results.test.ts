/**
 * The benchmark's result aggregation (scripts/bench/results.ts): medians, ratios between engines, the JSON
 * shape of bench/results.json and the printed table. No timing is measured here.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, resolveConfig } from 'prettier';
import {
  formatTable,
  makeRow,
  median,
  multiVmEfficiency,
  RESULTS_VERSION,
  resultsJson,
  summarize,
  validateResults,
  type BenchResults,
  type RunSample,
} from '../../scripts/bench/results.ts';

const ok = (seconds: number, instructions: number | null, check?: string): RunSample => ({
  outcome: 'ok',
  seconds,
  instructions,
  ...(check ? { check } : {}),
});

describe('median', () => {
  it('takes the middle value of an odd count, unsorted input', () => {
    expect(median([5, 1, 3])).toBe(3);
  });
  it('averages the middle two of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it('is null for no values', () => {
    expect(median([])).toBeNull();
  });
});

describe('summarize', () => {
  it('quotes medians of seconds, instructions and per-run MIPS', () => {
    const r = summarize([ok(2, 20e6), ok(1, 10e6), ok(4, 20e6)]);
    expect(r.status).toBe('ok');
    expect(r.seconds).toBe(2);
    expect(r.instructions).toBe(20e6);
    expect(r.mips).toBe(10); // per-run MIPS 10, 10, 5
    expect(r.runs).toHaveLength(3);
  });

  it('reports the first run that did not finish, with its message, and medians of the rest', () => {
    const r = summarize([
      ok(3, 30e6),
      { outcome: 'timeout', seconds: null, instructions: null, message: 'no prompt' },
    ]);
    expect(r.status).toBe('timeout');
    expect(r.message).toBe('no prompt');
    expect(r.seconds).toBe(3);
  });

  it('has no MIPS when the engine counts no instructions', () => {
    const r = summarize([ok(1, null), ok(2, null)]);
    expect(r.instructions).toBeNull();
    expect(r.mips).toBeNull();
    expect(r.seconds).toBe(1.5);
  });

  it('keeps a check the runs agree on and lists differing ones', () => {
    expect(summarize([ok(1, 1, 'a'), ok(1, 1, 'a')]).check).toBe('a');
    expect(summarize([ok(1, 1, 'a'), ok(1, 1, 'b')]).check).toBe('DIFFERENT: a | b');
  });
});

describe('makeRow', () => {
  it('gives v86 seconds over visor86 seconds as the speed ratio', () => {
    const row = makeRow('w', 'd', {
      visor86: [ok(4, 40e6, 'x')],
      v86Jit: [ok(1, 40e6, 'x')],
      v86Interpreter: [ok(8, 40e6, 'x')],
    });
    expect(row.ratios.vsV86Jit).toBe(0.25);
    expect(row.ratios.vsV86Interpreter).toBe(2);
    expect(row.checkMismatch).toBeUndefined();
  });

  it('has no ratio when a side did not finish, and flags different answers', () => {
    const row = makeRow('w', 'd', {
      visor86: [{ outcome: 'timeout', seconds: null, instructions: null, message: 'slow' }],
      v86Jit: [ok(1, 1, 'x')],
      v86Interpreter: [ok(2, 1, 'y')],
    });
    expect(row.ratios.vsV86Jit).toBeNull();
    expect(row.checkMismatch).toBe(true);
  });

  it('leaves out engines that did not run', () => {
    const row = makeRow('w', 'd', { visor86: [ok(1, 1)] });
    expect(row.v86Jit).toBeUndefined();
    expect(row.ratios).toEqual({ vsV86Jit: null, vsV86Interpreter: null });
  });
});

describe('multiVmEfficiency', () => {
  it('compares aggregate MIPS with single-VM MIPS times the cores the VMs can use', () => {
    expect(multiVmEfficiency(17, 10, 8, 2)).toBeCloseTo(0.85);
    expect(multiVmEfficiency(10, 10, 1, 2)).toBe(1);
    expect(multiVmEfficiency(null, 10, 8, 2)).toBeNull();
  });
});

function sampleResults(): BenchResults {
  return {
    version: RESULTS_VERSION,
    date: new Date(0).toISOString(),
    host: {
      cpus: 2,
      cpuModel: 'test',
      node: 'v20',
      platform: 'linux x64',
      loadAverageBefore: [1],
      loadAverageAfter: [1],
    },
    visor86: { jit: 'off', commit: 'abc' },
    v86: { enabled: true, version: '0.5', bios: 'seabios', instructionCounter: 'test' },
    options: {},
    rows: [
      makeRow('bench-guest', 'the bench guest', { visor86: [ok(2, 20e6, 'c')], v86Jit: [ok(1, 20e6, 'c')] }),
      makeRow('linux-boot', 'boot', {
        visor86: [
          {
            outcome: 'timeout',
            seconds: null,
            instructions: null,
            message: 'did not reach the shell prompt',
          },
        ],
      }),
    ],
  };
}

describe('results JSON', () => {
  it('accepts what the benchmark builds, through a JSON round trip', () => {
    expect(validateResults(JSON.parse(JSON.stringify(sampleResults())))).toEqual([]);
  });

  it('names what is wrong', () => {
    const bad = JSON.parse(JSON.stringify(sampleResults()));
    bad.version = 99;
    bad.rows[0].visor86.seconds = 'fast';
    delete bad.rows[1].visor86;
    expect(validateResults(bad)).toEqual([
      `version: expected ${RESULTS_VERSION}`,
      'rows[0].visor86.seconds: not a number or null',
      'rows[1]: no engine measured it',
    ]);
    expect(validateResults([])).toEqual(['results: not an object']);
  });

  it('is written as Prettier formats JSON in bench/ (npm run lint passes a kept results file)', async () => {
    const path = fileURLToPath(new URL('../../bench/results-example.json', import.meta.url));
    const text = await resultsJson(sampleResults(), path);
    expect(JSON.parse(text)).toEqual(sampleResults());
    const options = (await resolveConfig(path)) ?? {};
    expect(await check(text, { ...options, filepath: path, parser: 'json' })).toBe(true);
    // Not the plain JSON.stringify layout, which Prettier rejects (short arrays go on one line).
    expect(text).not.toBe(JSON.stringify(sampleResults(), null, 2) + '\n');
  });

  it('the committed results files (bench/results-DATE.json) have the shape', () => {
    const dir = fileURLToPath(new URL('../../bench/', import.meta.url));
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^results-.+\.json$/.test(f)) : [];
    for (const f of files)
      expect(validateResults(JSON.parse(readFileSync(join(dir, f), 'utf8'))), f).toEqual([]);
  });
});

describe('formatTable', () => {
  it('prints one line per row with medians and ratios, and notes for failures', () => {
    const text = formatTable(sampleResults().rows);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^workload\s+visor86 s\s+visor86 instr/);
    const bench = lines.find((l) => l.startsWith('bench-guest'));
    expect(bench?.split(/\s{2,}/)).toEqual([
      'bench-guest',
      '2.00',
      '20.0 M',
      '10.0',
      '1.00',
      '20.0',
      '-',
      '-',
      '0.50x',
      '-',
    ]);
    expect(lines.find((l) => l.startsWith('linux-boot'))).toContain('timeout');
    expect(text).toContain('note: linux-boot, visor86: did not reach the shell prompt');
  });
});
