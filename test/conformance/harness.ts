/**
 * Runs SingleStepTests MOO files against the visor86 CPU (procedure: ../shared/conformance/README.md,
 * "Running one test"). Shared by `npm run conformance` and the Vitest suite.
 */
import { readFileSync } from 'node:fs';
import { Cpu, CPU_FAULT, CPU_SHUTDOWN } from '../../src/cpu/cpu.ts';
import { CS, DS, EAX, EBP, EBX, ECX, EDI, EDX, ES, ESI, ESP, SS } from '../../src/cpu/constants.ts';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import { OpenIoBus } from '../../src/cpu/bus.ts';
import { parseMoo, type MooRegisters, type MooTest } from './moo.ts';
import { findExclusion, type Observation } from './exclusions.ts';

const RAM_SIZE = 16 * 1024 * 1024;
/** Real-mode FLAGS: bits 12-15 cannot be set on a 286 in real mode (see the data's README). */
const FLAGS_REAL_MASK = 0x0fff;
/** Steps allowed before a test is declared hung (REP runs in chunks, see ops/string.ts). */
const MAX_STEPS = 1000;

/** Physical memory that remembers which 4 KiB pages were written, so a test can clean up after itself. */
class TrackingMemory extends PhysicalMemory {
  readonly dirty = new Set<number>();
  override write8(address: number, value: number): void {
    this.dirty.add((address >>> 12) & 0xfff);
    super.write8(address, value);
  }
  override write16(address: number, value: number): void {
    this.dirty.add((address >>> 12) & 0xfff);
    this.dirty.add(((address + 1) >>> 12) & 0xfff);
    super.write16(address, value);
  }
  override write32(address: number, value: number): void {
    this.dirty.add((address >>> 12) & 0xfff);
    this.dirty.add(((address + 3) >>> 12) & 0xfff);
    super.write32(address, value);
  }
  clean(): void {
    for (const page of this.dirty) this.ram.fill(0, page << 12, (page + 1) << 12);
    this.dirty.clear();
  }
}

export interface TestFailure {
  index: number;
  name: string;
  bytes: string;
  detail: string;
}

export interface FileResult {
  form: string;
  mnemonic: string;
  passed: number;
  failed: number;
  excluded: number;
  total: number;
  failures: TestFailure[];
  /** Exclusion rule id -> count. */
  exclusions: Record<string, number>;
}

interface Metadata {
  opcodes: Record<string, { 'flags-mask'?: number; reg?: Record<string, { 'flags-mask'?: number }> }>;
}

export function loadMetadata(dir: string): Metadata {
  return JSON.parse(readFileSync(`${dir}/metadata.json`, 'utf8')) as Metadata;
}

export function loadRevocations(dir: string): Set<string> {
  const lines = readFileSync(`${dir}/revocation_list.txt`, 'utf8').split('\n');
  return new Set(lines.map((l) => l.trim().toLowerCase()).filter((l) => l && !l.startsWith('#')));
}

/** The undefined-flags mask for a form such as "D3.4" or "00". */
export function flagsMaskFor(meta: Metadata, form: string): number {
  const [op, reg] = form.split('.');
  const entry = meta.opcodes[op.toUpperCase()];
  if (!entry) return 0xffff;
  if (reg !== undefined && entry.reg?.[reg]?.['flags-mask'] !== undefined)
    return entry.reg[reg]['flags-mask']!;
  return entry['flags-mask'] ?? 0xffff;
}

const REG_ORDER: Array<[keyof MooRegisters, number]> = [
  ['ax', EAX],
  ['bx', EBX],
  ['cx', ECX],
  ['dx', EDX],
  ['sp', ESP],
  ['bp', EBP],
  ['si', ESI],
  ['di', EDI],
];
const SEG_ORDER: Array<[keyof MooRegisters, number]> = [
  ['cs', CS],
  ['ss', SS],
  ['ds', DS],
  ['es', ES],
];

const hex = (v: number, width = 4) => v.toString(16).padStart(width, '0');

/** One CPU and memory reused across tests (the harness resets both between tests). */
export class ConformanceRunner {
  private readonly memory = new TrackingMemory(RAM_SIZE);
  readonly cpu = new Cpu(this.memory, new OpenIoBus());

  private load(test: MooTest): void {
    const cpu = this.cpu;
    const regs = test.init.regs;
    this.memory.clean();
    cpu.reset();
    cpu.idtrLimit = 0x3ff;
    for (const [name, reg] of REG_ORDER) cpu.reg32[reg] = regs[name] ?? 0;
    for (const [name, seg] of SEG_ORDER) cpu.resetSegment(seg, regs[name] ?? 0);
    cpu.eip = regs.ip ?? 0;
    cpu.setFlags((regs.flags ?? 0) & FLAGS_REAL_MASK, 0xffff);
    for (const [address, value] of test.init.ram) this.memory.write8(address, value);
  }

  private snapshot(): MooRegisters {
    const cpu = this.cpu;
    const regs: MooRegisters = {};
    for (const [name, reg] of REG_ORDER) regs[name] = cpu.reg16[reg << 1];
    for (const [name, seg] of SEG_ORDER) regs[name] = cpu.sreg[seg];
    regs.ip = cpu.eip & 0xffff;
    regs.flags = cpu.getFlags() & 0xffff;
    return regs;
  }

  /**
   * Executes until HLT, recording the first exception the CPU raised. Returns the observation and an error
   * description when the run did not end at a HLT.
   */
  private execute(flagsMask: number): { observed: Observation; error: string | null } {
    const cpu = this.cpu;
    const observed: Observation = { vector: null, segment: null, regs: {}, flagsMask };
    let error: string | null = null;
    try {
      for (let i = 0; i < MAX_STEPS && !cpu.halted; i++) {
        cpu.faultSegment = -1;
        try {
          cpu.stepUnchecked();
        } catch (e) {
          if (e !== CPU_FAULT) throw e;
          if (observed.vector === null) {
            observed.vector = cpu.faultVector;
            observed.segment = cpu.faultSegment >= 0 ? cpu.faultSegment : null;
            observed.regs = this.snapshot();
          }
          cpu.deliverFault();
        }
      }
      if (!cpu.halted) error = `did not reach HLT within ${MAX_STEPS} steps`;
    } catch (e) {
      error =
        e === CPU_SHUTDOWN
          ? 'CPU shut down (triple fault)'
          : `host error: ${(e as Error).stack ?? String(e)}`;
    }
    if (observed.vector === null) observed.regs = this.snapshot();
    return { observed, error };
  }

  /** Compares the final state with the test's; returns null on a match or a description of every mismatch. */
  private compare(test: MooTest, flagsMask: number): string | null {
    const cpu = this.cpu;
    const problems: string[] = [];
    const expected = { ...test.init.regs, ...test.final.regs };
    for (const [name, reg] of REG_ORDER) {
      const actual = cpu.reg16[reg << 1];
      if (actual !== expected[name]) problems.push(`${name}=${hex(actual)} want ${hex(expected[name] ?? 0)}`);
      if (cpu.reg32[reg] >>> 16 !== 0)
        problems.push(`e${name} high word ${hex(cpu.reg32[reg] >>> 16)} not 0`);
    }
    for (const [name, seg] of SEG_ORDER) {
      if (cpu.sreg[seg] !== expected[name]) {
        problems.push(`${name}=${hex(cpu.sreg[seg])} want ${hex(expected[name] ?? 0)}`);
      }
    }
    if (cpu.eip !== expected.ip) problems.push(`ip=${hex(cpu.eip)} want ${hex(expected.ip ?? 0)}`);
    const mask = flagsMask & FLAGS_REAL_MASK;
    const flags = cpu.getFlags();
    if ((flags & mask) !== ((expected.flags ?? 0) & mask)) {
      problems.push(
        `flags=${hex(flags & mask)} want ${hex((expected.flags ?? 0) & mask)} (mask ${hex(mask)})`,
      );
    }
    // The FLAGS word an exception pushed sits at SS:SP+4 of the final state (the handler is a HLT). The
    // EXCP chunk's address is off by one when SP is odd, so derive it from the final registers instead.
    const flagsAddress = test.exception
      ? (((expected.ss ?? 0) << 4) + (((expected.sp ?? 0) + 4) & 0xffff)) >>> 0
      : undefined;
    for (const [address, want] of test.final.ram) {
      let actual = this.memory.read8(address);
      let wantMasked = want;
      if (flagsAddress !== undefined && (address === flagsAddress || address === flagsAddress + 1)) {
        const byteMask = address === flagsAddress ? mask & 0xff : mask >> 8;
        actual &= byteMask;
        wantMasked &= byteMask;
      }
      if (actual !== wantMasked)
        problems.push(`[${hex(address, 5)}]=${hex(actual, 2)} want ${hex(wantMasked, 2)}`);
    }
    return problems.length ? problems.join(', ') : null;
  }

  runFile(path: string, form: string, meta: Metadata, revoked: Set<string>): FileResult {
    const moo = parseMoo(readFileSync(path));
    const flagsMask = flagsMaskFor(meta, form);
    const result: FileResult = {
      form,
      mnemonic: moo.mnemonic,
      passed: 0,
      failed: 0,
      excluded: 0,
      total: moo.tests.length,
      failures: [],
      exclusions: {},
    };
    const fail = (test: MooTest, detail: string) => {
      result.failed++;
      result.failures.push({
        index: test.index,
        name: test.name,
        bytes: Buffer.from(test.bytes).toString('hex'),
        detail,
      });
    };
    for (const test of moo.tests) {
      if (revoked.has(test.hash)) {
        result.excluded++;
        result.exclusions.revoked = (result.exclusions.revoked ?? 0) + 1;
        continue;
      }
      this.load(test);
      const { observed, error } = this.execute(flagsMask);
      const rule = findExclusion(test, observed);
      if (rule) {
        // Excluded from comparison with the 286; checked against what a 386 must do instead.
        const problem = rule.verify386(test, observed);
        if (problem) fail(test, `[386 rule ${rule.id}] ${problem}`);
        else {
          result.excluded++;
          result.exclusions[rule.id] = (result.exclusions[rule.id] ?? 0) + 1;
        }
        continue;
      }
      const problem = error ?? this.compare(test, flagsMask);
      if (problem === null) result.passed++;
      else fail(test, problem);
    }
    return result;
  }
}

/** The form name of a MOO file ("D3.4" for "D3.4.MOO.gz"). */
export function formOf(fileName: string): string {
  return fileName.replace(/\.MOO(\.gz)?$/i, '');
}
