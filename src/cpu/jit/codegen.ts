/**
 * The compiler: turns a basic block of guest code into the JavaScript source of a function (see jit.ts for
 * how it is built with `new Function`, cached and run).
 *
 * A block is straight-line code: it ends at a branch, at an instruction the compiler leaves to the
 * interpreter and that may change anything a block relies on (I/O, segment loads, mode switches, IF, TF,
 * HLT, REP string instructions, x87...), at the end of the page, or after MAX_INSTRUCTIONS. In the
 * generated function:
 *
 *  - the guest registers and the lazy-flag fields live in locals (r0..r7, lop/lsz/ld/ls/lr/lf, fl), loaded
 *    at entry and stored back at the exit, so V8 keeps them in machine registers;
 *  - every instruction is the interpreter's handler specialised on its operand size, address size and
 *    ModRM form, doing the same steps in the same order (memory writes before flags, flags recorded in the
 *    same lazy fields with the same values), so the architectural state after it is identical;
 *  - conditions (Jcc, SETcc, CMOVcc, ADC's carry...) are computed straight from the locals when the
 *    instruction that set the flags is in the same block (the compiler knows its operation and size);
 *  - a guest exception thrown by a memory access (or raised by the block: #GP on a branch beyond the CS
 *    limit) unwinds through a catch that stores the locals back (no instruction modifies a local before its
 *    last possible fault, except where the interpreter does the same) and sets instrStart and
 *    instructionCount to the faulting instruction, exactly as the interpreter leaves them;
 *  - an instruction the compiler does not translate runs in the interpreter (Cpu.stepUnchecked) with the
 *    locals stored before and reloaded after; when it cannot disturb the block (a "pure" one: PUSHA, ENTER,
 *    RCL, CPUID, x87, ...) the block goes on (unless it wrote the block's page or froze the CPU), otherwise
 *    it is the block's last instruction;
 *  - after an instruction that wrote memory, a check of `J.smc` ends the block when the write hit the page
 *    the block was compiled from (self-modifying code; see Jit.invalidatePage).
 */
import { CR4_TSD, DS, ES } from '../constants.ts';
import { FLAG_IF, FLAG_IOPL, FLAG_RF, FLAG_VM } from '../flags.ts';
import { TLB_PHYS } from '../paging.ts';
import { decode, type Insn } from './decoder.ts';
import {
  MAX_INSTRUCTIONS,
  MAX_REGION_BLOCKS,
  MAX_REGION_INSTRUCTIONS,
  MODE_CODE32,
  MODE_SINGLE,
  MODE_STACK32,
} from './tuning.ts';

const ARITH = 0x8d5; // CF PF AF ZF SF OF
const CF = 0x1;
const PF = 0x4;
const AF = 0x10;
const ZF = 0x40;
const SF = 0x80;
const DF = 0x400;
const OF = 0x800;

const OP_ADD = 0;
const OP_SUB = 2;
const OP_LOGIC = 4;

const SIZE_MASKS = [0xff, 0xffff, -1];
const SIGN_SHIFTS = [7, 15, 31];
const BITS = [8, 16, 32];
const READ = ['rd8', 'rd16', 'rd32'];
const WRITE = ['wr8', 'wr16', 'wr32'];

/**
 * The test of an inline memory access (see Block.read): the TLB entry `mi` of linear page `ml >>> 12` has
 * the rights `bit` names, the `last` bytes after the first stay on the page, and segment `seg` is a plain one
 * whose limit covers offsets `off` .. `off + last` (unsigned, kept in 32-bit arithmetic).
 */
function fastCheck(seg: number, last: number, bit: 'readBit' | 'writeBit', off: string): string {
  const page = last === 0 ? '' : ` && (ml & 0xfff) <= ${0xfff - last}`;
  const limit = last === 0 ? '' : ` && ((SL[${seg}] - ${off}) >>> 0) >= ${last}`;
  return `(mi & mmu.${bit}) !== 0${page} && SF[${seg}] === 0 && ${off} >>> 0 <= SL[${seg}]${limit}`;
}

/** Static knowledge of the lazy-flag locals: -1 = known only at run time. */
interface FlagState {
  op: number;
  size: number;
  mask: number;
}

/** Which opcodes may stand before LOCK without #UD (a copy of the rule in dispatch.ts), by ModRM.reg. */
export function lockable(insn: Insn): boolean {
  if (insn.modrm < 0 || insn.modrm >= 0xc0) return false;
  const reg = (insn.modrm >> 3) & 7;
  const op = insn.op;
  if (op < 0x40) return (op & 7) < 2 && op !== 0x38 && op !== 0x39;
  switch (op) {
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83:
      return reg !== 7;
    case 0x86:
    case 0x87:
    case 0x1ab:
    case 0x1b3:
    case 0x1bb:
    case 0x1b0:
    case 0x1b1:
    case 0x1c0:
    case 0x1c1:
      return true;
    case 0xf6:
    case 0xf7:
      return reg === 2 || reg === 3;
    case 0xfe:
    case 0xff:
      return reg < 2;
    case 0x1ba:
      return reg >= 5;
    case 0x1c7:
      return reg === 1;
    default:
      return false;
  }
}

/** Instructions the interpreter runs inside a block without ending it (they touch only registers, flags and memory). */
function isPure(insn: Insn): boolean {
  const op = insn.op;
  const reg = (insn.modrm >> 3) & 7;
  switch (op) {
    case 0x27:
    case 0x2f:
    case 0x37:
    case 0x3f:
    case 0x60:
    case 0x61:
    case 0x62:
    case 0x8f:
    case 0x98:
    case 0x99:
    case 0x9c:
    case 0x9e:
    case 0x9f:
    case 0xc8:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0x1a2:
    case 0x131:
    case 0x1a3:
    case 0x1a4:
    case 0x1a5:
    case 0x1ab:
    case 0x1ac:
    case 0x1ad:
    case 0x1af:
    case 0x1b0:
    case 0x1b1:
    case 0x1b3:
    case 0x1bb:
    case 0x1bc:
    case 0x1bd:
    case 0x1c0:
    case 0x1c1:
      return true;
    case 0x1ba:
      return reg >= 4;
    case 0x1c7:
      return reg === 1 && insn.modrm < 0xc0;
    case 0xc0:
    case 0xc1:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
      return true;
    case 0xf6:
    case 0xf7:
      return true;
    default:
      if (op >= 0x1c8 && op <= 0x1cf) return true;
      // x87: FPU state, memory (the SMC check follows), AX (FNSTSW) and EFLAGS (FCOMI), which the fallback
      // stores and reloads; a pending exception raises #MF or freezes the CPU (halted: the block stops).
      if (op >= 0xd8 && op <= 0xdf) return true;
      // String instructions without REP (with it they restart themselves: the block must end).
      if ((op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf)) return insn.rep === 0;
      return false;
  }
}

const hex = (v: number) => (v < 0 ? '-0x' + (-v).toString(16) : '0x' + v.toString(16));

class Builder {
  readonly out: string[] = [];
  /** Registers the block reads or writes (loaded at entry) and writes (stored back). */
  touched = 0;
  written = 0;
  flagsTouched = false;
  lazyWritten = false;
  flWritten = false;
  fs: FlagState = { op: -1, size: -1, mask: -1 };
  /** Set when the current instruction writes memory (an SMC check follows it). */
  wroteMemory = false;
  usesFallback = false;
  /** Memory accesses written out in place (see read()) rather than calls to the runtime's helpers. */
  inlineMemory = false;

  constructor(
    readonly code32: number,
    readonly stack32: number,
  ) {}

  emit(line: string): void {
    this.out.push(line);
  }

  // ---- registers ----
  reg(n: number, size: number): string {
    if (size === 2) {
      this.touched |= 1 << n;
      return `r${n}`;
    }
    if (size === 1) {
      this.touched |= 1 << n;
      return `(r${n} & 0xffff)`;
    }
    const r = n & 3;
    this.touched |= 1 << r;
    return n < 4 ? `(r${r} & 0xff)` : `((r${r} >> 8) & 0xff)`;
  }
  setReg(n: number, size: number, value: string): string {
    if (size === 2) {
      this.touched |= 1 << n;
      this.written |= 1 << n;
      return /^[a-z]\w*$/.test(value) ? `r${n} = ${value};` : `r${n} = (${value}) | 0;`;
    }
    if (size === 1) {
      this.touched |= 1 << n;
      this.written |= 1 << n;
      return `r${n} = (r${n} & -65536) | ((${value}) & 0xffff);`;
    }
    const r = n & 3;
    this.touched |= 1 << r;
    this.written |= 1 << r;
    return n < 4
      ? `r${r} = (r${r} & -256) | ((${value}) & 0xff);`
      : `r${r} = (r${r} & -65281) | (((${value}) & 0xff) << 8);`;
  }

  // ---- memory operands ----
  /** The effective address expression of the ModRM memory operand. */
  address(insn: Insn): string {
    const parts: string[] = [];
    if (insn.a32) {
      if (insn.base >= 0) parts.push(this.reg(insn.base, 2));
      if (insn.index >= 0) {
        const r = this.reg(insn.index, 2);
        parts.push(insn.scale ? `(${r} << ${insn.scale})` : r);
      }
      if (insn.disp !== 0 || parts.length === 0) parts.push(hex(insn.disp));
      if (parts.length === 1 && parts[0].startsWith('r')) return parts[0];
      return `(${parts.join(' + ')}) | 0`;
    }
    if (insn.base >= 0) parts.push(this.reg(insn.base, 1));
    if (insn.index >= 0) parts.push(this.reg(insn.index, 1));
    if (insn.disp !== 0 || parts.length === 0) parts.push(hex(insn.disp));
    if (parts.length === 1 && !parts[0].startsWith('(')) return parts[0];
    return `(${parts.join(' + ')}) & 0xffff`;
  }
  /**
   * A memory read: the runtime helper's fast path written out in place (V8 inlines only the first few calls
   * of a large region; the calls were a third of the time in the kernel's decompressor and its RSA code), the
   * helper itself when any check fails: segment not plain, beyond the limit, TLB miss or no rights, page
   * crossing. `ma`, `ml`, `mi` are the region's scratch locals; the address is evaluated once.
   */
  read(size: number, seg: number, addr: string): string {
    if (!this.inlineMemory) return `${READ[size]}(${seg}, ${addr})`;
    const last = (1 << size) - 1; // bytes after the first
    const ram =
      size === 2
        ? `(ml & 3) === 0 ? RAM32[ml >> 2] : RAM[ml] | (RAM[ml + 1] << 8) | (RAM[ml + 2] << 16) | (RAM[ml + 3] << 24)`
        : size === 1
          ? `RAM[ml] | (RAM[ml + 1] << 8)`
          : `RAM[ml]`;
    return `(ma = ${addr}, ml = (SB[${seg}] + ma) | 0, mi = TLB[ml >>> 12], ${fastCheck(seg, last, 'readBit', 'ma')} ? (ml = (mi & ${TLB_PHYS}) + (ml & 0xfff), ${ram}) : ${READ[size]}(${seg}, ma))`;
  }
  /** A memory write, with the helper's fast path in place as read() has it. */
  write(size: number, seg: number, addr: string, value: string): string {
    this.wroteMemory = true;
    if (!this.inlineMemory) return `${WRITE[size]}(${seg}, ${addr}, ${value});`;
    const last = (1 << size) - 1;
    const ram =
      size === 2
        ? `if ((ml & 3) === 0) RAM32[ml >> 2] = wv; else { RAM[ml] = wv; RAM[ml + 1] = wv >> 8; RAM[ml + 2] = wv >> 16; RAM[ml + 3] = wv >> 24; }`
        : size === 1
          ? `RAM[ml] = wv; RAM[ml + 1] = wv >> 8;`
          : `RAM[ml] = wv;`;
    return `{ const wa = ${addr}, wv = ${value}; ml = (SB[${seg}] + wa) | 0; mi = TLB[ml >>> 12]; if (${fastCheck(seg, last, 'writeBit', 'wa')}) { ml = (mi & ${TLB_PHYS}) + (ml & 0xfff); ${ram} } else ${WRITE[size]}(${seg}, wa, wv); }`;
  }
  /** r/m operand read (after `const a = address` for memory forms). */
  rmRead(insn: Insn, size: number): string {
    if (insn.modrm >= 0xc0) return this.reg(insn.modrm & 7, size);
    return this.read(size, insn.eaSeg, 'a');
  }
  rmWrite(insn: Insn, size: number, value: string): string {
    if (insn.modrm >= 0xc0) return this.setReg(insn.modrm & 7, size, value);
    return this.write(size, insn.eaSeg, 'a', value);
  }
  /** `const a = <address>;` for a memory operand, or nothing. */
  addrDecl(insn: Insn): string {
    return insn.modrm >= 0 && insn.modrm < 0xc0 ? `const a = ${this.address(insn)};` : '';
  }

  // ---- stack ----
  sp(): string {
    this.touched |= 1 << 4;
    return this.stack32 ? 'r4' : '(r4 & 0xffff)';
  }
  spOffset(delta: number): string {
    this.touched |= 1 << 4;
    return this.stack32 ? `(r4 + ${delta}) | 0` : `(r4 + ${delta}) & 0xffff`;
  }
  setSp(value: string): string {
    this.touched |= 1 << 4;
    this.written |= 1 << 4;
    return this.stack32 ? `r4 = ${value};` : `r4 = (r4 & -65536) | ${value};`;
  }
  adjustSp(delta: number): string {
    this.touched |= 1 << 4;
    this.written |= 1 << 4;
    return this.stack32 ? `r4 = (r4 + ${delta}) | 0;` : `r4 = (r4 & -65536) | ((r4 + ${delta}) & 0xffff);`;
  }
  /** PUSH of `value` (already a local or constant) with a 2- or 4-byte slot. */
  push(size: number, value: string): string {
    return `{ const sp = ${this.spOffset(size === 2 ? -4 : -2)}; ${this.write(size, 2, 'sp', value)} ${this.setSp('sp')} }`;
  }

  // ---- flags ----
  touchFlags(): void {
    this.flagsTouched = true;
  }
  /** setLazy(c, op, size, dst, src, res): `op` is a constant or, with opKnown -1, an expression. */
  setLazy(op: number | string, size: number, dst: string, src: string, res: string): string {
    this.flagsTouched = true;
    this.lazyWritten = true;
    this.fs = { op: typeof op === 'number' ? op : -1, size, mask: ARITH };
    return `lop = ${op}; lsz = ${size}; ld = ${dst}; ls = ${src}; lr = ${res}; lf = ${ARITH};`;
  }
  /** setResultFlags(c, size, res, cf, of, 0): cf and of are 0/1 expressions. */
  setResult(size: number, res: string, cf: string, of: string): string {
    this.flagsTouched = true;
    this.lazyWritten = true;
    this.flWritten = true;
    this.fs = { op: OP_LOGIC, size, mask: PF | ZF | SF };
    return `lop = ${OP_LOGIC}; lsz = ${size}; ld = 0; ls = 0; lr = ${res}; lf = ${PF | ZF | SF}; fl = (fl & ${~(CF | OF | AF)}) | ${cf} | (${of} << 11);`;
  }
  /** setFlag(c, flag, v) with v a 0/1 expression. */
  setFlag(flag: number, value: string): string {
    this.flagsTouched = true;
    this.lazyWritten = true;
    this.flWritten = true;
    if (this.fs.mask >= 0) this.fs = { ...this.fs, mask: this.fs.mask & ~flag };
    const shift = Math.log2(flag);
    return `lf &= ${~flag}; fl = (fl & ${~flag}) | (${value}${shift ? ` << ${shift}` : ''});`;
  }

  /** A JS boolean expression for one arithmetic flag, or null if only the run time knows how. */
  flag(flag: number): string | null {
    this.flagsTouched = true;
    const { op, size, mask } = this.fs;
    if (mask < 0) return null;
    if (!(mask & flag)) return `(fl & ${flag}) !== 0`;
    if (size < 0) return null;
    const m = SIZE_MASKS[size];
    const sh = SIGN_SHIFTS[size];
    switch (flag) {
      case ZF:
        return `(lr & ${m}) === 0`;
      case SF:
        return `((lr >>> ${sh}) & 1) !== 0`;
      case PF:
        return `PARITY[lr & 0xff] !== 0`;
      case CF: {
        if (op < 0) return null;
        const u = (v: string) => (size === 2 ? `(${v} >>> 0)` : `(${v} & ${m})`);
        switch (op) {
          case 0:
            return `${u('lr')} < ${u('ld')}`;
          case 1:
            return `${u('lr')} <= ${u('ld')}`;
          case 2:
            return `${u('ld')} < ${u('ls')}`;
          case 3:
            return `${u('ld')} <= ${u('ls')}`;
          default:
            return 'false';
        }
      }
      case OF:
        if (op < 0) return null;
        if (op === 0 || op === 1) return `((((ld ^ lr) & (ls ^ lr)) >>> ${sh}) & 1) !== 0`;
        if (op === 2 || op === 3) return `((((ld ^ ls) & (ld ^ lr)) >>> ${sh}) & 1) !== 0`;
        return 'false';
      default:
        return null;
    }
  }

  /** CF as a 0/1 expression. */
  carry(): string {
    const f = this.flag(CF);
    return f === null ? 'cfL(lop, lsz, ld, ls, lr, lf, fl)' : `(${f} ? 1 : 0)`;
  }

  /** Condition code `cc` (Jcc/SETcc/CMOVcc low nibble) as a JS boolean expression. */
  condition(cc: number): string {
    this.flagsTouched = true;
    const { op, size, mask } = this.fs;
    const negate = (e: string) => (cc & 1 ? `!(${e})` : `(${e})`);
    if (mask === ARITH && size >= 0 && (op === OP_SUB || op === OP_LOGIC)) {
      const m = SIZE_MASKS[size];
      const u = (v: string) => (size === 2 ? `(${v} >>> 0)` : `(${v} & ${m})`);
      const s = (v: string) =>
        size === 2 ? `(${v} | 0)` : `((${v} << ${32 - BITS[size]}) >> ${32 - BITS[size]})`;
      const zf = `(lr & ${m}) === 0`;
      const sf = `((lr >>> ${SIGN_SHIFTS[size]}) & 1) !== 0`;
      if (op === OP_SUB) {
        switch (cc >> 1) {
          case 1:
            return negate(`${u('ld')} < ${u('ls')}`);
          case 2:
            return negate(zf);
          case 3:
            return negate(`${u('ld')} <= ${u('ls')}`);
          case 6:
            return negate(`${s('ld')} < ${s('ls')}`);
          case 7:
            return negate(`${s('ld')} <= ${s('ls')}`);
        }
      } else {
        switch (cc >> 1) {
          case 0:
          case 1:
            return negate('false');
          case 2:
          case 3:
            return negate(zf);
          case 4:
          case 6:
            return negate(sf);
          case 7:
            return negate(`${zf} || ${sf}`);
        }
      }
    }
    let e: string | null;
    switch (cc >> 1) {
      case 0:
        e = this.flag(OF);
        break;
      case 1:
        e = this.flag(CF);
        break;
      case 2:
        e = this.flag(ZF);
        break;
      case 3: {
        const a = this.flag(CF);
        const b = this.flag(ZF);
        e = a && b && `${a} || ${b}`;
        break;
      }
      case 4:
        e = this.flag(SF);
        break;
      case 5:
        e = this.flag(PF);
        break;
      case 6: {
        const a = this.flag(SF);
        const b = this.flag(OF);
        e = a && b && `(${a}) !== (${b})`;
        break;
      }
      default: {
        const z = this.flag(ZF);
        const a = this.flag(SF);
        const b = this.flag(OF);
        e = z && a && b && `${z} || (${a}) !== (${b})`;
        break;
      }
    }
    if (e === null) return `condL(${cc}, lop, lsz, ld, ls, lr, lf, fl)`;
    return negate(e);
  }

  /** The flag locals' compile-time knowledge is lost (after the interpreter ran, or a data-dependent path). */
  forgetFlags(): void {
    this.fs = { op: -1, size: -1, mask: -1 };
  }
}

/** Result expression of ALU operation `op` (ADD OR ADC SBB AND SUB XOR CMP), as aluResult() computes it. */
function aluResult(op: number, d: string, s: string): string {
  switch (op) {
    case 0:
      return `(${d} + ${s}) | 0`;
    case 1:
      return `${d} | ${s}`;
    case 2:
      return `(${d} + ${s} + cf) | 0`;
    case 3:
      return `(${d} - ${s} - cf) | 0`;
    case 4:
      return `${d} & ${s}`;
    case 6:
      return `${d} ^ ${s}`;
    default:
      return `(${d} - ${s}) | 0`;
  }
}

/** The flag recording of ALU operation `op` (aluFlags()). */
function aluFlags(b: Builder, op: number, size: number): string {
  switch (op) {
    case 0:
      return b.setLazy(OP_ADD, size, 'd', 's', 'r');
    case 2:
      return b.setLazy('cf', size, 'd', 's', 'r');
    case 3:
      return b.setLazy('2 + cf', size, 'd', 's', 'r');
    case 5:
    case 7:
      return b.setLazy(OP_SUB, size, 'd', 's', 'r');
    default:
      return b.setLazy(OP_LOGIC, size, '0', '0', 'r');
  }
}

/** ALU op with destination r/m (memory written before the flags), source expression `src`. */
function aluRm(b: Builder, insn: Insn, op: number, size: number, src: string): string {
  const parts = [b.addrDecl(insn), `const d = ${b.rmRead(insn, size)};`, `const s = ${src};`];
  if (op === 2 || op === 3) parts.push(`const cf = ${b.carry()};`);
  parts.push(`const r = ${aluResult(op, 'd', 's')};`);
  if (op !== 7) parts.push(b.rmWrite(insn, size, 'r'));
  parts.push(aluFlags(b, op, size));
  return parts.join(' ');
}

/** ALU op with a register destination `dst` (register number, size) and source expression. */
function aluReg(b: Builder, op: number, size: number, dst: number, src: string, pre = ''): string {
  const parts = [pre, `const d = ${b.reg(dst, size)};`, `const s = ${src};`];
  if (op === 2 || op === 3) parts.push(`const cf = ${b.carry()};`);
  parts.push(`const r = ${aluResult(op, 'd', 's')};`);
  if (op !== 7) parts.push(b.setReg(dst, size, 'r'));
  parts.push(aluFlags(b, op, size));
  return parts.join(' ');
}

/** Immediate as the interpreter's fetch gives it for `size` (imm8 zero-extended, imm16 zero-extended). */
const imm = (v: number) => hex(v);

/** Shift/rotate (group 2: ROL ROR SHL SHR SAL SAR; RCL/RCR are left to the interpreter) by `count`. */
function shift(b: Builder, insn: Insn, size: number, countExpr: string | number): string | null {
  const op = (insn.modrm >> 3) & 7;
  if (op === 2 || op === 3) return null;
  const bits = BITS[size];
  const m = SIZE_MASKS[size];
  const top = SIGN_SHIFTS[size];
  const parts = [b.addrDecl(insn), `const d = ${b.rmRead(insn, size)}${size === 2 ? '' : ` & ${m}`};`];
  // A count of zero changes nothing: the operand is read (it may fault), nothing else.
  if (typeof countExpr === 'number' && (countExpr & 0x1f) === 0) return parts.join(' ');
  let body: string[];
  const n = typeof countExpr === 'number' ? String(countExpr) : 'n';
  switch (op) {
    case 0:
      body = [
        `const k8 = ${n} % ${bits};`,
        `const r = k8 === 0 ? d : ((d << k8) | (d >>> (${bits} - k8))) & ${m};`,
        `const cf = r & 1;`,
        `const of = ((r >>> ${top}) & 1) ^ cf;`,
      ];
      break;
    case 1:
      body = [
        `const k8 = ${n} % ${bits};`,
        `const r = k8 === 0 ? d : ((d >>> k8) | (d << (${bits} - k8))) & ${m};`,
        `const cf = (r >>> ${top}) & 1;`,
        `const of = cf ^ ((r >>> ${top - 1}) & 1);`,
      ];
      break;
    case 4:
    case 6:
      body = [
        `const r = (d << ${n}) & ${m};`,
        `const cf = ${n} <= ${bits} ? (d >>> (${bits} - ${n})) & 1 : 0;`,
        `const of = ((r >>> ${top}) & 1) ^ cf;`,
      ];
      break;
    case 5:
      body = [
        `const r = d >>> ${n};`,
        `const cf = ${n} <= ${bits} ? (d >>> (${n} - 1)) & 1 : 0;`,
        `const of = ((d >>> (${n} - 1)) >>> ${top}) & 1;`,
      ];
      break;
    default:
      body = [
        `const sx = (d << ${31 - top}) >> ${31 - top};`,
        `const r = (${n} >= ${bits} ? sx >> ${bits - 1} : sx >> ${n}) & ${m};`,
        `const cf = (${n} >= ${bits} ? sx >> ${bits - 1} : sx >> (${n} - 1)) & 1;`,
        `const of = 0;`,
      ];
      break;
  }
  body.push(b.rmWrite(insn, size, 'r'));
  if (op < 4) body.push(b.setFlag(CF, 'cf'), b.setFlag(OF, 'of'));
  else body.push(b.setResult(size, 'r', 'cf', 'of'));
  if (typeof countExpr === 'number') return [...parts, ...body].join(' ');
  // A count from CL: zero changes nothing, so the flags' compile-time state is lost either way.
  const code = [...parts, `const n = ${countExpr} & 0x1f;`, `if (n !== 0) {`, ...body, `}`].join(' ');
  b.forgetFlags();
  return code;
}

/** What an instruction compiles to. */
type Emitted =
  | { kind: 'code'; code: string }
  | { kind: 'branch'; code: string; targets: number[] } // sets pc itself: the block ends
  | { kind: 'pure' }
  | { kind: 'end' };

/**
 * Translates one instruction. Branch code leaves the new EIP in the local `pc`; `targets` are its static successors.
 */
function translate(b: Builder, insn: Insn): Emitted {
  const op = insn.op;
  const o32 = insn.o32;
  const osz = o32 ? 2 : 1;
  const reg = (insn.modrm >> 3) & 7;
  const mem = insn.modrm >= 0 && insn.modrm < 0xc0;
  const code = (c: string): Emitted => ({ kind: 'code', code: c });
  const next = insn.next;

  if (insn.lock && !lockable(insn)) return { kind: 'end' };

  // ---- the eight ALU operations, six forms each ----
  if (op < 0x40 && (op & 7) < 6) {
    const alu = (op >> 3) & 7;
    switch (op & 7) {
      case 0:
        return code(aluRm(b, insn, alu, 0, b.reg(reg, 0)));
      case 1:
        return code(aluRm(b, insn, alu, osz, b.reg(reg, osz)));
      case 2:
        return code(aluReg(b, alu, 0, reg, b.rmRead(insn, 0), b.addrDecl(insn)));
      case 3:
        return code(aluReg(b, alu, osz, reg, b.rmRead(insn, osz), b.addrDecl(insn)));
      case 4:
        return code(aluReg(b, alu, 0, 0, imm(insn.imm)));
      default:
        return code(aluReg(b, alu, osz, 0, imm(insn.imm)));
    }
  }

  switch (op) {
    // ---- INC/DEC r16/32 (CF unaffected) ----
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x44:
    case 0x45:
    case 0x46:
    case 0x47:
    case 0x48:
    case 0x49:
    case 0x4a:
    case 0x4b:
    case 0x4c:
    case 0x4d:
    case 0x4e:
    case 0x4f: {
      const n = op & 7;
      const dec = op >= 0x48;
      return code(incDec(b, osz, dec, b.reg(n, osz), (v) => b.setReg(n, osz, v), ''));
    }
    // ---- PUSH/POP r16/32 ----
    case 0x50:
    case 0x51:
    case 0x52:
    case 0x53:
    case 0x54:
    case 0x55:
    case 0x56:
    case 0x57:
      return code(`const v = ${b.reg(op & 7, osz)}; ${b.push(osz, 'v')}`);
    case 0x58:
    case 0x59:
    case 0x5a:
    case 0x5b:
    case 0x5c:
    case 0x5d:
    case 0x5e:
    case 0x5f:
      return code(
        `const v = ${b.read(osz, 2, b.sp())}; ${b.adjustSp(o32 ? 4 : 2)} ${b.setReg(op & 7, osz, 'v')}`,
      );
    case 0x68:
      return code(b.push(osz, imm(insn.imm)));
    case 0x6a:
      return code(b.push(osz, hex((insn.imm << 24) >> 24)));
    // ---- IMUL r, r/m, imm ----
    case 0x69:
    case 0x6b: {
      const k = op === 0x6b ? (insn.imm << 24) >> 24 : insn.imm;
      return code(
        `${b.addrDecl(insn)} const x = ${b.rmRead(insn, osz)}; ${imulTruncated(b, osz, reg, 'x', hex(k))}`,
      );
    }
    case 0x1af:
      return code(
        `${b.addrDecl(insn)} const x = ${b.rmRead(insn, osz)}; ${imulTruncated(b, osz, reg, b.reg(reg, osz), 'x')}`,
      );
    // ---- Jcc rel8 / rel16/32 ----
    case 0x70:
    case 0x71:
    case 0x72:
    case 0x73:
    case 0x74:
    case 0x75:
    case 0x76:
    case 0x77:
    case 0x78:
    case 0x79:
    case 0x7a:
    case 0x7b:
    case 0x7c:
    case 0x7d:
    case 0x7e:
    case 0x7f: {
      const target = (next + ((insn.imm << 24) >> 24)) | 0;
      return {
        kind: 'branch',
        code: `if (${b.condition(op & 15)}) { ${jumpTo(b, insn, target)} } else pc = ${hex(next)};`,
        targets: [next, jumpTarget(b, insn, target)],
      };
    }
    // ---- group 1 ----
    case 0x80:
    case 0x82:
      return code(aluRm(b, insn, reg, 0, imm(insn.imm)));
    case 0x81:
      return code(aluRm(b, insn, reg, osz, imm(o32 ? insn.imm : insn.imm & 0xffff)));
    case 0x83: {
      const v = (insn.imm << 24) >> 24;
      return code(aluRm(b, insn, reg, osz, imm(o32 ? v : v & 0xffff)));
    }
    // ---- TEST ----
    case 0x84:
    case 0x85: {
      const size = op === 0x84 ? 0 : osz;
      return code(
        `${b.addrDecl(insn)} const r = ${b.rmRead(insn, size)} & ${b.reg(reg, size)}; ${b.setLazy(OP_LOGIC, size, '0', '0', 'r')}`,
      );
    }
    case 0xa8:
      return code(`const r = ${b.reg(0, 0)} & ${imm(insn.imm)}; ${b.setLazy(OP_LOGIC, 0, '0', '0', 'r')}`);
    case 0xa9:
      return code(
        `const r = ${b.reg(0, osz)} & ${imm(insn.imm)}; ${b.setLazy(OP_LOGIC, osz, '0', '0', 'r')}`,
      );
    // ---- XCHG ----
    case 0x86:
    case 0x87: {
      const size = op === 0x86 ? 0 : osz;
      return code(
        `${b.addrDecl(insn)} const v = ${b.rmRead(insn, size)}; const w = ${b.reg(reg, size)}; ${b.rmWrite(insn, size, 'w')} ${b.setReg(reg, size, 'v')}`,
      );
    }
    case 0x91:
    case 0x92:
    case 0x93:
    case 0x94:
    case 0x95:
    case 0x96:
    case 0x97: {
      const n = op & 7;
      return code(`const v = ${b.reg(n, osz)}; ${b.setReg(n, osz, b.reg(0, osz))} ${b.setReg(0, osz, 'v')}`);
    }
    case 0x90:
      return code('');
    // ---- MOV ----
    case 0x88:
      return code(`${b.addrDecl(insn)} ${b.rmWrite(insn, 0, b.reg(reg, 0))}`);
    case 0x89:
      return code(`${b.addrDecl(insn)} ${b.rmWrite(insn, osz, b.reg(reg, osz))}`);
    case 0x8a:
      return code(`${b.addrDecl(insn)} const v = ${b.rmRead(insn, 0)}; ${b.setReg(reg, 0, 'v')}`);
    case 0x8b:
      return code(`${b.addrDecl(insn)} const v = ${b.rmRead(insn, osz)}; ${b.setReg(reg, osz, 'v')}`);
    case 0x8c:
      if (reg > 5) return { kind: 'end' };
      if (!mem && o32) return code(b.setReg(insn.modrm & 7, 2, `SR[${reg}]`));
      return code(`${b.addrDecl(insn)} ${b.rmWrite(insn, 1, `SR[${reg}]`)}`);
    case 0x8d:
      if (!mem) return { kind: 'end' };
      return code(b.setReg(reg, osz, b.address(insn)));
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3: {
      const seg = insn.seg >= 0 ? insn.seg : 3;
      const size = op & 1 ? osz : 0;
      if (op < 0xa2) return code(`const v = ${b.read(size, seg, imm(insn.imm))}; ${b.setReg(0, size, 'v')}`);
      return code(b.write(size, seg, imm(insn.imm), b.reg(0, size)));
    }
    case 0xb0:
    case 0xb1:
    case 0xb2:
    case 0xb3:
    case 0xb4:
    case 0xb5:
    case 0xb6:
    case 0xb7:
      return code(b.setReg(op & 7, 0, imm(insn.imm)));
    case 0xb8:
    case 0xb9:
    case 0xba:
    case 0xbb:
    case 0xbc:
    case 0xbd:
    case 0xbe:
    case 0xbf:
      return code(b.setReg(op & 7, osz, imm(insn.imm)));
    case 0xc6:
      if (reg !== 0) return { kind: 'end' };
      return code(`${b.addrDecl(insn)} ${b.rmWrite(insn, 0, imm(insn.imm))}`);
    case 0xc7:
      if (reg !== 0) return { kind: 'end' };
      return code(`${b.addrDecl(insn)} ${b.rmWrite(insn, osz, imm(insn.imm))}`);
    // ---- CBW/CWDE, CWD/CDQ ----
    case 0x98:
      return code(o32 ? b.setReg(0, 2, `(r0 << 16) >> 16`) : b.setReg(0, 1, `(${b.reg(0, 0)} << 24) >> 24`));
    case 0x99:
      return code(
        o32 ? b.setReg(2, 2, `${b.reg(0, 2)} >> 31`) : b.setReg(2, 1, `(${b.reg(0, 1)} << 16) >> 31`),
      );
    // ---- shifts ----
    case 0xc0:
      return orEnd(shift(b, insn, 0, insn.imm & 0x1f));
    case 0xc1:
      return orEnd(shift(b, insn, osz, insn.imm & 0x1f));
    case 0xd0:
      return orEnd(shift(b, insn, 0, 1));
    case 0xd1:
      return orEnd(shift(b, insn, osz, 1));
    case 0xd2:
      return orEnd(shift(b, insn, 0, b.reg(1, 0)));
    case 0xd3:
      return orEnd(shift(b, insn, osz, b.reg(1, 0)));
    // ---- near RET, CALL, JMP ----
    case 0xc2:
    case 0xc3: {
      const size = o32 ? 4 : 2;
      const release = op === 0xc2 ? insn.imm : 0;
      const t = b.code32 ? 't' : 't & 0xffff';
      return {
        kind: 'branch',
        code: `const t = ${b.read(osz, 2, b.sp())}; if ((t >>> 0) > SL[1]) gp(); ${b.adjustSp(size + release)} pc = ${t};`,
        targets: [],
      };
    }
    case 0xe8: {
      const disp = o32 ? insn.imm : (insn.imm << 16) >> 16;
      let target = (next + disp) | 0;
      if (!o32) target &= 0xffff;
      return {
        kind: 'branch',
        code: `if (${(target >>> 0) >>> 0} > SL[1]) gp(); ${b.push(osz, hex(next))} pc = ${hex(b.code32 ? target : target & 0xffff)};`,
        targets: [next, b.code32 ? target : target & 0xffff],
      };
    }
    case 0xe9:
    case 0xeb: {
      const disp = op === 0xeb ? (insn.imm << 24) >> 24 : o32 ? insn.imm : (insn.imm << 16) >> 16;
      return {
        kind: 'branch',
        code: jumpTo(b, insn, (next + disp) | 0),
        targets: [jumpTarget(b, insn, (next + disp) | 0)],
      };
    }
    // ---- LOOP family, JCXZ ----
    case 0xe0:
    case 0xe1:
    case 0xe2:
    case 0xe3: {
      const target = (next + ((insn.imm << 24) >> 24)) | 0;
      const cs = insn.a32 ? 2 : 1;
      if (op === 0xe3) {
        return {
          kind: 'branch',
          code: `if (${b.reg(1, cs)} === 0) { ${jumpTo(b, insn, target)} } else pc = ${hex(next)};`,
          targets: [next, jumpTarget(b, insn, target)],
        };
      }
      const dec = insn.a32
        ? `const n = (r1 - 1) | 0; r1 = n;`
        : `const n = (r1 & 0xffff) - 1; r1 = (r1 & -65536) | (n & 0xffff);`;
      b.touched |= 2;
      b.written |= 2;
      let cond = 'n !== 0';
      if (op === 0xe0) cond += ` && !(${b.condition(4)})`;
      if (op === 0xe1) cond += ` && (${b.condition(4)})`;
      return {
        kind: 'branch',
        code: `${dec} if (${cond}) { ${jumpTo(b, insn, target)} } else pc = ${hex(next)};`,
        targets: [next, jumpTarget(b, insn, target)],
      };
    }
    // ---- flag instructions ----
    case 0xf5:
      return code(`const cf = ${b.carry()} ^ 1; ${b.setFlag(CF, 'cf')}`);
    case 0xf8:
      return code(b.setFlag(CF, '0'));
    case 0xf9:
      return code(b.setFlag(CF, '1'));
    case 0xfa:
      // CLI (ops/misc.ts): #GP(0) when CPL > IOPL in protected mode, or in V86 mode below IOPL 3. Compiled, the
      // region goes on: with IF clear no interrupt can be due before it ends (STI, which opens a window after
      // the next instruction, stays with the interpreter).
      b.touchFlags();
      b.flWritten = true;
      return code(
        `if (((c.cr0 & 1) !== 0 && c.cpl > (fl & ${FLAG_IOPL}) >> 12) || ((fl & ${FLAG_VM}) !== 0 && (fl & ${FLAG_IOPL}) !== ${FLAG_IOPL})) gp(); fl &= ${~FLAG_IF};`,
      );
    case 0xfc:
      b.touchFlags();
      b.flWritten = true;
      return code(`fl &= ${~DF};`);
    case 0xfd:
      b.touchFlags();
      b.flWritten = true;
      return code(`fl |= ${DF};`);
    // ---- group 3 ----
    case 0xf6:
    case 0xf7:
      return orPure(group3(b, insn, op === 0xf6 ? 0 : osz));
    // ---- group 4/5 ----
    case 0xfe:
      if (reg > 1) return { kind: 'end' };
      return code(incDec(b, 0, reg === 1, b.rmRead(insn, 0), (v) => b.rmWrite(insn, 0, v), b.addrDecl(insn)));
    case 0xff:
      switch (reg) {
        case 0:
        case 1:
          return code(
            incDec(b, osz, reg === 1, b.rmRead(insn, osz), (v) => b.rmWrite(insn, osz, v), b.addrDecl(insn)),
          );
        case 2: {
          return {
            kind: 'branch',
            code: `${b.addrDecl(insn)} const t = ${b.rmRead(insn, osz)}; if ((t >>> 0) > SL[1]) gp(); ${b.push(osz, hex(next))} pc = ${b.code32 ? 't' : 't & 0xffff'};`,
            targets: [next],
          };
        }
        case 4:
          return {
            kind: 'branch',
            code: `${b.addrDecl(insn)} const t = ${b.rmRead(insn, osz)}; if ((t >>> 0) > SL[1]) gp(); pc = ${b.code32 ? 't' : 't & 0xffff'};`,
            targets: [],
          };
        case 6:
          return code(`${b.addrDecl(insn)} const v = ${b.rmRead(insn, osz)}; ${b.push(osz, 'v')}`);
        default:
          return { kind: 'end' };
      }
    // ---- PUSHF ----
    case 0x9c: {
      // pushf (ops/stack.ts): #GP(0) in V86 mode below IOPL 3; the flags materialised as getFlags() does
      // (through the CPU's own fields, so the formulas are the interpreter's); PUSHFD clears VM and RF.
      b.touchFlags();
      b.lazyWritten = true;
      b.flWritten = true;
      const text = `if ((fl & ${FLAG_VM}) !== 0 && (fl & ${FLAG_IOPL}) !== ${FLAG_IOPL}) gp(); c.lazyOp = lop; c.lazySize = lsz; c.lazyDst = ld; c.lazySrc = ls; c.lazyRes = lr; c.lazyFlags = lf; c.flags = fl; const f = c.getFlags(); fl = f; lf = 0; ${b.push(osz, o32 ? `f & ${~(FLAG_VM | FLAG_RF)}` : 'f')}`;
      b.fs = { op: -1, size: -1, mask: 0 }; // every flag is in fl now
      return code(text);
    }
    // ---- LEAVE ----
    case 0xc9: {
      b.touched |= 1 << 5;
      b.written |= (1 << 5) | (1 << 4);
      const bp = b.stack32 ? 'r5' : '(r5 & 0xffff)';
      const size = o32 ? 4 : 2;
      const newSp = b.stack32 ? `(bp + ${size}) | 0` : `(bp + ${size}) & 0xffff`;
      return code(
        `const bp = ${bp}; const v = ${b.read(osz, 2, 'bp')}; const ns = ${newSp}; ${b.setSp('ns')} ${b.setReg(5, osz, 'v')}`,
      );
    }
    // ---- two-byte opcodes ----
    case 0x118:
    case 0x119:
    case 0x11a:
    case 0x11b:
    case 0x11c:
    case 0x11d:
    case 0x11e:
    case 0x11f:
      return code('');
    case 0x1b6:
    case 0x1b7:
    case 0x1be:
    case 0x1bf: {
      const src = op & 1 ? 1 : 0;
      let v = b.rmRead(insn, src);
      if (op === 0x1be) v = `(${v} << 24) >> 24`;
      if (op === 0x1bf) v = `(${v} << 16) >> 16`;
      return code(`${b.addrDecl(insn)} const v = ${v}; ${b.setReg(reg, osz, 'v')}`);
    }
    case 0x1c8:
    case 0x1c9:
    case 0x1ca:
    case 0x1cb:
    case 0x1cc:
    case 0x1cd:
    case 0x1ce:
    case 0x1cf: {
      const n = op & 7;
      if (!o32) return code(b.setReg(n, 1, '0'));
      const v = b.reg(n, 2);
      return code(
        b.setReg(
          n,
          2,
          `((${v} & 0xff) << 24) | ((${v} & 0xff00) << 8) | ((${v} >>> 8) & 0xff00) | (${v} >>> 24)`,
        ),
      );
    }
    case 0x1bc:
    case 0x1bd: {
      const index = op === 0x1bc ? '31 - Math.clz32(v & -v)' : '31 - Math.clz32(v)';
      return code(
        `${b.addrDecl(insn)} const v = ${b.rmRead(insn, osz)}; if (v === 0) { ${b.setFlag(ZF, '1')} } else { ${b.setFlag(ZF, '0')} ${b.setReg(reg, osz, index)} }`,
      );
    }
    default:
      break;
  }
  // Jcc rel16/32, SETcc, CMOVcc.
  if (op >= 0x180 && op <= 0x18f) {
    const disp = o32 ? insn.imm : (insn.imm << 16) >> 16;
    const target = (next + disp) | 0;
    return {
      kind: 'branch',
      code: `if (${b.condition(op & 15)}) { ${jumpTo(b, insn, target)} } else pc = ${hex(next)};`,
      targets: [next, jumpTarget(b, insn, target)],
    };
  }
  if (op >= 0x190 && op <= 0x19f) {
    return code(`${b.addrDecl(insn)} const v = ${b.condition(op & 15)} ? 1 : 0; ${b.rmWrite(insn, 0, 'v')}`);
  }
  if (op >= 0x140 && op <= 0x14f) {
    return code(
      `${b.addrDecl(insn)} const v = ${b.rmRead(insn, osz)}; if (${b.condition(op & 15)}) { ${b.setReg(reg, osz, 'v')} }`,
    );
  }
  if (op === 0x1a3 || op === 0x1ab || op === 0x1b3 || op === 0x1bb || op === 0x1ba) {
    return orPure(mem ? bitTestMemory(b, insn, osz) : bitTest(b, insn, osz));
  }
  switch (op) {
    case 0x1b0:
    case 0x1b1:
      return code(cmpxchg(b, insn, op === 0x1b0 ? 0 : osz));
    case 0x1c0:
    case 0x1c1:
      return code(xadd(b, insn, op === 0x1c0 ? 0 : osz));
    case 0x1a4:
      return code(doubleShift(b, insn, osz, false, insn.imm & 0x1f));
    case 0x1a5:
      return code(doubleShift(b, insn, osz, false, b.reg(1, 0)));
    case 0x1ac:
      return code(doubleShift(b, insn, osz, true, insn.imm & 0x1f));
    case 0x1ad:
      return code(doubleShift(b, insn, osz, true, b.reg(1, 0)));
    case 0x1c7:
      if (reg !== 1 || !mem) return { kind: 'end' };
      return code(cmpxchg8b(b, insn));
    case 0x131:
      return code(rdtsc(b));
    case 0xa4:
    case 0xa5:
    case 0xa6:
    case 0xa7:
    case 0xaa:
    case 0xab:
    case 0xac:
    case 0xad:
    case 0xae:
    case 0xaf:
      // With REP they restart themselves in chunks: the interpreter runs them and the block ends.
      if (insn.rep !== 0) return { kind: 'end' };
      return code(stringOnce(b, insn, op & 1 ? osz : 0));
  }
  return isPure(insn) ? { kind: 'pure' } : { kind: 'end' };
}

/**
 * What the JavaScript compiler makes of `insn` in a block of the given sizes: 'code' (straight-line code),
 * 'branch' (it sets EIP and ends the block), 'pure' (the interpreter runs it and the block goes on) or 'end'
 * (the interpreter runs it as the block's last instruction). The WebAssembly compiler asks this about the
 * instructions it does not translate itself (wasm-codegen.ts), so both tiers end blocks at the same places.
 */
export function translationKind(insn: Insn, code32: number, stack32: number): Emitted['kind'] {
  return translate(new Builder(code32, stack32), insn).kind;
}

function orEnd(code: string | null): Emitted {
  return code === null ? { kind: 'pure' } : { kind: 'code', code };
}
function orPure(code: string | null): Emitted {
  return code === null ? { kind: 'pure' } : { kind: 'code', code };
}

/** jumpNear(target): operand-size masking, the CS limit check, then (16-bit code) IP wrap. */
function jumpTo(b: Builder, insn: Insn, target: number): string {
  if (!insn.o32) target &= 0xffff;
  return `if (${target >>> 0} > SL[1]) gp(); pc = ${hex(jumpTarget(b, insn, target))};`;
}
/** The EIP a near jump to `target` leaves (when it does not fault). */
function jumpTarget(b: Builder, insn: Insn, target: number): number {
  if (!insn.o32) target &= 0xffff;
  return b.code32 ? target : target & 0xffff;
}

/** INC/DEC of an operand read by `read` and written by `write` (CF kept: incDecFlags). */
function incDec(
  b: Builder,
  size: number,
  dec: boolean,
  read: string,
  write: (v: string) => string,
  pre: string,
): string {
  const cf = b.carry();
  const res = size === 2 ? `(d ${dec ? '-' : '+'} 1) | 0` : `d ${dec ? '-' : '+'} 1`;
  const flags = [b.setLazy(dec ? OP_SUB : OP_ADD, size, 'd', '1', 'r'), b.setFlag(CF, 'cf')];
  return `${pre} const cf = ${cf}; const d = ${read}; const r = ${res}; ${write('r')} ${flags.join(' ')}`;
}

/** imulTruncated(c, a, b) for 0F AF / 69 / 6B. */
function imulTruncated(b: Builder, size: number, reg: number, x: string, y: string): string {
  if (size === 2) {
    return `const p = ${x} * ${y}; const lo = Math.imul(${x}, ${y}); ${b.setReg(reg, 2, 'lo')} const o = p > 2147483647 || p < -2147483648 ? 1 : 0; ${b.setResult(2, 'lo', 'o', 'o')}`;
  }
  return `const r = ((${x} << 16) >> 16) * ((${y} << 16) >> 16); ${b.setReg(reg, 1, 'r')} const o = r !== (r << 16) >> 16 ? 1 : 0; ${b.setResult(1, 'r', 'o', 'o')}`;
}

/** Group 3 (F6/F7): TEST, NOT, NEG, MUL, IMUL; DIV and IDIV go to the interpreter (null). */
function group3(b: Builder, insn: Insn, size: number): string | null {
  const reg = (insn.modrm >> 3) & 7;
  const a = b.addrDecl(insn);
  switch (reg) {
    case 0:
    case 1:
      return `${a} const v = ${b.rmRead(insn, size)}; const r = v & ${imm(insn.imm)}; ${b.setLazy(OP_LOGIC, size, '0', '0', 'r')}`;
    case 2:
      return `${a} const v = ${b.rmRead(insn, size)}; ${b.rmWrite(insn, size, '~v')}`;
    case 3:
      return `${a} const v = ${b.rmRead(insn, size)}; const r = -v | 0; ${b.rmWrite(insn, size, 'r')} ${b.setLazy(OP_SUB, size, '0', 'v', 'r')}`;
    case 4:
      if (size === 0) {
        return `${a} const r = ${b.reg(0, 0)} * ${b.rmRead(insn, 0)}; ${b.setReg(0, 1, 'r')} const h = r >> 8 !== 0 ? 1 : 0; ${b.setResult(0, 'r', 'h', 'h')}`;
      }
      if (size === 1) {
        return `${a} const r = ${b.reg(0, 1)} * ${b.rmRead(insn, 1)}; ${b.setReg(0, 1, 'r')} ${b.setReg(2, 1, 'r >>> 16')} const h = r >>> 16 !== 0 ? 1 : 0; ${b.setResult(1, 'r', 'h', 'h')}`;
      }
      return `${a} const x = ${b.rmRead(insn, 2)}; const e = ${b.reg(0, 2)}; const hi = mulHi(e, x, false); const lo = Math.imul(e, x); ${b.setReg(0, 2, 'lo')} ${b.setReg(2, 2, 'hi')} const h = hi !== 0 ? 1 : 0; ${b.setResult(2, 'lo', 'h', 'h')}`;
    case 5:
      if (size === 0) {
        return `${a} const r = ((${b.reg(0, 0)} << 24) >> 24) * ((${b.rmRead(insn, 0)} << 24) >> 24); ${b.setReg(0, 1, 'r')} const o = r !== (r << 24) >> 24 ? 1 : 0; ${b.setResult(0, 'r', 'o', 'o')}`;
      }
      if (size === 1) {
        return `${a} const r = ((${b.reg(0, 1)} << 16) >> 16) * ((${b.rmRead(insn, 1)} << 16) >> 16); ${b.setReg(0, 1, 'r')} ${b.setReg(2, 1, 'r >> 16')} const o = r !== (r << 16) >> 16 ? 1 : 0; ${b.setResult(1, 'r', 'o', 'o')}`;
      }
      return `${a} const x = ${b.rmRead(insn, 2)}; const e = ${b.reg(0, 2)}; const hi = mulHi(e, x, true); const lo = Math.imul(e, x); ${b.setReg(0, 2, 'lo')} ${b.setReg(2, 2, 'hi')} const o = hi !== lo >> 31 ? 1 : 0; ${b.setResult(2, 'lo', 'o', 'o')}`;
    case 6:
      // DIV: #DE for a zero divisor or a quotient that does not fit; registers change only after both checks.
      if (size === 0) {
        return `${a} const x = ${b.rmRead(insn, 0)}; if (x === 0) de(); const n = ${b.reg(0, 1)}; const q = (n / x) >>> 0; if (q > 0xff) de(); ${b.setReg(0, 0, 'q')} ${b.setReg(4, 0, 'n % x')}`;
      }
      if (size === 1) {
        return `${a} const x = ${b.rmRead(insn, 1)}; if (x === 0) de(); const n = ((${b.reg(2, 1)} << 16) | ${b.reg(0, 1)}) >>> 0; const q = Math.floor(n / x); if (q > 0xffff) de(); ${b.setReg(0, 1, 'q')} ${b.setReg(2, 1, 'n % x')}`;
      }
      return `${a} const x = ${b.rmRead(insn, 2)}; const q = div32(${b.reg(2, 2)}, ${b.reg(0, 2)}, x); const m = remainder(); ${b.setReg(0, 2, 'q')} ${b.setReg(2, 2, 'm')}`;
    case 7:
      // IDIV: the quotient truncates toward zero, the remainder has the dividend's sign.
      if (size === 0) {
        return `${a} const x = (${b.rmRead(insn, 0)} << 24) >> 24; if (x === 0) de(); const n = (${b.reg(0, 1)} << 16) >> 16; const q = Math.trunc(n / x); if (q > 127 || q < -128) de(); ${b.setReg(0, 0, 'q')} ${b.setReg(4, 0, 'n % x')}`;
      }
      if (size === 1) {
        return `${a} const x = (${b.rmRead(insn, 1)} << 16) >> 16; if (x === 0) de(); const n = (${b.reg(2, 1)} << 16) | ${b.reg(0, 1)}; const q = Math.trunc(n / x); if (q > 32767 || q < -32768) de(); ${b.setReg(0, 1, 'q')} ${b.setReg(2, 1, 'n % x')}`;
      }
      return `${a} const x = ${b.rmRead(insn, 2)}; const q = idiv32(${b.reg(2, 2)}, ${b.reg(0, 2)}, x); const m = remainder(); ${b.setReg(0, 2, 'q')} ${b.setReg(2, 2, 'm')}`;
    default:
      return null;
  }
}

/** BT/BTS/BTR/BTC with a register destination (0F A3/AB/B3/BB, 0F BA /4-/7). */
function bitTest(b: Builder, insn: Insn, size: number): string | null {
  const reg = (insn.modrm >> 3) & 7;
  let kind: number;
  let offset: string;
  if (insn.op === 0x1ba) {
    if (reg < 4) return null;
    kind = reg - 4;
    offset = hex(insn.imm & (size === 2 ? 31 : 15));
  } else {
    kind = insn.op === 0x1a3 ? 0 : insn.op === 0x1ab ? 1 : insn.op === 0x1b3 ? 2 : 3;
    offset = `${b.reg(reg, size)} & ${size === 2 ? 31 : 15}`;
  }
  const rm = insn.modrm & 7;
  const v = b.reg(rm, size);
  const update = ['', 'v | (1 << k)', 'v & ~(1 << k)', 'v ^ (1 << k)'][kind];
  return `const k = ${offset}; const v = ${v}; ${b.setFlag(CF, '(v >>> k) & 1')} ${kind ? b.setReg(rm, size, update) : ''}`;
}

/** The bit-string update of BTS/BTR/BTC (kind 1-3) of `v` at bit `k` (applyBit); BT (0) writes nothing. */
const BIT_UPDATE = ['', 'v | (1 << k)', 'v & ~(1 << k)', 'v ^ (1 << k)'];

/**
 * BT/BTS/BTR/BTC with a memory operand (btEvGv.., group8): an imm8 offset is taken modulo the operand size;
 * a register offset is signed and moves the access by (offset >> 5) dwords (>> 4 words) from the address.
 * The memory write comes before CF.
 */
function bitTestMemory(b: Builder, insn: Insn, size: number): string | null {
  const reg = (insn.modrm >> 3) & 7;
  const seg = insn.eaSeg;
  let kind: number;
  let locate: string;
  if (insn.op === 0x1ba) {
    if (reg < 4) return null;
    kind = reg - 4;
    locate = `const e = a; const k = ${hex(insn.imm & (size === 2 ? 31 : 15))};`;
  } else {
    kind = insn.op === 0x1a3 ? 0 : insn.op === 0x1ab ? 1 : insn.op === 0x1b3 ? 2 : 3;
    const offset = size === 2 ? b.reg(reg, 2) : `(${b.reg(reg, 1)} << 16) >> 16`;
    const move = size === 2 ? '((o >> 5) << 2)' : '((o >> 4) << 1)';
    const e = insn.a32 ? `(a + ${move}) | 0` : `(a + ${move}) & 0xffff`;
    locate = `const o = ${offset}; const e = ${e}; const k = o & ${size === 2 ? 31 : 15};`;
  }
  const write = kind ? b.write(size, seg, 'e', BIT_UPDATE[kind]) : '';
  return `${b.addrDecl(insn)} ${locate} const v = ${b.read(size, seg, 'e')}; ${write} ${b.setFlag(CF, '(v >>> k) & 1')}`;
}

/**
 * CMPXCHG r/m, r (cmpxchgEbGb/cmpxchgEvGv): a memory destination is checked writable before it is read,
 * and written either way (the old value back when unequal); the flags are those of CMP accumulator, r/m.
 */
function cmpxchg(b: Builder, insn: Insn, size: number): string {
  const reg = (insn.modrm >> 3) & 7;
  const mem = insn.modrm < 0xc0;
  const check = mem ? `chkW(${insn.eaSeg}, a, ${1 << size});` : '';
  // A register destination written with its own value is unchanged: only memory needs the write-back.
  const writeBack = mem ? b.rmWrite(insn, size, 'd') : '';
  return `${b.addrDecl(insn)} ${check} const d = ${b.rmRead(insn, size)}; const x = ${b.reg(0, size)}; if (x === d) { ${b.rmWrite(insn, size, b.reg(reg, size))} } else { ${writeBack} ${b.setReg(0, size, 'd')} } const r = (x - d) | 0; ${b.setLazy(OP_SUB, size, 'x', 'd', 'r')}`;
}

/** XADD r/m, r (xaddEbGb/xaddEvGv): the sum to r/m, then the old r/m value to r, then ADD's flags. */
function xadd(b: Builder, insn: Insn, size: number): string {
  const reg = (insn.modrm >> 3) & 7;
  return `${b.addrDecl(insn)} const d = ${b.rmRead(insn, size)}; const s = ${b.reg(reg, size)}; const r = (d + s) | 0; ${b.rmWrite(insn, size, 'r')} ${b.setReg(reg, size, 'd')} ${b.setLazy(OP_ADD, size, 'd', 's', 'r')}`;
}

/**
 * SHLD/SHRD r/m, r, imm8/CL (doubleShift in ops/shift.ts): a masked count of 0 only reads the operand. A
 * 16-bit operand shifts the 48-bit dst:src:dst (defined for counts up to 31), computed in a float64 as the
 * interpreter does.
 */
function doubleShift(
  b: Builder,
  insn: Insn,
  size: number,
  right: boolean,
  countExpr: string | number,
): string {
  const reg = (insn.modrm >> 3) & 7;
  const parts = [b.addrDecl(insn), `const d = ${b.rmRead(insn, size)};`];
  if (typeof countExpr === 'number' && countExpr === 0) return parts.join(' ');
  const n = typeof countExpr === 'number' ? String(countExpr) : 'n';
  let body: string[];
  if (size === 2) {
    body = [
      `const s = ${b.reg(reg, 2)};`,
      right
        ? `const r = (d >>> ${n}) | (s << (32 - ${n})); const cf = (d >>> (${n} - 1)) & 1;`
        : `const r = (d << ${n}) | (s >>> (32 - ${n})); const cf = (d >>> (32 - ${n})) & 1;`,
      `const of = ((r ^ d) >>> 31) & 1;`,
    ];
  } else {
    body = [
      `const w = d * 4294967296 + ${b.reg(reg, 1)} * 65536 + d;`,
      right
        ? `const r = Math.floor(w / 2 ** ${n}) % 0x10000; const cf = Math.floor(w / 2 ** (${n} - 1)) % 2;`
        : `const r = Math.floor(w / 2 ** (32 - ${n})) % 0x10000; const cf = Math.floor(w / 2 ** (48 - ${n})) % 2;`,
      `const of = ((r ^ d) >>> 15) & 1;`,
    ];
  }
  body.push(b.rmWrite(insn, size, 'r'), b.setResult(size, 'r', 'cf', 'of'));
  if (typeof countExpr === 'number') return [...parts, ...body].join(' ');
  // A count from CL: zero changes nothing, so the flags' compile-time state is lost either way.
  const code = [...parts, `const n = ${countExpr} & 0x1f;`, `if (n !== 0) {`, ...body, `}`].join(' ');
  b.forgetFlags();
  return code;
}

/**
 * CMPXCHG8B m64 (group9): the 8 bytes checked writable, both dwords read, both written (EBX:ECX when
 * EDX:EAX matched, else the old value back, which then goes to EDX:EAX), then ZF.
 */
function cmpxchg8b(b: Builder, insn: Insn): string {
  const seg = insn.eaSeg;
  const high = insn.a32 ? '(a + 4) | 0' : '(a + 4) & 0xffff';
  const equal = [b.write(2, seg, 'a', b.reg(3, 2)), b.write(2, seg, 'h', b.reg(1, 2))].join(' ');
  const unequal = [
    b.write(2, seg, 'a', 'lo'),
    b.write(2, seg, 'h', 'hi'),
    b.setReg(0, 2, 'lo'),
    b.setReg(2, 2, 'hi'),
  ].join(' ');
  return `${b.addrDecl(insn)} const h = ${high}; chkW(${seg}, a, 8); const lo = ${b.read(2, seg, 'a')}; const hi = ${b.read(2, seg, 'h')}; const z = lo === ${b.reg(0, 2)} && hi === ${b.reg(2, 2)} ? 1 : 0; if (z !== 0) { ${equal} } else { ${unequal} } ${b.setFlag(ZF, 'z')}`;
}

/**
 * RDTSC (ops/system.ts): #GP(0) when CR4.TSD is set outside ring 0; the counter is the CPU's virtual time,
 * which counts the instructions retired before this one: instructionCount is brought up to date first.
 */
function rdtsc(b: Builder): string {
  return `if ((c.cr4 & ${CR4_TSD}) !== 0 && c.cpl !== 0) gp(); c.instructionCount = n0 + done + (ik & 63); const t = rt.tsc(); const lo = (t % 4294967296) | 0; const hi = Math.floor(t / 4294967296) | 0; ${b.setReg(0, 2, 'lo')} ${b.setReg(2, 2, 'hi')}`;
}

/**
 * MOVS, CMPS, STOS, LODS, SCAS without REP (ops/string.ts iterate()): source DS (or the override):(E)SI,
 * destination ES:(E)DI; the index registers step by the operand size, backwards when DF is set, after the
 * accesses (so a fault leaves them unchanged).
 */
function stringOnce(b: Builder, insn: Insn, size: number): string {
  const op = insn.op & ~1;
  const src = insn.seg >= 0 ? insn.seg : DS;
  const bytes = 1 << size;
  const index = insn.a32 ? 2 : 1;
  b.touchFlags();
  const parts = [`const st = (fl & ${DF}) !== 0 ? ${-bytes} : ${bytes};`];
  const usesSi = op === 0xa4 || op === 0xa6 || op === 0xac;
  const usesDi = op !== 0xac;
  if (usesSi) parts.push(`const si = ${b.reg(6, index)};`);
  if (usesDi) parts.push(`const di = ${b.reg(7, index)};`);
  switch (op) {
    case 0xa4:
      parts.push(`const v = ${b.read(size, src, 'si')};`, b.write(size, ES, 'di', 'v'));
      break;
    case 0xa6:
      parts.push(
        `const x = ${b.read(size, src, 'si')}; const y = ${b.read(size, ES, 'di')}; const r = (x - y) | 0;`,
        b.setLazy(OP_SUB, size, 'x', 'y', 'r'),
      );
      break;
    case 0xaa:
      parts.push(b.write(size, ES, 'di', b.reg(0, size)));
      break;
    case 0xac:
      parts.push(`const v = ${b.read(size, src, 'si')};`, b.setReg(0, size, 'v'));
      break;
    default:
      parts.push(
        `const x = ${b.reg(0, size)}; const y = ${b.read(size, ES, 'di')}; const r = (x - y) | 0;`,
        b.setLazy(OP_SUB, size, 'x', 'y', 'r'),
      );
      break;
  }
  const add = (v: string) => (insn.a32 ? `(${v} + st) | 0` : `${v} + st`);
  if (usesSi) parts.push(b.setReg(6, index, add('si')));
  if (usesDi) parts.push(b.setReg(7, index, add('di')));
  return parts.join(' ');
}

/** One basic block of a region. */
export interface RegionBlock {
  eip: number;
  phys: number;
  /** Instructions it executes when it runs to its end. */
  length: number;
  /** Its size in bytes. */
  bytes: number;
}

/** What the compiler produced for a region. */
export interface RegionCode {
  /** Body of the factory function (parameters c, R, J, rt; returns the region function). */
  source: string;
  blocks: RegionBlock[];
  /** The highest EIP of any byte of the region (the CS limit is checked against it on entry). */
  lastByte: number;
  /** Instructions translated, and run by the interpreter (fallbacks). */
  translated: number;
  fallbacks: number;
  /** A block branches back to a block of the region (so one call may run its accesses many times). */
  loops: boolean;
}

/**
 * Compiles the region entered at physical address `phys`, EIP `eip`, in mode `mode`: the block there and the
 * blocks its direct branches (and returns from its calls) reach in the same page, each a `case` of a switch
 * on EIP inside one loop, so control moving between them never leaves the function. With MODE_SINGLE, one
 * instruction (for Cpu.stepUnchecked in 'on' mode). Returns null when not even the first instruction can be
 * translated (the caller leaves that address to the interpreter). With `inlineMemory`, memory accesses are
 * written out in place (Builder.read): mode 'on' asks for that always, mode 'auto' when it recompiles a hot
 * loop (Jit.upgrade).
 */
export function generateRegion(
  ram: Uint8Array,
  phys: number,
  eip: number,
  mode: number,
  inlineMemory = false,
): RegionCode | null {
  const code32 = mode & MODE_CODE32;
  const single = (mode & MODE_SINGLE) !== 0;
  const b = new Builder(code32, (mode & MODE_STACK32) !== 0 ? 1 : 0);
  b.inlineMemory = inlineMemory;
  let loops = false;
  const pageBase = phys & ~0xfff;
  const blocks: RegionBlock[] = [];
  const seen = new Set<number>();
  const queue = [eip];
  let lastByte = eip;
  let total = 0;
  let translated = 0;
  let fallbacks = 0;
  while (
    queue.length > 0 &&
    blocks.length < (single ? 1 : MAX_REGION_BLOCKS) &&
    total < MAX_REGION_INSTRUCTIONS
  ) {
    const start = queue.shift() as number;
    if (seen.has(start)) continue;
    seen.add(start);
    // The same linear page as the entry (so the same translation and the same physical page).
    const offset = (phys & 0xfff) + (start - eip);
    if (offset < 0 || offset > 0xfff) continue;
    const block = translateBlock(b, ram, pageBase + offset, start, eip, single ? 1 : MAX_INSTRUCTIONS);
    if (block === null) {
      if (blocks.length === 0) return null;
      continue;
    }
    blocks.push({
      eip: start,
      phys: pageBase + offset,
      length: block.length,
      bytes: (block.lastByte - start + 1) | 0,
    });
    total += block.length;
    translated += block.translated;
    fallbacks += block.length - block.translated;
    if (block.lastByte >>> 0 > lastByte >>> 0) lastByte = block.lastByte;
    for (const t of block.successors) {
      if (!seen.has(t)) queue.push(t);
      else if (t >>> 0 <= start >>> 0) loops = true; // a branch back to a block already in the region
    }
  }
  return { source: assemble(b, eip), blocks, lastByte, translated, fallbacks, loops };
}

/** Encodes an instruction's position for the fault path: its EIP relative to the entry, and its index. */
function position(start: number, entry: number, k: number): number {
  return (start - entry + 0x10000) * 64 + k;
}

/**
 * Translates the basic block at `eip` into a `case` of the region's switch. Returns null when its first
 * instruction is one to leave to the interpreter.
 */
function translateBlock(
  b: Builder,
  ram: Uint8Array,
  phys: number,
  eip: number,
  entry: number,
  maxLength: number,
): { length: number; translated: number; lastByte: number; successors: number[] } | null {
  const pageEnd = (phys & ~0xfff) + 0x1000;
  const code32 = b.code32;
  const lines: string[] = [];
  let p = phys;
  let at = eip;
  let count = 0;
  let translated = 0;
  let lastByte = eip;
  let successors: number[] = [];
  let ended = false;
  const mark = b.out.length;
  b.forgetFlags(); // a block may be entered from anywhere
  while (count < maxLength) {
    const insn = decode(ram, p, pageEnd, at, code32);
    if (insn === null) break;
    if (!code32 && insn.next > 0xffff) break; // IP would wrap: the interpreter does it
    const k = count;
    const savedFs = b.fs;
    b.wroteMemory = false;
    const t = translate(b, insn);
    if (count === 0 && (t.kind === 'end' || (t.kind === 'pure' && maxLength === 1))) {
      b.out.length = mark;
      return null;
    }
    lastByte = insn.next - 1;
    count++;
    const pos = `ik = ${position(insn.start, entry, k)};`;
    if (t.kind === 'code') {
      translated++;
      lines.push(`${pos} { ${t.code} }`);
      if (b.wroteMemory) {
        lines.push(`if (J.smc !== 0) { pc = ${hex(insn.next)}; done += ${k + 1}; ret = 1; break loop; }`);
      }
      p += insn.next - insn.start;
      at = insn.next;
      continue;
    }
    if (t.kind === 'branch') {
      translated++;
      lines.push(`${pos} { ${t.code} }`);
      successors = t.targets;
      ended = true;
      break;
    }
    // The interpreter runs it: store the locals, run, reload.
    b.usesFallback = true;
    b.fs = savedFs;
    const run = `c.eip = ${hex(insn.start)}; c.instructionCount = n0 + done + ${k}; fb = 1; J.inFallback = 1; c.stepUnchecked(); J.inFallback = 0; fb = 0;`;
    if (t.kind === 'end') {
      lines.push(`${pos} STORE ${run} return 1;`);
      ended = true;
      break;
    }
    lines.push(`${pos} STORE ${run} LOAD`);
    b.forgetFlags();
    lines.push(
      `if (J.smc !== 0 || c.halted === true) { pc = c.eip; done += ${k + 1}; ret = 1; break loop; }`,
    );
    p += insn.next - insn.start;
    at = insn.next;
  }
  if (count === 0) return null;
  if (!ended) {
    lines.push(`pc = ${hex(at)};`);
    successors = [at];
  }
  b.emit(`case ${hex(eip)}: {`);
  b.emit(`if (done + ${count} > budget) break loop;`);
  for (const line of lines) b.emit(line);
  b.emit(`done += ${count};`);
  b.emit(`continue loop; }`);
  return { length: count, translated, lastByte, successors };
}

/** Wraps the region's cases in its function. */
function assemble(b: Builder, entry: number): string {
  // A fallback stores and reloads every register, and the flags.
  if (b.usesFallback) {
    b.touched = 0xff;
    b.written = 0xff;
    b.flagsTouched = true;
    b.lazyWritten = true;
    b.flWritten = true;
  }
  const regs = [0, 1, 2, 3, 4, 5, 6, 7].filter((n) => b.touched & (1 << n));
  const written = regs.filter((n) => b.written & (1 << n));
  const loadRegs = regs.map((n) => `r${n} = R[${n}];`).join(' ');
  const storeRegs = written.map((n) => `R[${n}] = r${n};`).join(' ');
  const flagNames = ['lop', 'lsz', 'ld', 'ls', 'lr', 'lf'];
  const flagFields = ['lazyOp', 'lazySize', 'lazyDst', 'lazySrc', 'lazyRes', 'lazyFlags'];
  const loadFlags = b.flagsTouched
    ? flagNames.map((n, i) => `${n} = c.${flagFields[i]};`).join(' ') + ' fl = c.flags;'
    : '';
  let storeFlags = '';
  if (b.lazyWritten) storeFlags += flagNames.map((n, i) => `c.${flagFields[i]} = ${n};`).join(' ');
  if (b.flWritten) storeFlags += ' c.flags = fl;';
  const store = `${storeRegs} ${storeFlags}`;
  const load = `${loadRegs} ${loadFlags}`;
  const body = b.out.join('\n').replaceAll('STORE', store).replaceAll('LOAD', load);
  const decl = [
    ...regs.map((n) => `r${n} = 0`),
    ...(b.flagsTouched ? ['lop = 0', 'lsz = 0', 'ld = 0', 'ls = 0', 'lr = 0', 'lf = 0', 'fl = 0'] : []),
  ];
  const ip = `(${entry} + (ik >> 6) - 0x10000) | 0`;
  return `
const SL = c.segLimit, SR = c.sreg, SB = c.segBase, SF = c.segFlags;
const mmu = c.mmu, TLB = mmu.tlb, RAM = mmu.ram, RAM32 = mmu.ram32;
const rd8 = rt.rd8, rd16 = rt.rd16, rd32 = rt.rd32, wr8 = rt.wr8, wr16 = rt.wr16, wr32 = rt.wr32;
const gp = rt.gp, de = rt.de, mulHi = rt.mulHi, cfL = rt.cfL, condL = rt.condL, PARITY = rt.parity;
const div32 = rt.div32, idiv32 = rt.idiv32, remainder = rt.remainder;
/** checkRmWritable: a read-modify-write's destination faults as a write before it is read. */
function chkW(seg, off, n) { mmu.checkWritable(c.writeAddress(seg, off, n), n); }
return function region(budget) {
  const n0 = c.instructionCount;
  let pc = c.eip, done = 0, ik = ${position(entry, entry, 0)}, fb = 0, ret = 0, ma = 0, ml = 0, mi = 0${decl.length ? ', ' + decl.join(', ') : ''};
  ${load}
  try {
    loop: for (;;) {
      switch (pc) {
${body}
        default:
          break loop;
      }
    }
  } catch (e) {
    J.inFallback = 0;
    if (fb === 0) { ${store} }
    c.instrStart = ${ip};
    c.instructionCount = n0 + done + (ik & 63);
    throw e;
  }
  ${store}
  c.eip = pc;
  c.instructionCount = n0 + done;
  c.instrStart = ${ip};
  return ret;
};`;
}
