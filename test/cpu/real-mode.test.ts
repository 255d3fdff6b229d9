/**
 * Real-mode behaviour the 80286 suite cannot check: the 386 additions (0F opcodes, 32-bit operands and
 * addressing through 66/67), and the exceptions a 386 raises where a 286 differs. Code bytes are hand
 * encoded, with the instruction in a comment beside them.
 */
import { describe, expect, test } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.ts';
import { CS, DS, EAX, EBX, ECX, EDX, ES, ESI, ESP, FS, GS, SS } from '../../src/cpu/constants.ts';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import { OpenIoBus } from '../../src/cpu/bus.ts';

const CODE_SEG = 0x1000;
const DATA_SEG = 0x2000;
const STACK_SEG = 0x3000;
/** Handler for every IVT vector: HLT at 0000:0500 (the vector taken is recorded from the stack). */
const HANDLER = 0x500;

interface Run {
  cpu: Cpu;
  memory: PhysicalMemory;
  /** The vector taken, or null when the code ran to its own HLT. */
  vector: number | null;
}

function machine(): { cpu: Cpu; memory: PhysicalMemory } {
  const memory = new PhysicalMemory(1 << 21);
  const cpu = new Cpu(memory, new OpenIoBus());
  for (let v = 0; v < 256; v++) memory.write32(v * 4, HANDLER + v); // each vector its own HLT
  for (let v = 0; v < 256; v++) memory.write8(HANDLER + v, 0xf4);
  cpu.resetSegment(CS, CODE_SEG);
  cpu.resetSegment(DS, DATA_SEG);
  cpu.resetSegment(ES, DATA_SEG);
  cpu.resetSegment(SS, STACK_SEG);
  cpu.reg32[ESP] = 0x1000;
  cpu.eip = 0;
  return { cpu, memory };
}

/** Runs `code` (followed by HLT) until a HLT; reports which exception vector, if any, was taken. */
function run(code: number[], setup?: (cpu: Cpu, memory: PhysicalMemory) => void): Run {
  const { cpu, memory } = machine();
  memory.writeBytes(CODE_SEG * 16, Uint8Array.from([...code, 0xf4]));
  setup?.(cpu, memory);
  for (let i = 0; i < 10_000 && !cpu.halted; i++) cpu.step();
  const linear = cpu.segBase[CS] + cpu.eip - 1;
  const vector = cpu.sreg[CS] === 0 && linear >= HANDLER && linear < HANDLER + 256 ? linear - HANDLER : null;
  return { cpu, memory, vector };
}

const data = (_m: PhysicalMemory, off: number) => DATA_SEG * 16 + off;

describe('386 additions in real mode', () => {
  test('MOVZX / MOVSX', () => {
    const r = run([0x0f, 0xb6, 0xc3, 0x66, 0x0f, 0xbe, 0xcb], (c) => (c.reg32[EBX] = 0x80)); // movzx ax,bl; movsx ecx,bl
    expect(r.cpu.reg16[0]).toBe(0x80);
    expect(r.cpu.reg32[ECX] >>> 0).toBe(0xffffff80);
  });

  test('BT/BTS/BTR/BTC with a register bit offset reach beyond the operand in memory', () => {
    // bts [0x10], ax with ax = 35: sets bit 3 of the word at 0x10 + 2*2 = 0x14
    const r = run([0x0f, 0xab, 0x06, 0x10, 0x00], (c) => (c.reg16[0] = 35));
    expect(r.memory.read16(data(r.memory, 0x14))).toBe(8);
    expect(r.cpu.getFlags() & 1).toBe(0);
    // negative offset: bt [0x10], ax with ax = -1 tests bit 15 of the word at 0x0E
    const n = run([0x0f, 0xa3, 0x06, 0x10, 0x00], (c, m) => {
      c.reg16[0] = 0xffff;
      m.write16(data(m, 0x0e), 0x8000);
    });
    expect(n.cpu.getFlags() & 1).toBe(1);
    // btr eax, 31 / btc (imm form): 66 0F BA F0 1F = btr eax, 31 ; 66 0F BA F8 00 = btc eax, 0
    const i = run([0x66, 0x0f, 0xba, 0xf0, 0x1f, 0x66, 0x0f, 0xba, 0xf8, 0x00], (c) => (c.reg32[EAX] = -1));
    expect(i.cpu.reg32[EAX] >>> 0).toBe(0x7ffffffe);
  });

  test('BSF / BSR set ZF for zero and leave the destination', () => {
    const r = run([0x66, 0x0f, 0xbc, 0xc3, 0x66, 0x0f, 0xbd, 0xcb], (c) => (c.reg32[EBX] = 0x00f0_0100)); // bsf eax,ebx; bsr ecx,ebx
    expect(r.cpu.reg32[EAX]).toBe(8);
    expect(r.cpu.reg32[ECX]).toBe(23);
    const z = run([0x0f, 0xbc, 0xc3], (c) => {
      c.reg32[EBX] = 0;
      c.reg32[EAX] = 0x1234;
    });
    expect(z.cpu.getFlags() & 0x40).toBe(0x40);
    expect(z.cpu.reg16[0]).toBe(0x1234);
  });

  test('SHLD / SHRD', () => {
    // shld eax, ebx, 8 ; shrd ecx, edx, cl (cl = 4)
    const r = run([0x66, 0x0f, 0xa4, 0xd8, 0x08, 0x66, 0x0f, 0xad, 0xd1], (c) => {
      c.reg32[EAX] = 0x11223344;
      c.reg32[EBX] = 0xaabbccdd | 0;
      c.reg32[ECX] = 0x00000004;
      c.reg32[EDX] = 0x0000000f;
    });
    expect(r.cpu.reg32[EAX] >>> 0).toBe(0x223344aa);
    expect(r.cpu.reg32[ECX] >>> 0).toBe(0xf0000000);
  });

  test('SETcc and Jcc rel16', () => {
    // cmp ax, bx ; setl cl ; jl +3 (rel16) ; mov dl, 1 ; (target) nop
    const r = run([0x39, 0xd8, 0x0f, 0x9c, 0xc1, 0x0f, 0x8c, 0x02, 0x00, 0xb2, 0x01, 0x90], (c) => {
      c.reg16[0] = 0xfffe; // -2 < 5
      c.reg16[EBX * 2] = 5;
      c.reg32[EDX] = 0;
    });
    expect(r.cpu.reg8[4]).toBe(1); // CL
    expect(r.cpu.reg8[8]).toBe(0); // DL untouched: the jump skipped mov dl,1
  });

  test('IMUL r, r/m and IMUL r, r/m, imm with 32-bit operands', () => {
    // imul eax, ebx ; imul ecx, edx, -3
    const r = run([0x66, 0x0f, 0xaf, 0xc3, 0x66, 0x6b, 0xca, 0xfd], (c) => {
      c.reg32[EAX] = 100000;
      c.reg32[EBX] = 30000; // 3e9 overflows int32: OF = CF = 1
      c.reg32[EDX] = 7;
    });
    expect(r.cpu.reg32[EAX] >>> 0).toBe((100000 * 30000) % 2 ** 32);
    expect(r.cpu.getFlags() & 0x801).toBe(0); // the later IMUL (no overflow) cleared OF and CF
    expect(r.cpu.reg32[ECX]).toBe(-21);
  });

  test('LSS, LFS, LGS load a far pointer', () => {
    // lss sp,[0] ; lfs bx,[4] ; lgs si,[8]
    const r = run(
      [0x0f, 0xb2, 0x26, 0x00, 0x00, 0x0f, 0xb4, 0x1e, 0x04, 0x00, 0x0f, 0xb5, 0x36, 0x08, 0x00],
      (_c, m) => {
        m.write32(data(m, 0), 0x4000_0800);
        m.write32(data(m, 4), 0x5000_1234);
        m.write32(data(m, 8), 0x6000_5678);
      },
    );
    expect([r.cpu.sreg[SS], r.cpu.reg16[ESP * 2]]).toEqual([0x4000, 0x0800]);
    expect([r.cpu.sreg[FS], r.cpu.reg16[EBX * 2]]).toEqual([0x5000, 0x1234]);
    expect([r.cpu.sreg[GS], r.cpu.reg16[ESI * 2]]).toEqual([0x6000, 0x5678]);
    expect(r.cpu.segBase[FS]).toBe(0x50000);
  });

  test('PUSHAD / POPAD and CWDE / CDQ', () => {
    // pushad ; xor eax,eax (66 31 c0) ; popad ; cwde ; cdq
    const r = run([0x66, 0x60, 0x66, 0x31, 0xc0, 0x66, 0x61, 0x66, 0x98, 0x66, 0x99], (c) => {
      c.reg32[EAX] = 0x1234_8000;
    });
    expect(r.cpu.reg32[EAX] >>> 0).toBe(0xffff8000);
    expect(r.cpu.reg32[EDX]).toBe(-1);
    expect(r.cpu.reg16[ESP * 2]).toBe(0x1000);
  });

  test('32-bit addressing with SIB through 67h', () => {
    // mov eax, [ebx + esi*4 + 8]  = 67 66 8B 44 B3 08
    const r = run([0x67, 0x66, 0x8b, 0x44, 0xb3, 0x08], (c, m) => {
      c.reg32[EBX] = 0x10;
      c.reg32[ESI] = 3;
      m.write32(data(m, 0x10 + 12 + 8), 0xcafebabe | 0);
    });
    expect(r.cpu.reg32[EAX] >>> 0).toBe(0xcafebabe);
  });

  test('MOV to and from CR0 switches PE (and back)', () => {
    // mov eax, cr0 ; or al, 1 ; mov cr0, eax ; mov ebx, cr0 ; and al, 0xfe ; mov cr0, eax
    const r = run([
      0x0f, 0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0, 0x0f, 0x20, 0xc3, 0x24, 0xfe, 0x0f, 0x22, 0xc0,
    ]);
    expect(r.vector).toBeNull();
    expect(r.cpu.reg32[EBX] & 1).toBe(1);
    expect(r.cpu.cr0 & 1).toBe(0);
  });
});

describe('real-mode exceptions as a 386 raises them', () => {
  test('#GP for a word access at offset 0xFFFF of a data segment', () => {
    expect(run([0x8b, 0x07], (c) => (c.reg16[EBX * 2] = 0xffff)).vector).toBe(13); // mov ax,[bx]
  });

  test('#SS for a stack access at offset 0xFFFF', () => {
    expect(run([0x58], (c) => (c.reg16[ESP * 2] = 0xffff)).vector).toBe(12); // pop ax
  });

  test('#GP for a dword access crossing 0xFFFF', () => {
    expect(run([0x66, 0x8b, 0x07], (c) => (c.reg16[EBX * 2] = 0xfffd)).vector).toBe(13);
  });

  test('#GP for an instruction longer than 15 bytes, but not for one of 15', () => {
    const prefixes = (n: number) => new Array<number>(n).fill(0x3e);
    expect(run([...prefixes(14), 0x90]).vector).toBeNull(); // 15 bytes
    expect(run([...prefixes(15), 0x90]).vector).toBe(13); // 16 bytes
  });

  test('#UD for LOCK on a register destination and for an undefined opcode', () => {
    expect(run([0xf0, 0x01, 0xc0]).vector).toBe(6); // lock add ax,ax
    expect(run([0xf0, 0x01, 0x07]).vector).toBeNull(); // lock add [bx],ax
    expect(run([0x0f, 0x0b]).vector).toBe(6); // ud2
  });

  test('#DE, #BR and INTO', () => {
    expect(run([0xf6, 0xf3], (c) => (c.reg8[3 * 4] = 0)).vector).toBe(0); // div bl with bl=0
    expect(run([0x62, 0x07], (_c, m) => m.write32(data(m, 0), 0x0010_0005)).vector).toBe(5); // bound ax,[bx]: 0 < 5
    expect(run([0xb0, 0x7f, 0x04, 0x01, 0xce]).vector).toBe(4); // mov al,7f; add al,1 (OF); into
    expect(run([0xce]).vector).toBeNull();
  });

  test('a fault pushes the address of the faulting instruction; INT n the next one', () => {
    const f = run([0x90, 0xf6, 0xf3]); // nop; div bl (bl = 0)
    expect(f.memory.read16(STACK_SEG * 16 + f.cpu.reg16[ESP * 2])).toBe(1);
    const t = run([0x90, 0xcd, 0x21]); // nop; int 21h
    expect(t.vector).toBe(0x21);
    expect(t.memory.read16(STACK_SEG * 16 + t.cpu.reg16[ESP * 2])).toBe(3);
  });
});

describe('32-bit multiply and divide', () => {
  test('MUL/IMUL r/m32 give the full 64-bit product; DIV/IDIV the quotient and remainder', () => {
    const cases: Array<[number, number]> = [
      [0xffffffff, 0xffffffff],
      [0x80000000, 2],
      [0x12345678, 0x9abcdef0],
      [-7, 3],
      [0x7fffffff, -0x80000000],
    ];
    for (const [a, b] of cases) {
      // mul ebx ; mov esi,eax ; mov edi,edx ; mov eax,[a] (via ecx) ; imul ebx
      const r = run(
        [0x66, 0xf7, 0xe3, 0x66, 0x89, 0xc6, 0x66, 0x89, 0xd7, 0x66, 0x89, 0xc8, 0x66, 0xf7, 0xeb],
        (c) => {
          c.reg32[EAX] = a;
          c.reg32[ECX] = a;
          c.reg32[EBX] = b;
        },
      );
      const unsigned = BigInt(a >>> 0) * BigInt(b >>> 0);
      const signed = BigInt(a | 0) * BigInt(b | 0);
      expect([r.cpu.reg32[ESI], r.cpu.reg32[7]]).toEqual([
        Number(BigInt.asIntN(32, unsigned)),
        Number(BigInt.asIntN(32, unsigned >> 32n)),
      ]);
      expect([r.cpu.reg32[EAX], r.cpu.reg32[EDX]]).toEqual([
        Number(BigInt.asIntN(32, signed)),
        Number(BigInt.asIntN(32, signed >> 32n)),
      ]);
    }
    // div ebx: EDX:EAX = 0x00000001_00000005 / 3
    const d = run([0x66, 0xf7, 0xf3], (c) => {
      c.reg32[EDX] = 1;
      c.reg32[EAX] = 5;
      c.reg32[EBX] = 3;
    });
    expect([d.cpu.reg32[EAX], d.cpu.reg32[EDX]]).toEqual([
      Number((2n ** 32n + 5n) / 3n),
      Number((2n ** 32n + 5n) % 3n),
    ]);
    // idiv ebx: -2^31 / -1 overflows: #DE; a quotient that does not fit: #DE
    expect(
      run([0x66, 0xf7, 0xfb], (c) => ((c.reg32[EAX] = -0x80000000), (c.reg32[EDX] = -1), (c.reg32[EBX] = -1)))
        .vector,
    ).toBe(0);
    expect(run([0x66, 0xf7, 0xf3], (c) => ((c.reg32[EDX] = 3), (c.reg32[EBX] = 3))).vector).toBe(0);
    const i = run([0x66, 0xf7, 0xfb], (c) => ((c.reg32[EAX] = -7), (c.reg32[EDX] = -1), (c.reg32[EBX] = 2)));
    expect([i.cpu.reg32[EAX], i.cpu.reg32[EDX]]).toEqual([-3, -1]);
  });
});
