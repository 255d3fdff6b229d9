/**
 * `npx tsx scripts/golden.ts [FILTER] [--check]` (or `npm run golden`): assembles every guest test
 * program test/guests/NN-name.asm with NASM into test/guests/build/NN-name.bin, boots each one in QEMU
 * (the independent oracle) as a Multiboot kernel, and records what it printed on COM1, followed by a
 * last line `exit: N`, in test/guests/golden/NN-name.txt.
 *
 * N is QEMU's exit status: the guest ends by writing a byte V to the isa-debug-exit port 0xF4 and QEMU
 * exits with (V << 1) | 1, so `exit: 33` means V = 0x10 (the test ran to the end). `exit: timeout` means
 * QEMU was killed after TIMEOUT_MS. A visor86 run of the same binary should produce the same text.
 *
 * FILTER keeps only the programs whose file name contains it. With --check nothing is written: the
 * command fails (exit 1) if any binary or golden file would change. Missing nasm or QEMU: exit 2.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const GUESTS = join(ROOT, 'test', 'guests');
const LIB = join(GUESTS, 'lib');
const BUILD = join(GUESTS, 'build');
const GOLDEN = join(GUESTS, 'golden');
const NASM = 'nasm';
const QEMU = 'qemu-system-i386';
const TIMEOUT_MS = 20_000;
/** Output beyond this is cut off (a runaway guest must not produce a huge golden file). */
const MAX_OUTPUT = 256 * 1024;

/** The QEMU command line; the serial port is the only output and goes to stdout. */
function qemuArgs(kernel: string): string[] {
  return [
    '-accel',
    'tcg',
    '-cpu',
    'qemu32',
    '-m',
    '64',
    '-no-reboot',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-kernel',
    kernel,
    '-device',
    'isa-debug-exit,iobase=0xf4,iosize=0x04',
  ];
}

interface Options {
  filter: string | undefined;
  check: boolean;
}

function parseArgs(argv: string[]): Options {
  let filter: string | undefined;
  let check = false;
  for (const a of argv) {
    if (a === '--check') check = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: tsx scripts/golden.ts [FILTER] [--check]');
      process.exit(0);
    } else if (a.startsWith('-')) {
      console.error(`golden: unknown option ${a}`);
      process.exit(2);
    } else if (filter === undefined) filter = a;
    else {
      console.error('golden: only one FILTER argument is allowed');
      process.exit(2);
    }
  }
  return { filter, check };
}

function requireTool(cmd: string, pkg: string): void {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    console.error(`golden: \`${cmd}\` not found; install it (Debian/Ubuntu: apt-get install ${pkg})`);
    process.exit(2);
  }
}

/** Assemble one program; returns the error text, or undefined on success. */
function assemble(src: string, out: string): string | undefined {
  const r = spawnSync(NASM, ['-f', 'bin', '-I', LIB + '/', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) return (r.stderr || r.stdout || `nasm exited with ${r.status}`).trim();
  return undefined;
}

interface RunResult {
  output: string;
  status: string;
  ms: number;
}

/** Boot a binary in QEMU; resolves with its serial output and exit status (or "timeout"). */
function runQemu(kernel: string): Promise<RunResult> {
  return new Promise((done) => {
    const start = Date.now();
    const child = spawn(QEMU, qemuArgs(kernel), { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError = '';
    child.on('error', (e) => (spawnError = e.message));
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8').trim();
      let status: string;
      if (timedOut) status = 'timeout';
      else if (spawnError) status = `spawn error: ${spawnError}`;
      else if (code !== null) status = String(code);
      else status = `signal ${signal}`;
      if (stderr && status !== '33') console.error(`  qemu stderr: ${stderr}`);
      done({ output: Buffer.concat(out).toString('latin1'), status, ms: Date.now() - start });
    });
  });
}

/** The golden text: the guest's output, normalised to end in a newline, then `exit: N`. */
function goldenText(r: RunResult): string {
  let text = r.output.replace(/\r\n/g, '\n');
  if (text.length > MAX_OUTPUT)
    text = `${text.slice(0, MAX_OUTPUT)}\n[output truncated at ${MAX_OUTPUT} bytes]\n`;
  if (text.length > 0 && !text.endsWith('\n')) text += '\n';
  return `${text}exit: ${r.status}\n`;
}

/** Run `fn` over `items` with at most `limit` in flight, keeping the order of results. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return results;
}

function sameFile(path: string, content: Buffer | string): boolean {
  if (!existsSync(path)) return false;
  const old = readFileSync(path);
  return old.equals(typeof content === 'string' ? Buffer.from(content, 'latin1') : content);
}

interface Outcome {
  name: string;
  state: 'written' | 'unchanged' | 'changed' | 'error';
  /** QEMU's exit status ("33" when the program ran to the end). */
  status?: string;
  detail: string;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  requireTool(NASM, 'nasm');
  requireTool(QEMU, 'qemu-system-x86');

  const names = readdirSync(GUESTS)
    .filter((f) => f.endsWith('.asm'))
    .map((f) => basename(f, '.asm'))
    .filter((n) => opts.filter === undefined || n.includes(opts.filter))
    .sort();
  if (names.length === 0) {
    console.error(`golden: no test/guests/*.asm${opts.filter ? ` matching "${opts.filter}"` : ''}`);
    process.exit(2);
  }

  // In --check mode build into a scratch directory so the tree is left untouched.
  const buildDir = opts.check ? mkdtempSync(join(tmpdir(), 'visor86-golden-')) : BUILD;
  mkdirSync(buildDir, { recursive: true });
  if (!opts.check) mkdirSync(GOLDEN, { recursive: true });

  const outcomes = await mapLimited(
    names,
    Math.max(1, availableParallelism()),
    async (name): Promise<Outcome> => {
      const bin = join(buildDir, `${name}.bin`);
      const error = assemble(join(GUESTS, `${name}.asm`), bin);
      if (error !== undefined) return { name, state: 'error', detail: `nasm failed:\n${error}` };
      const r = await runQemu(bin);
      const text = goldenText(r);
      const goldenPath = join(GOLDEN, `${name}.txt`);
      const lines = text.split('\n').length - 1;
      const detail = `exit ${r.status}, ${lines} lines, ${r.ms} ms`;
      const note = r.status === '33' ? '' : ' (did not exit with 33: check the output)';
      if (opts.check) {
        const binSame = sameFile(join(BUILD, `${name}.bin`), readFileSync(bin));
        const txtSame = sameFile(goldenPath, text);
        if (binSame && txtSame) return { name, state: 'unchanged', status: r.status, detail: detail + note };
        const what = [binSame ? '' : 'binary', txtSame ? '' : 'golden output'].filter(Boolean).join(' and ');
        return { name, state: 'changed', status: r.status, detail: `${what} would change; ${detail}` };
      }
      const changed = !sameFile(goldenPath, text);
      writeFileSync(goldenPath, text, 'latin1');
      return { name, state: changed ? 'written' : 'unchanged', status: r.status, detail: detail + note };
    },
  );

  if (opts.check) rmSync(buildDir, { recursive: true, force: true });

  const width = Math.max(...names.map((n) => n.length));
  for (const o of outcomes) console.log(`${o.name.padEnd(width)}  ${o.state.padEnd(9)}  ${o.detail}`);
  const count = (s: Outcome['state']): number => outcomes.filter((o) => o.state === s).length;
  const notDone = outcomes.filter((o) => o.status !== undefined && o.status !== '33').length;
  console.log(
    `golden: ${outcomes.length} programs, ${count('written')} written, ${count('unchanged')} unchanged, ` +
      `${count('changed')} changed, ${count('error')} errors, ${notDone} not ending with exit 33`,
  );
  if (count('error') > 0 || (opts.check && count('changed') > 0)) process.exitCode = 1;
}

await main();
