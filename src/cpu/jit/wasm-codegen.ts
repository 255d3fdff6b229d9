/**
 * The block compiler's WebAssembly back end: a region (the same blocks codegen.ts would put in one
 * JavaScript function) becomes one WebAssembly module whose function runs them. V8 compiles WebAssembly
 * with its baseline compiler at once and optimises hot functions later in the background, so new code is
 * fast from its first run, where a JavaScript region waits for TurboFan (docs/PERFORMANCE.md).
 *
 * Guest state lives where the interpreter keeps it: the registers, segment caches, TLB and RAM in the
 * machine's memory buffer (layout.ts), which the module imports. The lazy-flag fields and EFLAGS are copied
 * into the state area by the region's caller and back after it (wasm-region.ts). Every instruction reads
 * and writes registers in memory, so when a slow-path helper raises a guest exception (a JavaScript
 * exception that unwinds the WebAssembly frames) nothing is lost; the helper was told the instruction's
 * start and position first. Each instruction does the steps of the interpreter's handler in the same
 * order as codegen.ts writes them (memory written before flags; registers changed after the last access
 * that may fault), so the state after a fault is the interpreter's.
 *
 * Instructions this file does not translate are left to the interpreter inside the region through the
 * `fallback` import; whether the block goes on after one is what codegen.ts's translation would decide
 * (translationKind), so both back ends end blocks at the same places.
 */
import { CS, DS, ES, SS } from '../constants.ts';
import {
  FPU_FCS,
  FPU_FDP,
  FPU_FDS,
  FPU_FIP,
  FPU_FOP,
  FPU_SW,
  FPU_TOP,
  STATE_CR0,
  STATE_FPU_EMPTY,
  STATE_FPU_EXT_VALID,
  STATE_FPU_VAL,
  STATE_FPU_WORDS,
  STATE_EXIT_DONE,
  STATE_EXIT_EIP,
  STATE_EXIT_START,
  STATE_FLAGS,
  STATE_LAZY_DST,
  STATE_LAZY_FLAGS,
  STATE_LAZY_OP,
  STATE_LAZY_RES,
  STATE_LAZY_SIZE,
  STATE_LAZY_SRC,
  STATE_READ_BIT,
  STATE_REG32,
  STATE_SEG_BASE,
  STATE_SEG_FLAGS,
  STATE_SEG_LIMIT,
  STATE_SREG,
  STATE_WRITE_BIT,
  RAM_BASE,
} from '../layout.ts';
import { lockable, translationKind, type RegionBlock } from './codegen.ts';
import { crossesPageEnd, decode, type Insn } from './decoder.ts';
import {
  MAX_INSTRUCTIONS,
  MAX_REGION_BLOCKS,
  MAX_REGION_INSTRUCTIONS,
  MODE_CODE32,
  MODE_FLAT,
  MODE_SINGLE,
  MODE_STACK32,
} from './tuning.ts';
import { FunctionBody, I32, I64, ModuleWriter, Op, type Signature } from './wasm-module.ts';
import { REGION_SIGNATURE, SUPPORT_EXPORTS, SUPPORT_SIGNATURES, tlbFastPath } from './wasm-support.ts';

const ARITH = 0x8d5; // CF PF AF ZF SF OF
const CF = 0x1;
const PF = 0x4;
const AF = 0x10;
const ZF = 0x40;
const SF = 0x80;
const DF = 0x400;
const OF = 0x800;
const FLAG_RF = 0x10000;
const FLAG_VM = 0x20000;

const OP_ADD = 0;
const OP_SUB = 2;
const OP_LOGIC = 4;

const LOAD = [Op.i32Load8U, Op.i32Load16U, Op.i32Load];
const STORE = [Op.i32Store8, Op.i32Store16, Op.i32Store];
const SIZE_MASKS = [0xff, 0xffff, -1];
const SIGN_SHIFTS = [7, 15, 31];
const BITS = [8, 16, 32];

// Function indexes: the support module's exports (SUPPORT_EXPORTS order), then the JavaScript imports.
const F_READ = [0, 1, 2];
const F_WRITE = [3, 4, 5];
const F_CF = 6;
const F_COND = 7;
const F_FALLBACK = 8;
const F_GP = 9;
const F_CHECK_WRITABLE = 10;
const F_DE = 11;
const F_RDTSC = 12;
const F_CLI = 13;
const F_PUSHF = 14;
const F_X87 = 15;
const F_CROSS = 16;
/** The JavaScript imports after the support module's, in function-index order (wasm-region.ts provides them). */
export const REGION_IMPORTS = [
  'fallback',
  'gp',
  'chkw',
  'de',
  'rdtsc',
  'cli',
  'pushf',
  'x87',
  'cross',
] as const;

const SIG_FALLBACK: Signature = { params: [I32, I32], results: [I32] };
const SIG_RAISE: Signature = { params: [I32, I32], results: [] };
const SIG_CHECK_WRITABLE: Signature = { params: [I32, I32, I32, I32, I32], results: [] };
const SIG_PUSHF: Signature = { params: [I32, I32], results: [I32] };
const SIG_X87: Signature = { params: [I32, I32, I32, I32, I32], results: [I32] };
const SIG_CROSS: Signature = { params: [I32, I32, I32], results: [I32] };
const IMPORT_SIGNATURES: Record<(typeof REGION_IMPORTS)[number], Signature> = {
  fallback: SIG_FALLBACK,
  gp: SIG_RAISE,
  chkw: SIG_CHECK_WRITABLE,
  de: SIG_RAISE,
  rdtsc: SIG_RAISE,
  cli: SIG_RAISE,
  pushf: SIG_PUSHF,
  x87: SIG_X87,
  cross: SIG_CROSS,
};

// The region function's locals: its parameters (budget, EIP), then fixed ones, then per-instruction scratch.
const L_BUDGET = 0;
const L_PC = 1;
const L_DONE = 2;
const L_START = 3;
const L_SMC = 4;
const L_RET = 5;
/** Copies of the lazy dst, src and result recorded last in this block (valid while `fs` says so). */
const L_FD = 6;
const L_FS = 7;
const L_FR = 8;
/** i64 scratch: a dividend and a quotient. */
const L_N64 = 9;
const L_Q64 = 10;
const L_TEMP = 11;

/** A value: a local's index, or a constant. */
type V = number | { k: number };
const K = (k: number): V => ({ k });

/** Static knowledge of the lazy-flag fields: -1 = known only at run time (codegen.ts FlagState). */
interface FlagState {
  op: number;
  size: number;
  mask: number;
}

/** A branch to the region's exit or loop head, written before the nesting around the block is known. */
interface Patch {
  at: number;
  loop: boolean;
  nest: number;
}

/** The code of a region as it is being written, one block at a time. */
class Builder {
  f = new FunctionBody(REGION_SIGNATURE);
  patches: Patch[] = [];
  /** Blocks and ifs opened inside the current block's code. */
  nest = 0;
  temps = 0;
  maxTemps = 0;
  fs: FlagState = { op: -1, size: -1, mask: -1 };
  wroteMemory = false;
  /** The instruction being translated: its start EIP and index in the block. */
  start = 0;
  k = 0;
  /** Instructions the translated one retires beyond itself (a CALL to a PIC thunk runs the thunk too). */
  extra = 0;
  /** Which register a PIC thunk at an EIP loads, or -1 (pcThunkRegister; null: no CALL runs a thunk). */
  thunks: ThunkProbe | null = null;

  constructor(
    readonly code32: number,
    readonly stack32: number,
    /** ES, SS and DS are flat (MODE_FLAT): accesses through them need no segment checks. */
    readonly flat: boolean,
  ) {}

  tmp(): number {
    const l = L_TEMP + this.temps++;
    if (this.temps > this.maxTemps) this.maxTemps = this.temps;
    return l;
  }
  push(v: V): void {
    if (typeof v === 'number') this.f.get(v);
    else this.f.i32(v.k);
  }
  /** Pops the stack's top into a new scratch local. */
  keep(): number {
    const l = this.tmp();
    this.f.set(l);
    return l;
  }

  // ---- structure ----
  begin(op: number, type = 0x40): void {
    this.f.begin(op, type);
    this.nest++;
  }
  else(): void {
    this.f.op(Op.else);
  }
  end(): void {
    this.f.end();
    this.nest--;
  }
  private branch(op: number, loop: boolean): void {
    this.f.op(op);
    this.patches.push({ at: this.f.code.length, loop, nest: this.nest });
    this.f.code.push(0);
  }
  brExit(): void {
    this.branch(Op.br, false);
  }
  brLoop(): void {
    this.branch(Op.br, true);
  }
  /**
   * With a helper's answer on the stack (WasmRegions.fallback and the like: 1 when the region must end after
   * this instruction), leaves the region then, at the EIP the helper left in the state area, counting the
   * instruction as done.
   */
  leaveIfAsked(): void {
    const f = this.f;
    this.begin(Op.if);
    f.field(STATE_EXIT_EIP).set(L_PC);
    f.get(L_DONE)
      .i32(this.k + 1)
      .op(Op.i32Add)
      .set(L_DONE);
    f.i32(1).set(L_RET);
    this.brExit();
    this.end();
  }
  /** The instruction's position for a helper that may raise: its start EIP and instructions done before it. */
  position(): void {
    this.f.i32(this.start);
    this.f.get(L_DONE);
    if (this.k !== 0) this.f.i32(this.k).op(Op.i32Add);
  }

  // ---- registers ----
  reg(n: number, size: number): void {
    if (size === 2) this.f.field(STATE_REG32 + 4 * n);
    else if (size === 1) this.f.i32(0).mem(Op.i32Load16U, STATE_REG32 + 4 * n);
    else this.f.i32(0).mem(Op.i32Load8U, STATE_REG32 + 4 * (n & 3) + (n >> 2));
  }
  setReg(n: number, size: number, v: V): void {
    this.f.i32(0);
    this.push(v);
    if (size === 2) this.f.mem(Op.i32Store, STATE_REG32 + 4 * n);
    else if (size === 1) this.f.mem(Op.i32Store16, STATE_REG32 + 4 * n);
    else this.f.mem(Op.i32Store8, STATE_REG32 + 4 * (n & 3) + (n >> 2));
  }

  // ---- memory ----
  /** The effective address of the ModRM memory operand, in a new local. */
  address(insn: Insn): number {
    let terms = 0;
    const add = () => {
      if (terms++ > 0) this.f.op(Op.i32Add);
    };
    if (insn.a32) {
      if (insn.base >= 0) {
        this.reg(insn.base, 2);
        add();
      }
      if (insn.index >= 0) {
        this.reg(insn.index, 2);
        if (insn.scale) this.f.i32(insn.scale).op(Op.i32Shl);
        add();
      }
      if (insn.disp !== 0 || terms === 0) {
        this.f.i32(insn.disp);
        add();
      }
    } else {
      if (insn.base >= 0) {
        this.reg(insn.base, 1);
        add();
      }
      if (insn.index >= 0) {
        this.reg(insn.index, 1);
        add();
      }
      if (insn.disp !== 0 || terms === 0) {
        this.f.i32(insn.disp);
        add();
      }
      this.f.i32(0xffff).op(Op.i32And);
    }
    return this.keep();
  }
  /** The memory operand's address in a local, or -1 for a register operand. */
  addrDecl(insn: Insn): number {
    return insn.modrm >= 0 && insn.modrm < 0xc0 ? this.address(insn) : -1;
  }
  /**
   * The fast path of an access of 2^size bytes at `addr` in segment `seg` (runtime.ts rd8..wr32's checks,
   * in place): branches out by `slow` levels when the segment is not a plain one, the access passes its
   * limit, the TLB entry lacks the rights in `bitSlot` or the access crosses the page; else leaves the
   * RAM-relative physical address on the stack.
   */
  private fastPath(size: number, seg: number, addr: V, bitSlot: number, slow: number): void {
    const f = this.f;
    const last = (1 << size) - 1;
    // Base 0 and limit 4 GiB (MODE_FLAT): the linear address is the offset; an access that would wrap past
    // the limit crosses a page too, and takes the slow path, which checks the limit.
    if (!this.flat || (seg !== ES && seg !== SS && seg !== DS)) {
      f.i32(0)
        .mem(Op.i32Load8U, STATE_SEG_FLAGS + seg)
        .brIf(slow);
      this.push(addr);
      f.field(STATE_SEG_LIMIT + 4 * seg)
        .op(Op.i32GtU)
        .brIf(slow);
      if (last !== 0) {
        f.field(STATE_SEG_LIMIT + 4 * seg);
        this.push(addr);
        f.op(Op.i32Sub).i32(last).op(Op.i32LtU).brIf(slow);
      }
      f.field(STATE_SEG_BASE + 4 * seg);
      this.push(addr);
      f.op(Op.i32Add);
    } else this.push(addr);
    tlbFastPath(f, last, bitSlot, slow, this.tmp(), this.tmp());
  }
  /** Pushes the value read (the support module's rdN, which may raise, when the fast path fails). */
  read(size: number, seg: number, addr: V): void {
    const f = this.f;
    this.begin(Op.block, I32);
    this.begin(Op.block);
    this.fastPath(size, seg, addr, STATE_READ_BIT, 0);
    f.mem(LOAD[size], RAM_BASE).br(1);
    this.end();
    f.i32(seg);
    this.push(addr);
    this.position();
    f.call(F_READ[size]);
    this.end();
  }
  write(size: number, seg: number, addr: V, value: V): void {
    const f = this.f;
    this.wroteMemory = true;
    this.begin(Op.block);
    this.begin(Op.block);
    this.fastPath(size, seg, addr, STATE_WRITE_BIT, 0);
    this.push(value);
    f.mem(STORE[size], RAM_BASE).br(1);
    this.end();
    f.i32(seg);
    this.push(addr);
    this.push(value);
    this.position();
    f.call(F_WRITE[size]).get(L_SMC).op(Op.i32Or).set(L_SMC);
    this.end();
  }
  rmRead(insn: Insn, size: number, a: number): void {
    if (insn.modrm >= 0xc0) this.reg(insn.modrm & 7, size);
    else this.read(size, insn.eaSeg, a);
  }
  rmWrite(insn: Insn, size: number, a: number, v: V): void {
    if (insn.modrm >= 0xc0) this.setReg(insn.modrm & 7, size, v);
    else this.write(size, insn.eaSeg, a, v);
  }

  // ---- stack ----
  sp(): number {
    if (this.stack32) this.reg(4, 2);
    else this.reg(4, 1);
    return this.keep();
  }
  spOffset(delta: number): number {
    this.reg(4, 2);
    this.f.i32(delta).op(Op.i32Add);
    if (!this.stack32) this.f.i32(0xffff).op(Op.i32And);
    return this.keep();
  }
  setSp(v: V): void {
    this.setReg(4, this.stack32 ? 2 : 1, v);
  }
  adjustSp(delta: number): void {
    this.setSp(this.spOffset(delta));
  }
  /** PUSH with a 2-byte (size 1) or 4-byte (size 2) slot. */
  pushValue(size: number, v: V): void {
    const sp = this.spOffset(size === 2 ? -4 : -2);
    this.write(size, SS, sp, v);
    this.setSp(sp);
  }

  // ---- flags ----
  private storeField(slot: number, v: V): void {
    this.f.i32(0);
    this.push(v);
    this.f.mem(Op.i32Store, slot);
  }
  private keepFlagLocal(local: number, v: V): void {
    this.push(v);
    this.f.set(local);
  }
  /** setLazy: the lazy fields of an arithmetic result, all six flags pending. */
  setLazy(op: V, size: number, dst: V, src: V, res: V): void {
    this.storeField(STATE_LAZY_OP, op);
    this.storeField(STATE_LAZY_SIZE, K(size));
    this.storeField(STATE_LAZY_DST, dst);
    this.storeField(STATE_LAZY_SRC, src);
    this.storeField(STATE_LAZY_RES, res);
    this.storeField(STATE_LAZY_FLAGS, K(ARITH));
    this.keepFlagLocal(L_FD, dst);
    this.keepFlagLocal(L_FS, src);
    this.keepFlagLocal(L_FR, res);
    this.fs = { op: typeof op === 'number' ? -1 : op.k, size, mask: ARITH };
  }
  /** setResultFlags: SF ZF PF from `res`, CF and OF (0/1 values) explicit, AF clear. */
  setResult(size: number, res: V, cf: V, of: V): void {
    this.storeField(STATE_LAZY_OP, K(OP_LOGIC));
    this.storeField(STATE_LAZY_SIZE, K(size));
    this.storeField(STATE_LAZY_DST, K(0));
    this.storeField(STATE_LAZY_SRC, K(0));
    this.storeField(STATE_LAZY_RES, res);
    this.storeField(STATE_LAZY_FLAGS, K(PF | ZF | SF));
    this.f.i32(0);
    this.f
      .field(STATE_FLAGS)
      .i32(~(CF | OF | AF))
      .op(Op.i32And);
    this.push(cf);
    this.f.op(Op.i32Or);
    this.push(of);
    this.f.i32(11).op(Op.i32Shl).op(Op.i32Or);
    this.f.mem(Op.i32Store, STATE_FLAGS);
    this.keepFlagLocal(L_FD, K(0));
    this.keepFlagLocal(L_FS, K(0));
    this.keepFlagLocal(L_FR, res);
    this.fs = { op: OP_LOGIC, size, mask: PF | ZF | SF };
  }
  /** setFlag: one flag from a 0/1 value, no longer pending. */
  setFlag(flag: number, v: V): void {
    this.f.i32(0);
    this.f.field(STATE_LAZY_FLAGS).i32(~flag).op(Op.i32And);
    this.f.mem(Op.i32Store, STATE_LAZY_FLAGS);
    this.f.i32(0);
    this.f.field(STATE_FLAGS).i32(~flag).op(Op.i32And);
    this.push(v);
    const shift = Math.log2(flag);
    if (shift) this.f.i32(shift).op(Op.i32Shl);
    this.f.op(Op.i32Or).mem(Op.i32Store, STATE_FLAGS);
    if (this.fs.mask >= 0) this.fs = { ...this.fs, mask: this.fs.mask & ~flag };
  }
  /** EFLAGS &= and, |= or (DF and the like). */
  changeFlags(and: number, or: number): void {
    this.f.i32(0);
    this.f.field(STATE_FLAGS).i32(and).op(Op.i32And);
    if (or) this.f.i32(or).op(Op.i32Or);
    this.f.mem(Op.i32Store, STATE_FLAGS);
  }
  forgetFlags(): void {
    this.fs = { op: -1, size: -1, mask: -1 };
  }

  /** Whether flag() can write `flag` from what is known at compile time. */
  flagKnown(flag: number): boolean {
    const { op, size, mask } = this.fs;
    if (mask < 0) return false;
    if (!(mask & flag)) return true;
    if (size < 0) return false;
    if (flag === ZF || flag === SF || flag === PF) return true;
    if (flag === CF || flag === OF) return op >= 0;
    return false;
  }
  /** Pushes `flag` as 0/1 (only when flagKnown). */
  flag(flag: number): void {
    const { op, size, mask } = this.fs;
    const f = this.f;
    if (!(mask & flag)) {
      f.field(STATE_FLAGS).i32(Math.log2(flag)).op(Op.i32ShrU).i32(1).op(Op.i32And);
      return;
    }
    const m = SIZE_MASKS[size];
    const sh = SIGN_SHIFTS[size];
    const u = (l: number) => {
      f.get(l);
      if (size !== 2) f.i32(m).op(Op.i32And);
    };
    switch (flag) {
      case ZF:
        f.get(L_FR);
        if (size !== 2) f.i32(m).op(Op.i32And);
        f.op(Op.i32Eqz);
        return;
      case SF:
        f.get(L_FR).i32(sh).op(Op.i32ShrU).i32(1).op(Op.i32And);
        return;
      case PF:
        f.get(L_FR).i32(0xff).op(Op.i32And).op(Op.i32Popcnt).i32(1).op(Op.i32And).i32(1).op(Op.i32Xor);
        return;
      case CF:
        switch (op) {
          case 0:
            u(L_FR);
            u(L_FD);
            f.op(Op.i32LtU);
            return;
          case 1:
            u(L_FR);
            u(L_FD);
            f.op(Op.i32LeU);
            return;
          case 2:
            u(L_FD);
            u(L_FS);
            f.op(Op.i32LtU);
            return;
          case 3:
            u(L_FD);
            u(L_FS);
            f.op(Op.i32LeU);
            return;
          default:
            f.i32(0);
            return;
        }
      default: // OF
        if (op === 0 || op === 1) {
          f.get(L_FD).get(L_FR).op(Op.i32Xor).get(L_FS).get(L_FR).op(Op.i32Xor).op(Op.i32And);
        } else if (op === 2 || op === 3) {
          f.get(L_FD).get(L_FS).op(Op.i32Xor).get(L_FD).get(L_FR).op(Op.i32Xor).op(Op.i32And);
        } else {
          f.i32(0);
          return;
        }
        f.i32(sh).op(Op.i32ShrU).i32(1).op(Op.i32And);
    }
  }
  /** Pushes CF as 0/1. */
  carry(): void {
    if (this.flagKnown(CF)) this.flag(CF);
    else this.f.call(F_CF);
  }
  /** Pushes condition `cc` (Jcc's low nibble) as 0/1. */
  condition(cc: number): void {
    const { op, size, mask } = this.fs;
    const f = this.f;
    const negate = () => {
      if (cc & 1) f.op(Op.i32Eqz);
    };
    if (mask === ARITH && size >= 0 && (op === OP_SUB || op === OP_LOGIC)) {
      const m = SIZE_MASKS[size];
      const u = (l: number) => {
        f.get(l);
        if (size !== 2) f.i32(m).op(Op.i32And);
      };
      const s = (l: number) => {
        f.get(l);
        if (size === 0) f.op(Op.i32Extend8S);
        if (size === 1) f.op(Op.i32Extend16S);
      };
      const zf = () => {
        f.get(L_FR);
        if (size !== 2) f.i32(m).op(Op.i32And);
        f.op(Op.i32Eqz);
      };
      const sf = () => f.get(L_FR).i32(SIGN_SHIFTS[size]).op(Op.i32ShrU).i32(1).op(Op.i32And);
      const group = cc >> 1;
      if (op === OP_SUB) {
        switch (group) {
          case 1:
            u(L_FD);
            u(L_FS);
            f.op(Op.i32LtU);
            return negate();
          case 2:
            zf();
            return negate();
          case 3:
            u(L_FD);
            u(L_FS);
            f.op(Op.i32LeU);
            return negate();
          case 6:
            s(L_FD);
            s(L_FS);
            f.op(Op.i32LtS);
            return negate();
          case 7:
            s(L_FD);
            s(L_FS);
            f.op(Op.i32LeS);
            return negate();
        }
      } else {
        switch (group) {
          case 0:
          case 1:
            f.i32(0);
            return negate();
          case 2:
          case 3:
            zf();
            return negate();
          case 4:
          case 6:
            sf();
            return negate();
          case 7:
            zf();
            sf();
            f.op(Op.i32Or);
            return negate();
        }
      }
    }
    const needs = [[OF], [CF], [ZF], [CF, ZF], [SF], [PF], [SF, OF], [ZF, SF, OF]][cc >> 1];
    if (!needs.every((flag) => this.flagKnown(flag))) {
      f.i32(cc).call(F_COND);
      return;
    }
    for (const flag of needs) this.flag(flag);
    switch (cc >> 1) {
      case 3:
        f.op(Op.i32Or);
        break;
      case 6:
        f.op(Op.i32Xor);
        break;
      case 7:
        f.op(Op.i32Xor).op(Op.i32Or);
        break;
    }
    negate();
  }

  /** Calls import `index` with the instruction's position (it may raise). */
  callAt(index: number): void {
    this.position();
    this.f.call(index);
  }
  /** checkRmWritable: #PF/#GP as a write of `bytes` at `addr` would raise, before anything is read. */
  checkWritable(seg: number, addr: V, bytes: number): void {
    this.f.i32(seg);
    this.push(addr);
    this.f.i32(bytes);
    this.callAt(F_CHECK_WRITABLE);
  }
  /** #DE when the value on the stack is non-zero. */
  divideErrorIf(): void {
    this.begin(Op.if);
    this.callAt(F_DE);
    this.end();
  }

  /** #GP(0) when `target` (a value) is beyond the CS limit. */
  checkCsLimit(target: V): void {
    this.push(target);
    this.f.field(STATE_SEG_LIMIT + 4).op(Op.i32GtU);
    this.begin(Op.if);
    this.position();
    this.f.call(F_GP);
    this.end();
  }
}

/** What translate() made of an instruction: straight-line code, a branch (sets pc), or nothing. */
type Translated = { kind: 'code' } | { kind: 'branch'; targets: number[] } | null;
const CODE: Translated = { kind: 'code' };

/** aluResult: pushes the result of ALU operation `op` (ADD OR ADC SBB AND SUB XOR CMP). */
function aluResult(b: Builder, op: number, d: number, s: number, cf: number): void {
  const f = b.f;
  f.get(d).get(s);
  switch (op) {
    case 0:
      f.op(Op.i32Add);
      return;
    case 1:
      f.op(Op.i32Or);
      return;
    case 2:
      f.op(Op.i32Add).get(cf).op(Op.i32Add);
      return;
    case 3:
      f.op(Op.i32Sub).get(cf).op(Op.i32Sub);
      return;
    case 4:
      f.op(Op.i32And);
      return;
    case 6:
      f.op(Op.i32Xor);
      return;
    default:
      f.op(Op.i32Sub);
  }
}

function aluFlags(b: Builder, op: number, size: number, d: number, s: number, r: number, cf: number): void {
  switch (op) {
    case 0:
      return b.setLazy(K(OP_ADD), size, d, s, r);
    case 2:
      return b.setLazy(cf, size, d, s, r);
    case 3: {
      b.f.get(cf).i32(2).op(Op.i32Add);
      return b.setLazy(b.keep(), size, d, s, r);
    }
    case 5:
    case 7:
      return b.setLazy(K(OP_SUB), size, d, s, r);
    default:
      return b.setLazy(K(OP_LOGIC), size, K(0), K(0), r);
  }
}

/** ALU op with destination r/m (memory written before the flags); `src` pushes the source. */
function aluRm(b: Builder, insn: Insn, op: number, size: number, src: () => void): void {
  const a = b.addrDecl(insn);
  b.rmRead(insn, size, a);
  const d = b.keep();
  src();
  const s = b.keep();
  let cf = -1;
  if (op === 2 || op === 3) {
    b.carry();
    cf = b.keep();
  }
  aluResult(b, op, d, s, cf);
  const r = b.keep();
  if (op !== 7) b.rmWrite(insn, size, a, r);
  aluFlags(b, op, size, d, s, r, cf);
}

/** ALU op with register destination `dst`. */
function aluReg(b: Builder, op: number, size: number, dst: number, src: () => void): void {
  b.reg(dst, size);
  const d = b.keep();
  src();
  const s = b.keep();
  let cf = -1;
  if (op === 2 || op === 3) {
    b.carry();
    cf = b.keep();
  }
  aluResult(b, op, d, s, cf);
  const r = b.keep();
  if (op !== 7) b.setReg(dst, size, r);
  aluFlags(b, op, size, d, s, r, cf);
}

/** INC/DEC (CF kept): `read` pushes the operand, `write` stores the result local. */
function incDec(b: Builder, size: number, dec: boolean, read: () => void, write: (r: number) => void): void {
  b.carry();
  const cf = b.keep();
  read();
  const d = b.keep();
  b.f
    .get(d)
    .i32(1)
    .op(dec ? Op.i32Sub : Op.i32Add);
  const r = b.keep();
  write(r);
  b.setLazy(K(dec ? OP_SUB : OP_ADD), size, d, K(1), r);
  b.setFlag(CF, cf);
}

/** imulTruncated for 0F AF / 69 / 6B: x and y are locals or constants. */
function imulTruncated(b: Builder, size: number, reg: number, x: V, y: V): void {
  const f = b.f;
  if (size === 2) {
    b.push(x);
    f.op(Op.i64ExtendI32S);
    b.push(y);
    f.op(Op.i64ExtendI32S).op(Op.i64Mul);
    const p = b.tmp();
    // The product in 64 bits; OF when it differs from the low half sign-extended.
    f.op(Op.i64Const);
    f.code.push(32);
    f.op(Op.i64ShrS).op(Op.i32WrapI64).set(p);
    b.push(x);
    b.push(y);
    f.op(Op.i32Mul);
    const lo = b.keep();
    b.setReg(reg, 2, lo);
    f.get(p).get(lo).i32(31).op(Op.i32ShrS).op(Op.i32Ne);
    const o = b.keep();
    b.setResult(2, lo, o, o);
    return;
  }
  b.push(x);
  f.op(Op.i32Extend16S);
  b.push(y);
  f.op(Op.i32Extend16S).op(Op.i32Mul);
  const r = b.keep();
  b.setReg(reg, 1, r);
  f.get(r).get(r).op(Op.i32Extend16S).op(Op.i32Ne);
  const o = b.keep();
  b.setResult(1, r, o, o);
}

/** Shifts of group 2 except RCL/RCR (null). `count` is a constant or CL. */
function shift(b: Builder, insn: Insn, size: number, count: number | 'cl'): Translated {
  const op = (insn.modrm >> 3) & 7;
  if (op === 2 || op === 3) return null;
  const f = b.f;
  const bits = BITS[size];
  const m = SIZE_MASKS[size];
  const top = SIGN_SHIFTS[size];
  const a = b.addrDecl(insn);
  b.rmRead(insn, size, a);
  if (size !== 2) f.i32(m).op(Op.i32And);
  const d = b.keep();
  if (count !== 'cl' && (count & 0x1f) === 0) return CODE;
  let n: V;
  if (count === 'cl') {
    b.reg(1, 0);
    f.i32(0x1f).op(Op.i32And);
    n = b.keep();
    f.get(n);
    b.begin(Op.if);
  } else n = K(count);
  const r = b.tmp();
  const cf = b.tmp();
  const of = b.tmp();
  const nm1 = () => {
    b.push(n);
    f.i32(1).op(Op.i32Sub);
  };
  switch (op) {
    case 0:
    case 1: {
      // k8 = n % bits; r = k8 === 0 ? d : rotated & m
      b.push(n);
      f.i32(bits).op(Op.i32RemU);
      const k8 = b.keep();
      if (size === 2) {
        f.get(d)
          .get(k8)
          .op(op === 0 ? Op.i32Rotl : Op.i32Rotr)
          .set(r);
      } else {
        f.get(d);
        f.get(d)
          .get(k8)
          .op(op === 0 ? Op.i32Shl : Op.i32ShrU);
        f.get(d)
          .i32(bits)
          .get(k8)
          .op(Op.i32Sub)
          .op(op === 0 ? Op.i32ShrU : Op.i32Shl);
        f.op(Op.i32Or).i32(m).op(Op.i32And);
        f.get(k8).op(Op.i32Eqz).op(Op.select).set(r);
      }
      if (op === 0) {
        f.get(r).i32(1).op(Op.i32And).set(cf);
        f.get(r).i32(top).op(Op.i32ShrU).i32(1).op(Op.i32And).get(cf).op(Op.i32Xor).set(of);
      } else {
        f.get(r).i32(top).op(Op.i32ShrU).i32(1).op(Op.i32And).set(cf);
        f.get(cf)
          .get(r)
          .i32(top - 1)
          .op(Op.i32ShrU)
          .i32(1)
          .op(Op.i32And)
          .op(Op.i32Xor)
          .set(of);
      }
      break;
    }
    case 4:
    case 6:
      f.get(d);
      b.push(n);
      f.op(Op.i32Shl);
      if (size !== 2) f.i32(m).op(Op.i32And);
      f.set(r);
      // cf = n <= bits ? (d >>> (bits - n)) & 1 : 0
      f.get(d).i32(bits);
      b.push(n);
      f.op(Op.i32Sub).op(Op.i32ShrU).i32(1).op(Op.i32And).i32(0);
      b.push(n);
      f.i32(bits).op(Op.i32LeU).op(Op.select).set(cf);
      f.get(r).i32(top).op(Op.i32ShrU).i32(1).op(Op.i32And).get(cf).op(Op.i32Xor).set(of);
      break;
    case 5:
      f.get(d);
      b.push(n);
      f.op(Op.i32ShrU).set(r);
      f.get(d);
      nm1();
      f.op(Op.i32ShrU).i32(1).op(Op.i32And).i32(0);
      b.push(n);
      f.i32(bits).op(Op.i32LeU).op(Op.select).set(cf);
      f.get(d);
      nm1();
      f.op(Op.i32ShrU).i32(top).op(Op.i32ShrU).i32(1).op(Op.i32And).set(of);
      break;
    default: {
      f.get(d);
      if (size === 0) f.op(Op.i32Extend8S);
      if (size === 1) f.op(Op.i32Extend16S);
      const sx = b.keep();
      // r = (n >= bits ? sx >> (bits - 1) : sx >> n) & m; cf likewise with n - 1.
      f.get(sx)
        .i32(bits - 1)
        .op(Op.i32ShrS);
      f.get(sx);
      b.push(n);
      f.op(Op.i32ShrS);
      b.push(n);
      f.i32(bits).op(Op.i32GeU).op(Op.select);
      if (size !== 2) f.i32(m).op(Op.i32And);
      f.set(r);
      f.get(sx)
        .i32(bits - 1)
        .op(Op.i32ShrS);
      f.get(sx);
      nm1();
      f.op(Op.i32ShrS);
      b.push(n);
      f.i32(bits).op(Op.i32GeU).op(Op.select).i32(1).op(Op.i32And).set(cf);
      f.i32(0).set(of);
      break;
    }
  }
  b.rmWrite(insn, size, a, r);
  if (op < 4) {
    b.setFlag(CF, cf);
    b.setFlag(OF, of);
  } else b.setResult(size, r, cf, of);
  if (count === 'cl') {
    b.end();
    b.forgetFlags();
  }
  return CODE;
}

/** MUL/IMUL of group 3 (F6/F7 /4 /5). */
function multiply(b: Builder, insn: Insn, size: number, signed: boolean): void {
  const f = b.f;
  const a = b.addrDecl(insn);
  if (size === 2) {
    b.rmRead(insn, 2, a);
    const x = b.keep();
    b.reg(0, 2);
    const e = b.keep();
    const ext = signed ? Op.i64ExtendI32S : Op.i64ExtendI32U;
    f.get(e).op(ext).get(x).op(ext).op(Op.i64Mul);
    f.op(Op.i64Const);
    f.code.push(32);
    f.op(Op.i64ShrU).op(Op.i32WrapI64);
    const hi = b.keep();
    f.get(e).get(x).op(Op.i32Mul);
    const lo = b.keep();
    b.setReg(0, 2, lo);
    b.setReg(2, 2, hi);
    f.get(hi);
    if (signed) f.get(lo).i32(31).op(Op.i32ShrS).op(Op.i32Ne);
    else f.i32(0).op(Op.i32Ne);
    const o = b.keep();
    b.setResult(2, lo, o, o);
    return;
  }
  b.reg(0, size);
  if (signed) f.op(size === 0 ? Op.i32Extend8S : Op.i32Extend16S);
  b.rmRead(insn, size, a);
  if (signed) f.op(size === 0 ? Op.i32Extend8S : Op.i32Extend16S);
  f.op(Op.i32Mul);
  const r = b.keep();
  b.setReg(0, 1, r);
  if (size === 1) {
    f.get(r)
      .i32(16)
      .op(signed ? Op.i32ShrS : Op.i32ShrU);
    b.setReg(2, 1, b.keep());
  }
  if (signed)
    f.get(r)
      .get(r)
      .op(size === 0 ? Op.i32Extend8S : Op.i32Extend16S)
      .op(Op.i32Ne);
  else
    f.get(r)
      .i32(size === 0 ? 8 : 16)
      .op(size === 0 ? Op.i32ShrS : Op.i32ShrU)
      .i32(0)
      .op(Op.i32Ne);
  const o = b.keep();
  b.setResult(size, r, o, o);
}

/**
 * DIV/IDIV (group3 /6 /7): #DE for a zero divisor or a quotient that does not fit; the registers change
 * only after both checks. Computed in 64 bits, where no operand left after the checks makes WebAssembly's
 * division trap.
 */
function divide(b: Builder, insn: Insn, size: number, signed: boolean): void {
  const f = b.f;
  const a = b.addrDecl(insn);
  b.rmRead(insn, size, a);
  if (signed && size === 0) f.op(Op.i32Extend8S);
  if (signed && size === 1) f.op(Op.i32Extend16S);
  const x = b.keep();
  f.get(x).op(Op.i32Eqz);
  b.divideErrorIf();
  const ext = signed ? Op.i64ExtendI32S : Op.i64ExtendI32U;
  // The dividend: AX, DX:AX or EDX:EAX.
  if (size === 0) {
    b.reg(0, 1);
    if (signed) f.op(Op.i32Extend16S);
    f.op(ext);
  } else if (size === 1) {
    b.reg(2, 1);
    f.i32(16).op(Op.i32Shl);
    b.reg(0, 1);
    f.op(Op.i32Or).op(ext);
  } else {
    b.reg(2, 2);
    f.op(Op.i64ExtendI32U).i64(32).op(Op.i64Shl);
    b.reg(0, 2);
    f.op(Op.i64ExtendI32U).op(Op.i64Or);
  }
  f.set(L_N64);
  if (signed && size === 2) {
    // -2^63 / -1 would trap; its quotient does not fit anyway.
    b.reg(2, 2);
    f.i32(-0x80000000).op(Op.i32Eq);
    b.reg(0, 2);
    f.op(Op.i32Eqz).op(Op.i32And).get(x).i32(-1).op(Op.i32Eq).op(Op.i32And);
    b.divideErrorIf();
  }
  f.get(L_N64)
    .get(x)
    .op(ext)
    .op(signed ? Op.i64DivS : Op.i64DivU)
    .tee(L_Q64);
  // Does the quotient fit in the operand size (signed: is it its low bits sign-extended)?
  if (signed) {
    f.get(L_Q64).op(Op.i32WrapI64);
    if (size === 0) f.op(Op.i32Extend8S);
    if (size === 1) f.op(Op.i32Extend16S);
    f.op(Op.i64ExtendI32S).op(Op.i64Ne);
  } else {
    f.i64(BITS[size]).op(Op.i64ShrU).op(Op.i64Eqz).op(Op.i32Eqz);
  }
  b.divideErrorIf();
  f.get(L_Q64).op(Op.i32WrapI64);
  const q = b.keep();
  f.get(L_N64)
    .get(x)
    .op(ext)
    .op(signed ? Op.i64RemS : Op.i64RemU)
    .op(Op.i32WrapI64);
  const rem = b.keep();
  if (size === 0) {
    b.setReg(0, 0, q);
    b.setReg(4, 0, rem);
  } else {
    b.setReg(0, size, q);
    b.setReg(2, size, rem);
  }
}

/** CMPXCHG r/m, r: a memory destination checked writable first and written either way; CMP's flags. */
function cmpxchg(b: Builder, insn: Insn, size: number): void {
  const f = b.f;
  const reg = (insn.modrm >> 3) & 7;
  const mem = insn.modrm < 0xc0;
  const a = b.addrDecl(insn);
  if (mem) b.checkWritable(insn.eaSeg, a, 1 << size);
  b.rmRead(insn, size, a);
  const d = b.keep();
  b.reg(0, size);
  const x = b.keep();
  f.get(x).get(d).op(Op.i32Eq);
  b.begin(Op.if);
  b.reg(reg, size);
  b.rmWrite(insn, size, a, b.keep());
  b.else();
  if (mem) b.rmWrite(insn, size, a, d);
  b.setReg(0, size, d);
  b.end();
  f.get(x).get(d).op(Op.i32Sub);
  b.setLazy(K(OP_SUB), size, x, d, b.keep());
}

/** CMPXCHG8B m64: checked writable, both dwords read, both written, then ZF. */
function cmpxchg8b(b: Builder, insn: Insn): void {
  const f = b.f;
  const seg = insn.eaSeg;
  const a = b.address(insn);
  f.get(a).i32(4).op(Op.i32Add);
  if (!insn.a32) f.i32(0xffff).op(Op.i32And);
  const h = b.keep();
  b.checkWritable(seg, a, 8);
  b.read(2, seg, a);
  const lo = b.keep();
  b.read(2, seg, h);
  const hi = b.keep();
  f.get(lo);
  b.reg(0, 2);
  f.op(Op.i32Eq).get(hi);
  b.reg(2, 2);
  f.op(Op.i32Eq).op(Op.i32And);
  const z = b.keep();
  f.get(z);
  b.begin(Op.if);
  b.reg(3, 2);
  b.write(2, seg, a, b.keep());
  b.reg(1, 2);
  b.write(2, seg, h, b.keep());
  b.else();
  b.write(2, seg, a, lo);
  b.write(2, seg, h, hi);
  b.setReg(0, 2, lo);
  b.setReg(2, 2, hi);
  b.end();
  b.setFlag(ZF, z);
}

/** BT/BTS/BTR/BTC, register or memory operand (bitTest / bitTestMemory in codegen.ts). */
function bitTest(b: Builder, insn: Insn, size: number): Translated {
  const f = b.f;
  const reg = (insn.modrm >> 3) & 7;
  const mask = size === 2 ? 31 : 15;
  let kind: number;
  if (insn.op === 0x1ba) {
    if (reg < 4) return null;
    kind = reg - 4;
  } else kind = insn.op === 0x1a3 ? 0 : insn.op === 0x1ab ? 1 : insn.op === 0x1b3 ? 2 : 3;
  const update = (v: number, k: number) => {
    f.get(v).i32(1).get(k).op(Op.i32Shl);
    if (kind === 1) f.op(Op.i32Or);
    else if (kind === 3) f.op(Op.i32Xor);
    else f.i32(-1).op(Op.i32Xor).op(Op.i32And);
  };
  if (insn.modrm >= 0xc0) {
    if (insn.op === 0x1ba) f.i32(insn.imm & mask);
    else {
      b.reg(reg, size);
      f.i32(mask).op(Op.i32And);
    }
    const k = b.keep();
    const rm = insn.modrm & 7;
    b.reg(rm, size);
    const v = b.keep();
    f.get(v).get(k).op(Op.i32ShrU).i32(1).op(Op.i32And);
    b.setFlag(CF, b.keep());
    if (kind) {
      update(v, k);
      b.setReg(rm, size, b.keep());
    }
    return CODE;
  }
  const seg = insn.eaSeg;
  const a = b.address(insn);
  let e = a;
  let k: number;
  if (insn.op === 0x1ba) {
    f.i32(insn.imm & mask);
    k = b.keep();
  } else {
    b.reg(reg, size);
    if (size !== 2) f.op(Op.i32Extend16S);
    const o = b.keep();
    // The operand moves by (offset >> 5) dwords, (offset >> 4) words.
    f.get(a)
      .get(o)
      .i32(size === 2 ? 5 : 4)
      .op(Op.i32ShrS)
      .i32(size === 2 ? 2 : 1)
      .op(Op.i32Shl);
    f.op(Op.i32Add);
    if (!insn.a32) f.i32(0xffff).op(Op.i32And);
    e = b.keep();
    f.get(o).i32(mask).op(Op.i32And);
    k = b.keep();
  }
  b.read(size, seg, e);
  const v = b.keep();
  if (kind) {
    update(v, k);
    b.write(size, seg, e, b.keep());
  }
  f.get(v).get(k).op(Op.i32ShrU).i32(1).op(Op.i32And);
  b.setFlag(CF, b.keep());
  return CODE;
}

/** SHLD/SHRD r/m, r, imm8/CL (doubleShift in codegen.ts): 16-bit operands shift dst:src:dst in 48 bits. */
function doubleShift(b: Builder, insn: Insn, size: number, right: boolean, count: number | 'cl'): void {
  const f = b.f;
  const reg = (insn.modrm >> 3) & 7;
  const a = b.addrDecl(insn);
  b.rmRead(insn, size, a);
  const d = b.keep();
  if (count !== 'cl' && count === 0) return;
  let n: V;
  if (count === 'cl') {
    b.reg(1, 0);
    f.i32(0x1f).op(Op.i32And);
    n = b.keep();
    f.get(n);
    b.begin(Op.if);
  } else n = K(count);
  const r = b.tmp();
  const cf = b.tmp();
  if (size === 2) {
    b.reg(reg, 2);
    const s = b.keep();
    if (right) {
      f.get(d);
      b.push(n);
      f.op(Op.i32ShrU).get(s).i32(32);
      b.push(n);
      f.op(Op.i32Sub).op(Op.i32Shl).op(Op.i32Or).set(r);
      f.get(d);
      b.push(n);
      f.i32(1).op(Op.i32Sub).op(Op.i32ShrU).i32(1).op(Op.i32And).set(cf);
    } else {
      f.get(d);
      b.push(n);
      f.op(Op.i32Shl).get(s).i32(32);
      b.push(n);
      f.op(Op.i32Sub).op(Op.i32ShrU).op(Op.i32Or).set(r);
      f.get(d).i32(32);
      b.push(n);
      f.op(Op.i32Sub).op(Op.i32ShrU).i32(1).op(Op.i32And).set(cf);
    }
    f.get(r).get(d).op(Op.i32Xor).i32(31).op(Op.i32ShrU);
  } else {
    // w = d << 32 | src << 16 | d, 48 bits.
    const w = () => {
      f.get(d).op(Op.i64ExtendI32U).i64(32).op(Op.i64Shl);
      b.reg(reg, 1);
      f.op(Op.i64ExtendI32U).i64(16).op(Op.i64Shl).op(Op.i64Or);
      f.get(d).op(Op.i64ExtendI32U).op(Op.i64Or);
    };
    const shiftedBy = (amount: () => void) => {
      w();
      amount();
      f.op(Op.i64ExtendI32U).op(Op.i64ShrU).op(Op.i32WrapI64);
    };
    shiftedBy(() => {
      if (right) b.push(n);
      else {
        f.i32(32);
        b.push(n);
        f.op(Op.i32Sub);
      }
    });
    f.i32(0xffff).op(Op.i32And).set(r);
    shiftedBy(() => {
      if (right) {
        b.push(n);
        f.i32(1).op(Op.i32Sub);
      } else {
        f.i32(48);
        b.push(n);
        f.op(Op.i32Sub);
      }
    });
    f.i32(1).op(Op.i32And).set(cf);
    f.get(r).get(d).op(Op.i32Xor).i32(15).op(Op.i32ShrU);
  }
  f.i32(1).op(Op.i32And);
  const of = b.keep();
  b.rmWrite(insn, size, a, r);
  b.setResult(size, r, cf, of);
  if (count === 'cl') {
    b.end();
    b.forgetFlags();
  }
}

/** MOVS, CMPS, STOS, LODS, SCAS without REP (stringOnce in codegen.ts). */
function stringOnce(b: Builder, insn: Insn, size: number): void {
  const f = b.f;
  const op = insn.op & ~1;
  const src = insn.seg >= 0 ? insn.seg : DS;
  const bytes = 1 << size;
  const index = insn.a32 ? 2 : 1;
  f.i32(-bytes).i32(bytes).field(STATE_FLAGS).i32(DF).op(Op.i32And).op(Op.select);
  const st = b.keep();
  const usesSi = op === 0xa4 || op === 0xa6 || op === 0xac;
  const usesDi = op !== 0xac;
  let si = -1;
  let di = -1;
  if (usesSi) {
    b.reg(6, index);
    si = b.keep();
  }
  if (usesDi) {
    b.reg(7, index);
    di = b.keep();
  }
  switch (op) {
    case 0xa4:
      b.read(size, src, si);
      b.write(size, ES, di, b.keep());
      break;
    case 0xa6: {
      b.read(size, src, si);
      const x = b.keep();
      b.read(size, ES, di);
      const y = b.keep();
      f.get(x).get(y).op(Op.i32Sub);
      b.setLazy(K(OP_SUB), size, x, y, b.keep());
      break;
    }
    case 0xaa:
      b.reg(0, size);
      b.write(size, ES, di, b.keep());
      break;
    case 0xac:
      b.read(size, src, si);
      b.setReg(0, size, b.keep());
      break;
    default: {
      b.reg(0, size);
      const x = b.keep();
      b.read(size, ES, di);
      const y = b.keep();
      f.get(x).get(y).op(Op.i32Sub);
      b.setLazy(K(OP_SUB), size, x, y, b.keep());
      break;
    }
  }
  if (usesSi) {
    f.get(si).get(st).op(Op.i32Add);
    b.setReg(6, index, b.keep());
  }
  if (usesDi) {
    f.get(di).get(st).op(Op.i32Add);
    b.setReg(7, index, b.keep());
  }
}

/**
 * The RAM-relative physical address of a run of `length` bytes at flat offset `at`, in a new local; branches
 * out one level (repString's $slow) when the run leaves the page or its TLB entry lacks the rights in
 * `bitSlot`.
 */
function runInPage(b: Builder, at: number, length: number, bitSlot: number): number {
  const f = b.f;
  f.get(at).i32(0xfff).op(Op.i32And).get(length).op(Op.i32Add).i32(0x1000).op(Op.i32GtU).brIf(0);
  f.get(at);
  tlbFastPath(f, 0, bitSlot, 0, b.tmp(), b.tmp());
  return b.keep();
}

/**
 * A REP string instruction (A4-A7, AA-AF with F2/F3): the interpreter's step runs it (up to 4096
 * iterations), and the block goes on after it, unless the step left it to restart (more iterations left: the
 * region ends there, so that interrupts are looked at, as between the interpreter's steps) or wrote compiled
 * code. REP MOVS and REP STOS with 32-bit addresses and flat segments are done in place instead when the
 * interpreter's bulk path would do the whole of them in one step with one copy or fill (ops/string.ts
 * bulkIterations): DF clear, the destination (and source) each within one page
 * the TLB already grants (never one holding compiled code), and no copy onto source bytes not yet read.
 */
function repString(b: Builder, insn: Insn, size: number): Translated {
  const f = b.f;
  const op = insn.op & ~1;
  const src = insn.seg >= 0 ? insn.seg : DS;
  b.begin(Op.block); // $done
  if (b.flat && insn.a32 && (op === 0xaa || (op === 0xa4 && (src === DS || src === ES || src === SS)))) {
    b.begin(Op.block); // $slow
    b.reg(1, 2);
    const ecx = b.keep();
    f.get(ecx).op(Op.i32Eqz).brIf(1); // nothing to do
    f.field(STATE_FLAGS).i32(DF).op(Op.i32And).brIf(0);
    // More than a page of bytes can take no fast path (and the byte count cannot wrap).
    f.get(ecx).i32(0x1000).op(Op.i32GtU).brIf(0);
    f.get(ecx).i32(size).op(Op.i32Shl);
    const length = b.keep();
    b.reg(7, 2);
    const edi = b.keep();
    const pd = runInPage(b, edi, length, STATE_WRITE_BIT);
    if (op === 0xa4) {
      b.reg(6, 2);
      const esi = b.keep();
      const ps = runInPage(b, esi, length, STATE_READ_BIT);
      // Element by element differs from one copy when the destination is ahead of the source by less
      // than the length: 1 <= pd - ps <= length - 1.
      f.get(pd).get(ps).op(Op.i32Sub).i32(1).op(Op.i32Sub).get(length).i32(1).op(Op.i32Sub).op(Op.i32LtU);
      f.brIf(0);
      f.get(pd).i32(RAM_BASE).op(Op.i32Add).get(ps).i32(RAM_BASE).op(Op.i32Add).get(length).memoryCopy();
      f.get(esi).get(length).op(Op.i32Add);
      b.setReg(6, 2, b.keep());
    } else {
      // The element repeated over a word; bytes all alike (zeroing, mostly): one fill.
      b.reg(0, size);
      if (size === 0) f.i32(0x01010101).op(Op.i32Mul);
      else if (size === 1) f.i32(0x10001).op(Op.i32Mul);
      const pattern = b.keep();
      f.get(pattern).get(pattern).i32(0xff).op(Op.i32And).i32(0x01010101).op(Op.i32Mul).op(Op.i32Eq);
      b.begin(Op.if);
      f.get(pd).i32(RAM_BASE).op(Op.i32Add).get(pattern).get(length).memoryFill();
      b.else();
      // Else element by element (2- or 4-byte elements only: a byte pattern is always alike).
      const at = b.tmp();
      f.get(pd).set(at);
      f.get(pd).get(length).op(Op.i32Add);
      const end = b.keep();
      b.begin(Op.loop);
      f.get(at).get(pattern).mem(STORE[size], RAM_BASE);
      f.get(at)
        .i32(1 << size)
        .op(Op.i32Add)
        .tee(at)
        .get(end)
        .op(Op.i32LtU)
        .brIf(0);
      b.end();
      b.end();
    }
    f.get(edi).get(length).op(Op.i32Add);
    b.setReg(7, 2, b.keep());
    b.setReg(1, 2, K(0));
    f.br(1);
    b.end();
  }
  // The interpreter's step; 1 back when the region must end after it (see WasmRegions.fallback).
  b.position();
  f.call(F_FALLBACK);
  b.leaveIfAsked();
  b.end();
  b.forgetFlags();
  return CODE;
}

/** The x87 import's `info` bit for an instruction that reads or writes EFLAGS (wasm-region.ts). */
export const X87_FLAGS = 1 << 16;

/**
 * Whether x87 instruction `insn` (D8-DF) leaves EFLAGS alone: all but FCMOVcc (DA/DB C0-DF), which reads
 * it, and FCOMI/FUCOMI(P) (DB/DF E8-F7), which write it.
 */
export function x87KeepsFlags(insn: Insn): boolean {
  const op = insn.op;
  const modrm = insn.modrm;
  if (modrm < 0xc0 || (op !== 0xda && op !== 0xdb && op !== 0xdf)) return true;
  if (op !== 0xdf && modrm < 0xe0) return false;
  return !(op !== 0xda && modrm >= 0xe8 && modrm < 0xf8);
}

/**
 * An x87 instruction: the interpreter's x87 code (ops/x87.ts escapeDecoded) runs it, handed the ModRM byte,
 * the memory operand's offset and segment, the operand size and the instruction's bounds that decoding would
 * have given it, so that nothing is decoded again. The lazy flags stay in the state area, except around
 * FCMOVcc and FCOMI/FUCOMI(P) (not x87KeepsFlags), which read or write EFLAGS through the CPU's fields. 1
 * back when the region must end after it (a write to compiled code, a frozen CPU, an x87 error raising IRQ
 * 13), as a fallback returns.
 */
function x87(b: Builder, insn: Insn): Translated {
  const f = b.f;
  const a = b.addrDecl(insn);
  const flags = !x87KeepsFlags(insn);
  const reg = (insn.modrm >> 3) & 7;
  const modrm = insn.modrm;
  const memoryMove =
    insn.op === 0xdd &&
    a >= 0 &&
    (reg === 0 || reg === 2 || reg === 3) &&
    b.flat &&
    insn.a32 === 1 &&
    (insn.eaSeg === DS || insn.eaSeg === ES || insn.eaSeg === SS);
  const registerMove =
    (insn.op === 0xd9 && modrm >= 0xc0 && modrm < 0xd0) ||
    (insn.op === 0xdd && modrm >= 0xd0 && modrm < 0xe0) ||
    (insn.op === 0xdf && modrm === 0xe0);
  const moves = memoryMove || registerMove;
  if (moves) {
    b.begin(Op.block); // $done
    b.begin(Op.block); // $slow
    if (memoryMove) x87Move(b, insn, a, reg);
    else x87RegisterMove(b, insn);
    f.br(1);
    b.end();
  }
  b.position();
  // info: opcode - D8 (bits 0-2), ModRM (3-10), the operand's segment (11-13), operand and address size,
  // EFLAGS used (X87_FLAGS).
  f.i32(
    (insn.op - 0xd8) |
      (insn.modrm << 3) |
      ((a < 0 ? 0 : insn.eaSeg) << 11) |
      (insn.o32 << 14) |
      (insn.a32 << 15) |
      (flags ? X87_FLAGS : 0),
  );
  if (a < 0) f.i32(0);
  else f.get(a);
  f.i32(insn.next);
  f.call(F_X87);
  if (flags) b.forgetFlags();
  b.leaveIfAsked();
  if (moves) b.end();
  return CODE;
}

const FPU_WORD = (n: number) => STATE_FPU_WORDS + 4 * n;
const CR0_EM_TS = 0xc;
const SW_ES = 0x80;
const SW_C1 = 0x200;

/**
 * FLD m64real (DD /0), FST and FSTP m64real (DD /2, /3) through a flat segment, in place: the float64 moves
 * between RAM and the FPU's registers in the state area (fpu.ts), with what the interpreter's handlers
 * (ops/x87.ts begin, fpu-memory.ts loadReal64 / pushMem / storeReal) do when nothing can raise: CR0.EM and
 * TS clear, no exception pending, the operand within one page the TLB grants (a store: never a page of
 * compiled code), for FLD an empty register to push into and a value that is neither a NaN nor a denormal,
 * for FST a register that is not empty and holds no 80-bit-only value (it is exactly a float64; a NaN never is).
 * Otherwise it branches out ($slow: the x87 import runs the instruction) before anything changed.
 */
function x87Move(b: Builder, insn: Insn, a: number, reg: number): void {
  const f = b.f;
  f.field(STATE_CR0).i32(CR0_EM_TS).op(Op.i32And).brIf(0);
  f.field(FPU_WORD(FPU_SW)).i32(SW_ES).op(Op.i32And).brIf(0);
  f.field(FPU_WORD(FPU_TOP));
  const top = b.keep();
  const load = reg === 0;
  let r = top;
  if (load) {
    // The register pushed into: empty, or a stack overflow (the interpreter's).
    f.get(top).i32(1).op(Op.i32Sub).i32(7).op(Op.i32And);
    r = b.keep();
    f.get(r).mem(Op.i32Load8U, STATE_FPU_EMPTY).op(Op.i32Eqz).brIf(0);
  } else {
    f.get(top).mem(Op.i32Load8U, STATE_FPU_EMPTY).brIf(0);
    // (A NaN always has its 80-bit bits: extValid.)
    f.get(top).mem(Op.i32Load8U, STATE_FPU_EXT_VALID).brIf(0);
  }
  f.get(a);
  tlbFastPath(f, 7, load ? STATE_READ_BIT : STATE_WRITE_BIT, 0, b.tmp(), b.tmp());
  const phys = b.keep();
  if (load) {
    isNanOrDenormal(b, phys, RAM_BASE);
    f.brIf(0);
  }
  // Nothing raises from here: ops/x87.ts begin()'s FIP, FCS, FOP (and C1), FDP and FDS, then the move.
  x87Begin(b, insn);
  f.i32(0).get(a).mem(Op.i32Store, FPU_WORD(FPU_FDP));
  f.i32(0)
    .i32(0)
    .mem(Op.i32Load16U, STATE_SREG + 2 * insn.eaSeg)
    .mem(Op.i32Store, FPU_WORD(FPU_FDS));
  if (load) {
    f.get(r).i32(3).op(Op.i32Shl).get(phys).mem(Op.i64Load, RAM_BASE).mem(Op.i64Store, STATE_FPU_VAL);
    f.get(r).i32(0).mem(Op.i32Store8, STATE_FPU_EXT_VALID);
    f.get(r).i32(0).mem(Op.i32Store8, STATE_FPU_EMPTY);
    f.i32(0).get(r).mem(Op.i32Store, FPU_WORD(FPU_TOP));
  } else {
    f.get(phys).get(top).i32(3).op(Op.i32Shl).mem(Op.i64Load, STATE_FPU_VAL).mem(Op.i64Store, RAM_BASE);
    if (reg === 3) {
      f.get(top).i32(1).mem(Op.i32Store8, STATE_FPU_EMPTY);
      f.i32(0).get(top).i32(1).op(Op.i32Add).i32(7).op(Op.i32And).mem(Op.i32Store, FPU_WORD(FPU_TOP));
    }
  }
}

/**
 * What ops/x87.ts begin() records for a waiting non-control instruction (FIP, FCS, FOP; a memory form's FDP
 * and FDS are its caller's), and C1 cleared, as every move in place leaves it.
 */
function x87Begin(b: Builder, insn: Insn): void {
  const f = b.f;
  f.i32(0).i32(insn.start).mem(Op.i32Store, FPU_WORD(FPU_FIP));
  f.i32(0)
    .i32(0)
    .mem(Op.i32Load16U, STATE_SREG + 2 * CS)
    .mem(Op.i32Store, FPU_WORD(FPU_FCS));
  f.i32(0)
    .i32(((insn.op & 7) << 8) | insn.modrm)
    .mem(Op.i32Store, FPU_WORD(FPU_FOP));
  f.i32(0).field(FPU_WORD(FPU_SW)).i32(~SW_C1).op(Op.i32And).mem(Op.i32Store, FPU_WORD(FPU_SW));
}

/**
 * In place, as x87Move, when nothing can raise (CR0.EM and TS clear, and but for FNSTSW no exception
 * pending): FLD ST(i) (D9 C0+i) into an empty register from one that is not, FXCH ST(i) (D9 C8+i) of two
 * that are not, FST and FSTP ST(i) (DD D0+i, D8+i) from an ST(0) that is not, each register read holding
 * no 80-bit-only value (fpu-stack.ts fldReg, fxch, fstReg); FNSTSW AX (DF E0).
 */
function x87RegisterMove(b: Builder, insn: Insn): void {
  const f = b.f;
  const modrm = insn.modrm;
  const i = modrm & 7;
  f.field(STATE_CR0).i32(CR0_EM_TS).op(Op.i32And).brIf(0);
  if (insn.op === 0xdf) {
    // FNSTSW AX: the status word with TOP in bits 11-13.
    f.i32(0)
      .field(FPU_WORD(FPU_SW))
      .i32(~0x3800)
      .op(Op.i32And)
      .field(FPU_WORD(FPU_TOP))
      .i32(11)
      .op(Op.i32Shl)
      .op(Op.i32Or)
      .mem(Op.i32Store16, STATE_REG32);
    return;
  }
  f.field(FPU_WORD(FPU_SW)).i32(SW_ES).op(Op.i32And).brIf(0);
  f.field(FPU_WORD(FPU_TOP));
  const top = b.keep();
  f.get(top).i32(i).op(Op.i32Add).i32(7).op(Op.i32And);
  const sti = b.keep();
  // A register read must hold a value, and one that is exactly a float64.
  const readable = (r: number) => {
    f.get(r).mem(Op.i32Load8U, STATE_FPU_EMPTY).brIf(0);
    f.get(r).mem(Op.i32Load8U, STATE_FPU_EXT_VALID).brIf(0);
  };
  const kind = insn.op === 0xd9 ? (modrm < 0xc8 ? 'fld' : 'fxch') : 'fst';
  let r = top;
  if (kind === 'fld') {
    readable(sti);
    f.get(top).i32(1).op(Op.i32Sub).i32(7).op(Op.i32And);
    r = b.keep();
    f.get(r).mem(Op.i32Load8U, STATE_FPU_EMPTY).op(Op.i32Eqz).brIf(0);
  } else {
    readable(top);
    if (kind === 'fxch') readable(sti);
  }
  x87Begin(b, insn);
  const copy = (to: number, from: number) => {
    f.get(to).i32(3).op(Op.i32Shl);
    f.get(from).i32(3).op(Op.i32Shl).mem(Op.i64Load, STATE_FPU_VAL);
    f.mem(Op.i64Store, STATE_FPU_VAL);
  };
  if (kind === 'fld') {
    copy(r, sti);
    f.get(r).i32(0).mem(Op.i32Store8, STATE_FPU_EXT_VALID);
    f.get(r).i32(0).mem(Op.i32Store8, STATE_FPU_EMPTY);
    f.i32(0).get(r).mem(Op.i32Store, FPU_WORD(FPU_TOP));
  } else if (kind === 'fxch') {
    f.get(top).i32(3).op(Op.i32Shl).mem(Op.i64Load, STATE_FPU_VAL).set(L_N64);
    copy(top, sti);
    f.get(sti).i32(3).op(Op.i32Shl).get(L_N64).mem(Op.i64Store, STATE_FPU_VAL);
  } else {
    copy(sti, top);
    f.get(sti).i32(0).mem(Op.i32Store8, STATE_FPU_EXT_VALID);
    f.get(sti).i32(0).mem(Op.i32Store8, STATE_FPU_EMPTY);
    if (modrm >= 0xd8) {
      f.get(top).i32(1).mem(Op.i32Store8, STATE_FPU_EMPTY);
      f.i32(0).get(top).i32(1).op(Op.i32Add).i32(7).op(Op.i32And).mem(Op.i32Store, FPU_WORD(FPU_TOP));
    }
  }
}

/**
 * Pushes whether the float64 at `offset` + local `at` is a NaN or a denormal (an exponent of all ones or all
 * zeroes with a fraction that is not zero).
 */
function isNanOrDenormal(b: Builder, at: number, offset: number): void {
  const f = b.f;
  f.get(at).mem(Op.i32Load, offset + 4);
  const hi = b.keep();
  // The fraction is not zero...
  f.get(hi).i32(0xfffff).op(Op.i32And).get(at).mem(Op.i32Load, offset).op(Op.i32Or).i32(0).op(Op.i32Ne);
  // ... and the exponent is all ones (or zeroes).
  f.get(hi).i32(0x7ff00000).op(Op.i32And);
  const exponent = b.keep();
  f.get(exponent).i32(0x7ff00000).op(Op.i32Eq);
  f.get(exponent).op(Op.i32Eqz).op(Op.i32Or);
  f.op(Op.i32And);
}

/** jumpNear to a constant: operand-size masking, the CS limit check, then (16-bit code) IP wrap. */
function jumpTo(b: Builder, insn: Insn, target: number): number {
  if (!insn.o32) target &= 0xffff;
  b.checkCsLimit(K(target));
  const eip = jumpTarget(b, insn, target);
  b.f.i32(eip).set(L_PC);
  return eip;
}
function jumpTarget(b: Builder, insn: Insn, target: number): number {
  if (!insn.o32) target &= 0xffff;
  return b.code32 ? target : target & 0xffff;
}

/** A conditional branch: condition on the stack. */
function branchIf(b: Builder, insn: Insn, target: number): Translated {
  b.begin(Op.if);
  const t = jumpTo(b, insn, target);
  b.else();
  b.f.i32(insn.next).set(L_PC);
  b.end();
  return { kind: 'branch', targets: [insn.next, t] };
}

/** A near branch to the value in local `t` (RET, indirect JMP/CALL): limit check, then EIP. */
function jumpToValue(b: Builder, t: number): void {
  b.checkCsLimit(t);
  b.f.get(t);
  if (!b.code32) b.f.i32(0xffff).op(Op.i32And);
  b.f.set(L_PC);
}

/** The register a PIC thunk at some EIP loads (pcThunkRegister of its bytes), or -1: the compiler's peek. */
export type ThunkProbe = (eip: number) => number;

/**
 * The register loaded by a PIC thunk, `mov reg, [esp]; ret` (8B /r with SIB [ESP], then C3): what i386
 * position-independent code calls at the start of most functions to learn its own address (GCC's
 * __x86.get_pc_thunk.bx and friends). -1 for any other four bytes.
 */
export function pcThunkRegister(b0: number, b1: number, b2: number, b3: number): number {
  if (b0 !== 0x8b || (b1 & 0xc7) !== 0x04 || b2 !== 0x24 || b3 !== 0xc3) return -1;
  const register = (b1 >> 3) & 7;
  return register === 4 ? -1 : register;
}

/**
 * CALL rel32 to a PIC thunk (pcThunkRegister): the CALL, the thunk's MOV and its RET in place, so that the
 * block goes on after the CALL instead of leaving the region twice (to the thunk, on another page, and
 * back): in busybox's awk a third of all region calls were thunks and the returns from them. The CALL is
 * done as written (limit check, push); the thunk is taken from where CS:target maps now, so it runs in
 * place only while the TLB lets this privilege fetch there, its four bytes lie in one page and the CS
 * limit, and they are still the thunk's (a rewritten or remapped thunk is only a CALL again, which leaves
 * for the thunk). The MOV reads the slot the push just wrote and the RET pops it: neither can fault, and
 * neither touches the flags.
 */
function callThunk(b: Builder, insn: Insn, target: number, register: number): Translated {
  const f = b.f;
  const next = insn.next;
  b.checkCsLimit(K(target));
  b.pushValue(2, K(next));
  const lin = b.tmp();
  const entry = b.tmp();
  const same = b.tmp();
  // The last byte the CPU would fetch or return to: the thunk's RET, or the instruction after the CALL.
  const last = (target + 3) >>> 0 > next >>> 0 ? (target + 3) | 0 : next;
  f.i32(0).set(same);
  // Any check failing leaves this block with `same` still 0.
  b.begin(Op.block);
  f.i32(last)
    .field(STATE_SEG_LIMIT + 4)
    .op(Op.i32GtU)
    .brIf(0);
  // The TLB half of a 4-byte read's fast path: the right to read here, the bytes on one page.
  f.field(STATE_SEG_BASE + 4)
    .i32(target)
    .op(Op.i32Add);
  tlbFastPath(f, 3, STATE_READ_BIT, 0, lin, entry);
  f.mem(Op.i32Load, RAM_BASE)
    .i32(0xc3240000 | ((0x04 | (register << 3)) << 8) | 0x8b)
    .op(Op.i32Eq)
    .set(same);
  b.end();
  f.get(same);
  b.begin(Op.if);
  b.setReg(register, 2, K(next));
  b.adjustSp(4);
  b.else();
  // Not the thunk (any more): the CALL alone, leaving for CS:target (a write to this page's code ends
  // the region as after any branch that wrote memory).
  f.i32(target).set(L_PC);
  f.get(L_DONE)
    .i32(b.k + 1)
    .op(Op.i32Add)
    .set(L_DONE);
  f.get(L_SMC).i32(0).op(Op.i32Ne).set(L_RET);
  b.brExit();
  b.end();
  b.extra = 2;
  return CODE;
}

/** Translates one instruction; null when the interpreter must run it. */
function translate(b: Builder, insn: Insn): Translated {
  const f = b.f;
  const op = insn.op;
  const o32 = insn.o32;
  const osz = o32 ? 2 : 1;
  const reg = (insn.modrm >> 3) & 7;
  const mem = insn.modrm >= 0 && insn.modrm < 0xc0;
  const next = insn.next;
  const imm = (v: number) => () => f.i32(v);
  if (insn.lock && !lockable(insn)) return null;

  if (op < 0x40 && (op & 7) < 6) {
    const alu = (op >> 3) & 7;
    switch (op & 7) {
      case 0:
        aluRm(b, insn, alu, 0, () => b.reg(reg, 0));
        return CODE;
      case 1:
        aluRm(b, insn, alu, osz, () => b.reg(reg, osz));
        return CODE;
      case 2: {
        const a = b.addrDecl(insn);
        aluReg(b, alu, 0, reg, () => b.rmRead(insn, 0, a));
        return CODE;
      }
      case 3: {
        const a = b.addrDecl(insn);
        aluReg(b, alu, osz, reg, () => b.rmRead(insn, osz, a));
        return CODE;
      }
      case 4:
        aluReg(b, alu, 0, 0, imm(insn.imm));
        return CODE;
      default:
        aluReg(b, alu, osz, 0, imm(insn.imm));
        return CODE;
    }
  }
  if (op >= 0x40 && op <= 0x4f) {
    const n = op & 7;
    incDec(
      b,
      osz,
      op >= 0x48,
      () => b.reg(n, osz),
      (r) => b.setReg(n, osz, r),
    );
    return CODE;
  }
  if (op >= 0x50 && op <= 0x57) {
    b.reg(op & 7, osz);
    b.pushValue(osz, b.keep());
    return CODE;
  }
  if (op >= 0x58 && op <= 0x5f) {
    b.read(osz, SS, b.sp());
    const v = b.keep();
    b.adjustSp(o32 ? 4 : 2);
    b.setReg(op & 7, osz, v);
    return CODE;
  }
  if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) {
    const disp = op < 0x100 ? (insn.imm << 24) >> 24 : o32 ? insn.imm : (insn.imm << 16) >> 16;
    b.condition(op & 15);
    return branchIf(b, insn, (next + disp) | 0);
  }
  if (op >= 0xb0 && op <= 0xb7) {
    b.setReg(op & 7, 0, K(insn.imm));
    return CODE;
  }
  if (op >= 0xb8 && op <= 0xbf) {
    b.setReg(op & 7, osz, K(insn.imm));
    return CODE;
  }
  if (op >= 0x91 && op <= 0x97) {
    const n = op & 7;
    b.reg(n, osz);
    const v = b.keep();
    b.reg(0, osz);
    b.setReg(n, osz, b.keep());
    b.setReg(0, osz, v);
    return CODE;
  }
  if (op >= 0x190 && op <= 0x19f) {
    const a = b.addrDecl(insn);
    b.condition(op & 15);
    b.rmWrite(insn, 0, a, b.keep());
    return CODE;
  }
  if (op >= 0x140 && op <= 0x14f) {
    const a = b.addrDecl(insn);
    b.rmRead(insn, osz, a);
    const v = b.keep();
    b.condition(op & 15);
    b.begin(Op.if);
    b.setReg(reg, osz, v);
    b.end();
    return CODE;
  }
  if (op >= 0x118 && op <= 0x11f) return CODE;

  switch (op) {
    case 0x68:
      b.pushValue(osz, K(insn.imm));
      return CODE;
    case 0x6a:
      b.pushValue(osz, K((insn.imm << 24) >> 24));
      return CODE;
    case 0x69:
    case 0x6b: {
      const k = op === 0x6b ? (insn.imm << 24) >> 24 : insn.imm;
      const a = b.addrDecl(insn);
      b.rmRead(insn, osz, a);
      imulTruncated(b, osz, reg, b.keep(), K(k));
      return CODE;
    }
    case 0x1af: {
      const a = b.addrDecl(insn);
      b.rmRead(insn, osz, a);
      const x = b.keep();
      b.reg(reg, osz);
      imulTruncated(b, osz, reg, b.keep(), x);
      return CODE;
    }
    case 0x80:
    case 0x82:
      aluRm(b, insn, reg, 0, imm(insn.imm));
      return CODE;
    case 0x81:
      aluRm(b, insn, reg, osz, imm(o32 ? insn.imm : insn.imm & 0xffff));
      return CODE;
    case 0x83: {
      const v = (insn.imm << 24) >> 24;
      aluRm(b, insn, reg, osz, imm(o32 ? v : v & 0xffff));
      return CODE;
    }
    case 0x84:
    case 0x85: {
      const size = op === 0x84 ? 0 : osz;
      const a = b.addrDecl(insn);
      b.rmRead(insn, size, a);
      b.reg(reg, size);
      f.op(Op.i32And);
      b.setLazy(K(OP_LOGIC), size, K(0), K(0), b.keep());
      return CODE;
    }
    case 0xa8:
    case 0xa9: {
      const size = op === 0xa8 ? 0 : osz;
      b.reg(0, size);
      f.i32(insn.imm).op(Op.i32And);
      b.setLazy(K(OP_LOGIC), size, K(0), K(0), b.keep());
      return CODE;
    }
    case 0x86:
    case 0x87: {
      const size = op === 0x86 ? 0 : osz;
      const a = b.addrDecl(insn);
      b.rmRead(insn, size, a);
      const v = b.keep();
      b.reg(reg, size);
      b.rmWrite(insn, size, a, b.keep());
      b.setReg(reg, size, v);
      return CODE;
    }
    case 0x90:
      return CODE;
    case 0x88:
    case 0x89: {
      const size = op === 0x88 ? 0 : osz;
      const a = b.addrDecl(insn);
      b.reg(reg, size);
      b.rmWrite(insn, size, a, b.keep());
      return CODE;
    }
    case 0x8a:
    case 0x8b: {
      const size = op === 0x8a ? 0 : osz;
      const a = b.addrDecl(insn);
      b.rmRead(insn, size, a);
      b.setReg(reg, size, b.keep());
      return CODE;
    }
    case 0x8d:
      if (!mem) return null;
      b.setReg(reg, osz, b.address(insn));
      return CODE;
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3: {
      const seg = insn.seg >= 0 ? insn.seg : DS;
      const size = op & 1 ? osz : 0;
      if (op < 0xa2) {
        b.read(size, seg, K(insn.imm));
        b.setReg(0, size, b.keep());
      } else {
        b.reg(0, size);
        b.write(size, seg, K(insn.imm), b.keep());
      }
      return CODE;
    }
    case 0xc6:
    case 0xc7: {
      if (reg !== 0) return null;
      const a = b.addrDecl(insn);
      b.rmWrite(insn, op === 0xc6 ? 0 : osz, a, K(insn.imm));
      return CODE;
    }
    case 0x98:
      if (o32) {
        b.reg(0, 2);
        f.op(Op.i32Extend16S);
        b.setReg(0, 2, b.keep());
      } else {
        b.reg(0, 0);
        f.op(Op.i32Extend8S);
        b.setReg(0, 1, b.keep());
      }
      return CODE;
    case 0x99:
      if (o32) {
        b.reg(0, 2);
        f.i32(31).op(Op.i32ShrS);
        b.setReg(2, 2, b.keep());
      } else {
        b.reg(0, 1);
        f.i32(16).op(Op.i32Shl).i32(31).op(Op.i32ShrS);
        b.setReg(2, 1, b.keep());
      }
      return CODE;
    case 0xc0:
      return shift(b, insn, 0, insn.imm & 0x1f);
    case 0xc1:
      return shift(b, insn, osz, insn.imm & 0x1f);
    case 0xd0:
      return shift(b, insn, 0, 1);
    case 0xd1:
      return shift(b, insn, osz, 1);
    case 0xd2:
      return shift(b, insn, 0, 'cl');
    case 0xd3:
      return shift(b, insn, osz, 'cl');
    case 0xc2:
    case 0xc3: {
      b.read(osz, SS, b.sp());
      const t = b.keep();
      b.checkCsLimit(t);
      b.adjustSp((o32 ? 4 : 2) + (op === 0xc2 ? insn.imm : 0));
      f.get(t);
      if (!b.code32) f.i32(0xffff).op(Op.i32And);
      f.set(L_PC);
      return { kind: 'branch', targets: [] };
    }
    case 0xe8: {
      const disp = o32 ? insn.imm : (insn.imm << 16) >> 16;
      let target = (next + disp) | 0;
      if (!o32) target &= 0xffff;
      if (o32 && b.code32 && b.stack32 && b.thunks !== null && target >>> 0 <= 0xfffffffc) {
        const register = b.thunks(target);
        if (register >= 0) return callThunk(b, insn, target, register);
      }
      b.checkCsLimit(K(target));
      b.pushValue(osz, K(next));
      const eip = b.code32 ? target : target & 0xffff;
      f.i32(eip).set(L_PC);
      return { kind: 'branch', targets: [next, eip] };
    }
    case 0xe9:
    case 0xeb: {
      const disp = op === 0xeb ? (insn.imm << 24) >> 24 : o32 ? insn.imm : (insn.imm << 16) >> 16;
      return { kind: 'branch', targets: [jumpTo(b, insn, (next + disp) | 0)] };
    }
    case 0xe0:
    case 0xe1:
    case 0xe2:
    case 0xe3: {
      const target = (next + ((insn.imm << 24) >> 24)) | 0;
      if (op === 0xe3) {
        b.reg(1, insn.a32 ? 2 : 1);
        f.op(Op.i32Eqz);
        return branchIf(b, insn, target);
      }
      b.reg(1, insn.a32 ? 2 : 1);
      f.i32(1).op(Op.i32Sub);
      const n = b.keep();
      b.setReg(1, insn.a32 ? 2 : 1, n);
      f.get(n).i32(0).op(Op.i32Ne);
      if (op !== 0xe2) {
        b.condition(4);
        if (op === 0xe0) f.op(Op.i32Eqz);
        f.op(Op.i32And);
      }
      return branchIf(b, insn, target);
    }
    case 0xf5:
      b.carry();
      f.i32(1).op(Op.i32Xor);
      b.setFlag(CF, b.keep());
      return CODE;
    case 0xf8:
    case 0xf9:
      b.setFlag(CF, K(op & 1));
      return CODE;
    case 0xfc:
      b.changeFlags(~DF, 0);
      return CODE;
    case 0xfd:
      b.changeFlags(-1, DF);
      return CODE;
    case 0xf6:
    case 0xf7: {
      const size = op === 0xf6 ? 0 : osz;
      switch (reg) {
        case 0:
        case 1: {
          const a = b.addrDecl(insn);
          b.rmRead(insn, size, a);
          f.i32(insn.imm).op(Op.i32And);
          b.setLazy(K(OP_LOGIC), size, K(0), K(0), b.keep());
          return CODE;
        }
        case 2: {
          const a = b.addrDecl(insn);
          b.rmRead(insn, size, a);
          f.i32(-1).op(Op.i32Xor);
          b.rmWrite(insn, size, a, b.keep());
          return CODE;
        }
        case 3: {
          const a = b.addrDecl(insn);
          b.rmRead(insn, size, a);
          const v = b.keep();
          f.i32(0).get(v).op(Op.i32Sub);
          const r = b.keep();
          b.rmWrite(insn, size, a, r);
          b.setLazy(K(OP_SUB), size, K(0), v, r);
          return CODE;
        }
        case 4:
        case 5:
          multiply(b, insn, size, reg === 5);
          return CODE;
        default:
          divide(b, insn, size, reg === 7);
          return CODE;
      }
    }
    case 0xfe:
    case 0xff: {
      const size = op === 0xfe ? 0 : osz;
      if (reg < 2) {
        const a = b.addrDecl(insn);
        incDec(
          b,
          size,
          reg === 1,
          () => b.rmRead(insn, size, a),
          (r) => b.rmWrite(insn, size, a, r),
        );
        return CODE;
      }
      if (op === 0xfe) return null;
      if (reg === 2 || reg === 4) {
        const a = b.addrDecl(insn);
        b.rmRead(insn, osz, a);
        const t = b.keep();
        if (reg === 2) {
          b.checkCsLimit(t);
          b.pushValue(osz, K(next));
          f.get(t);
          if (!b.code32) f.i32(0xffff).op(Op.i32And);
          f.set(L_PC);
          return { kind: 'branch', targets: [next] };
        }
        jumpToValue(b, t);
        return { kind: 'branch', targets: [] };
      }
      if (reg === 6) {
        const a = b.addrDecl(insn);
        b.rmRead(insn, osz, a);
        b.pushValue(osz, b.keep());
        return CODE;
      }
      return null;
    }
    case 0xc9: {
      b.reg(5, b.stack32 ? 2 : 1);
      const bp = b.keep();
      b.read(osz, SS, bp);
      const v = b.keep();
      f.get(bp)
        .i32(o32 ? 4 : 2)
        .op(Op.i32Add);
      if (!b.stack32) f.i32(0xffff).op(Op.i32And);
      b.setSp(b.keep());
      b.setReg(5, osz, v);
      return CODE;
    }
    case 0x1b6:
    case 0x1b7:
    case 0x1be:
    case 0x1bf: {
      const a = b.addrDecl(insn);
      b.rmRead(insn, op & 1 ? 1 : 0, a);
      if (op === 0x1be) f.op(Op.i32Extend8S);
      if (op === 0x1bf) f.op(Op.i32Extend16S);
      b.setReg(reg, osz, b.keep());
      return CODE;
    }
    case 0x1b0:
    case 0x1b1:
      cmpxchg(b, insn, op === 0x1b0 ? 0 : osz);
      return CODE;
    case 0x1c0:
    case 0x1c1: {
      const size = op === 0x1c0 ? 0 : osz;
      const a = b.addrDecl(insn);
      b.rmRead(insn, size, a);
      const d = b.keep();
      b.reg(reg, size);
      const s = b.keep();
      f.get(d).get(s).op(Op.i32Add);
      const r = b.keep();
      b.rmWrite(insn, size, a, r);
      b.setReg(reg, size, d);
      b.setLazy(K(OP_ADD), size, d, s, r);
      return CODE;
    }
    case 0x1c7:
      if (reg !== 1 || !mem) return null;
      cmpxchg8b(b, insn);
      return CODE;
    case 0x1a3:
    case 0x1ab:
    case 0x1b3:
    case 0x1bb:
    case 0x1ba:
      return bitTest(b, insn, osz);
    case 0x1a4:
    case 0x1a5:
    case 0x1ac:
    case 0x1ad:
      doubleShift(b, insn, osz, op >= 0x1ac, op & 1 ? 'cl' : insn.imm & 0x1f);
      return CODE;
    case 0x131:
      b.callAt(F_RDTSC);
      return CODE;
    case 0xfa:
      b.callAt(F_CLI);
      return CODE;
    case 0x9c: {
      b.callAt(F_PUSHF);
      if (o32) f.i32(~(FLAG_VM | FLAG_RF)).op(Op.i32And);
      const v = b.keep();
      b.fs = { op: -1, size: -1, mask: 0 }; // every flag is in EFLAGS now
      b.pushValue(osz, v);
      return CODE;
    }
    case 0x8c: {
      if (reg > 5) return null;
      f.i32(0).mem(Op.i32Load16U, STATE_SREG + 2 * reg);
      const v = b.keep();
      if (!mem && o32) b.setReg(insn.modrm & 7, 2, v);
      else b.rmWrite(insn, 1, b.addrDecl(insn), v);
      return CODE;
    }
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
      if (insn.rep !== 0) return repString(b, insn, op & 1 ? osz : 0);
      stringOnce(b, insn, op & 1 ? osz : 0);
      return CODE;
    case 0x9e: {
      // SAHF (ops/move.ts): SF ZF AF PF CF from AH, no longer pending; OF stays as it is (pending or not).
      const loaded = SF | ZF | AF | PF | CF;
      f.i32(0);
      f.field(STATE_LAZY_FLAGS).i32(~loaded).op(Op.i32And);
      f.mem(Op.i32Store, STATE_LAZY_FLAGS);
      f.i32(0);
      f.field(STATE_FLAGS).i32(~loaded).op(Op.i32And);
      b.reg(4, 0);
      f.i32(loaded).op(Op.i32And).op(Op.i32Or);
      f.mem(Op.i32Store, STATE_FLAGS);
      if (b.fs.mask >= 0) b.fs = { ...b.fs, mask: b.fs.mask & ~loaded };
      return CODE;
    }
    case 0xd8:
    case 0xd9:
    case 0xda:
    case 0xdb:
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf:
      return x87(b, insn);
    case 0x1bc:
    case 0x1bd: {
      const a = b.addrDecl(insn);
      b.rmRead(insn, osz, a);
      const v = b.keep();
      f.get(v).op(Op.i32Eqz);
      b.begin(Op.if);
      b.setFlag(ZF, K(1));
      b.else();
      b.setFlag(ZF, K(0));
      if (op === 0x1bc) f.get(v).op(Op.i32Ctz);
      else f.i32(31).get(v).op(Op.i32Clz).op(Op.i32Sub);
      b.setReg(reg, osz, b.keep());
      b.end();
      return CODE;
    }
    default:
      return null;
  }
}

/** The compiled form of a region: its module's bytes and the blocks it covers (as codegen.ts's RegionCode). */
export interface WasmRegionCode {
  /** The region's function, for regionModule(). */
  body: FunctionBody;
  blocks: RegionBlock[];
  lastByte: number;
  translated: number;
  fallbacks: number;
  loops: boolean;
}

/** One block's code, before the region's nesting is known. */
interface BlockCode {
  eip: number;
  code: number[];
  patches: Patch[];
}

/**
 * Compiles the region entered at physical address `phys`, EIP `eip`, in mode `mode` (the same blocks as
 * codegen.ts generateRegion) into a function for regionModule(). Null when not even the first instruction
 * can be compiled. `thunks` tells which CALL targets are PIC thunks now (callThunk checks again when it
 * runs); single-instruction blocks run none.
 */
export function generateWasmRegion(
  ram: Uint8Array,
  phys: number,
  eip: number,
  mode: number,
  thunks: ThunkProbe | null = null,
): WasmRegionCode | null {
  const code32 = mode & MODE_CODE32;
  const single = (mode & MODE_SINGLE) !== 0;
  const b = new Builder(code32, (mode & MODE_STACK32) !== 0 ? 1 : 0, (mode & MODE_FLAT) !== 0);
  if (!single) b.thunks = thunks;
  let loops = false;
  const pageBase = phys & ~0xfff;
  const blocks: RegionBlock[] = [];
  const codes: BlockCode[] = [];
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
    const offset = (phys & 0xfff) + (start - eip);
    if (offset < 0 || offset > 0xfff) continue;
    b.f = new FunctionBody(REGION_SIGNATURE);
    b.patches = [];
    const block = translateBlock(b, ram, pageBase + offset, start, single ? 1 : MAX_INSTRUCTIONS);
    if (block === null) {
      if (blocks.length === 0) return null;
      continue;
    }
    codes.push({ eip: start, code: b.f.code, patches: b.patches });
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
      else if (t >>> 0 <= start >>> 0) loops = true;
    }
  }
  return { body: assemble(codes, b.maxTemps), blocks, lastByte, translated, fallbacks, loops };
}

/**
 * Translates the basic block at `eip` into `b.f`. Null when its first instruction is one to leave to the
 * interpreter (as codegen.ts decides).
 */
function translateBlock(
  b: Builder,
  ram: Uint8Array,
  phys: number,
  eip: number,
  maxLength: number,
): { length: number; translated: number; lastByte: number; successors: number[] } | null {
  const pageEnd = (phys & ~0xfff) + 0x1000;
  const f = b.f;
  let p = phys;
  let at = eip;
  let count = 0;
  let translated = 0;
  let lastByte = eip;
  let successors: number[] = [];
  let ended = false;
  b.forgetFlags(); // a block may be entered from anywhere
  // The budget check comes first; its instruction count is patched in at the end (one 5-byte LEB slot).
  f.get(L_DONE).op(Op.i32Const);
  const countAt = f.code.length;
  f.code.push(0x80, 0x80, 0x80, 0x80, 0x00);
  f.op(Op.i32Add).get(L_BUDGET).op(Op.i32GtS);
  b.begin(Op.if);
  b.brExit();
  b.end();
  while (count < maxLength) {
    const insn = decode(ram, p, pageEnd, at, b.code32);
    if (insn === null) {
      if (maxLength > 1 && crossesPageEnd(ram, p, pageEnd, at, b.code32)) {
        crossPage(b, at, count);
        lastByte = at + (pageEnd - p) - 1;
        count++;
        ended = true;
      }
      break;
    }
    if (!b.code32 && insn.next > 0xffff) break;
    const k = count;
    b.start = insn.start;
    b.k = k;
    b.temps = 0;
    b.extra = 0;
    b.wroteMemory = false;
    f.i32(insn.start).set(L_START);
    const mark = f.code.length;
    const marks = b.patches.length;
    const savedFs = b.fs;
    const t = translate(b, insn);
    if (t === null) {
      f.code.length = mark;
      b.patches.length = marks;
      b.fs = savedFs;
      b.wroteMemory = false;
      const kind = translationKind(insn, b.code32, b.stack32);
      const ends = kind === 'end' || kind === 'branch';
      if (count === 0 && (ends || maxLength === 1)) return null;
      lastByte = insn.next - 1;
      count++;
      // The interpreter runs it: it sees the registers in memory; the caller keeps the lazy flags in step.
      f.i32(insn.start).get(L_DONE);
      if (k !== 0) f.i32(k).op(Op.i32Add);
      f.call(F_FALLBACK);
      b.forgetFlags();
      if (ends) {
        f.op(Op.drop).i32(2).op(Op.return);
        ended = true;
        break;
      }
      // It wrote the region's code or halted: leave at the EIP it left.
      b.leaveIfAsked();
      p += insn.next - insn.start;
      at = insn.next;
      continue;
    }
    lastByte = insn.next - 1;
    count += 1 + b.extra;
    translated += 1 + b.extra;
    if (t.kind === 'branch') {
      successors = t.targets;
      ended = true;
      break;
    }
    if (b.wroteMemory) {
      // A write that hit compiled code on this page (codegen.ts's J.smc check).
      f.get(L_SMC);
      b.begin(Op.if);
      f.i32(insn.next).set(L_PC);
      f.get(L_DONE)
        .i32(k + 1 + b.extra)
        .op(Op.i32Add)
        .set(L_DONE);
      f.i32(1).set(L_RET);
      b.brExit();
      b.end();
    }
    p += insn.next - insn.start;
    at = insn.next;
  }
  if (count === 0) return null;
  // The budget check's count, as a padded 5-byte signed LEB128.
  for (let i = 0; i < 5; i++) f.code[countAt + i] = ((count >> (7 * i)) & 0x7f) | (i < 4 ? 0x80 : 0);
  if (!ended) {
    f.i32(at).set(L_PC);
    successors = [at];
  }
  // A branch that wrote memory (CALL's push) may have hit the page's code: it ends the region there.
  if (ended && b.wroteMemory) {
    f.get(L_SMC);
    b.begin(Op.if);
    f.get(L_DONE).i32(count).op(Op.i32Add).set(L_DONE);
    f.i32(1).set(L_RET);
    b.brExit();
    b.end();
  }
  f.get(L_DONE).i32(count).op(Op.i32Add).set(L_DONE);
  b.brLoop();
  return { length: count, translated, lastByte, successors };
}

/**
 * An instruction at `at` that runs past the end of the page, the block's last (regions keep to one page):
 * the interpreter runs it through the `cross` import, fetching its bytes through the translations of the
 * moment, so nothing here depends on the next page. The region ends after it at the EIP it left, going on
 * to the next region through the dispatcher cache unless the import answers 1 (WasmRegions.fallback's
 * reasons) or 2 (it changed what the dispatcher's linking assumes: the CPU's fields are the current ones).
 */
function crossPage(b: Builder, at: number, k: number): void {
  const f = b.f;
  b.start = at;
  b.k = k;
  b.wroteMemory = false;
  f.i32(at).set(L_START);
  b.position();
  f.i32(b.code32 | (b.stack32 !== 0 ? MODE_STACK32 : 0) | (b.flat ? MODE_FLAT : 0));
  f.call(F_CROSS).set(L_RET);
  b.forgetFlags();
  f.get(L_RET).i32(2).op(Op.i32Eq);
  b.begin(Op.if);
  f.i32(2).op(Op.return);
  b.end();
  f.field(STATE_EXIT_EIP).set(L_PC);
  f.get(L_DONE)
    .i32(k + 1)
    .op(Op.i32Add)
    .set(L_DONE);
  b.brExit();
}

/**
 * The function around the blocks: (budget, eip) -> 0 (ran compiled code only), 1 (ended with the
 * interpreter's instruction or a write to its own code) or 2 (a fallback ended it; the CPU's fields are
 * current). Structure: loop { block $exit { block $b(n-1) ... { block $b0 { dispatch on pc } code of b0;
 * br loop } code of b1 ... } } then the exit stores pc, done and the last instruction's start.
 */
function assemble(codes: BlockCode[], temps: number): FunctionBody {
  const f = new FunctionBody(REGION_SIGNATURE);
  f.localGroups = [
    [L_N64 - REGION_SIGNATURE.params.length, I32],
    [L_TEMP - L_N64, I64],
    [temps, I32],
  ];
  const n = codes.length;
  f.get(L_PC).set(L_START);
  f.begin(Op.loop).begin(Op.block);
  for (let i = 0; i < n; i++) f.begin(Op.block);
  for (let i = 0; i < n; i++) f.get(L_PC).i32(codes[i].eip).op(Op.i32Eq).brIf(i);
  f.br(n);
  for (let i = 0; i < n; i++) {
    f.end();
    const code = codes[i].code;
    for (const patch of codes[i].patches) {
      // From block i's code: $exit is n - 1 - i levels out, the loop n - i.
      code[patch.at] = n - 1 - i + patch.nest + (patch.loop ? 1 : 0);
    }
    f.append(code);
  }
  f.end().end();
  f.i32(0).get(L_PC).mem(Op.i32Store, STATE_EXIT_EIP);
  f.i32(0).get(L_DONE).mem(Op.i32Store, STATE_EXIT_DONE);
  f.i32(0).get(L_START).mem(Op.i32Store, STATE_EXIT_START);
  f.get(L_RET);
  return f;
}

/**
 * A module of regions' functions (generateWasmRegion's bodies), exported as "r0", "r1", ... in order: one
 * module for several regions, since V8's cost of a module is mostly the same whatever it holds.
 */
export function regionModule(bodies: readonly FunctionBody[], pages: number): Uint8Array<ArrayBuffer> {
  const m = new ModuleWriter();
  for (const name of SUPPORT_EXPORTS) m.importFunction('rt', name, SUPPORT_SIGNATURES[name]);
  for (const name of REGION_IMPORTS) m.importFunction('js', name, IMPORT_SIGNATURES[name]);
  m.importMemory('js', 'memory', pages);
  for (let i = 0; i < bodies.length; i++) m.exportFunction(`r${i}`, m.addFunction(bodies[i]));
  return m.bytes();
}
