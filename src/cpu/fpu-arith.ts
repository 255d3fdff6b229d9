/**
 * x87 basic arithmetic and compares (Intel SDM Vol. 1 8.3.5-8.3.7, 4.8.3.5, 4.9, 8.5): FADD, FSUB(R),
 * FMUL, FDIV(R), FSQRT, FRNDINT, FCOM/FUCOM/FTST, NaN propagation, and result delivery with RC/PC
 * rounding and the #P, #O, #U exceptions.
 *
 * The arithmetic is exact 80-bit (./fpu-softfloat.ts). With precision control 53 and float64 operands a
 * float64 fast path computes the same result: the float64 result rounded to nearest plus the sign of its
 * exact rounding error (two-sum / Dekker product) give #P, C1 ("rounded up") and directed rounding.
 */
import {
  CLASS_INF,
  CLASS_QNAN,
  CLASS_SNAN,
  CLASS_UNSUPPORTED,
  CLASS_ZERO,
  EXT_BIAS,
  RC_DOWN,
  cvt,
  extToInteger,
  integerToExt,
  roundToBits,
  roundToInteger,
} from './fpu-float80.ts';
import { add, div, loadA, loadB, mul, roundA, roundPack, sqrt } from './fpu-softfloat.ts';
import type { Fpu } from './fpu.ts';
import {
  CMP_EQ,
  CMP_GT,
  CMP_LT,
  CMP_UNORDERED,
  OP_ADD,
  OP_DIV,
  OP_DIVR,
  OP_MUL,
  OP_SUB,
  OP_SUBR,
  SPLIT,
  SPLIT_FAILED,
  SW_C1,
  SW_DE,
  SW_IE,
  SW_PE,
  SW_ZE,
} from './fpu-constants.ts';

/** The smallest normal float64 (a float: esbuild keeps it a module variable wherever it is declared). */
const MIN_NORMAL = 2 ** -1022;

/**
 * The sign (-1, 0, 1) of c - a*b, exactly, given p = a*b rounded (Dekker's product error), or SPLIT_FAILED.
 * Returns a small integer so that no float is boxed on the way out.
 */
function productCompare(c: number, a: number, b: number, p: number): number {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const err = ah * bh - p + ah * bl + al * bh + al * bl; // a*b - p
  const d = c - p - err;
  return d > 0 ? 1 : d < 0 ? -1 : d === 0 ? 0 : SPLIT_FAILED;
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
  const b = f.val[sb];
  if (a !== a || b !== b) return propagateNaN(f, sa, sb, dest);
  const cw = f.cw;
  if (
    (cw & 0x300) === 0x200 &&
    !f.extValid[sa] &&
    !f.extValid[sb] &&
    a !== 0 &&
    b !== 0 &&
    a - a === 0 &&
    b - b === 0
  ) {
    if ((f.isDenormal(sa) || f.isDenormal(sb)) && !f.signal(SW_DE)) return false;
    // Precision control 53 with two float64 operands: float64 arithmetic rounds exactly as the x87 does,
    // as long as the result is a normal float64 (otherwise the 80-bit range matters: soft path).
    let r: number;
    let dir = 0;
    if (op === OP_MUL) {
      r = a * b;
      dir = productCompare(r, a, b, r);
      if (dir !== SPLIT_FAILED) dir = -dir;
    } else if (op === OP_DIV || op === OP_DIVR) {
      r = a / b;
      dir = productCompare(a, r, b, r * b);
      if (b < 0 && dir !== SPLIT_FAILED) dir = -dir;
    } else {
      const bb = op === OP_ADD ? b : -b;
      r = a + bb;
      const t = r - a;
      const err = a - (r - t) + (bb - t);
      dir = err > 0 ? 1 : err < 0 ? -1 : 0;
    }
    if (dir === SPLIT_FAILED) return softBinary(f, op, sa, sb, dest);
    if (dir !== 0 && cw & 0xc00 && Math.abs(r) >= MIN_NORMAL) {
      r = roundToBits(r, dir, 53, -1074, (cw >> 10) & 3);
      dir = cvt.dir;
    }
    if (r - r === 0 && Math.abs(r) >= MIN_NORMAL) {
      if (dir === 0) {
        f.sw &= ~SW_C1;
      } else {
        f.sw = r > 0 === dir < 0 ? f.sw | SW_C1 : f.sw & ~SW_C1;
        f.signal(SW_PE);
      }
      f.val[dest] = r;
      f.extValid[dest] = 0;
      return true;
    }
  }
  return softBinary(f, op, sa, sb, dest);
}

/** A special (exact) result: infinity or zero of a sign. */
function setSpecial(f: Fpu, dest: number, negative: boolean, infinite: boolean): void {
  f.sw &= ~SW_C1;
  const m = infinite ? Infinity : 0;
  f.val[dest] = negative ? -m : m;
  f.extValid[dest] = 0;
}

/** The 80-bit path of binaryOp (see fpu-softfloat.ts), with the special operands of SDM Vol. 1 4.8.3. */
function softBinary(f: Fpu, op: number, sa: number, sb: number, dest: number): boolean {
  const pc = (f.cw >> 8) & 3;
  const ca = f.classOf(sa);
  const cb = f.classOf(sb);
  const na = f.signOf(sa);
  let nb = f.signOf(sb);
  // #D ranks below #IA and #Z (SDM Vol. 1 4.9.2): checked once those are ruled out.
  const denormal = f.isDenormal(sa) || f.isDenormal(sb);
  if (op === OP_ADD || op === OP_SUB || op === OP_SUBR) {
    if (op !== OP_ADD) nb = !nb;
    if (ca === CLASS_INF && cb === CLASS_INF && na !== nb) return f.invalid(dest);
    if (denormal && !f.signal(SW_DE)) return false;
    if (ca === CLASS_INF || cb === CLASS_INF) {
      setSpecial(f, dest, ca === CLASS_INF ? na : nb, true);
      return true;
    }
    if (ca === CLASS_ZERO && cb === CLASS_ZERO) {
      // Zeros of opposite signs sum to +0, or -0 when rounding down (IEEE 754 6.3).
      setSpecial(f, dest, na === nb ? na : f.rc === RC_DOWN, false);
      return true;
    }
    if (cb === CLASS_ZERO || ca === CLASS_ZERO) {
      // x ± 0: x rounded to the precision control.
      loadA(f, cb === CLASS_ZERO ? sa : sb);
      roundA(f, dest, pc, cb === CLASS_ZERO ? na : nb);
      return true;
    }
    loadA(f, sa);
    loadB(f, sb);
    if (add(op !== OP_ADD)) roundPack(f, dest, pc);
    else setSpecial(f, dest, f.rc === RC_DOWN, false); // exact cancellation
    return true;
  }
  const neg = na !== nb;
  if (op === OP_MUL) {
    if ((ca === CLASS_INF && cb === CLASS_ZERO) || (ca === CLASS_ZERO && cb === CLASS_INF))
      return f.invalid(dest);
    if (denormal && !f.signal(SW_DE)) return false;
    if (ca === CLASS_INF || cb === CLASS_INF || ca === CLASS_ZERO || cb === CLASS_ZERO) {
      setSpecial(f, dest, neg, ca === CLASS_INF || cb === CLASS_INF);
      return true;
    }
    loadA(f, sa);
    loadB(f, sb);
    mul();
    roundPack(f, dest, pc);
    return true;
  }
  if ((ca === CLASS_ZERO && cb === CLASS_ZERO) || (ca === CLASS_INF && cb === CLASS_INF))
    return f.invalid(dest);
  if (cb === CLASS_ZERO && ca !== CLASS_INF) {
    if (!f.signal(SW_ZE)) return false;
    setSpecial(f, dest, neg, true);
    return true;
  }
  if (denormal && !f.signal(SW_DE)) return false;
  if (ca === CLASS_INF || cb === CLASS_INF || ca === CLASS_ZERO) {
    setSpecial(f, dest, neg, ca === CLASS_INF);
    return true;
  }
  loadA(f, sa);
  loadB(f, sb);
  div();
  roundPack(f, dest, pc);
  return true;
}

/** FSQRT on slot `s`. */
export function sqrtOp(f: Fpu, s: number): boolean {
  const x = f.val[s];
  if (x !== x) return propagateNaN(f, s, -1, s);
  if (f.isDenormal(s) && !f.signal(SW_DE)) return false;
  const cls = f.classOf(s);
  if (cls === CLASS_ZERO) {
    f.sw &= ~SW_C1; // sqrt(-0) = -0
    return true;
  }
  if (f.signOf(s)) return f.invalid(s);
  if (cls === CLASS_INF) {
    f.sw &= ~SW_C1;
    return true;
  }
  const cw = f.cw;
  if ((cw & 0x300) === 0x200 && !f.extValid[s]) {
    let r = Math.sqrt(x);
    let dir = productCompare(x, r, r, r * r);
    if (dir !== 0 && cw & 0xc00) {
      r = roundToBits(r, dir, 53, -1074, (cw >> 10) & 3);
      dir = cvt.dir;
    }
    if (dir === 0) {
      f.sw &= ~SW_C1;
    } else {
      f.sw = dir < 0 ? f.sw | SW_C1 : f.sw & ~SW_C1;
      f.signal(SW_PE);
    }
    f.val[s] = r;
    f.extValid[s] = 0;
    return true;
  }
  loadA(f, s);
  sqrt();
  roundPack(f, s, (cw >> 8) & 3);
  return true;
}

/** FRNDINT on slot `s`: rounds to an integer by RC (exactly, from the 80-bit bits when they are kept). */
export function roundIntOp(f: Fpu, s: number): boolean {
  const x = f.val[s];
  if (x !== x) return propagateNaN(f, s, -1, s);
  if (f.isDenormal(s) && !f.signal(SW_DE)) return false;
  f.sw &= ~SW_C1;
  if (x === 0 || x - x !== 0) return true;
  const rc = f.rc;
  if (f.extValid[s] && (f.extSe[s] & 0x7fff) >= EXT_BIAS + 63) return true; // already integral
  if (f.extValid[s]) {
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
