/**
 * The interpreter's decoded-instruction cache: decode once, run many times.
 *
 * Each instruction the interpreter meets in 32-bit code is decoded once (jit/decoder.ts: prefixes, opcode,
 * ModRM/SIB, displacement, immediate; Intel SDM Vol. 2, ch. 2) into a fixed-size record, found again by
 * the physical address of its first byte through a per-page slot map. The commonest forms (MOV, the ALU
 * operations, LEA, MOVZX/MOVSX, shifts, INC/DEC, PUSH/POP, Jcc/JMP/CALL/RET, IMUL, NOT/NEG/MUL/DIV; register,
 * immediate and 32-bit memory operands; see the K_ constants) run from their record without touching the
 * instruction bytes again; every other instruction's record says "generic" and Cpu.stepUnchecked decodes
 * and runs it as before. The forms run here call the same helpers as the opcode handlers (ops/), so flags,
 * faults and the order of memory accesses are the handlers'.
 *
 * Self-modifying code: a page with a slot map is a code page (PhysicalMemory.codePages, bit
 * CODE_PAGE_DECODED), which the MMU gives no fast-path write rights, so every write to it, through any linear
 * alias, by DMA or a loader, reaches codeWritten(), which forgets the records whose bytes it overlaps. An
 * instruction that rewrites the next one is therefore followed by a fresh decode of the new bytes (SDM Vol.
 * 3A, 8.1.3). Writers that reach the RAM array directly bump PhysicalMemory.writeGeneration; a change of it
 * drops the whole cache (checked before every run and after every instruction run generically, the only
 * ones that reach devices).
 *
 * Records are made only for 32-bit code segments that are flat (limit 4 GiB), without TF or debug
 * breakpoints: what the record's form depends on is then the bytes alone (16-bit code keeps the generic
 * path: its default sizes differ and IP wraps).
 */
import type { Cpu } from './cpu.ts';
import {
  ALU_ADD,
  ALU_AND,
  ALU_CMP,
  ALU_OR,
  ALU_SUB,
  ALU_XOR,
  CS,
  DS,
  EAX,
  ECX,
  EDX,
  ESP,
  SS,
} from './constants.ts';
import { reg8Index } from './reg8.ts';
import {
  ARITH_FLAGS,
  FLAG_AF,
  FLAG_CF,
  FLAG_OF,
  FLAG_PF,
  FLAG_SF,
  FLAG_ZF,
  getZF,
  OP_ADD,
  OP_LOGIC,
  OP_SUB,
  setLazy,
  conditionBit,
} from './flags.ts';
import { TLB_PHYS } from './paging.ts';
import { decode, type Insn } from './jit/decoder.ts';
import { BUDGET_MAX } from './jit/tuning.ts';
import { alu, aluRm8, aluRmV, group3Ev32, imulTruncated32, incDecFlags } from './ops/arith.ts';
import { escapeDecoded } from './ops/x87.ts';
import { shiftCompute, shiftFlags } from './ops/shift.ts';
import { leave } from './ops/stack.ts';
import { stringOnce32 } from './ops/string.ts';
import { CODE_PAGE_DECODED } from './memory.ts';
import { doubleCounters } from './counters.ts';
import {
  STRIDE,
  F_KIND,
  F_LENGTH,
  F_REG,
  F_RM,
  F_INDEX,
  F_PACKED,
  F_DISP,
  F_IMM,
  RECORD_SHIFT,
  MAX_RECORDS,
  MAX_PAGES,
  MAP_BASE,
  GENERIC_INDEX,
  K_GENERIC,
  K_NOP,
  K_MOV_RR,
  K_MOV_RI,
  K_LOAD32,
  K_STORE32,
  K_LOAD8,
  K_STORE8,
  K_MOV_MI,
  K_MOV_MI8,
  K_LEA,
  K_ALU_RR,
  K_ALU_RI,
  K_ALU_RM,
  K_ALU_MR,
  K_ALU_MI,
  K_ALU8_RI,
  K_ALU8_RR,
  K_ALU8_RM,
  K_ALU8_MR,
  K_ALU8_MI,
  K_TEST8_RR,
  K_MOV8_RR,
  K_MOV8_RI,
  K_X87,
  K_TEST_RR,
  K_INC,
  K_DEC,
  K_PUSH,
  K_POP,
  K_JCC,
  K_JMP,
  K_CALL,
  K_RET,
  K_SHIFT_RI,
  K_SHIFT_RCL,
  K_MOVZX8_R,
  K_MOVZX16_R,
  K_MOVSX8_R,
  K_MOVSX16_R,
  K_MOVZX8_M,
  K_MOVZX16_M,
  K_MOVSX8_M,
  K_MOVSX16_M,
  K_IMUL_RR,
  K_IMUL_RM,
  K_GROUP3_R,
  K_GROUP3_M,
  K_INCDEC_M,
  K_MOV16_RR,
  K_LOAD16,
  K_STORE16,
  K_SHIFT16_RI,
  K_SETCC_R,
  K_SETCC_M,
  K_CMOV_RR,
  K_CMOV_RM,
  K_TEST_RI,
  K_TEST_MI,
  K_TEST8_RI,
  K_TEST8_MI,
  K_LEAVE,
  K_PUSH_I,
  K_PUSH_M,
  K_LOOP,
  K_JMP_R,
  K_JMP_M,
  K_CALL_R,
  K_CALL_M,
  K_IMUL3_R,
  K_IMUL3_M,
  K_XCHG_RR,
  K_XCHG_M,
  K_CWDE,
  K_CDQ,
  K_STRING,
} from './decoded-format.ts';

export class DecodedCache {
  /** Whether Cpu.stepDecoded uses the cache (off: every instruction decoded as it runs, for comparison). */
  get enabled(): boolean {
    return this.enabledFlag;
  }
  set enabled(on: boolean) {
    this.enabledFlag = on;
    this.cpu.decodedLinear = 1;
  }
  private enabledFlag = true;
  /**
   * The records, STRIDE fields each (record 0 is unused, record 1 is the shared generic one), then the slot
   * maps of MAX_PAGES pages: per page, the record index by offset in the page (0: not decoded). One array,
   * so that runRecords' dispatch checks and loads one typed array, not two.
   */
  readonly records = new Int32Array(MAP_BASE + MAX_PAGES * 4096);
  /** Per RAM page: where its slot map starts in `records`, or 0 (none). */
  readonly maps: Int32Array;
  /**
   * Per slot map, 128 bits: which 32-byte chunks of the page have an entry (a record or a generic verdict),
   * so that a write to data beside code (a variable on a code page) is let through without a scan.
   */
  private readonly chunks = new Int32Array(MAX_PAGES * 4);
  /** PhysicalMemory.writeGeneration the records were made under. */
  generation: number;
  /** Instructions decoded, whole-cache drops, records dropped by writes, writes that reached a mapped page. */
  readonly stats = doubleCounters({ decoded: 0, flushes: 0, invalidated: 0, writes: 0 });
  private recordCount = 2;
  private readonly mappedPages = new Int32Array(MAX_PAGES);
  private mappedCount = 0;

  constructor(private readonly cpu: Cpu) {
    const memory = cpu.memory;
    this.maps = new Int32Array(memory.codePages.length);
    this.generation = memory.writeGeneration;
    this.records[GENERIC_INDEX * STRIDE + F_KIND] = K_GENERIC;
    memory.onCodeWrite((address, length) => this.codeWritten(address, length));
  }

  /** Drops every record (the cache is full, or RAM changed behind its back). */
  flush(): void {
    this.generation = this.cpu.memory.writeGeneration;
    if (this.mappedCount === 0 && this.recordCount === 2) return;
    this.stats.flushes++;
    const codePages = this.cpu.memory.codePages;
    for (let i = 0; i < this.mappedCount; i++) {
      const page = this.mappedPages[i];
      this.maps[page] = 0;
      codePages[page] &= ~CODE_PAGE_DECODED;
    }
    this.mappedCount = 0;
    this.recordCount = 2;
    this.cpu.decodedLinear = 1;
  }

  /**
   * Where the slot map of the RAM page holding physical `phys` starts in `records`, the map made (and the
   * page protected) if need be.
   */
  mapFor(phys: number): number {
    const map = this.maps[phys >>> 12];
    if (map !== 0) return map;
    if (this.mappedCount >= MAX_PAGES) this.flush();
    return this.mapPage(phys >>> 12);
  }

  /**
   * Decodes the instruction at physical `phys` (CS:EIP = `eip`, 32-bit code), files its record in the slot
   * map of its page (at `map` in `records`) and returns the record's index.
   */
  decodeAt(map: number, phys: number, eip: number): number {
    if (this.recordCount >= MAX_RECORDS) {
      this.flush();
      map = this.mapPage(phys >>> 12);
    }
    this.stats.decoded++;
    const insn = decode(this.cpu.ram, phys, (phys | 0xfff) + 1, eip, 1);
    let index = GENERIC_INDEX;
    if (insn !== null && classify(insn, this.records, this.recordCount * STRIDE) !== K_GENERIC) {
      index = this.recordCount++;
    }
    this.records[map + (phys & 0xfff)] = index;
    this.chunks[((map - MAP_BASE) >> 10) | ((phys >> 10) & 3)] |= 1 << ((phys >> 5) & 31);
    return index;
  }

  private mapPage(page: number): number {
    const map = MAP_BASE + this.mappedCount * 4096;
    this.records.fill(0, map, map + 4096);
    this.chunks.fill(0, (map - MAP_BASE) >> 10, ((map - MAP_BASE) >> 10) + 4);
    this.maps[page] = map;
    this.mappedPages[this.mappedCount++] = page;
    const memory = this.cpu.memory;
    if (memory.codePages[page] === 0) this.cpu.mmu.protectCodePage(page);
    memory.codePages[page] |= CODE_PAGE_DECODED;
    return map;
  }

  /** A write of `length` bytes at physical `address` hit a code page: forgets the records it overlaps. */
  private codeWritten(address: number, length: number): void {
    const map = this.maps[address >>> 12];
    if (map === 0) return;
    this.stats.writes++;
    const offset = address & 0xfff;
    // An instruction is at most 15 bytes long: only those starting up to 14 bytes before can overlap.
    const first = offset > 14 ? offset - 14 : 0;
    const last = Math.min(offset + length - 1, 0xfff);
    // Nothing to drop when no entry starts in the (at most two) 32-byte chunks those bytes lie in.
    const words = (map - MAP_BASE) >> 10;
    const chunks = this.chunks;
    if (
      (chunks[words | (first >> 10)] & (1 << ((first >> 5) & 31))) === 0 &&
      (chunks[words | (last >> 10)] & (1 << ((last >> 5) & 31))) === 0
    ) {
      return;
    }
    const records = this.records;
    for (let s = first, end = offset + length; s < end; s++) {
      const index = records[map + s];
      if (index === 0) continue;
      // Generic verdicts carry no length: forget them all (a fresh decode costs little).
      if (index === GENERIC_INDEX || s + records[index * STRIDE + F_LENGTH] > offset) {
        records[map + s] = 0;
        this.stats.invalidated++;
      }
    }
  }
}

/** Fills the record at `p` for `insn` and returns its form (K_GENERIC: not one runRecords runs). */
function classify(insn: Insn, rec: Int32Array, p: number): number {
  const kind = form(insn);
  if (kind === K_GENERIC) return kind;
  const modrm = insn.modrm;
  const mem = modrm >= 0 && modrm < 0xc0;
  rec[p + F_KIND] = kind;
  rec[p + F_LENGTH] = insn.next - insn.start;
  rec[p + F_REG] = modrm >= 0 ? (modrm >> 3) & 7 : insn.op & 7;
  rec[p + F_RM] = mem ? insn.base : modrm >= 0 ? modrm & 7 : -1;
  rec[p + F_INDEX] = mem ? insn.index : -1;
  rec[p + F_PACKED] = insn.scale | (insn.eaSeg << 4);
  rec[p + F_DISP] = insn.disp;
  rec[p + F_IMM] = insn.imm;
  const op = insn.op;
  // Operand fix-ups per form: which register is the destination, the operation, immediates' sign.
  const regField = (modrm >> 3) & 7;
  if (op < 0x40) {
    rec[p + F_PACKED] |= ((op >> 3) & 7) << 8;
    const direction = op & 7;
    if (kind === K_ALU_RR && direction === 1) {
      // op r/m, r: the r/m register is the destination.
      rec[p + F_REG] = modrm & 7;
      rec[p + F_RM] = regField;
    } else if (kind === K_ALU_RI) {
      rec[p + F_REG] = EAX;
    } else if (kind === K_ALU8_RR) {
      const rm8 = reg8Index(modrm & 7);
      const reg8 = reg8Index(regField);
      rec[p + F_REG] = direction === 0 ? rm8 : reg8;
      rec[p + F_RM] = direction === 0 ? reg8 : rm8;
    } else if (kind === K_ALU8_RM || kind === K_ALU8_MR) {
      rec[p + F_REG] = reg8Index(regField);
    } else if (kind === K_ALU8_RI) {
      rec[p + F_REG] = 0; // AL
    }
  } else if (op === 0x80 || op === 0x82) {
    rec[p + F_PACKED] |= regField << 8;
    if (kind === K_ALU8_RI) rec[p + F_REG] = reg8Index(modrm & 7);
  } else if (op === 0x84) {
    rec[p + F_REG] = reg8Index(regField);
    rec[p + F_RM] = reg8Index(modrm & 7);
  } else if ((op === 0x88 || op === 0x8a) && kind === K_MOV8_RR) {
    rec[p + F_REG] = reg8Index(op === 0x88 ? modrm & 7 : regField);
    rec[p + F_RM] = reg8Index(op === 0x88 ? regField : modrm & 7);
  } else if (op >= 0xb0 && op <= 0xb7) {
    rec[p + F_REG] = reg8Index(op & 7);
  } else if (op >= 0xd8 && op <= 0xdf) {
    rec[p + F_REG] = op;
    rec[p + F_IMM] = modrm;
  } else if (op === 0x81 || op === 0x83) {
    rec[p + F_PACKED] |= ((modrm >> 3) & 7) << 8;
    if (op === 0x83) rec[p + F_IMM] = (insn.imm << 24) >> 24;
    if (kind === K_ALU_RI) rec[p + F_REG] = modrm & 7;
  } else if (op === 0x89 && (kind === K_MOV_RR || kind === K_MOV16_RR)) {
    rec[p + F_REG] = modrm & 7;
    rec[p + F_RM] = (modrm >> 3) & 7;
  } else if (op === 0x88 || op === 0x8a) {
    rec[p + F_REG] = reg8Index((modrm >> 3) & 7);
  } else if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) {
    rec[p + F_PACKED] = (op & 15) << 8;
    if (op < 0x80) rec[p + F_IMM] = (insn.imm << 24) >> 24;
  } else if (op === 0xeb) {
    rec[p + F_IMM] = (insn.imm << 24) >> 24;
  } else if (op === 0xa1 || op === 0xa3) {
    rec[p + F_REG] = EAX;
    rec[p + F_RM] = -1;
    rec[p + F_INDEX] = -1;
    rec[p + F_DISP] = insn.imm;
    rec[p + F_PACKED] = (insn.seg >= 0 ? insn.seg : DS) << 4;
  } else if (op === 0xc1 || op === 0xd1 || op === 0xd3) {
    rec[p + F_PACKED] = ((modrm >> 3) & 7) << 8;
    rec[p + F_IMM] = op === 0xd1 ? 1 : insn.imm & 0x1f;
  } else if (op === 0x1b6 || op === 0x1be) {
    if (!mem) rec[p + F_RM] = reg8Index(modrm & 7);
  } else if (op >= 0x190 && op <= 0x19f) {
    rec[p + F_PACKED] |= (op & 15) << 8;
    if (!mem) rec[p + F_RM] = reg8Index(modrm & 7);
  } else if (op >= 0x140 && op <= 0x14f) {
    rec[p + F_PACKED] |= (op & 15) << 8;
  } else if (op === 0xf6) {
    if (!mem) rec[p + F_RM] = reg8Index(modrm & 7);
  } else if (op === 0x6a || op === 0x6b) {
    rec[p + F_IMM] = (insn.imm << 24) >> 24;
  } else if (op >= 0xe0 && op <= 0xe3) {
    rec[p + F_REG] = op;
    rec[p + F_IMM] = (insn.imm << 24) >> 24;
  } else if (op >= 0x91 && op <= 0x97) {
    rec[p + F_REG] = EAX;
    rec[p + F_RM] = op & 7;
  } else if (op >= 0xa4 && op <= 0xaf) {
    rec[p + F_REG] = op;
    rec[p + F_IMM] = op & 1 ? 4 : 1;
    rec[p + F_DISP] = insn.seg;
  }
  return kind;
}

/** The form runRecords runs `insn` in, or K_GENERIC. */
function form(insn: Insn): number {
  const op = insn.op;
  // PAUSE (F3 90) is a NOP (a spin-loop hint).
  if (op === 0x90 && insn.rep === 0xf3 && insn.lock === 0) return K_NOP;
  // 32-bit addresses, no REP/LOCK, 32-bit operands or one of the word forms: anything else goes the generic
  // way.
  if (insn.a32 !== 1 || insn.rep !== 0 || insn.lock !== 0) return K_GENERIC;
  const modrm = insn.modrm;
  const reg = (modrm >> 3) & 7;
  const mem = modrm >= 0 && modrm < 0xc0;
  if (insn.o32 !== 1) {
    // The word forms a kernel's decompressor runs (16-bit probabilities: loads, stores, shifts).
    if (op === 0x89 || op === 0x8b) return mem ? (op === 0x89 ? K_STORE16 : K_LOAD16) : K_MOV16_RR;
    if (op === 0xc1 || op === 0xd1) return mem ? K_GENERIC : K_SHIFT16_RI;
    return op === 0x90 ? K_NOP : K_GENERIC;
  }
  if (op < 0x40) {
    switch (op & 7) {
      case 0:
        return mem ? K_ALU8_MR : K_ALU8_RR;
      case 2:
        return mem ? K_ALU8_RM : K_ALU8_RR;
      case 1:
        return mem ? K_ALU_MR : K_ALU_RR;
      case 3:
        return mem ? K_ALU_RM : K_ALU_RR;
      case 4:
        return K_ALU8_RI;
      case 5:
        return K_ALU_RI;
      default:
        return K_GENERIC;
    }
  }
  if (op >= 0x40 && op <= 0x47) return K_INC;
  if (op >= 0x48 && op <= 0x4f) return K_DEC;
  if (op >= 0x50 && op <= 0x57) return K_PUSH;
  if (op >= 0x58 && op <= 0x5f) return K_POP;
  if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) return K_JCC;
  if (op >= 0xb8 && op <= 0xbf) return K_MOV_RI;
  if (op >= 0xb0 && op <= 0xb7) return K_MOV8_RI;
  if (op >= 0xd8 && op <= 0xdf) return K_X87;
  if (op >= 0x190 && op <= 0x19f) return mem ? K_SETCC_M : K_SETCC_R;
  if (op >= 0x140 && op <= 0x14f) return mem ? K_CMOV_RM : K_CMOV_RR;
  switch (op) {
    case 0x80:
    case 0x82:
      return mem ? K_ALU8_MI : K_ALU8_RI;
    case 0x84:
      return mem ? K_GENERIC : K_TEST8_RR;
    case 0x81:
    case 0x83:
      return mem ? K_ALU_MI : K_ALU_RI;
    case 0x85:
      return mem ? K_GENERIC : K_TEST_RR;
    case 0x88:
      return mem ? K_STORE8 : K_MOV8_RR;
    case 0x8a:
      return mem ? K_LOAD8 : K_MOV8_RR;
    case 0x89:
      return mem ? K_STORE32 : K_MOV_RR;
    case 0x8b:
      return mem ? K_LOAD32 : K_MOV_RR;
    case 0x8d:
      return mem ? K_LEA : K_GENERIC; // LEA with a register operand is #UD
    case 0x90:
      return K_NOP;
    case 0xa1:
      return K_LOAD32;
    case 0xa3:
      return K_STORE32;
    case 0xc1:
    case 0xd1:
      return mem ? K_GENERIC : K_SHIFT_RI;
    case 0xd3:
      return mem ? K_GENERIC : K_SHIFT_RCL;
    case 0xc3:
      return K_RET;
    case 0xc6:
      return mem && reg === 0 ? K_MOV_MI8 : K_GENERIC;
    case 0xc7:
      return mem && reg === 0 ? K_MOV_MI : K_GENERIC;
    case 0xe8:
      return K_CALL;
    case 0xff:
      if (reg === 2) return mem ? K_CALL_M : K_CALL_R;
      if (reg === 4) return mem ? K_JMP_M : K_JMP_R;
      return mem && reg < 2 ? K_INCDEC_M : mem && reg === 6 ? K_PUSH_M : K_GENERIC;
    case 0xe0:
    case 0xe1:
    case 0xe2:
    case 0xe3:
      return K_LOOP;
    case 0x69:
    case 0x6b:
      return mem ? K_IMUL3_M : K_IMUL3_R;
    case 0x87:
      return mem ? K_XCHG_M : K_XCHG_RR;
    case 0x91:
    case 0x92:
    case 0x93:
    case 0x94:
    case 0x95:
    case 0x96:
    case 0x97:
      return K_XCHG_RR;
    case 0x98:
      return K_CWDE;
    case 0x99:
      return K_CDQ;
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
      return K_STRING;
    case 0xf6:
      return reg < 2 ? (mem ? K_TEST8_MI : K_TEST8_RI) : K_GENERIC;
    case 0xc9:
      return K_LEAVE;
    case 0x68:
    case 0x6a:
      return K_PUSH_I;
    case 0xf7:
      return reg < 2 ? (mem ? K_TEST_MI : K_TEST_RI) : mem ? K_GROUP3_M : K_GROUP3_R;
    case 0xe9:
    case 0xeb:
      return K_JMP;
    case 0x1af:
      return mem ? K_IMUL_RM : K_IMUL_RR;
    case 0x1b6:
      return mem ? K_MOVZX8_M : K_MOVZX8_R;
    case 0x1b7:
      return mem ? K_MOVZX16_M : K_MOVZX16_R;
    case 0x1be:
      return mem ? K_MOVSX8_M : K_MOVSX8_R;
    case 0x1bf:
      return mem ? K_MOVSX16_M : K_MOVSX16_R;
    default:
      return K_GENERIC;
  }
}

/** The offset of the record's memory operand for the current registers. */
function effectiveAddress(r: Int32Array, rec: Int32Array, at: number): number {
  const p = at & (MAX_RECORDS * STRIDE - 1); // no change; the range spares V8 an overflow check per field
  let ea = rec[p + F_DISP];
  const base = rec[p + F_RM];
  if (base >= 0) ea = (ea + r[base]) | 0;
  const index = rec[p + F_INDEX];
  if (index >= 0) ea = (ea + (r[index] << (rec[p + F_PACKED] & 3))) | 0;
  return ea;
}

/**
 * Puts the record's ModRM byte and memory operand into the CPU's decode fields, for the forms that run
 * through an opcode handler's r/m helper (which reads them).
 */
function setModrm(c: Cpu, rec: Int32Array, p: number, modrm: number): void {
  c.modrm = modrm;
  if (modrm < 0xc0) {
    c.ea = effectiveAddress(c.reg32, rec, p);
    c.eaSeg = (rec[p + F_PACKED] >> 4) & 7;
  }
}

/**
 * Runs instructions from their records, from CS:EIP, until `end` instructions have been retired, the CPU
 * halts or the board asks to stop, or the next instruction has no form of its own; returns true in that
 * last case (the caller runs it generically, its EIP is then CS:EIP). The loop is one function, with EIP
 * and the instruction count in locals (stored back at its end and when a fault escapes, as CPU_FAULT with
 * instrStart on the faulting instruction and nothing of it changed): a call per instruction, and the
 * reloads of every field after it, were half of the interpreter's time.
 *
 * The forms cannot change what the run loop checks between instructions (IF, TF, the interrupt shadow,
 * NMI; the halt state only by an x87 form freezing the CPU), so running them back to back takes interrupts
 * at the same instruction boundaries as one at a time would, provided no interrupt check is due before the
 * next instruction (the caller's business).
 */
export function runRecords(c: Cpu, end: number): boolean {
  return runRecordsTo(c, end, STOP_NEVER) === RUN_GENERIC;
}

/**
 * runRecords for the block compiler's cold code (Cpu.runCold): the same, but after an instruction that
 * sends control anywhere but to the next one (a taken jump, a call, a return) the run goes on only where the
 * block compiler has nothing to enter, and counts the arrival as its lookup would (Jit.coldGoesOn); it stops
 * where the compiler may have something (a region, or code whose heat reaches a mark), and the dispatcher
 * looks there. Returns RUN_DONE, RUN_GENERIC (as runRecords' true) or RUN_JUMPED. A return to the
 * dispatcher and its lookup per cold jump was as much again as running the instructions (fork+exec under
 * Linux: 39% of the instructions interpreted, `lookup` 13% of the time).
 */
export function runRecordsCold(c: Cpu, end: number): number {
  return runRecordsTo(c, end, STOP_AT_COMPILED);
}

/** runRecordsUntil's stopAtJump: never, or after a transfer of control to where compiled code may start. */
const STOP_NEVER = 0;
const STOP_AT_COMPILED = 1;

function runRecordsTo(c: Cpu, end: number, stopAtJump: number): number {
  for (;;) {
    const status = runRecordsUntil(c, end, stopAtJump);
    if (status !== RUN_DECODE) return status;
    // CS:EIP is on the decoded page (decodedLinear) but has no entry yet.
    c.decoded.decodeAt(c.decodedMap, c.decodedPhys | ((c.segBase[CS] + c.eip) & 0xfff), c.eip);
  }
}

/** runRecordsUntil ran to `end`, a halt or a stop request. */
export const RUN_DONE = 0;
/** The instruction at CS:EIP has no form of its own. */
export const RUN_GENERIC = 1;
/** The instruction at CS:EIP is not decoded yet (outside the loop, so that V8 does not inline the decoder). */
const RUN_DECODE = 2;
/** With stopAtJump: the last instruction run sent control elsewhere than to the next one. */
export const RUN_JUMPED = 3;

function runRecordsUntil(c: Cpu, end: number, stopAtJump: number): number {
  const r = c.reg32;
  const r8 = c.reg8;
  const rec = c.decodedRecords;
  // CS cannot change while records run (far transfers are generic), nor can the code page's map but by
  // enterDecodedPage, or a flush of the whole cache in decodeAt (which makes decodedLinear say "none").
  const csBase = c.segBase[CS];
  const segBase = c.segBase;
  const segLimit = c.segLimit;
  const segFlags = c.segFlags;
  const mmu = c.mmu;
  const tlb = mmu.tlb;
  const ram = mmu.ram;
  const ram32 = mmu.ram32;
  let page = c.decodedLinear | 0;
  let map = c.decodedMap | 0;
  let eip = c.eip | 0;
  let start = eip;
  // The instructions left to run, counted down as an int32: the CPU's count is a double (past 2^31 in a
  // long run), and comparing it with `end` every instruction kept both boxed.
  const count0 = c.instructionCount;
  const span = end - count0;
  // The board cannot ask to stop, nor the CPU halt, but through generic instructions (I/O, HLT) and the x87
  // form (see the default case): a request already pending stops the loop after one instruction.
  const limit =
    c.stopRequested === true || c.halted === true || span < 1 ? 1 : span > BUDGET_MAX ? BUDGET_MAX : span | 0;
  let left = limit;
  let status = RUN_DONE;
  try {
    run: for (;;) {
      const linear = (csBase + eip) | 0;
      if ((linear & ~0xfff) !== page) {
        if (!c.enterDecodedPage(linear)) {
          status = RUN_GENERIC;
          break;
        }
        page = c.decodedLinear | 0;
        map = c.decodedMap | 0;
      }
      // Maps start at multiples of 4096: | is +, without an overflow check.
      const index = rec[map | (linear & 0xfff)];
      if (index === 0) {
        status = RUN_DECODE;
        break;
      }
      // The mask changes nothing (indexes stay below MAX_RECORDS) but tells V8 the range of p, so that
      // p + F_x needs no overflow check.
      const p = (index & (MAX_RECORDS - 1)) << RECORD_SHIFT;
      start = eip;
      eip = (eip + rec[p + F_LENGTH]) | 0;
      // A transfer of control with stopAtJump leaves this block for the end of the run below.
      jumped: {
        switch (rec[p + F_KIND]) {
          case K_GENERIC:
            status = RUN_GENERIC;
            break run;
          case K_NOP:
            break;
          case K_MOV_RR:
            r[rec[p + F_REG]] = r[rec[p + F_RM]];
            break;
          case K_MOV_RI:
            r[rec[p + F_REG]] = rec[p + F_IMM];
            break;
          // The commonest memory forms with the TLB hit in place: the test of jit/runtime.ts rd32/wr32 (a plain
          // segment whose limit covers the four bytes, a TLB entry with the right, the bytes on one page),
          // written out here because calling those helpers from this loop was 15-25% slower on a memory loop;
          // keep the copies in step. Anything else through the CPU's helpers (faults, walks, code pages, MMIO).
          case K_LOAD32: {
            const seg = (rec[p + F_PACKED] >> 4) & 7;
            const off = effectiveAddress(r, rec, p);
            const lin = (segBase[seg] + off) | 0;
            const e = tlb[lin >>> 12];
            if (
              (e & mmu.readBit) !== 0 &&
              (lin & 0xfff) <= 0xffc &&
              segFlags[seg] === 0 &&
              off >>> 0 <= segLimit[seg] &&
              (segLimit[seg] - off) >>> 0 >= 3
            ) {
              const a = (e & TLB_PHYS) + (lin & 0xfff);
              r[rec[p + F_REG]] =
                (a & 3) === 0
                  ? ram32[a >> 2]
                  : ram[a] | (ram[a + 1] << 8) | (ram[a + 2] << 16) | (ram[a + 3] << 24);
            } else r[rec[p + F_REG]] = c.read32(seg, off);
            break;
          }
          case K_STORE32: {
            const seg = (rec[p + F_PACKED] >> 4) & 7;
            const off = effectiveAddress(r, rec, p);
            const v = r[rec[p + F_REG]];
            const lin = (segBase[seg] + off) | 0;
            const e = tlb[lin >>> 12];
            // Code pages never have the write right in the TLB: writes to them take the helper, which drops
            // the records (and compiled code) they overlap.
            if (
              (e & mmu.writeBit) !== 0 &&
              (lin & 0xfff) <= 0xffc &&
              segFlags[seg] === 0 &&
              off >>> 0 <= segLimit[seg] &&
              (segLimit[seg] - off) >>> 0 >= 3
            ) {
              const a = (e & TLB_PHYS) + (lin & 0xfff);
              if ((a & 3) === 0) ram32[a >> 2] = v;
              else {
                ram[a] = v;
                ram[a + 1] = v >> 8;
                ram[a + 2] = v >> 16;
                ram[a + 3] = v >> 24;
              }
            } else c.write32(seg, off, v);
            break;
          }
          case K_LOAD8:
            r8[rec[p + F_REG]] = c.read8((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
            break;
          case K_STORE8:
            c.write8((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p), r8[rec[p + F_REG]]);
            break;
          case K_MOV_MI:
            c.write32((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p), rec[p + F_IMM]);
            break;
          case K_MOV_MI8:
            c.write8((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p), rec[p + F_IMM] & 0xff);
            break;
          case K_LEA:
            r[rec[p + F_REG]] = effectiveAddress(r, rec, p);
            break;
          case K_ALU_RR:
          case K_ALU_RI: {
            // ADD, SUB, CMP and the logical operations in place, their flags recorded as setLazy records them
            // (alu's aluFlags; a call of alu here was markedly slower on a register loop, V8 not inlining it
            // into this function); ADC and SBB, which read CF, through alu.
            const op = (rec[p + F_PACKED] >> 8) & 7;
            const d = rec[p + F_REG];
            const dst = r[d];
            const src = rec[p + F_KIND] === K_ALU_RR ? r[rec[p + F_RM]] : rec[p + F_IMM];
            let res: number;
            if (op === ALU_ADD || op === ALU_SUB || op === ALU_CMP) {
              res = op === ALU_ADD ? (dst + src) | 0 : (dst - src) | 0;
              c.lazyOp = op === ALU_ADD ? OP_ADD : OP_SUB;
              c.lazyDst = dst;
              c.lazySrc = src;
            } else if (op === ALU_AND || op === ALU_OR || op === ALU_XOR) {
              res = op === ALU_AND ? dst & src : op === ALU_OR ? dst | src : dst ^ src;
              c.lazyOp = OP_LOGIC;
              c.lazyDst = 0;
              c.lazySrc = 0;
            } else {
              r[d] = alu(c, op, 2, dst, src);
              break;
            }
            c.lazySize = 2;
            c.lazyRes = res;
            c.lazyFlags = ARITH_FLAGS;
            if (op !== ALU_CMP) r[d] = res;
            break;
          }
          case K_ALU_RM: {
            const op = (rec[p + F_PACKED] >> 8) & 7;
            const src = c.read32((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
            const d = rec[p + F_REG];
            const res = alu(c, op, 2, r[d], src);
            if (op !== ALU_CMP) r[d] = res;
            break;
          }
          // Memory destinations through the handler's r/m helper (ModRM 0: any memory form; 32-bit operands).
          case K_ALU_MR:
          case K_ALU_MI:
            setModrm(c, rec, p, 0);
            c.opsize32 = 1;
            aluRmV(
              c,
              (rec[p + F_PACKED] >> 8) & 7,
              rec[p + F_KIND] === K_ALU_MR ? r[rec[p + F_REG]] : rec[p + F_IMM],
            );
            break;
          case K_ALU8_RI: {
            const op = (rec[p + F_PACKED] >> 8) & 7;
            const d = rec[p + F_REG];
            const res = alu(c, op, 0, r8[d], rec[p + F_IMM]);
            if (op !== ALU_CMP) r8[d] = res;
            break;
          }
          case K_ALU8_RR: {
            const op = (rec[p + F_PACKED] >> 8) & 7;
            const d = rec[p + F_REG];
            const res = alu(c, op, 0, r8[d], r8[rec[p + F_RM]]);
            if (op !== ALU_CMP) r8[d] = res;
            break;
          }
          case K_ALU8_MR:
          case K_ALU8_MI:
            setModrm(c, rec, p, 0);
            aluRm8(
              c,
              (rec[p + F_PACKED] >> 8) & 7,
              rec[p + F_KIND] === K_ALU8_MR ? r8[rec[p + F_REG]] : rec[p + F_IMM],
            );
            break;
          case K_TEST8_RR:
            setLazy(c, OP_LOGIC, 0, 0, 0, r8[rec[p + F_RM]] & r8[rec[p + F_REG]]);
            break;
          case K_TEST_RR:
            setLazy(c, OP_LOGIC, 2, 0, 0, r[rec[p + F_RM]] & r[rec[p + F_REG]]);
            break;
          case K_INC: {
            const d = rec[p + F_REG];
            const dst = r[d];
            const res = (dst + 1) | 0;
            r[d] = res;
            incDecFlags(c, 2, dst, res, false);
            break;
          }
          case K_DEC: {
            const d = rec[p + F_REG];
            const dst = r[d];
            const res = (dst - 1) | 0;
            r[d] = res;
            incDecFlags(c, 2, dst, res, true);
            break;
          }
          // PUSH, CALL, POP and RET with a 32-bit stack: the TLB hit in place as in K_LOAD32 and K_STORE32 (keep
          // the copies in step); ESP changes only once the access succeeded. A 16-bit stack (SP) takes the
          // CPU's helpers.
          case K_PUSH:
          case K_CALL: {
            const call = rec[p + F_KIND] === K_CALL;
            // PUSH ESP pushes the value before the decrement.
            const v = call ? eip : r[rec[p + F_REG]];
            if (c.stackSize32 !== 0) {
              const sp = (r[ESP] - 4) | 0;
              const lin = (segBase[SS] + sp) | 0;
              const e = tlb[lin >>> 12];
              if (
                (e & mmu.writeBit) !== 0 &&
                (lin & 0xfff) <= 0xffc &&
                segFlags[SS] === 0 &&
                sp >>> 0 <= segLimit[SS] &&
                (segLimit[SS] - sp) >>> 0 >= 3
              ) {
                const a = (e & TLB_PHYS) + (lin & 0xfff);
                if ((a & 3) === 0) ram32[a >> 2] = v;
                else {
                  ram[a] = v;
                  ram[a + 1] = v >> 8;
                  ram[a + 2] = v >> 16;
                  ram[a + 3] = v >> 24;
                }
              } else c.write32(SS, sp, v);
              r[ESP] = sp;
            } else c.push32(v);
            if (call) {
              eip = (eip + rec[p + F_IMM]) | 0;
              if (stopAtJump !== 0) break jumped;
            }
            break;
          }
          case K_POP:
          case K_RET: {
            let v: number;
            if (c.stackSize32 !== 0) {
              const sp = r[ESP];
              const lin = (segBase[SS] + sp) | 0;
              const e = tlb[lin >>> 12];
              if (
                (e & mmu.readBit) !== 0 &&
                (lin & 0xfff) <= 0xffc &&
                segFlags[SS] === 0 &&
                sp >>> 0 <= segLimit[SS] &&
                (segLimit[SS] - sp) >>> 0 >= 3
              ) {
                const a = (e & TLB_PHYS) + (lin & 0xfff);
                v =
                  (a & 3) === 0
                    ? ram32[a >> 2]
                    : ram[a] | (ram[a + 1] << 8) | (ram[a + 2] << 16) | (ram[a + 3] << 24);
              } else v = c.read32(SS, sp) | 0;
              r[ESP] = (sp + 4) | 0;
            } else {
              v = c.read32(SS, c.getSp()) | 0;
              c.adjustSp(4);
            }
            // POP ESP: the value popped, written after the increment.
            if (rec[p + F_KIND] === K_RET) {
              eip = v;
              if (stopAtJump !== 0) break jumped;
            } else r[rec[p + F_REG]] = v;
            break;
          }
          // Branch targets need no CS limit check: records run only while CS is flat (limit 4 GiB).
          case K_JCC:
            if (conditionBit(c, (rec[p + F_PACKED] >> 8) & 15) !== 0) {
              eip = (eip + rec[p + F_IMM]) | 0;
              if (stopAtJump !== 0) break jumped;
            }
            break;
          case K_JMP:
            eip = (eip + rec[p + F_IMM]) | 0;
            if (stopAtJump !== 0) break jumped;
            break;
          case K_SHIFT_RI:
          case K_SHIFT_RCL: {
            const count = rec[p + F_KIND] === K_SHIFT_RI ? rec[p + F_IMM] : r[ECX] & 0x1f;
            if (count === 0) break;
            const op = (rec[p + F_PACKED] >> 8) & 7;
            const d = rec[p + F_RM];
            const dst = r[d];
            if (op < 4) {
              // Rotates (RCL and RCR read CF) through the helpers.
              const res = shiftCompute(c, op, 2, dst, count);
              r[d] = res;
              shiftFlags(c, op, 2, res);
              break;
            }
            // SHL (/4, /6), SHR, SAR by 1-31 in place: the values of ops/shift.ts shiftCompute for 32 bits
            // (OF as it computes it for any count), flags recorded as shiftFlags' setResultFlags records them;
            // calling the helpers was 7% of the bench guest. Keep the copies in step.
            let res: number;
            let cf: number;
            let of: number;
            if (op === 5) {
              res = dst >>> count;
              cf = (dst >>> (count - 1)) & 1;
              of = count === 1 ? dst >>> 31 : 0;
            } else if (op === 7) {
              res = dst >> count;
              cf = (dst >> (count - 1)) & 1;
              of = 0;
            } else {
              res = dst << count;
              cf = (dst >>> (32 - count)) & 1;
              of = (res >>> 31) ^ cf;
            }
            r[d] = res;
            c.lazyOp = OP_LOGIC;
            c.lazySize = 2;
            c.lazyDst = 0;
            c.lazySrc = 0;
            c.lazyRes = res;
            c.lazyFlags = FLAG_PF | FLAG_ZF | FLAG_SF;
            c.flags =
              (c.flags & ~(FLAG_CF | FLAG_OF | FLAG_AF)) |
              (cf !== 0 ? FLAG_CF : 0) |
              (of !== 0 ? FLAG_OF : 0);
            break;
          }
          case K_MOVZX8_M:
            r[rec[p + F_REG]] = c.read8((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
            break;
          case K_GROUP3_R:
            // The handler reads its operand through the decoded ModRM: a register form names the register.
            setModrm(c, rec, p, 0xc0 | rec[p + F_RM]);
            group3Ev32(c, rec[p + F_REG]);
            break;
          case K_TEST_RI:
            setLazy(c, OP_LOGIC, 2, 0, 0, r[rec[p + F_RM]] & rec[p + F_IMM]);
            break;
          case K_LOOP: {
            const op = rec[p + F_REG];
            let jump: boolean;
            if (op === 0xe3) jump = r[ECX] === 0;
            else {
              const n = (r[ECX] - 1) | 0;
              r[ECX] = n;
              // LOOPE (E1) goes on while ZF = 1, LOOPNE (E0) while ZF = 0.
              jump = n !== 0 && (op === 0xe2 || (op === 0xe1) === getZF(c));
            }
            if (jump) {
              eip = (eip + rec[p + F_IMM]) | 0;
              if (stopAtJump !== 0) break jumped;
            }
            break;
          }
          case K_STRING:
            c.segOverride = rec[p + F_DISP];
            stringOnce32(c, rec[p + F_REG], rec[p + F_IMM]);
            c.segOverride = -1;
            break;
          default: {
            // The rarer forms, in a function of their own (why: runColdRecord).
            const next = eip;
            eip = runColdRecord(c, rec, p, start, eip) | 0;
            if (c.halted === true) {
              left = (left - 1) | 0;
              break run;
            }
            if (stopAtJump !== 0 && eip !== next) break jumped;
            break;
          }
        }
        left = (left - 1) | 0;
        if (left === 0) break run;
        continue;
      }
      // Reached only by `break jumped` (STOP_AT_COMPILED): the transfer is retired and the run ends after it,
      // unless the block compiler lets it go on there (the TLB as Mmu.probeRead reads it: no walk, no fault).
      left = (left - 1) | 0;
      if (left !== 0) {
        const linear = (csBase + eip) | 0;
        const e = tlb[linear >>> 12];
        if ((e & mmu.readBit) !== 0 && c.jit.coldGoesOn((e & TLB_PHYS) | (linear & 0xfff), eip)) continue;
      }
      status = RUN_JUMPED;
      break;
    }
  } catch (e) {
    c.eip = start;
    c.instrStart = start;
    c.instructionCount = count0 + (limit - left);
    throw e;
  }
  c.eip = eip;
  c.instructionCount = count0 + (limit - left);
  return status;
}

/**
 * The forms that take few of the instructions run (each under about half a percent in the bench guest and
 * in a shell workload under Linux), out of runRecords behind one call site. V8 optimises runRecords
 * before every form has run, with a deoptimisation in place of each form that has not; met later, one
 * throws the loop back to the bytecode interpreter until it is compiled again (tens of milliseconds each,
 * at a tenth of the speed meanwhile), and a smaller loop is sooner compiled. Here those deoptimisations
 * cost a recompile of this function only. Returns the EIP after the instruction.
 */
function runColdRecord(c: Cpu, rec: Int32Array, p: number, start: number, eip: number): number {
  const r = c.reg32;
  const r8 = c.reg8;
  switch (rec[p + F_KIND]) {
    case K_ALU8_RM: {
      const op = (rec[p + F_PACKED] >> 8) & 7;
      const src = c.jit.runtime.rd8((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
      const d = rec[p + F_REG];
      const res = alu(c, op, 0, r8[d], src);
      if (op !== ALU_CMP) r8[d] = res;
      break;
    }
    case K_MOV8_RR:
      r8[rec[p + F_REG]] = r8[rec[p + F_RM]];
      break;
    case K_MOV8_RI:
      r8[rec[p + F_REG]] = rec[p + F_IMM];
      break;
    case K_X87: {
      // The escape handlers read the ModRM (and FSTENV/FSAVE the operand size) from the CPU's fields.
      // They also read instrStart (the FPU's last instruction pointer), and one that freezes the CPU on a
      // pending exception puts EIP back on itself.
      setModrm(c, rec, p, rec[p + F_IMM]);
      c.opsize32 = c.addrsize32 = 1;
      c.instrStart = start;
      c.eip = eip;
      escapeDecoded(c, rec[p + F_REG]);
      eip = c.eip;
      break;
    }
    case K_MOVZX8_R:
      r[rec[p + F_REG]] = r8[rec[p + F_RM]];
      break;
    case K_MOVZX16_R:
      r[rec[p + F_REG]] = r[rec[p + F_RM]] & 0xffff;
      break;
    case K_MOVSX8_R:
      r[rec[p + F_REG]] = (r8[rec[p + F_RM]] << 24) >> 24;
      break;
    case K_MOVSX16_R:
      r[rec[p + F_REG]] = (r[rec[p + F_RM]] << 16) >> 16;
      break;
    case K_MOVZX16_M:
      r[rec[p + F_REG]] = c.jit.runtime.rd16((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
      break;
    case K_MOVSX8_M:
      r[rec[p + F_REG]] =
        (c.jit.runtime.rd8((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p)) << 24) >> 24;
      break;
    case K_MOVSX16_M:
      r[rec[p + F_REG]] =
        (c.jit.runtime.rd16((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p)) << 16) >> 16;
      break;
    case K_IMUL_RR: {
      const d = rec[p + F_REG];
      r[d] = imulTruncated32(c, r[d], r[rec[p + F_RM]]);
      break;
    }
    case K_INCDEC_M: {
      // incDecRmV's read, write and flags, through the memory helpers with the TLB fast path (each falls back
      // to the CPU's, so the write faults after the read as a read-modify-write does).
      const rt = c.jit.runtime;
      const seg = (rec[p + F_PACKED] >> 4) & 7;
      const off = effectiveAddress(r, rec, p);
      const dst = rt.rd32(seg, off);
      const dec = rec[p + F_REG] === 1;
      const res = (dec ? dst - 1 : dst + 1) | 0;
      rt.wr32(seg, off, res);
      incDecFlags(c, 2, dst, res, dec);
      break;
    }
    case K_MOV16_RR: {
      const d = rec[p + F_REG];
      r[d] = (r[d] & ~0xffff) | (r[rec[p + F_RM]] & 0xffff);
      break;
    }
    case K_LOAD16: {
      const v = c.jit.runtime.rd16((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
      const d = rec[p + F_REG];
      r[d] = (r[d] & ~0xffff) | v;
      break;
    }
    case K_STORE16:
      c.jit.runtime.wr16(
        (rec[p + F_PACKED] >> 4) & 7,
        effectiveAddress(r, rec, p),
        r[rec[p + F_REG]] & 0xffff,
      );
      break;
    case K_SHIFT16_RI: {
      const count = rec[p + F_IMM];
      if (count === 0) break;
      const op = (rec[p + F_PACKED] >> 8) & 7;
      const d = rec[p + F_RM];
      const res = shiftCompute(c, op, 1, r[d], count);
      r[d] = (r[d] & ~0xffff) | res;
      shiftFlags(c, op, 1, res);
      break;
    }
    case K_SETCC_R:
      r8[rec[p + F_RM]] = conditionBit(c, (rec[p + F_PACKED] >> 8) & 15);
      break;
    case K_SETCC_M:
      c.write8(
        (rec[p + F_PACKED] >> 4) & 7,
        effectiveAddress(r, rec, p),
        conditionBit(c, (rec[p + F_PACKED] >> 8) & 15),
      );
      break;
    case K_CMOV_RR:
      if (conditionBit(c, (rec[p + F_PACKED] >> 8) & 15) !== 0) r[rec[p + F_REG]] = r[rec[p + F_RM]];
      break;
    case K_CMOV_RM: {
      // The source is read (and may fault) whether or not the condition holds.
      const v = c.read32((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
      if (conditionBit(c, (rec[p + F_PACKED] >> 8) & 15) !== 0) r[rec[p + F_REG]] = v;
      break;
    }
    case K_TEST_MI:
      setLazy(
        c,
        OP_LOGIC,
        2,
        0,
        0,
        c.read32((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p)) & rec[p + F_IMM],
      );
      break;
    case K_TEST8_RI:
      setLazy(c, OP_LOGIC, 0, 0, 0, r8[rec[p + F_RM]] & rec[p + F_IMM]);
      break;
    case K_TEST8_MI:
      setLazy(
        c,
        OP_LOGIC,
        0,
        0,
        0,
        c.read8((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p)) & rec[p + F_IMM],
      );
      break;
    case K_LEAVE:
      c.opsize32 = 1;
      leave(c);
      break;
    case K_PUSH_I:
      c.push32(rec[p + F_IMM]);
      break;
    case K_PUSH_M: {
      // The operand's address uses ESP before the push.
      const v = c.read32((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
      c.push32(v);
      break;
    }
    case K_JMP_R:
      eip = r[rec[p + F_RM]];
      break;
    case K_JMP_M:
      eip = c.read32((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
      break;
    case K_CALL_R: {
      const target = r[rec[p + F_RM]];
      c.push32(eip);
      eip = target;
      break;
    }
    case K_CALL_M: {
      // The target is read (and may fault) before anything is pushed.
      const target = c.read32((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
      c.push32(eip);
      eip = target;
      break;
    }
    case K_IMUL3_R:
      r[rec[p + F_REG]] = imulTruncated32(c, r[rec[p + F_RM]], rec[p + F_IMM]);
      break;
    case K_IMUL3_M: {
      const v = c.read32((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
      r[rec[p + F_REG]] = imulTruncated32(c, v, rec[p + F_IMM]);
      break;
    }
    case K_XCHG_RR: {
      const a = rec[p + F_REG];
      const b = rec[p + F_RM];
      const v = r[a];
      r[a] = r[b];
      r[b] = v;
      break;
    }
    case K_XCHG_M: {
      setModrm(c, rec, p, 0);
      const v = c.readRm32();
      c.writeRm32(r[rec[p + F_REG]]);
      r[rec[p + F_REG]] = v;
      break;
    }
    case K_CWDE:
      r[EAX] = (r[EAX] << 16) >> 16;
      break;
    case K_CDQ:
      r[EDX] = r[EAX] >> 31;
      break;
    case K_GROUP3_M:
      setModrm(c, rec, p, 0);
      group3Ev32(c, rec[p + F_REG]);
      break;
    case K_IMUL_RM: {
      const d = rec[p + F_REG];
      const src = c.read32((rec[p + F_PACKED] >> 4) & 7, effectiveAddress(r, rec, p));
      r[d] = imulTruncated32(c, r[d], src);
      break;
    }
    default:
      throw new Error(`decoded record of unknown kind ${rec[p + F_KIND]}`);
  }
  return eip;
}
