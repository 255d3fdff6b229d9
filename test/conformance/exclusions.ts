/**
 * The only tests of the 80286 real-mode suite that are not compared: those where a 386-class CPU is
 * documented to behave differently from the 80286 the data was recorded on. Each exclusion is a rule over
 * what the test is (its instruction bytes, its recorded outcome, and the fault visor86 observes on the same
 * instruction), never an index or a hash, and each names the manuals it follows. For every excluded test the
 * harness still checks that visor86 does what the 386 manuals say instead (`verify386`).
 */
import type { MooRegisters, MooTest } from './moo.ts';

/** What visor86 did on the test's instruction: the first exception it raised, and its state at that point. */
export interface Observation {
  /** Vector of the first exception raised, or null when the instruction completed. */
  vector: number | null;
  /** For a segment limit fault: the segment register number (0 ES, 1 CS, 2 SS, 3 DS, 4 FS, 5 GS). */
  segment: number | null;
  /** 16-bit registers and FLAGS at the moment of the fault (before its delivery), or at the end. */
  regs: MooRegisters;
  /** The data's undefined-flags mask for this instruction form. */
  flagsMask: number;
}

export interface ExclusionRule {
  id: string;
  reason: string;
  applies(test: MooTest, observed: Observation): boolean;
  /** Returns null when visor86 behaved as a 386 must, or a description of what is wrong. */
  verify386(test: MooTest, observed: Observation): string | null;
}

const SS = 2;
const EXC_DE = 0;
const EXC_UD = 6;
const EXC_SS = 12;
const EXC_GP = 13;
const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);
/** Registers an instruction fault must leave alone on a 386 (CS, IP, SP and FLAGS change with delivery). */
const RESTORED_REGS = ['ax', 'bx', 'cx', 'dx', 'bp', 'si', 'di', 'ds', 'es', 'ss'] as const;
/** FLAGS bits that exception delivery does not touch (IF and TF are cleared by it; bits 12-15 masked). */
const RESTORED_FLAGS = 0x0cd5;

function decodePrefixes(bytes: Uint8Array): { prefixes: number[]; opcode: number; rest: Uint8Array } {
  let i = 0;
  const prefixes: number[] = [];
  while (i < bytes.length && PREFIXES.has(bytes[i])) prefixes.push(bytes[i++]);
  return { prefixes, opcode: bytes[i], rest: bytes.subarray(i + 1) };
}

/** Opcodes lockable with a memory destination (SDM Vol. 2A "LOCK"), as ModRM.reg masks; 0 = never. */
function lockableMask(op: number): number {
  if ([0x00, 0x01, 0x08, 0x09, 0x10, 0x11, 0x18, 0x19, 0x20, 0x21, 0x28, 0x29, 0x30, 0x31].includes(op)) {
    return 0xff;
  }
  if (op >= 0x80 && op <= 0x83) return 0x7f;
  if (op === 0x86 || op === 0x87) return 0xff;
  if (op === 0xf6 || op === 0xf7) return 0x0c;
  if (op === 0xfe || op === 0xff) return 0x03;
  return 0;
}

/** The instruction's length: the test's bytes minus the HLT the suite appends. */
function instructionLength(test: MooTest): number {
  return test.bytes[test.bytes.length - 1] === 0xf4 ? test.bytes.length - 1 : test.bytes.length;
}

/** Registers the 286 changed although the instruction faulted. */
function changedByFault(test: MooTest): string[] {
  const changed: string[] = [];
  for (const name of RESTORED_REGS) {
    const after = test.final.regs[name];
    if (after !== undefined && after !== test.init.regs[name]) changed.push(name);
  }
  return changed;
}

/** SP after the exception frame (FLAGS, CS, IP) was pushed, had SP been restored. */
function spAfterFrame(test: MooTest): number {
  return ((test.init.regs.sp ?? 0) - 6) & 0xffff;
}

const STRING_OPS = new Set([
  0x6c, 0x6d, 0x6e, 0x6f, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
]);

/**
 * A fault inside a repeated string instruction: on a 386 the registers describe the iterations completed
 * before the faulting one (SDM Vol. 2B "REP": "the source and destination registers point to the next
 * string elements to be operated on ... the count register reflects the last iteration"). So (E)SI/(E)DI
 * advanced by n elements and (E)CX fell by n, for the same n.
 */
function verifyRepFault(test: MooTest, observed: Observation, vector: number): string | null {
  if (observed.vector !== vector) return `expected #${vector}, visor86 raised ${observed.vector}`;
  const { opcode } = decodePrefixes(test.bytes);
  const size = opcode & 1 ? 2 : 1;
  const step = (test.init.regs.flags ?? 0) & 0x400 ? -size : size;
  const usesSi = [0x6e, 0x6f, 0xa4, 0xa5, 0xa6, 0xa7, 0xac, 0xad].includes(opcode);
  const usesDi = ![0x6e, 0x6f, 0xac, 0xad].includes(opcode);
  const index = usesDi ? 'di' : 'si';
  const moved = ((observed.regs[index] ?? 0) - (test.init.regs[index] ?? 0)) & 0xffff;
  const n = ((step > 0 ? moved : 0x10000 - moved) & 0xffff) / size;
  if (!Number.isInteger(n)) return `${index} did not move by whole elements`;
  const want = (name: 'si' | 'di') => ((test.init.regs[name] ?? 0) + n * step) & 0xffff;
  if (usesSi && observed.regs.si !== want('si')) return `si=${observed.regs.si} after ${n} iterations`;
  if (usesDi && observed.regs.di !== want('di')) return `di=${observed.regs.di} after ${n} iterations`;
  if (observed.regs.cx !== (((test.init.regs.cx ?? 0) - n) & 0xffff))
    return `cx=${observed.regs.cx} after ${n} iterations`;
  return null;
}

/** A 386 fault leaves every register as it was before the instruction (SDM Vol. 3A 6.5 "Faults"). */
function verifyRestartable(test: MooTest, observed: Observation, vector: number): string | null {
  if (observed.vector !== vector)
    return `expected #${vector}, visor86 raised ${observed.vector === null ? 'nothing' : '#' + observed.vector}`;
  for (const name of RESTORED_REGS) {
    if ((observed.regs[name] ?? 0) !== (test.init.regs[name] ?? 0)) {
      return `#${vector} must leave ${name} unchanged: ${observed.regs[name]?.toString(16)} vs ${test.init.regs[name]?.toString(16)}`;
    }
  }
  return null;
}

export const EXCLUSION_RULES: readonly ExclusionRule[] = [
  {
    id: 'lock-not-lockable',
    reason:
      'The 80286 accepts LOCK before any instruction; a 386 raises #UD when LOCK precedes an instruction that ' +
      'is not lockable or whose destination is a register (Intel SDM Vol. 2A "LOCK"; Intel386 DX ' +
      'Programmer\'s Reference Manual 17.2.1 "LOCK prefix").',
    applies(test) {
      const { prefixes, opcode, rest } = decodePrefixes(test.bytes);
      if (!prefixes.includes(0xf0)) return false;
      const mask = lockableMask(opcode);
      return mask === 0 || rest[0] >= 0xc0 || (mask & (1 << ((rest[0] >> 3) & 7))) === 0;
    },
    verify386(_test, observed) {
      return observed.vector === EXC_UD ? null : `LOCK: expected #UD, visor86 raised ${observed.vector}`;
    },
  },
  {
    id: 'instruction-over-10-bytes',
    reason:
      'The 80286 limits an instruction, prefixes included, to 10 bytes and faults beyond; a 386 accepts up ' +
      'to 15 (Intel 80286 Programmer\'s Reference Manual, Appendix B "instruction length"; Intel SDM ' +
      'Vol. 2A 2.3.11 "AVX instruction length" / Vol. 3A 6.15 #GP for more than 15 bytes).',
    applies(test) {
      return test.exception?.vector === EXC_GP && instructionLength(test) > 10;
    },
    verify386(_test, observed) {
      return observed.vector === EXC_GP || observed.vector === EXC_UD
        ? `an instruction of at most 15 bytes must not fault for its length (visor86 raised #${observed.vector})`
        : null;
    },
  },
  {
    id: 'fs-gs-registers',
    reason:
      'FS and GS do not exist on the 80286, so MOV to/from segment register 4 or 5 (8C/8E with ModRM.reg 4, 5) ' +
      'is undefined there; the 386 added them (Intel386 DX PRM 2.3.3 "Segment registers"; SDM Vol. 2B "MOV").',
    applies(test) {
      const { opcode, rest } = decodePrefixes(test.bytes);
      const reg = (rest[0] >> 3) & 7;
      return (opcode === 0x8c || opcode === 0x8e) && (reg === 4 || reg === 5);
    },
    verify386(_test, observed) {
      // Only a memory-operand limit fault may stop a 386 here.
      return observed.vector === null || observed.vector === EXC_GP || observed.vector === EXC_SS
        ? null
        : `MOV with FS/GS must execute on a 386 (visor86 raised #${observed.vector})`;
    },
  },
  {
    id: 'idiv-quotient-out-of-range',
    reason:
      'The 80286 microcode lets some IDIV overflows through with a quotient outside the signed range of the ' +
      'destination; a 386 raises #DE whenever the quotient does not fit (Intel SDM Vol. 2A "IDIV": "#DE if ' +
      'the quotient is too large for the designated register").',
    applies(test) {
      const { opcode, rest } = decodePrefixes(test.bytes);
      if (test.exception || (opcode !== 0xf6 && opcode !== 0xf7) || ((rest[0] >> 3) & 7) !== 7) return false;
      // The recorded quotient q and remainder r must satisfy dividend = q * d + r for a divisor d of the
      // operand's signed range with |r| < |d|; when no such d exists the result cannot be a correct one.
      const init = test.init.regs;
      const ax = test.final.regs.ax ?? init.ax ?? 0;
      const dx = test.final.regs.dx ?? init.dx ?? 0;
      const byte = opcode === 0xf6;
      const dividend = byte ? ((init.ax ?? 0) << 16) >> 16 : ((init.dx ?? 0) << 16) | (init.ax ?? 0) | 0;
      const q = byte ? ((ax & 0xff) << 24) >> 24 : (ax << 16) >> 16;
      const r = byte ? (ax << 16) >> 24 : (dx << 16) >> 16;
      if (q === 0) return false;
      const d = (dividend - r) / q;
      const limit = byte ? 128 : 32768;
      const valid = Number.isInteger(d) && d !== 0 && d >= -limit && d < limit && Math.abs(r) < Math.abs(d);
      return !valid;
    },
    verify386(_test, observed) {
      return observed.vector === EXC_DE ? null : `expected #DE, visor86 raised ${observed.vector}`;
    },
  },
  {
    id: 'stack-overrun-vector',
    reason:
      'In real mode the 80286 reports every segment overrun (a word at offset FFFFh) as interrupt 13; a 386 ' +
      'reports a limit violation of an SS-relative reference as #SS, interrupt 12 (Intel 80286 PRM 5.4 ' +
      '"Real address mode exceptions"; Intel SDM Vol. 3A 6.15 "Interrupt 12—Stack Fault Exception").',
    applies(test, observed) {
      return test.exception?.vector === EXC_GP && observed.vector === EXC_SS && observed.segment === SS;
    },
    verify386(test, observed) {
      return verifyRestartable(test, observed, EXC_SS);
    },
  },
  {
    id: 'fault-not-restartable-on-286',
    reason:
      'The 80286 string, POP and ASCII-adjust microcode changes registers (SI/DI/CX, SP, SZP flags) before it ' +
      'signals the fault; a 386 restores every register of a faulting instruction so that it can be ' +
      'restarted (Intel SDM Vol. 3A 6.5 "Exception classifications": faults; Intel386 DX PRM 9.6).',
    applies(test, observed) {
      if (!test.exception) return false;
      if (changedByFault(test).length > 0) return true;
      if (test.final.regs.sp !== undefined && test.final.regs.sp !== spAfterFrame(test)) return true;
      const defined = RESTORED_FLAGS & observed.flagsMask;
      const before = (test.init.regs.flags ?? 0) & defined;
      const after = (test.final.regs.flags ?? test.init.regs.flags ?? 0) & defined;
      return before !== after;
    },
    verify386(test, observed) {
      const { prefixes, opcode } = decodePrefixes(test.bytes);
      const vector = observed.segment === SS ? EXC_SS : (test.exception?.vector ?? -1);
      if (STRING_OPS.has(opcode) && (prefixes.includes(0xf2) || prefixes.includes(0xf3))) {
        return verifyRepFault(test, observed, vector);
      }
      const problem = verifyRestartable(test, observed, vector);
      if (problem) return problem;
      const flags = (observed.regs.flags ?? 0) & RESTORED_FLAGS;
      return flags === ((test.init.regs.flags ?? 0) & RESTORED_FLAGS)
        ? null
        : 'a fault must leave FLAGS unchanged';
    },
  },
];

export function findExclusion(test: MooTest, observed: Observation): ExclusionRule | undefined {
  return EXCLUSION_RULES.find((rule) => rule.applies(test, observed));
}
