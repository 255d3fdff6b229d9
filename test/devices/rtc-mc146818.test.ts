import { describe, expect, it } from 'vitest';
import type { DeviceState, IrqLine, TimedDevice, TimerHost } from '../../src/devices/device.ts';
import { RtcMc146818 } from '../../src/devices/rtc-mc146818.ts';

const SECOND = 1e9;
const MS = 1e6;

class FakeIrq implements IrqLine {
  levels: boolean[] = [];
  level = false;
  rises = 0;
  set(level: boolean): void {
    if (level && !this.level) this.rises++;
    this.level = level;
    this.levels.push(level);
  }
}

class FakeClock {
  t = 0;
  now(): number {
    return this.t;
  }
}

class FakeTimers implements TimerHost {
  deadline = Infinity;
  reschedule(_device: TimedDevice, deadline: number): void {
    this.deadline = deadline;
  }
}

interface Rig {
  rtc: RtcMc146818;
  irq: FakeIrq;
  clock: FakeClock;
  timers: FakeTimers;
  reg(index: number): number;
  set(index: number, value: number): void;
  /** Runs virtual time to `until` the way the machine does, calling `onFire` after each timer. */
  run(until: number, onFire?: () => void): void;
}

function rig(startTime: Date | number, clock = new FakeClock()): Rig {
  const irq = new FakeIrq();
  const timers = new FakeTimers();
  const rtc = new RtcMc146818(irq, clock, timers, { startTime });
  timers.deadline = rtc.runTimers(clock.t);
  return {
    rtc,
    irq,
    clock,
    timers,
    reg(index) {
      rtc.write8(0x70, index);
      return rtc.read8(0x71);
    },
    set(index, value) {
      rtc.write8(0x70, index);
      rtc.write8(0x71, value);
    },
    run(until, onFire) {
      while (timers.deadline <= until) {
        clock.t = timers.deadline;
        timers.deadline = rtc.runTimers(clock.t);
        onFire?.();
      }
      clock.t = until;
    },
  };
}

/** [seconds, minutes, hours, day of week, day, month, year, century] as raw register bytes. */
function timeRegs(r: Rig): number[] {
  return [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map((i) => r.reg(i));
}

describe('RtcMc146818 time keeping', () => {
  it('starts at startTime in BCD, 24-hour mode, with the century byte', () => {
    // 2024-02-29 is a Thursday: day of week 5 (Sunday = 1).
    const r = rig(new Date(Date.UTC(2024, 1, 29, 13, 45, 7)));
    expect(timeRegs(r)).toEqual([0x07, 0x45, 0x13, 0x05, 0x29, 0x02, 0x24, 0x20]);
    expect(r.reg(0x0a) & 0x7f).toBe(0x26);
    expect(r.reg(0x0b)).toBe(0x02);
    expect(r.reg(0x0d)).toBe(0x80);
  });

  it('accepts a number of ms and honours the fraction of a second', () => {
    const r = rig(Date.UTC(2024, 0, 1, 0, 0, 0) + 750);
    expect(r.reg(0x00)).toBe(0x00);
    r.run(249 * MS);
    expect(r.reg(0x00)).toBe(0x00);
    r.run(250 * MS);
    expect(r.reg(0x00)).toBe(0x01);
  });

  it('ticks across midnight, month end and into a leap day', () => {
    const r = rig(Date.UTC(2024, 1, 28, 23, 59, 58));
    r.run(2 * SECOND);
    // Wednesday 28 -> Thursday 29 February 2024.
    expect(timeRegs(r)).toEqual([0x00, 0x00, 0x00, 0x05, 0x29, 0x02, 0x24, 0x20]);
    r.run(2 * SECOND + 24 * 3600 * SECOND);
    expect(timeRegs(r)).toEqual([0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x24, 0x20]);
  });

  it('skips 29 February in common years and in 2100, keeps it in 2000', () => {
    for (const [year, leap] of [
      [2023, false],
      [2000, true],
      [2100, false],
    ] as const) {
      const r = rig(Date.UTC(year, 1, 28, 23, 59, 59));
      r.run(SECOND);
      expect([r.reg(0x07), r.reg(0x08)]).toEqual(leap ? [0x29, 0x02] : [0x01, 0x03]);
    }
  });

  it('ends 30-day months on the 30th', () => {
    const r = rig(Date.UTC(2021, 3, 30, 23, 59, 59));
    r.run(SECOND);
    expect([r.reg(0x07), r.reg(0x08)]).toEqual([0x01, 0x05]);
  });

  it('rolls the year and the century byte', () => {
    // Friday 31 December 1999 -> Saturday 1 January 2000.
    const r = rig(Date.UTC(1999, 11, 31, 23, 59, 59));
    expect(r.reg(0x32)).toBe(0x19);
    r.run(SECOND);
    expect(timeRegs(r)).toEqual([0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20]);
    // Saturday wraps to Sunday.
    r.run(SECOND + 24 * 3600 * SECOND);
    expect(r.reg(0x06)).toBe(0x01);
  });

  it('keeps time in binary mode when the guest selects it and rewrites the registers', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.set(0x0b, 0x80 | 0x04 | 0x02); // SET, binary, 24-hour
    [59, 59, 23, 6, 31, 12, 99, 19].forEach((v, i) => r.set([0, 2, 4, 6, 7, 8, 9, 0x32][i], v));
    r.set(0x0b, 0x04 | 0x02);
    r.run(SECOND);
    expect(timeRegs(r)).toEqual([0, 0, 0, 7, 1, 1, 0, 20]);
    r.run(61 * SECOND);
    expect([r.reg(0x00), r.reg(0x02)]).toEqual([0, 1]);
  });

  it('counts hours 1-12 with the PM bit in 12-hour mode', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.set(0x0b, 0x80); // SET, BCD, 12-hour
    r.set(0x00, 0x59);
    r.set(0x02, 0x59);
    r.set(0x04, 0x11); // 11 AM
    r.set(0x0b, 0x00);
    r.run(SECOND);
    expect(r.reg(0x04)).toBe(0x92); // 12 PM
    r.run(SECOND + 3600 * SECOND);
    expect(r.reg(0x04)).toBe(0x81); // 1 PM
    r.set(0x0b, 0x80);
    r.set(0x00, 0x59);
    r.set(0x02, 0x59);
    r.set(0x04, 0x91); // 11 PM
    r.set(0x0b, 0x00);
    r.run(2 * SECOND + 3600 * SECOND);
    expect([r.reg(0x04), r.reg(0x07)]).toEqual([0x12, 0x02]); // 12 AM on 2 January
  });

  it('applies the datasheet daylight saving rule when DSE is set', () => {
    // Sunday 28 April 2024 is the last Sunday of April.
    const spring = rig(Date.UTC(2024, 3, 28, 1, 59, 59));
    spring.set(0x0b, 0x03);
    spring.run(SECOND);
    expect([spring.reg(0x04), spring.reg(0x02)]).toEqual([0x03, 0x00]);
    // Sunday 27 October 2024: 1:59:59 falls back to 1:00:00 once only.
    const autumn = rig(Date.UTC(2024, 9, 27, 1, 59, 59));
    autumn.set(0x0b, 0x03);
    autumn.run(SECOND);
    expect(autumn.reg(0x04)).toBe(0x01);
    autumn.run(SECOND + 3600 * SECOND);
    expect(autumn.reg(0x04)).toBe(0x02);
    // Without DSE nothing happens.
    const plain = rig(Date.UTC(2024, 3, 28, 1, 59, 59));
    plain.run(SECOND);
    expect(plain.reg(0x04)).toBe(0x02);
  });
});

describe('RtcMc146818 update cycle and SET', () => {
  it('raises UIP for the 244 us before each update', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.run(SECOND - 244_001);
    expect(r.reg(0x0a) & 0x80).toBe(0);
    r.run(SECOND - 244_000);
    expect(r.reg(0x0a) & 0x80).toBe(0x80);
    expect(r.reg(0x00)).toBe(0x00);
    r.run(SECOND - 1);
    expect(r.reg(0x0a) & 0x80).toBe(0x80);
    r.run(SECOND);
    expect(r.reg(0x0a) & 0x80).toBe(0);
    expect(r.reg(0x00)).toBe(0x01);
  });

  it('sets UF once per second and interrupts when UIE is set', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.set(0x0a, 0x20); // RS = 0: no periodic flag in the way
    r.run(SECOND);
    expect(r.reg(0x0c)).toBe(0x10); // UF without IRQF: UIE is off
    expect(r.irq.rises).toBe(0);
    r.set(0x0b, 0x12);
    const flags: number[] = [];
    r.run(6 * SECOND, () => {
      if (r.irq.level) flags.push(r.reg(0x0c));
    });
    expect(flags).toEqual([0x90, 0x90, 0x90, 0x90, 0x90]);
    expect(r.irq.rises).toBe(5);
    expect(r.irq.level).toBe(false);
  });

  it('clears register C on read and releases the IRQ', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.set(0x0a, 0x20); // RS = 0: no periodic flag in the way
    r.set(0x0b, 0x12);
    r.run(SECOND);
    expect(r.irq.level).toBe(true);
    // The line stays up until C is read, however long.
    r.run(1.5 * SECOND);
    expect(r.irq.level).toBe(true);
    expect(r.reg(0x0c)).toBe(0x90);
    expect(r.irq.level).toBe(false);
    expect(r.reg(0x0c)).toBe(0x00);
  });

  it('asserts IRQ when an enable is set while its flag is already up, and drops it when cleared', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.set(0x0a, 0x20); // RS = 0: no periodic flag in the way
    r.run(SECOND);
    r.set(0x0b, 0x12);
    expect(r.irq.level).toBe(true);
    r.set(0x0b, 0x02);
    expect(r.irq.level).toBe(false);
    expect(r.reg(0x0c)).toBe(0x10);
  });

  it('halts updates while SET is 1, clears UIE, and resumes from the written time', () => {
    const r = rig(Date.UTC(2024, 0, 1, 10, 20, 30));
    r.set(0x0a, 0x20); // RS = 0: no periodic flag in the way
    r.set(0x0b, 0x12);
    r.set(0x0b, 0x80 | 0x12);
    expect(r.reg(0x0b)).toBe(0x82); // UIE cleared by SET
    r.run(SECOND - 100_000);
    expect(r.reg(0x0a) & 0x80).toBe(0); // no UIP while SET
    r.run(5 * SECOND);
    expect(r.reg(0x00)).toBe(0x30);
    expect(r.reg(0x0c)).toBe(0x00);
    r.set(0x00, 0x10);
    r.set(0x02, 0x05);
    r.set(0x0b, 0x02);
    r.run(5.5 * SECOND);
    expect(r.reg(0x00)).toBe(0x10); // next update at the divider's 6 s boundary
    r.run(6 * SECOND);
    expect([r.reg(0x00), r.reg(0x02), r.reg(0x04)]).toEqual([0x11, 0x05, 0x10]);
  });

  it('stops in divider reset and makes the first update half a second after release', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.set(0x0a, 0x70);
    r.run(10 * SECOND);
    expect(r.reg(0x00)).toBe(0x00);
    expect(r.reg(0x0a) & 0x80).toBe(0);
    r.clock.t = 10.3 * SECOND;
    r.set(0x0a, 0x26);
    r.run(10.8 * SECOND - 1);
    expect(r.reg(0x00)).toBe(0x00);
    r.run(10.8 * SECOND);
    expect(r.reg(0x00)).toBe(0x01);
  });
});

describe('RtcMc146818 alarm', () => {
  it('fires AF at the alarm time and interrupts with AIE', () => {
    const r = rig(Date.UTC(2024, 0, 1, 8, 0, 0));
    r.set(0x0a, 0x20); // RS = 0: no periodic flag in the way
    r.set(0x01, 0x03);
    r.set(0x03, 0x00);
    r.set(0x05, 0x08);
    r.set(0x0b, 0x22);
    r.run(2 * SECOND);
    expect(r.irq.level).toBe(false);
    r.run(3 * SECOND);
    expect(r.irq.level).toBe(true);
    expect(r.reg(0x0c)).toBe(0xb0); // IRQF | AF | UF
    r.run(70 * SECOND);
    expect(r.irq.rises).toBe(1);
  });

  it('treats alarm bytes 0xC0-0xFF as "don\'t care"', () => {
    const r = rig(Date.UTC(2024, 0, 1, 8, 0, 0));
    r.set(0x01, 0x30);
    r.set(0x03, 0xff);
    r.set(0x05, 0xc0);
    r.set(0x0b, 0x22);
    const times: number[] = [];
    r.run(200 * SECOND, () => {
      if (r.irq.level) {
        times.push(r.clock.t / SECOND);
        r.reg(0x0c);
      }
    });
    expect(times).toEqual([30, 90, 150]);
  });

  it('matches a 12-hour PM alarm hour byte', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.set(0x0a, 0x20); // RS = 0: no periodic flag in the way
    r.set(0x0b, 0x80);
    r.set(0x00, 0x59);
    r.set(0x02, 0x59);
    r.set(0x04, 0x82); // 2:59:59 PM
    r.set(0x01, 0x00);
    r.set(0x03, 0x00);
    r.set(0x05, 0x83); // 3 PM
    r.set(0x0b, 0x20);
    r.run(SECOND);
    expect(r.reg(0x0c)).toBe(0xb0);
  });
});

describe('RtcMc146818 periodic interrupt', () => {
  function countPeriodic(rs: number, duration: number): number {
    const r = rig(Date.UTC(2024, 0, 1));
    r.set(0x0a, 0x20 | rs);
    r.set(0x0b, 0x42);
    let count = 0;
    r.run(duration, () => {
      if (r.irq.level && r.reg(0x0c) & 0x40) count++;
    });
    return count;
  }

  it.each([
    [3, 8192],
    [6, 1024],
    [10, 64],
    [15, 2],
    [1, 256],
    [2, 128],
    [0, 0],
  ])('RS=%i gives %i interrupts a second', (rs, perSecond) => {
    expect(countPeriodic(rs, SECOND)).toBe(perSecond);
  });

  it('sets PF without PIE, keeping IRQ low', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.run(10 * MS);
    expect(r.reg(0x0c)).toBe(0x40);
    expect(r.reg(0x0c)).toBe(0x00);
    expect(r.irq.rises).toBe(0);
    // At the default RS = 6 edges come every 976.5625 us: the next after 10 ms is at 10.742 ms.
    r.run(10 * MS + 0.7 * MS);
    expect(r.reg(0x0c)).toBe(0x00);
    r.run(10 * MS + 0.8 * MS);
    expect(r.reg(0x0c) & 0x40).toBe(0x40);
  });

  it('keeps periodic edges in phase with the second', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.set(0x0a, 0x2f); // 2 Hz
    r.set(0x0b, 0x42);
    const times: number[] = [];
    r.run(2 * SECOND, () => {
      if (r.irq.level) {
        times.push(r.clock.t / SECOND);
        r.reg(0x0c);
      }
    });
    expect(times).toEqual([0.5, 1, 1.5, 2]);
  });
});

describe('RtcMc146818 ports and NVRAM', () => {
  it('stores NVRAM, keeps the NMI mask bit, and floats port 0x70 reads', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.rtc.write8(0x70, 0x80 | 0x40);
    r.rtc.write8(0x71, 0xa5);
    expect(r.rtc.nmiMasked).toBe(true);
    expect(r.rtc.read8(0x71)).toBe(0xa5);
    expect(r.rtc.getCmosByte(0x40)).toBe(0xa5);
    expect(r.rtc.read8(0x70)).toBe(0xff);
    r.rtc.write8(0x70, 0x7f);
    expect(r.rtc.nmiMasked).toBe(false);
    r.rtc.setCmosByte(0x7f, 0x12);
    expect(r.rtc.read8(0x71)).toBe(0x12);
    expect(() => r.rtc.setCmosByte(128, 0)).toThrow(/out of range/);
  });

  it('ignores writes to C and D', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.set(0x0c, 0xff);
    r.set(0x0d, 0x00);
    expect(r.reg(0x0c)).toBe(0x00);
    expect(r.reg(0x0d)).toBe(0x80);
  });

  it('fills the memory size fields and checksum', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    r.rtc.setCmosByte(0x10, 0x40); // a floppy type, to be part of the checksum
    r.rtc.setMemorySizes(64 * 1024 * 1024);
    const b = (i: number) => r.rtc.getCmosByte(i);
    expect([b(0x15), b(0x16)]).toEqual([0x80, 0x02]);
    expect([b(0x17), b(0x18), b(0x30), b(0x31)]).toEqual([0x00, 0xfc, 0x00, 0xfc]);
    expect([b(0x34), b(0x35)]).toEqual([0x00, 0x03]);
    const sum = 0x40 + 0x80 + 0x02 + 0xfc;
    expect([b(0x2e), b(0x2f)]).toEqual([sum >> 8, sum & 0xff]);

    r.rtc.setMemorySizes(0xfff00000);
    expect([b(0x17), b(0x18), b(0x34), b(0x35)]).toEqual([0xff, 0xff, 0xf0, 0xfe]);
    r.rtc.setMemorySizes(512 * 1024);
    expect([b(0x17), b(0x18), b(0x34), b(0x35)]).toEqual([0, 0, 0, 0]);
  });

  it('reset clears the interrupt enables and flags but keeps time and RAM', () => {
    const r = rig(Date.UTC(2024, 0, 1, 5, 6, 7));
    r.set(0x0b, 0x7a);
    r.set(0x50, 0x99);
    r.run(SECOND);
    expect(r.irq.level).toBe(true);
    r.rtc.reset();
    expect(r.irq.level).toBe(false);
    expect(r.reg(0x0b)).toBe(0x02);
    expect(r.reg(0x0c)).toBe(0x00);
    expect([r.reg(0x00), r.reg(0x50)]).toEqual([0x08, 0x99]);
  });
});

describe('RtcMc146818 state', () => {
  it('round-trips through saveState/loadState and continues identically', () => {
    const a = rig(Date.UTC(2024, 1, 29, 23, 59, 50));
    a.set(0x0a, 0x2a); // 64 Hz
    a.set(0x0b, 0x72); // PIE, AIE, UIE
    a.set(0x01, 0x05);
    a.set(0x03, 0xff);
    a.set(0x05, 0xff);
    a.set(0x60, 0x42);
    a.run(3.3 * SECOND);
    a.rtc.write8(0x70, 0x80 | 0x0c);

    const saved = structuredClone(a.rtc.saveState());
    const clock = new FakeClock();
    clock.t = a.clock.t;
    const b = rig(0, clock);
    b.rtc.loadState(saved);
    expect(b.irq.level).toBe(a.irq.level);
    expect(b.timers.deadline).toBe(a.timers.deadline);
    expect(b.rtc.nmiMasked).toBe(true);

    const trace = (r: Rig): number[] => {
      const out: number[] = [];
      r.run(20 * SECOND, () => {
        if (r.irq.level) out.push(r.clock.t, r.reg(0x0c), ...timeRegs(r));
      });
      return out;
    };
    const ta = trace(a);
    expect(ta.length).toBeGreaterThan(1000);
    expect(trace(b)).toEqual(ta);
    expect(b.reg(0x60)).toBe(0x42);
  });

  it('rejects malformed state, naming the field', () => {
    const r = rig(Date.UTC(2024, 0, 1));
    const good = r.rtc.saveState();
    const bad = (patch: DeviceState) => () => r.rtc.loadState({ ...good, ...patch });
    expect(bad({ cmos: new Uint8Array(64) })).toThrow(/cmos/);
    expect(bad({ cmos: [1, 2, 3] })).toThrow(/cmos/);
    expect(bad({ index: 128 })).toThrow(/index/);
    expect(bad({ index: 1.5 })).toThrow(/index/);
    expect(bad({ nmiDisabled: 1 })).toThrow(/nmiDisabled/);
    expect(bad({ nextUpdate: 'soon' })).toThrow(/nextUpdate/);
    expect(bad({ nextPeriodic: NaN })).toThrow(/nextPeriodic/);
    const { dstRepeated: _omit, ...missing } = good;
    expect(() => r.rtc.loadState(missing)).toThrow(/dstRepeated/);
  });
});
