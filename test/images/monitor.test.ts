/**
 * monitor: the protected-mode shell on COM1. The test types a session of commands and compares the
 * transcript with a golden file; fields that depend on how long the BIOS took to boot (the uptime, the RTC's
 * seconds) are masked there and checked on their own.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { SECTOR_SIZE } from '../../src/devices/block-device.ts';
import { expectGolden, GuestSession, toGoldenText } from './harness.ts';

const PROMPT = '\r\n> ';

/**
 * KNOWN BUGS that stop `reboot` (reported; flip this when fixed):
 * - src/cpu/cpu.ts Cpu.reset() sets cr0 = 0x60000010 but leaves mmu.paging true, so after a reset from a
 *   paged guest the CPU still translates through page tables (CR3 = 0 now): the reset vector's JMP F000:E05B
 *   reads its operand as 0000:0000 and the BIOS never runs again.
 * - src/cpu/jit/jit.ts: after the monitor runs a command, a pageBlocks list (physical page 7) has a cycle
 *   through Block.pageNext, so the flush in Cpu.reset() (or invalidatePage) loops for ever.
 */
const RESET_BUGS_FIXED = true;
/** Instructions one command may take (disk read prints 32 lines; all take far less). */
const COMMAND_LIMIT = 50_000_000;

/** Types a command line plus Enter and runs until the next prompt; returns what the monitor printed. */
function command(vm: GuestSession, line: string): string {
  vm.type(`${line}\r`);
  return vm.runUntil((fresh) => fresh.endsWith(PROMPT), COMMAND_LIMIT, `the prompt after '${line}'`);
}

/** Masks what depends on the BIOS's boot time: uptime figures and the RTC's seconds. */
function maskTimes(text: string): string {
  return text
    .replace(/up \d+\.\d\d s \(\d+ ticks/g, 'up #.## s (# ticks')
    .replace(/(\d{4}-\d\d-\d\d \d\d:\d\d):\d\d \(RTC/g, '$1:## (RTC');
}

function uptimeTicks(output: string): number {
  const m = /up \d+\.\d\d s \((\d+) ticks/.exec(output);
  if (!m) throw new Error(`no uptime in: ${output}`);
  return Number(m[1]);
}

describe('monitor', () => {
  let vm: GuestSession;
  const seen: Record<string, string> = {};

  beforeAll(() => {
    vm = new GuestSession('monitor');
    vm.waitFor(PROMPT);
    for (const line of [
      'help',
      'mem',
      'regs',
      'peek 7c00',
      'peek 0',
      'poke b8000 41 1f 42 1f',
      'peek 0xB8000 8',
      'out 70 0b',
      'in 71',
      'out 80 55',
      'in 10000',
      'disk id',
      'disk write 100 Hello,  disk!',
      'disk read 100',
      'disk read 800',
      'uptime',
    ]) {
      seen[line] = command(vm, line);
    }
    vm.run(100_000_000); // one virtual second of idling at the prompt
    seen['uptime 2'] = command(vm, 'uptime');
    seen.date = command(vm, 'date');
    seen.edited = command(vm, 'dx\x7fate'); // backspace (DEL) erases the x
    seen.unknown = command(vm, 'frobnicate');
    seen.usage = command(vm, 'peek');
  });

  test('boots into protected mode with paging and shows the prompt', () => {
    expect(vm.output).toContain(vm.guest.banner);
    expect(vm.output).toContain('monitor: paging on: 00001000-00FFFFFF identity-mapped, page 0 unmapped');
    expect(vm.output).toContain('monitor: COM1 receives by interrupt (IRQ4)');
  });

  test('help lists the commands', () => {
    for (const name of ['mem', 'regs', 'peek', 'poke', 'in', 'out', 'disk', 'uptime', 'date', 'reboot']) {
      expect(seen.help).toMatch(new RegExp(`\\r\\n  ${name} `));
    }
  });

  test('mem shows the E820 map; regs shows PE and PG set', () => {
    expect(seen.mem).toMatch(/00100000-00FFFFFF {2}usable RAM/);
    expect(seen.regs).toMatch(/CR0=[0-9A-F]{8} \[PE .*PG\]/);
    expect(seen.regs).toContain('CR3=00070000');
  });

  test('peek of page 0 is a page fault the monitor survives', () => {
    expect(seen['peek 0']).toContain('*** CPU exception 0E (page fault)');
    expect(seen['peek 0']).toContain('CR2 = 00000000');
  });

  test('poke writes video memory; in/out reach the ports', () => {
    const cells = vm.pc.vga.textSnapshot().cells;
    expect(cells[0]).toBe(0x1f41); // 'A', white on blue
    expect(cells[1]).toBe(0x1f42);
    expect(seen['in 71']).toContain('port 0071 = 02'); // RTC register B: 24-hour, BCD
    expect(vm.pc.postCode.code).toBe(0x55);
    expect(seen['in 10000']).toContain('I/O ports are 0-FFFF');
  });

  test('disk write and read go through the ATA ports to the disk image', () => {
    const disk = vm.device!.data;
    const written = disk.subarray(0x100 * SECTOR_SIZE, 0x101 * SECTOR_SIZE);
    expect(Buffer.from(written.subarray(0, 13)).toString('latin1')).toBe('Hello,  disk!');
    expect(written.subarray(13).every((b) => b === 0)).toBe(true);
    expect(seen['disk read 100']).toContain(
      '48 65 6C 6C 6F 2C 20 20  64 69 73 6B 21 00 00 00  |Hello,  disk!...|',
    );
    expect(seen['disk read 800']).toContain('disk error'); // past the end of the 2048-sector disk
    expect(seen['disk id']).toContain('2048 sectors of 512 bytes (1024 KiB), LBA28');
  });

  test('uptime counts 100 PIT ticks per virtual second', () => {
    const delta = uptimeTicks(seen['uptime 2']) - uptimeTicks(seen.uptime);
    expect(delta).toBeGreaterThanOrEqual(100);
    expect(delta).toBeLessThanOrEqual(102);
  });

  test('date reads the RTC', () => {
    expect(seen.date).toMatch(/2026-03-14 15:09:\d\d \(RTC register B = 02\)/);
    // "dx", DEL, "ate": the echo shows the erase (BS, space, BS), and the command run is date.
    expect(seen.edited.startsWith('dx\b \bate\r\n')).toBe(true);
    expect(maskTimes(seen.edited.slice(seen.edited.indexOf('\n') + 1))).toBe(
      maskTimes(seen.date.slice(seen.date.indexOf('\n') + 1)),
    );
  });

  test('the transcript matches the golden file', () => {
    expectGolden('monitor', maskTimes(toGoldenText(vm.output)));
  });

  test.skipIf(!RESET_BUGS_FIXED)('reboot resets the PC through the 8042, and the monitor comes back', () => {
    vm.type('reboot\r');
    expect(vm.runToEnd(COMMAND_LIMIT)).toBe('reset');
    expect(vm.pc.resetCount).toBe(1);
    const before = vm.output.length;
    vm.waitFor(PROMPT);
    expect(vm.output.slice(before)).toContain(vm.guest.banner);
  });

  test('quit powers off through isa-debug-exit', () => {
    vm.type('quit\r');
    expect(vm.runToEnd(COMMAND_LIMIT)).toBe('exit');
    expect(vm.pc.exitStatus).toBe(1);
  });
});
