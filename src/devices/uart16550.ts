/**
 * National Semiconductor PC16550D UART (the "16550A" of PC serial ports).
 *
 * Follows the PC16550D datasheet: section 8 "Registers" (Table II register summary, 8.1 LCR, 8.4 LSR,
 * 8.5 FCR, 8.6 IIR with Table IV interrupt priorities, 8.7 IER, 8.8 MCR, 8.9 MSR, 8.10 SCR), 8.2 divisor
 * latches (baud = 1.8432 MHz / (16 x divisor)) and section 9 "FIFO Interrupt Mode Operation" (trigger levels,
 * character timeout after 4 character times).
 *
 * PC wiring: the INTR pin reaches the interrupt controller through a buffer enabled by the OUT2 output, so
 * the IRQ line is asserted only while MCR.OUT2 = 1. In loopback mode the chip forces its OUT2 output inactive,
 * so on a PC no interrupt leaves the card during loopback even though IIR still reports it.
 *
 * Transmission is instantaneous: a THR write hands the byte to the host at once and THRE/TEMT never drop, so
 * the guest is paced by nothing but its own code (a real 115200 baud line takes ~87 us a character).
 * Received bytes also arrive at once; the host paces input with canReceive()/rxSpace(). Character time from
 * the divisor and LCR is modelled only for the receive FIFO timeout, which needs it.
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

// Register offsets from the base port (Table II). DLAB = LCR bit 7 selects the divisor latches at 0 and 1.
export const UART_RBR = 0; // read, DLAB = 0
export const UART_THR = 0; // write, DLAB = 0
export const UART_DLL = 0; // DLAB = 1
export const UART_IER = 1; // DLAB = 0
export const UART_DLM = 1; // DLAB = 1
export const UART_IIR = 2; // read
export const UART_FCR = 2; // write
export const UART_LCR = 3;
export const UART_MCR = 4;
export const UART_LSR = 5;
export const UART_MSR = 6;
export const UART_SCR = 7;

export const IER_ERBFI = 0x01; // received data available
export const IER_ETBEI = 0x02; // THR empty
export const IER_ELSI = 0x04; // receiver line status
export const IER_EDSSI = 0x08; // modem status

export const IIR_NO_INTERRUPT = 0x01;
export const IIR_RLS = 0x06; // priority 1: receiver line status
export const IIR_RDA = 0x04; // priority 2: received data available
export const IIR_CTI = 0x0c; // priority 2: character timeout (FIFO mode)
export const IIR_THRE = 0x02; // priority 3: THR empty
export const IIR_MSR = 0x00; // priority 4: modem status
export const IIR_FIFOS_ENABLED = 0xc0;

export const FCR_FIFO_ENABLE = 0x01;
export const FCR_RX_RESET = 0x02;
export const FCR_TX_RESET = 0x04;
export const FCR_TRIGGER_MASK = 0xc0;

export const LCR_WLS_MASK = 0x03;
export const LCR_STB = 0x04;
export const LCR_PEN = 0x08;
export const LCR_DLAB = 0x80;

export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;

export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_PE = 0x04;
export const LSR_FE = 0x08;
export const LSR_BI = 0x10;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;
export const LSR_RX_FIFO_ERROR = 0x80;
const LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;
/** The per-character errors that travel through the FIFO with their character. */
const LSR_CHAR_ERRORS = LSR_PE | LSR_FE | LSR_BI;

export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
const MSR_LINES = MSR_CTS | MSR_DSR | MSR_RI | MSR_DCD;

const FIFO_SIZE = 16;
/** RX trigger levels selected by FCR bits 7-6. */
const TRIGGER_LEVELS = [1, 4, 8, 14];
/** Input clock 1.8432 MHz / 16 = 115200 bit times per second at divisor 1. */
const BITS_PER_SECOND_AT_DIVISOR_1 = 115200;
const TIMEOUT_CHARACTER_TIMES = 4;
const DEFAULT_OUTPUT_LIMIT = 1 << 20;

export interface ModemInputs {
  cts?: boolean;
  dsr?: boolean;
  ri?: boolean;
  dcd?: boolean;
}

export interface UartOptions {
  clock: Clock;
  timers: TimerHost;
  /** Called when output goes from empty to pending, so the host can schedule a drainOutput(). */
  onOutputReady?: () => void;
  /** Undrained output kept at most (bytes); beyond it the oldest half is dropped. Default 1 MiB. */
  outputLimit?: number;
}

export class Uart16550 implements IoDevice, Stateful, TimedDevice {
  readonly portRanges: readonly PortRange[];
  private readonly clock: Clock;
  private readonly timers: TimerHost;
  private readonly onOutputReady: (() => void) | undefined;
  private readonly outputLimit: number;

  private dll = 0x0c; // power-on divisor: 9600 baud
  private dlm = 0;
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private fifoEnabled = false;
  private triggerLevel = 1;
  /** Latched OE/PE/FE/BI as LSR shows them until it is read. */
  private lsrErrors = 0;
  /** Receive FIFO (a single holding register when FIFOs are off) as a ring, with per-character errors. */
  private readonly rxData = new Uint8Array(FIFO_SIZE);
  private readonly rxErrors = new Uint8Array(FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;
  /** RBR keeps showing the last character once the FIFO is empty. */
  private lastRbr = 0;
  private thrInterruptPending = false;
  private timeoutPending = false;
  /** Virtual time (ns) at which the character timeout fires, or -1 when not armed. */
  private timeoutDeadline = -1;
  private msrDeltas = 0;
  /** CTS/DSR/RI/DCD as driven by the far end (MSR bit positions); a connected terminal by default. */
  private modemInputs = MSR_CTS | MSR_DSR | MSR_DCD;
  private output = new Uint8Array(256);
  private outputLength = 0;

  constructor(
    readonly name: string,
    basePort: number,
    private readonly irq: IrqLine,
    options: UartOptions,
  ) {
    this.portRanges = [{ start: basePort, length: 8 }];
    this.clock = options.clock;
    this.timers = options.timers;
    this.onOutputReady = options.onOutputReady;
    this.outputLimit = Math.max(16, options.outputLimit ?? DEFAULT_OUTPUT_LIMIT);
    this.updateIrq();
  }

  // ---- Host side ----

  /** Free room in the receiver: the host should queue input beyond this and retry later. */
  rxSpace(): number {
    // In loopback the serial input is disconnected from the receiver.
    if (this.mcr & MCR_LOOP) return 0;
    return this.rxCapacity() - this.rxCount;
  }

  canReceive(): boolean {
    return this.rxSpace() > 0;
  }

  /** Bytes arriving on the serial input. Returns how many were stored; the rest overran (LSR.OE). */
  receive(bytes: Uint8Array | number[]): number {
    // SIN is disconnected in loopback: the bytes are lost on the wire.
    if (this.mcr & MCR_LOOP || bytes.length === 0) return 0;
    let stored = 0;
    for (let i = 0; i < bytes.length; i++) if (this.receiveCharacter(bytes[i], 0)) stored++;
    this.afterReceive();
    return stored;
  }

  /** A break condition on the line: one zero character with BI (datasheet LSR bit 4). */
  receiveBreak(): void {
    if (this.mcr & MCR_LOOP) return;
    this.receiveCharacter(0, LSR_BI);
    this.afterReceive();
  }

  /** A character received with a parity and/or framing error (LSR_PE, LSR_FE), e.g. from a line simulator. */
  receiveWithErrors(byte: number, errors: number): void {
    if (this.mcr & MCR_LOOP) return;
    this.receiveCharacter(byte, errors & LSR_CHAR_ERRORS);
    this.afterReceive();
  }

  /** Sets the modem status inputs driven by the far end; changes set the MSR delta bits. */
  setModemInputs(inputs: ModemInputs): void {
    const before = this.modemLines();
    const set = (bit: number, on: boolean | undefined): void => {
      if (on !== undefined) this.modemInputs = on ? this.modemInputs | bit : this.modemInputs & ~bit;
    };
    set(MSR_CTS, inputs.cts);
    set(MSR_DSR, inputs.dsr);
    set(MSR_RI, inputs.ri);
    set(MSR_DCD, inputs.dcd);
    this.noteModemChange(before);
    this.updateIrq();
  }

  get hasOutput(): boolean {
    return this.outputLength > 0;
  }

  /** Returns and forgets the bytes the guest transmitted since the last drain (one copy per batch). */
  drainOutput(): Uint8Array {
    const bytes = this.output.slice(0, this.outputLength);
    this.outputLength = 0;
    return bytes;
  }

  // ---- I/O ports ----

  read8(port: number): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (port - this.portRanges[0].start) {
      case UART_RBR:
        return dlab ? this.dll : this.readRbr();
      case UART_IER:
        return dlab ? this.dlm : this.ier;
      case UART_IIR:
        return this.readIir();
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR:
        return this.readLsr();
      case UART_MSR: {
        const value = this.modemLines() | this.msrDeltas;
        this.msrDeltas = 0; // reading MSR clears the deltas (and the modem status interrupt)
        this.updateIrq();
        return value;
      }
      default:
        return this.scr;
    }
  }

  write8(port: number, value: number): void {
    value &= 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (port - this.portRanges[0].start) {
      case UART_THR:
        if (dlab) this.dll = value;
        else this.writeThr(value);
        return;
      case UART_IER:
        if (dlab) {
          this.dlm = value;
          return;
        }
        // Enabling ETBEI while THR is empty raises a THRE interrupt at once (datasheet 8.6: the interrupt is
        // set when THRE is set and ETBEI is enabled).
        if (value & IER_ETBEI && !(this.ier & IER_ETBEI)) this.thrInterruptPending = true;
        this.ier = value & 0x0f;
        break;
      case UART_FCR:
        this.writeFcr(value);
        break;
      case UART_LCR:
        this.lcr = value;
        return;
      case UART_MCR: {
        const before = this.modemLines();
        this.mcr = value & 0x1f;
        this.noteModemChange(before);
        break;
      }
      case UART_LSR:
      case UART_MSR:
        return; // factory test writes: ignored
      case UART_SCR:
        this.scr = value;
        return;
    }
    this.updateIrq();
  }

  private readRbr(): number {
    if (this.rxCount > 0) {
      this.lastRbr = this.rxData[this.rxHead];
      this.rxErrors[this.rxHead] = 0;
      this.rxHead = (this.rxHead + 1) % FIFO_SIZE;
      this.rxCount--;
      this.revealHeadErrors();
    }
    // A FIFO read clears the timeout indication and restarts its timer.
    this.rearmTimeout(this.clock.now());
    this.updateIrq();
    return this.lastRbr;
  }

  private readIir(): number {
    this.checkTimeout(this.clock.now());
    const id = this.interruptId();
    // Reading IIR while it reports THRE is one of the two ways to clear that interrupt.
    if (id === IIR_THRE) {
      this.thrInterruptPending = false;
      this.updateIrq();
    }
    return id | (this.fifoEnabled ? IIR_FIFOS_ENABLED : 0);
  }

  private readLsr(): number {
    let value = this.lsrErrors | LSR_THRE | LSR_TEMT;
    if (this.rxCount > 0) value |= LSR_DR;
    if (this.fifoEnabled && (this.lsrErrors & LSR_CHAR_ERRORS || this.errorsBehindHead()))
      value |= LSR_RX_FIFO_ERROR;
    // Reading LSR clears OE/PE/FE/BI and with them the line status interrupt.
    this.lsrErrors = 0;
    this.updateIrq();
    return value;
  }

  private writeThr(byte: number): void {
    // The write clears the THRE interrupt; the instantly empty THR then sets it again. Updating the line in
    // between gives the interrupt controller the fresh edge a real THR write produces.
    this.thrInterruptPending = false;
    this.updateIrq();
    if (this.mcr & MCR_LOOP) {
      // Loopback: the transmitter shift register feeds the receiver; nothing goes out on SOUT.
      // Only here does the word length cut the data: the host end is not a wire, and guests that never
      // program LCR (5 bits after reset) still mean whole bytes.
      this.receiveCharacter(byte & this.wordMask(), 0);
      this.afterReceive();
    } else {
      this.appendOutput(byte);
    }
    this.thrInterruptPending = true;
    this.updateIrq();
  }

  private writeFcr(value: number): void {
    // FCR0 must be set for the other bits to be programmed; changing it clears both FIFOs.
    const enable = (value & FCR_FIFO_ENABLE) !== 0;
    if (enable !== this.fifoEnabled) {
      this.fifoEnabled = enable;
      this.clearRx();
    }
    if (!enable) return;
    if (value & FCR_RX_RESET) this.clearRx();
    // FCR_TX_RESET: the transmit FIFO is always empty here (instant transmission), nothing to clear.
    this.triggerLevel = TRIGGER_LEVELS[(value & FCR_TRIGGER_MASK) >> 6];
  }

  // ---- Receiver ----

  private rxCapacity(): number {
    return this.fifoEnabled ? FIFO_SIZE : 1;
  }

  /** One character completes in the receive shift register. Returns false on overrun. */
  private receiveCharacter(byte: number, errors: number): boolean {
    if (this.rxCount >= this.rxCapacity()) {
      this.lsrErrors |= LSR_OE;
      // 16450 mode: the new character overwrites RBR. FIFO mode: the FIFO is kept, the character is lost.
      if (!this.fifoEnabled) {
        this.rxData[this.rxHead] = byte;
        this.rxErrors[this.rxHead] = 0;
        this.lsrErrors |= errors;
      }
      return false;
    }
    const slot = (this.rxHead + this.rxCount) % FIFO_SIZE;
    this.rxData[slot] = byte;
    this.rxErrors[slot] = errors;
    this.rxCount++;
    if (this.rxCount === 1) this.revealHeadErrors();
    return true;
  }

  private afterReceive(): void {
    this.rearmTimeout(this.clock.now());
    this.updateIrq();
  }

  /** PE/FE/BI show in LSR when their character reaches the top of the FIFO (datasheet 8.4). */
  private revealHeadErrors(): void {
    if (this.rxCount === 0) return;
    this.lsrErrors |= this.rxErrors[this.rxHead];
    this.rxErrors[this.rxHead] = 0;
  }

  private errorsBehindHead(): boolean {
    for (let i = 1; i < this.rxCount; i++) if (this.rxErrors[(this.rxHead + i) % FIFO_SIZE]) return true;
    return false;
  }

  private clearRx(): void {
    this.rxHead = 0;
    this.rxCount = 0;
    this.rxErrors.fill(0);
    this.timeoutPending = false;
    this.timeoutDeadline = -1;
  }

  private wordMask(): number {
    return (1 << (5 + (this.lcr & LCR_WLS_MASK))) - 1;
  }

  // ---- Character timeout (datasheet section 9) ----

  /** Time on the line for one character: start bit, data bits, parity, stop bits, at the current divisor. */
  private characterTimeNs(): number {
    const dataBits = 5 + (this.lcr & LCR_WLS_MASK);
    let stopBits = 1;
    if (this.lcr & LCR_STB) stopBits = dataBits === 5 ? 1.5 : 2;
    const bits = 1 + dataBits + (this.lcr & LCR_PEN ? 1 : 0) + stopBits;
    // A zero divisor is not a valid setting; the counter then behaves like 65536.
    const divisor = (this.dlm << 8) | this.dll || 0x10000;
    return (bits * divisor * 1e9) / BITS_PER_SECOND_AT_DIVISOR_1;
  }

  /** Receiving or reading a character restarts the 4-character-time timeout and clears its indication. */
  private rearmTimeout(now: number): void {
    this.timeoutPending = false;
    const armed = this.fifoEnabled && this.rxCount > 0;
    this.timeoutDeadline = armed ? now + TIMEOUT_CHARACTER_TIMES * this.characterTimeNs() : -1;
    if (armed) this.timers.reschedule(this, this.timeoutDeadline);
  }

  private checkTimeout(now: number): void {
    if (this.timeoutDeadline >= 0 && now >= this.timeoutDeadline) {
      this.timeoutDeadline = -1;
      this.timeoutPending = true;
    }
  }

  runTimers(now: number): number {
    this.checkTimeout(now);
    this.updateIrq();
    return this.timeoutDeadline >= 0 ? this.timeoutDeadline : Infinity;
  }

  // ---- Modem lines ----

  /** CTS/DSR/RI/DCD as MSR shows them: from the far end, or in loopback from DTR/RTS/OUT1/OUT2. */
  private modemLines(): number {
    const mcr = this.mcr;
    if (!(mcr & MCR_LOOP)) return this.modemInputs;
    return (
      (mcr & MCR_RTS ? MSR_CTS : 0) |
      (mcr & MCR_DTR ? MSR_DSR : 0) |
      (mcr & MCR_OUT1 ? MSR_RI : 0) |
      (mcr & MCR_OUT2 ? MSR_DCD : 0)
    );
  }

  private noteModemChange(before: number): void {
    const after = this.modemLines();
    const changed = (before ^ after) & MSR_LINES;
    if (changed & MSR_CTS) this.msrDeltas |= MSR_DCTS;
    if (changed & MSR_DSR) this.msrDeltas |= MSR_DDSR;
    if (changed & MSR_DCD) this.msrDeltas |= MSR_DDCD;
    // TERI: only the trailing edge of RI (on -> off) counts.
    if (changed & MSR_RI && !(after & MSR_RI)) this.msrDeltas |= MSR_TERI;
  }

  // ---- Output buffer ----

  private appendOutput(byte: number): void {
    if (this.outputLength === this.output.length) {
      if (this.output.length < this.outputLimit) {
        const grown = new Uint8Array(Math.min(this.outputLimit, this.output.length * 2));
        grown.set(this.output);
        this.output = grown;
      } else {
        // Nobody is draining: keep the newer half, as a console scrollback would.
        const keep = this.outputLength >> 1;
        this.output.copyWithin(0, this.outputLength - keep, this.outputLength);
        this.outputLength = keep;
      }
    }
    this.output[this.outputLength++] = byte;
    if (this.outputLength === 1) this.onOutputReady?.();
  }

  // ---- Interrupts ----

  /** The highest-priority pending, enabled source as IIR bits 3-0 (datasheet Table IV). */
  private interruptId(): number {
    const ier = this.ier;
    if (ier & IER_ELSI && this.lsrErrors & LSR_ERRORS) return IIR_RLS;
    if (ier & IER_ERBFI && this.rxCount > 0) {
      if (!this.fifoEnabled || this.rxCount >= this.triggerLevel) return IIR_RDA;
      if (this.timeoutPending) return IIR_CTI;
    }
    if (ier & IER_ETBEI && this.thrInterruptPending) return IIR_THRE;
    if (ier & IER_EDSSI && this.msrDeltas) return IIR_MSR;
    return IIR_NO_INTERRUPT;
  }

  private updateIrq(): void {
    // OUT2 gates INTR onto the bus; loopback forces the OUT2 pin inactive, disconnecting it.
    const gate = (this.mcr & (MCR_OUT2 | MCR_LOOP)) === MCR_OUT2;
    this.irq.set(gate && this.interruptId() !== IIR_NO_INTERRUPT);
  }

  // ---- Stateful ----

  /** Master reset (datasheet Table III): divisor, SCR and RBR keep their contents; pending output is kept. */
  reset(): void {
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.fifoEnabled = false;
    this.triggerLevel = 1;
    this.lsrErrors = 0;
    this.clearRx();
    this.thrInterruptPending = false;
    this.msrDeltas = 0;
    this.updateIrq();
  }

  saveState(): DeviceState {
    return {
      dll: this.dll,
      dlm: this.dlm,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      fifoEnabled: this.fifoEnabled,
      triggerLevel: this.triggerLevel,
      lsrErrors: this.lsrErrors,
      rxData: this.rxData.slice(),
      rxErrors: this.rxErrors.slice(),
      rxHead: this.rxHead,
      rxCount: this.rxCount,
      lastRbr: this.lastRbr,
      thrInterruptPending: this.thrInterruptPending,
      timeoutPending: this.timeoutPending,
      timeoutDeadline: this.timeoutDeadline,
      msrDeltas: this.msrDeltas,
      modemInputs: this.modemInputs,
      output: this.output.slice(0, this.outputLength),
    };
  }

  loadState(state: DeviceState): void {
    const byte = (field: string, mask = 0xff): number => {
      const v = stateNumber(state, field);
      if (!Number.isInteger(v) || (v & ~mask) !== 0)
        throw new Error(`state field '${field}' is out of range`);
      return v;
    };
    const dll = byte('dll');
    const dlm = byte('dlm');
    const ier = byte('ier', 0x0f);
    const lcr = byte('lcr');
    const mcr = byte('mcr', 0x1f);
    const scr = byte('scr');
    const fifoEnabled = stateBoolean(state, 'fifoEnabled');
    const triggerLevel = stateNumber(state, 'triggerLevel');
    if (!TRIGGER_LEVELS.includes(triggerLevel))
      throw new Error("state field 'triggerLevel' is not 1, 4, 8 or 14");
    const lsrErrors = byte('lsrErrors', LSR_ERRORS);
    const rxData = stateBytes(state, 'rxData', FIFO_SIZE);
    const rxErrors = stateBytes(state, 'rxErrors', FIFO_SIZE);
    const rxHead = byte('rxHead', FIFO_SIZE - 1);
    const rxCount = stateNumber(state, 'rxCount');
    if (!Number.isInteger(rxCount) || rxCount < 0 || rxCount > (fifoEnabled ? FIFO_SIZE : 1)) {
      throw new Error("state field 'rxCount' is out of range");
    }
    const lastRbr = byte('lastRbr');
    const thrInterruptPending = stateBoolean(state, 'thrInterruptPending');
    const timeoutPending = stateBoolean(state, 'timeoutPending');
    const timeoutDeadline = stateNumber(state, 'timeoutDeadline');
    if (timeoutDeadline < 0 && timeoutDeadline !== -1)
      throw new Error("state field 'timeoutDeadline' is negative");
    const msrDeltas = byte('msrDeltas', 0x0f);
    const modemInputs = byte('modemInputs', MSR_LINES);
    const output = stateBytes(state, 'output');

    this.dll = dll;
    this.dlm = dlm;
    this.ier = ier;
    this.lcr = lcr;
    this.mcr = mcr;
    this.scr = scr;
    this.fifoEnabled = fifoEnabled;
    this.triggerLevel = triggerLevel;
    this.lsrErrors = lsrErrors;
    this.rxData.set(rxData);
    this.rxErrors.set(rxErrors);
    this.rxHead = rxHead;
    this.rxCount = rxCount;
    this.lastRbr = lastRbr;
    this.thrInterruptPending = thrInterruptPending;
    this.timeoutPending = timeoutPending;
    this.timeoutDeadline = timeoutDeadline;
    this.msrDeltas = msrDeltas;
    this.modemInputs = modemInputs;
    this.output = new Uint8Array(Math.max(256, output.length));
    this.output.set(output);
    this.outputLength = output.length;
    this.updateIrq();
    this.timers.reschedule(this, this.timeoutDeadline >= 0 ? this.timeoutDeadline : Infinity);
  }
}
