/**
 * disk: writes and verifies a pattern through the ATA ports and keeps a boot counter in sector 32. Booting
 * twice from the same MemoryBlockDevice shows the counter going up; a fresh copy of the image starts over.
 */
import { expect, test } from 'vitest';
import { SECTOR_SIZE } from '../../src/devices/block-device.ts';
import { expectGolden, GuestSession, toGoldenText } from './harness.ts';

const COUNTER_LBA = 32;

function counterOnDisk(data: Uint8Array): number {
  const sector = data.subarray(COUNTER_LBA * SECTOR_SIZE, (COUNTER_LBA + 1) * SECTOR_SIZE);
  const signature = 'visor86 disk guest boot counter\0';
  expect(Buffer.from(sector.subarray(0, signature.length)).toString('latin1')).toBe(signature);
  return new DataView(sector.buffer, sector.byteOffset).getUint32(signature.length, true);
}

test('disk verifies its pattern and counts boots on a kept disk', () => {
  const first = new GuestSession('disk');
  expect(first.runToEnd(100_000_000)).toBe('idle');
  expect(first.output).toContain(first.guest.banner);
  expect(first.output).toContain('disk: all 32768 bytes match');
  expect(first.output).toContain('this disk has not run this program before');
  expect(first.output).toContain('disk: this is boot #1;');
  const disk = first.device!;
  expect(counterOnDisk(disk.data)).toBe(1);

  // Power on a new PC with the same disk.
  const second = new GuestSession('disk', { device: disk });
  expect(second.runToEnd(100_000_000)).toBe('idle');
  expect(second.output).toContain('disk: sector 32 says the previous boot was boot #1');
  expect(second.output).toContain('disk: this is boot #2;');
  expect(counterOnDisk(disk.data)).toBe(2);

  expectGolden(
    'disk',
    toGoldenText(first.output) + '--- a new PC, the same disk ---\n' + toGoldenText(second.output),
  );
});

test('a fresh copy of the disk image starts counting again', () => {
  const vm = new GuestSession('disk');
  expect(vm.runToEnd(100_000_000)).toBe('idle');
  expect(vm.output).toContain('disk: this is boot #1;');
});
