/** `npm run bench` options (scripts/bench/options.ts): defaults, each option, and refusals that say why. */
import { describe, expect, it } from 'vitest';
import { BenchUsageError, DEFAULT_TIMEOUT_SECONDS, parseBenchArgs } from '../../scripts/bench/options.ts';

const parse = (argv: string[], env: Record<string, string> = {}) => parseBenchArgs(argv, env, 'off');

describe('parseBenchArgs', () => {
  it('defaults: 3 runs, every workload and engine, the CPU default JIT mode', () => {
    const o = parse([]);
    expect(o.runs).toBe(3);
    expect(o.linuxRuns).toBe(3);
    expect(o.only).toEqual(['bench', 'linux', 'busybox', 'multivm']);
    expect(o.engines).toEqual(['visor86', 'v86-jit', 'v86-interp']);
    expect(o.jit).toBe('off');
    expect(o.vmCounts).toEqual([1, 2, 4, 8]);
    expect(o.multiVmIterations).toBe(300);
    expect(o.timeoutSeconds).toEqual(DEFAULT_TIMEOUT_SECONDS);
  });

  it('reads each option', () => {
    const o = parse([
      '--runs=5',
      '--runs-linux=1',
      '--only=multivm,bench',
      '--no-v86',
      '--jit=auto',
      '--iterations=7',
      '--iterations-multivm=40',
      '--vms=1,3',
      '--timeout=60',
      '--timeout-linux=600',
      '--cmdline=console=ttyS0 quiet',
      '--out=/tmp/r.json',
    ]);
    expect(o).toMatchObject({
      runs: 5,
      linuxRuns: 1,
      jit: 'auto',
      iterations: 7,
      multiVmIterations: 40,
      vmCounts: [1, 3],
    });
    expect(o.only).toEqual(['bench', 'multivm']);
    expect(o.engines).toEqual(['visor86']);
    expect(o.timeoutSeconds).toEqual({ bench: 60, linux: 600, busybox: 60, multivm: 60 });
    expect(o.cmdline).toBe('console=ttyS0 quiet');
    expect(o.out).toBe('/tmp/r.json');
  });

  it('takes the JIT mode from VISOR86_JIT, and --jit over it', () => {
    expect(parse([], { VISOR86_JIT: 'on' }).jit).toBe('on');
    expect(parse(['--jit=off'], { VISOR86_JIT: 'on' }).jit).toBe('off');
  });

  it.each([
    [['--runs=0'], /--runs wants a whole number from 1/],
    [['--runs=two'], /not "two"/],
    [['--only=bench,kernel'], /unknown workload "kernel"/],
    [['--engines=qemu'], /unknown engine "qemu"/],
    [['--jit=fast'], /--jit must be off, auto or on/],
    [['--frobnicate'], /unknown option --frobnicate/],
    [['--timeout-linux'], /needs a value/],
    [['runs=3'], /unexpected argument/],
    [['--no-v86', '--engines=v86-jit', '--no-v86'], /no engine left/],
  ])('refuses %j', (argv, message) => {
    expect(() => parse(argv)).toThrow(BenchUsageError);
    expect(() => parse(argv)).toThrow(message);
  });

  it('refuses a bad VISOR86_JIT', () => {
    expect(() => parse([], { VISOR86_JIT: 'maybe' })).toThrow(/VISOR86_JIT must be off, auto or on/);
  });
});
