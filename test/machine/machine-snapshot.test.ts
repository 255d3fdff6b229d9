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
import { MemoryBlockDevice } from '../../src/devices/block-device.ts';
import { createBaseImage, createOverlay } from '../../src/machine/disk-overlay.ts';
import { GuestSession, type SessionOptions } from '../images/harness.ts';

/**
 * Runs guest `name` for `total` instructions straight, and again with a snapshot (through the container file)
 * after `at` instructions restored into a new machine that runs the rest; returns both sessions.
 */
async function straightAndRestored(
  name: string,
  at: number,
  total: number,
  options: SessionOptions = {},
): Promise<{ straight: GuestSession; restored: GuestSession }> {
  const straight = new GuestSession(name, options);
  straight.run(total);
  const first = new GuestSession(name, options);
  first.run(at);
  const file = await encodeSnapshot(first.pc.saveState() as StateValue);
  const restored = new GuestSession(name, options);
  restored.pc.loadState((await decodeSnapshot(file)) as DeviceState);
  restored.output = first.output;
  restored.run(total - at);
  return { straight, restored };
}

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

  test('life (VGA text, PIT pacing, BIOS floppy boot) resumes identically: COM1 and the screen', async () => {
    const { straight, restored } = await straightAndRestored('life', 23_456_789, 60_000_000);
    expect(straight.screen()).toMatch(/Generation [1-9]\d*/);
    expect(restored.output).toBe(straight.output);
    expect(restored.screen()).toBe(straight.screen());
    expect(restored.pc.clock.now()).toBe(straight.pc.clock.now());
  });

  test('media that do not fit the saved ones are refused before anything changes', () => {
    const base = createBaseImage(new Uint8Array(64 * 512), 'base-a');
    const disk = createOverlay(base);
    disk.write(3, 1, new Uint8Array(512).fill(9), 0);
    const state = createPc({ memoryMiB: 4, disks: [disk] }).saveState();
    const saved = state.media as DeviceState;
    expect((saved.disk0 as DeviceState).kind).toBe('overlay');
    expect(saved.disk1).toBeNull();

    const otherBase = createOverlay(createBaseImage(new Uint8Array(64 * 512), 'base-b'));
    const wrongBase = createPc({ memoryMiB: 4, disks: [otherBase] });
    wrongBase.memory.ram[5] = 0x5a;
    expect(() => wrongBase.loadState(state)).toThrow(/hard disk 0: .*base image base-a/);
    expect(wrongBase.memory.ram[5]).toBe(0x5a);
    expect(() => createPc({ memoryMiB: 4 }).loadState(state)).toThrow(/has a medium in hard disk 0/);
    const plain = createPc({ memoryMiB: 4, disks: [new MemoryBlockDevice(new Uint8Array(64 * 512))] });
    expect(() => plain.loadState(state)).toThrow(/copy-on-write overlay; this machine's is not/);

    // A plain block device is recorded by size and must match it.
    const plainState = plain.saveState();
    expect((plainState.media as DeviceState).disk0).toEqual({
      kind: 'device',
      sectorCount: 64,
      readOnly: false,
    });
    const bigger = createPc({ memoryMiB: 4, disks: [new MemoryBlockDevice(new Uint8Array(128 * 512))] });
    expect(() => bigger.loadState(plainState)).toThrow(/has 64 sectors, this machine's 128/);

    // Restoring onto a matching overlay brings its sectors back.
    const same = createOverlay(base);
    const target = createPc({ memoryMiB: 4, disks: [same] });
    target.loadState(state);
    const sector = new Uint8Array(512);
    same.read(3, 1, sector, 0);
    expect(sector[0]).toBe(9);
  });

  test('floppy media: an overlay is restored in place; a drive empty when saved is emptied', () => {
    const base = createBaseImage(new Uint8Array(2880 * 512), 'floppy-base');
    const floppy = createOverlay(base);
    floppy.write(0, 1, new Uint8Array(512).fill(0x46), 0);
    const pc = createPc({ memoryMiB: 4, floppies: [floppy] });
    const withDisk = pc.saveState();
    pc.floppy.ejectMedia(0);
    const empty = pc.saveState();
    expect((empty.media as DeviceState).floppy0).toBeNull();

    const other = createOverlay(base);
    const target = createPc({ memoryMiB: 4, floppies: [other] });
    target.loadState(withDisk);
    const sector = new Uint8Array(512);
    other.read(0, 1, sector, 0);
    expect(sector[0]).toBe(0x46);
    expect(target.floppy.drives[0]!.media).toBe(other);
    target.loadState(empty);
    expect(target.floppy.drives[0]!.media).toBeNull();
    expect(target.floppy.drives[0]!.diskChanged).toBe(pc.floppy.drives[0]!.diskChanged);
    expect(() => target.loadState(withDisk)).toThrow(/a medium in floppy drive 0, this machine has none/);
  });

  test('machine states of other versions are refused, saying older or newer', () => {
    const state = machine([]).saveState();
    expect(() => machine([]).loadState({ ...state, version: 1 })).toThrow(
      /machine state version 1 is older than this build reads \(this build reads version 2\)/,
    );
    expect(() => machine([]).loadState({ ...state, version: 3 })).toThrow(/version 3 is newer/);
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
