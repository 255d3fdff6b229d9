import { describe, expect, it } from 'vitest';
import type { DeviceState } from '../../src/devices/device.ts';
import {
  I440fxHostBridge,
  PCI_COMMAND,
  PCI_INTERRUPT_LINE,
  PCI_STATUS,
  PciBus,
  PciFunction,
  Piix3IsaBridge,
} from '../../src/devices/pci.ts';
import { PortBus } from '../../src/devices/port-bus.ts';

/** A function with BARs and a way to raise a status error bit, as a device would. */
class TestFunction extends PciFunction {
  writes: Array<[number, number]> = [];
  constructor() {
    super('test-nic', {
      vendorId: 0x10ec,
      deviceId: 0x8029,
      classCode: 0x02,
      subclass: 0x00,
      interruptPin: 1,
    });
    this.defineBar(0, 32, 'io');
    this.defineBar(1, 4096, 'memory', true);
    this.defineBar(5, 1 << 20, 'memory');
  }
  signalMasterAbort(): void {
    this.config[PCI_STATUS + 1] |= 0x20; // status bit 13: received master abort
  }
  protected override configWritten(offset: number, size: number): void {
    this.writes.push([offset, size]);
  }
}

function setup() {
  const resets: number[] = [];
  const pci = new PciBus({ onResetRequest: () => resets.push(1) });
  const host = new I440fxHostBridge();
  const isa = new Piix3IsaBridge();
  const nic = new TestFunction();
  pci.attach(0, 0, host);
  pci.attach(1, 0, isa);
  pci.attach(3, 0, nic);
  const io = new PortBus();
  io.register(pci);
  const address = (device: number, fn: number, reg: number, bus = 0) =>
    (0x80000000 | (bus << 16) | (device << 11) | (fn << 8) | reg) >>> 0;
  const read32 = (device: number, fn: number, reg: number) => {
    io.out32(0xcf8, address(device, fn, reg));
    return io.in32(0xcfc) >>> 0;
  };
  const write32 = (device: number, fn: number, reg: number, value: number) => {
    io.out32(0xcf8, address(device, fn, reg));
    io.out32(0xcfc, value);
  };
  return { pci, host, isa, nic, io, address, read32, write32, resets };
}

describe('PciBus configuration mechanism #1', () => {
  it('keeps CONFIG_ADDRESS, with reserved bits reading 0', () => {
    const { io } = setup();
    io.out32(0xcf8, 0x80001804);
    expect(io.in32(0xcf8) >>> 0).toBe(0x80001804);
    io.out32(0xcf8, 0xffffffff);
    expect(io.in32(0xcf8) >>> 0).toBe(0x80fffffc);
  });

  it('finds the i440FX host bridge and the PIIX3 ISA bridge', () => {
    const { read32 } = setup();
    expect(read32(0, 0, 0x00)).toBe(0x12378086);
    expect(read32(0, 0, 0x08)).toBe(0x06000002); // class 06/00, revision 02
    expect((read32(0, 0, 0x0c) >>> 16) & 0xff).toBe(0x00);
    expect(read32(1, 0, 0x00)).toBe(0x70008086);
    expect(read32(1, 0, 0x08) >>> 8).toBe(0x060100);
    expect((read32(1, 0, 0x0c) >>> 16) & 0xff).toBe(0x80); // multi-function
  });

  it('returns all ones for absent devices, other buses and a disabled address', () => {
    const { io, address, read32 } = setup();
    expect(read32(2, 0, 0)).toBe(0xffffffff);
    expect(read32(1, 1, 0)).toBe(0xffffffff);
    expect(read32(31, 7, 0)).toBe(0xffffffff);
    io.out32(0xcf8, address(0, 0, 0, 1));
    expect(io.in32(0xcfc) >>> 0).toBe(0xffffffff);
    io.out32(0xcf8, 0x00000000); // enable bit clear
    expect(io.in32(0xcfc) >>> 0).toBe(0xffffffff);
    expect(io.in16(0xcfe)).toBe(0xffff);
    expect(io.in8(0xcfd)).toBe(0xff);
    io.out32(0xcfc, 0); // ignored
    expect(read32(0, 0, 0)).toBe(0x12378086);
  });

  it('does byte and word accesses at the offset the low port bits give', () => {
    const { io, address } = setup();
    io.out32(0xcf8, address(0, 0, 0x00));
    expect(io.in8(0xcfc)).toBe(0x86);
    expect(io.in8(0xcfd)).toBe(0x80);
    expect(io.in8(0xcfe)).toBe(0x37);
    expect(io.in16(0xcfe)).toBe(0x1237);
    io.out32(0xcf8, address(0, 0, 0x3c));
    io.out8(0xcfc, 0x0b); // interrupt line
    io.out32(0xcf8, address(0, 0, 0x3c));
    expect(io.in8(0xcfc)).toBe(0x0b);
    io.out16(0xcfe, 0xffff); // MIN_GNT/MAX_LAT are read-only zeros here
    expect(io.in32(0xcfc) >>> 0).toBe(0x0000000b);
  });

  it('treats byte accesses to 0xCF8-0xCFB as not CONFIG_ADDRESS', () => {
    const { io } = setup();
    io.out32(0xcf8, 0x80000000);
    io.out8(0xcfb, 0x01);
    io.out8(0xcf8, 0x00);
    expect(io.in32(0xcf8) >>> 0).toBe(0x80000000);
    expect(io.in8(0xcf8)).toBe(0xff);
  });

  it('decodes the PIIX3 reset control register at 0xCF9', () => {
    const { io, resets } = setup();
    io.out8(0xcf9, 0x02); // hard reset selected, not yet performed
    expect(io.in8(0xcf9)).toBe(0x02);
    expect(resets).toHaveLength(0);
    io.out8(0xcf9, 0x06);
    expect(resets).toHaveLength(1);
    expect(io.in8(0xcf9)).toBe(0x02); // RCPU clears itself
  });

  it('refuses a second function in one slot and slots that do not exist', () => {
    const { pci } = setup();
    expect(() => pci.attach(0, 0, new TestFunction())).toThrow(/00\.0 holds 'i440fx'/);
    expect(() => pci.attach(32, 0, new TestFunction())).toThrow(/no slot/);
    expect(() => pci.attach(4, 8, new TestFunction())).toThrow(/no slot/);
    expect(pci.functionAt(1, 0)?.name).toBe('piix3-isa');
  });
});

describe('PciFunction configuration space', () => {
  it('protects read-only fields', () => {
    const { read32, write32 } = setup();
    write32(3, 0, 0x00, 0xffffffff);
    expect(read32(3, 0, 0x00)).toBe(0x802910ec);
    write32(3, 0, 0x08, 0xffffffff);
    expect(read32(3, 0, 0x08)).toBe(0x02000000);
    write32(3, 0, 0x0c, 0xffffffff); // cache line + latency writable, header type and BIST not
    expect(read32(3, 0, 0x0c)).toBe(0x0000ffff);
    write32(3, 0, 0x3c, 0xffffffff);
    expect(read32(3, 0, 0x3c)).toBe(0x000001ff); // line writable, pin 1 (INTA#) fixed
  });

  it('masks the command register to its implemented bits and clears status bits written with 1', () => {
    const { nic, read32, write32 } = setup();
    write32(3, 0, PCI_COMMAND, 0x0000ffff);
    expect(read32(3, 0, PCI_COMMAND) & 0xffff).toBe(0x0547);
    expect(nic.command).toBe(0x0547);
    nic.signalMasterAbort();
    expect(read32(3, 0, PCI_COMMAND) >>> 16).toBe(0x2000);
    write32(3, 0, PCI_COMMAND, 0x00000000); // writing 0 leaves status bits alone
    expect(read32(3, 0, PCI_COMMAND) >>> 16).toBe(0x2000);
    write32(3, 0, PCI_COMMAND, 0x20000003); // 1 clears it; command updated in the same write
    expect(read32(3, 0, PCI_COMMAND) >>> 0).toBe(0x00000003);
  });

  it('sizes BARs by writing all ones, type bits read-only', () => {
    const { nic, read32, write32 } = setup();
    expect(read32(3, 0, 0x10)).toBe(0x00000001);
    expect(read32(3, 0, 0x14)).toBe(0x00000008);
    for (let bar = 0; bar < 6; bar++) write32(3, 0, 0x10 + bar * 4, 0xffffffff);
    expect(read32(3, 0, 0x10)).toBe(0xffffffe1); // 32 bytes of I/O
    expect(read32(3, 0, 0x14)).toBe(0xfffff008); // 4 KiB prefetchable memory
    expect(read32(3, 0, 0x18)).toBe(0); // unimplemented BARs read 0
    expect(read32(3, 0, 0x24)).toBe(0xfff00000); // 1 MiB memory
    write32(3, 0, 0x10, 0xc003);
    write32(3, 0, 0x14, 0xfebf0123);
    expect(read32(3, 0, 0x10)).toBe(0x0000c001);
    expect(nic.barAddress(0)).toBe(0xc000);
    expect(nic.barAddress(1)).toBe(0xfebf0000);
  });

  it('tells the function about writes', () => {
    const { nic, io, address } = setup();
    io.out32(0xcf8, address(3, 0, 0x3c));
    io.out8(0xcfc, 5);
    io.out16(0xcfe, 0);
    expect(nic.writes).toEqual([
      [0x3c, 1],
      [0x3e, 2],
    ]);
  });

  it('refuses BAR definitions PCI cannot express', () => {
    class Bad extends PciFunction {
      constructor(size: number, kind: 'io' | 'memory') {
        super('bad', { vendorId: 1, deviceId: 2, classCode: 0xff, subclass: 0 });
        this.defineBar(0, size, kind);
      }
    }
    expect(() => new Bad(24, 'io')).toThrow(/BAR 0/);
    expect(() => new Bad(8, 'memory')).toThrow(/BAR 0/);
  });

  it('stores the chipset registers and exposes PIIX3 PIRQ routing', () => {
    const { isa, read32, write32 } = setup();
    expect(read32(1, 0, 0x60)).toBe(0x80808080);
    expect(isa.pirqRoute(0)).toBeNull();
    write32(1, 0, 0x60, 0x800b0a09);
    expect(isa.pirqRoute(0)).toBe(9);
    expect(isa.pirqRoute(2)).toBe(11);
    expect(isa.pirqRoute(3)).toBeNull();
    expect(read32(1, 0, 0x4c) & 0xffffff).toBe(0x03004d);
    expect(read32(0, 0, 0x70) >>> 16).toBe(0x02); // i440FX SMRAM at 0x72
    write32(0, 0, 0x58, 0x33333300); // PAM1-3
    expect(read32(0, 0, 0x58)).toBe(0x33333300);
  });
});

describe('PciBus state', () => {
  it('round-trips the address register and the configuration space of every function', () => {
    const a = setup();
    a.write32(3, 0, 0x10, 0xc100);
    a.write32(3, 0, 0x3c, 0x0a);
    a.write32(1, 0, 0x60, 0x0b0b0a0a);
    a.io.out8(0xcf9, 0x02);
    a.io.out32(0xcf8, a.address(3, 0, 0x10));
    const state = structuredClone(a.pci.saveState());

    const b = setup();
    b.pci.loadState(state);
    expect(b.pci.saveState()).toEqual(a.pci.saveState());
    expect(b.io.in32(0xcf8) >>> 0).toBe(a.address(3, 0, 0x10));
    expect(b.io.in32(0xcfc) >>> 0).toBe(0xc101);
    expect(b.read32(3, 0, PCI_INTERRUPT_LINE) & 0xff).toBe(0x0a);
    expect(b.isa.pirqRoute(1)).toBe(10);
    expect(b.io.in8(0xcf9)).toBe(0x02);
  });

  it('resets every function to its power-on configuration', () => {
    const { pci, read32, write32, io } = setup();
    write32(3, 0, 0x3c, 0x0a);
    pci.reset();
    expect(io.in32(0xcf8)).toBe(0);
    expect(read32(3, 0, 0x3c)).toBe(0x100);
  });

  it('rejects malformed state, naming the field, and changes nothing', () => {
    const { pci } = setup();
    const good = pci.saveState();
    const functions = good.functions as DeviceState;
    const bad = (patch: DeviceState) => () => pci.loadState({ ...good, ...patch });
    expect(bad({ address: 0x80000001 })).toThrow(/'address'/);
    expect(bad({ address: 'x' })).toThrow(/'address'/);
    expect(bad({ resetControl: 0x04 })).toThrow(/'resetControl'/);
    expect(bad({ functions: null })).toThrow(/'functions'/);
    const swapped = { ...functions, '00.0': functions['01.0'] };
    expect(bad({ functions: swapped })).toThrow(/'functions\.00\.0' is not the state of i440fx/);
    const { ['03.0']: _nic, ...missing } = functions;
    expect(bad({ functions: missing })).toThrow(/'functions\.03\.0'/);
    expect(bad({ functions: { ...functions, '05.0': new Uint8Array(256) } })).toThrow(/'functions\.05\.0'/);
    expect(bad({ functions: { ...functions, '03.0': new Uint8Array(64) } })).toThrow(/64 bytes/);
    expect(pci.saveState()).toEqual(good);
  });
});
