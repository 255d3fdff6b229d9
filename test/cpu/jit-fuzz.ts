/**
 * Differential testing of the JIT tier: random programs run once by the interpreter alone and once with
 * every block compiled ('on' mode), and the two machines must end in the same state after the same number
 * of instructions (registers, EIP, EFLAGS, segments, CR2, instruction count, every byte of RAM touched).
 * Shared by test/cpu/jit.test.ts and test/cpu/smc.test.ts, and usable from a bundled script for long runs.
 */
import { Cpu, CPU_SHUTDOWN } from '../../src/cpu/cpu.ts';
import { CS, DS, ES, FS, GS, SS } from '../../src/cpu/constants.ts';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import { OpenIoBus, type IoBus } from '../../src/cpu/bus.ts';
import { loadSegmentForBoot } from '../../src/cpu/protected.ts';
import { writeCr0 } from '../../src/cpu/ops/system.ts';
import type { JitMode } from '../../src/cpu/jit/mode.ts';

/** xorshift32. */
export function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

export type FuzzMode = 'real' | 'flat32' | 'paged32';

const MEMORY = 1 << 21;
/** Where the program goes (linear = physical): real mode CS = 0x1000, protected mode flat. */
export const CODE = 0x10000;
export const DATA = 0x20000;
export const STACK_TOP = 0x3f000;
/** Exception handlers: one HLT per vector, at HANDLERS + vector. */
export const HANDLERS = 0x500;
export const GDT = 0x1000;
const IDT = 0x2000;
const PAGE_DIR = 0x40000;
export const PAGE_TABLE = 0x41000;

/** Opcodes the generator favours: what the compiler translates, plus a few it leaves to the interpreter. */
const OPCODES = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d,
  0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x40, 0x41, 0x42, 0x43, 0x45, 0x46,
  0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a,
  0x5b, 0x5d, 0x5e, 0x5f, 0x68, 0x69, 0x6a, 0x6b, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79,
  0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c,
  0x8d, 0x90, 0x91, 0x92, 0x93, 0x96, 0x97, 0x98, 0x99, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
  0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba,
  0xbb, 0xbd, 0xbe, 0xbf, 0xc0, 0xc1, 0xc6, 0xc7, 0xc9, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd7, 0xe0, 0xe1,
  0xe2, 0xe3, 0xeb, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfc, 0xfd, 0xfe, 0xff, 0x27, 0x2f, 0x37, 0x3f, 0x9e, 0x9f,
  0x9c, 0x60, 0x61, 0xc8, 0x8f, 0x62, 0xe8, 0xc3, 0xc2,
];
const TWO_BYTE = [
  0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x80, 0x81,
  0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93,
  0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa3, 0xa4, 0xa5, 0xab, 0xac, 0xad,
  0xaf, 0xb0, 0xb1, 0xb3, 0xb6, 0xb7, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xc0, 0xc1, 0xc8, 0xc9, 0xcb, 0xcf,
  0x1f, 0xa2, 0xc7, 0x31,
];

/**
 * One of the forms Linux runs most that the compiler translates natively: CMPXCHG, XADD, CMPXCHG8B (with
 * LOCK, and the DS/FS prefixes Linux uses), BT/BTS/BTR/BTC with imm8 or a register offset, SHLD/SHRD by
 * imm8 or CL, RDTSC, and MOVS/CMPS/STOS/LODS/SCAS without REP (DF either way). Memory operands mostly, so
 * the paged machine's not-present and read-only pages fault some of them.
 */
function hotInstruction(next: () => number, out: number[]): void {
  const form = next() % 10;
  if (form === 0) {
    if (next() % 2) out.push(next() % 2 ? 0xfc : 0xfd); // CLD / STD
    if (next() % 4 === 0) out.push([0x66, 0x67, 0x3e, 0x26, 0x64][next() % 5]);
    if (next() % 6 === 0) out.push(0x66);
    out.push([0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf][next() % 10]);
    return;
  }
  if (form === 1) {
    out.push(0x0f, 0x31); // RDTSC
    return;
  }
  const lock = form <= 4 && next() % 3 === 0;
  if (lock) out.push(0xf0);
  if (next() % 3 === 0) out.push([0x3e, 0x64, 0x26, 0x36][next() % 4]);
  if (next() % 5 === 0) out.push(0x66);
  if (next() % 12 === 0) out.push(0x67);
  let reg = (next() % 8) << 3;
  let op: number;
  switch (form) {
    case 2:
      op = [0xb0, 0xb1, 0xb1, 0xb1][next() % 4]; // CMPXCHG
      break;
    case 3:
      op = [0xc0, 0xc1][next() % 2]; // XADD
      break;
    case 4:
      op = 0xc7; // CMPXCHG8B
      reg = 1 << 3;
      break;
    case 5:
      op = 0xba; // BT/BTS/BTR/BTC imm8
      reg = (4 + (next() % 4)) << 3;
      break;
    case 6:
    case 7:
      op = [0xa3, 0xab, 0xb3, 0xbb][next() % 4];
      break;
    default:
      op = [0xa4, 0xa5, 0xac, 0xad][next() % 4]; // SHLD/SHRD
      break;
  }
  out.push(0x0f, op);
  // Memory operands (disp8 or plain base) mostly; a LOCK on a register operand is #UD, so rarely.
  const kind = next() % 8;
  let modrm: number;
  if (kind < (lock ? 1 : 3)) modrm = 0xc0 | reg | (next() % 8);
  else if (kind < 6) modrm = 0x40 | reg | (next() % 8);
  else modrm = (next() & 0x07) | reg;
  const count = [0, 1, 2, 15, 16, 17, 31, 32, 0x21][next() % 9];
  out.push(modrm, next() & 0x3f, next() & 0x7f, 0, next() % 2 ? count : next() & 0xff, next() & 0xff);
}

/** One random instruction (prefixes, opcode, ModRM/SIB, displacement, immediate: enough bytes for any form). */
function instruction(next: () => number, out: number[]): void {
  if (next() % 8 === 0) {
    hotInstruction(next, out);
    return;
  }
  const r = next() % 100;
  if (r < 8) out.push([0x66, 0x67, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0xf3, 0xf2, 0xf0][next() % 11]);
  if (r < 2) out.push([0x66, 0x67][next() % 2]);
  if (next() % 200 === 0) {
    for (let i = 0; i < 6; i++) out.push(next() & 0xff); // raw noise
    return;
  }
  let op: number;
  if (next() % 6 === 0) out.push(0x0f, (op = 0x100 | TWO_BYTE[next() % TWO_BYTE.length]) & 0xff);
  else out.push((op = OPCODES[next() % OPCODES.length]));
  // ModRM: mostly registers and simple memory forms; displacements stay small so addresses stay in RAM.
  const kind = next() % 8;
  let reg = (next() % 8) << 3;
  // Keep the reg field valid where most values are #UD.
  if (op === 0xc6 || op === 0xc7 || op === 0x8f) reg = 0;
  if (op === 0x8c) reg = (next() % 6) << 3;
  if (op === 0xfe) reg &= 8;
  if (op === 0xff && reg >= 0x18) reg = [0, 8, 0x30][next() % 3];
  let modrm: number;
  if (kind < 4) modrm = 0xc0 | reg | (next() % 8);
  else if (kind < 6) modrm = 0x40 | reg | (next() % 8);
  else modrm = (next() & 0xc7) | reg;
  const imm = () => (next() % 2 ? [0, 1, 0x7f, 0x80, 0xff, 0xfe][next() % 6] : next() & 0xff);
  out.push(modrm, next() & 0x3f, next() & 0x7f, 0, imm(), imm());
}

/** A random program: instructions, then a HLT, then padding. */
export function program(seed: number, instructions: number): Uint8Array {
  const next = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < instructions; i++) instruction(next, out);
  out.push(0xf4);
  return Uint8Array.from(out);
}

export interface Machine {
  cpu: Cpu;
  memory: PhysicalMemory;
}

/** A machine with the program loaded, in `mode`, its registers seeded from `seed`, its ports on `bus`. */
export function machine(
  mode: FuzzMode,
  code: Uint8Array,
  seed: number,
  jit: JitMode,
  bus: IoBus = new OpenIoBus(),
): Machine {
  const memory = new PhysicalMemory(MEMORY);
  const cpu = new Cpu(memory, bus);
  cpu.jitMode = jit;
  for (let v = 0; v < 256; v++) memory.write8(HANDLERS + v, 0xf4);
  if (mode === 'real') {
    for (let v = 0; v < 256; v++) memory.write32(v * 4, HANDLERS + v);
    cpu.resetSegment(CS, CODE >> 4);
    for (const s of [DS, ES, FS, GS]) cpu.resetSegment(s, DATA >> 4);
    cpu.resetSegment(SS, (STACK_TOP - 0x10000) >> 4);
  } else {
    memory.write32(GDT + 8, 0x0000ffff); // 0x08: flat code
    memory.write32(GDT + 12, 0x00cf9b00);
    memory.write32(GDT + 16, 0x0000ffff); // 0x10: flat data
    memory.write32(GDT + 20, 0x00cf9300);
    memory.write32(GDT + 24, 0x0000ffff); // 0x18: 16-bit data, limit 64 KiB (limit faults)
    memory.write32(GDT + 28, 0x00009302);
    for (let v = 0; v < 256; v++) {
      memory.write32(IDT + v * 8, (0x08 << 16) | (HANDLERS + v));
      memory.write32(IDT + v * 8 + 4, 0x00008e00);
    }
    cpu.gdtrBase = GDT;
    cpu.gdtrLimit = 0x1f;
    cpu.idtrBase = IDT;
    cpu.idtrLimit = 0x7ff;
    if (mode === 'paged32') {
      // Identity map the first 4 MiB, but leave some data pages out (for #PF) and make one read-only.
      memory.write32(PAGE_DIR, PAGE_TABLE | 7);
      for (let p = 0; p < 1024; p++) {
        let pte = (p << 12) | 7;
        if (p === 0x2b) pte = 0; // not present
        if (p === 0x23) pte &= ~2; // read-only
        memory.write32(PAGE_TABLE + p * 4, pte);
      }
      cpu.cr3 = PAGE_DIR;
      writeCr0(cpu, cpu.cr0 | 1 | 0x80010000);
    } else {
      writeCr0(cpu, cpu.cr0 | 1);
    }
    loadSegmentForBoot(cpu, CS, 0x08);
    for (const s of [DS, ES, SS]) loadSegmentForBoot(cpu, s, 0x10);
    loadSegmentForBoot(cpu, FS, 0x18);
    loadSegmentForBoot(cpu, GS, 0x10);
  }
  memory.writeBytes(CODE, code);
  const next = rng(seed ^ 0x5a5a5a5a);
  const value = () => (next() % 3 === 0 ? INTERESTING[next() % INTERESTING.length] : next());
  for (let r = 0; r < 8; r++) {
    if (mode === 'real') cpu.reg32[r] = next() % 2 ? value() & 0xffff : value();
    else cpu.reg32[r] = next() % 2 ? DATA + (next() % 0x10000) : value();
  }
  for (let i = 0; i < 0x100; i++) memory.write32(DATA + i * 4, value());
  cpu.reg32[4] = mode === 'real' ? 0xfff0 : STACK_TOP;
  cpu.eip = mode === 'real' ? 0 : CODE;
  cpu.setFlags(next() & 0x8d5, 0x8d5);
  return { cpu, memory };
}

/** A 32-bit value as its four bytes, little-endian: for machine code written out in tests. */
export const le32 = (v: number): number[] => [
  v & 0xff,
  (v >>> 8) & 0xff,
  (v >>> 16) & 0xff,
  (v >>> 24) & 0xff,
];

/** Runs up to `limit` instructions in run() calls of `slice`; returns early if the CPU halts. */
export function runFor(m: Machine, limit: number, slice: number): void {
  let left = limit;
  while (!m.cpu.halted && left > 0) left -= m.cpu.run(Math.min(slice, left));
}

/** Everything compared between the two runs. */
export function state(m: Machine): string {
  const c = m.cpu;
  const hex = (v: number) => (v >>> 0).toString(16);
  let h = 0x811c9dc5;
  for (let i = 0; i < 0x80000; i++) h = Math.imul(h ^ m.memory.ram[i], 0x01000193);
  return [
    `regs ${Array.from(c.reg32, hex).join(' ')}`,
    `eip ${hex(c.eip)} flags ${hex(c.getFlags())}`,
    `sregs ${Array.from(c.sreg, hex).join(' ')}`,
    `cr2 ${hex(c.cr2)} count ${c.instructionCount} halted ${c.halted}`,
    `ram ${hex(h)}`,
  ].join('\n');
}

/** Runs with run(budget) (blocks) or step() (single instructions). Returns the state. */
export function execute(m: Machine, budget: number, stepwise: boolean): string {
  try {
    if (stepwise) {
      for (let i = 0; i < budget && !m.cpu.halted; i++) m.cpu.step();
    } else {
      // In slices, so blocks get entered in the middle and near the end of a budget.
      let left = budget;
      while (left > 0 && !m.cpu.halted) {
        const n = Math.min(left, 37);
        m.cpu.run(n);
        left -= n;
      }
    }
  } catch (e) {
    if (e !== CPU_SHUTDOWN) throw e;
    return `shutdown\n${state(m)}`;
  }
  return state(m);
}

/** Runs program `seed` with the JIT off and in `jit` mode; returns a description of the difference, or null. */
export function compare(mode: FuzzMode, seed: number, stepwise: boolean, jit: JitMode = 'on'): string | null {
  const code = program(seed, 40);
  const a = execute(machine(mode, code, seed, 'off'), 400, stepwise);
  const b = execute(machine(mode, code, seed, jit), 400, stepwise);
  if (a === b) return null;
  return `${mode} seed ${seed} ${stepwise ? 'step' : 'run'}: ${Buffer.from(code).toString('hex')}\n--- interpreter\n${a}\n--- jit\n${b}`;
}

/** Operand values that make flags interesting: zero, signs, carries, equal operands. */
export const INTERESTING = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
  0xfffffffe, 0x12345678,
];

/**
 * Instructions that set flags, as byte strings operating on EAX (destination) and EBX (source) in 32-bit
 * code; `66` makes them 16-bit, and the 8-bit forms use AL/BL.
 */
export const FLAG_SETTERS: Record<string, number[]> = {
  add8: [0x00, 0xd8],
  add: [0x01, 0xd8],
  or: [0x09, 0xd8],
  adc: [0x11, 0xd8],
  adc8: [0x10, 0xd8],
  sbb: [0x19, 0xd8],
  sbb8: [0x18, 0xd8],
  and: [0x21, 0xd8],
  sub: [0x29, 0xd8],
  sub8: [0x28, 0xd8],
  xor: [0x31, 0xd8],
  cmp: [0x39, 0xd8],
  cmp8: [0x38, 0xd8],
  cmpImm: [0x83, 0xf8, 0x80],
  test: [0x85, 0xd8],
  test8: [0x84, 0xd8],
  inc: [0x40],
  dec: [0x48],
  inc8: [0xfe, 0xc0],
  dec8: [0xfe, 0xc8],
  neg: [0xf7, 0xd8],
  neg8: [0xf6, 0xd8],
  not: [0xf7, 0xd0],
  shl1: [0xd1, 0xe0],
  shr1: [0xd1, 0xe8],
  sar1: [0xd1, 0xf8],
  shlCl: [0xd3, 0xe0],
  shrCl: [0xd3, 0xe8],
  sarCl: [0xd3, 0xf8],
  rolCl: [0xd3, 0xc0],
  rorCl: [0xd3, 0xc8],
  shl7: [0xc1, 0xe0, 0x07],
  sar31: [0xc1, 0xf8, 0x1f],
  shr8b: [0xc0, 0xe8, 0x09],
  rol3: [0xc1, 0xc0, 0x03],
  imul: [0x0f, 0xaf, 0xc3],
  imul3: [0x6b, 0xc3, 0x7f],
  mul: [0xf7, 0xe3],
  imul1: [0xf7, 0xeb],
  mul8: [0xf6, 0xe3],
  bt: [0x0f, 0xa3, 0xd8],
  bts: [0x0f, 0xab, 0xd8],
  btr: [0x0f, 0xb3, 0xd8],
  btc: [0x0f, 0xbb, 0xd8],
  btImm: [0x0f, 0xba, 0xe0, 0x05],
  btsImm: [0x0f, 0xba, 0xe8, 0x1f],
  btrImm: [0x0f, 0xba, 0xf0, 0x00],
  btcImm: [0x0f, 0xba, 0xf8, 0x31],
  btMem: [0x0f, 0xa3, 0x1f],
  btsMemImm: [0x0f, 0xba, 0x2f, 0x0e],
  cmpxchg: [0x0f, 0xb1, 0xd9],
  cmpxchg8: [0x0f, 0xb0, 0xd9],
  lockCmpxchgMem: [0xf0, 0x0f, 0xb1, 0x1f],
  cmpxchg8b: [0x64, 0x0f, 0xc7, 0x0f],
  xadd: [0x0f, 0xc1, 0xd8],
  xadd8: [0x0f, 0xc0, 0xd8],
  shldCl: [0x0f, 0xa5, 0xd8],
  shrdCl: [0x0f, 0xad, 0xd8],
  shld0: [0x0f, 0xa4, 0xd8, 0x00],
  shld1: [0x0f, 0xa4, 0xd8, 0x01],
  shrd1: [0x0f, 0xac, 0xd8, 0x01],
  shrd9: [0x0f, 0xac, 0xd8, 0x09],
  shrd17: [0x0f, 0xac, 0xd8, 0x11],
  shld31: [0x0f, 0xa4, 0xd8, 0x1f],
  scas: [0xaf],
  cmps: [0xa6],
  bsf: [0x0f, 0xbc, 0xc3],
  clc: [0xf8],
  stc: [0xf9],
  cmc: [0xf5],
};

/**
 * A flat 32-bit program: ECX/EDX compared first (so CF and the rest have a known, varied state), then the
 * flag setter on EAX/EBX (CL = shift count), then SETcc of all 16 conditions into [EDI], CMOVcc, a PUSHFD
 * (the interpreter materialising every flag), and a conditional jump, then HLT.
 */
export function flagsProgram(setter: number[], size16: boolean): Uint8Array {
  const out: number[] = [0x39, 0xd1]; // cmp ecx, edx
  if (size16 && setter[0] !== 0xf8 && setter[0] !== 0xf9 && setter[0] !== 0xf5) out.push(0x66);
  out.push(...setter);
  for (let cc = 0; cc < 16; cc++) out.push(0x0f, 0x90 | cc, 0x47, cc); // setcc [edi + cc]
  out.push(0x0f, 0x4c, 0xf3); // cmovl esi, ebx
  out.push(0x9c); // pushfd
  out.push(0x0f, 0x9f, 0x47, 0x10); // setg [edi + 16] (after the interpreter ran: flags from memory)
  out.push(0x72, 0x01, 0x90); // jb +1; nop
  out.push(0x7c, 0x01, 0x90); // jl +1 (the flags as the jb block starts: unknown state)
  out.push(0xf4);
  return Uint8Array.from(out);
}

/** One side of compareFlags: the JIT mode, and whether the interpreter's decoded-instruction cache is on. */
export interface FlagsSide {
  label: string;
  jit: JitMode;
  cache: boolean;
}

const INTERPRETER_AND_JIT: readonly FlagsSide[] = [
  { label: 'interpreter', jit: 'off', cache: true },
  { label: 'jit', jit: 'on', cache: true },
];

/**
 * Runs a flags program with the given register values on two sides (by default the interpreter and the JIT);
 * null when they end equal.
 */
export function compareFlags(
  name: string,
  size16: boolean,
  a: number,
  b: number,
  c: number,
  d: number,
  sides: readonly FlagsSide[] = INTERPRETER_AND_JIT,
): string | null {
  const code = flagsProgram(FLAG_SETTERS[name], size16);
  const results: string[] = [];
  for (const side of sides) {
    const m = machine('flat32', code, 1, side.jit);
    m.cpu.decoded.enabled = side.cache;
    const r = m.cpu.reg32;
    r[0] = a;
    r[3] = b;
    r[1] = c;
    r[2] = d;
    r[6] = 0x5555;
    r[7] = DATA;
    execute(m, 100, false);
    results.push(state(m) + ' ' + Array.from(m.memory.ram.slice(DATA, DATA + 17)).join(','));
  }
  if (results[0] === results[1]) return null;
  const hex = (v: number) => (v >>> 0).toString(16);
  return `${name}${size16 ? '/16' : ''} a=${hex(a)} b=${hex(b)} c=${hex(c)} d=${hex(d)}\n--- ${sides[0].label}\n${results[0]}\n--- ${sides[1].label}\n${results[1]}`;
}
