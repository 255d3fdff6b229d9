/**
 * End to end, in Node: the `disk` guest (images/disk) boots from a copy-on-write overlay over a shared base
 * image. A whole-machine snapshot (RAM, devices and the overlay) is taken, the guest changes the disk (its
 * boot counter in sector 32), the snapshot is restored, and the guest, booted again, sees the old contents.
 * The base image is never written.
 */
import { describe, expect, test } from 'vitest';
import { createPc, type Pc } from '../../src/machine/pc.ts';
import { installBios } from '../../src/machine/bios/index.ts';
import { buildBootMedia } from '../../src/machine/guest-images.ts';
import {
  createBaseImage,
  createOverlay,
  type DiskBase,
  type DiskOverlay,
} from '../../src/machine/disk-overlay.ts';
import { decodeSnapshot, encodeSnapshot, type StateValue } from '../../src/machine/snapshot-file.ts';
import { SECTOR_SIZE } from '../../src/devices/block-device.ts';
import type { DeviceState } from '../../src/devices/device.ts';
import { guestBinary, RTC_TIME, SLICE } from '../images/harness.ts';
import { catalog } from '../images/harness.ts';
import { findGuest } from '../../src/machine/guest-images.ts';
import { XFER_OUT } from '../../src/devices/ata-disk.ts';

const COUNTER_LBA = 32;
const SIGNATURE = 'visor86 disk guest boot counter\0';
const guest = findGuest(catalog, 'disk');

/** The boot counter sector 32 holds, or null when it holds none (read through the overlay chain). */
function counterOn(disk: DiskBase | DiskOverlay): number | null {
  const sector = new Uint8Array(SECTOR_SIZE);
  disk.read(COUNTER_LBA, 1, sector, 0);
  if (Buffer.from(sector.subarray(0, SIGNATURE.length)).toString('latin1') !== SIGNATURE) return null;
  return new DataView(sector.buffer).getUint32(SIGNATURE.length, true);
}

class DiskVm {
  readonly pc: Pc;
  output = '';
  constructor(readonly disk: DiskOverlay) {
    this.pc = createPc({
      rtcTime: RTC_TIME,
      memoryMiB: guest.memoryMiB,
      disks: [disk],
      onSerialOutput: (com, bytes) => {
        if (com === 0) this.output += Buffer.from(bytes).toString('latin1');
      },
    });
    installBios(this.pc, { serialMirror: false });
  }

  /** Runs until the guest halts with interrupts off (it does after saving its counter). */
  runToHalt(): void {
    for (let i = 0; i < 1000; i++) if (this.pc.run(SLICE) !== 'budget') return;
    throw new Error(`the disk guest did not finish; output:\n${this.output}`);
  }

  /** Runs until COM1 shows `text` since the call. */
  runUntil(text: string): void {
    const start = this.output.length;
    for (let i = 0; i < 1000; i++) {
      this.pc.run(10_000);
      if (this.output.slice(start).includes(text)) return;
    }
    throw new Error(`no '${text}'; output:\n${this.output}`);
  }
}

describe('the disk guest on a copy-on-write overlay', () => {
  test('snapshot, change the disk in the guest, revert: the guest sees the old contents', async () => {
    const base = createBaseImage(buildBootMedia(guest, guestBinary('disk')), 'disk-guest');
    const baseBefore = new Uint8Array(base.byteLength);
    base.read(0, base.sectorCount, baseBefore, 0);

    const vm = new DiskVm(createOverlay(base));
    vm.runToHalt();
    expect(vm.output).toContain('disk: this is boot #1;');
    expect(counterOn(vm.disk)).toBe(1);
    expect(counterOn(base)).toBeNull();

    // Snapshot of the halted machine and its disk, through the container file.
    const file = await encodeSnapshot(vm.pc.saveState() as StateValue);

    // The guest changes the disk: reboot, it counts boot #2 and rewrites its pattern.
    vm.pc.reset();
    vm.output = '';
    vm.runToHalt();
    expect(vm.output).toContain('disk: sector 32 says the previous boot was boot #1');
    expect(vm.output).toContain('disk: this is boot #2;');
    expect(counterOn(vm.disk)).toBe(2);

    // Revert: the disk holds boot #1's counter again; booted, the guest says so.
    vm.pc.loadState((await decodeSnapshot(file)) as DeviceState);
    expect(counterOn(vm.disk)).toBe(1);
    vm.pc.reset();
    vm.output = '';
    vm.runToHalt();
    expect(vm.output).toContain('disk: sector 32 says the previous boot was boot #1');
    expect(vm.output).toContain('disk: this is boot #2;');

    // The shared base was never written.
    const baseAfter = new Uint8Array(base.byteLength);
    base.read(0, base.sectorCount, baseAfter, 0);
    expect(Buffer.compare(baseAfter, baseBefore)).toBe(0);
  });

  test('a snapshot taken mid-write resumes, on a new machine, with the output of the uninterrupted run', async () => {
    const base = createBaseImage(buildBootMedia(guest, guestBinary('disk')), 'disk-guest');
    const straight = new DiskVm(createOverlay(base));
    straight.runToHalt();

    const first = new DiskVm(createOverlay(base));
    first.runUntil('disk: writing 64 sectors');
    first.pc.run(3_000); // into the WRITE SECTORS data transfer
    expect(first.pc.hardDisks[0]!.transfer).toBe(XFER_OUT);
    const file = await encodeSnapshot(first.pc.saveState() as StateValue);

    const restored = new DiskVm(createOverlay(base)); // a fresh overlay over the same base
    restored.output = first.output;
    restored.pc.loadState((await decodeSnapshot(file)) as DeviceState);
    restored.runToHalt();
    expect(restored.output).toBe(straight.output);
    expect(restored.pc.clock.now()).toBe(straight.pc.clock.now());
    expect(Buffer.compare(restored.disk.toImage(), straight.disk.toImage())).toBe(0);
  });

  test('the snapshot tree way: takeSnapshot and revertTo on the overlay the machine uses', () => {
    const base = createBaseImage(buildBootMedia(guest, guestBinary('disk')), 'disk-guest');
    const vm = new DiskVm(createOverlay(base));
    vm.runToHalt();
    const machine = vm.pc.saveState();
    const layer = vm.disk.takeSnapshot(); // boot #1's disk, frozen; the machine goes on writing above it
    expect(layer.overlaidSectors).toBeGreaterThan(0);
    expect(vm.disk.storedBytes).toBe(0);

    vm.pc.reset();
    vm.runToHalt();
    expect(counterOn(vm.disk)).toBe(2);
    expect(counterOn(layer)).toBe(1);

    vm.disk.revertTo(layer);
    vm.pc.loadState(machine);
    expect(counterOn(vm.disk)).toBe(1);
    // A linked clone of the same snapshot boots on its own and shares the layer's blocks.
    const clone = new DiskVm(layer.child());
    clone.runToHalt();
    expect(clone.output).toContain('disk: sector 32 says the previous boot was boot #1');
    expect(clone.disk.parent).toBe(layer);
    expect(counterOn(vm.disk)).toBe(1);
  });
});
