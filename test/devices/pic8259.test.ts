import { describe, expect, it } from 'vitest';
import type { DeviceState } from '../../src/devices/device.ts';
import { Pic8259, Pic8259Pair } from '../../src/devices/pic8259.ts';

const MASTER_BASE = 0x08;
const SLAVE_BASE = 0x70;

/** A pair initialised the way a PC BIOS does: cascade, ICW4 (8086), vectors 0x08 and 0x70, all unmasked. */
function makePair(masterIcw4 = 0x01, slaveIcw4 = 0x01) {
  const intr: boolean[] = [];
  const pic = new Pic8259Pair((level) => intr.push(level));
  for (const [port, value] of [
    [0x20, 0x11],
    [0x21, MASTER_BASE],
    [0x21, 0x04],
    [0x21, masterIcw4],
    [0xa0, 0x11],
    [0xa1, SLAVE_BASE],
    [0xa1, 0x02],
    [0xa1, slaveIcw4],
    [0x21, 0x00],
    [0xa1, 0x00],
  ]) {
    pic.write8(port, value);
  }
  return { pic, intr };
}

function pulse(pic: Pic8259Pair, irq: number): void {
  pic.irqLine(irq).set(true);
  pic.irqLine(irq).set(false);
}

function readIsr(pic: Pic8259Pair, base: number): number {
  pic.write8(base, 0x0b);
  return pic.read8(base);
}

function readIrr(pic: Pic8259Pair, base: number): number {
  pic.write8(base, 0x0a);
  return pic.read8(base);
}

const EOI = 0x20;

describe('Pic8259Pair delivery', () => {
  it('latches a rising edge, raises INTR, and acknowledges with the ICW2 vector', () => {
    const { pic, intr } = makePair();
    expect(pic.hasInterrupt()).toBe(false);
    pic.irqLine(3).set(true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(intr).toEqual([true]);
    expect(readIrr(pic, 0x20)).toBe(0x08);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 3);
    expect(intr).toEqual([true, false]);
    expect(readIsr(pic, 0x20)).toBe(0x08);
    expect(readIrr(pic, 0x20)).toBe(0x00);
    // The line is still high: no new edge, no new request, even after EOI.
    pic.write8(0x20, EOI);
    expect(readIsr(pic, 0x20)).toBe(0);
    expect(pic.hasInterrupt()).toBe(false);
    pic.irqLine(3).set(true);
    expect(pic.hasInterrupt()).toBe(false);
    expect(pic.irqCounts[3]).toBe(1);
  });

  it('keeps an edge request latched when the line falls before INTA', () => {
    const { pic } = makePair();
    pulse(pic, 4);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 4);
  });

  it('OCW1 masks requests without losing them; IMR reads back on A0=1', () => {
    const { pic } = makePair();
    pic.write8(0x21, 0xff);
    expect(pic.read8(0x21)).toBe(0xff);
    pulse(pic, 1);
    expect(pic.hasInterrupt()).toBe(false);
    expect(readIrr(pic, 0x20)).toBe(0x02);
    pic.write8(0x21, 0xfd);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1);
  });

  it('fully nested priority: lower levels wait for EOI, higher levels nest', () => {
    const { pic } = makePair();
    pulse(pic, 5);
    pulse(pic, 3);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 3);
    expect(pic.hasInterrupt()).toBe(false); // IRQ5 blocked by IRQ3 in service
    pulse(pic, 1);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1); // nests
    expect(readIsr(pic, 0x20)).toBe(0x0a);
    pic.write8(0x20, EOI); // ends IRQ1, the highest in service
    expect(readIsr(pic, 0x20)).toBe(0x08);
    expect(pic.hasInterrupt()).toBe(false);
    pic.write8(0x20, 0x60 | 3); // specific EOI 3
    expect(pic.acknowledge()).toBe(MASTER_BASE + 5);
  });

  it('specific EOI clears only the named level', () => {
    const { pic } = makePair();
    pulse(pic, 6);
    pic.acknowledge();
    pulse(pic, 9); // via slave IR1: master IR2
    pulse(pic, 0);
    pic.acknowledge();
    expect(readIsr(pic, 0x20)).toBe(0x41);
    pic.write8(0x20, 0x60 | 6);
    expect(readIsr(pic, 0x20)).toBe(0x01);
  });

  it('routes slave IRQs through master IR2 with the slave vector', () => {
    const { pic } = makePair();
    pic.irqLine(12).set(true);
    expect(readIrr(pic, 0x20)).toBe(0x04);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 4);
    expect(readIsr(pic, 0x20)).toBe(0x04);
    expect(readIsr(pic, 0xa0)).toBe(0x10);
    expect(pic.irqCounts[12]).toBe(1);
    expect(pic.irqCounts[2]).toBe(0);
    // Another slave request waits for both EOIs (fully nested on the master too).
    pulse(pic, 8);
    expect(pic.hasInterrupt()).toBe(false);
    pic.write8(0xa0, EOI);
    expect(pic.hasInterrupt()).toBe(false);
    pic.write8(0x20, EOI);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 0);
  });

  it('special fully nested mode lets a higher slave request through while IR2 is in service', () => {
    for (const [icw4, expected] of [
      [0x01, false],
      [0x11, true],
    ] as const) {
      const { pic } = makePair(icw4);
      pulse(pic, 10);
      expect(pic.acknowledge()).toBe(SLAVE_BASE + 2);
      pulse(pic, 9);
      expect(pic.hasInterrupt()).toBe(expected);
      if (expected) expect(pic.acknowledge()).toBe(SLAVE_BASE + 1);
    }
  });

  it('slave auto-EOI: two pending slave requests are both delivered', () => {
    const { pic } = makePair(0x01, 0x03);
    pulse(pic, 14);
    pulse(pic, 15);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 6);
    pic.write8(0x20, EOI);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 7);
    expect(readIsr(pic, 0xa0)).toBe(0);
  });

  it('irqLine(2) is the IRQ9 wire; lines are created once; bad numbers throw', () => {
    const { pic } = makePair();
    expect(pic.irqLine(2)).toBe(pic.irqLine(9));
    expect(pic.irqLine(5)).toBe(pic.irqLine(5));
    pulse(pic, 2);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 1);
    expect(() => pic.irqLine(16)).toThrow();
    expect(() => pic.irqLine(-1)).toThrow();
  });

  it('reports INTR changes to the callback only when the level changes', () => {
    const { pic, intr } = makePair();
    pulse(pic, 1);
    pulse(pic, 3);
    pic.write8(0x21, 0xff);
    pic.write8(0x21, 0x00);
    expect(intr).toEqual([true, false, true]);
  });
});

describe('Pic8259Pair edge/level control (ELCR)', () => {
  it('keeps IRQ0, 1, 2, 8 and 13 edge-triggered', () => {
    const { pic } = makePair();
    pic.write8(0x4d0, 0xff);
    pic.write8(0x4d1, 0xff);
    expect(pic.read8(0x4d0)).toBe(0xf8);
    expect(pic.read8(0x4d1)).toBe(0xde);
  });

  it('level-triggered: the request follows the line and repeats until the device lowers it', () => {
    const { pic } = makePair();
    pic.write8(0x4d1, 0x08); // IRQ11 level
    pic.irqLine(11).set(true);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 3);
    expect(readIrr(pic, 0xa0)).toBe(0x08); // still requesting
    pic.write8(0xa0, EOI);
    pic.write8(0x20, EOI);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 3);
    pic.irqLine(11).set(false); // the driver services the device, then sends EOI
    expect(readIrr(pic, 0xa0)).toBe(0);
    pic.write8(0xa0, EOI);
    pic.write8(0x20, EOI);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('ICW1 LTIM makes every input level-triggered', () => {
    const pic = new Pic8259Pair();
    for (const [port, value] of [
      [0x20, 0x1b], // LTIM, single, IC4
      [0x21, 0x20],
      [0x21, 0x01],
    ])
      pic.write8(port, value);
    pic.irqLine(0).set(true);
    pic.irqLine(0).set(false);
    expect(pic.hasInterrupt()).toBe(false);
  });
});

describe('Pic8259Pair spurious interrupts', () => {
  it('answers IRQ7 with no ISR bit when the request vanished before INTA', () => {
    const { pic } = makePair();
    pic.write8(0x4d0, 0x20); // IRQ5 level
    pic.irqLine(5).set(true);
    expect(pic.hasInterrupt()).toBe(true);
    pic.irqLine(5).set(false);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 7);
    expect(readIsr(pic, 0x20)).toBe(0);
    expect(pic.irqCounts[7]).toBe(0);
  });

  it('answers IRQ15 with master ISR2 set when a slave request vanished', () => {
    const { pic } = makePair();
    pic.write8(0x4d1, 0x08); // IRQ11 level
    pic.irqLine(11).set(true);
    pic.irqLine(11).set(false);
    // Master IR2 is edge-triggered and latched the slave's INT.
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 7);
    expect(readIsr(pic, 0xa0)).toBe(0);
    expect(readIsr(pic, 0x20)).toBe(0x04);
    expect(pic.irqCounts[15]).toBe(0);
  });
});

describe('Pic8259 programming', () => {
  it('ICW1 clears IMR, ISR, edge latches and priority; an input already high must rise again', () => {
    const { pic } = makePair();
    pic.write8(0x21, 0x0f);
    pulse(pic, 6);
    pic.acknowledge();
    pic.irqLine(7).set(true);
    pic.write8(0x20, 0xc0 | 4); // set priority
    pic.write8(0x20, 0x11);
    pic.write8(0x21, MASTER_BASE);
    pic.write8(0x21, 0x04);
    pic.write8(0x21, 0x01);
    expect(pic.read8(0x21)).toBe(0);
    expect(readIsr(pic, 0x20)).toBe(0);
    expect(readIrr(pic, 0x20)).toBe(0);
    expect(pic.hasInterrupt()).toBe(false);
    pulse(pic, 5);
    pulse(pic, 3);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 3); // IR0 highest again
    pic.irqLine(7).set(false);
    pic.irqLine(7).set(true);
    expect(readIrr(pic, 0x20)).toBe(0xa0);
  });

  it('single mode skips ICW3; without IC4 there is no ICW4', () => {
    const single = new Pic8259Pair();
    single.write8(0x20, 0x13); // single, IC4
    single.write8(0x21, 0x40);
    single.write8(0x21, 0x01); // ICW4
    single.write8(0x21, 0xfb); // OCW1
    expect(single.read8(0x21)).toBe(0xfb);
    const noIcw4 = new Pic8259Pair();
    noIcw4.write8(0x20, 0x10);
    noIcw4.write8(0x21, 0x4d); // ICW2
    noIcw4.write8(0x21, 0x04); // ICW3
    noIcw4.write8(0x21, 0xf0); // OCW1
    expect(noIcw4.read8(0x21)).toBe(0xf0);
    pulse(noIcw4, 1);
    expect(noIcw4.acknowledge()).toBe(0x49); // T2-T0 of ICW2 are ignored
  });

  it('auto-EOI leaves ISR clear; rotate-in-AEOI makes the served level lowest', () => {
    const { pic } = makePair(0x03);
    pulse(pic, 1);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1);
    expect(readIsr(pic, 0x20)).toBe(0);
    pic.write8(0x20, 0x80); // rotate in AEOI: set
    pulse(pic, 0);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 0);
    pulse(pic, 0);
    pulse(pic, 3);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 3); // IR0 is now lowest
    pic.write8(0x20, 0x00); // rotate in AEOI: clear
    expect(pic.acknowledge()).toBe(MASTER_BASE + 0);
    pulse(pic, 4);
    pulse(pic, 0);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 4); // priority stays where the last rotation left it
  });

  it('rotate on non-specific EOI makes the served level lowest', () => {
    const { pic } = makePair();
    pulse(pic, 0);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 0);
    pulse(pic, 0);
    pulse(pic, 1);
    pic.write8(0x20, 0xa0);
    expect(readIsr(pic, 0x20)).toBe(0);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1);
    pic.write8(0x20, 0xa0); // IR1 lowest now: IR2 highest
    expect(pic.acknowledge()).toBe(MASTER_BASE + 0);
  });

  it('rotate on specific EOI and set priority', () => {
    const { pic } = makePair();
    pic.write8(0x20, 0xc0 | 3); // IR3 lowest: IR4 highest
    pulse(pic, 1);
    pulse(pic, 5);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 5);
    expect(pic.hasInterrupt()).toBe(false); // IR1 ranks below IR5 now
    pic.write8(0x20, 0xe0 | 5); // EOI 5, IR5 lowest: IR6 highest
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1);
    pulse(pic, 7);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 7); // IR7 outranks IR1 in service
    pic.write8(0x20, 0x40); // no operation
    expect(readIsr(pic, 0x20)).toBe(0x82);
  });

  it('poll command: next read returns the level with bit 7 and acknowledges it', () => {
    const { pic } = makePair();
    pulse(pic, 6);
    pic.write8(0x20, 0x0c);
    expect(pic.read8(0x21)).toBe(0x86); // either port answers the poll
    expect(readIsr(pic, 0x20)).toBe(0x40);
    pic.write8(0x20, 0x0c);
    expect(pic.read8(0x20)).toBe(0);
    pic.write8(0x20, EOI);
    // Polling a slave request shows IR2 on the master; the slave is polled separately.
    pulse(pic, 13);
    pic.write8(0x20, 0x0c);
    expect(pic.read8(0x20)).toBe(0x82);
    pic.write8(0xa0, 0x0c);
    expect(pic.read8(0xa0)).toBe(0x85);
  });

  it('special mask mode enables lower levels while the masked level is in service', () => {
    const { pic } = makePair();
    pulse(pic, 3);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 3);
    pic.write8(0x21, 0x08);
    pulse(pic, 5);
    expect(pic.hasInterrupt()).toBe(false);
    pic.write8(0x20, 0x68); // set special mask
    expect(pic.acknowledge()).toBe(MASTER_BASE + 5);
    // Non-specific EOI skips the masked in-service IR3.
    pic.write8(0x20, EOI);
    expect(readIsr(pic, 0x20)).toBe(0x08);
    pic.write8(0x20, 0x48); // reset special mask
    pulse(pic, 6);
    pic.write8(0x21, 0x00);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('a single chip is an IoDevice of its own', () => {
    const levels: boolean[] = [];
    const chip = new Pic8259(
      { name: 'solo', base: 0x20, elcrPort: 0x4d0, elcrMask: 0xf8, master: true },
      { set: (level) => levels.push(level) },
    );
    expect(chip.portRanges).toEqual([
      { start: 0x20, length: 2 },
      { start: 0x4d0, length: 1 },
    ]);
    chip.setInput(2, true);
    expect(levels.at(-1)).toBe(true);
    expect(chip.interruptAcknowledge()).toBe(2);
    expect(levels.at(-1)).toBe(false);
  });
});

describe('Pic8259Pair state', () => {
  function busyPair() {
    const { pic, intr } = makePair(0x11, 0x01);
    pic.write8(0x4d1, 0x08);
    pic.irqLine(11).set(true);
    pic.irqLine(1).set(true);
    pic.acknowledge();
    pulse(pic, 4);
    pulse(pic, 14);
    pic.write8(0x21, 0x80);
    pic.write8(0x20, 0xc0 | 6);
    pic.write8(0xa0, 0x0b); // slave reads ISR
    return { pic, intr };
  }

  function script(pic: Pic8259Pair): number[] {
    const out: number[] = [];
    for (let i = 0; i < 6; i++) {
      out.push(pic.read8(0x20), pic.read8(0xa0), pic.read8(0x21), pic.hasInterrupt() ? 1 : 0);
      if (pic.hasInterrupt()) out.push(pic.acknowledge());
      pic.write8(i & 1 ? 0xa0 : 0x20, EOI);
      if (i === 2) pic.irqLine(11).set(false);
      if (i === 3) pulse(pic, 7);
    }
    out.push(...pic.irqCounts);
    return out;
  }

  it('round-trips through saveState/loadState and continues identically', () => {
    const a = busyPair();
    const state = structuredClone(a.pic.saveState());
    const intr: boolean[] = [];
    const b = new Pic8259Pair((level) => intr.push(level));
    b.loadState(state);
    // INTR is reported once at most, with its final level: no glitch while the chips load.
    expect(intr.length).toBeLessThanOrEqual(1);
    expect(intr.at(-1) ?? false).toBe(a.pic.hasInterrupt());
    expect(b.saveState()).toEqual(a.pic.saveState());
    expect(script(b)).toEqual(script(a.pic));
  });

  it('rejects malformed state and keeps its own', () => {
    const { pic } = busyPair();
    const good = pic.saveState();
    const bad = (mutate: (s: Record<string, Record<string, unknown>>) => void): DeviceState => {
      const s = structuredClone(good) as unknown as Record<string, Record<string, unknown>>;
      mutate(s);
      return s as unknown as DeviceState;
    };
    expect(() => pic.loadState(bad((s) => delete s.master))).toThrow(/master/);
    expect(() => pic.loadState(bad((s) => (s.slave.irr = 'x')))).toThrow(/slave.*irr/);
    expect(() => pic.loadState(bad((s) => (s.master.isr = 256)))).toThrow(/master.*isr/);
    expect(() => pic.loadState(bad((s) => (s.master.lowestPriority = 8)))).toThrow(/lowestPriority/);
    expect(() => pic.loadState(bad((s) => (s.master.elcr = 0x01)))).toThrow(/elcr/);
    expect(() => pic.loadState(bad((s) => (s.slave.readIsr = 1)))).toThrow(/readIsr/);
    expect(() => pic.loadState(bad((s) => (s.master.initStep = 1)))).toThrow(/initStep/);
    expect(() => pic.loadState(bad((s) => (s.irqCounts = new Uint32Array(15) as never)))).toThrow(
      /irqCounts/,
    );
    expect(pic.saveState()).toEqual(good);
  });

  it('reset clears the chips and the statistics', () => {
    const { pic } = busyPair();
    pic.reset();
    expect(pic.irqCounts.every((n) => n === 0)).toBe(true);
    expect(pic.read8(0x21)).toBe(0);
    expect(readIsr(pic, 0x20)).toBe(0);
  });
});
