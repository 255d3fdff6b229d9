/**
 * Control transfer: Jcc, JMP, CALL, RET, RETF, LOOP/LOOPE/LOOPNE, JCXZ/JECXZ, INT n, INT3, INTO, INT1, IRET,
 * BOUND. Intel SDM Vol. 2, each instruction's page. Protected-mode far transfers are in ../protected.ts.
 *
 * Every transfer checks its target against the code segment limit before anything (the stack included)
 * changes, so a #GP leaves the machine as it was.
 */
import type { Cpu } from '../cpu.ts';
import {
  CS,
  ECX,
  EXC_BP,
  EXC_BR,
  EXC_DB,
  EXC_GP,
  EXC_OF,
  EXC_UD,
  INT_EXCEPTION,
  INT_SOFTWARE,
  SS,
} from '../constants.ts';
import { FLAG_IOPL, FLAG_VM, FLAGS_WRITABLE, FLAG_VIF, FLAG_VIP, getOF, testCondition } from '../flags.ts';
import * as pm from '../protected.ts';

/** 70-7F: Jcc rel8. */
export function jccShort(cc: number): (c: Cpu) => void {
  return (c) => {
    const disp = (c.fetch8() << 24) >> 24;
    if (testCondition(c, cc)) c.jumpNear((c.eip + disp) | 0);
  };
}
/** 0F 80-8F: Jcc rel16/32. */
export function jccNear(cc: number): (c: Cpu) => void {
  return (c) => {
    const disp = c.opsize32 ? c.fetch32() : (c.fetch16() << 16) >> 16;
    if (testCondition(c, cc)) c.jumpNear((c.eip + disp) | 0);
  };
}

export function jmpShort(c: Cpu): void {
  const disp = (c.fetch8() << 24) >> 24;
  c.jumpNear((c.eip + disp) | 0);
}
export function jmpNear(c: Cpu): void {
  const disp = c.opsize32 ? c.fetch32() : (c.fetch16() << 16) >> 16;
  c.jumpNear((c.eip + disp) | 0);
}

/** Near call to `target`: the target is checked before the return address is pushed. */
function callNear(c: Cpu, target: number): void {
  const ret = c.eip;
  if (!c.opsize32) target &= 0xffff;
  if (target >>> 0 > c.segLimit[CS]) c.raiseError(EXC_GP, 0);
  c.push(ret);
  c.eip = target;
}
export function callRel(c: Cpu): void {
  const disp = c.opsize32 ? c.fetch32() : (c.fetch16() << 16) >> 16;
  callNear(c, (c.eip + disp) | 0);
}

/** Far JMP in any mode. */
export function jumpFar(c: Cpu, selector: number, offset: number): void {
  if (c.protectedMode) {
    pm.farJump(c, selector, offset);
    return;
  }
  if (offset >>> 0 > c.segLimit[CS]) c.raiseError(EXC_GP, 0);
  c.setSegmentReal(CS, selector);
  c.eip = offset;
}

/** Far CALL in any mode. */
export function callFar(c: Cpu, selector: number, offset: number): void {
  if (c.protectedMode) {
    pm.farCall(c, selector, offset);
    return;
  }
  if (offset >>> 0 > c.segLimit[CS]) c.raiseError(EXC_GP, 0);
  const size = c.opsize32 ? 4 : 2;
  const spCs = c.spOffset(-size);
  const spIp = c.spOffset(-2 * size);
  c.writeAddress(SS, spCs, size);
  c.writeAddress(SS, spIp, size);
  if (size === 4) {
    c.write32(SS, spCs, c.sreg[CS]);
    c.write32(SS, spIp, c.eip);
  } else {
    c.write16(SS, spCs, c.sreg[CS]);
    c.write16(SS, spIp, c.eip);
  }
  c.adjustSp(-2 * size);
  c.setSegmentReal(CS, selector);
  c.eip = offset;
}

/** EA: JMP ptr16:16/32. */
export function jmpFarImm(c: Cpu): void {
  const offset = c.fetchImm();
  const selector = c.fetch16();
  jumpFar(c, selector, c.opsize32 ? offset : offset & 0xffff);
}
/** 9A: CALL ptr16:16/32. */
export function callFarImm(c: Cpu): void {
  const offset = c.fetchImm();
  const selector = c.fetch16();
  callFar(c, selector, c.opsize32 ? offset : offset & 0xffff);
}

/** Group 5 (FF /2 - /5): CALL/JMP near r/m, CALL/JMP far m16:16/32. Called after ModRM is decoded. */
export function callNearRm(c: Cpu): void {
  callNear(c, c.opsize32 ? c.readRm32() : c.readRm16());
}
export function jmpNearRm(c: Cpu): void {
  c.jumpNear(c.opsize32 ? c.readRm32() : c.readRm16());
}
function readFarPointer(c: Cpu): [number, number] {
  if (c.modrm >= 0xc0) c.raise(EXC_UD);
  const size = c.opsize32 ? 4 : 2;
  const offset = size === 4 ? c.read32(c.eaSeg, c.ea) : c.read16(c.eaSeg, c.ea);
  const selector = c.read16(c.eaSeg, c.addrsize32 ? (c.ea + size) | 0 : (c.ea + size) & 0xffff);
  return [selector, offset];
}
export function callFarRm(c: Cpu): void {
  const [selector, offset] = readFarPointer(c);
  callFar(c, selector, offset);
}
export function jmpFarRm(c: Cpu): void {
  const [selector, offset] = readFarPointer(c);
  jumpFar(c, selector, offset);
}

/** C3 / C2 iw: near return, optionally releasing `imm16` bytes of parameters. */
function retNear(c: Cpu, release: number): void {
  const size = c.opsize32 ? 4 : 2;
  const sp = c.getSp();
  const target = size === 4 ? c.read32(SS, sp) : c.read16(SS, sp);
  if (target >>> 0 > c.segLimit[CS]) c.raiseError(EXC_GP, 0);
  c.adjustSp(size + release);
  c.eip = target;
}
export function ret(c: Cpu): void {
  retNear(c, 0);
}
export function retImm(c: Cpu): void {
  retNear(c, c.fetch16());
}

/** CB / CA iw: far return. */
function retFar(c: Cpu, release: number): void {
  if (c.protectedMode) {
    pm.farReturn(c, release);
    return;
  }
  const size = c.opsize32 ? 4 : 2;
  const offset = size === 4 ? c.read32(SS, c.getSp()) : c.read16(SS, c.getSp());
  const selector = c.read16(SS, c.spOffset(size));
  if (offset >>> 0 > c.segLimit[CS]) c.raiseError(EXC_GP, 0);
  c.adjustSp(2 * size + release);
  c.setSegmentReal(CS, selector);
  c.eip = offset;
}
export function retf(c: Cpu): void {
  retFar(c, 0);
}
export function retfImm(c: Cpu): void {
  retFar(c, c.fetch16());
}

/** IRET / IRETD. Real mode pops IP, CS, FLAGS; V86 mode needs IOPL 3; protected mode in ../protected.ts. */
export function iret(c: Cpu): void {
  if (c.flags & FLAG_VM) {
    if ((c.flags & FLAG_IOPL) !== FLAG_IOPL) c.raiseError(EXC_GP, 0);
  } else if (c.protectedMode) {
    pm.iret(c);
    return;
  }
  const size = c.opsize32 ? 4 : 2;
  const offset = size === 4 ? c.read32(SS, c.getSp()) : c.read16(SS, c.getSp());
  const selector = c.read16(SS, c.spOffset(size));
  const flags = size === 4 ? c.read32(SS, c.spOffset(2 * size)) : c.read16(SS, c.spOffset(2 * size));
  if (offset >>> 0 > c.segLimit[CS]) c.raiseError(EXC_GP, 0);
  c.adjustSp(3 * size);
  c.setSegmentReal(CS, selector);
  c.eip = offset;
  let mask = FLAGS_WRITABLE & ~(FLAG_VM | FLAG_VIF | FLAG_VIP);
  if (size === 2) mask &= 0xffff;
  if (c.flags & FLAG_VM) mask &= ~FLAG_IOPL;
  c.setFlags(flags, mask);
}

// ---- LOOP family: the count register is CX or ECX by address size ----
function decrementCount(c: Cpu): number {
  if (c.addrsize32) return (c.reg32[ECX] = (c.reg32[ECX] - 1) | 0);
  return (c.reg16[ECX << 1] = c.reg16[ECX << 1] - 1);
}
export function loopnz(c: Cpu): void {
  const disp = (c.fetch8() << 24) >> 24;
  if (decrementCount(c) !== 0 && !testCondition(c, 4)) c.jumpNear((c.eip + disp) | 0);
}
export function loopz(c: Cpu): void {
  const disp = (c.fetch8() << 24) >> 24;
  if (decrementCount(c) !== 0 && testCondition(c, 4)) c.jumpNear((c.eip + disp) | 0);
}
export function loop(c: Cpu): void {
  const disp = (c.fetch8() << 24) >> 24;
  if (decrementCount(c) !== 0) c.jumpNear((c.eip + disp) | 0);
}
export function jcxz(c: Cpu): void {
  const disp = (c.fetch8() << 24) >> 24;
  const count = c.addrsize32 ? c.reg32[ECX] : c.reg16[ECX << 1];
  if (count === 0) c.jumpNear((c.eip + disp) | 0);
}

// ---- Software interrupts ----

/** INT n. In V86 mode with IOPL < 3 it is a #GP(0) (no VME). */
export function intImm(c: Cpu): void {
  const vector = c.fetch8();
  if (c.flags & FLAG_VM && (c.flags & FLAG_IOPL) !== FLAG_IOPL) c.raiseError(EXC_GP, 0);
  c.interrupt(vector, INT_SOFTWARE, -1);
}
export function int3(c: Cpu): void {
  c.interrupt(EXC_BP, INT_SOFTWARE, -1);
}
export function into(c: Cpu): void {
  if (getOF(c)) c.interrupt(EXC_OF, INT_SOFTWARE, -1);
}
/** F1 INT1 / ICEBP: a #DB trap delivered like an exception (no IOPL check). */
export function int1(c: Cpu): void {
  c.interrupt(EXC_DB, INT_EXCEPTION, -1);
}

/** 62: BOUND r16/32, m16&16 / m32&32 — #BR when the signed index is outside [lower, upper]. */
export function bound(c: Cpu): void {
  c.decodeModrm();
  if (c.modrm >= 0xc0) c.raise(EXC_UD);
  const reg = (c.modrm >> 3) & 7;
  if (c.opsize32) {
    const lower = c.read32(c.eaSeg, c.ea);
    const upper = c.read32(c.eaSeg, c.addrsize32 ? (c.ea + 4) | 0 : (c.ea + 4) & 0xffff);
    const index = c.reg32[reg];
    if (index < lower || index > upper) c.raise(EXC_BR);
  } else {
    const lower = (c.read16(c.eaSeg, c.ea) << 16) >> 16;
    const upper = (c.read16(c.eaSeg, c.addrsize32 ? (c.ea + 2) | 0 : (c.ea + 2) & 0xffff) << 16) >> 16;
    const index = (c.reg16[reg << 1] << 16) >> 16;
    if (index < lower || index > upper) c.raise(EXC_BR);
  }
}
