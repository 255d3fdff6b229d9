/**
 * A headless VM for the guest-library tests: boots a guest from images/ the way the page does (BIOS plus the
 * medium buildBootMedia makes, or Multiboot), runs it in fixed slices, types on COM1 and collects COM1.
 *
 * Runs are deterministic: time is virtual, the RTC starts at RTC_TIME, and input is fed only between slices
 * of SLICE instructions. The BIOS's own serial mirror is off, so COM1 holds only what the guest printed.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, vi } from 'vitest';
import { createPc, type Pc, type PcConfig, type StopReason } from '../../src/machine/pc.ts';
import { installBios } from '../../src/machine/bios/index.ts';
import { bootMultiboot } from '../../src/machine/multiboot.ts';
import { MemoryBlockDevice } from '../../src/devices/block-device.ts';
import {
  buildBootMedia,
  findGuest,
  guestMachineConfig,
  parseGuestCatalog,
  type GuestImage,
} from '../../src/machine/guest-images.ts';

// Whole guests run in these tests: allow minutes (a busy machine runs the emulator far slower).
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

export const IMAGES_DIR = resolve(import.meta.dirname, '../../images');
export const GOLDEN_DIR = resolve(import.meta.dirname, 'golden');
export const catalog = parseGuestCatalog(JSON.parse(readFileSync(join(IMAGES_DIR, 'catalog.json'), 'utf8')));

/** The RTC's time at power-on in every test: 2026-03-14 15:09:00 UTC. */
export const RTC_TIME = Date.UTC(2026, 2, 14, 15, 9, 0);
/** Instructions per run slice; serial input and checks happen between slices. */
export const SLICE = 100_000;

export function guestBinary(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(IMAGES_DIR, findGuest(catalog, name).image)));
}

export interface SessionOptions {
  /** The boot medium's block device (to keep a disk across boots); built from the image when absent. */
  device?: MemoryBlockDevice;
  /** The binary to boot instead of the committed one (e.g. a patched copy). */
  binary?: Uint8Array;
}

export class GuestSession {
  readonly guest: GuestImage;
  readonly pc: Pc;
  /** The boot medium (floppy or disk guests). */
  readonly device: MemoryBlockDevice | null;
  /** Everything the guest sent on COM1, as latin1 text. */
  output = '';
  /** How the last run ended. */
  reason: StopReason = 'budget';
  private input: number[] = [];

  constructor(name: string, options: SessionOptions = {}) {
    this.guest = findGuest(catalog, name);
    const binary = options.binary ?? guestBinary(name);
    const config: PcConfig = {
      rtcTime: RTC_TIME,
      onSerialOutput: (com, bytes) => {
        if (com === 0) this.output += Buffer.from(bytes).toString('latin1');
      },
    };
    if (options.device) {
      this.device = options.device;
      config.memoryMiB = this.guest.memoryMiB;
      if (this.guest.boot === 'floppy') config.floppies = [options.device];
      else config.disks = [options.device];
    } else {
      Object.assign(config, guestMachineConfig(this.guest, buildBootMedia(this.guest, binary)));
      this.device = (config.floppies?.[0] ?? config.disks?.[0] ?? null) as MemoryBlockDevice | null;
    }
    this.pc = createPc(config);
    if (this.guest.boot === 'multiboot') bootMultiboot(this.pc, binary);
    else installBios(this.pc, { serialMirror: false });
  }

  /** Queues bytes for COM1; they enter the UART as its receive FIFO makes room. */
  type(text: string): void {
    for (let i = 0; i < text.length; i++) this.input.push(text.charCodeAt(i) & 0xff);
  }

  /** One slice: hand queued input to the UART, then run. */
  private slice(instructions: number): StopReason {
    if (this.input.length > 0) {
      const taken = this.pc.sendSerial(0, this.input.slice(0, 16));
      this.input.splice(0, taken);
    }
    this.reason = this.pc.run(instructions);
    return this.reason;
  }

  /** Runs `instructions` (in slices), or until the guest stops (idle, exit or reset). */
  run(instructions: number): StopReason {
    let left = instructions;
    while (left > 0) {
      const n = Math.min(SLICE, left);
      if (this.slice(n) !== 'budget') return this.reason;
      left -= n;
    }
    return this.reason;
  }

  /**
   * Runs until `done(newOutput)` holds for the output that arrived since the call (checked after each slice),
   * or the guest stops. Fails the test, showing the output's tail, after `limit` instructions.
   */
  runUntil(done: (fresh: string) => boolean, limit: number, what: string): string {
    const start = this.output.length;
    let left = limit;
    while (left > 0) {
      const reason = this.slice(Math.min(SLICE, left));
      left -= SLICE;
      const fresh = this.output.slice(start);
      if (this.input.length === 0 && done(fresh)) return fresh;
      if (reason !== 'budget') {
        throw new Error(
          `guest stopped (${reason}) while waiting for ${what}; output ends:\n${tail(this.output)}`,
        );
      }
    }
    throw new Error(`no ${what} after ${limit} instructions; output ends:\n${tail(this.output)}`);
  }

  /** Runs until the output since the call contains `text`. */
  waitFor(text: string, limit = 200_000_000): string {
    return this.runUntil((fresh) => fresh.includes(text), limit, JSON.stringify(text));
  }

  /** Runs until the guest stops by itself; returns why. */
  runToEnd(limit = 500_000_000): StopReason {
    let left = limit;
    while (left > 0) {
      if (this.slice(Math.min(SLICE, left)) !== 'budget') return this.reason;
      left -= SLICE;
    }
    throw new Error(`guest still running after ${limit} instructions; output ends:\n${tail(this.output)}`);
  }

  /** Presses and releases a key on the PS/2 keyboard (a DOM KeyboardEvent.code name). */
  pressKey(code: string): void {
    const keyboard = this.pc.keyboardController.keyboard;
    keyboard.keyDown(code);
    keyboard.keyUp(code);
  }

  /** The VGA text screen, trailing blank lines dropped. */
  screen(): string {
    const lines = this.pc.vga.textLines();
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines.join('\n');
  }
}

function tail(text: string): string {
  return text.slice(-1500);
}

/** Serial output uses CR LF; golden files keep LF only. Every LF must come after a CR. */
export function toGoldenText(serial: string): string {
  expect(
    serial.replace(/\r\n/g, '').includes('\n'),
    'every line feed on COM1 follows a carriage return',
  ).toBe(false);
  return serial.replace(/\r\n/g, '\n');
}

/**
 * Compares `actual` with test/images/golden/NAME.txt. With UPDATE_GOLDEN=1 in the environment the file is
 * (re)written instead: review the diff before committing it.
 */
export function expectGolden(name: string, actual: string): void {
  const path = join(GOLDEN_DIR, `${name}.txt`);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, actual, 'utf8');
    return;
  }
  if (!existsSync(path)) throw new Error(`no golden file ${path} (run with UPDATE_GOLDEN=1 to record it)`);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}
