/**
 * life: the Game of Life on the VGA text screen, keys through the 8042. The generations are a function of the
 * fixed random seed, so screens taken while the game is paused are exact; the golden file holds the COM1 log
 * and those screens.
 */
import { expect, test } from 'vitest';
import { expectGolden, GuestSession, toGoldenText } from './harness.ts';

/** Runs until COM1 reports `text` (the guest spends most of its time halted, so virtual time is cheap). */
function waitFor(vm: GuestSession, text: string): void {
  vm.waitFor(text, 3_000_000_000);
}

/** Presses a key and lets the guest handle it (and redraw). */
function key(vm: GuestSession, code: string, log: string): void {
  vm.pressKey(code);
  waitFor(vm, log);
  vm.run(1_000_000);
}

test('life draws generations on the VGA screen and follows the keyboard', () => {
  const vm = new GuestSession('life');
  const screens: string[] = [];
  waitFor(vm, 'life: generation 100,');
  key(vm, 'Space', 'life: key Space: paused');
  const paused = vm.screen();
  expect(paused.split('\n')[0]).toContain("Conway's Game of Life");
  expect(paused).toMatch(/Generation 100 {2}Population \d+ {2}paused/);
  expect(paused).toContain('■'); // live cells (code page 437 0xFE)
  screens.push(paused);

  // Paused: nothing changes while time passes.
  vm.run(200_000_000);
  expect(vm.screen()).toBe(paused);

  key(vm, 'KeyN', 'life: key N: one step');
  const stepped = vm.screen();
  expect(stepped).toContain('Generation 101');
  expect(stepped).not.toBe(paused);
  screens.push(stepped);

  key(vm, 'KeyC', 'life: key C: clear');
  expect(vm.screen()).toContain('Generation 0  Population 0  paused');
  expect(vm.screen()).not.toContain('■');

  key(vm, 'KeyG', 'life: key G: a glider gun');
  for (let i = 0; i < 30; i++) key(vm, 'KeyN', 'life: key N: one step');
  expect(vm.screen()).toContain('Generation 30  Population');
  screens.push(vm.screen());

  key(vm, 'KeyR', 'life: key R: a new random soup');
  key(vm, 'Space', 'life: key Space: running');
  waitFor(vm, 'life: generation 100,');
  vm.pressKey('KeyQ');
  expect(vm.runToEnd(100_000_000)).toBe('exit');
  expect(vm.pc.exitStatus).toBe(1);

  expectGolden('life', toGoldenText(vm.output) + screens.map((s) => `--- screen ---\n${s}\n`).join(''));
});
