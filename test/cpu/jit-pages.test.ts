/**
 * Regions whose blocks lie on several pages (src/cpu/jit/codegen.ts generateRegion): a direct branch or call
 * to another page is compiled into the caller's region, and that block checks the TLB still maps its page
 * where it was compiled before it runs. A page remapped behind it, a TLB slot taken by another page, and a
 * write to the other page must each leave the program running exactly as the interpreter runs it.
 */
import { describe, expect, test } from 'vitest';
import type { JitMode } from '../../src/cpu/jit/mode.ts';
import { CODE, machine, PAGE_DIR, PAGE_TABLE, state, type Machine } from './jit-fuzz.ts';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const MODES: JitMode[] = ['off', 'auto', 'on'];
/** The callee's page; CODE + 0x2000 holds a second version of it. */
const CALLEE = CODE + 0x1000;
/** Linear address 16 MiB above the callee: the same TLB slot (4096 slots), mapped by a second page table. */
const SAME_SLOT = CALLEE + 0x1000000;
const LOOP = CODE + 7;

/**
 * mov ecx, N; xor ebx, ebx
 * l: [mov edx, [SAME_SLOT]]; call CALLEE; add ebx, eax; dec ecx; jnz l; hlt
 * CALLEE: mov eax, 1; ret            CODE + 0x2000: mov eax, 2; ret
 */
function callerAndCallee(iterations: number, evict: boolean): number[] {
  const code = [0xb9, ...le32(iterations), 0x31, 0xdb];
  if (evict) code.push(0x8b, 0x15, ...le32(SAME_SLOT));
  const call = CODE + code.length;
  code.push(0xe8, ...le32(CALLEE - (call + 5)), 0x01, 0xc3, 0x49);
  code.push(0x75, (LOOP - (CODE + code.length + 2)) & 0xff, 0xf4);
  while (code.length < 0x1000) code.push(0x90);
  code.push(0xb8, ...le32(1), 0xc3);
  while (code.length < 0x2000) code.push(0x90);
  code.push(0xb8, ...le32(2), 0xc3);
  return code;
}

function load(code: number[], jit: JitMode): Machine {
  const m = machine('paged32', Uint8Array.from(code), 1, jit);
  if (jit === 'auto') m.cpu.jit.threshold = 2;
  // Linear 16-20 MiB maps physical 0-4 MiB, as the first 4 MiB do.
  m.memory.write32(PAGE_DIR + 4 * 4, PAGE_TABLE | 7);
  return m;
}

function runToHalt(m: Machine, limit: number, slice = 10_007): void {
  let left = limit;
  while (!m.cpu.halted && left > 0) left -= m.cpu.run(Math.min(slice, left));
  expect(m.cpu.halted).toBe(true);
}

describe('regions across pages', () => {
  test('a call to another page runs inside the caller region (jit auto)', () => {
    const n = 20_000;
    const m = load(callerAndCallee(n, false), 'auto');
    runToHalt(m, 10 * n);
    expect(m.cpu.reg32[3]).toBe(n);
    // Each iteration leaves for another page and comes back: 2n region calls if the callee were a region of
    // its own; inside the caller's region, a call runs until the budget of a slice runs out.
    expect(m.cpu.jit.stats.regionCalls).toBeLessThan(n / 10);
  });

  test.each(MODES)('the callee page remapped to other code between runs (jit %s)', (jit) => {
    const n = 30_000;
    const m = load(callerAndCallee(n, false), jit);
    m.cpu.run(50_000);
    while (m.cpu.eip !== LOOP) m.cpu.step();
    const done = n - m.cpu.reg32[1];
    expect(m.cpu.reg32[3]).toBe(done);
    // The callee's linear page now maps the second version; the TLB is flushed as a CR3 load would.
    m.memory.write32(PAGE_TABLE + (CALLEE >>> 12) * 4, (CODE + 0x2000) | 7);
    m.cpu.mmu.flush(true);
    runToHalt(m, 10 * n);
    expect(m.cpu.reg32[3]).toBe(done + 2 * (n - done));
  });

  test('without a flush the old translation stays in use, in every mode alike', () => {
    // A remapped page whose stale TLB entry was not flushed may still be used (SDM Vol. 3A 4.10.4.4): every
    // mode must use it exactly as long as the interpreter does (here: until the evicting load below).
    const results = MODES.map((jit) => {
      const m = load(callerAndCallee(5000, true), jit);
      m.cpu.run(20_000);
      m.memory.write32(PAGE_TABLE + (CALLEE >>> 12) * 4, (CODE + 0x2000) | 7);
      runToHalt(m, 100_000);
      return `${state(m)} ebx ${m.cpu.reg32[3]} count ${m.cpu.instructionCount}`;
    });
    expect(results[1]).toBe(results[0]);
    expect(results[2]).toBe(results[0]);
  });

  test.each(MODES)('the callee TLB slot taken by a data page every iteration (jit %s)', (jit) => {
    const n = 5000;
    const m = load(callerAndCallee(n, true), jit);
    runToHalt(m, 20 * n, 997);
    expect(m.cpu.reg32[3]).toBe(n);
    expect(m.cpu.instructionCount).toBe(2 + 7 * n + 1);
  });

  test.each(MODES)('entered at the callee after the caller page was remapped (jit %s)', (jit) => {
    // The callee's block belongs to the caller's region, but the dispatcher must not run that region from
    // the callee's address: its return would go on in the caller's old code without checking the caller page.
    const n = 30_000;
    const code = callerAndCallee(n, false);
    const m = load(code, jit);
    m.cpu.run(50_000);
    while (m.cpu.eip !== LOOP) m.cpu.step();
    const ebx = m.cpu.reg32[3];
    // A second copy of the caller page whose instruction after the call is HLT instead of ADD EBX, EAX.
    const after = code.indexOf(0xe8) + 5;
    const variant = code.slice(0, 0x1000);
    variant[after] = 0xf4;
    m.memory.writeBytes(CODE + 0x3000, Uint8Array.from(variant));
    m.memory.write32(PAGE_TABLE + (CODE >>> 12) * 4, (CODE + 0x3000) | 7);
    m.cpu.mmu.flush(true);
    // The callee's page back in the TLB (as any read of it would put it), so the dispatcher finds its code.
    m.cpu.mmu.translate(CALLEE, false);
    // As if called from the caller page: return address pushed, EIP at the callee.
    m.cpu.reg32[4] -= 4;
    m.memory.write32(m.cpu.reg32[4], CODE + after);
    m.cpu.eip = CALLEE;
    runToHalt(m, 1000);
    expect(m.cpu.eip).toBe(CODE + after + 1);
    expect(m.cpu.reg32[3]).toBe(ebx);
  });

  test.each(MODES)('the callee rewritten between runs, from outside the CPU (jit %s)', (jit) => {
    const n = 30_000;
    const m = load(callerAndCallee(n, false), jit);
    m.cpu.run(50_000);
    while (m.cpu.eip !== LOOP) m.cpu.step();
    const done = n - m.cpu.reg32[1];
    m.memory.writeBytes(CALLEE, Uint8Array.from([0xb8, ...le32(5), 0xc3]));
    runToHalt(m, 10 * n);
    expect(m.cpu.reg32[3]).toBe(done + 5 * (n - done));
  });
});
