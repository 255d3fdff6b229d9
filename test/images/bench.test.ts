/**
 * bench: the integer benchmark, patched to run 2 iterations (the count is the dword after the marker
 * "BENCH-ITERATIONS"), booted by Multiboot. Its checksums are the same on any x86; the golden file was
 * checked against QEMU (qemu-system-i386 -kernel bench.bin with the same patch prints the same lines).
 */
import { expect, test } from 'vitest';
import { expectGolden, guestBinary, GuestSession, toGoldenText } from './harness.ts';

export const ITERATIONS_MARKER = 'BENCH-ITERATIONS';

/** A copy of bench.bin that runs `count` iterations. */
export function benchWithIterations(count: number): Uint8Array {
  const binary = guestBinary('bench').slice();
  const at = Buffer.from(binary).indexOf(ITERATIONS_MARKER);
  if (at < 0) throw new Error(`bench.bin has no ${ITERATIONS_MARKER} marker`);
  new DataView(binary.buffer).setUint32(at + ITERATIONS_MARKER.length, count, true);
  return binary;
}

test('the committed bench runs 100 iterations', () => {
  const binary = guestBinary('bench');
  const at = Buffer.from(binary).indexOf(ITERATIONS_MARKER);
  expect(new DataView(binary.buffer, binary.byteOffset).getUint32(at + ITERATIONS_MARKER.length, true)).toBe(
    100,
  );
});

test('bench (2 iterations) prints its checksums and exits through port 0xF4', () => {
  const vm = new GuestSession('bench', { binary: benchWithIterations(2) });
  expect(vm.runToEnd(50_000_000)).toBe('exit');
  expect(vm.pc.exitStatus).toBe(1); // wrote 0: no kernel found a wrong result
  expect(vm.output).toContain(vm.guest.banner);
  expect(vm.output).toMatch(/bench: iterations=2 checksum=[0-9A-F]{8}\r\n$/);
  expectGolden('bench', toGoldenText(vm.output));
});
