/**
 * System instructions: the 0F 00 and 0F 01 groups (SLDT STR LLDT LTR VERR VERW / SGDT SIDT LGDT LIDT SMSW
 * LMSW INVLPG), LAR, LSL, ARPL, CLTS, INVD, WBINVD, UD2, MOV to/from CR and DR, RDMSR/WRMSR, RDTSC, CPUID,
 * SYSENTER/SYSEXIT. Intel SDM Vol. 2 (each page), Vol. 3A 2.5 (control registers), 17.2 (debug registers),
 * Vol. 4 (MSRs).
 */
import type { Cpu } from '../cpu.ts';
import {
  CR0_ET,
  CR0_PE,
  CR0_PG,
  CR0_TS,
  CR4_DE,
  CR4_PGE,
  CR4_PSE,
  CR4_TSD,
  EAX,
  EBX,
  ECX,
  EDX,
  EXC_GP,
  EXC_UD,
} from '../constants.ts';
import * as pm from '../protected.ts';
import { updateDebugArmed } from '../debug.ts';

/** CPUID feature flags (leaf 1, EDX): only what this CPU implements. */
export const CPUID_FPU = 1 << 0;
export const CPUID_PSE = 1 << 3;
export const CPUID_TSC = 1 << 4;
export const CPUID_MSR = 1 << 5;
export const CPUID_CX8 = 1 << 8;
export const CPUID_SEP = 1 << 11;
export const CPUID_PGE = 1 << 13;
export const CPUID_CMOV = 1 << 15;
export const CPUID_FEATURES =
  CPUID_FPU | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_CX8 | CPUID_SEP | CPUID_PGE | CPUID_CMOV;
/** Family 6, model 3, stepping 3: a Pentium II class part (SYSENTER usable; model 1 parts had it broken). */
export const CPUID_SIGNATURE = 0x0633;

const CR4_SUPPORTED = CR4_TSD | CR4_DE | CR4_PSE | CR4_PGE;

/** MSR numbers. */
export const MSR_TSC = 0x10;
/** IA32_PLATFORM_ID: platform bits for microcode selection (P6 and later); reads 0 here. */
export const MSR_PLATFORM_ID = 0x17;
/** IA32_BIOS_SIGN_ID: microcode update signature; writes are accepted, the revision reads as 0. */
export const MSR_BIOS_SIGN_ID = 0x8b;
export const MSR_SYSENTER_CS = 0x174;
export const MSR_SYSENTER_ESP = 0x175;
export const MSR_SYSENTER_EIP = 0x176;

/** Privileged instructions: #GP(0) unless CPL 0 (V86 mode is CPL 3). */
export function requireCpl0(c: Cpu): void {
  if (c.cpl !== 0) c.raiseError(EXC_GP, 0);
}

/** 0F 00: SLDT STR LLDT LTR VERR VERW — protected mode only (#UD in real and V86 mode). */
export function group6(c: Cpu): void {
  if (!c.protectedMode) c.raise(EXC_UD);
  c.decodeModrm();
  const reg = (c.modrm >> 3) & 7;
  switch (reg) {
    case 0: // SLDT
    case 1: // STR
      storeSelector(c, reg === 0 ? c.ldtrSelector : c.trSelector);
      break;
    case 2:
      requireCpl0(c);
      pm.loadLdt(c, c.readRm16());
      break;
    case 3:
      requireCpl0(c);
      pm.loadTaskRegister(c, c.readRm16());
      break;
    case 4:
    case 5:
      pm.verify(c, c.readRm16(), reg === 5);
      break;
    default:
      c.raise(EXC_UD);
  }
}

/** SLDT/STR/SMSW to a register store 32 bits with a 32-bit operand size (upper bits zero). */
function storeSelector(c: Cpu, value: number): void {
  if (c.modrm >= 0xc0 && c.opsize32) c.reg32[c.modrm & 7] = value & 0xffff;
  else c.writeRm16(value);
}

/** 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG. */
export function group7(c: Cpu): void {
  c.decodeModrm();
  const reg = (c.modrm >> 3) & 7;
  switch (reg) {
    case 0: // SGDT
    case 1: {
      // SIDT
      if (c.modrm >= 0xc0) c.raise(EXC_UD);
      const limit = reg === 0 ? c.gdtrLimit : c.idtrLimit;
      const base = reg === 0 ? c.gdtrBase : c.idtrBase;
      const baseOffset = c.addrsize32 ? (c.ea + 2) | 0 : (c.ea + 2) & 0xffff;
      c.writeAddress(c.eaSeg, c.ea, 2);
      c.writeAddress(c.eaSeg, baseOffset, 4);
      c.write16(c.eaSeg, c.ea, limit);
      c.write32(c.eaSeg, baseOffset, c.opsize32 ? base : base & 0xffffff);
      break;
    }
    case 2: // LGDT
    case 3: {
      // LIDT
      if (c.modrm >= 0xc0) c.raise(EXC_UD);
      requireCpl0(c);
      const limit = c.read16(c.eaSeg, c.ea);
      let base = c.read32(c.eaSeg, c.addrsize32 ? (c.ea + 2) | 0 : (c.ea + 2) & 0xffff);
      if (!c.opsize32) base &= 0xffffff;
      if (reg === 2) {
        c.gdtrBase = base;
        c.gdtrLimit = limit;
      } else {
        c.idtrBase = base;
        c.idtrLimit = limit;
      }
      break;
    }
    case 4: // SMSW
      storeSelector(c, c.cr0);
      break;
    case 6: {
      // LMSW: loads PE, MP, EM, TS; cannot clear PE
      requireCpl0(c);
      const v = c.readRm16();
      writeCr0(c, (c.cr0 & ~0xe) | (v & 0xf) | (c.cr0 & CR0_PE));
      break;
    }
    case 7: // INVLPG
      if (c.modrm >= 0xc0) c.raise(EXC_UD);
      requireCpl0(c);
      c.mmu.invalidatePage((c.segBase[c.eaSeg] + c.ea) | 0);
      break;
    default:
      c.raise(EXC_UD);
  }
}

/** Writes CR0, applying the side effects of PE and PG changes. */
export function writeCr0(c: Cpu, value: number): void {
  // PG without PE, or NW without CD, is #GP(0) (SDM Vol. 3A 2.5).
  if (value & CR0_PG && !(value & CR0_PE)) c.raiseError(EXC_GP, 0);
  if (value & (1 << 29) && !(value & (1 << 30))) c.raiseError(EXC_GP, 0);
  const old = c.cr0;
  c.cr0 = value | CR0_ET;
  if ((old ^ c.cr0) & (CR0_PG | CR0_PE | (1 << 16))) c.mmu.flush(true);
  c.mmu.configure();
  if ((old ^ c.cr0) & CR0_PE) c.updateCpl();
}

export function lar(c: Cpu): void {
  if (!c.protectedMode) c.raise(EXC_UD);
  c.decodeModrm();
  pm.loadAccessRights(c, c.readRm16(), false);
}
export function lsl(c: Cpu): void {
  if (!c.protectedMode) c.raise(EXC_UD);
  c.decodeModrm();
  pm.loadAccessRights(c, c.readRm16(), true);
}
export function arpl(c: Cpu): void {
  if (!c.protectedMode) c.raise(EXC_UD);
  c.decodeModrm();
  pm.adjustRpl(c);
}

export function clts(c: Cpu): void {
  requireCpl0(c);
  c.cr0 &= ~CR0_TS;
}
/** INVD / WBINVD: there are no caches to write back; the instructions are privileged all the same. */
export function invd(c: Cpu): void {
  requireCpl0(c);
}
export function ud2(c: Cpu): void {
  c.raise(EXC_UD);
}

/** 0F 20 / 0F 22: MOV r32, CRn / MOV CRn, r32. The mod field is ignored: always a register. */
export function movRdCr(c: Cpu): void {
  const modrm = c.fetch8();
  requireCpl0(c);
  const cr = (modrm >> 3) & 7;
  let v: number;
  switch (cr) {
    case 0:
      v = c.cr0;
      break;
    case 2:
      v = c.cr2;
      break;
    case 3:
      v = c.cr3;
      break;
    case 4:
      v = c.cr4;
      break;
    default:
      c.raise(EXC_UD);
  }
  c.reg32[modrm & 7] = v;
}
export function movCrRd(c: Cpu): void {
  const modrm = c.fetch8();
  requireCpl0(c);
  const v = c.reg32[modrm & 7];
  switch ((modrm >> 3) & 7) {
    case 0:
      writeCr0(c, v);
      break;
    case 2:
      c.cr2 = v;
      break;
    case 3:
      c.cr3 = v;
      c.mmu.flush(false);
      break;
    case 4:
      if (v & ~CR4_SUPPORTED) c.raiseError(EXC_GP, 0);
      if ((c.cr4 ^ v) & (CR4_PSE | CR4_PGE)) c.mmu.flush(true);
      c.cr4 = v;
      break;
    default:
      c.raise(EXC_UD);
  }
}

/** 0F 21 / 0F 23: MOV to/from DR0-DR7. DR4/DR5 alias DR6/DR7 unless CR4.DE. Breakpoints are not armed. */
function debugRegister(c: Cpu, n: number): number {
  if (n === 4 || n === 5) {
    if (c.cr4 & CR4_DE) c.raise(EXC_UD);
    return n + 2;
  }
  return n;
}
export function movRdDr(c: Cpu): void {
  const modrm = c.fetch8();
  requireCpl0(c);
  c.reg32[modrm & 7] = c.dr[debugRegister(c, (modrm >> 3) & 7)];
}
export function movDrRd(c: Cpu): void {
  const modrm = c.fetch8();
  requireCpl0(c);
  const n = debugRegister(c, (modrm >> 3) & 7);
  let v = c.reg32[modrm & 7];
  if (n === 6) v = (v & 0xe00f) | 0xffff0ff0;
  else if (n === 7) v = (v & ~0xd800) | 0x400;
  c.dr[n] = v;
  if (n === 7) updateDebugArmed(c);
}

/** The time-stamp counter: a 1 GHz count of virtual time (see Cpu.timeNs and src/machine/clock.ts). */
export function readTsc(c: Cpu): number {
  return c.timeNs() + c.tscOffset;
}

export function rdtsc(c: Cpu): void {
  if (c.cr4 & CR4_TSD && c.cpl !== 0) c.raiseError(EXC_GP, 0);
  const tsc = readTsc(c);
  c.reg32[EAX] = (tsc % 0x100000000) | 0;
  c.reg32[EDX] = Math.floor(tsc / 0x100000000) | 0;
}

export function rdmsr(c: Cpu): void {
  requireCpl0(c);
  let lo = 0;
  let hi = 0;
  switch (c.reg32[ECX] >>> 0) {
    case MSR_TSC: {
      const tsc = readTsc(c);
      lo = (tsc % 0x100000000) | 0;
      hi = Math.floor(tsc / 0x100000000) | 0;
      break;
    }
    case MSR_PLATFORM_ID:
    case MSR_BIOS_SIGN_ID:
      break;
    case MSR_SYSENTER_CS:
      lo = c.sysenterCs;
      break;
    case MSR_SYSENTER_ESP:
      lo = c.sysenterEsp;
      break;
    case MSR_SYSENTER_EIP:
      lo = c.sysenterEip;
      break;
    default:
      c.raiseError(EXC_GP, 0);
  }
  c.reg32[EAX] = lo;
  c.reg32[EDX] = hi;
}

export function wrmsr(c: Cpu): void {
  requireCpl0(c);
  const lo = c.reg32[EAX];
  const hi = c.reg32[EDX];
  switch (c.reg32[ECX] >>> 0) {
    case MSR_TSC:
      c.tscOffset = (hi >>> 0) * 0x100000000 + (lo >>> 0) - c.timeNs();
      break;
    case MSR_BIOS_SIGN_ID:
      break; // software writes 0 before CPUID to latch the revision; there is no microcode to report
    case MSR_SYSENTER_CS:
      c.sysenterCs = lo & 0xffff;
      break;
    case MSR_SYSENTER_ESP:
      c.sysenterEsp = lo;
      break;
    case MSR_SYSENTER_EIP:
      c.sysenterEip = lo;
      break;
    default:
      c.raiseError(EXC_GP, 0);
  }
}

/** "GenuineIntel" as EBX, EDX, ECX. */
const VENDOR = [0x756e6547, 0x49656e69, 0x6c65746e];

export function cpuid(c: Cpu): void {
  const leaf = c.reg32[EAX] >>> 0;
  const r = c.reg32;
  if (leaf >= 0x80000000) {
    // No extended leaves: EAX = 0 tells software there are none.
    r[EAX] = r[EBX] = r[ECX] = r[EDX] = 0;
  } else if (leaf === 0) {
    r[EAX] = 1;
    r[EBX] = VENDOR[0];
    r[EDX] = VENDOR[1];
    r[ECX] = VENDOR[2];
  } else {
    // Leaf 1, and (as Intel parts do) any higher basic leaf answers like the highest one.
    r[EAX] = CPUID_SIGNATURE;
    r[EBX] = 0;
    r[ECX] = 0;
    r[EDX] = CPUID_FEATURES;
  }
}

export function sysenter(c: Cpu): void {
  pm.sysenter(c);
}
export function sysexit(c: Cpu): void {
  pm.sysexit(c);
}
