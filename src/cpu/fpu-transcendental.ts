/**
 * x87 transcendental and exponent instructions (Intel SDM Vol. 1 8.3.8-8.3.10, Vol. 2 instruction pages):
 * FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1, FSCALE, FXTRACT, FPREM, FPREM1.
 *
 * Values come from the float64 Math functions (within a few ulp of float64, not of the 64-bit significand).
 * Trigonometric arguments with |x| >= 2^63 are left alone with C2 = 1, as on the hardware; the results
 * of those functions are always reported inexact (#P) unless trivially exact.
 */
import { propagateNaN } from './fpu-arith.ts';
import { loadA, loadB, packScaled, remainder } from './fpu-softfloat.ts';
import { CLASS_DENORMAL, CLASS_INF, CLASS_NORMAL, CLASS_ZERO, EXT_BIAS } from './fpu-float80.ts';
import type { Fpu } from './fpu.ts';
import { SW_C0, SW_C1, SW_C2, SW_C3, SW_CC, SW_DE, SW_IE, SW_PE, SW_ZE } from './fpu-constants.ts';

const TRIG_LIMIT = 2 ** 63;
const LOG2E = Math.LOG2E;

export const TRIG_SIN = 0;
export const TRIG_COS = 1;
export const TRIG_TAN = 2;
export const TRIG_SINCOS = 3;

/** Checks ST(0) for a one-operand instruction. Returns false when the instruction is finished. */
function unaryOperand(f: Fpu, s: number): boolean {
  if (f.empty[s]) {
    f.stackUnderflow(s);
    return false;
  }
  if (f.val[s] !== f.val[s]) {
    propagateNaN(f, s, -1, s);
    return false;
  }
  return !f.isDenormal(s) || f.signal(SW_DE);
}

/** Completes a result a Math function wrote into f.val[slot] (never NaN here): PE unless exact, C1 = 0. */
function finish(f: Fpu, slot: number, exact: boolean): void {
  f.extValid[slot] = 0;
  f.sw &= ~SW_C1;
  if (!exact) f.signal(SW_PE);
}

/**
 * FSIN, FCOS, FPTAN (ST(0) = tan, then pushes 1.0) and FSINCOS (ST(0) = sin, then pushes cos). The
 * two-result forms check for stack overflow before anything changes.
 */
export function trig(f: Fpu, kind: number): void {
  const s = f.st(0);
  const pushes = kind === TRIG_TAN || kind === TRIG_SINCOS;
  if (f.empty[s]) {
    if (f.stackUnderflow(s) && pushes) pushValue(f, NaN);
    return;
  }
  if (pushes && !f.empty[(f.top - 1) & 7]) {
    // Stack overflow: the masked response replaces ST(0) and pushes the indefinite.
    f.pushTarget();
    if (f.cw & SW_IE) f.setIndefinite(s);
    return;
  }
  const x = f.val[s];
  if (x !== x) {
    if (!propagateNaN(f, s, -1, s)) return;
    if (pushes) pushCopy(f, s);
    return;
  }
  if (x - x !== 0) {
    f.sw &= ~SW_C2;
    if (f.invalid(s) && pushes) pushValue(f, NaN);
    return;
  }
  if (Math.abs(x) >= TRIG_LIMIT) {
    f.sw |= SW_C2;
    return;
  }
  if (f.isDenormal(s) && !f.signal(SW_DE)) return;
  f.sw &= ~SW_C2;
  const zero = x === 0;
  switch (kind) {
    case TRIG_SIN:
      f.val[s] = zero ? x : Math.sin(x);
      finish(f, s, zero);
      break;
    case TRIG_COS:
      f.val[s] = zero ? 1 : Math.cos(x);
      finish(f, s, zero);
      break;
    case TRIG_TAN:
      f.val[s] = zero ? x : Math.tan(x);
      finish(f, s, zero);
      pushValue(f, 1);
      break;
    default: {
      f.val[s] = zero ? x : Math.sin(x);
      finish(f, s, zero);
      const r = f.pushTarget();
      if (r < 0) return;
      f.val[r] = zero ? 1 : Math.cos(x);
      f.extValid[r] = 0;
      f.commitPush(r);
    }
  }
}

/** Pushes a float64 (NaN = the indefinite) after the caller checked the stack. */
function pushValue(f: Fpu, x: number): void {
  const r = f.pushTarget();
  if (r < 0) return;
  f.setValue(r, x);
  f.commitPush(r);
}

function pushCopy(f: Fpu, slot: number): void {
  const r = f.pushTarget();
  if (r < 0) return;
  f.copy(r, slot);
  f.commitPush(r);
}

/**
 * Checks ST(0) and ST(1) for a two-operand instruction whose result goes to `dest`: empty registers, NaNs
 * and, unless `denormalLater` (when an invalid operand must rank first), denormals.
 */
function binaryOperands(f: Fpu, s0: number, s1: number, dest: number, denormalLater = false): boolean {
  if (f.empty[s0] || f.empty[s1]) {
    if (f.stackUnderflow(dest) && dest === s1) f.pop();
    return false;
  }
  if (f.val[s0] !== f.val[s0] || f.val[s1] !== f.val[s1]) {
    if (propagateNaN(f, s0, s1, dest) && dest === s1) f.pop();
    return false;
  }
  return denormalLater || !(f.isDenormal(s0) || f.isDenormal(s1)) || f.signal(SW_DE);
}

/** FPATAN: ST(1) = arctan(ST(1) / ST(0)) with the quadrant from both signs, then pop. */
export function fpatan(f: Fpu): void {
  const s0 = f.st(0);
  const s1 = f.st(1);
  if (!binaryOperands(f, s0, s1, s1)) return;
  const y = f.val[s1];
  const r = Math.atan2(y, f.val[s0]);
  f.val[s1] = r;
  finish(f, s1, y === 0);
  f.pop();
}

/** F2XM1: ST(0) = 2^ST(0) - 1 (defined for -1 <= x <= 1). */
export function f2xm1(f: Fpu): void {
  const s = f.st(0);
  if (!unaryOperand(f, s)) return;
  const x = f.val[s];
  if (x === 0 || x === Infinity) {
    f.val[s] = x;
    finish(f, s, true);
  } else if (x === -Infinity) {
    f.val[s] = -1;
    finish(f, s, true);
  } else {
    f.val[s] = Math.abs(x) <= 1 ? Math.expm1(x * Math.LN2) : 2 ** x - 1;
    finish(f, s, x === 1 || x === -1);
  }
}

/** FYL2X (ST(1) = ST(1) * log2(ST(0))) and FYL2XP1 (ST(1) = ST(1) * log2(ST(0) + 1)), then pop. */
export function fyl2x(f: Fpu, plusOne: boolean): void {
  const s0 = f.st(0);
  const s1 = f.st(1);
  if (!binaryOperands(f, s0, s1, s1)) return;
  const x = f.val[s0];
  const y = f.val[s1];
  const lg = plusOne ? Math.log1p(x) * LOG2E : Math.log2(x);
  if (lg !== lg) {
    if (f.invalid(s1)) f.pop();
    return;
  }
  if (lg === -Infinity && y - y === 0) {
    // log of zero: #Z with a finite nonzero multiplier, #IA with zero.
    if (y === 0) {
      if (f.invalid(s1)) f.pop();
      return;
    }
    if (!f.signal(SW_ZE)) return;
    f.sw &= ~SW_C1;
    f.setValue(s1, y > 0 ? -Infinity : Infinity);
    f.pop();
    return;
  }
  const r = y * lg;
  if (r !== r) {
    if (f.invalid(s1)) f.pop();
    return;
  }
  f.val[s1] = r;
  finish(f, s1, lg === 0 || y - y !== 0 || lg - lg !== 0);
  f.pop();
}

/**
 * FSCALE: ST(0) = ST(0) * 2^trunc(ST(1)), exactly, on the 80-bit exponent: a result outside the float64
 * range keeps its bits (a later store rounds and flags it, as on hardware). Only the 80-bit range
 * overflows or underflows (#O, #U: rounded as for arithmetic, see roundPack in fpu-softfloat.ts).
 */
export function fscale(f: Fpu): void {
  const s0 = f.st(0);
  const s1 = f.st(1);
  if (!binaryOperands(f, s0, s1, s0)) return;
  const y = f.val[s1];
  const cls = f.classOf(s0);
  const neg = f.signOf(s0);
  f.sw &= ~SW_C1;
  if (y - y !== 0) {
    // Infinite scale: 0 * 2^+inf and inf * 2^-inf are invalid; otherwise infinity or zero.
    if ((cls === CLASS_ZERO && y > 0) || (cls === CLASS_INF && y < 0)) f.invalid(s0);
    else if (cls !== CLASS_ZERO && cls !== CLASS_INF) f.setValue(s0, (y > 0 ? Infinity : 0) * (neg ? -1 : 1));
    return;
  }
  if (cls === CLASS_ZERO || cls === CLASS_INF) return;
  const n = Math.trunc(Math.max(-70000, Math.min(70000, y)));
  f.loadExt(s0);
  let hi = f.extHi[s0];
  let lo = f.extLo[s0];
  let exp = f.extSe[s0] & 0x7fff;
  if (exp === 0) {
    // An 80-bit denormal: normalise (the exponent may go below 1 here).
    exp = 1;
    while (!(hi & 0x80000000)) {
      hi = ((hi << 1) | (lo >>> 31)) >>> 0;
      lo = (lo << 1) >>> 0;
      exp--;
    }
  }
  exp += n;
  if (exp > 0 && exp < 0x7fff) f.setExt(s0, (neg ? 0x8000 : 0) | exp, hi, lo);
  else packScaled(f, s0, neg, exp, hi, lo); // beyond the 80-bit range: #O or #U, rounded
}

/** FXTRACT: ST(0) = exponent of ST(0) (unbiased, as a real), then pushes the significand (same sign). */
export function fxtract(f: Fpu): void {
  const s = f.st(0);
  if (f.empty[s]) {
    if (f.stackUnderflow(s)) pushValue(f, NaN);
    return;
  }
  if (!f.empty[(f.top - 1) & 7]) {
    f.pushTarget();
    if (f.cw & SW_IE) f.setIndefinite(s);
    return;
  }
  const x = f.val[s];
  if (x !== x) {
    if (propagateNaN(f, s, -1, s)) pushCopy(f, s);
    return;
  }
  if (f.isDenormal(s) && !f.signal(SW_DE)) return;
  f.sw &= ~SW_C1;
  const cls = f.classOf(s);
  if (cls === CLASS_ZERO) {
    if (!f.signal(SW_ZE)) return;
    const zero = f.val[s];
    f.setValue(s, -Infinity);
    pushValue(f, zero);
    return;
  }
  if (x - x !== 0 && !f.extValid[s]) {
    f.setValue(s, Infinity);
    pushValue(f, x);
    return;
  }
  f.loadExt(s);
  let se = f.extSe[s];
  let hi = f.extHi[s];
  let lo = f.extLo[s];
  if (cls !== CLASS_NORMAL && cls !== CLASS_DENORMAL) {
    // Infinity kept as 80 bits.
    f.setValue(s, Infinity);
    pushValueExt(f, se, hi, lo);
    return;
  }
  let exp = (se & 0x7fff) - EXT_BIAS;
  if ((se & 0x7fff) === 0) {
    // Denormal: normalise the significand.
    exp = 1 - EXT_BIAS;
    while (!(hi & 0x80000000)) {
      hi = ((hi << 1) | (lo >>> 31)) >>> 0;
      lo = (lo << 1) >>> 0;
      exp--;
    }
  }
  se = (se & 0x8000) | EXT_BIAS;
  f.setValue(s, exp);
  pushValueExt(f, se, hi, lo);
}

function pushValueExt(f: Fpu, se: number, hi: number, lo: number): void {
  const r = f.pushTarget();
  if (r < 0) return;
  f.setExt(r, se, hi, lo);
  f.commitPush(r);
}

/**
 * FPREM (truncating quotient, 8087 compatible) and FPREM1 (IEEE remainder, quotient rounded to nearest):
 * ST(0) = ST(0) - Q * ST(1), exactly. With an exponent difference of 64 or more only a partial remainder is
 * computed (C2 = 1; software loops). Otherwise C2 = 0 and C0, C3, C1 = bits 2, 1, 0 of Q.
 */
export function fprem(f: Fpu, ieee: boolean): void {
  const s0 = f.st(0);
  const s1 = f.st(1);
  if (!binaryOperands(f, s0, s1, s0, true)) return;
  const ca = f.classOf(s0);
  const cb = f.classOf(s1);
  if (ca === CLASS_INF || cb === CLASS_ZERO) {
    f.invalid(s0);
    return;
  }
  if ((f.isDenormal(s0) || f.isDenormal(s1)) && !f.signal(SW_DE)) return;
  if (ca === CLASS_ZERO || cb === CLASS_INF) {
    f.setCC(SW_CC, 0);
    return;
  }
  loadA(f, s0);
  loadB(f, s1);
  const q = remainder(f, s0, ieee);
  f.setCC(SW_CC, q < 0 ? SW_C2 : (q & 4 ? SW_C0 : 0) | (q & 2 ? SW_C3 : 0) | (q & 1 ? SW_C1 : 0));
}
