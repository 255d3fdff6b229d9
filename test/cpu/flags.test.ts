/**
 * Conditions from lazy flags (src/cpu/flags.ts): conditionBit, the interpreter's shortcut that reads a
 * condition straight from the recorded operands of an ADD, SUB or logical operation, must agree with
 * testCondition, which derives each flag as Intel SDM Vol. 1, Appendix B defines them, for every condition,
 * operand size and operation, at the edges of each size and on random operands.
 */
import { describe, expect, test } from 'vitest';
import type { Cpu } from '../../src/cpu/cpu.ts';
import {
  ARITH_FLAGS,
  FLAG_CF,
  FLAG_OF,
  FLAG_SF,
  FLAG_ZF,
  OP_ADC,
  OP_ADD,
  OP_LOGIC,
  OP_SBB,
  OP_SUB,
  conditionBit,
  testCondition,
} from '../../src/cpu/flags.ts';

const EDGES = [0, 1, 2, 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000];
const EDGES32 = [...EDGES, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x12345678];
const MASKS = [0xff, 0xffff, 0xffffffff];

/** The lazy state an operation of `size` leaves, as the CPU's setLazy records it (operands and result). */
function lazyState(op: number, size: number, dst: number, src: number, pending: number, flags: number): Cpu {
  const mask = MASKS[size];
  let res: number;
  if (op === OP_ADD) res = dst + src;
  else if (op === OP_ADC) res = dst + src + 1;
  else if (op === OP_SUB) res = dst - src;
  else if (op === OP_SBB) res = dst - src - 1;
  else res = dst & src;
  const state = {
    lazyOp: op,
    lazySize: size,
    lazyDst: size === 2 ? dst | 0 : dst & mask,
    lazySrc: size === 2 ? src | 0 : src & mask,
    lazyRes: size === 2 ? res | 0 : res & mask,
    lazyFlags: pending,
    flags: flags | 2,
  };
  return state as unknown as Cpu;
}

function agree(c: Cpu): void {
  for (let cc = 0; cc < 16; cc++) {
    const expected = testCondition(c, cc) ? 1 : 0;
    if (conditionBit(c, cc) !== expected) {
      throw new Error(
        `condition ${cc} of ${JSON.stringify(c)}: conditionBit ${1 - expected}, expected ${expected}`,
      );
    }
  }
}

describe('conditionBit', () => {
  test('agrees with testCondition on the edges of every size, for every operation', () => {
    let checked = 0;
    for (const op of [OP_ADD, OP_ADC, OP_SUB, OP_SBB, OP_LOGIC]) {
      for (let size = 0; size < 3; size++) {
        for (const dst of EDGES32) {
          for (const src of EDGES32) {
            agree(lazyState(op, size, dst, src, ARITH_FLAGS, 0));
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(5 * 3 * EDGES32.length * EDGES32.length);
  });

  test('agrees on random operands, with every pending mask the CPU records and derived flags beside', () => {
    let seed = 0x2545f491;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    // All six pending; INC/DEC (CF kept); shifts (SF, ZF, PF); none (everything derived).
    const pendings = [ARITH_FLAGS, ARITH_FLAGS & ~FLAG_CF, FLAG_SF | FLAG_ZF | 0x4, 0];
    for (let i = 0; i < 20000; i++) {
      const op = [OP_ADD, OP_ADC, OP_SUB, OP_SBB, OP_LOGIC][next() % 5];
      const size = next() % 3;
      const derived = next() & (FLAG_CF | FLAG_OF | FLAG_SF | FLAG_ZF | 0x4 | 0x10);
      agree(lazyState(op, size, next() | 0, next() | 0, pendings[next() % 4], derived));
    }
  });

  test('reads the operands, not stale derived flags, when all six are pending', () => {
    // CMP 1, 2 (32-bit): below and less; the derived flags say the opposite and must be ignored.
    const c = lazyState(OP_SUB, 2, 1, 2, ARITH_FLAGS, FLAG_ZF);
    expect(conditionBit(c, 0x2)).toBe(1); // JB
    expect(conditionBit(c, 0xc)).toBe(1); // JL
    expect(conditionBit(c, 0x4)).toBe(0); // JZ
    // CMP 0x80, 0x01 as bytes: above unsigned, below signed (0x80 is -128).
    const b = lazyState(OP_SUB, 0, 0x80, 0x01, ARITH_FLAGS, 0);
    expect(conditionBit(b, 0x7)).toBe(1); // JA
    expect(conditionBit(b, 0xc)).toBe(1); // JL
    expect(conditionBit(b, 0x0)).toBe(1); // JO: -128 - 1 overflows
  });
});
