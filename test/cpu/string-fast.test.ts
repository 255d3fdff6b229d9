/**
 * The bulk path of REP MOVS / REP STOS (src/cpu/ops/string.ts) against the per-iteration loop, which is the
 * reference (Intel SDM Vol. 2, "REP/REPE/REPZ/REPNE/REPNZ", MOVS, STOS): every program runs twice, once with
 * the bulk path and once without (setStringBulkPath, a test hook), one instruction at a time, and the two
 * machines must agree after every step (registers, EIP, EFLAGS, CR2, instruction count) and at the end on
 * every byte of RAM. Faults (#PF from a read-only, not-present or supervisor page, #GP from a segment limit)
 * must hit at the same iteration with the same registers; writes into a page of compiled code must drop it.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { CPU_SHUTDOWN } from '../../src/cpu/cpu.ts';
import { ECX, EDI, ESI } from '../../src/cpu/constants.ts';
import type { JitMode } from '../../src/cpu/jit/mode.ts';
import { setStringBulkPath } from '../../src/cpu/ops/string.ts';
import {
  CODE,
  DATA,
  HANDLERS,
  PAGE_TABLE,
  STACK_TOP,
  machine,
  rng,
  type FuzzMode,
  type Machine,
} from './jit-fuzz.ts';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];

const EXC_GP = 13;
const EXC_PF = 14;
/** Linear pages the paged32 machine leaves read-only and not present (see jit-fuzz.ts). */
const READ_ONLY_PAGE = 0x23000;
const NOT_PRESENT_PAGE = 0x2b000;
/** 512 KiB of plain RAM, mapped in every mode, for long runs. */
const BIG = 0x100000;

afterEach(() => setStringBulkPath(true));

type Op = 'movs' | 'stos';

interface StringCase {
  op: Op;
  size: 1 | 2 | 4;
  count: number;
  esi: number;
  edi: number;
  down?: boolean;
  /** 16-bit addressing: SI, DI, CX (a 67 prefix in 32-bit code). */
  a16?: boolean;
  /** 16-bit code (the real-mode machine): the 66 and 67 prefixes select 32-bit operands and addresses. */
  code16?: boolean;
  /** Source segment override prefix (MOVS only). */
  override?: number;
  eax?: number;
  /** Selector loaded into ES first (0x18: the 64 KiB data segment based at 0x20000). */
  es?: number;
  /** Linear addresses read (mov edx, [a]) and written (mov [a], eax) first, to fill the TLB (32-bit code). */
  warmRead?: number[];
  warmWrite?: number[];
}

/** The instruction bytes: [mov ax, sel; mov es, ax;] cld/std; [67] [66] [seg] rep movs/stos; hlt. */
function code(t: StringCase): number[] {
  const out: number[] = [];
  for (const a of t.warmRead ?? []) out.push(0x8b, 0x15, ...le32(a));
  for (const a of t.warmWrite ?? []) out.push(0xa3, ...le32(a));
  if (t.es !== undefined) out.push(0x66, 0xb8, ...le16(t.es), 0x8e, 0xc0);
  out.push(t.down ? 0xfd : 0xfc);
  if (!t.a16 !== !t.code16) out.push(0x67);
  if ((t.size === 2) !== !!t.code16 && t.size !== 1) out.push(0x66);
  if (t.override !== undefined) out.push(t.override);
  out.push(0xf3, (t.op === 'movs' ? 0xa4 : 0xaa) | (t.size === 1 ? 0 : 1), 0xf4);
  return out;
}

/** Byte patterns for the data areas, so that every copied byte is distinguishable. */
function pattern(from: number, to: number, multiplier: number, shift: number): Uint8Array {
  const out = new Uint8Array(to - from);
  for (let a = from; a < to; a++) out[a - from] = (a * multiplier + (a >> shift)) & 0xff;
  return out;
}
const LOW_DATA = pattern(0x4000, 0x10000, 7, 8);
const MID_DATA = pattern(DATA, 0x3c000, 13, 9);
const BIG_DATA = pattern(BIG, BIG + 0x80000, 29, 10);

function seedData(m: Machine): void {
  const ram = m.memory.ram;
  ram.set(LOW_DATA, 0x4000);
  ram.set(MID_DATA, DATA);
  ram.set(BIG_DATA, BIG);
}

function prepare(mode: FuzzMode, bytes: number[], t: StringCase, jit: JitMode = 'off'): Machine {
  const m = machine(mode, Uint8Array.from(bytes), 1, jit);
  seedData(m);
  const r = m.cpu.reg32;
  r[ESI] = t.esi;
  r[EDI] = t.edi;
  r[ECX] = t.count;
  r[0] = t.eax ?? 0x8091a2b3;
  return m;
}

function registers(m: Machine): string {
  const c = m.cpu;
  const hex = (v: number) => (v >>> 0).toString(16);
  return (
    `regs ${Array.from(c.reg32, hex).join(' ')} eip ${hex(c.eip)} flags ${hex(c.getFlags())} ` +
    `sregs ${Array.from(c.sreg, hex).join(' ')} cr2 ${hex(c.cr2)} count ${c.instructionCount} ` +
    `halted ${c.halted}`
  );
}

function stepOnce(m: Machine, bulk: boolean): boolean {
  setStringBulkPath(bulk);
  try {
    m.cpu.step();
    return true;
  } catch (e) {
    if (e !== CPU_SHUTDOWN) throw e;
    return false;
  } finally {
    setStringBulkPath(true);
  }
}

/** Index of the first differing byte of RAM, or -1. */
function firstRamDifference(a: Machine, b: Machine): number {
  const x = a.memory.ram;
  const y = b.memory.ram;
  if (Buffer.from(x.buffer, x.byteOffset, x.length).equals(Buffer.from(y.buffer, y.byteOffset, y.length)))
    return -1;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/**
 * Runs `fast` with the bulk path and `slow` without it, step by step, until both halt; they must agree after
 * every step and in the end on all of RAM. Returns the final state of the fast machine.
 */
function lockstep(fast: Machine, slow: Machine, maxSteps = 10_000): Machine {
  for (let i = 0; i < maxSteps && !(fast.cpu.halted && slow.cpu.halted); i++) {
    const a = stepOnce(fast, true);
    const b = stepOnce(slow, false);
    expect(a).toBe(b);
    expect(registers(fast), `after step ${i + 1}`).toBe(registers(slow));
    if (!a) break;
  }
  expect(fast.cpu.halted).toBe(true);
  const diff = firstRamDifference(fast, slow);
  expect(diff, diff >= 0 ? `RAM differs at ${diff.toString(16)}` : '').toBe(-1);
  return fast;
}

function compareCase(
  mode: FuzzMode,
  t: StringCase,
  setup?: (m: Machine) => void,
  bytes: number[] = code(t),
): Machine {
  const fast = prepare(mode, bytes, t);
  const slow = prepare(mode, bytes, t);
  setup?.(fast);
  setup?.(slow);
  return lockstep(fast, slow);
}

/** Data segments besides the machine's: 0x38 flat 4 GiB based at 0x20800 (not page aligned), 0x40 expand-down. */
const UNALIGNED_FLAT = 0x38;
const EXPAND_DOWN = 0x40;
function extraSegments(m: Machine): void {
  const gdt = m.cpu.gdtrBase;
  m.memory.write32(gdt + UNALIGNED_FLAT, 0x0800ffff);
  m.memory.write32(gdt + UNALIGNED_FLAT + 4, 0x00cf9202);
  // Base 0x20000, limit 0x7FFF, expand-down, 16-bit: valid offsets are 0x8000..0xFFFF.
  m.memory.write32(gdt + EXPAND_DOWN, 0x00007fff);
  m.memory.write32(gdt + EXPAND_DOWN + 4, 0x00009602);
  m.cpu.gdtrLimit = 0x47;
}

/** Where the CPU halted: HANDLERS + vector + 1 after an exception, else past the program's HLT. */
const haltedAt = (m: Machine) => m.cpu.eip - 1;

const SIZES = [1, 2, 4] as const;
const OPS: Op[] = ['movs', 'stos'];
const COUNTS = [0, 1, 3, 17, 1023, 4095, 4097, 9000];

describe('REP MOVS / REP STOS bulk path matches the per-iteration loop', () => {
  for (const mode of ['flat32', 'paged32'] as const) {
    test.each(OPS)(`${mode}: %s, every size, count and alignment, both directions`, (op) => {
      for (const size of SIZES) {
        for (const count of COUNTS) {
          for (const down of [false, true]) {
            for (const misalign of [0, 3]) {
              // Page-crossing starts (0x...ff1) and runs that end exactly on a page boundary.
              const edi = BIG + (down ? 0x20000 : 0) + misalign + (count % 3 === 0 ? 0xff1 : 0);
              const esi = BIG + 0x40000 + 2 * misalign + (down ? 0x20000 : 0);
              const m = compareCase(mode, { op, size, count, esi, edi, down });
              expect(haltedAt(m)).toBe(CODE + code({ op, size, count, esi, edi, down }).length - 1);
              expect(m.cpu.reg32[ECX]).toBe(0);
            }
          }
        }
      }
    });
  }

  test.each(SIZES)('overlapping copies replicate exactly as one element at a time (size %i)', (size) => {
    for (const distance of [1, 2, 3, 4, 5, 8, 64, -1, -2, -3, -4, -5, 0]) {
      for (const down of [false, true]) {
        for (const count of [1, 5, 100, 9000]) {
          const esi = BIG + 0x40123;
          compareCase('paged32', { op: 'movs', size, count, esi, edi: esi + distance, down });
        }
      }
    }
  });

  test('rep movsb with dst = src + 1 spreads one byte, like the loop', () => {
    const m = compareCase('flat32', { op: 'movs', size: 1, count: 5000, esi: 0x30000, edi: 0x30001 });
    const first = m.memory.ram[0x30000];
    for (let a = 0x30001; a <= 0x30000 + 5000; a++) expect(m.memory.ram[a]).toBe(first);
  });

  test.each(SIZES)('rep stos writes the accumulator pattern at any alignment (size %i)', (size) => {
    for (const eax of [0, 0x12345678, 0xabababab, 0x00ff00ff]) {
      for (const misalign of [0, 1, 2, 3]) {
        const edi = 0x30000 + misalign;
        const m = compareCase('flat32', { op: 'stos', size, count: 777, edi, esi: 0, eax });
        const expected = Uint8Array.from({ length: 777 * size }, (_, k) => (eax >>> ((k % size) * 8)) & 0xff);
        expect(m.memory.ram.subarray(edi, edi + 777 * size)).toEqual(expected);
      }
    }
  });

  test('a copy into a read-only page faults at the exact iteration (#PF, CR2, ESI/EDI/ECX)', () => {
    for (const size of SIZES) {
      for (const op of OPS) {
        for (const down of [false, true]) {
          // Runs toward the read-only page from below (up) or from above (down).
          const edi = down ? READ_ONLY_PAGE + 0x1000 + 0x801 : READ_ONLY_PAGE - 0x801;
          const m = compareCase('paged32', { op, size, count: 3000, esi: 0x30000, edi, down });
          expect(haltedAt(m)).toBe(HANDLERS + EXC_PF);
          expect(m.cpu.cr2 >>> 12).toBe(READ_ONLY_PAGE >>> 12);
          expect(m.cpu.reg32[ECX]).toBeGreaterThan(0);
          // The first element already straddles into the read-only page, both pages in the TLB.
          const straddle = compareCase('paged32', {
            op,
            size,
            count: 50,
            esi: 0x30000,
            edi: READ_ONLY_PAGE - 1,
            down,
            warmRead: [READ_ONLY_PAGE, 0x30000],
            warmWrite: [READ_ONLY_PAGE - 0x100],
          });
          if (size > 1 || !down) expect(haltedAt(straddle)).toBe(HANDLERS + EXC_PF);
        }
      }
    }
  });

  test('a source or destination in a not-present page faults at the exact iteration', () => {
    for (const size of SIZES) {
      for (const down of [false, true]) {
        const near = down ? NOT_PRESENT_PAGE + 0x1000 + 0x402 : NOT_PRESENT_PAGE - 0x402;
        for (const [esi, edi] of [
          [near, 0x30000],
          [0x30000, near],
        ]) {
          const m = compareCase('paged32', { op: 'movs', size, count: 2000, esi, edi, down });
          expect(haltedAt(m)).toBe(HANDLERS + EXC_PF);
          expect(m.cpu.cr2 >>> 12).toBe(NOT_PRESENT_PAGE >>> 12);
        }
      }
    }
  });

  test('a segment limit that cuts the run raises #GP at the exact iteration', () => {
    // ES = 0x18: base 0x20000, limit 0xFFFF. Destination runs past the limit; the source through FS does too.
    for (const size of SIZES) {
      for (const op of OPS) {
        const t: StringCase = { op, size, count: 600, esi: 0x8000, edi: 0xfe01, es: 0x18 };
        const m = compareCase('flat32', t);
        expect(haltedAt(m)).toBe(HANDLERS + EXC_GP);
        expect(m.cpu.reg32[EDI]).toBeGreaterThan(0xfe01);
      }
      const fsSource: StringCase = {
        op: 'movs',
        size,
        count: 600,
        esi: 0xfe03,
        edi: 0x34000,
        override: 0x64,
      };
      const m = compareCase('flat32', fsSource);
      expect(haltedAt(m)).toBe(HANDLERS + EXC_GP);
      expect(m.cpu.reg32[ESI]).toBeGreaterThan(0xfe03);
      // Going down from beyond the limit: the very first element faults.
      const beyond = compareCase('flat32', {
        op: 'stos',
        size,
        count: 600,
        esi: 0,
        edi: 0x10002,
        es: 0x18,
        warmWrite: [0x30000],
        down: true,
      });
      expect(haltedAt(beyond)).toBe(HANDLERS + EXC_GP);
      expect(beyond.cpu.reg32[ECX]).toBe(600);
    }
  });

  test('expand-down segments are checked like the loop checks them', () => {
    for (const size of SIZES) {
      for (const op of OPS) {
        for (const [edi, down] of [
          [0x7ff0, false],
          [0xfe01, false],
          [0x8100, true],
          [0x7000, true],
        ] as const) {
          const t: StringCase = { op, size, count: 600, esi: 0x30000, edi, down, es: EXPAND_DOWN };
          const m = compareCase('flat32', t, extraSegments);
          expect(haltedAt(m)).toBe(HANDLERS + EXC_GP);
        }
      }
    }
  });

  test('16-bit addressing wraps SI/DI at 64 KiB like the loop (flat and real mode)', () => {
    for (const size of SIZES) {
      for (const op of OPS) {
        for (const down of [false, true]) {
          const t: StringCase = {
            op,
            size,
            count: 0x1_0000 + 300, // CX = 300 with the high half of ECX left alone
            esi: (down ? 0x0123 : 0x5f00) | 0x770000,
            edi: (down ? 0x4080 : 0xff81) | 0xabc0000,
            down,
            a16: true,
          };
          compareCase('flat32', t);
          // ES based at 0x20800: the 64 KiB wrap of DI no longer falls on a page boundary.
          compareCase('flat32', { ...t, es: UNALIGNED_FLAT, edi: down ? 0x10 : 0xfff1 }, extraSegments);
          // Real mode: DS = ES = 0x2000 and 16-bit code.
          compareCase('real', { ...t, code16: true, esi: 0xff00, edi: down ? 0x40 : 0xff81 });
        }
      }
    }
  });

  test('random runs: sizes, counts, overlaps, page and segment edges, paging on and off', () => {
    const next = rng(0x5eed);
    const pick = <T>(xs: readonly T[]): T => xs[next() % xs.length];
    // Runs of up to 64 KiB from here stay clear of the code, the stack and the page tables.
    const anchors = [0x24000, 0x2a000, 0x2c000, READ_ONLY_PAGE, NOT_PRESENT_PAGE, BIG, BIG + 0x3f000];
    for (let i = 0; i < 200; i++) {
      const mode = pick(['flat32', 'paged32'] as const);
      const op = pick(OPS);
      const size = pick(SIZES);
      const count = next() % 4 === 0 ? next() % (0x10000 / size) : next() % 40;
      const esi = pick(anchors) + (next() % 0x80) - 0x40 + (next() % 3) * 0x800;
      const edi = next() % 3 === 0 ? esi + (next() % 17) - 8 : pick(anchors) + (next() % 0x80) - 0x40;
      const down = next() % 3 === 0;
      const override = next() % 5 === 0 ? pick([0x26, 0x2e, 0x36, 0x64, 0x65]) : undefined;
      const warmRead = [pick(anchors), pick(anchors), esi, edi].filter(() => next() % 2 === 0);
      const writable = (a: number) =>
        a >>> 12 !== READ_ONLY_PAGE >>> 12 && a >>> 12 !== NOT_PRESENT_PAGE >>> 12;
      const warmWrite = [esi, edi, edi + 0x1000, edi - 0x1000].filter((a) => writable(a) && next() % 2 === 0);
      const es = next() % 6 === 0 ? pick([0x18, UNALIGNED_FLAT, EXPAND_DOWN]) : undefined;
      const offsets = es === undefined ? { esi, edi } : { esi: esi & 0xffff, edi: edi & 0xffff };
      compareCase(
        mode,
        { op, size, count, ...offsets, down, override, es, eax: next(), warmRead, warmWrite },
        extraSegments,
      );
    }
  });
});

describe('privilege and the TLB', () => {
  const SUPERVISOR_PAGE = 0x25000;
  const TSS = 0x3000;
  const USER_STACK = 0x3e000;

  /**
   * Ring 0 writes the supervisor-only page (its TLB entry now grants supervisor writes), then IRETs to ring 3,
   * which runs the string instruction toward that page: the access must fault with a user error code.
   */
  function userProgram(t: StringCase): number[] {
    const user = CODE + 0x100;
    const ring0 = [
      0x66, 0xb8, ...le16(0x30), 0x0f, 0x00, 0xd8, // mov ax, 0x30; ltr ax
      0xa3, ...le32(SUPERVISOR_PAGE + 0x10), // mov [page], eax
      0x68, ...le32(0x2b), 0x68, ...le32(USER_STACK), 0x9c, // push ss3; push esp3; pushfd
      0x68, ...le32(0x23), 0x68, ...le32(user), 0xcf, // push cs3; push eip; iret
    ]; // prettier-ignore
    const ring3 = [0x66, 0xb8, ...le16(0x2b), 0x8e, 0xd8, 0x8e, 0xc0, ...code(t)];
    const out = [...ring0];
    while (out.length < 0x100) out.push(0x90);
    return [...out, ...ring3];
  }

  function userSetup(m: Machine): void {
    const mem = m.memory;
    const gdt = m.cpu.gdtrBase;
    mem.write32(gdt + 0x20, 0x0000ffff); // 0x20: ring 3 flat code
    mem.write32(gdt + 0x24, 0x00cffa00);
    mem.write32(gdt + 0x28, 0x0000ffff); // 0x28: ring 3 flat data
    mem.write32(gdt + 0x2c, 0x00cff200);
    mem.write32(gdt + 0x30, (TSS << 16) | 0x67); // 0x30: 32-bit TSS
    mem.write32(gdt + 0x34, 0x00008900);
    m.cpu.gdtrLimit = 0x37;
    mem.write32(TSS + 4, STACK_TOP);
    mem.write32(TSS + 8, 0x10);
    mem.write32(PAGE_TABLE + (SUPERVISOR_PAGE >>> 12) * 4, SUPERVISOR_PAGE | 3);
  }

  test('user-mode runs into a supervisor page whose TLB entry allows supervisor writes: #PF', () => {
    for (const size of SIZES) {
      for (const op of OPS) {
        const t: StringCase = { op, size, count: 2000, esi: 0x30000, edi: SUPERVISOR_PAGE - 0x403 };
        const fast = compareCase('paged32', t, userSetup, userProgram(t));
        expect(haltedAt(fast)).toBe(HANDLERS + EXC_PF);
        expect(fast.cpu.cr2).toBe(SUPERVISOR_PAGE);
        // Error code on the ring 0 stack: user, write, present.
        expect(fast.memory.read32(STACK_TOP - 24)).toBe(7);
      }
    }
  });

  test('user-mode reads from a supervisor page fault too', () => {
    const t: StringCase = { op: 'movs', size: 4, count: 2000, esi: SUPERVISOR_PAGE - 0x400, edi: 0x30000 };
    const fast = compareCase('paged32', t, userSetup, userProgram(t));
    expect(haltedAt(fast)).toBe(HANDLERS + EXC_PF);
    expect(fast.memory.read32(STACK_TOP - 24)).toBe(5);
  });

  test('the bulk path engages once the TLB holds the page (a 4 KiB fill makes few slow accesses)', () => {
    const t: StringCase = { op: 'stos', size: 1, count: 0x1000, esi: 0, edi: 0x30000 };
    const m = prepare('paged32', code(t), t);
    const mmu = m.cpu.mmu;
    let slowWrites = 0;
    const write8 = mmu.writeLinear8.bind(mmu);
    mmu.writeLinear8 = (linear, value) => {
      slowWrites++;
      write8(linear, value);
    };
    while (!m.cpu.halted) m.cpu.step();
    // The first write walks the page tables (sets the dirty bit); the rest is one fill.
    expect(slowWrites).toBe(1);
    expect(m.memory.ram.subarray(0x30000, 0x31000).every((b) => b === 0xb3)).toBe(true);
  });
});

describe('writes into compiled code', () => {
  const F = CODE + 0x1000;

  /**
   * Calls F three times (so it gets compiled), overwrites F with a string instruction, calls it again.
   * F starts as mov eax, 0x1234; ret. The MOVS variant copies mov eax, 0x5678; ret over it from DATA; the
   * STOS variant fills it with RET (C3) bytes, so the last call returns EAX unchanged.
   */
  function program(op: Op): number[] {
    const out = [
      0xbb, ...le32(0), 0xba, ...le32(3), // mov ebx, 0; mov edx, 3
      0xe8, ...le32(F - (CODE + 15)), // l: call F
      0x01, 0xc3, 0x4a, 0x75, 0xf6, 0xfc, // add ebx, eax; dec edx; jnz l; cld
      0xbe, ...le32(DATA), 0xbf, ...le32(F), // mov esi, DATA; mov edi, F
    ]; // prettier-ignore
    if (op === 'movs')
      out.push(0xb9, ...le32(6), 0xf3, 0xa4); // mov ecx, 6; rep movsb
    else out.push(0xb9, ...le32(2), 0xb8, ...le32(0xc3c3c3c3), 0xf3, 0xab); // mov ecx, 2; mov eax, ..; rep stosd
    const call = CODE + out.length;
    out.push(0xe8, ...le32(F - (call + 5)), 0x01, 0xc3, 0xf4); // call F; add ebx, eax; hlt
    while (out.length < 0x1000) out.push(0x90);
    out.push(0xb8, ...le32(0x1234), 0xc3);
    return out;
  }

  test.each(OPS)('rep %s over a compiled function drops it; every JIT mode agrees', (op) => {
    const results = (['off', 'auto', 'on'] as JitMode[]).flatMap((jit) =>
      [true, false].map((bulk) => {
        const m = machine('flat32', Uint8Array.from(program(op)), 1, jit);
        m.cpu.jit.threshold = jit === 'auto' ? 2 : m.cpu.jit.threshold;
        m.memory.writeBytes(DATA, Uint8Array.from([0xb8, ...le32(0x5678), 0xc3]));
        m.cpu.reg32[ECX] = 0;
        setStringBulkPath(bulk);
        let left = 10_000;
        while (!m.cpu.halted && left > 0) left -= m.cpu.run(Math.min(7, left));
        setStringBulkPath(true);
        expect(m.cpu.halted).toBe(true);
        if (jit === 'on') expect(m.cpu.jit.stats.invalidatedRegions).toBeGreaterThan(0);
        const last = op === 'movs' ? 0x5678 : 0xc3c3c3c3;
        expect(m.cpu.reg32[3]).toBe((3 * 0x1234 + last) | 0);
        return `${registers(m)} ram ${m.memory.ram.subarray(F, F + 16).join(',')}`;
      }),
    );
    for (const r of results) expect(r).toBe(results[0]);
  });
});
