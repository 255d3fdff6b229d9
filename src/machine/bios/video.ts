/**
 * INT 10h video services for VGA text modes 3 (80x25 colour, also answered for mode 2) and 7 (80x25 mono),
 * following Ralf Brown's Interrupt List (INT 10h) and the IBM VGA Technical Reference mode tables. The state
 * (mode, page, cursor positions and shape) lives in the BDA; the screen is the VGA's text memory, written
 * through the board's memory bus; cursor and page start are the CRT controller's registers, written through
 * its ports. Graphics modes are not offered: a request for one leaves the text mode as it was.
 *
 * Serial mirror: characters written by teletype (AH=0Eh) and write string (AH=13h), and every firmware
 * message, are also written to COM1's transmitter, so a serial console sees BIOS output.
 */
import type { Pc } from '../pc.ts';
import { ES } from '../../cpu/constants.ts';
import {
  BDA_CHAR_HEIGHT,
  BDA_COM_PORTS,
  BDA_CRTC_BASE,
  BDA_CURSOR_POS,
  BDA_CURSOR_SHAPE,
  BDA_VIDEO_COLUMNS,
  BDA_VIDEO_DCC_INDEX,
  BDA_VIDEO_EGA_MISC,
  BDA_VIDEO_MODE,
  BDA_VIDEO_MODE_CONTROL,
  BDA_VIDEO_PAGE,
  BDA_VIDEO_PAGE_SIZE,
  BDA_VIDEO_PAGE_START,
  BDA_VIDEO_PALETTE,
  BDA_VIDEO_ROWS,
  BDA_VIDEO_SWITCHES,
  BDA_VIDEO_VGA_FLAGS,
} from './layout.ts';
import { AH, AL, AX, BH, BL, BP, BX, CH, CL, CX, DH, DL, DONE, DX, type GuestMemory } from './hypercall.ts';

// ---- VGA ports (IBM VGA Technical Reference) ----
const PORT_ATTR = 0x3c0;
const PORT_MISC_WRITE = 0x3c2;
const PORT_SEQ_INDEX = 0x3c4;
const PORT_DAC_WRITE_INDEX = 0x3c8;
const PORT_DAC_DATA = 0x3c9;
const PORT_GC_INDEX = 0x3ce;
const CRTC_COLOR = 0x3d4;
const CRTC_MONO = 0x3b4;
/** Input status 1 is CRTC base + 6; reading it resets the attribute flip-flop. */
const CRTC_TO_STATUS1 = 6;
const ATTR_PAS = 0x20;
const ATTR_MODE_CONTROL = 0x10;
const ATTR_BLINK = 0x08;

// CRT controller registers.
const CRTC_CURSOR_START = 0x0a;
const CRTC_CURSOR_END = 0x0b;
const CRTC_START_HIGH = 0x0c;
const CRTC_START_LOW = 0x0d;
const CRTC_CURSOR_HIGH = 0x0e;
const CRTC_CURSOR_LOW = 0x0f;
const CRTC_V_RETRACE_END = 0x11;
const CRTC_PROTECT = 0x80;
const CURSOR_DISABLE = 0x20;

const TEXT_COLOR_BASE = 0xb8000;
const TEXT_MONO_BASE = 0xb0000;
const TEXT_COLUMNS = 80;
const TEXT_ROWS = 25;
const CHAR_HEIGHT = 16;
/** 80x25 cells of two bytes, rounded up to 4 KiB: eight pages fit the 32 KiB window. */
const PAGE_SIZE = 0x1000;
const PAGE_COUNT = 8;
const BLANK = 0x20;
const DEFAULT_ATTR = 0x07;
/** BDA cursor shape after a mode set: CGA-style lines 6-7, scaled to the 16-line cell. */
const DEFAULT_CURSOR_SHAPE = 0x0607;

const MODE_NO_CLEAR = 0x80;
/** CGA mode control register image (BDA 0x465): 80 columns, video on, blink. */
const MODE_CONTROL_TEXT80 = 0x29;
const MODE_MONO = 7;

const BEL = 0x07;
const BS = 0x08;
const LF = 0x0a;
const CR = 0x0d;

const UART_THR = 0;
const UART_LCR = 3;
const LCR_DLAB = 0x80;

/** Register values of a text mode (IBM VGA Technical Reference, BIOS video mode tables). */
interface TextModeRegisters {
  misc: number;
  /** Sequencer registers 1-4 (register 0 is the reset register). */
  seq: number[];
  crtc: number[];
  gc: number[];
  attr: number[];
  crtcBase: number;
  memory: number;
}

const MODE3: TextModeRegisters = {
  misc: 0x67,
  seq: [0x00, 0x03, 0x00, 0x02],
  crtc: [
    0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x9c,
    0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
  ],
  gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff],
  attr: [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x0c,
    0x00, 0x0f, 0x08, 0x00,
  ],
  crtcBase: CRTC_COLOR,
  memory: TEXT_COLOR_BASE,
};

const MODE7: TextModeRegisters = {
  misc: 0x66,
  seq: [0x00, 0x03, 0x00, 0x02],
  crtc: [
    0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x9c,
    0x8e, 0x8f, 0x28, 0x0d, 0x96, 0xb9, 0xa3, 0xff,
  ],
  gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0a, 0x00, 0xff],
  attr: [
    0x00, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x10, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x0e,
    0x00, 0x0f, 0x08, 0x00,
  ],
  crtcBase: CRTC_MONO,
  memory: TEXT_MONO_BASE,
};

/** INT 10h AH=1Ah display combination codes. */
const DCC_VGA_COLOR = 0x08;
const DCC_VGA_MONO = 0x07;
/** AH=12h BL=10h: 256 KiB of video memory. */
const EGA_MEMORY_256K = 0x03;
/** Function answers that mean "supported" for AH=12h subfunctions and AH=1Ah. */
const ALT_SELECT_OK = 0x12;
const DCC_OK = 0x1a;

export class VideoServices {
  constructor(
    private readonly pc: Pc,
    private readonly guest: GuestMemory,
    /** Whether teletype output is copied to COM1. */
    private readonly serialMirror: boolean,
  ) {}

  // ---- BDA state ----
  private get mode(): number {
    return this.pc.memory.read8(BDA_VIDEO_MODE);
  }
  private get columns(): number {
    return this.pc.memory.read16(BDA_VIDEO_COLUMNS) || TEXT_COLUMNS;
  }
  private get rows(): number {
    return this.pc.memory.read8(BDA_VIDEO_ROWS) + 1;
  }
  private get activePage(): number {
    return this.pc.memory.read8(BDA_VIDEO_PAGE) & (PAGE_COUNT - 1);
  }
  private get crtcBase(): number {
    return this.pc.memory.read16(BDA_CRTC_BASE) === CRTC_MONO ? CRTC_MONO : CRTC_COLOR;
  }
  private get textBase(): number {
    return this.mode === MODE_MONO ? TEXT_MONO_BASE : TEXT_COLOR_BASE;
  }

  private cursor(page: number): { row: number; col: number } {
    const pos = this.pc.memory.read16(BDA_CURSOR_POS + (page & (PAGE_COUNT - 1)) * 2);
    return { row: pos >> 8, col: pos & 0xff };
  }

  private cellAddress(page: number, row: number, col: number): number {
    const pageSize = this.pc.memory.read16(BDA_VIDEO_PAGE_SIZE) || PAGE_SIZE;
    return this.textBase + (page & (PAGE_COUNT - 1)) * pageSize + (row * this.columns + col) * 2;
  }

  private writeCrtc(index: number, value: number): void {
    this.pc.ports.out8(this.crtcBase, index);
    this.pc.ports.out8(this.crtcBase + 1, value);
  }

  // ---- Mode set ----

  /** Sets text mode 2, 3 or 7 (programming every VGA register); returns false for other modes. */
  setMode(request: number): boolean {
    const mode = request & ~MODE_NO_CLEAR;
    if (mode !== 2 && mode !== 3 && mode !== MODE_MONO) return false;
    const regs = mode === MODE_MONO ? MODE7 : MODE3;
    const ports = this.pc.ports;
    const mem = this.pc.memory;

    // Sequencer held in synchronous reset while the clocking changes.
    ports.out8(PORT_SEQ_INDEX, 0);
    ports.out8(PORT_SEQ_INDEX + 1, 0x01);
    ports.out8(PORT_MISC_WRITE, regs.misc);
    regs.seq.forEach((v, i) => {
      ports.out8(PORT_SEQ_INDEX, i + 1);
      ports.out8(PORT_SEQ_INDEX + 1, v);
    });
    ports.out8(PORT_SEQ_INDEX, 0);
    ports.out8(PORT_SEQ_INDEX + 1, 0x03);
    // CRTC: lift the write protection of registers 0-7 first.
    ports.out8(regs.crtcBase, CRTC_V_RETRACE_END);
    ports.out8(regs.crtcBase + 1, regs.crtc[CRTC_V_RETRACE_END] & ~CRTC_PROTECT);
    regs.crtc.forEach((v, i) => {
      ports.out8(regs.crtcBase, i);
      ports.out8(regs.crtcBase + 1, v);
    });
    regs.gc.forEach((v, i) => {
      ports.out8(PORT_GC_INDEX, i);
      ports.out8(PORT_GC_INDEX + 1, v);
    });
    // Attribute controller: reset the flip-flop, load with PAS=0, then give the palette back to the display.
    ports.in8(regs.crtcBase + CRTC_TO_STATUS1);
    regs.attr.forEach((v, i) => {
      ports.out8(PORT_ATTR, i);
      ports.out8(PORT_ATTR, v);
    });
    ports.out8(PORT_ATTR, ATTR_PAS);
    // DAC: the 64 EGA colours (two bits per primary, rgbRGB).
    ports.out8(PORT_DAC_WRITE_INDEX, 0);
    for (let i = 0; i < 64; i++) {
      ports.out8(PORT_DAC_DATA, ((i >> 2) & 1) * 0x2a + ((i >> 5) & 1) * 0x15);
      ports.out8(PORT_DAC_DATA, ((i >> 1) & 1) * 0x2a + ((i >> 4) & 1) * 0x15);
      ports.out8(PORT_DAC_DATA, (i & 1) * 0x2a + ((i >> 3) & 1) * 0x15);
    }

    mem.write8(BDA_VIDEO_MODE, mode);
    mem.write16(BDA_VIDEO_COLUMNS, TEXT_COLUMNS);
    mem.write16(BDA_VIDEO_PAGE_SIZE, PAGE_SIZE);
    mem.write16(BDA_VIDEO_PAGE_START, 0);
    for (let page = 0; page < PAGE_COUNT; page++) mem.write16(BDA_CURSOR_POS + page * 2, 0);
    mem.write16(BDA_CURSOR_SHAPE, DEFAULT_CURSOR_SHAPE);
    mem.write8(BDA_VIDEO_PAGE, 0);
    mem.write16(BDA_CRTC_BASE, regs.crtcBase);
    mem.write8(BDA_VIDEO_MODE_CONTROL, MODE_CONTROL_TEXT80);
    mem.write8(BDA_VIDEO_PALETTE, 0x30);
    mem.write8(BDA_VIDEO_ROWS, TEXT_ROWS - 1);
    mem.write16(BDA_CHAR_HEIGHT, CHAR_HEIGHT);
    mem.write8(BDA_VIDEO_EGA_MISC, 0x60 | (request & MODE_NO_CLEAR));
    mem.write8(BDA_VIDEO_SWITCHES, 0xf9);
    mem.write8(BDA_VIDEO_VGA_FLAGS, 0x51);
    mem.write8(BDA_VIDEO_DCC_INDEX, 0x08);

    if (!(request & MODE_NO_CLEAR)) {
      for (let i = 0; i < PAGE_SIZE * PAGE_COUNT; i += 2) {
        mem.write8(regs.memory + i, BLANK);
        mem.write8(regs.memory + i + 1, DEFAULT_ATTR);
      }
    }
    this.setCursorShape(DEFAULT_CURSOR_SHAPE);
    this.updateHardwareCursor();
    return true;
  }

  // ---- Cursor ----

  setCursor(page: number, row: number, col: number): void {
    page &= PAGE_COUNT - 1;
    this.pc.memory.write16(BDA_CURSOR_POS + page * 2, ((row & 0xff) << 8) | (col & 0xff));
    if (page === this.activePage) this.updateHardwareCursor();
  }

  private updateHardwareCursor(): void {
    const page = this.activePage;
    const { row, col } = this.cursor(page);
    const start = this.pc.memory.read16(BDA_VIDEO_PAGE_START) >> 1;
    const location = (start + row * this.columns + col) & 0xffff;
    this.writeCrtc(CRTC_CURSOR_HIGH, location >> 8);
    this.writeCrtc(CRTC_CURSOR_LOW, location & 0xff);
  }

  /**
   * AH=01h: CH = start line (bit 5: hidden), CL = end line, in CGA 8-line units when both are below 8 (the
   * VGA BIOS's cursor emulation scales them to the 16-line cell: 6-7 becomes 13-14).
   */
  private setCursorShape(shape: number): void {
    this.pc.memory.write16(BDA_CURSOR_SHAPE, shape);
    let start = (shape >> 8) & 0x1f;
    let end = shape & 0x1f;
    if (start < 8 && end < 8) {
      start = start * 2 + 1;
      end = end * 2;
    }
    this.writeCrtc(CRTC_CURSOR_START, start | ((shape >> 8) & CURSOR_DISABLE));
    this.writeCrtc(CRTC_CURSOR_END, end);
  }

  private setActivePage(page: number): void {
    page &= PAGE_COUNT - 1;
    const mem = this.pc.memory;
    const start = page * (mem.read16(BDA_VIDEO_PAGE_SIZE) || PAGE_SIZE);
    mem.write8(BDA_VIDEO_PAGE, page);
    mem.write16(BDA_VIDEO_PAGE_START, start);
    this.writeCrtc(CRTC_START_HIGH, (start >> 9) & 0xff);
    this.writeCrtc(CRTC_START_LOW, (start >> 1) & 0xff);
    this.updateHardwareCursor();
  }

  // ---- Text ----

  /** Scrolls a window of `page` up (lines > 0) or down (lines < 0); 0 or a whole window's height clears it. */
  scroll(
    page: number,
    lines: number,
    attr: number,
    top: number,
    left: number,
    bottom: number,
    right: number,
  ): void {
    const mem = this.pc.memory;
    bottom = Math.min(bottom, this.rows - 1);
    right = Math.min(right, this.columns - 1);
    if (top > bottom || left > right) return;
    const height = bottom - top + 1;
    const count = Math.abs(lines);
    const clearAll = count === 0 || count >= height;
    const copyRow = (from: number, to: number) => {
      for (let col = left; col <= right; col++) {
        const src = this.cellAddress(page, from, col);
        const dst = this.cellAddress(page, to, col);
        mem.write8(dst, mem.read8(src));
        mem.write8(dst + 1, mem.read8(src + 1));
      }
    };
    const blankRow = (row: number) => {
      for (let col = left; col <= right; col++) {
        const cell = this.cellAddress(page, row, col);
        mem.write8(cell, BLANK);
        mem.write8(cell + 1, attr);
      }
    };
    if (clearAll) {
      for (let row = top; row <= bottom; row++) blankRow(row);
    } else if (lines > 0) {
      for (let row = top; row + count <= bottom; row++) copyRow(row + count, row);
      for (let row = bottom - count + 1; row <= bottom; row++) blankRow(row);
    } else {
      for (let row = bottom; row - count >= top; row--) copyRow(row - count, row);
      for (let row = top; row < top + count; row++) blankRow(row);
    }
  }

  /**
   * Writes one character at the cursor of `page` the teletype way: BEL, BS, CR and LF act, anything else is
   * stored (with `attr`, or keeping the cell's attribute when attr < 0) and the cursor advances, wrapping
   * and scrolling the page when it passes the last row.
   */
  private putChar(page: number, ch: number, attr: number): void {
    const mem = this.pc.memory;
    let { row, col } = this.cursor(page);
    switch (ch) {
      case BEL:
        break;
      case BS:
        if (col > 0) col--;
        break;
      case CR:
        col = 0;
        break;
      case LF:
        row++;
        break;
      default: {
        const cell = this.cellAddress(page, row, col);
        mem.write8(cell, ch);
        if (attr >= 0) mem.write8(cell + 1, attr);
        if (++col >= this.columns) {
          col = 0;
          row++;
        }
      }
    }
    if (row >= this.rows) {
      // The new line takes the attribute of the cell the cursor was on (IBM BIOS behaviour).
      const fill = mem.read8(this.cellAddress(page, this.rows - 1, Math.min(col, this.columns - 1)) + 1);
      this.scroll(page, 1, fill, 0, 0, this.rows - 1, this.columns - 1);
      row = this.rows - 1;
    }
    this.setCursor(page, row, col);
  }

  /** AH=0Eh on the active page (BH is ignored, as SeaBIOS does: callers often leave garbage in it). */
  teletype(ch: number): void {
    this.putChar(this.activePage, ch, -1);
    this.mirror(ch);
  }

  /** Prints a firmware message (teletype, mirrored to COM1). */
  print(text: string): void {
    for (let i = 0; i < text.length; i++) this.teletype(text.charCodeAt(i) & 0xff);
  }

  /** Copies a character to COM1's transmitter, unless the mirror is off or the divisor latch is selected. */
  private mirror(ch: number): void {
    if (!this.serialMirror) return;
    const base = this.pc.memory.read16(BDA_COM_PORTS);
    if (base === 0) return;
    if (this.pc.ports.in8(base + UART_LCR) & LCR_DLAB) return;
    this.pc.ports.out8(base + UART_THR, ch);
  }

  /** AH=09h/0Ah: CX copies of AL at the cursor of page BH, which does not move. */
  private writeRepeated(page: number, ch: number, attr: number, count: number): void {
    const mem = this.pc.memory;
    const { row, col } = this.cursor(page);
    const cells = this.columns * this.rows;
    let index = row * this.columns + col;
    for (let i = 0; i < count && index < cells; i++, index++) {
      const cell = this.cellAddress(page, 0, index);
      mem.write8(cell, ch);
      if (attr >= 0) mem.write8(cell + 1, attr);
    }
  }

  /** AH=13h: CX characters from ES:BP at row DH, column DL of page BH. */
  private writeString(): void {
    const cpu = this.pc.cpu;
    const flags = cpu.reg8[AL];
    const page = cpu.reg8[BH] & (PAGE_COUNT - 1);
    const withAttributes = (flags & 0x02) !== 0;
    const saved = this.cursor(page);
    this.setCursor(page, cpu.reg8[DH], cpu.reg8[DL]);
    let address = this.guest.at(ES, cpu.reg16[BP]);
    for (let i = 0; i < cpu.reg16[CX]; i++) {
      const ch = this.guest.read8(address++);
      const attr = withAttributes ? this.guest.read8(address++) : cpu.reg8[BL];
      this.putChar(page, ch, attr);
      this.mirror(ch);
    }
    if (!(flags & 0x01)) this.setCursor(page, saved.row, saved.col);
  }

  // ---- INT 10h ----

  int10(): number {
    const cpu = this.pc.cpu;
    const r8 = cpu.reg8;
    const mem = this.pc.memory;
    switch (r8[AH]) {
      case 0x00:
        this.setMode(r8[AL]);
        break;
      case 0x01:
        this.setCursorShape(cpu.reg16[CX]);
        break;
      case 0x02:
        this.setCursor(r8[BH], r8[DH], r8[DL]);
        break;
      case 0x03: {
        const { row, col } = this.cursor(r8[BH]);
        cpu.reg16[CX] = mem.read16(BDA_CURSOR_SHAPE);
        cpu.reg16[DX] = (row << 8) | col;
        break;
      }
      case 0x05:
        this.setActivePage(r8[AL]);
        break;
      case 0x06:
      case 0x07: {
        const lines = r8[AH] === 0x06 ? r8[AL] : -r8[AL];
        this.scroll(this.activePage, lines, r8[BH], r8[CH], r8[CL], r8[DH], r8[DL]);
        break;
      }
      case 0x08: {
        const { row, col } = this.cursor(r8[BH]);
        const cell = this.cellAddress(r8[BH], row, col);
        cpu.reg16[AX] = mem.read8(cell) | (mem.read8(cell + 1) << 8);
        break;
      }
      case 0x09:
        this.writeRepeated(r8[BH], r8[AL], r8[BL], cpu.reg16[CX]);
        break;
      case 0x0a:
        this.writeRepeated(r8[BH], r8[AL], -1, cpu.reg16[CX]);
        break;
      case 0x0e:
        this.teletype(r8[AL]);
        break;
      case 0x0f:
        r8[AL] = this.mode | (mem.read8(BDA_VIDEO_EGA_MISC) & MODE_NO_CLEAR);
        r8[AH] = this.columns;
        r8[BH] = this.activePage;
        break;
      case 0x10:
        if (r8[AL] === 0x03) this.setBlink(r8[BL] !== 0);
        break;
      case 0x11:
        if (r8[AL] === 0x30) {
          cpu.reg16[CX] = mem.read16(BDA_CHAR_HEIGHT);
          r8[DL] = this.rows - 1;
        }
        break;
      case 0x12:
        this.alternateSelect();
        break;
      case 0x13:
        this.writeString();
        break;
      case 0x1a:
        if (r8[AL] <= 0x01) {
          if (r8[AL] === 0x00) cpu.reg16[BX] = this.crtcBase === CRTC_MONO ? DCC_VGA_MONO : DCC_VGA_COLOR;
          r8[AL] = DCC_OK;
        }
        break;
      default:
        break; // Unsupported (graphics, VBE...): registers are left as they were.
    }
    return DONE;
  }

  /** AH=12h "alternate select". */
  private alternateSelect(): void {
    const cpu = this.pc.cpu;
    const r8 = cpu.reg8;
    switch (r8[BL]) {
      case 0x10: // EGA information
        r8[BH] = this.crtcBase === CRTC_MONO ? 1 : 0;
        r8[BL] = EGA_MEMORY_256K;
        r8[CH] = 0;
        r8[CL] = this.pc.memory.read8(BDA_VIDEO_SWITCHES) & 0x0f;
        break;
      case 0x30: // vertical resolution
      case 0x31: // default palette loading
      case 0x32: // video enable
      case 0x33: // grey-scale summing
      case 0x34: // cursor emulation
      case 0x36: // video refresh control
        r8[AL] = ALT_SELECT_OK;
        break;
      default:
        break;
    }
  }

  /** AX=1003h: attribute bit 7 selects blink (BL=1) or bright background (BL=0). */
  private setBlink(blink: boolean): void {
    const ports = this.pc.ports;
    ports.in8(this.crtcBase + CRTC_TO_STATUS1);
    ports.out8(PORT_ATTR, ATTR_MODE_CONTROL | ATTR_PAS);
    const value = ports.in8(PORT_ATTR + 1);
    ports.out8(PORT_ATTR, blink ? value | ATTR_BLINK : value & ~ATTR_BLINK);
  }
}
