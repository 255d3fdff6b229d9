/**
 * Random instruction bytes must only ever produce guest-visible outcomes (a result, or a guest exception
 * delivered through the IVT/IDT, or a triple-fault shutdown): never a host error from the emulator.
 * Runs in real mode and in flat 32-bit protected mode, from a fixed seed so failures reproduce.
 */
import { describe, expect, test } from 'vitest';
import { Cpu, CPU_SHUTDOWN } from '../../src/cpu/cpu.ts';
import { CS, DS, ES, FS, GS, SS } from '../../src/cpu/constants.ts';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import { OpenIoBus } from '../../src/cpu/bus.ts';
import { loadSegmentForBoot } from '../../src/cpu/protected.ts';
import { writeCr0 } from '../../src/cpu/ops/system.ts';

/** xorshift32: a tiny deterministic generator. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const CODE = 0x10000;
const INSTRUCTIONS = 60_000;

/** Runs random instructions; returns the host errors seen (with the bytes that caused them). */
function fuzz(cpu: Cpu, memory: PhysicalMemory, seed: number, setup: () => void): string[] {
  const next = rng(seed);
  const errors: string[] = [];
  for (let i = 0; i < INSTRUCTIONS; i++) {
    if (i % 64 === 0) setup();
    const bytes = new Uint8Array(16);
    for (let b = 0; b < 16; b++) bytes[b] = next() & 0xff;
    memory.writeBytes(CODE, bytes);
    for (let r = 0; r < 8; r++) if (r !== 4) cpu.reg32[r] = next() % 0x8000;
    cpu.reg32[4] = 0x8000;
    cpu.eip = 0;
    cpu.halted = false;
    try {
      cpu.step();
    } catch (e) {
      if (e === CPU_SHUTDOWN) {
        setup();
        continue;
      }
      errors.push(`${Buffer.from(bytes).toString('hex')}: ${(e as Error).message}`);
      if (errors.length > 10) break;
      setup();
    }
  }
  return errors;
}

describe('instruction fuzzing', () => {
  test('real mode: 60,000 random instructions raise only guest exceptions', () => {
    const memory = new PhysicalMemory(1 << 21);
    const cpu = new Cpu(memory, new OpenIoBus());
    const setup = () => {
      cpu.reset();
      // Every IVT entry points at an IRET at 0:0x500, so exceptions return and fuzzing continues.
      for (let v = 0; v < 256; v++) memory.write32(v * 4, 0x0500);
      memory.write8(0x500, 0xcf);
      cpu.resetSegment(CS, CODE >> 4);
      for (const s of [DS, ES, SS, FS, GS]) cpu.resetSegment(s, 0x2000);
    };
    setup();
    expect(fuzz(cpu, memory, 0x1234567, setup)).toEqual([]);
  });

  test('32-bit protected mode: 60,000 random instructions raise only guest exceptions', () => {
    const memory = new PhysicalMemory(1 << 21);
    const cpu = new Cpu(memory, new OpenIoBus());
    const GDT = 0x1000;
    const IDT = 0x2000;
    const setup = () => {
      cpu.reset();
      // GDT: null, flat code (0x08), flat data (0x10), code at CODE (0x18).
      memory.write32(GDT + 8, 0x0000ffff);
      memory.write32(GDT + 12, 0x00cf9b00);
      memory.write32(GDT + 16, 0x0000ffff);
      memory.write32(GDT + 20, 0x00cf9300);
      memory.write32(GDT + 24, 0x0000ffff | ((CODE & 0xffff) << 16));
      memory.write32(GDT + 28, 0x00cf9b00 | ((CODE >> 16) & 0xff));
      // IDT: every vector an interrupt gate to an IRET at 0x500 in the flat code segment.
      for (let v = 0; v < 256; v++) {
        memory.write32(IDT + v * 8, (0x08 << 16) | 0x0500);
        memory.write32(IDT + v * 8 + 4, 0x00008e00);
      }
      memory.write8(0x500, 0xcf);
      cpu.gdtrBase = GDT;
      cpu.gdtrLimit = 0x1f;
      cpu.idtrBase = IDT;
      cpu.idtrLimit = 0x7ff;
      writeCr0(cpu, cpu.cr0 | 1);
      loadSegmentForBoot(cpu, CS, 0x18);
      for (const s of [DS, ES, SS, FS, GS]) loadSegmentForBoot(cpu, s, 0x10);
    };
    setup();
    expect(fuzz(cpu, memory, 0x7654321, setup)).toEqual([]);
  });
});
