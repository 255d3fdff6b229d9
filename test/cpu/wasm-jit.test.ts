/**
 * The WebAssembly back end's parts on their own: the module writer (WebAssembly Core Specification 1.0,
 * ch. 5), the state layout the CPU and its compiled code share (src/cpu/layout.ts), the support module's
 * lazy-flag formulas against flags.ts and its memory accesses against the CPU's, and how the back end is
 * chosen and given up where the host refuses WebAssembly. The translations themselves are compared with
 * the interpreter in jit.test.ts, smc.test.ts and the rest of the CPU suites, which run with each back end.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.ts';
import { OpenIoBus } from '../../src/cpu/bus.ts';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import {
  FLAG_CF,
  OP_ADC,
  OP_ADD,
  OP_LOGIC,
  OP_SBB,
  OP_SUB,
  carryFrom,
  testCondition,
} from '../../src/cpu/flags.ts';
import {
  RAM_BASE,
  STATE_EXIT_DONE,
  STATE_EXIT_START,
  STATE_FLAGS,
  STATE_LAZY_DST,
  STATE_LAZY_FLAGS,
  STATE_LAZY_OP,
  STATE_LAZY_RES,
  STATE_LAZY_SIZE,
  STATE_LAZY_SRC,
  STATE_REG32,
  STATE_SEG_BASE,
  STATE_SREG,
  TLB_BASE,
} from '../../src/cpu/layout.ts';
import { FunctionBody, I32, ModuleWriter, Op, sleb, uleb } from '../../src/cpu/jit/wasm-module.ts';
import { instantiateSupport } from '../../src/cpu/jit/wasm-support.ts';
import { pcThunkRegister, x87KeepsFlags } from '../../src/cpu/jit/wasm-codegen.ts';
import { decode } from '../../src/cpu/jit/decoder.ts';
import { jitBackendFromEnvironment } from '../../src/cpu/jit/mode.ts';
import {
  CODE,
  DATA,
  HANDLERS,
  PAGE_TABLE,
  execute,
  le32,
  machine,
  runFor,
  type FuzzMode,
} from './jit-fuzz.ts';

const EAX = 0;
const EBX = 3;
const DS = 3;

describe('module writer', () => {
  test('LEB128 encodings (5.2.2)', () => {
    const u = (v: number) => {
      const out: number[] = [];
      uleb(out, v);
      return out;
    };
    const s = (v: number) => {
      const out: number[] = [];
      sleb(out, v);
      return out;
    };
    expect(u(0)).toEqual([0]);
    expect(u(127)).toEqual([0x7f]);
    expect(u(128)).toEqual([0x80, 1]);
    expect(u(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(u(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(s(0)).toEqual([0]);
    expect(s(63)).toEqual([0x3f]);
    expect(s(64)).toEqual([0xc0, 0]);
    expect(s(-1)).toEqual([0x7f]);
    expect(s(-64)).toEqual([0x40]);
    expect(s(-65)).toEqual([0xbf, 0x7f]);
    expect(s(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(s(-0x80000000)).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
  });

  test('a module with an imported memory and function, locals, a loop and an export runs', () => {
    const m = new ModuleWriter();
    const log: number[] = [];
    const record = m.importFunction('js', 'record', { params: [I32], results: [] });
    m.importMemory('js', 'memory', 1);
    // sum(n): for (i = n; i != 0; i--) { mem[8] += i; record(i) } return mem[8]
    const f = new FunctionBody({ params: [I32], results: [I32] });
    const i = f.local();
    f.get(0).set(i);
    f.begin(Op.block).begin(Op.loop);
    f.get(i).op(Op.i32Eqz).brIf(1);
    f.i32(0).field(8).get(i).op(Op.i32Add).mem(Op.i32Store, 8);
    f.get(i).call(record);
    f.get(i).i32(1).op(Op.i32Sub).set(i);
    f.br(0).end().end();
    f.field(8);
    m.exportFunction('sum', m.addFunction(f));
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(m.bytes()), {
      js: { memory, record: (v: number) => log.push(v) },
    });
    expect((instance.exports.sum as (n: number) => number)(10)).toBe(55);
    expect(log).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(new Int32Array(memory.buffer)[2]).toBe(55);
  });
});

describe('state layout', () => {
  test('registers, selectors, segment bases, the TLB and RAM are views of one WebAssembly memory', () => {
    const memory = new PhysicalMemory(1 << 20);
    const cpu = new Cpu(memory, new OpenIoBus());
    expect(memory.wasmMemory).not.toBeNull();
    expect(cpu.stateInMemory).toBe(true);
    const words = new Int32Array(memory.buffer);
    cpu.reg32[3] = 0x11223344;
    expect(words[(STATE_REG32 >> 2) + 3]).toBe(0x11223344);
    cpu.reg8[1] = 0x99; // AH: byte 1 of EAX
    expect(words[STATE_REG32 >> 2] & 0xff00).toBe(0x9900);
    cpu.sreg[2] = 0x1234;
    expect(new Uint16Array(memory.buffer)[(STATE_SREG >> 1) + 2]).toBe(0x1234);
    cpu.segBase[5] = 0x5000;
    expect(words[(STATE_SEG_BASE >> 2) + 5]).toBe(0x5000);
    expect(cpu.mmu.tlb.byteOffset).toBe(TLB_BASE);
    memory.write32(0x1000, 0xcafe);
    expect(words[(RAM_BASE + 0x1000) >> 2]).toBe(0xcafe);
    expect(memory.ram.byteOffset).toBe(RAM_BASE);
  });

  test('a second CPU on the same memory keeps its state apart and compiles to JavaScript', () => {
    const memory = new PhysicalMemory(1 << 20);
    const first = new Cpu(memory, new OpenIoBus());
    const second = new Cpu(memory, new OpenIoBus());
    expect(second.stateInMemory).toBe(false);
    first.reg32[0] = 1;
    second.reg32[0] = 2;
    expect(first.reg32[0]).toBe(1);
    second.jit.backend = 'wasm';
    expect(second.jit.backend).toBe('js');
  });
});

/** A CPU with its support module, the state area as words, and the JavaScript slow paths' calls. */
function support() {
  const memory = new PhysicalMemory(1 << 20);
  const cpu = new Cpu(memory, new OpenIoBus());
  const slow: string[] = [];
  const exports = instantiateSupport(memory.wasmMemory as WebAssembly.Memory, {
    rd8: (seg, off) => (slow.push(`rd8 ${seg} ${off}`), cpu.read8(seg, off)),
    rd16: (seg, off) => (slow.push(`rd16 ${seg} ${off}`), cpu.read16(seg, off)),
    rd32: (seg, off) => (slow.push(`rd32 ${seg} ${off}`), cpu.read32(seg, off)),
    wr8: (seg, off, v) => (slow.push(`wr8 ${seg} ${off}`), cpu.write8(seg, off, v), 0),
    wr16: (seg, off, v) => (slow.push(`wr16 ${seg} ${off}`), cpu.write16(seg, off, v), 0),
    wr32: (seg, off, v) => (slow.push(`wr32 ${seg} ${off}`), cpu.write32(seg, off, v), 0),
  });
  return { cpu, memory, exports, slow, state: new Int32Array(memory.buffer, 0, 64) };
}

describe('support module', () => {
  const OPS = [OP_ADD, OP_ADC, OP_SUB, OP_SBB, OP_LOGIC];
  const EDGES = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, -1];

  test('cf() and cond(cc) agree with flags.ts on edge and random lazy states', () => {
    const { exports, state } = support();
    let seed = 12345;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) | 0);
    const check = (op: number, size: number, dst: number, src: number, pending: number, flags: number) => {
      // Results as the CPU records them: 8- and 16-bit ones are not masked.
      const res =
        op === OP_ADD
          ? dst + src
          : op === OP_ADC
            ? dst + src + 1
            : op === OP_SUB
              ? dst - src
              : op === OP_SBB
                ? dst - src - 1
                : dst & src;
      const c = {
        lazyOp: op,
        lazySize: size,
        lazyDst: dst,
        lazySrc: src,
        lazyRes: res | 0,
        lazyFlags: pending,
        flags,
      } as unknown as Cpu;
      state[STATE_LAZY_OP >> 2] = op;
      state[STATE_LAZY_SIZE >> 2] = size;
      state[STATE_LAZY_DST >> 2] = dst;
      state[STATE_LAZY_SRC >> 2] = src;
      state[STATE_LAZY_RES >> 2] = res | 0;
      state[STATE_LAZY_FLAGS >> 2] = pending;
      state[STATE_FLAGS >> 2] = flags;
      const cf = pending & FLAG_CF ? carryFrom(op, size, dst, src, res | 0) : flags & FLAG_CF;
      expect(exports.cf(), `cf of ${JSON.stringify(c)}`).toBe(cf);
      for (let cc = 0; cc < 16; cc++) {
        expect(exports.cond(cc), `cond ${cc} of ${JSON.stringify(c)}`).toBe(testCondition(c, cc) ? 1 : 0);
      }
    };
    for (const op of OPS) {
      for (let size = 0; size < 3; size++) {
        const mask = [0xff, 0xffff, -1][size];
        for (const d of EDGES) for (const s of EDGES) check(op, size, d & mask, s & mask, 0x8d5, 2);
        for (let i = 0; i < 3000; i++) {
          check(op, size, random() & mask, random() & mask, random() & 0x8d5, (random() & 0x8d5) | 2);
        }
      }
    }
  });

  test('reads and writes take the fast path where the TLB allows, else the slow path after reporting', () => {
    const { cpu, memory, exports, slow, state } = support();
    memory.write32(0x2000, 0x44332211);
    // Real mode, DS base 0: the first access fills the TLB through the slow path.
    expect(exports.rd32(3, 0x2000, 0x77, 5) >>> 0).toBe(0x44332211);
    expect(slow).toEqual(['rd32 3 8192']);
    expect(state[STATE_EXIT_START >> 2]).toBe(0x77);
    expect(state[STATE_EXIT_DONE >> 2]).toBe(5);
    cpu.read8(3, 0x2000); // fills the page's TLB entry
    slow.length = 0;
    expect(exports.rd8(3, 0x2001, 0, 0)).toBe(0x22);
    expect(exports.rd16(3, 0x2002, 0, 0)).toBe(0x4433);
    expect(exports.rd32(3, 0x2000, 0, 0) >>> 0).toBe(0x44332211);
    // Crossing the page end goes the slow way, as does a page without a TLB entry.
    expect(exports.rd32(3, 0x2ffe, 0, 0)).toBe(cpu.read32(3, 0x2ffe));
    expect(slow).toEqual(['rd32 3 12286']);
    slow.length = 0;
    cpu.write8(3, 0x2000, 0); // write rights for the page
    slow.length = 0;
    expect(exports.wr16(3, 0x2004, 0xbeef, 0, 0)).toBe(0);
    expect(exports.wr32(3, 0x2008, -2, 0, 0)).toBe(0);
    expect(slow).toEqual([]);
    expect(memory.read16(0x2004)).toBe(0xbeef);
    expect(memory.read32(0x2008) | 0).toBe(-2);
    // Beyond the segment limit: the slow path (which raises #GP).
    cpu.segLimit[3] = 0x2005;
    expect(() => exports.rd32(3, 0x2004, 0, 0)).toThrow();
    expect(slow).toEqual(['rd32 3 8196']);
  });
});

describe('choosing the back end', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.unstubAllEnvs();
  });

  test('VISOR86_JIT_BACKEND picks it; anything else means the default', () => {
    vi.stubEnv('VISOR86_JIT_BACKEND', 'js');
    expect(jitBackendFromEnvironment()).toBe('js');
    vi.stubEnv('VISOR86_JIT_BACKEND', ' WASM ');
    expect(jitBackendFromEnvironment()).toBe('wasm');
    vi.stubEnv('VISOR86_JIT_BACKEND', 'asm.js');
    expect(['js', 'wasm']).toContain(jitBackendFromEnvironment());
  });

  test('where WebAssembly is refused (CSP), regions are compiled to JavaScript and run correctly', () => {
    const code = Uint8Array.from([0xb9, 0x10, 0x27, 0, 0, 0x01, 0xc8, 0x49, 0x75, 0xfb, 0xf4]); // sum 1..10000
    const reference = execute(machine('flat32', code, 3, 'off'), 100_000, false);
    const m = machine('flat32', code, 3, 'auto');
    m.cpu.jit.backend = 'wasm';
    m.cpu.jit.threshold = 10; // so the loop is compiled again after the first compile is refused
    expect(m.cpu.jit.backend).toBe('wasm');
    // What a page under a policy without 'wasm-unsafe-eval' sees when it compiles a module.
    const CompileError = WebAssembly.CompileError;
    const stub = Object.create(WebAssembly) as typeof WebAssembly;
    Object.defineProperty(stub, 'Module', {
      value: function refused() {
        throw new CompileError(
          "WebAssembly.Module(): Refused to compile or instantiate WebAssembly module because 'wasm-unsafe-eval' is not an allowed source",
        );
      },
    });
    vi.stubGlobal('WebAssembly', stub);
    expect(execute(m, 100_000, false)).toBe(reference);
    expect(m.cpu.jit.backend).toBe('js');
    expect(m.cpu.jit.stats.regions).toBeGreaterThan(0);
  });

  test('after a flush, new regions reuse the table slots of the dropped ones and run their own code', () => {
    const sum = [0xb9, 0x10, 0x27, 0, 0, 0x01, 0xc8, 0x49, 0x75, 0xfb, 0xf4]; // eax += 10000 + ... + 1
    const difference = [0xb9, 0x10, 0x27, 0, 0, 0x29, 0xc8, 0x49, 0x75, 0xfb, 0xf4]; // eax -= the same
    const m = machine('flat32', Uint8Array.from(sum), 3, 'on');
    m.cpu.jit.backend = 'wasm';
    const eax = m.cpu.reg32[EAX];
    execute(m, 100_000, false);
    expect(m.cpu.reg32[EAX]).toBe((eax + 50005000) | 0);
    const regions = m.cpu.jit.stats.regions;
    expect(regions).toBeGreaterThan(0);
    // Dropped, then the other loop loaded where the first was, written behind the JIT's back.
    m.cpu.jit.flush();
    m.memory.ram.set(difference, CODE);
    m.cpu.halted = false;
    m.cpu.eip = CODE;
    execute(m, 100_000, false);
    expect(m.cpu.reg32[EAX]).toBe(eax);
    expect(m.cpu.jit.stats.regions).toBeGreaterThan(regions);
  });

  test('both back ends leave the same state after the same loop', () => {
    const code = Uint8Array.from([0xb9, 0x10, 0x27, 0, 0, 0x01, 0xc8, 0x49, 0x75, 0xfb, 0xf4]);
    const states = (['js', 'wasm'] as const).map((backend) => {
      const m = machine('flat32', code, 3, 'on');
      m.cpu.jit.backend = backend;
      expect(m.cpu.jit.backend).toBe(backend);
      return execute(m, 100_000, false);
    });
    expect(states[1]).toBe(states[0]);
  });
});

describe('the WebAssembly dispatcher', () => {
  // A loop that calls a function on the next page: two regions (the loop with the code after the call, and
  // the function) that follow each other without the JavaScript dispatcher once the cache knows them.
  const callLoop = () => {
    const code = new Uint8Array(0x1010);
    // ecx = 10000; loop: call CODE+0x1000; dec ecx; jnz loop; hlt
    code.set([0xb9, 0x10, 0x27, 0, 0, 0xe8, 0xf6, 0x0f, 0, 0, 0x49, 0x75, 0xf8, 0xf4], 0);
    // CODE+0x1000: add eax, ecx; ret
    code.set([0x01, 0xc8, 0xc3], 0x1000);
    return code;
  };

  test("regions are entered from region to region through its cache, with the interpreter's result", () => {
    const code = callLoop();
    const reference = execute(machine('flat32', code, 5, 'off'), 200_000, false);
    const m = machine('flat32', code, 5, 'auto');
    m.cpu.jit.backend = 'wasm';
    m.cpu.jit.threshold = 10;
    runFor(m, 200_000, 20_000);
    expect(execute(m, 0, false)).toBe(reference);
    const s = m.cpu.jit.stats;
    // 10000 iterations, two region entries each: nearly all of them through the cache.
    expect(s.regionCalls).toBeGreaterThan(19_000);
    expect(s.chained).toBeGreaterThan(s.regionCalls * 0.9);
  });

  test('warm code is compiled into the module of a region that reached the threshold', () => {
    const code = new Uint8Array(0x1010);
    // ecx = 60; l1: call F; dec ecx; jnz l1          (F warm: 60 runs, threshold 100)
    // ecx = 200; l2: add eax, ecx; dec ecx; jnz l2   (compiled at its 101st run, F along with it)
    // ecx = 30; l3: call F; dec ecx; jnz l3; hlt     (F's region called 30 times)
    code.set([0xb9, 60, 0, 0, 0, 0xe8, 0xf6, 0x0f, 0, 0, 0x49, 0x75, 0xf8], 0);
    code.set([0xb9, 200, 0, 0, 0, 0x01, 0xc8, 0x49, 0x75, 0xfb], 13);
    code.set([0xb9, 30, 0, 0, 0, 0xe8, 0xdf, 0x0f, 0, 0, 0x49, 0x75, 0xf8, 0xf4], 23);
    // F, on the next page (so that it is no block of l2's region): add ebx, ecx; ret
    code.set([0x01, 0xcb, 0xc3], 0x1000);
    const reference = machine('flat32', code, 3, 'off');
    const expected = execute(reference, 10_000, false);
    expect(reference.cpu.halted).toBe(true);
    const m = machine('flat32', code, 3, 'auto');
    m.cpu.jit.backend = 'wasm';
    m.cpu.jit.threshold = 100;
    expect(execute(m, 10_000, false)).toBe(expected);
    const s = m.cpu.jit.stats;
    expect(s.warmCompiled).toBeGreaterThanOrEqual(1);
    // F never reached the threshold (90 runs), yet ran compiled in the third loop.
    expect(s.regionCalls).toBeGreaterThanOrEqual(30);
  });

  test('memory accesses compiled for flat segments are not reused once DS has a base', () => {
    // mov eax, [ebx]; hlt
    const m = machine('flat32', Uint8Array.from([0x8b, 0x03, 0xf4]), 1, 'on');
    m.cpu.jit.backend = 'wasm';
    m.memory.write32(DATA, 0x11111111);
    m.memory.write32(DATA + 0x1000, 0x22222222);
    m.cpu.reg32[EBX] = DATA;
    execute(m, 10, false);
    expect(m.cpu.reg32[EAX] >>> 0).toBe(0x11111111);
    const regions = m.cpu.jit.stats.regions;
    // The same code with DS based at 4 KiB (as a segment load would leave it).
    m.cpu.segBase[DS] = 0x1000;
    m.cpu.halted = false;
    m.cpu.eip = CODE;
    execute(m, 10, false);
    expect(m.cpu.reg32[EAX] >>> 0).toBe(0x22222222);
    expect(m.cpu.jit.stats.regions).toBeGreaterThan(regions);
  });
});

describe('CALL to a PIC thunk (mov reg, [esp]; ret) in place', () => {
  test('pcThunkRegister knows the thunk for every register but ESP, and nothing else', () => {
    expect(pcThunkRegister(0x8b, 0x1c, 0x24, 0xc3)).toBe(EBX);
    expect(pcThunkRegister(0x8b, 0x04, 0x24, 0xc3)).toBe(EAX);
    expect(pcThunkRegister(0x8b, 0x3c, 0x24, 0xc3)).toBe(7);
    expect(pcThunkRegister(0x8b, 0x24, 0x24, 0xc3)).toBe(-1); // mov esp, [esp]
    expect(pcThunkRegister(0x8b, 0x1c, 0x24, 0xc2)).toBe(-1); // ret imm16
    expect(pcThunkRegister(0x8b, 0x5c, 0x24, 0xc3)).toBe(-1); // [esp + disp8]
    expect(pcThunkRegister(0x89, 0x1c, 0x24, 0xc3)).toBe(-1); // a store
  });

  const THUNK = CODE + 0x1000; // on the next page: a region of its own if it were called
  const ITERATIONS = 3000;
  /**
   * ecx = 3000; loop: call THUNK; add eax, ebx; add edx, esi; [at ecx == 1500: `extra`]; dec ecx; jnz loop;
   * hlt. THUNK: mov ebx, [esp]; ret.
   */
  const thunkLoop = (extra: number[]) => {
    const code = new Uint8Array(0x1004);
    const body = [0xb9, ...le32(ITERATIONS), 0xe8, 0, 0, 0, 0, 0x01, 0xd8, 0x01, 0xf2];
    body.push(0x81, 0xf9, ...le32(ITERATIONS / 2), 0x75, extra.length, ...extra);
    body.push(0x49, 0x0f, 0x85, ...le32(5 - (body.length + 7)), 0xf4);
    code.set(body, 0);
    new DataView(code.buffer).setInt32(6, THUNK - (CODE + 10), true);
    code.set([0x8b, 0x1c, 0x24, 0xc3], 0x1000);
    return code;
  };
  const run = (mode: FuzzMode, code: Uint8Array, jit: 'off' | 'auto', lure = false) => {
    const m = machine(mode, code, 9, jit);
    // The thunk's bytes at physical 0 as well, where an empty TLB entry's address points: only the entry's
    // rights can tell the compiled code that the thunk is gone.
    if (lure) m.memory.writeBytes(0, Uint8Array.from([0x8b, 0x1c, 0x24, 0xc3]));
    m.cpu.jit.backend = 'wasm';
    m.cpu.jit.threshold = 10;
    runFor(m, 100_000, 20_000);
    return { m, state: execute(m, 0, false) };
  };

  test("runs the thunk inside the caller's region, with the interpreter's result", () => {
    const code = thunkLoop([]);
    const reference = run('flat32', code, 'off');
    expect(reference.m.cpu.halted).toBe(true);
    const { m, state } = run('flat32', code, 'auto');
    expect(state).toBe(reference.state);
    // Two regions entered per iteration (the thunk, then the rest of the loop) when the CALL leaves the
    // region; with the thunk in place the loop's region runs on by itself.
    expect(m.cpu.jit.stats.regionCalls).toBeLessThan(ITERATIONS / 10);
  });

  test('a thunk rewritten on its page (no code compiled there) is a CALL again', () => {
    // At iteration 1500: mov dword [THUNK], 0xc324348b (mov esi, [esp]; ret).
    const code = thunkLoop([0xc7, 0x05, ...le32(THUNK), ...le32(0xc324348b)]);
    const reference = run('flat32', code, 'off');
    expect(reference.m.cpu.reg32[2]).not.toBe(0); // EDX summed ESI after the rewrite
    expect(run('flat32', code, 'auto').state).toBe(reference.state);
  });

  test("a thunk whose page is gone faults at its fetch, after the CALL's push", () => {
    // At iteration 1500: the thunk's page table entry cleared, then invlpg [THUNK].
    const pte = PAGE_TABLE + (THUNK >>> 12) * 4;
    const code = thunkLoop([0xc7, 0x05, ...le32(pte), ...le32(0), 0x0f, 0x01, 0x3d, ...le32(THUNK)]);
    const reference = run('paged32', code, 'off', true);
    // The page fault's handler (a HLT) stopped it, with CR2 at the thunk.
    expect(reference.m.cpu.eip).toBe(HANDLERS + 14 + 1);
    expect(reference.m.cpu.cr2 >>> 0).toBe(THUNK);
    expect(run('paged32', code, 'auto', true).state).toBe(reference.state);
  });
});

describe('REP MOVS / REP STOS in compiled code', () => {
  const F = CODE + 0x1000; // a function on the next page: add eax, ecx; ret
  const ITERATIONS = 400;
  const movImm = (reg: number, v: number) => [0xb8 + reg, ...le32(v)];
  const ecxFromEbp = [0x89, 0xe9]; // mov ecx, ebp
  /**
   * ebp = 400 down to 1, each time: REP MOVSD within a page, REP STOSB of zeroes, REP STOSD and REP STOSW of
   * a pattern with unaligned destinations, REP MOVSB from and to across a page boundary, REP MOVSB onto its own source
   * one byte ahead (element by element repeats the first byte), REP MOVSD onto its source one dword behind;
   * at ebp = 200 a REP STOSB of 5000 bytes (more than one step), at ebp = 100 a REP MOVSD with DF set, at
   * ebp = 150 a REP MOVSB that rewrites F's code (add eax, ecx becomes sub eax, ecx); then call F, sum
   * some of what was written into EBX and EDX. Last, a REP STOSD that runs into DATA+0x3000 (read-only when
   * paged), then HLT. Paged, the page after DATA is elsewhere in RAM, and the last iteration's REP STOSD of
   * 0x40000004 dwords faults at the page that is not present.
   */
  const program = (mode: FuzzMode) => {
    const b: number[] = [0xbd, ...le32(ITERATIONS)];
    const loop = b.length;
    b.push(...movImm(6, DATA), ...movImm(7, DATA + 0x600), ...ecxFromEbp, 0x81, 0xe1, ...le32(0xff));
    b.push(0xf3, 0xa5, 0x01, 0xca, 0x01, 0xfb, 0x01, 0xf3); // rep movsd; add edx, ecx; add ebx, edi; add ebx, esi
    b.push(0x31, 0xc0, ...movImm(7, DATA + 0x1003), ...ecxFromEbp, 0xf3, 0xaa);
    b.push(0x89, 0xe8, 0x69, 0xc0, ...le32(0x01000193)); // mov eax, ebp; imul eax, eax, 0x01000193
    b.push(...movImm(7, DATA + 0x1402), ...ecxFromEbp, 0xd1, 0xe9, 0xf3, 0xab, 0x01, 0xfb, 0x01, 0xca);
    b.push(...movImm(7, DATA + 0x1801), ...ecxFromEbp, 0x66, 0xf3, 0xab);
    b.push(...movImm(6, DATA + 0xfc0), ...movImm(7, DATA + 0x2800), ...ecxFromEbp, 0xf3, 0xa4);
    b.push(...movImm(6, DATA + 0x2400), ...movImm(7, DATA + 0xfc0), ...ecxFromEbp, 0xf3, 0xa4);
    b.push(...movImm(6, DATA + 0x2000), ...movImm(7, DATA + 0x2001), ...ecxFromEbp, 0x83, 0xe1, 0x3f);
    b.push(0xf3, 0xa4);
    b.push(...movImm(6, DATA + 0x2204), ...movImm(7, DATA + 0x2200), ...movImm(1, 0x40), 0xf3, 0xa5);
    // cmp ebp, 200; jne +n; mov edi, DATA+0x4000; mov ecx, 5000; rep stosb
    const big = [...movImm(7, DATA + 0x4000), ...movImm(1, 5000), 0xf3, 0xaa];
    b.push(0x81, 0xfd, ...le32(200), 0x75, big.length, ...big);
    // cmp ebp, 100; jne +n; std; mov esi, DATA+0x500; mov edi, DATA+0x2e00; mov ecx, 64; rep movsd; cld
    const down = [0xfd, ...movImm(6, DATA + 0x500), ...movImm(7, DATA + 0x2e00), ...movImm(1, 64)];
    down.push(0xf3, 0xa5, 0xfc);
    b.push(0x81, 0xfd, ...le32(100), 0x75, down.length, ...down);
    // cmp ebp, 150; jne +n; mov esi, DATA+0x30; mov edi, F; mov ecx, 2; rep movsb
    const patch = [...movImm(6, DATA + 0x30), ...movImm(7, F), ...movImm(1, 2), 0xf3, 0xa4];
    b.push(0x81, 0xfd, ...le32(150), 0x75, patch.length, ...patch);
    // ecx = 4, paged: at ebp = 1, 0x40000004 (4 << 2 bytes after wrapping); rep stosd at DATA+0xaf00, which
    // then runs into the page that is not present
    b.push(0x83, 0xfd, 0x01, 0x0f, 0x94, 0xc0, 0x0f, 0xb6, 0xc0); // cmp ebp, 1; sete al; movzx eax, al
    if (mode === 'paged32')
      b.push(0xc1, 0xe0, 0x1e); // shl eax, 30
    else b.push(0x31, 0xc0); // xor eax, eax
    b.push(0x83, 0xc0, 0x04, 0x89, 0xc1, ...movImm(7, DATA + 0xaf00), 0xf3, 0xab);
    b.push(...ecxFromEbp, 0xe8, ...le32(0)); // call F (patched below)
    const call = b.length;
    b.push(0x03, 0x1d, ...le32(DATA + 0x600), 0x03, 0x1d, ...le32(DATA + 0x1404)); // add ebx, [..]
    b.push(0x03, 0x15, ...le32(DATA + 0x2010), 0x03, 0x15, ...le32(DATA + 0x2810)); // add edx, [..]
    b.push(0x03, 0x15, ...le32(DATA + 0x2200), 0x03, 0x15, ...le32(DATA + 0x2f00));
    b.push(0x4d, 0x0f, 0x85, ...le32(loop - (b.length + 7))); // dec ebp; jnz loop
    b.push(...movImm(7, DATA + 0x2ff0), ...movImm(1, 16), 0xf3, 0xab, 0xf4);
    const code = new Uint8Array(0x1004);
    code.set(b, 0);
    new DataView(code.buffer).setInt32(call - 4, F - (CODE + call), true);
    code.set([0x01, 0xc8, 0xc3], 0x1000);
    return code;
  };
  const run = (mode: FuzzMode, jit: 'off' | 'auto') => {
    const m = machine(mode, program(mode), 11, jit);
    for (const base of [DATA, 0x30000])
      for (let a = 0x400; a < 0x10000; a += 4) m.memory.write32(base + a, Math.imul(base + a, 0x9e3779b1));
    m.memory.writeBytes(DATA + 0x30, Uint8Array.from([0x29, 0xc8]));
    // Paged: the page after DATA's elsewhere, so that a run done as one copy past a page's end differs.
    if (mode === 'paged32') m.memory.write32(PAGE_TABLE + ((DATA + 0x1000) >>> 12) * 4, 0x30000 | 7);
    m.cpu.jit.backend = 'wasm';
    m.cpu.jit.threshold = 10;
    runFor(m, 200_000, 20_000);
    return { m, state: execute(m, 0, false) };
  };

  for (const mode of ['flat32', 'paged32'] as const) {
    test(`end as the interpreter ends, and the region goes on after them (${mode})`, () => {
      const reference = run(mode, 'off');
      const c = reference.m.cpu;
      expect(c.halted).toBe(true);
      if (mode === 'paged32') {
        // In the last iteration the REP STOSD of 0x40000004 dwords faulted at the page not present, with
        // EDI and ECX where it stopped.
        expect(c.cr2 >>> 0).toBe(DATA + 0xb000);
        expect(c.reg32[1]).toBe(0x40000004 - 0x40);
      } else {
        // The last REP STOSD faulted at nothing (no paging).
        expect(c.reg32[1]).toBe(0);
        expect(c.reg32[7]).toBe(DATA + 0x3030);
      }
      const { m, state } = run(mode, 'auto');
      expect(state).toBe(reference.state);
      // With every REP ending its region there were more than 8 region calls per iteration.
      expect(m.cpu.jit.stats.regionCalls).toBeLessThan(ITERATIONS * 4);
    });
  }
});

describe('x87 instructions in compiled code', () => {
  test('all but FCMOVcc and FCOMI/FUCOMI(P) leave EFLAGS alone', () => {
    const keeps = (...bytes: number[]) => {
      const insn = decode(Uint8Array.from([...bytes, 0, 0, 0, 0, 0, 0]), 0, 16, 0, 1);
      if (insn === null) throw new Error('no instruction');
      return x87KeepsFlags(insn);
    };
    for (const modrm of [0xc0, 0xc8, 0xd0, 0xd8, 0xdf]) {
      expect(keeps(0xda, modrm)).toBe(false); // FCMOVB, FCMOVE, FCMOVBE, FCMOVU
      expect(keeps(0xdb, modrm)).toBe(false); // FCMOVNB ... FCMOVNU
    }
    for (const modrm of [0xe8, 0xef, 0xf0, 0xf7]) {
      expect(keeps(0xdb, modrm)).toBe(false); // FUCOMI, FCOMI
      expect(keeps(0xdf, modrm)).toBe(false); // FUCOMIP, FCOMIP
    }
    expect(keeps(0xda, 0xe9)).toBe(true); // FUCOMPP
    expect(keeps(0xdb, 0xe2)).toBe(true); // FNCLEX
    expect(keeps(0xdb, 0xe3)).toBe(true); // FNINIT
    expect(keeps(0xdf, 0xe0)).toBe(true); // FNSTSW AX
    expect(keeps(0xdf, 0xc0)).toBe(true); // FFREEP
    expect(keeps(0xd8, 0xc1)).toBe(true); // FADD
    expect(keeps(0xdd, 0x05)).toBe(true); // FLD m64
    expect(keeps(0xda, 0x05)).toBe(true); // FIADD m32 (a memory form of DA)
  });

  const fpuState = (m: ReturnType<typeof machine>) =>
    `${execute(m, 0, false)}\nfpu ${JSON.stringify(m.cpu.fpu.saveState())}`;
  const run = (mode: FuzzMode, code: number[], jit: 'off' | 'auto') => {
    const m = machine(mode, Uint8Array.from(code), 13, jit);
    m.memory.write32(DATA + 0x500, 0); // 1.5
    m.memory.write32(DATA + 0x504, 0x3ff80000);
    m.memory.write32(DATA + 0x508, 0); // 3.0
    m.memory.write32(DATA + 0x50c, 0x40080000);
    m.cpu.jit.backend = 'wasm';
    m.cpu.jit.threshold = 10;
    runFor(m, 100_000, 100_000);
    return m;
  };

  test("a loop of x87 memory and register forms (and SAHF) ends in the interpreter's state, with no fallbacks", () => {
    // mov ecx, 200; fldz; l: fild dword [DATA+0x100+ecx*4]; fmul qword [DATA+0x500]; fld1; faddp;
    // fld qword [DATA+0x508]; fdivp; cmp ecx, 100; fcomi st0, st1; adc edi, 0; cmp ecx, 80;
    // fcmovb st0, st1; faddp; fst qword [DATA+0x600];
    // fcom st1; fnstsw ax; add esi, eax; mov edx, ecx; add edx, 0x7fffff80; sahf; seto dl; adc edi, edx;
    // sahf; jmp $+2; adc edi, 0 (CF read in another block); o16 fnstenv [DATA+0x700]; fnstenv [DATA+0x720]; dec ecx; jnz l; hlt
    const code = [0xb9, ...le32(200), 0xd9, 0xee];
    const loop = code.length;
    code.push(0xdb, 0x04, 0x8d, ...le32(DATA + 0x100), 0xdc, 0x0d, ...le32(DATA + 0x500), 0xd9, 0xe8);
    code.push(0xde, 0xc1, 0xdd, 0x05, ...le32(DATA + 0x508), 0xde, 0xf9, 0x83, 0xf9, 0x64, 0xdb, 0xf1);
    code.push(0x83, 0xd7, 0x00, 0x83, 0xf9, 0x50, 0xda, 0xc1);
    code.push(0xde, 0xc1, 0xdd, 0x15, ...le32(DATA + 0x600), 0xd8, 0xd1, 0xdf, 0xe0, 0x01, 0xc6);
    code.push(0x89, 0xca, 0x81, 0xc2, ...le32(0x7fffff80), 0x9e, 0x0f, 0x90, 0xc2, 0x11, 0xd7);
    code.push(0x9e, 0xeb, 0x00, 0x83, 0xd7, 0x00);
    code.push(0x66, 0xd9, 0x35, ...le32(DATA + 0x700), 0xd9, 0x35, ...le32(DATA + 0x720));
    code.push(0x49, 0x0f, 0x85, ...le32(loop - (code.length + 7)), 0xf4);
    const reference = run('flat32', code, 'off');
    expect(reference.cpu.halted).toBe(true);
    const m = run('flat32', code, 'auto');
    expect(fpuState(m)).toBe(fpuState(reference));
    // Every x87 instruction, FCOMI (which writes EFLAGS) too, runs without a fallback and within the region.
    expect(m.cpu.jit.stats.regionCalls).toBeLessThan(20);
    expect(m.cpu.jit.stats.fallbacks).toBe(0);
  });

  // The values at T: 1.5, -0, +inf, a denormal, a quiet NaN, a signalling NaN, 1e300, 5.0. ecx = 64 down to
  // 1, esi = (ecx & 7) * 8, then x87 instructions, each followed by fnstsw ax; add edi, eax; rol edi, 5:
  // [with `reg` first: fld st0; fstp st0;] fst qword [O+0xe0+esi]; fld qword [T+esi]; fld st2; fxch st2;
  // fld st2; fstp qword [O+0x1c0+esi] (what FXCH left in ST(2)); fst qword [O+esi]; fld1;
  // fdiv qword [T+56] (1/5: an 80-bit value); fst qword [O+0xc0+esi] (rounded up: C1 set);
  // fld qword [T+esi] (C1 clear); fstp st0; fst qword [O+0x180+esi] (C1 set); fld st2 (C1 clear); fstp st0;
  // fxch st1; fstp qword [O+0x40+esi]; fstp st0; fst st3 (into an empty register); fld st3; fstp st0;
  // ffree st3; fst st1; fstp st0; fstp qword [O+0x80+esi]; fld st0; then fnclex. At ecx = 40: six FLD1 (the
  // stack is full: pushes overflow, masked), at 36 six FSTP ST0; at 34 FLD m64 and FFREE ST0 (an empty ST(0)
  // that holds a float64), at 32 FSTP ST0; at 30 ten FSTP ST0 (the stack is empty: reads underflow, masked),
  // at 26 FLDZ, FLD1. With `mf` (CR0.NE set), at 20: FNCLEX, IE unmasked and an FLD of the signalling NaN
  // (ES pending: #MF at the next waiting instruction); with `nm`, CR0.TS is set from outside at the end of
  // the iteration with ecx = 3 (#NM at the next one; a MOV to CR0 would reload the TLB, and the next lookup
  // of compiled code would find nothing until the interpreter had walked the page tables again).
  const T = DATA + 0x800;
  const O = DATA + 0x900;
  // x87 import calls of the mem/mf loop: 1561 without the moves in place, 468 with them.
  const X87_CALLS_AT_MOST = 800;
  const movesLoop = (first: 'mem' | 'reg', end: 'mf' | 'nm') => {
    const m64 = (modrm: number, at: number) => [0xdd, modrm, ...le32(at)];
    const fstp0 = [0xdd, 0xd8];
    const fld1 = [0xd9, 0xe8];
    const code = [0xb9, ...le32(64), 0xd9, 0xee, ...fld1];
    const loop = code.length;
    code.push(0x89, 0xce, 0x83, 0xe6, 0x07, 0xc1, 0xe6, 0x03); // mov esi, ecx; and esi, 7; shl esi, 3
    const ops: number[][] = first === 'reg' ? [[0xd9, 0xc0], fstp0] : [];
    ops.push(m64(0x96, O + 0xe0), m64(0x86, T), [0xd9, 0xc2], [0xd9, 0xca], [0xd9, 0xc2]);
    ops.push(m64(0x9e, O + 0x1c0), m64(0x96, O), fld1);
    ops.push([0xdc, 0x35, ...le32(T + 56)], m64(0x96, O + 0xc0), m64(0x86, T), fstp0);
    ops.push(m64(0x96, O + 0x180), [0xd9, 0xc2], fstp0, [0xd9, 0xc9], m64(0x9e, O + 0x40));
    ops.push(fstp0, [0xdd, 0xd3], [0xd9, 0xc3], fstp0, [0xdd, 0xc3], [0xdd, 0xd1], fstp0);
    ops.push(m64(0x9e, O + 0x80), [0xd9, 0xc0]);
    for (const op of ops) code.push(...op, 0xdf, 0xe0, 0x01, 0xc7, 0xc1, 0xc7, 0x05);
    code.push(0xdb, 0xe2); // fnclex
    const at = (n: number, body: number[]) => code.push(0x83, 0xf9, n, 0x75, body.length, ...body);
    at(40, Array(6).fill(fld1).flat());
    at(36, Array(6).fill(fstp0).flat());
    at(34, [...m64(0x05, T), 0xdd, 0xc0]); // fld qword [T]; ffree st0
    at(32, fstp0);
    at(30, Array(10).fill(fstp0).flat());
    at(26, [0xd9, 0xee, ...fld1]);
    // fnclex; fldcw [O+0x200]; fld qword [T+40]
    if (end === 'mf') at(20, [0xdb, 0xe2, 0xd9, 0x2d, ...le32(O + 0x200), ...m64(0x05, T + 40)]);
    code.push(0x49, 0x0f, 0x85, ...le32(loop - (code.length + 7)), 0xf4);
    return code;
  };
  const values = [
    [0, 0x3ff80000],
    [0, 0x80000000],
    [0, 0x7ff00000],
    [1, 0],
    [0, 0x7ff80000],
    [1, 0x7ff00000],
    [0x7e37e43c, 0x7e37e43c],
    [0, 0x40140000],
  ];
  /** Instructions up to the end of the iteration with ecx = 3 (stepped in the interpreter). */
  const tsAt = (first: 'mem' | 'reg') => {
    const m = machine('paged32', Uint8Array.from(movesLoop(first, 'nm')), 13, 'off');
    while (m.cpu.reg32[1] !== 2) m.cpu.step();
    return m.cpu.instructionCount;
  };
  const runMoves = (first: 'mem' | 'reg', end: 'mf' | 'nm', jit: 'off' | 'auto') => {
    // Paged: with paging off the TLB grants nothing, and every memory form takes the x87 import.
    const m = machine('paged32', Uint8Array.from(movesLoop(first, end)), 13, jit);
    values.forEach(([lo, hi], k) => {
      m.memory.write32(T + 8 * k, lo);
      m.memory.write32(T + 8 * k + 4, hi);
    });
    m.memory.write32(O + 0x200, 0x37e); // all masked but IE
    m.cpu.jit.backend = 'wasm';
    m.cpu.jit.threshold = 10;
    if (end === 'mf')
      m.cpu.cr0 |= 0x20; // NE: #MF rather than FERR#
    else {
      // Up to the end of the iteration with ecx = 3, in one run() (which stops there in both modes).
      runFor(m, tsAt(first), tsAt(first));
      m.cpu.cr0 |= 0x08;
    }
    runFor(m, 100_000, 100_000);
    return m;
  };
  test('FLD m64 of NaNs and denormals and FST m64 of 80-bit values take the x87 import, with its flags', () => {
    // ecx = 64 down to 1, esi = (ecx & 7) * 8: fld qword [T+esi]; fld1; fdiv qword [T+56];
    // fst qword [O+esi]; fstp st0; fstp qword [O+0x40+esi]; fnstsw ax; add edi, eax; rol edi, 5; fnclex
    const code = [0xb9, ...le32(64)];
    const loop = code.length;
    code.push(0x89, 0xce, 0x83, 0xe6, 0x07, 0xc1, 0xe6, 0x03, 0xdd, 0x86, ...le32(T), 0xd9, 0xe8);
    code.push(0xdc, 0x35, ...le32(T + 56), 0xdd, 0x96, ...le32(O), 0xdd, 0xd8, 0xdd, 0x9e, ...le32(O + 0x40));
    code.push(0xdf, 0xe0, 0x01, 0xc7, 0xc1, 0xc7, 0x05, 0xdb, 0xe2);
    code.push(0x49, 0x0f, 0x85, ...le32(loop - (code.length + 7)), 0xf4);
    const go = (jit: 'off' | 'auto') => {
      const m = machine('paged32', Uint8Array.from(code), 13, jit);
      values.forEach(([lo, hi], k) => {
        m.memory.write32(T + 8 * k, lo);
        m.memory.write32(T + 8 * k + 4, hi);
      });
      m.cpu.jit.backend = 'wasm';
      m.cpu.jit.threshold = 10;
      runFor(m, 100_000, 100_000);
      return m;
    };
    const reference = go('off');
    expect(reference.cpu.halted).toBe(true);
    const m = go('auto');
    expect(m.cpu.jit.stats.regions).toBeGreaterThan(0);
    expect(fpuState(m)).toBe(fpuState(reference));
  });

  for (const first of ['mem', 'reg'] as const) {
    for (const end of ['mf', 'nm'] as const) {
      test(`FLD/FST(P) m64 and register moves run in place, else as the interpreter runs them (${first}, ${end})`, () => {
        const reference = runMoves(first, end, 'off');
        // It stopped in the #MF or #NM handler, at the first x87 instruction of the next iteration.
        expect(reference.cpu.eip).toBe(HANDLERS + (end === 'mf' ? 16 : 7) + 1);
        expect(reference.cpu.reg32[1]).toBe(end === 'mf' ? 19 : 2);
        const m = runMoves(first, end, 'auto');
        expect(m.cpu.jit.stats.regions).toBeGreaterThan(0);
        expect(fpuState(m)).toBe(fpuState(reference));
        if (first === 'mem' && end === 'mf') expect(m.cpu.jit.stats.x87Calls).toBeLessThan(X87_CALLS_AT_MOST);
      });
    }
  }

  test('a page fault on an x87 operand in compiled code is taken as the interpreter takes it', () => {
    // mov edi, DATA+0xa000; mov ecx, 100; l: fld qword [edi]; fstp qword [edi+8]; fnstsw ax; add esi, eax;
    // add edi, 0x100; dec ecx; jnz l; hlt (the 17th load is at DATA+0xb000: not present)
    const code = [0xbf, ...le32(DATA + 0xa000), 0xb9, ...le32(100)];
    const loop = code.length;
    code.push(0xdd, 0x07, 0xdd, 0x5f, 0x08, 0xdf, 0xe0, 0x01, 0xc6, 0x81, 0xc7, ...le32(0x100), 0x49);
    code.push(0x0f, 0x85, ...le32(loop - (code.length + 6)), 0xf4);
    const reference = run('paged32', code, 'off');
    expect(reference.cpu.cr2 >>> 0).toBe(DATA + 0xb000);
    expect(reference.cpu.eip).toBe(HANDLERS + 14 + 1);
    const m = run('paged32', code, 'auto');
    expect(m.cpu.jit.stats.regions).toBeGreaterThan(0);
    expect(fpuState(m)).toBe(fpuState(reference));
  });
});

describe('an instruction that runs past its page, in compiled code', () => {
  const A = CODE;
  const B = CODE + 0x1000;
  const PTE_B = PAGE_TABLE + (B >>> 12) * 4;
  const ALT = 0x31000; // paged: where page B moves at ITERATIONS / 4
  const ITERATIONS = 400;
  const jmp = (from: number, to: number) => [0xe9, ...le32(to - (from + 5))];
  /**
   * ecx = 400 down to 1: add edx, ecx; jmp A+0xff8; there inc esi; inc edi; nop x3; add eax, 0x44332211
   * (its last two bytes on page B); add ebx, eax; eax = 0x10 or 0x18 by bit 3 of ECX; jmp B+0xfff; there
   * mov ds, eax (its ModRM byte on page C), add edi, [0x100] (DS's base is 0x20000 with selector 0x18);
   * mov eax, 0x10; mov ds, eax; dec ecx; jnz; hlt. At ecx = 200 the immediate's bytes on page B are
   * rewritten. Paged, at ecx = 100 page B moves to ALT (a copy with other immediate bytes), and at ecx = 1
   * it is not present: the fetch of the ADD faults.
   */
  const program = (mode: FuzzMode) => {
    const code = new Uint8Array(0x2020);
    const b: number[] = [0xb9, ...le32(ITERATIONS)];
    const loop = b.length;
    const at = (n: number, body: number[]) => b.push(0x81, 0xf9, ...le32(n), 0x75, body.length, ...body);
    at(ITERATIONS / 2, [0x66, 0xc7, 0x05, ...le32(B), 0x21, 0x43]); // mov word [B], 0x4321
    const invlpg = [0x0f, 0x01, 0x3d, ...le32(B)];
    if (mode === 'paged32') {
      at(ITERATIONS / 4, [0xc7, 0x05, ...le32(PTE_B), ...le32(ALT | 7), ...invlpg]);
      at(1, [0xc7, 0x05, ...le32(PTE_B), ...le32(0), ...invlpg]);
    }
    b.push(0x01, 0xca, ...jmp(A + b.length + 2, A + 0xff8));
    code.set(b, 0);
    code.set([0x46, 0x47, 0x90, 0x90, 0x90, 0x05, 0x11, 0x22, 0x33, 0x44], 0xff8);
    const tail = [0x01, 0xc3, 0x89, 0xc8, 0x83, 0xe0, 0x08, 0x83, 0xc0, 0x10];
    tail.push(...jmp(B + 2 + tail.length, B + 0xfff));
    code.set(tail, 0x1002);
    const c: number[] = [0x8e, 0xd8, 0x03, 0x3d, ...le32(0x100), 0xb8, ...le32(0x10), 0x8e, 0xd8, 0x49];
    c.push(0x0f, 0x85, ...le32(A + loop - (A + 0x1fff + c.length + 6)), 0xf4);
    code.set(c, 0x1fff);
    return code;
  };
  const run = (mode: FuzzMode, jit: 'off' | 'auto') => {
    const code = program(mode);
    const m = machine(mode, code, 13, jit);
    for (let a = 0; a < 0x400; a += 4) m.memory.write32(DATA + a, Math.imul(a + 1, 0x9e3779b1));
    if (mode === 'paged32') {
      const page = code.slice(0x1000, 0x2000);
      page[0] = 0x55;
      page[1] = 0x66;
      m.memory.writeBytes(ALT, page);
    }
    m.cpu.jit.backend = 'wasm';
    m.cpu.jit.threshold = 10;
    runFor(m, 200_000, 20_000);
    return { m, state: execute(m, 0, false) };
  };

  for (const mode of ['flat32', 'paged32'] as const) {
    test(`runs as the interpreter runs it, at the end of its block (${mode})`, () => {
      const reference = run(mode, 'off');
      const c = reference.m.cpu;
      expect(c.halted).toBe(true);
      if (mode === 'paged32') {
        // The last iteration's ADD faulted at its fetch from page B.
        expect(c.cr2 >>> 0).toBe(B);
        expect(c.eip).toBe(HANDLERS + 14 + 1);
        expect(c.reg32[1]).toBe(1);
      } else expect(c.reg32[1]).toBe(0);
      const { m, state } = run(mode, 'auto');
      expect(state).toBe(reference.state);
      expect(m.cpu.jit.stats.regions).toBeGreaterThan(0);
      // Both instructions ran within regions: the interpreter's own steps of them (two an iteration, some
      // 1,000 instructions interpreted in all when blocks ended before them) are gone.
      expect(m.cpu.jit.stats.interpreted).toBeLessThan(ITERATIONS);
    });
  }
});
