/**
 * System services: the timer tick (IRQ0), the other hardware interrupts' default handlers, INT 11h
 * (equipment), INT 12h (base memory), INT 14h (serial ports), INT 15h (memory map E820h/E801h/88h, A20
 * 24xxh, wait 86h, move block 87h, configuration table C0h, EBDA C1h, keyboard intercept 4Fh, device
 * busy/post 90h/91h), INT 17h (no printer) and INT 1Ah (tick count, RTC time and date). Function numbers and
 * register conventions follow Ralf Brown's Interrupt List; the E820 map is the board's (memory-map.ts).
 *
 * Waits run on virtual time: INT 15h/86h (and the INT 14h receive timeout) stores its deadline, in
 * nanoseconds of the board's clock, in the EBDA; the stub halts and polls after every wake-up. The WaitTimer
 * below is a firmware timer on the board's scheduler that ends the halt exactly at the deadline, so a wait
 * costs no guest instructions and ends on time even with every interrupt masked.
 */
import type { Pc } from '../pc.ts';
import { CS, EAX, EBX, ECX, EDX, ES } from '../../cpu/constants.ts';
import type { TimedDevice } from '../../devices/device.ts';
import { biosMemoryMap } from '../memory-map.ts';
import {
  REG_B,
  REG_C,
  REG_DAY_OF_MONTH,
  REG_HOURS,
  REG_MINUTES,
  REG_MONTH,
  REG_SECONDS,
  REG_YEAR,
  B_24_HOUR,
  B_DM_BINARY,
  B_DSE,
  B_SET,
  CMOS_CENTURY,
} from '../../devices/rtc-mc146818.ts';
import {
  BDA_COM_PORTS,
  BDA_COM_TIMEOUT,
  BDA_EQUIPMENT,
  BDA_FLOPPY_RECALIBRATE,
  BDA_MEMORY_SIZE_KB,
  BDA_MIDNIGHT,
  BDA_TICKS,
  EBDA_BASE,
  EBDA_SEGMENT,
  EBDA_SERIAL_DEADLINE,
  EBDA_WAIT_DEADLINE,
  ROM_BASE,
  ROM_SEGMENT,
  ROM_SIZE,
} from './layout.ts';
import { ROM_CONFIG_TABLE } from './rom.ts';
import {
  AH,
  AL,
  AX,
  BX,
  CH,
  CL,
  CX,
  DH,
  DI,
  DL,
  DONE,
  DX,
  SI,
  WAIT_HALT,
  type BiosCall,
  type GuestMemory,
} from './hypercall.ts';

/** Ticks per day at 1193182 / 65536 Hz: the count wraps to 0 and sets the midnight flag here. */
export const TICKS_PER_DAY = 0x1800b0;
const PIT_HZ = 1193182;
const PIT_TICK_DIVISOR = 65536;

/** INT 15h status "function not supported". */
const UNSUPPORTED = 0x86;
const SMAP = 0x534d4150; // 'SMAP'
const E820_ENTRY_SIZE = 20;
const E820_ENTRY_SIZE_ACPI3 = 24;
const E820_ATTRIBUTE_ENABLED = 1;
const MIB = 0x100000;
const KIB = 1024;
const E801_LOW_LIMIT_KB = 0x3c00; // 15 MiB between 1 MiB and 16 MiB

// A20 (INT 15h AX=240xh): port 0x92 bit 1 and the 8042 output port.
const PORT_SYSTEM_CONTROL_A = 0x92;
const SCPA_FAST_RESET = 0x01;
const SCPA_A20 = 0x02;
const KBC_COMMAND = 0x64;
const KBC_DATA = 0x60;
const KBC_WRITE_OUTPUT = 0xd1;
/** Output port with A20 off: reset line high, keyboard clock and data high (power-on 0xCF without A20). */
const KBC_OUTPUT_A20_OFF = 0xcd;
const A20_SUPPORT_KBC_AND_PORT92 = 0x03;

// PIC (EOIs for the default hardware interrupt handlers).
const PIC_MASTER = 0x20;
const PIC_SLAVE = 0xa0;
const PIC_EOI = 0x20;
const OCW3_READ_ISR = 0x0b;
const OCW3_READ_IRR = 0x0a;

const RTC_INDEX = 0x70;
const RTC_DATA = 0x71;
const HOUR_PM = 0x80;

// Serial ports (INT 14h): 16550 register offsets and bits.
const UART_DATA = 0;
const UART_DLM = 1;
const UART_LCR = 3;
const UART_LSR = 5;
const UART_MSR = 6;
const LCR_DLAB = 0x80;
const LSR_DR = 0x01;
const LSR_THRE = 0x20;
const LSR_ERRORS = 0x1e;
const SERIAL_TIMEOUT = 0x80;
/** INT 14h AH=00h baud rate codes (AL bits 7-5) as divisors of 115200: 110 ... 9600 baud. */
const SERIAL_DIVISORS = [1047, 768, 384, 192, 96, 48, 24, 12];
const NS_PER_SECOND = 1e9;

/** The EBDA fields holding wait deadlines (0 = no wait in progress). */
const WAIT_FIELDS = [EBDA_WAIT_DEADLINE, EBDA_SERIAL_DEADLINE];

function readDeadline(pc: Pc, field: number): number {
  const mem = pc.memory;
  return mem.read32(EBDA_BASE + field) + mem.read32(EBDA_BASE + field + 4) * 0x100000000;
}

function writeDeadline(pc: Pc, field: number, ns: number): void {
  const mem = pc.memory;
  mem.write32(EBDA_BASE + field, ns % 0x100000000);
  mem.write32(EBDA_BASE + field + 4, Math.floor(ns / 0x100000000));
}

/**
 * Ends the `hlt` of a waiting stub at its deadline. Its only state is the deadlines in the EBDA, so after a
 * snapshot load or a reset the scheduler's refresh finds them again. It wakes the CPU only when it is halted
 * inside the ROM: a guest's own HLT is never cut short.
 */
export class WaitTimer implements TimedDevice {
  constructor(private readonly pc: Pc) {}

  /** Re-reads the deadlines (after a service started or ended a wait). */
  update(): void {
    this.pc.timers.reschedule(this, this.runTimers(this.pc.clock.now()));
  }

  runTimers(now: number): number {
    let next = Infinity;
    let due = false;
    for (const field of WAIT_FIELDS) {
      const deadline = readDeadline(this.pc, field);
      if (deadline === 0) continue;
      if (deadline <= now) due = true;
      else next = Math.min(next, deadline);
    }
    const cpu = this.pc.cpu;
    const ip = (cpu.segBase[CS] + cpu.eip) >>> 0;
    if (due && cpu.halted && ip >= ROM_BASE && ip < ROM_BASE + ROM_SIZE) cpu.halted = false;
    return next;
  }
}

function bcd(value: number): number {
  return ((Math.floor(value / 10) % 10) << 4) | (value % 10);
}

function fromBcd(value: number): number {
  return (value >> 4) * 10 + (value & 0x0f);
}

export class SystemServices {
  constructor(
    private readonly pc: Pc,
    private readonly call: BiosCall,
    private readonly guest: GuestMemory,
    private readonly timer: WaitTimer,
  ) {}

  // ---- Hardware interrupts ----

  /** IRQ0: one more tick; at 24 hours the count wraps and the midnight flag is set. */
  irq0(): number {
    const mem = this.pc.memory;
    let ticks = mem.read32(BDA_TICKS) + 1;
    if (ticks >>> 0 >= TICKS_PER_DAY) {
      ticks = 0;
      mem.write8(BDA_MIDNIGHT, 1);
    }
    mem.write32(BDA_TICKS, ticks);
    return DONE;
  }

  /** IRQ6: the floppy controller interrupted (BDA 0x43E bit 7, for code that drives the FDC itself). */
  irq6(): number {
    const mem = this.pc.memory;
    mem.write8(BDA_FLOPPY_RECALIBRATE, mem.read8(BDA_FLOPPY_RECALIBRATE) | 0x80);
    this.eoi(false);
    return DONE;
  }

  /** IRQ8: acknowledge the RTC (reading register C drops its line). */
  irq8(): number {
    this.cmosRead(REG_C);
    this.eoi(true);
    return DONE;
  }

  /** Any other hardware interrupt: acknowledge it at the PIC(s). */
  irqDefault(slave: boolean): number {
    this.eoi(slave);
    return DONE;
  }

  /** Non-specific EOIs, skipped for a spurious interrupt (nothing in service at that PIC). */
  private eoi(slave: boolean): void {
    const ports = this.pc.ports;
    const inService = (pic: number) => {
      ports.out8(pic, OCW3_READ_ISR);
      const isr = ports.in8(pic);
      ports.out8(pic, OCW3_READ_IRR);
      return isr !== 0;
    };
    if (slave && inService(PIC_SLAVE)) ports.out8(PIC_SLAVE, PIC_EOI);
    if (inService(PIC_MASTER)) ports.out8(PIC_MASTER, PIC_EOI);
  }

  // ---- INT 11h, 12h, 17h ----

  int11(): number {
    this.pc.cpu.reg16[AX] = this.pc.memory.read16(BDA_EQUIPMENT);
    return DONE;
  }

  int12(): number {
    this.pc.cpu.reg16[AX] = this.pc.memory.read16(BDA_MEMORY_SIZE_KB);
    return DONE;
  }

  /** No parallel port: every call times out. */
  int17(): number {
    this.call.status(0x01);
    return DONE;
  }

  // ---- Waiting ----

  /**
   * Starts (first call) or checks (poll) the wait whose deadline is in EBDA `field`. Returns WAIT_HALT while
   * it runs; once it is over, clears the field and returns DONE.
   */
  private waitUntil(field: number, poll: boolean, durationNs: number): number {
    const now = this.pc.clock.now();
    if (!poll) writeDeadline(this.pc, field, now + durationNs);
    const deadline = readDeadline(this.pc, field);
    if (deadline !== 0 && now < deadline) {
      this.timer.update();
      return WAIT_HALT;
    }
    this.endWait(field);
    return DONE;
  }

  private endWait(field: number): void {
    writeDeadline(this.pc, field, 0);
    this.timer.update();
  }

  // ---- INT 15h ----

  int15(poll: boolean): number {
    const cpu = this.pc.cpu;
    const r8 = cpu.reg8;
    switch (r8[AH]) {
      case 0x4f: // keyboard intercept: let the scan code through
        this.call.setCarry(true);
        return DONE;
      case 0x24:
        return this.a20(r8[AL]);
      case 0x86:
        return this.wait(poll);
      case 0x87:
        return this.moveBlock();
      case 0x88:
        cpu.reg16[AX] = Math.min(0xffff, Math.floor((this.pc.memory.ramSize - MIB) / KIB));
        this.call.setCarry(false);
        return DONE;
      case 0x90: // device busy
      case 0x91: // interrupt complete
        this.call.status(0);
        return DONE;
      case 0xc0:
        cpu.loadSegment(ES, ROM_SEGMENT);
        cpu.reg16[BX] = ROM_CONFIG_TABLE;
        this.call.status(0);
        return DONE;
      case 0xc1:
        cpu.loadSegment(ES, EBDA_SEGMENT);
        this.call.setCarry(false);
        return DONE;
      case 0xe8:
        if (r8[AL] === 0x01) return this.e801();
        if (r8[AL] === 0x20 && cpu.reg32[EDX] === SMAP) return this.e820();
        break;
    }
    this.call.status(UNSUPPORTED);
    return DONE;
  }

  /** AX=2400h disable, 2401h enable, 2402h status, 2403h support. */
  private a20(fn: number): number {
    const cpu = this.pc.cpu;
    const ports = this.pc.ports;
    const port92 = ports.in8(PORT_SYSTEM_CONTROL_A) & ~SCPA_FAST_RESET;
    switch (fn) {
      case 0x00:
        ports.out8(PORT_SYSTEM_CONTROL_A, port92 & ~SCPA_A20);
        ports.out8(KBC_COMMAND, KBC_WRITE_OUTPUT);
        ports.out8(KBC_DATA, KBC_OUTPUT_A20_OFF);
        break;
      case 0x01:
        ports.out8(PORT_SYSTEM_CONTROL_A, port92 | SCPA_A20);
        break;
      case 0x02:
        cpu.reg8[AL] = this.pc.memory.a20Mask === -1 ? 1 : 0;
        break;
      case 0x03:
        cpu.reg16[BX] = A20_SUPPORT_KBC_AND_PORT92;
        break;
      default:
        this.call.status(UNSUPPORTED);
        return DONE;
    }
    this.call.status(0);
    return DONE;
  }

  /** AH=86h: wait CX:DX microseconds of virtual time. */
  private wait(poll: boolean): number {
    const cpu = this.pc.cpu;
    const micros = ((cpu.reg16[CX] << 16) | cpu.reg16[DX]) >>> 0;
    if (this.waitUntil(EBDA_WAIT_DEADLINE, poll, micros * 1000) !== DONE) return WAIT_HALT;
    this.call.status(0);
    return DONE;
  }

  /** AH=87h: copy CX words between the 24/32-bit bases of the descriptors at ES:SI+10h and ES:SI+18h. */
  private moveBlock(): number {
    const cpu = this.pc.cpu;
    const mem = this.pc.memory;
    const g = this.guest;
    const gdt = g.at(ES, cpu.reg16[SI]);
    const base = (descriptor: number) =>
      (g.read16(descriptor + 2) | (g.read8(descriptor + 4) << 16) | (g.read8(descriptor + 7) << 24)) >>> 0;
    const source = base(gdt + 0x10);
    const target = base(gdt + 0x18);
    const length = Math.min(cpu.reg16[CX], 0x8000) * 2;
    // The copy runs in protected mode with A20 on, whatever the gate says; the gate is put back after.
    const a20 = mem.a20Mask === -1;
    mem.setA20(true);
    for (let i = 0; i < length; i++) mem.write8(target + i, mem.read8(source + i));
    mem.setA20(a20);
    mem.writeGeneration++;
    this.call.status(0);
    return DONE;
  }

  /** AX=E801h: KiB between 1 MiB and 16 MiB (AX, CX) and 64 KiB blocks above 16 MiB (BX, DX). */
  private e801(): number {
    const cpu = this.pc.cpu;
    const ram = this.pc.memory.ramSize;
    const low = Math.min(E801_LOW_LIMIT_KB, Math.max(0, Math.floor((ram - MIB) / KIB)));
    const high = Math.min(0xffff, Math.max(0, Math.floor((ram - 16 * MIB) / 0x10000)));
    cpu.reg16[AX] = cpu.reg16[CX] = low;
    cpu.reg16[BX] = cpu.reg16[DX] = high;
    this.call.setCarry(false);
    return DONE;
  }

  /** AX=E820h: entry EBX of the memory map to ES:DI (20 bytes, or 24 when ECX >= 24); EBX = next or 0. */
  private e820(): number {
    const cpu = this.pc.cpu;
    const map = biosMemoryMap(this.pc.memory.ramSize);
    const index = cpu.reg32[EBX] >>> 0;
    const room = cpu.reg32[ECX] >>> 0;
    if (index >= map.length || room < E820_ENTRY_SIZE) {
      this.call.status(UNSUPPORTED);
      return DONE;
    }
    const entry = map[index];
    const at = this.guest.at(ES, cpu.reg16[DI]);
    this.guest.write32(at, entry.base % 0x100000000);
    this.guest.write32(at + 4, Math.floor(entry.base / 0x100000000));
    this.guest.write32(at + 8, entry.length % 0x100000000);
    this.guest.write32(at + 12, Math.floor(entry.length / 0x100000000));
    this.guest.write32(at + 16, entry.type);
    let size = E820_ENTRY_SIZE;
    if (room >= E820_ENTRY_SIZE_ACPI3) {
      this.guest.write32(at + 20, E820_ATTRIBUTE_ENABLED);
      size = E820_ENTRY_SIZE_ACPI3;
    }
    cpu.reg32[EAX] = SMAP;
    cpu.reg32[ECX] = size;
    cpu.reg32[EBX] = index + 1 < map.length ? index + 1 : 0;
    this.call.setCarry(false);
    return DONE;
  }

  // ---- INT 14h ----

  int14(poll: boolean): number {
    const cpu = this.pc.cpu;
    const r8 = cpu.reg8;
    const ports = this.pc.ports;
    const port = cpu.reg16[DX];
    const base = port < 4 ? this.pc.memory.read16(BDA_COM_PORTS + port * 2) : 0;
    if (base === 0) {
      r8[AH] = SERIAL_TIMEOUT;
      return DONE;
    }
    const lsr = () => ports.in8(base + UART_LSR);
    switch (r8[AH]) {
      case 0x00: {
        const params = r8[AL];
        const divisor = SERIAL_DIVISORS[params >> 5];
        ports.out8(base + UART_LCR, LCR_DLAB);
        ports.out8(base + UART_DATA, divisor & 0xff);
        ports.out8(base + UART_DLM, divisor >> 8);
        // AL bits 4-3 parity (x0 none, 01 odd, 11 even), bit 2 stop bits, bits 1-0 word length: LCR bits 5-0.
        const parity = params & 0x08 ? (params & 0x10 ? 0x18 : 0x08) : 0;
        ports.out8(base + UART_LCR, (params & 0x07) | parity);
        r8[AH] = lsr();
        r8[AL] = ports.in8(base + UART_MSR);
        return DONE;
      }
      case 0x01: {
        const status = lsr();
        if (status & LSR_THRE) ports.out8(base + UART_DATA, r8[AL]);
        r8[AH] = status & LSR_THRE ? lsr() & 0x7f : status | SERIAL_TIMEOUT;
        return DONE;
      }
      case 0x02: {
        // Receive: wait for a character up to the port's timeout (BDA 0x47C, taken as seconds).
        const seconds = this.pc.memory.read8(BDA_COM_TIMEOUT + port) || 1;
        const status = lsr();
        if (status & LSR_DR) {
          if (poll) this.endWait(EBDA_SERIAL_DEADLINE);
          r8[AL] = ports.in8(base + UART_DATA);
          r8[AH] = status & LSR_ERRORS;
          return DONE;
        }
        if (this.waitUntil(EBDA_SERIAL_DEADLINE, poll, seconds * NS_PER_SECOND) !== DONE) return WAIT_HALT;
        r8[AH] = status | SERIAL_TIMEOUT;
        return DONE;
      }
      case 0x03:
        r8[AH] = lsr();
        r8[AL] = ports.in8(base + UART_MSR);
        return DONE;
      default:
        return DONE;
    }
  }

  // ---- INT 1Ah and the RTC ----

  cmosRead(index: number): number {
    this.pc.ports.out8(RTC_INDEX, index);
    return this.pc.ports.in8(RTC_DATA);
  }

  cmosWrite(index: number, value: number): void {
    this.pc.ports.out8(RTC_INDEX, index);
    this.pc.ports.out8(RTC_DATA, value);
  }

  /** A clock register as BCD, whatever data mode the guest chose (hours in 24-hour form). */
  private readClock(index: number): number {
    const b = this.cmosRead(REG_B);
    let value = this.cmosRead(index);
    if (index === REG_HOURS && !(b & B_24_HOUR)) {
      const pm = (value & HOUR_PM) !== 0;
      let hour = b & B_DM_BINARY ? value & 0x7f : fromBcd(value & 0x7f);
      hour = (hour % 12) + (pm ? 12 : 0);
      return bcd(hour);
    }
    if (b & B_DM_BINARY) value = bcd(value);
    return value;
  }

  /** Stores a BCD value into a clock register in the guest's data mode. */
  private writeClock(index: number, value: number): void {
    const b = this.cmosRead(REG_B);
    let binary = fromBcd(value);
    if (index === REG_HOURS && !(b & B_24_HOUR)) {
      const pm = binary >= 12;
      binary = binary % 12 || 12;
      this.cmosWrite(index, (b & B_DM_BINARY ? binary : bcd(binary)) | (pm ? HOUR_PM : 0));
      return;
    }
    this.cmosWrite(index, b & B_DM_BINARY ? binary : value);
  }

  /** Seconds since midnight on the RTC (POST seeds the tick count with it). */
  secondsSinceMidnight(): number {
    const h = fromBcd(this.readClock(REG_HOURS));
    const m = fromBcd(this.readClock(REG_MINUTES));
    const s = fromBcd(this.readClock(REG_SECONDS));
    return h * 3600 + m * 60 + s;
  }

  /** The tick count for a time of day. */
  static ticksFor(seconds: number): number {
    return Math.floor((seconds * PIT_HZ) / PIT_TICK_DIVISOR);
  }

  int1a(): number {
    const cpu = this.pc.cpu;
    const r8 = cpu.reg8;
    const mem = this.pc.memory;
    switch (r8[AH]) {
      case 0x00: {
        const ticks = mem.read32(BDA_TICKS) >>> 0;
        cpu.reg16[CX] = ticks >>> 16;
        cpu.reg16[DX] = ticks & 0xffff;
        r8[AL] = mem.read8(BDA_MIDNIGHT);
        mem.write8(BDA_MIDNIGHT, 0);
        return DONE;
      }
      case 0x01:
        mem.write32(BDA_TICKS, (cpu.reg16[CX] << 16) | cpu.reg16[DX]);
        mem.write8(BDA_MIDNIGHT, 0);
        return DONE;
      case 0x02:
        r8[CH] = this.readClock(REG_HOURS);
        r8[CL] = this.readClock(REG_MINUTES);
        r8[DH] = this.readClock(REG_SECONDS);
        r8[DL] = this.cmosRead(REG_B) & B_DSE;
        this.call.setCarry(false);
        return DONE;
      case 0x03: {
        const b = this.cmosRead(REG_B);
        this.cmosWrite(REG_B, b | B_SET);
        this.writeClock(REG_HOURS, r8[CH]);
        this.writeClock(REG_MINUTES, r8[CL]);
        this.writeClock(REG_SECONDS, r8[DH]);
        this.cmosWrite(REG_B, (b & ~(B_SET | B_DSE)) | (r8[DL] & B_DSE));
        this.call.setCarry(false);
        return DONE;
      }
      case 0x04:
        r8[CH] = this.readClock(CMOS_CENTURY);
        r8[CL] = this.readClock(REG_YEAR);
        r8[DH] = this.readClock(REG_MONTH);
        r8[DL] = this.readClock(REG_DAY_OF_MONTH);
        this.call.setCarry(false);
        return DONE;
      case 0x05: {
        const b = this.cmosRead(REG_B);
        this.cmosWrite(REG_B, b | B_SET);
        this.writeClock(CMOS_CENTURY, r8[CH]);
        this.writeClock(REG_YEAR, r8[CL]);
        this.writeClock(REG_MONTH, r8[DH]);
        this.writeClock(REG_DAY_OF_MONTH, r8[DL]);
        this.cmosWrite(REG_B, b & ~B_SET);
        this.call.setCarry(false);
        return DONE;
      }
      default:
        this.call.setCarry(true); // alarms and the rest are not offered
        return DONE;
    }
  }
}
