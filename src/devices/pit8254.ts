/**
 * Intel 8254 Programmable Interval Timer (PC ports 0x40-0x43) and the PC/AT system control port B (0x61).
 *
 * Follows the Intel 8254 datasheet (order no. 231164): "Control Word Format", "Write Operations", "Read
 * Operations" (counter latch command, read-back command, status byte), "Mode Definitions" (modes 0-5),
 * "Operation Common to All Modes" (null count, GATE, loading on the next CLK pulse).
 *
 * Counting is not ticked: each counter keeps the tick at which its counting element (CE) was loaded and
 * derives count and OUT from the ticks elapsed since, at 1.193182 MHz of virtual time. A "tick" below is the
 * number of CLK pulses since power-on, `pitTicksAt(now)`.
 *
 * On the PC counter 0's OUT drives IRQ0, counter 1 requests DRAM refresh (nobody listens here), and counter 2's
 * GATE and OUT are reached through port 0x61. Port 0x61 is a separate small class, `SystemControlPortB`,
 * because it belongs to the chipset, not the 8254: it merely drives GATE2 and samples OUT2.
 */
import type {
  Clock,
  DeviceState,
  IoDevice,
  IrqLine,
  PortRange,
  Stateful,
  TimedDevice,
  TimerHost,
} from './device.ts';
import { stateBoolean, stateNumber } from './device.ts';

/** Input clock of the PC's 8254: the 14.31818 MHz crystal divided by 12. */
export const PIT_FREQUENCY_HZ = 1193182;
/**
 * Counter 0 in modes 2 and 3 never asks to be run sooner than this after the current run (at most 100k
 * events per second). A guest that programs a tiny reload value still gets one IRQ0 edge per run (edges the
 * PIC would merge anyway), and counts and OUT read back exactly, but the machine is not flooded with events.
 */
export const PIT_MIN_PERIODIC_EVENT_NS = 10_000;
const NS_PER_SECOND = 1e9;

const PIT_PORT_BASE = 0x40;
const PIT_CONTROL_PORT = 0x43;
// Control word: SC1 SC0 RW1 RW0 M2 M1 M0 BCD.
const CW_SC_SHIFT = 6;
const CW_SC_READ_BACK = 3;
const CW_RW_SHIFT = 4;
const CW_RW_MASK = 0x03;
const CW_MODE_SHIFT = 1;
const CW_MODE_MASK = 0x07;
const CW_BCD = 0x01;
// RW field values.
const RW_LATCH = 0;
const RW_LSB = 1;
const RW_MSB = 2;
const RW_LSB_MSB = 3;
// Read-back command: 1 1 /COUNT /STATUS CNT2 CNT1 CNT0 0 (the count/status bits are active low).
const RB_NOT_COUNT = 0x20;
const RB_NOT_STATUS = 0x10;
const RB_SELECT_SHIFT = 1;
// Status byte: OUTPUT NULL_COUNT RW1 RW0 M2 M1 M0 BCD.
const STATUS_OUTPUT = 0x80;
const STATUS_NULL_COUNT = 0x40;
/** No tick scheduled. Ticks are never negative, and -1 survives JSON where Infinity does not. */
const NO_TICK = -1;

/** CLK pulses that have happened by virtual time `ns`. Splits off whole seconds so products stay exact. */
export function pitTicksAt(ns: number): number {
  const t = Math.floor(ns);
  const seconds = Math.floor(t / NS_PER_SECOND);
  const rest = t - seconds * NS_PER_SECOND;
  return seconds * PIT_FREQUENCY_HZ + Math.floor((rest * PIT_FREQUENCY_HZ) / NS_PER_SECOND);
}

/** The first virtual time (ns) at which `pitTicksAt` reaches `tick`. */
export function pitTickTime(tick: number): number {
  const seconds = Math.floor(tick / PIT_FREQUENCY_HZ);
  const rest = tick - seconds * PIT_FREQUENCY_HZ;
  return seconds * NS_PER_SECOND + Math.ceil((rest * NS_PER_SECOND) / PIT_FREQUENCY_HZ);
}

function toBcd(value: number): number {
  value %= 10000;
  return (
    (Math.floor(value / 1000) << 12) |
    ((Math.floor(value / 100) % 10) << 8) |
    ((Math.floor(value / 10) % 10) << 4) |
    (value % 10)
  );
}

function fromBcd(value: number): number {
  // Digits above 9 are undefined on the chip; they simply weigh in here.
  return ((value >> 12) & 15) * 1000 + ((value >> 8) & 15) * 100 + ((value >> 4) & 15) * 10 + (value & 15);
}

/**
 * One counter: control logic, count register (CR), counting element (CE) and output latch. Every entry point
 * takes the current tick `k` and first calls `advance(k)`, which performs a scheduled CR -> CE transfer and
 * notes whether OUT rose since the previous call (for the IRQ0 edge).
 */
class PitCounter {
  // Programming (last control word) and the CR.
  modeBits = 0; // M2-M0 as written (6 and 7 are modes 2 and 3)
  rw = RW_LSB_MSB;
  bcd = false;
  cr = 0;
  writeMsbNext = false;
  readMsbNext = false;
  latchBytes = 0; // bytes of a latched count still to be read
  latchValue = 0;
  statusLatched = false;
  statusValue = 0;
  nullCount = true; // a count was written (or a control word) and has not reached the CE yet
  hasCount = false; // a count has been written since the control word
  gate: boolean;
  // The counting element: while `loaded`, it has counted `counted(k)` pulses since it got the initial count `n`.
  loaded = false;
  running = false; // pulses decrement (modes 0, 2, 3, 4 stop while GATE is low)
  n = 0x10000;
  c0 = 0; // pulses counted at `runStart`
  runStart = 0;
  held = 0; // CE value (binary) while not loaded
  outIdle = false; // OUT while not loaded: low after a mode 0 control word, high for the other modes
  loadTick = NO_TICK; // when the CR is transferred to the CE
  // Edge bookkeeping for `advance`.
  edgeTick = 0;
  rose = false;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  get mode(): number {
    return this.modeBits >= 6 ? this.modeBits - 4 : this.modeBits; // M2 is "don't care" in modes 2 and 3
  }

  private get modulus(): number {
    return this.bcd ? 10000 : 0x10000;
  }

  private counted(k: number): number {
    return this.running ? this.c0 + Math.max(0, k - this.runStart) : this.c0;
  }

  /** Tick at which the CE will have counted `c` pulses (running only). */
  private tickOfCount(c: number): number {
    return this.runStart + (c - this.c0);
  }

  /** Pulses per high half in mode 3: (N + 1) / 2 for odd N, N / 2 for even. */
  private static highHalf(n: number): number {
    return (n + 1) >> 1;
  }

  advance(k: number): void {
    if (k < this.edgeTick) k = this.edgeTick;
    if (this.loadTick !== NO_TICK && this.loadTick <= k) {
      if (this.roseBetween(this.edgeTick, this.loadTick)) this.rose = true;
      this.transfer(this.loadTick);
      this.edgeTick = this.loadTick;
    }
    if (this.roseBetween(this.edgeTick, k)) this.rose = true;
    this.edgeTick = k;
  }

  /** The CR -> CE transfer ("counter loading"). */
  private transfer(tick: number): void {
    let next = this.bcd ? fromBcd(this.cr) || 10000 : this.cr || 0x10000;
    const mode = this.mode;
    if ((mode === 2 || mode === 3) && next === 1) next = 2; // a count of 1 is illegal here; run it as 2
    let phase = 0;
    // Mode 3 reloading at the end of a high half continues with the low half of the new count.
    if (mode === 3 && this.loaded && this.running && this.counted(tick) % this.n !== 0) {
      phase = PitCounter.highHalf(next);
    }
    this.n = next;
    this.c0 = phase;
    this.runStart = tick;
    this.loaded = true;
    this.running = mode === 1 || mode === 5 ? true : this.gate;
    this.nullCount = false;
    this.loadTick = NO_TICK;
  }

  /** Whether OUT rose during ticks (a, b] of the current CE run. */
  private roseBetween(a: number, b: number): boolean {
    if (!this.loaded || !this.running || b <= a) return false;
    const ca = this.counted(a);
    const cb = this.counted(b);
    const n = this.n;
    switch (this.mode) {
      case 0:
      case 1:
        return ca < n && cb >= n;
      case 4:
      case 5:
        return ca <= n && cb > n; // the strobe ends one pulse after the count expires
      default:
        return Math.floor(cb / n) > Math.floor(ca / n); // modes 2 and 3 rise at every reload
    }
  }

  out(k: number): boolean {
    this.advance(k);
    if (!this.loaded) return this.outIdle;
    const c = this.counted(k);
    const n = this.n;
    switch (this.mode) {
      case 0:
      case 1:
        return c >= n;
      case 2:
        return !this.gate || c % n !== n - 1; // low for the one pulse while the count is 1
      case 3:
        return !this.gate || c % n < PitCounter.highHalf(n);
      default:
        return c !== n; // modes 4 and 5: low for the one pulse when the count expires
    }
  }

  /** The CE as a binary number. */
  private value(k: number): number {
    this.advance(k);
    if (!this.loaded) return this.held;
    const c = this.counted(k);
    const n = this.n;
    const m = this.modulus;
    switch (this.mode) {
      case 2:
        return (n - (c % n)) % m;
      case 3: {
        // Counts down by two; an odd count loads N - 1 (datasheet, mode 3 "odd counts"), so 0 shows once.
        const p = c % n;
        const h = PitCounter.highHalf(n);
        const half = p < h ? p : p - h;
        return ((n & 1 ? n - 1 : n) - 2 * half) % m;
      }
      default:
        // Modes 0, 1, 4, 5 keep counting after terminal count, wrapping to FFFF (or 9999 in BCD).
        return (((n - c) % m) + m) % m;
    }
  }

  /** The CE as read on the data bus (BCD when programmed so). */
  private readableValue(k: number): number {
    const v = this.value(k);
    return this.bcd ? toBcd(v) : v;
  }

  /** A control word with RW != 0: all control logic is reset and OUT goes to its initial state. */
  program(k: number, modeBits: number, rw: number, bcd: boolean): void {
    this.advance(k);
    this.held = this.value(k);
    this.modeBits = modeBits;
    this.rw = rw;
    this.bcd = bcd;
    this.loaded = false;
    this.running = false;
    this.hasCount = false;
    this.nullCount = true;
    this.loadTick = NO_TICK;
    this.outIdle = this.mode !== 0;
    this.writeMsbNext = false;
    this.readMsbNext = false;
    this.latchBytes = 0;
    this.statusLatched = false;
  }

  writeCount(k: number, byte: number): void {
    this.advance(k);
    if (this.rw === RW_LSB) {
      this.cr = byte; // MSB becomes 0
    } else if (this.rw === RW_MSB) {
      this.cr = byte << 8; // LSB becomes 0
    } else if (!this.writeMsbNext) {
      this.cr = (this.cr & 0xff00) | byte;
      this.writeMsbNext = true;
      if (this.mode === 0) {
        // Mode 0: writing the first byte stops counting and sets OUT low at once.
        this.held = this.value(k);
        this.loaded = false;
        this.outIdle = false;
        this.loadTick = NO_TICK;
      }
      return;
    } else {
      this.cr = (this.cr & 0xff) | (byte << 8);
      this.writeMsbNext = false;
    }
    this.countWritten(k);
  }

  private countWritten(k: number): void {
    this.hasCount = true;
    this.nullCount = true;
    switch (this.mode) {
      case 0:
      case 4:
        this.loadTick = k + 1; // loaded on the next CLK pulse, which does not decrement
        break;
      case 2:
      case 3:
        if (!this.loaded) this.loadTick = this.gate ? k + 1 : NO_TICK;
        else if (this.running) this.loadTick = this.tickOfCount(this.nextReload(this.counted(k)));
        // else: GATE is low; its rising edge loads the new count
        break;
      default:
        break; // modes 1 and 5 wait for a GATE trigger
    }
  }

  /** Modes 2 and 3: the count at which the current period (mode 3: half period) ends and the CR is reloaded. */
  private nextReload(c: number): number {
    const n = this.n;
    const start = c - (c % n);
    if (this.mode === 3 && c % n < PitCounter.highHalf(n)) return start + PitCounter.highHalf(n);
    return start + n;
  }

  setGate(k: number, high: boolean): void {
    this.advance(k);
    if (high === this.gate) return;
    this.gate = high;
    switch (this.mode) {
      case 0:
      case 4:
        // GATE enables counting; OUT is unaffected.
        if (this.loaded) this.pause(k, high);
        break;
      case 2:
      case 3:
        if (high) {
          if (this.hasCount) this.loadTick = k + 1; // a trigger reloads the CE on the next pulse
        } else {
          // GATE low stops counting and forces OUT high; a pending reload waits for the next trigger.
          if (this.loaded) this.pause(k, false);
          this.loadTick = NO_TICK;
        }
        break;
      default:
        if (high && this.hasCount) this.loadTick = k + 1; // modes 1 and 5: trigger
        break;
    }
  }

  private pause(k: number, running: boolean): void {
    this.c0 = this.counted(k);
    this.runStart = k;
    this.running = running;
  }

  latchCount(k: number): void {
    if (this.latchBytes > 0) return; // a second latch before the first is read is ignored
    this.latchValue = this.readableValue(k);
    this.latchBytes = this.rw === RW_LSB_MSB ? 2 : 1;
  }

  latchStatus(k: number): void {
    if (this.statusLatched) return;
    const out = this.out(k);
    this.statusValue =
      (out ? STATUS_OUTPUT : 0) |
      (this.nullCount ? STATUS_NULL_COUNT : 0) |
      (this.rw << CW_RW_SHIFT) |
      (this.modeBits << CW_MODE_SHIFT) |
      (this.bcd ? CW_BCD : 0);
    this.statusLatched = true;
  }

  read(k: number): number {
    if (this.statusLatched) {
      this.statusLatched = false;
      return this.statusValue;
    }
    if (this.latchBytes > 0) {
      // A latched count reads LSB first, then MSB; the latch holds until every byte is read.
      const msb = this.rw === RW_MSB || (this.rw === RW_LSB_MSB && this.latchBytes === 1);
      this.latchBytes--;
      return msb ? this.latchValue >> 8 : this.latchValue & 0xff;
    }
    const v = this.readableValue(k);
    let msb = this.rw === RW_MSB;
    if (this.rw === RW_LSB_MSB) {
      msb = this.readMsbNext;
      this.readMsbNext = !this.readMsbNext;
    }
    return msb ? v >> 8 : v & 0xff;
  }

  /** Counter 0's next OUT change after tick k, or NO_TICK. One-pulse lows (modes 2, 4, 5) count at their end. */
  nextChange(k: number): number {
    this.advance(k);
    let tick = NO_TICK;
    if (this.loaded && this.running) {
      const c = this.counted(k);
      const n = this.n;
      let target = -1;
      switch (this.mode) {
        case 0:
        case 1:
          if (c < n) target = n;
          break;
        case 4:
        case 5:
          if (c <= n) target = n + 1;
          break;
        default:
          target = this.nextReload(c);
          break;
      }
      if (target >= 0) tick = this.tickOfCount(target);
    }
    if (this.loadTick !== NO_TICK && (tick === NO_TICK || this.loadTick < tick)) tick = this.loadTick;
    return tick;
  }

  isPeriodic(): boolean {
    return this.loaded && this.running && (this.mode === 2 || this.mode === 3);
  }

  save(): DeviceState {
    return {
      modeBits: this.modeBits,
      rw: this.rw,
      bcd: this.bcd,
      cr: this.cr,
      writeMsbNext: this.writeMsbNext,
      readMsbNext: this.readMsbNext,
      latchBytes: this.latchBytes,
      latchValue: this.latchValue,
      statusLatched: this.statusLatched,
      statusValue: this.statusValue,
      nullCount: this.nullCount,
      hasCount: this.hasCount,
      gate: this.gate,
      loaded: this.loaded,
      running: this.running,
      n: this.n,
      c0: this.c0,
      runStart: this.runStart,
      held: this.held,
      outIdle: this.outIdle,
      loadTick: this.loadTick,
      edgeTick: this.edgeTick,
      rose: this.rose,
    };
  }

  /** Restores `save()` output; `where` names the counter in error messages. */
  restore(state: DeviceState, where: string): void {
    const int = (field: string, min: number, max: number): number => {
      const v = state[field];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw new Error(`state field '${where}.${field}' is not an integer in [${min}, ${max}]`);
      }
      return v;
    };
    const bool = (field: string): boolean => {
      const v = state[field];
      if (typeof v !== 'boolean') throw new Error(`state field '${where}.${field}' is not a boolean`);
      return v;
    };
    const maxTick = Number.MAX_SAFE_INTEGER;
    this.modeBits = int('modeBits', 0, 7);
    this.rw = int('rw', RW_LSB, RW_LSB_MSB);
    this.bcd = bool('bcd');
    this.cr = int('cr', 0, 0xffff);
    this.writeMsbNext = bool('writeMsbNext');
    this.readMsbNext = bool('readMsbNext');
    this.latchBytes = int('latchBytes', 0, 2);
    this.latchValue = int('latchValue', 0, 0xffff);
    this.statusLatched = bool('statusLatched');
    this.statusValue = int('statusValue', 0, 0xff);
    this.nullCount = bool('nullCount');
    this.hasCount = bool('hasCount');
    this.gate = bool('gate');
    this.loaded = bool('loaded');
    this.running = bool('running');
    this.n = int('n', 1, 0x10000);
    this.c0 = int('c0', 0, maxTick);
    this.runStart = int('runStart', 0, maxTick);
    this.held = int('held', 0, 0xffff);
    this.outIdle = bool('outIdle');
    this.loadTick = int('loadTick', NO_TICK, maxTick);
    this.edgeTick = int('edgeTick', 0, maxTick);
    this.rose = bool('rose');
  }
}

/** The 8254 at 0x40-0x43: counter 0 -> IRQ0, counter 1 (refresh), counter 2 (speaker, via port 0x61). */
export class Pit8254 implements IoDevice, Stateful, TimedDevice {
  readonly name = 'pit';
  readonly portRanges: readonly PortRange[] = [{ start: PIT_PORT_BASE, length: 4 }];
  private readonly clock: Clock;
  private readonly timerHost: TimerHost;
  private readonly irq0: IrqLine;
  private counters: PitCounter[] = [];
  /** The level last driven on IRQ0. */
  private irqLevel = false;

  constructor(clock: Clock, timerHost: TimerHost, irq0: IrqLine) {
    this.clock = clock;
    this.timerHost = timerHost;
    this.irq0 = irq0;
    this.reset();
  }

  /**
   * The datasheet leaves the power-on state undefined. We start every counter as if just programmed for mode 0,
   * LSB then MSB, binary, with no count: OUT0 low, so no IRQ0 until the firmware programs counter 0.
   * GATE0 and GATE1 are tied high on the PC; GATE2 follows port 0x61 bit 0, which resets to 0.
   */
  reset(): void {
    this.counters = [new PitCounter(true), new PitCounter(true), new PitCounter(false)];
    this.irqLevel = false;
    this.updateIrq(pitTicksAt(this.clock.now()));
  }

  read8(port: number): number {
    const index = port - PIT_PORT_BASE;
    if (index < 0 || index > 2) return 0xff; // the control word register cannot be read
    return this.counters[index].read(this.tick());
  }

  write8(port: number, value: number): void {
    value &= 0xff;
    const k = this.tick();
    if (port !== PIT_CONTROL_PORT) {
      const index = port - PIT_PORT_BASE;
      if (index < 0 || index > 2) return;
      this.counters[index].writeCount(k, value);
      if (index === 0) this.counter0Changed(k);
      return;
    }
    const select = value >> CW_SC_SHIFT;
    if (select === CW_SC_READ_BACK) {
      for (let i = 0; i < 3; i++) {
        if ((value & (1 << (RB_SELECT_SHIFT + i))) === 0) continue;
        // If both are latched, the status is read first (PitCounter.read).
        if ((value & RB_NOT_COUNT) === 0) this.counters[i].latchCount(k);
        if ((value & RB_NOT_STATUS) === 0) this.counters[i].latchStatus(k);
      }
      return;
    }
    const counter = this.counters[select];
    const rw = (value >> CW_RW_SHIFT) & CW_RW_MASK;
    if (rw === RW_LATCH) {
      counter.latchCount(k);
      return;
    }
    counter.program(k, (value >> CW_MODE_SHIFT) & CW_MODE_MASK, rw, (value & CW_BCD) !== 0);
    if (select === 0) this.counter0Changed(k);
  }

  /** Drives GATE of counter `index` (0x61 bit 0 for counter 2). */
  setGate(index: number, high: boolean): void {
    const k = this.tick();
    this.counters[index].setGate(k, high);
    if (index === 0) this.counter0Changed(k);
  }

  /** The OUT pin of counter `index` now. */
  out(index: number): boolean {
    return this.counters[index].out(this.tick());
  }

  runTimers(now: number): number {
    const k = pitTicksAt(now);
    this.updateIrq(k);
    return this.nextDeadline(now, k);
  }

  private tick(): number {
    return pitTicksAt(this.clock.now());
  }

  private counter0Changed(k: number): void {
    this.updateIrq(k);
    const now = this.clock.now();
    this.timerHost.reschedule(this, this.nextDeadline(now, k));
  }

  private nextDeadline(now: number, k: number): number {
    const counter = this.counters[0];
    const tick = counter.nextChange(k);
    if (tick === NO_TICK) return Infinity;
    const deadline = pitTickTime(tick);
    return counter.isPeriodic() ? Math.max(deadline, now + PIT_MIN_PERIODIC_EVENT_NS) : deadline;
  }

  /**
   * IRQ0 follows OUT0 at tick k. If OUT0 rose since the last call (even if it fell again, or is a one-pulse
   * low that ended), the PIC is shown a low-high pulse, so it latches one request per call at most.
   */
  private updateIrq(k: number): void {
    const counter = this.counters[0];
    const level = counter.out(k);
    if (counter.rose) {
      counter.rose = false;
      if (this.irqLevel) this.irq0.set(false);
      this.irq0.set(true);
      this.irqLevel = true;
    }
    this.irqLevel = level;
    this.irq0.set(level);
  }

  saveState(): DeviceState {
    // Bring each counter's lazy edge bookkeeping up to now first (it changes nothing the guest can see), so a
    // restored PIT, which recomputes its deadline at load time, holds exactly the same fields.
    const k = this.tick();
    for (const counter of this.counters) counter.advance(k);
    return { counters: this.counters.map((c) => c.save()), irqLevel: this.irqLevel };
  }

  /** Restores saveState output. The Clock must already be restored: the deadline is recomputed from it. */
  loadState(state: DeviceState): void {
    const saved = state.counters;
    if (!Array.isArray(saved) || saved.length !== 3)
      throw new Error("state field 'counters' is not 3 counters");
    const counters = saved.map((entry, i) => {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry) || ArrayBuffer.isView(entry)) {
        throw new Error(`state field 'counters[${i}]' is not an object`);
      }
      const counter = new PitCounter(true);
      counter.restore(entry, `counters[${i}]`);
      return counter;
    });
    const irqLevel = stateBoolean(state, 'irqLevel');
    this.counters = counters;
    this.irqLevel = irqLevel;
    this.counter0Changed(this.tick());
  }
}

/** Port 0x61 bits. */
const PORTB_TIMER2_GATE = 0x01;
const PORTB_SPEAKER_DATA = 0x02;
const PORTB_WRITABLE = 0x0f; // bits 2 and 3 (parity / channel check enables) are kept but do nothing here
const PORTB_REFRESH_TOGGLE = 0x10;
const PORTB_TIMER2_OUT = 0x20;
/** The refresh request toggles every 15.09 us: 18 PIT clocks, the AT's DRAM refresh interval. */
const REFRESH_PERIOD_TICKS = 18;

/**
 * PC/AT system control port B (0x61), the chipset register that gates counter 2 and mixes it into the
 * speaker. Read: bits 0-3 as written, bit 4 refresh toggle, bit 5 OUT2, bits 6-7 (parity/IO check) zero.
 */
export class SystemControlPortB implements IoDevice, Stateful {
  readonly name = 'port61';
  readonly portRanges: readonly PortRange[] = [{ start: 0x61, length: 1 }];
  private readonly pit: Pit8254;
  private readonly clock: Clock;
  private control = 0;

  constructor(pit: Pit8254, clock: Clock) {
    this.pit = pit;
    this.clock = clock;
  }

  /** Whether the speaker hears OUT2 (bit 1); a sound sink would combine it with `pit.out(2)`. */
  get speakerDataEnabled(): boolean {
    return (this.control & PORTB_SPEAKER_DATA) !== 0;
  }

  read8(): number {
    const refresh = Math.floor(pitTicksAt(this.clock.now()) / REFRESH_PERIOD_TICKS) & 1;
    return this.control | (refresh ? PORTB_REFRESH_TOGGLE : 0) | (this.pit.out(2) ? PORTB_TIMER2_OUT : 0);
  }

  write8(_port: number, value: number): void {
    this.control = value & PORTB_WRITABLE;
    this.pit.setGate(2, (value & PORTB_TIMER2_GATE) !== 0);
  }

  /** GATE2 itself is part of the PIT's state and resets there. */
  reset(): void {
    this.control = 0;
  }

  saveState(): DeviceState {
    return { control: this.control };
  }

  loadState(state: DeviceState): void {
    const control = stateNumber(state, 'control');
    if (!Number.isInteger(control) || control < 0 || control > PORTB_WRITABLE) {
      throw new Error("state field 'control' is out of range");
    }
    this.control = control;
  }
}
