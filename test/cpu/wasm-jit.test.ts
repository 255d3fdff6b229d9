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
import { pcThunkRegister } from '../../src/cpu/jit/wasm-codegen.ts';
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
