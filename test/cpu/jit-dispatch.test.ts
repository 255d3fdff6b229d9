/**
 * The block compiler's dispatcher (src/cpu/jit/jit.ts Jit.run): a region that ran only compiled code
 * enters the region it led to last time through its link (Entry.next) instead of a lookup. The link must
 * never outlive what it stands for: the target's code rewritten (from compiled code, through another page),
 * an interrupt in between, a mapping changed by the interpreter. Each case ends as the interpreter ends.
 */
import { describe, expect, test, vi } from 'vitest';
import { CODE, le32, machine, PAGE_TABLE, runFor, state, type Machine } from './jit-fuzz.ts';
import { jitBackendFromEnvironment, type JitBackend, type JitMode } from '../../src/cpu/jit/mode.ts';
import { RUN_DONE, RUN_GENERIC, RUN_JUMPED, runRecordsCold } from '../../src/cpu/decoded.ts';

function load(code: number[], jit: JitMode, backend: JitBackend = jitBackendFromEnvironment()): Machine {
  const m = machine('paged32', Uint8Array.from(code), 1, jit);
  m.cpu.jit.backend = backend;
  if (jit === 'auto') m.cpu.jit.threshold = 2;
  return m;
}

function runToHalt(m: Machine, limit: number, slice = 10_007): void {
  runFor(m, limit, slice);
  expect(m.cpu.halted).toBe(true);
}

/**
 * mov ecx, N; xor ebx, ebx
 * l: call CODE+0x1000          ; another page: the loop's region ends, the callee's is entered (chained)
 *    add ebx, eax
 *    mov [CODE+0x1001], ecx    ; rewrites the callee's imm32 from compiled code (every `every`-th pass)
 *    dec ecx; jnz l; hlt
 * CODE+0x1000: mov eax, 0x1234; ret
 */
function callOtherPage(iterations: number, patch: boolean): number[] {
  const code = [
    0xb9, ...le32(iterations), 0x31, 0xdb,
    0xe8, ...le32(0x1000 - 12),
    0x01, 0xc3,
    ...(patch ? [0x89, 0x0d, ...le32(CODE + 0x1001)] : [0x90, 0x90, 0x90, 0x90, 0x90, 0x90]),
    0x49, 0x75, 0xf0, 0xf4,
  ]; // prettier-ignore
  while (code.length < 0x1000) code.push(0x90);
  code.push(0xb8, ...le32(0x1234), 0xc3);
  return code;
}

const sum = (from: number, to: number) => {
  let s = 0;
  for (let k = from; k <= to; k++) s = (s + k) | 0;
  return s;
};

describe('the dispatcher links regions', () => {
  test('a call to another page and back is chained, and ends as the interpreter ends', () => {
    const n = 20_000;
    const runs = (['off', 'auto', 'on'] as JitMode[]).map((jit) => {
      const m = load(callOtherPage(n, false), jit);
      runToHalt(m, 20 * n);
      expect(m.cpu.reg32[3]).toBe(Math.imul(0x1234, n) | 0);
      return m;
    });
    expect(state(runs[1])).toBe(state(runs[0]));
    expect(state(runs[2])).toBe(state(runs[0]));
    // Most region entries in the steady loop come through the link, not the hash table.
    const stats = runs[1].cpu.jit.stats;
    expect(stats.chained).toBeGreaterThan(stats.regionCalls / 2);
  });

  test.each(['auto', 'on'] as JitMode[])(
    'compiled code rewriting the linked region on another page: the new code runs (jit %s)',
    (jit) => {
      const n = 3000;
      const m = load(callOtherPage(n, true), jit);
      runToHalt(m, 20 * n);
      // First call returns 0x1234, each later one the ECX the previous pass wrote.
      expect(m.cpu.reg32[3]).toBe((0x1234 + sum(2, n)) | 0);
      expect(m.cpu.jit.stats.invalidatedRegions + m.cpu.jit.stats.invalidatedPages).toBeGreaterThan(0);
    },
  );

  test('a remapped code page between two runs is not entered through a stale link', () => {
    const n = 50_000;
    const code = callOtherPage(n, false);
    // A second copy of the callee, at CODE + 0x2000, returning 0x10.
    while (code.length < 0x2000) code.push(0x90);
    code.push(0xb8, ...le32(0x10), 0xc3);
    const m = load(code, 'auto');
    m.cpu.run(100_000);
    expect(m.cpu.halted).toBe(false);
    while (m.cpu.eip !== CODE + 7) m.cpu.step();
    const left = m.cpu.reg32[1];
    const sumSoFar = m.cpu.reg32[3];
    // Linear CODE + 0x1000 now maps the second copy; INVLPG-equivalent: drop the CPU's translations.
    m.memory.write32(PAGE_TABLE + ((CODE + 0x1000) >>> 12) * 4, (CODE + 0x2000) | 7);
    m.cpu.mmu.flush(true);
    runToHalt(m, 20 * n);
    expect(m.cpu.reg32[3]).toBe((sumSoFar + 0x10 * left) | 0);
  });

  test('after an instruction that cannot start a region (it crosses a page) the rest of the block compiles', () => {
    // CODE+0xffe: add eax, 1 (83 C0 01, crossing into the next page); then 16 x inc ebx; dec ecx; jnz back.
    const n = 5000;
    const code: number[] = [0xb9, ...le32(n), 0x31, 0xc0, 0x31, 0xdb, 0xe9, ...le32(0xffe - 14)];
    while (code.length < 0xffe) code.push(0x90);
    const loop = code.length;
    code.push(0x83, 0xc0, 0x01);
    for (let k = 0; k < 16; k++) code.push(0x43);
    code.push(0x49, 0x0f, 0x85, ...le32(loop - (code.length + 7)), 0xf4);
    const m = load(code, 'auto');
    runToHalt(m, 30 * n);
    expect(m.cpu.reg32[0]).toBe(n);
    expect(m.cpu.reg32[3]).toBe(16 * n);
    // The crossing ADD runs in the interpreter each time; the 18 instructions after it only until compiled.
    expect(m.cpu.jit.stats.interpreted).toBeLessThan(2 * n);
  });
});

describe('hot loops are compiled again with their memory accesses in place', () => {
  /**
   * mov ecx, N; mov esi, DATA; xor eax, eax
   * l: add eax, [esi]; mov [esi+4], eax; movzx edx, byte [esi+1]; mov [esi+8], dx; add esi, 4
   *    and esi, 0x203ffc (stays on the data page, keeps ESI inside 0x20000..0x20FFF rounded); dec ecx; jnz l
   * hlt
   */
  const loop = (n: number) => [
    0xb9, ...le32(n), 0xbe, ...le32(0x20000), 0x31, 0xc0,
    0x03, 0x06, 0x89, 0x46, 0x04, 0x0f, 0xb6, 0x56, 0x01, 0x66, 0x89, 0x56, 0x08,
    0x83, 0xc6, 0x04, 0x81, 0xe6, ...le32(0x20ffc), 0x49, 0x75, 0xe5, 0xf4,
  ]; // prettier-ignore

  test('the upgraded region ends as the interpreter ends, and the upgrade happened', () => {
    const n = 5000;
    const runs = (['off', 'auto'] as JitMode[]).map((jit) => {
      const m = load(loop(n), jit, 'js'); // upgrades are the JavaScript back end's
      m.cpu.jit.upgradeCalls = 10;
      for (let i = 0; i < 0x400; i++) m.memory.write32(0x20000 + i * 4, Math.imul(i, 0x9e3779b1));
      // Slices of ~1000: the region is entered again and again with long calls (the loop runs inside one),
      // passes the upgrade count, then runs upgraded.
      runToHalt(m, 20 * n, 997);
      return m;
    });
    expect(state(runs[1])).toBe(state(runs[0]));
    expect(runs[1].cpu.jit.stats.upgraded).toBeGreaterThan(0);
  });

  test('a region whose calls are short (a few instructions each) is left as it is', () => {
    const m = load(loop(3000), 'auto');
    m.cpu.jit.upgradeCalls = 10;
    runToHalt(m, 20 * 3000, 7);
    expect(m.cpu.jit.stats.regionCalls).toBeGreaterThan(1000);
    expect(m.cpu.jit.stats.upgraded).toBe(0);
  });

  test('no upgrade when the same blocks would not come out (a block beyond the region became compilable)', () => {
    // The loop's exit (after `jnz`) is `out dx, al`: no block starts there, so the region is the loop alone
    // and those bytes are not its code. Once they are rewritten to a NOP, a new translation would include a
    // block the region never had (its bytes unprotected): the upgrade is skipped.
    const code = loop(5000);
    const exit = code.length - 1; // the HLT
    code.splice(exit, 0, 0xee);
    const upgraded = (rewrite: boolean) => {
      const m = load(code, 'auto', 'js');
      m.cpu.jit.upgradeCalls = 1_000_000;
      runFor(m, 5000, 997);
      expect(m.cpu.jit.stats.regions).toBeGreaterThan(0);
      if (rewrite) m.memory.write8(CODE + exit, 0x90);
      m.cpu.jit.upgradeCalls = 0;
      m.cpu.run(997);
      return m.cpu.jit.stats.upgraded;
    };
    expect(upgraded(false)).toBeGreaterThan(0);
    expect(upgraded(true)).toBe(0);
  });

  test('a region whose bytes changed since it was compiled is not upgraded', () => {
    const m = load(loop(5000), 'auto', 'js');
    m.cpu.jit.upgradeCalls = 1_000_000;
    runFor(m, 5000, 997);
    expect(m.cpu.jit.stats.regions).toBeGreaterThan(0);
    // The loop's `and esi, imm32` immediate changed behind the compiler's back (no write it could see),
    // then the upgrade is asked for: the copy of the bytes differs, so the region stays as compiled.
    m.memory.ram[CODE + 25] ^= 0x10;
    m.cpu.jit.upgradeCalls = 0;
    m.cpu.run(997);
    expect(m.cpu.jit.stats.upgraded).toBe(0);
  });
});

describe('cold code', () => {
  /**
   * mov eax, 1; add eax, 2; jz +1 (not taken); inc eax; jmp +1; (int3); call f; dec eax; hlt; f: ret
   * Every instruction runs once: all cold.
   */
  const code = [
    0xb8, ...le32(1), 0x83, 0xc0, 0x02, 0x74, 0x01, 0x40, 0xeb, 0x01, 0xcc,
    0xe8, ...le32(2), 0x48, 0xf4, 0xc3,
  ]; // prettier-ignore

  test('runRecordsCold stops after a taken jump, a call and a return where compiled code may start, not after a branch not taken', () => {
    const m = machine('paged32', Uint8Array.from(code), 1, 'off');
    const c = m.cpu;
    // Threshold 0: every arrival is past it, so coldGoesOn lets no run go on after a transfer.
    c.jit.threshold = 0;
    // A read of the code fills the TLB entry the records' loop finds the page through (no walk of its own).
    c.read8(1, c.eip);
    // Each stop: the status, EIP after it and the instructions retired so far.
    const stops: Array<[number, number, number]> = [];
    for (let i = 0; i < 4 && !c.halted; i++) {
      c.enterDecodedPage((c.segBase[1] + c.eip) | 0);
      const status = runRecordsCold(c, c.instructionCount + 100);
      stops.push([status, c.eip - CODE, c.instructionCount]);
      if (status === RUN_GENERIC) break;
    }
    expect(stops).toEqual([
      [RUN_JUMPED, 14, 5], // mov, add, jz (not taken), inc, jmp
      [RUN_JUMPED, 21, 6], // call
      [RUN_JUMPED, 19, 7], // ret
      [RUN_GENERIC, 20, 8], // dec; the HLT is left to the generic path
    ]);
    // The budget ends a run as it ends runRecords: three instructions asked, three retired.
    const again = machine('paged32', Uint8Array.from(code), 1, 'off');
    again.cpu.read8(1, CODE);
    again.cpu.enterDecodedPage(CODE);
    expect(runRecordsCold(again.cpu, again.cpu.instructionCount + 3)).toBe(RUN_DONE);
    expect([again.cpu.eip - CODE, again.cpu.instructionCount]).toEqual([10, 3]);
  });

  test('the dispatcher runs cold code in runs of the interpreter, not an instruction at a time', () => {
    const runs = (jit: JitMode) => {
      const m = machine('paged32', Uint8Array.from(code), 1, jit);
      const steps = vi.spyOn(m.cpu, 'stepDecoded');
      const cold = vi.spyOn(m.cpu, 'runCold');
      runToHalt(m, 100);
      return { m, steps: steps.mock.calls.length, cold: cold.mock.calls.length };
    };
    const auto = runs('auto');
    expect(auto.m.cpu.jit.stats.regions).toBe(0);
    expect(auto.m.cpu.jit.stats.interpreted).toBe(9);
    // The first instruction is stepped (its page is not in the TLB yet, so no lookup can count it), then
    // one run: on past the jmp, the call and the ret (nothing compiled where they lead) to the HLT, run the
    // generic way inside it.
    expect(auto.steps).toBe(1);
    expect(auto.cold).toBe(1);
    expect(state(auto.m)).toBe(state(runs('off').m));
  });

  test('a cold run counts the heat of where its jumps lead, and stops there once that is hot', () => {
    // mov ecx, 1000; l: add eax, ecx; dec ecx; jnz l; hlt
    const loop = [0xb9, ...le32(1000), 0x01, 0xc8, 0x49, 0x75, 0xfb, 0xf4];
    const run = (jit: JitMode) => {
      const m = machine('paged32', Uint8Array.from(loop), 1, jit);
      m.cpu.jit.threshold = 100;
      runToHalt(m, 10_000);
      return m;
    };
    const m = run('auto');
    const s = m.cpu.jit.stats;
    // The back edge's arrivals at l, counted inside the run, reached the threshold: the run stopped there,
    // the lookup compiled the loop, and the region ran the rest.
    expect(s.regions).toBeGreaterThan(0);
    expect(s.regionCalls).toBeGreaterThan(0);
    expect(s.interpreted).toBeLessThan(400);
    expect(state(m)).toBe(state(run('off')));
  });
});
