/**
 * Bit instructions: BT, BTS, BTR, BTC (register and immediate forms), BSF, BSR, SETcc.
 * Intel SDM Vol. 2A "BT", "BTS", "BTR", "BTC", "BSF", "BSR"; Vol. 2B "SETcc".
 */
import type { Cpu } from '../cpu.ts';
import { EXC_UD } from '../constants.ts';
import { FLAG_CF, FLAG_ZF, setFlag, testCondition } from '../flags.ts';

/** Bit operation numbers: BT = 0, BTS = 1, BTR = 2, BTC = 3. */
function applyBit(op: number, value: number, bit: number): number {
  const m = 1 << bit;
  return op === 1 ? value | m : op === 2 ? value & ~m : value ^ m;
}

/**
 * BT family with the bit offset in a register: for a memory operand the offset is signed and selects a
 * word/dword anywhere relative to the effective address (SDM "BT": bit string addressing).
 */
function bitRegForm(op: number): (c: Cpu) => void {
  return (c) => {
    c.decodeModrm();
    const reg = (c.modrm >> 3) & 7;
    if (c.opsize32) {
      const offset = c.reg32[reg];
      if (c.modrm >= 0xc0) {
        const rm = c.modrm & 7;
        const v = c.reg32[rm];
        setFlag(c, FLAG_CF, (v >>> (offset & 31)) & 1);
        if (op) c.reg32[rm] = applyBit(op, v, offset & 31);
        return;
      }
      const ea = c.addrsize32 ? (c.ea + ((offset >> 5) << 2)) | 0 : (c.ea + ((offset >> 5) << 2)) & 0xffff;
      const v = c.read32(c.eaSeg, ea);
      if (op) c.write32(c.eaSeg, ea, applyBit(op, v, offset & 31));
      setFlag(c, FLAG_CF, (v >>> (offset & 31)) & 1);
    } else {
      const offset = (c.reg16[reg << 1] << 16) >> 16;
      if (c.modrm >= 0xc0) {
        const rm = c.modrm & 7;
        const v = c.reg16[rm << 1];
        setFlag(c, FLAG_CF, (v >>> (offset & 15)) & 1);
        if (op) c.reg16[rm << 1] = applyBit(op, v, offset & 15);
        return;
      }
      const ea = c.addrsize32 ? (c.ea + ((offset >> 4) << 1)) | 0 : (c.ea + ((offset >> 4) << 1)) & 0xffff;
      const v = c.read16(c.eaSeg, ea);
      if (op) c.write16(c.eaSeg, ea, applyBit(op, v, offset & 15));
      setFlag(c, FLAG_CF, (v >>> (offset & 15)) & 1);
    }
  };
}
export const btEvGv = bitRegForm(0);
export const btsEvGv = bitRegForm(1);
export const btrEvGv = bitRegForm(2);
export const btcEvGv = bitRegForm(3);

/** 0F BA /4-/7: BT/BTS/BTR/BTC r/m, imm8 (the offset is taken modulo the operand size). */
export function group8(c: Cpu): void {
  c.decodeModrm();
  const reg = (c.modrm >> 3) & 7;
  if (reg < 4) c.raise(EXC_UD);
  const op = reg - 4;
  const imm = c.fetch8();
  if (c.opsize32) {
    const bit = imm & 31;
    const v = c.readRm32();
    if (op) c.writeRm32(applyBit(op, v, bit));
    setFlag(c, FLAG_CF, (v >>> bit) & 1);
  } else {
    const bit = imm & 15;
    const v = c.readRm16();
    if (op) c.writeRm16(applyBit(op, v, bit));
    setFlag(c, FLAG_CF, (v >>> bit) & 1);
  }
}

/** BSF/BSR: ZF = 1 and the destination unchanged when the source is 0 (as Intel and AMD parts behave). */
export function bsf(c: Cpu): void {
  c.decodeModrm();
  const reg = (c.modrm >> 3) & 7;
  const v = c.opsize32 ? c.readRm32() : c.readRm16();
  if (v === 0) {
    setFlag(c, FLAG_ZF, true);
    return;
  }
  setFlag(c, FLAG_ZF, false);
  const index = 31 - Math.clz32(v & -v);
  if (c.opsize32) c.reg32[reg] = index;
  else c.reg16[reg << 1] = index;
}
export function bsr(c: Cpu): void {
  c.decodeModrm();
  const reg = (c.modrm >> 3) & 7;
  const v = c.opsize32 ? c.readRm32() : c.readRm16();
  if (v === 0) {
    setFlag(c, FLAG_ZF, true);
    return;
  }
  setFlag(c, FLAG_ZF, false);
  const index = 31 - Math.clz32(v);
  if (c.opsize32) c.reg32[reg] = index;
  else c.reg16[reg << 1] = index;
}

/** 0F 90-9F: SETcc r/m8. */
export function setcc(cc: number): (c: Cpu) => void {
  return (c) => {
    c.decodeModrm();
    c.writeRm8(testCondition(c, cc) ? 1 : 0);
  };
}
