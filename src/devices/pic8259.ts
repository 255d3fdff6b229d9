/**
 * Intel 8259A Programmable Interrupt Controller, and the PC/AT pair of them.
 *
 * Follows the Intel 8259A datasheet (order no. 231468): "Interrupt Sequence", "Programming the 8259A"
 * (ICW1-ICW4, OCW1-OCW3), "Fully Nested Mode", "End of Interrupt", "Automatic Rotation", "Specific Rotation",
 * "Special Mask Mode", "Poll Command", "Reading the 8259A Status", "Edge and Level Triggered Modes",
 * "Special Fully Nested Mode" and "Cascade Mode"; and, for the Edge/Level Control Registers at 0x4D0/0x4D1,
 * the Intel 82371 PIIX/PIIX3 datasheet.
 *
 * Only the 8086 (x86) interrupt-acknowledge cycle is modelled: the CPU receives ICW2's vector base | level.
 */
import type { DeviceState, InterruptController, IoDevice, IrqLine, PortRange, Stateful } from './device.ts';
import { stateBoolean, stateNumber } from './device.ts';

// ICW1 (A0 = 0, D4 = 1).
const ICW1_IC4 = 0x01; // ICW4 will be written
const ICW1_SNGL = 0x02; // single chip: no ICW3
const ICW1_LTIM = 0x08; // level-triggered mode for every input
const ICW1_INIT = 0x10; // D4 set on an A0 = 0 write marks ICW1
// ICW4.
const ICW4_AEOI = 0x02; // automatic end of interrupt
const ICW4_SFNM = 0x10; // special fully nested mode
// OCW2 (A0 = 0, D4 = 0, D3 = 0): bits R SL EOI select the command, L2-L0 the level.
const OCW2_COMMAND = 0xe0;
const OCW2_LEVEL = 0x07;
const OCW2_ROTATE_AEOI_CLEAR = 0x00;
const OCW2_NON_SPECIFIC_EOI = 0x20;
const OCW2_NOP = 0x40;
const OCW2_SPECIFIC_EOI = 0x60;
const OCW2_ROTATE_AEOI_SET = 0x80;
const OCW2_ROTATE_NON_SPECIFIC_EOI = 0xa0;
const OCW2_SET_PRIORITY = 0xc0;
const OCW2_ROTATE_SPECIFIC_EOI = 0xe0;
// OCW3 (A0 = 0, D4 = 0, D3 = 1).
const OCW3_SELECT = 0x08;
const OCW3_RIS = 0x01; // with RR: 1 = read ISR, 0 = read IRR
const OCW3_RR = 0x02;
const OCW3_P = 0x04; // poll command
const OCW3_SMM = 0x20; // with ESMM: 1 = set, 0 = reset special mask mode
const OCW3_ESMM = 0x40;
/** Poll word: bit 7 = an interrupt is pending, bits 2-0 = its level. */
const POLL_INTERRUPT = 0x80;
/** Where the init sequence stands: the next A0 = 1 write is this ICW, or an OCW1 when ready. */
const INIT_READY = 0;
const INIT_ICW2 = 2;
const INIT_ICW3 = 3;
const INIT_ICW4 = 4;
/** A request that vanished before INTA is answered with IR7's vector (datasheet: "spurious interrupt"). */
const SPURIOUS_LEVEL = 7;
/** On the PC/AT the slave's INT drives master IR2. */
const CASCADE_LEVEL = 2;
/** The ISA IRQ2 pin is wired to the slave's IR1 (IRQ9) on the AT, because master IR2 carries the cascade. */
const ISA_IRQ2_REROUTED = 9;

export interface Pic8259Config {
  name: string;
  /** The A0 = 0 port; A0 = 1 is base + 1. */
  base: number;
  /** This chip's ELCR port (0x4D0 master, 0x4D1 slave). */
  elcrPort: number;
  /** ELCR bits that may be set: PIIX keeps IRQ0, 1, 2, 8 and 13 edge-triggered. */
  elcrMask: number;
  /** The SP/EN pin: the master honours ICW3 cascade bits and special fully nested mode. */
  master: boolean;
}

/** One 8259A. Its INT output leaves through `intLine`; the pair below wires two of them. */
export class Pic8259 implements IoDevice, Stateful {
  readonly name: string;
  readonly portRanges: readonly PortRange[];
  private readonly config: Pic8259Config;
  private readonly intLine: IrqLine;

  private irr = 0; // interrupt request register
  private isr = 0; // in-service register
  private imr = 0; // interrupt mask register (OCW1)
  private inputs = 0; // current levels of IR0-7 (the wires, not chip state)
  private elcr = 0;
  private icw1 = 0;
  private icw2 = 0;
  private icw3 = 0;
  private icw4 = 0;
  private initStep = INIT_READY;
  private lowestPriority = 7; // IR7 lowest, so IR0 highest
  private readIsr = false;
  private pollPending = false;
  private specialMask = false;
  private rotateInAutoEoi = false;

  constructor(config: Pic8259Config, intLine: IrqLine) {
    this.config = config;
    this.name = config.name;
    this.intLine = intLine;
    this.portRanges = [
      { start: config.base, length: 2 },
      { start: config.elcrPort, length: 1 },
    ];
    this.reset();
  }

  /** Power-on: as after an ICW1 with vector base 0 and no ICW4. Input wire levels are kept. */
  reset(): void {
    this.isr = 0;
    this.imr = 0;
    this.elcr = 0;
    this.icw1 = 0;
    this.icw2 = 0;
    this.icw3 = 0;
    this.icw4 = 0;
    this.initStep = INIT_READY;
    this.lowestPriority = 7;
    this.readIsr = false;
    this.pollPending = false;
    this.specialMask = false;
    this.rotateInAutoEoi = false;
    this.irr = this.inputs & this.levelTriggeredMask();
    this.updateIrq();
  }

  /** Drives input IRn. */
  setInput(level: number, high: boolean): void {
    const bit = 1 << level;
    const wasHigh = (this.inputs & bit) !== 0;
    this.inputs = high ? this.inputs | bit : this.inputs & ~bit;
    if (this.levelTriggeredMask() & bit) {
      this.irr = high ? this.irr | bit : this.irr & ~bit;
    } else if (high && !wasHigh) {
      // Quirk: the real 8259A forgets an edge request whose input falls before INTA (and answers IR7). We keep
      // it latched until INTA, as QEMU does, because emulated devices may pulse a line within one instruction.
      this.irr |= bit;
    }
    this.updateIrq();
  }

  /** True while INT is asserted. */
  hasRequest(): boolean {
    return this.highestRequest() >= 0;
  }

  /**
   * The INTA sequence (also used by the poll command): returns the acknowledged level, or -1 when nothing is
   * pending, in which case the caller answers with IR7's vector and no ISR bit is set (spurious interrupt).
   */
  interruptAcknowledge(): number {
    const level = this.highestRequest();
    if (level < 0) return -1;
    const bit = 1 << level;
    // A level-triggered request stays in IRR as long as its line is high; the ISR bit holds it off.
    if ((this.levelTriggeredMask() & bit) === 0) this.irr &= ~bit;
    if (this.icw4 & ICW4_AEOI) {
      if (this.rotateInAutoEoi) this.lowestPriority = level;
    } else {
      this.isr |= bit;
    }
    this.updateIrq();
    return level;
  }

  /** The vector sent on the second INTA for `level` (8086 mode: T7-T3 from ICW2, level in bits 2-0). */
  vectorFor(level: number): number {
    return (this.icw2 & 0xf8) | level;
  }

  /** True if, per ICW1/ICW3, a slave hangs on IR `level` of this (master) chip. */
  isCascadeInput(level: number): boolean {
    return this.config.master && (this.icw1 & ICW1_SNGL) === 0 && (this.icw3 & (1 << level)) !== 0;
  }

  read8(port: number): number {
    if (port === this.config.elcrPort) return this.elcr;
    if (this.pollPending) {
      // After a poll command the next read, on either port, is the poll word and acknowledges the request.
      this.pollPending = false;
      const level = this.interruptAcknowledge();
      return level < 0 ? 0 : POLL_INTERRUPT | level;
    }
    if ((port & 1) === 0) return this.readIsr ? this.isr : this.irr;
    return this.imr;
  }

  write8(port: number, value: number): void {
    value &= 0xff;
    if (port === this.config.elcrPort) {
      this.elcr = value & this.config.elcrMask;
      // Inputs that became level-triggered now show their line in IRR.
      const level = this.levelTriggeredMask();
      this.irr = (this.irr & ~level) | (this.inputs & level);
      this.updateIrq();
      return;
    }
    if ((port & 1) === 0) {
      if (value & ICW1_INIT) this.writeIcw1(value);
      else if (value & OCW3_SELECT) this.writeOcw3(value);
      else this.writeOcw2(value);
      return;
    }
    switch (this.initStep) {
      case INIT_ICW2:
        this.icw2 = value;
        if ((this.icw1 & ICW1_SNGL) === 0) this.initStep = INIT_ICW3;
        else this.initStep = this.icw1 & ICW1_IC4 ? INIT_ICW4 : INIT_READY;
        break;
      case INIT_ICW3:
        this.icw3 = value;
        this.initStep = this.icw1 & ICW1_IC4 ? INIT_ICW4 : INIT_READY;
        break;
      case INIT_ICW4:
        this.icw4 = value;
        this.initStep = INIT_READY;
        break;
      default:
        this.imr = value; // OCW1
        this.updateIrq();
    }
  }

  private writeIcw1(value: number): void {
    this.icw1 = value;
    if ((value & ICW1_IC4) === 0) this.icw4 = 0;
    // The edge-sense circuit is reset: an edge input must rise again to request. Level inputs follow their line.
    this.irr = this.inputs & this.levelTriggeredMask();
    this.imr = 0;
    // The datasheet is silent on ISR here; clearing it matches every PC emulator and what OSes expect.
    this.isr = 0;
    this.lowestPriority = 7;
    this.specialMask = false;
    this.readIsr = false;
    this.pollPending = false;
    this.rotateInAutoEoi = false;
    this.initStep = INIT_ICW2;
    this.updateIrq();
  }

  private writeOcw2(value: number): void {
    const level = value & OCW2_LEVEL;
    switch (value & OCW2_COMMAND) {
      case OCW2_NON_SPECIFIC_EOI:
        this.isr &= ~this.bitOf(this.highestInService());
        break;
      case OCW2_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        break;
      case OCW2_ROTATE_NON_SPECIFIC_EOI: {
        const served = this.highestInService();
        if (served >= 0) {
          this.isr &= ~(1 << served);
          this.lowestPriority = served;
        }
        break;
      }
      case OCW2_ROTATE_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        this.lowestPriority = level;
        break;
      case OCW2_SET_PRIORITY:
        this.lowestPriority = level;
        break;
      case OCW2_ROTATE_AEOI_SET:
        this.rotateInAutoEoi = true;
        break;
      case OCW2_ROTATE_AEOI_CLEAR:
        this.rotateInAutoEoi = false;
        break;
      case OCW2_NOP:
        break;
    }
    this.updateIrq();
  }

  private writeOcw3(value: number): void {
    if (value & OCW3_P) this.pollPending = true;
    if (value & OCW3_RR) this.readIsr = (value & OCW3_RIS) !== 0;
    if (value & OCW3_ESMM) this.specialMask = (value & OCW3_SMM) !== 0;
    this.updateIrq();
  }

  private levelTriggeredMask(): number {
    return this.icw1 & ICW1_LTIM ? 0xff : this.elcr;
  }

  private bitOf(level: number): number {
    return level < 0 ? 0 : 1 << level;
  }

  /** IR level at priority rank `rank` (0 = highest): the one after the lowest-priority level. */
  private levelAtRank(rank: number): number {
    return (this.lowestPriority + 1 + rank) & 7;
  }

  /**
   * The level a non-specific EOI ends: the highest-priority ISR bit. In special mask mode an ISR bit that is
   * masked is left alone (datasheet, "Special Mask Mode").
   */
  private highestInService(): number {
    const candidates = this.specialMask ? this.isr & ~this.imr : this.isr;
    for (let rank = 0; rank < 8; rank++) {
      const level = this.levelAtRank(rank);
      if (candidates & (1 << level)) return level;
    }
    return -1;
  }

  /** The request INT would be raised for, or -1. Priority resolution per fully nested / special mask mode. */
  private highestRequest(): number {
    const requests = this.irr & ~this.imr;
    if (requests === 0) return -1;
    const specialFullyNested = this.config.master && (this.icw4 & ICW4_SFNM) !== 0;
    for (let rank = 0; rank < 8; rank++) {
      const level = this.levelAtRank(rank);
      const bit = 1 << level;
      const inService = (this.isr & bit) !== 0;
      if (this.specialMask) {
        // Special mask mode: every unmasked level that is not itself in service may interrupt.
        if (requests & bit && !inService) return level;
        continue;
      }
      // Special fully nested mode lets a slave interrupt again while its cascade level is in service.
      if (requests & bit && (!inService || (specialFullyNested && this.isCascadeInput(level)))) return level;
      if (inService) return -1; // fully nested: an in-service level blocks itself and everything below
    }
    return -1;
  }

  private updateIrq(): void {
    this.intLine.set(this.highestRequest() >= 0);
  }

  saveState(): DeviceState {
    return {
      irr: this.irr,
      isr: this.isr,
      imr: this.imr,
      inputs: this.inputs,
      elcr: this.elcr,
      icw1: this.icw1,
      icw2: this.icw2,
      icw3: this.icw3,
      icw4: this.icw4,
      initStep: this.initStep,
      lowestPriority: this.lowestPriority,
      readIsr: this.readIsr,
      pollPending: this.pollPending,
      specialMask: this.specialMask,
      rotateInAutoEoi: this.rotateInAutoEoi,
    };
  }

  loadState(state: DeviceState): void {
    // Validate everything before touching the chip, so a bad state leaves it as it was.
    const irr = stateInt(state, 'irr', 0xff);
    const isr = stateInt(state, 'isr', 0xff);
    const imr = stateInt(state, 'imr', 0xff);
    const inputs = stateInt(state, 'inputs', 0xff);
    const elcr = stateInt(state, 'elcr', 0xff);
    const icw1 = stateInt(state, 'icw1', 0xff);
    const icw2 = stateInt(state, 'icw2', 0xff);
    const icw3 = stateInt(state, 'icw3', 0xff);
    const icw4 = stateInt(state, 'icw4', 0xff);
    const initStep = stateInt(state, 'initStep', INIT_ICW4);
    if (initStep === 1) throw new Error("state field 'initStep' is not a valid init step");
    const lowestPriority = stateInt(state, 'lowestPriority', 7);
    const readIsr = stateBoolean(state, 'readIsr');
    const pollPending = stateBoolean(state, 'pollPending');
    const specialMask = stateBoolean(state, 'specialMask');
    const rotateInAutoEoi = stateBoolean(state, 'rotateInAutoEoi');
    if (elcr & ~this.config.elcrMask) throw new Error("state field 'elcr' sets reserved bits");
    this.irr = irr;
    this.isr = isr;
    this.imr = imr;
    this.inputs = inputs;
    this.elcr = elcr;
    this.icw1 = icw1;
    this.icw2 = icw2;
    this.icw3 = icw3;
    this.icw4 = icw4;
    this.initStep = initStep;
    this.lowestPriority = lowestPriority;
    this.readIsr = readIsr;
    this.pollPending = pollPending;
    this.specialMask = specialMask;
    this.rotateInAutoEoi = rotateInAutoEoi;
    this.updateIrq();
  }
}

/** An integer field in [0, max]. */
function stateInt(state: DeviceState, field: string, max: number): number {
  const v = stateNumber(state, field);
  if (!Number.isInteger(v) || v < 0 || v > max) throw new Error(`state field '${field}' is out of range`);
  return v;
}

/**
 * The PC/AT interrupt controller: master 8259A at 0x20-0x21 (IRQ0-7), slave at 0xA0-0xA1 (IRQ8-15) whose INT
 * drives master IR2, and the PIIX ELCR pair at 0x4D0/0x4D1 selecting edge or level triggering per IRQ.
 *
 * The CPU side: `hasInterrupt()` is the INTR pin and may be polled at any time; in addition the optional
 * `onIntrChange` callback is called whenever INTR changes, for a machine loop that wants to be woken.
 */
export class Pic8259Pair implements IoDevice, Stateful, InterruptController {
  readonly name = 'pic';
  readonly portRanges: readonly PortRange[];
  readonly master: Pic8259;
  readonly slave: Pic8259;
  /** Acknowledged (non-spurious) interrupts per IRQ since reset, for the UI's interrupt statistics. */
  readonly irqCounts = new Uint32Array(16);
  private readonly lines: IrqLine[] = [];
  private readonly onIntrChange: ((level: boolean) => void) | undefined;
  private intr = false;

  constructor(onIntrChange?: (level: boolean) => void) {
    this.onIntrChange = onIntrChange;
    this.master = new Pic8259(
      { name: 'pic-master', base: 0x20, elcrPort: 0x4d0, elcrMask: 0xf8, master: true },
      { set: (level) => this.setIntr(level) },
    );
    this.slave = new Pic8259(
      { name: 'pic-slave', base: 0xa0, elcrPort: 0x4d1, elcrMask: 0xde, master: false },
      { set: (level) => this.master.setInput(CASCADE_LEVEL, level) },
    );
    this.portRanges = [...this.master.portRanges, ...this.slave.portRanges];
    for (let irq = 0; irq < 16; irq++) {
      const chip = irq < 8 ? this.master : this.slave;
      const level = irq & 7;
      this.lines.push({ set: (high) => chip.setInput(level, high) });
    }
    // IRQ2 on the ISA bus is IRQ9: master IR2 is taken by the cascade.
    this.lines[CASCADE_LEVEL] = this.lines[ISA_IRQ2_REROUTED];
  }

  /** The wire for IRQ `irq` (0-15) that a device is given. IRQ2 returns the IRQ9 wire, as on the AT. */
  irqLine(irq: number): IrqLine {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15) throw new Error(`no IRQ ${irq} on the PIC pair`);
    return this.lines[irq];
  }

  hasInterrupt(): boolean {
    return this.master.hasRequest();
  }

  acknowledge(): number {
    const level = this.master.interruptAcknowledge();
    if (level < 0) return this.master.vectorFor(SPURIOUS_LEVEL);
    if (level !== CASCADE_LEVEL || !this.master.isCascadeInput(level)) {
      this.irqCounts[level]++;
      return this.master.vectorFor(level);
    }
    const slaveLevel = this.slave.interruptAcknowledge();
    // This INTA consumed master IR2's edge request. If the slave still requests (auto-EOI or special mask
    // mode), its INT never fell, so present it to the master again as a fresh edge.
    this.master.setInput(CASCADE_LEVEL, false);
    this.master.setInput(CASCADE_LEVEL, this.slave.hasRequest());
    // Spurious on the slave: IRQ15's vector, with master ISR2 set (the handler must EOI the master only).
    if (slaveLevel < 0) return this.slave.vectorFor(SPURIOUS_LEVEL);
    this.irqCounts[8 + slaveLevel]++;
    return this.slave.vectorFor(slaveLevel);
  }

  read8(port: number): number {
    return this.chipFor(port).read8(port);
  }

  write8(port: number, value: number): void {
    this.chipFor(port).write8(port, value);
  }

  reset(): void {
    this.slave.reset();
    this.master.reset();
    this.irqCounts.fill(0);
  }

  saveState(): DeviceState {
    return {
      master: this.master.saveState(),
      slave: this.slave.saveState(),
      irqCounts: this.irqCounts.slice(),
    };
  }

  loadState(state: DeviceState): void {
    const counts = state.irqCounts;
    if (!(counts instanceof Uint32Array) || counts.length !== 16) {
      throw new Error("state field 'irqCounts' is not a Uint32Array of 16");
    }
    const backup = this.saveState();
    // Master first: it holds the saved level of its IR2 input, so the slave's reload makes no edge on it.
    let field = 'master';
    try {
      this.master.loadState(chipState(state, field));
      field = 'slave';
      this.slave.loadState(chipState(state, field));
    } catch (error) {
      this.master.loadState(backup.master as DeviceState);
      this.slave.loadState(backup.slave as DeviceState);
      throw new Error(`pic ${field}: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.irqCounts.set(counts);
  }

  private chipFor(port: number): Pic8259 {
    return port === 0x20 || port === 0x21 || port === 0x4d0 ? this.master : this.slave;
  }

  private setIntr(level: boolean): void {
    if (level === this.intr) return;
    this.intr = level;
    this.onIntrChange?.(level);
  }
}

function chipState(state: DeviceState, field: string): DeviceState {
  const v = state[field];
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) {
    throw new Error(`state field '${field}' is not an object`);
  }
  return v;
}
