/**
 * The x87 FPU run as machine code in real mode: loads and stores of every memory format, arithmetic in
 * every operand form, rounding and precision control, compares, FXAM, the transcendental instructions and
 * the register stack. Expected values come from the Intel SDM and, for the partial remainder, rounding
 * and class details, from running the same instructions on an x86 host.
 * (Exceptions, FSTENV/FSAVE images, #MF/#NM/FERR# and snapshots: x87-exceptions.test.ts.)
 */
import { describe, expect, test } from 'vitest';
import { EAX, EBX } from '../../src/cpu/constants.ts';
import {
  DATA,
  FLD1,
  FLDL2E,
  FLDL2T,
  FLDLG2,
  FLDLN2,
  FLDPI,
  FLDZ,
  FNSTSW_AX,
  fbld,
  fbstp,
  fild16,
  fild32,
  fild64,
  fist16,
  fist32,
  fistp16,
  fistp32,
  fistp64,
  fld32,
  fld64,
  fld80,
  fldcw,
  fnstcw,
  fst32,
  fst64,
  fstp32,
  fstp64,
  fstp80,
  getBytes,
  getExt,
  getF64,
  getF64Bits,
  getI64,
  getU16,
  getU32,
  m,
  putBytes,
  putExt,
  putF64,
  putF64Bits,
  putI64,
  putU16,
  putU32,
  run,
} from './x87-machine.ts';

/** Status word bits. */
const IE = 0x01;
const DE = 0x02;
const ZE = 0x04;
const OE = 0x08;
const PE = 0x20;
const C0 = 0x100;
const C1 = 0x200;
const C2 = 0x400;
const C3 = 0x4000;
const CC = C0 | C1 | C2 | C3;
const FLAGS = 0x3f;

/** Control words: all masked, extended precision, with each rounding mode. */
const CW_NEAREST = 0x037f;
const CW_DOWN = 0x077f;
const CW_UP = 0x0b7f;
const CW_ZERO = 0x0f7f;

const sw = (r: { cpu: { fpu: { statusWord(): number } } }) => r.cpu.fpu.statusWord();

describe('x87 loads and stores', () => {
  test('FLDPI stored as m80 is 4000 C90FDAA2 2168C235', () => {
    const r = run([...FLDPI, ...fstp80(0x10)]);
    expect(getExt(r.mem, 0x10)).toBe('4000 c90fdaa2 2168c235');
    expect(r.cpu.fpu.tagWord()).toBe(0xffff);
  });

  test('constants are rounded by RC from their exact values', () => {
    const cases: Array<[number[], number, string]> = [
      [FLDL2E, CW_NEAREST, '3fff b8aa3b29 5c17f0bc'],
      [FLDL2E, CW_DOWN, '3fff b8aa3b29 5c17f0bb'],
      [FLDL2T, CW_NEAREST, '4000 d49a784b cd1b8afe'],
      [FLDL2T, CW_UP, '4000 d49a784b cd1b8aff'],
      [FLDPI, CW_ZERO, '4000 c90fdaa2 2168c234'],
      [FLDLG2, CW_NEAREST, '3ffd 9a209a84 fbcff799'],
      [FLDLN2, CW_NEAREST, '3ffe b17217f7 d1cf79ac'],
      [FLD1, CW_UP, '3fff 80000000 00000000'],
      [FLDZ, CW_DOWN, '0000 00000000 00000000'],
    ];
    for (const [op, cw, want] of cases) {
      const r = run([...fldcw(0), ...op, ...fstp80(0x10)], (_c, mem) => putU16(mem, 0, cw));
      expect(getExt(r.mem, 0x10), `${op} cw ${cw.toString(16)}`).toBe(want);
      expect(sw(r) & PE).toBe(0);
    }
  });

  test('FLD m80 / FSTP m80 round-trips every encoding bit-exactly', () => {
    const patterns = [
      '4000 c90fdaa2 2168c235', // pi, more precise than float64
      '1234 ffffffff fffffffe', // far outside the float64 range
      '7ffe ffffffff ffffffff', // largest finite
      '0000 00000000 00000001', // smallest denormal
      '8000 40000000 00000000', // negative denormal
      '0000 80000000 00000000', // pseudo-denormal
      '8000 00000000 00000000', // -0
      'ffff 80000000 00000000', // -infinity
      '7fff a0000000 00000001', // SNaN (FLD m80 does not quiet it)
      'ffff c0000000 12345678', // QNaN with a payload in the low bits
      '7fff 00000000 00000000', // pseudo-infinity (unsupported)
      '3fff 40000000 00000000', // unnormal (unsupported)
    ];
    for (const p of patterns) {
      // Directly, and after register copies (FLD ST(1), FXCH).
      const r = run(
        [...fld80(0), ...fld80(0), ...FLD1, 0xd9, 0xc9, 0xd9, 0xc2, ...fstp80(0x10), ...fstp80(0x20)],
        (_c, mem) => putExt(mem, 0, p),
      );
      expect(getExt(r.mem, 0x10), p).toBe(p);
      expect(getExt(r.mem, 0x20), p).toBe(p);
      expect(sw(r) & FLAGS, p).toBe(0);
    }
  });

  test('float32 and float64 loads and stores', () => {
    // 1.5f -> m64; pi (double) -> m32 rounded to nearest and down.
    let r = run([...fld32(0), ...fstp64(0x10)], (_c, mem) => putU32(mem, 0, 0x3fc00000));
    expect(getF64(r.mem, 0x10)).toBe(1.5);
    r = run([...fld64(0), ...fst32(0x10), ...fldcw(8), ...fstp32(0x14)], (_c, mem) => {
      putF64(mem, 0, Math.PI);
      putU16(mem, 8, CW_DOWN);
    });
    expect(getU32(r.mem, 0x10)).toBe(0x40490fdb);
    expect(getU32(r.mem, 0x14)).toBe(0x40490fda);
    expect(sw(r) & PE).toBe(PE);
    // A float64 value that needs all 53 bits survives FLD/FSTP m64.
    r = run([...fld64(0), ...fstp64(0x10)], (_c, mem) => putF64Bits(mem, 0, '3fb999999999999a'));
    expect(getF64Bits(r.mem, 0x10)).toBe('3fb999999999999a');
    expect(sw(r) & FLAGS).toBe(0);
  });

  test('float32 denormals raise #D on load and are exact in the register', () => {
    const r = run([...fld32(0), ...fstp64(0x10)], (_c, mem) => putU32(mem, 0, 1));
    expect(getF64(r.mem, 0x10)).toBe(2 ** -149);
    expect(sw(r) & FLAGS).toBe(DE);
  });

  test('NaNs: an SNaN from m32 is made quiet with #IA; QNaN payloads pass through', () => {
    let r = run([...fld32(0), ...fst32(0x10), ...fstp64(0x18)], (_c, mem) => putU32(mem, 0, 0x7fa00001));
    expect(getU32(r.mem, 0x10)).toBe(0x7fe00001);
    expect(getF64Bits(r.mem, 0x18)).toBe('7ffc000020000000');
    expect(sw(r) & FLAGS).toBe(IE);
    r = run([...fld64(0), ...fstp64(0x10)], (_c, mem) => putF64Bits(mem, 0, 'fff8000000000123'));
    expect(getF64Bits(r.mem, 0x10)).toBe('fff8000000000123');
    expect(sw(r) & FLAGS).toBe(0);
  });

  test('two NaN operands: the larger significand wins, made quiet, with #IA for an SNaN', () => {
    const cases: Array<[string, string, string, number]> = [
      ['7ff8000000000001', 'fff8000000000002', 'fff8000000000002', 0],
      ['fff8000000000002', '7ff8000000000001', 'fff8000000000002', 0],
      ['7ff8000000000001', '7ff0000000000005', '7ff8000000000001', IE], // QNaN beats an SNaN operand
      ['7ff0000000000005', '3ff0000000000000', '7ff8000000000005', IE], // SNaN quieted by FLD
    ];
    for (const [a, b, want, flags] of cases) {
      const r = run([...fld64(0), ...m(0xdc, 0, 8), ...fstp64(0x10)], (_c, mem) => {
        putF64Bits(mem, 0, a);
        putF64Bits(mem, 8, b);
      });
      expect(getF64Bits(r.mem, 0x10), `${a} + ${b}`).toBe(want);
      expect(sw(r) & FLAGS).toBe(flags);
    }
  });

  test('FST m32 overflow: infinity (or the largest float32 toward zero) with #O and #P', () => {
    let r = run([...fld64(0), ...fstp32(0x10)], (_c, mem) => putF64(mem, 0, 1e39));
    expect(getU32(r.mem, 0x10)).toBe(0x7f800000);
    expect(sw(r) & FLAGS).toBe(OE | PE);
    r = run([...fldcw(8), ...fld64(0), ...fstp32(0x10)], (_c, mem) => {
      putF64(mem, 0, -1e39);
      putU16(mem, 8, CW_ZERO);
    });
    expect(getU32(r.mem, 0x10)).toBe(0xff7fffff);
  });

  test('FST m32 of a float32 denormal result sets #U and #P when inexact', () => {
    const r = run([...fld64(0), ...fstp32(0x10)], (_c, mem) => putF64(mem, 0, 3 * 2 ** -150));
    expect(getU32(r.mem, 0x10)).toBe(2); // 1.5 * 2^-149 rounds to even: 2 * 2^-149
    expect(sw(r) & FLAGS).toBe(0x10 | PE);
  });

  test('integer loads and stores of 16, 32 and 64 bits', () => {
    const r = run(
      [...fild16(0), ...fistp32(0x10), ...fild32(4), ...fistp64(0x18), ...fild32(4), ...fistp16(0x20)],
      (_c, mem) => {
        putU16(mem, 0, -1234 & 0xffff);
        putU32(mem, 4, 0x80000000);
      },
    );
    expect(getU32(r.mem, 0x10) | 0).toBe(-1234);
    expect(getI64(r.mem, 0x18)).toBe(-2147483648n);
    expect(getU16(r.mem, 0x20)).toBe(0x8000); // out of range: integer indefinite
    expect(sw(r) & FLAGS).toBe(IE);
  });

  test('FILD m64 / FISTP m64 is exact beyond 2^53', () => {
    for (const v of [
      0x7fffffffffffffffn,
      -0x7fffffffffffffffn,
      -0x8000000000000000n,
      0x123456789abcdefn,
      -3n,
    ]) {
      const r = run([...fild64(0), ...fistp64(0x10)], (_c, mem) => putI64(mem, 0, v));
      expect(getI64(r.mem, 0x10), v.toString()).toBe(v);
      expect(sw(r) & FLAGS).toBe(0);
    }
    // The float64 view of a 64-bit integer is its nearest double.
    const r = run([...fild64(0), ...fstp64(0x10)], (_c, mem) => putI64(mem, 0, 0x7fffffffffffffffn));
    expect(getF64(r.mem, 0x10)).toBe(2 ** 63);
  });

  test('FIST rounds by RC', () => {
    const values = [2.5, -2.5, 1.5, -1.7, 3.2];
    const expected: Record<number, number[]> = {
      [CW_NEAREST]: [2, -2, 2, -2, 3],
      [CW_DOWN]: [2, -3, 1, -2, 3],
      [CW_UP]: [3, -2, 2, -1, 4],
      [CW_ZERO]: [2, -2, 1, -1, 3],
    };
    for (const cw of [CW_NEAREST, CW_DOWN, CW_UP, CW_ZERO]) {
      values.forEach((v, i) => {
        const r = run([...fldcw(8), ...fld64(0), ...fist16(0x10), ...fistp32(0x14)], (_c, mem) => {
          putF64(mem, 0, v);
          putU16(mem, 8, cw);
        });
        const want = expected[cw][i];
        expect((getU16(r.mem, 0x10) << 16) >> 16, `${v} cw ${cw.toString(16)}`).toBe(want);
        expect(getU32(r.mem, 0x14) | 0).toBe(want);
        expect(sw(r) & PE).toBe(PE);
        expect(sw(r) & C1, `C1 ${v} ${cw.toString(16)}`).toBe(Math.abs(want) > Math.abs(v) ? C1 : 0);
      });
    }
  });

  test('FIST of NaN, infinity or out of range stores the integer indefinite with #IA only', () => {
    let r = run([...fld64(0), ...fist32(0x10), ...fistp64(0x18)], (_c, mem) => putF64(mem, 0, NaN));
    expect(getU32(r.mem, 0x10)).toBe(0x80000000);
    expect(getI64(r.mem, 0x18)).toBe(-0x8000000000000000n);
    expect(sw(r) & FLAGS).toBe(IE);
    r = run([...fld64(0), ...fistp16(0x10)], (_c, mem) => putF64(mem, 0, 40000));
    expect(getU16(r.mem, 0x10)).toBe(0x8000);
    expect(sw(r) & FLAGS).toBe(IE);
    r = run([...fld64(0), ...fistp16(0x10)], (_c, mem) => putF64(mem, 0, -32768.4));
    expect(getU16(r.mem, 0x10)).toBe(0x8000);
    expect(sw(r) & FLAGS).toBe(PE);
  });

  test('FBLD / FBSTP: 18 packed BCD digits, exact both ways', () => {
    const digits = [0x78, 0x56, 0x34, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x80]; // -123456789012345678
    const r = run(
      [...fbld(0), ...fld64(0x30), ...fbld(0), ...fistp64(0x20), ...fbstp(0x10), ...fbstp(0x40)],
      (_c, mem) => {
        putBytes(mem, 0, digits);
        putF64(mem, 0x30, -123.5);
      },
    );
    expect(getI64(r.mem, 0x20)).toBe(-123456789012345678n);
    expect(getBytes(r.mem, 0x10, 10)).toEqual([0x24, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x80]); // -124 (nearest even)
    expect(getBytes(r.mem, 0x40, 10)).toEqual(digits);
    expect(sw(r) & FLAGS).toBe(PE);
  });

  test('FBSTP of 10^18 stores the BCD indefinite with #IA', () => {
    const r = run([...fld64(0), ...fbstp(0x10)], (_c, mem) => putF64(mem, 0, 1e18));
    expect(getBytes(r.mem, 0x10, 10)).toEqual([0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff]);
    expect(sw(r) & FLAGS).toBe(IE);
  });

  test('32-bit addressing (67 prefix) and the FNSTCW reserved bit', () => {
    const r = run(
      [
        0x67,
        0xd9,
        0x04,
        0x98, // fld dword [eax+ebx*4]
        ...fstp64(0x10),
        ...fldcw(0x20),
        ...fnstcw(0x22),
      ],
      (c, mem) => {
        c.reg32[EAX] = DATA;
        c.reg32[EBX] = 2;
        putU32(mem, 8, 0x40400000); // 3.0f
        putU16(mem, 0x20, 0);
      },
    );
    expect(getF64(r.mem, 0x10)).toBe(3);
    expect(getU16(r.mem, 0x22)).toBe(0x0040);
  });
});

describe('x87 arithmetic', () => {
  // a = ST(0) = 10, b = 4: by ModRM.reg: add, mul, -, -, sub, subr, div, divr.
  const RESULTS = [14, 40, 0, 0, 6, -6, 2.5, 0.4];

  test('memory forms: m32real, m64real, m16int, m32int', () => {
    for (const reg of [0, 1, 4, 5, 6, 7]) {
      for (const [op, put] of [
        [0xd8, (mem: Parameters<typeof putU32>[0]) => putU32(mem, 0, 0x40800000)],
        [0xdc, (mem: Parameters<typeof putU32>[0]) => putF64(mem, 0, 4)],
        [0xde, (mem: Parameters<typeof putU32>[0]) => putU16(mem, 0, 4)],
        [0xda, (mem: Parameters<typeof putU32>[0]) => putU32(mem, 0, 4)],
      ] as const) {
        const r = run([...fld64(8), ...m(op, reg, 0), ...fstp64(0x10)], (_c, mem) => {
          put(mem);
          putF64(mem, 8, 10);
        });
        expect(getF64(r.mem, 0x10), `${op.toString(16)} /${reg}`).toBe(RESULTS[reg]);
      }
    }
  });

  test('register forms to ST(0), to ST(i), and with pop', () => {
    // FLD 4; FLD 10: ST(0) = 10, ST(1) = 4. Then the op; then store ST(0) and ST(1) (or what remains).
    const cases: Array<[number[], number[]]> = [
      [
        [0xd8, 0xc1],
        [14, 4],
      ], // fadd st0, st1
      [
        [0xd8, 0xe1],
        [6, 4],
      ], // fsub st0, st1
      [
        [0xd8, 0xe9],
        [-6, 4],
      ], // fsubr st0, st1
      [
        [0xd8, 0xf1],
        [2.5, 4],
      ], // fdiv st0, st1
      [
        [0xd8, 0xf9],
        [0.4, 4],
      ], // fdivr st0, st1
      [
        [0xdc, 0xc9],
        [10, 40],
      ], // fmul st1, st0
      [
        [0xdc, 0xe9],
        [10, -6],
      ], // fsub st1, st0: st1 = st1 - st0
      [
        [0xdc, 0xe1],
        [10, 6],
      ], // fsubr st1, st0: st1 = st0 - st1
      [
        [0xdc, 0xf9],
        [10, 0.4],
      ], // fdiv st1, st0
      [
        [0xdc, 0xf1],
        [10, 2.5],
      ], // fdivr st1, st0
      [[0xde, 0xc1], [14]], // faddp
      [[0xde, 0xe9], [-6]], // fsubp
      [[0xde, 0xe1], [6]], // fsubrp
      [[0xde, 0xf9], [0.4]], // fdivp
      [[0xde, 0xf1], [2.5]], // fdivrp
    ];
    for (const [op, want] of cases) {
      const r = run([...fld64(0), ...fld64(8), ...op, ...fstp64(0x10), ...fstp64(0x18)], (_c, mem) => {
        putF64(mem, 0, 4);
        putF64(mem, 8, 10);
      });
      expect(getF64(r.mem, 0x10), op.toString()).toBe(want[0]);
      if (want.length > 1) expect(getF64(r.mem, 0x18), op.toString()).toBe(want[1]);
      else expect(r.cpu.fpu.statusWord() & IE, op.toString()).toBe(IE); // the second store underflowed
    }
  });

  test('masked invalid operations deliver the QNaN indefinite; division by zero infinity', () => {
    const cases: Array<[number, number, number[], string, number]> = [
      [0, 0, [0xde, 0xf9], 'fff8000000000000', IE], // 0/0
      [Infinity, Infinity, [0xde, 0xe9], 'fff8000000000000', IE], // inf - inf
      [0, Infinity, [0xde, 0xc9], 'fff8000000000000', IE], // 0 * inf
      [1, 0, [0xde, 0xf9], '7ff0000000000000', ZE], // 1/0
      [-1, 0, [0xde, 0xf9], 'fff0000000000000', ZE], // -1/0
      [1, -1, [0xd9, 0xfa], 'fff8000000000000', IE], // sqrt(-1) (ST(1) = 1 is left below)
      [1e308, 10, [0xde, 0xc9], '7ff0000000000000', OE | PE], // overflow
    ];
    for (const [a, b, op, want, flags] of cases) {
      const r = run([...fld64(0), ...fld64(8), ...op, ...fstp64(0x10)], (_c, mem) => {
        putF64(mem, 0, a);
        putF64(mem, 8, b);
      });
      expect(getF64Bits(r.mem, 0x10), op.toString()).toBe(want);
      expect(sw(r) & FLAGS, op.toString()).toBe(flags);
    }
  });

  test('64-bit precision: results carry all 64 significand bits', () => {
    const r = run(
      [
        ...FLD1,
        ...fld80(0),
        0xde,
        0xc1,
        ...fstp80(0x10), // 1 + 2^-63
        ...FLD1,
        ...fld64(0x40),
        0xde,
        0xf9,
        ...fstp80(0x20), // 1 / 3
        ...fld64(0x48),
        0xd9,
        0xfa,
        ...fstp80(0x30), // sqrt 2
      ],
      (_c, mem) => {
        putExt(mem, 0, '3fc0 80000000 00000000');
        putF64(mem, 0x40, 3);
        putF64(mem, 0x48, 2);
      },
    );
    expect(getExt(r.mem, 0x10)).toBe('3fff 80000000 00000001');
    expect(getExt(r.mem, 0x20)).toBe('3ffd aaaaaaaa aaaaaaab');
    // Ties round to even: 1 + 2^-64 -> 1; (1 + 2^-63) + 2^-64 -> 1 + 2^-62.
    const ties = run(
      [
        ...FLD1,
        ...fld80(0),
        0xde,
        0xc1,
        ...fstp80(0x10),
        ...fld80(0x30),
        ...fld80(0),
        0xde,
        0xc1,
        ...fstp80(0x20),
      ],
      (_c, mem) => {
        putExt(mem, 0, '3fbf 80000000 00000000');
        putExt(mem, 0x30, '3fff 80000000 00000001');
      },
    );
    expect(getExt(ties.mem, 0x10)).toBe('3fff 80000000 00000000');
    expect(getExt(ties.mem, 0x20)).toBe('3fff 80000000 00000002');
    expect(getExt(r.mem, 0x30)).toBe('3fff b504f333 f9de6484');
  });

  test('FPREM loop: 2^100 rem pi with the 64-bit pi', () => {
    const r = run(
      [
        ...FLDPI,
        ...fld80(0),
        0xd9,
        0xf8,
        0xdf,
        0xe0,
        0xf6,
        0xc4,
        0x04,
        0x75,
        0xf7, // again: fprem; fnstsw ax; test ah, 4; jnz again
        ...fstp80(0x10),
      ],
      (_c, mem) => putExt(mem, 0, '4063 80000000 00000000'),
    );
    expect(getExt(r.mem, 0x10)).toBe('3ffe cb0bf08a e597f1a8');
  });

  test('rounding control applies to arithmetic: 1/3 and -1/3', () => {
    const cases: Array<[number, number, string, number]> = [
      [CW_NEAREST, 1, '3fd5555555555555', C1], // 64-bit precision: ...aaab, rounded up
      [CW_UP, 1, '3fd5555555555556', C1],
      [CW_DOWN, 1, '3fd5555555555555', 0],
      [CW_ZERO, 1, '3fd5555555555555', 0],
      [CW_DOWN, -1, 'bfd5555555555556', C1],
      [CW_UP, -1, 'bfd5555555555555', 0],
    ];
    for (const [cw, sign, want, c1] of cases) {
      const r = run(
        [...fldcw(0x20), ...fld64(0), ...fld64(8), 0xde, 0xf9, ...FNSTSW_AX, ...fstp64(0x10)],
        (_c, mem) => {
          putF64(mem, 0, sign);
          putF64(mem, 8, 3);
          putU16(mem, 0x20, cw);
        },
      );
      expect(getF64Bits(r.mem, 0x10), `cw ${cw.toString(16)} sign ${sign}`).toBe(want);
      expect(r.cpu.reg16[0] & (C1 | PE)).toBe(c1 | PE);
    }
  });

  test('directed rounding just below a power of two uses the finer grid there', () => {
    // 2^52 - tiny, rounded down: the largest double below 2^52 (ulp 0.5), not 2^52 - 1.
    const r = run([...fldcw(0x20), ...fld64(0), ...m(0xdc, 0, 8), ...fstp64(0x10)], (_c, mem) => {
      putF64(mem, 0, 2 ** 52);
      putF64Bits(mem, 8, 'be11700008a07858');
      putU16(mem, 0x20, CW_DOWN);
    });
    expect(getF64Bits(r.mem, 0x10)).toBe('432fffffffffffff');
  });

  test('rounding control: exact zero sums are -0 when rounding down', () => {
    const prog = [...fldcw(0x20), ...fld64(0), ...fld64(0), 0xde, 0xe9, ...fstp64(0x10)];
    let r = run(prog, (_c, mem) => {
      putF64(mem, 0, 1.25);
      putU16(mem, 0x20, CW_DOWN);
    });
    expect(getF64Bits(r.mem, 0x10)).toBe('8000000000000000');
    r = run(prog, (_c, mem) => {
      putF64(mem, 0, 1.25);
      putU16(mem, 0x20, CW_NEAREST);
    });
    expect(getF64Bits(r.mem, 0x10)).toBe('0000000000000000');
  });

  test('precision control 24 and 53 bits', () => {
    for (const [cw, want] of [
      [0x007f, Math.fround(1 / 3)],
      [0x027f, 1 / 3],
      [0x0c7f, 0.333333313465118408203125], // PC 24, toward zero
    ] as const) {
      const r = run([...fldcw(0x20), ...FLD1, ...fld64(8), 0xde, 0xf9, ...fstp64(0x10)], (_c, mem) => {
        putF64(mem, 8, 3);
        putU16(mem, 0x20, cw);
      });
      expect(getF64(r.mem, 0x10), cw.toString(16)).toBe(want);
    }
  });

  test('FCHS, FABS, FSQRT, FRNDINT', () => {
    const r = run(
      [
        ...fld64(0),
        0xd9,
        0xe0,
        ...fst64(0x10), // fchs
        0xd9,
        0xe1,
        ...fst64(0x18), // fabs
        0xd9,
        0xfa,
        ...fstp64(0x20), // fsqrt
        ...fld64(8),
        0xd9,
        0xfc,
        ...fstp64(0x28), // frndint 2.5 (nearest) -> 2
        ...fldcw(0x40),
        ...fld64(8),
        0xd9,
        0xfc,
        ...fstp64(0x30), // frndint 2.5 (up) -> 3
      ],
      (_c, mem) => {
        putF64(mem, 0, 2);
        putF64(mem, 8, 2.5);
        putU16(mem, 0x40, CW_UP);
      },
    );
    expect(getF64(r.mem, 0x10)).toBe(-2);
    expect(getF64(r.mem, 0x18)).toBe(2);
    expect(getF64(r.mem, 0x20)).toBe(Math.SQRT2);
    expect(getF64(r.mem, 0x28)).toBe(2);
    expect(getF64(r.mem, 0x30)).toBe(3);
    expect(sw(r) & PE).toBe(PE);
  });

  test('FRNDINT uses all 64 significand bits of an 80-bit value', () => {
    // 2^62 + 0.5 is exact in 80 bits but not in float64: rounds (nearest even) to 2^62.
    const r = run([...fld80(0), 0xd9, 0xfc, ...fistp64(0x10)], (_c, mem) =>
      putExt(mem, 0, '403d 80000000 00000001'),
    );
    expect(getI64(r.mem, 0x10)).toBe(2n ** 62n);
    expect(sw(r) & PE).toBe(PE);
  });

  test('FXTRACT, FSCALE', () => {
    const r = run(
      [
        ...fld64(0),
        0xd9,
        0xf4,
        ...fstp64(0x10),
        ...fstp64(0x18), // fxtract -10 -> -1.25, 3
        ...fld64(8),
        ...fld64(0x30),
        0xd9,
        0xfd,
        ...fstp64(0x20), // fscale 1.5 * 2^trunc(3.7)
      ],
      (_c, mem) => {
        putF64(mem, 0, -10);
        putF64(mem, 8, 3.7);
        putF64(mem, 0x30, 1.5);
      },
    );
    expect(getF64(r.mem, 0x10)).toBe(-1.25);
    expect(getF64(r.mem, 0x18)).toBe(3);
    expect(getF64(r.mem, 0x20)).toBe(12);
  });

  test('FSCALE of an 80-bit value adjusts its exponent exactly', () => {
    const r = run([...fld64(0x20), ...fld80(0), 0xd9, 0xfd, ...fstp80(0x10)], (_c, mem) => {
      putExt(mem, 0, '4000 c90fdaa2 2168c235');
      putF64(mem, 0x20, -3);
    });
    expect(getExt(r.mem, 0x10)).toBe('3ffd c90fdaa2 2168c235');
  });

  test('FPREM and FPREM1: remainder and quotient bits in C0, C3, C1', () => {
    // [a, b, fprem result, fprem sw bits, fprem1 result, fprem1 sw bits] (measured on hardware)
    const cases: Array<[number, number, number, number, number, number]> = [
      [17, 5, 2, C3 | C1, 2, C3 | C1],
      [-17, 5, -2, C3 | C1, -2, C3 | C1],
      [7, 2, 1, C3 | C1, -1, C0],
      [5, 2, 1, C3, 1, C3],
      [0.5, 3, 0.5, 0, 0.5, 0],
      [1e30, 3, 5076964154930102272, C2, 5076964154930102272, C2],
    ];
    for (const [a, b, r0, cc0, r1, cc1] of cases) {
      for (const [op, want, cc] of [
        [0xf8, r0, cc0],
        [0xf5, r1, cc1],
      ]) {
        const r = run([...fld64(8), ...fld64(0), 0xd9, op, ...FNSTSW_AX, ...fstp64(0x10)], (_c, mem) => {
          putF64(mem, 0, a);
          putF64(mem, 8, b);
        });
        expect(getF64(r.mem, 0x10), `${op.toString(16)} ${a} ${b}`).toBe(want);
        expect(r.cpu.reg16[0] & CC, `${op.toString(16)} ${a} ${b}`).toBe(cc);
      }
    }
  });

  test('FPREM partial remainder lowers the exponent difference by a multiple of 32', () => {
    // D = 968: N = 32 + (968 mod 32) = 40 (result measured on hardware).
    const r = run([...fld64(8), ...fld64(0), 0xd9, 0xf8, ...FNSTSW_AX, ...fstp80(0x10)], (_c, mem) => {
      putF64Bits(mem, 0, '7e37e43c8800759c');
      putF64Bits(mem, 8, '41b1a83c65cefba3');
    });
    expect(getExt(r.mem, 0x10)).toBe('43ba 84231d7b 7c7b4000');
    expect(r.cpu.reg16[0] & CC).toBe(C2);
  });

  test('operands from an 80-bit load keep their precision in integer stores', () => {
    // 2^63 - 1 from m80 (not representable as float64) stored as m64int.
    const r = run([...fld80(0), ...fistp64(0x10)], (_c, mem) => putExt(mem, 0, '403d ffffffff fffffffe'));
    expect(getI64(r.mem, 0x10)).toBe(0x7fffffffffffffffn);
  });
});

describe('x87 compares and FXAM', () => {
  function cc(a: number, b: number, op: number[]): number {
    const r = run([...fld64(8), ...fld64(0), ...op, ...FNSTSW_AX], (_c, mem) => {
      putF64(mem, 0, a);
      putF64(mem, 8, b);
    });
    return r.cpu.reg16[0] & (CC | IE);
  }

  test('FCOM / FUCOM condition codes', () => {
    const FCOM = [0xd8, 0xd1];
    const FUCOM = [0xdd, 0xe1];
    expect(cc(2, 1, FCOM)).toBe(0);
    expect(cc(1, 2, FCOM)).toBe(C0);
    expect(cc(2, 2, FCOM)).toBe(C3);
    expect(cc(0, -0, FCOM)).toBe(C3);
    expect(cc(NaN, 1, FCOM)).toBe(C3 | C2 | C0 | IE);
    expect(cc(NaN, 1, FUCOM)).toBe(C3 | C2 | C0);
    expect(cc(-Infinity, 1, FUCOM)).toBe(C0);
  });

  test('FCOM m32/m64, FICOM m16, FTST, FCOMPP pops twice', () => {
    const r = run(
      [
        ...fld64(0), // 3
        ...m(0xd8, 2, 8),
        ...FNSTSW_AX,
        0x89,
        0xc3, // fcom dword [8] (4.0f); mov bx, ax
        ...m(0xde, 2, 0x10),
        ...FNSTSW_AX,
        0x89,
        0xc1, // ficom word [0x10] (3)
        0xd9,
        0xe0,
        0xd9,
        0xe4,
        ...FNSTSW_AX,
        0x89,
        0xc2, // fchs; ftst
        ...FLD1,
        0xde,
        0xd9, // fld1; fcompp
      ],
      (_c, mem) => {
        putF64(mem, 0, 3);
        putU32(mem, 8, 0x40800000);
        putU16(mem, 0x10, 3);
      },
    );
    expect(r.cpu.reg16[EBX * 2] & CC).toBe(C0);
    expect(r.cpu.reg16[1 * 2] & CC).toBe(C3);
    expect(r.cpu.reg16[2 * 2] & CC).toBe(C0);
    expect(r.cpu.fpu.tagWord()).toBe(0xffff);
    expect(r.cpu.fpu.top).toBe(0);
  });

  test('FCOMI / FUCOMI / FCOMIP set ZF, PF, CF and clear OF, SF, AF', () => {
    const ZF = 0x40;
    const PF = 0x04;
    const CF = 0x01;
    function flags(
      a: number,
      b: number,
      op: number[],
      pushf = 0x8d5,
    ): { flags: number; sw: number; top: number } {
      const r = run([...fld64(8), ...fld64(0), ...op], (c, mem) => {
        putF64(mem, 0, a);
        putF64(mem, 8, b);
        c.setFlags(pushf, 0x8d5);
      });
      return { flags: r.cpu.getFlags() & 0x8d5, sw: r.cpu.fpu.statusWord(), top: r.cpu.fpu.top };
    }
    expect(flags(2, 1, [0xdb, 0xf1]).flags).toBe(0);
    expect(flags(1, 2, [0xdb, 0xf1]).flags).toBe(CF);
    expect(flags(2, 2, [0xdb, 0xf1], 0).flags).toBe(ZF);
    const un = flags(NaN, 2, [0xdb, 0xe9]); // fucomi: QNaN is quiet
    expect(un.flags).toBe(ZF | PF | CF);
    expect(un.sw & IE).toBe(0);
    const unc = flags(NaN, 2, [0xdf, 0xf1]); // fcomip: #IA, and pops
    expect(unc.flags).toBe(ZF | PF | CF);
    expect(unc.sw & IE).toBe(IE);
    expect(unc.top).toBe(7);
  });

  test('FXAM classes', () => {
    const classes: Array<[string, number]> = [
      ['3fff 80000000 00000000', C2], // normal
      ['bfff 80000000 00000000', C2 | C1], // negative normal
      ['8000 00000000 00000000', C3 | C1], // -0
      ['7fff 80000000 00000000', C2 | C0], // infinity
      ['7fff c0000000 00000000', C0], // NaN
      ['0000 00000000 00000001', C3 | C2], // denormal
      ['0000 80000000 00000000', C3 | C2], // pseudo-denormal
      ['3fff 40000000 00000000', 0], // unnormal: unsupported
    ];
    for (const [bits, want] of classes) {
      const r = run([...fld80(0), 0xd9, 0xe5, ...FNSTSW_AX], (_c, mem) => putExt(mem, 0, bits));
      expect(r.cpu.reg16[0] & CC, bits).toBe(want);
    }
    const empty = run([0xd9, 0xe5, ...FNSTSW_AX]);
    expect(empty.cpu.reg16[0] & (C3 | C2 | C0)).toBe(C3 | C0);
  });
});

describe('x87 transcendental instructions', () => {
  function unary(op: number[], x: number, stores = 1): number[] {
    const code = [...fld64(0), ...op];
    for (let i = 0; i < stores; i++) code.push(...fstp64(0x10 + i * 8));
    const r = run(code, (_c, mem) => putF64(mem, 0, x));
    return Array.from({ length: stores }, (_, i) => getF64(r.mem, 0x10 + i * 8));
  }

  test('FSIN, FCOS, FSINCOS, FPTAN', () => {
    expect(unary([0xd9, 0xfe], 1)[0]).toBeCloseTo(0.8414709848078965, 15);
    expect(unary([0xd9, 0xff], 1)[0]).toBeCloseTo(0.5403023058681398, 15);
    const [cos, sin] = unary([0xd9, 0xfb], 0.5, 2);
    expect(cos).toBeCloseTo(Math.cos(0.5), 15);
    expect(sin).toBeCloseTo(Math.sin(0.5), 15);
    const [one, tan] = unary([0xd9, 0xf2], 0.5, 2);
    expect(one).toBe(1);
    expect(tan).toBeCloseTo(0.5463024898437905, 15);
  });

  test('FSIN with |x| >= 2^63 sets C2 and leaves ST(0)', () => {
    const r = run([...fld64(0), 0xd9, 0xfe, ...FNSTSW_AX, ...fstp64(0x10)], (_c, mem) =>
      putF64(mem, 0, 2 ** 64),
    );
    expect(r.cpu.reg16[0] & C2).toBe(C2);
    expect(getF64(r.mem, 0x10)).toBe(2 ** 64);
    const ok = run([...fld64(0), 0xd9, 0xfe, ...FNSTSW_AX], (_c, mem) => putF64(mem, 0, 2 ** 62));
    expect(ok.cpu.reg16[0] & C2).toBe(0);
  });

  test('FPATAN, F2XM1, FYL2X, FYL2XP1', () => {
    const two = (op: number, st1: number, st0: number) => {
      const r = run([...fld64(8), ...fld64(0), 0xd9, op, ...fstp64(0x10)], (_c, mem) => {
        putF64(mem, 0, st0);
        putF64(mem, 8, st1);
      });
      expect(r.cpu.fpu.top).toBe(0); // popped once, stored once
      return getF64(r.mem, 0x10);
    };
    expect(two(0xf3, 1, -1)).toBeCloseTo((3 * Math.PI) / 4, 15);
    expect(two(0xf1, 3, 8)).toBe(9);
    expect(two(0xf9, 1, 1)).toBeCloseTo(1, 15);
    expect(two(0xf9, 2, 0.25)).toBeCloseTo(2 * Math.log2(1.25), 15);
    expect(unary([0xd9, 0xf0], 0.5)[0]).toBeCloseTo(Math.SQRT2 - 1, 15);
    expect(unary([0xd9, 0xf0], -1)[0]).toBe(-0.5);
  });

  test('FYL2X of zero raises #Z and delivers -infinity', () => {
    const r = run([...FLD1, ...FLDZ, 0xd9, 0xf1, ...fstp64(0x10)]);
    expect(getF64(r.mem, 0x10)).toBe(-Infinity);
    expect(sw(r) & FLAGS).toBe(ZE);
  });
});

describe('x87 register stack', () => {
  test('FXCH, FLD ST(i), FST ST(i), FFREE, FDECSTP, FINCSTP', () => {
    const r = run([
      ...FLD1,
      ...FLDZ,
      ...FLDPI, // st0 = pi, st1 = 0, st2 = 1
      0xd9,
      0xca, // fxch st2: st0 = 1, st2 = pi
      0xd9,
      0xc2, // fld st2: st0 = pi, st1 = 1, st2 = 0, st3 = pi
      0xdd,
      0xd2, // fst st2: st2 = pi
      0xdd,
      0xc1, // ffree st1
      ...FNSTSW_AX,
      0x89,
      0xc3, // mov bx, ax
      0xd9,
      0xf7,
      0xd9,
      0xf7, // fincstp x2
      ...fstp64(0x10), // st0 = old st2 = pi
      0xd9,
      0xf6,
      0xd9,
      0xf6, // fdecstp x2
    ]);
    expect(getF64(r.mem, 0x10)).toBe(Math.PI);
    expect((r.cpu.reg16[EBX * 2] >> 11) & 7).toBe(4);
    // R4 = pi is ST(1) after the pop and two FDECSTPs; R5 was freed, R6 popped; R7 = pi.
    expect(r.cpu.fpu.top).toBe(5);
    expect(r.cpu.fpu.tagWord()).toBe(0x3cff);
  });

  test('FCMOVcc copies ST(i) on the EFLAGS condition', () => {
    const prog = (cmov: number[], stc: boolean) => [
      ...(stc ? [0xf9] : [0xf8]), // stc / clc
      ...FLDZ,
      ...FLD1, // st0 = 1, st1 = 0
      ...cmov,
      ...fstp64(0x10),
    ];
    expect(getF64(run(prog([0xda, 0xc1], true)).mem, 0x10)).toBe(0); // fcmovb, CF=1: moved
    expect(getF64(run(prog([0xda, 0xc1], false)).mem, 0x10)).toBe(1); // fcmovb, CF=0
    expect(getF64(run(prog([0xdb, 0xc1], false)).mem, 0x10)).toBe(0); // fcmovnb, CF=0: moved
    expect(getF64(run(prog([0xdb, 0xd1], false), (c) => c.setFlags(0x40, 0x40)).mem, 0x10)).toBe(1); // fcmovnbe, ZF=1
    expect(getF64(run(prog([0xda, 0xc9], false), (c) => c.setFlags(0x40, 0x40)).mem, 0x10)).toBe(0); // fcmove, ZF=1
  });

  test('FNSTSW reports TOP; FLDCW/FNSTCW', () => {
    const r = run([...FLD1, ...FLD1, ...FNSTSW_AX, ...fldcw(0), ...fnstcw(2)], (_c, mem) =>
      putU16(mem, 0, 0x0c7f),
    );
    expect(r.cpu.reg16[0]).toBe(6 << 11);
    expect(getU16(r.mem, 2)).toBe(0x0c7f);
  });
});
