/**
 * Self-modifying code and the block compiler (src/cpu/jit): code that writes data next to itself, patches
 * its own next instruction, is rewritten through another linear alias of its page, or is replaced from
 * outside (a loader, DMA) must run exactly as in the interpreter, in every JIT mode, and the compiler must
 * not recompile a loop over and over because the loop writes data into its own page (Intel SDM Vol. 3A,
 * 8.1.3 "Handling Self- and Cross-Modifying Code": a write to code takes effect for the next instruction).
 */
import { describe, expect, test } from 'vitest';
import type { JitMode } from '../../src/cpu/jit/mode.ts';
import {
  CODE,
  execute,
  le32,
  machine,
  PAGE_TABLE,
  runFor,
  state,
  type FuzzMode,
  type Machine,
} from './jit-fuzz.ts';

const MODES: JitMode[] = ['off', 'auto', 'on'];

/** A machine running `code` at CODE; in 'auto' blocks compile after two runs, so short loops get compiled. */
function load(mode: FuzzMode, code: number[], jit: JitMode): Machine {
  const m = machine(mode, Uint8Array.from(code), 1, jit);
  m.cpu.jit.threshold = jit === 'auto' ? 2 : m.cpu.jit.threshold;
  return m;
}

/** Runs to HLT in slices of `slice` instructions (so blocks get entered with all kinds of budgets left). */
function runToHalt(m: Machine, limit: number, slice = 10_007): void {
  runFor(m, limit, slice);
  expect(m.cpu.halted).toBe(true);
}

/**
 * mov ecx, N; xor eax, eax
 * l: mov [CODE+0x800], ecx; add eax, [CODE+0x800]; dec ecx; jnz l; hlt
 */
function dataNextToCode(iterations: number): number[] {
  return [
    0xb9, ...le32(iterations), 0x31, 0xc0,
    0x89, 0x0d, ...le32(CODE + 0x800),
    0x03, 0x05, ...le32(CODE + 0x800),
    0x49, 0x75, 0xf1, 0xf4,
  ]; // prettier-ignore
}

/**
 * mov ecx, N; xor eax, eax
 * l: mov [patch+2], cl     ; the imm8 of the very next instruction
 * patch: add eax, 0 (83 C0 ib); dec ecx; jnz l; hlt
 */
function patchNextInstruction(iterations: number): number[] {
  return [
    0xb9, ...le32(iterations), 0x31, 0xc0,
    0x88, 0x0d, ...le32(CODE + 15),
    0x83, 0xc0, 0x00,
    0x49, 0x75, 0xf4, 0xf4,
  ]; // prettier-ignore
}

/** The alias page: linear 0x300000 maps the physical page at CODE + 0x1000 (paged32 machines only). */
const ALIAS = 0x300000;

/**
 * mov ecx, N; xor ebx, ebx
 * l: call CODE+0x1000; add ebx, eax; mov [ALIAS+1], ecx; dec ecx; jnz l; hlt
 * CODE+0x1000: mov eax, 0x1234; ret       (its imm32 rewritten through the alias)
 */
function patchThroughAlias(iterations: number): number[] {
  const code = [
    0xb9, ...le32(iterations), 0x31, 0xdb,
    0xe8, ...le32(0x1000 - 12),
    0x01, 0xc3,
    0x89, 0x0d, ...le32(ALIAS + 1),
    0x49, 0x75, 0xf0, 0xf4,
  ]; // prettier-ignore
  while (code.length < 0x1000) code.push(0x90);
  code.push(0xb8, ...le32(0x1234), 0xc3);
  return code;
}

function mapAlias(m: Machine): void {
  m.memory.write32(PAGE_TABLE + (ALIAS >>> 12) * 4, (CODE + 0x1000) | 7);
}

const sum = (from: number, to: number) => {
  let s = 0;
  for (let k = from; k <= to; k++) s = (s + k) | 0;
  return s;
};

describe('self-modifying code', () => {
  test.each(MODES)('a loop writing data into its own code page: correct, no recompiling (jit %s)', (jit) => {
    const n = 50_000;
    const m = load('flat32', dataNextToCode(n), jit);
    runToHalt(m, 10 * n);
    expect(m.cpu.reg32[0]).toBe(sum(1, n));
    expect(m.cpu.instructionCount).toBe(2 + 4 * n + 1);
    // The loop is compiled a bounded number of times, not once per iteration (its page is written 50,000 times).
    if (jit !== 'off') expect(m.cpu.jit.stats.regions).toBeLessThan(10);
  });

  test.each(MODES)('an instruction patched by the one before it runs patched (jit %s)', (jit) => {
    const n = 3000;
    const m = load('flat32', patchNextInstruction(n), jit);
    runToHalt(m, 10 * n);
    let expected = 0;
    for (let k = n; k >= 1; k--) expected = (expected + ((k << 24) >> 24)) | 0;
    expect(m.cpu.reg32[0]).toBe(expected);
  });

  test.each(MODES)('code rewritten through another linear alias of its page (jit %s)', (jit) => {
    const n = 2000;
    const m = load('paged32', patchThroughAlias(n), jit);
    mapAlias(m);
    runToHalt(m, 20 * n);
    expect(m.cpu.reg32[3]).toBe((0x1234 + sum(2, n)) | 0);
  });

  test.each(MODES)('code replaced from outside the CPU (a loader or DMA) between runs (jit %s)', (jit) => {
    const n = 400_000;
    const m = load('paged32', patchThroughAlias(n), jit);
    // No alias: the loop's writes go to linear 0x300000, plain RAM far from the code.
    m.memory.write32(PAGE_TABLE + (ALIAS >>> 12) * 4, 0x100000 | 7);
    m.cpu.run(100_000);
    // On to the top of the loop (call not yet made), where EBX holds the sum of the calls so far.
    while (m.cpu.eip !== CODE + 7) m.cpu.step();
    const left = m.cpu.reg32[1];
    const sumSoFar = m.cpu.reg32[3];
    expect(sumSoFar).toBe((0x1234 * (n - left)) | 0);
    // mov eax, 0x1234 becomes mov eax, 0x10: every later call returns 16.
    m.memory.writeBytes(CODE + 0x1000, Uint8Array.from([0xb8, ...le32(0x10), 0xc3]));
    runToHalt(m, 10 * n);
    expect(m.cpu.reg32[3]).toBe((sumSoFar + 0x10 * left) | 0);
  });

  test('all modes end in the same state, instruction for instruction', () => {
    const programs: Array<[FuzzMode, number[], boolean]> = [
      ['flat32', dataNextToCode(5000), false],
      ['flat32', patchNextInstruction(700), false],
      ['paged32', patchThroughAlias(700), true],
    ];
    for (const [mode, code, alias] of programs) {
      const states = MODES.map((jit) => {
        const m = load(mode, code, jit);
        if (alias) mapAlias(m);
        // Odd budgets: stops land inside compiled blocks' ranges too.
        return [1, 13, 997, 20_011].map((budget) => execute(m, budget, false)).join('\n') + state(m);
      });
      expect(states[1]).toBe(states[0]);
      expect(states[2]).toBe(states[0]);
    }
  });

  test('a page fault inside a compiled loop is delivered exactly as the interpreter does', () => {
    // mov esi, 0x20000; l: mov eax, [esi]; add esi, 0x1000; inc ebx; jmp l
    // The paged32 machine leaves linear page 0x2b not present: the loop walks up to it and faults there.
    const code = [0xbe, ...le32(0x20000), 0x8b, 0x06, 0x81, 0xc6, ...le32(0x1000), 0x43, 0xeb, 0xf5];
    const results = MODES.map((jit) => {
      const m = load('paged32', code, jit);
      m.cpu.reg32[3] = 0;
      runToHalt(m, 1000, 7);
      return `${state(m)} cr2 ${m.cpu.cr2.toString(16)} ebx ${m.cpu.reg32[3]}`;
    });
    expect(results[0]).toContain('cr2 2b000');
    expect(results[1]).toBe(results[0]);
    expect(results[2]).toBe(results[0]);
  });

  test('dropping everything after heavy invalidation terminates (page lists stay acyclic)', () => {
    const m = load('flat32', patchNextInstruction(2000), 'on');
    runToHalt(m, 20_000);
    m.cpu.jit.flush();
    m.cpu.reset();
    expect(m.cpu.jit.stats.flushes).toBeGreaterThan(1);
  });
});
