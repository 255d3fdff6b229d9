/**
 * A small writer of WebAssembly binary modules (WebAssembly Core Specification 1.0, chapter 5 "Binary
 * Format"), enough for the block compiler's regions: i32 (and a few i64) instructions, one imported memory,
 * imported and defined functions, exports. Code is written instruction by instruction into a FunctionBody;
 * ModuleWriter puts the sections together.
 */

/** Value types (5.3.1). */
export const I32 = 0x7f;
export const I64 = 0x7e;

/** Opcodes used by the compiler (5.4). Block types: 0x40 = no result, or a value type. */
export const Op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  call: 0x10,
  callIndirect: 0x11,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  i32Load8S: 0x2c,
  i32Load8U: 0x2d,
  i32Load16S: 0x2e,
  i32Load16U: 0x2f,
  i32Store: 0x36,
  i64Store: 0x37,
  i32Store8: 0x3a,
  i32Store16: 0x3b,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32LeS: 0x4c,
  i32LeU: 0x4d,
  i32GeS: 0x4e,
  i32GeU: 0x4f,
  i64Eqz: 0x50,
  i64Eq: 0x51,
  i64Ne: 0x52,
  i32Clz: 0x67,
  i32Ctz: 0x68,
  i32Popcnt: 0x69,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivS: 0x6d,
  i32DivU: 0x6e,
  i32RemS: 0x6f,
  i32RemU: 0x70,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  i32ShrU: 0x76,
  i32Rotl: 0x77,
  i32Rotr: 0x78,
  i64Mul: 0x7e,
  i64DivS: 0x7f,
  i64DivU: 0x80,
  i64RemS: 0x81,
  i64RemU: 0x82,
  i64And: 0x83,
  i64Or: 0x84,
  i64Shl: 0x86,
  i64ShrS: 0x87,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  i64ExtendI32S: 0xac,
  i64ExtendI32U: 0xad,
  i32Extend8S: 0xc0,
  i32Extend16S: 0xc1,
} as const;

/** Unsigned LEB128 (5.2.2). */
export function uleb(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

/** Signed LEB128 of an int32 (5.2.2). */
export function sleb(out: number[], value: number): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

/** A function signature: parameter and result value types. */
export interface Signature {
  params: readonly number[];
  results: readonly number[];
}

/** The code of one function: its extra locals (all i32) and its instructions. */
export class FunctionBody {
  readonly code: number[] = [];
  /** i32 locals beyond the parameters. */
  locals = 0;
  /** Or, when set, the locals beyond the parameters as (count, type) runs; local() must not be used then. */
  localGroups: Array<[number, number]> | null = null;

  constructor(readonly signature: Signature) {}

  /** A new i32 local's index. */
  local(): number {
    return this.signature.params.length + this.locals++;
  }

  op(code: number): this {
    this.code.push(code);
    return this;
  }
  i32(value: number): this {
    this.code.push(Op.i32Const);
    sleb(this.code, value);
    return this;
  }
  get(local: number): this {
    this.code.push(Op.localGet);
    uleb(this.code, local);
    return this;
  }
  set(local: number): this {
    this.code.push(Op.localSet);
    uleb(this.code, local);
    return this;
  }
  tee(local: number): this {
    this.code.push(Op.localTee);
    uleb(this.code, local);
    return this;
  }
  /** A load or store `op` at the address on the stack plus `offset` (alignment hint 0: any address). */
  mem(op: number, offset: number): this {
    this.code.push(op, 0);
    uleb(this.code, offset);
    return this;
  }
  /** Pushes an i64 constant (small values only: -64 .. 63 are one byte, larger ones through sleb). */
  i64(value: number): this {
    this.code.push(Op.i64Const);
    sleb(this.code, value);
    return this;
  }
  /** Pushes the int32 at fixed address `offset` (a field of the state area). */
  field(offset: number): this {
    return this.i32(0).mem(Op.i32Load, offset);
  }
  /** block/loop/if with no result (0x40) or a result type. */
  begin(op: number, type = 0x40): this {
    this.code.push(op, type);
    return this;
  }
  end(): this {
    this.code.push(Op.end);
    return this;
  }
  br(depth: number): this {
    this.code.push(Op.br);
    uleb(this.code, depth);
    return this;
  }
  brIf(depth: number): this {
    this.code.push(Op.brIf);
    uleb(this.code, depth);
    return this;
  }
  call(index: number): this {
    this.code.push(Op.call);
    uleb(this.code, index);
    return this;
  }
  /** memory.copy (bulk memory, 0xFC 10): (destination, source, length) on the stack, memmove's result. */
  memoryCopy(): this {
    this.code.push(0xfc, 10, 0, 0);
    return this;
  }
  /** memory.fill (bulk memory, 0xFC 11): (destination, byte value, length) on the stack. */
  memoryFill(): this {
    this.code.push(0xfc, 11, 0);
    return this;
  }
  /** Appends instructions written elsewhere. */
  append(code: readonly number[]): this {
    for (let i = 0; i < code.length; i++) this.code.push(code[i]);
    return this;
  }
}

interface ImportedFunction {
  module: string;
  name: string;
  type: number;
}

/** Collects a module's types, imports, functions and exports, and writes the binary. */
export class ModuleWriter {
  private readonly types: Signature[] = [];
  private readonly imports: ImportedFunction[] = [];
  private readonly functions: FunctionBody[] = [];
  private readonly exports: Array<{ name: string; index: number }> = [];
  private memory: { module: string; name: string; pages: number } | null = null;
  private table: { module: string; name: string; size: number } | null = null;

  private typeIndex(sig: Signature): number {
    const i = this.types.findIndex(
      (t) =>
        t.params.length === sig.params.length &&
        t.results.length === sig.results.length &&
        t.params.every((p, k) => p === sig.params[k]) &&
        t.results.every((r, k) => r === sig.results[k]),
    );
    if (i >= 0) return i;
    this.types.push(sig);
    return this.types.length - 1;
  }

  /** Imports a function; returns its function index. All imports come before defined functions. */
  importFunction(module: string, name: string, sig: Signature): number {
    if (this.functions.length > 0) throw new Error('imports must precede defined functions');
    this.imports.push({ module, name, type: this.typeIndex(sig) });
    return this.imports.length - 1;
  }

  /** Imports the memory (minimum and maximum `pages` of 64 KiB: it never grows). */
  importMemory(module: string, name: string, pages: number): void {
    this.memory = { module, name, pages };
  }

  /** Imports a table of function references (table 0) of at least `size` entries. */
  importTable(module: string, name: string, size: number): void {
    this.table = { module, name, size };
  }

  /** The type index of a signature (for call_indirect). */
  signatureIndex(sig: Signature): number {
    return this.typeIndex(sig);
  }

  /** Adds a defined function; returns its function index. */
  addFunction(body: FunctionBody): number {
    this.typeIndex(body.signature);
    this.functions.push(body);
    return this.imports.length + this.functions.length - 1;
  }

  exportFunction(name: string, index: number): void {
    this.exports.push({ name, index });
  }

  /** The module's bytes. */
  bytes(): Uint8Array<ArrayBuffer> {
    const name = (to: number[], s: string) => {
      uleb(to, s.length);
      for (let i = 0; i < s.length; i++) to.push(s.charCodeAt(i));
    };
    // Type section (1).
    const types: number[] = [];
    uleb(types, this.types.length);
    for (const t of this.types) {
      types.push(0x60);
      uleb(types, t.params.length);
      for (const v of t.params) types.push(v);
      uleb(types, t.results.length);
      for (const v of t.results) types.push(v);
    }
    // Import section (2).
    const imports: number[] = [];
    uleb(imports, this.imports.length + (this.memory ? 1 : 0) + (this.table ? 1 : 0));
    for (const im of this.imports) {
      name(imports, im.module);
      name(imports, im.name);
      imports.push(0x00);
      uleb(imports, im.type);
    }
    if (this.memory) {
      name(imports, this.memory.module);
      name(imports, this.memory.name);
      imports.push(0x02, 0x01);
      uleb(imports, this.memory.pages);
      uleb(imports, this.memory.pages);
    }
    if (this.table) {
      name(imports, this.table.module);
      name(imports, this.table.name);
      imports.push(0x01, 0x70, 0x00); // table of funcref, minimum only
      uleb(imports, this.table.size);
    }
    // Function section (3).
    const funcs: number[] = [];
    uleb(funcs, this.functions.length);
    for (const f of this.functions) uleb(funcs, this.typeIndex(f.signature));
    // Export section (7).
    const exports: number[] = [];
    uleb(exports, this.exports.length);
    for (const e of this.exports) {
      name(exports, e.name);
      exports.push(0x00);
      uleb(exports, e.index);
    }
    // Code section (10): each body is its size, its locals, its code and `end`. The code arrays are the bulk
    // of a module and are copied once, straight into the result.
    const heads: number[][] = [];
    let codeSize = ulebLength(this.functions.length);
    for (const f of this.functions) {
      const locals: number[] = [];
      const groups = (f.localGroups ?? [[f.locals, I32]]).filter(([count]) => count > 0);
      uleb(locals, groups.length);
      for (const [count, type] of groups) {
        uleb(locals, count);
        locals.push(type);
      }
      const size = locals.length + f.code.length + 1;
      const head: number[] = [];
      uleb(head, size);
      for (const v of locals) head.push(v);
      heads.push(head);
      codeSize += head.length + f.code.length + 1;
    }
    const small = [types, imports, funcs, exports];
    let total = 8 + 1 + ulebLength(codeSize) + codeSize;
    for (const body of small) total += 1 + ulebLength(body.length) + body.length;
    const out = new Uint8Array(total);
    out.set([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    let at = 8;
    const putUleb = (value: number) => {
      let v = value >>> 0;
      do {
        let byte = v & 0x7f;
        v >>>= 7;
        if (v !== 0) byte |= 0x80;
        out[at++] = byte;
      } while (v !== 0);
    };
    const put = (bytes: readonly number[]) => {
      for (let i = 0; i < bytes.length; i++) out[at++] = bytes[i];
    };
    const ids = [1, 2, 3, 7];
    for (let k = 0; k < small.length; k++) {
      out[at++] = ids[k];
      putUleb(small[k].length);
      put(small[k]);
    }
    out[at++] = 10;
    putUleb(codeSize);
    putUleb(this.functions.length);
    for (let i = 0; i < this.functions.length; i++) {
      put(heads[i]);
      put(this.functions[i].code);
      out[at++] = Op.end;
    }
    return out;
  }
}

/** The length of `value`'s unsigned LEB128 encoding. */
function ulebLength(value: number): number {
  let v = value >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}
