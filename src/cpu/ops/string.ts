/**
 * String instructions MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS with REP/REPE/REPNE (Intel SDM Vol. 2,
 * "REP/REPE/REPZ/REPNE/REPNZ" and each instruction's page).
 *
 * Source is seg:(E)SI with seg = DS unless overridden; destination is ES:(E)DI, never overridden. The address
 * size picks SI/DI/CX or ESI/EDI/ECX. A repeated instruction runs at most REP_CHUNK iterations per step and
 * then restarts itself, so that interrupts are taken between chunks, as a real CPU takes them between
 * iterations; a fault mid-way leaves the registers describing the iterations already done.
 */
import type { Cpu } from '../cpu.ts';
import { DS, ECX, EDI, EDX, ES, ESI } from '../constants.ts';
import { FLAG_DF, OP_SUB, getZF, setLazy } from '../flags.ts';
import { checkIoPermission } from '../protected.ts';

const REP_CHUNK = 4096;

const KIND_MOVS = 0;
const KIND_CMPS = 1;
const KIND_STOS = 2;
const KIND_LODS = 3;
const KIND_SCAS = 4;
const KIND_INS = 5;
const KIND_OUTS = 6;

function readSized(c: Cpu, seg: number, off: number, size: number): number {
  return size === 1 ? c.read8(seg, off) : size === 2 ? c.read16(seg, off) : c.read32(seg, off);
}
function writeSized(c: Cpu, seg: number, off: number, size: number, v: number): void {
  if (size === 1) c.write8(seg, off, v);
  else if (size === 2) c.write16(seg, off, v);
  else c.write32(seg, off, v);
}
function getAcc(c: Cpu, size: number): number {
  return size === 1 ? c.reg8[0] : size === 2 ? c.reg16[0] : c.reg32[0];
}
function setAcc(c: Cpu, size: number, v: number): void {
  if (size === 1) c.reg8[0] = v;
  else if (size === 2) c.reg16[0] = v;
  else c.reg32[0] = v;
}
function ioIn(c: Cpu, port: number, size: number): number {
  return size === 1 ? c.io.in8(port) : size === 2 ? c.io.in16(port) : c.io.in32(port);
}
function ioOut(c: Cpu, port: number, size: number, v: number): void {
  if (size === 1) c.io.out8(port, v);
  else if (size === 2) c.io.out16(port, v);
  else c.io.out32(port, v);
}

/** One iteration: the data movement or comparison, then the index register updates. */
function iterate(c: Cpu, kind: number, size: number, a32: number, step: number): void {
  const r32 = c.reg32;
  const r16 = c.reg16;
  const si = a32 ? r32[ESI] : r16[ESI << 1];
  const di = a32 ? r32[EDI] : r16[EDI << 1];
  const srcSeg = c.segOverride >= 0 ? c.segOverride : DS;
  switch (kind) {
    case KIND_MOVS:
      writeSized(c, ES, di, size, readSized(c, srcSeg, si, size));
      break;
    case KIND_CMPS: {
      const a = readSized(c, srcSeg, si, size);
      const b = readSized(c, ES, di, size);
      setLazy(c, OP_SUB, size >> 1, a, b, (a - b) | 0);
      break;
    }
    case KIND_STOS:
      writeSized(c, ES, di, size, getAcc(c, size));
      break;
    case KIND_LODS:
      setAcc(c, size, readSized(c, srcSeg, si, size));
      break;
    case KIND_SCAS: {
      const a = getAcc(c, size);
      const b = readSized(c, ES, di, size);
      setLazy(c, OP_SUB, size >> 1, a, b, (a - b) | 0);
      break;
    }
    case KIND_INS: {
      // The destination is checked before the port is read, so a fault does not lose the input.
      c.writeAddress(ES, di, size);
      writeSized(c, ES, di, size, ioIn(c, r16[EDX << 1], size));
      break;
    }
    default:
      ioOut(c, r16[EDX << 1], size, readSized(c, srcSeg, si, size));
      break;
  }
  const usesSi = kind === KIND_MOVS || kind === KIND_CMPS || kind === KIND_LODS || kind === KIND_OUTS;
  const usesDi = kind !== KIND_LODS && kind !== KIND_OUTS;
  if (a32) {
    if (usesSi) r32[ESI] = (si + step) | 0;
    if (usesDi) r32[EDI] = (di + step) | 0;
  } else {
    if (usesSi) r16[ESI << 1] = si + step;
    if (usesDi) r16[EDI << 1] = di + step;
  }
}

function stringOp(kind: number, byteSized: boolean): (c: Cpu) => void {
  return (c) => {
    const size = byteSized ? 1 : c.opsize32 ? 4 : 2;
    if (kind === KIND_INS || kind === KIND_OUTS) checkIoPermission(c, c.reg16[EDX << 1], size);
    const step = c.flags & FLAG_DF ? -size : size;
    const a32 = c.addrsize32;
    const rep = c.repPrefix;
    if (rep === 0) {
      iterate(c, kind, size, a32, step);
      return;
    }
    const conditional = kind === KIND_CMPS || kind === KIND_SCAS;
    const untilEqual = rep === 0xf2; // REPNE stops when ZF = 1; REPE when ZF = 0
    for (let n = 0; n < REP_CHUNK; n++) {
      const count = a32 ? c.reg32[ECX] : c.reg16[ECX << 1];
      if (count === 0) return;
      iterate(c, kind, size, a32, step);
      if (a32) c.reg32[ECX] = (count - 1) | 0;
      else c.reg16[ECX << 1] = count - 1;
      if (conditional && getZF(c) === untilEqual) return;
    }
    if ((a32 ? c.reg32[ECX] : c.reg16[ECX << 1]) !== 0) c.eip = c.instrStart; // continue next step
  };
}

export const movsb = stringOp(KIND_MOVS, true);
export const movsv = stringOp(KIND_MOVS, false);
export const cmpsb = stringOp(KIND_CMPS, true);
export const cmpsv = stringOp(KIND_CMPS, false);
export const stosb = stringOp(KIND_STOS, true);
export const stosv = stringOp(KIND_STOS, false);
export const lodsb = stringOp(KIND_LODS, true);
export const lodsv = stringOp(KIND_LODS, false);
export const scasb = stringOp(KIND_SCAS, true);
export const scasv = stringOp(KIND_SCAS, false);
export const insb = stringOp(KIND_INS, true);
export const insv = stringOp(KIND_INS, false);
export const outsb = stringOp(KIND_OUTS, true);
export const outsv = stringOp(KIND_OUTS, false);
