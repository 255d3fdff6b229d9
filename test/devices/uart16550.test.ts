import { describe, expect, it } from 'vitest';
import type { DeviceState, IrqLine, TimedDevice, TimerHost } from '../../src/devices/device.ts';
import { Uart16550 } from '../../src/devices/uart16550.ts';

const BASE = 0x3f8;
const RBR = BASE,
  THR = BASE,
  IER = BASE + 1,
  IIR = BASE + 2,
  FCR = BASE + 2,
  LCR = BASE + 3,
  MCR = BASE + 4,
  LSR = BASE + 5,
  MSR = BASE + 6,
  SCR = BASE + 7;
const OUT2 = 0x08;

class FakeIrq implements IrqLine {
  level = false;
  rises = 0;
  set(level: boolean): void {
    if (level && !this.level) this.rises++;
    this.level = level;
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

function rig(clock = new FakeClock()) {
  const irq = new FakeIrq();
  const timers = new FakeTimers();
  let ready = 0;
  const uart = new Uart16550('uart-com1', BASE, irq, { clock, timers, onOutputReady: () => ready++ });
  timers.deadline = uart.runTimers(clock.t);
  return {
    uart,
    irq,
    clock,
    timers,
    ready: () => ready,
    run(until: number) {
      while (this.timers.deadline <= until) {
        clock.t = this.timers.deadline;
        this.timers.deadline = uart.runTimers(clock.t);
      }
      clock.t = until;
    },
  };
}

/** 9600 baud 8N1: 10 bits of 1/9600 s. */
const CHAR_9600_NS = (10 * 1e9) / 9600;

describe('Uart16550 registers', () => {
  it('comes out of reset with the datasheet values', () => {
    const { uart } = rig();
    expect(uart.portRanges).toEqual([{ start: 0x3f8, length: 8 }]);
    expect(uart.read8(IER)).toBe(0x00);
    expect(uart.read8(IIR)).toBe(0x01);
    expect(uart.read8(LCR)).toBe(0x00);
    expect(uart.read8(MCR)).toBe(0x00);
    expect(uart.read8(LSR)).toBe(0x60);
    expect(uart.read8(MSR)).toBe(0xb0); // a connected terminal: DCD, DSR, CTS
  });

  it('switches ports 0 and 1 to the divisor latch with DLAB', () => {
    const { uart } = rig();
    uart.write8(IER, 0x05);
    uart.write8(LCR, 0x83);
    expect(uart.read8(RBR)).toBe(0x0c); // power-on divisor 12: 9600 baud
    uart.write8(THR, 0x01);
    uart.write8(IER, 0x02);
    expect([uart.read8(RBR), uart.read8(IER)]).toEqual([0x01, 0x02]);
    uart.write8(LCR, 0x03);
    expect(uart.read8(IER)).toBe(0x05);
    expect(uart.hasOutput).toBe(false);
    uart.write8(LCR, 0x83);
    expect([uart.read8(RBR), uart.read8(IER)]).toEqual([0x01, 0x02]);
  });

  it('keeps the scratch register and masks IER and MCR to their defined bits', () => {
    const { uart } = rig();
    uart.write8(SCR, 0x5a);
    expect(uart.read8(SCR)).toBe(0x5a);
    uart.write8(IER, 0xf0);
    expect(uart.read8(IER)).toBe(0x00);
    uart.write8(MCR, 0xff);
    expect(uart.read8(MCR)).toBe(0x1f);
  });
});

describe('Uart16550 transmit', () => {
  it('batches transmitted bytes for the host and signals the first one', () => {
    const r = rig();
    for (const c of 'hi!') r.uart.write8(THR, c.charCodeAt(0));
    expect(r.uart.read8(LSR) & 0x60).toBe(0x60); // instantaneous: THRE and TEMT stay set
    expect(r.ready()).toBe(1);
    expect(r.uart.hasOutput).toBe(true);
    expect(Array.from(r.uart.drainOutput())).toEqual([0x68, 0x69, 0x21]);
    expect(r.uart.hasOutput).toBe(false);
    expect(r.uart.drainOutput().length).toBe(0);
    // Whole bytes go to the host whatever LCR says (5 data bits after reset).
    r.uart.write8(THR, 0xff);
    expect(Array.from(r.uart.drainOutput())).toEqual([0xff]);
    expect(r.ready()).toBe(2);
  });

  it('grows the output buffer and keeps the newest bytes past the limit', () => {
    const irq = new FakeIrq();
    const uart = new Uart16550('u', BASE, irq, {
      clock: new FakeClock(),
      timers: new FakeTimers(),
      outputLimit: 1024,
    });
    for (let i = 0; i < 3000; i++) uart.write8(THR, i & 0xff);
    const out = uart.drainOutput();
    expect(out.length).toBeGreaterThanOrEqual(512);
    expect(out.length).toBeLessThanOrEqual(1024);
    expect(out[out.length - 1]).toBe(2999 & 0xff);
    expect(out[0]).toBe((3000 - out.length) & 0xff);
  });

  it('raises THRE when ETBEI is enabled, clears it on IIR read, and re-raises on THR write', () => {
    const r = rig();
    r.uart.write8(MCR, OUT2);
    r.uart.write8(IER, 0x02);
    expect(r.irq.level).toBe(true);
    expect(r.uart.read8(IIR)).toBe(0x02);
    expect(r.irq.level).toBe(false);
    expect(r.uart.read8(IIR)).toBe(0x01);
    r.uart.write8(THR, 0x41);
    expect(r.irq.rises).toBe(2);
    // A THR write while the interrupt is still up still gives the controller a new edge.
    r.uart.write8(THR, 0x42);
    expect(r.irq.rises).toBe(3);
    expect(r.uart.read8(IIR)).toBe(0x02);
    // Disabling ETBEI hides it; re-enabling raises it again.
    r.uart.write8(IER, 0x00);
    expect(r.irq.level).toBe(false);
    r.uart.write8(IER, 0x02);
    expect(r.uart.read8(IIR)).toBe(0x02);
  });
});

describe('Uart16550 receive', () => {
  it('holds one character without FIFOs and overruns by overwriting it', () => {
    const r = rig();
    r.uart.write8(MCR, OUT2);
    r.uart.write8(IER, 0x01);
    expect(r.uart.rxSpace()).toBe(1);
    expect(r.uart.receive([0x31])).toBe(1);
    expect(r.uart.canReceive()).toBe(false);
    expect(r.irq.level).toBe(true);
    expect(r.uart.read8(IIR)).toBe(0x04);
    expect(r.uart.receive([0x32])).toBe(0);
    expect(r.uart.read8(LSR)).toBe(0x63); // DR | OE | THRE | TEMT
    expect(r.uart.read8(LSR)).toBe(0x61); // OE cleared by the read
    expect(r.uart.read8(RBR)).toBe(0x32);
    expect(r.irq.level).toBe(false);
    expect(r.uart.read8(LSR)).toBe(0x60);
    expect(r.uart.read8(RBR)).toBe(0x32); // RBR keeps its last character
    // Without FIFOs there is no timeout.
    r.uart.receive([0x33]);
    r.run(1e9);
    expect(r.uart.read8(IIR)).toBe(0x04);
  });

  it('reports the FIFO in IIR bits 7-6 and clears FIFOs when FCR0 changes', () => {
    const r = rig();
    r.uart.write8(FCR, 0x01);
    expect(r.uart.read8(IIR)).toBe(0xc1);
    r.uart.receive([1, 2, 3]);
    r.uart.write8(FCR, 0x00);
    expect(r.uart.read8(IIR)).toBe(0x01);
    expect(r.uart.read8(LSR) & 0x01).toBe(0);
    r.uart.write8(FCR, 0x01);
    r.uart.receive([4, 5]);
    r.uart.write8(FCR, 0x03); // RX reset, self-clearing
    expect(r.uart.read8(LSR) & 0x01).toBe(0);
    expect(r.uart.rxSpace()).toBe(16);
    // Other bits are ignored unless FCR0 is written as 1.
    r.uart.write8(FCR, 0x02);
    expect(r.uart.read8(IIR)).toBe(0x01);
  });

  it.each([
    [0x01, 1],
    [0x41, 4],
    [0x81, 8],
    [0xc1, 14],
  ])('FCR=%i interrupts at %i characters', (fcr, level) => {
    const r = rig();
    r.uart.write8(FCR, fcr);
    r.uart.write8(MCR, OUT2);
    r.uart.write8(IER, 0x01);
    r.uart.receive(new Array(level - 1).fill(0x61));
    expect(r.uart.read8(IIR)).toBe(0xc1);
    expect(r.irq.level).toBe(false);
    r.uart.receive([0x62]);
    expect(r.uart.read8(IIR)).toBe(0xc4);
    expect(r.irq.level).toBe(true);
    r.uart.read8(RBR);
    // Below the trigger level again: the interrupt goes (until the timeout).
    expect(r.uart.read8(IIR)).toBe(0xc1);
    expect(r.irq.level).toBe(false);
  });

  it('overruns a full FIFO by losing the new character', () => {
    const r = rig();
    r.uart.write8(FCR, 0x01);
    const bytes = Array.from({ length: 18 }, (_, i) => 0x40 + i);
    expect(r.uart.receive(bytes)).toBe(16);
    expect(r.uart.canReceive()).toBe(false);
    expect(r.uart.read8(LSR) & 0x83).toBe(0x03);
    const got: number[] = [];
    while (r.uart.read8(LSR) & 0x01) got.push(r.uart.read8(RBR));
    expect(got).toEqual(bytes.slice(0, 16));
  });

  it('gives the character timeout after 4 character times below the trigger level', () => {
    const r = rig();
    r.uart.write8(LCR, 0x03); // 8N1 at the power-on 9600 baud
    r.uart.write8(FCR, 0x81); // trigger 8
    r.uart.write8(MCR, OUT2);
    r.uart.write8(IER, 0x01);
    r.uart.receive([0x61, 0x62]);
    const timeout = 4 * CHAR_9600_NS;
    expect(r.timers.deadline).toBeCloseTo(timeout, 3);
    r.run(timeout - 1000);
    expect(r.irq.level).toBe(false);
    // A new character restarts the timer.
    r.uart.receive([0x63]);
    r.run(timeout + 1000);
    expect(r.irq.level).toBe(false);
    r.run(r.clock.t + timeout);
    expect(r.irq.level).toBe(true);
    expect(r.uart.read8(IIR)).toBe(0xcc);
    // Reading a character clears the timeout and restarts it.
    expect(r.uart.read8(RBR)).toBe(0x61);
    expect(r.irq.level).toBe(false);
    expect(r.uart.read8(IIR)).toBe(0xc1);
    const readAt = r.clock.t;
    r.run(readAt + timeout - 1);
    expect(r.irq.level).toBe(false);
    r.run(readAt + timeout);
    expect(r.uart.read8(IIR)).toBe(0xcc);
    r.uart.read8(RBR);
    r.uart.read8(RBR);
    r.run(readAt + 10 * timeout);
    expect(r.uart.read8(IIR)).toBe(0xc1);
    expect(r.timers.deadline).toBe(Infinity);
  });

  it('scales the timeout with the divisor and line format', () => {
    const r = rig();
    r.uart.write8(LCR, 0x80);
    r.uart.write8(THR, 0x01); // 115200 baud
    r.uart.write8(LCR, 0x0f); // 8 data, parity, 2 stop: 12 bits
    r.uart.write8(FCR, 0xc1);
    r.uart.write8(IER, 0x01);
    r.uart.receive([0x61]);
    expect(r.timers.deadline).toBeCloseTo((4 * 12 * 1e9) / 115200, 3);
  });

  it('reports parity, framing and break when their character reaches the top', () => {
    const r = rig();
    r.uart.write8(FCR, 0x01);
    r.uart.write8(MCR, OUT2);
    r.uart.write8(IER, 0x05);
    r.uart.receive([0x61]);
    r.uart.receiveWithErrors(0x62, 0x08); // framing error
    r.uart.receiveBreak();
    // Errors are in the FIFO (bit 7) but not yet at the top.
    expect(r.uart.read8(IIR)).toBe(0xc4);
    expect(r.uart.read8(LSR)).toBe(0xe1);
    expect(r.uart.read8(RBR)).toBe(0x61);
    expect(r.uart.read8(IIR)).toBe(0xc6);
    expect(r.uart.read8(LSR)).toBe(0xe9); // FE at the top, BI still behind it
    expect(r.uart.read8(IIR)).toBe(0xc4);
    expect(r.uart.read8(RBR)).toBe(0x62);
    expect(r.uart.read8(LSR)).toBe(0xf1); // BI with its zero character
    expect(r.uart.read8(RBR)).toBe(0x00);
    expect(r.uart.read8(LSR)).toBe(0x60);
    // A character with an error arriving in an empty FIFO is at the top at once.
    r.uart.receiveWithErrors(0x70, 0x04);
    expect(r.uart.read8(LSR)).toBe(0xe5);
    r.uart.read8(RBR);
    // Without FIFOs the same shows in LSR, but bit 7 stays 0 (16450 mode).
    r.uart.write8(FCR, 0x00);
    r.uart.receiveWithErrors(0x71, 0x0c);
    expect(r.uart.read8(LSR)).toBe(0x6d);
  });
});

describe('Uart16550 interrupts', () => {
  it('reports sources in priority order: line status, data, THRE, modem status', () => {
    const r = rig();
    r.uart.write8(MCR, OUT2);
    r.uart.write8(IER, 0x0f);
    r.uart.read8(IIR); // consume the THRE raised by enabling ETBEI
    r.uart.setModemInputs({ cts: false });
    r.uart.write8(THR, 0x20);
    r.uart.receive([0x31, 0x32]); // second one overruns
    expect(r.uart.read8(IIR)).toBe(0x06);
    r.uart.read8(LSR);
    expect(r.uart.read8(IIR)).toBe(0x04);
    r.uart.read8(RBR);
    expect(r.uart.read8(IIR)).toBe(0x02); // this read clears THRE
    expect(r.uart.read8(IIR)).toBe(0x00);
    expect(r.irq.level).toBe(true);
    expect(r.uart.read8(MSR)).toBe(0xa1); // DSR, DCD, delta CTS
    expect(r.uart.read8(IIR)).toBe(0x01);
    expect(r.irq.level).toBe(false);
  });

  it('sets the modem deltas, TERI only on the trailing edge of RI', () => {
    const r = rig();
    r.uart.setModemInputs({ ri: true });
    expect(r.uart.read8(MSR)).toBe(0xf0);
    r.uart.setModemInputs({ ri: false, dcd: false, dsr: false });
    expect(r.uart.read8(MSR)).toBe(0x1e);
    expect(r.uart.read8(MSR)).toBe(0x10);
  });

  it('gates the IRQ line with OUT2', () => {
    const r = rig();
    r.uart.write8(IER, 0x01);
    r.uart.receive([0x41]);
    expect(r.uart.read8(IIR)).toBe(0x04);
    expect(r.irq.level).toBe(false);
    r.uart.write8(MCR, OUT2);
    expect(r.irq.level).toBe(true);
    r.uart.write8(MCR, 0x03);
    expect(r.irq.level).toBe(false);
  });
});

describe('Uart16550 loopback', () => {
  it('returns transmitted bytes to the receiver and maps MCR onto MSR', () => {
    const r = rig();
    r.uart.write8(FCR, 0x01);
    r.uart.write8(MCR, 0x10);
    expect(r.uart.read8(MSR) & 0xf0).toBe(0x00);
    r.uart.write8(MCR, 0x10 | 0x01 | 0x02 | 0x04 | 0x08);
    expect(r.uart.read8(MSR)).toBe(0xfb); // all lines, DCTS/DDSR/DDCD (RI rose: no TERI)
    r.uart.write8(MCR, 0x10 | 0x01 | 0x02);
    expect(r.uart.read8(MSR)).toBe(0x3c); // CTS, DSR; TERI and DDCD
    for (const b of [0x55, 0xaa, 0x00]) r.uart.write8(THR, b);
    expect(r.uart.hasOutput).toBe(false);
    expect([r.uart.read8(RBR), r.uart.read8(RBR), r.uart.read8(RBR)]).toEqual([0x15, 0x0a, 0x00]); // 5 bits
    r.uart.write8(LCR, 0x03);
    r.uart.write8(THR, 0xaa);
    expect(r.uart.read8(RBR)).toBe(0xaa);
    // The serial input is disconnected: the host should hold its input.
    expect(r.uart.rxSpace()).toBe(0);
    expect(r.uart.receive([1, 2])).toBe(0);
    expect(r.uart.read8(LSR) & 0x01).toBe(0);
  });

  it('keeps interrupts internal: IIR reports them but OUT2 is forced off the bus', () => {
    const r = rig();
    r.uart.write8(LCR, 0x03);
    r.uart.write8(MCR, 0x10 | OUT2);
    r.uart.write8(IER, 0x01);
    r.uart.write8(THR, 0x42);
    expect(r.uart.read8(IIR)).toBe(0x04);
    expect(r.irq.level).toBe(false);
    r.uart.write8(MCR, OUT2);
    expect(r.irq.level).toBe(true);
    expect(r.uart.read8(RBR)).toBe(0x42);
  });
});

describe('Uart16550 state', () => {
  it('reset restores register defaults but keeps divisor and scratch', () => {
    const r = rig();
    r.uart.write8(LCR, 0x80);
    r.uart.write8(THR, 0x03);
    r.uart.write8(LCR, 0x03);
    r.uart.write8(SCR, 0x77);
    r.uart.write8(FCR, 0xc1);
    r.uart.write8(MCR, 0x0b);
    r.uart.write8(IER, 0x0f);
    r.uart.receive([1, 2, 3]);
    expect(r.irq.level).toBe(true);
    r.uart.reset();
    expect(r.irq.level).toBe(false);
    expect([
      r.uart.read8(IER),
      r.uart.read8(IIR),
      r.uart.read8(LCR),
      r.uart.read8(MCR),
      r.uart.read8(LSR),
    ]).toEqual([0, 1, 0, 0, 0x60]);
    expect(r.uart.read8(SCR)).toBe(0x77);
    r.uart.write8(LCR, 0x80);
    expect(r.uart.read8(RBR)).toBe(0x03);
  });

  it('round-trips through saveState/loadState and continues identically', () => {
    const a = rig();
    a.uart.write8(LCR, 0x80);
    a.uart.write8(THR, 0x06);
    a.uart.write8(LCR, 0x1b);
    a.uart.write8(FCR, 0x41);
    a.uart.write8(MCR, 0x0b);
    a.uart.write8(IER, 0x0d);
    a.uart.write8(SCR, 0x99);
    a.uart.write8(THR, 0x21);
    a.uart.receive([10, 11]);
    a.uart.receiveWithErrors(12, 0x04);
    a.uart.setModemInputs({ dcd: false });
    a.run(1000);

    const saved = structuredClone(a.uart.saveState());
    const clock = new FakeClock();
    clock.t = a.clock.t;
    const b = rig(clock);
    b.uart.loadState(saved);
    expect(b.irq.level).toBe(a.irq.level);
    expect(b.timers.deadline).toBe(a.timers.deadline);

    const trace = (r: ReturnType<typeof rig>): number[] => {
      const out = Array.from(r.uart.drainOutput());
      for (let step = 0; step < 6; step++) {
        r.run(r.clock.t + 2e6);
        out.push(
          r.irq.level ? 1 : 0,
          r.uart.read8(IIR),
          r.uart.read8(LSR),
          r.uart.read8(RBR),
          r.uart.read8(MSR),
        );
        r.uart.write8(THR, step);
        r.uart.receive([step + 0x30]);
      }
      for (const port of [IER, LCR, MCR, SCR]) out.push(r.uart.read8(port));
      out.push(...r.uart.drainOutput());
      return out;
    };
    const ta = trace(a);
    expect(ta.slice(0, 1)).toEqual([0x21]);
    expect(trace(b)).toEqual(ta);
  });

  it('rejects malformed state, naming the field', () => {
    const { uart } = rig();
    const good = uart.saveState();
    const bad = (patch: DeviceState) => () => uart.loadState({ ...good, ...patch });
    expect(bad({ dll: 256 })).toThrow(/dll/);
    expect(bad({ ier: 0x10 })).toThrow(/ier/);
    expect(bad({ mcr: 'x' })).toThrow(/mcr/);
    expect(bad({ fifoEnabled: 0 })).toThrow(/fifoEnabled/);
    expect(bad({ triggerLevel: 5 })).toThrow(/triggerLevel/);
    expect(bad({ rxData: new Uint8Array(8) })).toThrow(/rxData/);
    expect(bad({ rxHead: 16 })).toThrow(/rxHead/);
    expect(bad({ rxCount: 2 })).toThrow(/rxCount/); // FIFOs off: one character at most
    expect(bad({ timeoutDeadline: -5 })).toThrow(/timeoutDeadline/);
    expect(bad({ output: [1, 2] })).toThrow(/output/);
    const { msrDeltas: _omit, ...missing } = good;
    expect(() => uart.loadState(missing)).toThrow(/msrDeltas/);
  });
});
