/**
 * Port I/O takes ISA bus time (src/machine/io-timing.ts): each access moves virtual time by
 * ISA_IO_CYCLE_NS, which is what lets Linux's fast TSC calibration work (it reads the PIT once as a
 * one-microsecond delay before it expects the count it wrote to be counting).
 */
import { describe, expect, it } from 'vitest';
import { createPc } from '../../src/machine/pc.ts';
import { NS_PER_INSTRUCTION } from '../../src/machine/clock.ts';
import { ISA_IO_CYCLE_NS, TimedIoBus } from '../../src/machine/io-timing.ts';
import { CS, DS, SS } from '../../src/cpu/constants.ts';

const CODE = 0x7c00;

/** Loads a real-mode program at 0000:7C00 and runs it until it halts. */
function runProgram(bytes: number[]) {
  const pc = createPc({ memoryMiB: 2 });
  pc.memory.writeBytes(CODE, Uint8Array.from(bytes));
  pc.cpu.setSegmentReal(CS, 0);
  pc.cpu.setSegmentReal(DS, 0);
  pc.cpu.setSegmentReal(SS, 0);
  pc.cpu.eip = CODE;
  const start = pc.clock.now();
  pc.run(100_000);
  expect(pc.cpu.halted).toBe(true);
  return { pc, elapsedNs: pc.clock.now() - start };
}

describe('port I/O bus time', () => {
  it('charges one bus cycle per access, in every width, before the device sees it', () => {
    let now = 0;
    const seen: number[] = [];
    const bus = new TimedIoBus(
      {
        in8: () => (seen.push(now), 0xff),
        in16: () => (seen.push(now), 0xffff),
        in32: () => (seen.push(now), -1),
        out8: () => void seen.push(now),
        out16: () => void seen.push(now),
        out32: () => void seen.push(now),
      },
      (ns) => (now += ns),
    );
    expect(bus.in8(0x80)).toBe(0xff);
    bus.in16(0x80);
    bus.in32(0x80);
    bus.out8(0x80, 1);
    bus.out16(0x80, 1);
    bus.out32(0x80, 1);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6].map((n) => n * ISA_IO_CYCLE_NS));
  });

  it('100 writes to port 80h take 100 bus cycles of virtual time', () => {
    // mov cx, 100 / l: out 80h, al / loop l / cli / hlt
    const { elapsedNs } = runProgram([0xb9, 100, 0, 0xe6, 0x80, 0xe2, 0xfc, 0xfa, 0xf4]);
    const instructions = 1 + 2 * 100 + 2;
    expect(elapsedNs).toBe(instructions * NS_PER_INSTRUCTION + 100 * ISA_IO_CYCLE_NS);
  });

  it("a PIT count is counting by the time a read that follows its write completes (Linux's quick_pit_calibrate)", () => {
    // The start of arch/x86/kernel/tsc.c quick_pit_calibrate: gate counter 2 on through port 61h, mode 0,
    // count FFFFh, one read of the counter as a delay, then read LSB and MSB: the MSB must be FFh.
    const { pc } = runProgram([
      0xe4,
      0x61, //       in al, 61h
      0x24,
      0xfc, //       and al, 0FCh
      0x0c,
      0x01, //       or al, 1            ; GATE2 on, speaker off
      0xe6,
      0x61, //       out 61h, al
      0xb0,
      0xb0, //       mov al, 0B0h        ; counter 2, LSB then MSB, mode 0, binary
      0xe6,
      0x43, //       out 43h, al
      0xb0,
      0xff, //       mov al, 0FFh
      0xe6,
      0x42, //       out 42h, al
      0xe6,
      0x42, //       out 42h, al         ; count FFFFh, loaded on the next CLK
      0xe4,
      0x42, //       in al, 42h
      0xe4,
      0x42, //       in al, 42h          ; pit_verify_msb(0): "delay for a microsecond"
      0xe4,
      0x42, //       in al, 42h
      0x88,
      0xc3, //       mov bl, al          ; LSB
      0xe4,
      0x42, //       in al, 42h
      0x88,
      0xc7, //       mov bh, al          ; MSB
      0xfa, //             cli
      0xf4, //             hlt
    ]);
    const bx = pc.cpu.reg32[3] & 0xffff;
    expect(bx >> 8).toBe(0xff); // BH: the MSB
    expect(bx & 0xff).toBeGreaterThan(0xf0); // BL: a few PIT clocks (838 ns each) below FFh
  });
});
