/**
 * Port I/O takes bus time.
 *
 * On a PC/AT every IN and OUT is an ISA bus cycle: at 8.33 MHz an 8-bit I/O cycle is six bus clocks with
 * the default wait states, and chipsets stretch I/O to about a microsecond — the figure every "I/O delay"
 * idiom assumes (a write to port 80h, Linux's outb_p/io_delay). Software counts on it: Linux's
 * quick_pit_calibrate (arch/x86/kernel/tsc.c) reads the PIT once "to delay for a microsecond" so that the
 * count it just wrote has been loaded before it starts sampling, and fails the fast TSC calibration when a
 * port read takes no time at all.
 *
 * Virtual time is counted in instructions (clock.ts), so a port access is charged ISA_IO_CYCLE_NS on top of
 * the instruction that makes it. The charge comes before the device sees the access: a device samples late
 * in the cycle, after the bus time has passed.
 */
import type { IoBus } from '../cpu/bus.ts';

/** Virtual time one port access takes (ns). */
export const ISA_IO_CYCLE_NS = 1000;

export class TimedIoBus implements IoBus {
  constructor(
    private readonly bus: IoBus,
    /** Moves virtual time forward by `ns`. */
    private readonly charge: (ns: number) => void,
  ) {}

  in8(port: number): number {
    this.charge(ISA_IO_CYCLE_NS);
    return this.bus.in8(port);
  }

  in16(port: number): number {
    this.charge(ISA_IO_CYCLE_NS);
    return this.bus.in16(port);
  }

  in32(port: number): number {
    this.charge(ISA_IO_CYCLE_NS);
    return this.bus.in32(port);
  }

  out8(port: number, value: number): void {
    this.charge(ISA_IO_CYCLE_NS);
    this.bus.out8(port, value);
  }

  out16(port: number, value: number): void {
    this.charge(ISA_IO_CYCLE_NS);
    this.bus.out16(port, value);
  }

  out32(port: number, value: number): void {
    this.charge(ISA_IO_CYCLE_NS);
    this.bus.out32(port, value);
  }
}
