/**
 * Shifts and rotates: ROL ROR RCL RCR SHL/SAL SHR SAR (groups C0, C1, D0-D3) and SHLD/SHRD (0F A4/A5/AC/AD).
 * Intel SDM Vol. 2B "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR", "SHLD", "SHRD".
 *
 * The count is masked to 5 bits. A masked count of 0 changes nothing, flags included. Otherwise the result
 * is what shifting one bit at a time would give, and CF is the last bit shifted out. OF is defined by Intel
 * only for 1-bit shifts; for longer ones we give what the last single-bit step gives (as 286/386 silicon
 * iterating the shift does), and SF/ZF/PF come from the result. AF is left clear.
 */
import type { Cpu } from '../cpu.ts';
import { FLAG_CF, FLAG_OF, getCF, SIGN_SHIFT, SIZE_MASK, setFlag, setResultFlags } from '../flags.ts';

const BITS = [8, 16, 32] as const;

/**
 * Shift/rotate `op` (the ModRM reg field) of `dst` (size code `size`) by `count` (already masked, non-zero).
 * Returns the result and records flags. For memory operands the caller writes before calling `commitFlags`:
 * here we compute into scratch fields of the CPU to keep flags untouched until the write succeeded.
 */
export function shiftCompute(c: Cpu, op: number, size: number, dst: number, count: number): number {
  const bits = BITS[size];
  const mask = SIZE_MASK[size];
  const top = SIGN_SHIFT[size];
  dst &= mask;
  let res: number;
  let cf: number;
  let of: number;
  switch (op) {
    case 0: {
      // ROL
      const n = count % bits;
      res = n === 0 ? dst : ((dst << n) | (dst >>> (bits - n))) & mask;
      cf = res & 1;
      of = ((res >>> top) & 1) ^ cf;
      break;
    }
    case 1: {
      // ROR
      const n = count % bits;
      res = n === 0 ? dst : ((dst >>> n) | (dst << (bits - n))) & mask;
      cf = (res >>> top) & 1;
      of = cf ^ ((res >>> (top - 1)) & 1);
      break;
    }
    case 2: {
      // RCL: rotate through CF, a (bits + 1)-bit rotation
      const n = count % (bits + 1);
      cf = getCF(c);
      res = dst;
      for (let i = 0; i < n; i++) {
        const out = (res >>> top) & 1;
        res = ((res << 1) | cf) & mask;
        cf = out;
      }
      of = ((res >>> top) & 1) ^ cf;
      break;
    }
    case 3: {
      // RCR
      const n = count % (bits + 1);
      cf = getCF(c);
      res = dst;
      for (let i = 0; i < n; i++) {
        const out = res & 1;
        res = ((res >>> 1) | (cf << top)) & mask;
        cf = out;
      }
      of = ((res >>> top) & 1) ^ ((res >>> (top - 1)) & 1);
      break;
    }
    case 4:
    case 6: {
      // SHL / SAL (/6 is an undocumented alias of /4)
      res = count < 32 ? (dst << count) & mask : 0;
      cf = count <= bits ? (dst >>> (bits - count)) & 1 : 0;
      of = ((res >>> top) & 1) ^ cf;
      break;
    }
    case 5: {
      // SHR
      res = count < 32 ? dst >>> count : 0;
      cf = count <= bits ? (dst >>> (count - 1)) & 1 : 0;
      const beforeLast = count - 1 < 32 ? dst >>> (count - 1) : 0;
      of = (beforeLast >>> top) & 1;
      break;
    }
    default: {
      // SAR
      const signed = (dst << (31 - top)) >> (31 - top);
      res = (count >= bits ? signed >> (bits - 1) : signed >> count) & mask;
      cf = (count >= bits ? signed >> (bits - 1) : signed >> (count - 1)) & 1;
      of = 0;
      break;
    }
  }
  c.shiftCf = cf;
  c.shiftOf = of;
  return res;
}

/** Records the flags computed by the last shiftCompute for result `res`. */
export function shiftFlags(c: Cpu, op: number, size: number, res: number): void {
  if (op < 4) {
    // Rotates change only CF and OF.
    setFlag(c, FLAG_CF, c.shiftCf);
    setFlag(c, FLAG_OF, c.shiftOf);
  } else {
    setResultFlags(c, size, res, c.shiftCf, c.shiftOf, 0);
  }
}

function shiftRm8(c: Cpu, count: number): void {
  count &= 0x1f;
  const op = (c.modrm >> 3) & 7;
  const dst = c.readRm8();
  if (count === 0) return;
  const res = shiftCompute(c, op, 0, dst, count);
  c.writeRm8(res);
  shiftFlags(c, op, 0, res);
}

function shiftRmV(c: Cpu, count: number): void {
  count &= 0x1f;
  const op = (c.modrm >> 3) & 7;
  if (c.opsize32) {
    const dst = c.readRm32();
    if (count === 0) return;
    const res = shiftCompute(c, op, 2, dst, count);
    c.writeRm32(res);
    shiftFlags(c, op, 2, res);
  } else {
    const dst = c.readRm16();
    if (count === 0) return;
    const res = shiftCompute(c, op, 1, dst, count);
    c.writeRm16(res);
    shiftFlags(c, op, 1, res);
  }
}

/** C0: shift r/m8 by imm8. */
export function shiftEbIb(c: Cpu): void {
  c.decodeModrm();
  shiftRm8(c, c.fetch8());
}
/** C1: shift r/m16/32 by imm8. */
export function shiftEvIb(c: Cpu): void {
  c.decodeModrm();
  shiftRmV(c, c.fetch8());
}
/** D0: shift r/m8 by 1. */
export function shiftEb1(c: Cpu): void {
  c.decodeModrm();
  shiftRm8(c, 1);
}
/** D1: shift r/m16/32 by 1. */
export function shiftEv1(c: Cpu): void {
  c.decodeModrm();
  shiftRmV(c, 1);
}
/** D2: shift r/m8 by CL. */
export function shiftEbCl(c: Cpu): void {
  c.decodeModrm();
  shiftRm8(c, c.reg8[4]);
}
/** D3: shift r/m16/32 by CL. */
export function shiftEvCl(c: Cpu): void {
  c.decodeModrm();
  shiftRmV(c, c.reg8[4]);
}

// ---- SHLD / SHRD ----

/**
 * Double-precision shift of r/m by `count` with bits from the reg operand. For 16-bit operands a count
 * above 16 is undefined by Intel; we shift the 48-bit concatenation dst:src:dst, as QEMU does.
 */
function doubleShift(c: Cpu, count: number, right: boolean): void {
  count &= 0x1f;
  const reg = (c.modrm >> 3) & 7;
  if (c.opsize32) {
    const dst = c.readRm32();
    if (count === 0) return;
    const src = c.reg32[reg];
    let res: number;
    let cf: number;
    if (right) {
      res = (dst >>> count) | (src << (32 - count));
      cf = (dst >>> (count - 1)) & 1;
    } else {
      res = (dst << count) | (src >>> (32 - count));
      cf = (dst >>> (32 - count)) & 1;
    }
    c.writeRm32(res);
    setResultFlags(c, 2, res, cf, ((res ^ dst) >>> 31) & 1, 0);
  } else {
    const dst = c.readRm16();
    if (count === 0) return;
    const src = c.reg16[reg << 1];
    // A 48-bit view (exact in a float64): SHLD shifts dst:src:dst left, SHRD shifts dst:src:dst right.
    let res: number;
    let cf: number;
    if (right) {
      const wide = dst * 2 ** 32 + src * 2 ** 16 + dst;
      res = Math.floor(wide / 2 ** count) % 0x10000;
      cf = Math.floor(wide / 2 ** (count - 1)) % 2;
    } else {
      const wide = dst * 2 ** 32 + src * 2 ** 16 + dst;
      res = Math.floor(wide / 2 ** (32 - count)) % 0x10000;
      cf = Math.floor(wide / 2 ** (48 - count)) % 2;
    }
    c.writeRm16(res);
    setResultFlags(c, 1, res, cf, ((res ^ dst) >>> 15) & 1, 0);
  }
}

export function shldImm(c: Cpu): void {
  c.decodeModrm();
  doubleShift(c, c.fetch8(), false);
}
export function shldCl(c: Cpu): void {
  c.decodeModrm();
  doubleShift(c, c.reg8[4], false);
}
export function shrdImm(c: Cpu): void {
  c.decodeModrm();
  doubleShift(c, c.fetch8(), true);
}
export function shrdCl(c: Cpu): void {
  c.decodeModrm();
  doubleShift(c, c.reg8[4], true);
}
