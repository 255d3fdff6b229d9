/**
 * Protected-mode mechanisms (Intel SDM Vol. 3A ch. 3, 5, 6, 7). Work in progress: filled in by the
 * protected-mode issue; every entry point raises a host error until then so nothing fails silently.
 */
import type { Cpu } from './cpu.ts';

function notYet(what: string): never {
  throw new Error(`protected mode: ${what} is not implemented yet`);
}
export function loadDataSegment(_c: Cpu, _seg: number, _selector: number): void {
  notYet('segment loads');
}
export function protectedModeInterrupt(_c: Cpu, _v: number, _k: number, _e: number): void {
  notYet('interrupts');
}
export function farJump(_c: Cpu, _s: number, _o: number): void {
  notYet('far jumps');
}
export function farCall(_c: Cpu, _s: number, _o: number): void {
  notYet('far calls');
}
export function farReturn(_c: Cpu, _r: number): void {
  notYet('far returns');
}
export function iret(_c: Cpu): void {
  notYet('IRET');
}
/** I/O permission: CPL <= IOPL, else the TSS bitmap (protected mode); IOPL 3 not needed in V86 (bitmap). */
export function checkIoPermission(c: Cpu, _port: number, _size: number): void {
  if (!(c.cr0 & 1)) return;
  notYet('I/O permission checks');
}
export function loadLdt(_c: Cpu, _s: number): void {
  notYet('LLDT');
}
export function loadTaskRegister(_c: Cpu, _s: number): void {
  notYet('LTR');
}
export function verify(_c: Cpu, _s: number, _w: boolean): void {
  notYet('VERR/VERW');
}
export function loadAccessRights(_c: Cpu, _s: number, _l: boolean): void {
  notYet('LAR/LSL');
}
export function adjustRpl(_c: Cpu): void {
  notYet('ARPL');
}
export function sysenter(_c: Cpu): void {
  notYet('SYSENTER');
}
export function sysexit(_c: Cpu): void {
  notYet('SYSEXIT');
}
