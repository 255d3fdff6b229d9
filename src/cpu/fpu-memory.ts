/**
 * x87 memory operands (Intel SDM Vol. 1 4.2, 4.7, 4.8.3; Vol. 2 FLD/FILD/FBLD/FST/FIST/FBSTP): loads of
 * float32/float64/80-bit reals, 16/32/64-bit integers and packed BCD into SLOT_MEM, and stores of ST(0) in
 * each format with RC rounding and the masked or unmasked responses to #IA, #D, #O, #U and #P.
 *
 * Memory is accessed through cpu.read16/32 and cpu.write16/32 (segment limits, paging). A store first checks
 * that its whole destination is writable, so the FPU changes only once the store can no longer fault.
 */
import type { Cpu } from './cpu.ts';
import {
  CLASS_SNAN,
  CLASS_UNSUPPORTED,
  INDEFINITE_HI,
  INDEFINITE_SE,
  RC_NEAREST,
  bcdToInteger,
  cvt,
  extToDouble,
  extToInteger,
  integerToBcd,
  integerToExt,
  roundToFloat32,
  roundToInteger,
} from './fpu-float80.ts';
import type { Fpu } from './fpu.ts';
import { SLOT_MEM, SW_C1, SW_DE, SW_IE, SW_OE, SW_PE, SW_UE } from './fpu-constants.ts';

/** Scratch for packed BCD operands. */
const bcd = new Uint8Array(10);
/** Bit casts through aliased typed arrays (little-endian, like the CPU's register file). */
const castF32 = new Float32Array(1);
const castU32 = new Uint32Array(castF32.buffer);
const castF64 = new Float64Array(1);
const castW64 = new Uint32Array(castF64.buffer);

export function checkWritable(c: Cpu, length: number): void {
  c.mmu.checkWritable(c.writeAddress(c.eaSeg, c.ea, length), length);
}

// ---------------------------------------------------------------------------------------------------------
// Loads into SLOT_MEM
// ---------------------------------------------------------------------------------------------------------

export function loadReal32(c: Cpu, f: Fpu): void {
  const b = c.read32(c.eaSeg, c.ea) >>> 0;
  const exp = (b >>> 23) & 0xff;
  const frac = b & 0x7fffff;
  f.memDenormal = exp === 0 && frac !== 0;
  if (exp === 0xff && frac !== 0) {
    // NaNs keep their payload (and SNaN-ness) in 80 bits.
    f.extSe[SLOT_MEM] = ((b >>> 16) & 0x8000) | 0x7fff;
    f.extHi[SLOT_MEM] = (0x80000000 | (frac << 8)) >>> 0;
    f.extLo[SLOT_MEM] = 0;
    f.extValid[SLOT_MEM] = 1;
    f.val[SLOT_MEM] = NaN;
  } else {
    castU32[0] = b;
    f.val[SLOT_MEM] = castF32[0];
    f.extValid[SLOT_MEM] = 0;
  }
}

export function loadReal64(c: Cpu, f: Fpu): void {
  const lo = c.read32(c.eaSeg, c.ea) >>> 0;
  const hi = c.read32(c.eaSeg, c.ea + 4) >>> 0;
  const exp = (hi >>> 20) & 0x7ff;
  const fhi = hi & 0xfffff;
  f.memDenormal = exp === 0 && (fhi !== 0 || lo !== 0);
  if (exp === 0x7ff && (fhi !== 0 || lo !== 0)) {
    f.extSe[SLOT_MEM] = ((hi >>> 16) & 0x8000) | 0x7fff;
    f.extHi[SLOT_MEM] = (0x80000000 | (fhi << 11) | (lo >>> 21)) >>> 0;
    f.extLo[SLOT_MEM] = (lo << 11) >>> 0;
    f.extValid[SLOT_MEM] = 1;
    f.val[SLOT_MEM] = NaN;
  } else {
    castW64[0] = lo;
    castW64[1] = hi;
    f.val[SLOT_MEM] = castF64[0];
    f.extValid[SLOT_MEM] = 0;
  }
}

export function loadInt16(c: Cpu, f: Fpu): void {
  f.memDenormal = false;
  f.val[SLOT_MEM] = (c.read16(c.eaSeg, c.ea) << 16) >> 16;
  f.extValid[SLOT_MEM] = 0;
}

export function loadInt32(c: Cpu, f: Fpu): void {
  f.memDenormal = false;
  f.val[SLOT_MEM] = c.read32(c.eaSeg, c.ea) | 0;
  f.extValid[SLOT_MEM] = 0;
}

/** A sign and 64-bit magnitude into SLOT_MEM, exactly (80-bit bits kept). Words may be passed as int32. */
function setMemInteger(f: Fpu, neg: boolean, hi: number, lo: number): void {
  f.memDenormal = false;
  integerToExt(neg, hi, lo);
  f.extSe[SLOT_MEM] = cvt.se;
  f.extHi[SLOT_MEM] = cvt.hi;
  f.extLo[SLOT_MEM] = cvt.lo;
  f.extValid[SLOT_MEM] = 1;
  const v = (hi >>> 0) * 4294967296 + (lo >>> 0); // one rounding: the float64 nearest
  f.val[SLOT_MEM] = neg ? -v : v;
}

export function loadInt64(c: Cpu, f: Fpu): void {
  // Words stay int32 (small integers for V8) until they are stored.
  let lo = c.read32(c.eaSeg, c.ea) | 0;
  let hi = c.read32(c.eaSeg, c.ea + 4) | 0;
  const neg = hi < 0;
  if (neg) {
    lo = (~lo + 1) | 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
  }
  setMemInteger(f, neg, hi, lo);
}

export function loadBcd(c: Cpu, f: Fpu): void {
  const w0 = c.read32(c.eaSeg, c.ea);
  const w1 = c.read32(c.eaSeg, c.ea + 4);
  const w2 = c.read16(c.eaSeg, c.ea + 8);
  for (let i = 0; i < 4; i++) {
    bcd[i] = w0 >>> (i * 8);
    bcd[i + 4] = w1 >>> (i * 8);
  }
  bcd[8] = w2;
  bcdToInteger(bcd);
  setMemInteger(f, (w2 & 0x8000) !== 0, cvt.hi, cvt.lo);
}

export function loadExt80(c: Cpu, f: Fpu): void {
  const lo = c.read32(c.eaSeg, c.ea) | 0;
  const hi = c.read32(c.eaSeg, c.ea + 4) | 0;
  const se = c.read16(c.eaSeg, c.ea + 8);
  f.memDenormal = false;
  f.setExt(SLOT_MEM, se, hi, lo);
}

/** FLD/FILD/FBLD: pushes SLOT_MEM. Float32/64 sources raise #IA for SNaNs (made quiet) and #D. */
export function pushMem(f: Fpu, checkOperand: boolean): void {
  const r = f.pushTarget();
  if (r < 0) return;
  if (checkOperand) {
    if (f.classOf(SLOT_MEM) === CLASS_SNAN) {
      if (!f.signal(SW_IE)) return;
      f.extHi[SLOT_MEM] |= 0x40000000;
    }
    if (f.memDenormal && !f.signal(SW_DE)) return;
  }
  f.sw &= ~SW_C1;
  f.copy(r, SLOT_MEM);
  f.commitPush(r);
}

// ---------------------------------------------------------------------------------------------------------
// Stores from ST(0)
// ---------------------------------------------------------------------------------------------------------

/** FST/FSTP m32real and m64real (`size` 4 or 8). */
export function storeReal(c: Cpu, f: Fpu, size: number, pop: boolean): void {
  checkWritable(c, size);
  const s = f.st(0);
  let hi = 0;
  let lo = 0;
  let flags = 0;
  if (f.empty[s]) {
    if (!f.stackUnderflow(-1)) return;
    if (size === 4) lo = 0xffc00000;
    else hi = 0xfff80000;
  } else if (f.val[s] !== f.val[s]) {
    const cls = f.classOf(s);
    if (cls === CLASS_UNSUPPORTED || cls === CLASS_SNAN) {
      if (!f.signal(SW_IE)) return;
    }
    if (cls === CLASS_UNSUPPORTED) {
      if (size === 4) lo = 0xffc00000;
      else hi = 0xfff80000;
    } else {
      // The NaN, made quiet, with the top of its payload.
      const sign = f.extSe[s] & 0x8000 ? 0x80000000 : 0;
      const eh = f.extHi[s];
      if (size === 4) {
        lo = (sign | 0x7fc00000 | ((eh >>> 8) & 0x3fffff)) >>> 0;
      } else {
        hi = (sign | 0x7ff80000 | ((eh >>> 11) & 0x7ffff)) >>> 0;
        lo = ((eh << 21) | (f.extLo[s] >>> 11)) >>> 0;
      }
    }
  } else {
    // No #D here: the hardware does not report it for stores of 80-bit denormals.
    const rc = f.rc;
    let v = f.val[s];
    let dm = 0;
    let overflow = false;
    let tiny = false;
    if (f.extValid[s]) {
      v = extToDouble(f.extSe[s], f.extHi[s], f.extLo[s], size === 8 ? rc : RC_NEAREST);
      dm = cvt.dir;
      overflow = cvt.overflow;
      tiny = cvt.tiny;
      if (size === 4 && overflow) {
        v = v < 0 ? -(2 ** 1000) : 2 ** 1000;
        dm = 0;
      }
    }
    if (size === 8) {
      castF64[0] = v;
      lo = castW64[0];
      hi = castW64[1];
    } else if (rc === RC_NEAREST && dm === 0) {
      // Storing into a Float32Array rounds to nearest even.
      castF32[0] = v;
      const r = castF32[0];
      lo = castU32[0];
      dm = r === v ? 0 : r < v ? 1 : -1;
      overflow = r - r !== 0 && v - v === 0;
      tiny = v !== 0 && Math.abs(v) < 2 ** -126;
      v = r;
    } else {
      v = roundToFloat32(v, dm, rc);
      dm = cvt.dir;
      overflow = cvt.overflow;
      tiny = cvt.tiny;
      castF32[0] = v;
      lo = castU32[0];
    }
    if (overflow) {
      if (!(f.cw & SW_OE)) {
        f.signal(SW_OE);
        return;
      }
      flags = SW_OE | SW_PE;
    } else if (tiny) {
      if (!(f.cw & SW_UE)) {
        f.signal(SW_UE);
        return;
      }
      if (dm !== 0) flags = SW_UE | SW_PE;
    } else if (dm !== 0) {
      flags = SW_PE;
    }
    const up = dm !== 0 && v !== 0 && v > 0 === dm < 0;
    f.sw = up ? f.sw | SW_C1 : f.sw & ~SW_C1;
  }
  if (size === 4) {
    c.write32(c.eaSeg, c.ea, lo);
  } else {
    c.write32(c.eaSeg, c.ea, lo);
    c.write32(c.eaSeg, c.ea + 4, hi);
  }
  if (flags) f.signal(flags);
  if (pop) f.pop();
}

/** FIST/FISTP m16int, m32int, m64int (`size` 2, 4, 8): rounded by RC; out of range = integer indefinite. */
export function storeInt(c: Cpu, f: Fpu, size: number, pop: boolean): void {
  checkWritable(c, size);
  const s = f.st(0);
  let lo = 0;
  let hi = 0;
  let valid = false;
  let dir = 0;
  let up = false;
  if (f.empty[s]) {
    if (!f.stackUnderflow(-1)) return;
  } else if (size <= 4 && !f.extValid[s]) {
    const x = f.val[s];
    const r = roundToInteger(x, f.rc);
    const limit = size === 2 ? 32768 : 2147483648;
    if (r >= -limit && r < limit) {
      valid = true;
      lo = r | 0;
      dir = x > r ? 1 : x < r ? -1 : 0;
      up = Math.abs(r) > Math.abs(x);
    }
  } else {
    f.loadExt(s);
    extToInteger(f.extSe[s], f.extHi[s], f.extLo[s], f.rc);
    const neg = cvt.neg;
    const mh = cvt.hi;
    const ml = cvt.lo;
    if (!cvt.overflow) {
      if (size === 2) valid = mh === 0 && (ml < 0x8000 || (neg && ml === 0x8000));
      else if (size === 4) valid = mh === 0 && (ml < 0x80000000 || (neg && ml === 0x80000000));
      else valid = mh < 0x80000000 || (neg && mh === 0x80000000 && ml === 0);
    }
    if (valid) {
      dir = cvt.dir;
      up = dir !== 0 && dir < 0 !== neg;
      if (neg) {
        lo = (~ml + 1) >>> 0;
        hi = (~mh + (lo === 0 ? 1 : 0)) >>> 0;
      } else {
        lo = ml;
        hi = mh;
      }
    }
  }
  if (!valid && !f.empty[s]) {
    if (!f.signal(SW_IE)) return;
  }
  if (!valid) {
    // The integer indefinite.
    lo = size === 2 ? 0x8000 : size === 4 ? 0x80000000 : 0;
    hi = 0x80000000;
    dir = 0;
    up = false;
  }
  if (size === 2) c.write16(c.eaSeg, c.ea, lo & 0xffff);
  else c.write32(c.eaSeg, c.ea, lo);
  if (size === 8) c.write32(c.eaSeg, c.ea + 4, hi);
  f.sw = up ? f.sw | SW_C1 : f.sw & ~SW_C1;
  if (dir !== 0) f.signal(SW_PE);
  if (pop) f.pop();
}

/** FSTP m80real: the 80-bit bits, no exceptions but stack underflow. */
export function storeExt80(c: Cpu, f: Fpu): void {
  checkWritable(c, 10);
  const s = f.st(0);
  let se: number;
  let hi: number;
  let lo: number;
  if (f.empty[s]) {
    if (!f.stackUnderflow(-1)) return;
    se = INDEFINITE_SE;
    hi = INDEFINITE_HI;
    lo = 0;
  } else {
    f.loadExt(s);
    se = f.extSe[s];
    hi = f.extHi[s] | 0;
    lo = f.extLo[s] | 0;
    f.sw &= ~SW_C1;
  }
  c.write32(c.eaSeg, c.ea, lo);
  c.write32(c.eaSeg, c.ea + 4, hi);
  c.write16(c.eaSeg, c.ea + 8, se);
  f.pop();
}

/** FBSTP m80bcd: rounded by RC to 18 decimal digits; out of range = the BCD indefinite. */
export function storeBcd(c: Cpu, f: Fpu): void {
  checkWritable(c, 10);
  const s = f.st(0);
  let valid = false;
  let sign = 0;
  let dir = 0;
  if (f.empty[s]) {
    if (!f.stackUnderflow(-1)) return;
  } else {
    f.loadExt(s);
    extToInteger(f.extSe[s], f.extHi[s], f.extLo[s], f.rc);
    valid = !cvt.overflow && integerToBcd(cvt.hi, cvt.lo, bcd);
    sign = cvt.neg ? 0x80 : 0;
    dir = cvt.dir;
    if (!valid && !f.signal(SW_IE)) return;
  }
  if (!valid) {
    // The packed BCD indefinite: FFFF C000 0000 0000 0000.
    bcd.fill(0, 0, 7);
    bcd[7] = 0xc0;
    bcd[8] = 0xff;
    sign = 0xff;
    dir = 0;
  }
  bcd[9] = sign;
  c.write32(c.eaSeg, c.ea, bcd[0] | (bcd[1] << 8) | (bcd[2] << 16) | (bcd[3] << 24));
  c.write32(c.eaSeg, c.ea + 4, bcd[4] | (bcd[5] << 8) | (bcd[6] << 16) | (bcd[7] << 24));
  c.write16(c.eaSeg, c.ea + 8, bcd[8] | (bcd[9] << 8));
  f.sw = dir !== 0 && dir < 0 !== (sign !== 0) ? f.sw | SW_C1 : f.sw & ~SW_C1;
  if (dir !== 0) f.signal(SW_PE);
  f.pop();
}
