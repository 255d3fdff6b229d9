/**
 * Whole-machine snapshots: a run restored from a snapshot prints the same serial output as the run that
 * continued without it (time is virtual, so this is exact), and a state that does not fit is refused.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { createPc, type Pc } from '../../src/machine/pc.ts';
import { bootMultiboot } from '../../src/machine/multiboot.ts';
import { decodeSnapshot, encodeSnapshot, type StateValue } from '../../src/machine/snapshot-file.ts';
import type { DeviceState } from '../../src/devices/device.ts';

const PROGRAM = resolve(import.meta.dirname, '../guests/build/29-muldiv.bin');

function machine(out: number[]): Pc {
  return createPc({ memoryMiB: 32, onSerialOutput: (com, bytes) => com === 0 && out.push(...bytes) });
}

function runToEnd(pc: Pc): void {
  for (let i = 0; i < 400 && pc.run(200_000) === 'budget'; i++);
}

describe('machine snapshots', () => {
  test('restore-then-run prints exactly what the uninterrupted run printed', async () => {
    const straightOut: number[] = [];
    const straight = machine(straightOut);
    bootMultiboot(straight, readFileSync(PROGRAM));
    runToEnd(straight);
    expect(straight.exitStatus).toBe(33);

    const firstOut: number[] = [];
    const first = machine(firstOut);
    bootMultiboot(first, readFileSync(PROGRAM));
    first.run(Math.floor(straight.cpu.instructionCount / 2)); // half way through
    expect(first.exitStatus).toBeNull();
    const file = await encodeSnapshot(first.saveState() as StateValue);

    const restoredOut: number[] = [...firstOut];
    const restored = machine(restoredOut);
    restored.loadState((await decodeSnapshot(file)) as DeviceState);
    runToEnd(restored);
    expect(Buffer.from(restoredOut).toString('latin1')).toBe(Buffer.from(straightOut).toString('latin1'));
    expect(restored.exitStatus).toBe(33);
    expect(restored.cpu.instructionCount).toBe(straight.cpu.instructionCount);
    expect(restored.clock.now()).toBe(straight.clock.now());
  });

  test('a state for another memory size or firmware, or with a device missing, is refused', () => {
    const pc = machine([]);
    const state = pc.saveState();
    expect(() => createPc({ memoryMiB: 64 }).loadState(state)).toThrow(/RAM/);
    expect(() => createPc({ memoryMiB: 32, firmware: 'bios' }).loadState(state)).toThrow(/firmware/);
    const devices = { ...(state.devices as DeviceState) };
    delete devices.rtc;
    expect(() => machine([]).loadState({ ...state, devices })).toThrow(/'rtc'/);
    expect(() => machine([]).loadState({ ...state, version: 99 })).toThrow(/version 99/);
  });
});
