/** x87 escape opcodes D8-DF. Work in progress (see fpu.ts). */
import type { Cpu } from '../cpu.ts';

export function x87Escape(c: Cpu): void {
  c.decodeModrm();
}
