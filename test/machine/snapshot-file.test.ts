import { describe, expect, test } from 'vitest';
import {
  decodeSnapshot,
  encodeSnapshot,
  SnapshotFormatError,
  type StateValue,
  verifySnapshot,
} from '../../src/machine/snapshot-file.ts';
import { Cpu } from '../../src/cpu/cpu.ts';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import { OpenIoBus } from '../../src/cpu/bus.ts';
import { CS, DS, EAX, ECX, SS } from '../../src/cpu/constants.ts';
import { loadCpuState, saveCpuState } from '../../src/cpu/state.ts';

const sample: StateValue = {
  name: 'vm1',
  count: 42,
  flag: true,
  nothing: null,
  ram: Uint8Array.from([1, 2, 3, 4, 5]),
  nested: { regs: Int32Array.from([-1, 2, 3]), list: [1, 'two', Float64Array.from([1.5, -2.25])] },
  words: Uint16Array.from([0xffff, 1]),
};

describe('snapshot container', () => {
  test('round-trips a state tree with typed arrays', async () => {
    const file = await encodeSnapshot(sample);
    expect(new TextDecoder().decode(file.subarray(0, 8))).toBe('VISOR86S');
    expect(await decodeSnapshot(file)).toEqual(sample);
  });

  test('compresses: a large zero RAM image becomes small', async () => {
    const file = await encodeSnapshot({ ram: new Uint8Array(16 << 20) });
    expect(file.length).toBeLessThan(64 * 1024);
    const back = (await decodeSnapshot(file)) as { ram: Uint8Array };
    expect(back.ram.length).toBe(16 << 20);
  });

  test('refuses a wrong magic, a wrong version, a truncated and a corrupted file, saying which', async () => {
    const file = await encodeSnapshot(sample);
    const badMagic = file.slice();
    badMagic[0] = 0x41;
    await expect(decodeSnapshot(badMagic)).rejects.toThrow(/bad magic/);
    const badVersion = file.slice();
    new DataView(badVersion.buffer).setUint32(8, 99, true);
    await expect(decodeSnapshot(badVersion)).rejects.toThrow(/version 99 is not supported/);
    await expect(decodeSnapshot(file.subarray(0, file.length - 10))).rejects.toThrow(/truncated/);
    const corrupted = file.slice();
    corrupted[corrupted.length - 5] ^= 0xff;
    await expect(verifySnapshot(corrupted)).rejects.toThrow(SnapshotFormatError);
    await expect(decodeSnapshot(corrupted)).rejects.toThrow(/corrupted/);
    await expect(decodeSnapshot(new Uint8Array(3))).rejects.toThrow(/not a visor86 snapshot/);
  });

  test('says which problem it is, in the message and as a kind: older, newer, header cut short', async () => {
    const file = await encodeSnapshot(sample);
    const problem = async (bytes: Uint8Array) => {
      try {
        await verifySnapshot(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(SnapshotFormatError);
        return { problem: (e as SnapshotFormatError).problem, message: (e as Error).message };
      }
      throw new Error('the file was accepted');
    };
    const newer = file.slice();
    new DataView(newer.buffer).setUint32(8, 2, true);
    expect(await problem(newer)).toEqual({
      problem: 'version',
      message:
        'snapshot format version 2 is not supported (this build reads version 1): it was written by a newer visor86',
    });
    const older = file.slice();
    new DataView(older.buffer).setUint32(8, 0, true);
    expect((await problem(older)).message).toMatch(/version 0 .*an older format/);
    expect(await problem(file.subarray(0, 20))).toEqual({
      problem: 'truncated',
      message: 'snapshot is truncated: only 20 bytes of its 48-byte header are present',
    });
    expect((await problem(file.subarray(0, file.length - 1))).problem).toBe('truncated');
    expect((await problem(new Uint8Array([...file, 0]))).problem).toBe('corrupted');
    const flipped = file.slice();
    flipped[60] ^= 1;
    expect((await problem(flipped)).problem).toBe('corrupted');
    expect((await problem(new TextEncoder().encode('#!/bin/sh\necho hello\n'))).problem).toBe(
      'not-a-snapshot',
    );
    expect(await verifySnapshot(file)).toEqual({ version: 1, payloadBytes: file.length - 48 });
  });
});

describe('CPU state', () => {
  /** A loop that sums ECX down to 0 into EAX (real mode): mov cx,1000; l: add ax,cx; loop l; hlt */
  const program = [0xb9, 0xe8, 0x03, 0x01, 0xc8, 0xe2, 0xfc, 0xf4];
  function cpuWithProgram(): Cpu {
    const memory = new PhysicalMemory(1 << 20);
    const cpu = new Cpu(memory, new OpenIoBus());
    memory.writeBytes(0x10000, Uint8Array.from(program));
    cpu.resetSegment(CS, 0x1000);
    cpu.resetSegment(DS, 0x2000);
    cpu.resetSegment(SS, 0x3000);
    cpu.eip = 0;
    cpu.reg32[EAX] = 0;
    return cpu;
  }

  test('a CPU restored mid-run finishes exactly like the original', async () => {
    const original = cpuWithProgram();
    original.run(501);
    const file = await encodeSnapshot(saveCpuState(original) as StateValue);
    const restored = cpuWithProgram();
    restored.memory.ram.set(original.memory.ram);
    loadCpuState(restored, (await decodeSnapshot(file)) as never);
    expect(restored.reg32[ECX]).toBe(original.reg32[ECX]);
    original.run(100_000);
    restored.run(100_000);
    expect(restored.reg32[EAX]).toBe(original.reg32[EAX]);
    expect(restored.reg32[EAX]).toBe(((1000 * 1001) / 2) & 0xffff);
    expect(restored.instructionCount).toBe(original.instructionCount);
    expect(restored.halted).toBe(true);
  });

  test('malformed CPU state is refused naming the field, and nothing changes', () => {
    const cpu = cpuWithProgram();
    const state = saveCpuState(cpu);
    const before = Int32Array.from(cpu.reg32);
    expect(() => loadCpuState(cpu, { ...state, sreg: new Uint16Array(2) })).toThrow(/'sreg'/);
    expect(() => loadCpuState(cpu, { ...state, cr0: 'x' })).toThrow(/'cr0'/);
    expect(() => loadCpuState(cpu, { ...state, version: 7 })).toThrow(/version/);
    expect(cpu.reg32).toEqual(before);
  });
});
