import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import type { DeviceState } from '../../src/devices/device.ts';
import { VgaText } from '../../src/devices/vga-text.ts';

function setup() {
  const memory = new PhysicalMemory(1 << 20);
  const vga = new VgaText();
  vga.attach(memory);
  const crtc = (index: number, value?: number) => {
    vga.write8(0x3d4, index);
    if (value !== undefined) vga.write8(0x3d5, value);
    return vga.read8(0x3d5);
  };
  const puts = (row: number, col: number, text: string, attr = 0x07) => {
    for (let i = 0; i < text.length; i++) {
      const at = 0xb8000 + (row * 80 + col + i) * 2;
      memory.write8(at, text.charCodeAt(i));
      memory.write8(at + 1, attr);
    }
  };
  return { memory, vga, crtc, puts };
}

describe('VgaText memory and text', () => {
  it('starts as a blank 80x25 screen of grey-on-black spaces', () => {
    const { vga } = setup();
    const snap = vga.textSnapshot();
    expect(snap.cols).toBe(80);
    expect(snap.rows).toBe(25);
    expect(snap.cells).toHaveLength(2000);
    expect(snap.cells.every((c) => c === 0x0720)).toBe(true);
    expect(snap.blank).toBe(false);
    expect(snap.blink).toBe(true);
    expect(vga.textLines()).toEqual(Array(25).fill(''));
  });

  it('shows characters written to 0xB8000 with their attributes', () => {
    const { vga, memory, puts } = setup();
    puts(0, 0, 'Hello, VGA', 0x1f);
    puts(24, 75, 'end');
    expect(memory.read8(0xb8000)).toBe(0x48);
    expect(memory.read8(0xb8001)).toBe(0x1f);
    const snap = vga.textSnapshot();
    expect(snap.cells[0]).toBe(0x48 | (0x1f << 8));
    expect(vga.textLines()[0]).toBe('Hello, VGA');
    expect(vga.textLines()[24]).toBe(' '.repeat(75) + 'end');
  });

  it('keeps the whole 128 KiB window as memory, leaving the rest of the map alone', () => {
    const { memory } = setup();
    memory.write8(0xa0000, 0x12);
    memory.write8(0xaffff, 0x34);
    memory.write32(0xb0000, 0xdeadbeef);
    expect(memory.read8(0xa0000)).toBe(0x12);
    expect(memory.read8(0xaffff)).toBe(0x34);
    expect(memory.read32(0xb0000) >>> 0).toBe(0xdeadbeef);
    memory.write8(0x9ffff, 0x56); // RAM just below the window
    expect(memory.read8(0x9ffff)).toBe(0x56);
  });

  it('maps CP437 to Unicode', () => {
    const { vga, memory } = setup();
    const bytes = [
      0x01, 0x03, 0x10, 0x7f, 0x80, 0x9b, 0xb0, 0xb3, 0xc9, 0xcd, 0xbb, 0xdb, 0xe1, 0xe3, 0xf8, 0xfb, 0xfe,
    ];
    bytes.forEach((b, i) => memory.write8(0xb8000 + i * 2, b));
    expect(vga.textLines()[0]).toBe('☺♥►⌂Ç¢░│╔═╗█ßπ°√■');
    // Box drawing 0xB0-0xDF in one row.
    for (let i = 0; i < 48; i++) memory.write8(0xb8000 + 160 + i * 2, 0xb0 + i);
    expect(vga.textLines()[1]).toBe('░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀');
    memory.write8(0xb8000 + 320, 0x00);
    memory.write8(0xb8000 + 322, 0x41);
    expect(vga.textLines()[2]).toBe(' A'); // NUL shows as a blank
  });

  it('bumps the generation only when something visible changes, reusing the snapshot otherwise', () => {
    const { vga, memory, crtc } = setup();
    const first = vga.textSnapshot();
    expect(vga.textSnapshot()).toBe(first);
    memory.write8(0xb8000, 0x20); // already a space: nothing changes
    expect(vga.textSnapshot()).toBe(first);
    memory.write8(0xb8000, 0x41);
    const second = vga.textSnapshot();
    expect(second.generation).toBeGreaterThan(first.generation);
    expect(second.cells[0] & 0xff).toBe(0x41);
    vga.read8(0x3da);
    crtc(0x0f);
    expect(vga.textSnapshot()).toBe(second); // reads change nothing
    crtc(0x0f, 0x05);
    const third = vga.textSnapshot();
    expect(third.generation).toBeGreaterThan(second.generation);
    expect(third.cursor.col).toBe(5);
  });
});

describe('VgaText CRT controller', () => {
  it('stores registers 0x00-0x18 with mode 3 values and reads writes back', () => {
    const { vga, crtc } = setup();
    expect(crtc(0x01)).toBe(0x4f);
    expect(crtc(0x09)).toBe(0x4f);
    expect(crtc(0x13)).toBe(0x28);
    expect(crtc(0x18)).toBe(0xff);
    for (let i = 0x08; i <= 0x18; i++) {
      if (i === 0x11) continue;
      expect(crtc(i, (i * 7) & 0xff)).toBe((i * 7) & 0xff);
    }
    expect(vga.read8(0x3d4)).toBe(0x18);
    expect(crtc(0x30)).toBe(0xff);
  });

  it('places and hides the cursor', () => {
    const { vga, crtc } = setup();
    let cursor = vga.textSnapshot().cursor;
    expect(cursor).toMatchObject({ row: 0, col: 0, visible: true, startLine: 0x0d, endLine: 0x0e });
    crtc(0x0e, (12 * 80 + 40) >> 8);
    crtc(0x0f, (12 * 80 + 40) & 0xff);
    cursor = vga.textSnapshot().cursor;
    expect(cursor).toMatchObject({ row: 12, col: 40, visible: true });
    crtc(0x0a, 0x20 | 0x0d); // cursor disable bit
    expect(vga.textSnapshot().cursor.visible).toBe(false);
    crtc(0x0a, 0x0f); // start line after the end line: no cursor on the VGA
    expect(vga.textSnapshot().cursor.visible).toBe(false);
    crtc(0x0a, 0x00);
    expect(vga.textSnapshot().cursor.visible).toBe(true);
    crtc(0x0e, 0x07);
    crtc(0x0f, 0xd0); // 0x7D0 = 2000: just past the last cell
    expect(vga.textSnapshot().cursor.visible).toBe(false);
  });

  it('takes an index/data pair from one 16-bit OUT split by the bus', () => {
    const { vga } = setup();
    // out dx, ax with dx = 0x3D4, ax = 0x050F: the bus writes 0x0F to 0x3D4, then 0x05 to 0x3D5.
    vga.write8(0x3d4, 0x0f);
    vga.write8(0x3d5, 0x05);
    expect(vga.textSnapshot().cursor.col).toBe(5);
  });

  it('scrolls with the start address, the cursor following', () => {
    const { vga, crtc, puts } = setup();
    puts(0, 0, 'line zero');
    puts(1, 0, 'line one');
    crtc(0x0c, 0);
    crtc(0x0d, 80);
    expect(vga.textLines()[0]).toBe('line one');
    crtc(0x0e, 0);
    crtc(0x0f, 85);
    expect(vga.textSnapshot().cursor).toMatchObject({ row: 0, col: 5, visible: true });
    crtc(0x0f, 10); // above the displayed start
    expect(vga.textSnapshot().cursor.visible).toBe(false);
  });

  it('derives 80x50 and 40-column geometries from the CRTC', () => {
    const { vga, crtc } = setup();
    crtc(0x09, 0x47); // 8-line characters: 400 / 8 = 50 rows
    expect(vga.textSnapshot().rows).toBe(50);
    crtc(0x09, 0x4f);
    crtc(0x11, 0x0e); // mode 3 leaves registers 0-7 protected: unlock first
    crtc(0x01, 0x27); // 40 columns
    crtc(0x13, 0x14); // 20 words = 40 characters per row
    const snap = vga.textSnapshot();
    expect(snap.cols).toBe(40);
    expect(snap.rows).toBe(25);
  });

  it('write-protects registers 0-7 except the line compare bit', () => {
    const { crtc } = setup();
    expect(crtc(0x11)).toBe(0x8e); // mode 3 leaves protection on
    crtc(0x01, 0x27);
    expect(crtc(0x01)).toBe(0x4f);
    crtc(0x07, 0x00);
    expect(crtc(0x07)).toBe(0x0f); // only bit 4 (line compare bit 8) took the write
    crtc(0x0a, 0x06); // registers above 7 stay writable
    expect(crtc(0x0a)).toBe(0x06);
    crtc(0x11, 0x0e); // protect off
    crtc(0x01, 0x27);
    expect(crtc(0x01)).toBe(0x27);
  });

  it('decodes the CRTC and status ports at 0x3Dx or 0x3Bx as the misc output selects', () => {
    const { vga } = setup();
    expect(vga.read8(0x3cc)).toBe(0x67);
    expect(vga.read8(0x3b5)).toBe(0xff); // colour addressing: the mono ports float
    vga.write8(0x3b4, 0x0f);
    vga.write8(0x3c2, 0x66); // mono addressing
    expect(vga.read8(0x3cc)).toBe(0x66);
    expect(vga.read8(0x3d5)).toBe(0xff);
    vga.write8(0x3b4, 0x0f);
    vga.write8(0x3b5, 0x09);
    expect(vga.read8(0x3b5)).toBe(0x09);
    expect(vga.read8(0x3ba) & 0xf6).toBe(0);
    vga.write8(0x3ba, 0x03); // feature control
    expect(vga.read8(0x3ca)).toBe(0x03);
    vga.write8(0x3c2, 0x67);
    vga.write8(0x3d4, 0x0f);
    expect(vga.read8(0x3d5)).toBe(0x09); // one register file behind both addresses
  });
});

describe('VgaText status, attribute, sequencer, graphics and DAC registers', () => {
  it('toggles retrace bits so wait-for-retrace loops finish', () => {
    const { vga } = setup();
    let reads = 0;
    const waitFor = (inRetrace: boolean) => {
      while (((vga.read8(0x3da) & 0x08) !== 0) !== inRetrace) if (++reads > 100) throw new Error('stuck');
    };
    waitFor(false);
    waitFor(true);
    waitFor(false);
    waitFor(true);
    expect(reads).toBeLessThan(64);
    const seen = new Set<number>();
    for (let i = 0; i < 32; i++) seen.add(vga.read8(0x3da) & 0x01);
    expect(seen).toEqual(new Set([0, 1])); // display enable toggles too
  });

  it('alternates 0x3C0 between index and data; reading input status 1 resets the flip-flop', () => {
    const { vga } = setup();
    vga.write8(0x3c0, 0x10);
    vga.write8(0x3c0, 0x04); // attribute mode control: blink off
    expect(vga.read8(0x3c1)).toBe(0x04);
    expect(vga.textSnapshot().blink).toBe(false);
    vga.write8(0x3c0, 0x34); // index 0x14 with PAS
    expect(vga.read8(0x3c0)).toBe(0x34);
    vga.read8(0x3da); // flip-flop back to index
    vga.write8(0x3c0, 0x33); // so this is an index: 0x13 with PAS
    vga.write8(0x3c0, 0x05); // horizontal pel panning
    expect(vga.read8(0x3c1)).toBe(0x05);
    vga.write8(0x3c1, 0x77); // 0x3C1 is read-only
    expect(vga.read8(0x3c1)).toBe(0x05);
  });

  it('lets the CPU write palette registers only with PAS clear, blanking the screen meanwhile', () => {
    const { vga } = setup();
    vga.read8(0x3da);
    vga.write8(0x3c0, 0x21); // palette 1 with PAS set: ignored
    vga.write8(0x3c0, 0x3f);
    expect(vga.read8(0x3c1)).toBe(0x01);
    vga.write8(0x3c0, 0x01); // PAS clear
    expect(vga.textSnapshot().blank).toBe(true);
    vga.write8(0x3c0, 0x3f);
    expect(vga.read8(0x3c1)).toBe(0x3f);
    vga.write8(0x3c0, 0x20);
    expect(vga.textSnapshot().blank).toBe(false);
  });

  it('stores sequencer and graphics controller registers', () => {
    const { vga } = setup();
    vga.write8(0x3c4, 0x02);
    expect(vga.read8(0x3c5)).toBe(0x03);
    vga.write8(0x3c5, 0x0f);
    expect(vga.read8(0x3c5)).toBe(0x0f);
    expect(vga.read8(0x3c4)).toBe(0x02);
    vga.write8(0x3c4, 0x01);
    vga.write8(0x3c5, 0x20); // screen off
    expect(vga.textSnapshot().blank).toBe(true);
    vga.write8(0x3ce, 0x05);
    expect(vga.read8(0x3cf)).toBe(0x10);
    vga.write8(0x3cf, 0x40);
    expect(vga.read8(0x3cf)).toBe(0x40);
    vga.write8(0x3ce, 0x08);
    expect(vga.read8(0x3cf)).toBe(0xff);
    vga.write8(0x3c3, 0x01);
    expect(vga.read8(0x3c3)).toBe(0x01);
  });

  it('shows text from the window the graphics controller maps', () => {
    const { vga, memory } = setup();
    memory.write8(0xb0000, 0x4d);
    vga.write8(0x3ce, 0x06);
    vga.write8(0x3cf, 0x0a); // memory map 2: 0xB0000-0xB7FFF
    expect(vga.textLines()[0]).toBe('M');
  });

  it('reads and writes the DAC with auto-increment, 6 bits per primary', () => {
    const { vga } = setup();
    vga.write8(0x3c8, 0x05);
    for (const v of [0x3f, 0x20, 0xff, 0x01, 0x02, 0x03]) vga.write8(0x3c9, v);
    expect(vga.read8(0x3c8)).toBe(0x07);
    expect(vga.read8(0x3c7)).toBe(0x00);
    vga.write8(0x3c7, 0x05);
    expect(vga.read8(0x3c7)).toBe(0x03);
    const back = Array.from({ length: 6 }, () => vga.read8(0x3c9));
    expect(back).toEqual([0x3f, 0x20, 0x3f, 0x01, 0x02, 0x03]);
    vga.write8(0x3c6, 0x0f);
    expect(vga.read8(0x3c6)).toBe(0x0f);
  });

  it('gives the 16 text colours through attribute palette and DAC', () => {
    const { vga } = setup();
    const palette = vga.textPalette();
    expect(Array.from(palette)).toEqual([
      0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xaaaaaa, 0x555555, 0x5555ff,
      0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff,
    ]);
    vga.write8(0x3c8, 0x01); // DAC entry 1 (attribute colour 1) to pure green
    vga.write8(0x3c9, 0);
    vga.write8(0x3c9, 0x3f);
    vga.write8(0x3c9, 0);
    expect(vga.textPalette()[1]).toBe(0x00ff00);
  });
});

describe('VgaText state', () => {
  it('round-trips through saveState and loadState', () => {
    const a = setup();
    a.puts(3, 4, 'saved text', 0x4e);
    a.crtc(0x0e, 0x01);
    a.crtc(0x0f, 0x23);
    a.vga.write8(0x3c0, 0x10); // attribute index, flip-flop now on data
    a.vga.write8(0x3c8, 0x10);
    a.vga.write8(0x3c9, 0x11); // DAC mid-entry
    a.memory.write8(0xa1234, 0x99);
    const state = structuredClone(a.vga.saveState());

    const b = setup();
    b.vga.loadState(state);
    expect(b.vga.textLines()).toEqual(a.vga.textLines());
    expect(b.vga.textSnapshot().cursor).toEqual(a.vga.textSnapshot().cursor);
    expect(b.memory.read8(0xa1234)).toBe(0x99);
    expect(b.vga.saveState()).toEqual(a.vga.saveState());
    b.vga.write8(0x3c0, 0x00); // data write completes the pending attribute access
    expect(b.vga.read8(0x3c1)).toBe(0x00);
    b.vga.write8(0x3c9, 0x12);
    b.vga.write8(0x3c9, 0x13);
    b.vga.write8(0x3c7, 0x10);
    expect([b.vga.read8(0x3c9), b.vga.read8(0x3c9), b.vga.read8(0x3c9)]).toEqual([0x11, 0x12, 0x13]);
  });

  it('bumps the generation on load so renderers redraw', () => {
    const a = setup();
    const before = a.vga.textSnapshot().generation;
    a.vga.loadState(a.vga.saveState());
    expect(a.vga.textSnapshot().generation).toBeGreaterThan(before);
  });

  it('rejects malformed state, naming the field', () => {
    const { vga } = setup();
    const good = vga.saveState();
    const bad = (patch: DeviceState) => () => vga.loadState({ ...good, ...patch });
    expect(bad({ vram: new Uint8Array(0x8000) })).toThrow(/'vram'/);
    expect(bad({ crtc: new Uint8Array(24) })).toThrow(/'crtc'/);
    expect(bad({ dac: [1, 2, 3] })).toThrow(/'dac'/);
    expect(bad({ dacComponent: 3 })).toThrow(/'dacComponent'/);
    expect(bad({ misc: 'colour' })).toThrow(/'misc'/);
    expect(bad({ attrFlipFlop: 0 })).toThrow(/'attrFlipFlop'/);
    expect(bad({ retraceCounter: 99 })).toThrow(/'retraceCounter'/);
    expect(vga.saveState()).toEqual(good);
  });
});
