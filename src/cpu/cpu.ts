/**
 * The x86 CPU core: architectural state in typed arrays, segmented and paged memory access, ModRM/SIB
 * decoding, the stack, exception and interrupt delivery, and the execution loop.
 *
 * Follows the Intel 64 and IA-32 Architectures Software Developer's Manual (SDM): Vol. 1 ch. 3 (registers),
 * Vol. 2 ch. 2 (instruction format), Vol. 3A ch. 6 (interrupts and exceptions), ch. 20 (real-address mode).
 * Instruction semantics live in one file per family (./ops/*.ts); ./dispatch.ts maps opcodes to them.
 */
import type { IoBus } from './bus.ts';
import type { PhysicalMemory } from './memory.ts';
import {
  FLAG_1,
  FLAG_AC,
  FLAG_IF,
  FLAG_RF,
  FLAG_TF,
  FLAG_VM,
  FLAGS_WRITABLE,
  materializeFlags,
} from './flags.ts';
import { OPCODE_TABLE } from './dispatch.ts';
import { Mmu } from './mmu.ts';
import {
  STATE_BYTES,
  STATE_REG32,
  STATE_CR0,
  STATE_SEG_BASE,
  STATE_SEG_FLAGS,
  STATE_SEG_LIMIT,
  STATE_SREG,
} from './layout.ts';
import * as pm from './protected.ts';
import { checkDataBreakpoints, instructionBreakpoints } from './debug.ts';
import { Fpu } from './fpu.ts';
import { Jit } from './jit/jit.ts';
import { DecodedCache, RUN_GENERIC, runRecords, runRecordsCold } from './decoded.ts';
import type { JitMode } from './jit/mode.ts';

export * from './constants.ts';
import {
  CR0_CD,
  CR0_ET,
  DS,
  EBP,
  EBX,
  EDI,
  ESI,
  CR0_NW,
  CR0_PE,
  CS,
  EDX,
  ESP,
  EXC_DB,
  EXC_DF,
  EXC_GP,
  EXC_NMI,
  EXC_PF,
  EXC_SS,
  INT_EXCEPTION,
  INT_HARDWARE,
  SEGF_EXPAND_DOWN,
  SEGF_NOT_READABLE,
  SEGF_NOT_WRITABLE,
  SEGF_UNUSABLE,
  SS,
} from './constants.ts';
import { reg8Index } from './reg8.ts';
import { doubleCounters } from './counters.ts';

/** Thrown (the one object, never allocated per fault) to unwind an instruction that raised an exception. */
export const CPU_FAULT = Object.freeze({ cpuFault: true });

/** Thrown when the CPU shuts down after a triple fault; the machine decides what happens (usually reset). */
export const CPU_SHUTDOWN = Object.freeze({ cpuShutdown: true });

export type OpHandler = (c: Cpu) => void;

export class Cpu {
  // ---- General registers: one buffer, three views (AL=byte 0, AH=byte 1 of EAX, ...). ----
  // They sit in the machine's memory buffer (layout.ts), where compiled WebAssembly reaches them too.
  readonly reg32: Int32Array;
  readonly reg16: Uint16Array;
  readonly reg8: Uint8Array;
  eip = 0;

  // ---- Segment registers and their descriptor caches. ----
  readonly sreg: Uint16Array;
  // The three arrays every memory access reads are views of the machine's memory buffer (layout.ts): V8
  // keeps a typed array of its own this small inside its object, where compiled code must load its address
  // at each use; on a separate buffer the address is fixed and the memory helpers (jit/runtime.ts) read it as
  // a constant. Compiled WebAssembly reads them at their offsets.
  readonly segBase: Int32Array;
  /** Effective limit (byte granular, after G scaling). */
  readonly segLimit: Uint32Array;
  /** SEGF_* bits; 0 for an ordinary present, readable+writable, expand-up segment. */
  readonly segFlags: Uint8Array;
  /**
   * The machine's memory buffer holds this CPU's state (layout.ts), so WebAssembly regions can run on it;
   * false for a second CPU built on the same memory, whose state has buffers of its own.
   */
  readonly stateInMemory: boolean;
  /** Descriptor access byte (type, S, DPL, P) and the D/B bit, kept for protected mode checks. */
  readonly segAccess = new Uint8Array(6);
  readonly segBig = new Uint8Array(6);

  // ---- EFLAGS with lazily derived arithmetic bits (see flags.ts). ----
  flags = FLAG_1;
  lazyFlags = 0;
  lazyOp = 0;
  lazySize = 0;
  lazyDst = 0;
  lazySrc = 0;
  lazyRes = 0;
  /** Scratch results of a shift, kept until its memory write succeeded (see ops/shift.ts). */
  shiftCf = 0;
  shiftOf = 0;
  /** Low half of the last 32 x 32 multiply (see ops/arith.ts mulHigh32Of). */
  mulLow = 0;
  /** Scratch space for multi-register instructions (POPA, ENTER), allocated once. */
  readonly scratch8 = new Int32Array(32);

  // ---- System state. ----
  /** CR0, in the state area (layout.ts STATE_CR0), where compiled x87 code reads EM and TS. */
  private readonly cr0Word: Int32Array;
  get cr0(): number {
    return this.cr0Word[0];
  }
  set cr0(value: number) {
    this.cr0Word[0] = value;
  }
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  readonly dr = new Int32Array(8);
  gdtrBase = 0;
  gdtrLimit = 0xffff;
  idtrBase = 0;
  idtrLimit = 0x3ff;
  ldtrSelector = 0;
  ldtrBase = 0;
  ldtrLimit = 0;
  trSelector = 0;
  trBase = 0;
  trLimit = 0;
  trType = 0;
  private currentPrivilege = 0;
  /** Current privilege level (0 in real mode, 3 in V86 mode). Changing it drops the cached code page. */
  get cpl(): number {
    return this.currentPrivilege;
  }
  set cpl(level: number) {
    this.currentPrivilege = level;
    this.forgetCodePage();
    this.mmu.updateAccessBits();
  }
  /** Drops the cached code page and the current instruction's fetch window (translations or rights changed). */
  forgetCodePage(): void {
    this.fetchPage = 1;
    this.fetchSpan = 0;
    this.decodedLinear = 1;
  }
  /**
   * The linear page (low 12 bits clear) instruction fetch reads straight from RAM, and its offset in RAM.
   * Any value with low bits set means "none"; the MMU resets it whenever translations may have changed.
   */
  fetchPage = 1;
  fetchPhys = 0;
  /**
   * The current instruction's fetch window (see fetchOpcode): bytes instrStart .. instrStart + fetchSpan - 1
   * are at RAM index fetchIndex + (EIP - instrStart) and need no checks. 0 = no window.
   */
  fetchSpan = 0;
  fetchIndex = 0;
  /**
   * The linear page (low 12 bits clear) whose decoded-instruction slot map stepDecoded uses, that map, and
   * the page's physical address. Set only while CS is 32-bit and flat; any other value = none. Reset with
   * the cached code page, by every CS load, by a flush of the cache and at the start of run().
   */
  decodedLinear = 1;
  decodedMap = 0;
  decodedPhys = 0;
  /** The decoded-instruction cache's records (DecodedCache.records). */
  readonly decodedRecords: Int32Array;
  readonly ram: Uint8Array;
  /** Model-specific registers the CPU implements (see system ops). */
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  /** Time-stamp counter offset: TSC = timeNs() + tscOffset. */
  tscOffset = 0;
  /**
   * Virtual time in nanoseconds, the TSC's source (a 1 GHz counter). The board replaces it with its virtual
   * clock; standing alone, the CPU counts one nanosecond per instruction.
   */
  timeNs: () => number = () => this.instructionCount;

  // ---- Per-instruction decode state. ----
  /** EIP of the first byte of the instruction being executed (its prefixes included). */
  instrStart = 0;
  /** 1 when the code segment is 32-bit (CS.D). */
  codeSize32 = 0;
  /** 1 when the stack segment is 32-bit (SS.B). */
  stackSize32 = 0;
  opsize32 = 0;
  addrsize32 = 0;
  /** Segment override prefix, or -1. */
  segOverride = -1;
  /** 0, 0xF2 (REPNE) or 0xF3 (REP/REPE). */
  repPrefix = 0;
  lockPrefix = 0;
  /** The ModRM byte and its decoded effective address (offset) and segment. */
  modrm = 0;
  ea = 0;
  eaSeg = DS;

  // ---- Execution state. ----
  // Hot paths test the boolean fields below with `=== true` / `=== false`: on a property V8 compiles a bare
  // `if (this.halted)` to a full ToBoolean (false, '', undetectable, number, bigint checks), ~10 instructions.
  halted = false;
  /**
   * Instructions retired since power-on (drives virtual time). A double field from construction on
   * (doubleCounters): it passes 2^31 about two seconds into a Linux boot, and a field that was a small
   * integer until then would make V8 throw away every optimised function that touches it.
   */
  instructionCount = 0;
  /** Set for one instruction after MOV SS / POP SS / STI: interrupts are held off. */
  interruptShadow = 0;
  /** Pending exception while unwinding. */
  faultVector = 0;
  faultErrorCode = 0;
  faultHasErrorCode = false;
  /** The segment whose limit check failed last (diagnostics and tests). */
  faultSegment = -1;
  /** True while DR7 enables a breakpoint (see debug.ts); B-bits of the data breakpoints hit so far. */
  debugArmed = false;
  debugHits = 0;
  private resumeFlagAtStart = 0;
  /** Set by the board (reset, debug exit, a breakpoint) to make run() return after this instruction. */
  stopRequested = false;
  /** Raised by the board: non-maskable interrupt pending. */
  nmiPending = false;
  /** INTR pin source (the PIC). */
  interruptController: { hasInterrupt(): boolean; acknowledge(): number } | null = null;

  readonly mmu: Mmu;
  readonly fpu: Fpu;
  readonly table: readonly OpHandler[] = OPCODE_TABLE;
  /** The second execution tier: hot blocks compiled to JavaScript (see jit/jit.ts). */
  readonly jit: Jit;
  /** The interpreter's decoded-instruction cache (see decoded.ts). */
  readonly decoded: DecodedCache;
  /** Set by the JIT in mode 'on': stepUnchecked runs one-instruction compiled blocks. */
  jitStepping = false;

  /** The port bus as the I/O instructions reach it (through PollingIoBus, see run()). */
  readonly io: IoBus;
  /**
   * Set when INTR may have changed since the run loop last looked at it: by every I/O access (the only way
   * an instruction reaches a device that raises IRQs), while IF is clear, and at the start of run() (the
   * board runs timers between runs). Polling the PIC only then, instead of before every instruction, is what
   * makes "devices are looked at only at block boundaries or deadlines" hold for the interpreter too.
   */
  interruptPoll = 1;

  constructor(
    readonly memory: PhysicalMemory,
    bus: IoBus,
  ) {
    doubleCounters(this, ['instructionCount']);
    const area = memory.takeCpuArea();
    this.stateInMemory = area !== null;
    const state = area ?? new ArrayBuffer(STATE_BYTES);
    this.reg32 = new Int32Array(state, STATE_REG32, 8);
    this.reg16 = new Uint16Array(state, STATE_REG32, 16);
    this.reg8 = new Uint8Array(state, STATE_REG32, 32);
    this.sreg = new Uint16Array(state, STATE_SREG, 6);
    this.segBase = new Int32Array(state, STATE_SEG_BASE, 6);
    this.segLimit = new Uint32Array(state, STATE_SEG_LIMIT, 6);
    this.segFlags = new Uint8Array(state, STATE_SEG_FLAGS, 6);
    this.cr0Word = new Int32Array(state, STATE_CR0, 1);
    this.cr0Word[0] = CR0_ET;
    this.io = new PollingIoBus(this, bus);
    this.ram = memory.ram;
    this.mmu = new Mmu(this);
    memory.onLayoutChange(() => this.mmu.flush(true));
    this.fpu = new Fpu(this, state);
    this.jit = new Jit(this);
    this.decoded = new DecodedCache(this);
    this.decodedRecords = this.decoded.records;
    this.reset();
  }

  /** Whether run() uses compiled blocks (default: where `new Function` works; see jit/mode.ts). */
  get jitEnabled(): boolean {
    return this.jit.enabled;
  }
  set jitEnabled(on: boolean) {
    this.jit.enabled = on;
  }
  /** 'off', 'on' (compile everything at once, single steps too: for tests) or 'auto' (the default). */
  get jitMode(): JitMode {
    return this.jit.mode;
  }
  set jitMode(mode: JitMode) {
    this.jit.mode = mode;
  }

  /** Power-on / RESET state (SDM Vol. 3A, 9.1.1, Table 9-1). */
  reset(): void {
    this.reg32.fill(0);
    this.reg32[EDX] = 0x0633; // processor signature: family 6, model 3, stepping 3
    this.flags = FLAG_1;
    this.lazyFlags = 0;
    this.cr0 = CR0_ET | CR0_CD | CR0_NW;
    this.cr2 = this.cr3 = this.cr4 = 0;
    this.dr.fill(0);
    this.dr[6] = 0xffff0ff0 | 0;
    this.dr[7] = 0x400;
    this.debugArmed = false;
    this.gdtrBase = 0;
    this.gdtrLimit = 0xffff;
    this.idtrBase = 0;
    this.idtrLimit = 0xffff;
    this.ldtrSelector = this.ldtrBase = 0;
    this.ldtrLimit = 0xffff;
    this.trSelector = this.trBase = 0;
    this.trLimit = 0xffff;
    this.trType = 11;
    this.cpl = 0;
    for (let s = 0; s < 6; s++) this.resetSegment(s, 0);
    this.sreg[CS] = 0xf000;
    this.segBase[CS] = 0xffff0000 | 0;
    this.eip = 0xfff0;
    this.codeSize32 = this.stackSize32 = 0;
    this.halted = false;
    this.interruptShadow = 0;
    this.nmiPending = false;
    this.sysenterCs = this.sysenterEsp = this.sysenterEip = 0;
    this.tscOffset = -this.timeNs();
    this.mmu.configure(); // CR0.PG is clear again: paging off
    this.mmu.flush(true);
    this.fpu.reset();
    this.jit.flush();
  }

  // ======================================================================================================
  // Flags
  // ======================================================================================================

  /** The full EFLAGS value with lazy bits derived. */
  getFlags(): number {
    materializeFlags(this);
    return this.flags;
  }

  /** Writes EFLAGS bits selected by `mask` (callers decide privilege rules). */
  setFlags(value: number, mask: number): void {
    materializeFlags(this);
    mask &= FLAGS_WRITABLE;
    const old = this.flags;
    this.flags = (old & ~mask) | (value & mask) | FLAG_1;
    if ((old ^ this.flags) & FLAG_VM) this.updateCpl();
  }

  /** After a CR0.PE or EFLAGS.VM change: recompute CPL-related state. */
  updateCpl(): void {
    // Entering protected mode keeps CPL 0 until CS is reloaded; the transfers that load CS set CPL.
    if (this.flags & FLAG_VM) this.cpl = 3;
    else if (!(this.cr0 & CR0_PE)) this.cpl = 0;
  }

  get protectedMode(): boolean {
    return (this.cr0 & CR0_PE) !== 0 && (this.flags & FLAG_VM) === 0;
  }

  get v86Mode(): boolean {
    return (this.flags & FLAG_VM) !== 0;
  }

  // ======================================================================================================
  // Exceptions
  // ======================================================================================================

  /** Raises exception `vector` (a fault: EIP is rolled back to the instruction start). Never returns. */
  raise(vector: number): never {
    this.faultVector = vector;
    this.faultHasErrorCode = false;
    this.faultErrorCode = 0;
    throw CPU_FAULT;
  }

  /** Raises exception `vector` with an error code. Never returns. */
  raiseError(vector: number, errorCode: number): never {
    this.faultVector = vector;
    this.faultHasErrorCode = true;
    this.faultErrorCode = errorCode & 0xffff;
    throw CPU_FAULT;
  }

  /** #GP(0) or #SS(0) for a limit violation on segment `seg` (SDM Vol. 3A 6.15). */
  segmentFault(seg: number): never {
    this.faultSegment = seg;
    if (seg === SS) this.raiseError(EXC_SS, 0);
    this.raiseError(EXC_GP, 0);
  }

  // ======================================================================================================
  // Segments
  // ======================================================================================================

  /**
   * Loads a segment register the real-mode / V86 way: base = selector * 16. In real mode the hidden limit and
   * attributes stay as they were (that is what "unreal mode" relies on); in V86 mode they are fixed: a 64 KiB
   * writable segment at DPL 3 (SDM Vol. 3A 20.2.1).
   */
  setSegmentReal(seg: number, selector: number): void {
    this.sreg[seg] = selector;
    this.segBase[seg] = selector << 4;
    if (this.flags & FLAG_VM) {
      this.segLimit[seg] = 0xffff;
      this.segAccess[seg] = seg === CS ? 0xfb : 0xf3;
      this.segFlags[seg] = 0;
      this.segBig[seg] = 0;
    }
    if (seg === CS) {
      this.codeSize32 = this.segBig[CS];
      this.decodedLinear = 1;
    } else if (seg === SS) this.stackSize32 = this.segBig[SS];
  }

  /** Puts a segment register in its power-on state: 64 KiB, present, read/write (code: execute/read). */
  resetSegment(seg: number, selector: number): void {
    this.segLimit[seg] = 0xffff;
    this.segAccess[seg] = seg === CS ? 0x9b : 0x93;
    this.segFlags[seg] = 0;
    this.segBig[seg] = 0;
    this.setSegmentReal(seg, selector);
  }

  /** Loads a data/stack segment register by the rules of the current mode (MOV/POP/LDS...). */
  loadSegment(seg: number, selector: number): void {
    if (this.protectedMode) pm.loadDataSegment(this, seg, selector & 0xffff);
    else this.setSegmentReal(seg, selector & 0xffff);
  }

  /** Checks an access of `length` bytes at `offset` in `seg`; returns the linear address. */
  private segmentSlowCheck(seg: number, offset: number, length: number, write: boolean): void {
    const flags = this.segFlags[seg];
    if (flags & SEGF_UNUSABLE) this.segmentFault(seg);
    if (write ? flags & SEGF_NOT_WRITABLE : flags & SEGF_NOT_READABLE) this.raiseError(EXC_GP, 0);
    const off = offset >>> 0;
    if (flags & SEGF_EXPAND_DOWN) {
      const upper = this.segBig[seg] ? 0xffffffff : 0xffff;
      if (off <= this.segLimit[seg] || off + length - 1 > upper) this.segmentFault(seg);
    } else if (off + length - 1 > this.segLimit[seg]) {
      this.segmentFault(seg);
    }
  }

  /** Linear address of a read of `length` bytes at seg:offset, after the segment checks. */
  readAddress(seg: number, offset: number, length: number): number {
    if (this.segFlags[seg] !== 0) this.segmentSlowCheck(seg, offset, length, false);
    else if ((offset >>> 0) + length - 1 > this.segLimit[seg]) this.segmentFault(seg);
    const linear = (this.segBase[seg] + offset) | 0;
    if (this.debugArmed === true) checkDataBreakpoints(this, linear, length, false);
    return linear;
  }

  /** Linear address of a write of `length` bytes at seg:offset, after the segment checks. */
  writeAddress(seg: number, offset: number, length: number): number {
    if (this.segFlags[seg] !== 0) this.segmentSlowCheck(seg, offset, length, true);
    else if ((offset >>> 0) + length - 1 > this.segLimit[seg]) this.segmentFault(seg);
    const linear = (this.segBase[seg] + offset) | 0;
    if (this.debugArmed === true) checkDataBreakpoints(this, linear, length, true);
    return linear;
  }

  // ======================================================================================================
  // Memory through segments
  // ======================================================================================================

  read8(seg: number, offset: number): number {
    return this.mmu.readLinear8(this.readAddress(seg, offset, 1));
  }
  read16(seg: number, offset: number): number {
    return this.mmu.readLinear16(this.readAddress(seg, offset, 2));
  }
  read32(seg: number, offset: number): number {
    return this.mmu.readLinear32(this.readAddress(seg, offset, 4));
  }
  write8(seg: number, offset: number, value: number): void {
    this.mmu.writeLinear8(this.writeAddress(seg, offset, 1), value);
  }
  write16(seg: number, offset: number, value: number): void {
    this.mmu.writeLinear16(this.writeAddress(seg, offset, 2), value);
  }
  write32(seg: number, offset: number, value: number): void {
    this.mmu.writeLinear32(this.writeAddress(seg, offset, 4), value);
  }

  // ======================================================================================================
  // Instruction fetch
  // ======================================================================================================

  /**
   * Fetches the first byte of an instruction (EIP = instrStart) and opens the fetch window for the rest: the
   * bytes from instrStart on that lie in the cached code page, within the CS limit and within the 15-byte
   * instruction length limit (SDM Vol. 2, 2.3.11). Fetches inside the window need no further checks; any
   * other fetch takes the checked path, which raises the fault the first byte outside would raise.
   */
  private fetchOpcode(): number {
    const eip = this.eip;
    const linear = (this.segBase[CS] + eip) | 0;
    if ((linear & ~0xfff) === this.fetchPage) {
      const limit = this.segLimit[CS];
      if (eip >>> 0 <= limit) {
        const pageLeft = 0xfff - (linear & 0xfff); // bytes after this one on the page
        let span = pageLeft < 14 ? pageLeft : 14;
        // Bytes after this one the CS limit allows, in 32-bit arithmetic (V8 keeps it out of doubles).
        const limitLeft = (limit - eip) >>> 0;
        if (limitLeft < span) span = limitLeft | 0;
        const index = this.fetchPhys | (linear & 0xfff);
        this.fetchSpan = span + 1;
        this.fetchIndex = index;
        this.eip = (eip + 1) | 0;
        return this.ram[index];
      }
    }
    this.fetchSpan = 0;
    return this.fetchChecked();
  }

  fetch8(): number {
    const eip = this.eip;
    const off = (eip - this.instrStart) >>> 0;
    if (off < this.fetchSpan) {
      this.eip = (eip + 1) | 0;
      return this.ram[this.fetchIndex + off];
    }
    return this.fetchChecked();
  }

  /** A fetch outside the window: the 15-byte limit, the CS limit, then the page (through the MMU). */
  private fetchChecked(): number {
    const eip = this.eip;
    if (eip - this.instrStart >= 15) this.raiseError(EXC_GP, 0); // SDM Vol. 2, 2.3.11: at most 15 bytes
    if (eip >>> 0 > this.segLimit[CS]) this.raiseError(EXC_GP, 0);
    this.eip = (eip + 1) | 0;
    const linear = (this.segBase[CS] + eip) | 0;
    if ((linear & ~0xfff) === this.fetchPage) return this.ram[this.fetchPhys | (linear & 0xfff)];
    return this.fetchSlow(linear);
  }

  /** Instruction fetch from a page not yet cached: goes through the MMU, then caches the page if it is RAM. */
  private fetchSlow(linear: number): number {
    const value = this.mmu.fetchLinear8(linear);
    const phys = this.mmu.translate(linear, false);
    if (this.memory.isRam(phys)) {
      this.fetchPage = linear & ~0xfff;
      this.fetchPhys = phys & ~0xfff;
    } else {
      this.fetchPage = 1;
    }
    return value;
  }

  fetch16(): number {
    const eip = this.eip;
    const off = (eip - this.instrStart) >>> 0;
    if (off + 2 <= this.fetchSpan) {
      this.eip = (eip + 2) | 0;
      const a = this.fetchIndex + off;
      return this.ram[a] | (this.ram[a + 1] << 8);
    }
    const lo = this.fetch8();
    return lo | (this.fetch8() << 8);
  }

  fetch32(): number {
    const eip = this.eip;
    const off = (eip - this.instrStart) >>> 0;
    if (off + 4 <= this.fetchSpan) {
      this.eip = (eip + 4) | 0;
      const ram = this.ram;
      const a = this.fetchIndex + off;
      return ram[a] | (ram[a + 1] << 8) | (ram[a + 2] << 16) | (ram[a + 3] << 24);
    }
    const lo = this.fetch8() | (this.fetch8() << 8);
    return lo | (this.fetch8() << 16) | (this.fetch8() << 24);
  }

  /** Fetches an immediate of the current operand size (16 or 32 bits). */
  fetchImm(): number {
    return this.opsize32 ? this.fetch32() : this.fetch16();
  }

  /** The ModRM byte at EIP without consuming it (for LOCK validity checks). */
  peekModrm(): number {
    const saved = this.eip;
    const b = this.fetch8();
    this.eip = saved;
    return b;
  }

  // ======================================================================================================
  // ModRM decoding (SDM Vol. 2, 2.1.5, Tables 2-1 to 2-3)
  // ======================================================================================================

  /** Fetches a ModRM byte and, for a memory operand, decodes its offset into `ea` and segment into `eaSeg`. */
  decodeModrm(): void {
    this.decodeModrmByte(this.fetch8());
  }

  /** decodeModrm for a ModRM byte the handler has already fetched. */
  decodeModrmByte(modrm: number): void {
    this.modrm = modrm;
    if (modrm >= 0xc0) return;
    if (this.addrsize32) this.decodeAddress32(modrm);
    else this.decodeAddress16(modrm);
  }

  private decodeAddress16(modrm: number): void {
    const mod = modrm >> 6;
    const rm = modrm & 7;
    const r = this.reg16;
    let seg = DS;
    let ea: number;
    switch (rm) {
      case 0:
        ea = r[EBX * 2] + r[ESI * 2];
        break;
      case 1:
        ea = r[EBX * 2] + r[EDI * 2];
        break;
      case 2:
        ea = r[EBP * 2] + r[ESI * 2];
        seg = SS;
        break;
      case 3:
        ea = r[EBP * 2] + r[EDI * 2];
        seg = SS;
        break;
      case 4:
        ea = r[ESI * 2];
        break;
      case 5:
        ea = r[EDI * 2];
        break;
      case 6:
        if (mod === 0) {
          ea = this.fetch16();
        } else {
          ea = r[EBP * 2];
          seg = SS;
        }
        break;
      default:
        ea = r[EBX * 2];
        break;
    }
    if (mod === 1) ea += (this.fetch8() << 24) >> 24;
    else if (mod === 2) ea += this.fetch16();
    this.ea = ea & 0xffff;
    this.eaSeg = this.segOverride >= 0 ? this.segOverride : seg;
  }

  private decodeAddress32(modrm: number): void {
    const mod = modrm >> 6;
    let rm = modrm & 7;
    const r = this.reg32;
    let seg = DS;
    let ea: number;
    if (rm === 4) {
      const sib = this.fetch8();
      const scale = sib >> 6;
      const index = (sib >> 3) & 7;
      rm = sib & 7;
      if (rm === 5 && mod === 0) {
        ea = this.fetch32();
      } else {
        ea = r[rm];
        if (rm === ESP || rm === EBP) seg = SS;
      }
      if (index !== 4) ea = (ea + (r[index] << scale)) | 0;
    } else if (rm === 5 && mod === 0) {
      ea = this.fetch32();
    } else {
      ea = r[rm];
      if (rm === EBP) seg = SS;
    }
    if (mod === 1) ea = (ea + ((this.fetch8() << 24) >> 24)) | 0;
    else if (mod === 2) ea = (ea + this.fetch32()) | 0;
    this.ea = ea;
    this.eaSeg = this.segOverride >= 0 ? this.segOverride : seg;
  }

  /** The reg field of the current ModRM byte. */
  get modrmReg(): number {
    return (this.modrm >> 3) & 7;
  }

  // ---- r/m operand access for the current ModRM ----
  readRm8(): number {
    const m = this.modrm;
    if (m >= 0xc0) return this.reg8[reg8Index(m & 7)];
    return this.read8(this.eaSeg, this.ea);
  }
  readRm16(): number {
    const m = this.modrm;
    if (m >= 0xc0) return this.reg16[(m & 7) << 1];
    return this.read16(this.eaSeg, this.ea);
  }
  readRm32(): number {
    const m = this.modrm;
    if (m >= 0xc0) return this.reg32[m & 7];
    return this.read32(this.eaSeg, this.ea);
  }
  writeRm8(value: number): void {
    const m = this.modrm;
    if (m >= 0xc0) this.reg8[reg8Index(m & 7)] = value;
    else this.write8(this.eaSeg, this.ea, value);
  }
  writeRm16(value: number): void {
    const m = this.modrm;
    if (m >= 0xc0) this.reg16[(m & 7) << 1] = value;
    else this.write16(this.eaSeg, this.ea, value);
  }
  writeRm32(value: number): void {
    const m = this.modrm;
    if (m >= 0xc0) this.reg32[m & 7] = value;
    else this.write32(this.eaSeg, this.ea, value);
  }
  /** Checks that the r/m memory operand is writable before a read-modify-write reads it. */
  checkRmWritable(length: number): void {
    if (this.modrm < 0xc0) this.mmu.checkWritable(this.writeAddress(this.eaSeg, this.ea, length), length);
  }

  // ---- reg operand of the current ModRM ----
  getReg8(): number {
    return this.reg8[reg8Index((this.modrm >> 3) & 7)];
  }
  setReg8(value: number): void {
    this.reg8[reg8Index((this.modrm >> 3) & 7)] = value;
  }

  // ======================================================================================================
  // Stack (SDM Vol. 1, 6.2)
  // ======================================================================================================

  /** Current stack pointer as an offset (SP or ESP by SS.B). */
  getSp(): number {
    return this.stackSize32 ? this.reg32[ESP] : this.reg16[ESP * 2];
  }
  /** Stack offset `delta` bytes from the stack pointer, wrapped to the stack size. */
  spOffset(delta: number): number {
    return this.stackSize32 ? (this.reg32[ESP] + delta) | 0 : (this.reg16[ESP * 2] + delta) & 0xffff;
  }
  adjustSp(delta: number): void {
    if (this.stackSize32) this.reg32[ESP] = (this.reg32[ESP] + delta) | 0;
    else this.reg16[ESP * 2] = this.reg16[ESP * 2] + delta;
  }

  push16(value: number): void {
    const sp = this.spOffset(-2);
    this.write16(SS, sp, value);
    if (this.stackSize32) this.reg32[ESP] = sp;
    else this.reg16[ESP * 2] = sp;
  }
  push32(value: number): void {
    const sp = this.spOffset(-4);
    this.write32(SS, sp, value);
    if (this.stackSize32) this.reg32[ESP] = sp;
    else this.reg16[ESP * 2] = sp;
  }
  /** Pushes a value of the current operand size. */
  push(value: number): void {
    if (this.opsize32) this.push32(value);
    else this.push16(value);
  }
  pop16(): number {
    const value = this.read16(SS, this.getSp());
    this.adjustSp(2);
    return value;
  }
  pop32(): number {
    const value = this.read32(SS, this.getSp());
    this.adjustSp(4);
    return value;
  }
  pop(): number {
    return this.opsize32 ? this.pop32() : this.pop16();
  }

  // ======================================================================================================
  // Control transfer helpers
  // ======================================================================================================

  /** Jumps to `target` in the current code segment, masked to the operand size, with the limit check. */
  jumpNear(target: number): void {
    if (!this.opsize32) target &= 0xffff;
    if (target >>> 0 > this.segLimit[CS]) this.raiseError(EXC_GP, 0);
    this.eip = target;
  }

  // ======================================================================================================
  // Interrupts and exceptions (SDM Vol. 3A ch. 6; real mode: 20.1.4)
  // ======================================================================================================

  /**
   * Delivers interrupt `vector`. `kind` is INT_SOFTWARE, INT_HARDWARE or INT_EXCEPTION; `errorCode` < 0 means
   * none. EIP must already be the return address (next instruction for traps/INT n, the instruction for faults).
   */
  interrupt(vector: number, kind: number, errorCode: number): void {
    if (this.cr0 & CR0_PE) {
      pm.protectedModeInterrupt(this, vector, kind, errorCode);
      return;
    }
    // Real-address mode: the IVT at IDTR.base, four bytes per vector.
    const entry = vector << 2;
    if (entry + 3 > this.idtrLimit) this.raiseError(EXC_GP, vector * 8 + 2);
    const offset = this.mmu.readLinear16((this.idtrBase + entry) | 0);
    const selector = this.mmu.readLinear16((this.idtrBase + entry + 2) | 0);
    const flags = this.getFlags();
    // Three pushes; a stack fault here leaves SP unchanged.
    const sp1 = this.spOffset(-2);
    const sp2 = this.spOffset(-4);
    const sp3 = this.spOffset(-6);
    this.write16(SS, sp1, flags);
    this.write16(SS, sp2, this.sreg[CS]);
    this.write16(SS, sp3, this.eip);
    if (this.stackSize32) this.reg32[ESP] = sp3;
    else this.reg16[ESP * 2] = sp3;
    this.flags &= ~(FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF);
    this.setSegmentReal(CS, selector);
    this.eip = offset;
    this.halted = false;
  }

  /** Delivers the exception recorded by raise()/raiseError(), with double- and triple-fault escalation. */
  deliverFault(): void {
    const vector = this.faultVector;
    const errorCode = this.faultHasErrorCode ? this.faultErrorCode : -1;
    this.eip = this.instrStart;
    this.repeatFault(vector, errorCode);
  }

  /**
   * Delivers `vector`; when its delivery itself faults, applies SDM Vol. 3A Table 6-5: a contributory
   * exception (#DE, #TS, #NP, #SS, #GP) during a contributory one, or a #PF or contributory exception during
   * a #PF, becomes #DF; any other pair delivers the second exception in place of the first; a fault while
   * delivering #DF shuts the processor down (triple fault).
   */
  private repeatFault(vector: number, errorCode: number): void {
    const contributory = (v: number) => v === 0 || (v >= 10 && v <= 13);
    for (;;) {
      try {
        this.interrupt(vector, INT_EXCEPTION, errorCode);
        return;
      } catch (e) {
        if (e !== CPU_FAULT) throw e;
        if (vector === EXC_DF) throw CPU_SHUTDOWN;
        const second = this.faultVector;
        const double =
          (contributory(vector) && contributory(second)) ||
          (vector === EXC_PF && (second === EXC_PF || contributory(second)));
        if (double) {
          vector = EXC_DF;
          errorCode = 0;
        } else {
          vector = second;
          errorCode = this.faultHasErrorCode ? this.faultErrorCode : -1;
        }
      }
    }
  }

  // ======================================================================================================
  // Execution
  // ======================================================================================================

  /** Executes one instruction (with its prefixes). Guest exceptions are delivered, never thrown. */
  step(): void {
    try {
      this.stepUnchecked();
    } catch (e) {
      if (e !== CPU_FAULT) throw e;
      this.deliverFault();
    }
  }

  /** Decodes and executes one instruction; a guest exception escapes as CPU_FAULT. */
  stepUnchecked(): void {
    if (this.jitStepping === true && this.jit.step()) return;
    this.instrStart = this.eip;
    this.opsize32 = this.addrsize32 = this.codeSize32;
    this.segOverride = -1;
    this.repPrefix = 0;
    this.lockPrefix = 0;
    const trap = this.flags & FLAG_TF;
    if (this.debugArmed === true) this.beforeInstructionDebug();
    this.table[this.fetchOpcode()](this);
    // In a 16-bit code segment the instruction pointer is IP: it wraps at 64 KiB (fetches past the limit
    // fault in fetch8 before this point is reached).
    if (!this.codeSize32) this.eip &= 0xffff;
    this.instructionCount++;
    if (this.debugArmed === true) this.afterInstructionDebug();
    if (this.interruptShadow) this.interruptShadow--;
    else if (trap) this.singleStepTrap();
  }

  /**
   * stepUnchecked through the decoded-instruction cache: in flat 32-bit code without TF or debug
   * breakpoints, an instruction whose record has a form of its own runs from the record; any other goes
   * through stepUnchecked (and, when it reached a device that wrote RAM directly, drops the cache).
   */
  stepDecoded(): void {
    if (
      (this.flags & FLAG_TF) !== 0 ||
      this.debugArmed === true ||
      runRecords(this, this.instructionCount + 1)
    ) {
      this.stepGeneric();
      return;
    }
    // The forms cannot set the interrupt shadow (MOV SS and POP SS are generic).
    if (this.interruptShadow) this.interruptShadow--;
  }

  /**
   * Runs instructions until `end` is reached or one has run that is not of a form of its own (which it runs
   * through stepUnchecked; I/O, mode changes and the like are all among those): decoded.ts runRecords, when
   * no interrupt check is due before the next instruction (the caller polled, and found nothing or could
   * not take anything); else one instruction. Faults escape as CPU_FAULT with instructionCount exact.
   */
  runDecoded(end: number): void {
    if (this.mustStep()) {
      this.stepDecoded();
      return;
    }
    if (runRecords(this, end)) this.stepGeneric();
  }

  /**
   * runDecoded for the block compiler's cold code: also stops after an instruction that sent control
   * elsewhere than to the next one where compiled code may start (decoded.ts runRecordsCold), where the
   * dispatcher looks again.
   */
  runCold(end: number): void {
    if (this.mustStep()) {
      this.stepDecoded();
      return;
    }
    if (runRecordsCold(this, end) === RUN_GENERIC) this.stepGeneric();
  }

  /**
   * Whether the next instruction must run on its own: TF or breakpoints, the interrupt shadow, or an
   * interrupt check due before the instruction after it (runDecoded, runCold).
   */
  private mustStep(): boolean {
    return (
      (this.flags & FLAG_TF) !== 0 ||
      this.debugArmed === true ||
      this.interruptShadow !== 0 ||
      this.nmiPending === true ||
      ((this.flags & FLAG_IF) !== 0 && this.interruptPoll !== 0 && this.interruptController !== null)
    );
  }

  /** An instruction through stepUnchecked; when it reached a device that wrote RAM directly, the cache goes. */
  private stepGeneric(): void {
    this.stepUnchecked();
    if (this.memory.writeGeneration !== this.decoded.generation) this.decoded.flush();
  }

  /**
   * Makes the code page holding `linear` the one stepDecoded looks up records in, when the cache may be
   * used there: the page is the cached code page (its translation known, fetch allowed), the code segment
   * is 32-bit and flat, and the JIT is not stepping. Returns whether it could.
   */
  enterDecodedPage(linear: number): boolean {
    if ((linear & ~0xfff) !== this.fetchPage) {
      // A TLB entry that allows the read (no walk, no fault: the interpreter does those) becomes the cached
      // code page, as the JIT's dispatcher does.
      const page = this.mmu.probeRead(linear);
      if (page < 0 || page + 0x1000 > this.ram.length) return false;
      this.fetchPage = linear & ~0xfff;
      this.fetchPhys = page;
    }
    if (
      this.codeSize32 !== 1 ||
      this.segLimit[CS] !== 0xffffffff ||
      this.jitStepping === true ||
      this.decoded.enabled === false
    ) {
      return false;
    }
    this.decodedMap = this.decoded.mapFor(this.fetchPhys);
    this.decodedPhys = this.fetchPhys;
    this.decodedLinear = linear & ~0xfff;
    return true;
  }

  /** Execute breakpoints: a fault before the instruction, unless EFLAGS.RF suppresses it. */
  private beforeInstructionDebug(): void {
    this.debugHits = 0;
    this.resumeFlagAtStart = this.flags & FLAG_RF;
    if (this.resumeFlagAtStart) return;
    const hits = instructionBreakpoints(this, (this.segBase[CS] + this.eip) | 0);
    if (hits) {
      this.dr[6] |= hits;
      this.raise(EXC_DB);
    }
  }

  /**
   * Data breakpoints hit by the instruction: a trap after it. RF, when the instruction started with it set,
   * is cleared once the instruction completes (an IRET that sets RF keeps it for the next instruction).
   */
  private afterInstructionDebug(): void {
    if (this.resumeFlagAtStart) this.flags &= ~FLAG_RF;
    if (this.debugHits) {
      this.dr[6] |= this.debugHits;
      this.debugHits = 0;
      this.interrupt(EXC_DB, INT_EXCEPTION, -1);
    }
  }

  /** Trap after an instruction executed with TF set (SDM Vol. 3A 17.3.1.4). */
  private singleStepTrap(): void {
    this.dr[6] |= 0x4000; // BS
    this.interrupt(EXC_DB, INT_EXCEPTION, -1);
  }

  /** Whether a maskable interrupt may be taken now. */
  canTakeInterrupt(): boolean {
    return (this.flags & FLAG_IF) !== 0 && this.interruptShadow === 0;
  }

  /** Takes a pending NMI or INTR at an instruction boundary. Returns true when one was delivered. */
  serviceInterrupts(): boolean {
    if (this.nmiPending === true && this.interruptShadow === 0) {
      this.nmiPending = false;
      this.deliverExternal(EXC_NMI);
      return true;
    }
    const pic = this.interruptController;
    if (pic !== null && this.canTakeInterrupt() && pic.hasInterrupt()) {
      this.deliverExternal(pic.acknowledge());
      return true;
    }
    return false;
  }

  private deliverExternal(vector: number): void {
    this.instrStart = this.eip;
    try {
      this.interrupt(vector, INT_HARDWARE, -1);
    } catch (e) {
      if (e !== CPU_FAULT) throw e;
      this.deliverFault();
    }
  }

  /**
   * Runs up to `limit` instructions, stopping early when the CPU halts. Interrupts are checked between
   * instructions. Returns the number of instructions executed.
   */
  run(limit: number): number {
    const start = this.instructionCount;
    const end = start + limit;
    if (this.memory.writeGeneration !== this.decoded.generation) this.decoded.flush();
    // The board or a test may have changed CS, the modes or the cache's switch since the last run.
    this.decodedLinear = 1;
    while (this.instructionCount < end && this.stopRequested === false) {
      if (this.halted === true) {
        if (!this.serviceInterrupts()) break;
        continue;
      }
      try {
        if (this.jit.enabled) this.jit.run(end);
        else {
          this.interruptPoll = 1;
          while (this.instructionCount < end && this.halted === false && this.stopRequested === false) {
            if (this.nmiPending === true) this.serviceInterrupts();
            else if ((this.flags & FLAG_IF) === 0) this.interruptPoll = 1;
            else if (
              this.interruptPoll !== 0 &&
              this.interruptShadow === 0 &&
              this.interruptController !== null
            ) {
              // An interrupt delivered through a trap gate leaves IF set: look again after it.
              this.interruptPoll = this.serviceInterrupts() ? 1 : 0;
            }
            this.runDecoded(end);
          }
        }
      } catch (e) {
        if (e !== CPU_FAULT) throw e;
        this.deliverFault();
        this.instructionCount++;
        this.interruptPoll = 1;
      }
    }
    return this.instructionCount - start;
  }
}

/**
 * The board's port bus seen through the CPU: an access may change an interrupt request line (a UART's THR
 * write, an EOI to the PIC, an unmask), so each one tells the run loop to poll INTR before the next
 * instruction.
 */
class PollingIoBus implements IoBus {
  constructor(
    private readonly cpu: Cpu,
    private readonly bus: IoBus,
  ) {}
  in8(port: number): number {
    this.cpu.interruptPoll = 1;
    return this.bus.in8(port);
  }
  in16(port: number): number {
    this.cpu.interruptPoll = 1;
    return this.bus.in16(port);
  }
  in32(port: number): number {
    this.cpu.interruptPoll = 1;
    return this.bus.in32(port);
  }
  out8(port: number, value: number): void {
    this.cpu.interruptPoll = 1;
    this.bus.out8(port, value);
  }
  out16(port: number, value: number): void {
    this.cpu.interruptPoll = 1;
    this.bus.out16(port, value);
  }
  out32(port: number, value: number): void {
    this.cpu.interruptPoll = 1;
    this.bus.out32(port, value);
  }
}
