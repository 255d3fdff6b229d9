/**
 * The opcode dispatch table: 256 one-byte opcodes followed by 256 two-byte (0F xx) opcodes, each row naming
 * the instruction it runs (Intel SDM Vol. 2D, Appendix A "Opcode Map"). Prefixes are table entries too: they
 * record themselves and dispatch the next byte. Adding an instruction = a handler in ops/ + a row here.
 */
import type { Cpu, OpHandler } from './cpu.ts';
import { CS, DS, ES, EXC_UD, FS, GS, SS } from './constants.ts';
import * as arith from './ops/arith.ts';
import * as bcd from './ops/bcd.ts';
import * as bit from './ops/bit.ts';
import * as control from './ops/control.ts';
import * as misc from './ops/misc.ts';
import * as move from './ops/move.ts';
import * as shift from './ops/shift.ts';
import * as stack from './ops/stack.ts';
import * as str from './ops/string.ts';
import * as sys from './ops/system.ts';
import { x87Escape } from './ops/x87.ts';

function undefinedOpcode(c: Cpu): void {
  c.raise(EXC_UD);
}

function segmentPrefix(seg: number): OpHandler {
  return (c) => {
    c.segOverride = seg;
    c.table[c.fetch8()](c);
  };
}
function operandSizePrefix(c: Cpu): void {
  c.opsize32 = c.codeSize32 ^ 1;
  c.table[c.fetch8()](c);
}
function addressSizePrefix(c: Cpu): void {
  c.addrsize32 = c.codeSize32 ^ 1;
  c.table[c.fetch8()](c);
}
function repPrefix(kind: number): OpHandler {
  return (c) => {
    c.repPrefix = kind;
    c.table[c.fetch8()](c);
  };
}
function twoByteEscape(c: Cpu): void {
  c.table[0x100 | c.fetch8()](c);
}

/**
 * One-byte and 0F opcodes that accept LOCK with a memory destination (SDM Vol. 2A, "LOCK"). For groups, a
 * bit mask of the ModRM.reg values that are lockable; 0xFF = every form.
 */
const LOCKABLE = (() => {
  const t = new Uint8Array(512);
  for (const op of [0x00, 0x01, 0x08, 0x09, 0x10, 0x11, 0x18, 0x19, 0x20, 0x21, 0x28, 0x29, 0x30, 0x31]) {
    t[op] = 0xff;
  }
  t[0x80] = t[0x81] = t[0x82] = t[0x83] = 0x7f; // ADD..SUB, XOR; not CMP (/7)
  t[0x86] = t[0x87] = 0xff; // XCHG
  t[0xf6] = t[0xf7] = 0x0c; // NOT (/2), NEG (/3)
  t[0xfe] = t[0xff] = 0x03; // INC (/0), DEC (/1)
  t[0x1ab] = t[0x1b3] = t[0x1bb] = 0xff; // BTS, BTR, BTC
  t[0x1ba] = 0xe0; // BTS/BTR/BTC imm (/5-/7)
  t[0x1b0] = t[0x1b1] = 0xff; // CMPXCHG
  t[0x1c0] = t[0x1c1] = 0xff; // XADD
  t[0x1c7] = 0x02; // CMPXCHG8B (/1)
  return t;
})();

/** Opcodes that are prefixes (they may stand between LOCK and the instruction). */
function isPrefix(op: number): boolean {
  return (
    op === 0x26 ||
    op === 0x2e ||
    op === 0x36 ||
    op === 0x3e ||
    op === 0x64 ||
    op === 0x65 ||
    op === 0x66 ||
    op === 0x67 ||
    op === 0xf0 ||
    op === 0xf2 ||
    op === 0xf3
  );
}

/** F0 LOCK: a 386 raises #UD unless the instruction is lockable and its destination is memory. */
function lockPrefix(c: Cpu): void {
  c.lockPrefix = 1;
  const start = c.eip;
  let op = c.fetch8();
  while (isPrefix(op)) op = c.fetch8();
  if (op === 0x0f) op = 0x100 | c.fetch8();
  const mask = LOCKABLE[op];
  const modrm = mask ? c.fetch8() : 0;
  if (mask === 0 || modrm >= 0xc0 || (mask & (1 << ((modrm >> 3) & 7))) === 0) c.raise(EXC_UD);
  c.eip = start;
  c.table[c.fetch8()](c);
}

/** FE: INC/DEC r/m8. */
function group4(c: Cpu): void {
  c.decodeModrm();
  const reg = (c.modrm >> 3) & 7;
  if (reg > 1) c.raise(EXC_UD);
  arith.incDecRm8(c, reg === 1);
}

/** FF: INC, DEC, CALL near, CALL far, JMP near, JMP far, PUSH r/m. */
function group5(c: Cpu): void {
  c.decodeModrm();
  switch ((c.modrm >> 3) & 7) {
    case 0:
      arith.incDecRmV(c, false);
      break;
    case 1:
      arith.incDecRmV(c, true);
      break;
    case 2:
      control.callNearRm(c);
      break;
    case 3:
      control.callFarRm(c);
      break;
    case 4:
      control.jmpNearRm(c);
      break;
    case 5:
      control.jmpFarRm(c);
      break;
    case 6:
      c.push(c.opsize32 ? c.readRm32() : c.readRm16());
      break;
    default:
      c.raise(EXC_UD);
  }
}

/** 0F 18-1F: hint NOPs with a ModRM operand (P6 family); the operand is decoded, never accessed. */
function nopEv(c: Cpu): void {
  c.decodeModrm();
}

/** 63 ARPL (protected mode only). */
function arpl(c: Cpu): void {
  sys.arpl(c);
}

function buildTable(): OpHandler[] {
  const t: OpHandler[] = new Array<OpHandler>(512).fill(undefinedOpcode);
  // 00-3F: the eight ALU operations in six forms each, with the segment pushes/pops, prefixes and BCD.
  for (let op = 0; op < 0x40; op++) if ((op & 7) < 6) t[op] = arith.aluForm(op);
  t[0x06] = stack.pushSeg(ES); // PUSH ES
  t[0x07] = stack.popSeg(ES); // POP ES
  t[0x0e] = stack.pushSeg(CS); // PUSH CS
  t[0x0f] = twoByteEscape; // 0F escape
  t[0x16] = stack.pushSeg(SS); // PUSH SS
  t[0x17] = stack.popSeg(SS); // POP SS
  t[0x1e] = stack.pushSeg(DS); // PUSH DS
  t[0x1f] = stack.popSeg(DS); // POP DS
  t[0x26] = segmentPrefix(ES); // ES:
  t[0x27] = bcd.daa; // DAA
  t[0x2e] = segmentPrefix(CS); // CS:
  t[0x2f] = bcd.das; // DAS
  t[0x36] = segmentPrefix(SS); // SS:
  t[0x37] = bcd.aaa; // AAA
  t[0x3e] = segmentPrefix(DS); // DS:
  t[0x3f] = bcd.aas; // AAS
  for (let r = 0; r < 8; r++) {
    t[0x40 + r] = arith.incReg(r); // INC r16/32
    t[0x48 + r] = arith.decReg(r); // DEC r16/32
    t[0x50 + r] = stack.pushReg(r); // PUSH r16/32
    t[0x58 + r] = stack.popReg(r); // POP r16/32
  }
  t[0x60] = stack.pusha; // PUSHA/PUSHAD
  t[0x61] = stack.popa; // POPA/POPAD
  t[0x62] = control.bound; // BOUND
  t[0x63] = arpl; // ARPL
  t[0x64] = segmentPrefix(FS); // FS:
  t[0x65] = segmentPrefix(GS); // GS:
  t[0x66] = operandSizePrefix; // operand size
  t[0x67] = addressSizePrefix; // address size
  t[0x68] = stack.pushIv; // PUSH imm16/32
  t[0x69] = arith.imulGvEvIv; // IMUL r, r/m, imm16/32
  t[0x6a] = stack.pushIb; // PUSH imm8
  t[0x6b] = arith.imulGvEvIb; // IMUL r, r/m, imm8
  t[0x6c] = str.insb; // INSB
  t[0x6d] = str.insv; // INSW/INSD
  t[0x6e] = str.outsb; // OUTSB
  t[0x6f] = str.outsv; // OUTSW/OUTSD
  for (let cc = 0; cc < 16; cc++) t[0x70 + cc] = control.jccShort(cc); // Jcc rel8
  t[0x80] = arith.group1Eb; // group 1 r/m8, imm8
  t[0x81] = arith.group1Ev; // group 1 r/m16/32, imm16/32
  t[0x82] = arith.group1Eb; // group 1 r/m8, imm8 (alias of 80)
  t[0x83] = arith.group1EvIb; // group 1 r/m16/32, imm8
  t[0x84] = arith.testEbGb; // TEST r/m8, r8
  t[0x85] = arith.testEvGv; // TEST r/m16/32, r16/32
  t[0x86] = move.xchgEbGb; // XCHG r/m8, r8
  t[0x87] = move.xchgEvGv; // XCHG r/m16/32, r16/32
  t[0x88] = move.movEbGb; // MOV r/m8, r8
  t[0x89] = move.movEvGv; // MOV r/m16/32, r16/32
  t[0x8a] = move.movGbEb; // MOV r8, r/m8
  t[0x8b] = move.movGvEv; // MOV r16/32, r/m16/32
  t[0x8c] = move.movEwSw; // MOV r/m16, Sreg
  t[0x8d] = move.lea; // LEA
  t[0x8e] = move.movSwEw; // MOV Sreg, r/m16
  t[0x8f] = stack.popEv; // POP r/m16/32
  t[0x90] = misc.nop; // NOP (XCHG eAX, eAX; F3 90 = PAUSE)
  for (let r = 1; r < 8; r++) t[0x90 + r] = move.xchgEax(r); // XCHG eAX, r16/32
  t[0x98] = arith.cbw; // CBW/CWDE
  t[0x99] = arith.cwd; // CWD/CDQ
  t[0x9a] = control.callFarImm; // CALL ptr16:16/32
  t[0x9b] = misc.wait; // WAIT/FWAIT
  t[0x9c] = stack.pushf; // PUSHF/PUSHFD
  t[0x9d] = stack.popf; // POPF/POPFD
  t[0x9e] = move.sahf; // SAHF
  t[0x9f] = move.lahf; // LAHF
  t[0xa0] = move.movAlOb; // MOV AL, moffs8
  t[0xa1] = move.movEaxOv; // MOV eAX, moffs16/32
  t[0xa2] = move.movObAl; // MOV moffs8, AL
  t[0xa3] = move.movOvEax; // MOV moffs16/32, eAX
  t[0xa4] = str.movsb; // MOVSB
  t[0xa5] = str.movsv; // MOVSW/MOVSD
  t[0xa6] = str.cmpsb; // CMPSB
  t[0xa7] = str.cmpsv; // CMPSW/CMPSD
  t[0xa8] = arith.testAlIb; // TEST AL, imm8
  t[0xa9] = arith.testEaxIv; // TEST eAX, imm16/32
  t[0xaa] = str.stosb; // STOSB
  t[0xab] = str.stosv; // STOSW/STOSD
  t[0xac] = str.lodsb; // LODSB
  t[0xad] = str.lodsv; // LODSW/LODSD
  t[0xae] = str.scasb; // SCASB
  t[0xaf] = str.scasv; // SCASW/SCASD
  for (let r = 0; r < 8; r++) {
    t[0xb0 + r] = move.movRbIb(r); // MOV r8, imm8
    t[0xb8 + r] = move.movRvIv(r); // MOV r16/32, imm16/32
  }
  t[0xc0] = shift.shiftEbIb; // group 2 r/m8, imm8
  t[0xc1] = shift.shiftEvIb; // group 2 r/m16/32, imm8
  t[0xc2] = control.retImm; // RET imm16
  t[0xc3] = control.ret; // RET
  t[0xc4] = move.loadFarPointer(ES); // LES
  t[0xc5] = move.loadFarPointer(DS); // LDS
  t[0xc6] = move.movEbIb; // MOV r/m8, imm8
  t[0xc7] = move.movEvIv; // MOV r/m16/32, imm16/32
  t[0xc8] = stack.enter; // ENTER
  t[0xc9] = stack.leave; // LEAVE
  t[0xca] = control.retfImm; // RETF imm16
  t[0xcb] = control.retf; // RETF
  t[0xcc] = control.int3; // INT3
  t[0xcd] = control.intImm; // INT imm8
  t[0xce] = control.into; // INTO
  t[0xcf] = control.iret; // IRET/IRETD
  t[0xd0] = shift.shiftEb1; // group 2 r/m8, 1
  t[0xd1] = shift.shiftEv1; // group 2 r/m16/32, 1
  t[0xd2] = shift.shiftEbCl; // group 2 r/m8, CL
  t[0xd3] = shift.shiftEvCl; // group 2 r/m16/32, CL
  t[0xd4] = bcd.aam; // AAM
  t[0xd5] = bcd.aad; // AAD
  t[0xd6] = bcd.salc; // SALC (undocumented)
  t[0xd7] = move.xlat; // XLAT
  for (let op = 0xd8; op <= 0xdf; op++) t[op] = x87Escape; // x87 escapes
  t[0xe0] = control.loopnz; // LOOPNE
  t[0xe1] = control.loopz; // LOOPE
  t[0xe2] = control.loop; // LOOP
  t[0xe3] = control.jcxz; // JCXZ/JECXZ
  t[0xe4] = misc.inAlIb; // IN AL, imm8
  t[0xe5] = misc.inEaxIb; // IN eAX, imm8
  t[0xe6] = misc.outIbAl; // OUT imm8, AL
  t[0xe7] = misc.outIbEax; // OUT imm8, eAX
  t[0xe8] = control.callRel; // CALL rel16/32
  t[0xe9] = control.jmpNear; // JMP rel16/32
  t[0xea] = control.jmpFarImm; // JMP ptr16:16/32
  t[0xeb] = control.jmpShort; // JMP rel8
  t[0xec] = misc.inAlDx; // IN AL, DX
  t[0xed] = misc.inEaxDx; // IN eAX, DX
  t[0xee] = misc.outDxAl; // OUT DX, AL
  t[0xef] = misc.outDxEax; // OUT DX, eAX
  t[0xf0] = lockPrefix; // LOCK
  t[0xf1] = control.int1; // INT1/ICEBP
  t[0xf2] = repPrefix(0xf2); // REPNE
  t[0xf3] = repPrefix(0xf3); // REP/REPE
  t[0xf4] = misc.hlt; // HLT
  t[0xf5] = misc.cmc; // CMC
  t[0xf6] = arith.group3Eb; // group 3 r/m8
  t[0xf7] = arith.group3Ev; // group 3 r/m16/32
  t[0xf8] = misc.clc; // CLC
  t[0xf9] = misc.stc; // STC
  t[0xfa] = misc.cli; // CLI
  t[0xfb] = misc.sti; // STI
  t[0xfc] = misc.cld; // CLD
  t[0xfd] = misc.std; // STD
  t[0xfe] = group4; // group 4: INC/DEC r/m8
  t[0xff] = group5; // group 5

  // ---- Two-byte opcodes (0F xx) ----
  t[0x100] = sys.group6; // 0F 00: SLDT STR LLDT LTR VERR VERW
  t[0x101] = sys.group7; // 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG
  t[0x102] = sys.lar; // 0F 02: LAR
  t[0x103] = sys.lsl; // 0F 03: LSL
  t[0x106] = sys.clts; // 0F 06: CLTS
  t[0x108] = sys.invd; // 0F 08: INVD
  t[0x109] = sys.invd; // 0F 09: WBINVD
  t[0x10b] = sys.ud2; // 0F 0B: UD2
  for (let op = 0x118; op <= 0x11f; op++) t[op] = nopEv; // 0F 18-1F: hint NOP
  t[0x120] = sys.movRdCr; // 0F 20: MOV r32, CRn
  t[0x121] = sys.movRdDr; // 0F 21: MOV r32, DRn
  t[0x122] = sys.movCrRd; // 0F 22: MOV CRn, r32
  t[0x123] = sys.movDrRd; // 0F 23: MOV DRn, r32
  t[0x130] = sys.wrmsr; // 0F 30: WRMSR
  t[0x131] = sys.rdtsc; // 0F 31: RDTSC
  t[0x132] = sys.rdmsr; // 0F 32: RDMSR
  t[0x134] = sys.sysenter; // 0F 34: SYSENTER
  t[0x135] = sys.sysexit; // 0F 35: SYSEXIT
  for (let cc = 0; cc < 16; cc++) {
    t[0x140 + cc] = move.cmov(cc); // 0F 40-4F: CMOVcc
    t[0x180 + cc] = control.jccNear(cc); // 0F 80-8F: Jcc rel16/32
    t[0x190 + cc] = bit.setcc(cc); // 0F 90-9F: SETcc
  }
  t[0x1a0] = stack.pushSeg(FS); // 0F A0: PUSH FS
  t[0x1a1] = stack.popSeg(FS); // 0F A1: POP FS
  t[0x1a2] = sys.cpuid; // 0F A2: CPUID
  t[0x1a3] = bit.btEvGv; // 0F A3: BT
  t[0x1a4] = shift.shldImm; // 0F A4: SHLD imm8
  t[0x1a5] = shift.shldCl; // 0F A5: SHLD CL
  t[0x1a8] = stack.pushSeg(GS); // 0F A8: PUSH GS
  t[0x1a9] = stack.popSeg(GS); // 0F A9: POP GS
  t[0x1ab] = bit.btsEvGv; // 0F AB: BTS
  t[0x1ac] = shift.shrdImm; // 0F AC: SHRD imm8
  t[0x1ad] = shift.shrdCl; // 0F AD: SHRD CL
  t[0x1af] = arith.imulGvEv; // 0F AF: IMUL r, r/m
  t[0x1b0] = arith.cmpxchgEbGb; // 0F B0: CMPXCHG r/m8
  t[0x1b1] = arith.cmpxchgEvGv; // 0F B1: CMPXCHG r/m16/32
  t[0x1b2] = move.loadFarPointer(SS); // 0F B2: LSS
  t[0x1b3] = bit.btrEvGv; // 0F B3: BTR
  t[0x1b4] = move.loadFarPointer(FS); // 0F B4: LFS
  t[0x1b5] = move.loadFarPointer(GS); // 0F B5: LGS
  t[0x1b6] = move.movzxGvEb; // 0F B6: MOVZX r, r/m8
  t[0x1b7] = move.movzxGvEw; // 0F B7: MOVZX r, r/m16
  t[0x1ba] = bit.group8; // 0F BA: BT/BTS/BTR/BTC imm8
  t[0x1bb] = bit.btcEvGv; // 0F BB: BTC
  t[0x1bc] = bit.bsf; // 0F BC: BSF
  t[0x1bd] = bit.bsr; // 0F BD: BSR
  t[0x1be] = move.movsxGvEb; // 0F BE: MOVSX r, r/m8
  t[0x1bf] = move.movsxGvEw; // 0F BF: MOVSX r, r/m16
  t[0x1c0] = arith.xaddEbGb; // 0F C0: XADD r/m8
  t[0x1c1] = arith.xaddEvGv; // 0F C1: XADD r/m16/32
  t[0x1c7] = arith.group9; // 0F C7: CMPXCHG8B
  for (let r = 0; r < 8; r++) t[0x1c8 + r] = move.bswap(r); // 0F C8-CF: BSWAP
  return t;
}

export const OPCODE_TABLE: readonly OpHandler[] = buildTable();
