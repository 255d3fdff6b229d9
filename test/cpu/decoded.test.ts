/**
 * The interpreter's decoded-instruction cache (src/cpu/decoded.ts) against the interpreter decoding every
 * instruction as it runs: random programs (faults, #PF, segment limits included) and every flag setter must
 * leave both in the same state; code rewritten next to its own records, through an alias page, or from
 * outside the CPU must run as rewritten (Intel SDM Vol. 3A, 8.1.3); and the forms the cache runs itself
 * must really be run from records (else the comparisons would test nothing).
 */
import { describe, expect, test, vi } from 'vitest';
import {
  CODE,
  compareFlags,
  DATA,
  GDT,
  execute,
  FLAG_SETTERS,
  INTERESTING,
  machine,
  program,
  rng,
  state,
} from './jit-fuzz.ts';
import type { FlagsSide, FuzzMode, Machine } from './jit-fuzz.ts';
import { OpenIoBus, type IoBus } from '../../src/cpu/bus.ts';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** An interpreter-only machine (JIT off), with the decoded-instruction cache on or off. */
function interpreter(mode: FuzzMode, code: Uint8Array, seed: number, cache: boolean, bus?: IoBus): Machine {
  const m = machine(mode, code, seed, 'off', bus);
  m.cpu.decoded.enabled = cache;
  return m;
}

/** Opcodes of the forms the cache runs from records, and of their neighbours it leaves generic. */
const FORM_OPS = [
  0x01, 0x03, 0x09, 0x0b, 0x11, 0x13, 0x19, 0x1b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33, 0x39, 0x3b, 0x04, 0x0c,
  0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x05, 0x15, 0x2d, 0x3d, 0x81, 0x83, 0x85, 0x88, 0x89, 0x8a, 0x8b, 0x8d,
  0xa1, 0xa3, 0xc1, 0xd1, 0xd3, 0xc6, 0xc7, 0x40, 0x43, 0x47, 0x48, 0x4c, 0x4f, 0x50, 0x53, 0x56, 0x58, 0x5b,
  0x5e, 0xb8, 0xbb, 0xbf, 0x90, 0x00, 0x02, 0x84, 0xd0, 0xf7, 0xf7, 0x08, 0x0a, 0x10, 0x1a, 0x20, 0x2a, 0x30,
  0x38, 0x3a, 0x80, 0x82, 0x84, 0x88, 0x8a, 0xb0, 0xb4, 0xb7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
  0xff, 0xf6, 0xf6, 0x68, 0x6a, 0xc9, 0x69, 0x6b, 0x87, 0x87, 0x92, 0x97, 0x98, 0x99, 0xa4, 0xa5, 0xa7, 0xaa,
  0xab, 0xac, 0xad, 0xae, 0xaf,
];
/** The word forms (operand-size prefix), with FF (INC/DEC r/m) and the byte shifts next to them. */
const WORD_FORM_OPS = [0x89, 0x8b, 0xc1, 0xd1, 0xff, 0xc0, 0xd3, 0x8d, 0x90];

/**
 * Instructions of `ops` (FF only as INC, DEC and PUSH), with every ModRM/SIB form, segment overrides, other
 * prefixes (16-bit operands in `wordShare` percent of them; addresses, LOCK, REP) and short forward branches.
 */
function formsProgram(seed: number, count: number, ops = FORM_OPS, wordShare = 3): Uint8Array {
  const next = rng(seed);
  const out: number[] = [];
  // IMUL, MOVZX/MOVSX, SETcc and CMOVcc (a few conditions each).
  const twoByte = [0xaf, 0xb6, 0xb7, 0xbe, 0xbf, 0x90, 0x93, 0x94, 0x9c, 0x9f, 0x42, 0x45, 0x47, 0x4c, 0x4e];
  for (let i = 0; i < count; i++) {
    if (next() % 100 < wordShare) out.push(0x66);
    const r = next() % 100;
    if (r < 10) out.push([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65][next() % 6]);
    else if (r < 13) out.push([0x66, 0x67, 0xf0, 0xf3][next() % 4]);
    if (r >= 95) {
      // A short forward branch (Jcc rel8, JMP rel8, Jcc rel32, CALL to a RET placed right after it).
      const form = next() % 4;
      if (form === 0) out.push(0x70 | (next() % 16), next() % 6);
      else if (form === 1) out.push(0xeb, next() % 6);
      else if (form === 2) out.push(0x0f, 0x80 | (next() % 16), ...le32(next() % 6));
      else out.push(0xe8, ...le32(1), 0xeb, 1, 0xc3); // call l; jmp over; l: ret
      continue;
    }
    const op = next() % 5 === 0 ? -1 : ops[next() % ops.length];
    if (op < 0) out.push(0x0f, twoByte[next() % twoByte.length]);
    else out.push(op);
    // ModRM (any; FF's only INC, DEC and PUSH), SIB (any), then enough bytes for a disp32 and an imm32.
    const mod = [0, 1, 2, 3, 3][next() % 5] << 6;
    const reg = op === 0xff ? [0, 1, 6][next() % 3] : next() & 7;
    out.push(
      mod | (reg << 3) | (next() & 7),
      next() & 0xff,
      next() & 0x3f,
      next() & 0x03,
      0,
      0,
      next() & 0xff,
      next() & 0xff,
    );
  }
  out.push(0xf4);
  return Uint8Array.from(out);
}

/** Runs `code` in `mode` with the cache off and on; returns the difference, or null. */
function compareCache(mode: FuzzMode, code: Uint8Array, seed: number, budget: number): string | null {
  const run = (cache: boolean) => {
    const m = interpreter(mode, code, seed, cache);
    return `${execute(m, budget, false)}\nfpu ${JSON.stringify(m.cpu.fpu.saveState())}`;
  };
  const a = run(false);
  const b = run(true);
  if (a === b) return null;
  return `${mode} seed ${seed}: ${Buffer.from(code).toString('hex')}\n--- decoding as it runs\n${a}\n--- cache\n${b}`;
}

const CACHE_OFF_AND_ON: readonly FlagsSide[] = [
  { label: 'decoding as it runs', jit: 'off', cache: false },
  { label: 'cache', jit: 'off', cache: true },
];

describe('decoded-instruction cache against decoding as it runs', () => {
  for (const mode of ['flat32', 'paged32', 'real'] as const) {
    test(`${mode}: random programs`, () => {
      for (let seed = 1; seed <= 60; seed++)
        expect(compareCache(mode, program(seed, 40), seed, 400)).toBeNull();
    });
    test(`${mode}: the cache's own forms, every ModRM and SIB`, () => {
      for (let seed = 1; seed <= 150; seed++) {
        expect(compareCache(mode, formsProgram(seed, 40), seed, 400)).toBeNull();
      }
    });
    test(`${mode}: the word forms, every ModRM and SIB`, () => {
      for (let seed = 1; seed <= 100; seed++) {
        expect(compareCache(mode, formsProgram(seed, 40, WORD_FORM_OPS, 70), seed, 400)).toBeNull();
      }
    });
  }

  test('every flag setter, 16 and 32 bits, then every condition', () => {
    const next = rng(91);
    const value = () => (next() % 2 ? INTERESTING[next() % INTERESTING.length] : next());
    for (const name of Object.keys(FLAG_SETTERS)) {
      for (const size16 of [false, true]) {
        for (let i = 0; i < 3; i++) {
          expect(
            compareFlags(name, size16, value(), value() & 0x3f, value(), value(), CACHE_OFF_AND_ON),
          ).toBeNull();
        }
      }
    }
  });

  test('the forms are run from records: a register loop decodes each instruction once', () => {
    // mov ecx, N; l: add eax, ecx; xor edx, eax; lea ebx, [ebx+eax*2+4]; dec ecx; jnz l; hlt
    const n = 5000;
    const code = Uint8Array.from([
      0xb9,
      ...le32(n),
      0x01,
      0xc8,
      0x31,
      0xc2,
      0x8d,
      0x5c,
      0x43,
      0x04,
      0x49,
      0x75,
      0xf5,
      0xf4,
    ]);
    const m = interpreter('flat32', code, 1, true);
    m.cpu.reg32[0] = m.cpu.reg32[3] = 0;
    const generic = vi.spyOn(m.cpu, 'stepUnchecked');
    execute(m, 10 * n, false);
    expect(m.cpu.halted).toBe(true);
    expect(m.cpu.instructionCount).toBe(1 + 5 * n + 1);
    // Only the HLT, and the first instruction (run before its page is known), are run the generic way.
    expect(generic.mock.calls.length).toBeLessThanOrEqual(2);
    // Seven instructions, decoded at most once each (the first may run before its page is known): a second
    // decode would mean the records were not found again.
    expect(m.cpu.decoded.stats.decoded).toBeGreaterThanOrEqual(5);
    expect(m.cpu.decoded.stats.decoded).toBeLessThanOrEqual(7);
    const off = interpreter('flat32', code, 1, false);
    off.cpu.reg32[0] = off.cpu.reg32[3] = 0;
    execute(off, 10 * n, false);
    expect(state(m)).toBe(state(off));
  });
});

test('the word forms are run from records: a loop of 16-bit loads, stores, moves and shifts', () => {
  // mov ecx, N; l: mov ax, [esi]; shr ax, 3; mov [esi+2], ax; mov bx, ax; rol bx, 1; inc dword [esi+4];
  // dec dword [esi+8]; dec ecx; jnz l; hlt
  const n = 3000;
  const code = Uint8Array.from([
    0xb9,
    ...le32(n),
    ...[0x66, 0x8b, 0x06],
    ...[0x66, 0xc1, 0xe8, 0x03],
    ...[0x66, 0x89, 0x46, 0x02],
    ...[0x66, 0x89, 0xc3],
    ...[0x66, 0xd1, 0xc3],
    ...[0xff, 0x46, 0x04],
    ...[0xff, 0x4e, 0x08],
    0x49,
    0x75,
    0xe6,
    0xf4,
  ]);
  const run = (cache: boolean) => {
    const m = interpreter('flat32', code, 7, cache);
    m.cpu.reg32[6] = DATA;
    const generic = vi.spyOn(m.cpu, 'stepUnchecked');
    execute(m, 20 * n, false);
    expect(m.cpu.halted).toBe(true);
    expect(m.cpu.instructionCount).toBe(1 + 9 * n + 1);
    return { m, generic: generic.mock.calls.length };
  };
  const on = run(true);
  const off = run(false);
  expect(on.generic).toBeLessThanOrEqual(2);
  expect(off.generic).toBe(1 + 9 * n + 1);
  expect(state(on.m)).toBe(state(off.m));
});

/** One instruction of each form, with operands in RAM (ESI and EBP point into the data area). */
const SINGLE_FORMS: Record<string, number[]> = {
  'test eax, imm32': [0xf7, 0xc0, ...le32(0x80000001)],
  'test [esi+4], imm32': [0xf7, 0x46, 0x04, ...le32(0x00ff00ff)],
  'test bh, imm8': [0xf6, 0xc7, 0x81],
  'test byte [esi+1], imm8': [0xf6, 0x46, 0x01, 0x80],
  'setb bh': [0x0f, 0x92, 0xc7],
  'setle [esi+3]': [0x0f, 0x9e, 0x46, 0x03],
  'cmovl eax, ebx': [0x0f, 0x4c, 0xc3],
  'cmovbe eax, [esi+8]': [0x0f, 0x46, 0x46, 0x08],
  leave: [0xc9],
  'push imm32': [0x68, ...le32(0x12345678)],
  'push imm8': [0x6a, 0xfd],
  'push [esi+12]': [0xff, 0x76, 0x0c],
  'push [esp+4]': [0xff, 0x74, 0x24, 0x04],
  'inc dword [esi]': [0xff, 0x06],
  'dec dword [esi+4]': [0xff, 0x4e, 0x04],
  'mov ax, [esi+2]': [0x66, 0x8b, 0x46, 0x02],
  'mov [esi+6], bx': [0x66, 0x89, 0x5e, 0x06],
  'mov cx, dx': [0x66, 0x89, 0xd1],
  'shr ax, 3': [0x66, 0xc1, 0xe8, 0x03],
  'rcl bx, 1': [0x66, 0xd1, 0xd3],
  pause: [0xf3, 0x90],
  'xchg ax, ax': [0x66, 0x90],
  'loop (taken when ECX is not 1)': [0xe2, 0x00],
  'loope (ZF from the CMP before)': [0xe1, 0x00],
  'loopne (ZF from the CMP before)': [0xe0, 0x00],
  'jecxz (taken when ECX is 0)': [0xe3, 0x00],
  'jmp ebx (to the HLT)': [0xff, 0xe3],
  'jmp [esi+16] (to the HLT)': [0xff, 0x66, 0x10],
  'call ebx (to the HLT)': [0xff, 0xd3],
  'call [esi+16] (to the HLT)': [0xff, 0x56, 0x10],
  'imul eax, ebx, imm32': [0x69, 0xc3, ...le32(0x12345)],
  'imul eax, [esi+4], imm8': [0x6b, 0x46, 0x04, 0xf9],
  'xchg eax, edi': [0x97],
  'xchg ebx, ecx': [0x87, 0xcb],
  'xchg [esi+8], edx': [0x87, 0x56, 0x08],
  cwde: [0x98],
  cdq: [0x99],
  movsd: [0xa5],
  'fs: movsb': [0x64, 0xa4],
  cmpsd: [0xa7],
  stosb: [0xaa],
  stosd: [0xab],
  lodsd: [0xad],
  'lodsb (ES)': [0x26, 0xac],
  scasb: [0xae],
  scasd: [0xaf],
};

test.each(Object.entries(SINGLE_FORMS))('%s: run from a record, as when decoding as it runs', (_, insn) => {
  // nop (its page's translation is not known before it runs); cmp ecx, edx (varied flags); the form; hlt.
  const code = Uint8Array.from([0x90, 0x39, 0xd1, ...insn, 0xf4]);
  for (let seed = 1; seed <= 12; seed++) {
    const run = (cache: boolean) => {
      const m = interpreter('flat32', code, seed, cache);
      m.cpu.reg32[5] = DATA + 0x40;
      m.cpu.reg32[6] = DATA + (seed & 3) * 0x10;
      m.cpu.reg32[7] = DATA + 0x80 + (seed & 4) * 0x10;
      if (seed & 1) m.cpu.reg32[1] = seed & 2; // ECX 0 or 2 (LOOP, JECXZ)
      // The jumps and calls: EBX and [ESI+16] hold the address of the HLT; DF both ways.
      const hlt = CODE + 3 + insn.length;
      if (insn[0] === 0xff) m.cpu.reg32[3] = hlt;
      m.memory.write32(m.cpu.reg32[6] + 16, hlt);
      if (seed & 8) m.cpu.flags |= 0x400;
      const generic = vi.spyOn(m.cpu, 'stepUnchecked');
      execute(m, 10, false);
      return { state: state(m), generic: generic.mock.calls.length };
    };
    const on = run(true);
    expect(on.state).toBe(run(false).state);
    expect(on.state).toContain('count 4 halted true');
    expect(on.generic).toBe(2); // the nop and the hlt
  }
});

test('loads and stores at the edges of the fast path: segment limit, page end, rights', () => {
  const disp = (v: number) => le32(v);
  const reloadFs = [0x66, 0xb8, 0x18, 0x00, 0x8e, 0xe0]; // mov ax, 0x18; mov fs, ax
  const loadSs = [0xb8, ...disp(0x18), 0x8e, 0xd0]; // mov eax, 0x18; mov ss, ax
  const loadSs16 = [0x31, 0xc0, 0xb0, 0x18, 0x8e, 0xd0]; // xor eax, eax; mov al, 0x18; mov ss, ax
  // push eax; push ebx; pop ecx; pop edx; call +2; jmp +1; ret; push esp; pop esi; push esp; pop esp
  const stackOps = [0x50, 0x53, 0x59, 0x5a, 0xe8, ...disp(2), 0xeb, 0x01, 0xc3, 0x54, 0x5e, 0x54, 0x5c];
  // [what, mode, instructions, whether the last one faults]. Each case first touches the page its last
  // access uses, so that the TLB holds it and only the other conditions can send the access to the helper.
  const cases: Array<[string, 'flat32' | 'paged32', number[], boolean]> = [
    // FS: base 0x20000, limit 0xFFFF (jit-fuzz.ts).
    [
      'load, last dword inside the limit',
      'flat32',
      [0x64, 0x8b, 0x05, ...disp(0xfff0), 0x64, 0x8b, 0x05, ...disp(0xfffc)],
      false,
    ],
    [
      'load across the limit',
      'flat32',
      [0x64, 0x8b, 0x05, ...disp(0xfff0), 0x64, 0x8b, 0x05, ...disp(0xfffd)],
      true,
    ],
    // FS reloaded after its limit was made 0xFFFE (see below): the dword at 0xFFFC stays on its page.
    [
      'load across a limit inside a page',
      'flat32',
      [...reloadFs, 0x64, 0x8b, 0x05, ...disp(0xfff0), 0x64, 0x8b, 0x05, ...disp(0xfffc)],
      true,
    ],
    [
      'store across the limit',
      'flat32',
      [0x64, 0x89, 0x05, ...disp(0xfff0), 0x64, 0x89, 0x05, ...disp(0xffff)],
      true,
    ],
    // Linear 0x30000 through DS, then the same linear address as FS:0x10000, past FS's limit.
    [
      'load past the limit',
      'flat32',
      [0x8b, 0x05, ...disp(0x30000), 0x64, 0x8b, 0x05, ...disp(0x10000)],
      true,
    ],
    // CS is not writable: a store through it faults though DS may write the same place.
    ['store through CS', 'flat32', [0x89, 0x05, ...disp(0x30000), 0x2e, 0x89, 0x05, ...disp(0x30000)], true],
    // Page 0x2A is mapped, 0x2B not: a dword that starts on 0x2A and ends on 0x2B.
    [
      'load across into a missing page',
      'paged32',
      [0x8b, 0x05, ...disp(0x2aff0), 0x8b, 0x05, ...disp(0x2affe)],
      true,
    ],
    [
      'store across into a missing page',
      'paged32',
      [0x89, 0x05, ...disp(0x2aff0), 0x89, 0x05, ...disp(0x2affd)],
      true,
    ],
    // Page 0x23 is read-only: a read fills the TLB with the read right only; the store then faults.
    [
      'store to a read-only page',
      'paged32',
      [0x8b, 0x05, ...disp(0x23000), 0x89, 0x05, ...disp(0x23004)],
      true,
    ],
    // Bytes (MOV r8, MOVZX, MOV m8 from a register and an immediate), the values read and written in place.
    [
      'bytes on a page the TLB holds',
      'flat32',
      [
        ...[0x8b, 0x05, ...disp(0x30000)], // mov eax, [0x30000]
        ...[0x88, 0x1d, ...disp(0x30001)], // mov [0x30001], bl
        ...[0x88, 0x3d, ...disp(0x30002)], // mov [0x30002], bh
        ...[0x8a, 0x0d, ...disp(0x30003)], // mov cl, [0x30003]
        ...[0x8a, 0x2d, ...disp(0x30001)], // mov ch, [0x30001]
        ...[0x0f, 0xb6, 0x15, ...disp(0x30002)], // movzx edx, byte [0x30002]
        ...[0xc6, 0x05, ...disp(0x30005), 0x77], // mov byte [0x30005], 0x77
        ...[0x0f, 0xb6, 0x35, ...disp(0x30005)], // movzx esi, byte [0x30005]
        ...[0x8a, 0x05, ...disp(0x30fff)], // mov al, [0x30fff] (a page's last byte)
      ],
      false,
    ],
    [
      "byte load, the limit's last byte",
      'flat32',
      [0x64, 0x8b, 0x05, ...disp(0xfff0), 0x64, 0x8a, 0x05, ...disp(0xffff)],
      false,
    ],
    [
      'byte load past the limit',
      'flat32',
      [0x8b, 0x05, ...disp(0x30000), 0x64, 0x0f, 0xb6, 0x05, ...disp(0x10000)],
      true,
    ],
    [
      'byte store past the limit',
      'flat32',
      [0x8b, 0x05, ...disp(0x30000), 0x64, 0x88, 0x05, ...disp(0x10000)],
      true,
    ],
    [
      'byte immediate store past the limit',
      'flat32',
      [0x8b, 0x05, ...disp(0x30000), 0x64, 0xc6, 0x05, ...disp(0x10000), 0x12],
      true,
    ],
    [
      'byte store through CS',
      'flat32',
      [0x88, 0x05, ...disp(0x30000), 0x2e, 0x88, 0x05, ...disp(0x30000)],
      true,
    ],
    // A null selector in DS makes it unusable: a load through it faults though the TLB holds the page.
    [
      'byte load through a null DS',
      'flat32',
      [0x8b, 0x05, ...disp(0x30000), 0x31, 0xc0, 0x8e, 0xd8, 0x8a, 0x0d, ...disp(0x30000)],
      true,
    ],
    [
      'byte store to a read-only page',
      'paged32',
      [0x8b, 0x05, ...disp(0x23000), 0x88, 0x05, ...disp(0x23004)],
      true,
    ],
    // The stack forms (PUSH, POP, CALL, RET) with their access in place.
    ['push, pop, call and ret', 'flat32', [0xbc, ...disp(0x30010), ...stackOps], false],
    ['push, pop, call and ret, ESP not aligned', 'flat32', [0xbc, ...disp(0x30013), ...stackOps], false],
    [
      'push and pop across a page boundary',
      'flat32',
      [0xbc, ...disp(0x30002), 0x50, 0x5b, 0xbc, ...disp(0x2fffe), 0x59, 0xe8, ...disp(0), 0x5a],
      false,
    ],
    [
      'pop across into a missing page',
      'paged32',
      [0x8b, 0x05, ...disp(0x2aff0), 0xbc, ...disp(0x2affe), 0x58],
      true,
    ],
    [
      'ret across into a missing page',
      'paged32',
      [0x8b, 0x05, ...disp(0x2aff0), 0xbc, ...disp(0x2affe), 0xc3],
      true,
    ],
    // SS = 0x18 made a 32-bit segment (see below): base 0x20000, limit 0xFFFE, so that its last dword
    // lies in one page.
    ['a stack segment with a base', 'flat32', [...loadSs, 0xbc, ...disp(0x8000), ...stackOps], false],
    // A push first, so that the TLB holds the page and only the limit can send the pop to the helper.
    [
      'pop past the stack limit',
      'flat32',
      [...loadSs, 0xbc, ...disp(0xfff0), 0x50, 0xbc, ...disp(0xfffc), 0x58],
      true,
    ],
    [
      'ret past the stack limit',
      'flat32',
      [...loadSs, 0xbc, ...disp(0xfff0), 0x50, 0xbc, ...disp(0xfffc), 0xc3],
      true,
    ],
    [
      'push past the stack limit',
      'flat32',
      [...loadSs, 0xbc, ...disp(0xfff0), 0x50, 0xbc, ...disp(0x10000), 0x50],
      true,
    ],
    // 0x18 as it is: a 16-bit stack (SP), through the CPU's helpers.
    ['a 16-bit stack', 'flat32', [...loadSs16, 0xbc, ...disp(0x8000), ...stackOps], false],
  ];
  for (const [name, mode, insns, faults] of cases) {
    const code = Uint8Array.from([0x90, ...insns, 0xf4]);
    const run = (cache: boolean) => {
      const m = interpreter(mode, code, 3, cache);
      if (insns[0] === reloadFs[0]) m.memory.write32(GDT + 24, 0x0000fffe);
      if (insns[0] === loadSs[0]) {
        m.memory.write32(GDT + 24, 0x0000fffe);
        m.memory.write32(GDT + 28, 0x00409302); // B = 1
      }
      execute(m, 20, false);
      return m;
    };
    const on = run(true);
    expect(state(on), name).toBe(state(run(false)));
    // A fault ends at its handler's HLT, not the program's.
    expect(on.cpu.eip !== CODE + code.length, name).toBe(faults);
  }
});

describe('decoded-instruction cache: code that changes', () => {
  test('an instruction patched by the one before it runs patched', () => {
    // mov ecx, N; xor eax, eax; l: mov [patch+2], cl; patch: add eax, 0 (83 C0 ib); dec ecx; jnz l; hlt
    const n = 3000;
    const code = [
      0xb9,
      ...le32(n),
      0x31,
      0xc0,
      0x88,
      0x0d,
      ...le32(CODE + 15),
      0x83,
      0xc0,
      0x00,
      0x49,
      0x75,
      0xf4,
      0xf4,
    ];
    const m = interpreter('flat32', Uint8Array.from(code), 1, true);
    execute(m, 10 * n, false);
    let expected = 0;
    for (let k = n; k >= 1; k--) expected = (expected + ((k << 24) >> 24)) | 0;
    expect(m.cpu.reg32[0]).toBe(expected);
    // The patched ADD's record was dropped once per iteration (and the loop's others stayed).
    expect(m.cpu.decoded.stats.invalidated).toBeGreaterThanOrEqual(n - 1);
  });

  test('a write drops the record of an instruction that starts in the 32-byte chunk before it', () => {
    // The cache skips writes to chunks where no instruction starts; an instruction's bytes reach into the
    // next chunk. One ADD EAX, imm32 (5 bytes) per case, alone on its page, then a write to its immediate.
    for (const [start, written] of [
      [30, 33],
      [63, 66],
      [0xffb, 0xfff],
    ]) {
      const m = interpreter('flat32', Uint8Array.from([0xf4]), 1, true);
      const page = 0x40000;
      m.memory.writeBytes(page + start, Uint8Array.from([0x05, 1, 2, 3, 4]));
      const decoded = m.cpu.decoded;
      const map = decoded.mapFor(page);
      expect(decoded.decodeAt(map, page + start, page + start)).toBeGreaterThan(1);
      m.memory.write8(page + start + 6, 0x90); // after its end: the record stays
      expect(decoded.records[map + start], `${start}`).not.toBe(0);
      m.memory.write8(page + written, 0x90);
      expect(decoded.records[map + start], `${start}`).toBe(0);
    }
  });

  test('a write next to code keeps the records it does not touch', () => {
    // mov ecx, N; l: mov [CODE+0x40], ecx; add eax, [CODE+0x40]; dec ecx; jnz l; hlt
    const n = 2000;
    const code = [
      0xb9,
      ...le32(n),
      0x89,
      0x0d,
      ...le32(CODE + 0x40),
      0x03,
      0x05,
      ...le32(CODE + 0x40),
      0x49,
      0x75,
      0xf1,
      0xf4,
    ];
    const m = interpreter('flat32', Uint8Array.from(code), 1, true);
    m.cpu.reg32[0] = 0;
    execute(m, 10 * n, false);
    expect(m.cpu.reg32[0]).toBe((n * (n + 1)) / 2);
    // Decoded once each (the first, MOV ECX, may run before its page is known): the loop's own writes to
    // its page dropped nothing.
    expect(m.cpu.decoded.stats.decoded).toBeGreaterThanOrEqual(4);
    expect(m.cpu.decoded.stats.decoded).toBeLessThanOrEqual(6);
    expect(m.cpu.decoded.stats.invalidated).toBe(0);
  });

  test('code rewritten from outside the CPU between runs: through PhysicalMemory, and behind its back', () => {
    // l: mov eax, 1; add ebx, eax; dec ecx; jnz l; hlt
    const code = [0xb8, ...le32(1), 0x01, 0xc3, 0x49, 0x75, 0xf6, 0xf4];
    for (const behindItsBack of [false, true]) {
      const m = interpreter('flat32', Uint8Array.from(code), 1, true);
      m.cpu.reg32[1] = 1000;
      m.cpu.reg32[3] = 0;
      while (m.cpu.reg32[1] > 500 || m.cpu.eip !== CODE) m.cpu.run(1);
      // mov eax, 1 becomes mov eax, 3.
      if (behindItsBack) {
        m.memory.ram[CODE + 1] = 3;
        m.memory.writeGeneration++;
      } else {
        m.memory.write8(CODE + 1, 3);
      }
      while (!m.cpu.halted) m.cpu.run(997);
      expect(m.cpu.reg32[3]).toBe(500 + 3 * 500);
    }
  });

  test('code a device rewrites in RAM during a run (on an OUT to it, telling nobody) runs rewritten', () => {
    // l: mov eax, 1; add ebx, eax; out 0x80, al; dec ecx; jnz l; hlt
    const code = [0xb8, ...le32(1), 0x01, 0xc3, 0xe6, 0x80, 0x49, 0x75, 0xf4, 0xf4];
    const n = 100;
    let m: Machine | null = null;
    let outs = 0;
    const bus = new (class extends OpenIoBus {
      override out8(): void {
        // The third OUT (the loop's code decoded by then) makes it mov eax, 3, straight into the RAM array
        // (as a DMA engine might), telling only PhysicalMemory.writeGeneration.
        if (m === null || ++outs !== 3) return;
        m.memory.ram[CODE + 1] = 3;
        m.memory.writeGeneration++;
      }
    })();
    m = interpreter('flat32', Uint8Array.from(code), 1, true, bus);
    m.cpu.reg32[1] = n;
    m.cpu.reg32[3] = 0;
    execute(m, 10 * n, false);
    expect(m.cpu.halted).toBe(true);
    expect(m.cpu.reg32[3]).toBe(3 + 3 * (n - 3));
  });

  test('a page fault in a loop of cached forms is delivered as when decoding as it runs', () => {
    // mov esi, 0x20000; l: mov eax, [esi]; add esi, 0x1000; inc ebx; jmp l
    // The paged32 machine leaves linear page 0x2b not present: the loop faults there (its handler: HLT).
    const code = Uint8Array.from([
      0xbe,
      ...le32(0x20000),
      0x8b,
      0x06,
      0x81,
      0xc6,
      ...le32(0x1000),
      0x43,
      0xeb,
      0xf5,
    ]);
    const results = [false, true].map((cache) => {
      const m = interpreter('paged32', code, 1, cache);
      m.cpu.reg32[3] = 0;
      execute(m, 1000, false);
      return `${state(m)} cr2 ${m.cpu.cr2.toString(16)} ebx ${m.cpu.reg32[3]}`;
    });
    expect(results[0]).toContain('cr2 2b000');
    expect(results[1]).toBe(results[0]);
  });
});
