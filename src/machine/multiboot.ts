/**
 * Multiboot 1 direct kernel boot, as `qemu -kernel` does it (Multiboot Specification 0.6.96, sections 3.1
 * "OS image format" and 3.3 "Boot information format"): ELF32 kernels and the a.out-kludge form (header
 * flag 16), the memory fields and memory map, the command line and modules (an initrd is module 0).
 */
import type { Pc } from './pc.ts';
import { EAX, EBX, ESP } from '../cpu/constants.ts';
import { enterFlatProtectedMode } from './boot-state.ts';
import { biosMemoryMap } from './memory-map.ts';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
const HEADER_SEARCH_BYTES = 8192;

// Header flags (what the kernel asks for).
const MB_PAGE_ALIGN = 1 << 0;
const MB_MEMORY_INFO = 1 << 1;
const MB_VIDEO_MODE = 1 << 2;
const MB_AOUT_KLUDGE = 1 << 16;
const MB_KNOWN_REQUIRED = MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE;

// Info flags (what we provide).
const INFO_MEMORY = 1 << 0;
const INFO_CMDLINE = 1 << 2;
const INFO_MODS = 1 << 3;
const INFO_MEM_MAP = 1 << 6;
const INFO_LOADER_NAME = 1 << 9;
const INFO_FRAMEBUFFER = 1 << 12;

/** Low-memory layout of the boot information we build (below the 0x7C00 boot sector area). */
const INFO_ADDRESS = 0x7000;
const MMAP_ADDRESS = 0x7100;
const MODS_ADDRESS = 0x7300;
const STRINGS_ADDRESS = 0x7400;
const STRINGS_END = 0x7c00;
/** The initial stack handed to the kernel (the spec leaves ESP undefined; a usable one costs nothing). */
const INITIAL_STACK = 0x6000;

export interface MultibootOptions {
  cmdline?: string;
  /** Modules (an initrd is module 0), each loaded page-aligned after the kernel. */
  modules?: Array<{ data: Uint8Array; string?: string }>;
}

export interface MultibootImage {
  entry: number;
  /** Loaded ranges [start, end) of physical memory. */
  segments: Array<{ address: number; data: Uint8Array; memorySize: number }>;
  headerFlags: number;
}

/** Returns the offset of a valid Multiboot 1 header in the first 8 KiB, or -1. */
export function findMultibootHeader(image: Uint8Array): number {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const limit = Math.min(image.length - 12, HEADER_SEARCH_BYTES - 12);
  for (let off = 0; off <= limit; off += 4) {
    if (view.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = view.getUint32(off + 4, true);
    const checksum = view.getUint32(off + 8, true);
    if ((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0 === 0) return off;
  }
  return -1;
}

/** Parses a Multiboot kernel into load segments. Throws an Error that says what is wrong with the file. */
export function parseMultiboot(image: Uint8Array): MultibootImage {
  const headerOffset = findMultibootHeader(image);
  if (headerOffset < 0)
    throw new Error('not a Multiboot kernel: no valid Multiboot header in the first 8 KiB');
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const flags = view.getUint32(headerOffset + 4, true);
  const unknown = flags & 0xffff & ~MB_KNOWN_REQUIRED;
  if (unknown)
    throw new Error(`Multiboot header requires features this loader lacks (flags 0x${unknown.toString(16)})`);
  if (flags & MB_AOUT_KLUDGE) {
    if (headerOffset + 32 > image.length)
      throw new Error('Multiboot header is truncated (a.out kludge fields)');
    const headerAddr = view.getUint32(headerOffset + 12, true);
    const loadAddr = view.getUint32(headerOffset + 16, true);
    let loadEndAddr = view.getUint32(headerOffset + 20, true);
    const bssEndAddr = view.getUint32(headerOffset + 24, true);
    const entry = view.getUint32(headerOffset + 28, true);
    const fileOffset = headerOffset - (headerAddr - loadAddr);
    if (headerAddr < loadAddr || fileOffset < 0)
      throw new Error('Multiboot header: header_addr is below load_addr');
    if (loadEndAddr === 0) loadEndAddr = loadAddr + (image.length - fileOffset);
    if (loadEndAddr < loadAddr) throw new Error('Multiboot header: load_end_addr is below load_addr');
    const size = loadEndAddr - loadAddr;
    if (fileOffset + size > image.length) {
      throw new Error(
        `Multiboot header: load range needs ${size} bytes, the file has ${image.length - fileOffset}`,
      );
    }
    const memorySize = bssEndAddr > loadEndAddr ? bssEndAddr - loadAddr : size;
    return {
      entry,
      headerFlags: flags,
      segments: [{ address: loadAddr, data: image.subarray(fileOffset, fileOffset + size), memorySize }],
    };
  }
  return { ...parseElf32(image), headerFlags: flags };
}

/** Loads the PT_LOAD segments of an ELF32 i386 executable (System V ABI, Intel386 supplement). */
function parseElf32(image: Uint8Array): Omit<MultibootImage, 'headerFlags'> {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.length < 52 || view.getUint32(0, false) !== 0x7f454c46) {
    throw new Error('Multiboot kernel is neither ELF nor uses the a.out kludge (header flag 16)');
  }
  if (image[4] !== 1 || image[5] !== 1) throw new Error('ELF kernel is not 32-bit little-endian');
  if (view.getUint16(18, true) !== 3) throw new Error('ELF kernel is not for the i386 architecture');
  const entry = view.getUint32(24, true);
  const phoff = view.getUint32(28, true);
  const phentsize = view.getUint16(42, true);
  const phnum = view.getUint16(44, true);
  if (phentsize < 32 || phoff + phnum * phentsize > image.length)
    throw new Error('ELF program headers are truncated');
  const segments: MultibootImage['segments'] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (view.getUint32(ph, true) !== 1) continue; // PT_LOAD
    const offset = view.getUint32(ph + 4, true);
    const paddr = view.getUint32(ph + 12, true);
    const filesz = view.getUint32(ph + 16, true);
    const memsz = view.getUint32(ph + 20, true);
    if (offset + filesz > image.length) throw new Error(`ELF segment ${i} runs past the end of the file`);
    segments.push({
      address: paddr,
      data: image.subarray(offset, offset + filesz),
      memorySize: Math.max(memsz, filesz),
    });
  }
  if (segments.length === 0) throw new Error('ELF kernel has no loadable segments');
  return { entry, segments };
}

/**
 * Loads a Multiboot kernel into `pc` and sets up the machine state the specification promises: EAX =
 * 0x2BADB002, EBX = the boot information, flat 32-bit protected mode, paging and interrupts off, A20 on.
 */
export function bootMultiboot(pc: Pc, image: Uint8Array, options: MultibootOptions = {}): MultibootImage {
  const kernel = parseMultiboot(image);
  const ram = pc.memory.ramSize;
  let end = 0;
  for (const seg of kernel.segments) {
    if (seg.address < 0x100000 && seg.address + seg.memorySize > INITIAL_STACK - 0x1000) {
      if (seg.address < STRINGS_END) {
        throw new Error(`kernel segment at 0x${seg.address.toString(16)} overlaps the boot information area`);
      }
    }
    if (seg.address + seg.memorySize > ram) {
      throw new Error(
        `kernel needs memory up to 0x${(seg.address + seg.memorySize).toString(16)}, RAM ends at 0x${ram.toString(16)}`,
      );
    }
    pc.memory.writeBytes(seg.address, seg.data);
    pc.memory.writeBytes(seg.address + seg.data.length, new Uint8Array(seg.memorySize - seg.data.length));
    end = Math.max(end, seg.address + seg.memorySize);
  }

  const strings = new StringArea(pc);
  const info = new Uint32Array(22);
  let infoFlags = INFO_MEMORY | INFO_MEM_MAP | INFO_LOADER_NAME;
  info[1] = 640; // mem_lower: KiB of conventional memory
  info[2] = Math.floor((ram - 0x100000) / 1024); // mem_upper: KiB from 1 MiB to the first hole
  if (options.cmdline !== undefined) {
    infoFlags |= INFO_CMDLINE;
    info[4] = strings.add(options.cmdline);
  }
  // Modules, page aligned after the kernel.
  const modules = options.modules ?? [];
  if (modules.length > 0) {
    let at = (end + 0xfff) & ~0xfff;
    for (let i = 0; i < modules.length; i++) {
      const m = modules[i];
      if (at + m.data.length > ram)
        throw new Error(`module ${i} (${m.data.length} bytes) does not fit in RAM`);
      pc.memory.writeBytes(at, m.data);
      const entry = MODS_ADDRESS + i * 16;
      pc.memory.write32(entry, at);
      pc.memory.write32(entry + 4, at + m.data.length);
      pc.memory.write32(entry + 8, strings.add(m.string ?? ''));
      pc.memory.write32(entry + 12, 0);
      at = (at + m.data.length + 0xfff) & ~0xfff;
    }
    infoFlags |= INFO_MODS;
    info[5] = modules.length;
    info[6] = MODS_ADDRESS;
  }
  // Memory map: entries of (size = 20, base64, length64, type).
  const map = biosMemoryMap(ram);
  let p = MMAP_ADDRESS;
  for (const region of map) {
    pc.memory.write32(p, 20);
    pc.memory.write32(p + 4, region.base);
    pc.memory.write32(p + 8, 0);
    pc.memory.write32(p + 12, region.length);
    pc.memory.write32(p + 16, 0);
    pc.memory.write32(p + 20, region.type);
    p += 24;
  }
  info[11] = p - MMAP_ADDRESS;
  info[12] = MMAP_ADDRESS;
  info[16] = strings.add('visor86');
  if (kernel.headerFlags & MB_VIDEO_MODE) {
    // The text screen, described as an EGA text framebuffer (type 2).
    infoFlags |= INFO_FRAMEBUFFER;
  }
  info[0] = infoFlags;
  for (let i = 0; i < info.length; i++) pc.memory.write32(INFO_ADDRESS + i * 4, info[i]);
  if (infoFlags & INFO_FRAMEBUFFER) {
    pc.memory.write32(INFO_ADDRESS + 88, 0xb8000);
    pc.memory.write32(INFO_ADDRESS + 92, 0);
    pc.memory.write32(INFO_ADDRESS + 96, 160); // pitch
    pc.memory.write32(INFO_ADDRESS + 100, 80); // width
    pc.memory.write32(INFO_ADDRESS + 104, 25); // height
    pc.memory.write8(INFO_ADDRESS + 108, 16); // bpp
    pc.memory.write8(INFO_ADDRESS + 109, 2); // EGA text
  }

  enterFlatProtectedMode(pc, kernel.entry);
  pc.cpu.reg32[EAX] = MULTIBOOT_BOOTLOADER_MAGIC;
  pc.cpu.reg32[EBX] = INFO_ADDRESS;
  pc.cpu.reg32[ESP] = INITIAL_STACK;
  return kernel;
}

/** Zero-terminated strings packed into the boot information area. */
class StringArea {
  private next = STRINGS_ADDRESS;
  constructor(private readonly pc: Pc) {}
  add(text: string): number {
    const bytes = new TextEncoder().encode(text);
    if (this.next + bytes.length + 1 > STRINGS_END)
      throw new Error('command line and module strings are too long');
    const at = this.next;
    this.pc.memory.writeBytes(at, bytes);
    this.pc.memory.write8(at + bytes.length, 0);
    this.next += bytes.length + 1;
    return at;
  }
}
