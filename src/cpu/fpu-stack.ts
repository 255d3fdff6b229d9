/**
 * x87 register-stack instructions (Intel SDM Vol. 2 instruction pages): the arithmetic and compare bodies
 * shared by the register and memory forms, FCOMI/FUCOMI, FCMOVcc, FLD/FST ST(i), FXCH, FXAM, FCHS/FABS and
 * the constant loads, with their stack overflow/underflow responses.
 */
import type { Cpu } from './cpu.ts';
import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, getCF, getPF, getZF } from './flags.ts';
import { binaryOp, compareOp } from './fpu-arith.ts';
import {
  CLASS_DENORMAL,
  CLASS_INF,
  CLASS_NORMAL,
  CLASS_QNAN,
  CLASS_SNAN,
  CLASS_ZERO,
  RC_NEAREST,
  RC_UP,
} from './fpu-float80.ts';
import type { Fpu } from './fpu.ts';
import { SLOT_TMP, SW_C0, SW_C1, SW_C2, SW_C3, SW_CC } from './fpu-constants.ts';

/** C3/C2/C0 for the compare outcomes CMP_GT, CMP_LT, CMP_EQ, CMP_UNORDERED. */
const COMPARE_CC = [0, SW_C0, SW_C3, SW_C3 | SW_C2 | SW_C0];
/** ZF/PF/CF for the same outcomes (FCOMI family). */
const COMPARE_EFLAGS = [0, FLAG_CF, FLAG_ZF, FLAG_ZF | FLAG_PF | FLAG_CF];
const COMI_MASK = FLAG_ZF | FLAG_PF | FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF;

/**
 * FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (D9 E8-EE): the 64-bit significands truncated, and
 * whether the rest of the exact constant is above one half (rounding to nearest goes up) or nonzero.
 */
const CONST_SE = [0x3fff, 0x4000, 0x3fff, 0x4000, 0x3ffd, 0x3ffe, 0];
const CONST_HI = [0x80000000, 0xd49a784b, 0xb8aa3b29, 0xc90fdaa2, 0x9a209a84, 0xb17217f7, 0];
const CONST_LO = [0, 0xcd1b8afe, 0x5c17f0bb, 0x2168c234, 0xfbcff798, 0xd1cf79ab, 0];
const CONST_NEAREST_UP = [0, 0, 1, 1, 1, 1, 0];
const CONST_INEXACT = [0, 1, 1, 1, 1, 1, 0];

/** Arithmetic with ST(0) as the first operand and `sb` as the second; result to `dest`, optional pop. */
export function arith(f: Fpu, reg: number, sb: number, dest: number, pop: boolean): void {
  const s0 = f.st(0);
  if (f.empty[s0] || (sb < 8 && f.empty[sb])) {
    if (f.stackUnderflow(dest) && pop) f.pop();
    return;
  }
  if (binaryOp(f, reg, s0, sb, dest) && pop) f.pop();
}

/** FCOM, FUCOM, FICOM and FTST with their pops: compares ST(0) with `sb` (-1: with 0.0), sets C3/C2/C0. */
export function compareCC(f: Fpu, sb: number, quiet: boolean, pops: number): void {
  const s0 = f.st(0);
  if (f.empty[s0] || (sb >= 0 && sb < 8 && f.empty[sb])) {
    if (!f.stackUnderflow(-1)) return;
    f.setCC(SW_CC, SW_C3 | SW_C2 | SW_C0);
  } else {
    const rel = compareOp(f, s0, sb, quiet);
    if (rel < 0) return;
    f.setCC(SW_CC, COMPARE_CC[rel]);
  }
  for (let i = 0; i < pops; i++) f.pop();
}

/** FCOMI/FCOMIP/FUCOMI/FUCOMIP: compares ST(0) with ST(i) into ZF/PF/CF (OF, SF, AF cleared). */
export function compareEflags(c: Cpu, f: Fpu, i: number, quiet: boolean, pop: boolean): void {
  const s0 = f.st(0);
  const si = f.st(i);
  let flags: number;
  if (f.empty[s0] || f.empty[si]) {
    if (!f.stackUnderflow(-1)) return;
    flags = FLAG_ZF | FLAG_PF | FLAG_CF;
  } else {
    const rel = compareOp(f, s0, si, quiet);
    if (rel < 0) return;
    flags = COMPARE_EFLAGS[rel];
    f.sw &= ~SW_C1;
  }
  c.setFlags(flags, COMI_MASK);
  if (pop) f.pop();
}

/** FCMOVcc (P6): `cc` 0 B, 1 E, 2 BE, 3 U; `negate` for the DB forms (NB, NE, NBE, NU). */
export function fcmov(c: Cpu, f: Fpu, cc: number, negate: boolean, i: number): void {
  let cond: boolean;
  switch (cc) {
    case 0:
      cond = getCF(c) !== 0;
      break;
    case 1:
      cond = getZF(c);
      break;
    case 2:
      cond = getCF(c) !== 0 || getZF(c);
      break;
    default:
      cond = getPF(c);
  }
  const s0 = f.st(0);
  const si = f.st(i);
  if (f.empty[s0] || f.empty[si]) {
    f.stackUnderflow(s0);
    return;
  }
  f.sw &= ~SW_C1;
  if (cond !== negate) f.copy(s0, si);
}

/** FLD ST(i). */
export function fldReg(f: Fpu, i: number): void {
  const src = f.st(i);
  const r = f.pushTarget();
  if (r < 0) return;
  if (f.empty[src]) {
    if (f.stackUnderflow(r)) f.commitPush(r);
    return;
  }
  f.sw &= ~SW_C1;
  f.copy(r, src);
  f.commitPush(r);
}

/** FST/FSTP ST(i). */
export function fstReg(f: Fpu, i: number, pop: boolean): void {
  const s0 = f.st(0);
  const d = f.st(i);
  if (f.empty[s0]) {
    if (!f.stackUnderflow(d)) return;
  } else {
    f.sw &= ~SW_C1;
    f.copy(d, s0);
    f.empty[d] = 0;
  }
  if (pop) f.pop();
}

export function fxch(f: Fpu, i: number): void {
  const a = f.st(0);
  const b = f.st(i);
  if (f.empty[a] || f.empty[b]) {
    if (!f.stackUnderflow(-1)) return;
    if (f.empty[a]) f.setIndefinite(a);
    if (f.empty[b]) f.setIndefinite(b);
    f.empty[a] = f.empty[b] = 0;
  } else {
    f.sw &= ~SW_C1;
  }
  f.copy(SLOT_TMP, a);
  f.copy(a, b);
  f.copy(b, SLOT_TMP);
}

/** FXAM: C1 = sign; C3/C2/C0 = class (SDM Vol. 2A FXAM table). */
export function fxam(f: Fpu): void {
  const s = f.st(0);
  let cc = f.signOf(s) ? SW_C1 : 0;
  if (f.empty[s]) {
    cc |= SW_C3 | SW_C0;
  } else {
    switch (f.classOf(s)) {
      case CLASS_QNAN:
      case CLASS_SNAN:
        cc |= SW_C0;
        break;
      case CLASS_NORMAL:
        cc |= SW_C2;
        break;
      case CLASS_INF:
        cc |= SW_C2 | SW_C0;
        break;
      case CLASS_ZERO:
        cc |= SW_C3;
        break;
      case CLASS_DENORMAL:
        cc |= SW_C3 | SW_C2;
        break;
      default: // unsupported: 000
    }
  }
  f.setCC(SW_CC, cc);
}

/** FCHS (`negate`) and FABS. */
export function fsign(f: Fpu, negate: boolean): void {
  const s = f.st(0);
  if (f.empty[s]) {
    f.stackUnderflow(s);
    return;
  }
  f.sw &= ~SW_C1;
  f.setSign(s, negate ? !f.signOf(s) : false);
}

/** FLD1 ... FLDZ: constant `k` rounded by RC from its exact value. */
export function fldConst(f: Fpu, k: number): void {
  const r = f.pushTarget();
  if (r < 0) return;
  f.sw &= ~SW_C1;
  if (k === 0 || k === 6) {
    f.setValue(r, k === 0 ? 1 : 0);
  } else {
    const rc = f.rc;
    const roundUp = rc === RC_NEAREST ? CONST_NEAREST_UP[k] : rc === RC_UP ? CONST_INEXACT[k] : 0;
    f.setExt(r, CONST_SE[k], CONST_HI[k], (CONST_LO[k] + roundUp) >>> 0);
  }
  f.commitPush(r);
}

/** One-operand instructions on ST(0) with an empty check. */
export function unary(f: Fpu, op: (f: Fpu, s: number) => boolean): void {
  const s = f.st(0);
  if (f.empty[s]) f.stackUnderflow(s);
  else op(f, s);
}
