import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, run, start } from './harness.ts';

const BZIMAGE = fixture('tiny-bzimage.bin');
const MULTIBOOT = fixture('tiny-multiboot.bin');
const ECHO = fixture('tiny-echo.bin');

let dir = '';
const tmp = (name: string) => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'visor86-cli-'));
  // A hard disk and a floppy whose boot sector prints its drive and the text of the second sector.
  const bootSector = readFileSync(fixture('tiny-bootsector.bin'));
  const image = (size: number, text: string) => {
    const data = Buffer.alloc(size);
    bootSector.copy(data, 0);
    data.write(`${text}\r\n\0`, 512, 'latin1');
    return data;
  };
  writeFileSync(tmp('disk.img'), image(1024 * 1024, 'hello from the disk'));
  writeFileSync(tmp('floppy.img'), image(1_474_560, 'hello from the floppy'));
  writeFileSync(tmp('floppy-720k.img'), image(737_280, 'hello from a 720K floppy'));
  writeFileSync(tmp('odd.img'), Buffer.alloc(1000));
  writeFileSync(tmp('empty.img'), Buffer.alloc(0));
  writeFileSync(tmp('junk.bin'), Buffer.alloc(9000, 0x90));
  const oldKernel = readFileSync(BZIMAGE);
  oldKernel.writeUInt16LE(0x0201, 0x206);
  writeFileSync(tmp('old-bzimage.bin'), oldKernel);
  copyFileSync(BZIMAGE, tmp('locked.bin'));
  chmodSync(tmp('locked.bin'), 0);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('visor86 usage', () => {
  it('prints usage for --help and run --help', async () => {
    const top = await run(['--help']);
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/^Usage: visor86 <command>/);
    const sub = await run(['run', '--help']);
    expect(sub.status).toBe(0);
    expect(sub.stdout).toMatch(/^Usage: visor86 run \[IMAGE\]/);
    expect(sub.stdout).toContain('--timeout SEC');
  });

  it('exits 2 without a command or with an unknown one', async () => {
    const none = await run([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^Usage:/);
    const unknown = await run(['fly']);
    expect(unknown).toEqual({
      status: 2,
      stdout: '',
      stderr: "visor86: unknown command 'fly' (see visor86 --help)\n",
    });
  });
});

describe('visor86 run --kernel', () => {
  it('boots a bzImage with an initrd and a command line, exiting with the isa-debug-exit status', async () => {
    const initrd = tmp('initrd.img');
    writeFileSync(initrd, 'RAMDISK-CONTENTS');
    const r = await run(['run', '--kernel', BZIMAGE, '--initrd', initrd, '--append', 'console=ttyS0 x=1']);
    expect(r.status).toBe(33);
    expect(r.stderr).toBe('');
    // Nothing but the guest's own output on stdout (no firmware messages).
    expect(r.stdout).toBe(
      'loader=ff cs=0010 ds=0018 regs=00000000 if=0\n' +
        'cmdline=console=ttyS0 x=1\n' +
        'e820=05 altmem=0001fc00 video=03 80x25 vga=01\n' + // 128 MiB by default
        'initrd=07fff000 size=16 data=RAMDISK-\n',
    );
  });

  it('gives a bzImage without --append the command line that sends Linux to COM1', async () => {
    const r = await run(['run', '--kernel', BZIMAGE]);
    expect(r.status).toBe(33);
    expect(r.stdout).toContain('cmdline=console=ttyS0 tsc=reliable\n');
  });

  it('boots a Multiboot kernel: --append is its command line, --initrd module 0', async () => {
    const initrd = tmp('module.bin');
    writeFileSync(initrd, 'MODULE-0-DATA');
    const r = await run([
      'run',
      '--kernel',
      MULTIBOOT,
      '--initrd',
      initrd,
      '--append',
      'mb args',
      '--memory',
      '16',
    ]);
    expect(r.status).toBe(11);
    expect(r.stdout).toBe(
      'magic=2badb002 flags=0000024d\ncmdline=mb args\n' +
        `mods=1 mod0=00101000 size=13 data=MODULE-0 string=${initrd}\n`,
    );
  });

  it('honours --memory', async () => {
    const r = await run(['run', '--kernel', BZIMAGE, '--memory=64']);
    expect(r.stdout).toContain(`altmem=${(63 * 1024).toString(16).padStart(8, '0')}`);
  });

  it('exits 0 as soon as the --until text appears', async () => {
    // The echo guest waits for input forever after "ready".
    const r = await run(['run', '--kernel', ECHO, '--append', 'wait here', '--until', 'rea' + 'dy']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('echo: wait here\nready\n');
  });

  it('exits 124 on --timeout, for a busy guest and for one waiting for input', async () => {
    const busy = await run(['run', '--kernel', ECHO, '--append', 'spin', '--timeout', '0.5']);
    expect(busy.status).toBe(124);
    expect(busy.stdout).toBe('echo: spin\nspinning\n');
    expect(busy.stderr).toBe('visor86: timeout: stopped after 0.5 s\n');
    const waiting = await run([
      'run',
      '--kernel',
      ECHO,
      '--append',
      'idle',
      '--timeout',
      '0.3',
      '--until',
      'never',
    ]);
    expect(waiting.status).toBe(124);
  });

  it('ends when the guest halts with interrupts off: 0, or 1 when --until was still waiting', async () => {
    const done = await run(['run', '--kernel', ECHO, '--append', 'halt']);
    expect(done).toEqual({
      status: 0,
      stdout: 'echo: halt\nhalting\n',
      stderr: 'visor86: the guest halted with interrupts off\n',
    });
    const early = await run(['run', '--kernel', ECHO, '--append', 'halt', '--until', 'login:']);
    expect(early.status).toBe(1);
    expect(early.stderr).toContain("before 'login:' appeared");
  });

  it('boots the kernel again when the guest resets the machine', async () => {
    const r = await run(['run', '--kernel', ECHO, '--append', 'reset', '--timeout', '0.5']);
    expect(r.status).toBe(124);
    expect(r.stdout.split('echo: reset\nresetting\n').length).toBeGreaterThan(2);
    expect(r.stderr).toContain('the guest reset the machine; booting the kernel again');
  });

  it('writes COM1 to a file with --serial file:F', async () => {
    const out = tmp('serial.txt');
    const r = await run(['run', '--kernel', BZIMAGE, '--append', 'to a file', '--serial', `file:${out}`]);
    expect(r.status).toBe(33);
    expect(r.stdout).toBe('');
    expect(readFileSync(out, 'latin1')).toContain('cmdline=to a file\n');
  });
});

describe('visor86 run with stdin', () => {
  it('types stdin into COM1', async () => {
    const vm = start(['run', '--kernel', ECHO, '--append', 'typing']);
    await vm.stdout.waitFor('ready\n');
    vm.stdin.write('hello, world');
    await vm.stdout.waitFor('HELLO, WORLD');
    vm.stdin.write(' and more q');
    expect(await vm.status).toBe(85);
    expect(vm.stdout.text()).toBe('echo: typing\nready\nHELLO, WORLD AND MORE \nbye\n');
    expect(vm.stderr.text()).toBe('');
  });

  it('feeds long input at the pace the guest reads it', async () => {
    const vm = start(['run', '--kernel', ECHO, '--append', 'long']);
    await vm.stdout.waitFor('ready\n');
    const text = 'abcdefghij'.repeat(300);
    vm.stdin.write(text + 'q');
    expect(await vm.status).toBe(85);
    expect(vm.stdout.text()).toBe(`echo: long\nready\n${text.toUpperCase()}\nbye\n`);
  });

  it('quits on C-a x with status 0, shows help on C-a h, sends C-a on C-a C-a', async () => {
    const vm = start(['run', '--kernel', ECHO, '--append', 'keys']);
    await vm.stdout.waitFor('ready\n');
    vm.stdin.write('a\x01\x01b\x01h');
    await vm.stdout.waitFor('B');
    await vm.stderr.waitFor('C-a x');
    vm.stdin.write('c');
    await vm.stdout.waitFor('C');
    vm.stdin.write('\x01x');
    expect(await vm.status).toBe(0);
    expect(vm.stdout.text()).toBe('echo: keys\nready\nA\x01BC');
    expect(vm.stderr.text()).toContain('C-a h    print this help');
    expect(vm.stderr.text()).toContain('visor86: terminated by C-a x\n');
  });

  it('runs two VMs at once in one process without mixing them up', async () => {
    const one = start(['run', '--kernel', ECHO, '--append', 'first']);
    const two = start(['run', '--kernel', ECHO, '--append', 'second', '--memory', '8']);
    const three = start(['run', '--kernel', BZIMAGE, '--append', 'third']);
    await Promise.all([one.stdout.waitFor('ready\n'), two.stdout.waitFor('ready\n')]);
    one.stdin.write('one');
    two.stdin.write('two');
    await Promise.all([one.stdout.waitFor('ONE'), two.stdout.waitFor('TWO')]);
    two.stdin.write('q');
    expect(await two.status).toBe(85);
    one.stdin.write('\x01x');
    expect(await one.status).toBe(0);
    expect(await three.status).toBe(33);
    expect(one.stdout.text()).toBe('echo: first\nready\nONE');
    expect(two.stdout.text()).toBe('echo: second\nready\nTWO\nbye\n');
    expect(three.stdout.text()).toContain('cmdline=third\n');
  });
});

describe('visor86 run from a disk or floppy image (through the BIOS)', () => {
  it('boots a hard disk image; BIOS messages and INT 10h output reach COM1', async () => {
    const r = await run(['run', tmp('disk.img'), '--timeout', '30']);
    expect(r.status).toBe(15);
    expect(r.stdout).toContain('boot drive 80\r\nhello from the disk\r\n');
    expect(r.stderr).toBe('');
  });

  it('takes an IMAGE of a floppy size as floppy A:', async () => {
    const r = await run(['run', tmp('floppy.img'), '--timeout', '30']);
    expect(r.status).toBe(15);
    expect(r.stdout).toContain('boot drive 00\r\nhello from the floppy\r\n');
  });

  it('boots --floppy and --disk given as options', async () => {
    const floppy = await run(['run', '--floppy', tmp('floppy-720k.img'), '--timeout', '30']);
    expect(floppy.status).toBe(15);
    expect(floppy.stdout).toContain('boot drive 00\r\nhello from a 720K floppy\r\n');
    const disk = await run(['run', '--disk', tmp('disk.img'), '--timeout', '30', '--until', 'the disk']);
    expect(disk.status).toBe(0);
  });
});

describe('visor86 run refuses bad input with status 2 and one line on stderr', () => {
  const cases: Array<[string, () => string[], RegExp]> = [
    [
      'a missing kernel',
      () => ['--kernel', tmp('nope.bin')],
      /^visor86: cannot read kernel '.*nope\.bin': no such file$/,
    ],
    [
      'a missing disk image',
      () => [tmp('nope.img')],
      /^visor86: cannot open disk image '.*nope\.img': no such file$/,
    ],
    [
      'a missing initrd',
      () => ['--kernel', BZIMAGE, '--initrd', tmp('no-initrd')],
      /cannot read initrd .*no such file$/,
    ],
    ['a directory as kernel', () => ['--kernel', dir], /^visor86: cannot read kernel '.*': is a directory$/],
    ['a directory as image', () => [dir], /^visor86: cannot open disk image '.*': is a directory$/],
    [
      'a malformed kernel',
      () => ['--kernel', tmp('junk.bin')],
      /neither a Linux bzImage .* nor a Multiboot kernel/,
    ],
    [
      'a too old bzImage',
      () => ['--kernel', tmp('old-bzimage.bin')],
      /kernel '.*': Linux boot protocol 2\.01 is too old/,
    ],
    [
      'an initrd that does not fit',
      () => ['--kernel', BZIMAGE, '--memory', '2', '--initrd', tmp('floppy.img')],
      /initrd of 1474560 bytes does not fit/,
    ],
    [
      'a disk image of an odd size',
      () => [tmp('odd.img')],
      /is 1000 bytes, not a multiple of 512-byte sectors$/,
    ],
    ['an empty disk image', () => [tmp('empty.img')], /'.*empty\.img' is empty$/],
    ['a floppy of an unknown size', () => ['--floppy', tmp('disk.img')], /floppy image .* not a known size/],
    [
      'a non-numeric --memory',
      () => ['--kernel', BZIMAGE, '--memory', 'lots'],
      /^visor86: bad --memory value 'lots'/,
    ],
    [
      'a too small --memory',
      () => ['--kernel', BZIMAGE, '--memory', '1'],
      /bad --memory value '1': .* 2 to 3584$/,
    ],
    ['a too large --memory', () => ['--kernel', BZIMAGE, '--memory=4096'], /bad --memory value '4096'/],
    ['a bad --timeout', () => ['--kernel', BZIMAGE, '--timeout', '-1'], /bad --timeout value '-1'/],
    ['a bad --serial', () => ['--kernel', BZIMAGE, '--serial', 'pty'], /bad --serial value 'pty'/],
    [
      'an unwritable --serial file',
      () => ['--kernel', BZIMAGE, '--serial', `file:${tmp('no/dir/x')}`],
      /cannot write serial output file/,
    ],
    ['an unknown option', () => ['--kernel', BZIMAGE, '--fast'], /^visor86: unknown option '--fast'/],
    ['an option without its value', () => ['--kernel'], /option --kernel needs a value/],
    ['--initrd without --kernel', () => [tmp('disk.img'), '--initrd', BZIMAGE], /--initrd needs --kernel/],
    ['nothing to boot', () => [], /nothing to boot/],
    ['two images', () => [tmp('disk.img'), tmp('floppy.img')], /more than one IMAGE/],
  ];
  for (const [what, args, message] of cases) {
    it(`for ${what}`, async () => {
      const r = await run(['run', ...args()]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.endsWith('\n') && r.stderr.split('\n').length).toBe(2);
      expect(r.stderr.trimEnd()).toMatch(message);
    });
  }

  it.skipIf(process.getuid?.() === 0)('for an unreadable kernel (not as root)', async () => {
    const r = await run(['run', '--kernel', tmp('locked.bin')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read kernel '.*locked\.bin': permission denied/);
  });
});
