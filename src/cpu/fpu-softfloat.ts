/**
 * Exact 80-bit arithmetic (Intel SDM Vol. 1 4.8, 4.9, 8.1.5, 8.5.4-8.5.6): +, -, *, / and square root on
 * 64-bit significands with the 15-bit exponent, rounded once by RC to the precision control (24, 53 or 64
 * bits), and the partial remainder of FPREM/FPREM1. Overflow and underflow happen at the 80-bit limits:
 * masked, infinity/the largest number by RC and denormals; unmasked into a register, the result with its
 * exponent moved by 24576.
 *
 * Operands are finite and nonzero here (special values are the callers'). Words are uint32 values held in
 * plain numbers; the unpacked operands and the result being built live in module variables, so nothing is
 * allocated. Significands: `hi` (bit 31 = the integer bit) and `lo`; results carry 32 more bits in `x`
 * and a sticky bit below them.
 */
import { EXT_BIAS, RC_DOWN, RC_NEAREST, RC_UP, overflowsToInfinity } from './fpu-float80.ts';
import type { Fpu } from './fpu.ts';
import {
  A_EXP,
  A_HI,
  A_LO,
  A_SIGN,
  BIAS_ADJUST,
  B_EXP,
  B_HI,
  B_LO,
  B_SIGN,
  PC_24,
  PC_53,
  PC_64,
  R_EXP,
  R_HI,
  R_LO,
  R_SIGN,
  R_STICKY,
  R_X,
  SW_C1,
  SW_OE,
  SW_PE,
  SW_UE,
  TWO32,
  U_EXP,
  U_HI,
  U_LO,
  U_SIGN,
} from './fpu-constants.ts';

/**
 * The operands (a, b), the result being built (r: sign, biased exponent (unbounded), significand
 * hi:lo:x and a sticky bit below x) and load()'s output (u), in one typed array: module variables holding
 * non-small numbers would be boxed by V8 on every assignment.
 */
const S = new Float64Array(18);

/** Unpacks a finite nonzero slot (80-bit bits or float64) into u*, normalised. */
function load(f: Fpu, slot: number): void {
  let e: number;
  let hi: number;
  let lo: number;
  if (f.extValid[slot]) {
    const se = f.extSe[slot];
    S[U_SIGN] = se >>> 15;
    e = se & 0x7fff || 1; // denormals and pseudo-denormals have the exponent of 1
    hi = f.extHi[slot];
    lo = f.extLo[slot];
  } else {
    const w0 = f.valWords[slot * 2];
    const w1 = f.valWords[slot * 2 + 1];
    S[U_SIGN] = w1 >>> 31;
    e = (w1 >>> 20) & 0x7ff;
    hi = (((w1 & 0xfffff) << 11) | (w0 >>> 21)) >>> 0;
    lo = (w0 << 11) >>> 0;
    if (e === 0) {
      e = EXT_BIAS - 1022; // a float64 denormal: normalised below
    } else {
      hi = (hi | 0x80000000) >>> 0;
      e += EXT_BIAS - 1023;
    }
  }
  if (!(hi >>> 31)) {
    if (hi === 0) {
      hi = lo;
      lo = 0;
      e -= 32;
    }
    const s = Math.clz32(hi);
    if (s !== 0) {
      hi = ((hi << s) | (lo >>> (32 - s))) >>> 0;
      lo = (lo << s) >>> 0;
      e -= s;
    }
  }
  S[U_EXP] = e;
  S[U_HI] = hi;
  S[U_LO] = lo;
}

export function loadA(f: Fpu, slot: number): void {
  load(f, slot);
  S[A_SIGN] = S[U_SIGN];
  S[A_EXP] = S[U_EXP];
  S[A_HI] = S[U_HI];
  S[A_LO] = S[U_LO];
}

export function loadB(f: Fpu, slot: number): void {
  load(f, slot);
  S[B_SIGN] = S[U_SIGN];
  S[B_EXP] = S[U_EXP];
  S[B_HI] = S[U_HI];
  S[B_LO] = S[U_LO];
}

/** Shifts the result significand right by n bits, collecting what falls off into the sticky bit. */
function shiftRight(n: number): void {
  if (n <= 0) return;
  if (n >= 96) {
    S[R_STICKY] |= S[R_HI] !== 0 || S[R_LO] !== 0 || S[R_X] !== 0 ? 1 : 0;
    S[R_HI] = S[R_LO] = S[R_X] = 0;
    return;
  }
  while (n >= 32) {
    S[R_STICKY] |= S[R_X] !== 0 ? 1 : 0;
    S[R_X] = S[R_LO];
    S[R_LO] = S[R_HI];
    S[R_HI] = 0;
    n -= 32;
  }
  if (n > 0) {
    S[R_STICKY] |= (S[R_X] & (0xffffffff >>> (32 - n))) !== 0 ? 1 : 0;
    S[R_X] = ((S[R_X] >>> n) | (S[R_LO] << (32 - n))) >>> 0;
    S[R_LO] = ((S[R_LO] >>> n) | (S[R_HI] << (32 - n))) >>> 0;
    S[R_HI] >>>= n;
  }
}

// ==========================================================================================================
// Rounding and delivery
// ==========================================================================================================

/**
 * Rounds the result (normalised, or zero) to precision `pc` by the control word's RC and writes it to slot
 * `dest`, with #U (tininess before rounding), #O and #P and their masked or unmasked responses, and C1 =
 * rounded up.
 */
export function roundPack(f: Fpu, dest: number, pc: number): void {
  const cw = f.cw;
  const rc = (cw >> 10) & 3;
  const neg = S[R_SIGN] === 1;
  let flags = 0;
  let tinyMasked = false;
  if (S[R_EXP] <= 0 && (S[R_HI] !== 0 || S[R_LO] !== 0)) {
    if (cw & SW_UE) {
      shiftRight(1 - S[R_EXP]); // denormalise
      S[R_EXP] = 0;
      tinyMasked = true;
    } else {
      S[R_EXP] += BIAS_ADJUST;
      flags = SW_UE;
    }
  }
  let hi = S[R_HI];
  let lo = S[R_LO];
  let guard: number;
  let rest: boolean;
  let lsb: number;
  if (pc === PC_53) {
    guard = (lo >>> 10) & 1;
    rest = (lo & 0x3ff) !== 0 || S[R_X] !== 0 || S[R_STICKY] !== 0;
    lsb = (lo >>> 11) & 1;
    lo = (lo & ~0x7ff) >>> 0;
  } else if (pc === PC_24) {
    guard = (hi >>> 7) & 1;
    rest = (hi & 0x7f) !== 0 || lo !== 0 || S[R_X] !== 0 || S[R_STICKY] !== 0;
    lsb = (hi >>> 8) & 1;
    hi = (hi & ~0xff) >>> 0;
    lo = 0;
  } else {
    guard = S[R_X] >>> 31;
    rest = (S[R_X] & 0x7fffffff) !== 0 || S[R_STICKY] !== 0;
    lsb = lo & 1;
  }
  const inexact = guard !== 0 || rest;
  let up = false;
  if (inexact) {
    if (rc === RC_NEAREST) up = guard !== 0 && (rest || lsb !== 0);
    else if (rc === RC_UP) up = !neg;
    else if (rc === RC_DOWN) up = neg;
  }
  let exp = S[R_EXP];
  if (up) {
    const unit = pc === PC_53 ? 0x800 : pc === PC_24 ? 0 : 1;
    if (unit !== 0) {
      lo += unit;
      if (lo >= TWO32) {
        lo -= TWO32;
        hi += 1;
      }
    } else {
      hi += 0x100;
    }
    if (hi >= TWO32) {
      hi = 0x80000000;
      exp++;
    }
    if (exp === 0 && hi >= 0x80000000) exp = 1; // a denormal rounded up into the normal range
  }
  if (inexact) flags |= tinyMasked ? SW_UE | SW_PE : SW_PE;
  if (exp >= 0x7fff) {
    if (!(cw & SW_OE)) {
      exp -= BIAS_ADJUST;
      flags |= SW_OE;
    } else {
      flags |= SW_OE | SW_PE;
      if (overflowsToInfinity(neg, rc)) {
        exp = 0x7fff;
        hi = 0x80000000;
        lo = 0;
        up = true;
      } else {
        exp = 0x7ffe;
        hi = pc === PC_24 ? 0xffffff00 : 0xffffffff;
        lo = pc === PC_24 ? 0 : pc === PC_53 ? 0xfffff800 : 0xffffffff;
        up = false;
      }
    }
  }
  if (hi === 0 && lo === 0) exp = 0;
  f.sw = up ? f.sw | SW_C1 : f.sw & ~SW_C1;
  f.setResult(dest, (neg ? 0x8000 : 0) | exp, hi | 0, lo | 0); // int32 words: no boxing
  if (flags) f.signal(flags);
}

/** Delivers loadA's operand with sign `negative`, rounded to the precision control (x + 0 and the like). */
export function roundA(f: Fpu, dest: number, pc: number, negative: boolean): void {
  S[R_SIGN] = negative ? 1 : 0;
  S[R_EXP] = S[A_EXP];
  S[R_HI] = S[A_HI];
  S[R_LO] = S[A_LO];
  S[R_X] = S[R_STICKY] = 0;
  roundPack(f, dest, pc);
}

/** Rounds and delivers sign * hi:lo * 2^(exp - bias) for an exponent beyond the 80-bit range (FSCALE). */
export function packScaled(
  f: Fpu,
  dest: number,
  negative: boolean,
  exp: number,
  hi: number,
  lo: number,
): void {
  S[R_SIGN] = negative ? 1 : 0;
  S[R_EXP] = exp;
  S[R_HI] = hi;
  S[R_LO] = lo;
  S[R_X] = S[R_STICKY] = 0;
  roundPack(f, dest, PC_64);
}

// ==========================================================================================================
// Operations on loadA / loadB operands
// ==========================================================================================================

/**
 * a + b (b's sign flipped first when `subtract`). Returns false for an exact zero (whose sign is the
 * caller's: +0, or -0 when rounding down); the result is otherwise left for roundPack.
 */
export function add(subtract: boolean): boolean {
  if (subtract) S[B_SIGN] ^= 1;
  // Order by magnitude: |a| >= |b|.
  if (
    S[B_EXP] > S[A_EXP] ||
    (S[B_EXP] === S[A_EXP] && (S[B_HI] > S[A_HI] || (S[B_HI] === S[A_HI] && S[B_LO] > S[A_LO])))
  ) {
    let t = S[A_SIGN];
    S[A_SIGN] = S[B_SIGN];
    S[B_SIGN] = t;
    t = S[A_EXP];
    S[A_EXP] = S[B_EXP];
    S[B_EXP] = t;
    t = S[A_HI];
    S[A_HI] = S[B_HI];
    S[B_HI] = t;
    t = S[A_LO];
    S[A_LO] = S[B_LO];
    S[B_LO] = t;
  }
  S[R_SIGN] = S[A_SIGN];
  S[R_EXP] = S[A_EXP];
  S[R_HI] = S[B_HI];
  S[R_LO] = S[B_LO];
  S[R_X] = S[R_STICKY] = 0;
  shiftRight(S[A_EXP] - S[B_EXP]);
  if (S[A_SIGN] === S[B_SIGN]) {
    let lo = S[A_LO] + S[R_LO];
    const carry = lo >= TWO32 ? 1 : 0;
    lo -= carry * TWO32;
    let hi = S[A_HI] + S[R_HI] + carry;
    if (hi >= TWO32) {
      // Carry out: shift right by one, the carry becoming the integer bit.
      hi -= TWO32;
      S[R_STICKY] |= S[R_X] & 1;
      S[R_X] = ((S[R_X] >>> 1) | (lo << 31)) >>> 0;
      lo = ((lo >>> 1) | (hi << 31)) >>> 0;
      hi = ((hi >>> 1) | 0x80000000) >>> 0;
      S[R_EXP]++;
    }
    S[R_HI] = hi;
    S[R_LO] = lo;
    return true;
  }
  // A:0:0 - R:x:sticky (the sticky bit sits below x: subtracting it borrows from x and stays set).
  let x = -S[R_X] - S[R_STICKY];
  let borrow = 0;
  if (x < 0) {
    x += TWO32;
    borrow = 1;
  }
  let lo = S[A_LO] - S[R_LO] - borrow;
  borrow = 0;
  if (lo < 0) {
    lo += TWO32;
    borrow = 1;
  }
  const hi = S[A_HI] - S[R_HI] - borrow;
  if (hi === 0 && lo === 0 && x === 0 && S[R_STICKY] === 0) return false;
  S[R_HI] = hi;
  S[R_LO] = lo;
  S[R_X] = x;
  normalize();
  return true;
}

/** Shifts the result left until the integer bit is set (after a cancellation). */
function normalize(): void {
  while (S[R_HI] === 0) {
    S[R_HI] = S[R_LO];
    S[R_LO] = S[R_X];
    S[R_X] = 0;
    S[R_EXP] -= 32;
  }
  const s = Math.clz32(S[R_HI]);
  if (s !== 0) {
    S[R_HI] = ((S[R_HI] << s) | (S[R_LO] >>> (32 - s))) >>> 0;
    S[R_LO] = ((S[R_LO] << s) | (S[R_X] >>> (32 - s))) >>> 0;
    S[R_X] = (S[R_X] << s) >>> 0;
    S[R_EXP] -= s;
  }
}

/** a * b: the 128-bit product of the significands, from 16-bit limbs (every partial sum exact). */
export function mul(): void {
  S[R_SIGN] = S[A_SIGN] ^ S[B_SIGN];
  S[R_EXP] = S[A_EXP] + S[B_EXP] - EXT_BIAS + 1;
  const a0 = S[A_LO] & 0xffff;
  const a1 = S[A_LO] >>> 16;
  const a2 = S[A_HI] & 0xffff;
  const a3 = S[A_HI] >>> 16;
  const b0 = S[B_LO] & 0xffff;
  const b1 = S[B_LO] >>> 16;
  const b2 = S[B_HI] & 0xffff;
  const b3 = S[B_HI] >>> 16;
  let t = a0 * b0;
  const p0 = t % 65536;
  t = (t - p0) / 65536 + a1 * b0 + a0 * b1;
  const p1 = t % 65536;
  t = (t - p1) / 65536 + a2 * b0 + a1 * b1 + a0 * b2;
  const p2 = t % 65536;
  t = (t - p2) / 65536 + a3 * b0 + a2 * b1 + a1 * b2 + a0 * b3;
  const p3 = t % 65536;
  t = (t - p3) / 65536 + a3 * b1 + a2 * b2 + a1 * b3;
  const p4 = t % 65536;
  t = (t - p4) / 65536 + a3 * b2 + a2 * b3;
  const p5 = t % 65536;
  t = (t - p5) / 65536 + a3 * b3;
  const p6 = t % 65536;
  const p7 = (t - p6) / 65536;
  let w3 = p7 * 65536 + p6;
  let w2 = p5 * 65536 + p4;
  let w1 = p3 * 65536 + p2;
  const w0 = p1 * 65536 + p0;
  if (w3 < 0x80000000) {
    // The product of two [1, 2) significands is in [1, 4): normalise [1, 2) by one bit.
    w3 = ((w3 << 1) | (w2 >>> 31)) >>> 0;
    w2 = ((w2 << 1) | (w1 >>> 31)) >>> 0;
    w1 = ((w1 << 1) | (w0 >>> 31)) >>> 0;
    S[R_STICKY] = (w0 & 0x7fffffff) !== 0 ? 1 : 0;
    S[R_EXP]--;
  } else {
    S[R_STICKY] = w0 !== 0 ? 1 : 0;
  }
  S[R_HI] = w3;
  S[R_LO] = w2;
  S[R_X] = w1;
}

/** a / b: 66 quotient bits by restoring division, the remainder as the sticky bit. */
export function div(): void {
  S[R_SIGN] = S[A_SIGN] ^ S[B_SIGN];
  S[R_EXP] = S[A_EXP] - S[B_EXP] + EXT_BIAS;
  let top = 0;
  let rh = S[A_HI];
  let rl = S[A_LO];
  if (S[A_HI] < S[B_HI] || (S[A_HI] === S[B_HI] && S[A_LO] < S[B_LO])) {
    top = rh >>> 31;
    rh = ((rh << 1) | (rl >>> 31)) >>> 0;
    rl = (rl << 1) >>> 0;
    S[R_EXP]--;
  }
  let qh = 0;
  let ql = 0;
  let qx = 0;
  for (let i = 0; i < 66; i++) {
    let bit = 0;
    if (top !== 0 || rh > S[B_HI] || (rh === S[B_HI] && rl >= S[B_LO])) {
      let l = rl - S[B_LO];
      let borrow = 0;
      if (l < 0) {
        l += TWO32;
        borrow = 1;
      }
      rh = rh - S[B_HI] - borrow;
      if (rh < 0) rh += TWO32;
      rl = l;
      top = 0;
      bit = 1;
    }
    if (i < 32) qh = ((qh << 1) | bit) >>> 0;
    else if (i < 64) ql = ((ql << 1) | bit) >>> 0;
    else qx |= bit << (95 - i);
    top = rh >>> 31;
    rh = ((rh << 1) | (rl >>> 31)) >>> 0;
    rl = (rl << 1) >>> 0;
  }
  S[R_HI] = qh;
  S[R_LO] = ql;
  S[R_X] = qx >>> 0;
  S[R_STICKY] = top !== 0 || rh !== 0 || rl !== 0 ? 1 : 0;
}

/**
 * sqrt(a) for a positive a: 66 root bits, digit by digit, on numbers held as high * 2^32 + low (high below
 * 2^38, so every step is exact in float64).
 */
export function sqrt(): void {
  let e = S[A_EXP] - EXT_BIAS;
  // The radicand is the significand M (64 bits) shifted left by 67, or 68 for an odd exponent, so that
  // the root has 66 bits. Its bits below 64 are zero; the pairs are read from bit 131 down.
  const shift = e & 1 ? 68 : 67;
  if (e & 1) e--;
  const s = shift - 64; // 3 or 4: M occupies bits s+64 .. s+127 of a 160-bit number, words 2-4
  const n2 = (S[A_LO] << s) >>> 0;
  const n3 = ((S[A_HI] << s) | (S[A_LO] >>> (32 - s))) >>> 0;
  const n4 = S[A_HI] >>> (32 - s);
  let remH = 0;
  let remL = 0;
  let rootH = 0;
  let rootL = 0;
  for (let i = 0; i < 66; i++) {
    const low = 130 - 2 * i; // the pair's lower bit (even: a pair never straddles words)
    const word = low >>> 5;
    const w = word === 4 ? n4 : word === 3 ? n3 : word === 2 ? n2 : 0;
    const pair = (w >>> (low & 31)) & 3;
    // rem = rem * 4 + pair; trial = root * 4 + 1
    let l = remL * 4 + pair;
    let c = Math.floor(l / TWO32);
    remL = l - c * TWO32;
    remH = remH * 4 + c;
    l = rootL * 4 + 1;
    c = Math.floor(l / TWO32);
    const tL = l - c * TWO32;
    const tH = rootH * 4 + c;
    let bit = 0;
    if (remH > tH || (remH === tH && remL >= tL)) {
      remL -= tL;
      remH -= tH;
      if (remL < 0) {
        remL += TWO32;
        remH -= 1;
      }
      bit = 1;
    }
    l = rootL * 2 + bit;
    c = l >= TWO32 ? 1 : 0;
    rootL = l - c * TWO32;
    rootH = rootH * 2 + c;
  }
  // The root has 66 bits (bit 65 set): bits 65-34, 33-2, and 1-0 at the top of x.
  S[R_SIGN] = 0;
  S[R_EXP] = e / 2 + EXT_BIAS;
  S[R_HI] = Math.floor(rootH / 4);
  S[R_LO] = (((rootH & 3) << 30) | (rootL >>> 2)) >>> 0;
  S[R_X] = ((rootL & 3) << 30) >>> 0;
  S[R_STICKY] = remH !== 0 || remL !== 0 ? 1 : 0;
}

/**
 * The partial remainder of FPREM (truncating quotient) or FPREM1 (quotient to nearest) on loadA/loadB
 * operands, exact. Writes the remainder to `dest` and returns the low three quotient bits, or -1 for an
 * incomplete reduction (exponent difference of 64 or more: the SDM's N is 32 + (D mod 32) here, as x86
 * hardware reduces by multiples of 32).
 */
export function remainder(f: Fpu, dest: number, ieee: boolean): number {
  const d = S[A_EXP] - S[B_EXP];
  let steps: number;
  let partial = false;
  if (d >= 64) {
    steps = 32 + (d & 31);
    partial = true;
  } else {
    steps = d;
  }
  let q = 0;
  let sign = S[A_SIGN];
  // Remainder register: top bit, hi, lo; the divisor is B scaled to the low end of the quotient.
  let top = 0;
  let rh = S[A_HI];
  let rl = S[A_LO];
  let exp = S[A_EXP] - steps; // the exponent the remainder is counted in (B's scale)
  if (steps >= 0) {
    for (let i = 0; i <= steps; i++) {
      let bit = 0;
      if (top !== 0 || rh > S[B_HI] || (rh === S[B_HI] && rl >= S[B_LO])) {
        let l = rl - S[B_LO];
        let borrow = 0;
        if (l < 0) {
          l += TWO32;
          borrow = 1;
        }
        rh = rh - S[B_HI] - borrow;
        if (rh < 0) rh += TWO32;
        rl = l;
        top = 0;
        bit = 1;
      }
      q = ((q << 1) | bit) & 7;
      if (i < steps) {
        top = rh >>> 31;
        rh = ((rh << 1) | (rl >>> 31)) >>> 0;
        rl = (rl << 1) >>> 0;
      }
    }
  } else {
    exp = S[A_EXP];
  }
  if (ieee && !partial && steps >= -1) {
    // Round the quotient to nearest: compare 2R with B (both at B's scale; for d = -1, R is at half scale).
    const tw = steps === -1 ? 0 : rh >>> 31;
    const th = steps === -1 ? rh : ((rh << 1) | (rl >>> 31)) >>> 0;
    const tl = steps === -1 ? rl : (rl << 1) >>> 0;
    const greater = tw !== 0 || th > S[B_HI] || (th === S[B_HI] && tl > S[B_LO]);
    const equal = tw === 0 && th === S[B_HI] && tl === S[B_LO];
    if (greater || (equal && q & 1)) {
      // R = B - R (at B's scale), sign flips, quotient + 1.
      if (steps === -1) {
        // R is A at half of B's scale: B - A/2 at half scale is 2B - A.
        let l = S[B_LO] * 2 - rl;
        let h = S[B_HI] * 2 - rh;
        if (l < 0) {
          l += TWO32;
          h -= 1;
        } else if (l >= TWO32) {
          l -= TWO32;
          h += 1;
        }
        rh = h;
        rl = l;
        exp = S[A_EXP];
      } else {
        let l = S[B_LO] - rl;
        let h = S[B_HI] - rh;
        if (l < 0) {
          l += TWO32;
          h -= 1;
        }
        rh = h;
        rl = l;
      }
      sign ^= 1;
      q = (q + 1) & 7;
    }
  }
  S[R_SIGN] = sign;
  S[R_EXP] = exp;
  S[R_HI] = rh;
  S[R_LO] = rl;
  S[R_X] = S[R_STICKY] = 0;
  if (S[R_HI] === 0 && S[R_LO] === 0) {
    f.setResult(dest, sign ? 0x8000 : 0, 0, 0);
  } else {
    normalize();
    roundPack(f, dest, PC_64);
  }
  return partial ? -1 : q;
}
