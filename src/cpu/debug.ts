/**
 * Debug registers as breakpoints (Intel SDM Vol. 3A 17.2-17.3): DR0-DR3 hold linear addresses, DR7 enables
 * each (L/G bits) and sets its kind (R/W: 00 execute, 01 write, 11 read or write; 10, I/O, is not
 * supported) and length (LEN: 1, 2, 8 or 4 bytes). An execute breakpoint is a fault taken before the
 * instruction runs (suppressed while EFLAGS.RF is set); a data breakpoint is a trap taken after the
 * instruction that touched the watched bytes. DR6 records which breakpoints hit (B0-B3).
 */
import type { Cpu } from './cpu.ts';

const LENGTHS = [1, 2, 8, 4] as const;

/** Recomputes whether any breakpoint is enabled (after a write to DR7). */
export function updateDebugArmed(c: Cpu): void {
  c.debugArmed = (c.dr[7] & 0xff) !== 0;
}

function enabled(c: Cpu, n: number): boolean {
  return (c.dr[7] & (3 << (n * 2))) !== 0;
}
function kind(c: Cpu, n: number): number {
  return (c.dr[7] >>> (16 + n * 4)) & 3;
}
function length(c: Cpu, n: number): number {
  return LENGTHS[(c.dr[7] >>> (18 + n * 4)) & 3];
}

/** DR6 B-bits of the execute breakpoints set on `linear`. */
export function instructionBreakpoints(c: Cpu, linear: number): number {
  let hits = 0;
  for (let n = 0; n < 4; n++) {
    if (enabled(c, n) && kind(c, n) === 0 && c.dr[n] === linear) hits |= 1 << n;
  }
  return hits;
}

/** Records (in c.debugHits) the data breakpoints an access of `size` bytes at `linear` matches. */
export function checkDataBreakpoints(c: Cpu, linear: number, size: number, write: boolean): void {
  for (let n = 0; n < 4; n++) {
    if (!enabled(c, n)) continue;
    const k = kind(c, n);
    if (k === 0 || k === 2 || (k === 1 && !write)) continue;
    const len = length(c, n);
    const start = (c.dr[n] & ~(len - 1)) >>> 0;
    const a = linear >>> 0;
    if (a < start + len && start < a + size) c.debugHits |= 1 << n;
  }
}
