/**
 * The PC/AT ISA DMA subsystem: two Intel 8237A controllers plus the 74LS612 page register file.
 * Follows the Intel 8237A High Performance Programmable DMA Controller datasheet (register and mode tables)
 * and the IBM PC/AT Technical Reference "DMA Controller" section (port map, cascade, 16-bit channels).
 *
 * - DMA1 (channels 0-3, byte transfers) at 0x00-0x0F.
 * - DMA2 (channels 4-7, word transfers) at 0xC0-0xDF: its registers sit on even ports (A0 is not wired,
 *   so each odd port aliases the even one below it). Channel 4 cascades DMA1, so masking channel 4 or
 *   disabling DMA2 also blocks channels 0-3.
 * - Page registers at 0x81-0x8F: this device owns them. Port 0x80 is also a page-file scratch register on
 *   real boards, but every BIOS writes its POST codes there, so the board (POST-code port) owns 0x80.
 *
 * Devices do not wiggle DREQ lines: when ready they call `transfer()`, which moves as many bytes as the
 * device offers and the channel allows, in the direction the guest programmed in the mode register.
 * Single, block and demand modes differ only in when the 8237 gives the bus back to the CPU; with no bus
 * contention modelled they move the same bytes, so all three are handled alike. Cascade channels refuse.
 */
import type { DeviceState, IoDevice, PortRange, Stateful } from './device.ts';
import { stateBytes, stateNumber } from './device.ts';
import type { PhysicalMemory } from '../cpu/memory.ts';

/** What a DMA-using device (the floppy controller) sees of the DMA subsystem. */
export interface IsaDma {
  /**
   * Moves up to `length` bytes between `buffer[offset ...]` and memory on `channel`. `toMemory` is the
   * device's view (true: the device supplies data). Returns the bytes moved; fewer than `length` means the
   * channel hit terminal count or was masked (see `reachedTerminalCount`).
   */
  transfer(channel: number, buffer: Uint8Array, offset: number, length: number, toMemory: boolean): number;
  /** True when the last `transfer` on `channel` ended at terminal count (the TC pin the device sees). */
  reachedTerminalCount(channel: number): boolean;
}

// Register indexes within one controller (ports 0x00-0x0F on DMA1; doubled on DMA2).
export const DMA_REG_STATUS_COMMAND = 0x08;
export const DMA_REG_REQUEST = 0x09;
export const DMA_REG_SINGLE_MASK = 0x0a;
export const DMA_REG_MODE = 0x0b;
export const DMA_REG_CLEAR_FLIPFLOP = 0x0c;
export const DMA_REG_TEMP_MASTER_CLEAR = 0x0d;
export const DMA_REG_CLEAR_MASK = 0x0e;
export const DMA_REG_ALL_MASK = 0x0f;

// Mode register (datasheet "Mode Register"): bits 1-0 select the channel.
export const DMA_MODE_TYPE_MASK = 0x0c;
export const DMA_MODE_VERIFY = 0x00;
/** "Write transfer": I/O device to memory. */
export const DMA_MODE_WRITE = 0x04;
/** "Read transfer": memory to I/O device. */
export const DMA_MODE_READ = 0x08;
export const DMA_MODE_AUTOINIT = 0x10;
export const DMA_MODE_DECREMENT = 0x20;
export const DMA_MODE_SELECT_MASK = 0xc0;
export const DMA_MODE_DEMAND = 0x00;
export const DMA_MODE_SINGLE = 0x40;
export const DMA_MODE_BLOCK = 0x80;
export const DMA_MODE_CASCADE = 0xc0;

/** Command register bit 2: controller disable. The other bits (memory-to-memory, timing) are not modelled. */
export const DMA_CMD_DISABLE = 0x04;

/** Page register port for each channel 0-7 (PC/AT wiring: 0x87, 0x83, 0x81, 0x82, -, 0x8B, 0x89, 0x8A). */
export const DMA_PAGE_PORTS: readonly number[] = [0x87, 0x83, 0x81, 0x82, 0x8f, 0x8b, 0x89, 0x8a];

const PAGE_BASE = 0x80;
const CHANNELS = 8;

export class Dma8237 implements IoDevice, Stateful, IsaDma {
  readonly name = 'dma8237';
  readonly portRanges: readonly PortRange[] = [
    { start: 0x00, length: 16 },
    { start: PAGE_BASE + 1, length: 15 },
    { start: 0xc0, length: 32 },
  ];

  // Per channel (0-7). "Base" registers are reloaded into "current" by auto-initialize.
  private baseAddress = new Uint16Array(CHANNELS);
  private currentAddress = new Uint16Array(CHANNELS);
  private baseCount = new Uint16Array(CHANNELS);
  private currentCount = new Uint16Array(CHANNELS);
  private mode = new Uint8Array(CHANNELS);
  /** Page register file indexed by port - 0x80 (index 0 unused: the board owns port 0x80). */
  private page = new Uint8Array(16);
  // Per controller (0 = DMA1, 1 = DMA2); 4-bit fields indexed by channel & 3.
  private command = new Uint8Array(2);
  private mask = new Uint8Array(2);
  private request = new Uint8Array(2);
  /** Status register bits 3-0: terminal count reached since the status was last read. */
  private terminalCount = new Uint8Array(2);
  /** The byte pointer flip-flop: 0 = next address/count access is the low byte. */
  private flipFlop = new Uint8Array(2);
  /** Channels (bit per channel) whose last transfer() ended at terminal count. */
  private tcLatch = 0;

  constructor(private readonly memory: PhysicalMemory) {
    this.reset();
  }

  reset(): void {
    this.baseAddress.fill(0);
    this.currentAddress.fill(0);
    this.baseCount.fill(0);
    this.currentCount.fill(0);
    this.mode.fill(0);
    this.page.fill(0);
    this.tcLatch = 0;
    this.masterClear(0);
    this.masterClear(1);
  }

  /** Master clear (and hardware reset): command, status, request and flip-flop cleared, all channels masked. */
  private masterClear(ctrl: number): void {
    this.command[ctrl] = 0;
    this.request[ctrl] = 0;
    this.terminalCount[ctrl] = 0;
    this.flipFlop[ctrl] = 0;
    this.mask[ctrl] = 0x0f;
  }

  read8(port: number): number {
    if (port > PAGE_BASE && port < PAGE_BASE + 16) return this.page[port - PAGE_BASE];
    const ctrl = port >= 0xc0 ? 1 : 0;
    const reg = ctrl ? ((port - 0xc0) >> 1) & 0x0f : port & 0x0f;
    if (reg < 8) {
      const channel = ctrl * 4 + (reg >> 1);
      const value = reg & 1 ? this.currentCount[channel] : this.currentAddress[channel];
      return this.toggleFlipFlop(ctrl) ? value >> 8 : value & 0xff;
    }
    switch (reg) {
      case DMA_REG_STATUS_COMMAND: {
        // Reading the status clears the terminal count bits (datasheet "Status Register").
        const status = this.terminalCount[ctrl] | (this.request[ctrl] << 4);
        this.terminalCount[ctrl] = 0;
        return status;
      }
      case DMA_REG_TEMP_MASTER_CLEAR:
        return 0; // temporary register: only memory-to-memory transfers load it
      case DMA_REG_ALL_MASK:
        // Not readable on the original 8237A; PC chipsets (PIIX and later) return the mask bits here.
        return this.mask[ctrl] | 0xf0;
      default:
        return 0xff; // write-only registers
    }
  }

  write8(port: number, value: number): void {
    value &= 0xff;
    if (port > PAGE_BASE && port < PAGE_BASE + 16) {
      this.page[port - PAGE_BASE] = value;
      return;
    }
    const ctrl = port >= 0xc0 ? 1 : 0;
    const reg = ctrl ? ((port - 0xc0) >> 1) & 0x0f : port & 0x0f;
    if (reg < 8) {
      const channel = ctrl * 4 + (reg >> 1);
      // Writing the base register writes the current register too (datasheet "Base and Current Registers").
      const [base, current] =
        reg & 1 ? [this.baseCount, this.currentCount] : [this.baseAddress, this.currentAddress];
      const high = this.toggleFlipFlop(ctrl);
      const word = high ? (base[channel] & 0x00ff) | (value << 8) : (base[channel] & 0xff00) | value;
      base[channel] = word;
      current[channel] = word;
      return;
    }
    const select = value & 3;
    switch (reg) {
      case DMA_REG_STATUS_COMMAND:
        this.command[ctrl] = value;
        break;
      case DMA_REG_REQUEST:
        // Software DREQ. Without memory-to-memory mode it moves nothing; it shows in the status bits.
        if (value & 4) this.request[ctrl] |= 1 << select;
        else this.request[ctrl] &= ~(1 << select);
        break;
      case DMA_REG_SINGLE_MASK:
        if (value & 4) this.mask[ctrl] |= 1 << select;
        else this.mask[ctrl] &= ~(1 << select);
        break;
      case DMA_REG_MODE:
        this.mode[ctrl * 4 + select] = value & 0xfc;
        break;
      case DMA_REG_CLEAR_FLIPFLOP:
        this.flipFlop[ctrl] = 0;
        break;
      case DMA_REG_TEMP_MASTER_CLEAR:
        this.masterClear(ctrl);
        break;
      case DMA_REG_CLEAR_MASK:
        this.mask[ctrl] = 0;
        break;
      case DMA_REG_ALL_MASK:
        this.mask[ctrl] = value & 0x0f;
        break;
    }
  }

  /** Returns the flip-flop before toggling it: true means this access is the high byte. */
  private toggleFlipFlop(ctrl: number): boolean {
    const high = this.flipFlop[ctrl] !== 0;
    this.flipFlop[ctrl] = high ? 0 : 1;
    return high;
  }

  /** True when the channel can be granted the bus: unmasked, controller enabled, and (0-3) cascaded. */
  private channelReady(channel: number): boolean {
    const ctrl = channel >> 2;
    if (this.command[ctrl] & DMA_CMD_DISABLE || this.mask[ctrl] & (1 << (channel & 3))) return false;
    if ((this.mode[channel] & DMA_MODE_SELECT_MASK) === DMA_MODE_CASCADE) return false;
    // DMA1 reaches the bus only through DMA2 channel 4 (which the BIOS puts in cascade mode and unmasks).
    if (ctrl === 0 && (this.command[1] & DMA_CMD_DISABLE || this.mask[1] & 1)) return false;
    return true;
  }

  transfer(channel: number, buffer: Uint8Array, offset: number, length: number, toMemory: boolean): number {
    if (!Number.isInteger(channel) || channel < 0 || channel >= CHANNELS) {
      throw new RangeError(`DMA channel ${channel} does not exist`);
    }
    this.tcLatch &= ~(1 << channel);
    if (!this.channelReady(channel)) return 0;
    const ctrl = channel >> 2;
    const bit = 1 << (channel & 3);
    const mode = this.mode[channel];
    const type = mode & DMA_MODE_TYPE_MASK;
    const unit = ctrl ? 2 : 1; // DMA2 moves 16-bit words
    const step = mode & DMA_MODE_DECREMENT ? -1 : 1;
    const pageValue = this.page[DMA_PAGE_PORTS[channel] - PAGE_BASE];
    // 8-bit: page is A23-A16. 16-bit: the word address drives A16-A1, so the page's bit 0 is unused.
    const pageBase = ctrl ? (pageValue & 0xfe) << 16 : pageValue << 16;
    let moved = 0;
    let wroteMemory = false;
    while (moved + unit <= length) {
      const address = pageBase + (ctrl ? this.currentAddress[channel] << 1 : this.currentAddress[channel]);
      for (let i = 0; i < unit; i++) {
        const at = offset + moved + i;
        if (type === DMA_MODE_WRITE && toMemory) {
          this.memory.write8(address + i, buffer[at]);
          wroteMemory = true;
        } else if (type === DMA_MODE_READ && !toMemory) {
          buffer[at] = this.memory.read8(address + i);
        } else if (!toMemory) {
          // Verify cycles, or a direction the device did not expect: nobody drives the data bus.
          buffer[at] = 0xff;
        }
      }
      moved += unit;
      this.currentAddress[channel] = this.currentAddress[channel] + step;
      const count = this.currentCount[channel];
      this.currentCount[channel] = count - 1;
      if (count === 0) {
        // Terminal count: the count rolled over from 0 to 0xFFFF.
        this.terminalCount[ctrl] |= bit;
        this.request[ctrl] &= ~bit;
        this.tcLatch |= 1 << channel;
        if (mode & DMA_MODE_AUTOINIT) {
          this.currentAddress[channel] = this.baseAddress[channel];
          this.currentCount[channel] = this.baseCount[channel];
        } else {
          this.mask[ctrl] |= bit; // without auto-initialize the channel masks itself at TC
        }
        break;
      }
    }
    if (wroteMemory) this.memory.writeGeneration++;
    return moved;
  }

  reachedTerminalCount(channel: number): boolean {
    return (this.tcLatch & (1 << channel)) !== 0;
  }

  saveState(): DeviceState {
    return {
      baseAddress: this.baseAddress.slice(),
      currentAddress: this.currentAddress.slice(),
      baseCount: this.baseCount.slice(),
      currentCount: this.currentCount.slice(),
      mode: this.mode.slice(),
      page: this.page.slice(),
      command: this.command.slice(),
      mask: this.mask.slice(),
      request: this.request.slice(),
      terminalCount: this.terminalCount.slice(),
      flipFlop: this.flipFlop.slice(),
      tcLatch: this.tcLatch,
    };
  }

  loadState(state: DeviceState): void {
    const words = (field: string): Uint16Array => {
      const v = state[field];
      if (!(v instanceof Uint16Array) || v.length !== CHANNELS) {
        throw new Error(`state field '${field}' is not a Uint16Array of ${CHANNELS} words`);
      }
      return v;
    };
    const nibbles = (field: string): Uint8Array => {
      const v = stateBytes(state, field, 2);
      if (v.some((x) => x > 0x0f)) throw new Error(`state field '${field}' has bits above bit 3`);
      return v;
    };
    const baseAddress = words('baseAddress');
    const currentAddress = words('currentAddress');
    const baseCount = words('baseCount');
    const currentCount = words('currentCount');
    const mode = stateBytes(state, 'mode', CHANNELS);
    const page = stateBytes(state, 'page', 16);
    const command = stateBytes(state, 'command', 2);
    const mask = nibbles('mask');
    const request = nibbles('request');
    const terminalCount = nibbles('terminalCount');
    const flipFlop = stateBytes(state, 'flipFlop', 2);
    if (flipFlop.some((x) => x > 1)) throw new Error(`state field 'flipFlop' must hold 0 or 1`);
    const tcLatch = stateNumber(state, 'tcLatch');
    if (!Number.isInteger(tcLatch) || tcLatch < 0 || tcLatch > 0xff) {
      throw new Error(`state field 'tcLatch' is out of range`);
    }
    this.baseAddress.set(baseAddress);
    this.currentAddress.set(currentAddress);
    this.baseCount.set(baseCount);
    this.currentCount.set(currentCount);
    this.mode.set(mode);
    this.page.set(page);
    this.command.set(command);
    this.mask.set(mask);
    this.request.set(request);
    this.terminalCount.set(terminalCount);
    this.flipFlop.set(flipFlop);
    this.tcLatch = tcLatch;
  }
}
