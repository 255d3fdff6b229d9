/**
 * Physical memory: one RAM Uint8Array plus memory-mapped regions (VGA window, ROMs) at 4 KiB granularity,
 * with the A20 gate applied to every address. Reads of unmapped addresses float high (0xFF).
 */

/** A device that decodes part of the physical address space. Addresses passed in are absolute. */
export interface MmioHandler {
  read8(address: number): number;
  write8(address: number, value: number): void;
}

import { RAM_BASE } from './layout.ts';

const PAGE_SHIFT = 12;
const PAGE_COUNT = 1 << 20; // 4 GiB / 4 KiB
/** Page map values: RAM below the RAM size, nothing at all, or 2 + index into `handlers`. */
const PAGE_RAM = 0;
const PAGE_UNMAPPED = 1;
const PAGE_HANDLER_BASE = 2;

/** PhysicalMemory.codePages bits: the page holds compiled blocks (cpu/jit), decoded instructions (cpu/decoded.ts). */
export const CODE_PAGE_JIT = 1;
export const CODE_PAGE_DECODED = 2;

export class PhysicalMemory {
  readonly ram: Uint8Array;
  /**
   * The buffer RAM lives in, after the CPU's state area and TLB (see layout.ts): a WebAssembly.Memory's where
   * the host has WebAssembly (`wasmMemory`), so code compiled to WebAssembly can reach all three.
   */
  readonly buffer: ArrayBuffer;
  readonly wasmMemory: WebAssembly.Memory | null;
  private cpuAreaTaken = false;
  readonly ramSize: number;
  /** Per 4 KiB page: PAGE_RAM, PAGE_UNMAPPED or PAGE_HANDLER_BASE + handler index. */
  private readonly pageMap = new Uint8Array(PAGE_COUNT);
  private readonly handlers: MmioHandler[] = [];
  /** ANDed into every address: 0xFFFFFFFF with A20 enabled, 0xFFEFFFFF with it masked (see setA20). */
  a20Mask = -1;
  private readonly layoutListeners: Array<() => void> = [];
  /**
   * Bumped whenever RAM may have changed behind the CPU's back in a way its caches must notice (DMA writes,
   * loadState). The CPU's block compiler and decoded-instruction cache compare it.
   */
  writeGeneration = 0;
  /**
   * Per RAM page: non-zero while a CPU holds code compiled (cpu/jit, bit 0) or decoded (cpu/decoded.ts,
   * bit 1) from it. A write to such a page, through any of the accessors below, calls the code-write
   * listeners, which drop the compiled blocks and decoded instructions it overlaps.
   * The MMU never gives such pages fast-path write rights, so every CPU write comes through here.
   */
  readonly codePages: Uint8Array;
  private readonly codeWriteListeners: Array<(address: number, length: number) => void> = [];

  constructor(ramSize: number) {
    if (!Number.isInteger(ramSize) || ramSize <= 0 || ramSize % 4096 !== 0 || ramSize > 0xfff00000) {
      throw new Error(`RAM size ${ramSize} must be a positive multiple of 4096 below 4 GiB`);
    }
    this.ramSize = ramSize;
    const bytes = RAM_BASE + ramSize;
    let memory: WebAssembly.Memory | null = null;
    if (typeof WebAssembly === 'object' && bytes <= 0x10000 * 0x10000) {
      const pages = Math.ceil(bytes / 0x10000);
      try {
        memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      } catch {
        memory = null; // out of address space for another memory: a plain buffer works the same
      }
    }
    this.wasmMemory = memory;
    this.buffer = memory !== null ? memory.buffer : new ArrayBuffer(bytes);
    this.ram = new Uint8Array(this.buffer, RAM_BASE, ramSize);
    this.pageMap.fill(PAGE_UNMAPPED, ramSize >>> PAGE_SHIFT);
    this.codePages = new Uint8Array(ramSize >>> PAGE_SHIFT);
  }

  /**
   * The buffer holding the CPU state area (layout.ts) for the CPU built on this memory; null after the first
   * call (a second CPU on the same memory keeps its state in buffers of its own).
   */
  takeCpuArea(): ArrayBuffer | null {
    if (this.cpuAreaTaken) return null;
    this.cpuAreaTaken = true;
    return this.buffer;
  }

  /**
   * Registers a callback for writes to pages marked in `codePages` (the JIT drops the code they overwrite).
   * It gets the physical address and length of the write (never crossing a page boundary).
   */
  onCodeWrite(listener: (address: number, length: number) => void): void {
    this.codeWriteListeners.push(listener);
  }

  /** A write hit a page holding compiled code. */
  private codeWritten(address: number, length: number): void {
    for (const listener of this.codeWriteListeners) listener(address, length);
  }

  /** Registers a callback for changes of the address map (MMIO mapped, A20 toggled): CPUs drop their TLBs. */
  onLayoutChange(listener: () => void): void {
    this.layoutListeners.push(listener);
  }

  /** Opens or closes the A20 gate. */
  setA20(enabled: boolean): void {
    const mask = enabled ? -1 : ~(1 << 20);
    if (mask === this.a20Mask) return;
    this.a20Mask = mask;
    for (const listener of this.layoutListeners) listener();
  }

  /** Maps [start, start + length) to a handler, hiding RAM there. Both must be 4 KiB aligned. */
  mapMmio(start: number, length: number, handler: MmioHandler): void {
    if (start % 4096 !== 0 || length % 4096 !== 0 || length <= 0) {
      throw new Error(`MMIO region ${start.toString(16)}+${length.toString(16)} is not 4 KiB aligned`);
    }
    let index = this.handlers.indexOf(handler);
    if (index < 0) {
      index = this.handlers.length;
      if (index + PAGE_HANDLER_BASE > 255) throw new Error('too many MMIO handlers');
      this.handlers.push(handler);
    }
    const first = start >>> PAGE_SHIFT;
    const last = (start + length - 1) >>> PAGE_SHIFT;
    for (let page = first; page <= last; page++) {
      if (this.pageMap[page] >= PAGE_HANDLER_BASE) {
        throw new Error(`MMIO region at ${(page << PAGE_SHIFT) >>> 0} overlaps another device`);
      }
      this.pageMap[page] = PAGE_HANDLER_BASE + index;
    }
    for (const listener of this.layoutListeners) listener();
  }

  /** True when the 4 KiB page holding `address` is plain RAM (the fast paths may touch `ram` directly). */
  isRam(address: number): boolean {
    return this.pageMap[(address & this.a20Mask) >>> PAGE_SHIFT] === PAGE_RAM;
  }

  read8(address: number): number {
    address = (address & this.a20Mask) >>> 0;
    const kind = this.pageMap[address >>> PAGE_SHIFT];
    if (kind === PAGE_RAM) return this.ram[address];
    if (kind === PAGE_UNMAPPED) return 0xff;
    return this.handlers[kind - PAGE_HANDLER_BASE].read8(address) & 0xff;
  }

  write8(address: number, value: number): void {
    address = (address & this.a20Mask) >>> 0;
    const kind = this.pageMap[address >>> PAGE_SHIFT];
    if (kind === PAGE_RAM) {
      this.ram[address] = value;
      if (this.codePages[address >>> PAGE_SHIFT] !== 0) this.codeWritten(address, 1);
    } else if (kind !== PAGE_UNMAPPED) this.handlers[kind - PAGE_HANDLER_BASE].write8(address, value & 0xff);
  }

  read16(address: number): number {
    const a = (address & this.a20Mask) >>> 0;
    if ((a & 0xfff) !== 0xfff && this.pageMap[a >>> PAGE_SHIFT] === PAGE_RAM) {
      return this.ram[a] | (this.ram[a + 1] << 8);
    }
    return this.read8(address) | (this.read8(address + 1) << 8);
  }

  read32(address: number): number {
    const a = (address & this.a20Mask) >>> 0;
    if ((a & 0xfff) <= 0xffc && this.pageMap[a >>> PAGE_SHIFT] === PAGE_RAM) {
      const ram = this.ram;
      return ram[a] | (ram[a + 1] << 8) | (ram[a + 2] << 16) | (ram[a + 3] << 24);
    }
    return this.read16(address) | (this.read16(address + 2) << 16);
  }

  write16(address: number, value: number): void {
    const a = (address & this.a20Mask) >>> 0;
    if ((a & 0xfff) !== 0xfff && this.pageMap[a >>> PAGE_SHIFT] === PAGE_RAM) {
      this.ram[a] = value;
      this.ram[a + 1] = value >> 8;
      if (this.codePages[a >>> PAGE_SHIFT] !== 0) this.codeWritten(a, 2);
      return;
    }
    this.write8(address, value);
    this.write8(address + 1, value >> 8);
  }

  write32(address: number, value: number): void {
    const a = (address & this.a20Mask) >>> 0;
    if ((a & 0xfff) <= 0xffc && this.pageMap[a >>> PAGE_SHIFT] === PAGE_RAM) {
      const ram = this.ram;
      ram[a] = value;
      ram[a + 1] = value >> 8;
      ram[a + 2] = value >> 16;
      ram[a + 3] = value >> 24;
      if (this.codePages[a >>> PAGE_SHIFT] !== 0) this.codeWritten(a, 4);
      return;
    }
    this.write16(address, value);
    this.write16(address + 2, value >> 16);
  }

  /** Copies bytes into physical memory (loaders, DMA). Goes through MMIO where mapped. */
  writeBytes(address: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.write8(address + i, bytes[i]);
    this.writeGeneration++;
  }

  /** Copies bytes out of physical memory. */
  readBytes(address: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.read8(address + i);
    return out;
  }
}
