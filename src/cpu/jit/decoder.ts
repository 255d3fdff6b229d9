/**
 * Instruction decoding for the compiler: prefixes, opcode, ModRM/SIB/displacement and immediates, read from
 * one physical page of RAM (Intel SDM Vol. 2, ch. 2). It mirrors what the interpreter's fetch8/decodeModrm
 * consume, byte for byte, so a compiled block and the interpreter agree on every instruction's length.
 *
 * The decoder never raises guest exceptions: an instruction it cannot decode here (it crosses the end of the
 * page, exceeds 15 bytes, or is an opcode whose length it does not know) comes back as `null`, and the
 * block ends before it; the interpreter then runs it, faults included. (The WebAssembly back end puts one
 * that crosses the end of the page, crossesPageEnd, at the end of the block as a call to the interpreter.)
 */
import { CS, DS, ES, FS, GS, SS } from '../constants.ts';

/** Operand-encoding bits of an opcode (index 0-0x1FF: one-byte opcodes, then 0F xx). */
const M = 1; // ModRM follows
const I8 = 2; // imm8
const IV = 4; // imm16/32 by operand size
const I16 = 8; // imm16
const IA = 16; // moffs: 16/32 by address size
const FAR = 32; // ptr16:16/32 (IV then I16)
const GRP3 = 64; // F6/F7: an immediate only for /0 and /1
const KNOWN = 128; // the length rules above are complete for this opcode

function buildEncodings(): Uint8Array {
  const t = new Uint8Array(512);
  const set = (ops: number[], bits: number) => {
    for (const op of ops) t[op] = bits | KNOWN;
  };
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
  for (let op = 0; op < 0x40; op++) {
    const form = op & 7;
    if (form < 4) t[op] = M | KNOWN;
    else if (form === 4) t[op] = I8 | KNOWN;
    else if (form === 5) t[op] = IV | KNOWN;
  }
  set([0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f], 0);
  set(range(0x40, 0x61), 0);
  set([0x62, 0x63], M);
  set([0x68], IV);
  set([0x69], M | IV);
  set([0x6a], I8);
  set([0x6b], M | I8);
  set(range(0x6c, 0x6f), 0);
  set(range(0x70, 0x7f), I8);
  set([0x80, 0x82, 0x83], M | I8);
  set([0x81], M | IV);
  set(range(0x84, 0x8f), M);
  set(range(0x90, 0x99), 0);
  set([0x9a], FAR);
  set(range(0x9b, 0x9f), 0);
  set(range(0xa0, 0xa3), IA);
  set(range(0xa4, 0xa7), 0);
  set([0xa8], I8);
  set([0xa9], IV);
  set(range(0xaa, 0xaf), 0);
  set(range(0xb0, 0xb7), I8);
  set(range(0xb8, 0xbf), IV);
  set([0xc0, 0xc1, 0xc6], M | I8);
  set([0xc2, 0xca], I16);
  set([0xc3, 0xc9, 0xcb, 0xcc, 0xce, 0xcf], 0);
  set([0xc4, 0xc5], M);
  set([0xc7], M | IV);
  set([0xc8], I16 | I8);
  set([0xcd, 0xd4, 0xd5], I8);
  set(range(0xd0, 0xd3), M);
  set([0xd6, 0xd7], 0);
  set(range(0xd8, 0xdf), M);
  set(range(0xe0, 0xe7), I8);
  set([0xe8, 0xe9], IV);
  set([0xea], FAR);
  set([0xeb], I8);
  set(range(0xec, 0xef), 0);
  set([0xf1, 0xf4, 0xf5], 0);
  set([0xf6, 0xf7], M | GRP3);
  set(range(0xf8, 0xfd), 0);
  set([0xfe, 0xff], M);
  // Two-byte opcodes.
  set([0x100, 0x101, 0x102, 0x103], M);
  set([0x106, 0x108, 0x109, 0x10b], 0);
  set(range(0x118, 0x11f), M);
  set(range(0x120, 0x123), M);
  set(range(0x130, 0x135), 0);
  set(range(0x140, 0x14f), M);
  set(range(0x180, 0x18f), IV);
  set(range(0x190, 0x19f), M);
  set([0x1a0, 0x1a1, 0x1a2, 0x1a8, 0x1a9], 0);
  set([0x1a3, 0x1a5, 0x1ab, 0x1ad, 0x1af], M);
  set([0x1a4, 0x1ac, 0x1ba], M | I8);
  set(range(0x1b0, 0x1b7), M);
  set(range(0x1bb, 0x1bf), M);
  set([0x1c0, 0x1c1, 0x1c7], M);
  set(range(0x1c8, 0x1cf), 0);
  return t;
}

const ENCODINGS = buildEncodings();

/** A decoded instruction. Register numbers are ModRM numbers; -1 means "none". */
export interface Insn {
  /** EIP (offset in CS) of the first byte, prefixes included; `next` is the EIP after it. */
  start: number;
  next: number;
  /** Opcode: 0x00-0xFF, or 0x100 | second byte for 0F xx. */
  op: number;
  o32: number;
  a32: number;
  /** Segment override, or -1. */
  seg: number;
  /** 0, 0xF2 or 0xF3. */
  rep: number;
  lock: number;
  /** The ModRM byte, or -1. */
  modrm: number;
  /** Memory operand (modrm < 0xC0): base and index registers (-1: none), scale, displacement, segment. */
  base: number;
  index: number;
  scale: number;
  disp: number;
  /** The segment of the memory operand: the override, else the addressing form's default (DS or SS). */
  eaSeg: number;
  /** First and second immediates (int32; sign as the interpreter's fetch gives them). */
  imm: number;
  imm2: number;
}

const SEGMENT_PREFIXES: Record<number, number> = {
  0x26: ES,
  0x2e: CS,
  0x36: SS,
  0x3e: DS,
  0x64: FS,
  0x65: GS,
};

/**
 * Decodes the instruction at offset `eip` whose first byte is at `ram[phys]`; bytes must stay below
 * `pageEnd` (the physical end of the page). `code32` is CS.D. Returns null when the instruction cannot be
 * decoded here (see the module comment).
 */
export function decode(
  ram: Uint8Array,
  phys: number,
  pageEnd: number,
  eip: number,
  code32: number,
): Insn | null {
  const insn = decodeBounded(ram, phys, pageEnd, eip, code32);
  return insn === PAGE_END ? null : insn;
}

/**
 * Whether the instruction at offset `eip`, first byte at `ram[phys]`, goes on past `pageEnd`: its bytes
 * before the page's end are all prefixes, opcode and operands of one instruction still incomplete there.
 */
export function crossesPageEnd(
  ram: Uint8Array,
  phys: number,
  pageEnd: number,
  eip: number,
  code32: number,
): boolean {
  return decodeBounded(ram, phys, pageEnd, eip, code32) === PAGE_END;
}

/** decode(), with PAGE_END when the instruction runs past `pageEnd`. */
function decodeBounded(
  ram: Uint8Array,
  phys: number,
  pageEnd: number,
  eip: number,
  code32: number,
): Insn | null | typeof PAGE_END {
  let p = phys;
  const byte = (): number => {
    if (p >= pageEnd) throw PAGE_END;
    return ram[p++];
  };
  try {
    const insn: Insn = {
      start: eip,
      next: eip,
      op: 0,
      o32: code32,
      a32: code32,
      seg: -1,
      rep: 0,
      lock: 0,
      modrm: -1,
      base: -1,
      index: -1,
      scale: 0,
      disp: 0,
      eaSeg: DS,
      imm: 0,
      imm2: 0,
    };
    let op = byte();
    for (;;) {
      if (op === 0x66) insn.o32 = code32 ^ 1;
      else if (op === 0x67) insn.a32 = code32 ^ 1;
      else if (op === 0xf2 || op === 0xf3) insn.rep = op;
      else if (op === 0xf0) insn.lock = 1;
      else if (SEGMENT_PREFIXES[op] !== undefined) insn.seg = SEGMENT_PREFIXES[op];
      else break;
      op = byte();
    }
    if (op === 0x0f) op = 0x100 | byte();
    insn.op = op;
    const enc = ENCODINGS[op];
    if (!(enc & KNOWN)) return null;
    const fetch16 = () => {
      const lo = byte();
      return lo | (byte() << 8);
    };
    const fetch32 = () => {
      const lo = fetch16();
      return lo | (fetch16() << 16);
    };
    const fetchV = () => (insn.o32 ? fetch32() : fetch16());
    if (enc & M) {
      const modrm = byte();
      insn.modrm = modrm;
      if (modrm < 0xc0) {
        if (insn.a32) decodeAddress32(insn, modrm, byte, fetch32);
        else decodeAddress16(insn, modrm, byte, fetch16);
        insn.eaSeg = insn.seg >= 0 ? insn.seg : insn.eaSeg;
      }
    }
    if (enc & GRP3) {
      if (((insn.modrm >> 3) & 7) < 2) insn.imm = op === 0xf6 ? byte() : fetchV();
    } else if (enc & FAR) {
      insn.imm = fetchV();
      insn.imm2 = fetch16();
    } else if (enc & IA) {
      insn.imm = insn.a32 ? fetch32() : fetch16();
    } else if (enc & IV) {
      insn.imm = fetchV();
    } else if (enc & I16) {
      insn.imm = fetch16();
      if (enc & I8) insn.imm2 = byte();
    } else if (enc & I8) {
      insn.imm = byte();
    }
    const length = p - phys;
    if (length > 15) return null;
    insn.next = eip + length;
    return insn;
  } catch (e) {
    if (e === PAGE_END) return PAGE_END;
    throw e;
  }
}

const PAGE_END: unique symbol = Symbol('page end');

function decodeAddress16(insn: Insn, modrm: number, byte: () => number, fetch16: () => number): void {
  const mod = modrm >> 6;
  const rm = modrm & 7;
  // BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP (or disp16), BX
  const BASES = [3, 3, 5, 5, 6, 7, 5, 3];
  const INDEXES = [6, 7, 6, 7, -1, -1, -1, -1];
  if (rm === 6 && mod === 0) {
    insn.base = -1;
    insn.disp = fetch16();
  } else {
    insn.base = BASES[rm];
    insn.index = INDEXES[rm];
    if (rm === 2 || rm === 3 || rm === 6) insn.eaSeg = SS;
  }
  if (mod === 1) insn.disp = (byte() << 24) >> 24;
  else if (mod === 2) insn.disp = fetch16();
}

function decodeAddress32(insn: Insn, modrm: number, byte: () => number, fetch32: () => number): void {
  const mod = modrm >> 6;
  const rm = modrm & 7;
  if (rm === 4) {
    const sib = byte();
    const base = sib & 7;
    const index = (sib >> 3) & 7;
    insn.scale = sib >> 6;
    insn.index = index === 4 ? -1 : index;
    if (base === 5 && mod === 0) {
      insn.base = -1;
      insn.disp = fetch32();
    } else {
      insn.base = base;
      if (base === 4 || base === 5) insn.eaSeg = SS;
    }
  } else if (rm === 5 && mod === 0) {
    insn.base = -1;
    insn.disp = fetch32();
  } else {
    insn.base = rm;
    if (rm === 5) insn.eaSeg = SS;
  }
  if (mod === 1) insn.disp = (insn.disp + ((byte() << 24) >> 24)) | 0;
  else if (mod === 2) insn.disp = (insn.disp + fetch32()) | 0;
}
