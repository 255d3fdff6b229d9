/**
 * Virtual time and the timer scheduler.
 *
 * Time is counted, not measured: it advances by NS_PER_INSTRUCTION for every instruction the CPU retires
 * (a nominal 100 MIPS machine), and jumps straight to the next timer deadline while the CPU is halted. So the
 * same inputs give the same run, byte for byte, whatever the host's speed (STYLE.md, point 10). The PIT, RTC,
 * UART timeouts and the TSC (1 GHz: one tick per virtual nanosecond) all read this clock. The page may pace
 * guests to wall-clock time by throttling how many instructions it runs per frame; that does not change
 * what the guest sees.
 */
import type { Cpu } from '../cpu/cpu.ts';
import type { Clock, TimedDevice, TimerHost } from '../devices/device.ts';

/** Nominal speed: 10 ns of virtual time per instruction = 100 million instructions per virtual second. */
export const NS_PER_INSTRUCTION = 10;

export class VirtualClock implements Clock {
  private baseNs = 0;
  private baseInstructions = 0;

  constructor(private readonly cpu: Cpu) {}

  now(): number {
    return this.baseNs + (this.cpu.instructionCount - this.baseInstructions) * NS_PER_INSTRUCTION;
  }

  /** Moves time forward to `ns` (never backward): used to skip the idle time of a halted CPU. */
  advanceTo(ns: number): void {
    if (ns > this.now()) {
      this.baseNs = ns;
      this.baseInstructions = this.cpu.instructionCount;
    }
  }

  /** Time spent beyond the instruction count: bus cycles of port I/O (io-timing.ts). */
  charge(ns: number): void {
    this.baseNs += ns;
  }

  /** For snapshots: the clock is fully described by its current time. */
  set(ns: number): void {
    this.baseNs = ns;
    this.baseInstructions = this.cpu.instructionCount;
  }
}

/** Keeps each timed device's next deadline and runs the due ones. */
export class TimerScheduler implements TimerHost {
  private readonly devices: TimedDevice[] = [];
  private deadlines = new Float64Array(8);
  /** The earliest deadline of all devices (Infinity when none). */
  next = Infinity;
  /**
   * The virtual time at which the CPU's current run slice ends (Infinity between slices). A device that
   * moves its deadline before it (a PIT count written mid-slice) cuts the slice short through `onSliceCut`,
   * so the timer fires on time instead of at the end of the slice.
   */
  sliceEnd = Infinity;
  onSliceCut: (() => void) | null = null;

  constructor(private readonly clock: Clock) {}

  add(device: TimedDevice): void {
    if (this.devices.length === this.deadlines.length) {
      const grown = new Float64Array(this.deadlines.length * 2);
      grown.set(this.deadlines);
      this.deadlines = grown;
    }
    this.devices.push(device);
    this.deadlines[this.devices.length - 1] = Infinity;
    this.reschedule(device, device.runTimers(this.clock.now()));
  }

  reschedule(device: TimedDevice, deadline: number): void {
    const i = this.devices.indexOf(device);
    if (i < 0) return;
    this.deadlines[i] = deadline;
    this.recomputeNext();
    if (deadline < this.sliceEnd) this.cutSlice(deadline);
  }

  /** Virtual time jumped within a slice (bus cycles, io-timing.ts): a slice whose end it reached stops. */
  timeJumped(now: number): void {
    if (now >= this.sliceEnd) this.cutSlice(now);
  }

  private cutSlice(end: number): void {
    this.sliceEnd = end;
    if (this.onSliceCut !== null) this.onSliceCut();
  }

  private recomputeNext(): void {
    let next = Infinity;
    for (let i = 0; i < this.devices.length; i++) if (this.deadlines[i] < next) next = this.deadlines[i];
    this.next = next;
  }

  /** Runs every device whose deadline has come. */
  runDue(now: number): void {
    for (let i = 0; i < this.devices.length; i++) {
      if (this.deadlines[i] <= now) this.deadlines[i] = this.devices[i].runTimers(now);
    }
    this.recomputeNext();
  }

  /** Asks every device for its deadline again (after a snapshot load or a reset). */
  refreshAll(now: number): void {
    for (let i = 0; i < this.devices.length; i++) this.deadlines[i] = this.devices[i].runTimers(now);
    this.recomputeNext();
  }
}
