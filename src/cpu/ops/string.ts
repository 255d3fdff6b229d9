/**
 * String instructions MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS with REP/REPE/REPNE (Intel SDM Vol. 2,
 * "REP/REPE/REPZ/REPNE/REPNZ" and each instruction's page).
 *
 * Source is seg:(E)SI with seg = DS unless overridden; destination is ES:(E)DI, never overridden. The address
 * size picks SI/DI/CX or ESI/EDI/ECX. A repeated instruction runs at most REP_CHUNK iterations per step and
 * then restarts itself, so that interrupts are taken between chunks, as a real CPU takes them between
 * iterations; a fault mid-way leaves the registers describing the iterations already done.
 *
 * REP MOVS and REP STOS also have a bulk path (bulkIterations): within a step it moves whole runs of
 * iterations at once with RAM copy/fill operations when it can prove that the per-iteration loop would do the
 * same with no fault and no side effect beyond plain RAM (segment checks pass for the whole run, each run
 * stays inside one page of source and one of destination, the TLB already grants the access without a walk,
 * no debug breakpoint armed, overlapping copies only where element-by-element order cannot matter).
 * Anything else takes the per-iteration loop, which stays the reference; the number of iterations per step
 * is the same either way, so instruction counts and interrupt points do not change.
 */
import type { Cpu } from '../cpu.ts';
import { DS, ECX, EDI, EDX, ES, ESI } from '../constants.ts';
import { FLAG_DF, OP_SUB, getZF, setLazy } from '../flags.ts';
import { TLB_PHYS } from '../paging.ts';
import { checkIoPermission } from '../protected.ts';

const REP_CHUNK = 4096;

const KIND_MOVS = 0;
const KIND_CMPS = 1;
const KIND_STOS = 2;
const KIND_LODS = 3;
const KIND_SCAS = 4;
const KIND_INS = 5;
const KIND_OUTS = 6;

function readSized(c: Cpu, seg: number, off: number, size: number): number {
  return size === 1 ? c.read8(seg, off) : size === 2 ? c.read16(seg, off) : c.read32(seg, off);
}
function writeSized(c: Cpu, seg: number, off: number, size: number, v: number): void {
  if (size === 1) c.write8(seg, off, v);
  else if (size === 2) c.write16(seg, off, v);
  else c.write32(seg, off, v);
}
function getAcc(c: Cpu, size: number): number {
  return size === 1 ? c.reg8[0] : size === 2 ? c.reg16[0] : c.reg32[0];
}
function setAcc(c: Cpu, size: number, v: number): void {
  if (size === 1) c.reg8[0] = v;
  else if (size === 2) c.reg16[0] = v;
  else c.reg32[0] = v;
}
function ioIn(c: Cpu, port: number, size: number): number {
  return size === 1 ? c.io.in8(port) : size === 2 ? c.io.in16(port) : c.io.in32(port);
}
function ioOut(c: Cpu, port: number, size: number, v: number): void {
  if (size === 1) c.io.out8(port, v);
  else if (size === 2) c.io.out16(port, v);
  else c.io.out32(port, v);
}

/** One iteration: the data movement or comparison, then the index register updates. */
function iterate(c: Cpu, kind: number, size: number, a32: number, step: number): void {
  const r32 = c.reg32;
  const r16 = c.reg16;
  const si = a32 ? r32[ESI] : r16[ESI << 1];
  const di = a32 ? r32[EDI] : r16[EDI << 1];
  const srcSeg = c.segOverride >= 0 ? c.segOverride : DS;
  switch (kind) {
    case KIND_MOVS:
      writeSized(c, ES, di, size, readSized(c, srcSeg, si, size));
      break;
    case KIND_CMPS: {
      const a = readSized(c, srcSeg, si, size);
      const b = readSized(c, ES, di, size);
      setLazy(c, OP_SUB, size >> 1, a, b, (a - b) | 0);
      break;
    }
    case KIND_STOS:
      writeSized(c, ES, di, size, getAcc(c, size));
      break;
    case KIND_LODS:
      setAcc(c, size, readSized(c, srcSeg, si, size));
      break;
    case KIND_SCAS: {
      const a = getAcc(c, size);
      const b = readSized(c, ES, di, size);
      setLazy(c, OP_SUB, size >> 1, a, b, (a - b) | 0);
      break;
    }
    case KIND_INS: {
      // The destination is checked before the port is read, so a fault does not lose the input.
      c.writeAddress(ES, di, size);
      writeSized(c, ES, di, size, ioIn(c, r16[EDX << 1], size));
      break;
    }
    default:
      ioOut(c, r16[EDX << 1], size, readSized(c, srcSeg, si, size));
      break;
  }
  const usesSi = kind === KIND_MOVS || kind === KIND_CMPS || kind === KIND_LODS || kind === KIND_OUTS;
  const usesDi = kind !== KIND_LODS && kind !== KIND_OUTS;
  if (a32) {
    if (usesSi) r32[ESI] = (si + step) | 0;
    if (usesDi) r32[EDI] = (di + step) | 0;
  } else {
    if (usesSi) r16[ESI << 1] = si + step;
    if (usesDi) r16[EDI << 1] = di + step;
  }
}

/**
 * Test hook: false sends every REP MOVS/STOS through the per-iteration loop, so tests can compare the bulk
 * path against it. Not for production use.
 */
let bulkPathEnabled = true;
export function setStringBulkPath(enabled: boolean): void {
  bulkPathEnabled = enabled;
}

/**
 * How many of the next `want` iterations can access seg:off (elements of `size` bytes, moving down when
 * `down`) without any possible fault: the segment is an ordinary one (segFlags 0, so only the limit applies,
 * as in Cpu.readAddress/writeAddress) whose limit covers every element, the offsets do not wrap, the
 * elements all lie in the page of the first one, and the TLB already grants that page the access (`need`:
 * the MMU's readBit or writeBit, which only plain RAM pages get, and for writes never a page holding compiled
 * code) without a walk. 0 when not even the first.
 */
function safeRun(
  c: Cpu,
  seg: number,
  off: number,
  size: number,
  down: boolean,
  a32: number,
  want: number,
  need: number,
): number {
  if (c.segFlags[seg] !== 0) return 0;
  const limit = c.segLimit[seg];
  if (off + size - 1 > limit) return 0;
  const linear = (c.segBase[seg] + off) | 0;
  const pageOff = linear & 0xfff;
  if (pageOff + size > 0x1000) return 0;
  if ((c.mmu.tlb[linear >>> 12] & need) === 0) return 0;
  const shift = size >> 1; // log2(size)
  let n: number;
  if (down) {
    // The lowest element, off - (n-1)*size, neither wraps below offset 0 nor leaves the page.
    n = ((off < pageOff ? off : pageOff) >> shift) + 1;
  } else {
    // The highest byte, off + n*size - 1, stays within the limit, below 64 KiB for 16-bit addresses (which
    // wrap there), and in the page.
    const top = !a32 && limit > 0xffff ? 0xffff : limit;
    let room = 0x1000 - pageOff;
    if (top - off + 1 < room) room = top - off + 1;
    n = room >> shift;
  }
  return n < want ? n : want;
}

/** Physical address of seg:off, for a page safeRun found in the TLB. */
function tlbPhys(c: Cpu, seg: number, off: number): number {
  const linear = (c.segBase[seg] + off) | 0;
  return (c.mmu.tlb[linear >>> 12] & TLB_PHYS) + (linear & 0xfff);
}

/** Fills ram[start, start + length) with `size`-byte copies of `value` (one STOS run). */
function fillPattern(
  ram: Uint8Array,
  ram32: Int32Array,
  start: number,
  length: number,
  size: number,
  value: number,
): void {
  // Byte k of the run is byte (k mod 4) of this word, since size divides 4.
  const pattern =
    size === 1
      ? ((value & 0xff) * 0x01010101) | 0
      : size === 2
        ? ((value & 0xffff) * 0x10001) | 0
        : value | 0;
  const end = start + length;
  if (pattern === (((pattern & 0xff) * 0x01010101) | 0)) {
    ram.fill(pattern, start, end);
    return;
  }
  let a = start;
  for (; (a & 3) !== 0 && a < end; a++) ram[a] = pattern >> (((a - start) & 3) << 3);
  const wordsEnd = end & ~3;
  if (wordsEnd > a) {
    const rotate = ((a - start) & 3) << 3;
    ram32.fill(
      rotate === 0 ? pattern : (pattern >>> rotate) | (pattern << (32 - rotate)),
      a >> 2,
      wordsEnd >> 2,
    );
    a = wordsEnd;
  }
  for (; a < end; a++) ram[a] = pattern >> (((a - start) & 3) << 3);
}

/**
 * Runs up to `want` iterations of REP MOVS / REP STOS at once when they provably touch nothing but RAM and
 * cannot fault (see safeRun), updating (E)SI, (E)DI and (E)CX as the per-iteration loop would. Returns how
 * many it ran; 0 means the caller runs the next iteration the slow way (which then faults, walks the page
 * tables, crosses the page, or notifies the JIT, exactly as it always has).
 */
function bulkIterations(
  c: Cpu,
  kind: number,
  size: number,
  a32: number,
  down: boolean,
  want: number,
): number {
  const r32 = c.reg32;
  const r16 = c.reg16;
  const mmu = c.mmu;
  const di = a32 ? r32[EDI] >>> 0 : r16[EDI << 1];
  let n = safeRun(c, ES, di, size, down, a32, want, mmu.writeBit);
  if (n === 0) return 0;
  const pd = tlbPhys(c, ES, di);
  if (kind === KIND_MOVS) {
    const srcSeg = c.segOverride >= 0 ? c.segOverride : DS;
    const si = a32 ? r32[ESI] >>> 0 : r16[ESI << 1];
    n = safeRun(c, srcSeg, si, size, down, a32, n, mmu.readBit);
    if (n === 0) return 0;
    const ps = tlbPhys(c, srcSeg, si);
    // One element at a time gives the same result as one block move unless an element is written before the
    // source bytes it overlaps are read: destination ahead of the source in the direction of travel, closer
    // than the run's length. Then only the run up to that distance is safe.
    const distance = down ? ps - pd : pd - ps;
    if (distance > 0 && distance < n * size) {
      n = distance >> (size >> 1);
      if (n === 0) return 0;
    }
    const low = down ? (n - 1) * size : 0;
    mmu.ram.copyWithin(pd - low, ps - low, ps - low + n * size);
    const siNext = si + (down ? -n * size : n * size);
    if (a32) r32[ESI] = siNext | 0;
    else r16[ESI << 1] = siNext;
  } else {
    const low = down ? (n - 1) * size : 0;
    fillPattern(mmu.ram, mmu.ram32, pd - low, n * size, size, getAcc(c, size));
  }
  const diNext = di + (down ? -n * size : n * size);
  if (a32) {
    r32[EDI] = diNext | 0;
    r32[ECX] = (r32[ECX] - n) | 0;
  } else {
    r16[EDI << 1] = diNext;
    r16[ECX << 1] = r16[ECX << 1] - n;
  }
  return n;
}

function stringOp(kind: number, byteSized: boolean): (c: Cpu) => void {
  return (c) => {
    const size = byteSized ? 1 : c.opsize32 ? 4 : 2;
    if (kind === KIND_INS || kind === KIND_OUTS) checkIoPermission(c, c.reg16[EDX << 1], size);
    const step = c.flags & FLAG_DF ? -size : size;
    const a32 = c.addrsize32;
    const rep = c.repPrefix;
    if (rep === 0) {
      iterate(c, kind, size, a32, step);
      return;
    }
    const conditional = kind === KIND_CMPS || kind === KIND_SCAS;
    const untilEqual = rep === 0xf2; // REPNE stops when ZF = 1; REPE when ZF = 0
    const bulk = bulkPathEnabled && (kind === KIND_MOVS || kind === KIND_STOS) && c.debugArmed === false;
    for (let n = 0; n < REP_CHUNK; n++) {
      const count = a32 ? c.reg32[ECX] : c.reg16[ECX << 1];
      if (count === 0) return;
      if (bulk) {
        const left = REP_CHUNK - n;
        const done = bulkIterations(c, kind, size, a32, step < 0, count >>> 0 < left ? count >>> 0 : left);
        if (done !== 0) {
          n += done - 1;
          continue;
        }
      }
      iterate(c, kind, size, a32, step);
      if (a32) c.reg32[ECX] = (count - 1) | 0;
      else c.reg16[ECX << 1] = count - 1;
      if (conditional && getZF(c) === untilEqual) return;
    }
    if ((a32 ? c.reg32[ECX] : c.reg16[ECX << 1]) !== 0) c.eip = c.instrStart; // continue next step
  };
}

/** String operations by opcode pair, from A4: MOVS, CMPS, (TEST), STOS, LODS, SCAS. */
const KIND_BY_OPCODE = [KIND_MOVS, KIND_CMPS, -1, KIND_STOS, KIND_LODS, KIND_SCAS];

/**
 * One MOVS, CMPS, STOS, LODS or SCAS (opcode `op`, A4-AF but not A8/A9) without a REP prefix, `size`
 * bytes, 32-bit addresses, the source segment from CPU.segOverride: the decoded-instruction cache's string
 * form.
 */
export function stringOnce32(c: Cpu, op: number, size: number): void {
  iterate(c, KIND_BY_OPCODE[(op - 0xa4) >> 1], size, 1, c.flags & FLAG_DF ? -size : size);
}

export const movsb = stringOp(KIND_MOVS, true);
export const movsv = stringOp(KIND_MOVS, false);
export const cmpsb = stringOp(KIND_CMPS, true);
export const cmpsv = stringOp(KIND_CMPS, false);
export const stosb = stringOp(KIND_STOS, true);
export const stosv = stringOp(KIND_STOS, false);
export const lodsb = stringOp(KIND_LODS, true);
export const lodsv = stringOp(KIND_LODS, false);
export const scasb = stringOp(KIND_SCAS, true);
export const scasv = stringOp(KIND_SCAS, false);
export const insb = stringOp(KIND_INS, true);
export const insv = stringOp(KIND_INS, false);
export const outsb = stringOp(KIND_OUTS, true);
export const outsv = stringOp(KIND_OUTS, false);
