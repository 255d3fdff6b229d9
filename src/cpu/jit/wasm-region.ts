/**
 * Runs regions compiled to WebAssembly (wasm-codegen.ts) for one CPU: instantiates their modules against
 * the machine's memory and the support module (wasm-support.ts), and wraps each in the RegionFunction the
 * dispatcher calls (jit.ts). The wrapper moves the lazy-flag fields and EFLAGS between the Cpu's fields and
 * the state area around the call, and turns what the module leaves there (EIP, instructions retired, the
 * last instruction's start) into the Cpu's fields, as a JavaScript region's epilogue does. On a guest
 * exception it reports the faulting instruction, which the helper that raised it was told.
 */
import type { Cpu } from '../cpu.ts';
import { CR4_TSD, CS, EAX, EDX } from '../constants.ts';
import { FLAG_IF, FLAG_IOPL, FLAG_TF, FLAG_VM } from '../flags.ts';
import {
  DISPATCH_LINES,
  STATE_DISPATCH,
  STATE_EXIT_CHAIN,
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
  STATE_EXIT_LINKS,
  STATE_RUNNING_SLOT,
  dispatchLine,
} from '../layout.ts';
import { escapeDecoded } from '../ops/x87.ts';
import type { JitRuntime } from './runtime.ts';
import { instantiateSupport, type DispatchFunction, type SupportExports } from './wasm-support.ts';
import { X87_FLAGS } from './wasm-codegen.ts';

const OP = STATE_LAZY_OP >> 2;
const SIZE = STATE_LAZY_SIZE >> 2;
const DST = STATE_LAZY_DST >> 2;
const SRC = STATE_LAZY_SRC >> 2;
const RES = STATE_LAZY_RES >> 2;
const PENDING = STATE_LAZY_FLAGS >> 2;
const FLAGS = STATE_FLAGS >> 2;
const EIP = STATE_EXIT_EIP >> 2;
const DONE = STATE_EXIT_DONE >> 2;
const START = STATE_EXIT_START >> 2;
const CHAIN = STATE_EXIT_CHAIN >> 2;
const LINKS = STATE_EXIT_LINKS >> 2;
const RUNNING = STATE_RUNNING_SLOT >> 2;

/** A compiled region's function: (budget, EIP) -> 0, 1, or 2 (a fallback ended it). */
export type WasmRun = (budget: number, eip: number) => number;

/** What the wrapper needs of the JIT: the self-modifying-code flag, the fallback marker, the CPU's mode. */
export interface JitFlags {
  smc: number;
  inFallback: number;
  /** The block mode bits of the CPU now (MODE_CODE32, MODE_STACK32, MODE_FLAT), as lookups key them. */
  modeNow(): number;
  readonly stats: { x87Calls: number };
}

/** Regions the table holds at most before the JIT starts afresh. */
const MAX_SLOTS = 1 << 16;

/** Modules kept by their bytes (the same code compiles to the same bytes), up to this many bytes in all. */
const MODULE_CACHE_BYTES = 16 << 20;

export class WasmRegions {
  private readonly state: Int32Array;
  private readonly imports: WebAssembly.Imports;
  /** instructionCount when the running region was entered. */
  private entryCount = 0;
  /** Set while the interpreter runs an instruction for the region (its fault is reported by the interpreter). */
  private inFallback = 0;
  private readonly modules = new Map<string, WebAssembly.Module>();
  private moduleBytes = 0;
  /** The regions' functions, called through the support module's call(slot, ...). */
  private readonly table: WebAssembly.Table;
  private tableSize = 256;
  private nextSlot = 0;
  private readonly dispatch: DispatchFunction;
  /** The dispatcher cache (layout.ts STATE_DISPATCH): 4 int32 per line. */
  private readonly lines: Int32Array;
  /** Regions the last call() entered through the dispatcher cache (after the first). */
  links = 0;

  constructor(
    private readonly cpu: Cpu,
    private readonly jit: JitFlags,
    rt: JitRuntime,
    memory: WebAssembly.Memory,
  ) {
    this.state = new Int32Array(memory.buffer, 0, 64);
    this.lines = new Int32Array(memory.buffer, STATE_DISPATCH, DISPATCH_LINES * 4);
    this.forgetAll();
    this.table = new WebAssembly.Table({ element: 'anyfunc', initial: this.tableSize });
    const support = instantiateSupport(
      memory,
      {
        rd8: (seg, off) => rt.rd8(seg, off),
        rd16: (seg, off) => rt.rd16(seg, off),
        rd32: (seg, off) => rt.rd32(seg, off),
        wr8: (seg, off, value) => {
          rt.wr8(seg, off, value);
          return jit.smc;
        },
        wr16: (seg, off, value) => {
          rt.wr16(seg, off, value);
          return jit.smc;
        },
        wr32: (seg, off, value) => {
          rt.wr32(seg, off, value);
          return jit.smc;
        },
      },
      this.table,
    );
    this.dispatch = support.run;
    const state = this.state;
    this.imports = {
      rt: support as SupportExports,
      js: {
        memory,
        fallback: (start: number, count: number) => this.fallback(start, count),
        cross: (start: number, count: number, mode: number) => this.cross(start, count, mode),
        gp: (start: number, count: number) => {
          this.at(start, count);
          rt.gp();
        },
        de: (start: number, count: number) => {
          this.at(start, count);
          rt.de();
        },
        // checkRmWritable: the destination of a CMPXCHG faults as a write before it is read.
        chkw: (seg: number, off: number, bytes: number, start: number, count: number) => {
          this.at(start, count);
          cpu.mmu.checkWritable(cpu.writeAddress(seg, off, bytes), bytes);
        },
        // RDTSC (ops/system.ts): #GP(0) when CR4.TSD is set outside ring 0; the counter counts the
        // instructions retired before this one.
        rdtsc: (start: number, count: number) => {
          this.at(start, count);
          if ((cpu.cr4 & CR4_TSD) !== 0 && cpu.cpl !== 0) rt.gp();
          cpu.instructionCount = this.entryCount + state[CHAIN] + count;
          const t = rt.tsc();
          cpu.reg32[EAX] = t % 4294967296;
          cpu.reg32[EDX] = Math.floor(t / 4294967296);
        },
        // CLI (ops/misc.ts): #GP(0) when CPL > IOPL in protected mode, or in V86 mode below IOPL 3.
        cli: (start: number, count: number) => {
          this.at(start, count);
          const fl = state[FLAGS];
          const iopl = (fl & FLAG_IOPL) >> 12;
          if (((cpu.cr0 & 1) !== 0 && cpu.cpl > iopl) || ((fl & FLAG_VM) !== 0 && iopl !== 3)) rt.gp();
          state[FLAGS] = fl & ~FLAG_IF;
        },
        // An x87 instruction (wasm-codegen.ts x87): the interpreter's x87 code with what decoding it would
        // have set; `info` packs the opcode, ModRM, segment and sizes, and whether it uses EFLAGS (then the
        // lazy flags go through the CPU's fields around it, as around a fallback).
        x87: (start: number, count: number, info: number, ea: number, next: number) => {
          this.at(start, count);
          jit.stats.x87Calls++;
          const flags = (info & X87_FLAGS) !== 0;
          if (flags) this.flagsOut();
          cpu.instrStart = start;
          cpu.eip = next;
          cpu.instructionCount = this.entryCount + state[CHAIN] + count;
          cpu.opsize32 = (info >> 14) & 1;
          cpu.addrsize32 = (info >> 15) & 1;
          cpu.segOverride = -1;
          cpu.modrm = (info >> 3) & 0xff;
          cpu.ea = ea;
          cpu.eaSeg = (info >> 11) & 7;
          escapeDecoded(cpu, 0xd8 + (info & 7));
          if (flags) this.flagsIn();
          return this.leaveAfter();
        },
        // PUSHF's value (ops/stack.ts): #GP(0) in V86 mode below IOPL 3; the flags materialised as
        // getFlags() does, through the CPU's own fields, and left in EFLAGS with nothing pending.
        pushf: (start: number, count: number) => {
          this.at(start, count);
          const fl = state[FLAGS];
          if ((fl & FLAG_VM) !== 0 && (fl & FLAG_IOPL) !== FLAG_IOPL) rt.gp();
          this.flagsOut();
          const flags = cpu.getFlags();
          state[FLAGS] = flags;
          state[PENDING] = 0;
          return flags;
        },
      },
    };
  }

  /**
   * The compiled regions of module bytes `bytes` (wasm-codegen.ts regionModule, `count` functions): for
   * each, its table slot (for call() between flagsIn() and flagsOut()) and `fn`, a RegionFunction that
   * does all three (Jit.step).
   */
  instantiate(
    bytes: Uint8Array<ArrayBuffer>,
    count: number,
  ): Array<{ slot: number; fn: (budget: number) => number }> {
    let key = '';
    for (let i = 0; i < bytes.length; i += 4096) {
      key += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
    }
    let module = this.modules.get(key);
    if (module === undefined) {
      module = new WebAssembly.Module(bytes);
      if (this.moduleBytes > MODULE_CACHE_BYTES) {
        this.modules.clear();
        this.moduleBytes = 0;
      }
      this.modules.set(key, module);
      this.moduleBytes += bytes.length;
    }
    const exports = new WebAssembly.Instance(module, this.imports).exports;
    const out: Array<{ slot: number; fn: (budget: number) => number }> = [];
    for (let i = 0; i < count; i++) {
      const slot = this.nextSlot++;
      if (slot >= this.tableSize) {
        this.table.grow(this.tableSize);
        this.tableSize *= 2;
      }
      this.table.set(slot, exports[`r${i}`] as WasmRun);
      out.push({ slot, fn: (budget: number) => this.enter(slot, budget) });
    }
    return out;
  }

  /** Table slots left before the table is as large as it may grow. */
  get slotsLeft(): number {
    return MAX_SLOTS - this.nextSlot;
  }

  /** Whether the table is as large as it may grow (the JIT then drops everything, see reset()). */
  get full(): boolean {
    return this.nextSlot >= MAX_SLOTS;
  }

  /** Forgets every region (after Jit.flush: none of them can be called again); slots are reused. */
  reset(): void {
    this.nextSlot = 0;
    this.forgetAll();
  }

  /** A region call with the lazy flags copied in before and out after (one region: Jit.step). */
  private enter(slot: number, budget: number): number {
    this.flagsIn();
    const r = this.call(slot, budget, 0, 0);
    this.flagsOut();
    return r;
  }

  /**
   * Runs the region in table slot `slot` for at most `budget` instructions, the lazy flags already in the
   * state area (flagsIn; several calls may run in a row before flagsOut); with `link` set, the regions
   * after it that the dispatcher cache finds too (wasm-support.ts run(), for CPU mode `mode`). EFLAGS
   * itself is copied back after each call, since the dispatcher reads IF between calls. Returns as a
   * RegionFunction does, for the last region. On a guest exception the Cpu's fields are brought up to date
   * (and the state area with them) before it propagates.
   */
  call(slot: number, budget: number, mode: number, link: number): number {
    const c = this.cpu;
    const s = this.state;
    const n0 = c.instructionCount;
    this.entryCount = n0;
    let r: number;
    try {
      r = this.dispatch(slot, budget, c.eip, mode, link);
    } catch (e) {
      this.jit.inFallback = 0;
      if (this.inFallback === 0) {
        this.flagsOut();
        c.instrStart = s[START];
        c.instructionCount = n0 + s[CHAIN] + s[DONE];
      } else this.flagsIn(); // the interpreter's fields are the current ones
      this.inFallback = 0;
      throw e;
    }
    this.links = s[LINKS];
    if (r === 2) return 1; // a fallback ended it: the Cpu's fields and the state area agree
    c.flags = s[FLAGS];
    c.eip = s[EIP];
    c.instructionCount = n0 + s[CHAIN] + s[DONE];
    c.instrStart = s[START];
    return r;
  }

  /** The table slot of the region running now (or that ran last). */
  get runningSlot(): number {
    return this.state[RUNNING];
  }

  /**
   * Puts a region entry in the dispatcher cache (replacing what its line held): code at physical `phys`,
   * EIP `eip`, in CPU mode `mode`, run by the region in `slot` whose bytes end at EIP `lastByte`.
   */
  remember(phys: number, eip: number, mode: number, slot: number, lastByte: number): void {
    const at = dispatchLine(phys) << 2;
    const lines = this.lines;
    lines[at] = phys;
    lines[at + 1] = eip;
    lines[at + 2] = (slot << 4) | mode;
    lines[at + 3] = lastByte;
  }

  /** Drops the entry at `phys`, `eip` from the dispatcher cache (its region was dropped). */
  forget(phys: number, eip: number): void {
    const at = dispatchLine(phys) << 2;
    if (this.lines[at] === phys && this.lines[at + 1] === eip) this.lines[at] = -1;
  }

  /** Empties the dispatcher cache. */
  forgetAll(): void {
    const lines = this.lines;
    for (let i = 0; i < lines.length; i += 4) lines[i] = -1;
  }

  /** The Cpu's lazy fields and EFLAGS into the state area, where regions keep them. */
  flagsIn(): void {
    const c = this.cpu;
    const s = this.state;
    s[OP] = c.lazyOp;
    s[SIZE] = c.lazySize;
    s[DST] = c.lazyDst;
    s[SRC] = c.lazySrc;
    s[RES] = c.lazyRes;
    s[PENDING] = c.lazyFlags;
    s[FLAGS] = c.flags;
  }

  /** The state area's lazy fields and EFLAGS back into the Cpu. */
  flagsOut(): void {
    const c = this.cpu;
    const s = this.state;
    c.lazyOp = s[OP];
    c.lazySize = s[SIZE];
    c.lazyDst = s[DST];
    c.lazySrc = s[SRC];
    c.lazyRes = s[RES];
    c.lazyFlags = s[PENDING];
    c.flags = s[FLAGS];
  }

  /** Where the instruction that may raise next is: its start and the instructions the region ran before it. */
  private at(start: number, count: number): void {
    this.state[START] = start;
    this.state[DONE] = count;
  }

  /** Runs the instruction at `start` in the interpreter; 1 when the region must stop after it. */
  private fallback(start: number, count: number): number {
    const c = this.cpu;
    this.flagsOut();
    c.eip = start;
    c.instructionCount = this.entryCount + this.state[CHAIN] + count;
    this.inFallback = 1;
    this.jit.inFallback = 1;
    c.stepUnchecked();
    this.jit.inFallback = 0;
    this.inFallback = 0;
    this.flagsIn();
    const leave = this.leaveAfter();
    // Also when the instruction is to run again (a REP string instruction with iterations left: interrupts
    // are looked at between its steps).
    return c.eip === start ? 1 : leave;
  }

  /**
   * The interpreter's step for an instruction that runs past its page (wasm-codegen.ts crossPage), from a
   * region compiled for block mode `mode`: what fallback() answers, or 2 when the instruction, whatever it
   * was, changed what linking to the next region takes as unchanged by compiled code: the modes, CS, the
   * privilege level, the control registers, TF, the interrupt shadow, armed breakpoints. Then the region
   * returns at once, and the Cpu's fields are the current ones.
   */
  private cross(start: number, count: number, mode: number): number {
    const c = this.cpu;
    const cs = c.sreg[CS];
    const cpl = c.cpl;
    const cr0 = c.cr0;
    const cr3 = c.cr3;
    const cr4 = c.cr4;
    const leave = this.fallback(start, count);
    if (
      this.jit.modeNow() !== mode ||
      c.sreg[CS] !== cs ||
      c.cpl !== cpl ||
      c.cr0 !== cr0 ||
      c.cr3 !== cr3 ||
      c.cr4 !== cr4 ||
      (c.flags & FLAG_TF) !== 0 ||
      c.interruptShadow !== 0 ||
      c.debugArmed
    )
      return 2;
    return leave;
  }

  /**
   * After the interpreter ran an instruction for the region (fallback, x87), the lazy flags back in the
   * state area: the EIP it left for the region's exit, and 1 when the region must end there: it wrote
   * compiled code, halted, or the interrupt check between regions would now find work (an x87 error raising
   * IRQ 13), which run() must not link past.
   */
  private leaveAfter(): number {
    const c = this.cpu;
    const state = this.state;
    state[EIP] = c.eip;
    if (this.jit.smc !== 0 || c.halted) return 1;
    return c.nmiPending || (c.interruptPoll !== 0 && (state[FLAGS] & FLAG_IF) !== 0) ? 1 : 0;
  }
}
