import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import type { DeviceState } from '../../src/devices/device.ts';
import {
  DMA_MODE_AUTOINIT,
  DMA_MODE_BLOCK,
  DMA_MODE_CASCADE,
  DMA_MODE_DECREMENT,
  DMA_MODE_DEMAND,
  DMA_MODE_READ,
  DMA_MODE_SINGLE,
  DMA_MODE_VERIFY,
  DMA_MODE_WRITE,
  Dma8237,
} from '../../src/devices/dma8237.ts';

function setup() {
  const memory = new PhysicalMemory(4 * 1024 * 1024);
  const dma = new Dma8237(memory);
  // What a BIOS does: channel 4 in cascade mode and unmasked, so DMA1 reaches the bus.
  dma.write8(0xd6, DMA_MODE_CASCADE | 0);
  dma.write8(0xd4, 0);
  return { memory, dma };
}

/** Programs an 8-bit channel (0-3) the way drivers do: mask, flip-flop, address, count, page, mode, unmask. */
function program8(dma: Dma8237, channel: number, address: number, count: number, mode: number): void {
  const addrPort = channel * 2;
  const pagePorts = [0x87, 0x83, 0x81, 0x82];
  dma.write8(0x0a, 4 | channel);
  dma.write8(0x0c, 0);
  dma.write8(addrPort, address & 0xff);
  dma.write8(addrPort, (address >> 8) & 0xff);
  dma.write8(pagePorts[channel], (address >> 16) & 0xff);
  dma.write8(addrPort + 1, (count - 1) & 0xff);
  dma.write8(addrPort + 1, ((count - 1) >> 8) & 0xff);
  dma.write8(0x0b, mode | channel);
  dma.write8(0x0a, channel);
}

/** Programs a 16-bit channel (5-7): address and count are in words. */
function program16(dma: Dma8237, channel: number, byteAddress: number, words: number, mode: number): void {
  const index = channel - 4;
  const addrPort = 0xc0 + index * 4;
  const pagePorts = [0x8f, 0x8b, 0x89, 0x8a];
  const wordAddress = (byteAddress >> 1) & 0xffff;
  dma.write8(0xd4, 4 | index);
  dma.write8(0xd8, 0);
  dma.write8(addrPort, wordAddress & 0xff);
  dma.write8(addrPort, wordAddress >> 8);
  dma.write8(pagePorts[index], (byteAddress >> 16) & 0xfe);
  dma.write8(addrPort + 2, (words - 1) & 0xff);
  dma.write8(addrPort + 2, (words - 1) >> 8);
  dma.write8(0xd6, mode | index);
  dma.write8(0xd4, index);
}

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

describe('Dma8237 registers', () => {
  it('decodes DMA1, DMA2 and the page registers but leaves port 0x80 to the board', () => {
    const dma = new Dma8237(new PhysicalMemory(4096));
    const owned = new Set<number>();
    for (const r of dma.portRanges) for (let p = r.start; p < r.start + r.length; p++) owned.add(p);
    expect(owned.has(0x00) && owned.has(0x0f) && owned.has(0xc0) && owned.has(0xdf)).toBe(true);
    expect(owned.has(0x81) && owned.has(0x8f)).toBe(true);
    expect(owned.has(0x80)).toBe(false);
    expect(owned.has(0x10) || owned.has(0xe0)).toBe(false);
  });

  it('reads back address and count through the byte flip-flop, low byte first', () => {
    const { dma } = setup();
    dma.write8(0x0c, 0);
    dma.write8(0x04, 0x34);
    dma.write8(0x04, 0x12);
    dma.write8(0x05, 0xff);
    dma.write8(0x05, 0x01);
    dma.write8(0x0c, 0);
    expect(dma.read8(0x04)).toBe(0x34);
    expect(dma.read8(0x04)).toBe(0x12);
    expect(dma.read8(0x05)).toBe(0xff);
    expect(dma.read8(0x05)).toBe(0x01);
  });

  it('the flip-flop is shared by all registers of one controller and cleared by port 0x0C', () => {
    const { dma } = setup();
    dma.write8(0x0c, 0);
    dma.write8(0x00, 0xaa); // low byte of channel 0 address; flip-flop now high
    dma.write8(0x02, 0xbb); // goes to the HIGH byte of channel 1
    dma.write8(0x0c, 0);
    dma.read8(0x02);
    expect(dma.read8(0x02)).toBe(0xbb);
  });

  it('page registers hold any value; the unused ones are scratch registers', () => {
    const { dma } = setup();
    for (let p = 0x81; p <= 0x8f; p++) dma.write8(p, p ^ 0x5a);
    for (let p = 0x81; p <= 0x8f; p++) expect(dma.read8(p)).toBe(p ^ 0x5a);
  });

  it('mask register: single-bit, all-bits, clear-all, and readable at 0x0F', () => {
    const { dma } = setup();
    expect(dma.read8(0x0f) & 0x0f).toBe(0x0f); // reset masks every channel
    dma.write8(0x0e, 0);
    expect(dma.read8(0x0f) & 0x0f).toBe(0);
    dma.write8(0x0a, 4 | 2);
    expect(dma.read8(0x0f) & 0x0f).toBe(0x04);
    dma.write8(0x0f, 0x09);
    expect(dma.read8(0x0f) & 0x0f).toBe(0x09);
    dma.write8(0x0d, 0); // master clear masks all again
    expect(dma.read8(0x0f) & 0x0f).toBe(0x0f);
  });

  it('DMA2 registers sit on even ports; odd ports alias them', () => {
    const { dma } = setup();
    dma.write8(0xd8, 0);
    dma.write8(0xc4, 0x11);
    dma.write8(0xc5, 0x22); // alias of 0xC4: high byte
    dma.write8(0xd9, 0); // alias of 0xD8
    expect(dma.read8(0xc4)).toBe(0x11);
    expect(dma.read8(0xc4)).toBe(0x22);
  });
});

describe('Dma8237 transfers', () => {
  it('write transfer (device -> memory) on channel 2 with page register, then TC masks the channel', () => {
    const { dma, memory } = setup();
    program8(dma, 2, 0x12340, 512, DMA_MODE_WRITE | DMA_MODE_SINGLE);
    const data = bytes(512);
    expect(dma.transfer(2, data, 0, 512, true)).toBe(512);
    expect(dma.reachedTerminalCount(2)).toBe(true);
    expect(memory.readBytes(0x12340, 512)).toEqual(data);
    expect(dma.read8(0x08) & 0x04).toBe(0x04); // TC bit for channel 2
    expect(dma.read8(0x08) & 0x04).toBe(0); // cleared by reading the status
    expect(dma.read8(0x0f) & 0x04).toBe(0x04); // masked at TC without auto-init
    expect(dma.transfer(2, data, 0, 1, true)).toBe(0);
    // Current address advanced, count rolled over to 0xFFFF.
    dma.write8(0x0c, 0);
    expect(dma.read8(0x04) | (dma.read8(0x04) << 8)).toBe(0x2340 + 512);
    expect(dma.read8(0x05) | (dma.read8(0x05) << 8)).toBe(0xffff);
  });

  it('stops at terminal count when the device offers more than the count', () => {
    const { dma, memory } = setup();
    program8(dma, 1, 0x5000, 100, DMA_MODE_WRITE | DMA_MODE_DEMAND);
    expect(dma.transfer(1, bytes(300), 0, 300, true)).toBe(100);
    expect(dma.reachedTerminalCount(1)).toBe(true);
    expect(memory.read8(0x5000 + 100)).toBe(0);
  });

  it('a partial transfer leaves the channel programmed and continues where it stopped', () => {
    const { dma, memory } = setup();
    program8(dma, 2, 0x8000, 1024, DMA_MODE_WRITE | DMA_MODE_BLOCK);
    const data = bytes(1024, 3);
    expect(dma.transfer(2, data, 0, 512, true)).toBe(512);
    expect(dma.reachedTerminalCount(2)).toBe(false);
    expect(dma.transfer(2, data, 512, 512, true)).toBe(512);
    expect(dma.reachedTerminalCount(2)).toBe(true);
    expect(memory.readBytes(0x8000, 1024)).toEqual(data);
  });

  it('read transfer (memory -> device)', () => {
    const { dma, memory } = setup();
    const data = bytes(256, 9);
    memory.writeBytes(0x20000, data);
    program8(dma, 2, 0x20000, 256, DMA_MODE_READ | DMA_MODE_SINGLE);
    const out = new Uint8Array(256);
    expect(dma.transfer(2, out, 0, 256, false)).toBe(256);
    expect(out).toEqual(data);
  });

  it('address decrement walks downwards', () => {
    const { dma, memory } = setup();
    program8(dma, 3, 0x3003, 4, DMA_MODE_WRITE | DMA_MODE_DECREMENT | DMA_MODE_SINGLE);
    dma.transfer(3, Uint8Array.of(1, 2, 3, 4), 0, 4, true);
    expect(memory.readBytes(0x3000, 4)).toEqual(Uint8Array.of(4, 3, 2, 1));
  });

  it('auto-initialize reloads address and count at TC and keeps the channel unmasked', () => {
    const { dma, memory } = setup();
    program8(dma, 1, 0x6000, 4, DMA_MODE_WRITE | DMA_MODE_AUTOINIT | DMA_MODE_SINGLE);
    expect(dma.transfer(1, Uint8Array.of(1, 2, 3, 4), 0, 4, true)).toBe(4);
    expect(dma.reachedTerminalCount(1)).toBe(true);
    expect(dma.transfer(1, Uint8Array.of(9, 8), 0, 2, true)).toBe(2);
    expect(memory.readBytes(0x6000, 4)).toEqual(Uint8Array.of(9, 8, 3, 4));
    expect(dma.read8(0x0f) & 0x02).toBe(0);
  });

  it('the 8-bit address wraps inside its 64 KiB page (the page register does not carry)', () => {
    const { dma, memory } = setup();
    program8(dma, 2, 0x1fffe, 4, DMA_MODE_WRITE | DMA_MODE_SINGLE);
    dma.transfer(2, Uint8Array.of(1, 2, 3, 4), 0, 4, true);
    expect(memory.readBytes(0x1fffe, 2)).toEqual(Uint8Array.of(1, 2));
    expect(memory.readBytes(0x10000, 2)).toEqual(Uint8Array.of(3, 4));
    expect(memory.read8(0x20000)).toBe(0);
  });

  it('16-bit channels move words at word addresses and count words', () => {
    const { dma, memory } = setup();
    program16(dma, 5, 0x30000, 3, DMA_MODE_WRITE | DMA_MODE_SINGLE);
    expect(dma.transfer(5, bytes(10, 5), 0, 10, true)).toBe(6);
    expect(memory.readBytes(0x30000, 6)).toEqual(bytes(6, 5));
    expect(memory.read8(0x30006)).toBe(0);
    expect(dma.read8(0xd0) & 0x02).toBe(0x02); // TC for channel 5 in DMA2 status
  });

  it('verify transfers count down but touch no memory', () => {
    const { dma, memory } = setup();
    program8(dma, 2, 0x7000, 8, DMA_MODE_VERIFY | DMA_MODE_SINGLE);
    expect(dma.transfer(2, bytes(8), 0, 8, true)).toBe(8);
    expect(memory.readBytes(0x7000, 8)).toEqual(new Uint8Array(8));
    expect(dma.reachedTerminalCount(2)).toBe(true);
  });

  it('a direction mismatch moves no data into memory and gives the device floating-bus bytes', () => {
    const { dma, memory } = setup();
    memory.writeBytes(0x7000, bytes(4));
    program8(dma, 2, 0x7000, 4, DMA_MODE_WRITE | DMA_MODE_SINGLE);
    const out = new Uint8Array(4);
    expect(dma.transfer(2, out, 0, 4, false)).toBe(4);
    expect(out).toEqual(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    expect(memory.readBytes(0x7000, 4)).toEqual(bytes(4));
  });

  it('masked channels, a disabled controller, cascade mode and a masked channel 4 all refuse', () => {
    const { dma } = setup();
    program8(dma, 2, 0x1000, 16, DMA_MODE_WRITE | DMA_MODE_SINGLE);
    dma.write8(0x0a, 4 | 2);
    expect(dma.transfer(2, bytes(4), 0, 4, true)).toBe(0);
    dma.write8(0x0a, 2);
    dma.write8(0x08, 0x04); // command: controller disable
    expect(dma.transfer(2, bytes(4), 0, 4, true)).toBe(0);
    dma.write8(0x08, 0);
    dma.write8(0xd4, 4 | 0); // mask channel 4: DMA1 loses its path to the bus
    expect(dma.transfer(2, bytes(4), 0, 4, true)).toBe(0);
    dma.write8(0xd4, 0);
    expect(dma.transfer(2, bytes(4), 0, 4, true)).toBe(4);
    dma.write8(0x0b, DMA_MODE_CASCADE | 2);
    expect(dma.transfer(2, bytes(4), 0, 4, true)).toBe(0);
    expect(() => dma.transfer(8, bytes(1), 0, 1, true)).toThrow(/channel 8/);
  });

  it('software requests show in the status register and TC clears them', () => {
    const { dma } = setup();
    program8(dma, 1, 0x1000, 2, DMA_MODE_WRITE | DMA_MODE_BLOCK);
    dma.write8(0x09, 4 | 1);
    expect(dma.read8(0x08) & 0xf0).toBe(0x20);
    dma.transfer(1, bytes(2), 0, 2, true);
    expect(dma.read8(0x08)).toBe(0x02);
  });

  it('bumps the memory write generation when it writes RAM', () => {
    const { dma, memory } = setup();
    program8(dma, 2, 0x1000, 4, DMA_MODE_WRITE | DMA_MODE_SINGLE);
    const before = memory.writeGeneration;
    dma.transfer(2, bytes(4), 0, 4, true);
    expect(memory.writeGeneration).toBeGreaterThan(before);
  });
});

describe('Dma8237 state', () => {
  it('round-trips mid-programming and mid-transfer and continues identically', () => {
    const a = setup();
    program8(a.dma, 2, 0x40000, 1024, DMA_MODE_WRITE | DMA_MODE_SINGLE);
    a.dma.transfer(2, bytes(100), 0, 100, true);
    a.dma.write8(0x0c, 0);
    a.dma.read8(0x04); // leave the flip-flop pointing at the high byte
    a.dma.write8(0x09, 4 | 3);
    const saved = structuredClone(a.dma.saveState());

    const b = setup();
    b.dma.loadState(saved);
    for (const x of [a, b]) {
      expect(x.dma.read8(0x04)).toBe(((0x0000 + 100) >> 8) & 0xff);
      expect(x.dma.transfer(2, bytes(2000, 4), 0, 2000, true)).toBe(924);
      expect(x.dma.reachedTerminalCount(2)).toBe(true);
    }
    expect(b.dma.saveState()).toEqual(a.dma.saveState());
    expect(b.memory.readBytes(0x40000 + 100, 924)).toEqual(a.memory.readBytes(0x40000 + 100, 924));
  });

  it('rejects malformed state naming the field, and leaves the device unchanged', () => {
    const { dma } = setup();
    const good = dma.saveState();
    const bad = (patch: DeviceState) => ({ ...good, ...patch });
    expect(() => dma.loadState(bad({ baseAddress: new Uint8Array(8) }))).toThrow(/baseAddress/);
    expect(() => dma.loadState(bad({ currentCount: new Uint16Array(7) }))).toThrow(/currentCount/);
    expect(() => dma.loadState(bad({ mode: new Uint8Array(3) }))).toThrow(/mode/);
    expect(() => dma.loadState(bad({ mask: Uint8Array.of(0x10, 0) }))).toThrow(/mask/);
    expect(() => dma.loadState(bad({ flipFlop: Uint8Array.of(2, 0) }))).toThrow(/flipFlop/);
    expect(() => dma.loadState(bad({ tcLatch: 'x' }))).toThrow(/tcLatch/);
    const { page: _page, ...missing } = good;
    expect(() => dma.loadState(missing)).toThrow(/page/);
    expect(dma.saveState()).toEqual(good);
  });
});
