/**
 * Decimal arithmetic adjustments: DAA, DAS, AAA, AAS, AAM, AAD, and the undocumented SALC (D6).
 * Intel SDM Vol. 2A, each instruction's "Operation" section.
 */
import type { Cpu } from '../cpu.ts';
import { EXC_DE } from '../constants.ts';
import { FLAG_AF, FLAG_CF, getAF, getCF, setFlag, setResultFlags } from '../flags.ts';

export function daa(c: Cpu): void {
  const oldAl = c.reg8[0];
  const oldCf = getCF(c);
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0x0f) > 9 || getAF(c)) {
    al += 6;
    cf = oldCf | (al > 0xff ? 1 : 0);
    af = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al += 0x60;
    cf = 1;
  }
  al &= 0xff;
  c.reg8[0] = al;
  // OF is undefined; we give the signed overflow of the whole adjustment, as QEMU does not model it either.
  setResultFlags(c, 0, al, cf, ((oldAl ^ al) & al & 0x80) !== 0 ? 1 : 0, af);
}

export function das(c: Cpu): void {
  const oldAl = c.reg8[0];
  const oldCf = getCF(c);
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0x0f) > 9 || getAF(c)) {
    al -= 6;
    cf = oldCf | (al < 0 ? 1 : 0);
    af = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al -= 0x60;
    cf = 1;
  }
  al &= 0xff;
  c.reg8[0] = al;
  setResultFlags(c, 0, al, cf, ((oldAl ^ al) & oldAl & 0x80) !== 0 ? 1 : 0, af);
}

export function aaa(c: Cpu): void {
  const adjust = (c.reg8[0] & 0x0f) > 9 || getAF(c);
  if (adjust) c.reg16[0] = c.reg16[0] + 0x106;
  c.reg8[0] &= 0x0f;
  setFlag(c, FLAG_AF, adjust);
  setFlag(c, FLAG_CF, adjust);
}

export function aas(c: Cpu): void {
  const adjust = (c.reg8[0] & 0x0f) > 9 || getAF(c);
  if (adjust) {
    c.reg16[0] = c.reg16[0] - 6;
    c.reg8[1] = c.reg8[1] - 1;
  }
  c.reg8[0] &= 0x0f;
  setFlag(c, FLAG_AF, adjust);
  setFlag(c, FLAG_CF, adjust);
}

export function aam(c: Cpu): void {
  const base = c.fetch8();
  if (base === 0) c.raise(EXC_DE);
  const al = c.reg8[0];
  c.reg8[1] = (al / base) | 0;
  c.reg8[0] = al % base;
  setResultFlags(c, 0, c.reg8[0], 0, 0, 0);
}

export function aad(c: Cpu): void {
  const base = c.fetch8();
  const al = (c.reg8[0] + c.reg8[1] * base) & 0xff;
  c.reg16[0] = al;
  setResultFlags(c, 0, al, 0, 0, 0);
}

/** D6 SALC: AL = CF ? 0xFF : 0 (undocumented, present on 8086 through current parts). */
export function salc(c: Cpu): void {
  c.reg8[0] = getCF(c) ? 0xff : 0;
}
