/**
 * CPU throughput benchmark: MIPS on a few workloads, with the JIT tier on and off.
 *
 *   npm run bench:cpu -- [--jit=on|off|both] [--only=name,name] [--linux=N] [--iterations=N] [--warm-up] [--stats]
 *
 * Always measure bundled: under tsx or vitest every module import goes through a getter and the CPU runs
 * several times slower, which says nothing about the emulator. The npm script bundles with --minify-syntax,
 * as the page's production build minifies: imported constants (CS, FLAG_TF, ...) become literals instead of
 * loads from the module's context, 5-10% of the interpreter's time.
 *
 * Workloads: two tight loops (registers only; loads and stores), images/bench/bench.bin (sieve, CRC-32,
 * sorting, string ops, mul/div, branches; --iterations rounds, 4 by default), the CPU test programs in test/guests/build (one after another),
 * and, when images/linux/bzImage exists, the first N instructions of a Linux boot (the kernel decompressor).
 * Each workload runs in a fresh machine, but in one process: V8 has optimised the emulator by the second.
 * --warm-up runs the interpreter's warm-up (src/machine/warm-up.ts) first, as a VM's worker does.
 * --stats prints the block compiler's counters after each workload (stderr).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPc, type Pc } from '../src/machine/pc.ts';
import { bootMultiboot } from '../src/machine/multiboot.ts';
import { bootLinux } from '../src/machine/linux-boot.ts';
import { enterFlatProtectedMode } from '../src/machine/boot-state.ts';
import { ESP } from '../src/cpu/constants.ts';
import { warmUpInterpreter } from '../src/machine/warm-up.ts';

const ROOT = process.cwd(); // run from the repository root
const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'] as const;
  }),
);
const jitArg = args.get('jit') ?? 'both';
const modes: Array<'off' | 'on'> = jitArg === 'both' ? ['off', 'on'] : [jitArg as 'off' | 'on'];
const only = args.get('only')?.split(',');
const linuxInstructions = Number(args.get('linux') ?? 400_000_000);
const benchIterations = Number(args.get('iterations') ?? 4);

interface Result {
  instructions: number;
  ms: number;
  check: string;
}

function setJit(pc: Pc, mode: 'off' | 'on'): void {
  const cpu = pc.cpu as unknown as { jitEnabled?: boolean };
  if ('jitEnabled' in cpu) cpu.jitEnabled = mode === 'on';
  else if (mode === 'on') throw new Error('this build has no JIT');
}

function timed(pc: Pc, run: () => void, check: () => string): Result {
  const startCount = pc.cpu.instructionCount;
  const t0 = performance.now();
  run();
  const ms = performance.now() - t0;
  if (args.has('stats')) process.stderr.write(`jit: ${JSON.stringify(pc.cpu.jit.stats)}\n`);
  return { instructions: pc.cpu.instructionCount - startCount, ms, check: check() };
}

/** Flat 32-bit code at 1 MiB: `code` (machine code bytes) runs until it executes HLT with IF = 0. */
function flatProgram(mode: 'off' | 'on', code: number[]): Result {
  const pc = createPc({ memoryMiB: 16 });
  setJit(pc, mode);
  pc.memory.writeBytes(0x100000, Uint8Array.from(code));
  enterFlatProtectedMode(pc, 0x100000);
  pc.cpu.reg32[ESP] = 0x90000;
  return timed(
    pc,
    () => {
      while (!pc.cpu.halted) pc.run(10_000_000);
    },
    () => Array.from(pc.cpu.reg32, (v) => (v >>> 0).toString(16)).join(' '),
  );
}

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

const LOOP_ITERATIONS = 50_000_000;
/** mov ecx, N; l: add eax, ecx; xor edx, eax; dec ecx; jnz l; hlt */
const loopRegs = () => [0xb9, ...le32(LOOP_ITERATIONS), 0x01, 0xc8, 0x31, 0xc2, 0x49, 0x75, 0xf9, 0xf4];
/**
 * mov ecx, N; mov esi, 0x200000
 * l: mov eax, [esi]; add eax, ecx; mov [esi+4], eax; add esi, 4; and esi, 0x20ffff; dec ecx; jnz l; hlt
 */
const loopMem = () => [
  0xb9,
  ...le32(LOOP_ITERATIONS / 2),
  0xbe,
  ...le32(0x200000),
  0x8b,
  0x06,
  0x01,
  0xc8,
  0x89,
  0x46,
  0x04,
  0x83,
  0xc6,
  0x04,
  0x81,
  0xe6,
  ...le32(0x20ffff),
  0x49,
  0x75,
  0xed,
  0xf4,
];

function multiboot(mode: 'off' | 'on', image: Uint8Array, budget: number): Result & { output: string } {
  const out: number[] = [];
  const pc = createPc({ memoryMiB: 64, onSerialOutput: (com, bytes) => com === 0 && out.push(...bytes) });
  setJit(pc, mode);
  bootMultiboot(pc, image);
  const r = timed(
    pc,
    () => {
      let left = budget;
      while (left > 0 && pc.run(1_000_000) === 'budget') left -= 1_000_000;
    },
    () => `exit ${pc.exitStatus ?? 'none'}`,
  );
  return { ...r, output: Buffer.from(out).toString('latin1') };
}

function benchImage(mode: 'off' | 'on'): Result {
  const image = new Uint8Array(readFileSync(join(ROOT, 'images/bench/bench.bin')));
  const marker = Buffer.from(image).indexOf('BENCH-ITERATIONS');
  new DataView(image.buffer).setUint32(marker + 16, benchIterations, true);
  const r = multiboot(mode, image, 4_000_000_000);
  const sums = r.output
    .split('\n')
    .filter((l) => /[0-9a-f]{8}/.test(l))
    .join('|');
  return { ...r, check: `${r.check} ${sums.length} chars, hash ${hash(r.output)}` };
}

function guests(mode: 'off' | 'on'): Result {
  const dir = join(ROOT, 'test/guests/build');
  let instructions = 0;
  let ms = 0;
  let outputs = '';
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.bin'))
    .sort()) {
    const r = multiboot(mode, new Uint8Array(readFileSync(join(dir, f))), 200_000_000);
    instructions += r.instructions;
    ms += r.ms;
    outputs += r.output + r.check;
  }
  return { instructions, ms, check: `hash ${hash(outputs)}` };
}

function linux(mode: 'off' | 'on'): Result | null {
  const path = join(ROOT, 'images/linux/bzImage');
  if (!existsSync(path)) return null;
  const out: number[] = [];
  const pc = createPc({ memoryMiB: 128, onSerialOutput: (com, bytes) => com === 0 && out.push(...bytes) });
  setJit(pc, mode);
  const initrdPath = join(ROOT, 'images/linux/initrd.gz');
  bootLinux(pc, new Uint8Array(readFileSync(path)), {
    cmdline: 'console=ttyS0 tsc=reliable earlyprintk=serial',
    initrd: existsSync(initrdPath) ? new Uint8Array(readFileSync(initrdPath)) : undefined,
  });
  return timed(
    pc,
    () => {
      let left = linuxInstructions;
      while (left > 0) {
        const step = Math.min(left, 1_000_000);
        if (pc.run(step) !== 'budget') break;
        left -= step;
      }
    },
    () => {
      // --serial-out=FILE keeps what the kernel printed, to compare engines line by line.
      const file = args.get('serial-out');
      if (file) writeFileSync(file, Buffer.from(out));
      return `eip ${(pc.cpu.eip >>> 0).toString(16)} serial ${out.length} bytes hash ${hash(Buffer.from(out).toString('latin1'))}`;
    },
  );
}

function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16);
}

const WORKLOADS: Array<[string, (mode: 'off' | 'on') => Result | null]> = [
  ['loop-regs', (m) => flatProgram(m, loopRegs())],
  ['loop-mem', (m) => flatProgram(m, loopMem())],
  ['bench.bin', benchImage],
  ['guests', guests],
  ['linux', linux],
];

if (args.has('warm-up')) {
  const w = warmUpInterpreter();
  console.log(`warm-up: ${w.instructions} instructions in ${w.milliseconds.toFixed(0)} ms`);
}
console.log('workload     jit   instructions        ms     MIPS  check');
for (const [name, fn] of WORKLOADS) {
  if (only && !only.includes(name)) continue;
  for (const mode of modes) {
    const r = fn(mode);
    if (!r) {
      console.log(`${name.padEnd(12)} -     (skipped: no image)`);
      break;
    }
    const mips = r.instructions / r.ms / 1000;
    console.log(
      `${name.padEnd(12)} ${mode.padEnd(4)} ${String(r.instructions).padStart(13)} ${r.ms.toFixed(0).padStart(9)} ${mips
        .toFixed(1)
        .padStart(8)}  ${r.check}`,
    );
  }
}
