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
 * Tiering: a block start is interpreted its first `threshold` times, then compiled. Interrupts and the
 * instruction budget are checked between blocks only; a block never crosses an instruction that could
 * change whether an interrupt is pending (I/O, STI, POPF, ...: the interpreter runs those as the block's
 * last instruction), and it is not entered when it is longer than the budget left, so instructionCount,
 * virtual time and interrupt delivery are exactly the interpreter's.
 */
import type { Cpu } from '../cpu.ts';
import { CS, SS } from '../constants.ts';
import { FLAG_IF, FLAG_TF } from '../flags.ts';
import { generateRegion, MODE_SINGLE, MODE_STACK32 } from './codegen.ts';
import { canCompileFunctions, jitModeFromEnvironment, type JitMode } from './mode.ts';
import { createRuntime, type JitRuntime } from './runtime.ts';

const HASH_BITS = 16;
const HASH_SIZE = 1 << HASH_BITS;
const HASH_MASK = HASH_SIZE - 1;
/** Entries (block starts) kept before the whole cache is dropped. */
const MAX_ENTRIES = 1 << 17;
/** Executions of a block start before it is compiled (mode 'auto'). */
const DEFAULT_THRESHOLD = 24;

/**
 * A compiled region: runs blocks from CS:EIP for at most `budget` instructions. Returns 0 when it ran only
 * code that cannot change anything the dispatcher checks between blocks (interrupt state, TF, modes), 1 when
 * it ended with an instruction the interpreter ran, or on self-modifying code.
 */
type RegionFunction = (budget: number) => number;
type RegionFactory = (c: Cpu, R: Int32Array, J: Jit, rt: JitRuntime) => RegionFunction;

/** A compiled region and the bytes it was compiled from. */
class Region {
  valid = true;
  epoch = 0;
  constructor(
    readonly fn: RegionFunction,
    readonly phys: number,
    readonly bytes: Uint8Array,
  ) {}
}

/** One block start: its hit count while cold, then the region that runs it. */
export class Entry {
  fn: RegionFunction | null = null;
  region: Region | null = null;
  hits = 0;
  /** Nothing compilable starts here (the first instruction is the interpreter's). */
  interpretOnly = false;
  /** Instructions of the block starting here (the dispatcher enters only when the budget allows them). */
  length = 0;
  /** The highest EIP of the region's bytes (checked against the CS limit on entry). */
  lastByte = 0;
  hashNext: Entry | null = null;
  pageNext: Entry | null = null;
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
  flushes: number;
  regionCalls: number;
  interpreted: number;
}

export class Jit {
  /** Set when the page of the region running now is written: it stops after the writing instruction. */
  smc = 0;
  /** Set while a region runs an instruction in the interpreter (Cpu.stepUnchecked must not compile it). */
  inFallback = 0;
  threshold = DEFAULT_THRESHOLD;
  readonly stats: JitStats = {
    regions: 0,
    blocks: 0,
    translated: 0,
    fallbacks: 0,
    compileMs: 0,
    invalidatedPages: 0,
    flushes: 0,
    regionCalls: 0,
    interpreted: 0,
  };
  private enabledFlag = false;
  private modeSetting: JitMode = 'auto';
  private readonly table: Array<Entry | null> = new Array<Entry | null>(HASH_SIZE).fill(null);
  /** Per RAM page: the entries compiled from it (a list through Entry.pageNext). */
  private readonly pageEntries: Array<Entry | null>;
  private entryCount = 0;
  private currentPage = -1;
  private readonly runtime: JitRuntime;
  private functionsWork: boolean | null = null;
  private lastGeneration: number;
  /** Bumped when RAM may have changed behind our back: regions of an older epoch check their bytes. */
  private epoch = 0;

  constructor(private readonly cpu: Cpu) {
    const memory = cpu.memory;
    this.pageEntries = new Array<Entry | null>(memory.codePages.length).fill(null);
    this.runtime = createRuntime(cpu);
    this.lastGeneration = memory.writeGeneration;
    memory.onCodeWrite((page) => this.invalidatePage(page));
    this.mode = jitModeFromEnvironment();
  }

  /** 'off', 'on' (compile at first execution, single steps too) or 'auto' (hot blocks, where allowed). */
  get mode(): JitMode {
    return this.modeSetting;
  }
  set mode(mode: JitMode) {
    this.modeSetting = mode;
    this.threshold = mode === 'on' ? 0 : DEFAULT_THRESHOLD;
    this.enabled = mode !== 'off';
  }

  /** Whether blocks are compiled and run (false when `new Function` is forbidden, e.g. by a CSP). */
  get enabled(): boolean {
    return this.enabledFlag;
  }
  set enabled(on: boolean) {
    if (on && this.functionsWork === null) this.functionsWork = canCompileFunctions();
    const next = on && this.functionsWork === true;
    if (next !== this.enabledFlag) this.flush();
    this.enabledFlag = next;
    this.cpu.jitStepping = next && this.modeSetting === 'on';
  }

  /** Drops everything compiled (reset, and when the cache is full). */
  flush(): void {
    this.table.fill(null);
    for (let page = 0; page < this.pageEntries.length; page++) {
      for (let e = this.pageEntries[page]; e !== null; e = e.pageNext) if (e.region) e.region.valid = false;
      this.pageEntries[page] = null;
    }
    this.cpu.memory.codePages.fill(0);
    this.entryCount = 0;
    this.stats.flushes++;
    this.smc = 1;
  }

  /** A write hit RAM page `page`, which holds compiled code: drop it. */
  invalidatePage(page: number): void {
    this.cpu.memory.codePages[page] = 0;
    let e = this.pageEntries[page];
    this.pageEntries[page] = null;
    while (e !== null) {
      if (e.region) e.region.valid = false;
      this.unlink(e);
      this.entryCount--;
      e = e.pageNext;
    }
    this.stats.invalidatedPages++;
    if (page === this.currentPage) this.smc = 1;
  }

  private unlink(entry: Entry): void {
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
    if (c.memory.writeGeneration !== this.lastGeneration) this.checkGeneration();
    let check = true;
    while (c.instructionCount < end && !c.halted && !c.stopRequested) {
      if (check && (c.nmiPending || ((c.flags & FLAG_IF) !== 0 && c.interruptController !== null))) {
        if (c.serviceInterrupts()) check = true;
      }
      const entry = this.lookup(0);
      if (
        entry === null ||
        entry.length > end - c.instructionCount ||
        entry.lastByte >>> 0 > c.segLimit[CS]
      ) {
        this.stats.interpreted++;
        c.stepUnchecked();
        check = true;
        continue;
      }
      this.currentPage = entry.phys >>> 12;
      this.smc = 0;
      check = (entry.fn as RegionFunction)(end - c.instructionCount) !== 0 || check;
      this.currentPage = -1;
    }
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
    this.smc = 0;
    (entry.fn as RegionFunction)(1);
    this.currentPage = -1;
    return true;
  }

  /** The compiled entry for CS:EIP, compiling when hot; null when the interpreter must run. */
  private lookup(single: number): Entry | null {
    const c = this.cpu;
    if ((c.flags & FLAG_TF) !== 0 || c.interruptShadow !== 0 || c.debugArmed) return null;
    const eip = c.eip;
    const linear = (c.segBase[CS] + eip) | 0;
    if ((linear & ~0xfff) !== c.fetchPage) {
      // Not the cached code page: take the translation from the TLB if it allows the fetch (no walk, no
      // fault: when it does not, the interpreter fetches and faults or fills as it should).
      const page = c.mmu.probeRead(linear);
      if (page < 0 || page + 0x1000 > c.ram.length) return null;
      c.fetchPage = linear & ~0xfff;
      c.fetchPhys = page;
    }
    const phys = c.fetchPhys | (linear & 0xfff);
    const mode = c.codeSize32 | (c.segBig[SS] ? MODE_STACK32 : 0) | single;
    const h = hash(phys, eip);
    let e = this.table[h];
    while (e !== null && (e.phys !== phys || e.eip !== eip || e.mode !== mode)) e = e.hashNext;
    if (e === null) {
      e = new Entry(phys, eip, mode);
      e.hashNext = this.table[h];
      this.table[h] = e;
    }
    if (e.epoch !== this.epoch && !this.verify(e)) return null;
    if (e.fn !== null) {
      this.stats.regionCalls++;
      return e;
    }
    if (e.interpretOnly || e.hits++ < this.threshold || !this.enabledFlag) return null;
    return this.compile(e) ? e : null;
  }

  /** Compiles the region entered at `entry`; false when nothing compiles there (it becomes interpret-only). */
  private compile(entry: Entry): boolean {
    const c = this.cpu;
    if (this.entryCount >= MAX_ENTRIES) {
      this.flush();
      // The entry was dropped from the table with the rest: put it back.
      entry.hashNext = this.table[hash(entry.phys, entry.eip)];
      this.table[hash(entry.phys, entry.eip)] = entry;
    }
    const started = performance.now();
    const code = generateRegion(c.ram, entry.phys, entry.eip, entry.mode);
    entry.epoch = this.epoch;
    if (code === null) {
      // Kept in the page's list too, so that new code written there gets its chance.
      entry.interpretOnly = true;
      this.addToPage(entry);
      return false;
    }
    let factory: RegionFactory;
    try {
      factory = new Function('c', 'R', 'J', 'rt', code.source) as RegionFactory;
    } catch (e) {
      if (e instanceof SyntaxError)
        throw new Error(`JIT produced invalid code: ${e.message}\n${code.source}`);
      // A content-security policy forbids compiling: the interpreter runs alone from now on.
      this.functionsWork = false;
      this.enabled = false;
      return false;
    }
    const fn = factory(c, c.reg32, this, this.runtime);
    // The bytes from the first to the last byte of its blocks, all in the entry's page.
    let low = entry.phys;
    let high = entry.phys;
    for (const block of code.blocks) {
      low = Math.min(low, block.phys);
      high = Math.max(high, block.phys + 16);
    }
    high = Math.min(high + ((code.lastByte - entry.eip) | 0), (entry.phys | 0xfff) + 1);
    const region = new Region(fn, low, c.ram.slice(low, Math.max(low, high)));
    region.epoch = this.epoch;
    for (const block of code.blocks) {
      let e: Entry | null =
        block.eip === entry.eip ? entry : this.findOrAdd(block.phys, block.eip, entry.mode);
      if (e.fn !== null && e !== entry) continue; // already compiled elsewhere: leave it
      e.fn = fn;
      e.region = region;
      e.length = block.length;
      e.lastByte = code.lastByte;
      e.interpretOnly = false;
      e.epoch = this.epoch;
      if (e.pageNext === null && this.pageEntries[e.phys >>> 12] !== e) this.addToPage(e);
      e = null;
    }
    this.stats.regions++;
    this.stats.blocks += code.blocks.length;
    this.stats.translated += code.translated;
    this.stats.fallbacks += code.fallbacks;
    this.stats.compileMs += performance.now() - started;
    return true;
  }

  private findOrAdd(phys: number, eip: number, mode: number): Entry {
    const h = hash(phys, eip);
    let e = this.table[h];
    while (e !== null && (e.phys !== phys || e.eip !== eip || e.mode !== mode)) e = e.hashNext;
    if (e === null) {
      e = new Entry(phys, eip, mode);
      e.hashNext = this.table[h];
      this.table[h] = e;
    }
    return e;
  }

  /** Links `e` into its page's list and makes the page a code page. */
  private addToPage(e: Entry): void {
    const page = e.phys >>> 12;
    const memory = this.cpu.memory;
    e.pageNext = this.pageEntries[page];
    this.pageEntries[page] = e;
    this.entryCount++;
    if (memory.codePages[page] === 0) {
      memory.codePages[page] = 1;
      this.cpu.mmu.protectCodePage(page);
    }
  }

  /**
   * RAM may have changed behind the CPU's back (PhysicalMemory.writeGeneration moved: DMA, loaders,
   * snapshot restore). Writes through PhysicalMemory already dropped the code they hit, but a writer that
   * reached the RAM array directly told nobody: so every region checks its bytes once before it runs again.
   */
  private checkGeneration(): void {
    this.lastGeneration = this.cpu.memory.writeGeneration;
    this.epoch++;
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
    for (let i = 0; i < bytes.length; i++) {
      if (ram[region.phys + i] !== bytes[i]) {
        this.invalidatePage(region.phys >>> 12);
        return false;
      }
    }
    return true;
  }
}

function hash(phys: number, eip: number): number {
  return (phys ^ (phys >>> HASH_BITS) ^ (eip << 7)) & HASH_MASK;
}
