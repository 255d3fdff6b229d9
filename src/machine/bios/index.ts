/**
 * visor86's own PC BIOS: a small ROM of stubs (rom.ts) in front of services written in TypeScript, reached
 * through the hypercall port (hypercall.ts). See README.md in this directory for the design and the list of
 * services.
 *
 *   installBios(pc)  maps the ROM at 0xF0000 and at 0xFFFF0000, registers the hypercall port and puts the CPU
 *                    at its reset vector F000:FFF0, so the next pc.run() executes POST and boots.
 */
import type { Pc } from '../pc.ts';
import { CS } from '../../cpu/constants.ts';
import type { MmioHandler } from '../../cpu/memory.ts';
import { stateNumber, type DeviceState, type IoDevice, type Stateful } from '../../devices/device.ts';
import { HYPERCALL_PORT, ROM_BASE, ROM_HIGH_ALIAS, ROM_SIZE } from './layout.ts';
import {
  buildRom,
  SITE_POLL,
  SVC_INT10,
  SVC_INT11,
  SVC_INT12,
  SVC_INT13,
  SVC_INT14,
  SVC_INT15,
  SVC_INT16,
  SVC_INT17,
  SVC_INT18,
  SVC_INT19,
  SVC_INT1A,
  SVC_IRQ0,
  SVC_IRQ1,
  SVC_IRQ6,
  SVC_IRQ8,
  SVC_IRQ_MASTER,
  SVC_IRQ_SLAVE,
  SVC_POST,
  type RomImage,
} from './rom.ts';
import { BiosCall, DONE, GuestMemory } from './hypercall.ts';
import { VideoServices } from './video.ts';
import { DiskServices } from './disk.ts';
import { KeyboardServices } from './keyboard.ts';
import { SystemServices, WaitTimer } from './system.ts';
import { BootServices } from './boot.ts';
import { runPost } from './post.ts';

export { HYPERCALL_PORT } from './layout.ts';
export { NO_BOOT_MESSAGE } from './boot.ts';

export interface BiosOptions {
  /** Copy INT 10h teletype output and firmware messages to COM1 (default true: a serial console sees them). */
  serialMirror?: boolean;
}

/** Version of the (empty) TypeScript-side state, for snapshots. */
const BIOS_STATE_VERSION = 1;

export class Bios implements IoDevice, Stateful {
  readonly name = 'bios-hypercall';
  readonly portRanges = [{ start: HYPERCALL_PORT, length: 1 }];
  readonly rom: RomImage;
  readonly serialMirror: boolean;
  /** Read-only decoding of the ROM image (both addresses map here). */
  readonly romHandler: MmioHandler;
  readonly call: BiosCall;
  readonly guest: GuestMemory;
  readonly video: VideoServices;
  readonly disk: DiskServices;
  readonly keyboard: KeyboardServices;
  readonly system: SystemServices;
  readonly boot: BootServices;
  /** Ends waits (INT 15h/86h, INT 14h receive) at their deadline; add it to the board's timers. */
  readonly waitTimer: WaitTimer;

  constructor(
    readonly pc: Pc,
    options: BiosOptions = {},
  ) {
    this.rom = buildRom();
    this.serialMirror = options.serialMirror ?? true;
    const image = this.rom.image;
    this.romHandler = {
      read8: (address) => image[address & (ROM_SIZE - 1)],
      write8: () => {}, // ROM
    };
    this.call = new BiosCall(pc.cpu);
    this.guest = new GuestMemory(pc.cpu, pc.memory);
    this.video = new VideoServices(pc, this.guest, this.serialMirror);
    this.disk = new DiskServices(pc, this.call, this.guest);
    this.keyboard = new KeyboardServices(pc, this.call);
    this.waitTimer = new WaitTimer(pc);
    this.system = new SystemServices(pc, this.call, this.guest, this.waitTimer);
    this.boot = new BootServices(pc, this.disk, this.video);
  }

  read8(): number {
    return 0xff;
  }

  /** A stub's `out dx, al`: find the stub by where it ran and call its service. */
  write8(): void {
    const cpu = this.pc.cpu;
    const linear = (cpu.segBase[CS] + cpu.eip) >>> 0;
    if (linear < ROM_BASE || linear >= ROM_BASE + ROM_SIZE) return; // not from our ROM: ignored
    const site = this.rom.sites.get(linear - ROM_BASE);
    if (site === undefined) return;
    this.call.enter();
    let live: number;
    try {
      live = this.service(site >> 1, (site & SITE_POLL) !== 0);
    } catch (e) {
      this.call.abandon();
      throw e;
    }
    this.call.leave(live);
  }

  private service(service: number, poll: boolean): number {
    switch (service) {
      case SVC_POST:
        runPost(this);
        return DONE;
      case SVC_IRQ0:
        return this.system.irq0();
      case SVC_IRQ1:
        return this.keyboard.irq1();
      case SVC_IRQ6:
        return this.system.irq6();
      case SVC_IRQ8:
        return this.system.irq8();
      case SVC_IRQ_MASTER:
        return this.system.irqDefault(false);
      case SVC_IRQ_SLAVE:
        return this.system.irqDefault(true);
      case SVC_INT10:
        return this.video.int10();
      case SVC_INT11:
        return this.system.int11();
      case SVC_INT12:
        return this.system.int12();
      case SVC_INT13:
        return this.disk.int13();
      case SVC_INT14:
        return this.system.int14(poll);
      case SVC_INT15:
        return this.system.int15(poll);
      case SVC_INT16:
        return this.keyboard.int16();
      case SVC_INT17:
        return this.system.int17();
      case SVC_INT18:
        return this.boot.int18();
      case SVC_INT19:
        return this.boot.int19();
      case SVC_INT1A:
        return this.system.int1a();
      default:
        return DONE;
    }
  }

  /** Nothing to do: POST rebuilds everything at the CPU's reset vector. */
  reset(): void {}

  /**
   * The firmware keeps no state in TypeScript: its data areas are guest RAM (IVT, BDA, EBDA, including wait
   * deadlines and the keyboard buffer) and the ROM is rebuilt identically. The version guards the format.
   */
  saveState(): DeviceState {
    return { version: BIOS_STATE_VERSION };
  }

  loadState(state: DeviceState): void {
    if (stateNumber(state, 'version') !== BIOS_STATE_VERSION) {
      throw new Error(`bios state version ${String(state.version)} is not ${BIOS_STATE_VERSION}`);
    }
  }
}

/**
 * Installs the BIOS on a board: ROM at 0xF0000 and 0xFFFF0000, the hypercall port, the wait timer, and the
 * CPU at F000:FFF0.
 */
export function installBios(pc: Pc, options: BiosOptions = {}): Bios {
  if (pc.bios) throw new Error('this PC already has a BIOS');
  const bios = new Bios(pc, options);
  pc.bios = bios;
  pc.memory.mapMmio(ROM_BASE, ROM_SIZE, bios.romHandler);
  pc.memory.mapMmio(ROM_HIGH_ALIAS, ROM_SIZE, bios.romHandler);
  pc.ports.register(bios);
  pc.timers.add(bios.waitTimer);
  pc.cpu.reset();
  return bios;
}
