/**
 * I/O and processor-control instructions: IN/OUT, CLC/STC/CMC/CLD/STD/CLI/STI, HLT, WAIT, NOP.
 * Intel SDM Vol. 2; IOPL sensitivity from Vol. 1, 18.2 "I/O privilege level".
 */
import type { Cpu } from '../cpu.ts';
import { CR0_MP, CR0_TS, EDX, EXC_GP, EXC_NM } from '../constants.ts';
import { FLAG_CF, FLAG_DF, FLAG_IF, FLAG_IOPL, FLAG_VM, getCF, setFlag } from '../flags.ts';
import { checkIoPermission } from '../protected.ts';

// ---- IN / OUT ----
export function inAlIb(c: Cpu): void {
  const port = c.fetch8();
  checkIoPermission(c, port, 1);
  c.reg8[0] = c.io.in8(port);
}
export function inEaxIb(c: Cpu): void {
  const port = c.fetch8();
  if (c.opsize32) {
    checkIoPermission(c, port, 4);
    c.reg32[0] = c.io.in32(port);
  } else {
    checkIoPermission(c, port, 2);
    c.reg16[0] = c.io.in16(port);
  }
}
export function outIbAl(c: Cpu): void {
  const port = c.fetch8();
  checkIoPermission(c, port, 1);
  c.io.out8(port, c.reg8[0]);
}
export function outIbEax(c: Cpu): void {
  const port = c.fetch8();
  if (c.opsize32) {
    checkIoPermission(c, port, 4);
    c.io.out32(port, c.reg32[0]);
  } else {
    checkIoPermission(c, port, 2);
    c.io.out16(port, c.reg16[0]);
  }
}
export function inAlDx(c: Cpu): void {
  const port = c.reg16[EDX << 1];
  checkIoPermission(c, port, 1);
  c.reg8[0] = c.io.in8(port);
}
export function inEaxDx(c: Cpu): void {
  const port = c.reg16[EDX << 1];
  if (c.opsize32) {
    checkIoPermission(c, port, 4);
    c.reg32[0] = c.io.in32(port);
  } else {
    checkIoPermission(c, port, 2);
    c.reg16[0] = c.io.in16(port);
  }
}
export function outDxAl(c: Cpu): void {
  const port = c.reg16[EDX << 1];
  checkIoPermission(c, port, 1);
  c.io.out8(port, c.reg8[0]);
}
export function outDxEax(c: Cpu): void {
  const port = c.reg16[EDX << 1];
  if (c.opsize32) {
    checkIoPermission(c, port, 4);
    c.io.out32(port, c.reg32[0]);
  } else {
    checkIoPermission(c, port, 2);
    c.io.out16(port, c.reg16[0]);
  }
}

// ---- Flag instructions ----
export function clc(c: Cpu): void {
  setFlag(c, FLAG_CF, false);
}
export function stc(c: Cpu): void {
  setFlag(c, FLAG_CF, true);
}
export function cmc(c: Cpu): void {
  setFlag(c, FLAG_CF, !getCF(c));
}
export function cld(c: Cpu): void {
  c.flags &= ~FLAG_DF;
}
export function std(c: Cpu): void {
  c.flags |= FLAG_DF;
}

/** CLI/STI need CPL <= IOPL in protected mode and IOPL 3 in V86 mode (no VME/PVI). */
function checkIopl(c: Cpu): void {
  if (c.cr0 & 1 && c.cpl > (c.flags & FLAG_IOPL) >> 12) c.raiseError(EXC_GP, 0);
  if (c.flags & FLAG_VM && (c.flags & FLAG_IOPL) !== FLAG_IOPL) c.raiseError(EXC_GP, 0);
}
export function cli(c: Cpu): void {
  checkIopl(c);
  c.flags &= ~FLAG_IF;
}
/** STI: interrupts are recognised only after the next instruction (the STI shadow). */
export function sti(c: Cpu): void {
  checkIopl(c);
  if (!(c.flags & FLAG_IF)) c.interruptShadow = 1;
  c.flags |= FLAG_IF;
}

/** HLT: privileged in protected mode; the CPU waits for an interrupt at the next instruction. */
export function hlt(c: Cpu): void {
  if (c.cr0 & 1 && c.cpl !== 0) c.raiseError(EXC_GP, 0);
  c.halted = true;
}

/** 9B WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set; otherwise reports pending x87 exceptions. */
export function wait(c: Cpu): void {
  if ((c.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) c.raise(EXC_NM);
  c.fpu.checkPendingException();
}

export function nop(_c: Cpu): void {}
