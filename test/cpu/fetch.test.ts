/**
 * Instruction fetch at its edges (Intel SDM Vol. 2, 2.3.11; Vol. 3A 6.15 "#GP", "#PF"): the interpreter
 * fetches most bytes through a per-instruction window (the cached code page, the CS limit and the 15-byte
 * limit, checked once); a byte outside it must raise exactly what a checked byte-by-byte fetch raises.
 */
import { describe, expect, test } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.ts';
import { CS, EAX, ESP, SS } from '../../src/cpu/constants.ts';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import { OpenIoBus } from '../../src/cpu/bus.ts';

const CODE_SEG = 0x1000;
const HANDLER = 0x500;

/** Real mode: code at CODE_SEG:ip, every IVT vector to its own HLT; returns the vector taken or null. */
function runAt(ip: number, code: number[]): { cpu: Cpu; vector: number | null } {
  const memory = new PhysicalMemory(1 << 21);
  const cpu = new Cpu(memory, new OpenIoBus());
  cpu.jitMode = 'off';
  for (let v = 0; v < 256; v++) memory.write32(v * 4, HANDLER + v);
  for (let v = 0; v < 256; v++) memory.write8(HANDLER + v, 0xf4);
  cpu.resetSegment(CS, CODE_SEG);
  cpu.resetSegment(SS, 0x3000);
  cpu.reg32[ESP] = 0x1000;
  const bytes = [...code, 0xf4];
  for (let i = 0; i < bytes.length; i++) memory.write8(CODE_SEG * 16 + ((ip + i) & 0xffff), bytes[i]);
  cpu.eip = ip;
  for (let i = 0; i < 100 && !cpu.halted; i++) cpu.step();
  const linear = cpu.segBase[CS] + cpu.eip - 1;
  const vector = cpu.sreg[CS] === 0 && linear >= HANDLER && linear < HANDLER + 256 ? linear - HANDLER : null;
  return { cpu, vector };
}

const prefixes = (n: number) => new Array<number>(n).fill(0x3e);
const MOV_EAX_IMM32 = [0x66, 0xb8, 0x78, 0x56, 0x34, 0x12]; // mov eax, 0x12345678

describe('instruction fetch', () => {
  test('an instruction ending at the CS limit runs; one byte past it is #GP', () => {
    const fits = runAt(0x10000 - MOV_EAX_IMM32.length - 1, MOV_EAX_IMM32); // the HLT is the last byte
    expect(fits.vector).toBeNull();
    expect(fits.cpu.reg32[EAX]).toBe(0x12345678);
    for (let over = 1; over < MOV_EAX_IMM32.length; over++) {
      const r = runAt(0x10000 - MOV_EAX_IMM32.length + over, MOV_EAX_IMM32);
      expect(r.vector, `${over} byte(s) past the limit`).toBe(13);
      expect(r.cpu.reg32[EAX]).toBe(0);
    }
  });

  test('the 15-byte limit holds for instructions that cross a page boundary at any byte', () => {
    for (let before = 0; before <= 16; before++) {
      const ip = 0x1000 - before; // linear 0x11000 is a page boundary
      expect(runAt(ip, [...prefixes(14), 0x90]).vector, `15 bytes, ${before} before the page end`).toBeNull();
      expect(runAt(ip, [...prefixes(15), 0x90]).vector, `16 bytes, ${before} before the page end`).toBe(13);
    }
  });

  test('an immediate split across a page boundary reads both pages', () => {
    for (let before = 1; before < MOV_EAX_IMM32.length; before++) {
      const r = runAt(0x1000 - before, MOV_EAX_IMM32);
      expect(r.vector).toBeNull();
      expect(r.cpu.reg32[EAX]).toBe(0x12345678);
    }
  });
});
