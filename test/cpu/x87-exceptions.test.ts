/**
 * x87 exceptions and state images: stack overflow/underflow, unmasked exceptions reported at the next
 * waiting instruction (#MF with CR0.NE = 1, FERR#/IGNNE# with NE = 0), #NM by CR0.EM/MP/TS (SDM Vol. 3A
 * Table 2-2), #UD and segment faults, the FSTENV/FSAVE layouts of SDM Vol. 1 Figures 8-9 to 8-12, and
 * Fpu snapshots.
 */
import { describe, expect, test } from 'vitest';
import { CR0_EM, CR0_MP, CR0_NE, CR0_PE, CR0_TS, CS, ESI, FS } from '../../src/cpu/constants.ts';
import {
  CODE,
  FLD1,
  FLDPI,
  FLDZ,
  FNCLEX,
  FNINIT,
  FNSTSW_AX,
  FWAIT,
  fld32,
  fld64,
  fst64,
  fld80,
  fldcw,
  fldenv,
  fnsave,
  fnstenv,
  frstor,
  fstp32,
  fstp64,
  fstp80,
  getBytes,
  getExt,
  getF64,
  getF64Bits,
  getU16,
  getU32,
  machine,
  putExt,
  putF64,
  putU16,
  putU32,
  run,
  runUntilHalt,
  vectorTaken,
} from './x87-machine.ts';

const IE = 0x01;
const ZE = 0x04;
const OE = 0x08;
const UE = 0x10;
const SF = 0x40;
const ES = 0x80;
const C1 = 0x200;
const B = 0x8000;

/** FLDCW [0] with the control word at DATA+0, ZE unmasked. */
const UNMASK_ZE = 0x037b;
const FDIVP = [0xde, 0xf9]; // st1 = st1 / st0, pop
const DIVIDE_BY_ZERO = [...fldcw(0), ...FLD1, ...FLDZ, ...FDIVP];

describe('x87 stack faults', () => {
  test('stack overflow: IE, SF, C1; the masked response pushes the indefinite', () => {
    const nine = Array.from({ length: 9 }, () => FLD1).flat();
    const r = run([...nine, ...FNSTSW_AX, ...fstp80(0x10)]);
    expect(r.cpu.reg16[0]).toBe(0x3a41); // TOP 7, C1, SF, IE
    expect(getExt(r.mem, 0x10)).toBe('ffff c0000000 00000000');
  });

  test('stack overflow unmasked: nothing is pushed, ES and B are set', () => {
    const nine = Array.from({ length: 9 }, () => FLD1).flat();
    const r = run([...fldcw(0), ...nine, ...FNSTSW_AX], (_c, mem) => putU16(mem, 0, 0x037e));
    expect(r.cpu.reg16[0]).toBe(B | ES | SF | C1 | IE); // TOP 0: the ninth push did not happen
  });

  test('stack underflow: IE and SF with C1 = 0; masked stores write the indefinite', () => {
    let r = run([0xd8, 0xc1, ...FNSTSW_AX]); // fadd st0, st1 on an empty stack
    expect(r.cpu.reg16[0]).toBe(SF | IE);
    expect(r.cpu.fpu.tagWord()).toBe(0xfffe); // ST(0) now holds the indefinite (special)
    r = run([...fstp64(0x10), ...fstp32(0x18)]);
    expect(getF64Bits(r.mem, 0x10)).toBe('fff8000000000000');
    expect(getU32(r.mem, 0x18)).toBe(0xffc00000);
    expect(r.cpu.fpu.top).toBe(2);
  });

  test('unmasked #IA on FSTP m32 of an SNaN: no store, no pop', () => {
    const r = run([...fldcw(0), ...fld80(0x20), ...fstp32(0x10)], (_c, mem) => {
      putU16(mem, 0, 0x037e);
      putExt(mem, 0x20, '7fff a0000000 00000000');
      putU32(mem, 0x10, 0x12345678);
    });
    expect(getU32(r.mem, 0x10)).toBe(0x12345678);
    expect(r.cpu.fpu.top).toBe(7);
    expect(r.cpu.fpu.statusWord() & (B | ES | IE)).toBe(B | ES | IE);
  });

  test('results beyond the float64 range are ordinary 80-bit numbers; a float64 store overflows', () => {
    const r = run(
      [...fld64(8), ...fld64(0x10), 0xde, 0xc9, ...FNSTSW_AX, ...fst64(0x30), ...fstp80(0x20)],
      (_c, mem) => {
        putF64(mem, 8, 1e308);
        putF64(mem, 0x10, 10);
      },
    );
    expect(r.cpu.reg16[0] & 0x3f).toBe(0); // exact in 64 bits: no exception at all (as on hardware)
    expect(getExt(r.mem, 0x20)).toBe('4401 b201833b 35d64000');
    expect(getF64(r.mem, 0x30)).toBe(Infinity);
    expect(r.cpu.fpu.statusWord() & 0x3f).toBe(0x28); // the store: #O, #P
  });

  test('unmasked overflow/underflow into a register: the exponent is adjusted by 24576', () => {
    const program = [
      ...fldcw(0),
      ...fld80(0x10),
      ...fld80(0x20),
      0xde,
      0xc9,
      ...FNSTSW_AX,
      ...FNCLEX,
      ...fstp80(0x30),
    ];
    const over = run(program, (_c, mem) => {
      putU16(mem, 0, 0x0377);
      putExt(mem, 0x10, '7ffe ffffffff ffffffff');
      putExt(mem, 0x20, '4000 80000000 00000000'); // 2
    });
    expect(over.cpu.reg16[0] & 0xffbf).toBe(B | ES | OE | (7 << 11));
    expect(getExt(over.mem, 0x30)).toBe('1fff ffffffff ffffffff');
    const under = run(program, (_c, mem) => {
      putU16(mem, 0, 0x036f);
      putExt(mem, 0x10, '0001 80000000 00000000'); // the smallest normal
      putExt(mem, 0x20, '3ffe 80000000 00000000'); // 0.5
    });
    expect(under.cpu.reg16[0] & 0xffbf).toBe(B | ES | UE | (7 << 11));
    expect(getExt(under.mem, 0x30)).toBe('6000 80000000 00000000');
    // Masked, the exact result is a denormal and #U is not raised (it would need to be inexact too).
    const masked = run(program, (_c, mem) => {
      putU16(mem, 0, 0x037f);
      putExt(mem, 0x10, '0001 80000000 00000000');
      putExt(mem, 0x20, '3ffe 80000000 00000000');
    });
    expect(masked.cpu.reg16[0] & 0x3f).toBe(0);
    expect(getExt(masked.mem, 0x30)).toBe('0000 40000000 00000000');
  });
});

describe('x87 exception reporting', () => {
  test('CR0.NE = 1: the error is reported as #MF by the next FWAIT, through the real-mode IVT', () => {
    const fwaitAt = CODE + DIVIDE_BY_ZERO.length + FNSTSW_AX.length;
    const r = run([...DIVIDE_BY_ZERO, ...FNSTSW_AX, ...FWAIT], (c, mem) => {
      c.cr0 |= CR0_NE;
      putU16(mem, 0, UNMASK_ZE);
    });
    expect(r.vector).toBe(16);
    // The fault pushed the FWAIT's own address.
    expect(r.mem.read16(0x8000 - 6)).toBe(fwaitAt);
    // FNSTSW does not wait: it saw ES/B, ZE and the untouched stack (TOP 6).
    expect(r.cpu.reg16[0]).toBe(B | ES | ZE | (6 << 11));
    const f = r.cpu.fpu;
    expect(f.val[f.st(0)]).toBe(0);
    expect(f.val[f.st(1)]).toBe(1);
  });

  test('CR0.NE = 1: any waiting x87 instruction reports it; FNINIT does not and clears it', () => {
    let r = run([...DIVIDE_BY_ZERO, ...FLD1], (c, mem) => {
      c.cr0 |= CR0_NE;
      putU16(mem, 0, UNMASK_ZE);
    });
    expect(r.vector).toBe(16);
    expect(r.mem.read16(0x8000 - 6)).toBe(CODE + DIVIDE_BY_ZERO.length);
    r = run([...DIVIDE_BY_ZERO, ...FNINIT, ...FLD1, ...FWAIT], (c, mem) => {
      c.cr0 |= CR0_NE;
      putU16(mem, 0, UNMASK_ZE);
    });
    expect(r.vector).toBe(null);
    expect(r.cpu.fpu.top).toBe(7);
  });

  test('FLDCW unmasking a flag that is already set makes it pending', () => {
    const r = run([...FLD1, ...FLDZ, ...FDIVP, ...fldcw(0), ...FWAIT], (c, mem) => {
      c.cr0 |= CR0_NE;
      putU16(mem, 0, UNMASK_ZE);
    });
    expect(r.vector).toBe(16);
  });

  test('CR0.NE = 0: FERR# freezes the waiting instruction until IGNNE#, FNCLEX releases it', () => {
    const { cpu, mem } = machine();
    const events: boolean[] = [];
    cpu.fpu.onFerr = (asserted) => events.push(asserted);
    const code = [...DIVIDE_BY_ZERO, ...FLD1, ...FNCLEX, 0xf4];
    mem.writeBytes(CODE, Uint8Array.from(code));
    putU16(mem, 0, UNMASK_ZE);
    runUntilHalt(cpu);
    // Frozen on the FLD1: halted with EIP on it, FERR# asserted (the board raises IRQ13).
    expect(cpu.eip).toBe(CODE + DIVIDE_BY_ZERO.length);
    expect(vectorTaken(cpu)).toBe(null);
    expect(events).toEqual([true]);
    expect(cpu.fpu.top).toBe(6);
    // The IRQ13 handler writes port F0: IRQ13 drops, IGNNE# lets the instruction run despite ES.
    cpu.fpu.clearFerr();
    expect(events).toEqual([true, false]);
    cpu.halted = false;
    runUntilHalt(cpu);
    expect(cpu.eip).toBe(CODE + code.length);
    expect(cpu.fpu.top).toBe(5);
    // FNCLEX cleared ES: FERR# and IGNNE# are inactive again.
    expect(cpu.fpu.ferr).toBe(false);
    expect(cpu.fpu.ignne).toBe(false);
    expect(events).toEqual([true, false, false]);
  });

  test('CR0.NE = 0 with no FERR# connection: the error is ignored', () => {
    const r = run([...DIVIDE_BY_ZERO, ...FLD1, ...FWAIT], (_c, mem) => putU16(mem, 0, UNMASK_ZE));
    expect(r.vector).toBe(null);
    expect(r.cpu.fpu.top).toBe(5);
    expect(r.cpu.fpu.statusWord() & ES).toBe(ES);
  });

  test('#NM by CR0.EM, MP and TS (SDM Vol. 3A Table 2-2)', () => {
    const x87 = (cr0: number) => run([...FLD1], (c) => (c.cr0 |= cr0)).vector;
    const wait = (cr0: number) => run([...FWAIT], (c) => (c.cr0 |= cr0)).vector;
    expect(x87(0)).toBe(null);
    expect(x87(CR0_MP)).toBe(null);
    expect(x87(CR0_EM)).toBe(7);
    expect(x87(CR0_TS)).toBe(7);
    expect(x87(CR0_MP | CR0_TS)).toBe(7);
    expect(x87(CR0_EM | CR0_MP)).toBe(7);
    expect(wait(CR0_EM)).toBe(null);
    expect(wait(CR0_TS)).toBe(null);
    expect(wait(CR0_EM | CR0_TS)).toBe(null);
    expect(wait(CR0_MP | CR0_TS)).toBe(7);
    // #NM comes before a pending x87 exception (CR0.TS set after the error).
    const setTs = [0x0f, 0x20, 0xc0, 0x66, 0x83, 0xc8, 0x08, 0x0f, 0x22, 0xc0]; // mov eax,cr0; or eax,8; mov cr0,eax
    const r = run([...DIVIDE_BY_ZERO, ...setTs, ...FLD1], (c, mem) => {
      c.cr0 |= CR0_NE;
      putU16(mem, 0, UNMASK_ZE);
    });
    expect(r.vector).toBe(7);
  });

  test('#UD for reserved encodings, #GP for a memory operand past the segment limit', () => {
    expect(run([0xd9, 0xd1]).vector).toBe(6);
    expect(run([0xdf, 0xe1]).vector).toBe(6);
    expect(run([0xdb, 0x0e, 0x00, 0x20]).vector).toBe(6); // fisttp dword [0x2000] (SSE3)
    expect(run([0xd9, 0xef]).vector).toBe(6);
    // fsubr dword [si] with SI = FFFF: the read crosses the 64 KiB limit.
    expect(run([...FLD1, 0xd8, 0x2c], (c) => (c.reg32[ESI] = 0xffff)).vector).toBe(13);
    // fstp qword [0xfffc]: nothing written (pi's low word is nonzero), nothing popped.
    const r = run([...FLDPI, 0xdd, 0x1e, 0xfc, 0xff]);
    expect(r.vector).toBe(13);
    expect(r.mem.read32(0xfffc)).toBe(0);
    expect(r.cpu.fpu.top).toBe(7);
  });
});

describe('x87 environment and state images', () => {
  // At F000:0000: fld1; fs: fld qword [0x2008] (FS = 0x1000); fnstenv [0x2040] (or with the 66 prefix).
  function env(op32: boolean, protectedMode: boolean): ReturnType<typeof machine> {
    const { cpu, mem } = machine();
    const code = [...FLD1, 0x64, ...fld64(8), ...(op32 ? [0x66] : []), ...fnstenv(0x40), 0xf4];
    mem.writeBytes(0xf0000, Uint8Array.from(code));
    new DataView(mem.ram.buffer, mem.ram.byteOffset).setFloat64(0x12008, 2.5, true);
    cpu.resetSegment(CS, 0xf000);
    cpu.resetSegment(FS, 0x1000);
    cpu.eip = 0;
    if (protectedMode) cpu.cr0 |= CR0_PE; // segment caches keep their real-mode contents
    runUntilHalt(cpu);
    expect(cpu.eip).toBe(code.length);
    return { mem, cpu };
  }

  test('FNSTENV, real mode, 16-bit: linear 20-bit pointers and the opcode', () => {
    const { mem } = env(false, false);
    const words = Array.from({ length: 7 }, (_, i) => getU16(mem, 0x40 + i * 2));
    expect(words).toEqual([0x037f, 0x3000, 0x0fff, 0x0002, 0xf506, 0x2008, 0x1000]);
  });

  test('FNSTENV, real mode, 32-bit', () => {
    const { mem } = env(true, false);
    const dwords = Array.from({ length: 7 }, (_, i) => getU32(mem, 0x40 + i * 4));
    expect(dwords).toEqual([
      0xffff037f, 0xffff3000, 0xffff0fff, 0xffff0002, 0x0000f506, 0xffff2008, 0x00001000,
    ]);
  });

  test('FNSTENV, protected mode, 16-bit: selector:offset pointers', () => {
    const { mem } = env(false, true);
    const words = Array.from({ length: 7 }, (_, i) => getU16(mem, 0x40 + i * 2));
    expect(words).toEqual([0x037f, 0x3000, 0x0fff, 0x0002, 0xf000, 0x2008, 0x1000]);
  });

  test('FNSTENV, protected mode, 32-bit: the opcode beside the CS selector', () => {
    const { mem } = env(true, true);
    const dwords = Array.from({ length: 7 }, (_, i) => getU32(mem, 0x40 + i * 4));
    expect(dwords).toEqual([
      0xffff037f, 0xffff3000, 0xffff0fff, 0x00000002, 0x0506f000, 0x00002008, 0xffff1000,
    ]);
  });

  test('FNSTENV masks all exceptions afterwards; FLDENV restores, and a pending error follows it', () => {
    const r = run(
      [
        ...fldcw(0),
        ...FLD1,
        ...FLDZ,
        ...FDIVP, // ZE unmasked, pending
        ...fnstenv(0x40),
        ...FNSTSW_AX, // FNSTENV does not wait
        ...fldenv(0x40), // FLDENV waits: #MF here
      ],
      (c, mem) => {
        c.cr0 |= CR0_NE;
        putU16(mem, 0, UNMASK_ZE);
      },
    );
    expect(getU16(r.mem, 0x40)).toBe(UNMASK_ZE);
    expect(getU16(r.mem, 0x42) & (B | ES | ZE)).toBe(B | ES | ZE);
    expect(r.cpu.fpu.cw & 0x3f).toBe(0x3f);
    expect(r.vector).toBe(16);
    // Restore the saved environment after clearing: the error is pending again.
    const r2 = run([...fldenv(0x40), ...FWAIT], (c, mem) => {
      c.cr0 |= CR0_NE;
      mem.writeBytes(0x2040, Uint8Array.from(getBytes(r.mem, 0x40, 14)));
    });
    expect(r2.vector).toBe(16);
    expect(r2.cpu.fpu.cw).toBe(UNMASK_ZE);
    expect(r2.cpu.fpu.top).toBe(6);
  });

  for (const op32 of [false, true]) {
    test(`FNSAVE / FRSTOR round trip, ${op32 ? 32 : 16}-bit (${op32 ? 108 : 94} bytes)`, () => {
      const size = op32 ? 108 : 94;
      const env = op32 ? 28 : 14;
      const p = op32 ? [0x66] : [];
      const r = run(
        [
          ...fldcw(0),
          ...fld80(0x10),
          ...fld64(0x20),
          ...fld80(0x30),
          ...FLDPI,
          0xdd,
          0xc0, // ffree st0
          ...p,
          ...fnsave(0x100),
          ...FNSTSW_AX,
          ...p,
          ...frstor(0x100),
          ...p,
          ...fnsave(0x200),
          ...p,
          ...frstor(0x100),
          ...fstp80(0x300),
          ...fstp80(0x310),
          ...fstp80(0x320),
          ...fstp80(0x330),
        ],
        (_c, mem) => {
          putU16(mem, 0, 0x0e7f);
          putExt(mem, 0x10, '4000 c90fdaa2 2168c235');
          putF64(mem, 0x20, -0.1);
          putExt(mem, 0x30, '7fff a0000000 00000001');
        },
      );
      // After FNSAVE the FPU is initialised.
      expect(r.cpu.reg16[0]).toBe(0);
      // The image: control word, tag word (R4 freed = empty, R5 SNaN special, R6, R7 valid), registers.
      expect(getBytes(r.mem, 0x200, size)).toEqual(getBytes(r.mem, 0x100, size));
      expect(getU16(r.mem, 0x100)).toBe(0x0e7f);
      expect(getU16(r.mem, 0x100 + (op32 ? 8 : 4))).toBe(0x0bff);
      expect(getExt(r.mem, 0x100 + env)).toBe('4000 c90fdaa2 2168c234'); // ST(0): the freed FLDPI (RC toward 0)
      expect(getExt(r.mem, 0x100 + env + 10)).toBe('7fff a0000000 00000001');
      expect(getExt(r.mem, 0x100 + env + 30)).toBe('4000 c90fdaa2 2168c235');
      expect(getExt(r.mem, 0x300)).toBe('ffff c0000000 00000000'); // popping the empty ST(0)
      expect(getExt(r.mem, 0x310)).toBe('7fff a0000000 00000001');
      expect(getExt(r.mem, 0x320)).toBe('bffb cccccccc ccccd000'); // -0.1 as a float64
      expect(getExt(r.mem, 0x330)).toBe('4000 c90fdaa2 2168c235');
    });
  }
});

describe('x87 snapshots', () => {
  test('saveState / loadState round-trip the whole FPU', () => {
    const a = run(
      [...fld80(0), ...fld32(0x10), ...FLDPI, ...fldcw(0x20), ...FLD1, ...FLDZ, ...FDIVP],
      (_c, mem) => {
        putExt(mem, 0, '1234 ffffffff fffffffe');
        putU32(mem, 0x10, 0x7fa00000);
        putU16(mem, 0x20, UNMASK_ZE);
      },
    );
    const state = a.cpu.fpu.saveState();
    const b = run([], () => undefined);
    b.cpu.fpu.loadState(state);
    expect(b.cpu.fpu.saveState()).toEqual(state);
    expect(b.cpu.fpu.statusWord()).toBe(a.cpu.fpu.statusWord());
    // Continue on the copy: its registers give the same bits.
    b.mem.writeBytes(
      CODE,
      Uint8Array.from([...FNCLEX, ...fstp80(0x40), ...fstp80(0x50), ...fstp80(0x60), ...fstp80(0x70), 0xf4]),
    );
    b.cpu.eip = CODE;
    b.cpu.halted = false;
    runUntilHalt(b.cpu);
    expect(getExt(b.mem, 0x40)).toBe('0000 00000000 00000000');
    expect(getExt(b.mem, 0x50)).toBe('3fff 80000000 00000000');
    expect(getExt(b.mem, 0x60)).toBe('4000 c90fdaa2 2168c235');
    expect(getExt(b.mem, 0x70)).toBe('7fff e0000000 00000000'); // the m32 SNaN, made quiet by FLD
  });

  test('loadState names a bad field and leaves the FPU unchanged', () => {
    const { cpu } = machine();
    const good = cpu.fpu.saveState();
    expect(() => cpu.fpu.loadState({ ...good, cw: 'x' })).toThrow(/'cw'/);
    expect(() => cpu.fpu.loadState({ ...good, values: new Float64Array(7) })).toThrow(/'values'/);
    expect(() => cpu.fpu.loadState({ ...good, top: 3 })).toThrow(/'top'/);
    const { empty: _empty, ...missing } = good;
    expect(() => cpu.fpu.loadState(missing)).toThrow(/'empty'/);
    expect(cpu.fpu.saveState()).toEqual(good);
  });

  test('reset is the FNINIT state', () => {
    const r = run([...FLD1, ...fldcw(0)], (_c, mem) => putU16(mem, 0, 0));
    r.cpu.fpu.reset();
    expect(r.cpu.fpu.cw).toBe(0x037f);
    expect(r.cpu.fpu.statusWord()).toBe(0);
    expect(r.cpu.fpu.tagWord()).toBe(0xffff);
  });
});
