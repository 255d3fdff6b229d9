/**
 * Stack instructions: PUSH/POP of registers, segment registers, immediates and r/m; PUSHA/POPA(D);
 * PUSHF/POPF(D); ENTER; LEAVE. Intel SDM Vol. 2B "PUSH", "POP", "PUSHA", "POPA", "PUSHF", "POPF", "ENTER",
 * "LEAVE"; privilege rules for POPF from the same pages.
 *
 * Multi-word pushes and pops check every stack slot before changing ESP, so a stack fault leaves the
 * registers as they were and the instruction restarts cleanly.
 */
import type { Cpu } from '../cpu.ts';
import { EBP, ESP, EXC_GP, EXC_UD, SS } from '../constants.ts';
import { FLAG_IF, FLAG_IOPL, FLAG_RF, FLAG_VIF, FLAG_VIP, FLAG_VM, FLAGS_WRITABLE } from '../flags.ts';

export function pushReg(reg: number): (c: Cpu) => void {
  return (c) => {
    // PUSH SP/ESP pushes the value before the decrement (80286 and later).
    if (c.opsize32) c.push32(c.reg32[reg]);
    else c.push16(c.reg16[reg << 1]);
  };
}

export function popReg(reg: number): (c: Cpu) => void {
  return (c) => {
    if (c.opsize32) {
      const v = c.read32(SS, c.getSp());
      c.adjustSp(4);
      c.reg32[reg] = v;
    } else {
      const v = c.read16(SS, c.getSp());
      c.adjustSp(2);
      c.reg16[reg << 1] = v;
    }
  };
}

/** PUSH Sreg. With a 32-bit operand size the slot is 4 bytes and only its low word is written. */
export function pushSeg(seg: number): (c: Cpu) => void {
  return (c) => {
    if (c.opsize32) {
      const sp = c.spOffset(-4);
      c.write16(SS, sp, c.sreg[seg]);
      c.adjustSp(-4);
    } else {
      c.push16(c.sreg[seg]);
    }
  };
}

/** POP Sreg (not CS). POP SS holds off interrupts for one instruction. */
export function popSeg(seg: number): (c: Cpu) => void {
  return (c) => {
    const selector = c.read16(SS, c.getSp());
    c.loadSegment(seg, selector);
    c.adjustSp(c.opsize32 ? 4 : 2);
    if (seg === SS) c.interruptShadow = 1;
  };
}

export function pushIv(c: Cpu): void {
  c.push(c.fetchImm());
}
export function pushIb(c: Cpu): void {
  const v = (c.fetch8() << 24) >> 24;
  c.push(v);
}

/** 8F /0: POP r/m. The address is computed with ESP already incremented (SDM "POP"). */
export function popEv(c: Cpu): void {
  const size = c.opsize32 ? 4 : 2;
  const value = size === 4 ? c.read32(SS, c.getSp()) : c.read16(SS, c.getSp());
  const saved = c.reg32[ESP];
  c.adjustSp(size);
  try {
    c.decodeModrm();
    if ((c.modrm >> 3) & 7) c.raise(EXC_UD);
    if (size === 4) c.writeRm32(value);
    else c.writeRm16(value);
  } catch (e) {
    c.reg32[ESP] = saved;
    throw e;
  }
}

/** PUSHA / PUSHAD: AX CX DX BX SP(original) BP SI DI. */
export function pusha(c: Cpu): void {
  const size = c.opsize32 ? 4 : 2;
  for (let i = 1; i <= 8; i++) c.writeAddress(SS, c.spOffset(-size * i), size);
  for (let reg = 0; reg < 8; reg++) {
    const off = c.spOffset(-size * (reg + 1));
    if (size === 4) c.write32(SS, off, c.reg32[reg]);
    else c.write16(SS, off, c.reg16[reg << 1]);
  }
  c.adjustSp(-size * 8);
}

/** POPA / POPAD: DI SI BP (SP skipped) BX DX CX AX. */
export function popa(c: Cpu): void {
  const size = c.opsize32 ? 4 : 2;
  const values = c.scratch8;
  for (let i = 0; i < 8; i++) {
    const off = c.spOffset(size * i);
    values[7 - i] = size === 4 ? c.read32(SS, off) : c.read16(SS, off);
  }
  for (let reg = 0; reg < 8; reg++) {
    if (reg === ESP) continue;
    if (size === 4) c.reg32[reg] = values[reg];
    else c.reg16[reg << 1] = values[reg];
  }
  c.adjustSp(size * 8);
}

/** PUSHF / PUSHFD. In V86 mode it needs IOPL 3. VM and RF are never pushed as set. */
export function pushf(c: Cpu): void {
  if (c.flags & FLAG_VM && (c.flags & FLAG_IOPL) !== FLAG_IOPL) c.raiseError(EXC_GP, 0);
  const flags = c.getFlags();
  if (c.opsize32) c.push32(flags & ~(FLAG_VM | FLAG_RF));
  else c.push16(flags);
}

/**
 * POPF / POPFD. Which bits change depends on the mode (SDM "POPF" table): at CPL 0 all but VM/VIP/VIF; at
 * CPL > 0 IOPL is kept; IF changes only when CPL <= IOPL; in V86 mode IOPL must be 3 and IOPL stays.
 */
export function popf(c: Cpu): void {
  if (c.flags & FLAG_VM && (c.flags & FLAG_IOPL) !== FLAG_IOPL) c.raiseError(EXC_GP, 0);
  const value = c.opsize32 ? c.read32(SS, c.getSp()) : c.read16(SS, c.getSp());
  let mask = FLAGS_WRITABLE & ~(FLAG_VM | FLAG_VIP | FLAG_VIF | FLAG_RF);
  if (!c.opsize32) mask &= 0xffff;
  const iopl = (c.flags & FLAG_IOPL) >> 12;
  if (c.flags & FLAG_VM) mask &= ~FLAG_IOPL;
  else if (c.cpl > 0) {
    mask &= ~FLAG_IOPL;
    if (c.cpl > iopl) mask &= ~FLAG_IF;
  }
  c.adjustSp(c.opsize32 ? 4 : 2);
  c.setFlags(value, mask);
}

/** ENTER imm16, imm8: make a stack frame, copying `level - 1` frame pointers (level taken mod 32). */
export function enter(c: Cpu): void {
  const allocSize = c.fetch16();
  const level = c.fetch8() & 31;
  const size = c.opsize32 ? 4 : 2;
  const big = c.stackSize32;
  const frameTemp = c.spOffset(-size);
  // Read the frame pointers to copy and check every slot before changing anything.
  const copied = c.scratch8.length >= level ? c.scratch8 : new Int32Array(level);
  let bp = big ? c.reg32[EBP] : c.reg16[EBP << 1];
  for (let i = 1; i < level; i++) {
    bp = big ? (bp - size) | 0 : (bp - size) & 0xffff;
    copied[i - 1] = size === 4 ? c.read32(SS, bp) : c.read16(SS, bp);
  }
  const pushes = level > 0 ? level + 1 : 1;
  for (let i = 1; i <= pushes; i++) c.writeAddress(SS, c.spOffset(-size * i), size);
  const values = [big ? c.reg32[EBP] : c.reg16[EBP << 1]];
  for (let i = 1; i < level; i++) values.push(copied[i - 1]);
  if (level > 0) values.push(frameTemp);
  for (let i = 0; i < values.length; i++) {
    const off = c.spOffset(-size * (i + 1));
    if (size === 4) c.write32(SS, off, values[i]);
    else c.write16(SS, off, values[i]);
  }
  if (size === 4) c.reg32[EBP] = frameTemp;
  else c.reg16[EBP << 1] = frameTemp;
  c.adjustSp(-size * pushes - allocSize);
}

/** LEAVE: (E)SP = (E)BP, then pop (E)BP. */
export function leave(c: Cpu): void {
  const bp = c.stackSize32 ? c.reg32[EBP] : c.reg16[EBP << 1];
  const value = c.opsize32 ? c.read32(SS, bp) : c.read16(SS, bp);
  const newSp = c.stackSize32 ? (bp + (c.opsize32 ? 4 : 2)) | 0 : (bp + (c.opsize32 ? 4 : 2)) & 0xffff;
  if (c.stackSize32) c.reg32[ESP] = newSp;
  else c.reg16[ESP << 1] = newSp;
  if (c.opsize32) c.reg32[EBP] = value;
  else c.reg16[EBP << 1] = value;
}
