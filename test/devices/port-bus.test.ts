import { describe, expect, it } from 'vitest';
import type { IoDevice, PortRange } from '../../src/devices/device.ts';
import { PortBus } from '../../src/devices/port-bus.ts';

/** A byte-wide device that records accesses and reads back port-specific values. */
class ByteDevice implements IoDevice {
  readonly log: string[] = [];
  readonly written = new Map<number, number>();
  constructor(
    readonly name: string,
    readonly portRanges: PortRange[],
  ) {}
  read8(port: number): number {
    this.log.push(`r8 ${port.toString(16)}`);
    return this.written.get(port) ?? port & 0xff;
  }
  write8(port: number, value: number): void {
    this.log.push(`w8 ${port.toString(16)}=${value.toString(16)}`);
    this.written.set(port, value);
  }
}

/** A device with native 16- and 32-bit handlers. */
class WideDevice extends ByteDevice {
  read16(port: number): number {
    this.log.push(`r16 ${port.toString(16)}`);
    return 0xbeef;
  }
  write16(port: number, value: number): void {
    this.log.push(`w16 ${port.toString(16)}=${value.toString(16)}`);
  }
  read32(port: number): number {
    this.log.push(`r32 ${port.toString(16)}`);
    return 0xcafebabe | 0;
  }
  write32(port: number, value: number): void {
    this.log.push(`w32 ${port.toString(16)}=${(value >>> 0).toString(16)}`);
  }
}

describe('PortBus', () => {
  it('routes byte accesses to the owning device', () => {
    const bus = new PortBus();
    const a = new ByteDevice('a', [{ start: 0x60, length: 1 }]);
    const b = new ByteDevice('b', [{ start: 0x3f8, length: 8 }]);
    bus.register(a);
    bus.register(b);
    bus.out8(0x3fb, 0x183); // value masked to a byte
    expect(b.log).toEqual(['w8 3fb=83']);
    expect(bus.in8(0x3fb)).toBe(0x83);
    expect(bus.in8(0x60)).toBe(0x60);
    expect(a.log).toEqual(['r8 60']);
    expect(bus.deviceAt(0x3ff)).toBe(b);
    expect(bus.deviceAt(0x400)).toBeUndefined();
  });

  it('refuses overlapping ranges, naming both devices and the port', () => {
    const bus = new PortBus();
    bus.register(new ByteDevice('uart-com1', [{ start: 0x3f8, length: 8 }]));
    expect(() => bus.register(new ByteDevice('intruder', [{ start: 0x3f0, length: 9 }]))).toThrow(
      /'intruder'.*0x03f8.*'uart-com1'/,
    );
    // The refused device claimed nothing, so its free ports stay unclaimed.
    expect(bus.deviceAt(0x3f0)).toBeUndefined();
    expect(() =>
      bus.register(
        new ByteDevice('self', [
          { start: 0x10, length: 2 },
          { start: 0x11, length: 1 },
        ]),
      ),
    ).toThrow(/0x0011 twice/);
  });

  it('refuses ranges outside the port space', () => {
    const bus = new PortBus();
    expect(() => bus.register(new ByteDevice('big', [{ start: 0xfff0, length: 0x20 }]))).toThrow(
      /past port 0xffff/,
    );
    expect(() => bus.register(new ByteDevice('neg', [{ start: -1, length: 1 }]))).toThrow(/invalid/);
    expect(() => bus.register(new ByteDevice('empty', [{ start: 5, length: 0 }]))).toThrow(/invalid/);
  });

  it('splits wide accesses into byte cycles, low port first, across devices', () => {
    const bus = new PortBus();
    const lo = new ByteDevice('lo', [{ start: 0x100, length: 2 }]);
    const hi = new ByteDevice('hi', [{ start: 0x102, length: 2 }]);
    bus.register(lo);
    bus.register(hi);
    expect(bus.in16(0x100)).toBe(0x0100);
    expect(bus.in32(0x100)).toBe(0x03020100);
    expect(lo.log).toEqual(['r8 100', 'r8 101', 'r8 100', 'r8 101']);
    expect(hi.log).toEqual(['r8 102', 'r8 103']);
    bus.out32(0x100, 0x44332211);
    expect(lo.log.slice(4)).toEqual(['w8 100=11', 'w8 101=22']);
    expect(hi.log.slice(2)).toEqual(['w8 102=33', 'w8 103=44']);
    bus.out16(0x101, 0xaabb); // straddles the two devices
    expect(lo.log.at(-1)).toBe('w8 101=bb');
    expect(hi.log.at(-1)).toBe('w8 102=aa');
  });

  it('uses native wide handlers only when the device owns every byte of the access', () => {
    const bus = new PortBus();
    const wide = new WideDevice('wide', [{ start: 0x1f0, length: 8 }]);
    bus.register(wide);
    expect(bus.in16(0x1f0)).toBe(0xbeef);
    expect(bus.in32(0x1f4) >>> 0).toBe(0xcafebabe);
    bus.out16(0x1f2, 0x1234);
    bus.out32(0x1f0, 0x89abcdef);
    expect(wide.log).toEqual(['r16 1f0', 'r32 1f4', 'w16 1f2=1234', 'w32 1f0=89abcdef']);
    wide.log.length = 0;
    // 0x1F7 is the last owned port: a word read there is split, the upper byte floating.
    expect(bus.in16(0x1f7)).toBe(0xfff7);
    expect(wide.log).toEqual(['r8 1f7']);
    wide.log.length = 0;
    // A dword at 0x1F6 covers 0x1F6-0x1F9: split into words, the owned one native.
    expect(bus.in32(0x1f6) >>> 0).toBe(0xffffbeef);
    expect(wide.log).toEqual(['r16 1f6']);
  });

  it('reads all ones from unclaimed ports, drops writes, counts and reports them', () => {
    const bus = new PortBus();
    const seen: Array<[number, boolean, number]> = [];
    bus.onUnclaimed = (port, isWrite, size) => seen.push([port, isWrite, size]);
    expect(bus.in8(0x1234)).toBe(0xff);
    expect(bus.in16(0x1234)).toBe(0xffff);
    expect(bus.in32(0x1234)).toBe(-1);
    bus.out8(0x1234, 1);
    bus.out16(0x1234, 1);
    bus.out32(0x1234, 1);
    expect(bus.unclaimedAccesses).toBe(6);
    expect(seen).toEqual([
      [0x1234, false, 1],
      [0x1234, false, 2],
      [0x1234, false, 4],
      [0x1234, true, 1],
      [0x1234, true, 2],
      [0x1234, true, 4],
    ]);
  });

  it('reports each unclaimed byte of a partly claimed wide access', () => {
    const bus = new PortBus();
    bus.register(new ByteDevice('one', [{ start: 0x200, length: 1 }]));
    const seen: number[] = [];
    bus.onUnclaimed = (port) => seen.push(port);
    expect(bus.in16(0x200)).toBe(0xff00);
    expect(seen).toEqual([0x201]);
    expect(bus.unclaimedAccesses).toBe(1);
  });

  it('wraps port numbers at 64 Ki', () => {
    const bus = new PortBus();
    const low = new ByteDevice('low', [{ start: 0, length: 1 }]);
    const top = new ByteDevice('top', [{ start: 0xffff, length: 1 }]);
    bus.register(low);
    bus.register(top);
    expect(bus.in16(0xffff)).toBe(0x00ff);
    expect(top.log).toEqual(['r8 ffff']);
    expect(low.log).toEqual(['r8 0']);
    expect(bus.in8(0x10000)).toBe(0);
  });

  it('describes its devices in registration order', () => {
    const bus = new PortBus();
    bus.register(
      new ByteDevice('pic', [
        { start: 0x20, length: 2 },
        { start: 0xa0, length: 2 },
      ]),
    );
    bus.register(new ByteDevice('pit', [{ start: 0x40, length: 4 }]));
    expect(bus.describe()).toEqual([
      {
        name: 'pic',
        ranges: [
          { start: 0x20, length: 2 },
          { start: 0xa0, length: 2 },
        ],
      },
      { name: 'pit', ranges: [{ start: 0x40, length: 4 }] },
    ]);
  });
});
