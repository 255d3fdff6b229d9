/**
 * The interpreter's warm-up: images/warmup/warmup.asm, run a few times in a small machine of its own when a
 * VM's thread starts, before its guest. Why: a JavaScript engine optimises the interpreter's loop for what it has
 * seen it do, and a form or a kind of operand met later discards that code (the program's header says
 * more). The warm-up machine is thrown away; nothing of it reaches a guest, so a guest runs the same with or
 * without it, only sooner at full speed.
 */
import { CR0_PG } from '../cpu/constants.ts';
import { writeCr0 } from '../cpu/ops/system.ts';
import { enterFlatProtectedMode } from './boot-state.ts';
import { createPc } from './pc.ts';
import { WARM_UP_PROGRAM_BASE64 } from './warm-up-program.ts';

/** Where the program is loaded (its `org`). */
export const WARM_UP_ADDRESS = 0x100000;
/** The program ends by HLT long before this; a bound in case an emulator change breaks it. */
const MAX_INSTRUCTIONS = 5_000_000;
/**
 * Instructions per run() call. Short, so that the interpreter's loop is entered anew hundreds of times and
 * the engine compiles it as a function entered at its top (the code every later call uses), not only as a
 * copy entered in the middle of a running loop (on-stack replacement).
 */
const SLICE = 64;

export interface WarmUpReport {
  /** Guest instructions the program ran. */
  instructions: number;
  /** Wall-clock time it took, machine set-up included. */
  milliseconds: number;
  /** EAX at the end: the program's checksum (0xdead: it took an exception it does not expect). */
  checksum: number;
  /** Passes run: with the interpreter, and with the block compiler (none where this build cannot compile). */
  interpreterPasses: number;
  compilerPasses: number;
  /** Regions the block compiler's passes compiled. */
  regions: number;
  /** Whether every pass ended with the same checksum (each starts from the same RAM). */
  passesAgree: boolean;
}

/** The program's bytes. */
export function warmUpProgram(): Uint8Array {
  const text = atob(WARM_UP_PROGRAM_BASE64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * Passes of the program, alternately with the block compiler off and on. One pass makes the engine start
 * compiling the interpreter's loop, on a thread of its own; the compiled code is put in place only when that
 * is done and the loop is entered again, so the program runs several times (one pass took 64 ms, twelve take
 * about 300): else the guest's first second pays for it, and with several VMs on two cores that compiling
 * competes with the guests (in the bench guest, 540 ms of the engine's compiling after a single pass, 150-210
 * ms after twelve). The compiler's passes do the same for what only a VM with the block compiler runs: the
 * dispatcher, cold runs up to a jump, lookups and compiling regions (a low threshold: the program's loops are
 * short). Alternating, the loop the interpreter and the dispatcher share is compiled for both at once.
 */
const PASSES = 12;
const COMPILER_PASS_THRESHOLD = 64;

/**
 * Runs the warm-up program PASSES times in a 2 MiB machine of its own, the decoded-instruction cache on and
 * every other pass with the block compiler (where this build can compile), and returns what it did. Throws if
 * a pass does not end as it should (a bug).
 */
export function warmUpInterpreter(): WarmUpReport {
  const t0 = performance.now();
  const pc = createPc({ memoryMiB: 2, firmware: 'none' });
  const program = warmUpProgram();
  let instructions = 0;
  let checksum = 0;
  let interpreterPasses = 0;
  let compilerPasses = 0;
  let passesAgree = true;
  for (let pass = 0; pass < PASSES; pass++) {
    const compiler = (pass & 1) !== 0;
    pc.cpu.jitMode = compiler ? 'auto' : 'off';
    if (compiler && !pc.cpu.jitEnabled) continue;
    if (compiler) pc.cpu.jit.threshold = COMPILER_PASS_THRESHOLD;
    // Each pass starts as the first: paging off, the RAM as loaded (the program turns paging on itself).
    writeCr0(pc.cpu, pc.cpu.cr0 & ~CR0_PG);
    pc.memory.ram.fill(0);
    pc.memory.writeBytes(WARM_UP_ADDRESS, program);
    enterFlatProtectedMode(pc, WARM_UP_ADDRESS);
    const start = pc.cpu.instructionCount;
    while (!pc.cpu.halted && pc.cpu.instructionCount - start < MAX_INSTRUCTIONS) pc.run(SLICE);
    if (pass > 0 && pc.cpu.reg32[0] >>> 0 !== checksum) passesAgree = false;
    checksum = pc.cpu.reg32[0] >>> 0;
    if (!pc.cpu.halted || checksum === 0xdead) {
      throw new Error(
        `the interpreter's warm-up program did not end as it should in pass ${pass + 1} (EIP ` +
          `${(pc.cpu.eip >>> 0).toString(16)}, EAX ${checksum.toString(16)}, ` +
          `${pc.cpu.instructionCount - start} instructions)`,
      );
    }
    instructions += pc.cpu.instructionCount - start;
    if (compiler) compilerPasses++;
    else interpreterPasses++;
  }
  return {
    instructions,
    milliseconds: performance.now() - t0,
    checksum,
    interpreterPasses,
    compilerPasses,
    regions: pc.cpu.jit.stats.regions,
    passesAgree,
  };
}
