/**
 * hello: a boot sector that prints once through the BIOS (INT 10h, so on the VGA screen) and once straight to
 * COM1, then halts with interrupts off.
 */
import { expect, test } from 'vitest';
import { expectGolden, GuestSession, toGoldenText } from './harness.ts';

test('hello boots from a floppy, prints on the screen and on COM1, and halts', () => {
  const vm = new GuestSession('hello');
  expect(vm.runToEnd(10_000_000)).toBe('idle'); // CLI; HLT
  expect(vm.output).toContain(vm.guest.banner);
  expectGolden('hello', toGoldenText(vm.output));
  // The INT 10h line went to the screen (the BIOS's serial mirror is off in these tests).
  expect(vm.pc.vga.textLines()).toContain(
    'hello: Hello, world! This line was printed by the BIOS (INT 10h).',
  );
});
