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
/** Bytes of the state area (room to grow; the TLB follows at a 64 KiB boundary). */
export const STATE_BYTES = 0x10000;

/** The TLB: one int32 per linear page (Mmu.tlb). */
export const TLB_BASE = STATE_BYTES;
export const TLB_BYTES = (1 << 20) * 4;
/** Guest RAM: physical address p is byte RAM_BASE + p. */
export const RAM_BASE = TLB_BASE + TLB_BYTES;
