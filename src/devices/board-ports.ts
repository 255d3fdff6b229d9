/**
 * Small single-port board devices.
 *
 * - FastA20Port, 0x92: "System Control Port A" of the IBM PS/2 Hardware Interface Technical Reference
 *   (bit 0 alternate hot reset, bit 1 alternate A20 gate, bit 3 security lock latch, bits 6-7 disk activity
 *   light), as chipsets such as the PIIX3 still decode it.
 * - PostCodePort, 0x80: the POST diagnostic port that POST cards latch (the unused DMA page register slot).
 * - DebugConsolePort, 0xE9: the Bochs "port E9 hack" debug console; a read returns 0xE9 so guests can probe it.
 * - DebugExitPort, 0xF4-0xF7: QEMU's isa-debug-exit device configured as `iobase=0xf4,iosize=0x04`, the
 *   usual way test kernels end a run with a status.
 */

import { stateNumber, type DeviceState, type IoDevice, type Stateful } from './device.ts';

export const PORT_SYSTEM_CONTROL_A = 0x92;
export const PORT_POST_CODE = 0x80;
export const PORT_DEBUG_CONSOLE = 0xe9;
export const PORT_DEBUG_EXIT = 0xf4;

/** System Control Port A bits. */
export const SCPA_FAST_RESET = 0x01; // 0 -> 1 resets the CPU
export const SCPA_A20 = 0x02;
export const SCPA_LOCK = 0x08; // security lock latch (stored only)

export interface FastA20PortOptions {
  /** Bit 1 changed; the board ORs it with the 8042's A20 output. */
  onA20?: (enabled: boolean) => void;
  onResetRequest?: () => void;
}

/** Port 0x92, System Control Port A ("fast A20 and reset"). */
export class FastA20Port implements IoDevice, Stateful {
  readonly name = 'port92';
  readonly portRanges = [{ start: PORT_SYSTEM_CONTROL_A, length: 1 }];
  private value = 0;
  private readonly onA20: (enabled: boolean) => void;
  private readonly onResetRequest: () => void;

  constructor(options: FastA20PortOptions = {}) {
    this.onA20 = options.onA20 ?? (() => {});
    this.onResetRequest = options.onResetRequest ?? (() => {});
  }

  get a20(): boolean {
    return (this.value & SCPA_A20) !== 0;
  }

  reset(): void {
    this.value = 0; // A20 gated off and no reset pending after power-on.
  }

  read8(): number {
    return this.value;
  }

  write8(_port: number, value: number): void {
    const old = this.value;
    this.value = value & 0xff;
    if ((old ^ value) & SCPA_A20) this.onA20((value & SCPA_A20) !== 0);
    // The reset fires on the rising edge of bit 0: software that leaves the bit set does not reset again.
    if (value & SCPA_FAST_RESET && !(old & SCPA_FAST_RESET)) this.onResetRequest();
  }

  saveState(): DeviceState {
    return { value: this.value };
  }

  loadState(state: DeviceState): void {
    this.value = byteField(state, 'value');
  }
}

export interface PostCodePortOptions {
  /** How many past codes `history()` keeps (0 = none). */
  historyLength?: number;
  /** Called with every code written. */
  onCode?: (code: number) => void;
}

/** Port 0x80, the POST code latch. Reads return the last code, as POST cards with read-back do. */
export class PostCodePort implements IoDevice, Stateful {
  readonly name = 'post-code';
  readonly portRanges = [{ start: PORT_POST_CODE, length: 1 }];
  private lastCode = 0;
  private codes: number[] = [];
  private readonly historyLength: number;
  private readonly onCode: (code: number) => void;

  constructor(options: PostCodePortOptions = {}) {
    this.historyLength = options.historyLength ?? 0;
    if (!Number.isInteger(this.historyLength) || this.historyLength < 0) {
      throw new Error(`post-code: history length ${this.historyLength} is not a count`);
    }
    this.onCode = options.onCode ?? (() => {});
  }

  get code(): number {
    return this.lastCode;
  }

  /** The last `historyLength` codes, oldest first. */
  history(): number[] {
    return this.codes.slice();
  }

  reset(): void {
    this.lastCode = 0;
    this.codes = [];
  }

  read8(): number {
    return this.lastCode;
  }

  write8(_port: number, value: number): void {
    this.lastCode = value & 0xff;
    if (this.historyLength > 0) {
      this.codes.push(this.lastCode);
      if (this.codes.length > this.historyLength) this.codes.shift();
    }
    this.onCode(this.lastCode);
  }

  saveState(): DeviceState {
    return { lastCode: this.lastCode, history: Uint8Array.from(this.codes) };
  }

  loadState(state: DeviceState): void {
    const lastCode = byteField(state, 'lastCode');
    const history = state.history;
    if (!(history instanceof Uint8Array)) throw new Error("state field 'history' is not a byte array");
    this.lastCode = lastCode;
    this.codes = Array.from(history.subarray(Math.max(0, history.length - this.historyLength)));
  }
}

/** Port 0xE9, the Bochs/QEMU debug console: each byte written goes to the sink. */
export class DebugConsolePort implements IoDevice, Stateful {
  readonly name = 'debug-console';
  readonly portRanges = [{ start: PORT_DEBUG_CONSOLE, length: 1 }];

  constructor(private readonly sink: (byte: number) => void) {}

  reset(): void {}

  /** Bochs answers reads with 0xE9, which guests use to detect the console. */
  read8(): number {
    return PORT_DEBUG_CONSOLE;
  }

  write8(_port: number, value: number): void {
    this.sink(value & 0xff);
  }

  saveState(): DeviceState {
    return {};
  }

  loadState(): void {}
}

/**
 * Ports 0xF4-0xF7, QEMU's isa-debug-exit: a guest write of value v ends the run with exit status
 * (v << 1) | 1. The status is always odd, so a guest can never fake a clean exit 0; QEMU hands it to exit(),
 * where the host truncates it to 8 bits (v = 0x10 gives 33). `onExit` receives the untruncated status; the
 * access width decides how many bits of v count (a byte write to any of the four ports, or a word/dword write
 * at 0xF4). Reads return 0xFF: the device decodes writes only.
 */
export class DebugExitPort implements IoDevice, Stateful {
  readonly name = 'debug-exit';
  readonly portRanges = [{ start: PORT_DEBUG_EXIT, length: 4 }];

  constructor(private readonly onExit: (status: number) => void) {}

  reset(): void {}

  read8(): number {
    return 0xff;
  }

  write8(_port: number, value: number): void {
    this.exit(value & 0xff);
  }

  write16(_port: number, value: number): void {
    this.exit(value & 0xffff);
  }

  write32(_port: number, value: number): void {
    this.exit(value >>> 0);
  }

  saveState(): DeviceState {
    return {};
  }

  loadState(): void {}

  private exit(value: number): void {
    // A float keeps the 33-bit status of a dword write exact, where (v << 1) would wrap in 32 bits.
    this.onExit(value * 2 + 1);
  }
}

function byteField(state: DeviceState, field: string): number {
  const v = stateNumber(state, field);
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new Error(`state field '${field}' is not a byte`);
  return v;
}
