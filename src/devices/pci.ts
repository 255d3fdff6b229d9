/**
 * PCI bus 0 with configuration mechanism #1, and the two chipset functions every PC-compatible PCI board has.
 *
 * Follows the PCI Local Bus Specification 2.1, section 3.7.4.1 (configuration mechanism #1: CONFIG_ADDRESS at
 * 0xCF8, CONFIG_DATA at 0xCFC-0xCFF) and chapter 6 (the type 0 configuration header: IDs, command/status, BARs
 * sized by writing all ones, interrupt line/pin). The functions model the Intel 82441FX PMC (i440FX host
 * bridge, 00:00.0) and the Intel 82371SB PIIX3 ISA bridge (function 0, 00:01.0), per their datasheets'
 * register tables; their chipset registers are stored and read back but not acted upon (RAM is flat, so PAM
 * shadowing has nothing to do). The PIIX3 Reset Control register at 0xCF9 is decoded here too.
 *
 * Configuration space belongs to the bus: PciBus.saveState carries every attached function's 256 bytes, so a
 * PCI device only saves its own device state (and the machine loads the bus before such devices).
 */

import { stateNumber, type DeviceState, type IoDevice, type Stateful } from './device.ts';

export const PCI_CONFIG_ADDRESS = 0xcf8;
export const PIIX_RESET_CONTROL = 0xcf9;
export const PCI_CONFIG_DATA = 0xcfc;

/** CONFIG_ADDRESS fields. */
const ADDRESS_ENABLE = 0x80000000;
/** Bits 30-24 are reserved and bits 1-0 read as 0. */
const ADDRESS_WRITABLE = 0x80fffffc;

/** Type 0 configuration header offsets. */
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_PROG_IF = 0x09;
export const PCI_SUBCLASS = 0x0a;
export const PCI_CLASS = 0x0b;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BAR0 = 0x10;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;

export const PCI_COMMAND_IO = 0x0001;
export const PCI_COMMAND_MEMORY = 0x0002;
export const PCI_COMMAND_MASTER = 0x0004;
export const PCI_COMMAND_PARITY = 0x0040;
export const PCI_COMMAND_SERR = 0x0100;
export const PCI_COMMAND_INTX_DISABLE = 0x0400;
/** Status bits cleared by writing 1: parity detected, SERR, master/target aborts, data parity. */
const PCI_STATUS_WRITE_ONE_TO_CLEAR = 0xf900;
export const PCI_HEADER_MULTIFUNCTION = 0x80;

const BAR_IO_SPACE = 0x01;
const BAR_MEM_PREFETCHABLE = 0x08;

/** PIIX3 Reset Control bits: SRST selects a hard reset, RCPU (0 -> 1) performs it. */
const RC_SYSTEM_RESET = 0x02;
const RC_RESET_CPU = 0x04;

export interface PciIdentity {
  vendorId: number;
  deviceId: number;
  revision?: number;
  /** Base class, subclass and programming interface. */
  classCode: number;
  subclass: number;
  progIf?: number;
  headerType?: number;
  /** 0 = none, 1-4 = INTA#-INTD#. */
  interruptPin?: number;
  command?: number;
  status?: number;
}

/** One PCI function: a 256-byte configuration space with per-bit write masks. */
export class PciFunction {
  readonly name: string;
  protected readonly config = new Uint8Array(256);
  /** Configuration space after reset. */
  private readonly initial = new Uint8Array(256);
  /** Bits software may change. */
  private readonly writable = new Uint8Array(256);
  /** Bits that a 1 written clears (status errors). */
  private readonly writeOneToClear = new Uint8Array(256);

  constructor(name: string, id: PciIdentity) {
    this.name = name;
    this.setInitial(PCI_VENDOR_ID, 2, id.vendorId);
    this.setInitial(PCI_DEVICE_ID, 2, id.deviceId);
    this.setInitial(PCI_COMMAND, 2, id.command ?? 0);
    this.setInitial(PCI_STATUS, 2, id.status ?? 0);
    this.setInitial(PCI_REVISION_ID, 1, id.revision ?? 0);
    this.setInitial(PCI_PROG_IF, 1, id.progIf ?? 0);
    this.setInitial(PCI_SUBCLASS, 1, id.subclass);
    this.setInitial(PCI_CLASS, 1, id.classCode);
    this.setInitial(PCI_HEADER_TYPE, 1, id.headerType ?? 0);
    this.setInitial(PCI_INTERRUPT_PIN, 1, id.interruptPin ?? 0);
    this.setWritable(PCI_COMMAND, 2, 0x0547); // I/O, memory, master, parity, SERR, INTx disable
    this.setWritable(PCI_CACHE_LINE_SIZE, 1, 0xff);
    this.setWritable(PCI_LATENCY_TIMER, 1, 0xff);
    this.setWritable(PCI_INTERRUPT_LINE, 1, 0xff);
    this.writeOneToClear[PCI_STATUS] = PCI_STATUS_WRITE_ONE_TO_CLEAR & 0xff;
    this.writeOneToClear[PCI_STATUS + 1] = PCI_STATUS_WRITE_ONE_TO_CLEAR >> 8;
    this.config.set(this.initial);
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.config[(offset + i) & 0xff] << (8 * i);
    return value >>> 0;
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    for (let i = 0; i < size; i++) {
      const at = (offset + i) & 0xff;
      const byte = (value >>> (8 * i)) & 0xff;
      const mask = this.writable[at];
      this.config[at] = ((this.config[at] & ~mask) | (byte & mask)) & ~(byte & this.writeOneToClear[at]);
    }
    this.configWritten(offset & 0xff, size);
  }

  /** The base address programmed into BAR `index`, without its type bits. */
  barAddress(index: number): number {
    const raw = this.readConfig(PCI_BAR0 + index * 4, 4);
    return (raw & BAR_IO_SPACE ? raw & ~0x3 : raw & ~0xf) >>> 0;
  }

  get command(): number {
    return this.readConfig(PCI_COMMAND, 2);
  }

  resetConfig(): void {
    this.config.set(this.initial);
  }

  saveConfig(): Uint8Array {
    return this.config.slice();
  }

  /** Throws unless `config` is a configuration space saved from this kind of function. */
  checkConfig(config: Uint8Array, field: string): void {
    if (config.length !== 256)
      throw new Error(`state field '${field}' has ${config.length} bytes, expected 256`);
    for (const at of [0, 1, 2, 3, PCI_HEADER_TYPE]) {
      if (config[at] !== this.initial[at])
        throw new Error(`state field '${field}' is not the state of ${this.name}`);
    }
  }

  /** Restores a saved configuration space; refuses one saved from a different device. */
  loadConfig(config: Uint8Array, field: string): void {
    this.checkConfig(config, field);
    this.config.set(config);
  }

  /** Called after every configuration write, for functions that act on their registers. */
  protected configWritten(_offset: number, _size: number): void {}

  /** Declares BAR `index` decoding `size` bytes (a power of two) of I/O or memory space. */
  protected defineBar(index: number, size: number, kind: 'io' | 'memory', prefetchable = false): void {
    const minimum = kind === 'io' ? 4 : 16;
    if (index < 0 || index > 5 || size < minimum || (size & (size - 1)) !== 0 || size > 0x80000000) {
      throw new Error(`${this.name}: BAR ${index} of ${size} bytes is not valid`);
    }
    const offset = PCI_BAR0 + index * 4;
    const typeBits = kind === 'io' ? BAR_IO_SPACE : prefetchable ? BAR_MEM_PREFETCHABLE : 0;
    // Address bits below the size are hardwired 0, so writing all ones reads back the size.
    this.setWritable(offset, 4, ~(size - 1) & (kind === 'io' ? ~0x3 : ~0xf));
    this.setInitial(offset, 4, typeBits);
    this.config.set(this.initial.subarray(offset, offset + 4), offset);
  }

  protected setInitial(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) this.initial[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  protected setWritable(offset: number, size: number, mask: number): void {
    for (let i = 0; i < size; i++) this.writable[offset + i] = (mask >>> (8 * i)) & 0xff;
  }
}

/** Intel 82441FX PCI and memory controller (i440FX host bridge). */
export class I440fxHostBridge extends PciFunction {
  constructor() {
    super('i440fx', {
      vendorId: 0x8086,
      deviceId: 0x1237,
      revision: 0x02,
      classCode: 0x06,
      subclass: 0x00,
      command: PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
      status: 0x0280, // fast back-to-back capable, medium DEVSEL timing
    });
    // Chipset registers (PMCCFG, DRAM rows, PAM0-6, SMRAM, ...) read back what the BIOS writes.
    for (let at = 0x40; at < 0x100; at += 4) this.setWritable(at, 4, 0xffffffff);
    this.setInitial(0x72, 1, 0x02); // SMRAM: C_BASE_SEG = 010b (0xA0000)
    this.resetConfig();
  }
}

/** Intel 82371SB PIIX3 function 0: the PCI-to-ISA bridge. Multi-function, as IDE/USB sit at 1.1/1.2. */
export class Piix3IsaBridge extends PciFunction {
  constructor() {
    super('piix3-isa', {
      vendorId: 0x8086,
      deviceId: 0x7000,
      revision: 0x00,
      classCode: 0x06,
      subclass: 0x01,
      headerType: PCI_HEADER_MULTIFUNCTION,
      command: PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
      status: 0x0200, // medium DEVSEL timing
    });
    for (let at = 0x40; at < 0x100; at += 4) this.setWritable(at, 4, 0xffffffff);
    this.setInitial(0x4c, 1, 0x4d); // IORT: ISA I/O recovery timer
    this.setInitial(0x4e, 2, 0x0003); // XBCS: RTC and keyboard controller decode enabled
    this.setInitial(0x60, 4, 0x80808080); // PIRQRC A-D: routing disabled
    this.setInitial(0x69, 1, 0x02); // TOM: top of memory 1 MiB
    this.setInitial(0x70, 2, 0x8080); // MBIRQ0/1: disabled
    this.setInitial(0x76, 2, 0x0c0c); // MBDMA0/1: disabled
    this.resetConfig();
  }

  /** The ISA IRQ that PIRQ line 0-3 (A-D) is routed to, or null while routing is disabled. */
  pirqRoute(line: number): number | null {
    const value = this.config[0x60 + (line & 3)];
    return value & 0x80 ? null : value & 0x0f;
  }
}

export interface PciBusOptions {
  /** The PIIX3 Reset Control register asked for a reset (0xCF9 with RCPU set). */
  onResetRequest?: () => void;
}

export class PciBus implements IoDevice, Stateful {
  readonly name = 'pci';
  readonly portRanges = [{ start: PCI_CONFIG_ADDRESS, length: 8 }];
  private address = 0;
  private resetControl = 0;
  /** Bus 0 functions, indexed by device * 8 + function. */
  private readonly slots: Array<PciFunction | undefined> = new Array<PciFunction | undefined>(256);
  private readonly onResetRequest: () => void;

  constructor(options: PciBusOptions = {}) {
    this.onResetRequest = options.onResetRequest ?? (() => {});
  }

  /** Places a function at 00:device.fn. */
  attach(device: number, fn: number, pciFunction: PciFunction): void {
    if (!Number.isInteger(device) || device < 0 || device > 31 || !Number.isInteger(fn) || fn < 0 || fn > 7) {
      throw new Error(`pci: no slot ${device}.${fn}`);
    }
    const other = this.slots[device * 8 + fn];
    if (other) throw new Error(`pci: slot 00:${slotName(device * 8 + fn)} holds '${other.name}' already`);
    this.slots[device * 8 + fn] = pciFunction;
  }

  functionAt(device: number, fn: number): PciFunction | undefined {
    return this.slots[(device & 31) * 8 + (fn & 7)];
  }

  reset(): void {
    this.address = 0;
    this.resetControl = 0;
    for (const f of this.slots) f?.resetConfig();
  }

  read8(port: number): number {
    if (port >= PCI_CONFIG_DATA) return this.readData(port, 1);
    // Byte and word cycles to 0xCF8-0xCFB are not CONFIG_ADDRESS; of them only 0xCF9 decodes.
    return port === PIIX_RESET_CONTROL ? this.resetControl : 0xff;
  }

  write8(port: number, value: number): void {
    if (port >= PCI_CONFIG_DATA) this.writeData(port, 1, value);
    else if (port === PIIX_RESET_CONTROL) {
      this.resetControl = value & RC_SYSTEM_RESET; // RCPU is self-clearing.
      if (value & RC_RESET_CPU) this.onResetRequest();
    }
  }

  read16(port: number): number {
    if (port === PCI_CONFIG_DATA || port === PCI_CONFIG_DATA + 2) return this.readData(port, 2);
    return this.read8(port) | (this.read8(port + 1) << 8);
  }

  write16(port: number, value: number): void {
    if (port === PCI_CONFIG_DATA || port === PCI_CONFIG_DATA + 2) this.writeData(port, 2, value);
    else {
      this.write8(port, value & 0xff);
      this.write8(port + 1, (value >>> 8) & 0xff);
    }
  }

  read32(port: number): number {
    if (port === PCI_CONFIG_ADDRESS) return this.address | 0;
    if (port === PCI_CONFIG_DATA) return this.readData(port, 4) | 0;
    return this.read16(port) | (this.read16(port + 2) << 16) | 0;
  }

  write32(port: number, value: number): void {
    if (port === PCI_CONFIG_ADDRESS) this.address = (value & ADDRESS_WRITABLE) >>> 0;
    else if (port === PCI_CONFIG_DATA) this.writeData(port, 4, value);
    else {
      this.write16(port, value & 0xffff);
      this.write16(port + 2, value >>> 16);
    }
  }

  saveState(): DeviceState {
    const functions: DeviceState = {};
    this.slots.forEach((f, slot) => {
      if (f) functions[slotName(slot)] = f.saveConfig();
    });
    return { address: this.address, resetControl: this.resetControl, functions };
  }

  loadState(state: DeviceState): void {
    const address = stateNumber(state, 'address');
    if (!Number.isInteger(address) || address < 0 || (address & ~ADDRESS_WRITABLE) !== 0) {
      throw new Error("state field 'address' is not a CONFIG_ADDRESS value");
    }
    const resetControl = stateNumber(state, 'resetControl');
    if ((resetControl & ~RC_SYSTEM_RESET) !== 0)
      throw new Error("state field 'resetControl' has reserved bits");
    const functions = state.functions;
    if (
      typeof functions !== 'object' ||
      functions === null ||
      Array.isArray(functions) ||
      ArrayBuffer.isView(functions)
    ) {
      throw new Error("state field 'functions' is not an object");
    }
    const saved = functions as DeviceState;
    const attached = this.slots.flatMap((f, slot) => (f ? [slotName(slot)] : []));
    for (const name of Object.keys(saved)) {
      if (!attached.includes(name))
        throw new Error(`state field 'functions.${name}' has no function on this bus`);
    }
    const configs = attached.map((name) => {
      const config = saved[name];
      if (!(config instanceof Uint8Array))
        throw new Error(`state field 'functions.${name}' is not a byte array`);
      return config;
    });
    const functionsAttached = this.slots.filter((f) => f !== undefined);
    // Check every function's identity before changing any of them.
    functionsAttached.forEach((f, i) => f.checkConfig(configs[i], `functions.${attached[i]}`));
    functionsAttached.forEach((f, i) => f.loadConfig(configs[i], `functions.${attached[i]}`));
    this.address = address;
    this.resetControl = resetControl;
  }

  /** The function CONFIG_ADDRESS selects, or undefined (disabled, another bus, or an empty slot). */
  private selected(): PciFunction | undefined {
    if (!(this.address & ADDRESS_ENABLE)) return undefined;
    if ((this.address >>> 16) & 0xff) return undefined; // Bus 0 only: there are no PCI-to-PCI bridges.
    return this.slots[(this.address >>> 8) & 0xff];
  }

  private readData(port: number, size: 1 | 2 | 4): number {
    const f = this.selected();
    // Nobody claims the cycle: the master aborts and the host bridge returns all ones.
    if (!f) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    return f.readConfig((this.address & 0xfc) + (port & 3), size);
  }

  private writeData(port: number, size: 1 | 2 | 4, value: number): void {
    this.selected()?.writeConfig((this.address & 0xfc) + (port & 3), size, value);
  }
}

/** "dd.f" for slot device * 8 + function. */
function slotName(slot: number): string {
  return `${(slot >> 3).toString(16).padStart(2, '0')}.${slot & 7}`;
}
