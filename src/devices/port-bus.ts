/**
 * The I/O port bus: 64 Ki byte-wide ports decoded to devices (see ../../../shared/STYLE.md, "What we take" 2).
 *
 * Follows the x86 I/O model of the Intel SDM Vol. 1, chapter 19 ("Input/Output"): IN/OUT move 8, 16 or 32
 * bits, and a wide access to port P touches the consecutive byte ports P, P+1 (, P+2, P+3), low byte at P.
 * A device that decodes all of those ports may take the wide access whole (read16/read32); otherwise the bus
 * splits it into byte cycles, each routed to whichever device owns that byte port, as an ISA bus does when
 * a 16-bit cycle meets 8-bit devices.
 *
 * Dispatch is a 65536-entry table of device numbers, so a port access costs one typed-array load.
 */

import type { IoBus } from '../cpu/bus.ts';
import type { IoDevice, PortRange } from './device.ts';

/** Number of byte ports in the x86 I/O space. */
const PORT_COUNT = 0x10000;
const PORT_MASK = 0xffff;
/** Owner table value for a port nobody decodes; devices are numbered from 1. */
const NO_DEVICE = 0;
/** The owner table is a Uint16Array, so device numbers stop below 65536. */
const MAX_DEVICES = 0xffff;

/** Called for each access no device answered. `size` is the access width in bytes. */
export type UnclaimedPortHook = (port: number, isWrite: boolean, size: 1 | 2 | 4) => void;

export class PortBus implements IoBus {
  /** devices[n - 1] owns the ports whose owner entry is n. */
  private readonly devices: IoDevice[] = [];
  private readonly owner = new Uint16Array(PORT_COUNT);
  /** How many accesses (of any width) found no device. */
  unclaimedAccesses = 0;
  /** Lets the machine log "port 0x1234 had no device"; it decides whether to report a port once or always. */
  onUnclaimed?: UnclaimedPortHook;

  /** Attaches a device to every port of its ranges; refuses ranges outside the I/O space or overlapping. */
  register(device: IoDevice): void {
    if (this.devices.length >= MAX_DEVICES)
      throw new Error(`port bus: too many devices to add '${device.name}'`);
    const claimed = new Set<number>();
    for (const range of device.portRanges) {
      checkRange(device, range);
      for (let port = range.start; port < range.start + range.length; port++) {
        const other = this.owner[port];
        if (other !== NO_DEVICE) {
          throw new Error(
            `port bus: device '${device.name}' claims port ${hex(port)}, already owned by '${this.devices[other - 1].name}'`,
          );
        }
        if (claimed.has(port)) {
          throw new Error(`port bus: device '${device.name}' claims port ${hex(port)} twice`);
        }
        claimed.add(port);
      }
    }
    this.devices.push(device);
    const number = this.devices.length;
    for (const port of claimed) this.owner[port] = number;
  }

  /** The attached devices and their ranges, in registration order (for docs and the UI). */
  describe(): Array<{ name: string; ranges: PortRange[] }> {
    return this.devices.map((d) => ({
      name: d.name,
      ranges: d.portRanges.map((r) => ({ start: r.start, length: r.length })),
    }));
  }

  /** The device decoding `port`, if any. */
  deviceAt(port: number): IoDevice | undefined {
    const n = this.owner[port & PORT_MASK];
    return n === NO_DEVICE ? undefined : this.devices[n - 1];
  }

  in8(port: number): number {
    port &= PORT_MASK;
    const n = this.owner[port];
    if (n === NO_DEVICE) {
      this.unclaimed(port, false, 1);
      return 0xff;
    }
    return this.devices[n - 1].read8(port) & 0xff;
  }

  in16(port: number): number {
    port &= PORT_MASK;
    const n = this.owner[port];
    const n1 = this.owner[(port + 1) & PORT_MASK];
    if (n === n1) {
      if (n === NO_DEVICE) {
        this.unclaimed(port, false, 2);
        return 0xffff;
      }
      const device = this.devices[n - 1];
      if (device.read16) return device.read16(port) & 0xffff;
    }
    return this.in8(port) | (this.in8(port + 1) << 8);
  }

  in32(port: number): number {
    port &= PORT_MASK;
    const n = this.owner[port];
    if (this.ownsFour(n, port)) {
      if (n === NO_DEVICE) {
        this.unclaimed(port, false, 4);
        return -1;
      }
      const device = this.devices[n - 1];
      if (device.read32) return device.read32(port) | 0;
    }
    // A device with read16 but no read32 still gets two word cycles when it owns both halves.
    return this.in16(port) | (this.in16(port + 2) << 16) | 0;
  }

  out8(port: number, value: number): void {
    port &= PORT_MASK;
    const n = this.owner[port];
    if (n === NO_DEVICE) this.unclaimed(port, true, 1);
    else this.devices[n - 1].write8(port, value & 0xff);
  }

  out16(port: number, value: number): void {
    port &= PORT_MASK;
    const n = this.owner[port];
    if (n === this.owner[(port + 1) & PORT_MASK]) {
      if (n === NO_DEVICE) {
        this.unclaimed(port, true, 2);
        return;
      }
      const device = this.devices[n - 1];
      if (device.write16) {
        device.write16(port, value & 0xffff);
        return;
      }
    }
    this.out8(port, value);
    this.out8(port + 1, value >>> 8);
  }

  out32(port: number, value: number): void {
    port &= PORT_MASK;
    const n = this.owner[port];
    if (this.ownsFour(n, port)) {
      if (n === NO_DEVICE) {
        this.unclaimed(port, true, 4);
        return;
      }
      const device = this.devices[n - 1];
      if (device.write32) {
        device.write32(port, value >>> 0);
        return;
      }
    }
    this.out16(port, value);
    this.out16(port + 2, value >>> 16);
  }

  /** True when device number `n` decodes all four ports starting at `port` (wrapping at 0xFFFF). */
  private ownsFour(n: number, port: number): boolean {
    const owner = this.owner;
    return (
      owner[(port + 1) & PORT_MASK] === n &&
      owner[(port + 2) & PORT_MASK] === n &&
      owner[(port + 3) & PORT_MASK] === n
    );
  }

  private unclaimed(port: number, isWrite: boolean, size: 1 | 2 | 4): void {
    this.unclaimedAccesses++;
    this.onUnclaimed?.(port, isWrite, size);
  }
}

function checkRange(device: IoDevice, range: PortRange): void {
  const { start, length } = range;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length <= 0) {
    throw new Error(`port bus: device '${device.name}' has an invalid port range ${start}+${length}`);
  }
  if (start + length > PORT_COUNT) {
    throw new Error(`port bus: device '${device.name}' range ${hex(start)}+${length} runs past port 0xffff`);
  }
}

function hex(port: number): string {
  return '0x' + port.toString(16).padStart(4, '0');
}
