/**
 * The x87 FPU state (Intel SDM Vol. 1 ch. 8): the eight-register stack, the control, status and tag words,
 * the last instruction/operand pointers, exception flags and their delivery, and snapshots. The instructions
 * are decoded in ./ops/x87.ts and carried out in ./fpu-memory.ts (memory operands), ./fpu-stack.ts (register
 * stack, compares), ./fpu-arith.ts and ./fpu-transcendental.ts; the number formats live in ./fpu-float80.ts
 * and the FSTENV/FSAVE images in ./fpu-env.ts.
 *
 * Precision. Each register holds a float64 `val` and, where `extValid` is 1, its exact 80-bit encoding
 * (`extSe/extHi/extLo`; `val` is then the nearest float64). A register without 80-bit bits holds a value
 * that is exactly a float64 (values loaded from m32/m64/m16int/m32int, FLD1/FLDZ, results that happen to
 * fit), which keeps the common double-precision case cheap. FADD/FSUB/FMUL/FDIV/FSQRT/FPREM(1), FSCALE,
 * FXTRACT, FRNDINT, the compares, integer/BCD/float stores and FSAVE/FRSTOR are exact on the 64-bit
 * significand and 15-bit exponent (./fpu-softfloat.ts), rounded by RC and PC as the hardware does;
 * with PC = 53 and float64 operands a float64 fast path gives the same results. Only the transcendental
 * instructions (FSIN ... FYL2XP1, ./fpu-transcendental.ts) compute with float64 Math functions: their
 * results have float64 accuracy, not the hardware's last-bit behaviour. Every NaN keeps its 80-bit bits.
 *
 * Exceptions (SDM Vol. 1 8.4-8.7). A masked exception sets its flag and the default result is delivered.
 * An unmasked one sets the flag and ES/B, and is reported by the next waiting x87 instruction or WAIT: #MF
 * when CR0.NE = 1, otherwise PC/AT style through FERR#: `onFerr(true)` asks the board to raise IRQ13 and the
 * CPU freezes on the waiting instruction (halted, EIP on the instruction) until an interrupt arrives. The
 * board calls `clearFerr()` on a write to port 0xF0: IRQ13 drops and IGNNE# is asserted, so waiting
 * instructions go on despite ES until software clears the flags. With no `onFerr` connected the error is
 * ignored, as if IGNNE# were tied active.
 */
import type { Cpu } from './cpu.ts';
import { CR0_NE, EXC_MF } from './constants.ts';
import {
  FPU_CW,
  FPU_FCS,
  FPU_FDP,
  FPU_FDS,
  FPU_FIP,
  FPU_FOP,
  FPU_SW,
  FPU_TOP,
  STATE_FPU_EMPTY,
  STATE_FPU_EXT_VALID,
  STATE_FPU_VAL,
  STATE_FPU_WORDS,
} from './layout.ts';
import {
  CLASS_DENORMAL,
  CLASS_INF,
  CLASS_NORMAL,
  CLASS_QNAN,
  CLASS_ZERO,
  EXT_BIAS,
  INDEFINITE_HI,
  INDEFINITE_SE,
  RC_NEAREST,
  classifyExt,
  cvt,
  doubleToExt,
  extToDouble,
} from './fpu-float80.ts';
import {
  CW_DEFAULT,
  CW_FIXED,
  CW_WRITABLE,
  EXC_FLAGS,
  SLOTS,
  SLOT_MEM,
  SW_B,
  SW_C1,
  SW_ES,
  SW_IE,
  SW_SF,
  SW_TOP,
  TAG_EMPTY,
  TAG_SPECIAL,
  TAG_VALID,
  TAG_ZERO,
} from './fpu-constants.ts';

/** The snapshot of an Fpu: plain named fields and typed arrays (physical registers R0-R7). */
export type FpuState = {
  cw: number;
  sw: number;
  top: number;
  values: Float64Array;
  extSe: Uint16Array;
  extHi: Uint32Array;
  extLo: Uint32Array;
  extValid: Uint8Array;
  empty: Uint8Array;
  fip: number;
  fcs: number;
  fdp: number;
  fds: number;
  fop: number;
  ferr: boolean;
  ignne: boolean;
};

export class Fpu {
  /**
   * CW, SW, TOP, FIP, FCS, FDP, FDS and FOP, in the CPU's state area (layout.ts STATE_FPU_WORDS) with the
   * values, their 80-bit-valid bytes and the empty bytes, where compiled code moves float64 values in and
   * out (wasm-codegen.ts x87Move).
   */
  private readonly words: Uint32Array;
  /** Control word. */
  get cw(): number {
    return this.words[FPU_CW];
  }
  set cw(value: number) {
    this.words[FPU_CW] = value;
  }
  /** Status word without TOP (see statusWord()). */
  get sw(): number {
    return this.words[FPU_SW];
  }
  set sw(value: number) {
    this.words[FPU_SW] = value;
  }
  /** Physical register number of ST(0). */
  get top(): number {
    return this.words[FPU_TOP];
  }
  set top(value: number) {
    this.words[FPU_TOP] = value;
  }
  /** Register values as float64, by slot. */
  readonly val: Float64Array;
  /** The same values as 32-bit words (low word first: little-endian, like the CPU's register file). */
  readonly valWords: Uint32Array;
  /** 80-bit encodings, authoritative where extValid is 1 (otherwise scratch). */
  readonly extSe = new Uint16Array(SLOTS);
  readonly extHi = new Uint32Array(SLOTS);
  readonly extLo = new Uint32Array(SLOTS);
  readonly extValid: Uint8Array;
  /** 1 for an empty physical register (tag 11); the other tag values are derived from the contents. */
  readonly empty: Uint8Array;
  /** The memory operand in SLOT_MEM was a float32/float64 denormal (#D on use). */
  memDenormal = false;
  /** Last non-control instruction: CS:EIP (of its first prefix), opcode (11 bits); operand DS:offset. */
  get fip(): number {
    return this.words[FPU_FIP];
  }
  set fip(value: number) {
    this.words[FPU_FIP] = value;
  }
  get fcs(): number {
    return this.words[FPU_FCS];
  }
  set fcs(value: number) {
    this.words[FPU_FCS] = value;
  }
  get fdp(): number {
    return this.words[FPU_FDP];
  }
  set fdp(value: number) {
    this.words[FPU_FDP] = value;
  }
  get fds(): number {
    return this.words[FPU_FDS];
  }
  set fds(value: number) {
    this.words[FPU_FDS] = value;
  }
  get fop(): number {
    return this.words[FPU_FOP];
  }
  set fop(value: number) {
    this.words[FPU_FOP] = value;
  }
  /** FERR# output is asserted (an unmasked exception was reported with CR0.NE = 0). */
  ferr = false;
  /** IGNNE# input is asserted (port 0xF0 was written while FERR# was active). */
  ignne = false;
  /** The board's IRQ13 request: true when FERR# asks for the interrupt, false when it is withdrawn. */
  onFerr: ((asserted: boolean) => void) | null = null;

  /** `state`: the CPU's state area (layout.ts), or a buffer of STATE_BYTES of its own. */
  constructor(
    private readonly cpu: Cpu,
    state: ArrayBufferLike = new ArrayBuffer(STATE_FPU_WORDS + 32),
  ) {
    this.words = new Uint32Array(state, STATE_FPU_WORDS, 8);
    this.words[FPU_CW] = CW_DEFAULT;
    this.val = new Float64Array(state, STATE_FPU_VAL, SLOTS);
    this.valWords = new Uint32Array(state, STATE_FPU_VAL, SLOTS * 2);
    this.extValid = new Uint8Array(state, STATE_FPU_EXT_VALID, SLOTS);
    this.empty = new Uint8Array(state, STATE_FPU_EMPTY, 8);
  }

  /** RESET: the FNINIT state, FERR# and IGNNE# inactive. */
  reset(): void {
    this.init();
    this.val.fill(0);
    this.extSe.fill(0);
    this.extHi.fill(0);
    this.extLo.fill(0);
    this.extValid.fill(0);
    this.releaseFerr();
  }

  /** FNINIT (SDM Vol. 1 Table 8-9): CW 037F, SW 0, all registers empty, pointers 0. */
  init(): void {
    this.cw = CW_DEFAULT;
    this.sw = 0;
    this.top = 0;
    this.empty.fill(1);
    this.fip = this.fcs = this.fdp = this.fds = this.fop = 0;
    this.releaseFerr();
  }

  // ======================================================================================================
  // Control, status and tag words
  // ======================================================================================================

  /** Physical register number of ST(i). */
  st(i: number): number {
    return (this.top + i) & 7;
  }

  statusWord(): number {
    return (this.sw & ~SW_TOP) | (this.top << 11);
  }

  /** FLDENV/FRSTOR: loads the status word (TOP included); ES/B follow the flags and masks. */
  setStatusWord(value: number): void {
    this.top = (value >> 11) & 7;
    this.sw = value & ~SW_TOP & 0xffff;
    this.updateErrorSummary();
  }

  setControlWord(value: number): void {
    this.cw = (value & CW_WRITABLE) | CW_FIXED;
    this.updateErrorSummary();
  }

  /** Rounding control field. */
  get rc(): number {
    return (this.cw >> 10) & 3;
  }

  /** The tag of physical register `r` from its contents (SDM Vol. 1 8.1.7). */
  tagOf(r: number): number {
    if (this.empty[r]) return TAG_EMPTY;
    const cls = this.classOf(r);
    return cls === CLASS_ZERO ? TAG_ZERO : cls === CLASS_NORMAL ? TAG_VALID : TAG_SPECIAL;
  }

  tagWord(): number {
    let tw = 0;
    for (let r = 0; r < 8; r++) tw |= this.tagOf(r) << (r * 2);
    return tw;
  }

  /** FLDENV/FRSTOR: only "empty or not" is taken from a loaded tag word. */
  setTagWord(value: number): void {
    for (let r = 0; r < 8; r++) this.empty[r] = ((value >> (r * 2)) & 3) === TAG_EMPTY ? 1 : 0;
  }

  /** Sets and clears condition code bits: `set` within `mask` (SW_C0..SW_C3). */
  setCC(mask: number, set: number): void {
    this.sw = (this.sw & ~mask) | (set & mask);
  }

  // ======================================================================================================
  // Exceptions
  // ======================================================================================================

  /**
   * Records exception flags. Returns true when all of them are masked (continue with the default result);
   * false when one is unmasked (ES and B are set; the instruction must not deliver the masked response).
   */
  signal(flags: number): boolean {
    this.sw |= flags;
    if (flags & ~this.cw & EXC_FLAGS) {
      this.sw |= SW_ES | SW_B;
      return false;
    }
    return true;
  }

  /** Recomputes ES/B from the flags and masks; FERR# follows ES. */
  updateErrorSummary(): void {
    if (this.sw & ~this.cw & EXC_FLAGS) {
      this.sw |= SW_ES | SW_B;
    } else {
      this.sw &= ~(SW_ES | SW_B);
      this.releaseFerr();
    }
  }

  /** FNCLEX: clears the exception flags, SF, ES and B. */
  clearExceptions(): void {
    this.sw &= ~(EXC_FLAGS | SW_SF | SW_ES | SW_B);
    this.releaseFerr();
  }

  private releaseFerr(): void {
    this.ignne = false;
    if (this.ferr) {
      this.ferr = false;
      this.onFerr?.(false);
    }
  }

  /**
   * WAIT/FWAIT and waiting x87 instructions: reports a pending unmasked exception. Raises #MF when CR0.NE is
   * set; otherwise asserts FERR# and freezes the CPU on this instruction (returns false: the caller must not
   * execute it) unless IGNNE# is active. Returns true when the instruction may proceed.
   */
  checkPendingException(): boolean {
    if (!(this.sw & SW_ES)) return true;
    const cpu = this.cpu;
    if (cpu.cr0 & CR0_NE) cpu.raise(EXC_MF);
    if (this.ignne || this.onFerr === null) return true;
    if (!this.ferr) {
      this.ferr = true;
      this.onFerr(true);
    }
    cpu.eip = cpu.instrStart;
    cpu.halted = true;
    return false;
  }

  /** The board saw a write to port 0xF0: IRQ13 is withdrawn and IGNNE# asserted while FERR# is active. */
  clearFerr(): void {
    if (this.ferr) this.ignne = true;
    this.onFerr?.(false);
  }

  // ======================================================================================================
  // Values
  // ======================================================================================================

  /** Stores a float64 result (a NaN becomes the indefinite, so that every NaN has its 80-bit bits). */
  setValue(slot: number, x: number): void {
    if (x !== x) {
      this.setIndefinite(slot);
      return;
    }
    this.val[slot] = x;
    this.extValid[slot] = 0;
  }

  /** Stores an 80-bit value (words as uint32 or int32); the float64 working value is its nearest. */
  setExt(slot: number, se: number, hi: number, lo: number): void {
    this.extSe[slot] = se;
    this.extHi[slot] = hi;
    this.extLo[slot] = lo;
    this.extValid[slot] = 1;
    const e = (se & 0x7fff) - EXT_BIAS + 1023;
    if (e >= 1 && e <= 2046 && hi >>> 31) {
      // A normal float64: significand bits 62-11 become the fraction, rounded to nearest even on the bit
      // pattern (a carry out of the fraction steps the exponent, up to infinity).
      let fhi = (hi >>> 11) & 0xfffff;
      let flo = ((hi << 21) | (lo >>> 11)) >>> 0;
      const rest = lo & 0x7ff;
      if (rest > 0x400 || (rest === 0x400 && flo & 1)) {
        flo = (flo + 1) >>> 0;
        if (flo === 0) fhi++;
      }
      this.valWords[slot * 2] = flo;
      this.valWords[slot * 2 + 1] = ((se & 0x8000) << 16) | ((e << 20) + fhi);
      return;
    }
    this.val[slot] = extToDouble(this.extSe[slot], this.extHi[slot], this.extLo[slot], RC_NEAREST);
  }

  /**
   * Stores an arithmetic result given as 80 bits: as a plain float64 when it is one exactly (a normal
   * float64 or zero), otherwise as 80-bit bits with the float64 nearest beside them.
   */
  setResult(slot: number, se: number, hi: number, lo: number): void {
    const e = (se & 0x7fff) - EXT_BIAS + 1023;
    if (e >= 1 && e <= 2046 && hi >>> 31 && (lo & 0x7ff) === 0) {
      this.valWords[slot * 2] = ((hi << 21) | (lo >>> 11)) >>> 0;
      this.valWords[slot * 2 + 1] = ((se & 0x8000) << 16) | (e << 20) | ((hi >>> 11) & 0xfffff);
      this.extValid[slot] = 0;
    } else if ((se & 0x7fff) === 0 && hi === 0 && lo === 0) {
      this.val[slot] = se & 0x8000 ? -0 : 0;
      this.extValid[slot] = 0;
    } else {
      this.setExt(slot, se, hi, lo);
    }
  }

  /** The QNaN floating-point indefinite. */
  setIndefinite(slot: number): void {
    this.extSe[slot] = INDEFINITE_SE;
    this.extHi[slot] = INDEFINITE_HI;
    this.extLo[slot] = 0;
    this.extValid[slot] = 1;
    this.val[slot] = NaN;
  }

  copy(dst: number, src: number): void {
    this.val[dst] = this.val[src];
    const valid = this.extValid[src];
    this.extValid[dst] = valid;
    if (valid) {
      this.extSe[dst] = this.extSe[src];
      this.extHi[dst] = this.extHi[src];
      this.extLo[dst] = this.extLo[src];
    }
  }

  /** Makes extSe/extHi/extLo[slot] hold the slot's 80-bit encoding. */
  loadExt(slot: number): void {
    if (this.extValid[slot]) return;
    doubleToExt(this.val[slot]);
    this.extSe[slot] = cvt.se;
    this.extHi[slot] = cvt.hi;
    this.extLo[slot] = cvt.lo;
  }

  /** FCHS/FABS: sets the sign bit (0 or 1) of a slot. */
  setSign(slot: number, negative: boolean): void {
    const x = this.val[slot];
    if (x === x) this.val[slot] = negative ? -Math.abs(x) : Math.abs(x);
    if (this.extValid[slot]) this.extSe[slot] = (this.extSe[slot] & 0x7fff) | (negative ? 0x8000 : 0);
  }

  /** The value class of a slot (CLASS_*): from its 80-bit bits when they are authoritative. */
  classOf(slot: number): number {
    if (this.extValid[slot]) return classifyExt(this.extSe[slot], this.extHi[slot], this.extLo[slot]);
    const x = this.val[slot];
    if (x === 0) return CLASS_ZERO;
    if (x - x === 0) return CLASS_NORMAL; // float64 denormals are normal numbers in 80 bits
    return x === x ? CLASS_INF : CLASS_QNAN;
  }

  /** Sign bit of a slot. */
  signOf(slot: number): boolean {
    if (this.extValid[slot]) return (this.extSe[slot] & 0x8000) !== 0;
    const x = this.val[slot];
    return x < 0 || (x === 0 && 1 / x < 0);
  }

  /** An operand that raises #D: a float32/float64 denormal from memory, or an 80-bit denormal. */
  isDenormal(slot: number): boolean {
    if (slot === SLOT_MEM) return this.memDenormal;
    return this.extValid[slot] === 1 && this.classOf(slot) === CLASS_DENORMAL;
  }

  // ======================================================================================================
  // The register stack
  // ======================================================================================================

  /**
   * Prepares a push. Returns the physical register that becomes ST(0), still holding its old contents; the
   * caller writes the value and calls commitPush(). On stack overflow returns -1: the masked response (push
   * the indefinite) has been done, or nothing when IE is unmasked.
   */
  pushTarget(): number {
    const r = (this.top - 1) & 7;
    if (this.empty[r]) return r;
    this.sw |= SW_C1;
    if (this.signal(SW_IE | SW_SF)) {
      this.top = r;
      this.empty[r] = 0;
      this.setIndefinite(r);
    }
    return -1;
  }

  /** Completes a push prepared by pushTarget(). */
  commitPush(r: number): void {
    this.top = r;
    this.empty[r] = 0;
  }

  pop(): void {
    this.empty[this.top] = 1;
    this.top = (this.top + 1) & 7;
  }

  /**
   * Stack underflow (an empty register read): IE and SF, C1 = 0. Masked: `dest` (a slot, or -1) receives
   * the indefinite and true is returned, so that the instruction completes (pops included).
   */
  stackUnderflow(dest: number): boolean {
    this.sw &= ~SW_C1;
    if (!this.signal(SW_IE | SW_SF)) return false;
    if (dest >= 0) {
      this.setIndefinite(dest);
      if (dest < 8) this.empty[dest] = 0;
    }
    return true;
  }

  /** An invalid operation on a value: IE; masked, `dest` receives the indefinite. Returns true if masked. */
  invalid(dest: number): boolean {
    if (!this.signal(SW_IE)) return false;
    if (dest >= 0) this.setIndefinite(dest);
    return true;
  }

  // ======================================================================================================
  // Snapshots
  // ======================================================================================================

  saveState(): FpuState {
    return {
      cw: this.cw,
      sw: this.statusWord(),
      top: this.top,
      values: this.val.slice(0, 8),
      extSe: this.extSe.slice(0, 8),
      extHi: this.extHi.slice(0, 8),
      extLo: this.extLo.slice(0, 8),
      extValid: this.extValid.slice(0, 8),
      empty: this.empty.slice(),
      fip: this.fip,
      fcs: this.fcs,
      fdp: this.fdp,
      fds: this.fds,
      fop: this.fop,
      ferr: this.ferr,
      ignne: this.ignne,
    };
  }

  /** Restores a snapshot; everything is validated first, and an Error names the first bad field. */
  loadState(state: { readonly [field: string]: unknown }): void {
    const cw = stateInt(state, 'cw', 0xffff);
    const sw = stateInt(state, 'sw', 0xffff);
    const top = stateInt(state, 'top', 7);
    const values = stateArray(state, 'values', Float64Array);
    const extSe = stateArray(state, 'extSe', Uint16Array);
    const extHi = stateArray(state, 'extHi', Uint32Array);
    const extLo = stateArray(state, 'extLo', Uint32Array);
    const extValid = stateArray(state, 'extValid', Uint8Array);
    const empty = stateArray(state, 'empty', Uint8Array);
    const fip = stateInt(state, 'fip', 0xffffffff);
    const fcs = stateInt(state, 'fcs', 0xffff);
    const fdp = stateInt(state, 'fdp', 0xffffffff);
    const fds = stateInt(state, 'fds', 0xffff);
    const fop = stateInt(state, 'fop', 0x7ff);
    const ferr = stateBool(state, 'ferr');
    const ignne = stateBool(state, 'ignne');
    if ((sw & SW_TOP) >> 11 !== top) throw new Error("FPU state field 'top' disagrees with 'sw'");
    for (let r = 0; r < 8; r++) {
      if (extValid[r] > 1) throw new Error("FPU state field 'extValid' holds a value other than 0 or 1");
      if (empty[r] > 1) throw new Error("FPU state field 'empty' holds a value other than 0 or 1");
      if (!extValid[r] && values[r] !== values[r]) {
        throw new Error("FPU state field 'values' holds a NaN without its 80-bit encoding");
      }
    }
    this.cw = (cw & CW_WRITABLE) | CW_FIXED;
    this.sw = sw & ~SW_TOP;
    this.top = top;
    this.val.set(values);
    this.extSe.set(extSe);
    this.extHi.set(extHi);
    this.extLo.set(extLo);
    this.extValid.set(extValid);
    this.empty.set(empty);
    this.fip = fip;
    this.fcs = fcs;
    this.fdp = fdp;
    this.fds = fds;
    this.fop = fop;
    this.ferr = ferr;
    this.ignne = ignne;
  }
}

function stateInt(state: { readonly [field: string]: unknown }, field: string, max: number): number {
  const v = state[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new Error(`FPU state field '${field}' must be an integer from 0 to ${max}`);
  }
  return v;
}

function stateBool(state: { readonly [field: string]: unknown }, field: string): boolean {
  const v = state[field];
  if (typeof v !== 'boolean') throw new Error(`FPU state field '${field}' must be a boolean`);
  return v;
}

type TypedArrayClass<T> = { new (length: number): T; readonly name: string };

function stateArray<T extends ArrayLike<number>>(
  state: { readonly [field: string]: unknown },
  field: string,
  kind: TypedArrayClass<T>,
): T {
  const v = state[field];
  if (!(v instanceof kind) || (v as T).length !== 8) {
    throw new Error(`FPU state field '${field}' must be a ${kind.name} of 8 elements`);
  }
  return v as T;
}
