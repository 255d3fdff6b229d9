/**
 * Data movement: MOV in all forms (incl. segment registers), XCHG, LEA, MOVZX/MOVSX, CMOVcc, LDS/LES/LSS/LFS/
 * LGS, XLAT, BSWAP, LAHF/SAHF. Intel SDM Vol. 2, each instruction's page.
 */
import type { Cpu } from '../cpu.ts';
import { CS, DS, EAX, EBX, EXC_UD, SS } from '../constants.ts';
import { reg8Index } from '../reg8.ts';
import { ARITH_FLAGS, FLAG_OF, testCondition } from '../flags.ts';

// ---- MOV ----
export function movEbGb(c: Cpu): void {
  c.decodeModrm();
  c.writeRm8(c.getReg8());
}
export function movEvGv(c: Cpu): void {
  c.decodeModrm();
  const r = (c.modrm >> 3) & 7;
  if (c.opsize32) c.writeRm32(c.reg32[r]);
  else c.writeRm16(c.reg16[r << 1]);
}
export function movGbEb(c: Cpu): void {
  c.decodeModrm();
  c.setReg8(c.readRm8());
}
export function movGvEv(c: Cpu): void {
  c.decodeModrm();
  const r = (c.modrm >> 3) & 7;
  if (c.opsize32) c.reg32[r] = c.readRm32();
  else c.reg16[r << 1] = c.readRm16();
}
/** 8C: MOV r/m16, Sreg. A register destination with a 32-bit operand size gets the selector zero-extended. */
export function movEwSw(c: Cpu): void {
  c.decodeModrm();
  const s = (c.modrm >> 3) & 7;
  if (s > 5) c.raise(EXC_UD);
  if (c.modrm >= 0xc0 && c.opsize32) c.reg32[c.modrm & 7] = c.sreg[s];
  else c.writeRm16(c.sreg[s]);
}
/** 8E: MOV Sreg, r/m16. CS cannot be loaded this way; loading SS holds off interrupts for one instruction. */
export function movSwEw(c: Cpu): void {
  c.decodeModrm();
  const s = (c.modrm >> 3) & 7;
  if (s === CS || s > 5) c.raise(EXC_UD);
  c.loadSegment(s, c.readRm16());
  if (s === SS) c.interruptShadow = 1;
}
/** Offset operand of A0-A3, sized by the address size. */
function moffs(c: Cpu): number {
  return c.addrsize32 ? c.fetch32() : c.fetch16();
}
function moffsSeg(c: Cpu): number {
  return c.segOverride >= 0 ? c.segOverride : DS;
}
export function movAlOb(c: Cpu): void {
  const off = moffs(c);
  c.reg8[0] = c.read8(moffsSeg(c), off);
}
export function movEaxOv(c: Cpu): void {
  const off = moffs(c);
  if (c.opsize32) c.reg32[EAX] = c.read32(moffsSeg(c), off);
  else c.reg16[0] = c.read16(moffsSeg(c), off);
}
export function movObAl(c: Cpu): void {
  const off = moffs(c);
  c.write8(moffsSeg(c), off, c.reg8[0]);
}
export function movOvEax(c: Cpu): void {
  const off = moffs(c);
  if (c.opsize32) c.write32(moffsSeg(c), off, c.reg32[EAX]);
  else c.write16(moffsSeg(c), off, c.reg16[0]);
}
/** B0-B7: MOV r8, imm8. */
export function movRbIb(reg: number): (c: Cpu) => void {
  const index = reg8Index(reg);
  return (c) => {
    c.reg8[index] = c.fetch8();
  };
}
/** B8-BF: MOV r16/32, imm. */
export function movRvIv(reg: number): (c: Cpu) => void {
  return (c) => {
    if (c.opsize32) c.reg32[reg] = c.fetch32();
    else c.reg16[reg << 1] = c.fetch16();
  };
}
/** C6 /0: MOV r/m8, imm8 (other reg values are #UD). */
export function movEbIb(c: Cpu): void {
  c.decodeModrm();
  if ((c.modrm >> 3) & 7) c.raise(EXC_UD);
  c.writeRm8(c.fetch8());
}
/** C7 /0: MOV r/m16/32, imm. */
export function movEvIv(c: Cpu): void {
  c.decodeModrm();
  if ((c.modrm >> 3) & 7) c.raise(EXC_UD);
  if (c.opsize32) c.writeRm32(c.fetch32());
  else c.writeRm16(c.fetch16());
}

// ---- LEA ----
export function lea(c: Cpu): void {
  c.decodeModrm();
  if (c.modrm >= 0xc0) c.raise(EXC_UD);
  const r = (c.modrm >> 3) & 7;
  if (c.opsize32) c.reg32[r] = c.ea;
  else c.reg16[r << 1] = c.ea;
}

// ---- XCHG ----
export function xchgEbGb(c: Cpu): void {
  c.decodeModrm();
  const v = c.readRm8();
  c.writeRm8(c.getReg8());
  c.setReg8(v);
}
export function xchgEvGv(c: Cpu): void {
  c.decodeModrm();
  const r = (c.modrm >> 3) & 7;
  if (c.opsize32) {
    const v = c.readRm32();
    c.writeRm32(c.reg32[r]);
    c.reg32[r] = v;
  } else {
    const v = c.readRm16();
    c.writeRm16(c.reg16[r << 1]);
    c.reg16[r << 1] = v;
  }
}
/** 91-97: XCHG eAX, r16/32. */
export function xchgEax(reg: number): (c: Cpu) => void {
  return (c) => {
    if (c.opsize32) {
      const v = c.reg32[reg];
      c.reg32[reg] = c.reg32[EAX];
      c.reg32[EAX] = v;
    } else {
      const v = c.reg16[reg << 1];
      c.reg16[reg << 1] = c.reg16[0];
      c.reg16[0] = v;
    }
  };
}

// ---- MOVZX / MOVSX ----
export function movzxGvEb(c: Cpu): void {
  c.decodeModrm();
  const r = (c.modrm >> 3) & 7;
  const v = c.readRm8();
  if (c.opsize32) c.reg32[r] = v;
  else c.reg16[r << 1] = v;
}
export function movzxGvEw(c: Cpu): void {
  c.decodeModrm();
  const r = (c.modrm >> 3) & 7;
  const v = c.readRm16();
  if (c.opsize32) c.reg32[r] = v;
  else c.reg16[r << 1] = v;
}
export function movsxGvEb(c: Cpu): void {
  c.decodeModrm();
  const r = (c.modrm >> 3) & 7;
  const v = (c.readRm8() << 24) >> 24;
  if (c.opsize32) c.reg32[r] = v;
  else c.reg16[r << 1] = v;
}
export function movsxGvEw(c: Cpu): void {
  c.decodeModrm();
  const r = (c.modrm >> 3) & 7;
  const v = (c.readRm16() << 16) >> 16;
  if (c.opsize32) c.reg32[r] = v;
  else c.reg16[r << 1] = v;
}

// ---- CMOVcc (0F 40-4F): the source is read (and may fault) whether or not the condition holds ----
export function cmov(cc: number): (c: Cpu) => void {
  return (c) => {
    c.decodeModrm();
    const r = (c.modrm >> 3) & 7;
    if (c.opsize32) {
      const v = c.readRm32();
      if (testCondition(c, cc)) c.reg32[r] = v;
    } else {
      const v = c.readRm16();
      if (testCondition(c, cc)) c.reg16[r << 1] = v;
    }
  };
}

// ---- Far pointer loads: LES, LDS, LSS, LFS, LGS ----
export function loadFarPointer(seg: number): (c: Cpu) => void {
  return (c) => {
    c.decodeModrm();
    if (c.modrm >= 0xc0) c.raise(EXC_UD);
    const r = (c.modrm >> 3) & 7;
    if (c.opsize32) {
      const offset = c.read32(c.eaSeg, c.ea);
      const selector = c.read16(c.eaSeg, c.addrsize32 ? (c.ea + 4) | 0 : (c.ea + 4) & 0xffff);
      c.loadSegment(seg, selector);
      c.reg32[r] = offset;
    } else {
      const offset = c.read16(c.eaSeg, c.ea);
      const selector = c.read16(c.eaSeg, c.addrsize32 ? (c.ea + 2) | 0 : (c.ea + 2) & 0xffff);
      c.loadSegment(seg, selector);
      c.reg16[r << 1] = offset;
    }
    if (seg === SS) c.interruptShadow = 1;
  };
}

// ---- XLAT: AL = [seg:(E)BX + AL] ----
export function xlat(c: Cpu): void {
  const seg = c.segOverride >= 0 ? c.segOverride : DS;
  const off = c.addrsize32 ? (c.reg32[EBX] + c.reg8[0]) | 0 : (c.reg16[EBX << 1] + c.reg8[0]) & 0xffff;
  c.reg8[0] = c.read8(seg, off);
}

// ---- BSWAP (0F C8+r); with a 16-bit operand size the result is undefined: we clear the low word ----
export function bswap(reg: number): (c: Cpu) => void {
  return (c) => {
    const v = c.reg32[reg];
    if (c.opsize32) {
      c.reg32[reg] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
    } else {
      c.reg16[reg << 1] = 0;
    }
  };
}

// ---- LAHF / SAHF ----
export function lahf(c: Cpu): void {
  c.reg8[1] = c.getFlags() & 0xff;
}
export function sahf(c: Cpu): void {
  c.setFlags(c.reg8[1], ARITH_FLAGS & ~FLAG_OF & 0xff);
}
