import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fixture } from './harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');

interface Finished {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/visor86.js ...args` as a real process; `onStdout` may answer on its stdin. */
function visor86(
  args: string[],
  onStdout?: (all: string, stdin: NodeJS.WritableStream) => void,
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'visor86.js'), ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('latin1');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      onStdout?.(stdout, child.stdin);
    });
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('node bin/visor86.js as a process', () => {
  it('prints usage', async () => {
    const r = await visor86(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: visor86/);
  });

  it('exits with the isa-debug-exit status, stdout carrying only COM1', async () => {
    const r = await visor86(['run', '--kernel', fixture('tiny-bzimage.bin'), '--append', 'from a process']);
    expect(r.status).toBe(33);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      'loader=ff cs=0010 ds=0018 regs=00000000 if=0\ncmdline=from a process\n' +
        'e820=05 altmem=0001fc00 video=03 80x25 vga=01\ninitrd=00000000 size=0 data=\n',
    );
  });

  it('types its stdin into COM1', async () => {
    let typed = false;
    const r = await visor86(
      ['run', '--kernel', fixture('tiny-echo.bin'), '--append', 'piped'],
      (out, stdin) => {
        if (!typed && out.includes('ready\n')) {
          typed = true;
          stdin.write('piped input q');
        }
      },
    );
    expect(r.status).toBe(85);
    expect(r.stdout).toBe('echo: piped\nready\nPIPED INPUT \nbye\n');
  });

  it('exits 124 on timeout and 2 for a missing kernel', async () => {
    const timeout = await visor86([
      'run',
      '--kernel',
      fixture('tiny-echo.bin'),
      '--append',
      'spin',
      '--timeout',
      '0.3',
    ]);
    expect(timeout.status).toBe(124);
    const missing = await visor86(['run', '--kernel', 'no-such-kernel.bin']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe("visor86: cannot read kernel 'no-such-kernel.bin': no such file\n");
  });
});
