/**
 * The x87 unit's constants (Intel SDM Vol. 1 ch. 8): status and control word bits, tags, slots, the
 * arithmetic's operation and compare codes, precision control, and the soft-float scratch layout.
 *
 * Constants only, and no imports: esbuild inlines a module's constants into their users only then (see
 * test/cpu/bundle-constants.test.ts), and the soft-float code indexes its scratch array with them in every
 * step.
 */

/** Status word bits (SDM Vol. 1 Figure 8-4). TOP (bits 13-11) is kept in `top`. */
export const SW_IE = 0x0001;
export const SW_DE = 0x0002;
export const SW_ZE = 0x0004;
export const SW_OE = 0x0008;
export const SW_UE = 0x0010;
export const SW_PE = 0x0020;
export const SW_SF = 0x0040;
export const SW_ES = 0x0080;
export const SW_C0 = 0x0100;
export const SW_C1 = 0x0200;
export const SW_C2 = 0x0400;
export const SW_C3 = 0x4000;
export const SW_B = 0x8000;
export const SW_CC = SW_C0 | SW_C1 | SW_C2 | SW_C3;
export const SW_TOP = 0x3800;
/** The six exception flags, and their masks in the control word (same bit positions). */
export const EXC_FLAGS = 0x3f;

/** Control word fields (SDM Vol. 1 Figure 8-6). Bit 6 reads as 1 on a 387 and later. */
export const CW_DEFAULT = 0x037f;
export const CW_WRITABLE = 0x1f3f;
export const CW_FIXED = 0x0040;

/** Tag values (SDM Vol. 1 Figure 8-7). */
export const TAG_VALID = 0;
export const TAG_ZERO = 1;
export const TAG_SPECIAL = 2;
export const TAG_EMPTY = 3;

/** Slots 0-7 are the physical registers R0-R7; 8 holds a memory operand, 9 a temporary. */
export const SLOT_MEM = 8;
export const SLOT_TMP = 9;
export const SLOTS = 10;

/** Soft-float (fpu-softfloat.ts): 2^32, one significand word. */
export const TWO32 = 4294967296;
/** Exponent adjustment of the unmasked #O/#U response for a register destination. */
export const BIAS_ADJUST = 24576;
/** Precision control values. */
export const PC_24 = 0;
export const PC_53 = 2;
export const PC_64 = 3;

/** Indexes into fpu-softfloat.ts's scratch array S: operands a and b, result r, load()'s output u. */
export const A_SIGN = 0;
export const A_EXP = 1;
export const A_HI = 2;
export const A_LO = 3;
export const B_SIGN = 4;
export const B_EXP = 5;
export const B_HI = 6;
export const B_LO = 7;
export const R_SIGN = 8;
export const R_EXP = 9;
export const R_HI = 10;
export const R_LO = 11;
export const R_X = 12;
export const R_STICKY = 13;
export const U_SIGN = 14;
export const U_EXP = 15;
export const U_HI = 16;
export const U_LO = 17;

/** Operations by the reg field of D8/DC/DA/DE (a = ST(0), b = the other operand). */
export const OP_ADD = 0; // a + b
export const OP_MUL = 1; // a * b
export const OP_SUB = 4; // a - b
export const OP_SUBR = 5; // b - a
export const OP_DIV = 6; // a / b
export const OP_DIVR = 7; // b / a

/** Compare outcomes. */
export const CMP_GT = 0;
export const CMP_LT = 1;
export const CMP_EQ = 2;
export const CMP_UNORDERED = 3;

/** The float64 fast path's exact product error (fpu-arith.ts). */
export const SPLIT = 134217729; // 2^27 + 1 (Veltkamp split of a float64 into two 26-bit halves)

/** productCompare's answer when a factor is too large to split (beyond 2^996). */
export const SPLIT_FAILED = 2;
