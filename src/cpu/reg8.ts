/**
 * The 8-bit register numbering (Intel SDM Vol. 2, 2.1.5, Table 2-2): AL, CL, DL, BL, AH, CH, DH, BH.
 *
 * Its own module because constants.ts must hold nothing but constants: with this function in it, esbuild
 * stopped inlining that module's constants, and every CS, ALU_CMP and register number in the CPU became a
 * load from the module's context (test/cpu/bundle-constants.test.ts guards against it).
 */

/** Index into Cpu.reg8 of 8-bit register n (the four low bytes, then the four second bytes). */
export function reg8Index(n: number): number {
  return ((n & 3) << 2) | (n >> 2);
}
