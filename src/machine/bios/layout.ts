/**
 * Where the BIOS keeps things: the interrupt vector table, the BIOS Data Area (BDA) at 0x400, the Extended BIOS
 * Data Area (EBDA) below 640 KiB, and the ROM at 0xF0000. BDA offsets follow the IBM PC/AT Technical
 * Reference and Ralf Brown's Interrupt List ("MEMORY.LST", segment 0040h); every field the BIOS keeps lives in
 * guest RAM, so a snapshot of RAM and devices captures the firmware's state too.
 */
import { EBDA_BASE } from '../memory-map.ts';

/** The private I/O port the ROM stubs write to call the TypeScript services (see hypercall.ts). */
export const HYPERCALL_PORT = 0x5f0;

// ---- ROM ----
export const ROM_BASE = 0xf0000;
export const ROM_SIZE = 0x10000;
export const ROM_SEGMENT = 0xf000;
/** The top 64 KiB of the 4 GiB space alias the ROM: the CPU starts at 0xFFFFFFF0 (F000:FFF0). */
export const ROM_HIGH_ALIAS = 0xffff0000;

// ---- Interrupt vector table ----
export const IVT_BASE = 0;
export const IVT_ENTRIES = 256;

// ---- BIOS Data Area (segment 0x40) ----
export const BDA_SEGMENT = 0x40;
export const BDA_BASE = 0x400;
export const BDA_SIZE = 0x100;
export const BDA_COM_PORTS = 0x400; // 4 words
export const BDA_LPT_PORTS = 0x408; // 3 words
export const BDA_EBDA_SEGMENT = 0x40e;
export const BDA_EQUIPMENT = 0x410;
export const BDA_MEMORY_SIZE_KB = 0x413;
export const BDA_KBD_FLAGS1 = 0x417;
export const BDA_KBD_FLAGS2 = 0x418;
export const BDA_KBD_ALT_KEYPAD = 0x419;
export const BDA_KBD_HEAD = 0x41a;
export const BDA_KBD_TAIL = 0x41c;
export const BDA_KBD_BUFFER = 0x41e; // 16 words, offsets relative to segment 0x40
export const BDA_FLOPPY_RECALIBRATE = 0x43e; // bit 7: floppy interrupt occurred
export const BDA_FLOPPY_MOTOR = 0x43f;
export const BDA_FLOPPY_MOTOR_TIMEOUT = 0x440;
export const BDA_FLOPPY_STATUS = 0x441;
export const BDA_VIDEO_MODE = 0x449;
export const BDA_VIDEO_COLUMNS = 0x44a;
export const BDA_VIDEO_PAGE_SIZE = 0x44c;
export const BDA_VIDEO_PAGE_START = 0x44e;
export const BDA_CURSOR_POS = 0x450; // 8 pages x (column, row)
export const BDA_CURSOR_SHAPE = 0x460; // end line, start line
export const BDA_VIDEO_PAGE = 0x462;
export const BDA_CRTC_BASE = 0x463;
export const BDA_VIDEO_MODE_CONTROL = 0x465;
export const BDA_VIDEO_PALETTE = 0x466;
export const BDA_TICKS = 0x46c;
export const BDA_MIDNIGHT = 0x470;
export const BDA_BREAK = 0x471;
export const BDA_RESET_FLAG = 0x472;
export const BDA_DISK_STATUS = 0x474;
export const BDA_DISK_COUNT = 0x475;
export const BDA_LPT_TIMEOUT = 0x478; // 3 bytes
export const BDA_COM_TIMEOUT = 0x47c; // 4 bytes
export const BDA_KBD_BUFFER_START = 0x480;
export const BDA_KBD_BUFFER_END = 0x482;
export const BDA_VIDEO_ROWS = 0x484; // rows - 1
export const BDA_CHAR_HEIGHT = 0x485; // word
export const BDA_VIDEO_EGA_MISC = 0x487;
export const BDA_VIDEO_SWITCHES = 0x488;
export const BDA_VIDEO_VGA_FLAGS = 0x489;
export const BDA_VIDEO_DCC_INDEX = 0x48a;
export const BDA_FLOPPY_RATE = 0x48b;
export const BDA_FLOPPY_MEDIA_STATE = 0x490; // drive 0, drive 1
export const BDA_FLOPPY_CYLINDER = 0x494; // drive 0, drive 1
export const BDA_KBD_FLAGS3 = 0x496;
export const BDA_KBD_LEDS = 0x497;

/** The keyboard ring buffer as offsets within segment 0x40. */
export const KBD_BUFFER_START = BDA_KBD_BUFFER - BDA_BASE;
export const KBD_BUFFER_END = KBD_BUFFER_START + 32;

/** The warm-boot flag a guest stores at 0x472 before a reset (Ctrl-Alt-Del writes it too). */
export const RESET_FLAG_WARM = 0x1234;

// ---- Extended BIOS Data Area: 1 KiB just below 640 KiB ----
export { EBDA_BASE };
export const EBDA_SEGMENT = EBDA_BASE >>> 4;
export const EBDA_SIZE_KB = 1;
/** Conventional memory reported by INT 12h: everything below the EBDA. */
export const BASE_MEMORY_KB = EBDA_BASE >>> 10;
/** Fixed disk parameter tables for the first two hard disks (INT 41h, INT 46h), 16 bytes each. */
export const EBDA_FDPT0 = 0x3d;
export const EBDA_FDPT1 = 0x4d;
/**
 * Private firmware fields (not a standard layout): virtual-time deadlines of waits in progress, kept in guest
 * RAM rather than in TypeScript so that a snapshot taken while a guest sits in INT 15h/86h resumes exactly.
 * Each is a nanosecond count stored as two dwords (low, high).
 */
export const EBDA_WAIT_DEADLINE = 0x100;
export const EBDA_SERIAL_DEADLINE = 0x108;

// ---- Boot ----
export const BOOT_SECTOR_ADDRESS = 0x7c00;
export const BOOT_SIGNATURE_OFFSET = 510;
export const BOOT_SIGNATURE = 0xaa55;
/** Stack used by POST and handed to the boot sector (SS = 0). */
export const BIOS_STACK_TOP = 0x7c00;
