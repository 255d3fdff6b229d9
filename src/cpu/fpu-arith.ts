/**
 * x87 basic arithmetic and compares (Intel SDM Vol. 1 8.3.5-8.3.7, 4.8.3.5, 4.9, 8.5): FADD, FSUB(R),
 * FMUL, FDIV(R), FSQRT, FRNDINT, FCOM/FUCOM/FTST, NaN propagation, and result delivery with RC/PC
 * rounding and the #P, #O, #U exceptions.
 *
 * Every operation computes the float64 result rounded to nearest and the sign of its exact rounding error
 * (two-sum / Dekker product, exact in float64), which gives the precision exception, C1 ("rounded up") and
 * correct directed rounding without wider arithmetic.
 */
import {
  CLASS_DENORMAL,
  CLASS_NORMAL,
  CLASS_QNAN,
  CLASS_SNAN,
  CLASS_UNSUPPORTED,
  CLASS_ZERO,
  EXT_BIAS,
  RC_DOWN,
  RC_NEAREST,
  cvt,
  doubleToExt,
  exponentOf,
  extToInteger,
  integerToExt,
  isNegative,
  overflowValue,
  roundToBits,
  roundToInteger,
  scale2,
} from './fpu-float80.ts';
import { SW_C1, SW_DE, SW_IE, SW_OE, SW_PE, SW_UE, SW_ZE, type Fpu } from './fpu.ts';

/** Operations by the reg field of D8/DC/DA/DE (a = ST(0), b = the other operand). */
export const OP_ADD = 0; // a + b
export const OP_MUL = 1; // a * b
export const OP_SUB = 4; // a - b
export const OP_SUBR = 5; // b - a
export const OP_DIV = 6; // a / b
export const OP_DIVR = 7; // b / a
const OP_SQRT = 8;

/** Compare outcomes. */
export const CMP_GT = 0;
export const CMP_LT = 1;
export const CMP_EQ = 2;
export const CMP_UNORDERED = 3;

const SPLIT = 134217729; // 2^27 + 1 (Veltkamp split of a float64 into two 26-bit halves)
const MIN_NORMAL = 2 ** -1022;
/** Exponent adjustment for unmasked overflow/underflow into a register (SDM Vol. 1 8.5.4, 8.5.5). */
const BIAS_ADJUST = 24576;

/** The exact error a*b - p of a float64 product p = a*b (Dekker); 0 when it cannot be computed exactly. */
function productError(a: number, b: number, p: number): number {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const e = ah * bh - p + ah * bl + al * bh + al * bl;
  return e === e ? e : 0;
}

function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

/**
 * Propagates NaN operands to `dest` (SDM Vol. 1 Table 4-7): an SNaN raises #IA; the result is the NaN with
 * the larger significand (the positive one on a tie), made quiet. Unsupported encodings are invalid.
 * `sb` is -1 for one operand. Returns false when an unmasked exception stopped the instruction.
 */
export function propagateNaN(f: Fpu, sa: number, sb: number, dest: number): boolean {
  const ca = f.classOf(sa);
  const cb = sb >= 0 ? f.classOf(sb) : CLASS_ZERO;
  if (ca === CLASS_UNSUPPORTED || cb === CLASS_UNSUPPORTED) return f.invalid(dest);
  if ((ca === CLASS_SNAN || cb === CLASS_SNAN) && !f.signal(SW_IE)) return false;
  const aNan = ca === CLASS_QNAN || ca === CLASS_SNAN;
  const bNan = cb === CLASS_QNAN || cb === CLASS_SNAN;
  let pick = aNan ? sa : sb;
  if (aNan && bNan) {
    const ha = f.extHi[sa] & 0x7fffffff;
    const hb = f.extHi[sb] & 0x7fffffff;
    const la = f.extLo[sa];
    const lb = f.extLo[sb];
    if (hb > ha || (hb === ha && (lb > la || (lb === la && f.extSe[sa] & 0x8000)))) pick = sb;
  }
  f.loadExt(pick);
  f.extSe[dest] = f.extSe[pick];
  f.extHi[dest] = (f.extHi[pick] | 0x40000000) >>> 0;
  f.extLo[dest] = f.extLo[pick];
  f.extValid[dest] = 1;
  f.val[dest] = NaN;
  return true;
}

/**
 * Writes the result `r` (float64 nearest of the exact result, `dir` = sign of exact - r) to register slot
 * `dest`, applying PC and RC, and raising #O, #U, #P with their masked or unmasked responses. `a`, `b` are
 * the operands of `op` (for the bias-adjusted result of an unmasked overflow/underflow).
 */
function deliver(f: Fpu, op: number, a: number, b: number, r: number, dir: number, dest: number): boolean {
  const cw = f.cw;
  const rc = (cw >> 10) & 3;
  const pc = (cw >> 8) & 3;
  if (Number.isFinite(r)) {
    if (pc === 0) {
      r = roundToBits(r, dir, 24, -1074, rc);
      dir = cvt.dir;
    } else if (dir !== 0 && rc !== RC_NEAREST) {
      r = roundToBits(r, dir, 53, -1074, rc);
      dir = cvt.dir;
    }
  }
  let flags = 0;
  if (!Number.isFinite(r)) {
    // Overflow: the exact result is beyond the largest finite number.
    flags = SW_OE | SW_PE;
    if (!(cw & SW_OE)) {
      f.signal(flags);
      storeBiased(f, op, a, b, -BIAS_ADJUST, dest);
      return true;
    }
    const neg = r < 0;
    r = overflowValue(neg, rc, Number.MAX_VALUE);
    dir = Number.isFinite(r) ? (neg ? -1 : 1) : neg ? 1 : -1;
  } else if (Math.abs(r) < MIN_NORMAL && (r !== 0 || dir !== 0)) {
    if (!(cw & SW_UE)) {
      f.signal(dir !== 0 ? SW_UE | SW_PE : SW_UE);
      storeBiased(f, op, a, b, BIAS_ADJUST, dest);
      return true;
    }
    if (dir !== 0) flags = SW_UE | SW_PE;
  } else if (dir !== 0) {
    flags = SW_PE;
  }
  // C1 = 1 when the magnitude was rounded up.
  const up = dir !== 0 && r !== 0 && r > 0 === dir < 0;
  f.sw = up ? f.sw | SW_C1 : f.sw & ~SW_C1;
  if (flags) f.signal(flags);
  f.setValue(dest, r);
  return true;
}

/**
 * The unmasked #O/#U response for a register destination: the exact result with its exponent moved by
 * `adjust` (-24576 on overflow, +24576 on underflow), computed from the operands split into significand
 * and exponent so that the result is not lost to the float64 range.
 */
function storeBiased(f: Fpu, op: number, a: number, b: number, adjust: number, dest: number): void {
  const ea = a === 0 ? 0 : exponentOf(a);
  const eb = b === 0 ? 0 : exponentOf(b);
  let m: number;
  let e: number;
  if (op === OP_MUL) {
    m = scale2(a, -ea) * scale2(b, -eb);
    e = ea + eb;
  } else if (op === OP_DIV || op === OP_DIVR) {
    m = scale2(a, -ea) / scale2(b, -eb);
    e = ea - eb;
  } else {
    e = Math.max(ea, eb);
    m = scale2(a, -e) + scale2(b, -e);
  }
  doubleToExt(m);
  const exp = (cvt.se & 0x7fff) + e + adjust;
  if (m === 0 || exp <= 0 || exp >= 0x7fff) {
    f.setValue(dest, adjust < 0 ? (m < 0 ? -Infinity : Infinity) : m < 0 ? -0 : 0);
    return;
  }
  f.setExt(dest, (cvt.se & 0x8000) | exp, cvt.hi, cvt.lo);
}

/**
 * FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR: `dest` = a op b with a in slot `sa` (ST(0)) and b in slot `sb`. Empty
 * registers are the caller's. Returns false when an unmasked exception suppressed the result.
 */
export function binaryOp(f: Fpu, op: number, sa: number, sb: number, dest: number): boolean {
  if (op === OP_SUBR || op === OP_DIVR) {
    const t = sa;
    sa = sb;
    sb = t;
  }
  const a = f.val[sa];
  let b = f.val[sb];
  if (a !== a || b !== b) return propagateNaN(f, sa, sb, dest);
  if ((f.isDenormal(sa) || f.isDenormal(sb)) && !f.signal(SW_DE)) return false;
  let r: number;
  let dir = 0;
  const infinite = a - a !== 0 || b - b !== 0;
  if (op === OP_ADD || op === OP_SUB || op === OP_SUBR) {
    if (op !== OP_ADD) b = -b;
    if (infinite && a === -b) return f.invalid(dest);
    r = a + b;
    if (r === 0) {
      // An exact zero sum of operands of opposite signs is +0, or -0 when rounding down (IEEE 754 6.3).
      if ((f.cw >> 10) & 3 && ((f.cw >> 10) & 3) === RC_DOWN)
        r =
          isNegative(a) && isNegative(b)
            ? -0
            : a === 0 && b === 0 && !isNegative(a) && !isNegative(b)
              ? 0
              : -0;
    } else if (!infinite && Number.isFinite(r)) {
      const bb = r - a;
      dir = sign(a - (r - bb) + (b - bb));
    }
  } else if (op === OP_MUL) {
    if (infinite && (a === 0 || b === 0)) return f.invalid(dest);
    r = a * b;
    if (!infinite) {
      if (r === 0) {
        if (a !== 0 && b !== 0) dir = sign(a) * sign(b);
      } else if (Number.isFinite(r)) {
        dir = sign(productError(a, b, r));
      }
    }
  } else {
    if ((a === 0 && b === 0) || (infinite && a - a !== 0 && b - b !== 0)) return f.invalid(dest);
    if (b === 0 && !infinite) {
      if (!f.signal(SW_ZE)) return false;
      f.sw &= ~SW_C1;
      f.setValue(dest, isNegative(a) !== isNegative(b) ? -Infinity : Infinity);
      return true;
    }
    r = a / b;
    if (!infinite && a !== 0) {
      if (r === 0) {
        dir = sign(a) * sign(b);
      } else if (Number.isFinite(r)) {
        const p = r * b;
        dir = sign(a - p - productError(r, b, p)) * sign(b);
      }
    }
  }
  if (infinite) {
    f.sw &= ~SW_C1;
    f.setValue(dest, r);
    return true;
  }
  return deliver(f, op, a, b, r, dir, dest);
}

/** FSQRT on slot `s`. */
export function sqrtOp(f: Fpu, s: number): boolean {
  const x = f.val[s];
  if (x !== x) return propagateNaN(f, s, -1, s);
  if (f.isDenormal(s) && !f.signal(SW_DE)) return false;
  if (x < 0) return f.invalid(s);
  if (x === 0 || x === Infinity) {
    f.sw &= ~SW_C1;
    f.setValue(s, x);
    return true;
  }
  const r = Math.sqrt(x);
  const p = r * r;
  const dir = sign(x - p - productError(r, r, p));
  return deliver(f, OP_SQRT, x, 0, r, dir, s);
}

/** FRNDINT on slot `s`: rounds to an integer by RC (exactly, from the 80-bit bits when they are kept). */
export function roundIntOp(f: Fpu, s: number): boolean {
  const x = f.val[s];
  if (x !== x) return propagateNaN(f, s, -1, s);
  if (f.isDenormal(s) && !f.signal(SW_DE)) return false;
  f.sw &= ~SW_C1;
  if (x === 0 || x - x !== 0) return true;
  const rc = f.rc;
  if (f.extValid[s] && (f.extSe[s] & 0x7fff) < EXT_BIAS + 63) {
    extToInteger(f.extSe[s], f.extHi[s], f.extLo[s], rc);
    const dir = cvt.dir;
    integerToExt(cvt.neg, cvt.hi, cvt.lo);
    f.setExt(s, cvt.se, cvt.hi, cvt.lo);
    if (dir !== 0) {
      if (dir < 0 !== cvt.neg) f.sw |= SW_C1;
      f.signal(SW_PE);
    }
    return true;
  }
  const r = roundToInteger(x, rc);
  if (r !== x) {
    if (Math.abs(r) > Math.abs(x)) f.sw |= SW_C1;
    f.signal(SW_PE);
  }
  f.setValue(s, r);
  return true;
}

/** Magnitude order of two 80-bit non-NaN values: -1, 0, 1 (denormal exponent 0 counts as 1). */
function compareExt(f: Fpu, sa: number, sb: number): number {
  const ca = f.classOf(sa);
  const cb = f.classOf(sb);
  if (ca === CLASS_ZERO && cb === CLASS_ZERO) return 0;
  const na = (f.extSe[sa] & 0x8000) !== 0;
  const nb = (f.extSe[sb] & 0x8000) !== 0;
  if (ca === CLASS_ZERO) return nb ? 1 : -1;
  if (cb === CLASS_ZERO) return na ? -1 : 1;
  if (na !== nb) return na ? -1 : 1;
  const ea = f.extSe[sa] & 0x7fff || 1;
  const eb = f.extSe[sb] & 0x7fff || 1;
  let m = 0;
  if (ea !== eb) m = ea > eb ? 1 : -1;
  else if (f.extHi[sa] !== f.extHi[sb]) m = f.extHi[sa] > f.extHi[sb] ? 1 : -1;
  else if (f.extLo[sa] !== f.extLo[sb]) m = f.extLo[sa] > f.extLo[sb] ? 1 : -1;
  return na ? -m : m;
}

/**
 * Compares slot `sa` with slot `sb` (or with +0.0 when `sb` is -1: FTST). `quiet` compares (FUCOM*) raise
 * #IA only for SNaNs. Returns a CMP_* code, or -1 when an unmasked exception stopped the instruction.
 */
export function compareOp(f: Fpu, sa: number, sb: number, quiet: boolean): number {
  const a = f.val[sa];
  const b = sb >= 0 ? f.val[sb] : 0;
  if (a !== a || b !== b) {
    const ca = f.classOf(sa);
    const cb = sb >= 0 ? f.classOf(sb) : CLASS_ZERO;
    const signaling =
      !quiet ||
      ca === CLASS_SNAN ||
      cb === CLASS_SNAN ||
      ca === CLASS_UNSUPPORTED ||
      cb === CLASS_UNSUPPORTED;
    if (signaling && !f.signal(SW_IE)) return -1;
    return CMP_UNORDERED;
  }
  if ((f.isDenormal(sa) || (sb >= 0 && f.isDenormal(sb))) && !f.signal(SW_DE)) return -1;
  if (sb >= 0 && (f.extValid[sa] || f.extValid[sb])) {
    f.loadExt(sa);
    f.loadExt(sb);
    const m = compareExt(f, sa, sb);
    return m > 0 ? CMP_GT : m < 0 ? CMP_LT : CMP_EQ;
  }
  return a > b ? CMP_GT : a < b ? CMP_LT : CMP_EQ;
}

/** Class helpers for FXAM: whether a slot's class is a normal finite number. */
export function isNormalClass(cls: number): boolean {
  return cls === CLASS_NORMAL || cls === CLASS_DENORMAL;
}
