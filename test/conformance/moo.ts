/**
 * Reader for the MOO container of the SingleStepTests CPU suites (see ../shared/conformance/README.md):
 * gzip-compressed chunks of (4-byte ASCII tag, u32 little-endian length, payload); unknown tags are skipped.
 */
import { gunzipSync } from 'node:zlib';

/** Register order of a REGS chunk's bit mask. */
export const MOO_REGISTER_NAMES = [
  'ax',
  'bx',
  'cx',
  'dx',
  'cs',
  'ss',
  'ds',
  'es',
  'sp',
  'bp',
  'si',
  'di',
  'ip',
  'flags',
] as const;
export type MooRegisterName = (typeof MOO_REGISTER_NAMES)[number];
export type MooRegisters = Partial<Record<MooRegisterName, number>>;

export interface MooState {
  regs: MooRegisters;
  /** (physical address, byte) pairs. */
  ram: Array<[number, number]>;
}

export interface MooTest {
  index: number;
  name: string;
  bytes: Uint8Array;
  init: MooState;
  final: MooState;
  /** Present when the instruction raised an exception. */
  exception?: { vector: number; flagsAddress: number };
  hash: string;
}

export interface MooFile {
  cpu: string;
  testCount: number;
  mnemonic: string;
  opcode: number;
  tests: MooTest[];
}

class ChunkReader {
  private readonly view: DataView;
  constructor(
    private readonly data: Uint8Array,
    public pos: number,
    public readonly end: number,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }
  get done(): boolean {
    return this.pos >= this.end;
  }
  /** Reads a chunk header and returns its tag and a reader over its payload; advances past the chunk. */
  chunk(): { tag: string; body: ChunkReader } {
    if (this.pos + 8 > this.end) throw new Error(`MOO: truncated chunk header at byte ${this.pos}`);
    const tag = String.fromCharCode(...this.data.subarray(this.pos, this.pos + 4));
    const length = this.view.getUint32(this.pos + 4, true);
    const start = this.pos + 8;
    if (start + length > this.end)
      throw new Error(`MOO: chunk '${tag}' at byte ${this.pos} overruns its parent`);
    this.pos = start + length;
    return { tag, body: new ChunkReader(this.data, start, start + length) };
  }
  u8(): number {
    return this.data[this.pos++];
  }
  u16(): number {
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Uint8Array {
    const v = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  ascii(n: number): string {
    return String.fromCharCode(...this.bytes(n));
  }
}

function readRegs(r: ChunkReader): MooRegisters {
  const mask = r.u16();
  const regs: MooRegisters = {};
  for (let i = 0; i < MOO_REGISTER_NAMES.length; i++) {
    if (mask & (1 << i)) regs[MOO_REGISTER_NAMES[i]] = r.u16();
  }
  return regs;
}

function readState(r: ChunkReader): MooState {
  const state: MooState = { regs: {}, ram: [] };
  while (!r.done) {
    const { tag, body } = r.chunk();
    if (tag === 'REGS') state.regs = readRegs(body);
    else if (tag === 'RAM ') {
      const count = body.u32();
      for (let i = 0; i < count; i++) {
        const address = body.u32();
        state.ram.push([address, body.u8()]);
      }
    }
  }
  return state;
}

function readTest(r: ChunkReader): MooTest {
  const test: MooTest = {
    index: r.u32(),
    name: '',
    bytes: new Uint8Array(0),
    init: { regs: {}, ram: [] },
    final: { regs: {}, ram: [] },
    hash: '',
  };
  while (!r.done) {
    const { tag, body } = r.chunk();
    switch (tag) {
      case 'NAME':
        test.name = body.ascii(body.u32());
        break;
      case 'BYTS':
        test.bytes = Uint8Array.from(body.bytes(body.u32()));
        break;
      case 'INIT':
        test.init = readState(body);
        break;
      case 'FINA':
        test.final = readState(body);
        break;
      case 'EXCP':
        test.exception = { vector: body.u8(), flagsAddress: body.u32() };
        break;
      case 'HASH':
        test.hash = Array.from(body.bytes(20), (b) => b.toString(16).padStart(2, '0')).join('');
        break;
    }
  }
  return test;
}

/** Parses a MOO file (gzip-compressed or raw). Throws with a message naming the problem when malformed. */
export function parseMoo(fileData: Uint8Array): MooFile {
  const data = fileData[0] === 0x1f && fileData[1] === 0x8b ? new Uint8Array(gunzipSync(fileData)) : fileData;
  const top = new ChunkReader(data, 0, data.length);
  const file: MooFile = { cpu: '', testCount: 0, mnemonic: '', opcode: 0, tests: [] };
  const first = top.chunk();
  if (first.tag !== 'MOO ') throw new Error(`not a MOO file: first chunk is '${first.tag}'`);
  first.body.u8();
  first.body.u8();
  first.body.u16();
  file.testCount = first.body.u32();
  file.cpu = first.body.ascii(4);
  while (!top.done) {
    const { tag, body } = top.chunk();
    if (tag === 'META') {
      body.u8();
      body.u8();
      body.u8();
      file.opcode = body.u32();
      file.mnemonic = body.ascii(8).replace(/\0+$/, '').trim();
    } else if (tag === 'TEST') {
      file.tests.push(readTest(body));
    }
  }
  if (file.tests.length !== file.testCount) {
    throw new Error(`MOO: header promises ${file.testCount} tests, file holds ${file.tests.length}`);
  }
  return file;
}
