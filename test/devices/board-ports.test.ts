import { describe, expect, it } from 'vitest';
import { DebugConsolePort, DebugExitPort, FastA20Port, PostCodePort } from '../../src/devices/board-ports.ts';
import { PortBus } from '../../src/devices/port-bus.ts';

describe('FastA20Port (0x92)', () => {
  function setup() {
    const a20: boolean[] = [];
    let resets = 0;
    const port = new FastA20Port({ onA20: (on) => a20.push(on), onResetRequest: () => resets++ });
    return { port, a20, resets: () => resets };
  }

  it('gates A20 with bit 1, reporting changes only', () => {
    const { port, a20 } = setup();
    expect(port.read8()).toBe(0);
    expect(port.a20).toBe(false);
    port.write8(0x92, 0x02);
    port.write8(0x92, 0x02);
    expect(port.a20).toBe(true);
    expect(port.read8()).toBe(0x02);
    port.write8(0x92, 0x00);
    expect(a20).toEqual([true, false]);
  });

  it('resets on a rising edge of bit 0 only', () => {
    const { port, resets, a20 } = setup();
    port.write8(0x92, 0x03);
    expect(resets()).toBe(1);
    expect(a20).toEqual([true]);
    port.write8(0x92, 0x03); // bit 0 still set: no new edge
    expect(resets()).toBe(1);
    port.write8(0x92, 0x02);
    port.write8(0x92, 0x03);
    expect(resets()).toBe(2);
  });

  it('keeps the other bits (lock, activity lights)', () => {
    const { port } = setup();
    port.write8(0x92, 0xca);
    expect(port.read8()).toBe(0xca);
  });

  it('round-trips state and rejects malformed state', () => {
    const { port } = setup();
    port.write8(0x92, 0x02);
    const other = new FastA20Port();
    other.loadState(structuredClone(port.saveState()));
    expect(other.read8()).toBe(0x02);
    expect(other.a20).toBe(true);
    expect(() => other.loadState({ value: 256 })).toThrow(/'value'/);
    expect(() => other.loadState({})).toThrow(/'value'/);
    other.reset();
    expect(other.read8()).toBe(0);
  });
});

describe('PostCodePort (0x80)', () => {
  it('latches the last code and reads it back', () => {
    const codes: number[] = [];
    const port = new PostCodePort({ onCode: (c) => codes.push(c) });
    port.write8(0x80, 0x11);
    port.write8(0x80, 0x1ab);
    expect(port.code).toBe(0xab);
    expect(port.read8()).toBe(0xab);
    expect(codes).toEqual([0x11, 0xab]);
    expect(port.history()).toEqual([]); // no history by default
  });

  it('keeps a bounded history, oldest first', () => {
    const port = new PostCodePort({ historyLength: 3 });
    for (const code of [1, 2, 3, 4, 5]) port.write8(0x80, code);
    expect(port.history()).toEqual([3, 4, 5]);
    port.reset();
    expect(port.history()).toEqual([]);
    expect(port.code).toBe(0);
  });

  it('refuses a bad history length', () => {
    expect(() => new PostCodePort({ historyLength: -1 })).toThrow(/history length/);
  });

  it('round-trips state and rejects malformed state', () => {
    const port = new PostCodePort({ historyLength: 4 });
    for (const code of [0x10, 0x20, 0x30]) port.write8(0x80, code);
    const other = new PostCodePort({ historyLength: 2 });
    other.loadState(structuredClone(port.saveState()));
    expect(other.code).toBe(0x30);
    expect(other.history()).toEqual([0x20, 0x30]); // trimmed to this port's history length
    expect(() => other.loadState({ lastCode: 1, history: [1] })).toThrow(/'history'/);
    expect(() => other.loadState({ lastCode: -1, history: new Uint8Array(0) })).toThrow(/'lastCode'/);
    expect(other.code).toBe(0x30);
  });
});

describe('DebugConsolePort (0xE9)', () => {
  it('sends bytes to the sink and reads 0xE9 as Bochs does', () => {
    const out: number[] = [];
    const port = new DebugConsolePort((b) => out.push(b));
    const bus = new PortBus();
    bus.register(port);
    for (const ch of 'hi\n') bus.out8(0xe9, ch.charCodeAt(0));
    bus.out16(0xe9, 0x4241); // the high byte goes to 0xEA, which nobody decodes
    expect(String.fromCharCode(...out)).toBe('hi\nA');
    expect(bus.in8(0xe9)).toBe(0xe9);
    expect(port.saveState()).toEqual({});
    port.loadState();
  });
});

describe('DebugExitPort (0xF4, iosize 4)', () => {
  it('exits with (value << 1) | 1 for each access width', () => {
    const statuses: number[] = [];
    const bus = new PortBus();
    bus.register(new DebugExitPort((s) => statuses.push(s)));
    bus.out8(0xf4, 0x00);
    bus.out8(0xf4, 0x10);
    bus.out8(0xf7, 0x01); // any of the four ports
    bus.out16(0xf4, 0x1234);
    bus.out32(0xf4, 0xffffffff);
    expect(statuses).toEqual([1, 0x21, 3, 0x2469, 0x1ffffffff]);
    // A host process exit truncates to 8 bits: v = 0x10 leaves status 33.
    expect(statuses[1] & 0xff).toBe(33);
    expect(bus.in8(0xf4)).toBe(0xff);
  });

  it('claims ports 0xF4-0xF7', () => {
    const bus = new PortBus();
    bus.register(new DebugExitPort(() => {}));
    expect(bus.describe()).toEqual([{ name: 'debug-exit', ranges: [{ start: 0xf4, length: 4 }] }]);
  });
});
