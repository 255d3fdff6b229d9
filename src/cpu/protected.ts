/**
 * Protected-mode mechanisms: descriptor tables and segment loads with their checks, far JMP/CALL/RET
 * directly and through call gates, interrupt/trap/task gates with stack switches, IRET (to outer levels,
 * V86 mode and through task back links), hardware task switches, the I/O permission bitmap, LLDT/LTR,
 * LAR/LSL/VERR/VERW/ARPL and SYSENTER/SYSEXIT.
 *
 * Intel SDM Vol. 3A: ch. 3 (segmentation, descriptors), ch. 5 (protection: privilege checks, gates),
 * ch. 6 (interrupt and exception handling), ch. 7 (task management), ch. 20 (V86 mode); Vol. 1 ch. 18
 * (I/O permission bitmap); Vol. 2 pages of CALL, JMP, RET, IRET, INT n, LAR, LSL, VERR, SYSENTER.
 *
 * Every check is made before any state changes, so a fault leaves the machine as the instruction found it.
 */
import type { Cpu } from './cpu.ts';
import {
  CR0_PE,
  CR0_PG,
  CR0_TS,
  CS,
  DS,
  ES,
  ESP,
  EXC_GP,
  EXC_NP,
  EXC_SS,
  EXC_TS,
  FS,
  GS,
  INT_SOFTWARE,
  SEGF_EXPAND_DOWN,
  SEGF_NOT_READABLE,
  SEGF_NOT_WRITABLE,
  SEGF_UNUSABLE,
  SS,
} from './constants.ts';
import {
  FLAG_IF,
  FLAG_IOPL,
  FLAG_NT,
  FLAG_RF,
  FLAG_TF,
  FLAG_VIF,
  FLAG_VIP,
  FLAG_VM,
  FLAGS_WRITABLE,
} from './flags.ts';

// ---- Descriptor fields (SDM Vol. 3A 3.4.5, Figure 3-8) ----
const ACC_S = 0x10; // code/data (1) or system (0)
const ACC_CODE = 0x08; // within S=1: code segment
const ACC_CONFORMING = 0x04; // code: conforming
const ACC_EXPAND_DOWN = 0x04; // data: expand-down
const ACC_READABLE = 0x02; // code: readable
const ACC_WRITABLE = 0x02; // data: writable
const ACC_ACCESSED = 0x01;

// System descriptor types (S = 0).
const SYS_TSS16_AVAILABLE = 1;
const SYS_LDT = 2;
const SYS_TSS16_BUSY = 3;
const SYS_CALL_GATE16 = 4;
const SYS_TASK_GATE = 5;
const SYS_INT_GATE16 = 6;
const SYS_TRAP_GATE16 = 7;
const SYS_TSS32_AVAILABLE = 9;
const SYS_TSS32_BUSY = 11;
const SYS_CALL_GATE32 = 12;
const SYS_INT_GATE32 = 14;
const SYS_TRAP_GATE32 = 15;

/** How a task switch was started (SDM Vol. 3A 7.3, Table 7-2: busy bit and NT handling differ). */
const SWITCH_JMP = 0;
const SWITCH_CALL = 1; // also INT through a task gate
const SWITCH_IRET = 2;

/** A decoded segment descriptor. Scratch objects are reused: no allocation per far transfer. */
class Descriptor {
  lo = 0;
  hi = 0;
  /** Linear address of the descriptor (for setting the accessed/busy bits). */
  address = 0;
  get access(): number {
    return (this.hi >>> 8) & 0xff;
  }
  get type(): number {
    return (this.hi >>> 8) & 0x0f;
  }
  get dpl(): number {
    return (this.hi >>> 13) & 3;
  }
  get present(): boolean {
    return (this.hi & 0x8000) !== 0;
  }
  get isSystem(): boolean {
    return (this.hi & (ACC_S << 8)) === 0;
  }
  get isCode(): boolean {
    return !this.isSystem && (this.hi & (ACC_CODE << 8)) !== 0;
  }
  get isConforming(): boolean {
    return this.isCode && (this.hi & (ACC_CONFORMING << 8)) !== 0;
  }
  get isReadable(): boolean {
    return !this.isSystem && (!this.isCode || (this.hi & (ACC_READABLE << 8)) !== 0);
  }
  get isWritableData(): boolean {
    return !this.isSystem && !this.isCode && (this.hi & (ACC_WRITABLE << 8)) !== 0;
  }
  get base(): number {
    return (this.lo >>> 16) | ((this.hi & 0xff) << 16) | (this.hi & 0xff000000) | 0;
  }
  /** Limit in bytes, scaled by the granularity bit. */
  get limit(): number {
    const raw = (this.lo & 0xffff) | (this.hi & 0xf0000);
    return this.hi & 0x800000 ? ((raw << 12) | 0xfff) >>> 0 : raw;
  }
  get big(): number {
    return (this.hi >>> 22) & 1;
  }
  // Gate fields.
  get gateSelector(): number {
    return this.lo >>> 16;
  }
  get gateOffset(): number {
    const low = this.lo & 0xffff;
    return this.type & 8 ? low | (this.hi & 0xffff0000) | 0 : low;
  }
  get gateParamCount(): number {
    return this.hi & 0x1f;
  }
}

/** Per-CPU scratch descriptors, created on first use and kept on the Cpu (no module-level state). */
interface PmScratch {
  a: Descriptor;
  b: Descriptor;
  c: Descriptor;
}
const scratchOf = new WeakMap<Cpu, PmScratch>();
function scratch(cpu: Cpu): PmScratch {
  let s = scratchOf.get(cpu);
  if (!s) {
    s = { a: new Descriptor(), b: new Descriptor(), c: new Descriptor() };
    scratchOf.set(cpu, s);
  }
  return s;
}

// ======================================================================================================
// Descriptor table access
// ======================================================================================================

function readSystem32(c: Cpu, linear: number): number {
  c.mmu.systemAccess = true;
  try {
    return c.mmu.readLinear32(linear);
  } finally {
    c.mmu.systemAccess = false;
  }
}
function writeSystem32(c: Cpu, linear: number, value: number): void {
  c.mmu.systemAccess = true;
  try {
    c.mmu.writeLinear32(linear, value);
  } finally {
    c.mmu.systemAccess = false;
  }
}
function readSystem16(c: Cpu, linear: number): number {
  c.mmu.systemAccess = true;
  try {
    return c.mmu.readLinear16(linear);
  } finally {
    c.mmu.systemAccess = false;
  }
}
function writeSystem16(c: Cpu, linear: number, value: number): void {
  c.mmu.systemAccess = true;
  try {
    c.mmu.writeLinear16(linear, value);
  } finally {
    c.mmu.systemAccess = false;
  }
}

/**
 * Reads the descriptor for `selector` from the GDT or LDT into `d`. Returns false when the selector points
 * past the table limit (the caller raises the fault its instruction specifies).
 */
function fetchDescriptor(c: Cpu, selector: number, d: Descriptor): boolean {
  const index = selector & 0xfff8;
  let base: number;
  let limit: number;
  if (selector & 4) {
    if (c.ldtrSelector & 0xfffc) {
      base = c.ldtrBase;
      limit = c.ldtrLimit;
    } else {
      return false;
    }
  } else {
    base = c.gdtrBase;
    limit = c.gdtrLimit;
  }
  if (index + 7 > limit >>> 0) return false;
  d.address = (base + index) | 0;
  d.lo = readSystem32(c, d.address);
  d.hi = readSystem32(c, (d.address + 4) | 0);
  return true;
}

/** Reads a descriptor or raises `vector` with the selector as error code (the usual #GP(sel)). */
function loadDescriptor(c: Cpu, selector: number, d: Descriptor, vector: number, ext = 0): void {
  if (!fetchDescriptor(c, selector, d)) c.raiseError(vector, (selector & 0xfffc) | ext);
}

/** Sets the accessed bit of a code/data descriptor (the processor writes it back to the table). */
function markAccessed(c: Cpu, d: Descriptor): void {
  if (!(d.hi & (ACC_ACCESSED << 8))) {
    d.hi |= ACC_ACCESSED << 8;
    writeSystem32(c, (d.address + 4) | 0, d.hi);
  }
}

/** Loads segment register `seg` with `selector` and the descriptor `d` (already checked). */
export function setSegmentCache(c: Cpu, seg: number, selector: number, d: Descriptor): void {
  c.sreg[seg] = selector;
  c.segBase[seg] = d.base;
  c.segLimit[seg] = d.limit;
  c.segAccess[seg] = d.access;
  c.segBig[seg] = d.big;
  let flags = 0;
  if (d.isCode) {
    flags |= SEGF_NOT_WRITABLE;
    if (!(d.access & ACC_READABLE)) flags |= SEGF_NOT_READABLE;
  } else {
    if (!(d.access & ACC_WRITABLE)) flags |= SEGF_NOT_WRITABLE;
    if (d.access & ACC_EXPAND_DOWN) flags |= SEGF_EXPAND_DOWN;
  }
  c.segFlags[seg] = flags;
  if (seg === CS) {
    c.codeSize32 = d.big;
    c.decodedLinear = 1;
  } else if (seg === SS) c.stackSize32 = d.big;
}

/** A null selector in DS/ES/FS/GS: loading it is fine, using it faults (#GP(0)). */
function setNullSegment(c: Cpu, seg: number, selector: number): void {
  c.sreg[seg] = selector;
  c.segBase[seg] = 0;
  c.segLimit[seg] = 0;
  c.segAccess[seg] = 0;
  c.segBig[seg] = 0;
  c.segFlags[seg] = SEGF_UNUSABLE;
}

// ======================================================================================================
// Segment register loads (MOV, POP, LDS..., and the checks used by returns and task switches)
// ======================================================================================================

/** MOV/POP/LxS to DS, ES, FS, GS or SS in protected mode (SDM Vol. 2B "MOV", "POP"; Vol. 3A 5.10). */
export function loadDataSegment(c: Cpu, seg: number, selector: number): void {
  loadSegmentChecked(c, seg, selector, EXC_GP, c.cpl);
}

/**
 * The checks for loading a data or stack segment register at privilege `cpl`, raising `vector` (#GP, or
 * #TS during a task switch) for descriptor problems and #NP/#SS for a missing segment.
 */
function loadSegmentChecked(c: Cpu, seg: number, selector: number, vector: number, cpl: number): void {
  const d = scratch(c).c;
  const rpl = selector & 3;
  if (seg === SS) {
    if ((selector & 0xfffc) === 0) c.raiseError(vector, 0);
    loadDescriptor(c, selector, d, vector);
    if (rpl !== cpl || !d.isWritableData || d.dpl !== cpl) c.raiseError(vector, selector & 0xfffc);
    if (!d.present) c.raiseError(vector === EXC_TS ? EXC_TS : EXC_SS, selector & 0xfffc);
  } else {
    if ((selector & 0xfffc) === 0) {
      setNullSegment(c, seg, selector);
      return;
    }
    loadDescriptor(c, selector, d, vector);
    if (!d.isReadable) c.raiseError(vector, selector & 0xfffc);
    if (!d.isConforming && (rpl > d.dpl || cpl > d.dpl)) c.raiseError(vector, selector & 0xfffc);
    if (!d.present) c.raiseError(vector === EXC_TS ? EXC_TS : EXC_NP, selector & 0xfffc);
  }
  markAccessed(c, d);
  setSegmentCache(c, seg, selector, d);
}

/** After a return to an outer level: data segments the new CPL may not use become null (SDM "RET"). */
function invalidateSegmentsForCpl(c: Cpu): void {
  for (const seg of [ES, DS, FS, GS]) {
    const access = c.segAccess[seg];
    if (c.segFlags[seg] & SEGF_UNUSABLE) continue;
    const dpl = (access >> 5) & 3;
    const isCode = (access & ACC_CODE) !== 0;
    const conforming = isCode && (access & ACC_CONFORMING) !== 0;
    if (!conforming && dpl < c.cpl) setNullSegment(c, seg, 0);
  }
}

/** Loads CS for a transfer to code segment `d` at privilege `cpl` (the RPL of CS becomes CPL). */
function loadCodeSegment(c: Cpu, selector: number, d: Descriptor, cpl: number): void {
  markAccessed(c, d);
  setSegmentCache(c, CS, (selector & 0xfffc) | cpl, d);
  c.cpl = cpl;
}

/** The code segment checks shared by JMP/CALL (direct) and by returns. */
function checkCodeTarget(c: Cpu, selector: number, d: Descriptor): void {
  if (!d.isCode) c.raiseError(EXC_GP, selector & 0xfffc);
  if (d.isConforming) {
    if (d.dpl > c.cpl) c.raiseError(EXC_GP, selector & 0xfffc);
  } else if ((selector & 3) > c.cpl || d.dpl !== c.cpl) {
    c.raiseError(EXC_GP, selector & 0xfffc);
  }
  if (!d.present) c.raiseError(EXC_NP, selector & 0xfffc);
}

// ======================================================================================================
// Stack helpers for privilege changes: pushes onto a stack that is not yet loaded
// ======================================================================================================

/** Checks and writes `value` at ss:offset on a stack described by descriptor `d` (not yet in SS). */
function writeNewStack(
  c: Cpu,
  d: Descriptor,
  selector: number,
  offset: number,
  value: number,
  size: number,
): void {
  const off = offset >>> 0;
  const limit = d.limit;
  const expandDown = (d.access & ACC_EXPAND_DOWN) !== 0;
  const upper = d.big ? 0xffffffff : 0xffff;
  const bad = expandDown ? off <= limit || off + size - 1 > upper : off + size - 1 > limit;
  if (bad) c.raiseError(EXC_SS, selector & 0xfffc);
  const linear = (d.base + offset) | 0;
  // The pushes belong to the new, more privileged level: supervisor accesses even while CPL is still 3.
  if (size === 4) writeSystem32(c, linear, value);
  else writeSystem16(c, linear, value);
}

/** Reads the stack pointer for privilege `level` from the current TSS (SDM Vol. 3A 7.2.1). */
function tssStack(c: Cpu, level: number, ext: number): [number, number] {
  if ((c.trType & 8) !== 0) {
    const offset = 4 + level * 8;
    if (offset + 5 > c.trLimit) c.raiseError(EXC_TS, (c.trSelector & 0xfffc) | ext);
    const esp = readSystem32(c, (c.trBase + offset) | 0);
    const ss = readSystem16(c, (c.trBase + offset + 4) | 0);
    return [ss, esp];
  }
  const offset = 2 + level * 4;
  if (offset + 3 > c.trLimit) c.raiseError(EXC_TS, (c.trSelector & 0xfffc) | ext);
  const sp = readSystem16(c, (c.trBase + offset) | 0);
  const ss = readSystem16(c, (c.trBase + offset + 2) | 0);
  return [ss, sp];
}

/** Loads and checks the inner stack segment for a privilege change to `dpl` (raises #TS). */
function checkInnerStack(c: Cpu, ss: number, dpl: number, d: Descriptor, ext: number): void {
  if ((ss & 0xfffc) === 0) c.raiseError(EXC_TS, ext);
  if (!fetchDescriptor(c, ss, d)) c.raiseError(EXC_TS, (ss & 0xfffc) | ext);
  if ((ss & 3) !== dpl || d.dpl !== dpl || !d.isWritableData) c.raiseError(EXC_TS, (ss & 0xfffc) | ext);
  if (!d.present) c.raiseError(EXC_SS, (ss & 0xfffc) | ext);
}

// ======================================================================================================
// JMP / CALL far
// ======================================================================================================

export function farJump(c: Cpu, selector: number, offset: number): void {
  const { a: d, b: target } = scratch(c);
  if ((selector & 0xfffc) === 0) c.raiseError(EXC_GP, 0);
  loadDescriptor(c, selector, d, EXC_GP);
  if (!d.isSystem) {
    checkCodeTarget(c, selector, d);
    if (offset >>> 0 > d.limit) c.raiseError(EXC_GP, 0);
    loadCodeSegment(c, selector, d, c.cpl);
    c.eip = offset;
    return;
  }
  switch (d.type) {
    case SYS_CALL_GATE16:
    case SYS_CALL_GATE32: {
      if (d.dpl < c.cpl || d.dpl < (selector & 3)) c.raiseError(EXC_GP, selector & 0xfffc);
      if (!d.present) c.raiseError(EXC_NP, selector & 0xfffc);
      const codeSelector = d.gateSelector;
      if ((codeSelector & 0xfffc) === 0) c.raiseError(EXC_GP, 0);
      loadDescriptor(c, codeSelector, target, EXC_GP);
      if (!target.isCode) c.raiseError(EXC_GP, codeSelector & 0xfffc);
      if (target.isConforming ? target.dpl > c.cpl : target.dpl !== c.cpl) {
        c.raiseError(EXC_GP, codeSelector & 0xfffc);
      }
      if (!target.present) c.raiseError(EXC_NP, codeSelector & 0xfffc);
      const gateOffset = d.gateOffset;
      if (gateOffset >>> 0 > target.limit) c.raiseError(EXC_GP, 0);
      loadCodeSegment(c, codeSelector, target, c.cpl);
      c.eip = gateOffset;
      return;
    }
    case SYS_TASK_GATE:
    case SYS_TSS16_AVAILABLE:
    case SYS_TSS32_AVAILABLE:
      if (d.dpl < c.cpl || d.dpl < (selector & 3)) c.raiseError(EXC_GP, selector & 0xfffc);
      if (!d.present) c.raiseError(EXC_NP, selector & 0xfffc);
      taskSwitchThrough(c, selector, d, SWITCH_JMP, 0);
      return;
    default:
      c.raiseError(EXC_GP, selector & 0xfffc);
  }
}

export function farCall(c: Cpu, selector: number, offset: number): void {
  const { a: d, b: target, c: stackDesc } = scratch(c);
  if ((selector & 0xfffc) === 0) c.raiseError(EXC_GP, 0);
  loadDescriptor(c, selector, d, EXC_GP);
  if (!d.isSystem) {
    checkCodeTarget(c, selector, d);
    if (offset >>> 0 > d.limit) c.raiseError(EXC_GP, 0);
    const size = c.opsize32 ? 4 : 2;
    const sp1 = c.spOffset(-size);
    const sp2 = c.spOffset(-2 * size);
    c.writeAddress(SS, sp1, size);
    c.writeAddress(SS, sp2, size);
    pushAt(c, sp1, c.sreg[CS], size);
    pushAt(c, sp2, c.eip, size);
    c.adjustSp(-2 * size);
    loadCodeSegment(c, selector, d, c.cpl);
    c.eip = offset;
    return;
  }
  switch (d.type) {
    case SYS_CALL_GATE16:
    case SYS_CALL_GATE32:
      callGate(c, selector, d, target, stackDesc);
      return;
    case SYS_TASK_GATE:
    case SYS_TSS16_AVAILABLE:
    case SYS_TSS32_AVAILABLE:
      if (d.dpl < c.cpl || d.dpl < (selector & 3)) c.raiseError(EXC_GP, selector & 0xfffc);
      if (!d.present) c.raiseError(EXC_NP, selector & 0xfffc);
      taskSwitchThrough(c, selector, d, SWITCH_CALL, 0);
      return;
    default:
      c.raiseError(EXC_GP, selector & 0xfffc);
  }
}

function pushAt(c: Cpu, offset: number, value: number, size: number): void {
  if (size === 4) c.write32(SS, offset, value);
  else c.write16(SS, offset, value);
}

/** CALL through a call gate, with a stack switch and parameter copy when it enters a more privileged level. */
function callGate(
  c: Cpu,
  selector: number,
  gate: Descriptor,
  target: Descriptor,
  stackDesc: Descriptor,
): void {
  if (gate.dpl < c.cpl || gate.dpl < (selector & 3)) c.raiseError(EXC_GP, selector & 0xfffc);
  if (!gate.present) c.raiseError(EXC_NP, selector & 0xfffc);
  const codeSelector = gate.gateSelector;
  if ((codeSelector & 0xfffc) === 0) c.raiseError(EXC_GP, 0);
  loadDescriptor(c, codeSelector, target, EXC_GP);
  if (!target.isCode || target.dpl > c.cpl) c.raiseError(EXC_GP, codeSelector & 0xfffc);
  if (!target.present) c.raiseError(EXC_NP, codeSelector & 0xfffc);
  const size = gate.type & 8 ? 4 : 2;
  const newEip = gate.gateOffset;
  if (newEip >>> 0 > target.limit) c.raiseError(EXC_GP, 0);

  if (!target.isConforming && target.dpl < c.cpl) {
    // More privileged: switch to the stack in the TSS and copy the parameters (SDM Vol. 3A 5.8.5).
    const dpl = target.dpl;
    const [newSs, newSp] = tssStack(c, dpl, 0);
    checkInnerStack(c, newSs, dpl, stackDesc, 0);
    const count = gate.gateParamCount;
    const oldSs = c.sreg[SS];
    const oldSp = c.getSp();
    const params = c.scratch8;
    for (let i = 0; i < count; i++) {
      const off = c.stackSize32 ? (oldSp + i * size) | 0 : (oldSp + i * size) & 0xffff;
      params[i] = size === 4 ? c.read32(SS, off) : c.read16(SS, off);
    }
    let sp = newSp;
    const push = (value: number) => {
      sp = stackDesc.big ? (sp - size) | 0 : (sp - size) & 0xffff;
      writeNewStack(c, stackDesc, newSs, sp, value, size);
    };
    push(oldSs);
    push(oldSp);
    for (let i = count - 1; i >= 0; i--) push(params[i]);
    push(c.sreg[CS]);
    push(c.eip);
    markAccessed(c, stackDesc);
    setSegmentCache(c, SS, newSs, stackDesc);
    if (stackDesc.big) c.reg32[ESP] = sp;
    else c.reg16[ESP << 1] = sp;
    loadCodeSegment(c, codeSelector, target, dpl);
    c.eip = newEip;
    return;
  }
  // Same privilege (or conforming target).
  const sp1 = c.spOffset(-size);
  const sp2 = c.spOffset(-2 * size);
  c.writeAddress(SS, sp1, size);
  c.writeAddress(SS, sp2, size);
  pushAt(c, sp1, c.sreg[CS], size);
  pushAt(c, sp2, c.eip, size);
  c.adjustSp(-2 * size);
  loadCodeSegment(c, codeSelector, target, c.cpl);
  c.eip = newEip;
}

// ======================================================================================================
// RET far
// ======================================================================================================

export function farReturn(c: Cpu, release: number): void {
  const { a: d, b: stackDesc } = scratch(c);
  const size = c.opsize32 ? 4 : 2;
  const sp = c.getSp();
  const read = (delta: number) => {
    const off = c.stackSize32 ? (sp + delta) | 0 : (sp + delta) & 0xffff;
    return size === 4 ? c.read32(SS, off) : c.read16(SS, off);
  };
  const offset = read(0);
  const selector = read(size) & 0xffff;
  const rpl = selector & 3;
  if ((selector & 0xfffc) === 0) c.raiseError(EXC_GP, 0);
  loadDescriptor(c, selector, d, EXC_GP);
  if (rpl < c.cpl || !d.isCode) c.raiseError(EXC_GP, selector & 0xfffc);
  if (d.isConforming ? d.dpl > rpl : d.dpl !== rpl) c.raiseError(EXC_GP, selector & 0xfffc);
  if (!d.present) c.raiseError(EXC_NP, selector & 0xfffc);
  if (rpl === c.cpl) {
    if (offset >>> 0 > d.limit) c.raiseError(EXC_GP, 0);
    c.adjustSp(2 * size + release);
    loadCodeSegment(c, selector, d, rpl);
    c.eip = offset;
    return;
  }
  // Return to an outer level: the caller's SS:ESP follow the released parameters.
  const newSp = read(2 * size + release);
  const newSs = read(3 * size + release) & 0xffff;
  if ((newSs & 0xfffc) === 0) c.raiseError(EXC_GP, 0);
  loadDescriptor(c, newSs, stackDesc, EXC_GP);
  if ((newSs & 3) !== rpl || stackDesc.dpl !== rpl || !stackDesc.isWritableData) {
    c.raiseError(EXC_GP, newSs & 0xfffc);
  }
  if (!stackDesc.present) c.raiseError(EXC_SS, newSs & 0xfffc);
  if (offset >>> 0 > d.limit) c.raiseError(EXC_GP, 0);
  loadCodeSegment(c, selector, d, rpl);
  c.eip = offset;
  markAccessed(c, stackDesc);
  setSegmentCache(c, SS, newSs, stackDesc);
  if (c.stackSize32) c.reg32[ESP] = (newSp + release) | 0;
  else c.reg16[ESP << 1] = newSp + release;
  invalidateSegmentsForCpl(c);
}

// ======================================================================================================
// Interrupts and exceptions (SDM Vol. 3A 6.10-6.14)
// ======================================================================================================

export function protectedModeInterrupt(c: Cpu, vector: number, kind: number, errorCode: number): void {
  const { a: gate, b: target, c: stackDesc } = scratch(c);
  const ext = kind === INT_SOFTWARE ? 0 : 1;
  const idtError = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > c.idtrLimit) c.raiseError(EXC_GP, idtError);
  gate.address = (c.idtrBase + vector * 8) | 0;
  gate.lo = readSystem32(c, gate.address);
  gate.hi = readSystem32(c, (gate.address + 4) | 0);
  const type = gate.type;
  if (
    !gate.isSystem ||
    (type !== SYS_TASK_GATE &&
      type !== SYS_INT_GATE16 &&
      type !== SYS_TRAP_GATE16 &&
      type !== SYS_INT_GATE32 &&
      type !== SYS_TRAP_GATE32)
  ) {
    c.raiseError(EXC_GP, idtError);
  }
  if (kind === INT_SOFTWARE && gate.dpl < c.cpl) c.raiseError(EXC_GP, idtError);
  if (!gate.present) c.raiseError(EXC_NP, idtError);

  if (type === SYS_TASK_GATE) {
    const tssSelector = gate.gateSelector;
    const tss = target;
    if (tssSelector & 4) c.raiseError(EXC_TS, (tssSelector & 0xfffc) | ext);
    loadDescriptor(c, tssSelector, tss, EXC_TS, ext);
    taskSwitch(c, tssSelector, tss, SWITCH_CALL, ext);
    if (errorCode >= 0) {
      if (c.stackSize32 || c.trType & 8) c.push32(errorCode);
      else c.push16(errorCode);
    }
    c.halted = false;
    return;
  }

  const codeSelector = gate.gateSelector;
  if ((codeSelector & 0xfffc) === 0) c.raiseError(EXC_GP, ext);
  loadDescriptor(c, codeSelector, target, EXC_GP, ext);
  if (!target.isCode || target.dpl > c.cpl) c.raiseError(EXC_GP, (codeSelector & 0xfffc) | ext);
  if (!target.present) c.raiseError(EXC_NP, (codeSelector & 0xfffc) | ext);
  const size = type & 8 ? 4 : 2;
  const newEip = gate.gateOffset;
  const flags = c.getFlags();
  const fromV86 = (flags & FLAG_VM) !== 0;

  if (!target.isConforming && target.dpl < c.cpl) {
    // Inner privilege: stack from the TSS (SDM Vol. 3A 6.12.1). From V86 mode the handler must be ring 0.
    const dpl = target.dpl;
    if (fromV86 && dpl !== 0) c.raiseError(EXC_GP, (codeSelector & 0xfffc) | ext);
    const [newSs, newSp] = tssStack(c, dpl, ext);
    checkInnerStack(c, newSs, dpl, stackDesc, ext);
    if (newEip >>> 0 > target.limit) c.raiseError(EXC_GP, ext);
    let sp = newSp;
    const push = (value: number) => {
      sp = stackDesc.big ? (sp - size) | 0 : (sp - size) & 0xffff;
      writeNewStack(c, stackDesc, newSs, sp, value, size);
    };
    if (fromV86) {
      push(c.sreg[GS]);
      push(c.sreg[FS]);
      push(c.sreg[DS]);
      push(c.sreg[ES]);
    }
    push(c.sreg[SS]);
    push(c.reg32[ESP]);
    push(flags);
    push(c.sreg[CS]);
    push(c.eip);
    if (errorCode >= 0) push(errorCode);
    // Commit.
    markAccessed(c, stackDesc);
    c.flags &= ~(FLAG_TF | FLAG_NT | FLAG_VM | FLAG_RF);
    if (!(type & 1)) c.flags &= ~FLAG_IF;
    if (fromV86) {
      for (const seg of [GS, FS, DS, ES]) setNullSegment(c, seg, 0);
    }
    setSegmentCache(c, SS, newSs, stackDesc);
    if (stackDesc.big) c.reg32[ESP] = sp;
    else c.reg16[ESP << 1] = sp;
    loadCodeSegment(c, codeSelector, target, dpl);
    c.eip = newEip;
    c.halted = false;
    return;
  }
  if (fromV86) c.raiseError(EXC_GP, (codeSelector & 0xfffc) | ext);
  // Same privilege.
  if (newEip >>> 0 > target.limit) c.raiseError(EXC_GP, ext);
  const frame = errorCode >= 0 ? 4 : 3;
  for (let i = 1; i <= frame; i++) c.writeAddress(SS, c.spOffset(-size * i), size);
  pushAt(c, c.spOffset(-size), flags, size);
  pushAt(c, c.spOffset(-2 * size), c.sreg[CS], size);
  pushAt(c, c.spOffset(-3 * size), c.eip, size);
  if (errorCode >= 0) pushAt(c, c.spOffset(-4 * size), errorCode, size);
  c.adjustSp(-frame * size);
  c.flags &= ~(FLAG_TF | FLAG_NT | FLAG_VM | FLAG_RF);
  if (!(type & 1)) c.flags &= ~FLAG_IF;
  loadCodeSegment(c, codeSelector, target, c.cpl);
  c.eip = newEip;
  c.halted = false;
}

// ======================================================================================================
// IRET (SDM Vol. 2A "IRET/IRETD")
// ======================================================================================================

export function iret(c: Cpu): void {
  const { a: d, b: stackDesc } = scratch(c);
  if (c.flags & FLAG_NT) {
    // Return from a nested task through the back link.
    const link = readSystem16(c, c.trBase);
    if (link & 4) c.raiseError(EXC_TS, link & 0xfffc);
    loadDescriptor(c, link, d, EXC_TS);
    if (d.isSystem && (d.type === SYS_TSS16_BUSY || d.type === SYS_TSS32_BUSY)) {
      if (!d.present) c.raiseError(EXC_NP, link & 0xfffc);
      taskSwitch(c, link, d, SWITCH_IRET, 0);
      return;
    }
    c.raiseError(EXC_TS, link & 0xfffc);
  }
  const size = c.opsize32 ? 4 : 2;
  const sp = c.getSp();
  const read = (delta: number) => {
    const off = c.stackSize32 ? (sp + delta) | 0 : (sp + delta) & 0xffff;
    return size === 4 ? c.read32(SS, off) : c.read16(SS, off);
  };
  const offset = read(0);
  const selector = read(size) & 0xffff;
  const newFlags = read(2 * size);

  if (size === 4 && newFlags & FLAG_VM && c.cpl === 0) {
    // Return to virtual-8086 mode (SDM Vol. 3A 20.3.1.2): pops ESP, SS, ES, DS, FS, GS too.
    const newEsp = read(12);
    const newSs = read(16) & 0xffff;
    const es = read(20) & 0xffff;
    const ds = read(24) & 0xffff;
    const fs = read(28) & 0xffff;
    const gs = read(32) & 0xffff;
    c.setFlags(newFlags, FLAGS_WRITABLE);
    c.cpl = 3;
    c.setSegmentReal(CS, selector);
    c.setSegmentReal(SS, newSs);
    c.setSegmentReal(ES, es);
    c.setSegmentReal(DS, ds);
    c.setSegmentReal(FS, fs);
    c.setSegmentReal(GS, gs);
    c.reg32[ESP] = newEsp;
    c.eip = offset & 0xffff;
    return;
  }

  const rpl = selector & 3;
  if ((selector & 0xfffc) === 0) c.raiseError(EXC_GP, 0);
  loadDescriptor(c, selector, d, EXC_GP);
  if (!d.isCode || rpl < c.cpl) c.raiseError(EXC_GP, selector & 0xfffc);
  if (d.isConforming ? d.dpl > rpl : d.dpl !== rpl) c.raiseError(EXC_GP, selector & 0xfffc);
  if (!d.present) c.raiseError(EXC_NP, selector & 0xfffc);

  // Which EFLAGS bits the return may change (SDM "IRET": IOPL only at CPL 0, IF only when CPL <= IOPL).
  let mask = FLAGS_WRITABLE & ~(FLAG_VM | FLAG_VIP | FLAG_VIF);
  if (size === 2) mask &= 0xffff;
  if (c.cpl > 0) mask &= ~FLAG_IOPL;
  if (c.cpl > (c.flags & FLAG_IOPL) >> 12) mask &= ~FLAG_IF;
  if (size === 4 && c.cpl === 0) mask |= FLAG_VIP | FLAG_VIF;

  if (rpl === c.cpl) {
    if (offset >>> 0 > d.limit) c.raiseError(EXC_GP, 0);
    c.adjustSp(3 * size);
    loadCodeSegment(c, selector, d, rpl);
    c.eip = offset;
    c.setFlags(newFlags, mask);
    return;
  }
  // Return to an outer level.
  const newSp = read(3 * size);
  const newSs = read(4 * size) & 0xffff;
  if ((newSs & 0xfffc) === 0) c.raiseError(EXC_GP, 0);
  loadDescriptor(c, newSs, stackDesc, EXC_GP);
  if ((newSs & 3) !== rpl || stackDesc.dpl !== rpl || !stackDesc.isWritableData) {
    c.raiseError(EXC_GP, newSs & 0xfffc);
  }
  if (!stackDesc.present) c.raiseError(EXC_SS, newSs & 0xfffc);
  if (offset >>> 0 > d.limit) c.raiseError(EXC_GP, 0);
  c.setFlags(newFlags, mask);
  loadCodeSegment(c, selector, d, rpl);
  c.eip = offset;
  markAccessed(c, stackDesc);
  setSegmentCache(c, SS, newSs, stackDesc);
  if (c.stackSize32) c.reg32[ESP] = newSp;
  else c.reg16[ESP << 1] = newSp;
  invalidateSegmentsForCpl(c);
}

// ======================================================================================================
// Task switching (SDM Vol. 3A 7.3)
// ======================================================================================================

/** JMP/CALL to a task gate or TSS descriptor `d` (already privilege-checked). */
function taskSwitchThrough(c: Cpu, selector: number, d: Descriptor, how: number, ext: number): void {
  if (d.type === SYS_TASK_GATE) {
    const tssSelector = d.gateSelector;
    const tss = scratch(c).b;
    if (tssSelector & 4) c.raiseError(EXC_GP, tssSelector & 0xfffc);
    loadDescriptor(c, tssSelector, tss, EXC_GP);
    taskSwitch(c, tssSelector, tss, how, ext);
    return;
  }
  taskSwitch(c, selector, d, how, ext);
}

/** Switches to the task whose TSS descriptor is `d` (selector `selector`). */
function taskSwitch(c: Cpu, selector: number, d: Descriptor, how: number, ext: number): void {
  const type = d.isSystem ? d.type : -1;
  const wantBusy = how === SWITCH_IRET;
  const valid = wantBusy
    ? type === SYS_TSS16_BUSY || type === SYS_TSS32_BUSY
    : type === SYS_TSS16_AVAILABLE || type === SYS_TSS32_AVAILABLE;
  if (!valid) c.raiseError(how === SWITCH_IRET ? EXC_TS : EXC_GP, (selector & 0xfffc) | ext);
  if (!d.present) c.raiseError(EXC_NP, (selector & 0xfffc) | ext);
  const is32 = (type & 8) !== 0;
  const newBase = d.base;
  const newLimit = d.limit;
  if (newLimit < (is32 ? 0x67 : 0x2b)) c.raiseError(EXC_TS, (selector & 0xfffc) | ext);

  // Read the whole new TSS first (so a page fault here changes nothing).
  const reg = new Int32Array(8);
  const segs = new Uint16Array(6);
  let newEip: number;
  let newFlags: number;
  let newLdt: number;
  let newCr3 = c.cr3;
  if (is32) {
    newCr3 = readSystem32(c, (newBase + 0x1c) | 0);
    newEip = readSystem32(c, (newBase + 0x20) | 0);
    newFlags = readSystem32(c, (newBase + 0x24) | 0);
    for (let i = 0; i < 8; i++) reg[i] = readSystem32(c, (newBase + 0x28 + i * 4) | 0);
    for (let i = 0; i < 6; i++) segs[i] = readSystem16(c, (newBase + 0x48 + i * 4) | 0);
    newLdt = readSystem16(c, (newBase + 0x60) | 0);
  } else {
    newEip = readSystem16(c, (newBase + 0x0e) | 0);
    newFlags = readSystem16(c, (newBase + 0x10) | 0);
    for (let i = 0; i < 8; i++) reg[i] = readSystem16(c, (newBase + 0x12 + i * 2) | 0) | 0xffff0000;
    for (let i = 0; i < 4; i++) segs[i] = readSystem16(c, (newBase + 0x22 + i * 2) | 0);
    newLdt = readSystem16(c, (newBase + 0x2a) | 0);
  }

  // Save the outgoing task's state into its TSS.
  const oldBase = c.trBase;
  const oldIs32 = (c.trType & 8) !== 0;
  let oldFlags = c.getFlags();
  if (how === SWITCH_IRET) oldFlags &= ~FLAG_NT;
  if (oldIs32) {
    writeSystem32(c, (oldBase + 0x20) | 0, c.eip);
    writeSystem32(c, (oldBase + 0x24) | 0, oldFlags);
    for (let i = 0; i < 8; i++) writeSystem32(c, (oldBase + 0x28 + i * 4) | 0, c.reg32[i]);
    for (let i = 0; i < 6; i++) writeSystem16(c, (oldBase + 0x48 + i * 4) | 0, c.sreg[i]);
  } else {
    writeSystem16(c, (oldBase + 0x0e) | 0, c.eip);
    writeSystem16(c, (oldBase + 0x10) | 0, oldFlags);
    for (let i = 0; i < 8; i++) writeSystem16(c, (oldBase + 0x12 + i * 2) | 0, c.reg32[i]);
    for (let i = 0; i < 4; i++) writeSystem16(c, (oldBase + 0x22 + i * 2) | 0, c.sreg[i]);
  }

  // Busy bits and the back link.
  const old = scratch(c).c;
  if (how !== SWITCH_CALL && fetchDescriptor(c, c.trSelector, old)) {
    old.hi &= ~(2 << 8);
    writeSystem32(c, (old.address + 4) | 0, old.hi);
  }
  if (how === SWITCH_CALL) {
    writeSystem16(c, newBase, c.trSelector);
    newFlags |= FLAG_NT;
  }
  if (how !== SWITCH_IRET) {
    d.hi |= 2 << 8;
    writeSystem32(c, (d.address + 4) | 0, d.hi);
  }

  // Load the new task register and the new state.
  c.trSelector = selector;
  c.trBase = newBase;
  c.trLimit = newLimit;
  c.trType = (d.type | 2) & 0xf;
  c.cr0 |= CR0_TS;
  if (is32 && c.cr0 & CR0_PG) {
    c.cr3 = newCr3;
    c.mmu.flush(false);
  }
  for (let i = 0; i < 8; i++) {
    if (is32) c.reg32[i] = reg[i];
    else c.reg16[i << 1] = reg[i];
  }
  c.flags = 2;
  c.lazyFlags = 0;
  c.setFlags(newFlags, is32 ? FLAGS_WRITABLE : 0xffff);
  c.eip = is32 ? newEip : newEip & 0xffff;
  // Segment selectors first (so the task's state is complete even if a check below faults in it).
  for (let i = 0; i < 6; i++) c.sreg[i] = segs[i];
  if (c.flags & FLAG_VM) {
    c.cpl = 3;
    for (let i = 0; i < 6; i++) c.setSegmentReal(i, segs[i]);
    loadLdtChecked(c, newLdt, EXC_TS);
    return;
  }
  c.cpl = segs[CS] & 3;
  loadLdtChecked(c, newLdt, EXC_TS);
  // CS: must be a code segment at the new CPL.
  const code = scratch(c).a;
  if ((segs[CS] & 0xfffc) === 0) c.raiseError(EXC_TS, 0);
  loadDescriptor(c, segs[CS], code, EXC_TS);
  if (!code.isCode || (code.isConforming ? code.dpl > c.cpl : code.dpl !== c.cpl)) {
    c.raiseError(EXC_TS, segs[CS] & 0xfffc);
  }
  if (!code.present) c.raiseError(EXC_NP, segs[CS] & 0xfffc);
  loadCodeSegment(c, segs[CS], code, c.cpl);
  loadSegmentChecked(c, SS, segs[SS], EXC_TS, c.cpl);
  for (const seg of [ES, DS, FS, GS]) loadSegmentChecked(c, seg, segs[seg], EXC_TS, c.cpl);
}

// ======================================================================================================
// LLDT, LTR, LAR, LSL, VERR, VERW, ARPL
// ======================================================================================================

function loadLdtChecked(c: Cpu, selector: number, vector: number): void {
  if ((selector & 0xfffc) === 0) {
    c.ldtrSelector = selector;
    c.ldtrBase = 0;
    c.ldtrLimit = 0;
    return;
  }
  const d = scratch(c).c;
  if (selector & 4) c.raiseError(vector, selector & 0xfffc);
  loadDescriptor(c, selector, d, vector);
  if (!d.isSystem || d.type !== SYS_LDT) c.raiseError(vector, selector & 0xfffc);
  if (!d.present) c.raiseError(vector === EXC_TS ? EXC_TS : EXC_NP, selector & 0xfffc);
  c.ldtrSelector = selector;
  c.ldtrBase = d.base;
  c.ldtrLimit = d.limit;
}

export function loadLdt(c: Cpu, selector: number): void {
  loadLdtChecked(c, selector, EXC_GP);
}

export function loadTaskRegister(c: Cpu, selector: number): void {
  if ((selector & 0xfffc) === 0) c.raiseError(EXC_GP, 0);
  const d = scratch(c).c;
  if (selector & 4) c.raiseError(EXC_GP, selector & 0xfffc);
  loadDescriptor(c, selector, d, EXC_GP);
  if (!d.isSystem || (d.type !== SYS_TSS16_AVAILABLE && d.type !== SYS_TSS32_AVAILABLE)) {
    c.raiseError(EXC_GP, selector & 0xfffc);
  }
  if (!d.present) c.raiseError(EXC_NP, selector & 0xfffc);
  d.hi |= 2 << 8; // busy
  writeSystem32(c, (d.address + 4) | 0, d.hi);
  c.trSelector = selector;
  c.trBase = d.base;
  c.trLimit = d.limit;
  c.trType = d.type | 2;
}

/** Whether descriptor `d` is visible at the current CPL through `selector` (non-conforming rule). */
function visible(c: Cpu, selector: number, d: Descriptor): boolean {
  if (d.isConforming) return true;
  return d.dpl >= c.cpl && d.dpl >= (selector & 3);
}

function setZf(c: Cpu, on: boolean): void {
  c.setFlags(on ? 0x40 : 0, 0x40);
}

/** LAR (`limit` false) and LSL (`limit` true): ZF = 1 and the destination loaded when valid and visible. */
export function loadAccessRights(c: Cpu, selector: number, limit: boolean): void {
  const d = scratch(c).c;
  if ((selector & 0xfffc) === 0 || !fetchDescriptor(c, selector, d)) {
    setZf(c, false);
    return;
  }
  let ok = visible(c, selector, d);
  if (d.isSystem) {
    const t = d.type;
    const larTypes = [1, 2, 3, 4, 5, 9, 11, 12];
    const lslTypes = [1, 2, 3, 9, 11];
    if (!(limit ? lslTypes : larTypes).includes(t)) ok = false;
  }
  if (!ok) {
    setZf(c, false);
    return;
  }
  const reg = (c.modrm >> 3) & 7;
  const value = limit ? d.limit : d.hi & 0x00ffff00;
  if (c.opsize32) c.reg32[reg] = value;
  else c.reg16[reg << 1] = value;
  setZf(c, true);
}

/** VERR / VERW: ZF = 1 when the segment is readable / writable at the current CPL and selector RPL. */
export function verify(c: Cpu, selector: number, write: boolean): void {
  const d = scratch(c).c;
  if ((selector & 0xfffc) === 0 || !fetchDescriptor(c, selector, d) || d.isSystem) {
    setZf(c, false);
    return;
  }
  const ok = visible(c, selector, d) && (write ? d.isWritableData : d.isReadable);
  setZf(c, ok);
}

/** ARPL r/m16, r16: raise the RPL of the destination selector to that of the source. */
export function adjustRpl(c: Cpu): void {
  const dst = c.readRm16();
  const src = c.reg16[((c.modrm >> 3) & 7) << 1];
  if ((dst & 3) < (src & 3)) {
    c.writeRm16((dst & ~3) | (src & 3));
    setZf(c, true);
  } else {
    setZf(c, false);
  }
}

// ======================================================================================================
// I/O permission (SDM Vol. 1 18.5)
// ======================================================================================================

/** Raises #GP(0) unless the current task may access `size` ports from `port`. */
export function checkIoPermission(c: Cpu, port: number, size: number): void {
  if (!(c.cr0 & CR0_PE)) return;
  const vm = (c.flags & FLAG_VM) !== 0;
  if (!vm && c.cpl <= (c.flags & FLAG_IOPL) >> 12) return;
  // Consult the I/O permission bitmap of a 32-bit TSS.
  if ((c.trType & 8) === 0 || c.trLimit < 0x67) c.raiseError(EXC_GP, 0);
  const mapBase = readSystem16(c, (c.trBase + 0x66) | 0);
  const byteOffset = mapBase + (port >>> 3);
  if (byteOffset + 1 > c.trLimit) c.raiseError(EXC_GP, 0);
  const bits = readSystem16(c, (c.trBase + byteOffset) | 0);
  const mask = ((1 << size) - 1) << (port & 7);
  if (bits & mask) c.raiseError(EXC_GP, 0);
}

// ======================================================================================================
// SYSENTER / SYSEXIT (SDM Vol. 2B)
// ======================================================================================================

/** Loads a flat 4 GiB segment as SYSENTER/SYSEXIT do: fixed attributes, no descriptor read. */
function setFlatSegment(c: Cpu, seg: number, selector: number, code: boolean, dpl: number): void {
  c.sreg[seg] = selector;
  c.segBase[seg] = 0;
  c.segLimit[seg] = 0xffffffff;
  c.segAccess[seg] = (code ? 0x9b : 0x93) | (dpl << 5);
  c.segBig[seg] = 1;
  c.segFlags[seg] = code ? SEGF_NOT_WRITABLE : 0;
  if (seg === CS) {
    c.codeSize32 = 1;
    c.decodedLinear = 1;
  } else if (seg === SS) c.stackSize32 = 1;
}

export function sysenter(c: Cpu): void {
  if (!(c.cr0 & CR0_PE) || (c.sysenterCs & 0xfffc) === 0) c.raiseError(EXC_GP, 0);
  c.flags &= ~(FLAG_VM | FLAG_IF | FLAG_RF);
  c.cpl = 0;
  setFlatSegment(c, CS, c.sysenterCs & 0xfffc, true, 0);
  setFlatSegment(c, SS, (c.sysenterCs + 8) & 0xfffc, false, 0);
  c.reg32[ESP] = c.sysenterEsp;
  c.eip = c.sysenterEip;
}

export function sysexit(c: Cpu): void {
  if (!(c.cr0 & CR0_PE) || c.flags & FLAG_VM || c.cpl !== 0 || (c.sysenterCs & 0xfffc) === 0) {
    c.raiseError(EXC_GP, 0);
  }
  c.cpl = 3;
  setFlatSegment(c, CS, ((c.sysenterCs + 16) & 0xfffc) | 3, true, 3);
  setFlatSegment(c, SS, ((c.sysenterCs + 24) & 0xfffc) | 3, false, 3);
  c.reg32[ESP] = c.reg32[1]; // ECX
  c.eip = c.reg32[2]; // EDX
}

/**
 * Loads a segment register straight from the GDT/LDT with no privilege checks, as firmware and boot loaders
 * need when they hand over a machine already in protected mode. Throws a host Error for a bad selector.
 */
export function loadSegmentForBoot(c: Cpu, seg: number, selector: number): void {
  const d = scratch(c).c;
  if (!fetchDescriptor(c, selector, d) || d.isSystem || !d.present) {
    throw new Error(`boot: selector ${selector.toString(16)} is not a present code/data descriptor`);
  }
  setSegmentCache(c, seg, selector, d);
  if (seg === CS) c.cpl = selector & 3;
}
