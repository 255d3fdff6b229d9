/**
 * Architectural constants shared by the CPU modules: register and segment numbers, exception vectors, CR0
 * bits. Kept in a module with no imports so that every CPU file (and the dispatch table, built at load time)
 * can use them without import cycles.
 */

/** General registers, in ModRM encoding order. */
export const EAX = 0;
export const ECX = 1;
export const EDX = 2;
export const EBX = 3;
export const ESP = 4;
export const EBP = 5;
export const ESI = 6;
export const EDI = 7;

/** Segment registers, in ModRM/SReg encoding order. */
export const ES = 0;
export const CS = 1;
export const SS = 2;
export const DS = 3;
export const FS = 4;
export const GS = 5;
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

/** Exception vectors (SDM Vol. 3A, Table 6-1). */
export const EXC_DE = 0;
export const EXC_DB = 1;
export const EXC_NMI = 2;
export const EXC_BP = 3;
export const EXC_OF = 4;
export const EXC_BR = 5;
export const EXC_UD = 6;
export const EXC_NM = 7;
export const EXC_DF = 8;
export const EXC_TS = 10;
export const EXC_NP = 11;
export const EXC_SS = 12;
export const EXC_GP = 13;
export const EXC_PF = 14;
export const EXC_MF = 16;
export const EXC_AC = 17;

/** CR0 bits. */
export const CR0_PE = 1 << 0;
export const CR0_MP = 1 << 1;
export const CR0_EM = 1 << 2;
export const CR0_TS = 1 << 3;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
export const CR0_AM = 1 << 18;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;

/** CR4 bits this CPU implements (SDM Vol. 3A 2.5): TSD, DE, PSE, PGE. Others are reserved here: #GP. */
export const CR4_TSD = 1 << 2;
export const CR4_DE = 1 << 3;
export const CR4_PSE = 1 << 4;
export const CR4_PGE = 1 << 7;

/** Segment cache flag bits (segFlags): the exceptional cases that take the slow limit check. */
export const SEGF_EXPAND_DOWN = 1;
export const SEGF_NOT_WRITABLE = 2;
export const SEGF_NOT_READABLE = 4;
export const SEGF_UNUSABLE = 8;

/** How an interrupt came about: decides the pushed EIP, IOPL checks in V86 mode and error codes. */
export const INT_SOFTWARE = 0; // INT n, INT3, INTO
export const INT_HARDWARE = 1; // INTR from the PIC, NMI
export const INT_EXCEPTION = 2; // a fault or trap raised by the CPU

/** ALU operation numbers: the opcode's bits 5-3, and the reg field of group 1 (80-83). */
export const ALU_ADD = 0;
export const ALU_OR = 1;
export const ALU_ADC = 2;
export const ALU_SBB = 3;
export const ALU_AND = 4;
export const ALU_SUB = 5;
export const ALU_XOR = 6;
export const ALU_CMP = 7;
