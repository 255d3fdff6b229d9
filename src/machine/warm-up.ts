/**
 * The interpreter's warm-up: images/warmup/warmup.asm, run once in a small machine of its own when a VM's
 * thread starts, before its guest. Why: a JavaScript engine optimises the interpreter's loop for what it has
 * seen it do, and a form or a kind of operand met later discards that code (the program's header says
 * more). The warm-up machine is thrown away; nothing of it reaches a guest, so a guest runs the same with or
 * without it, only sooner at full speed.
 */
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
}

/** The program's bytes. */
export function warmUpProgram(): Uint8Array {
  const text = atob(WARM_UP_PROGRAM_BASE64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * Runs the warm-up program in a 2 MiB machine of its own, with the interpreter (the block compiler off, the
 * decoded-instruction cache on), and returns what it did. Throws if it does not end as it should (a bug).
 */
export function warmUpInterpreter(): WarmUpReport {
  const t0 = performance.now();
  const pc = createPc({ memoryMiB: 2, firmware: 'none' });
  pc.cpu.jitMode = 'off';
  pc.memory.writeBytes(WARM_UP_ADDRESS, warmUpProgram());
  enterFlatProtectedMode(pc, WARM_UP_ADDRESS);
  while (!pc.cpu.halted && pc.cpu.instructionCount < MAX_INSTRUCTIONS) pc.run(SLICE);
  const checksum = pc.cpu.reg32[0] >>> 0;
  if (!pc.cpu.halted || checksum === 0xdead) {
    throw new Error(
      `the interpreter's warm-up program did not end as it should (EIP ${(pc.cpu.eip >>> 0).toString(16)}, ` +
        `EAX ${checksum.toString(16)}, ${pc.cpu.instructionCount} instructions)`,
    );
  }
  return { instructions: pc.cpu.instructionCount, milliseconds: performance.now() - t0, checksum };
}
