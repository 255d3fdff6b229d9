/**
 * The second execution tier: hot basic blocks compiled to JavaScript functions (codegen.ts builds their
 * source, `new Function` turns it into code V8 optimises like any other).
 *
 * Blocks are cached by the physical address of their first byte, their entry EIP and their mode (CS.D,
 * SS.B: what decoding and the generated code depend on). On every entry the current translation of CS:EIP
 * is looked up (the CPU's cached code page, else a side-effect-free TLB probe), so a block is never reached
 * through a mapping that changed. A page that holds compiled blocks is a "code page": the MMU gives it no
 * fast-path write rights, so every write to it, through any linear alias, and every DMA or loader write
 * through PhysicalMemory, calls invalidatePage(), which drops the page's blocks. When the block running now
 * is dropped (it wrote its own page), it stops after the writing instruction.
 *
 * Tiering: a block start is interpreted its first `threshold` times (by the interpreter's loop, up to the
 * next jump: Cpu.runCold), then compiled. Interrupts and the
 * instruction budget are checked between blocks only; a block never crosses an instruction that could
 * change whether an interrupt is pending (I/O, STI, POPF, ...: the interpreter runs those as the block's
 * last instruction), and it is not entered when it is longer than the budget left, so instructionCount,
 * virtual time and interrupt delivery are exactly the interpreter's.
 */
import type { Cpu } from '../cpu.ts';
import { CS, DS, ES, SS } from '../constants.ts';
import { FLAG_IF, FLAG_TF } from '../flags.ts';
import { generateRegion, type RegionBlock } from './codegen.ts';
import {
  canCompileFunctions,
  canCompileWasm,
  jitBackendFromEnvironment,
  jitModeFromEnvironment,
  type JitBackend,
  type JitMode,
} from './mode.ts';
import { generateWasmRegion, pcThunkRegister, regionModule, type WasmRegionCode } from './wasm-codegen.ts';
import { WasmRegions } from './wasm-region.ts';
import { createRuntime, type JitRuntime } from './runtime.ts';
import {
  MODE_SINGLE,
  MODE_FLAT,
  MODE_STACK32,
  BUDGET_MAX,
  HASH_BITS,
  HASH_SIZE,
  HASH_MASK,
  FACTORY_CACHE_CHARS,
  USED_SLOTS_MAX,
  MAX_ENTRIES,
  DEFAULT_THRESHOLD,
  INSTRUCTION_MAX,
  UPGRADE_CALLS,
  UPGRADE_MIN_PER_CALL,
  MAX_REGION_BLOCKS,
  WASM_BATCH,
  WARM_ENTRIES,
  WARM_FOR,
} from './tuning.ts';
import { CODE_PAGE_JIT } from '../memory.ts';
import { doubleCounters } from '../counters.ts';

/**
 * A compiled region: runs blocks from CS:EIP for at most `budget` instructions. Returns 0 when it ran only
 * code that cannot change anything the dispatcher checks between blocks (the interrupt shadow, TF, modes; a
 * CLI may clear IF, which the dispatcher reads afresh before every region), 1 when it ended with an
 * instruction the interpreter ran, or on self-modifying code.
 */
type RegionFunction = (budget: number) => number;
type RegionFactory = (c: Cpu, R: Int32Array, J: Jit, rt: JitRuntime) => RegionFunction;

/**
 * The instructions a region call may run, `end - count`, as a small integer. Instruction counts pass 2^31
 * early in a boot, and their difference, computed in floating point once V8 has optimised the dispatcher,
 * reached the regions as a heap number: every region function optimised while it had seen small integers
 * only deoptimised on it (137 of the 151 "not a Smi" deoptimisations during `seq | md5sum`) and was
 * compiled again. Capped below 2^30 (a region returns on its own anyway, and the dispatcher calls again).
 */
export function regionBudget(end: number, count: number): number {
  return Math.min(end - count, BUDGET_MAX) | 0;
}

/** A compiled region, where its blocks' bytes are, and a copy of them. */
class Region {
  valid = true;
  epoch = 0;
  /** Calls through the dispatcher, counted up to UPGRADE_CALLS, and the instructions they ran (Jit.upgrade). */
  calls = 0;
  executed = 0;
  /** Set when the region loops and may be upgraded (cleared once it was, or could not be). */
  upgradable = false;
  /** The entry it was compiled from, and every entry running it. */
  readonly entries: Entry[] = [];
  /** A WebAssembly region's slot in WasmRegions' table (the dispatcher calls it through WasmRegions.call), or -1. */
  wasmSlot = -1;
  constructor(
    public fn: RegionFunction,
    /** Physical [start, end) pairs, one per block. */
    readonly ranges: readonly number[],
    /** The bytes from the lowest to the highest of the ranges, as compiled. */
    readonly low: number,
    readonly bytes: Uint8Array,
  ) {}

  overlaps(address: number, length: number): boolean {
    const r = this.ranges;
    for (let i = 0; i < r.length; i += 2) if (address < r[i + 1] && r[i] < address + length) return true;
    return false;
  }
}

/** A compiled block start (or one where nothing compiles): the region that runs it. */
export class Entry {
  fn: RegionFunction | null = null;
  region: Region | null = null;
  /** Nothing compilable starts here (the first instruction is the interpreter's). */
  interpretOnly = false;
  /** Instructions of the block starting here (the dispatcher enters only when the budget allows them). */
  length = 0;
  /** The highest EIP of the region's bytes (checked against the CS limit on entry). */
  lastByte = 0;
  hashNext: Entry | null = null;
  pageNext: Entry | null = null;
  /**
   * The entry that ran after this one's region last time it returned having run only compiled code (a
   * one-entry guess at where it goes next; checked before use, see Jit.run).
   */
  next: Entry | null = null;
  /** Linked into its page's list (which the page's invalidation empties, dropping the entry). */
  inPage = false;
  epoch = 0;

  constructor(
    readonly phys: number,
    readonly eip: number,
    readonly mode: number,
  ) {}
}

/** Counters for the bench script and docs/PERFORMANCE.md. */
export interface JitStats {
  regions: number;
  blocks: number;
  translated: number;
  fallbacks: number;
  compileMs: number;
  invalidatedPages: number;
  invalidatedRegions: number;
  flushes: number;
  regionCalls: number;
  /** Region calls whose entry came from the previous region's link (Entry.next), not a lookup. */
  chained: number;
  interpreted: number;
  /** Hot regions compiled again with memory accesses in place (see UPGRADE_CALLS). */
  upgraded: number;
  /** Regions compiled along with another one before their own threshold (Jit.compileWasm). */
  warmCompiled: number;
  /** x87 instructions WebAssembly regions handed to the interpreter's x87 code (the `x87` import). */
  x87Calls: number;
}

export class Jit {
  /** Set when the page of the region running now is written: it stops after the writing instruction. */
  smc = 0;
  /** Set while a region runs an instruction in the interpreter (Cpu.stepUnchecked must not compile it). */
  inFallback = 0;
  threshold = DEFAULT_THRESHOLD;
  /** Region calls before a region that loops is compiled again with memory accesses in place. */
  upgradeCalls = UPGRADE_CALLS;
  /** Set by lookup() when it found nothing because the code is not hot yet (see run()). */
  private lookupCold = false;
  readonly stats: JitStats = doubleCounters({
    regions: 0,
    blocks: 0,
    translated: 0,
    fallbacks: 0,
    compileMs: 0,
    invalidatedPages: 0,
    invalidatedRegions: 0,
    flushes: 0,
    regionCalls: 0,
    chained: 0,
    interpreted: 0,
    upgraded: 0,
    warmCompiled: 0,
    x87Calls: 0,
  });
  private enabledFlag = false;
  private modeSetting: JitMode = 'auto';
  private readonly table: Array<Entry | null> = new Array<Entry | null>(HASH_SIZE).fill(null);
  /** Per RAM page: the entries compiled from it (a list through Entry.pageNext). */
  private readonly pageEntries: Array<Entry | null>;
  /**
   * Per RAM page holding code: a bit per byte, set where compiled code came from, so that writes to data
   * next to code cost no invalidation (and no scan of the page's entries).
   */
  private readonly codeBytes: Array<Uint32Array | null>;
  private currentRegion: Region | null = null;
  /** Set while WebAssembly regions run (the running one is in the state area: runningRegion()). */
  private inWasm = false;
  /** The WebAssembly regions by table slot (slots are reused after a flush). */
  private readonly slotRegions: Array<Region | null> = [];
  /**
   * Per RAM page: how often a write replaced compiled code there (saturating). Code that keeps rewriting
   * itself is compiled ever later (the threshold doubles every 4 rewrites), so it runs interpreted instead of
   * being recompiled after each rewrite.
   */
  private readonly rewrites: Uint8Array;
  private entryCount = 0;
  /**
   * Factories by source: the same code at the same EIP compiles to the same source (after a reset, a
   * flush, a page rewritten with what it held; the conformance suite runs the same instruction bytes
   * thousands of times), and `new Function` is most of what compiling costs. Kept across flushes.
   */
  private readonly factories = new Map<string, RegionFactory>();
  private factoryChars = 0;
  /**
   * The hash slots filled since the last flush, so that a flush clears only those (a test that resets the
   * CPU before each instruction flushes 100,000s of times); more than USED_SLOTS_MAX: clear the whole table.
   */
  private readonly usedSlots = new Int32Array(USED_SLOTS_MAX);
  /** Executions of not yet compiled code, per hash slot (see lookup). */
  private readonly heat = new Int32Array(HASH_SIZE);
  /**
   * Warm code: the entries whose heat passed half the threshold last (physical address, EIP, mode and the
   * instruction count then), newest at warmNext - 1. A WebAssembly compile takes some of them along into the
   * same module (see compileWasm).
   */
  private readonly warmPhys = new Int32Array(WARM_ENTRIES);
  private readonly warmEip = new Int32Array(WARM_ENTRIES);
  private readonly warmMode = new Int32Array(WARM_ENTRIES);
  private readonly warmAt = new Float64Array(WARM_ENTRIES);
  private warmNext = 0;
  private warmCount = 0;
  private usedSlotCount = 0;
  private currentPage = -1;
  /**
   * The helpers compiled code calls (memory accesses with the TLB fast path, division...); the interpreter's
   * cold forms use its memory accesses too (decoded.ts runColdRecord).
   */
  readonly runtime: JitRuntime;
  private functionsWork: boolean | null = null;
  private backendSetting: JitBackend = 'js';
  /** The WebAssembly back end's runtime, made at its first compile (wasmRegions()). */
  private wasm: WasmRegions | null = null;
  private lastGeneration: number;
  /** Bumped when RAM may have changed behind our back: regions of an older epoch check their bytes. */
  private epoch = 0;

  constructor(private readonly cpu: Cpu) {
    const memory = cpu.memory;
    this.pageEntries = new Array<Entry | null>(memory.codePages.length).fill(null);
    this.codeBytes = new Array<Uint32Array | null>(memory.codePages.length).fill(null);
    this.rewrites = new Uint8Array(memory.codePages.length);
    this.runtime = createRuntime(cpu);
    this.lastGeneration = memory.writeGeneration;
    memory.onCodeWrite((address, length) => this.codeWritten(address, length));
    this.backend = jitBackendFromEnvironment();
    this.mode = jitModeFromEnvironment();
  }

  /**
   * What regions compile to: 'js' (codegen.ts) or 'wasm' (wasm-codegen.ts). WebAssembly needs the CPU's
   * state in the machine's WebAssembly memory and a host that compiles WebAssembly; without either the
   * setting stays 'js'. Changing it drops everything compiled.
   */
  get backend(): JitBackend {
    return this.backendSetting;
  }
  set backend(backend: JitBackend) {
    const next: JitBackend =
      backend === 'wasm' && this.cpu.memory.wasmMemory !== null && this.cpu.stateInMemory && canCompileWasm()
        ? 'wasm'
        : 'js';
    if (next === this.backendSetting) return;
    this.backendSetting = next;
    this.flush();
    this.enabled = this.modeSetting !== 'off';
  }

  /** Executions before a block start is compiled: none in mode 'on'. */
  private defaultThreshold(): number {
    return this.modeSetting === 'on' ? 0 : DEFAULT_THRESHOLD;
  }

  /** 'off', 'on' (compile at first execution, single steps too) or 'auto' (hot blocks, where allowed). */
  get mode(): JitMode {
    return this.modeSetting;
  }
  set mode(mode: JitMode) {
    this.modeSetting = mode;
    this.threshold = this.defaultThreshold();
    this.enabled = mode !== 'off';
  }

  /** Whether blocks are compiled and run (false when `new Function` is forbidden, e.g. by a CSP). */
  get enabled(): boolean {
    return this.enabledFlag;
  }
  set enabled(on: boolean) {
    const next = on && this.canCompile();
    if (next !== this.enabledFlag) this.flush();
    this.enabledFlag = next;
    this.cpu.jitStepping = next && this.modeSetting === 'on';
  }

  /** Whether the back end can compile here (`new Function` for 'js'; 'wasm' was checked when chosen). */
  private canCompile(): boolean {
    if (this.backendSetting === 'wasm') return true;
    if (this.functionsWork === null) this.functionsWork = canCompileFunctions();
    return this.functionsWork;
  }

  /** Drops everything compiled (reset, and when the cache is full). */
  flush(): void {
    this.stats.flushes++;
    this.smc = 1;
    this.warmCount = 0;
    // Nothing looked up since the last flush (the interpreter alone ran, e.g. a test resetting the CPU
    // before each instruction): nothing to drop.
    const used = this.usedSlotCount;
    if (used === 0) return;
    this.usedSlotCount = 0;
    if (this.wasm !== null) this.wasm.reset();
    if (used > USED_SLOTS_MAX) this.table.fill(null);
    else for (let i = 0; i < used; i++) this.table[this.usedSlots[i]] = null;
    const codePages = this.cpu.memory.codePages;
    for (let page = 0; page < this.pageEntries.length; page++) {
      let e = this.pageEntries[page];
      if (e === null) continue;
      this.pageEntries[page] = null;
      while (e !== null) {
        const next: Entry | null = e.pageNext;
        if (e.region) e.region.valid = false;
        // compile() may put an entry back after a flush: it must find it unlisted.
        e.pageNext = null;
        e.inPage = false;
        e = next;
      }
      codePages[page] &= ~CODE_PAGE_JIT;
    }
    this.codeBytes.fill(null);
    this.rewrites.fill(0);
    this.entryCount = 0;
  }

  /** Drops everything compiled from RAM page `page`. */
  invalidatePage(page: number): void {
    this.cpu.memory.codePages[page] &= ~CODE_PAGE_JIT;
    this.codeBytes[page] = null;
    let e = this.pageEntries[page];
    this.pageEntries[page] = null;
    const running = this.runningRegion();
    while (e !== null) {
      if (e.region) e.region.valid = false;
      this.unlink(e);
      this.entryCount--;
      e.inPage = false;
      e = e.pageNext;
    }
    this.stats.invalidatedPages++;
    if (page === this.currentPage || (running !== null && running.low >>> 12 === page)) this.smc = 1;
  }

  /**
   * A write of `length` bytes at physical `address` hit a code page: drops the regions (and interpret-only
   * verdicts) whose bytes it overlaps. When one of them is running, it stops after the writing instruction.
   */
  private codeWritten(address: number, length: number): void {
    const page = address >>> 12;
    const bits = this.codeBytes[page];
    if (bits === null) return;
    let touched = 0;
    for (let a = address & 0xfff, end = a + length; a < end; a++) touched |= bits[a >> 5] & (1 << (a & 31));
    if (touched === 0) return;
    let hit = false;
    for (let e = this.pageEntries[page]; e !== null; e = e.pageNext) {
      const region = e.region;
      if (region !== null) {
        if (region.valid && region.overlaps(address, length)) {
          region.valid = false;
          hit = true;
        }
      } else if (address < e.phys + INSTRUCTION_MAX && e.phys < address + length) {
        e.interpretOnly = false;
        hit = true;
      }
    }
    if (!hit) return;
    this.stats.invalidatedRegions++;
    if (this.rewrites[page] < 255) this.rewrites[page]++;
    const running = this.runningRegion();
    if (running !== null && !running.valid) this.smc = 1;
    // Unlink the dropped entries and recompute the page's code chunks from what is left.
    let keep: Entry | null = null;
    bits.fill(0);
    let e = this.pageEntries[page];
    while (e !== null) {
      const next = e.pageNext;
      const region = e.region;
      if (region !== null ? !region.valid : !e.interpretOnly) {
        this.unlink(e);
        this.entryCount--;
        e.inPage = false;
      } else {
        e.pageNext = keep;
        keep = e;
        if (region !== null) markBytes(bits, region.ranges);
        else markBytes(bits, [e.phys, e.phys + INSTRUCTION_MAX]);
      }
      e = next;
    }
    this.pageEntries[page] = keep;
    if (keep === null) {
      this.cpu.memory.codePages[page] &= ~CODE_PAGE_JIT;
      this.codeBytes[page] = null;
    }
  }

  /** The region running now: the one the dispatcher called, or the WebAssembly dispatcher's current one. */
  private runningRegion(): Region | null {
    if (this.inWasm && this.wasm !== null) return this.slotRegions[this.wasm.runningSlot] ?? null;
    return this.currentRegion;
  }

  /** Takes `entry` out of the hash table (and the WebAssembly dispatcher's cache). */
  private unlink(entry: Entry): void {
    if (this.wasm !== null) this.wasm.forget(entry.phys, entry.eip);
    const h = hash(entry.phys, entry.eip);
    let e = this.table[h];
    if (e === entry) {
      this.table[h] = entry.hashNext;
      return;
    }
    while (e !== null && e.hashNext !== entry) e = e.hashNext;
    if (e !== null) e.hashNext = entry.hashNext;
  }

  /**
   * Runs regions (or single instructions in the interpreter) until `end` instructions have been retired in
   * all, the CPU halts, or the board asks to stop: the interpreter's run loop, with a region in place of an
   * instruction. Interrupts are looked at before every region or instruction, as the interpreter does
   * before every instruction; after a region that ran only compiled code (which cannot change what they
   * depend on) the look would find what the one before it found, so it is skipped. A guest exception
   * escapes as CPU_FAULT with the state of the faulting instruction (the caller delivers it).
   */
  run(end: number): void {
    const c = this.cpu;
    // After a guest exception out of a region: none runs now.
    this.inWasm = false;
    this.currentPage = -1;
    this.currentRegion = null;
    if (c.memory.writeGeneration !== this.lastGeneration) this.checkGeneration();
    // Interrupts are polled as Cpu.run polls them (see Cpu.interruptPoll): regions do no I/O of their own
    // (they end at I/O instructions, which the interpreter runs through the polling port bus).
    c.interruptPoll = 1;
    // The entry whose region ran last, when nothing but compiled code has run since (see Entry.next).
    let previous: Entry | null = null;
    // WebAssembly regions keep the lazy flags in the state area: they stay there from one region to the
    // next, and go back to the Cpu before anything else looks at them (interrupts, the interpreter, a
    // JavaScript region, the caller). Whatever may raise a guest exception runs with them in the Cpu, or
    // (WasmRegions.call) brings them back itself.
    const wasm = this.wasm;
    let flagsInState = false;
    while (c.instructionCount < end && c.halted === false && c.stopRequested === false) {
      if (c.nmiPending === true) {
        if (flagsInState) flagsInState = this.flagsBack(wasm);
        c.serviceInterrupts();
        previous = null;
      } else if ((c.flags & FLAG_IF) === 0) c.interruptPoll = 1;
      else if (c.interruptPoll !== 0 && c.interruptShadow === 0 && c.interruptController !== null) {
        if (flagsInState) flagsInState = this.flagsBack(wasm);
        c.interruptPoll = c.serviceInterrupts() ? 1 : 0;
        previous = null;
      }
      let entry: Entry | null = null;
      if (previous !== null) {
        // Chained: the last region ran compiled code only, which changes neither the modes, TF, the
        // interrupt shadow, nor any translation, so the entry it led to last time is still right when it
        // starts at the same EIP at the same physical address (what lookup() checks, without the hash).
        const next: Entry | null = previous.next;
        if (
          next !== null &&
          next.eip === c.eip &&
          next.inPage === true &&
          next.fn !== null &&
          next.epoch === this.epoch
        ) {
          if (this.codePhys((c.segBase[CS] + next.eip) | 0) === next.phys) {
            entry = next;
            this.stats.chained++;
          }
        }
        if (entry === null) {
          entry = this.lookup(0);
          previous.next = entry;
        }
      } else entry = this.lookup(0);
      if (
        entry === null ||
        entry.length > end - c.instructionCount ||
        entry.lastByte >>> 0 > c.segLimit[CS]
      ) {
        previous = null;
        if (flagsInState) flagsInState = this.flagsBack(wasm);
        const before = c.instructionCount;
        // Cold code (its lookup only counted heat) runs in the interpreter's loop up to where control goes
        // elsewhere than to the next instruction and a region may start there (coldGoesOn counts the heat
        // of the other arrivals), where the next lookup is: regions are entered where control arrives, so
        // the instructions it falls through to start none, and a lookup before each would count heat for
        // addresses no region starts at. Anything else the interpreter runs one
        // instruction at a time (a string instruction, one that crosses a page, a region longer than the
        // budget left), and the next one is looked up, or the rest of a hot block would be interpreted too.
        if (entry === null && this.lookupCold === true) c.runCold(end);
        else c.stepDecoded();
        this.stats.interpreted += c.instructionCount - before;
        continue;
      }
      this.smc = 0;
      this.stats.regionCalls++;
      const region = entry.region as Region;
      if (region.upgradable === true && ++region.calls >= this.upgradeCalls) {
        // Upgraded when its calls are long (loops run inside one call), not for short ones.
        if (region.executed >= region.calls * UPGRADE_MIN_PER_CALL) this.upgrade(region);
        else region.upgradable = false;
      }
      const before = c.instructionCount;
      const slot = region.wasmSlot;
      let result: number;
      if (slot >= 0 && wasm !== null) {
        if (!flagsInState) {
          wasm.flagsIn();
          flagsInState = true;
        }
        // The WebAssembly dispatcher goes on from region to region through its cache when the interrupt
        // check above would find nothing to do after them either (compiled code changes nothing it reads).
        const link =
          c.nmiPending === false &&
          (c.interruptPoll === 0 || (c.flags & FLAG_IF) === 0 || c.interruptController === null)
            ? 1
            : 0;
        wasm.remember(entry.phys, entry.eip, entry.mode, slot, entry.lastByte);
        // Which region runs is in the state area (runningRegion()).
        this.inWasm = true;
        // If it raises, WasmRegions.call leaves the Cpu's fields and the state area alike.
        result = wasm.call(slot, regionBudget(end, before), entry.mode, link);
        this.inWasm = false;
        this.stats.regionCalls += wasm.links;
        this.stats.chained += wasm.links;
      } else {
        if (flagsInState) flagsInState = this.flagsBack(wasm);
        this.currentPage = entry.phys >>> 12;
        this.currentRegion = region;
        result = (entry.fn as RegionFunction)(regionBudget(end, before));
      }
      previous = result === 0 ? entry : null;
      if (region.upgradable === true) region.executed += c.instructionCount - before;
      this.currentPage = -1;
      this.currentRegion = null;
    }
    if (flagsInState) this.flagsBack(wasm);
  }

  /** The lazy flags from the state area back into the Cpu; returns false (they are no longer there). */
  private flagsBack(wasm: WasmRegions | null): boolean {
    if (wasm !== null) wasm.flagsOut();
    return false;
  }

  /**
   * Cpu.stepUnchecked in mode 'on': runs the instruction at CS:EIP as a one-instruction compiled block.
   * Returns false when the interpreter must run it instead.
   */
  step(): boolean {
    if (this.inFallback !== 0) return false;
    const c = this.cpu;
    const entry = this.lookup(MODE_SINGLE);
    if (entry === null || entry.lastByte >>> 0 > c.segLimit[CS]) return false;
    this.currentPage = entry.phys >>> 12;
    this.currentRegion = entry.region;
    this.smc = 0;
    this.stats.regionCalls++;
    (entry.fn as RegionFunction)(1);
    this.currentPage = -1;
    this.currentRegion = null;
    return true;
  }

  /**
   * The physical address code at `linear` is fetched from, through the CPU's cached code page or else a TLB
   * entry that allows the fetch (which becomes the cached page); -1 when neither does (no walk, no fault: the
   * interpreter then fetches and faults or fills as it should).
   */
  private codePhys(linear: number): number {
    const c = this.cpu;
    if ((linear & ~0xfff) !== c.fetchPage) {
      const page = c.mmu.probeRead(linear);
      if (page < 0 || page + 0x1000 > c.ram.length) return -1;
      c.fetchPage = linear & ~0xfff;
      c.fetchPhys = page;
    }
    return c.fetchPhys | (linear & 0xfff);
  }

  /**
   * The register the PIC thunk at CS:eip loads (wasm-codegen.ts pcThunkRegister), or -1, as far as the
   * TLB tells now (no walk): the compiler's guess, which the compiled code checks each time it runs.
   */
  private readonly thunkProbe = (eip: number): number => {
    const c = this.cpu;
    const linear = (c.segBase[CS] + eip) | 0;
    if ((linear & 0xfff) > 0xffc) return -1;
    const page = c.mmu.probeRead(linear);
    if (page < 0 || page + 0x1000 > c.ram.length) return -1;
    const at = page | (linear & 0xfff);
    const ram = c.ram;
    return pcThunkRegister(ram[at], ram[at + 1], ram[at + 2], ram[at + 3]);
  };

  /**
   * Whether a cold run (Cpu.runCold) may go on at `eip`, physical `phys`, after a transfer of control
   * instead of coming back to lookup(): when no entry shares its hash slot (so none starts there) and the
   * arrival, counted here as lookup() counts it, leaves its heat short of the marks where lookup() acts (half
   * the threshold: noteWarm; past it: compile).
   */
  coldGoesOn(phys: number, eip: number): boolean {
    if (phys >= this.cpu.ram.length) return false;
    const h = hash(phys, eip);
    if (this.table[h] !== null) return false;
    const threshold = this.thresholdAt(phys);
    const heat = this.heat[h] + 1;
    if (heat > threshold || heat === threshold >> 1) return false;
    this.heat[h] = heat;
    return true;
  }

  /** The block mode bits of the CPU now (MODE_SINGLE aside): what decoding and compiled code depend on. */
  modeNow(): number {
    const c = this.cpu;
    return c.codeSize32 | (c.segBig[SS] ? MODE_STACK32 : 0) | flatMode(c);
  }

  /** The threshold for code at `phys`: doubled every 4 rewrites of its page (see `rewrites`). */
  private thresholdAt(phys: number): number {
    return this.threshold << Math.min(this.rewrites[phys >>> 12] >> 2, 12);
  }

  /** The compiled entry for CS:EIP, compiling when hot; null when the interpreter must run. */
  private lookup(single: number): Entry | null {
    const c = this.cpu;
    this.lookupCold = false;
    if ((c.flags & FLAG_TF) !== 0 || c.interruptShadow !== 0 || c.debugArmed === true) return null;
    const eip = c.eip;
    const phys = this.codePhys((c.segBase[CS] + eip) | 0);
    if (phys < 0) return null;
    const mode = this.modeNow() | single;
    const h = hash(phys, eip);
    let e = this.find(h, phys, eip, mode);
    if (e !== null) {
      if (e.epoch !== this.epoch && !this.verify(e)) return null;
      if (e.fn !== null) return e;
      if (e.interpretOnly === true) return null;
    }
    // Cold code gets no Entry (an Entry per instruction the interpreter ran made the hash chains hundreds
    // long in kernel init): its executions are counted in `heat`, by hash slot; addresses sharing a slot
    // only make each other compile sooner.
    if (this.enabledFlag === false) return null;
    const threshold = this.thresholdAt(phys);
    if (++this.heat[h] <= threshold) {
      this.lookupCold = true;
      if (this.heat[h] === threshold >> 1) this.noteWarm(phys, eip, mode);
      return null;
    }
    this.heat[h] = 0;
    if (e === null) {
      e = new Entry(phys, eip, mode);
      e.epoch = this.epoch;
      this.insert(h, e);
    }
    return this.compile(e) ? e : null;
  }

  /** Compiles the region entered at `entry`; false when nothing compiles there (it becomes interpret-only). */
  private compile(entry: Entry): boolean {
    const c = this.cpu;
    if (
      this.entryCount >= MAX_ENTRIES - WASM_BATCH * MAX_REGION_BLOCKS ||
      (this.wasm !== null && this.wasm.slotsLeft < WASM_BATCH)
    ) {
      this.flush();
      // The entry was dropped from the table with the rest: put it back.
      this.insert(hash(entry.phys, entry.eip), entry);
    }
    const started = performance.now();
    if (this.backendSetting === 'wasm' && c.memory.wasmMemory !== null)
      return this.compileWasm(entry, started);
    // Mode 'on' (the test suite's) writes every memory access out in place at once, so the forced-on runs
    // test that form; 'auto' upgrades hot loops to it (see UPGRADE_CALLS).
    const code = generateRegion(c.ram, entry.phys, entry.eip, entry.mode, this.modeSetting === 'on');
    entry.epoch = this.epoch;
    if (code === null) {
      this.interpretOnly(entry);
      return false;
    }
    const fn = this.instantiate(code.source);
    if (fn === null) return false;
    const region = this.install(entry, code, fn, -1);
    region.upgradable = code.loops && this.modeSetting !== 'on';
    this.stats.compileMs += performance.now() - started;
    return true;
  }

  /**
   * compile() for the WebAssembly back end. V8's cost of a module is mostly the same whatever it holds (the
   * code space and its bookkeeping), so warm entries (half the threshold, lately: noteWarm) not compiled yet
   * go into the same module, up to WASM_BATCH regions: most reach the threshold soon after, and then find
   * their region there.
   */
  private compileWasm(entry: Entry, started: number): boolean {
    const c = this.cpu;
    const code = generateWasmRegion(c.ram, entry.phys, entry.eip, entry.mode, this.thunkProbe);
    entry.epoch = this.epoch;
    if (code === null) {
      this.interpretOnly(entry);
      return false;
    }
    const entries: Entry[] = [entry];
    const codes: WasmRegionCode[] = [code];
    if (this.modeSetting === 'auto' && (entry.mode & MODE_SINGLE) === 0) this.takeWarm(entries, codes);
    const memory = c.memory.wasmMemory as WebAssembly.Memory;
    const bytes = regionModule(
      codes.map((k) => k.body),
      memory.buffer.byteLength / 0x10000,
    );
    const compiled = this.instantiateWasm(bytes, codes.length);
    if (compiled === null) return false;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      e.epoch = this.epoch;
      // A block of a region installed before it in this batch may have become this entry: its own region
      // replaces that (it starts here).
      const region = this.install(e, codes[i], compiled[i].fn, compiled[i].slot);
      this.slotRegions[compiled[i].slot] = region;
    }
    this.stats.warmCompiled += entries.length - 1;
    this.stats.compileMs += performance.now() - started;
    return true;
  }

  /** Remembers an entry whose heat passed half the threshold (see compileWasm). */
  private noteWarm(phys: number, eip: number, mode: number): void {
    const i = this.warmNext;
    this.warmPhys[i] = phys;
    this.warmEip[i] = eip;
    this.warmMode[i] = mode;
    this.warmAt[i] = this.cpu.instructionCount;
    this.warmNext = (i + 1) & (WARM_ENTRIES - 1);
    if (this.warmCount < WARM_ENTRIES) this.warmCount++;
  }

  /**
   * Adds to `entries` and `codes` (up to WASM_BATCH in all) the warm entries, newest first, that are not
   * compiled, not marked for the interpreter, not a block of a region in the batch already, and were warm
   * lately (WARM_FOR instructions ago at most: older ones may be code no longer run, or no longer code).
   * Each is taken once; compileWasm installs their regions.
   */
  private takeWarm(entries: Entry[], codes: WasmRegionCode[]): void {
    const c = this.cpu;
    const now = c.instructionCount;
    while (this.warmCount > 0 && entries.length < WASM_BATCH) {
      this.warmCount--;
      this.warmNext = (this.warmNext - 1) & (WARM_ENTRIES - 1);
      const i = this.warmNext;
      if (now - this.warmAt[i] > WARM_FOR) {
        this.warmCount = 0;
        return;
      }
      const phys = this.warmPhys[i];
      const eip = this.warmEip[i];
      const mode = this.warmMode[i];
      if (phys + 0x1000 > c.ram.length) continue;
      const e = this.find(hash(phys, eip), phys, eip, mode);
      if (e !== null && (e.fn !== null || e.interpretOnly === true)) continue;
      let taken = false;
      for (const k of codes)
        for (const block of k.blocks) if (block.phys === phys && block.eip === eip) taken = true;
      if (taken) continue;
      const code = generateWasmRegion(c.ram, phys, eip, mode, this.thunkProbe);
      if (code === null) continue;
      entries.push(this.findOrAdd(phys, eip, mode));
      codes.push(code);
    }
  }

  /** Marks `entry` as code the compiler cannot start a region at (kept in its page's list for new code). */
  private interpretOnly(entry: Entry): void {
    entry.interpretOnly = true;
    if (!entry.inPage) this.addToPage(entry);
    markBytes(this.bytesOf(entry.phys >>> 12), [entry.phys, entry.phys + INSTRUCTION_MAX]);
  }

  /** Points `entry` and the other blocks of its region (`code`, compiled to `fn`) at a new Region. */
  private install(
    entry: Entry,
    code: { blocks: RegionBlock[]; lastByte: number; translated: number; fallbacks: number },
    fn: RegionFunction,
    wasmSlot: number,
  ): Region {
    const c = this.cpu;
    // The bytes from the first to the last byte of its blocks (all in the entry's page).
    let low = entry.phys;
    let high = entry.phys;
    for (const block of code.blocks) {
      low = Math.min(low, block.phys);
      high = Math.max(high, block.phys + block.bytes);
    }
    const ranges: number[] = [];
    for (const block of code.blocks) ranges.push(block.phys, block.phys + block.bytes);
    const region = new Region(fn, ranges, low, c.ram.slice(low, high));
    region.epoch = this.epoch;
    region.wasmSlot = wasmSlot;
    for (const block of code.blocks) {
      const e = block.eip === entry.eip ? entry : this.findOrAdd(block.phys, block.eip, entry.mode);
      if (e.fn !== null && e !== entry) continue; // already compiled elsewhere: leave it
      region.entries.push(e);
      e.fn = fn;
      e.region = region;
      e.length = block.length;
      e.lastByte = code.lastByte;
      e.interpretOnly = false;
      e.epoch = this.epoch;
      if (!e.inPage) this.addToPage(e);
    }
    markBytes(this.bytesOf(entry.phys >>> 12), ranges);
    this.stats.regions++;
    this.stats.blocks += code.blocks.length;
    this.stats.translated += code.translated;
    this.stats.fallbacks += code.fallbacks;
    return region;
  }

  /** The region function of factory source `source` (cached by source); null where compiling is forbidden. */
  private instantiate(source: string): RegionFunction | null {
    const c = this.cpu;
    let factory = this.factories.get(source);
    if (factory === undefined) {
      try {
        factory = new Function('c', 'R', 'J', 'rt', source) as RegionFactory;
      } catch (e) {
        if (e instanceof SyntaxError) throw new Error(`JIT produced invalid code: ${e.message}\n${source}`);
        // A content-security policy forbids compiling: the interpreter runs alone from now on.
        this.functionsWork = false;
        this.enabled = false;
        return null;
      }
      if (this.factoryChars > FACTORY_CACHE_CHARS) {
        this.factories.clear();
        this.factoryChars = 0;
      }
      this.factories.set(source, factory);
      this.factoryChars += source.length;
    }
    return factory(c, c.reg32, this, this.runtime);
  }

  /**
   * The WebAssembly back end's runtime (the support module, the table of regions), made at the first compile
   * rather than with every CPU: most CPUs the tests build never compile anything.
   */
  private wasmRegions(): WasmRegions {
    if (this.wasm === null) {
      this.wasm = new WasmRegions(
        this.cpu,
        this,
        this.runtime,
        this.cpu.memory.wasmMemory as WebAssembly.Memory,
      );
    }
    return this.wasm;
  }

  /**
   * The region function of WebAssembly module `bytes`; null when the host refuses to compile WebAssembly (a
   * content-security policy without 'wasm-unsafe-eval'): regions are compiled to JavaScript from then on.
   */
  private instantiateWasm(
    bytes: Uint8Array<ArrayBuffer>,
    count: number,
  ): Array<{ slot: number; fn: RegionFunction }> | null {
    try {
      return this.wasmRegions().instantiate(bytes, count);
    } catch (e) {
      if (e instanceof WebAssembly.CompileError && /refused|unsafe-eval|security/i.test(e.message)) {
        this.backend = 'js';
        return null;
      }
      if (e instanceof WebAssembly.CompileError)
        throw new Error(`JIT produced an invalid module: ${e.message}`);
      throw e;
    }
  }

  /**
   * Recompiles a hot region that loops with its memory accesses written out in place, and points its entries
   * at the new function. Only while the region is valid, its bytes are those it was compiled from and the
   * same blocks come out; otherwise it stays as it is.
   */
  private upgrade(region: Region): void {
    region.upgradable = false;
    const c = this.cpu;
    const first = region.entries[0];
    if (!region.valid || region.epoch !== this.epoch || first.region !== region) return;
    const bytes = region.bytes;
    for (let i = 0; i < bytes.length; i++) if (c.ram[region.low + i] !== bytes[i]) return;
    const started = performance.now();
    const code = generateRegion(c.ram, first.phys, first.eip, first.mode, true);
    // The same blocks, or nothing: a block reached through bytes outside the copy (rewritten since) would be
    // code the page's byte map does not protect.
    const ranges = region.ranges;
    if (code === null || code.blocks.length * 2 !== ranges.length) return;
    for (let i = 0; i < code.blocks.length; i++) {
      const block = code.blocks[i];
      if (block.phys !== ranges[2 * i] || block.phys + block.bytes !== ranges[2 * i + 1]) return;
    }
    const fn = this.instantiate(code.source);
    if (fn === null) return;
    region.fn = fn;
    for (const e of region.entries) if (e.region === region) e.fn = fn;
    this.stats.upgraded++;
    this.stats.compileMs += performance.now() - started;
  }

  private bytesOf(page: number): Uint32Array {
    let bits = this.codeBytes[page];
    if (bits === null) this.codeBytes[page] = bits = new Uint32Array(128);
    return bits;
  }

  /** Puts `e` at the head of hash slot `h`. */
  private insert(h: number, e: Entry): void {
    const head = this.table[h];
    if (head === null) {
      if (this.usedSlotCount < USED_SLOTS_MAX) this.usedSlots[this.usedSlotCount] = h;
      if (this.usedSlotCount <= USED_SLOTS_MAX) this.usedSlotCount++;
    }
    e.hashNext = head;
    this.table[h] = e;
  }

  /** The entry for `phys`, `eip`, `mode` in hash slot `h` (hash(phys, eip)), or null. */
  private find(h: number, phys: number, eip: number, mode: number): Entry | null {
    let e = this.table[h];
    while (e !== null && (e.phys !== phys || e.eip !== eip || e.mode !== mode)) e = e.hashNext;
    return e;
  }

  private findOrAdd(phys: number, eip: number, mode: number): Entry {
    const h = hash(phys, eip);
    let e = this.find(h, phys, eip, mode);
    if (e === null) {
      e = new Entry(phys, eip, mode);
      this.insert(h, e);
    }
    return e;
  }

  /** Links `e` into its page's list and makes the page a code page. */
  private addToPage(e: Entry): void {
    const page = e.phys >>> 12;
    e.inPage = true;
    const memory = this.cpu.memory;
    e.pageNext = this.pageEntries[page];
    this.pageEntries[page] = e;
    this.entryCount++;
    if (memory.codePages[page] === 0) this.cpu.mmu.protectCodePage(page);
    memory.codePages[page] |= CODE_PAGE_JIT;
  }

  /**
   * RAM may have changed behind the CPU's back (PhysicalMemory.writeGeneration moved: DMA, loaders,
   * snapshot restore). Writes through PhysicalMemory already dropped the code they hit, but a writer that
   * reached the RAM array directly told nobody: so every region checks its bytes once before it runs again.
   */
  private checkGeneration(): void {
    this.lastGeneration = this.cpu.memory.writeGeneration;
    this.epoch++;
    // Every entry is checked again before it runs (lookup), so the WebAssembly dispatcher may use none.
    if (this.wasm !== null) this.wasm.forgetAll();
  }

  /** After an epoch change: are `e`'s code bytes still what it was compiled from? Drops its page if not. */
  private verify(e: Entry): boolean {
    e.epoch = this.epoch;
    const region = e.region;
    if (region === null) {
      // Not compiled (cold, or interpret-only): only its verdict may be stale.
      e.interpretOnly = false;
      return true;
    }
    if (region.epoch === this.epoch) return region.valid;
    region.epoch = this.epoch;
    const ram = this.cpu.ram;
    const bytes = region.bytes;
    const r = region.ranges;
    for (let i = 0; i < r.length; i += 2) {
      for (let a = r[i]; a < r[i + 1]; a++) {
        if (ram[a] !== bytes[a - region.low]) {
          this.invalidatePage(a >>> 12);
          return false;
        }
      }
    }
    return true;
  }
}

/** Sets the bits of a page's byte map for physical [start, end) pairs (clipped to the page). */
function markBytes(bits: Uint32Array, ranges: readonly number[]): void {
  for (let i = 0; i < ranges.length; i += 2) {
    const first = ranges[i] & 0xfff;
    const last = Math.min(ranges[i + 1] - 1, ranges[i] | 0xfff) & 0xfff;
    for (let a = first; a <= last; a++) bits[a >> 5] |= 1 << (a & 31);
  }
}

/** MODE_FLAT when ES, SS and DS are flat (base 0, limit 4 GiB, no SEGF_* flags), else 0. */
function flatMode(c: Cpu): number {
  const base = c.segBase;
  const limit = c.segLimit;
  const flags = c.segFlags;
  return (base[ES] | base[SS] | base[DS]) === 0 &&
    (limit[ES] & limit[SS] & limit[DS]) === -1 &&
    (flags[ES] | flags[SS] | flags[DS]) === 0
    ? MODE_FLAT
    : 0;
}

function hash(phys: number, eip: number): number {
  return (phys ^ (phys >>> HASH_BITS) ^ (eip << 7)) & HASH_MASK;
}
