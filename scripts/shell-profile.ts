/**
 * Times shell commands in a Linux resumed at its prompt, with the CPU's exact counts beside the host's times:
 * the tool behind docs/PERFORMANCE.md's "Later changes" section.
 *
 *   npx visor86 run --kernel images/linux/bzImage --initrd images/linux/initrd.gz --save /tmp/prompt.visor86
 *     (wait for the prompt, then C-a x; or any state saved at a shell prompt)
 *   npm run profile:shell -- /tmp/prompt.visor86 loop,fork [--jit=off|auto|on] [--threshold=N] [--histogram=N]
 *
 * For each command it prints wall, process-CPU and main-thread CPU seconds, guest instructions and MIPS, what the block
 * compiler did meanwhile (regions compiled, region calls, calls entered through a link, instructions the
 * interpreter ran), and with --histogram the N linear addresses where the interpreter ran most, with their
 * bytes: what is left for the compiler to take. Add `node --cpu-prof` to the command for a profile.
 */
import { readFileSync } from 'node:fs';
import { readSnapshotFile } from '../src/cli/snapshot.ts';
import { createPc } from '../src/machine/pc.ts';
import type { JitMode } from '../src/cpu/jit/mode.ts';

const COMMANDS: Record<string, string> = {
  loop: 'i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done; echo L$i',
  fork: 'i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i + 1)); done; echo F$i',
  seq: 'seq 1 100000 | md5sum',
  sort: 'seq 1 30000 | sort -rn | md5sum',
  awk: `awk 'BEGIN{s=0;for(i=1;i<=50000;i++){s+=i*1.5/(i+1)};printf "%.3f\\n",s}'`,
};
const PROMPT = 'visor86:/# ';

/**
 * CPU seconds of this (the main) thread alone, from /proc on Linux (utime + stime, in clock ticks of 10 ms);
 * NaN elsewhere. Unlike the process's CPU time it leaves out V8's compiler threads, and unlike wall time the
 * moments the host gives the CPU to its neighbours.
 */
function mainThreadSeconds(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}
const TIMEOUT_MS = 600_000;

function fail(message: string): never {
  process.stderr.write(`shell-profile: ${message}\n`);
  process.exit(2);
}

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const options = new Map(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => {
      const [k, v] = a.slice(2).split('=');
      return [k, v ?? ''] as const;
    }),
);
const [statePath, list = 'loop,fork'] = positional;
if (!statePath)
  fail(
    'usage: shell-profile STATE [NAME,NAME...|"a shell command"] [--jit=MODE] [--threshold=N] [--histogram=N]',
  );
const names = list.split(',');
const commands = names.map((n) => COMMANDS[n] ?? n);

const loaded = await readSnapshotFile(statePath).catch((e: Error) => fail(`${statePath}: ${e.message}`));
let console0 = '';
const pc = createPc({
  memoryMiB: loaded.config.memoryMiB,
  onSerialOutput: (com, bytes) => {
    if (com === 0) console0 += Buffer.from(bytes).toString('latin1');
  },
});
pc.loadState(loaded.machine);
const cpu = pc.cpu;
const jit = options.get('jit');
if (jit) {
  if (jit !== 'off' && jit !== 'auto' && jit !== 'on') fail(`--jit must be off, auto or on, not "${jit}"`);
  cpu.jitMode = jit as JitMode;
}
const threshold = options.get('threshold');
if (threshold) cpu.jit.threshold = Number(threshold);
const histogramSize = Number(options.get('histogram') ?? 0);

// The interpreter's instructions by linear address, counted around Cpu.stepDecoded, which the block
// compiler's dispatcher calls for each instruction it leaves to the interpreter (only with --histogram: the
// wrapper slows everything down).
const histogram = new Map<number, number>();
if (histogramSize > 0) {
  const step = cpu.stepDecoded;
  cpu.stepDecoded = function (this: typeof cpu) {
    const at = (this.segBase[1] + this.eip) >>> 0;
    const before = this.instructionCount;
    step.call(this);
    histogram.set(at, (histogram.get(at) ?? 0) + this.instructionCount - before);
  };
}

for (let i = 0; i < commands.length; i++) {
  const from = console0.length;
  let typing = Buffer.from(commands[i] + '\r', 'latin1');
  const stats0 = { ...cpu.jit.stats };
  const instructions0 = cpu.instructionCount;
  const cpu0 = process.cpuUsage();
  const thread0 = mainThreadSeconds();
  const t0 = performance.now();
  for (;;) {
    if (typing.length > 0) typing = typing.subarray(pc.sendSerial(0, typing));
    pc.run(100_000);
    if (typing.length === 0 && console0.indexOf(PROMPT, from + commands[i].length) >= 0) break;
    if (performance.now() - t0 > TIMEOUT_MS) fail(`"${names[i]}" did not return to the prompt in 600 s`);
  }
  const wall = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const threadSeconds = mainThreadSeconds() - thread0;
  const n = cpu.instructionCount - instructions0;
  const s = cpu.jit.stats;
  const answer = console0.slice(
    from + commands[i].length,
    console0.indexOf(PROMPT, from + commands[i].length),
  );
  const output = answer.trim().split(/\r?\n/).pop();
  console.log(
    `${names[i]}: wall ${wall.toFixed(2)} s (${(n / 1e6 / wall).toFixed(1)} MIPS), CPU ${cpuSeconds.toFixed(2)} s ` +
      `(${(n / 1e6 / cpuSeconds).toFixed(1)} MIPS), main thread ${threadSeconds.toFixed(2)} s, ` +
      `${(n / 1e6).toFixed(1)} M instructions; ` +
      `compiled ${s.regions - stats0.regions} regions in ${(s.compileMs - stats0.compileMs).toFixed(0)} ms, ` +
      `${s.regionCalls - stats0.regionCalls} region calls (${s.chained - stats0.chained} linked), ` +
      `${s.interpreted - stats0.interpreted} interpreted, ${s.fallbacks - stats0.fallbacks} fallbacks, ` +
      `${s.invalidatedRegions - stats0.invalidatedRegions} invalidations (${s.invalidatedPages - stats0.invalidatedPages} pages), ` +
      `${s.flushes - stats0.flushes} flushes; ` +
      `last line ${JSON.stringify(output)}`,
  );
  if (histogramSize > 0) {
    const top = [...histogram.entries()].sort((a, b) => b[1] - a[1]).slice(0, histogramSize);
    for (const [linear, count] of top) {
      const phys = cpu.mmu.probeRead(linear);
      let bytes = '';
      if (phys >= 0)
        for (let k = 0; k < 8 && phys + (linear & 0xfff) + k < cpu.ram.length; k++)
          bytes += cpu.ram[phys + (linear & 0xfff) + k].toString(16).padStart(2, '0') + ' ';
      console.log(`  ${linear.toString(16).padStart(8, '0')} ${String(count).padStart(9)}  ${bytes}`);
    }
    histogram.clear();
  }
}
