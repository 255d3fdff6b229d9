/**
 * Boots the Debian i386 kernel and busybox initramfs from `npm run fetch:linux` with the command line the
 * README gives, waits for the shell prompt on COM1 and types commands into it, as a user at a serial
 * terminal would. Outputs that differ from run to run (times, counters) are matched by pattern; the rest
 * exactly. Run through the bundled CLI as a separate process: the CPU is several times faster there than
 * under Vitest's module loader, and it is the path a user takes (`npx visor86 run --kernel ...`).
 */
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pathExists, requirement } from '../helpers/requirements.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const LINUX = join(ROOT, 'images', 'linux');
const KERNEL = join(LINUX, 'bzImage');
const INITRD = join(LINUX, 'initrd.gz');
/** The kernel command line the README documents. */
export const LINUX_APPEND = 'console=ttyS0 tsc=reliable';
const PROMPT = 'visor86:/# ';
/** Where the boot test saves the machine at the prompt (C-a s), for the page test after it. */
const STATE_FILE = join(mkdtempSync(join(tmpdir(), 'visor86-linux-')), 'linux-at-prompt.visor86');
const CHROMIUM = '/usr/bin/chromium';
/** A terminal control sequence (ESC [ ... final byte), such as busybox's cursor position query. */
const CSI_SEQUENCE = new RegExp(String.fromCharCode(0x1b) + '\\[[0-9;?]*[A-Za-z]', 'g');
/** Guest instructions run at 10-40 MIPS here; the boot is ~6 G instructions (see docs/PERFORMANCE.md). */
const BOOT_TIMEOUT_MS = 40 * 60_000;
const COMMAND_TIMEOUT_MS = 5 * 60_000;

const skip = requirement(
  'the Linux images (images/linux/bzImage and initrd.gz)',
  pathExists(KERNEL) && pathExists(INITRD),
  'run `npm run fetch:linux` on a Debian or Ubuntu machine',
);

/** The contents of one file in a gzip'd newc cpio archive (the initramfs). */
export function fileFromInitramfs(archive: Uint8Array, name: string): Uint8Array {
  const cpio = gunzipSync(archive);
  const text = (at: number, length: number) => cpio.subarray(at, at + length).toString('latin1');
  const align4 = (n: number) => (n + 3) & ~3;
  let at = 0;
  while (at + 110 <= cpio.length) {
    if (text(at, 6) !== '070701') throw new Error(`not a newc cpio header at offset ${at}`);
    const field = (i: number) => parseInt(text(at + 6 + i * 8, 8), 16);
    const fileSize = field(6);
    const nameSize = field(11);
    const entryName = text(at + 110, nameSize - 1);
    const dataAt = align4(at + 110 + nameSize);
    if (entryName === name) return cpio.subarray(dataAt, dataAt + fileSize);
    if (entryName === 'TRAILER!!!') break;
    at = align4(dataAt + fileSize);
  }
  throw new Error(`${name} is not in the initramfs`);
}

/** A `visor86 run` process with COM1 on its stdin/stdout. */
class SerialSession {
  private readonly child: ChildProcessWithoutNullStreams;
  output = '';
  stderr = '';
  private waiter: { from: number; text: string; resolve: (at: number) => void } | null = null;
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [join(ROOT, 'bin', 'visor86.js'), ...args], { cwd: ROOT });
    this.child.stdout.setEncoding('latin1');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.output += chunk;
      this.check();
    });
    this.child.stderr.on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.child.on('close', resolve));
  }

  private check(): void {
    const w = this.waiter;
    if (w === null) return;
    const at = this.output.indexOf(w.text, w.from);
    if (at >= 0) {
      this.waiter = null;
      w.resolve(at);
    }
  }

  /** Resolves with the offset of the first `text` at or after `from`; rejects after `ms` or on exit. */
  waitFor(text: string, from: number, ms: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no ${JSON.stringify(text)} within ${ms / 1000} s; last output:\n${this.tail()}`));
      }, ms);
      this.waiter = {
        from,
        text,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      void this.exited.then((status) => {
        clearTimeout(timer);
        reject(new Error(`visor86 exited (${status}) waiting for ${JSON.stringify(text)}:\n${this.tail()}`));
      });
      this.check();
    });
  }

  tail(): string {
    return this.output.slice(-1500) + (this.stderr ? `\n[stderr]\n${this.stderr.slice(-1500)}` : '');
  }

  type(text: string): void {
    this.child.stdin.write(Buffer.from(text, 'latin1'));
  }

  /**
   * Types a command line and waits for the next prompt. Returns what the command printed: the lines between
   * the echoed command and the prompt, with CR LF made LF and the shell's line-editing escapes removed.
   */
  async command(line: string, keys = line + '\r'): Promise<string> {
    const from = this.output.length;
    this.type(keys);
    const end = await this.waitFor(PROMPT, from, COMMAND_TIMEOUT_MS);
    const raw = this.output.slice(from, end).replace(CSI_SEQUENCE, '').replace(/\r+\n/g, '\n');
    const firstBreak = raw.indexOf('\n');
    return firstBreak < 0 ? '' : raw.slice(firstBreak + 1);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

describe.skipIf(skip !== null)('Linux to a shell on the serial console', () => {
  it(
    'boots to the busybox prompt and runs commands typed at it',
    async () => {
      const session = new SerialSession([
        'run',
        '--kernel',
        KERNEL,
        '--initrd',
        INITRD,
        '--append',
        LINUX_APPEND,
        '--memory',
        '128',
        '--save',
        STATE_FILE,
      ]);
      try {
        const bootStart = Date.now();
        await session.waitFor(PROMPT, 0, BOOT_TIMEOUT_MS);
        const boot = session.output;
        console.log(`Linux reached the prompt in ${((Date.now() - bootStart) / 1000).toFixed(0)} s (wall)`);
        expect(boot).toContain('Linux version 6.');
        expect(boot).toContain('Run /init as init process');
        expect(boot).toMatch(/visor86 Linux: Linux 6\.\d+\.\d+-\d+-686/);
        expect(boot).not.toMatch(/Kernel panic|Oops|BUG:|double fault|general protection/);

        expect(await session.command('uname -a')).toMatch(
          /^Linux \S+ 6\.\d+\.\d+-\d+-686 #1 SMP PREEMPT_DYNAMIC Debian \S+ \(\d{4}-\d\d-\d\d\) i686 GNU\/Linux\n$/,
        );

        const cpuinfo = await session.command('cat /proc/cpuinfo');
        expect(cpuinfo).toMatch(/^processor\s+: 0$/m);
        expect(cpuinfo).toMatch(/^vendor_id\s+: \S+$/m);
        expect(cpuinfo).toMatch(/^cpu family\s+: 6$/m);
        expect(cpuinfo).toMatch(/^fpu\s+: yes$/m);
        expect(cpuinfo).toMatch(/^flags\s+: .*\bfpu\b.*\btsc\b.*\bcmov\b/m);
        expect(cpuinfo).toMatch(/^bogomips\s+: \d+\.\d\d$/m);

        const interrupts = await session.command('cat /proc/interrupts');
        expect(interrupts).toMatch(/^\s+0:\s+\d+\s+XT-PIC\s+timer$/m);
        expect(interrupts).toMatch(/^\s+4:\s+\d+\s+XT-PIC\s+ttyS0$/m);
        const ticks = Number(/^\s+0:\s+(\d+)/m.exec(interrupts)?.[1]);
        expect(ticks).toBeGreaterThan(250); // HZ=250 and the boot takes seconds of virtual time

        const root = (await session.command('ls /')).split(/\s+/).filter(Boolean);
        expect(root).toEqual(expect.arrayContaining(['bin', 'dev', 'init', 'proc', 'root', 'sys', 'tmp']));

        expect(await session.command('echo $((6*7))')).toBe('42\n');

        const busybox = fileFromInitramfs(readFileSync(INITRD), 'bin/busybox');
        const md5 = createHash('md5').update(busybox).digest('hex');
        expect(await session.command('md5sum /bin/busybox')).toBe(`${md5}  /bin/busybox\n`);

        expect(await session.command(`awk 'BEGIN{printf "%.3f\\n", 3.5*2/7}'`)).toBe('1.000\n');

        const before = Number((await session.command('date +%s')).trim());
        expect(await session.command('sleep 1')).toBe('');
        const after = Number((await session.command('date +%s')).trim());
        expect(after - before).toBeGreaterThanOrEqual(1);
        expect(after - before).toBeLessThanOrEqual(3);

        expect(await session.command('date')).toMatch(
          /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}\n$/,
        );

        const dmesg = (await session.command('dmesg | tail')).split('\n').filter(Boolean);
        expect(dmesg.length).toBe(10);
        for (const line of dmesg) expect(line).toMatch(/^\[\s*\d+\.\d{6}\] /);

        expect(await session.command('seq 1 20000 | sort -rn | head -1')).toBe('20000\n');

        // Line editing: a backspace (DEL, as xterm.js and most terminals send it) rubs out a character.
        expect(await session.command('echo abc', 'echo abx\x7fc\r')).toBe('abc\n');

        // Ctrl-C interrupts a foreground command (the shell has a controlling terminal: setsid cttyhack).
        // The child announces itself first, so the key cannot arrive before it runs.
        const from = session.output.length;
        session.type("sh -c 'echo sleeping; exec sleep 100'\r");
        await session.waitFor('\nsleeping', from, COMMAND_TIMEOUT_MS);
        session.type('\x03');
        await session.waitFor(PROMPT, from, COMMAND_TIMEOUT_MS);
        expect(await session.command('echo $?')).toBe('130\n'); // 128 + SIGINT

        // The kernel kept the TSC as its clock: it never judged it against the PIT (see README, "Linux").
        expect(
          await session.command('cat /sys/devices/system/clocksource/clocksource0/current_clocksource'),
        ).toBe('tsc\n');
        expect(session.output).not.toMatch(/clocksource.*unstable|Marking TSC unstable/);

        // C-a s writes the whole machine, at this prompt, to the --save file and ends the run.
        session.type('\x01s');
        expect(await session.exited).toBe(0);
        expect(existsSync(STATE_FILE)).toBe(true);
      } finally {
        session.kill();
      }
    },
    BOOT_TIMEOUT_MS + 20 * COMMAND_TIMEOUT_MS,
  );

  const noChromium = requirement('Chromium', pathExists(CHROMIUM), 'apt-get install chromium');
  it.skipIf(noChromium !== null)(
    'in the page: the machine saved at the prompt imports, resumes, and its console edits lines and takes Ctrl-C',
    async () => {
      expect(existsSync(STATE_FILE), 'the boot test above saves the machine at the prompt').toBe(true);
      const { checkLinuxConsoleInPage } = await import('../e2e/linux-console.ts');
      await checkLinuxConsoleInPage(STATE_FILE);
    },
    10 * 60_000,
  );
});
