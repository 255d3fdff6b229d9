/**
 * The x87 FPU state (Intel SDM Vol. 1 ch. 8). Work in progress: the instruction set arrives with the
 * protected-mode issue.
 */
import type { Cpu } from './cpu.ts';

export class Fpu {
  constructor(private readonly cpu: Cpu) {}
  reset(): void {}
  /** WAIT/FWAIT and waiting x87 instructions: delivers a pending unmasked exception (#MF or IRQ13). */
  checkPendingException(): void {
    void this.cpu;
  }
}
