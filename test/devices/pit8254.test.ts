import { describe, expect, it } from 'vitest';
import type { Clock, DeviceState, IrqLine, TimedDevice, TimerHost } from '../../src/devices/device.ts';
import {
  PIT_FREQUENCY_HZ,
  PIT_MIN_PERIODIC_EVENT_NS,
  Pit8254,
  SystemControlPortB,
  pitTickTime,
  pitTicksAt,
} from '../../src/devices/pit8254.ts';
import { Pic8259Pair } from '../../src/devices/pic8259.ts';

class FakeClock implements Clock {
  t = 0;
  now(): number {
    return this.t;
  }
}

class FakeHost implements TimerHost {
  deadlines: number[] = [];
  reschedule(_device: TimedDevice, deadline: number): void {
    this.deadlines.push(deadline);
  }
}

class RecordingLine implements IrqLine {
  levels: boolean[] = [];
  private start = false;
  /** Forgets the history; the current level becomes the starting level. */
  clear(): void {
    this.start = this.level;
    this.levels = [];
  }
  set(level: boolean): void {
    this.levels.push(level);
  }
  get level(): boolean {
    return this.levels.length > 0 ? this.levels[this.levels.length - 1] : this.start;
  }
  /** Low-to-high transitions recorded. */
  rises(): number {
    let prev = this.start;
    let n = 0;
    for (const l of this.levels) {
      if (l && !prev) n++;
      prev = l;
    }
    return n;
  }
}

function makePit() {
  const clock = new FakeClock();
  const host = new FakeHost();
  const irq = new RecordingLine();
  const pit = new Pit8254(clock, host, irq);
  const at = (tick: number): void => {
    clock.t = pitTickTime(tick);
  };
  return { clock, host, irq, pit, at };
}

type Pit = Pit8254;

/** Programs counter `index` with control word `cw` and writes a 16-bit count LSB then MSB. */
function program(pit: Pit, cw: number, count?: number): void {
  pit.write8(0x43, cw);
  if (count !== undefined) {
    const port = 0x40 + (cw >> 6);
    pit.write8(port, count & 0xff);
    pit.write8(port, count >> 8);
  }
}

/** Latches counter `index` and reads the 16-bit count. */
function latchedCount(pit: Pit, index: number): number {
  pit.write8(0x43, index << 6);
  const lsb = pit.read8(0x40 + index);
  return lsb | (pit.read8(0x40 + index) << 8);
}

/** Runs runTimers at each returned deadline up to `endNs`; returns the times of IRQ0 rises. */
function runUntil(h: ReturnType<typeof makePit>, endNs: number, first?: number): number[] {
  const times: number[] = [];
  let deadline = first ?? h.host.deadlines[h.host.deadlines.length - 1];
  while (deadline <= endNs) {
    h.clock.t = deadline;
    const before = h.irq.rises();
    const next = h.pit.runTimers(deadline);
    if (h.irq.rises() > before) times.push(deadline);
    expect(next).toBeGreaterThan(deadline);
    deadline = next;
  }
  return times;
}

describe('virtual time conversion', () => {
  it('counts 1193182 ticks per virtual second, exactly, even after months', () => {
    expect(pitTicksAt(0)).toBe(0);
    expect(pitTicksAt(838)).toBe(0);
    expect(pitTicksAt(839)).toBe(1);
    expect(pitTicksAt(1e9)).toBe(PIT_FREQUENCY_HZ);
    const month = 30 * 86400 * 1e9;
    expect(pitTicksAt(month)).toBe(30 * 86400 * PIT_FREQUENCY_HZ);
    for (const tick of [1, 2, 1193181, 1193183, 123456789012, 30 * 86400 * PIT_FREQUENCY_HZ + 7]) {
      const t = pitTickTime(tick);
      expect(pitTicksAt(t)).toBe(tick);
      expect(pitTicksAt(t - 1)).toBe(tick - 1);
    }
  });
});

describe('Pit8254 modes', () => {
  it('mode 0: OUT low, rises N+1 pulses after the count is written, then the count wraps', () => {
    const h = makePit();
    h.at(100);
    program(h.pit, 0x30, 5);
    expect(h.pit.out(0)).toBe(false);
    expect(h.host.deadlines.at(-1)).toBe(pitTickTime(101)); // the CR -> CE load
    const counts: number[] = [];
    const outs: boolean[] = [];
    for (let t = 101; t <= 107; t++) {
      h.at(t);
      counts.push(latchedCount(h.pit, 0));
      outs.push(h.pit.out(0));
    }
    expect(counts).toEqual([5, 4, 3, 2, 1, 0, 0xffff]);
    expect(outs).toEqual([false, false, false, false, false, true, true]);
  });

  it('mode 0: IRQ0 rises once, at exactly the terminal count time', () => {
    const h = makePit();
    program(h.pit, 0x30, 1000);
    const rises = runUntil(h, 1e9);
    expect(rises).toEqual([pitTickTime(1001)]);
    expect(h.irq.level).toBe(true);
  });

  it('mode 0: writing the first byte stops counting and drops OUT; the second restarts', () => {
    const h = makePit();
    program(h.pit, 0x30, 3);
    h.at(10);
    expect(h.pit.out(0)).toBe(true);
    h.pit.write8(0x40, 0x08);
    expect(h.pit.out(0)).toBe(false);
    const frozen = latchedCount(h.pit, 0);
    h.at(50);
    expect(latchedCount(h.pit, 0)).toBe(frozen);
    h.pit.write8(0x40, 0x00); // count 8 loaded at tick 51
    h.at(51);
    expect(latchedCount(h.pit, 0)).toBe(8);
    h.at(58);
    expect(h.pit.out(0)).toBe(false);
    h.at(59);
    expect(h.pit.out(0)).toBe(true);
  });

  it('mode 0: GATE low pauses counting (counter 2 gated through port 0x61)', () => {
    const h = makePit();
    const portB = new SystemControlPortB(h.pit, h.clock);
    portB.write8(0x61, 0x01);
    program(h.pit, 0xb0, 10);
    h.at(4);
    expect(latchedCount(h.pit, 2)).toBe(7);
    portB.write8(0x61, 0x00);
    h.at(100);
    expect(latchedCount(h.pit, 2)).toBe(7);
    portB.write8(0x61, 0x01);
    h.at(101);
    expect(latchedCount(h.pit, 2)).toBe(6);
    h.at(106);
    expect(portB.read8() & 0x20).toBe(0);
    h.at(107);
    expect(portB.read8() & 0x20).toBe(0x20);
  });

  it('mode 1: GATE trigger starts an N-pulse low one-shot; a retrigger restarts it', () => {
    const h = makePit();
    program(h.pit, 0xb2, 3);
    h.at(5);
    expect(h.pit.out(2)).toBe(true);
    h.at(10);
    h.pit.setGate(2, true);
    const outs: boolean[] = [];
    const counts: number[] = [];
    for (let t = 10; t <= 15; t++) {
      h.at(t);
      outs.push(h.pit.out(2));
      if (t >= 11) counts.push(latchedCount(h.pit, 2));
    }
    expect(outs).toEqual([true, false, false, false, true, true]);
    expect(counts).toEqual([3, 2, 1, 0, 0xffff]);
    // Retrigger mid-pulse: the one-shot restarts from N.
    h.pit.setGate(2, false);
    h.at(20);
    h.pit.setGate(2, true); // load at 21, high again at 24
    h.at(22);
    h.pit.setGate(2, false);
    h.pit.setGate(2, true); // retrigger: load at 23, high at 26
    h.at(25);
    expect(h.pit.out(2)).toBe(false);
    h.at(26);
    expect(h.pit.out(2)).toBe(true);
  });

  it('mode 2: counts N..1, OUT low for the pulse at 1, IRQ0 every N pulses', () => {
    const h = makePit();
    program(h.pit, 0x34, 4);
    expect(h.pit.out(0)).toBe(true);
    const counts: number[] = [];
    const outs: boolean[] = [];
    for (let t = 1; t <= 9; t++) {
      h.at(t);
      counts.push(latchedCount(h.pit, 0));
      outs.push(h.pit.out(0));
    }
    expect(counts).toEqual([4, 3, 2, 1, 4, 3, 2, 1, 4]);
    expect(outs).toEqual([true, true, true, false, true, true, true, false, true]);
    const h2 = makePit();
    program(h2.pit, 0x34, 1000);
    const rises = runUntil(h2, pitTickTime(3001));
    expect(rises).toEqual([pitTickTime(1001), pitTickTime(2001), pitTickTime(3001)]);
  });

  it('mode 2: a new count takes effect at the end of the current period', () => {
    const h = makePit();
    program(h.pit, 0x34, 100);
    h.at(50);
    h.pit.write8(0x40, 40); // new count, no control word: RW is LSB then MSB
    h.pit.write8(0x40, 0);
    h.pit.write8(0x43, 0xe2); // read-back status of counter 0
    expect(h.pit.read8(0x40) & 0x40).toBe(0x40); // null count until the reload
    h.at(100);
    expect(latchedCount(h.pit, 0)).toBe(1);
    expect(h.pit.out(0)).toBe(false);
    h.at(101);
    expect(latchedCount(h.pit, 0)).toBe(40);
    h.pit.write8(0x43, 0xe2);
    expect(h.pit.read8(0x40) & 0x40).toBe(0);
    const rises = runUntil(h, pitTickTime(181), h.pit.runTimers(h.clock.t));
    expect(rises).toEqual([pitTickTime(141), pitTickTime(181)]);
  });

  it('mode 3 even count: high N/2, low N/2, counting down by two', () => {
    const h = makePit();
    program(h.pit, 0x36, 4);
    const counts: number[] = [];
    const outs: boolean[] = [];
    for (let t = 1; t <= 5; t++) {
      h.at(t);
      counts.push(latchedCount(h.pit, 0));
      outs.push(h.pit.out(0));
    }
    expect(counts).toEqual([4, 2, 4, 2, 4]);
    expect(outs).toEqual([true, true, false, false, true]);
  });

  it('mode 3 odd count: high (N+1)/2, low (N-1)/2, N-1 loaded', () => {
    const h = makePit();
    program(h.pit, 0x36, 5);
    const counts: number[] = [];
    const outs: boolean[] = [];
    for (let t = 1; t <= 6; t++) {
      h.at(t);
      counts.push(latchedCount(h.pit, 0));
      outs.push(h.pit.out(0));
    }
    expect(counts).toEqual([4, 2, 0, 4, 2, 4]);
    expect(outs).toEqual([true, true, true, false, false, true]);
    // IRQ0 edges: both OUT changes are scheduled; rises once per period.
    const h2 = makePit();
    program(h2.pit, 0x36, 1001);
    const rises = runUntil(h2, pitTickTime(3004));
    expect(rises).toEqual([pitTickTime(1002), pitTickTime(2003), pitTickTime(3004)]);
  });

  it('mode 3: a new count is loaded at the end of the current half-cycle', () => {
    const h = makePit();
    program(h.pit, 0x36, 8); // high t1-t4, low t5-t8
    h.at(2);
    h.pit.write8(0x40, 6);
    h.pit.write8(0x40, 0);
    h.at(4);
    expect(latchedCount(h.pit, 0)).toBe(2); // old count still running
    h.at(5);
    expect(h.pit.out(0)).toBe(false); // low half, now of the new count
    expect(latchedCount(h.pit, 0)).toBe(6);
    h.at(7);
    expect(h.pit.out(0)).toBe(false);
    h.at(8);
    expect(h.pit.out(0)).toBe(true);
    h.at(10);
    expect(h.pit.out(0)).toBe(true);
    h.at(11);
    expect(h.pit.out(0)).toBe(false);
  });

  it('mode 3: GATE low forces OUT high and stops; GATE high reloads on the next pulse', () => {
    const h = makePit();
    h.pit.setGate(2, true);
    program(h.pit, 0xb6, 10);
    h.at(7); // low half
    expect(h.pit.out(2)).toBe(false);
    h.pit.setGate(2, false);
    expect(h.pit.out(2)).toBe(true);
    h.at(50);
    expect(h.pit.out(2)).toBe(true);
    h.pit.setGate(2, true);
    h.at(51);
    expect(latchedCount(h.pit, 2)).toBe(10);
    h.at(56);
    expect(h.pit.out(2)).toBe(false);
  });

  it('mode 4: OUT strobes low for one pulse N+1 pulses after the write', () => {
    const h = makePit();
    program(h.pit, 0x38, 3);
    const outs: boolean[] = [];
    for (let t = 0; t <= 6; t++) {
      h.at(t);
      outs.push(h.pit.out(0));
    }
    expect(outs).toEqual([true, true, true, true, false, true, true]);
    const h2 = makePit();
    program(h2.pit, 0x38, 500);
    expect(runUntil(h2, 1e9)).toEqual([pitTickTime(502)]);
  });

  it('mode 5: GATE trigger, strobe N+1 pulses later, retriggerable', () => {
    const h = makePit();
    program(h.pit, 0xba, 3);
    h.at(10);
    expect(h.pit.out(2)).toBe(true);
    h.pit.setGate(2, true);
    const outs: boolean[] = [];
    for (let t = 11; t <= 16; t++) {
      h.at(t);
      outs.push(h.pit.out(2));
    }
    expect(outs).toEqual([true, true, true, false, true, true]);
    h.pit.setGate(2, false);
    h.pit.setGate(2, true); // trigger at 16: strobe at 20
    h.at(18);
    h.pit.setGate(2, false);
    h.pit.setGate(2, true); // retrigger at 18: strobe moves to 22
    h.at(20);
    expect(h.pit.out(2)).toBe(true);
    h.at(22);
    expect(h.pit.out(2)).toBe(false);
  });

  it('modes 6 and 7 are modes 2 and 3, reported as written in the status byte', () => {
    const h = makePit();
    program(h.pit, 0x3c, 4); // M2 M1 M0 = 110
    h.at(4);
    expect(h.pit.out(0)).toBe(false);
    h.pit.write8(0x43, 0xe2);
    expect(h.pit.read8(0x40)).toBe(0x3c);
  });

  it('BCD counting reads and wraps in decimal', () => {
    const h = makePit();
    program(h.pit, 0x31, 0x0010); // mode 0, BCD, count 10
    h.at(1);
    expect(latchedCount(h.pit, 0)).toBe(0x10);
    h.at(2);
    expect(latchedCount(h.pit, 0)).toBe(0x09);
    h.at(11);
    expect(latchedCount(h.pit, 0)).toBe(0x00);
    h.at(12);
    expect(latchedCount(h.pit, 0)).toBe(0x9999);
    // BCD count 0 is 10000 in mode 2.
    const h2 = makePit();
    program(h2.pit, 0x35, 0);
    h2.at(2);
    expect(latchedCount(h2.pit, 0)).toBe(0x9999);
    h2.at(1 + 10000);
    expect(latchedCount(h2.pit, 0)).toBe(0x0000);
    h2.at(1 + 10000 + 1235);
    expect(latchedCount(h2.pit, 0)).toBe(0x8765);
    expect(runUntil(h2, pitTickTime(30001), h2.pit.runTimers(h2.clock.t))).toEqual([
      pitTickTime(20001),
      pitTickTime(30001),
    ]);
  });
});

describe('Pit8254 reads', () => {
  it('a latched count is frozen until both bytes are read; a second latch is ignored', () => {
    const h = makePit();
    program(h.pit, 0x34, 1000);
    h.at(11);
    h.pit.write8(0x43, 0x00);
    h.at(300);
    h.pit.write8(0x43, 0x00); // ignored: still latched
    expect(h.pit.read8(0x40)).toBe(990 & 0xff);
    h.at(500);
    expect(h.pit.read8(0x40)).toBe(990 >> 8);
    // Unlatched: live count at tick 500 (counted 499 pulses).
    expect(h.pit.read8(0x40) | (h.pit.read8(0x40) << 8)).toBe(501);
  });

  it('LSB-only and MSB-only access', () => {
    const h = makePit();
    program(h.pit, 0x14); // counter 0, LSB only, mode 2
    h.pit.write8(0x40, 0x80); // count 0x0080
    h.at(1);
    expect(h.pit.read8(0x40)).toBe(0x80);
    expect(h.pit.read8(0x40)).toBe(0x80);
    h.pit.write8(0x43, 0x00);
    h.at(2);
    expect(h.pit.read8(0x40)).toBe(0x80); // latched
    expect(h.pit.read8(0x40)).toBe(0x7f); // latch released after one byte
    const h2 = makePit();
    program(h2.pit, 0x24); // MSB only, mode 2
    h2.pit.write8(0x40, 0x02); // count 0x0200
    h2.at(1);
    expect(h2.pit.read8(0x40)).toBe(0x02);
    h2.at(2);
    expect(h2.pit.read8(0x40)).toBe(0x01); // 0x1ff
  });

  it('read-back: status then count, null count flag, per-counter selection', () => {
    const h = makePit();
    program(h.pit, 0x34);
    h.pit.write8(0x40, 100);
    h.pit.write8(0x40, 0);
    h.pit.write8(0x43, 0xc2); // count and status of counter 0
    expect(h.pit.read8(0x40)).toBe(0x80 | 0x40 | 0x34); // OUT high, null count, RW=3 mode 2 binary
    expect(h.pit.read8(0x40)).toBe(0); // CE not loaded yet: its power-on 0
    expect(h.pit.read8(0x40)).toBe(0);
    h.at(4);
    h.pit.write8(0x43, 0xc2);
    expect(h.pit.read8(0x40)).toBe(0x80 | 0x34);
    expect(h.pit.read8(0x40)).toBe(97);
    expect(h.pit.read8(0x40)).toBe(0);
    // Status of counters 1 and 2; counter 1 already latched keeps its first status.
    program(h.pit, 0x7b); // counter 1 mode 5 BCD
    h.pit.write8(0x43, 0xe4); // status of counter 1 ...
    program(h.pit, 0x74, 5); // ... dropped by a control word; counter 1 mode 2, count loads at tick 5
    program(h.pit, 0xb3, 0x0020); // counter 2 mode 1 BCD, count 20
    h.pit.write8(0x43, 0xe4); // latched at tick 4: null count
    h.at(6);
    h.pit.write8(0x43, 0xec); // status of counters 1 and 2: counter 1's is already latched
    expect(h.pit.read8(0x41)).toBe(0x80 | 0x40 | 0x34);
    expect(h.pit.read8(0x42)).toBe(0x80 | 0x40 | 0x33); // mode 1 waits for a trigger: OUT high, null count
    h.pit.write8(0x43, 0xe4);
    expect(h.pit.read8(0x41)).toBe(0x80 | 0x34); // a fresh latch: count loaded
    h.pit.write8(0x43, 0xd8); // count of counter 2 only
    h.pit.setGate(2, true); // trigger at 6: count 20 loaded at 7
    h.at(12);
    expect(h.pit.read8(0x42)).toBe(0); // latched before the trigger: the CE's power-on 0
    expect(h.pit.read8(0x42)).toBe(0);
    expect(latchedCount(h.pit, 2)).toBe(0x15);
  });
});

describe('Pit8254 IRQ0', () => {
  for (const [mode, cw] of [
    [2, 0x34],
    [3, 0x36],
  ] as const) {
    it(`mode ${mode}: 18 IRQ0 rises per second with reload 0 (65536), 1000 with 1193`, () => {
      const h = makePit();
      program(h.pit, cw, 0);
      expect(runUntil(h, 1e9).length).toBe(18);
      const h2 = makePit();
      program(h2.pit, cw, 1193);
      const rises = runUntil(h2, 1e9);
      expect(rises.length).toBe(1000);
      expect(rises[0]).toBe(pitTickTime(1 + 1193));
      expect(rises[999]).toBe(pitTickTime(1 + 1193 * 1000));
    });
  }

  it('drives a Pic8259Pair: 1000 interrupts per virtual second at 1 kHz', () => {
    const pic = new Pic8259Pair();
    for (const [port, v] of [
      [0x20, 0x11],
      [0x21, 0x08],
      [0x21, 0x04],
      [0x21, 0x01],
      [0x21, 0x00],
    ])
      pic.write8(port, v);
    const clock = new FakeClock();
    const host = new FakeHost();
    const pit = new Pit8254(clock, host, pic.irqLine(0));
    program(pit, 0x34, 1193);
    // Setting mode 2 raised OUT0 from its power-on low: the PIC latched that edge, as on hardware.
    expect(pic.acknowledge()).toBe(0x08);
    pic.write8(0x20, 0x20);
    pic.irqCounts.fill(0);
    let deadline = host.deadlines.at(-1) as number;
    let taken = 0;
    while (deadline <= 1e9) {
      clock.t = deadline;
      deadline = pit.runTimers(deadline);
      while (pic.hasInterrupt()) {
        expect(pic.acknowledge()).toBe(0x08);
        taken++;
        pic.write8(0x20, 0x20);
      }
    }
    expect(taken).toBe(1000);
    expect(pic.irqCounts[0]).toBe(1000);
  });

  it('clamps tiny periodic reloads to one event per 10 us, one edge per run', () => {
    const h = makePit();
    program(h.pit, 0x34, 2);
    h.irq.clear();
    let deadline = h.host.deadlines.at(-1) as number;
    let runs = 0;
    while (deadline <= 1e6) {
      h.clock.t = deadline;
      const next = h.pit.runTimers(deadline);
      if (runs > 0) expect(next - deadline).toBeGreaterThanOrEqual(PIT_MIN_PERIODIC_EVENT_NS);
      deadline = next;
      runs++;
    }
    expect(runs).toBeLessThanOrEqual(1e6 / PIT_MIN_PERIODIC_EVENT_NS + 2);
    expect(h.irq.rises()).toBe(runs - 1);
  });

  it('a late run shows the PIC a single pulse for the periods missed', () => {
    const h = makePit();
    program(h.pit, 0x34, 100);
    h.irq.clear();
    h.at(350);
    h.pit.runTimers(h.clock.t);
    expect(h.irq.levels).toEqual([false, true, true]);
  });

  it('reschedules on counter 0 writes only', () => {
    const h = makePit();
    const n = h.host.deadlines.length;
    program(h.pit, 0xb4, 100);
    expect(h.host.deadlines.length).toBe(n);
    program(h.pit, 0x34, 100);
    expect(h.host.deadlines.at(-1)).toBe(pitTickTime(1));
    h.at(1);
    expect(h.pit.runTimers(h.clock.t)).toBe(pitTickTime(101));
    program(h.pit, 0x30);
    expect(h.host.deadlines.at(-1)).toBe(Infinity);
  });
});

describe('SystemControlPortB', () => {
  it('reads back bits 0-3, toggles refresh every 18 clocks, reports OUT2', () => {
    const h = makePit();
    const portB = new SystemControlPortB(h.pit, h.clock);
    portB.write8(0x61, 0xf3);
    expect(portB.speakerDataEnabled).toBe(true);
    h.at(17);
    expect(portB.read8() & 0x1f).toBe(0x03);
    h.at(18);
    expect(portB.read8() & 0x1f).toBe(0x13);
    h.at(36);
    expect(portB.read8() & 0x10).toBe(0);
    // Counter 2 in mode 3: bit 5 follows the square wave.
    program(h.pit, 0xb6, 4);
    h.at(38);
    expect(portB.read8() & 0x20).toBe(0x20);
    h.at(39);
    expect(portB.read8() & 0x20).toBe(0);
    portB.write8(0x61, 0x00);
    expect(portB.read8() & 0x2f).toBe(0x20); // gate low: OUT2 high, bits cleared
    const state = portB.saveState();
    const copy = new SystemControlPortB(h.pit, h.clock);
    copy.loadState(structuredClone(state));
    expect(copy.saveState()).toEqual(state);
    expect(() => copy.loadState({ control: 0x10 })).toThrow(/control/);
  });
});

describe('Pit8254 state', () => {
  function script(h: ReturnType<typeof makePit>, start: number): unknown[] {
    const out: unknown[] = [];
    for (let t = start; t < start + 3000; t += 37) {
      h.at(t);
      out.push(
        h.pit.runTimers(h.clock.t),
        h.pit.read8(0x40),
        h.pit.read8(0x41),
        h.pit.read8(0x42),
        h.pit.out(2),
      );
      if (t % 5 === 0) h.pit.setGate(2, !h.pit.out(2));
    }
    out.push(h.irq.levels.slice());
    return out;
  }

  function setUp() {
    const h = makePit();
    program(h.pit, 0x36, 1001);
    program(h.pit, 0x74, 300);
    program(h.pit, 0xb2, 77);
    h.at(1500);
    h.pit.setGate(2, true);
    h.pit.write8(0x40, 0x40); // mode 3 reload pending at the end of the half-cycle
    h.pit.write8(0x40, 0x02);
    h.pit.write8(0x43, 0x40); // latch counter 1 ...
    h.pit.read8(0x41); // ... and read half of it
    h.pit.write8(0x43, 0xe8); // status of counter 2
    h.pit.runTimers(h.clock.t);
    return h;
  }

  it('round-trips through saveState/loadState (JSON) and continues identically', () => {
    const a = setUp();
    const state = JSON.parse(JSON.stringify(a.pit.saveState())) as DeviceState;
    const b = makePit();
    b.at(1500);
    b.pit.loadState(state);
    expect(b.host.deadlines.at(-1)).toBe(a.pit.runTimers(a.clock.t));
    expect(b.pit.saveState()).toEqual(a.pit.saveState());
    expect(b.irq.level).toBe(a.irq.level);
    a.irq.clear();
    b.irq.clear();
    expect(script(b, 1501)).toEqual(script(a, 1501));
  });

  it('rejects malformed state and keeps its own', () => {
    const h = setUp();
    const good = h.pit.saveState();
    const bad = (
      mutate: (s: { counters: Record<string, unknown>[]; irqLevel: unknown }) => void,
    ): DeviceState => {
      const s = structuredClone(good) as unknown as {
        counters: Record<string, unknown>[];
        irqLevel: unknown;
      };
      mutate(s);
      return s as unknown as DeviceState;
    };
    expect(() => h.pit.loadState(bad((s) => (s.counters = s.counters.slice(0, 2))))).toThrow(/counters/);
    expect(() => h.pit.loadState(bad((s) => (s.counters[1].rw = 0)))).toThrow(/counters\[1\]\.rw/);
    expect(() => h.pit.loadState(bad((s) => (s.counters[0].n = 0x10001)))).toThrow(/counters\[0\]\.n/);
    expect(() => h.pit.loadState(bad((s) => (s.counters[2].gate = 1)))).toThrow(/counters\[2\]\.gate/);
    expect(() => h.pit.loadState(bad((s) => delete s.counters[0].loadTick))).toThrow(/loadTick/);
    expect(() => h.pit.loadState(bad((s) => (s.counters[0].c0 = 1.5)))).toThrow(/c0/);
    expect(() => h.pit.loadState(bad((s) => (s.counters[0] = [] as never)))).toThrow(/counters\[0\]/);
    expect(() => h.pit.loadState(bad((s) => (s.irqLevel = 'yes')))).toThrow(/irqLevel/);
    expect(h.pit.saveState()).toEqual(good);
  });

  it('reset returns to the quiet power-on state', () => {
    const h = setUp();
    h.pit.reset();
    expect(h.pit.out(0)).toBe(false);
    h.pit.write8(0x43, 0xe2);
    expect(h.pit.read8(0x40)).toBe(0x40 | 0x30);
  });
});
