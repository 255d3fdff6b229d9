/**
 * The real-chip referee: every form of the 80286 real-mode SingleStepTests suite in ../shared/conformance,
 * one Vitest test per file, so a failure names the opcode and the failing tests' disassembly.
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConformanceRunner, formOf, loadMetadata, loadRevocations, type FileResult } from './harness.ts';
import { pathExists, requirement } from '../helpers/requirements.ts';

const DIR = resolve(
  process.env.CONFORMANCE_DIR ?? resolve(import.meta.dirname, '../../../shared/conformance/80286-real'),
);
const skip = requirement('the 80286 conformance data', pathExists(DIR), `expected at ${DIR}`);
const files = skip
  ? []
  : readdirSync(DIR)
      .filter((f) => /\.MOO\.gz$/i.test(f))
      .sort();

describe.skipIf(skip !== null)('80286 real-mode conformance', () => {
  const meta = skip ? { opcodes: {} } : loadMetadata(DIR);
  const revoked = skip ? new Set<string>() : loadRevocations(DIR);
  const runner = new ConformanceRunner();
  const results: FileResult[] = [];

  test.each(files)('%s', (file) => {
    const result = runner.runFile(`${DIR}/${file}`, formOf(file), meta, revoked);
    results.push(result);
    const detail = result.failures
      .slice(0, 10)
      .map((f) => `#${f.index} ${f.name} [${f.bytes}]: ${f.detail}`)
      .join('\n');
    expect(result.failed, `${result.form} ${result.mnemonic}: ${result.failed} failed\n${detail}`).toBe(0);
    expect(result.passed + result.excluded).toBe(result.total);
  });

  test('exclusions stay within 2.5% of all tests', () => {
    expect(results.length).toBe(files.length);
    const total = results.reduce((n, r) => n + r.total, 0);
    const excluded = results.reduce((n, r) => n + r.excluded, 0);
    expect(total).toBeGreaterThan(150_000);
    expect(excluded / total).toBeLessThanOrEqual(0.025);
  });
});
