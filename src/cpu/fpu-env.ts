/**
 * The x87 environment and state images in memory (Intel SDM Vol. 1 8.1.10, Figures 8-9 to 8-12):
 * FNSTENV/FLDENV (14 or 28 bytes) and FNSAVE/FRSTOR (94 or 108 bytes: the environment followed by ST(0) to
 * ST(7), 10 bytes each). The layout depends on the operand size and on the mode: protected mode stores
 * selector:offset pointers; real and virtual-8086 mode store 20/32-bit linear pointers with the opcode.
 * In the 32-bit formats the unused upper halves of the control, status and tag words read 0xFFFF.
 *
 * Stores check the whole area for writability before writing anything, and loads read everything before
 * changing the FPU, so a fault leaves the instruction restartable.
 */
import type { Cpu } from './cpu.ts';
import type { Fpu } from './fpu.ts';

/** Values read by FLDENV/FRSTOR before they are applied. */
const env = { cw: 0, sw: 0, tw: 0, fip: 0, fcs: 0, fop: 0, fdp: 0, fds: 0 };
const regSe = new Uint16Array(8);
const regHi = new Uint32Array(8);
const regLo = new Uint32Array(8);

function envSize(op32: boolean): number {
  return op32 ? 28 : 14;
}

/** Checks that `length` bytes at seg:off can be written (segment limit, paging) without writing. */
function checkWritable(c: Cpu, seg: number, off: number, length: number): void {
  c.mmu.checkWritable(c.writeAddress(seg, off, length), length);
}

function writeEnv(c: Cpu, f: Fpu, seg: number, off: number, op32: boolean): void {
  const real = !c.protectedMode;
  const cw = f.cw;
  const sw = f.statusWord();
  const tw = f.tagWord();
  if (op32) {
    c.write32(seg, off, 0xffff0000 | cw);
    c.write32(seg, off + 4, 0xffff0000 | sw);
    c.write32(seg, off + 8, 0xffff0000 | tw);
    if (real) {
      const ip = (f.fcs << 4) + f.fip;
      const dp = (f.fds << 4) + f.fdp;
      c.write32(seg, off + 12, 0xffff0000 | (ip & 0xffff));
      c.write32(seg, off + 16, ((ip >>> 16) << 12) | (f.fop & 0x7ff));
      c.write32(seg, off + 20, 0xffff0000 | (dp & 0xffff));
      c.write32(seg, off + 24, (dp >>> 16) << 12);
    } else {
      c.write32(seg, off + 12, f.fip);
      c.write32(seg, off + 16, ((f.fop & 0x7ff) << 16) | f.fcs);
      c.write32(seg, off + 20, f.fdp);
      c.write32(seg, off + 24, 0xffff0000 | f.fds);
    }
  } else {
    c.write16(seg, off, cw);
    c.write16(seg, off + 2, sw);
    c.write16(seg, off + 4, tw);
    if (real) {
      const ip = (f.fcs << 4) + f.fip;
      const dp = (f.fds << 4) + f.fdp;
      c.write16(seg, off + 6, ip & 0xffff);
      c.write16(seg, off + 8, (((ip >>> 16) & 0xf) << 12) | (f.fop & 0x7ff));
      c.write16(seg, off + 10, dp & 0xffff);
      c.write16(seg, off + 12, ((dp >>> 16) & 0xf) << 12);
    } else {
      c.write16(seg, off + 6, f.fip & 0xffff);
      c.write16(seg, off + 8, f.fcs);
      c.write16(seg, off + 10, f.fdp & 0xffff);
      c.write16(seg, off + 12, f.fds);
    }
  }
}

function readEnv(c: Cpu, seg: number, off: number, op32: boolean): void {
  const real = !c.protectedMode;
  if (op32) {
    env.cw = c.read16(seg, off);
    env.sw = c.read16(seg, off + 4);
    env.tw = c.read16(seg, off + 8);
    const w12 = c.read32(seg, off + 12) >>> 0;
    const w16 = c.read32(seg, off + 16) >>> 0;
    const w20 = c.read32(seg, off + 20) >>> 0;
    const w24 = c.read32(seg, off + 24) >>> 0;
    if (real) {
      env.fip = ((w12 & 0xffff) | (((w16 >>> 12) & 0xffff) << 16)) >>> 0;
      env.fop = w16 & 0x7ff;
      env.fdp = ((w20 & 0xffff) | (((w24 >>> 12) & 0xffff) << 16)) >>> 0;
      env.fcs = env.fds = 0;
    } else {
      env.fip = w12;
      env.fcs = w16 & 0xffff;
      env.fop = (w16 >>> 16) & 0x7ff;
      env.fdp = w20;
      env.fds = w24 & 0xffff;
    }
  } else {
    env.cw = c.read16(seg, off);
    env.sw = c.read16(seg, off + 2);
    env.tw = c.read16(seg, off + 4);
    const w6 = c.read16(seg, off + 6);
    const w8 = c.read16(seg, off + 8);
    const w10 = c.read16(seg, off + 10);
    const w12 = c.read16(seg, off + 12);
    if (real) {
      env.fip = w6 | ((w8 >>> 12) << 16);
      env.fop = w8 & 0x7ff;
      env.fdp = w10 | ((w12 >>> 12) << 16);
      env.fcs = env.fds = 0;
    } else {
      env.fip = w6;
      env.fcs = w8;
      env.fop = 0;
      env.fdp = w10;
      env.fds = w12;
    }
  }
}

function applyEnv(f: Fpu): void {
  f.setControlWord(env.cw);
  f.setTagWord(env.tw);
  f.fip = env.fip;
  f.fcs = env.fcs;
  f.fop = env.fop;
  f.fdp = env.fdp;
  f.fds = env.fds;
  f.setStatusWord(env.sw);
}

/** FNSTENV: stores the environment, then masks all exceptions. */
export function fnstenv(c: Cpu, f: Fpu, seg: number, off: number, op32: boolean): void {
  checkWritable(c, seg, off, envSize(op32));
  writeEnv(c, f, seg, off, op32);
  f.cw |= 0x3f;
}

/** FLDENV. */
export function fldenv(c: Cpu, f: Fpu, seg: number, off: number, op32: boolean): void {
  readEnv(c, seg, off, op32);
  applyEnv(f);
}

/** FNSAVE: stores the environment and the eight registers, then initialises the FPU (FNINIT). */
export function fnsave(c: Cpu, f: Fpu, seg: number, off: number, op32: boolean): void {
  const size = envSize(op32);
  checkWritable(c, seg, off, size + 80);
  writeEnv(c, f, seg, off, op32);
  for (let i = 0; i < 8; i++) {
    const r = f.st(i);
    f.loadExt(r);
    const at = off + size + i * 10;
    c.write32(seg, at, f.extLo[r]);
    c.write32(seg, at + 4, f.extHi[r]);
    c.write16(seg, at + 8, f.extSe[r]);
  }
  f.init();
}

/** FRSTOR: loads the environment and the eight registers (ST(0) first, relative to the loaded TOP). */
export function frstor(c: Cpu, f: Fpu, seg: number, off: number, op32: boolean): void {
  const size = envSize(op32);
  readEnv(c, seg, off, op32);
  for (let i = 0; i < 8; i++) {
    const at = off + size + i * 10;
    regLo[i] = c.read32(seg, at);
    regHi[i] = c.read32(seg, at + 4);
    regSe[i] = c.read16(seg, at + 8);
  }
  applyEnv(f);
  for (let i = 0; i < 8; i++) f.setExt(f.st(i), regSe[i], regHi[i], regLo[i]);
}
