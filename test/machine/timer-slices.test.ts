/**
 * A timer programmed in the middle of a run slice must fire on time, not when the slice ends.
 *
 * Linux's PIT clock event device runs the 8254 in one-shot mode (mode 4 in i8253.c's set_oneshot, mode 0
 * in some kernels) and writes a new count for every tick. When those writes only moved the scheduler's
 * deadline without ending the CPU's current slice, IRQ 0 came once per slice (50 ms with a 5 M instruction
 * budget) instead of every 4 ms, and every jiffies-based wait in the kernel ran 12 times too long.
 */
import { describe, expect, it } from 'vitest';
import { createPc } from '../../src/machine/pc.ts';
import { NS_PER_INSTRUCTION } from '../../src/machine/clock.ts';
import { ISA_IO_CYCLE_NS } from '../../src/machine/io-timing.ts';
import { CS, DS, SS } from '../../src/cpu/constants.ts';

const CODE = 0x7c00;
const PIT_HZ = 1_193_182;

/**
 * Real-mode program (NASM listing; offsets from 0x7c00). It initialises the master PIC (vector base 08h,
 * only IRQ 0 unmasked), points vector 08h at `isr`, writes the PIT control word and lets the edge that a
 * mode 4 control word makes (OUT goes high) be taken, then writes counter 0's count and counts loop turns
 * (ECX) until the ISR has run, and halts with interrupts off.
 */
function pollProgram(mode: number, count: number): Uint8Array {
  const control = 0x30 | (mode << 1); // counter 0, LSB then MSB, binary
  return new Uint8Array([
    0xfa, //                           00 cli
    0xb0,
    0x11,
    0xe6,
    0x20, //         01 mov al, 11h / out 20h, al   ; ICW1: edge, cascade, ICW4
    0xb0,
    0x08,
    0xe6,
    0x21, //         05 mov al, 08h / out 21h, al   ; ICW2: vectors 08h-0Fh
    0xb0,
    0x04,
    0xe6,
    0x21, //         09 mov al, 04h / out 21h, al   ; ICW3: slave on IR2
    0xb0,
    0x01,
    0xe6,
    0x21, //         0D mov al, 01h / out 21h, al   ; ICW4: 8086 mode
    0xb0,
    0xfe,
    0xe6,
    0x21, //         11 mov al, FEh / out 21h, al   ; OCW1: only IRQ 0
    0xc7,
    0x06,
    0x20,
    0x00,
    0x44,
    0x7c, // 15 mov word [20h], isr
    0xc7,
    0x06,
    0x22,
    0x00,
    0x00,
    0x00, // 1B mov word [22h], 0
    0xb0,
    control,
    0xe6,
    0x43, //      21 mov al, control / out 43h, al
    0xfb, //                           25 sti
    0x90, //                           26 nop                         ; a pending edge is taken here
    0xfa, //                           27 cli
    0xc6,
    0x06,
    0x00,
    0x05,
    0x00, //   28 mov byte [500h], 0
    0x66,
    0x31,
    0xc9, //               2D xor ecx, ecx
    0xb0,
    count & 0xff,
    0xe6,
    0x40, // 30 mov al, LSB / out 40h, al
    0xb0,
    count >> 8,
    0xe6,
    0x40, //   34 mov al, MSB / out 40h, al   ; counting starts on the next CLK
    0xfb, //                           38 sti
    0x66,
    0x41, //                     39 poll: inc ecx
    0x80,
    0x3e,
    0x00,
    0x05,
    0x00, //   3B cmp byte [500h], 0
    0x74,
    0xf7, //                     40 je poll
    0xfa, //                           42 cli
    0xf4, //                           43 hlt
    0xfe,
    0x06,
    0x00,
    0x05, //         44 isr: inc byte [500h]
    0x50, //                           48 push ax
    0xb0,
    0x20,
    0xe6,
    0x20, //         49 mov al, 20h / out 20h, al   ; non-specific EOI
    0x58, //                           4D pop ax
    0xcf, //                           4E iret
  ]);
}

function runPoll(mode: number, count: number, slice: number): { iterations: number; elapsedNs: number } {
  const pc = createPc({ memoryMiB: 2 });
  const cpu = pc.cpu;
  pc.memory.writeBytes(CODE, pollProgram(mode, count));
  cpu.setSegmentReal(CS, 0);
  cpu.setSegmentReal(DS, 0);
  cpu.setSegmentReal(SS, 0);
  cpu.reg16[4 * 2] = 0x7000; // SP
  cpu.eip = CODE;
  const start = pc.clock.now();
  pc.run(slice); // one long slice: the program halts (IF=0) long before it ends
  expect(cpu.halted).toBe(true);
  return { iterations: cpu.reg32[1], elapsedNs: pc.clock.now() - start };
}

describe('timer deadlines set during a run slice', () => {
  for (const mode of [0, 4]) {
    it(`PIT mode ${mode}: a 1 ms count written mid-slice raises IRQ 0 after 1 ms of virtual time`, () => {
      const count = 1193; // 1.0 ms
      const { iterations, elapsedNs } = runPoll(mode, count, 20_000_000);
      const expectedNs = (count / PIT_HZ) * 1e9;
      // ECX counts 3-instruction loop turns from the count write to the interrupt; allow a few turns of slack
      // (mode 4 fires one CLK after the count expires). The whole run also holds the set-up's port cycles.
      expect(iterations).toBeGreaterThan(Math.floor(expectedNs / NS_PER_INSTRUCTION / 3) - 60);
      expect(iterations).toBeLessThan(Math.ceil(expectedNs / NS_PER_INSTRUCTION / 3) + 60);
      expect(elapsedNs).toBeGreaterThan(expectedNs);
      expect(elapsedNs).toBeLessThan(expectedNs + 20 * ISA_IO_CYCLE_NS);
    });
  }

  it('gives the same answer whatever the slice length', () => {
    const a = runPoll(4, 4773, 50_000_000);
    const b = runPoll(4, 4773, 1_000_000);
    expect(a).toEqual(b);
  });
});
