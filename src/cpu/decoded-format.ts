/**
 * The record format of the interpreter's decoded-instruction cache (decoded.ts): field offsets and forms.
 * A module of its own without imports, so that the bundler can put the values in place of the names (it
 * does not inline a module's constants where the module imports anything: a cycle could read them early).
 */

/** Int32 fields per record: 1 << RECORD_SHIFT. */
export const RECORD_SHIFT = 3;
export const STRIDE = 1 << RECORD_SHIFT;
/** Record fields: form, length in bytes, register operand, r/m register or base, index, packed, disp, imm. */
export const F_KIND = 0;
export const F_LENGTH = 1;
export const F_REG = 2;
export const F_RM = 3;
export const F_INDEX = 4;
/** Scale (bits 0-1), memory operand segment (bits 4-6), ALU/shift operation or condition (bits 8-11). */
export const F_PACKED = 5;
export const F_DISP = 6;
export const F_IMM = 7;

/** Records kept before the whole cache is dropped (4 MiB of Int32). */
export const MAX_RECORDS = 1 << 17;
/** Pages with a slot map kept before the whole cache is dropped (16 KiB each). */
export const MAX_PAGES = 1024;
/** Where the slot maps start in DecodedCache.records: after the records, MAX_RECORDS * STRIDE. */
export const MAP_BASE = 1 << 20;
/** Record index of the shared "generic" record (index 0 in a slot map means "not decoded yet"). */
export const GENERIC_INDEX = 1;

// Forms. K_GENERIC runs through Cpu.stepUnchecked; the others are runRecords' cases. "R" is a 32-bit
// register, "M" a memory operand (F_RM base, F_INDEX index, scale, F_DISP, segment), "I" an immediate.
export const K_GENERIC = 0;
export const K_NOP = 1;
export const K_MOV_RR = 2; // REG <- RM
export const K_MOV_RI = 3;
export const K_LOAD32 = 4; // REG <- M
export const K_STORE32 = 5; // M <- REG
export const K_LOAD8 = 6; // REG (reg8 index) <- M8
export const K_STORE8 = 7;
export const K_MOV_MI = 8;
export const K_MOV_MI8 = 9;
export const K_LEA = 10;
export const K_ALU_RR = 11; // REG op= RM
export const K_ALU_RI = 12; // REG op= IMM
export const K_ALU_RM = 13; // REG op= M
export const K_ALU_MR = 14; // M op= REG
export const K_ALU_MI = 15; // M op= IMM
export const K_ALU8_RI = 16; // reg8[REG] op= imm8
export const K_TEST_RR = 17;
export const K_INC = 18;
export const K_DEC = 19;
export const K_PUSH = 20;
export const K_POP = 21;
export const K_JCC = 22; // F_PACKED op = condition, F_IMM = displacement
export const K_JMP = 23;
export const K_CALL = 24;
export const K_RET = 25;
export const K_SHIFT_RI = 26; // F_RM register, count in F_IMM
export const K_SHIFT_RCL = 27;
export const K_MOVZX8_R = 28; // REG <- reg8[F_RM]
export const K_MOVZX16_R = 29;
export const K_MOVSX8_R = 30;
export const K_MOVSX16_R = 31;
export const K_MOVZX8_M = 32;
export const K_MOVZX16_M = 33;
export const K_MOVSX8_M = 34;
export const K_MOVSX16_M = 35;
export const K_IMUL_RR = 36;
export const K_IMUL_RM = 37;
export const K_GROUP3_R = 38; // F7 /2-/7 (NOT NEG MUL IMUL DIV IDIV), F_REG the operation
export const K_GROUP3_M = 39;
// Byte forms: REG and RM are reg8 indices (Cpu.reg8), M a byte in memory.
export const K_ALU8_RR = 40; // reg8[REG] op= reg8[RM]
export const K_ALU8_RM = 41; // reg8[REG] op= M8
export const K_ALU8_MR = 42; // M8 op= reg8[REG]
export const K_ALU8_MI = 43; // M8 op= imm8
export const K_TEST8_RR = 44;
export const K_MOV8_RR = 45;
export const K_MOV8_RI = 46;
/** x87 escapes D8-DF: REG the opcode, IMM the ModRM byte. */
export const K_X87 = 47;
/** INC/DEC of a dword in memory (FF /0, /1): REG 0 INC, 1 DEC. */
export const K_INCDEC_M = 48;
// Word forms (operand-size prefix, 32-bit addresses): the low 16 bits of a 32-bit register.
export const K_MOV16_RR = 49; // REG.w <- RM.w
export const K_LOAD16 = 50; // REG.w <- M16
export const K_STORE16 = 51; // M16 <- REG.w
export const K_SHIFT16_RI = 52; // RM.w shifted, count in F_IMM
// Condition forms: F_PACKED op = the condition (as K_JCC).
export const K_SETCC_R = 53; // reg8[RM] <- condition
export const K_SETCC_M = 54; // M8 <- condition
export const K_CMOV_RR = 55; // REG <- RM if condition
export const K_CMOV_RM = 56; // REG <- M if condition (M read either way)
// TEST with an immediate (F7 /0 /1, F6 /0 /1).
export const K_TEST_RI = 57; // RM & IMM
export const K_TEST_MI = 58; // M & IMM
export const K_TEST8_RI = 59; // reg8[RM] & imm8
export const K_TEST8_MI = 60; // M8 & imm8
export const K_LEAVE = 61;
export const K_PUSH_I = 62; // IMM (sign-extended)
export const K_PUSH_M = 63; // M
// Control transfers and the rest.
export const K_LOOP = 64; // E0-E3 (LOOPNE, LOOPE, LOOP, JECXZ): REG the opcode, IMM the displacement
export const K_JMP_R = 65; // FF /4: EIP <- RM
export const K_JMP_M = 66; // FF /4: EIP <- M
export const K_CALL_R = 67; // FF /2
export const K_CALL_M = 68;
export const K_IMUL3_R = 69; // 69, 6B: REG <- RM * IMM
export const K_IMUL3_M = 70; // REG <- M * IMM
export const K_XCHG_RR = 71; // 87, 91-97
export const K_XCHG_M = 72; // 87: M <-> REG
export const K_CWDE = 73;
export const K_CDQ = 74;
/** MOVS, CMPS, STOS, LODS, SCAS without REP: REG the opcode, IMM the size, DISP the segment override or -1. */
export const K_STRING = 75;
