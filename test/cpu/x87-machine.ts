/**
 * A real-mode test machine for the x87 tests: code at 0000:1000, data at 0000:2000 (DS = 0 unless a test
 * says otherwise), stack at 0000:8000, and every interrupt vector pointing at its own HLT at 0000:0500 + n
 * so that the vector taken can be read back. Instruction encoders for the ModRM forms used in the tests
 * (16-bit addressing with a disp16 operand: mod 00, r/m 110).
 */
import { Cpu } from '../../src/cpu/cpu.ts';
import { CS, DS, ES, ESP, SS } from '../../src/cpu/constants.ts';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import { OpenIoBus } from '../../src/cpu/bus.ts';

export const CODE = 0x1000;
export const DATA = 0x2000;
export const HANDLER = 0x500;

export interface Run {
  cpu: Cpu;
  mem: PhysicalMemory;
  /** The exception/interrupt vector taken, or null when the code ran to its own HLT. */
  vector: number | null;
}

export function machine(): { cpu: Cpu; mem: PhysicalMemory } {
  const mem = new PhysicalMemory(1 << 20);
  const cpu = new Cpu(mem, new OpenIoBus());
  for (let v = 0; v < 256; v++) {
    mem.write16(v * 4, HANDLER + v);
    mem.write16(v * 4 + 2, 0);
    mem.write8(HANDLER + v, 0xf4);
  }
  for (const seg of [CS, DS, ES, SS]) cpu.resetSegment(seg, 0);
  cpu.reg32[ESP] = 0x8000;
  cpu.eip = CODE;
  return { cpu, mem };
}

/** Steps until the CPU halts (the code's own HLT, a handler's HLT, or an FERR# freeze). */
export function runUntilHalt(cpu: Cpu): void {
  for (let i = 0; i < 10_000 && !cpu.halted; i++) cpu.step();
}

export function vectorTaken(cpu: Cpu): number | null {
  const linear = cpu.segBase[CS] + cpu.eip - 1;
  return cpu.sreg[CS] === 0 && linear >= HANDLER && linear < HANDLER + 256 ? linear - HANDLER : null;
}

/** Runs `code` followed by HLT. `setup` may prepare memory and registers first. */
export function run(code: number[], setup?: (cpu: Cpu, mem: PhysicalMemory) => void): Run {
  const { cpu, mem } = machine();
  mem.writeBytes(CODE, Uint8Array.from([...code, 0xf4]));
  setup?.(cpu, mem);
  runUntilHalt(cpu);
  return { cpu, mem, vector: vectorTaken(cpu) };
}

// ---- Encoders ----

/** `op` with ModRM reg = `reg` and the operand at DS:DATA+off. */
export function m(op: number, reg: number, off: number): number[] {
  const a = DATA + off;
  return [op, (reg << 3) | 6, a & 0xff, a >> 8];
}
export const fld32 = (o: number) => m(0xd9, 0, o);
export const fst32 = (o: number) => m(0xd9, 2, o);
export const fstp32 = (o: number) => m(0xd9, 3, o);
export const fldenv = (o: number) => m(0xd9, 4, o);
export const fldcw = (o: number) => m(0xd9, 5, o);
export const fnstenv = (o: number) => m(0xd9, 6, o);
export const fnstcw = (o: number) => m(0xd9, 7, o);
export const fld64 = (o: number) => m(0xdd, 0, o);
export const fst64 = (o: number) => m(0xdd, 2, o);
export const fstp64 = (o: number) => m(0xdd, 3, o);
export const frstor = (o: number) => m(0xdd, 4, o);
export const fnsave = (o: number) => m(0xdd, 6, o);
export const fnstsw = (o: number) => m(0xdd, 7, o);
export const fild16 = (o: number) => m(0xdf, 0, o);
export const fist16 = (o: number) => m(0xdf, 2, o);
export const fistp16 = (o: number) => m(0xdf, 3, o);
export const fbld = (o: number) => m(0xdf, 4, o);
export const fild64 = (o: number) => m(0xdf, 5, o);
export const fbstp = (o: number) => m(0xdf, 6, o);
export const fistp64 = (o: number) => m(0xdf, 7, o);
export const fild32 = (o: number) => m(0xdb, 0, o);
export const fist32 = (o: number) => m(0xdb, 2, o);
export const fistp32 = (o: number) => m(0xdb, 3, o);
export const fld80 = (o: number) => m(0xdb, 5, o);
export const fstp80 = (o: number) => m(0xdb, 7, o);

export const FLD1 = [0xd9, 0xe8];
export const FLDL2T = [0xd9, 0xe9];
export const FLDL2E = [0xd9, 0xea];
export const FLDPI = [0xd9, 0xeb];
export const FLDLG2 = [0xd9, 0xec];
export const FLDLN2 = [0xd9, 0xed];
export const FLDZ = [0xd9, 0xee];
export const FNSTSW_AX = [0xdf, 0xe0];
export const FNCLEX = [0xdb, 0xe2];
export const FNINIT = [0xdb, 0xe3];
export const FWAIT = [0x9b];

// ---- Memory helpers (offsets relative to DATA) ----

export function putBytes(mem: PhysicalMemory, off: number, bytes: number[]): void {
  mem.writeBytes(DATA + off, Uint8Array.from(bytes));
}
export function getBytes(mem: PhysicalMemory, off: number, n: number): number[] {
  return Array.from(mem.ram.subarray(DATA + off, DATA + off + n));
}
export function putU16(mem: PhysicalMemory, off: number, v: number): void {
  mem.write16(DATA + off, v);
}
export function getU16(mem: PhysicalMemory, off: number): number {
  return mem.read16(DATA + off);
}
export function putU32(mem: PhysicalMemory, off: number, v: number): void {
  mem.write32(DATA + off, v);
}
export function getU32(mem: PhysicalMemory, off: number): number {
  return mem.read32(DATA + off) >>> 0;
}
export function putF64(mem: PhysicalMemory, off: number, x: number): void {
  new DataView(mem.ram.buffer, mem.ram.byteOffset).setFloat64(DATA + off, x, true);
}
export function getF64(mem: PhysicalMemory, off: number): number {
  return new DataView(mem.ram.buffer, mem.ram.byteOffset).getFloat64(DATA + off, true);
}
/** The float64 at `off` as a 16-digit hex string (bit pattern). */
export function getF64Bits(mem: PhysicalMemory, off: number): string {
  return new DataView(mem.ram.buffer, mem.ram.byteOffset)
    .getBigUint64(DATA + off, true)
    .toString(16)
    .padStart(16, '0');
}
export function putF64Bits(mem: PhysicalMemory, off: number, hex: string): void {
  new DataView(mem.ram.buffer, mem.ram.byteOffset).setBigUint64(DATA + off, BigInt('0x' + hex), true);
}
export function putI64(mem: PhysicalMemory, off: number, v: bigint): void {
  new DataView(mem.ram.buffer, mem.ram.byteOffset).setBigInt64(DATA + off, v, true);
}
export function getI64(mem: PhysicalMemory, off: number): bigint {
  return new DataView(mem.ram.buffer, mem.ram.byteOffset).getBigInt64(DATA + off, true);
}
/** An 80-bit value as "SSSS HHHHHHHH LLLLLLLL" (sign/exponent, significand high and low). */
export function putExt(mem: PhysicalMemory, off: number, text: string): void {
  const [se, hi, lo] = text.split(' ').map((h) => parseInt(h, 16));
  mem.write32(DATA + off, lo);
  mem.write32(DATA + off + 4, hi);
  mem.write16(DATA + off + 8, se);
}
export function getExt(mem: PhysicalMemory, off: number): string {
  const lo = getU32(mem, off).toString(16).padStart(8, '0');
  const hi = getU32(mem, off + 4)
    .toString(16)
    .padStart(8, '0');
  const se = getU16(mem, off + 8)
    .toString(16)
    .padStart(4, '0');
  return `${se} ${hi} ${lo}`;
}
