/**
 * The benchmark's visor86 runner on the real bench guest, one iteration: it reports the guest's checksum and
 * the CPU's exact instruction count, and a run that cannot finish in its time limit is a timeout, not a hang.
 * (No timing is asserted.)
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { prepareBenchGuest } from '../../scripts/bench/run-visor86.ts';
import { withIterations, type Task } from '../../scripts/bench/tasks.ts';

const image = new Uint8Array(readFileSync(new URL('../../images/bench/bench.bin', import.meta.url)));

function task(iterations: number, timeoutMs: number): Task & { image: Uint8Array } {
  return {
    kind: 'bench-guest',
    engine: { name: 'visor86', jit: 'off' },
    label: 'test',
    timeoutMs,
    image: withIterations(image, iterations),
  };
}

describe('visor86 bench-guest runner', () => {
  it('runs the guest to its exit and reports its checksum and instruction count', () => {
    const progress: string[] = [];
    const result = prepareBenchGuest(task(1, 120_000), 'off', (t) => progress.push(t))();
    expect(result.outcome).toBe('ok');
    expect(result.check).toMatch(/^checksum [0-9A-F]{8}$/);
    expect(result.instructions).toBeGreaterThan(1_000_000);
    expect(result.seconds).toBeGreaterThan(0);
  }, 120_000);

  it('patches the iteration count into the image, and refuses an image without the marker', () => {
    const patched = withIterations(image, 7);
    const at = Buffer.from(patched).indexOf('BENCH-ITERATIONS') + 16;
    expect(new DataView(patched.buffer).getUint32(at, true)).toBe(7);
    expect(image).not.toEqual(patched); // the original stays as it was
    expect(() => withIterations(new Uint8Array(64), 1)).toThrow(/no BENCH-ITERATIONS marker/);
  });

  it('gives up with a timeout when the time limit passes', () => {
    const result = prepareBenchGuest(task(100_000, 1), 'off', () => undefined)();
    expect(result.outcome).toBe('timeout');
    expect(result.message).toMatch(/did not finish within 0 s/);
  }, 60_000);
});
