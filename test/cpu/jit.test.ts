/**
 * The block compiler (src/cpu/jit) against the interpreter: random programs in real mode, flat 32-bit and
 * paged 32-bit protected mode (faults, #PF, limit violations included) must leave both in the same state
 * after the same number of instructions; every flag-setting instruction followed by every condition reader;
 * and the switch: where `new Function` is forbidden (a content-security policy), the CPU runs interpreted.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.ts';
import { OpenIoBus } from '../../src/cpu/bus.ts';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import { jitModeFromEnvironment } from '../../src/cpu/jit/mode.ts';
import {
  compare,
  compareFlags,
  execute,
  FLAG_SETTERS,
  INTERESTING,
  machine,
  rng,
  state,
} from './jit-fuzz.ts';

const SEEDS = 24;

describe('JIT against the interpreter: random programs', () => {
  for (const mode of ['real', 'flat32', 'paged32'] as const) {
    test(`${mode}: run in blocks, mode on`, () => {
      for (let seed = 1; seed <= SEEDS; seed++) expect(compare(mode, seed, false, 'on')).toBeNull();
    });
    test(`${mode}: single steps, mode on`, () => {
      for (let seed = 1; seed <= SEEDS; seed++) expect(compare(mode, seed, true, 'on')).toBeNull();
    });
  }
});

describe('JIT against the interpreter: flags', () => {
  test('every flag setter, 16 and 32 bits, then every condition', () => {
    const next = rng(77);
    const value = () => (next() % 2 ? INTERESTING[next() % INTERESTING.length] : next());
    for (const name of Object.keys(FLAG_SETTERS)) {
      for (const size16 of [false, true]) {
        for (let i = 0; i < 3; i++) {
          expect(compareFlags(name, size16, value(), value() & 0x3f, value(), value())).toBeNull();
        }
      }
    }
  });
});

describe('the switch', () => {
  afterEach(() => vi.unstubAllGlobals());

  test('VISOR86_JIT picks the mode; anything else means the default', () => {
    vi.stubEnv('VISOR86_JIT', 'on');
    expect(jitModeFromEnvironment()).toBe('on');
    vi.stubEnv('VISOR86_JIT', ' OFF ');
    expect(jitModeFromEnvironment()).toBe('off');
    vi.stubEnv('VISOR86_JIT', 'fast');
    expect(['off', 'auto']).toContain(jitModeFromEnvironment());
    vi.unstubAllEnvs();
  });

  test('where new Function is forbidden (CSP), the CPU falls back to the interpreter and runs correctly', () => {
    // What a page under `script-src` without 'unsafe-eval' sees: the Function constructor throws EvalError.
    const code = Uint8Array.from([0xb9, 0x10, 0x27, 0, 0, 0x01, 0xc8, 0x49, 0x75, 0xfb, 0xf4]); // sum 1..10000
    const reference = execute(machine('flat32', code, 3, 'off'), 100_000, false);
    vi.stubGlobal('Function', function forbidden() {
      throw new EvalError('Refused to evaluate a string as JavaScript: unsafe-eval is not allowed');
    } as unknown as FunctionConstructor);
    const m = machine('flat32', code, 3, 'auto');
    expect(m.cpu.jitEnabled).toBe(false);
    expect(execute(m, 100_000, false)).toBe(reference);
    expect(m.cpu.jit.stats.regions).toBe(0);
  });

  test('a compile refused later (policy applied after start-up) also falls back, mid-run', () => {
    const code = Uint8Array.from([0xb9, 0x10, 0x27, 0, 0, 0x01, 0xc8, 0x49, 0x75, 0xfb, 0xf4]);
    const reference = execute(machine('flat32', code, 3, 'off'), 100_000, false);
    const m = machine('flat32', code, 3, 'auto');
    expect(m.cpu.jitEnabled).toBe(true);
    vi.stubGlobal('Function', function forbidden() {
      throw new EvalError('unsafe-eval');
    } as unknown as FunctionConstructor);
    expect(execute(m, 100_000, false)).toBe(reference);
    expect(m.cpu.jitEnabled).toBe(false);
  });

  test("mode 'off' compiles nothing; 'on' compiles even single steps", () => {
    const memory = new PhysicalMemory(1 << 20);
    const cpu = new Cpu(memory, new OpenIoBus());
    cpu.jitMode = 'off';
    expect(cpu.jitEnabled).toBe(false);
    cpu.jitMode = 'on';
    expect(cpu.jitEnabled).toBe(true);
    const m = machine('flat32', Uint8Array.from([0x40, 0x40, 0x40, 0xf4]), 1, 'on');
    // The first fetch from a page goes through the interpreter (it fills the TLB); then each step compiles.
    for (let i = 0; i < 3; i++) m.cpu.step();
    expect(m.cpu.jit.stats.regions).toBe(2);
    expect(state(m)).toContain('count 3');
  });
});
