/**
 * Where a machine's CPU state, TLB and RAM sit in its one memory buffer. PhysicalMemory allocates the buffer
 * as a WebAssembly.Memory where the host has WebAssembly, so code compiled to WebAssembly (jit/wasm-*.ts)
 * reaches the guest registers, the segment caches, the TLB and RAM at fixed offsets, and the interpreter
 * works on the very same bytes through typed-array views. Offsets are in bytes.
 */

/** The eight general registers (EAX..EDI), little-endian, so AL is byte 0 and AH byte 1 (Cpu.reg32). */
export const STATE_REG32 = 0x00;
/** Segment bases, limits (int32 each, ES CS SS DS FS GS) and SEGF_* flag bytes (Cpu.segBase...). */
export const STATE_SEG_BASE = 0x20;
export const STATE_SEG_LIMIT = 0x38;
export const STATE_SEG_FLAGS = 0x50;
/** The TLB rights bits a data read / write needs now (Mmu.readBit, Mmu.writeBit), int32 each. */
export const STATE_READ_BIT = 0x58;
export const STATE_WRITE_BIT = 0x5c;
/**
 * The lazy-flag fields and EFLAGS while compiled WebAssembly runs (the interpreter keeps them in Cpu
 * fields; the region's caller copies them in and out): op, size, dst, src, res, pending mask, flags.
 */
export const STATE_LAZY_OP = 0x60;
export const STATE_LAZY_SIZE = 0x64;
export const STATE_LAZY_DST = 0x68;
export const STATE_LAZY_SRC = 0x6c;
export const STATE_LAZY_RES = 0x70;
export const STATE_LAZY_FLAGS = 0x74;
export const STATE_FLAGS = 0x78;
/** What a WebAssembly region leaves for its caller: EIP, instructions retired, the last instruction's start. */
export const STATE_EXIT_EIP = 0x80;
export const STATE_EXIT_DONE = 0x84;
export const STATE_EXIT_START = 0x88;
/** The segment selectors (Cpu.sreg), uint16 each, ES CS SS DS FS GS. */
export const STATE_SREG = 0x90;
/**
 * What the WebAssembly dispatcher (wasm-support.ts `run`) leaves beside a region's exit: the instructions
 * the regions before the last one retired in this call, how many regions it entered through its cache, and
 * the table slot of the region running now (the JIT asks which region a write to code hit).
 */
export const STATE_EXIT_CHAIN = 0xa0;
export const STATE_EXIT_LINKS = 0xa4;
export const STATE_RUNNING_SLOT = 0xa8;
/** CR0 (Cpu.cr0): compiled x87 code looks at EM and TS. */
export const STATE_CR0 = 0xb0;
/**
 * The x87 FPU's registers and words (fpu.ts), where compiled code moves float64 values in and out:
 * float64 values by slot (SLOTS of them), the slots' 80-bit-encoding-valid bytes, the eight physical
 * registers' empty bytes, then uint32 words CW, SW (TOP aside), TOP, FIP, FCS, FDP, FDS, FOP.
 */
export const STATE_FPU_VAL = 0x100;
export const STATE_FPU_EXT_VALID = 0x150;
export const STATE_FPU_EMPTY = 0x160;
export const STATE_FPU_WORDS = 0x170;
export const FPU_CW = 0;
export const FPU_SW = 1;
export const FPU_TOP = 2;
export const FPU_FIP = 3;
export const FPU_FCS = 4;
export const FPU_FDP = 5;
export const FPU_FDS = 6;
export const FPU_FOP = 7;
/**
 * The WebAssembly dispatcher's cache of region entries: DISPATCH_LINES lines of 16 bytes, indexed by
 * dispatchLine(physical address): physical address (-1 when empty), EIP, table slot << 4 | mode, and the
 * highest EIP of the region's bytes (checked against the CS limit).
 */
export const STATE_DISPATCH = 0x10000;
export const DISPATCH_LINE_BITS = 12;
export const DISPATCH_LINES = 1 << DISPATCH_LINE_BITS;
/** Bytes of the state area (the TLB follows at a 64 KiB boundary). */
export const STATE_BYTES = STATE_DISPATCH + DISPATCH_LINES * 16;

/** The multiplier of dispatchLine's hash (2^32 / golden ratio, as an int32). */
export const DISPATCH_HASH = 0x9e3779b1 | 0;
/** The dispatcher cache line of code at physical address `phys`: the top bits of a multiplicative hash. */
export function dispatchLine(phys: number): number {
  return Math.imul(phys, DISPATCH_HASH) >>> (32 - DISPATCH_LINE_BITS);
}

/** The TLB: one int32 per linear page (Mmu.tlb). */
export const TLB_BASE = STATE_BYTES;
export const TLB_BYTES = (1 << 20) * 4;
/** Guest RAM: physical address p is byte RAM_BASE + p. */
export const RAM_BASE = TLB_BASE + TLB_BYTES;
