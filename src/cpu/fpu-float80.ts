/**
 * Number formats of the x87 FPU (Intel SDM Vol. 1 ch. 4.2, 4.8, 4.9 and 8.1.5): the 80-bit double extended
 * format, float32/float64, 16/32/64-bit integers and 18-digit packed BCD, and rounding by the RC field.
 *
 * The FPU computes in float64 (see fpu.ts). An 80-bit value is handled as three unsigned numbers: `se` (sign
 * bit 15, biased exponent bits 14-0), `hi` and `lo` (the 64-bit significand, explicit integer bit = bit 31 of
 * `hi`). Every routine here works on plain numbers and writes its secondary results into the one shared
 * record `cvt`, so nothing is allocated per instruction.
 */

/** Rounding control (FPU control word bits 11-10). */
export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

/** Value classes of an 80-bit register (SDM Vol. 1 Table 8-3 plus the two NaN kinds). */
export const CLASS_ZERO = 0;
export const CLASS_NORMAL = 1;
export const CLASS_DENORMAL = 2;
export const CLASS_INF = 3;
export const CLASS_QNAN = 4;
export const CLASS_SNAN = 5;
/** Unnormals, pseudo-NaNs, pseudo-infinities: invalid operands on a 387 and later. */
export const CLASS_UNSUPPORTED = 6;

export const EXT_BIAS = 16383;
/** The QNaN floating-point indefinite: sign 1, exponent all ones, significand 1100...0. */
export const INDEFINITE_SE = 0xffff;
export const INDEFINITE_HI = 0xc0000000;

const TWO32 = 4294967296;
/** Largest finite float32 and float64. */
export const FLOAT32_MAX = 3.4028234663852886e38;
const FLOAT64_MAX = Number.MAX_VALUE;

/**
 * Secondary results of the last conversion: an 80-bit value (se/hi/lo), an integer as sign + 64-bit
 * magnitude (neg/hi/lo), and the rounding outcome. `dir` is the sign of (exact value - returned value):
 * 0 when the result is exact.
 */
export const cvt = {
  se: 0,
  hi: 0,
  lo: 0,
  neg: false,
  dir: 0,
  /** The result was out of range: overflow (floating point) or not representable (integers). */
  overflow: false,
  /** The exact result was nonzero and below the smallest normal of the destination format. */
  tiny: false,
};

const bits = new DataView(new ArrayBuffer(8));

/** Multiplies by 2^n for any n, in steps so that no factor over- or underflows on its own. */
function scale2(x: number, n: number): number {
  while (n > 1000) {
    x *= 2 ** 1000;
    n -= 1000;
    if (!Number.isFinite(x)) return x;
  }
  while (n < -1000) {
    x *= 2 ** -1000;
    n += 1000;
    if (x === 0) return x;
  }
  return x * 2 ** n;
}

/** floor(log2(|x|)) for finite nonzero x, exact (read from the bits). */
function exponentOf(x: number): number {
  bits.setFloat64(0, x, true);
  const hi = bits.getUint32(4, true);
  const e = (hi >>> 20) & 0x7ff;
  if (e !== 0) return e - 1023;
  const fhi = hi & 0xfffff;
  if (fhi !== 0) return -1023 - (Math.clz32(fhi) - 12);
  return -1043 - Math.clz32(bits.getUint32(0, true));
}

/** True for a negative number or -0. */
function isNegative(x: number): boolean {
  return x < 0 || (x === 0 && 1 / x < 0);
}

/**
 * Rounds `v` to `bits` significant bits and to a multiple of 2^minUlpExp, by `rc`. `dm` is the sign of the
 * exact value minus `v` (the sticky information of an earlier rounding), so a value rounded once to nearest
 * can be rounded again without double-rounding errors. Sets cvt.dir. The result may be ±Infinity when it
 * passes the float64 range; format limits are the caller's.
 */
export function roundToBits(v: number, dm: number, nbits: number, minUlpExp: number, rc: number): number {
  if (dm === 0 && (v === 0 || !Number.isFinite(v))) {
    cvt.dir = 0;
    return v;
  }
  const neg = v < 0 || (v === 0 ? dm < 0 : false);
  const mag = Math.abs(v);
  const dmag = neg ? -dm : dm; // sign of |exact| - |v|
  let ulpExp = minUlpExp;
  if (mag !== 0) {
    const e = exponentOf(mag);
    // Just below a power of two the exact value has the next lower exponent: a grid twice as fine.
    ulpExp = Math.max(e - nbits + (dmag < 0 && mag === 2 ** e ? 0 : 1), minUlpExp);
  }
  const q = scale2(mag, -ulpExp);
  let lo = Math.floor(q);
  let f = q - lo;
  if (q === 0 && mag !== 0) {
    f = 0.25; // far below the last place
  } else if (f === 0) {
    if (dmag === 0) {
      cvt.dir = 0;
      return v;
    }
    if (dmag < 0) {
      lo -= 1;
      f = 0.75; // just below the integer q: in (lo, lo + 1), above the half way point
    } else {
      f = 0.25;
    }
  }
  let up: boolean;
  switch (rc) {
    case RC_NEAREST:
      up = f > 0.5 || (f === 0.5 && (dmag > 0 || (dmag === 0 && lo % 2 === 1)));
      break;
    case RC_DOWN:
      up = neg;
      break;
    case RC_UP:
      up = !neg;
      break;
    default:
      up = false;
  }
  const m = scale2(up ? lo + 1 : lo, ulpExp);
  // The exact magnitude is below the result when rounded up, above it otherwise.
  cvt.dir = up !== neg ? -1 : 1;
  return neg ? -m : m;
}

/** The value to deliver on overflow (SDM Vol. 1 Table 4-10): infinity or the largest finite number by RC. */
function overflowValue(negative: boolean, rc: number, max: number): number {
  const mag = overflowsToInfinity(negative, rc) ? Infinity : max;
  return negative ? -mag : mag;
}

/** Whether an overflow delivers infinity (rather than the largest finite number) under `rc`. */
export function overflowsToInfinity(negative: boolean, rc: number): boolean {
  return rc === RC_NEAREST || (rc === RC_UP && !negative) || (rc === RC_DOWN && negative);
}

/** Rounds to an integral value by RC (FRNDINT, FIST). Keeps the sign of zero. */
export function roundToInteger(x: number, rc: number): number {
  let r: number;
  switch (rc) {
    case RC_NEAREST: {
      const fl = Math.floor(x);
      const d = x - fl;
      r = d > 0.5 ? fl + 1 : d < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1;
      break;
    }
    case RC_DOWN:
      r = Math.floor(x);
      break;
    case RC_UP:
      r = Math.ceil(x);
      break;
    default:
      r = Math.trunc(x);
  }
  return r === 0 && isNegative(x) ? -0 : r;
}

// ---------------------------------------------------------------------------------------------------------
// float64 <-> 80-bit
// ---------------------------------------------------------------------------------------------------------

/** Converts a float64 to 80-bit (always exact) into cvt.se/hi/lo. NaNs keep their payload and quiet bit. */
export function doubleToExt(x: number): void {
  bits.setFloat64(0, x, true);
  const lo32 = bits.getUint32(0, true);
  const hi32 = bits.getUint32(4, true);
  const sign = (hi32 >>> 16) & 0x8000;
  const e = (hi32 >>> 20) & 0x7ff;
  const fhi = hi32 & 0xfffff;
  if (e === 0) {
    if (fhi === 0 && lo32 === 0) {
      cvt.se = sign;
      cvt.hi = cvt.lo = 0;
      return;
    }
    // A float64 denormal is a normal 80-bit number: normalise the fraction.
    let h = (fhi << 11) | (lo32 >>> 21);
    let l = lo32 << 11;
    let exp = EXT_BIAS - 1022;
    if (h === 0) {
      h = l;
      l = 0;
      exp -= 32;
    }
    const s = Math.clz32(h);
    if (s !== 0) {
      h = (h << s) | (l >>> (32 - s));
      l <<= s;
      exp -= s;
    }
    cvt.se = sign | exp;
    cvt.hi = h >>> 0;
    cvt.lo = l >>> 0;
    return;
  }
  cvt.se = sign | (e === 0x7ff ? 0x7fff : e - 1023 + EXT_BIAS);
  cvt.hi = (0x80000000 | (fhi << 11) | (lo32 >>> 21)) >>> 0;
  cvt.lo = (lo32 << 11) >>> 0;
}

/** Classifies an 80-bit value. */
export function classifyExt(se: number, hi: number, lo: number): number {
  const exp = se & 0x7fff;
  const integer = hi >>> 31;
  if (exp === 0x7fff) {
    if (!integer) return CLASS_UNSUPPORTED; // pseudo-infinity / pseudo-NaN
    if ((hi & 0x7fffffff) === 0 && lo === 0) return CLASS_INF;
    return hi & 0x40000000 ? CLASS_QNAN : CLASS_SNAN;
  }
  if (exp === 0) return hi === 0 && lo === 0 ? CLASS_ZERO : CLASS_DENORMAL;
  return integer ? CLASS_NORMAL : CLASS_UNSUPPORTED;
}

/**
 * Converts an 80-bit value to float64, rounding by `rc`. NaNs and unsupported encodings give NaN (the caller
 * keeps the 80-bit bits); values beyond the float64 range overflow by `rc` (cvt.overflow), tiny values become
 * float64 denormals or zero (cvt.tiny). Sets cvt.dir.
 */
export function extToDouble(se: number, hi: number, lo: number, rc: number): number {
  cvt.overflow = cvt.tiny = false;
  cvt.dir = 0;
  const exp = se & 0x7fff;
  const neg = (se & 0x8000) !== 0;
  if (exp === 0x7fff) {
    if (hi === 0x80000000 && lo === 0) return neg ? -Infinity : Infinity;
    return NaN;
  }
  if (exp !== 0 && !(hi >>> 31)) return NaN; // unnormal
  if (hi === 0 && lo === 0) return neg ? -0 : 0;
  // value = significand * 2^(e - 63); the significand as H + L with the exact rounding error of the sum.
  const e = (exp === 0 ? 1 : exp) - EXT_BIAS;
  const H = hi * TWO32;
  const s = H + lo;
  const err = lo - (s - H);
  const dm = err > 0 ? 1 : err < 0 ? -1 : 0;
  const k = e - 63;
  const top = exponentOf(s) + k; // exponent of the (unrounded) value
  if (top > 1023) return overflowDouble(neg, rc);
  cvt.tiny = top < -1022;
  if (top < -1140) {
    // Far below the smallest denormal: zero, or the smallest denormal when rounding away from zero.
    const away = (rc === RC_UP && !neg) || (rc === RC_DOWN && neg);
    cvt.dir = away ? (neg ? 1 : -1) : neg ? -1 : 1;
    const r = away ? 2 ** -1074 : 0;
    return neg ? -r : r;
  }
  const r = roundToBits(neg ? -s : s, neg ? -dm : dm, 53, -1074 - k, rc);
  const result = scale2(r, k);
  return Number.isFinite(result) ? result : overflowDouble(neg, rc);
}

/** The float64 overflow response by RC, with cvt.overflow and cvt.dir. */
function overflowDouble(neg: boolean, rc: number): number {
  cvt.overflow = true;
  const r = overflowValue(neg, rc, FLOAT64_MAX);
  // dir = sign(exact - r): infinity lies beyond the exact value, the largest finite number before it.
  cvt.dir = Number.isFinite(r) === neg ? -1 : 1;
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// float32
// ---------------------------------------------------------------------------------------------------------

/**
 * Rounds `x` (with sticky direction `dm`) to float32 by `rc`. Sets cvt.overflow (the masked response is
 * returned: infinity or FLOAT32_MAX by RC), cvt.tiny and cvt.dir.
 */
export function roundToFloat32(x: number, dm: number, rc: number): number {
  cvt.overflow = false;
  const mag = Math.abs(x);
  cvt.tiny = (mag !== 0 || dm !== 0) && mag < 2 ** -126;
  if (!Number.isFinite(x)) {
    cvt.dir = 0;
    return x;
  }
  let r: number;
  if (rc === RC_NEAREST && dm === 0) {
    r = Math.fround(x);
    cvt.dir = r === x ? 0 : r < x ? 1 : -1;
  } else {
    r = roundToBits(x, dm, 24, -149, rc);
  }
  if (Math.abs(r) >= 2 ** 128) {
    cvt.overflow = true;
    const neg = x < 0;
    r = overflowValue(neg, rc, FLOAT32_MAX);
    cvt.dir = Number.isFinite(r) ? (neg ? -1 : 1) : neg ? 1 : -1;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// Integers: a sign and a 64-bit magnitude (hi, lo)
// ---------------------------------------------------------------------------------------------------------

/**
 * Rounds an 80-bit value to an integer by `rc`, exactly (all 64 significand bits count). Result in cvt.neg /
 * cvt.hi / cvt.lo as sign and magnitude; cvt.overflow when the magnitude does not fit in 64 bits (or the value
 * is a NaN, infinity or unsupported); cvt.dir for inexact results.
 */
export function extToInteger(se: number, hi: number, lo: number, rc: number): void {
  const neg = (se & 0x8000) !== 0;
  cvt.neg = neg;
  cvt.overflow = false;
  cvt.dir = 0;
  const cls = classifyExt(se, hi, lo);
  if (cls === CLASS_ZERO) {
    cvt.hi = cvt.lo = 0;
    return;
  }
  if (cls !== CLASS_NORMAL && cls !== CLASS_DENORMAL) {
    cvt.overflow = true;
    cvt.hi = cvt.lo = 0;
    return;
  }
  const exp = se & 0x7fff;
  const shift = EXT_BIAS + 63 - (exp === 0 ? 1 : exp);
  if (shift < 0) {
    cvt.overflow = true;
    cvt.hi = cvt.lo = 0;
    return;
  }
  let ihi: number;
  let ilo: number;
  let round: number;
  let sticky: boolean;
  if (shift === 0) {
    ihi = hi;
    ilo = lo;
    round = 0;
    sticky = false;
  } else if (shift < 32) {
    ilo = ((lo >>> shift) | (hi << (32 - shift))) >>> 0;
    ihi = hi >>> shift;
    round = (lo >>> (shift - 1)) & 1;
    sticky = shift > 1 && (lo & (0xffffffff >>> (33 - shift))) !== 0;
  } else if (shift === 32) {
    ilo = hi;
    ihi = 0;
    round = lo >>> 31;
    sticky = (lo & 0x7fffffff) !== 0;
  } else if (shift < 64) {
    ilo = hi >>> (shift - 32);
    ihi = 0;
    round = (hi >>> (shift - 33)) & 1;
    sticky = lo !== 0 || (shift > 33 && (hi & (0xffffffff >>> (65 - shift))) !== 0);
  } else {
    ihi = ilo = 0;
    round = shift === 64 ? hi >>> 31 : 0;
    sticky = shift === 64 ? (hi & 0x7fffffff) !== 0 || lo !== 0 : true;
  }
  if (round || sticky) {
    let up: boolean;
    switch (rc) {
      case RC_NEAREST:
        up = round === 1 && (sticky || (ilo & 1) === 1);
        break;
      case RC_DOWN:
        up = neg;
        break;
      case RC_UP:
        up = !neg;
        break;
      default:
        up = false;
    }
    if (up) {
      ilo = (ilo + 1) >>> 0;
      if (ilo === 0) {
        ihi = (ihi + 1) >>> 0;
        if (ihi === 0) cvt.overflow = true; // 2^64
      }
    }
    // dir is the sign of exact - result in value terms.
    cvt.dir = up !== neg ? -1 : 1;
  }
  cvt.hi = ihi;
  cvt.lo = ilo;
}

/** Converts a sign and 64-bit magnitude to 80-bit (exact) into cvt.se/hi/lo. */
export function integerToExt(neg: boolean, hi: number, lo: number): void {
  const sign = neg ? 0x8000 : 0;
  if (hi === 0 && lo === 0) {
    cvt.se = sign;
    cvt.hi = cvt.lo = 0;
    return;
  }
  let exp = EXT_BIAS + 63;
  if (hi === 0) {
    hi = lo;
    lo = 0;
    exp -= 32;
  }
  const s = Math.clz32(hi);
  if (s !== 0) {
    hi = (hi << s) | (lo >>> (32 - s));
    lo <<= s;
    exp -= s;
  }
  cvt.se = sign | exp;
  cvt.hi = hi >>> 0;
  cvt.lo = lo >>> 0;
}

/** Largest packed BCD magnitude + 1: 10^18 as hi:lo. */
const BCD_LIMIT_HI = 0x0de0b6b3;
const BCD_LIMIT_LO = 0xa7640000;

/** Reads 18 BCD digits (bytes 0-8, low digit first) into cvt.hi/lo as a binary magnitude. */
export function bcdToInteger(digits: Uint8Array): void {
  let hi = 0;
  let lo = 0;
  for (let i = 8; i >= 0; i--) {
    const byte = digits[i];
    for (let nibble = 1; nibble >= 0; nibble--) {
      const d = (byte >> (nibble * 4)) & 15;
      const l = lo * 10 + d; // < 2^36: exact
      const carry = Math.floor(l / TWO32);
      lo = l - carry * TWO32;
      hi = hi * 10 + carry;
    }
  }
  cvt.hi = hi >>> 0;
  cvt.lo = lo >>> 0;
}

/**
 * Writes magnitude hi:lo as 18 BCD digits into bytes 0-8 of `digits`. Returns false when it needs more than
 * 18 digits.
 */
export function integerToBcd(hi: number, lo: number, digits: Uint8Array): boolean {
  if (hi > BCD_LIMIT_HI || (hi === BCD_LIMIT_HI && lo >= BCD_LIMIT_LO)) return false;
  for (let i = 0; i < 9; i++) {
    let byte = 0;
    for (let nibble = 0; nibble < 2; nibble++) {
      const qh = Math.floor(hi / 10);
      const rest = (hi - qh * 10) * TWO32 + lo; // < 10 * 2^32: exact
      const ql = Math.floor(rest / 10);
      byte |= (rest - ql * 10) << (nibble * 4);
      hi = qh;
      lo = ql;
    }
    digits[i] = byte;
  }
  return true;
}
