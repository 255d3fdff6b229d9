/**
 * The WebAssembly half of the block compiler's runtime, one instance per CPU: memory accesses through a
 * segment with the TLB fast path (the same checks, in the same order, as runtime.ts rd8..wr32, on the
 * state area and TLB in the machine's memory, layout.ts) and the lazy-flag formulas of ../flags.ts
 * (carryFrom, overflowFrom, testCondition) over the lazy fields a WebAssembly region keeps in the state
 * area. Regions import these functions, which V8 calls without leaving WebAssembly; only a slow path (TLB
 * miss, no rights, unusual segment, page crossing) calls the JavaScript helpers, which may raise a guest
 * exception. Before such a call the start and position of the instruction go to the state area, so the
 * region's caller can report the fault where the interpreter would (see wasm-region.ts).
 */
import {
  DISPATCH_HASH,
  DISPATCH_LINE_BITS,
  RAM_BASE,
  STATE_DISPATCH,
  STATE_EXIT_CHAIN,
  STATE_EXIT_DONE,
  STATE_EXIT_EIP,
  STATE_EXIT_LINKS,
  STATE_RUNNING_SLOT,
  STATE_EXIT_START,
  STATE_FLAGS,
  STATE_LAZY_DST,
  STATE_LAZY_FLAGS,
  STATE_LAZY_OP,
  STATE_LAZY_RES,
  STATE_LAZY_SIZE,
  STATE_LAZY_SRC,
  STATE_READ_BIT,
  STATE_SEG_BASE,
  STATE_SEG_FLAGS,
  STATE_SEG_LIMIT,
  STATE_WRITE_BIT,
  TLB_BASE,
} from '../layout.ts';
import { TLB_PHYS } from '../paging.ts';
import { FunctionBody, I32, ModuleWriter, Op, uleb, type Signature } from './wasm-module.ts';

const FLAG_CF = 0x1;
const FLAG_PF = 0x4;
const FLAG_ZF = 0x40;
const FLAG_SF = 0x80;
const FLAG_OF = 0x800;

const SIG_READ: Signature = { params: [I32, I32, I32, I32], results: [I32] };
const SIG_WRITE: Signature = { params: [I32, I32, I32, I32, I32], results: [I32] };
const SIG_FLAG: Signature = { params: [], results: [I32] };
const SIG_COND: Signature = { params: [I32], results: [I32] };
const SIG_SLOW_READ: Signature = { params: [I32, I32], results: [I32] };
const SIG_SLOW_WRITE: Signature = { params: [I32, I32, I32], results: [I32] };

/** Names of the support module's exports, in the order regions import them. */
export const SUPPORT_EXPORTS = ['rd8', 'rd16', 'rd32', 'wr8', 'wr16', 'wr32', 'cf', 'cond'] as const;
export const SUPPORT_SIGNATURES: Record<(typeof SUPPORT_EXPORTS)[number], Signature> = {
  rd8: SIG_READ,
  rd16: SIG_READ,
  rd32: SIG_READ,
  wr8: SIG_WRITE,
  wr16: SIG_WRITE,
  wr32: SIG_WRITE,
  cf: SIG_FLAG,
  cond: SIG_COND,
};

/** The JavaScript slow paths the support module calls (runtime.ts helpers; writes return Jit.smc). */
export interface SupportImports {
  rd8(seg: number, off: number): number;
  rd16(seg: number, off: number): number;
  rd32(seg: number, off: number): number;
  wr8(seg: number, off: number, value: number): number;
  wr16(seg: number, off: number, value: number): number;
  wr32(seg: number, off: number, value: number): number;
}

const LOAD = [Op.i32Load8U, Op.i32Load16U, Op.i32Load];
const STORE = [Op.i32Store8, Op.i32Store16, Op.i32Store];

/**
 * Writes the fast-path test of an access of 2^size bytes at offset local `off` of segment `seg` (a local):
 * branches to depth `slow` (relative to the code written here) when the segment is not a plain one, the
 * access passes its limit, the TLB entry lacks `bitSlot`'s rights or the access crosses the page; else
 * leaves RAM_BASE-relative physical address in local `phys`. `lin` and `entry` are scratch locals.
 */
function fastPath(
  f: FunctionBody,
  size: number,
  seg: number,
  off: number,
  bitSlot: number,
  slow: number,
  lin: number,
  entry: number,
  phys: number,
): void {
  const last = (1 << size) - 1;
  // segFlags[seg] !== 0
  f.get(seg).mem(Op.i32Load8U, STATE_SEG_FLAGS).brIf(slow);
  // off >>> 0 > segLimit[seg]
  f.get(off).get(seg).i32(2).op(Op.i32Shl).mem(Op.i32Load, STATE_SEG_LIMIT).op(Op.i32GtU).brIf(slow);
  if (last !== 0) {
    // (limit - off) >>> 0 < last: the last byte passes the limit
    f.get(seg).i32(2).op(Op.i32Shl).mem(Op.i32Load, STATE_SEG_LIMIT).get(off).op(Op.i32Sub);
    f.i32(last).op(Op.i32LtU).brIf(slow);
  }
  // lin = segBase[seg] + off
  f.get(seg).i32(2).op(Op.i32Shl).mem(Op.i32Load, STATE_SEG_BASE).get(off).op(Op.i32Add);
  tlbFastPath(f, last, bitSlot, slow, lin, entry);
  f.set(phys);
}

/**
 * The TLB half of a memory access's fast path, for the linear address on the stack (kept in local `lin`):
 * branches to depth `slow` when the TLB entry (local `entry`) lacks the rights `bitSlot` names or the `last`
 * bytes after the first leave the page; else leaves the RAM_BASE-relative physical address on the stack.
 * The support module's helpers, and the regions' accesses written in place and PIC thunk checks
 * (wasm-codegen.ts), use it.
 */
export function tlbFastPath(
  f: FunctionBody,
  last: number,
  bitSlot: number,
  slow: number,
  lin: number,
  entry: number,
): void {
  // entry = tlb[lin >>> 12]
  f.tee(lin).i32(12).op(Op.i32ShrU).i32(2).op(Op.i32Shl).mem(Op.i32Load, TLB_BASE).tee(entry);
  f.field(bitSlot).op(Op.i32And).op(Op.i32Eqz).brIf(slow);
  if (last !== 0)
    f.get(lin)
      .i32(0xfff)
      .op(Op.i32And)
      .i32(0xfff - last)
      .op(Op.i32GtU)
      .brIf(slow);
  f.get(entry).i32(TLB_PHYS).op(Op.i32And).get(lin).i32(0xfff).op(Op.i32And).op(Op.i32Or);
}

/** rdN(seg, off, start, count): the value read; the slow path reports the instruction first. */
function readFunction(size: number, slowIndex: number): FunctionBody {
  const f = new FunctionBody(SIG_READ);
  const [seg, off, start, count] = [0, 1, 2, 3];
  const lin = f.local();
  const entry = f.local();
  const phys = f.local();
  f.begin(Op.block);
  fastPath(f, size, seg, off, STATE_READ_BIT, 0, lin, entry, phys);
  f.get(phys).mem(LOAD[size], RAM_BASE).op(Op.return);
  f.end();
  f.i32(0).get(start).mem(Op.i32Store, STATE_EXIT_START);
  f.i32(0).get(count).mem(Op.i32Store, STATE_EXIT_DONE);
  f.get(seg).get(off).call(slowIndex);
  return f;
}

/** wrN(seg, off, value, start, count): 0, or the JIT's smc flag after a slow-path write. */
function writeFunction(size: number, slowIndex: number): FunctionBody {
  const f = new FunctionBody(SIG_WRITE);
  const [seg, off, value, start, count] = [0, 1, 2, 3, 4];
  const lin = f.local();
  const entry = f.local();
  const phys = f.local();
  f.begin(Op.block);
  fastPath(f, size, seg, off, STATE_WRITE_BIT, 0, lin, entry, phys);
  f.get(phys).get(value).mem(STORE[size], RAM_BASE).i32(0).op(Op.return);
  f.end();
  f.i32(0).get(start).mem(Op.i32Store, STATE_EXIT_START);
  f.i32(0).get(count).mem(Op.i32Store, STATE_EXIT_DONE);
  f.get(seg).get(off).get(value).call(slowIndex);
  return f;
}

/** Pushes 1 when `flag` is pending (then `pending` runs) else EFLAGS' bit: `if (lf & flag) pending else fl bit`. */
function flagOf(f: FunctionBody, flag: number, pending: () => void): void {
  f.field(STATE_LAZY_FLAGS).i32(flag).op(Op.i32And);
  f.begin(Op.if, I32);
  pending();
  f.op(Op.else);
  f.field(STATE_FLAGS).i32(Math.log2(flag)).op(Op.i32ShrU).i32(1).op(Op.i32And);
  f.end();
}

/** The operand-size mask of the lazy size field: 0xff, 0xffff or -1. */
function sizeMask(f: FunctionBody): void {
  f.i32(-1);
  f.i32(1).i32(8).field(STATE_LAZY_SIZE);
  f.op(Op.i32Shl).op(Op.i32Shl).i32(1).op(Op.i32Sub);
  f.field(STATE_LAZY_SIZE).i32(2).op(Op.i32Eq).op(Op.select);
}

/** cf(): CF of the lazy state (carryFrom over the masked operands, or EFLAGS.CF). */
function carryFunction(): FunctionBody {
  const f = new FunctionBody(SIG_FLAG);
  const mask = f.local();
  const d = f.local();
  const s = f.local();
  const r = f.local();
  const op = f.local();
  flagOf(f, FLAG_CF, () => {
    sizeMask(f);
    f.set(mask);
    f.field(STATE_LAZY_DST).get(mask).op(Op.i32And).set(d);
    f.field(STATE_LAZY_SRC).get(mask).op(Op.i32And).set(s);
    f.field(STATE_LAZY_RES).get(mask).op(Op.i32And).set(r);
    f.field(STATE_LAZY_OP).set(op);
    // ADD: r < d; ADC: r <= d; SUB: d < s; SBB: d <= s; others 0.
    // select(a, b, c) is c ? a : b.
    f.get(r).get(d).op(Op.i32LeU);
    f.get(r).get(d).op(Op.i32LtU);
    f.get(op).i32(1).op(Op.i32Eq).op(Op.select);
    f.get(d).get(s).op(Op.i32LeU);
    f.get(d).get(s).op(Op.i32LtU);
    f.get(op).i32(3).op(Op.i32Eq).op(Op.select);
    f.get(op).i32(2).op(Op.i32LtU).op(Op.select);
    f.get(op).i32(4).op(Op.i32LtU).op(Op.i32And);
  });
  return f;
}

/** The sign-bit position of the lazy size: 7, 15 or 31. */
function signShift(f: FunctionBody): void {
  f.i32(8).field(STATE_LAZY_SIZE).op(Op.i32Shl).i32(1).op(Op.i32Sub);
}

/** cond(cc): testCondition (Jcc's low nibble) over the lazy state, 0 or 1. */
function conditionFunction(cfIndex: number): FunctionBody {
  const f = new FunctionBody(SIG_COND);
  const cc = 0;
  const of = f.local();
  const zf = f.local();
  const sf = f.local();
  const op = f.local();
  const r = f.local();
  // OF: ADD/ADC ((d ^ r) & (s ^ r)), SUB/SBB ((d ^ s) & (d ^ r)), at the sign bit; 0 for others.
  flagOf(f, FLAG_OF, () => {
    f.field(STATE_LAZY_OP).set(op);
    f.field(STATE_LAZY_DST).field(STATE_LAZY_RES).op(Op.i32Xor);
    f.field(STATE_LAZY_SRC).field(STATE_LAZY_RES).op(Op.i32Xor).op(Op.i32And);
    f.field(STATE_LAZY_DST).field(STATE_LAZY_SRC).op(Op.i32Xor);
    f.field(STATE_LAZY_DST).field(STATE_LAZY_RES).op(Op.i32Xor).op(Op.i32And);
    f.get(op).i32(2).op(Op.i32LtU).op(Op.select);
    signShift(f);
    f.op(Op.i32ShrU).i32(1).op(Op.i32And);
    f.get(op).i32(4).op(Op.i32LtU).op(Op.i32And);
  });
  f.set(of);
  flagOf(f, FLAG_ZF, () => {
    f.field(STATE_LAZY_RES);
    sizeMask(f);
    f.op(Op.i32And).op(Op.i32Eqz);
  });
  f.set(zf);
  flagOf(f, FLAG_SF, () => {
    f.field(STATE_LAZY_RES);
    signShift(f);
    f.op(Op.i32ShrU).i32(1).op(Op.i32And);
  });
  f.set(sf);
  // The condition by cc >> 1: O, B, Z, BE, S, P, L, LE.
  const pick = (k: number, value: () => void) => {
    f.get(cc).i32(1).op(Op.i32ShrU).i32(k).op(Op.i32Eq);
    f.begin(Op.if);
    value();
    f.set(r).end();
  };
  pick(0, () => f.get(of));
  pick(1, () => f.call(cfIndex));
  pick(2, () => f.get(zf));
  pick(3, () => f.call(cfIndex).get(zf).op(Op.i32Or));
  pick(4, () => f.get(sf));
  pick(5, () =>
    flagOf(f, FLAG_PF, () => {
      f.field(STATE_LAZY_RES).i32(0xff).op(Op.i32And).op(Op.i32Popcnt).i32(1).op(Op.i32And);
      f.i32(1).op(Op.i32Xor);
    }),
  );
  pick(6, () => f.get(sf).get(of).op(Op.i32Xor));
  pick(7, () => f.get(sf).get(of).op(Op.i32Xor).get(zf).op(Op.i32Or));
  f.get(r).get(cc).i32(1).op(Op.i32And).op(Op.i32Xor);
  return f;
}

/** What regions export, and what run() calls through the table: (budget, EIP) -> result. */
export const REGION_SIGNATURE: Signature = { params: [I32, I32], results: [I32] };

/**
 * run(slot, budget, eip, mode, link): the WebAssembly half of the dispatcher (jit.ts Jit.run). Runs the region
 * in table slot `slot` from `eip` with at most `budget` instructions; then, while `link` is set and the
 * region ran compiled code only (result 0), enters the region that starts where it left off, found in the
 * dispatcher cache (layout.ts STATE_DISPATCH) by the physical address the TLB gives for CS:EIP, as long as
 * the budget lasts. Anything else (a miss, a TLB entry without read rights, a region past the CS limit, a
 * result other than 0) returns to the JavaScript dispatcher, which looks up, interprets, compiles and fills
 * the cache. Compiled code changes neither the CPU modes (the cache's `mode`), TF, the interrupt shadow,
 * a translation, nor anything the interrupt check looks at, which is what makes skipping the JavaScript
 * dispatcher's checks between regions the same as doing them (Jit.run passes `link` 0 when its interrupt
 * check would find work).
 *
 * Leaves the last region's exit in the state area and, beside it, the instructions the regions before it
 * retired (STATE_EXIT_CHAIN), the regions it entered through the cache (STATE_EXIT_LINKS) and the running
 * region's slot (STATE_RUNNING_SLOT). Every region is called through this one export, so V8 sees a single
 * WebAssembly callee at the JavaScript dispatcher's call site.
 */
function dispatchFunction(m: ModuleWriter): FunctionBody {
  const f = new FunctionBody({ params: [I32, I32, I32, I32, I32], results: [I32] });
  const [slot, budget, eip, mode, link] = [0, 1, 2, 3, 4];
  const done = f.local();
  const links = f.local();
  const result = f.local();
  const lin = f.local();
  const phys = f.local();
  const line = f.local();
  const slotMode = f.local();
  f.i32(0).i32(0).mem(Op.i32Store, STATE_EXIT_LINKS);
  f.begin(Op.loop);
  f.i32(0).get(slot).mem(Op.i32Store, STATE_RUNNING_SLOT);
  f.i32(0).get(done).mem(Op.i32Store, STATE_EXIT_CHAIN);
  f.get(budget).get(done).op(Op.i32Sub).get(eip).get(slot);
  f.op(Op.callIndirect);
  uleb(f.code, m.signatureIndex(REGION_SIGNATURE));
  f.code.push(0); // table 0
  f.tee(result);
  f.begin(Op.if).get(result).op(Op.return).end();
  // Nothing ran (the budget did not cover the first block), or no linking: the JavaScript dispatcher decides.
  f.field(STATE_EXIT_DONE).op(Op.i32Eqz).get(link).op(Op.i32Eqz).op(Op.i32Or);
  f.begin(Op.if).i32(0).op(Op.return).end();
  // From here on a return leaves STATE_EXIT_CHAIN + STATE_EXIT_DONE = done, as the caller counts.
  f.get(done).field(STATE_EXIT_DONE).op(Op.i32Add).tee(done).get(budget).op(Op.i32GeS);
  f.begin(Op.if).i32(0).op(Op.return).end();
  f.field(STATE_EXIT_EIP).set(eip);
  // lin = CS base + EIP; the TLB entry must allow a read at the current privilege (Mmu.probeRead).
  f.field(STATE_SEG_BASE + 4)
    .get(eip)
    .op(Op.i32Add)
    .tee(lin);
  f.i32(12).op(Op.i32ShrU).i32(2).op(Op.i32Shl).mem(Op.i32Load, TLB_BASE).tee(phys);
  f.field(STATE_READ_BIT).op(Op.i32And).op(Op.i32Eqz);
  f.begin(Op.if).i32(0).op(Op.return).end();
  f.get(phys).i32(TLB_PHYS).op(Op.i32And).get(lin).i32(0xfff).op(Op.i32And).op(Op.i32Or).tee(phys);
  // line = STATE_DISPATCH + dispatchLine(phys) * 16 (the offset is added by the loads)
  f.i32(DISPATCH_HASH)
    .op(Op.i32Mul)
    .i32(32 - DISPATCH_LINE_BITS)
    .op(Op.i32ShrU)
    .i32(4)
    .op(Op.i32Shl);
  f.tee(line).mem(Op.i32Load, STATE_DISPATCH).get(phys).op(Op.i32Ne);
  f.get(line)
    .mem(Op.i32Load, STATE_DISPATCH + 4)
    .get(eip)
    .op(Op.i32Ne)
    .op(Op.i32Or);
  f.get(line)
    .mem(Op.i32Load, STATE_DISPATCH + 8)
    .tee(slotMode)
    .i32(15)
    .op(Op.i32And)
    .get(mode)
    .op(Op.i32Ne);
  f.op(Op.i32Or);
  f.get(line)
    .mem(Op.i32Load, STATE_DISPATCH + 12)
    .field(STATE_SEG_LIMIT + 4)
    .op(Op.i32GtU)
    .op(Op.i32Or);
  f.begin(Op.if).i32(0).op(Op.return).end();
  f.get(slotMode).i32(4).op(Op.i32ShrU).set(slot);
  f.get(links).i32(1).op(Op.i32Add).set(links);
  f.i32(0).get(links).mem(Op.i32Store, STATE_EXIT_LINKS);
  f.br(0);
  f.end();
  f.op(Op.unreachable);
  return f;
}

/** The support module's bytes for a memory of `pages` 64 KiB pages. */
export function supportModule(pages: number): Uint8Array<ArrayBuffer> {
  const m = new ModuleWriter();
  const slow = [
    m.importFunction('js', 'rd8', SIG_SLOW_READ),
    m.importFunction('js', 'rd16', SIG_SLOW_READ),
    m.importFunction('js', 'rd32', SIG_SLOW_READ),
    m.importFunction('js', 'wr8', SIG_SLOW_WRITE),
    m.importFunction('js', 'wr16', SIG_SLOW_WRITE),
    m.importFunction('js', 'wr32', SIG_SLOW_WRITE),
  ];
  m.importMemory('js', 'memory', pages);
  m.importTable('js', 'table', 1);
  const functions = [
    readFunction(0, slow[0]),
    readFunction(1, slow[1]),
    readFunction(2, slow[2]),
    writeFunction(0, slow[3]),
    writeFunction(1, slow[4]),
    writeFunction(2, slow[5]),
  ];
  const indexes = functions.map((f) => m.addFunction(f));
  const cfIndex = m.addFunction(carryFunction());
  const condIndex = m.addFunction(conditionFunction(cfIndex));
  indexes.push(cfIndex, condIndex);
  SUPPORT_EXPORTS.forEach((name, i) => m.exportFunction(name, indexes[i]));
  m.exportFunction('run', m.addFunction(dispatchFunction(m)));
  return m.bytes();
}

/** The dispatcher's export: run(slot, budget, eip, mode, link) -> the last region's result. */
export type DispatchFunction = (
  slot: number,
  budget: number,
  eip: number,
  mode: number,
  link: number,
) => number;

/** The support functions of one CPU, as region modules import them. */
export type SupportExports = Record<(typeof SUPPORT_EXPORTS)[number], (...args: number[]) => number>;

/**
 * Instantiates the support module on `memory` with the JavaScript slow paths `slow` and the table of
 * regions `table` (a new one of one slot when not given).
 */
export function instantiateSupport(
  memory: WebAssembly.Memory,
  slow: SupportImports,
  table = new WebAssembly.Table({ element: 'anyfunc', initial: 1 }),
): SupportExports & { run: DispatchFunction } {
  const pages = memory.buffer.byteLength / 0x10000;
  const module = new WebAssembly.Module(supportModule(pages));
  const instance = new WebAssembly.Instance(module, { js: { ...slow, memory, table } });
  return instance.exports as unknown as SupportExports & { run: DispatchFunction };
}
