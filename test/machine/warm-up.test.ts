/**
 * The interpreter's warm-up (src/machine/warm-up.ts, images/warmup/warmup.asm): it ends as it should, it
 * reaches every form the decoded-instruction cache runs from records (a form added without adding it to the
 * program fails here), it computes the same with the cache, without it and with the block compiler, and the
 * module the emulator carries is what its source assembles to.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import * as format from '../../src/cpu/decoded-format.ts';
import type { JitMode } from '../../src/cpu/jit/mode.ts';
import { enterFlatProtectedMode } from '../../src/machine/boot-state.ts';
import { createPc, type Pc } from '../../src/machine/pc.ts';
import { WARM_UP_ADDRESS, warmUpInterpreter, warmUpProgram } from '../../src/machine/warm-up.ts';
import { assembleGuest, EMBEDDED, embeddedModule } from '../../scripts/images.ts';
import { commandExists, requirement } from '../helpers/requirements.ts';

/** The program in a machine of its own, run to its HLT. */
function runProgram(jit: JitMode, cache: boolean): Pc {
  const pc = createPc({ memoryMiB: 2, firmware: 'none' });
  pc.cpu.jitMode = jit;
  pc.cpu.decoded.enabled = cache;
  pc.memory.writeBytes(WARM_UP_ADDRESS, warmUpProgram());
  enterFlatProtectedMode(pc, WARM_UP_ADDRESS);
  while (!pc.cpu.halted && pc.cpu.instructionCount < 5_000_000) pc.run(1000);
  return pc;
}

function machineState(pc: Pc): string {
  const c = pc.cpu;
  const hex = (v: number) => (v >>> 0).toString(16);
  let h = 0x811c9dc5;
  for (const b of pc.memory.ram) h = Math.imul(h ^ b, 0x01000193);
  return [
    `regs ${Array.from(c.reg32, hex).join(' ')} eip ${hex(c.eip)} flags ${hex(c.getFlags())}`,
    `count ${c.instructionCount} halted ${c.halted} ram ${hex(h)}`,
    `fpu ${JSON.stringify(c.fpu.saveState())}`,
  ].join('\n');
}

describe('the interpreter warm-up', () => {
  test('ends at its HLT with its checksum, without an exception it does not expect', () => {
    const report = warmUpInterpreter();
    expect(report.checksum).not.toBe(0xdead);
    expect(report.instructions).toBeGreaterThan(10_000);
    expect(report.milliseconds).toBeGreaterThan(0);
  });

  test('alternates passes with the interpreter and with the block compiler, which compiles some regions', () => {
    const report = warmUpInterpreter();
    expect(report.interpreterPasses).toBe(6);
    expect(report.compilerPasses).toBe(6);
    expect(report.regions).toBeGreaterThan(0);
    // Every pass starts from the same RAM, so the interpreter and the compiled code must agree on the result.
    expect(report.passesAgree).toBe(true);
  });

  test('reaches every form the decoded-instruction cache has', () => {
    const pc = runProgram('off', true);
    const { records, maps } = pc.cpu.decoded;
    const reached = new Set<number>();
    expect(format.MAP_BASE).toBe(format.MAX_RECORDS * format.STRIDE);
    for (const map of maps) {
      if (map === 0) continue;
      for (const index of records.subarray(map, map + 4096)) {
        if (index !== 0) reached.add(records[index * format.STRIDE + format.F_KIND]);
      }
    }
    const forms = Object.entries(format).filter(([name]) => name.startsWith('K_'));
    expect(forms.length).toBeGreaterThan(70);
    const missing = forms.filter(([, kind]) => !reached.has(kind as number)).map(([name]) => name);
    expect(missing).toEqual([]);
  });

  test('computes the same with the cache, without it and with the block compiler', () => {
    const cached = machineState(runProgram('off', true));
    expect(cached).toMatch(/halted true/);
    expect(machineState(runProgram('off', false))).toBe(cached);
    expect(machineState(runProgram('on', true))).toBe(cached);
    expect(machineState(runProgram('auto', true))).toBe(cached);
  });

  const noNasm = requirement('nasm', commandExists('nasm'), 'apt-get install nasm');
  test.skipIf(noNasm !== null)('the embedded program is what its source assembles to', () => {
    for (const program of EMBEDDED) {
      const module = readFileSync(join(import.meta.dirname, '../..', program.module), 'utf8');
      expect(module, `run npm run images (${program.name})`).toBe(
        embeddedModule(program, assembleGuest(program)),
      );
    }
  });
});
