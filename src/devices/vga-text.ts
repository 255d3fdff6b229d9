/**
 * IBM VGA in alphanumeric (text) mode, as the BIOS leaves it after INT 10h mode 3 (80x25, 16 colours).
 *
 * Follows the IBM VGA Technical Reference ("Video Graphics Array", PS/2 Hardware Interface Technical
 * Reference): the CRT controller (0x3D4/0x3D5, or 0x3B4/0x3B5 when the miscellaneous output register selects
 * monochrome addressing), sequencer (0x3C4/0x3C5), graphics controller (0x3CE/0x3CF), attribute controller
 * (0x3C0/0x3C1 with its index/data flip-flop), DAC (0x3C6-0x3C9), miscellaneous output (write 0x3C2, read
 * 0x3CC), feature control and input status registers. Registers read back what was written; only text mode
 * is drawn: the 128 KiB window 0xA0000-0xBFFFF is kept as flat memory so graphics-mode writes land somewhere.
 *
 * Time is virtual and this device has no clock, so the retrace bits of input status 1 advance per read: a
 * loop that waits for retrace to start and end finishes within a few reads.
 */

import type { MmioHandler, PhysicalMemory } from '../cpu/memory.ts';
import {
  stateBoolean,
  stateBytes,
  stateNumber,
  type DeviceState,
  type IoDevice,
  type Stateful,
} from './device.ts';

export const VGA_WINDOW_BASE = 0xa0000;
export const VGA_WINDOW_SIZE = 0x20000;

/** I/O ports. The 0x3Bx/0x3Dx pairs decode according to MISC_IOAS. */
const PORT_CRTC_INDEX_MONO = 0x3b4;
const PORT_CRTC_DATA_MONO = 0x3b5;
const PORT_STATUS1_MONO = 0x3ba; // read: input status 1; write: feature control
const PORT_ATTR_INDEX = 0x3c0; // write: index, then data (flip-flop); read: index
const PORT_ATTR_DATA_READ = 0x3c1;
const PORT_MISC_WRITE = 0x3c2; // read: input status 0
const PORT_VIDEO_ENABLE = 0x3c3;
const PORT_SEQ_INDEX = 0x3c4;
const PORT_SEQ_DATA = 0x3c5;
const PORT_DAC_MASK = 0x3c6;
const PORT_DAC_READ_INDEX = 0x3c7; // read: DAC state
const PORT_DAC_WRITE_INDEX = 0x3c8;
const PORT_DAC_DATA = 0x3c9;
const PORT_FEATURE_READ = 0x3ca;
const PORT_MISC_READ = 0x3cc;
const PORT_GC_INDEX = 0x3ce;
const PORT_GC_DATA = 0x3cf;
const PORT_CRTC_INDEX_COLOR = 0x3d4;
const PORT_CRTC_DATA_COLOR = 0x3d5;
const PORT_STATUS1_COLOR = 0x3da;

/** Miscellaneous output: I/O address select, 1 = CRTC and status 1 at 0x3Dx (colour), 0 = 0x3Bx (mono). */
const MISC_IOAS = 0x01;

/** CRT controller registers. */
const CRTC_COUNT = 0x19;
const CRTC_H_DISPLAY_END = 0x01;
const CRTC_OVERFLOW = 0x07;
const CRTC_MAX_SCAN_LINE = 0x09;
const CRTC_CURSOR_START = 0x0a;
const CRTC_CURSOR_END = 0x0b;
const CRTC_START_HIGH = 0x0c;
const CRTC_START_LOW = 0x0d;
const CRTC_CURSOR_HIGH = 0x0e;
const CRTC_CURSOR_LOW = 0x0f;
const CRTC_V_RETRACE_END = 0x11;
const CRTC_V_DISPLAY_END = 0x12;
const CRTC_OFFSET = 0x13;
const CURSOR_DISABLE = 0x20; // cursor start register bit 5
const V_RETRACE_END_PROTECT = 0x80; // write-protects CRTC registers 0-7
const OVERFLOW_LINE_COMPARE_8 = 0x10; // the one bit of register 7 that protection leaves writable
const MAX_SCAN_DOUBLE = 0x80;

/** Sequencer, graphics controller and attribute controller register counts. */
const SEQ_COUNT = 5;
const SEQ_CLOCKING_MODE = 0x01;
const CLOCKING_SCREEN_OFF = 0x20;
const GC_COUNT = 9;
const GC_MISC = 0x06; // bits 2-3: memory map select
const ATTR_COUNT = 0x15;
const ATTR_PALETTE_COUNT = 0x10;
const ATTR_MODE_CONTROL = 0x10;
const ATTR_COLOR_SELECT = 0x14;
const ATTR_INDEX_PAS = 0x20; // palette address source: 0 = CPU owns the palette and the screen is blanked
const MODE_BLINK = 0x08;
const MODE_P54S = 0x80;

/** Input status 1 bits. */
const STATUS1_DISPLAY_DISABLED = 0x01;
const STATUS1_VERTICAL_RETRACE = 0x08;
/** Reads per simulated frame of input status 1, and the reads at the end of it that are vertical retrace. */
const RETRACE_PERIOD = 16;
const RETRACE_READS = 4;

/** BIOS mode 3 register values (IBM VGA Technical Reference, video mode tables). */
const MODE3_MISC = 0x67;
const MODE3_SEQ = [0x03, 0x00, 0x03, 0x00, 0x02];
const MODE3_CRTC = [
  0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x8e,
  0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
];
const MODE3_GC = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff];
const MODE3_ATTR = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x0c, 0x00,
  0x0f, 0x08, 0x00,
];

/** Code page 437 glyphs as Unicode; 0x00 shows as a blank. */
const CP437 = Array.from(
  ' ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼' +
    ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~⌂' +
    'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐' +
    '└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0',
);

/** The text screen as a renderer needs it. Arrays are shared until `generation` changes: do not modify. */
export interface TextSnapshot {
  cols: number;
  rows: number;
  /** Row-major cells: character | attribute << 8. */
  cells: Uint16Array;
  cursor: { row: number; col: number; visible: boolean; startLine: number; endLine: number };
  /** Attribute bit 7 means blink (true) rather than bright background (false). */
  blink: boolean;
  /** The screen is blanked (palette address source clear, or the sequencer's screen-off bit). */
  blank: boolean;
  /** Bumped whenever video memory, a register or the palette changes. */
  generation: number;
}

export class VgaText implements IoDevice, Stateful {
  readonly name = 'vga';
  readonly portRanges = [
    { start: PORT_CRTC_INDEX_MONO, length: 2 },
    { start: PORT_STATUS1_MONO, length: 1 },
    { start: PORT_ATTR_INDEX, length: 16 },
    { start: PORT_CRTC_INDEX_COLOR, length: 2 },
    { start: PORT_STATUS1_COLOR, length: 1 },
  ];
  /** Decodes the video memory window; map it with `attach`. */
  readonly mmio: MmioHandler;

  private vram = new Uint8Array(VGA_WINDOW_SIZE);
  private crtc = new Uint8Array(CRTC_COUNT);
  private crtcIndex = 0;
  private seq = new Uint8Array(SEQ_COUNT);
  private seqIndex = 0;
  private gc = new Uint8Array(GC_COUNT);
  private gcIndex = 0;
  private attr = new Uint8Array(ATTR_COUNT);
  /** Attribute index register: bits 0-4 index, bit 5 PAS. */
  private attrIndex = ATTR_INDEX_PAS;
  /** Attribute flip-flop: false = next 0x3C0 write is the index, true = data. */
  private attrFlipFlop = false;
  private misc = MODE3_MISC;
  private featureControl = 0;
  private videoEnable = 1;
  private dac = new Uint8Array(256 * 3);
  private dacMask = 0xff;
  private dacWriteIndex = 0;
  private dacReadIndex = 0;
  private dacComponent = 0;
  /** 0x3C7 reads 0x03 after a read index was set, 0x00 after a write index. */
  private dacReading = false;
  private retraceCounter = 0;

  private generation = 0;
  private snapshot: TextSnapshot | null = null;

  constructor() {
    this.mmio = {
      read8: (address) => this.vram[(address - VGA_WINDOW_BASE) & (VGA_WINDOW_SIZE - 1)],
      write8: (address, value) => {
        const offset = (address - VGA_WINDOW_BASE) & (VGA_WINDOW_SIZE - 1);
        if (this.vram[offset] !== value) {
          this.vram[offset] = value;
          this.generation++;
        }
      },
    };
    this.reset();
  }

  /** Maps video memory at 0xA0000-0xBFFFF. */
  attach(memory: PhysicalMemory): void {
    memory.mapMmio(VGA_WINDOW_BASE, VGA_WINDOW_SIZE, this.mmio);
  }

  reset(): void {
    this.vram.fill(0);
    // A cleared text screen is spaces in light grey on black, as the BIOS mode set leaves it.
    for (let i = 0x18000; i < VGA_WINDOW_SIZE; i += 2) {
      this.vram[i] = 0x20;
      this.vram[i + 1] = 0x07;
    }
    this.crtc.set(MODE3_CRTC);
    this.seq.set(MODE3_SEQ);
    this.gc.set(MODE3_GC);
    this.attr.set(MODE3_ATTR);
    this.crtcIndex = this.seqIndex = this.gcIndex = 0;
    this.attrIndex = ATTR_INDEX_PAS;
    this.attrFlipFlop = false;
    this.misc = MODE3_MISC;
    this.featureControl = 0;
    this.videoEnable = 1;
    // The BIOS loads the 64 EGA colours (2 bits per primary from rgbRGB) into DAC entries 0-63.
    this.dac.fill(0);
    for (let i = 0; i < 64; i++) {
      this.dac[i * 3] = ((i >> 2) & 1) * 0x2a + ((i >> 5) & 1) * 0x15;
      this.dac[i * 3 + 1] = ((i >> 1) & 1) * 0x2a + ((i >> 4) & 1) * 0x15;
      this.dac[i * 3 + 2] = (i & 1) * 0x2a + ((i >> 3) & 1) * 0x15;
    }
    this.dacMask = 0xff;
    this.dacWriteIndex = this.dacReadIndex = this.dacComponent = 0;
    this.dacReading = false;
    this.retraceCounter = 0;
    this.generation++;
  }

  read8(port: number): number {
    if (!this.decodes(port)) return 0xff;
    switch (port) {
      case PORT_CRTC_INDEX_MONO:
      case PORT_CRTC_INDEX_COLOR:
        return this.crtcIndex;
      case PORT_CRTC_DATA_MONO:
      case PORT_CRTC_DATA_COLOR:
        return this.crtcIndex < CRTC_COUNT ? this.crtc[this.crtcIndex] : 0xff;
      case PORT_STATUS1_MONO:
      case PORT_STATUS1_COLOR:
        return this.inputStatus1();
      case PORT_ATTR_INDEX:
        return this.attrIndex;
      case PORT_ATTR_DATA_READ: {
        const index = this.attrIndex & 0x1f;
        return index < ATTR_COUNT ? this.attr[index] : 0xff;
      }
      case PORT_MISC_WRITE:
        return 0x00; // Input status 0: no switch sense, no vertical retrace interrupt pending.
      case PORT_VIDEO_ENABLE:
        return this.videoEnable;
      case PORT_SEQ_INDEX:
        return this.seqIndex;
      case PORT_SEQ_DATA:
        return this.seqIndex < SEQ_COUNT ? this.seq[this.seqIndex] : 0xff;
      case PORT_DAC_MASK:
        return this.dacMask;
      case PORT_DAC_READ_INDEX:
        return this.dacReading ? 0x03 : 0x00;
      case PORT_DAC_WRITE_INDEX:
        return this.dacWriteIndex;
      case PORT_DAC_DATA: {
        const value = this.dac[this.dacReadIndex * 3 + this.dacComponent];
        if (++this.dacComponent === 3) {
          this.dacComponent = 0;
          this.dacReadIndex = (this.dacReadIndex + 1) & 0xff;
        }
        return value;
      }
      case PORT_FEATURE_READ:
        return this.featureControl;
      case PORT_MISC_READ:
        return this.misc;
      case PORT_GC_INDEX:
        return this.gcIndex;
      case PORT_GC_DATA:
        return this.gcIndex < GC_COUNT ? this.gc[this.gcIndex] : 0xff;
      default:
        return 0xff;
    }
  }

  write8(port: number, value: number): void {
    if (!this.decodes(port)) return;
    value &= 0xff;
    switch (port) {
      case PORT_CRTC_INDEX_MONO:
      case PORT_CRTC_INDEX_COLOR:
        this.crtcIndex = value;
        break;
      case PORT_CRTC_DATA_MONO:
      case PORT_CRTC_DATA_COLOR:
        this.writeCrtc(this.crtcIndex, value);
        break;
      case PORT_STATUS1_MONO:
      case PORT_STATUS1_COLOR:
        this.featureControl = value;
        break;
      case PORT_ATTR_INDEX:
        this.writeAttr(value);
        break;
      case PORT_MISC_WRITE:
        this.misc = value;
        break;
      case PORT_VIDEO_ENABLE:
        this.videoEnable = value & 0x01;
        break;
      case PORT_SEQ_INDEX:
        this.seqIndex = value;
        break;
      case PORT_SEQ_DATA:
        if (this.seqIndex < SEQ_COUNT) this.setRegister(this.seq, this.seqIndex, value);
        break;
      case PORT_DAC_MASK:
        this.dacMask = value;
        this.generation++;
        break;
      case PORT_DAC_READ_INDEX:
        this.dacReadIndex = value;
        this.dacComponent = 0;
        this.dacReading = true;
        break;
      case PORT_DAC_WRITE_INDEX:
        this.dacWriteIndex = value;
        this.dacComponent = 0;
        this.dacReading = false;
        break;
      case PORT_DAC_DATA:
        // DAC entries are 6 bits per primary.
        this.setRegister(this.dac, this.dacWriteIndex * 3 + this.dacComponent, value & 0x3f);
        if (++this.dacComponent === 3) {
          this.dacComponent = 0;
          this.dacWriteIndex = (this.dacWriteIndex + 1) & 0xff;
        }
        break;
      case PORT_GC_INDEX:
        this.gcIndex = value;
        break;
      case PORT_GC_DATA:
        if (this.gcIndex < GC_COUNT) this.setRegister(this.gc, this.gcIndex, value);
        break;
      default:
        break; // 0x3C1 is read-only on the VGA: attribute data is written through 0x3C0.
    }
  }

  /** The text screen; the same object is returned until something visible changes. */
  textSnapshot(): TextSnapshot {
    if (this.snapshot && this.snapshot.generation === this.generation) return this.snapshot;
    const crtc = this.crtc;
    const cols = Math.min(crtc[CRTC_H_DISPLAY_END] + 1, 256);
    const overflow = crtc[CRTC_OVERFLOW];
    let scanLines = (crtc[CRTC_V_DISPLAY_END] | ((overflow & 0x02) << 7) | ((overflow & 0x40) << 3)) + 1;
    if (crtc[CRTC_MAX_SCAN_LINE] & MAX_SCAN_DOUBLE) scanLines >>= 1;
    const charHeight = (crtc[CRTC_MAX_SCAN_LINE] & 0x1f) + 1;
    const rows = Math.max(1, Math.min(Math.floor(scanLines / charHeight), 128));
    // The offset register counts words of two characters per row in word mode.
    const stride = crtc[CRTC_OFFSET] * 2 || cols;
    const start = (crtc[CRTC_START_HIGH] << 8) | crtc[CRTC_START_LOW];
    const [base, size] = this.textWindow();
    const cells = new Uint16Array(cols * rows);
    for (let row = 0; row < rows; row++) {
      for (let col = 0; col < cols; col++) {
        const offset = base + (((start + row * stride + col) * 2) & (size - 1));
        cells[row * cols + col] = this.vram[offset] | (this.vram[offset + 1] << 8);
      }
    }
    const location = ((crtc[CRTC_CURSOR_HIGH] << 8) | crtc[CRTC_CURSOR_LOW]) - start;
    const row = Math.floor(location / stride);
    const col = location - row * stride;
    const startLine = crtc[CRTC_CURSOR_START] & 0x1f;
    const endLine = crtc[CRTC_CURSOR_END] & 0x1f;
    // Quirk: on the VGA (unlike the EGA) a start line greater than the end line shows no cursor at all.
    const visible =
      !(crtc[CRTC_CURSOR_START] & CURSOR_DISABLE) &&
      startLine <= endLine &&
      location >= 0 &&
      row < rows &&
      col < cols;
    this.snapshot = {
      cols,
      rows,
      cells,
      cursor: { row, col, visible, startLine, endLine },
      blink: (this.attr[ATTR_MODE_CONTROL] & MODE_BLINK) !== 0,
      blank: !(this.attrIndex & ATTR_INDEX_PAS) || (this.seq[SEQ_CLOCKING_MODE] & CLOCKING_SCREEN_OFF) !== 0,
      generation: this.generation,
    };
    return this.snapshot;
  }

  /** The screen as Unicode text, one string per row, trailing blanks removed. */
  textLines(): string[] {
    const { cols, rows, cells } = this.textSnapshot();
    const lines: string[] = [];
    for (let row = 0; row < rows; row++) {
      let line = '';
      for (let col = 0; col < cols; col++) line += CP437[cells[row * cols + col] & 0xff];
      lines.push(line.replace(/ +$/, ''));
    }
    return lines;
  }

  /** The 16 text colours as 0xRRGGBB, through the attribute palette, colour select, pixel mask and DAC. */
  textPalette(): Uint32Array {
    const out = new Uint32Array(ATTR_PALETTE_COUNT);
    const colorSelect = this.attr[ATTR_COLOR_SELECT];
    for (let i = 0; i < ATTR_PALETTE_COUNT; i++) {
      let index = this.attr[i] & 0x3f;
      // P54S takes DAC index bits 4-5 from colour select bits 0-1; bits 6-7 always come from its bits 2-3.
      if (this.attr[ATTR_MODE_CONTROL] & MODE_P54S) index = (index & 0x0f) | ((colorSelect & 0x03) << 4);
      index = (index | ((colorSelect & 0x0c) << 4)) & this.dacMask;
      const rgb = [0, 1, 2].map((c) => {
        const v = this.dac[index * 3 + c];
        return (v << 2) | (v >> 4);
      });
      out[i] = (rgb[0] << 16) | (rgb[1] << 8) | rgb[2];
    }
    return out;
  }

  saveState(): DeviceState {
    return {
      vram: this.vram.slice(),
      crtc: this.crtc.slice(),
      crtcIndex: this.crtcIndex,
      seq: this.seq.slice(),
      seqIndex: this.seqIndex,
      gc: this.gc.slice(),
      gcIndex: this.gcIndex,
      attr: this.attr.slice(),
      attrIndex: this.attrIndex,
      attrFlipFlop: this.attrFlipFlop,
      misc: this.misc,
      featureControl: this.featureControl,
      videoEnable: this.videoEnable,
      dac: this.dac.slice(),
      dacMask: this.dacMask,
      dacWriteIndex: this.dacWriteIndex,
      dacReadIndex: this.dacReadIndex,
      dacComponent: this.dacComponent,
      dacReading: this.dacReading,
      retraceCounter: this.retraceCounter,
    };
  }

  loadState(state: DeviceState): void {
    const arrays = {
      vram: stateBytes(state, 'vram', VGA_WINDOW_SIZE),
      crtc: stateBytes(state, 'crtc', CRTC_COUNT),
      seq: stateBytes(state, 'seq', SEQ_COUNT),
      gc: stateBytes(state, 'gc', GC_COUNT),
      attr: stateBytes(state, 'attr', ATTR_COUNT),
      dac: stateBytes(state, 'dac', 256 * 3),
    };
    const crtcIndex = byteField(state, 'crtcIndex', 0xff);
    const seqIndex = byteField(state, 'seqIndex', 0xff);
    const gcIndex = byteField(state, 'gcIndex', 0xff);
    const attrIndex = byteField(state, 'attrIndex', 0x3f);
    const misc = byteField(state, 'misc', 0xff);
    const featureControl = byteField(state, 'featureControl', 0xff);
    const videoEnable = byteField(state, 'videoEnable', 1);
    const dacMask = byteField(state, 'dacMask', 0xff);
    const dacWriteIndex = byteField(state, 'dacWriteIndex', 0xff);
    const dacReadIndex = byteField(state, 'dacReadIndex', 0xff);
    const dacComponent = byteField(state, 'dacComponent', 2);
    const retraceCounter = byteField(state, 'retraceCounter', RETRACE_PERIOD - 1);
    const attrFlipFlop = stateBoolean(state, 'attrFlipFlop');
    const dacReading = stateBoolean(state, 'dacReading');
    this.vram.set(arrays.vram);
    this.crtc.set(arrays.crtc);
    this.seq.set(arrays.seq);
    this.gc.set(arrays.gc);
    this.attr.set(arrays.attr);
    this.dac.set(arrays.dac);
    this.crtcIndex = crtcIndex;
    this.seqIndex = seqIndex;
    this.gcIndex = gcIndex;
    this.attrIndex = attrIndex;
    this.misc = misc;
    this.featureControl = featureControl;
    this.videoEnable = videoEnable;
    this.dacMask = dacMask;
    this.dacWriteIndex = dacWriteIndex;
    this.dacReadIndex = dacReadIndex;
    this.dacComponent = dacComponent;
    this.retraceCounter = retraceCounter;
    this.attrFlipFlop = attrFlipFlop;
    this.dacReading = dacReading;
    this.generation++;
  }

  /** The CRTC and status 1 ports answer only at the address the miscellaneous output selects. */
  private decodes(port: number): boolean {
    const color = (this.misc & MISC_IOAS) !== 0;
    if (port === PORT_CRTC_INDEX_MONO || port === PORT_CRTC_DATA_MONO || port === PORT_STATUS1_MONO)
      return !color;
    if (port === PORT_CRTC_INDEX_COLOR || port === PORT_CRTC_DATA_COLOR || port === PORT_STATUS1_COLOR)
      return color;
    return true;
  }

  private inputStatus1(): number {
    this.attrFlipFlop = false; // Reading input status 1 points the attribute flip-flop at the index.
    const phase = this.retraceCounter;
    this.retraceCounter = (phase + 1) % RETRACE_PERIOD;
    if (phase >= RETRACE_PERIOD - RETRACE_READS) return STATUS1_VERTICAL_RETRACE | STATUS1_DISPLAY_DISABLED;
    return phase & 1 ? STATUS1_DISPLAY_DISABLED : 0; // Horizontal retrace comes and goes every other read.
  }

  private writeCrtc(index: number, value: number): void {
    if (index >= CRTC_COUNT) return;
    // Quirk: the protect bit locks registers 0-7, except the line compare bit 8 in the overflow register.
    if (index <= CRTC_OVERFLOW && this.crtc[CRTC_V_RETRACE_END] & V_RETRACE_END_PROTECT) {
      if (index !== CRTC_OVERFLOW) return;
      value = (this.crtc[CRTC_OVERFLOW] & ~OVERFLOW_LINE_COMPARE_8) | (value & OVERFLOW_LINE_COMPARE_8);
    }
    this.setRegister(this.crtc, index, value);
  }

  private writeAttr(value: number): void {
    if (!this.attrFlipFlop) {
      this.attrIndex = value & 0x3f;
      this.attrFlipFlop = true;
      this.generation++; // PAS may have blanked or unblanked the screen.
      return;
    }
    this.attrFlipFlop = false;
    const index = this.attrIndex & 0x1f;
    // Quirk: the palette registers are writable only while PAS is 0 (the CPU owns the palette).
    if (index < ATTR_PALETTE_COUNT && this.attrIndex & ATTR_INDEX_PAS) return;
    if (index < ATTR_COUNT) this.setRegister(this.attr, index, value);
  }

  private setRegister(registers: Uint8Array, index: number, value: number): void {
    if (registers[index] !== value) {
      registers[index] = value;
      this.generation++;
    }
  }

  /** Offset into the window and size of the region the graphics controller maps (memory map select). */
  private textWindow(): [number, number] {
    switch ((this.gc[GC_MISC] >> 2) & 3) {
      case 0:
        return [0, 0x20000];
      case 1:
        return [0, 0x10000];
      case 2:
        return [0x10000, 0x8000];
      default:
        return [0x18000, 0x8000];
    }
  }
}

function byteField(state: DeviceState, field: string, max: number): number {
  const v = stateNumber(state, field);
  if (!Number.isInteger(v) || v < 0 || v > max) throw new Error(`state field '${field}' is out of range`);
  return v;
}
