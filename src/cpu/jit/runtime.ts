/**
 * What compiled blocks call: memory accesses through segments with the TLB fast path inlined (the same
 * checks, in the same order, as Cpu.read8..write32 and the Mmu fast paths, and the Cpu methods themselves
 * whenever anything is unusual), the lazy-flag formulas of ../flags.ts over a block's local copies of the
 * lazy fields, and the exceptions a block raises itself. One runtime per Cpu (closures over its arrays).
 */
import type { Cpu } from '../cpu.ts';
import { EXC_DE, EXC_GP, EXC_UD } from '../constants.ts';
import {
  carryFrom,
  overflowFrom,
  FLAG_AF,
  FLAG_CF,
  FLAG_OF,
  FLAG_PF,
  FLAG_SF,
  FLAG_ZF,
  PARITY,
  SIGN_SHIFT,
  SIZE_MASK,
} from '../flags.ts';
import { divide64, mulHigh32Of } from '../ops/arith.ts';
import { readTsc } from '../ops/system.ts';
import { TLB_PHYS } from '../paging.ts';

// ---- Lazy flags over locals: flags.ts's carryFrom/overflowFrom, and its getCF.., testCondition ----

/** CF (0 or 1) of the lazy state (lop, lsz, ld, ls, lr, lf) over explicit flags fl. */
export function cfL(
  lop: number,
  lsz: number,
  ld: number,
  ls: number,
  lr: number,
  lf: number,
  fl: number,
): number {
  return lf & FLAG_CF ? carryFrom(lop, lsz, ld, ls, lr) : fl & FLAG_CF;
}

function zfL(lsz: number, lr: number, lf: number, fl: number): boolean {
  return lf & FLAG_ZF ? (lr & SIZE_MASK[lsz]) === 0 : (fl & FLAG_ZF) !== 0;
}
function sfL(lsz: number, lr: number, lf: number, fl: number): boolean {
  return lf & FLAG_SF ? ((lr >>> SIGN_SHIFT[lsz]) & 1) !== 0 : (fl & FLAG_SF) !== 0;
}
function ofL(lop: number, lsz: number, ld: number, ls: number, lr: number, lf: number, fl: number): boolean {
  return lf & FLAG_OF ? overflowFrom(lop, lsz, ld, ls, lr) !== 0 : (fl & FLAG_OF) !== 0;
}
function pfL(lr: number, lf: number, fl: number): boolean {
  return lf & FLAG_PF ? PARITY[lr & 0xff] !== 0 : (fl & FLAG_PF) !== 0;
}

/** testCondition over locals. */
export function condL(
  cc: number,
  lop: number,
  lsz: number,
  ld: number,
  ls: number,
  lr: number,
  lf: number,
  fl: number,
): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0:
      r = ofL(lop, lsz, ld, ls, lr, lf, fl);
      break;
    case 1:
      r = cfL(lop, lsz, ld, ls, lr, lf, fl) !== 0;
      break;
    case 2:
      r = zfL(lsz, lr, lf, fl);
      break;
    case 3:
      r = cfL(lop, lsz, ld, ls, lr, lf, fl) !== 0 || zfL(lsz, lr, lf, fl);
      break;
    case 4:
      r = sfL(lsz, lr, lf, fl);
      break;
    case 5:
      r = pfL(lr, lf, fl);
      break;
    case 6:
      r = sfL(lsz, lr, lf, fl) !== ofL(lop, lsz, ld, ls, lr, lf, fl);
      break;
    default:
      r = zfL(lsz, lr, lf, fl) || sfL(lsz, lr, lf, fl) !== ofL(lop, lsz, ld, ls, lr, lf, fl);
      break;
  }
  return cc & 1 ? !r : r;
}

/** The full arithmetic flags (materializeFlags over locals), for tests of the formulas above. */
export function arithFlagsL(
  lop: number,
  lsz: number,
  ld: number,
  ls: number,
  lr: number,
  lf: number,
  fl: number,
): number {
  let f = fl;
  const set = (flag: number, on: boolean) => (f = on ? f | flag : f & ~flag);
  set(FLAG_CF, cfL(lop, lsz, ld, ls, lr, lf, fl) !== 0);
  set(FLAG_ZF, zfL(lsz, lr, lf, fl));
  set(FLAG_SF, sfL(lsz, lr, lf, fl));
  set(FLAG_OF, ofL(lop, lsz, ld, ls, lr, lf, fl));
  set(FLAG_PF, pfL(lr, lf, fl));
  if (lf & FLAG_AF) set(FLAG_AF, lop !== 4 && ((ld ^ ls ^ lr) & FLAG_AF) !== 0);
  return f;
}

export type JitRuntime = ReturnType<typeof createRuntime>;

/** Builds the helpers compiled blocks of CPU `c` call. */
export function createRuntime(c: Cpu) {
  const mmu = c.mmu;
  const tlb = mmu.tlb;
  const ram = mmu.ram;
  const ram32 = mmu.ram32;
  const segBase = c.segBase;
  const segLimit = c.segLimit;
  const segFlags = c.segFlags;

  function rd8(seg: number, off: number): number {
    if (segFlags[seg] === 0 && off >>> 0 <= segLimit[seg]) {
      const lin = (segBase[seg] + off) | 0;
      const e = tlb[lin >>> 12];
      if ((e & mmu.readBit) !== 0) return ram[(e & TLB_PHYS) + (lin & 0xfff)];
    }
    return c.read8(seg, off);
  }
  function rd16(seg: number, off: number): number {
    if (segFlags[seg] === 0 && (off >>> 0) + 1 <= segLimit[seg]) {
      const lin = (segBase[seg] + off) | 0;
      const e = tlb[lin >>> 12];
      if ((e & mmu.readBit) !== 0 && (lin & 0xfff) !== 0xfff) {
        const a = (e & TLB_PHYS) + (lin & 0xfff);
        return ram[a] | (ram[a + 1] << 8);
      }
    }
    return c.read16(seg, off);
  }
  function rd32(seg: number, off: number): number {
    if (segFlags[seg] === 0 && (off >>> 0) + 3 <= segLimit[seg]) {
      const lin = (segBase[seg] + off) | 0;
      const e = tlb[lin >>> 12];
      if ((e & mmu.readBit) !== 0 && (lin & 0xfff) <= 0xffc) {
        const a = (e & TLB_PHYS) + (lin & 0xfff);
        if ((a & 3) === 0) return ram32[a >> 2];
        return ram[a] | (ram[a + 1] << 8) | (ram[a + 2] << 16) | (ram[a + 3] << 24);
      }
    }
    return c.read32(seg, off);
  }
  function wr8(seg: number, off: number, value: number): void {
    if (segFlags[seg] === 0 && off >>> 0 <= segLimit[seg]) {
      const lin = (segBase[seg] + off) | 0;
      const e = tlb[lin >>> 12];
      if ((e & mmu.writeBit) !== 0) {
        ram[(e & TLB_PHYS) + (lin & 0xfff)] = value;
        return;
      }
    }
    c.write8(seg, off, value);
  }
  function wr16(seg: number, off: number, value: number): void {
    if (segFlags[seg] === 0 && (off >>> 0) + 1 <= segLimit[seg]) {
      const lin = (segBase[seg] + off) | 0;
      const e = tlb[lin >>> 12];
      if ((e & mmu.writeBit) !== 0 && (lin & 0xfff) !== 0xfff) {
        const a = (e & TLB_PHYS) + (lin & 0xfff);
        ram[a] = value;
        ram[a + 1] = value >> 8;
        return;
      }
    }
    c.write16(seg, off, value);
  }
  function wr32(seg: number, off: number, value: number): void {
    if (segFlags[seg] === 0 && (off >>> 0) + 3 <= segLimit[seg]) {
      const lin = (segBase[seg] + off) | 0;
      const e = tlb[lin >>> 12];
      if ((e & mmu.writeBit) !== 0 && (lin & 0xfff) <= 0xffc) {
        const a = (e & TLB_PHYS) + (lin & 0xfff);
        if ((a & 3) === 0) ram32[a >> 2] = value;
        else {
          ram[a] = value;
          ram[a + 1] = value >> 8;
          ram[a + 2] = value >> 16;
          ram[a + 3] = value >> 24;
        }
        return;
      }
    }
    c.write32(seg, off, value);
  }

  const rem = new Float64Array(1);
  /** DIV r/m32 (as group3Ev32 /6 computes it, without BigInt). Returns EAX; EDX via remainder(). */
  function div32(edx: number, eax: number, value: number): number {
    const divisor = value >>> 0;
    if (divisor === 0) c.raise(EXC_DE);
    const high = edx >>> 0;
    const low = eax >>> 0;
    if (high >= divisor) c.raise(EXC_DE);
    if (high === 0) {
      rem[0] = low % divisor;
      return Math.floor(low / divisor) | 0;
    }
    const q = divide64(high, low, divisor);
    rem[0] = (low - Math.imul(q, divisor)) >>> 0;
    return q | 0;
  }
  /** IDIV r/m32 (group3Ev32 /7). */
  function idiv32(edx: number, eax: number, divisor: number): number {
    if (divisor === 0) c.raise(EXC_DE);
    if (edx === eax >> 31) {
      if (eax === -0x80000000 && divisor === -1) c.raise(EXC_DE);
      rem[0] = eax % divisor;
      return Math.trunc(eax / divisor) | 0;
    }
    // |dividend| / |divisor| unsigned, then the signs.
    const negative = edx < 0;
    let low = eax >>> 0;
    let high = edx >>> 0;
    if (negative) {
      low = (~eax + 1) >>> 0;
      high = (~edx + (low === 0 ? 1 : 0)) >>> 0;
    }
    const magnitude = Math.abs(divisor);
    if (high >= magnitude) c.raise(EXC_DE); // the quotient needs more than 32 bits
    const q = divide64(high, low, magnitude);
    rem[0] = (low - Math.imul(q, magnitude)) >>> 0;
    const quotient = negative !== divisor < 0 ? -q : q;
    if (quotient > 0x7fffffff || quotient < -0x80000000) c.raise(EXC_DE);
    if (negative) rem[0] = -rem[0];
    return quotient | 0;
  }

  return {
    rd8,
    rd16,
    rd32,
    wr8,
    wr16,
    wr32,
    /** #GP(0): a near branch beyond the CS limit. */
    gp(): never {
      return c.raiseError(EXC_GP, 0);
    },
    ud(): never {
      return c.raise(EXC_UD);
    },
    de(): never {
      return c.raise(EXC_DE);
    },
    div32,
    idiv32,
    /** The remainder of the last div32/idiv32. */
    remainder(): number {
      return rem[0] | 0;
    },
    /** High half of a 32 x 32 multiply (the low half is Math.imul). */
    mulHi(a: number, b: number, signed: boolean): number {
      return mulHigh32Of(c, a, b, signed);
    },
    /** The time-stamp counter as RDTSC reads it (ops/system.ts). */
    tsc(): number {
      return readTsc(c);
    },
    cfL,
    condL,
    parity: PARITY,
  };
}
