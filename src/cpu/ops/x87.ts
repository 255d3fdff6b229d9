/**
 * x87 escape opcodes D8-DF (Intel SDM Vol. 2 instruction pages, opcode map Vol. 2D A.4): decoding, the #NM
 * check (SDM Vol. 3A Table 2-2: CR0.EM or CR0.TS), pending-exception reporting of waiting instructions, and
 * the FPU instruction/operand pointers. The instruction bodies live in ../fpu-memory.ts (memory operands),
 * ../fpu-stack.ts (register stack, compares), ../fpu-arith.ts, ../fpu-transcendental.ts and ../fpu-env.ts;
 * state and exception delivery in ../fpu.ts.
 *
 * Non-waiting instructions (FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE) skip the pending check; the
 * control instructions (those, FLDCW, FLDENV, FRSTOR) leave FIP/FDP/FOP alone.
 */
import type { Cpu, OpHandler } from '../cpu.ts';
import { CR0_EM, CR0_TS, CS, EXC_NM, EXC_UD } from '../constants.ts';
import { roundIntOp, sqrtOp } from '../fpu-arith.ts';
import { fldenv, fnsave, fnstenv, frstor } from '../fpu-env.ts';
import {
  loadBcd,
  loadExt80,
  loadInt16,
  loadInt32,
  loadInt64,
  loadReal32,
  loadReal64,
  pushMem,
  storeBcd,
  storeExt80,
  storeInt,
  storeReal,
} from '../fpu-memory.ts';
import {
  arith,
  compareCC,
  compareEflags,
  fcmov,
  fldConst,
  fldReg,
  fstReg,
  fsign,
  fxam,
  fxch,
  unary,
} from '../fpu-stack.ts';
import {
  f2xm1,
  fpatan,
  fprem,
  fscale,
  fxtract,
  fyl2x,
  trig,
  TRIG_COS,
  TRIG_SIN,
  TRIG_SINCOS,
  TRIG_TAN,
} from '../fpu-transcendental.ts';
import type { Fpu } from '../fpu.ts';
import { SLOT_MEM, SW_C1, SW_ES } from '../fpu-constants.ts';

/** The handler for opcode D8-DF when the dispatcher does not say which: the opcode byte is read back. */
export function x87Escape(c: Cpu): void {
  // The byte was just fetched, so the CPU's fetch page cache usually holds it.
  const linear = (c.segBase[CS] + c.eip - 1) | 0;
  const op =
    (linear & ~0xfff) === c.fetchPage ? c.ram[c.fetchPhys | (linear & 0xfff)] : c.mmu.fetchLinear8(linear);
  escape(c, op);
}

/** One handler per escape opcode (D8..DF), for a dispatch table that installs them directly. */
export const X87_HANDLERS: readonly OpHandler[] = [0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf].map(
  (op) => (c: Cpu) => escape(c, op),
);

function escape(c: Cpu, op: number): void {
  c.decodeModrm();
  escapeDecoded(c, op);
}

/** Escape opcode `op` with its ModRM already decoded into c.modrm (and c.ea / c.eaSeg for memory forms). */
export function escapeDecoded(c: Cpu, op: number): void {
  if (c.cr0 & (CR0_EM | CR0_TS)) c.raise(EXC_NM);
  const modrm = c.modrm;
  if (modrm < 0xc0) memoryForm(c, c.fpu, op, (modrm >> 3) & 7);
  else registerForm(c, c.fpu, op, modrm);
}

/**
 * Starts a waiting non-control instruction: reports a pending exception, then records FIP/FCS/FOP and, for a
 * memory operand, FDP/FDS. Returns false when the CPU froze on the instruction (FERR#).
 */
function begin(c: Cpu, f: Fpu, op: number): boolean {
  if (f.sw & SW_ES && !f.checkPendingException()) return false;
  const modrm = c.modrm;
  f.fip = c.instrStart >>> 0;
  f.fcs = c.sreg[CS];
  f.fop = ((op & 7) << 8) | modrm;
  if (modrm < 0xc0) {
    f.fdp = c.ea >>> 0;
    f.fds = c.sreg[c.eaSeg];
  }
  return true;
}

/** A waiting control instruction: only the pending-exception check. */
function waitControl(f: Fpu): boolean {
  return !(f.sw & SW_ES) || f.checkPendingException();
}

// ==========================================================================================================
// Memory forms
// ==========================================================================================================

function memoryForm(c: Cpu, f: Fpu, op: number, reg: number): void {
  const seg = c.eaSeg;
  const ea = c.ea;
  const op32 = c.opsize32 === 1;
  switch (op) {
    case 0xd8: // FADD..FDIVR m32real
    case 0xdc: // m64real
    case 0xda: // FIADD..FIDIVR m32int
    case 0xde: // m16int
      if (!begin(c, f, op)) return;
      if (op === 0xd8) loadReal32(c, f);
      else if (op === 0xdc) loadReal64(c, f);
      else if (op === 0xda) loadInt32(c, f);
      else loadInt16(c, f);
      if (reg === 2 || reg === 3) compareCC(f, SLOT_MEM, false, reg - 2);
      else arith(f, reg, SLOT_MEM, f.st(0), false);
      return;
    case 0xd9:
      switch (reg) {
        case 0: // FLD m32real
          if (!begin(c, f, op)) return;
          loadReal32(c, f);
          pushMem(f, true);
          return;
        case 2: // FST m32real
        case 3: // FSTP m32real
          if (begin(c, f, op)) storeReal(c, f, 4, reg === 3);
          return;
        case 4: // FLDENV
          if (waitControl(f)) fldenv(c, f, seg, ea, op32);
          return;
        case 5: // FLDCW
          if (waitControl(f)) f.setControlWord(c.read16(seg, ea));
          return;
        case 6: // FNSTENV
          fnstenv(c, f, seg, ea, op32);
          return;
        case 7: // FNSTCW
          c.write16(seg, ea, f.cw);
          return;
        default:
          c.raise(EXC_UD);
      }
      return;
    case 0xdb:
      switch (reg) {
        case 0: // FILD m32int
          if (!begin(c, f, op)) return;
          loadInt32(c, f);
          pushMem(f, false);
          return;
        case 2: // FIST m32int
        case 3: // FISTP m32int
          if (begin(c, f, op)) storeInt(c, f, 4, reg === 3);
          return;
        case 5: // FLD m80real
          if (!begin(c, f, op)) return;
          loadExt80(c, f);
          pushMem(f, false);
          return;
        case 7: // FSTP m80real
          if (begin(c, f, op)) storeExt80(c, f);
          return;
        default: // /1 FISTTP (SSE3), /4, /6
          c.raise(EXC_UD);
      }
      return;
    case 0xdd:
      switch (reg) {
        case 0: // FLD m64real
          if (!begin(c, f, op)) return;
          loadReal64(c, f);
          pushMem(f, true);
          return;
        case 2: // FST m64real
        case 3: // FSTP m64real
          if (begin(c, f, op)) storeReal(c, f, 8, reg === 3);
          return;
        case 4: // FRSTOR
          if (waitControl(f)) frstor(c, f, seg, ea, op32);
          return;
        case 6: // FNSAVE
          fnsave(c, f, seg, ea, op32);
          return;
        case 7: // FNSTSW m16
          c.write16(seg, ea, f.statusWord());
          return;
        default: // /1 FISTTP (SSE3), /5
          c.raise(EXC_UD);
      }
      return;
    default: // 0xdf
      switch (reg) {
        case 0: // FILD m16int
          if (!begin(c, f, op)) return;
          loadInt16(c, f);
          pushMem(f, false);
          return;
        case 2: // FIST m16int
        case 3: // FISTP m16int
          if (begin(c, f, op)) storeInt(c, f, 2, reg === 3);
          return;
        case 4: // FBLD m80bcd
          if (!begin(c, f, op)) return;
          loadBcd(c, f);
          pushMem(f, false);
          return;
        case 5: // FILD m64int
          if (!begin(c, f, op)) return;
          loadInt64(c, f);
          pushMem(f, false);
          return;
        case 6: // FBSTP m80bcd
          if (begin(c, f, op)) storeBcd(c, f);
          return;
        case 7: // FISTP m64int
          if (begin(c, f, op)) storeInt(c, f, 8, true);
          return;
        default: // /1 FISTTP (SSE3)
          c.raise(EXC_UD);
      }
  }
}

// ==========================================================================================================
// Register forms
// ==========================================================================================================

function registerForm(c: Cpu, f: Fpu, op: number, modrm: number): void {
  const reg = (modrm >> 3) & 7;
  const i = modrm & 7;
  switch (op) {
    case 0xd8: // FADD..FDIVR ST(0), ST(i); FCOM/FCOMP ST(i)
      if (!begin(c, f, op)) return;
      if (reg === 2 || reg === 3) compareCC(f, f.st(i), false, reg - 2);
      else arith(f, reg, f.st(i), f.st(0), false);
      return;
    case 0xdc: // FADD..FDIV ST(i), ST(0); D0/D8 are aliases of FCOM/FCOMP
    case 0xde: // the same with pop; DE D9 = FCOMPP
      if (op === 0xde && reg === 3 && i !== 1) c.raise(EXC_UD);
      if (!begin(c, f, op)) return;
      if (reg === 2) compareCC(f, f.st(i), false, op === 0xde ? 1 : 0);
      else if (reg === 3) compareCC(f, f.st(i), false, op === 0xde ? 2 : 1);
      else arith(f, reg, f.st(i), f.st(i), op === 0xde);
      return;
    case 0xd9:
      registerD9(c, f, modrm, reg, i);
      return;
    case 0xda:
      if (reg < 4) {
        if (begin(c, f, op)) fcmov(c, f, reg, false, i);
      } else if (modrm === 0xe9) {
        if (begin(c, f, op)) compareCC(f, f.st(1), true, 2); // FUCOMPP
      } else {
        c.raise(EXC_UD);
      }
      return;
    case 0xdb:
      if (reg < 4) {
        if (begin(c, f, op)) fcmov(c, f, reg, true, i);
      } else if (reg === 4) {
        switch (i) {
          case 0: // FNENI (8087), FNDISI, FNSETPM (287): no-ops since the 387
          case 1:
          case 4:
            return;
          case 2: // FNCLEX
            f.clearExceptions();
            return;
          case 3: // FNINIT
            f.init();
            return;
          default:
            c.raise(EXC_UD);
        }
      } else if (reg === 5 || reg === 6) {
        if (begin(c, f, op)) compareEflags(c, f, i, reg === 5, false); // FUCOMI, FCOMI
      } else {
        c.raise(EXC_UD);
      }
      return;
    case 0xdd:
      if (reg >= 6) c.raise(EXC_UD);
      if (!begin(c, f, op)) return;
      switch (reg) {
        case 0: // FFREE
          f.empty[f.st(i)] = 1;
          return;
        case 1: // FXCH alias
          fxch(f, i);
          return;
        case 2: // FST ST(i)
        case 3: // FSTP ST(i)
          fstReg(f, i, reg === 3);
          return;
        default: // FUCOM, FUCOMP
          compareCC(f, f.st(i), true, reg - 4);
      }
      return;
    default: // 0xdf
      if (reg === 4) {
        if (i !== 0) c.raise(EXC_UD);
        c.reg16[0] = f.statusWord(); // FNSTSW AX
        return;
      }
      if (reg === 7) c.raise(EXC_UD);
      if (!begin(c, f, op)) return;
      switch (reg) {
        case 0: // FFREEP (undocumented): free ST(i), pop
          f.empty[f.st(i)] = 1;
          f.pop();
          return;
        case 1: // FXCH alias
          fxch(f, i);
          return;
        case 2: // FSTP aliases
        case 3:
          fstReg(f, i, true);
          return;
        default: // FUCOMIP, FCOMIP
          compareEflags(c, f, i, reg === 5, true);
      }
  }
}

function registerD9(c: Cpu, f: Fpu, modrm: number, reg: number, i: number): void {
  if (reg === 2 && i !== 0) c.raise(EXC_UD); // D9 D1-D7
  if (reg === 4 && (i === 2 || i === 3 || i === 6 || i === 7)) c.raise(EXC_UD);
  if (modrm === 0xef) c.raise(EXC_UD);
  if (!begin(c, f, 0xd9)) return;
  switch (reg) {
    case 0: // FLD ST(i)
      fldReg(f, i);
      return;
    case 1: // FXCH ST(i)
      fxch(f, i);
      return;
    case 2: // FNOP
      return;
    case 3: // FSTP1 (alias of FSTP ST(i))
      fstReg(f, i, true);
      return;
    case 4:
      switch (i) {
        case 0: // FCHS
          fsign(f, true);
          return;
        case 1: // FABS
          fsign(f, false);
          return;
        case 4: // FTST
          compareCC(f, -1, false, 0);
          return;
        default: // FXAM
          fxam(f);
      }
      return;
    case 5: // FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ
      fldConst(f, i);
      return;
    case 6:
      switch (i) {
        case 0:
          f2xm1(f);
          return;
        case 1:
          fyl2x(f, false);
          return;
        case 2:
          trig(f, TRIG_TAN); // FPTAN
          return;
        case 3:
          fpatan(f);
          return;
        case 4:
          fxtract(f);
          return;
        case 5:
          fprem(f, true); // FPREM1
          return;
        case 6: // FDECSTP
          f.top = (f.top - 1) & 7;
          f.sw &= ~SW_C1;
          return;
        default: // FINCSTP
          f.top = (f.top + 1) & 7;
          f.sw &= ~SW_C1;
      }
      return;
    default:
      switch (i) {
        case 0:
          fprem(f, false); // FPREM
          return;
        case 1:
          fyl2x(f, true); // FYL2XP1
          return;
        case 2:
          unary(f, sqrtOp); // FSQRT
          return;
        case 3:
          trig(f, TRIG_SINCOS);
          return;
        case 4:
          unary(f, roundIntOp); // FRNDINT
          return;
        case 5:
          fscale(f);
          return;
        case 6:
          trig(f, TRIG_SIN);
          return;
        default:
          trig(f, TRIG_COS);
      }
  }
}
