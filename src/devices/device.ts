/**
 * The contracts every PC device implements (see ../../../shared/STYLE.md, "What we take" 2-4 and 9-11).
 *
 * A device is a class with explicit I/O port ranges, byte/word/dword handlers, reset, and named-field state.
 * Interrupt requests leave a device through IrqLine objects; time reaches it from a virtual Clock.
 * Nothing here knows the DOM, xterm, or the board: src/machine wires devices together.
 */

/** One interrupt request wire. A device drives it from one `updateIrq()` that derives the level from its state. */
export interface IrqLine {
  /** Drives the wire: true = asserted (high), false = deasserted. Edge detection is the controller's job. */
  set(level: boolean): void;
}

/** An inclusive-exclusive range of I/O ports: [start, start + length). */
export interface PortRange {
  start: number;
  length: number;
}

/**
 * Saved state of one device: plain named fields (numbers, booleans, strings, arrays, typed arrays, nested
 * objects of the same). It must survive structured clone and JSON-with-typed-array encoding.
 */
export type DeviceStateValue =
  | number
  | boolean
  | string
  | null
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int32Array
  | Float64Array
  | DeviceStateValue[]
  | { [field: string]: DeviceStateValue };
export type DeviceState = { [field: string]: DeviceStateValue };

/** A device that answers on the I/O port bus. */
export interface IoDevice {
  /** Short name used in messages, e.g. "uart-com1". */
  readonly name: string;
  /** The ports this device decodes. The port bus refuses overlapping ranges. */
  readonly portRanges: readonly PortRange[];
  read8(port: number): number;
  write8(port: number, value: number): void;
  /** Optional 16/32-bit handlers; when absent the bus splits the access into byte accesses (low port first). */
  read16?(port: number): number;
  write16?(port: number, value: number): void;
  read32?(port: number): number;
  write32?(port: number, value: number): void;
}

/** Everything with state that a machine snapshot must capture. */
export interface Stateful {
  reset(): void;
  saveState(): DeviceState;
  /** Restores state written by saveState; throws an Error naming the bad field when the state is malformed. */
  loadState(state: DeviceState): void;
}

/**
 * Virtual time. It advances with executed guest instructions at a fixed nominal rate (see src/machine), never
 * with the wall clock, so runs are reproducible. Unit: nanoseconds since power-on (a float64 holds ~104 days
 * exactly to the nanosecond).
 */
export interface Clock {
  now(): number;
}

/**
 * A device with timers. The machine calls `runTimers(now)` when virtual time reaches the deadline the device
 * last returned; the device does its due work and returns its next deadline (ns), or Infinity for none.
 * Devices whose deadlines change because of an I/O write call the `TimerHost.reschedule()` they were given.
 */
export interface TimedDevice {
  runTimers(now: number): number;
}

/** Given to timed devices so an I/O write can bring their next deadline forward. */
export interface TimerHost {
  reschedule(device: TimedDevice, deadline: number): void;
}

/** The interrupt controller as the CPU sees it (INTR pin and INTA cycle). */
export interface InterruptController {
  /** True when an unmasked request is waiting for the CPU (the INTR pin). */
  hasInterrupt(): boolean;
  /** The INTA cycle: returns the vector number and updates in-service state. */
  acknowledge(): number;
}

/** Throws if `value` is not a finite number; used by loadState implementations. */
export function stateNumber(state: DeviceState, field: string): number {
  const v = state[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`state field '${field}' is not a number`);
  return v;
}

/** Throws if `value` is not a boolean; used by loadState implementations. */
export function stateBoolean(state: DeviceState, field: string): boolean {
  const v = state[field];
  if (typeof v !== 'boolean') throw new Error(`state field '${field}' is not a boolean`);
  return v;
}

/** Throws if `value` is not a Uint8Array of the given length (when given). */
export function stateBytes(state: DeviceState, field: string, length?: number): Uint8Array {
  const v = state[field];
  if (!(v instanceof Uint8Array)) throw new Error(`state field '${field}' is not a byte array`);
  if (length !== undefined && v.length !== length) {
    throw new Error(`state field '${field}' has ${v.length} bytes, expected ${length}`);
  }
  return v;
}
