/**
 * The instruction count passes 2^31 about two seconds into a Linux boot. V8 stores a field that has only
 * held small integers as one, and when a bigger number arrives it changes the object's hidden class and
 * throws away every optimised function compiled against the old one: on that day every compiled region, the
 * interpreter and the dispatcher (72 functions at once in a boot, measured with --trace-deopt). The CPU
 * therefore gives the count a floating-point value first, and the JIT's and the decoded cache's counters
 * likewise. This runs the bundled machine in a Node started with --allow-natives-syntax and asks V8 whether
 * two CPUs, and their two counter objects, still share a hidden class after one of each counted past 2^31.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { expect, test } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

const PROBE = `
import { createPc } from './src/machine/pc.ts';
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)');
const quiet = createPc({ memoryMiB: 2 }).cpu;
const busy = createPc({ memoryMiB: 2 }).cpu;
// Every object is reached before any count changes: a property access on an object whose hidden class V8
// has since replaced moves it to the new one, and the comparison after it could no longer fail.
const pairs = {
  cpu: [quiet, busy, () => { busy.instructionCount = 2 ** 31 - 1; busy.instructionCount++; busy.instructionCount += 2 ** 32; }],
  jit: [quiet.jit.stats, busy.jit.stats],
  decoded: [quiet.decoded.stats, busy.decoded.stats],
};
const before = {};
const after = {};
for (const [name, [a, b, count]] of Object.entries(pairs)) {
  before[name] = sameMap(a, b);
  if (count) count();
  else for (const key of Object.keys(b)) b[key] = 2 ** 31 + 1;
  after[name] = sameMap(a, b);
}
console.log(JSON.stringify({ before, after }));
`;

test('the CPU and its counters keep their hidden classes when the counts pass 2^31', async () => {
  const result = await build({
    stdin: { contents: PROBE, resolveDir: ROOT, loader: 'ts', sourcefile: 'probe.ts' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    logLevel: 'silent',
  });
  const dir = mkdtempSync(join(tmpdir(), 'visor86-fields-'));
  try {
    const file = join(dir, 'probe.mjs');
    writeFileSync(file, result.outputFiles[0].text);
    const output = execFileSync(process.execPath, ['--allow-natives-syntax', file], { encoding: 'utf8' });
    const same = { cpu: true, jit: true, decoded: true };
    expect(JSON.parse(output.trim().split('\n').pop() as string)).toEqual({ before: same, after: same });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
