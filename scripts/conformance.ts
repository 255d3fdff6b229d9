/**
 * `npm run conformance -- [DIR]`: runs every *.MOO.gz in DIR (default ../shared/conformance/80286-real)
 * against the CPU, prints a per-opcode table of failures, and ends with the line
 * `conformance: P passed, F failed, E excluded of T`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConformanceRunner, formOf, loadMetadata, loadRevocations } from '../test/conformance/harness.ts';

const dir = resolve(process.argv[2] ?? '../shared/conformance/80286-real');
if (!existsSync(dir)) {
  console.error(`conformance: no such directory: ${dir}`);
  process.exit(2);
}
const files = readdirSync(dir)
  .filter((f) => /\.MOO\.gz$/i.test(f))
  .sort();
if (files.length === 0) {
  console.error(`conformance: no *.MOO.gz files in ${dir}`);
  process.exit(2);
}
const meta = existsSync(`${dir}/metadata.json`) ? loadMetadata(dir) : { opcodes: {} };
const revoked = existsSync(`${dir}/revocation_list.txt`) ? loadRevocations(dir) : new Set<string>();
const runner = new ConformanceRunner();
const verbose = process.env.CONFORMANCE_VERBOSE ? Number(process.env.CONFORMANCE_VERBOSE) : 3;
let passed = 0;
let failed = 0;
let excluded = 0;
let total = 0;
const exclusionTotals: Record<string, number> = {};
const failingForms: string[] = [];
for (const file of files) {
  const r = runner.runFile(`${dir}/${file}`, formOf(file), meta, revoked);
  passed += r.passed;
  failed += r.failed;
  excluded += r.excluded;
  total += r.total;
  for (const [id, n] of Object.entries(r.exclusions)) exclusionTotals[id] = (exclusionTotals[id] ?? 0) + n;
  if (r.failed > 0) {
    failingForms.push(r.form);
    console.log(
      `${r.form.padEnd(6)} ${r.mnemonic.padEnd(8)} ${String(r.failed).padStart(6)} failed of ${r.total}`,
    );
    for (const f of r.failures.slice(0, verbose))
      console.log(`    #${f.index} ${f.name} [${f.bytes}]: ${f.detail}`);
  }
}
console.log(`forms with failures: ${failingForms.length} of ${files.length}`);
for (const [id, n] of Object.entries(exclusionTotals)) console.log(`excluded by ${id}: ${n}`);
console.log(`conformance: ${passed} passed, ${failed} failed, ${excluded} excluded of ${total}`);
process.exitCode = failed > 0 ? 1 : 0;
