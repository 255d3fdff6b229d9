/**
 * EFLAGS bits and lazy arithmetic flags (Intel SDM Vol. 1, 3.4.3 "EFLAGS Register").
 *
 * Arithmetic instructions do not compute CF/PF/AF/ZF/SF/OF when they run. They record the operation, its
 * operands, its result and its size; a flag is derived only when something reads it (a Jcc, PUSHF, ADC, an
 * interrupt). `lazyFlags` says which of the six arithmetic flags are still to be derived; the others come
 * from `flags`.
 */
import type { Cpu } from './cpu.ts';

export const FLAG_CF = 0x0001;
export const FLAG_1 = 0x0002; // always 1
export const FLAG_PF = 0x0004;
export const FLAG_AF = 0x0010;
export const FLAG_ZF = 0x0040;
export const FLAG_SF = 0x0080;
export const FLAG_TF = 0x0100;
export const FLAG_IF = 0x0200;
export const FLAG_DF = 0x0400;
export const FLAG_OF = 0x0800;
export const FLAG_IOPL = 0x3000;
export const FLAG_NT = 0x4000;
export const FLAG_RF = 0x10000;
export const FLAG_VM = 0x20000;
export const FLAG_AC = 0x40000;
export const FLAG_VIF = 0x80000;
export const FLAG_VIP = 0x100000;
export const FLAG_ID = 0x200000;

export const ARITH_FLAGS = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;
/** Bits a 386-class CPU lets software change at all (bits 1 is fixed at 1; 3, 5, 15 and 22+ at 0). */
export const FLAGS_WRITABLE =
  ARITH_FLAGS |
  FLAG_TF |
  FLAG_IF |
  FLAG_DF |
  FLAG_IOPL |
  FLAG_NT |
  FLAG_RF |
  FLAG_VM |
  FLAG_AC |
  FLAG_VIF |
  FLAG_VIP |
  FLAG_ID;

/** Operation kinds recorded for lazy evaluation. */
export const OP_ADD = 0; // also INC (CF kept by the caller)
export const OP_ADC = 1; // ADD with carry-in 1
export const OP_SUB = 2; // also CMP, NEG, DEC
export const OP_SBB = 3; // SUB with borrow-in 1
export const OP_LOGIC = 4; // CF = OF = AF = 0; SF, ZF, PF from the result

/** Size codes: 0 = byte, 1 = word, 2 = dword. */
export const SIZE_MASK = [0xff, 0xffff, -1] as const;
export const SIGN_SHIFT = [7, 15, 31] as const;

/** PARITY[b] = FLAG_PF when byte b has an even number of set bits. */
export const PARITY = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let bits = 0;
    for (let b = i; b; b >>= 1) bits += b & 1;
    t[i] = bits & 1 ? 0 : FLAG_PF;
  }
  return t;
})();

/**
 * CF of an ADD/ADC/SUB/SBB of `size` (0, 1, 2: byte, word, dword) from its operands and result, 0 for other
 * operations. Pure, so compiled blocks (jit/runtime.ts) use it on their local copies of the lazy fields.
 */
export function carryFrom(op: number, size: number, dst: number, src: number, res: number): number {
  if (size !== 2) {
    const mask = size === 0 ? 0xff : 0xffff;
    dst &= mask;
    res &= mask;
    src &= mask;
  } else {
    dst >>>= 0;
    res >>>= 0;
    src >>>= 0;
  }
  switch (op) {
    case OP_ADD:
      return res < dst ? 1 : 0;
    case OP_ADC:
      return res <= dst ? 1 : 0;
    case OP_SUB:
      return dst < src ? 1 : 0;
    case OP_SBB:
      return dst <= src ? 1 : 0;
    default:
      return 0;
  }
}

/** OF (0 or 1) of an ADD/ADC/SUB/SBB from its operands and result, 0 for other operations. */
export function overflowFrom(op: number, size: number, dst: number, src: number, res: number): number {
  const shift = SIGN_SHIFT[size];
  switch (op) {
    case OP_ADD:
    case OP_ADC:
      return (((dst ^ res) & (src ^ res)) >>> shift) & 1;
    case OP_SUB:
    case OP_SBB:
      return (((dst ^ src) & (dst ^ res)) >>> shift) & 1;
    default:
      return 0;
  }
}

function carryOf(c: Cpu): number {
  return carryFrom(c.lazyOp, c.lazySize, c.lazyDst, c.lazySrc, c.lazyRes);
}

function overflowOf(c: Cpu): number {
  return overflowFrom(c.lazyOp, c.lazySize, c.lazyDst, c.lazySrc, c.lazyRes);
}

/** Derives the pending arithmetic flags into `c.flags`. */
export function materializeFlags(c: Cpu): void {
  const pending = c.lazyFlags;
  if (pending === 0) return;
  const res = c.lazyRes & SIZE_MASK[c.lazySize];
  let f = 0;
  if (carryOf(c)) f |= FLAG_CF;
  f |= PARITY[res & 0xff];
  if (c.lazyOp !== OP_LOGIC) f |= (c.lazyDst ^ c.lazySrc ^ c.lazyRes) & FLAG_AF;
  if (res === 0) f |= FLAG_ZF;
  if ((res >>> SIGN_SHIFT[c.lazySize]) & 1) f |= FLAG_SF;
  if (overflowOf(c)) f |= FLAG_OF;
  c.flags = (c.flags & ~pending) | (f & pending);
  c.lazyFlags = 0;
}

export function getCF(c: Cpu): number {
  return c.lazyFlags & FLAG_CF ? carryOf(c) : c.flags & FLAG_CF;
}
export function getZF(c: Cpu): boolean {
  return c.lazyFlags & FLAG_ZF ? (c.lazyRes & SIZE_MASK[c.lazySize]) === 0 : (c.flags & FLAG_ZF) !== 0;
}
export function getSF(c: Cpu): boolean {
  return c.lazyFlags & FLAG_SF
    ? ((c.lazyRes >>> SIGN_SHIFT[c.lazySize]) & 1) !== 0
    : (c.flags & FLAG_SF) !== 0;
}
export function getOF(c: Cpu): boolean {
  return c.lazyFlags & FLAG_OF ? overflowOf(c) !== 0 : (c.flags & FLAG_OF) !== 0;
}
export function getPF(c: Cpu): boolean {
  return c.lazyFlags & FLAG_PF ? PARITY[c.lazyRes & 0xff] !== 0 : (c.flags & FLAG_PF) !== 0;
}
export function getAF(c: Cpu): boolean {
  if (c.lazyFlags & FLAG_AF) {
    return c.lazyOp !== OP_LOGIC && ((c.lazyDst ^ c.lazySrc ^ c.lazyRes) & FLAG_AF) !== 0;
  }
  return (c.flags & FLAG_AF) !== 0;
}

/** Records an arithmetic result whose six flags are all derived lazily. Returns `res` for chaining. */
export function setLazy(c: Cpu, op: number, size: number, dst: number, src: number, res: number): number {
  c.lazyOp = op;
  c.lazySize = size;
  c.lazyDst = dst;
  c.lazySrc = src;
  c.lazyRes = res;
  c.lazyFlags = ARITH_FLAGS;
  return res;
}

/** Records a result for SF/ZF/PF only; CF, OF and AF are given explicitly (shifts, multiplies, BCD). */
export function setResultFlags(c: Cpu, size: number, res: number, cf: number, of: number, af: number): void {
  c.lazyOp = OP_LOGIC;
  c.lazySize = size;
  c.lazyDst = 0;
  c.lazySrc = 0;
  c.lazyRes = res;
  c.lazyFlags = FLAG_PF | FLAG_ZF | FLAG_SF;
  c.flags =
    (c.flags & ~(FLAG_CF | FLAG_OF | FLAG_AF)) | (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0) | (af ? FLAG_AF : 0);
}

/** Sets or clears one flag bit, taking it out of lazy evaluation. */
export function setFlag(c: Cpu, flag: number, on: boolean | number): void {
  c.lazyFlags &= ~flag;
  if (on) c.flags |= flag;
  else c.flags &= ~flag;
}

/** Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc), Intel SDM Vol. 1, B.1. */
export function testCondition(c: Cpu, cc: number): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0:
      r = getOF(c);
      break;
    case 1:
      r = getCF(c) !== 0;
      break;
    case 2:
      r = getZF(c);
      break;
    case 3:
      r = getCF(c) !== 0 || getZF(c);
      break;
    case 4:
      r = getSF(c);
      break;
    case 5:
      r = getPF(c);
      break;
    case 6:
      r = getSF(c) !== getOF(c);
      break;
    default:
      r = getZF(c) || getSF(c) !== getOF(c);
      break;
  }
  return cc & 1 ? !r : r;
}

/**
 * testCondition as 0 or 1, for the loops of the interpreter: when all six flags are pending from an ADD, SUB
 * (CMP, NEG) or logical operation, which is the state nearly every Jcc meets, the condition comes from the
 * recorded operands at once instead of flag by flag. Bytes and words are shifted to the top of 32 bits, where
 * the same unsigned and sign tests hold. Anything else (INC/DEC's kept CF, shifts, ADC, SBB, flags already
 * derived) takes testCondition.
 */
export function conditionBit(c: Cpu, cc: number): number {
  if (c.lazyFlags === ARITH_FLAGS) {
    const op = c.lazyOp;
    const size = c.lazySize;
    const shift = size === 2 ? 0 : size === 1 ? 16 : 24;
    const dst = c.lazyDst << shift;
    const src = c.lazySrc << shift;
    const res = c.lazyRes << shift;
    let cf: number;
    let of: number;
    if (op === OP_SUB) {
      cf = dst >>> 0 < src >>> 0 ? 1 : 0;
      of = ((dst ^ src) & (dst ^ res)) >>> 31;
    } else if (op === OP_LOGIC) {
      cf = 0;
      of = 0;
    } else if (op === OP_ADD) {
      cf = res >>> 0 < dst >>> 0 ? 1 : 0;
      of = ((dst ^ res) & (src ^ res)) >>> 31;
    } else return testCondition(c, cc) ? 1 : 0;
    const zf = res === 0 ? 1 : 0;
    let t: number;
    switch (cc >> 1) {
      case 0:
        t = of;
        break;
      case 1:
        t = cf;
        break;
      case 2:
        t = zf;
        break;
      case 3:
        t = cf | zf;
        break;
      case 4:
        t = res >>> 31;
        break;
      case 5:
        t = PARITY[c.lazyRes & 0xff] >> 2;
        break;
      case 6:
        t = (res >>> 31) ^ of;
        break;
      default:
        t = zf | ((res >>> 31) ^ of);
        break;
    }
    return t ^ (cc & 1);
  }
  return testCondition(c, cc) ? 1 : 0;
}
