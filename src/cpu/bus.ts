/**
 * The two buses the CPU knows: I/O ports and physical memory. The CPU sees nothing else of the board.
 */

/** The I/O port space (64 KiB of ports) as the CPU's IN/OUT/INS/OUTS instructions reach it. */
export interface IoBus {
  in8(port: number): number;
  in16(port: number): number;
  in32(port: number): number;
  out8(port: number, value: number): void;
  out16(port: number, value: number): void;
  out32(port: number, value: number): void;
}

/** A port space with nothing attached: reads float high (all ones), writes vanish. */
export class OpenIoBus implements IoBus {
  in8(): number {
    return 0xff;
  }
  in16(): number {
    return 0xffff;
  }
  in32(): number {
    return -1;
  }
  out8(): void {}
  out16(): void {}
  out32(): void {}
}
