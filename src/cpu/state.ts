/**
 * The CPU's architectural state as plain named fields, for snapshots (STYLE.md point 11). Saving derives
 * the lazy flags; loading recomputes what is derived from the saved fields (code/stack size, the MMU mode,
 * the TLB and the cached code page) and checks every field, naming the bad one.
 */
import type { Cpu } from './cpu.ts';
import type { DeviceState } from '../devices/device.ts';
import { CS, SS } from './constants.ts';

export const CPU_STATE_VERSION = 1;

const SCALARS = [
  'eip',
  'cr0',
  'cr2',
  'cr3',
  'cr4',
  'gdtrBase',
  'gdtrLimit',
  'idtrBase',
  'idtrLimit',
  'ldtrSelector',
  'ldtrBase',
  'ldtrLimit',
  'trSelector',
  'trBase',
  'trLimit',
  'trType',
  'sysenterCs',
  'sysenterEsp',
  'sysenterEip',
  'interruptShadow',
] as const;

export function saveCpuState(cpu: Cpu): DeviceState {
  const state: DeviceState = {
    version: CPU_STATE_VERSION,
    reg32: Int32Array.from(cpu.reg32),
    sreg: Uint16Array.from(cpu.sreg),
    segBase: Int32Array.from(cpu.segBase),
    segLimit: Uint32Array.from(cpu.segLimit),
    segFlags: Uint8Array.from(cpu.segFlags),
    segAccess: Uint8Array.from(cpu.segAccess),
    segBig: Uint8Array.from(cpu.segBig),
    dr: Int32Array.from(cpu.dr),
    flags: cpu.getFlags(),
    cpl: cpu.cpl,
    halted: cpu.halted,
    nmiPending: cpu.nmiPending,
    instructionCount: cpu.instructionCount,
    // The TSC is kept as its value now, so it continues from there whatever clock it is restored onto.
    tsc: cpu.timeNs() + cpu.tscOffset,
    fpu: cpu.fpu.saveState() as unknown as DeviceState,
  };
  for (const name of SCALARS) state[name] = cpu[name];
  return state;
}

function typed<T extends ArrayLike<number>>(
  state: DeviceState,
  field: string,
  kind: { new (n: number): T },
  length: number,
): T {
  const v = state[field];
  if (!(v instanceof kind) || v.length !== length)
    throw new Error(`cpu state: field '${field}' is not a ${kind.name}(${length})`);
  return v;
}

function num(state: DeviceState, field: string): number {
  const v = state[field];
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Error(`cpu state: field '${field}' is not a number`);
  return v;
}

/** Restores a state written by saveCpuState. The CPU's clock (timeNs) must already be restored. */
export function loadCpuState(cpu: Cpu, state: DeviceState): void {
  if (state.version !== CPU_STATE_VERSION)
    throw new Error(`cpu state: version ${String(state.version)} is not ${CPU_STATE_VERSION}`);
  // Validate everything before changing anything.
  const reg32 = typed(state, 'reg32', Int32Array, 8);
  const sreg = typed(state, 'sreg', Uint16Array, 6);
  const segBase = typed(state, 'segBase', Int32Array, 6);
  const segLimit = typed(state, 'segLimit', Uint32Array, 6);
  const segFlags = typed(state, 'segFlags', Uint8Array, 6);
  const segAccess = typed(state, 'segAccess', Uint8Array, 6);
  const segBig = typed(state, 'segBig', Uint8Array, 6);
  const dr = typed(state, 'dr', Int32Array, 8);
  const scalars = SCALARS.map((name) => num(state, name));
  const flags = num(state, 'flags');
  const cpl = num(state, 'cpl');
  const instructionCount = num(state, 'instructionCount');
  const tsc = num(state, 'tsc');
  if (typeof state.halted !== 'boolean') throw new Error("cpu state: field 'halted' is not a boolean");
  if (typeof state.nmiPending !== 'boolean')
    throw new Error("cpu state: field 'nmiPending' is not a boolean");
  const fpu = state.fpu;
  if (typeof fpu !== 'object' || fpu === null || Array.isArray(fpu) || ArrayBuffer.isView(fpu)) {
    throw new Error("cpu state: field 'fpu' is not an object");
  }
  cpu.fpu.loadState(fpu as { readonly [field: string]: unknown });

  cpu.reg32.set(reg32);
  cpu.sreg.set(sreg);
  cpu.segBase.set(segBase);
  cpu.segLimit.set(segLimit);
  cpu.segFlags.set(segFlags);
  cpu.segAccess.set(segAccess);
  cpu.segBig.set(segBig);
  cpu.dr.set(dr);
  SCALARS.forEach((name, i) => {
    (cpu as unknown as Record<string, number>)[name] = scalars[i];
  });
  cpu.lazyFlags = 0;
  cpu.flags = flags;
  cpu.cpl = cpl;
  cpu.halted = state.halted;
  cpu.nmiPending = state.nmiPending;
  cpu.instructionCount = instructionCount;
  cpu.tscOffset = tsc - cpu.timeNs();
  cpu.codeSize32 = cpu.segBig[CS];
  cpu.stackSize32 = cpu.segBig[SS];
  cpu.mmu.configure();
  cpu.mmu.flush(true);
}
