/**
 * Linux/x86 direct kernel boot, as `qemu -kernel bzImage` does it, through the 32-bit boot protocol
 * (Documentation/arch/x86/boot.rst: "The real-mode kernel header", "Details of header fields", "32-bit boot
 * protocol" and "The zero page"). No firmware runs: we build the zero page ("boot_params") ourselves, load
 * the protected-mode kernel at code32_start (1 MiB), put the initrd as high as it may go and enter the kernel
 * in flat protected mode with ESI pointing at the zero page.
 *
 * Low-memory layout we use (the kernel never needs the real-mode setup code in 32-bit boot):
 *
 *   0x06000  boot GDT (boot-state.ts: code 0x10, data 0x18)
 *   0x10000  zero page, 4 KiB (also "X", the base the heap_end_ptr offset counts from)
 *   0x20000  kernel command line, up to cmdline_size + 1 bytes
 *   0x100000 protected-mode kernel (code32_start)
 *   top      initrd, page aligned, as high as possible below min(initrd_addr_max + 1, end of RAM)
 */
import type { Pc } from './pc.ts';
import { EBP, EBX, EDI, ESI, ESP } from '../cpu/constants.ts';
import { enterFlatProtectedMode } from './boot-state.ts';
import { biosMemoryMap } from './memory-map.ts';

/** "HdrS" at 0x202, read as a little-endian dword. */
export const LINUX_HEADER_MAGIC = 0x53726448;
/** The oldest protocol this loader accepts: 2.02 brought the new command line protocol (cmd_line_ptr). */
export const MIN_PROTOCOL = 0x0202;

// Setup header fields: offsets in the kernel file, which are also their offsets in the zero page.
const HDR_SETUP_SECTS = 0x1f1;
const HDR_VID_MODE = 0x1fa;
const HDR_JUMP = 0x200;
const HDR_MAGIC = 0x202;
const HDR_VERSION = 0x206;
const HDR_TYPE_OF_LOADER = 0x210;
const HDR_LOADFLAGS = 0x211;
const HDR_CODE32_START = 0x214;
const HDR_RAMDISK_IMAGE = 0x218;
const HDR_RAMDISK_SIZE = 0x21c;
const HDR_HEAP_END_PTR = 0x224;
const HDR_CMD_LINE_PTR = 0x228;
const HDR_INITRD_ADDR_MAX = 0x22c; // 2.03+
const HDR_KERNEL_ALIGNMENT = 0x230; // 2.05+
const HDR_RELOCATABLE_KERNEL = 0x234; // 2.05+
const HDR_CMDLINE_SIZE = 0x238; // 2.06+
const HDR_HARDWARE_SUBARCH = 0x23c; // 2.07+
const HDR_SETUP_DATA = 0x250; // 2.09+ (64-bit physical pointer to a setup_data list)
const HDR_PREF_ADDRESS = 0x258; // 2.10+ (64-bit; we read the low dword)
const HDR_INIT_SIZE = 0x260; // 2.10+
/** The zero page's fields after the setup header start here (edd_mbr_sig_buffer). */
const HDR_COPY_LIMIT = 0x290;

// loadflags bits.
const LOADED_HIGH = 1 << 0;
const CAN_USE_HEAP = 1 << 7;

// Zero page fields outside the setup header ("The zero page", struct boot_params).
const ZP_SCREEN_INFO = 0x000;
const ZP_ALT_MEM_K = 0x1e0;
const ZP_E820_ENTRIES = 0x1e8;
const ZP_E820_TABLE = 0x2d0;
const E820_MAX_ENTRIES = 128;
const ZERO_PAGE_SIZE = 0x1000;

// screen_info offsets (struct screen_info).
const SI_EXT_MEM_K = 0x02;
const SI_ORIG_VIDEO_MODE = 0x06;
const SI_ORIG_VIDEO_COLS = 0x07;
const SI_ORIG_VIDEO_EGA_BX = 0x0a;
const SI_ORIG_VIDEO_LINES = 0x0e;
const SI_ORIG_VIDEO_IS_VGA = 0x0f;
const SI_ORIG_VIDEO_POINTS = 0x10;

/** type_of_loader 0xFF: "undefined" (no registered boot loader id). */
const LOADER_UNDEFINED = 0xff;

export const ZERO_PAGE_ADDRESS = 0x10000;
export const CMDLINE_ADDRESS = 0x20000;
/**
 * A setup_data node (protocol 2.09+) carrying SETUP_RNG_SEED: random bytes the kernel credits to its RNG
 * (random.trust_bootloader), as QEMU and systemd-boot provide. Without it a guest whose only clock is
 * virtual (and so has no timing jitter) waits a long time for its random number generator at boot.
 * Placed in the 64 KiB after the zero page, below the command line.
 */
export const SETUP_DATA_ADDRESS = 0x11000;
const SETUP_RNG_SEED = 9;
const RNG_SEED_BYTES = 32;
/** The real-mode heap ends at X + 0xE000, as in the protocol's sample boot configuration. */
const HEAP_END = 0xe000;
/** The end of the area we let the command line use (the 0x90000-0x9FFFF area stays free). */
const CMDLINE_AREA_END = 0x90000;
const KERNEL_DEFAULT_ADDRESS = 0x100000;
/** Protocol < 2.03 has no initrd_addr_max field; this was the fixed limit. */
const OLD_INITRD_ADDR_MAX = 0x37ffffff;
/** Protocol < 2.06 allows 255 command line characters. */
const OLD_CMDLINE_SIZE = 255;
const PAGE = 0x1000;

export interface LinuxBootOptions {
  initrd?: Uint8Array;
  /** Bytes for the kernel's RNG (SETUP_RNG_SEED); random by default, fixed for reproducible runs. */
  rngSeed?: Uint8Array;
  cmdline?: string;
}

/** What the loader found in the setup header and where it put things (for messages and tests). */
export interface LinuxBootInfo {
  /** Boot protocol version, e.g. 0x020f for 2.15. */
  protocol: number;
  setupSects: number;
  kernelAddress: number;
  kernelSize: number;
  zeroPage: number;
  cmdlineAddress: number;
  initrdAddress: number;
  initrdSize: number;
}

/** The parsed setup header: what bootLinux needs to decide where things go. */
export interface LinuxKernelHeader {
  protocol: number;
  setupSects: number;
  /** File offset of the protected-mode kernel: (setup_sects + 1) * 512. */
  kernelOffset: number;
  code32Start: number;
  loadflags: number;
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  cmdlineSize: number;
  /** Where the kernel wants to run (2.10+; else the load address). */
  prefAddress: number;
  /** Memory the kernel needs from its run address while it decompresses (2.10+; else 0). */
  initSize: number;
  /** Offset just past the setup header (0x202 + the jump's displacement byte). */
  headerEnd: number;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

/** True when `image` carries the "HdrS" setup header signature of a bzImage/zImage. */
export function isLinuxKernel(image: Uint8Array): boolean {
  if (image.length < HDR_MAGIC + 4) return false;
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  return view.getUint32(HDR_MAGIC, true) === LINUX_HEADER_MAGIC;
}

/** Reads and checks the setup header. Throws an Error naming the problem with the file. */
export function parseLinuxHeader(image: Uint8Array): LinuxKernelHeader {
  if (!isLinuxKernel(image)) {
    throw new Error('not a Linux bzImage: no "HdrS" setup header signature at offset 0x202');
  }
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const u8 = (off: number) => (off < image.length ? image[off] : 0);
  const u32 = (off: number) => (off + 4 <= image.length ? view.getUint32(off, true) : 0);
  const protocol = view.getUint16(HDR_VERSION, true);
  const version = `${protocol >> 8}.${(protocol & 0xff).toString().padStart(2, '0')}`;
  if (protocol < MIN_PROTOCOL) {
    throw new Error(
      `Linux boot protocol ${version} is too old: this loader needs 2.02 or later (kernel 2.4 and newer)`,
    );
  }
  const setupSects = u8(HDR_SETUP_SECTS) || 4;
  const kernelOffset = (setupSects + 1) * 512;
  if (kernelOffset >= image.length) {
    throw new Error(
      `Linux kernel is truncated: ${setupSects} setup sectors announced, the file has ${image.length} bytes`,
    );
  }
  const loadflags = u8(HDR_LOADFLAGS);
  if (!(loadflags & LOADED_HIGH)) {
    throw new Error('Linux kernel is a zImage (loaded low at 0x10000): only bzImage kernels are supported');
  }
  const code32Start = u32(HDR_CODE32_START) || KERNEL_DEFAULT_ADDRESS;
  const relocatable = protocol >= 0x0205 && u8(HDR_RELOCATABLE_KERNEL) !== 0;
  return {
    protocol,
    setupSects,
    kernelOffset,
    code32Start,
    loadflags,
    initrdAddrMax: protocol >= 0x0203 ? u32(HDR_INITRD_ADDR_MAX) : OLD_INITRD_ADDR_MAX,
    kernelAlignment: protocol >= 0x0205 ? u32(HDR_KERNEL_ALIGNMENT) : 0,
    relocatable,
    cmdlineSize: protocol >= 0x0206 ? u32(HDR_CMDLINE_SIZE) : OLD_CMDLINE_SIZE,
    prefAddress: protocol >= 0x020a ? u32(HDR_PREF_ADDRESS) : code32Start,
    initSize: protocol >= 0x020a ? u32(HDR_INIT_SIZE) : 0,
    headerEnd: Math.min(HDR_JUMP + 2 + u8(HDR_JUMP + 1), HDR_COPY_LIMIT, image.length),
  };
}

/**
 * The highest address the kernel touches before it has read the memory map: the loaded image, and the
 * area it decompresses into (init_size bytes from where it will run). A relocatable kernel runs at its load
 * address rounded up to kernel_alignment, but never below pref_address (LOAD_PHYSICAL_ADDR); a fixed one
 * runs at pref_address.
 */
function kernelMemoryEnd(header: LinuxKernelHeader, kernelSize: number): number {
  const loadEnd = header.code32Start + kernelSize;
  if (header.initSize === 0) return loadEnd;
  let runAt = header.prefAddress;
  if (header.relocatable) {
    const align = header.kernelAlignment > 0 ? header.kernelAlignment : 1;
    const aligned = Math.ceil(header.code32Start / align) * align;
    runAt = Math.max(aligned, header.prefAddress);
  }
  return Math.max(loadEnd, runAt + header.initSize);
}

/**
 * Loads a bzImage (and an optional initrd) into `pc` and leaves the CPU at the kernel's 32-bit entry point
 * with the machine state the 32-bit boot protocol asks for: flat 4 GiB segments __BOOT_CS = 0x10 and
 * __BOOT_DS = 0x18, paging and interrupts off, ESI = the zero page, EBP = EDI = EBX = 0.
 */
export function bootLinux(pc: Pc, kernel: Uint8Array, options: LinuxBootOptions = {}): LinuxBootInfo {
  const header = parseLinuxHeader(kernel);
  const ram = pc.memory.ramSize;
  const mib = (n: number) => `${Math.ceil(n / (1024 * 1024))} MiB`;
  const pmKernel = kernel.subarray(header.kernelOffset);

  // Where the kernel goes, and whether it fits.
  if (!header.relocatable && header.prefAddress >= ram) {
    throw new Error(
      `Linux kernel is not relocatable and must run at ${hex(header.prefAddress)}, beyond the ${mib(ram)} of RAM`,
    );
  }
  const kernelEnd = kernelMemoryEnd(header, pmKernel.length);
  if (header.code32Start < KERNEL_DEFAULT_ADDRESS || kernelEnd > ram) {
    throw new Error(
      header.code32Start < KERNEL_DEFAULT_ADDRESS
        ? `Linux kernel asks to be loaded at ${hex(header.code32Start)}, below 1 MiB`
        : `Linux kernel needs memory up to ${hex(kernelEnd)} (${mib(kernelEnd)}), the machine has ${mib(ram)} of RAM`,
    );
  }

  // Command line: respect cmdline_size (255 before protocol 2.06).
  const cmdline = new TextEncoder().encode(options.cmdline ?? '');
  const cmdlineMax = Math.min(header.cmdlineSize, CMDLINE_AREA_END - CMDLINE_ADDRESS - 1);
  if (cmdline.length > cmdlineMax) {
    throw new Error(
      `kernel command line is ${cmdline.length} bytes, this kernel accepts at most ${cmdlineMax}`,
    );
  }

  // Initrd: as high as possible, page aligned, ending at or below min(initrd_addr_max + 1, end of RAM).
  let initrdAddress = 0;
  const initrd = options.initrd;
  if (initrd && initrd.length > 0) {
    const limit = Math.min(header.initrdAddrMax + 1, ram);
    initrdAddress = Math.floor((limit - initrd.length) / PAGE) * PAGE;
    const lowest = Math.ceil(kernelEnd / PAGE) * PAGE;
    if (initrdAddress < lowest) {
      throw new Error(
        `initrd of ${initrd.length} bytes does not fit between the kernel (up to ${hex(lowest)}) and ` +
          `${hex(limit)} (${header.initrdAddrMax + 1 < ram ? 'initrd_addr_max' : `end of ${mib(ram)} RAM`})`,
      );
    }
  }

  // Everything checked: write memory.
  const mem = pc.memory;
  mem.writeBytes(header.code32Start, pmKernel);
  if (initrd && initrd.length > 0) mem.writeBytes(initrdAddress, initrd);
  mem.writeBytes(CMDLINE_ADDRESS, cmdline);
  mem.write8(CMDLINE_ADDRESS + cmdline.length, 0);

  // The zero page: zero-filled, the setup header copied in, then our fields.
  const zp = ZERO_PAGE_ADDRESS;
  mem.writeBytes(zp, new Uint8Array(ZERO_PAGE_SIZE));
  mem.writeBytes(zp + HDR_SETUP_SECTS, kernel.subarray(HDR_SETUP_SECTS, header.headerEnd));
  mem.write8(zp + HDR_TYPE_OF_LOADER, LOADER_UNDEFINED);
  mem.write8(zp + HDR_LOADFLAGS, header.loadflags | CAN_USE_HEAP);
  mem.write16(zp + HDR_HEAP_END_PTR, HEAP_END - 0x200);
  mem.write32(zp + HDR_CMD_LINE_PTR, CMDLINE_ADDRESS);
  mem.write32(zp + HDR_RAMDISK_IMAGE, initrdAddress);
  mem.write32(zp + HDR_RAMDISK_SIZE, initrd?.length ?? 0);
  mem.write16(zp + HDR_VID_MODE, 0xffff); // "normal" VGA: the mode we are already in
  if (header.protocol >= 0x0207) mem.write32(zp + HDR_HARDWARE_SUBARCH, 0); // a normal PC

  // Memory sizes for old kernels: KiB above 1 MiB.
  const extendedKiB = Math.floor((ram - 0x100000) / 1024);
  mem.write32(zp + ZP_ALT_MEM_K, extendedKiB);
  mem.write16(zp + ZP_SCREEN_INFO + SI_EXT_MEM_K, Math.min(extendedKiB, 0xffff));

  // screen_info: the 80x25 colour text screen (mode 3) the VGA shows, cursor at the top left.
  const si = zp + ZP_SCREEN_INFO;
  mem.write8(si + SI_ORIG_VIDEO_MODE, 3);
  mem.write8(si + SI_ORIG_VIDEO_COLS, 80);
  mem.write16(si + SI_ORIG_VIDEO_EGA_BX, 0x0003); // INT 10h AH=12h BL=10h: colour, 256 KiB
  mem.write8(si + SI_ORIG_VIDEO_LINES, 25);
  mem.write8(si + SI_ORIG_VIDEO_IS_VGA, 1);
  mem.write16(si + SI_ORIG_VIDEO_POINTS, 16);

  // E820 memory map: 20-byte entries (base64, length64, type32).
  const map = biosMemoryMap(ram).slice(0, E820_MAX_ENTRIES);
  mem.write8(zp + ZP_E820_ENTRIES, map.length);
  map.forEach((region, i) => {
    const e = zp + ZP_E820_TABLE + i * 20;
    mem.write32(e, region.base);
    mem.write32(e + 4, 0);
    mem.write32(e + 8, region.length);
    mem.write32(e + 12, 0);
    mem.write32(e + 16, region.type);
  });

  // setup_data: one SETUP_RNG_SEED node { u64 next = 0; u32 type; u32 len; u8 data[len] }.
  if (header.protocol >= 0x0209) {
    const seed = options.rngSeed ?? crypto.getRandomValues(new Uint8Array(RNG_SEED_BYTES));
    if (seed.length === 0 || seed.length > 0x1000) throw new Error('RNG seed must be 1 to 4096 bytes');
    mem.write32(SETUP_DATA_ADDRESS, 0);
    mem.write32(SETUP_DATA_ADDRESS + 4, 0);
    mem.write32(SETUP_DATA_ADDRESS + 8, SETUP_RNG_SEED);
    mem.write32(SETUP_DATA_ADDRESS + 12, seed.length);
    mem.writeBytes(SETUP_DATA_ADDRESS + 16, seed);
    mem.write32(zp + HDR_SETUP_DATA, SETUP_DATA_ADDRESS);
    mem.write32(zp + HDR_SETUP_DATA + 4, 0);
  }

  // The 32-bit entry.
  enterFlatProtectedMode(pc, header.code32Start);
  const reg = pc.cpu.reg32;
  reg[ESI] = zp;
  reg[EBP] = 0;
  reg[EDI] = 0;
  reg[EBX] = 0;
  reg[ESP] = zp; // the protocol sets no stack; the kernel makes its own (this one grows below the zero page)
  return {
    protocol: header.protocol,
    setupSects: header.setupSects,
    kernelAddress: header.code32Start,
    kernelSize: pmKernel.length,
    zeroPage: zp,
    cmdlineAddress: CMDLINE_ADDRESS,
    initrdAddress,
    initrdSize: initrd?.length ?? 0,
  };
}
