/**
 * Integer arithmetic: ADD OR ADC SBB AND SUB XOR CMP in all their forms, TEST, INC, DEC, NEG, NOT, MUL, IMUL,
 * DIV, IDIV, CBW/CWDE, CWD/CDQ, XADD, CMPXCHG, CMPXCHG8B (Intel SDM Vol. 2A/2B, each instruction's page).
 *
 * Memory destinations are written before flags are recorded, so an instruction whose write faults leaves
 * EFLAGS as it was and restarts correctly (ADC/SBB re-read CF).
 */
import type { Cpu } from '../cpu.ts';
import {
  ALU_ADC,
  ALU_ADD,
  ALU_AND,
  ALU_CMP,
  ALU_OR,
  ALU_SBB,
  ALU_SUB,
  ALU_XOR,
  EAX,
  EDX,
  EXC_DE,
  EXC_UD,
} from '../constants.ts';
import {
  ARITH_FLAGS,
  FLAG_CF,
  FLAG_ZF,
  getCF,
  OP_ADC,
  OP_ADD,
  OP_LOGIC,
  OP_SBB,
  OP_SUB,
  setFlag,
  setLazy,
  setResultFlags,
} from '../flags.ts';

// ALU operation numbers live in constants.ts (an import-free module, so the bundler inlines them).
export { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP } from '../constants.ts';

/** The result of ALU operation `op` (unmasked, int32). `cf` is the carry-in for ADC/SBB. */
function aluResult(op: number, dst: number, src: number, cf: number): number {
  switch (op) {
    case ALU_ADD:
      return (dst + src) | 0;
    case ALU_OR:
      return dst | src;
    case ALU_ADC:
      return (dst + src + cf) | 0;
    case ALU_SBB:
      return (dst - src - cf) | 0;
    case ALU_AND:
      return dst & src;
    case ALU_XOR:
      return dst ^ src;
    default: // SUB, CMP
      return (dst - src) | 0;
  }
}

/** Records the flags of ALU operation `op` lazily. */
function aluFlags(c: Cpu, op: number, size: number, dst: number, src: number, res: number, cf: number): void {
  switch (op) {
    case ALU_ADD:
      setLazy(c, OP_ADD, size, dst, src, res);
      break;
    case ALU_ADC:
      setLazy(c, cf ? OP_ADC : OP_ADD, size, dst, src, res);
      break;
    case ALU_SBB:
      setLazy(c, cf ? OP_SBB : OP_SUB, size, dst, src, res);
      break;
    case ALU_SUB:
    case ALU_CMP:
      setLazy(c, OP_SUB, size, dst, src, res);
      break;
    default:
      setLazy(c, OP_LOGIC, size, 0, 0, res);
      break;
  }
}

/** Performs `op` on dst/src, records flags and returns the result (for register destinations). */
export function alu(c: Cpu, op: number, size: number, dst: number, src: number): number {
  const cf = op === ALU_ADC || op === ALU_SBB ? getCF(c) : 0;
  const res = aluResult(op, dst, src, cf);
  aluFlags(c, op, size, dst, src, res, cf);
  return res;
}

// ---- r/m destination (memory written before flags) ----

/** `op` on the r/m8 operand of the decoded ModRM and `src` (also the decoded-instruction cache's forms). */
export function aluRm8(c: Cpu, op: number, src: number): void {
  const dst = c.readRm8();
  const cf = op === ALU_ADC || op === ALU_SBB ? getCF(c) : 0;
  const res = aluResult(op, dst, src, cf);
  if (op !== ALU_CMP) c.writeRm8(res);
  aluFlags(c, op, 0, dst, src, res, cf);
}

/** `op` on the r/m16/32 operand of the decoded ModRM and `src` (also the decoded-instruction cache's forms). */
export function aluRmV(c: Cpu, op: number, src: number): void {
  if (c.opsize32) {
    const dst = c.readRm32();
    const cf = op === ALU_ADC || op === ALU_SBB ? getCF(c) : 0;
    const res = aluResult(op, dst, src, cf);
    if (op !== ALU_CMP) c.writeRm32(res);
    aluFlags(c, op, 2, dst, src, res, cf);
  } else {
    const dst = c.readRm16();
    src &= 0xffff;
    const cf = op === ALU_ADC || op === ALU_SBB ? getCF(c) : 0;
    const res = aluResult(op, dst, src, cf);
    if (op !== ALU_CMP) c.writeRm16(res);
    aluFlags(c, op, 1, dst, src, res, cf);
  }
}

/** The six classic forms of an ALU opcode (00-3D): handler factory for opcode `opcode`. */
export function aluForm(opcode: number): (c: Cpu) => void {
  const op = (opcode >> 3) & 7;
  switch (opcode & 7) {
    case 0: // op r/m8, r8
      return (c) => {
        c.decodeModrm();
        aluRm8(c, op, c.getReg8());
      };
    case 1: // op r/m16/32, r16/32
      return (c) => {
        const modrm = c.fetch8();
        const r = (modrm >> 3) & 7;
        if (modrm >= 0xc0 && c.opsize32) {
          // Register to register, the commonest form: no r/m operand dispatch.
          c.modrm = modrm;
          const rm = modrm & 7;
          const res = alu(c, op, 2, c.reg32[rm], c.reg32[r]);
          if (op !== ALU_CMP) c.reg32[rm] = res;
          return;
        }
        c.decodeModrmByte(modrm);
        aluRmV(c, op, c.opsize32 ? c.reg32[r] : c.reg16[r << 1]);
      };
    case 2: // op r8, r/m8
      return (c) => {
        c.decodeModrm();
        const res = alu(c, op, 0, c.getReg8(), c.readRm8());
        if (op !== ALU_CMP) c.setReg8(res);
      };
    case 3: // op r16/32, r/m16/32
      return (c) => {
        c.decodeModrm();
        const r = (c.modrm >> 3) & 7;
        if (c.opsize32) {
          const res = alu(c, op, 2, c.reg32[r], c.readRm32());
          if (op !== ALU_CMP) c.reg32[r] = res;
        } else {
          const res = alu(c, op, 1, c.reg16[r << 1], c.readRm16());
          if (op !== ALU_CMP) c.reg16[r << 1] = res;
        }
      };
    case 4: // op AL, imm8
      return (c) => {
        const res = alu(c, op, 0, c.reg8[0], c.fetch8());
        if (op !== ALU_CMP) c.reg8[0] = res;
      };
    default: // op eAX, imm16/32
      return (c) => {
        if (c.opsize32) {
          const res = alu(c, op, 2, c.reg32[EAX], c.fetch32());
          if (op !== ALU_CMP) c.reg32[EAX] = res;
        } else {
          const res = alu(c, op, 1, c.reg16[0], c.fetch16());
          if (op !== ALU_CMP) c.reg16[0] = res;
        }
      };
  }
}

/** 80 /r ib and its alias 82: op r/m8, imm8. */
export function group1Eb(c: Cpu): void {
  c.decodeModrm();
  aluRm8(c, (c.modrm >> 3) & 7, c.fetch8());
}
/** 81 /r iw/id: op r/m16/32, imm16/32. */
export function group1Ev(c: Cpu): void {
  c.decodeModrm();
  aluRmV(c, (c.modrm >> 3) & 7, c.fetchImm());
}
/** 83 /r ib: op r/m16/32, sign-extended imm8. */
export function group1EvIb(c: Cpu): void {
  c.decodeModrm();
  aluRmV(c, (c.modrm >> 3) & 7, (c.fetch8() << 24) >> 24);
}

// ---- TEST ----
export function testEbGb(c: Cpu): void {
  c.decodeModrm();
  setLazy(c, OP_LOGIC, 0, 0, 0, c.readRm8() & c.getReg8());
}
export function testEvGv(c: Cpu): void {
  c.decodeModrm();
  const r = (c.modrm >> 3) & 7;
  if (c.opsize32) setLazy(c, OP_LOGIC, 2, 0, 0, c.readRm32() & c.reg32[r]);
  else setLazy(c, OP_LOGIC, 1, 0, 0, c.readRm16() & c.reg16[r << 1]);
}
export function testAlIb(c: Cpu): void {
  setLazy(c, OP_LOGIC, 0, 0, 0, c.reg8[0] & c.fetch8());
}
export function testEaxIv(c: Cpu): void {
  if (c.opsize32) setLazy(c, OP_LOGIC, 2, 0, 0, c.reg32[EAX] & c.fetch32());
  else setLazy(c, OP_LOGIC, 1, 0, 0, c.reg16[0] & c.fetch16());
}

// ---- INC / DEC (CF unaffected) ----

/** Records INC/DEC flags: CF is taken out of the lazy set first so it keeps its old value. */
export function incDecFlags(c: Cpu, size: number, dst: number, res: number, dec: boolean): void {
  if (c.lazyFlags & FLAG_CF) setFlag(c, FLAG_CF, getCF(c));
  setLazy(c, dec ? OP_SUB : OP_ADD, size, dst, 1, res);
  c.lazyFlags = ARITH_FLAGS & ~FLAG_CF;
}

export function incReg(reg: number): (c: Cpu) => void {
  return (c) => {
    if (c.opsize32) {
      const dst = c.reg32[reg];
      const res = (dst + 1) | 0;
      c.reg32[reg] = res;
      incDecFlags(c, 2, dst, res, false);
    } else {
      const dst = c.reg16[reg << 1];
      const res = dst + 1;
      c.reg16[reg << 1] = res;
      incDecFlags(c, 1, dst, res, false);
    }
  };
}
export function decReg(reg: number): (c: Cpu) => void {
  return (c) => {
    if (c.opsize32) {
      const dst = c.reg32[reg];
      const res = (dst - 1) | 0;
      c.reg32[reg] = res;
      incDecFlags(c, 2, dst, res, true);
    } else {
      const dst = c.reg16[reg << 1];
      const res = dst - 1;
      c.reg16[reg << 1] = res;
      incDecFlags(c, 1, dst, res, true);
    }
  };
}

/** INC/DEC r/m8 (FE /0, /1) — the caller has decoded ModRM. */
export function incDecRm8(c: Cpu, dec: boolean): void {
  const dst = c.readRm8();
  const res = dec ? dst - 1 : dst + 1;
  c.writeRm8(res);
  incDecFlags(c, 0, dst, res, dec);
}
/** INC/DEC r/m16/32 (FF /0, /1). */
export function incDecRmV(c: Cpu, dec: boolean): void {
  if (c.opsize32) {
    const dst = c.readRm32();
    const res = (dec ? dst - 1 : dst + 1) | 0;
    c.writeRm32(res);
    incDecFlags(c, 2, dst, res, dec);
  } else {
    const dst = c.readRm16();
    const res = dec ? dst - 1 : dst + 1;
    c.writeRm16(res);
    incDecFlags(c, 1, dst, res, dec);
  }
}

// ---- Group 3: F6 / F7 ----

/** F6 /r: TEST Eb,Ib; (/1 alias); NOT; NEG; MUL; IMUL; DIV; IDIV on r/m8. */
export function group3Eb(c: Cpu): void {
  c.decodeModrm();
  switch ((c.modrm >> 3) & 7) {
    case 0:
    case 1: {
      const v = c.readRm8();
      setLazy(c, OP_LOGIC, 0, 0, 0, v & c.fetch8());
      break;
    }
    case 2:
      c.writeRm8(~c.readRm8());
      break;
    case 3: {
      const v = c.readRm8();
      const res = -v | 0;
      c.writeRm8(res);
      setLazy(c, OP_SUB, 0, 0, v, res);
      break;
    }
    case 4: {
      const res = c.reg8[0] * c.readRm8();
      c.reg16[0] = res;
      const hi = res >> 8 !== 0;
      setResultFlags(c, 0, res, +hi, +hi, 0);
      break;
    }
    case 5: {
      const res = ((c.reg8[0] << 24) >> 24) * ((c.readRm8() << 24) >> 24);
      c.reg16[0] = res;
      const overflow = res !== (res << 24) >> 24;
      setResultFlags(c, 0, res, +overflow, +overflow, 0);
      break;
    }
    case 6: {
      const divisor = c.readRm8();
      if (divisor === 0) c.raise(EXC_DE);
      const dividend = c.reg16[0];
      const quotient = (dividend / divisor) >>> 0;
      if (quotient > 0xff) c.raise(EXC_DE);
      c.reg8[0] = quotient;
      c.reg8[1] = dividend % divisor;
      break;
    }
    default: {
      const divisor = (c.readRm8() << 24) >> 24;
      if (divisor === 0) c.raise(EXC_DE);
      const dividend = (c.reg16[0] << 16) >> 16;
      const quotient = Math.trunc(dividend / divisor);
      if (quotient > 127 || quotient < -128) c.raise(EXC_DE);
      c.reg8[0] = quotient;
      c.reg8[1] = dividend % divisor;
      break;
    }
  }
}

/** F7 /r: TEST Ev,Iv; (/1 alias); NOT; NEG; MUL; IMUL; DIV; IDIV on r/m16/32. */
export function group3Ev(c: Cpu): void {
  c.decodeModrm();
  const reg = (c.modrm >> 3) & 7;
  if (c.opsize32) group3Ev32(c, reg);
  else group3Ev16(c, reg);
}

function group3Ev16(c: Cpu, reg: number): void {
  const r = c.reg16;
  switch (reg) {
    case 0:
    case 1: {
      const v = c.readRm16();
      setLazy(c, OP_LOGIC, 1, 0, 0, v & c.fetch16());
      break;
    }
    case 2:
      c.writeRm16(~c.readRm16());
      break;
    case 3: {
      const v = c.readRm16();
      const res = -v | 0;
      c.writeRm16(res);
      setLazy(c, OP_SUB, 1, 0, v, res);
      break;
    }
    case 4: {
      const res = r[0] * c.readRm16();
      r[0] = res;
      r[EDX << 1] = res >>> 16;
      const hi = res >>> 16 !== 0;
      setResultFlags(c, 1, res, +hi, +hi, 0);
      break;
    }
    case 5: {
      const res = ((r[0] << 16) >> 16) * ((c.readRm16() << 16) >> 16);
      r[0] = res;
      r[EDX << 1] = res >> 16;
      const overflow = res !== (res << 16) >> 16;
      setResultFlags(c, 1, res, +overflow, +overflow, 0);
      break;
    }
    case 6: {
      const divisor = c.readRm16();
      if (divisor === 0) c.raise(EXC_DE);
      const dividend = ((r[EDX << 1] << 16) | r[0]) >>> 0;
      const quotient = Math.floor(dividend / divisor);
      if (quotient > 0xffff) c.raise(EXC_DE);
      r[0] = quotient;
      r[EDX << 1] = dividend % divisor;
      break;
    }
    default: {
      const divisor = (c.readRm16() << 16) >> 16;
      if (divisor === 0) c.raise(EXC_DE);
      const dividend = (r[EDX << 1] << 16) | r[0];
      const quotient = Math.trunc(dividend / divisor);
      if (quotient > 32767 || quotient < -32768) c.raise(EXC_DE);
      r[0] = quotient;
      r[EDX << 1] = dividend % divisor;
      break;
    }
  }
}

/** F7 /reg with a 32-bit operand (readRm32/writeRm32 of the decoded ModRM); /0 and /1 fetch their imm32. */
export function group3Ev32(c: Cpu, reg: number): void {
  const r = c.reg32;
  switch (reg) {
    case 0:
    case 1: {
      const v = c.readRm32();
      setLazy(c, OP_LOGIC, 2, 0, 0, v & c.fetch32());
      break;
    }
    case 2:
      c.writeRm32(~c.readRm32());
      break;
    case 3: {
      const v = c.readRm32();
      const res = -v | 0;
      c.writeRm32(res);
      setLazy(c, OP_SUB, 2, 0, v, res);
      break;
    }
    case 4: {
      const hi = mulHigh32Of(c, r[EAX], c.readRm32(), false);
      r[EAX] = c.mulLow;
      r[EDX] = hi;
      setResultFlags(c, 2, c.mulLow, +(hi !== 0), +(hi !== 0), 0);
      break;
    }
    case 5: {
      const hi = mulHigh32Of(c, r[EAX], c.readRm32(), true);
      const lo = c.mulLow;
      r[EAX] = lo;
      r[EDX] = hi;
      const overflow = hi !== lo >> 31;
      setResultFlags(c, 2, lo, +overflow, +overflow, 0);
      break;
    }
    case 6: {
      const divisor = c.readRm32() >>> 0;
      if (divisor === 0) c.raise(EXC_DE);
      const high = r[EDX] >>> 0;
      const low = r[EAX] >>> 0;
      if (high >= divisor) c.raise(EXC_DE); // the quotient would not fit in 32 bits
      if (high === 0) {
        r[EAX] = Math.floor(low / divisor);
        r[EDX] = low % divisor;
        break;
      }
      const quotient = divide64(high, low, divisor);
      r[EAX] = quotient;
      r[EDX] = low - Math.imul(quotient, divisor); // the remainder: below the divisor, so its low 32 bits
      break;
    }
    default: {
      const divisor = c.readRm32();
      if (divisor === 0) c.raise(EXC_DE);
      const high = r[EDX];
      const low = r[EAX];
      if (high === low >> 31) {
        // The dividend fits in 32 bits: plain double arithmetic is exact. Only -2^31 / -1 overflows.
        if (low === -0x80000000 && divisor === -1) c.raise(EXC_DE);
        r[EAX] = Math.trunc(low / divisor);
        r[EDX] = low % divisor;
        break;
      }
      // |dividend| / |divisor| unsigned, then the signs: the quotient truncates toward zero, the remainder
      // takes the dividend's sign.
      const negative = high < 0;
      let magLow = low >>> 0;
      let magHigh = high >>> 0;
      if (negative) {
        magLow = (~low + 1) >>> 0;
        magHigh = (~high + (magLow === 0 ? 1 : 0)) >>> 0;
      }
      const magDivisor = Math.abs(divisor);
      if (magHigh >= magDivisor) c.raise(EXC_DE); // the quotient needs more than 32 bits
      const magQuotient = divide64(magHigh, magLow, magDivisor);
      const quotient = negative !== divisor < 0 ? -magQuotient : magQuotient;
      if (quotient > 0x7fffffff || quotient < -0x80000000) c.raise(EXC_DE);
      const magRemainder = (magLow - Math.imul(magQuotient, magDivisor)) | 0;
      r[EAX] = quotient;
      r[EDX] = negative ? -magRemainder : magRemainder;
      break;
    }
  }
}

/**
 * Unsigned (high:low) / divisor for high < divisor (so the quotient fits in 32 bits), in two steps of 16
 * bits: every partial dividend stays below divisor * 2^16 < 2^48, exact in a double, and each partial
 * quotient is below 2^16, where a double resolves far finer than the 1/divisor a floor() could be misled
 * by. Returns the quotient (0 to 2^32 - 1); the remainder is low - quotient * divisor (mod 2^32). No BigInt:
 * it allocated on every 64-bit DIV and made the bench guest's muldiv kernel the interpreter's top entry.
 */
export function divide64(high: number, low: number, divisor: number): number {
  let partial = high * 65536 + (low >>> 16);
  const q1 = Math.floor(partial / divisor);
  partial = (partial - q1 * divisor) * 65536 + (low & 0xffff);
  return q1 * 65536 + Math.floor(partial / divisor);
}

/**
 * The high 32 bits of a 32 x 32 -> 64-bit product (signed or unsigned); the low 32 bits are left in
 * `c.mulLow`. Computed from 16-bit halves in doubles, so no allocation and no BigInt.
 */
export function mulHigh32Of(c: Cpu, a: number, b: number, signed: boolean): number {
  c.mulLow = Math.imul(a, b);
  return mulHigh32(a, b, signed);
}
function mulHigh32(a: number, b: number, signed: boolean): number {
  const ua = a >>> 0;
  const ub = b >>> 0;
  const aLo = ua & 0xffff;
  const aHi = ua >>> 16;
  const bLo = ub & 0xffff;
  const bHi = ub >>> 16;
  const lolo = aLo * bLo;
  const mid = aHi * bLo + (lolo >>> 16) + aLo * bHi; // < 2^34: exact
  let hi = (aHi * bHi + Math.floor(mid / 0x10000)) | 0;
  // Signed product = unsigned product - (a < 0 ? b << 32 : 0) - (b < 0 ? a << 32 : 0).
  if (signed) {
    if (a < 0) hi = (hi - ub) | 0;
    if (b < 0) hi = (hi - ua) | 0;
  }
  return hi;
}

/** The 32-bit truncated signed product of IMUL r, r/m (and imm): returns it and records the flags. */
export function imulTruncated32(c: Cpu, a: number, b: number): number {
  a |= 0;
  b |= 0;
  const lo = Math.imul(a, b);
  // CF = OF = the product does not fit in 32 bits. The double product is exact up to 2^53 and at least 2^31
  // in magnitude beyond, so it equals the truncated one exactly when the product fits (no high half needed;
  // the block compiler's imulTruncated tests the same product's range).
  const overflow = a * b !== lo;
  setResultFlags(c, 2, lo, +overflow, +overflow, 0);
  return lo;
}

/** IMUL r, r/m, imm (69, 6B) and IMUL r, r/m (0F AF): truncated signed product. */
function imulTruncated(c: Cpu, a: number, b: number): void {
  const reg = (c.modrm >> 3) & 7;
  if (c.opsize32) {
    c.reg32[reg] = imulTruncated32(c, a, b);
  } else {
    const res = ((a << 16) >> 16) * ((b << 16) >> 16);
    c.reg16[reg << 1] = res;
    const overflow = res !== (res << 16) >> 16;
    setResultFlags(c, 1, res, +overflow, +overflow, 0);
  }
}
export function imulGvEvIv(c: Cpu): void {
  c.decodeModrm();
  const a = c.opsize32 ? c.readRm32() : c.readRm16();
  imulTruncated(c, a, c.fetchImm());
}
export function imulGvEvIb(c: Cpu): void {
  c.decodeModrm();
  const a = c.opsize32 ? c.readRm32() : c.readRm16();
  imulTruncated(c, a, (c.fetch8() << 24) >> 24);
}
export function imulGvEv(c: Cpu): void {
  c.decodeModrm();
  const reg = (c.modrm >> 3) & 7;
  const a = c.opsize32 ? c.readRm32() : c.readRm16();
  imulTruncated(c, c.opsize32 ? c.reg32[reg] : c.reg16[reg << 1], a);
}

// ---- Sign extension of the accumulator ----
export function cbw(c: Cpu): void {
  if (c.opsize32) c.reg32[EAX] = (c.reg32[EAX] << 16) >> 16;
  else c.reg16[0] = (c.reg8[0] << 24) >> 24;
}
export function cwd(c: Cpu): void {
  if (c.opsize32) c.reg32[EDX] = c.reg32[EAX] >> 31;
  else c.reg16[EDX << 1] = (c.reg16[0] << 16) >> 31;
}

// ---- XADD, CMPXCHG, CMPXCHG8B (486/Pentium, part of the i686 set) ----

export function xaddEbGb(c: Cpu): void {
  c.decodeModrm();
  const dst = c.readRm8();
  const src = c.getReg8();
  const res = (dst + src) | 0;
  c.writeRm8(res);
  c.setReg8(dst);
  setLazy(c, OP_ADD, 0, dst, src, res);
}
export function xaddEvGv(c: Cpu): void {
  c.decodeModrm();
  const reg = (c.modrm >> 3) & 7;
  if (c.opsize32) {
    const dst = c.readRm32();
    const src = c.reg32[reg];
    const res = (dst + src) | 0;
    c.writeRm32(res);
    c.reg32[reg] = dst;
    setLazy(c, OP_ADD, 2, dst, src, res);
  } else {
    const dst = c.readRm16();
    const src = c.reg16[reg << 1];
    const res = dst + src;
    c.writeRm16(res);
    c.reg16[reg << 1] = dst;
    setLazy(c, OP_ADD, 1, dst, src, res);
  }
}

export function cmpxchgEbGb(c: Cpu): void {
  c.decodeModrm();
  c.checkRmWritable(1);
  const dst = c.readRm8();
  const acc = c.reg8[0];
  if (acc === dst) c.writeRm8(c.getReg8());
  else {
    c.writeRm8(dst); // the processor always writes back (SDM: "a write cycle ... regardless")
    c.reg8[0] = dst;
  }
  setLazy(c, OP_SUB, 0, acc, dst, (acc - dst) | 0);
}
export function cmpxchgEvGv(c: Cpu): void {
  c.decodeModrm();
  const reg = (c.modrm >> 3) & 7;
  if (c.opsize32) {
    c.checkRmWritable(4);
    const dst = c.readRm32();
    const acc = c.reg32[EAX];
    if (acc === dst) c.writeRm32(c.reg32[reg]);
    else {
      c.writeRm32(dst);
      c.reg32[EAX] = dst;
    }
    setLazy(c, OP_SUB, 2, acc, dst, (acc - dst) | 0);
  } else {
    c.checkRmWritable(2);
    const dst = c.readRm16();
    const acc = c.reg16[0];
    if (acc === dst) c.writeRm16(c.reg16[reg << 1]);
    else {
      c.writeRm16(dst);
      c.reg16[0] = dst;
    }
    setLazy(c, OP_SUB, 1, acc, dst, acc - dst);
  }
}

/** 0F C7 /1: CMPXCHG8B m64. Other reg values and register operands are #UD. */
export function group9(c: Cpu): void {
  c.decodeModrm();
  if (c.modrm >= 0xc0 || ((c.modrm >> 3) & 7) !== 1) c.raise(EXC_UD);
  const seg = c.eaSeg;
  const ea = c.ea;
  const hiOffset = c.addrsize32 ? (ea + 4) | 0 : (ea + 4) & 0xffff;
  c.checkRmWritable(8);
  const lo = c.read32(seg, ea);
  const hi = c.read32(seg, hiOffset);
  const r = c.reg32;
  if (lo === r[EAX] && hi === r[EDX]) {
    c.write32(seg, ea, r[EBX_]);
    c.write32(seg, hiOffset, r[ECX_]);
    setFlag(c, FLAG_ZF, true);
  } else {
    c.write32(seg, ea, lo);
    c.write32(seg, hiOffset, hi);
    r[EAX] = lo;
    r[EDX] = hi;
    setFlag(c, FLAG_ZF, false);
  }
}
const EBX_ = 3;
const ECX_ = 1;
