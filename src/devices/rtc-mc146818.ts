/**
 * Motorola MC146818A real-time clock with 114 bytes of battery-backed CMOS RAM, as wired in the PC/AT.
 *
 * Follows the MC146818A datasheet: "Address Map" (14 clock/control registers + 114 bytes RAM), "Time, Calendar
 * and Alarm Locations" (binary/BCD, 12/24 hour), "Update Cycle" (UIP 244 us before the update, alarm compare
 * after it), "Control Registers" A-D, "Interrupts" (IRQF = PF.PIE + AF.AIE + UF.UIE) and the periodic rate
 * table for a 32.768 kHz time base. PC wiring: index port 0x70 (bit 7 is the board's NMI mask latch, which
 * lives in the same write), data port 0x71, IRQ8. The century byte at 0x32 is the IBM AT BIOS convention.
 *
 * Time is virtual: the clock starts at `startTime` and advances only with the machine's Clock. The update
 * cycle is modelled as instantaneous at the end of the 244 us UIP window (the real 1984 us update, during
 * which registers are unreadable, is not modelled: software that honours UIP never sees the difference).
 */
import { stateBoolean, stateBytes, stateNumber } from './device.ts';
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

// Ports (PC/AT).
const PORT_INDEX = 0x70;
const PORT_DATA = 0x71;
const INDEX_NMI_DISABLE = 0x80;

// Register addresses (datasheet "Address Map").
export const REG_SECONDS = 0x00;
export const REG_SECONDS_ALARM = 0x01;
export const REG_MINUTES = 0x02;
export const REG_MINUTES_ALARM = 0x03;
export const REG_HOURS = 0x04;
export const REG_HOURS_ALARM = 0x05;
export const REG_DAY_OF_WEEK = 0x06;
export const REG_DAY_OF_MONTH = 0x07;
export const REG_MONTH = 0x08;
export const REG_YEAR = 0x09;
export const REG_A = 0x0a;
export const REG_B = 0x0b;
export const REG_C = 0x0c;
export const REG_D = 0x0d;

// PC/AT CMOS layout (IBM AT Technical Reference; the chip itself gives these bytes no meaning).
export const CMOS_BASE_MEMORY_LOW = 0x15;
export const CMOS_BASE_MEMORY_HIGH = 0x16;
export const CMOS_EXTENDED_MEMORY_LOW = 0x17;
export const CMOS_EXTENDED_MEMORY_HIGH = 0x18;
export const CMOS_CHECKSUM_HIGH = 0x2e;
export const CMOS_CHECKSUM_LOW = 0x2f;
export const CMOS_EXTENDED_MEMORY_POST_LOW = 0x30;
export const CMOS_EXTENDED_MEMORY_POST_HIGH = 0x31;
export const CMOS_CENTURY = 0x32;
export const CMOS_HIGH_MEMORY_LOW = 0x34;
export const CMOS_HIGH_MEMORY_HIGH = 0x35;
const CMOS_CHECKSUM_FIRST = 0x10;
const CMOS_CHECKSUM_LAST = 0x2d;
const CMOS_SIZE = 128;

// Register A.
export const A_UIP = 0x80;
export const A_DV_MASK = 0x70;
/** DV2-0 = 010: 32.768 kHz time base, divider running (the only setting a PC's crystal divides correctly). */
export const A_DV_32768 = 0x20;
export const A_RS_MASK = 0x0f;
// Register B.
export const B_SET = 0x80;
export const B_PIE = 0x40;
export const B_AIE = 0x20;
export const B_UIE = 0x10;
export const B_SQWE = 0x08;
export const B_DM_BINARY = 0x04;
export const B_24_HOUR = 0x02;
export const B_DSE = 0x01;
// Register C.
export const C_IRQF = 0x80;
export const C_PF = 0x40;
export const C_AF = 0x20;
export const C_UF = 0x10;
// Register D.
export const D_VRT = 0x80;

/** Hour byte PM flag in 12-hour mode. */
const HOUR_PM = 0x80;
/** Alarm bytes with both top bits set match any value ("don't care"). */
const ALARM_DONT_CARE = 0xc0;

const NS_PER_SECOND = 1e9;
/** UIP rises this long before each update (datasheet: tBUC = 244 us). */
const UIP_LEAD_NS = 244_000;
/** After the divider leaves reset, the first update comes half a second later. */
const FIRST_UPDATE_DELAY_NS = 500_000_000;
/** One 32.768 kHz divider stage pair: periodic period = 2^(RS-1) / 32768 s = 2^RS * this. */
const NS_PER_RS_UNIT = NS_PER_SECOND / 65536;

export interface RtcOptions {
  /** Time at power-on, ms since the epoch (UTC): a fixed date for reproducible runs, or the host's Date.now(). */
  startTime: Date | number;
}

export class RtcMc146818 implements IoDevice, Stateful, TimedDevice {
  readonly name = 'rtc';
  readonly portRanges: readonly PortRange[] = [{ start: PORT_INDEX, length: 2 }];

  private readonly cmos = new Uint8Array(CMOS_SIZE);
  private index = 0;
  private nmiDisabled = false;
  /** Virtual time (ns) of the next update cycle; meaningful while the divider runs. */
  private nextUpdate = 0;
  /** Virtual time (ns) of the next periodic tap edge; meaningful while the divider runs and RS != 0. */
  private nextPeriodic = 0;
  /** Daylight saving: the October 1:00-1:59 hour has already been repeated today. */
  private dstRepeated = false;

  constructor(
    private readonly irq: IrqLine,
    private readonly clock: Clock,
    private readonly timers: TimerHost,
    options: RtcOptions,
  ) {
    const ms = options.startTime instanceof Date ? options.startTime.getTime() : options.startTime;
    if (!Number.isFinite(ms)) throw new Error('rtc: startTime is not a valid time');
    // Battery-backed state as a BIOS leaves it: 32.768 kHz divider, 1024 Hz rate, 24-hour BCD, valid RAM.
    this.cmos[REG_A] = A_DV_32768 | 0x06;
    this.cmos[REG_B] = B_24_HOUR;
    this.cmos[REG_D] = D_VRT;
    this.setTimeFromMs(ms);
    const now = clock.now();
    // The seconds register changes when the start time reaches its next whole second.
    const intoSecond = ((ms % 1000) + 1000) % 1000;
    this.nextUpdate = now + (1000 - intoSecond) * 1e6;
    this.nextPeriodic = this.periodicEdgeAfter(now);
    this.updateIrq();
  }

  /** True while the guest has set bit 7 of port 0x70 (the board's NMI mask). */
  get nmiMasked(): boolean {
    return this.nmiDisabled;
  }

  // ---- I/O ports ----

  read8(port: number): number {
    // Port 0x70 is write-only on the AT.
    if (port !== PORT_DATA) return 0xff;
    this.advance(this.clock.now());
    const index = this.index;
    switch (index) {
      case REG_A:
        return (this.cmos[REG_A] & ~A_UIP) | (this.updateInProgress() ? A_UIP : 0);
      case REG_C: {
        // Reading C returns the flags and clears them all, which releases IRQ8.
        const value = this.cmos[REG_C] | (this.irqf() ? C_IRQF : 0);
        this.cmos[REG_C] = 0;
        this.updateIrq();
        return value;
      }
      case REG_D:
        // VRT reads 1: the battery is good.
        return D_VRT;
      default:
        return this.cmos[index];
    }
  }

  write8(port: number, value: number): void {
    value &= 0xff;
    if (port === PORT_INDEX) {
      this.index = value & 0x7f;
      this.nmiDisabled = (value & INDEX_NMI_DISABLE) !== 0;
      return;
    }
    const now = this.clock.now();
    this.advance(now);
    switch (this.index) {
      case REG_A:
        this.writeRegisterA(value, now);
        break;
      case REG_B:
        // Going into SET mode clears UIE (datasheet, register B bit 4). Changing DM or 24/12 does not
        // convert the time registers: software must rewrite them, as on the real chip.
        if (value & B_SET && !(this.cmos[REG_B] & B_SET)) value &= ~B_UIE;
        this.cmos[REG_B] = value;
        break;
      case REG_C:
      case REG_D:
        // Read-only status registers.
        return;
      default:
        this.cmos[this.index] = value;
        return;
    }
    this.updateIrq();
    this.timers.reschedule(this, this.nextDeadline());
  }

  private writeRegisterA(value: number, now: number): void {
    const wasRunning = this.dividerRunning();
    const oldRate = this.cmos[REG_A] & A_RS_MASK;
    this.cmos[REG_A] = value & ~A_UIP; // UIP is read-only
    if (!this.dividerRunning()) return;
    if (!wasRunning) {
      // Divider chain leaves reset: its phase restarts now.
      this.nextUpdate = now + FIRST_UPDATE_DELAY_NS;
      this.nextPeriodic = this.periodicEdgeAfter(now);
    } else if ((value & A_RS_MASK) !== oldRate) {
      this.nextPeriodic = this.periodicEdgeAfter(now);
    }
  }

  // ---- Timers ----

  runTimers(now: number): number {
    this.advance(now);
    this.updateIrq();
    return this.nextDeadline();
  }

  private nextDeadline(): number {
    if (!this.dividerRunning()) return Infinity;
    // Update cycles always get a deadline (once a virtual second) so catching up never has far to go;
    // periodic edges only while they can interrupt, otherwise PF is worked out when next looked at.
    if (this.cmos[REG_B] & B_PIE && this.periodicPeriod() > 0)
      return Math.min(this.nextUpdate, this.nextPeriodic);
    return this.nextUpdate;
  }

  /** Brings the chip up to virtual time `now`: periodic flag, then every update cycle that is due. */
  private advance(now: number): void {
    if (!this.dividerRunning()) return;
    const period = this.periodicPeriod();
    // PF is set by the divider tap whatever PIE says.
    if (period > 0 && this.nextPeriodic <= now) this.cmos[REG_C] |= C_PF;
    while (this.nextUpdate <= now) {
      // SET inhibits updates; the divider keeps counting so the second boundary does not move.
      if (!(this.cmos[REG_B] & B_SET)) this.updateCycle();
      this.nextUpdate += NS_PER_SECOND;
    }
    if (period > 0) this.nextPeriodic = this.periodicEdgeAfter(now);
  }

  private dividerRunning(): boolean {
    // DV = 11x holds the chain in reset; other time-base selections do not divide a 32.768 kHz crystal
    // to 1 Hz, so the clock is treated as stopped for them.
    return (this.cmos[REG_A] & A_DV_MASK) === A_DV_32768;
  }

  /** Periodic interrupt period in ns for the current RS, or 0 when RS = 0 (none). */
  private periodicPeriod(): number {
    let rs = this.cmos[REG_A] & A_RS_MASK;
    if (rs === 0) return 0;
    // With a 32.768 kHz base, RS = 1 and 2 give 256 Hz and 128 Hz (the same taps as RS = 8 and 9).
    if (rs < 3) rs += 7;
    return NS_PER_RS_UNIT * 2 ** rs;
  }

  /** The first periodic edge strictly after `now`. Edges are in phase with the update cycles. */
  private periodicEdgeAfter(now: number): number {
    const period = this.periodicPeriod();
    if (period === 0) return 0;
    const steps = Math.ceil((this.nextUpdate - now) / period) - 1;
    let edge = this.nextUpdate - steps * period;
    if (edge <= now) edge += period;
    return edge;
  }

  private updateInProgress(): boolean {
    if (!this.dividerRunning() || this.cmos[REG_B] & B_SET) return false;
    return this.clock.now() >= this.nextUpdate - UIP_LEAD_NS;
  }

  // ---- Update cycle ----

  /** One second passes: carry through the calendar, then compare the alarm (datasheet "Update Cycle"). */
  private updateCycle(): void {
    const r = this.cmos;
    let second = this.decode(r[REG_SECONDS]) + 1;
    if (second >= 60) {
      second = 0;
      let minute = this.decode(r[REG_MINUTES]) + 1;
      if (minute >= 60) {
        minute = 0;
        this.nextHour();
      }
      r[REG_MINUTES] = this.encode(minute);
    }
    r[REG_SECONDS] = this.encode(second);
    r[REG_C] |= C_UF;
    if (
      alarmMatches(r[REG_SECONDS_ALARM], r[REG_SECONDS]) &&
      alarmMatches(r[REG_MINUTES_ALARM], r[REG_MINUTES]) &&
      alarmMatches(r[REG_HOURS_ALARM], r[REG_HOURS])
    ) {
      r[REG_C] |= C_AF;
    }
  }

  private nextHour(): void {
    const r = this.cmos;
    let hour = this.readHour(r[REG_HOURS]) + 1;
    if (r[REG_B] & B_DSE && hour === 2 && this.decode(r[REG_DAY_OF_WEEK]) === 1) {
      const month = this.decode(r[REG_MONTH]);
      const day = this.decode(r[REG_DAY_OF_MONTH]);
      // Datasheet DSE rule (the US rule of 1987): last Sunday of April 1:59:59 -> 3:00:00; last Sunday
      // of October the first 1:59:59 -> 1:00:00.
      if (month === 4 && day >= 24) hour = 3;
      else if (month === 10 && day >= 25 && !this.dstRepeated) {
        hour = 1;
        this.dstRepeated = true;
      }
    }
    if (hour >= 24) {
      hour = 0;
      this.nextDay();
    }
    r[REG_HOURS] = this.writeHour(hour);
  }

  private nextDay(): void {
    const r = this.cmos;
    this.dstRepeated = false;
    r[REG_DAY_OF_WEEK] = this.encode((this.decode(r[REG_DAY_OF_WEEK]) % 7) + 1);
    let day = this.decode(r[REG_DAY_OF_MONTH]) + 1;
    let month = this.decode(r[REG_MONTH]);
    let year = this.decode(r[REG_YEAR]);
    let century = this.decode(r[CMOS_CENTURY]);
    if (day > daysInMonth(month, century * 100 + year)) {
      day = 1;
      month++;
      if (month > 12) {
        month = 1;
        year++;
        if (year > 99) {
          year = 0;
          // The chip knows no century; a PC BIOS keeps it at 0x32 and we carry into it.
          century = (century + 1) % 100;
          r[CMOS_CENTURY] = this.encode(century);
        }
        r[REG_YEAR] = this.encode(year);
      }
      r[REG_MONTH] = this.encode(month);
    }
    r[REG_DAY_OF_MONTH] = this.encode(day);
  }

  // ---- Data formats ----

  private bcd(): boolean {
    return (this.cmos[REG_B] & B_DM_BINARY) === 0;
  }

  /** Register value to number. Invalid BCD digits decode to something out of range, which carries. */
  private decode(value: number): number {
    return this.bcd() ? (value >> 4) * 10 + (value & 0x0f) : value;
  }

  private encode(value: number): number {
    return this.bcd() ? (Math.floor(value / 10) << 4) | (value % 10) : value;
  }

  private readHour(value: number): number {
    if (this.cmos[REG_B] & B_24_HOUR) return this.decode(value);
    // 12-hour mode: 12 AM is midnight, 12 PM is noon.
    return (this.decode(value & ~HOUR_PM) % 12) + (value & HOUR_PM ? 12 : 0);
  }

  private writeHour(hour: number): number {
    if (this.cmos[REG_B] & B_24_HOUR) return this.encode(hour);
    return this.encode(hour % 12 || 12) | (hour >= 12 ? HOUR_PM : 0);
  }

  /** Loads the clock registers and century byte from a UTC time, in the current data format. */
  private setTimeFromMs(ms: number): void {
    const date = new Date(Math.floor(ms / 1000) * 1000);
    const r = this.cmos;
    r[REG_SECONDS] = this.encode(date.getUTCSeconds());
    r[REG_MINUTES] = this.encode(date.getUTCMinutes());
    r[REG_HOURS] = this.writeHour(date.getUTCHours());
    r[REG_DAY_OF_WEEK] = this.encode(date.getUTCDay() + 1); // Sunday = 1
    r[REG_DAY_OF_MONTH] = this.encode(date.getUTCDate());
    r[REG_MONTH] = this.encode(date.getUTCMonth() + 1);
    const year = date.getUTCFullYear();
    r[REG_YEAR] = this.encode(((year % 100) + 100) % 100);
    r[CMOS_CENTURY] = this.encode(Math.floor(year / 100) % 100);
  }

  // ---- Interrupts ----

  private irqf(): boolean {
    const b = this.cmos[REG_B];
    const c = this.cmos[REG_C];
    return ((b & B_PIE && c & C_PF) || (b & B_AIE && c & C_AF) || (b & B_UIE && c & C_UF)) !== 0;
  }

  private updateIrq(): void {
    this.irq.set(this.irqf());
  }

  // ---- NVRAM helpers for the board and firmware ----

  setCmosByte(index: number, value: number): void {
    checkIndex(index);
    this.cmos[index] = value;
  }

  getCmosByte(index: number): number {
    checkIndex(index);
    return this.cmos[index];
  }

  /**
   * Fills the AT memory-size fields for `totalBytes` of RAM and refreshes the checksum: base memory 640 KiB,
   * extended KiB above 1 MiB (0x17/0x18 and the POST copy 0x30/0x31, capped at 0xFFFF) and 64 KiB blocks
   * above 16 MiB (0x34/0x35, as SeaBIOS and Bochs BIOS read them).
   */
  setMemorySizes(totalBytes: number): void {
    const extendedKiB = Math.min(0xffff, Math.max(0, Math.floor((totalBytes - 0x100000) / 1024)));
    const highBlocks = Math.min(0xffff, Math.max(0, Math.floor((totalBytes - 0x1000000) / 0x10000)));
    this.setWord(CMOS_BASE_MEMORY_LOW, 640);
    this.setWord(CMOS_EXTENDED_MEMORY_LOW, extendedKiB);
    this.setWord(CMOS_EXTENDED_MEMORY_POST_LOW, extendedKiB);
    this.setWord(CMOS_HIGH_MEMORY_LOW, highBlocks);
    this.updateChecksum();
  }

  /** Stores the AT checksum (sum of 0x10-0x2D) at 0x2E (high byte) and 0x2F (low byte). */
  updateChecksum(): void {
    let sum = 0;
    for (let i = CMOS_CHECKSUM_FIRST; i <= CMOS_CHECKSUM_LAST; i++) sum += this.cmos[i];
    this.cmos[CMOS_CHECKSUM_HIGH] = sum >> 8;
    this.cmos[CMOS_CHECKSUM_LOW] = sum & 0xff;
  }

  private setWord(lowIndex: number, value: number): void {
    this.cmos[lowIndex] = value & 0xff;
    this.cmos[lowIndex + 1] = value >> 8;
  }

  // ---- Stateful ----

  /**
   * The RESET pin (datasheet "RESET"): clears PIE, AIE, UIE, SQWE and the C flags. Time, date, alarm,
   * register A and the RAM are battery-backed and survive; the NMI mask latch on the board is cleared.
   */
  reset(): void {
    this.advance(this.clock.now());
    this.cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | B_SQWE);
    this.cmos[REG_C] = 0;
    this.index = 0;
    this.nmiDisabled = false;
    this.updateIrq();
    this.timers.reschedule(this, this.nextDeadline());
  }

  saveState(): DeviceState {
    return {
      cmos: this.cmos.slice(),
      index: this.index,
      nmiDisabled: this.nmiDisabled,
      nextUpdate: this.nextUpdate,
      nextPeriodic: this.nextPeriodic,
      dstRepeated: this.dstRepeated,
    };
  }

  loadState(state: DeviceState): void {
    const cmos = stateBytes(state, 'cmos', CMOS_SIZE);
    const index = stateNumber(state, 'index');
    if (!Number.isInteger(index) || index < 0 || index >= CMOS_SIZE)
      throw new Error("state field 'index' is out of range");
    const nmiDisabled = stateBoolean(state, 'nmiDisabled');
    const nextUpdate = stateNumber(state, 'nextUpdate');
    const nextPeriodic = stateNumber(state, 'nextPeriodic');
    const dstRepeated = stateBoolean(state, 'dstRepeated');
    this.cmos.set(cmos);
    this.index = index;
    this.nmiDisabled = nmiDisabled;
    this.nextUpdate = nextUpdate;
    this.nextPeriodic = nextPeriodic;
    this.dstRepeated = dstRepeated;
    this.updateIrq();
    this.timers.reschedule(this, this.nextDeadline());
  }
}

function alarmMatches(alarm: number, current: number): boolean {
  return (alarm & ALARM_DONT_CARE) === ALARM_DONT_CARE || alarm === current;
}

/**
 * Days in a month of the full year. The chip itself only tests year % 4 (wrong for 2100); knowing the
 * century byte we apply the Gregorian rule, which agrees with the chip for 1901-2099.
 */
function daysInMonth(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= CMOS_SIZE)
    throw new Error(`CMOS index ${index} out of range`);
}
