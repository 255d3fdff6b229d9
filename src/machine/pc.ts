/**
 * The PC board: `createPc(config)` wires CPU, RAM and every device in reading order, the way a motherboard
 * schematic would list them. This is the only module that knows the whole board; several PCs can live in
 * one process (nothing here is module-level state).
 *
 *   port       IRQ  device
 *   0x20,0xA0   -   8259A PIC pair (slave on IR2), ELCR at 0x4D0
 *   0x40-0x43   0   8254 PIT; 0x61 system control port B (speaker gate, refresh toggle)
 *   0x60,0x64  1,12 8042 keyboard controller with a PS/2 keyboard (A20, reset)
 *   0x70-0x71   8   MC146818 RTC + CMOS NVRAM
 *   0x80        -   POST code port;  0x92 fast A20 / reset;  0xE9 debug console;  0xF4 isa-debug-exit
 *   0x3F8 0x2F8 0x3E8 0x2E8   4,3,4,3   16550A UARTs COM1-COM4
 *   0x3C0-0x3DF -   VGA (text mode), memory 0xA0000-0xBFFFF
 *   0x00-0x0F, 0x81-0x8F, 0xC0-0xDF  -  8237 DMA pair and page registers (floppy on channel 2)
 *   0x3F0-0x3F5,0x3F7  6   82077AA floppy controller, drives A: and B:
 *   0x1F0-0x1F7,0x3F6 14   ATA primary channel (master, slave)
 *   0x170-0x177,0x376 15   ATA secondary channel (master, slave)
 *   0xCF8-0xCFF -   PCI configuration mechanism #1 (host bridge 00:00.0, ISA bridge 00:01.0), 0xCF9 reset
 *   0x5F0       -   BIOS hypercall port (firmware 'bios' only; ROM at 0xF0000 and 0xFFFF0000)
 */
import { Cpu, CPU_SHUTDOWN } from '../cpu/cpu.ts';
import { PhysicalMemory } from '../cpu/memory.ts';
import { PortBus } from '../devices/port-bus.ts';
import { Pic8259Pair } from '../devices/pic8259.ts';
import { Pit8254, SystemControlPortB } from '../devices/pit8254.ts';
import { RtcMc146818 } from '../devices/rtc-mc146818.ts';
import { Uart16550 } from '../devices/uart16550.ts';
import { I8042 } from '../devices/i8042.ts';
import { DebugConsolePort, DebugExitPort, FastA20Port, PostCodePort } from '../devices/board-ports.ts';
import { VgaText } from '../devices/vga-text.ts';
import { I440fxHostBridge, PciBus, Piix3IsaBridge } from '../devices/pci.ts';
import { Dma8237 } from '../devices/dma8237.ts';
import { Floppy82077aa } from '../devices/floppy-82077aa.ts';
import { ATA_PRIMARY, ATA_SECONDARY, AtaChannel } from '../devices/ata.ts';
import { AtaDisk } from '../devices/ata-disk.ts';
import type { BlockDevice } from '../devices/block-device.ts';
import { NS_PER_INSTRUCTION, TimerScheduler, VirtualClock } from './clock.ts';
import { TimedIoBus } from './io-timing.ts';
import { installBios, type Bios, type BiosOptions } from './bios/index.ts';
import { loadCpuState, saveCpuState } from '../cpu/state.ts';
import type { DeviceState, DeviceStateValue } from '../devices/device.ts';
import { DiskOverlay, serializeOverlay } from './disk-overlay.ts';

/** The fixed date the RTC shows by default, so runs are reproducible (override with `rtcTime`). */
export const DEFAULT_RTC_TIME = Date.UTC(2026, 0, 1, 0, 0, 0);

export interface PcConfig {
  /** RAM in MiB (default 32, at least 2, at most 3584). */
  memoryMiB?: number;
  /** RTC time at power-on (ms since the epoch, or a Date). Default DEFAULT_RTC_TIME. */
  rtcTime?: number | Date;
  /** Called with bytes a UART transmitted (COM1 = 0 ... COM4 = 3), batched per run slice. */
  onSerialOutput?: (com: number, bytes: Uint8Array) => void;
  /** Called with characters written to the 0xE9 debug console. */
  onDebugOutput?: (byte: number) => void;
  /** Hard disks: [primary master, primary slave, secondary master, secondary slave]. */
  disks?: Array<BlockDevice | undefined>;
  /** Floppy media for drives A: and B:. */
  floppies?: Array<BlockDevice | undefined>;
  /**
   * Firmware in the ROM at 0xF0000: 'bios' runs visor86's BIOS (POST, then boot from floppy A: or the first
   * hard disk); 'none' (default) maps no ROM, for direct kernel boot (multiboot.ts) and bare test programs.
   */
  firmware?: 'bios' | 'none';
  /** BIOS options (with firmware 'bios'); its output is mirrored to COM1 unless serialMirror is false. */
  bios?: BiosOptions;
}

/** Why run() returned. */
export type StopReason = 'budget' | 'idle' | 'exit' | 'reset';

export const COM_PORTS = [0x3f8, 0x2f8, 0x3e8, 0x2e8] as const;
/** Version of the machine state layout written by Pc.saveState (2: disk and floppy media added). */
export const PC_STATE_VERSION = 2;
const COM_IRQS = [4, 3, 4, 3] as const;

export class Pc {
  readonly memory: PhysicalMemory;
  readonly cpu: Cpu;
  readonly ports = new PortBus();
  readonly clock: VirtualClock;
  readonly timers: TimerScheduler;
  readonly pic: Pic8259Pair;
  readonly pit: Pit8254;
  readonly portB: SystemControlPortB;
  readonly keyboardController: I8042;
  readonly rtc: RtcMc146818;
  readonly uarts: Uart16550[] = [];
  readonly postCode: PostCodePort;
  readonly fastA20: FastA20Port;
  readonly debugConsole: DebugConsolePort;
  readonly debugExit: DebugExitPort;
  readonly vga: VgaText;
  readonly pci: PciBus;
  readonly dma: Dma8237;
  readonly floppy: Floppy82077aa;
  readonly ata: AtaChannel[] = [];
  /** The hard disks at [primary master, primary slave, secondary master, secondary slave]. */
  readonly hardDisks: ReadonlyArray<AtaDisk | undefined>;
  /** The BIOS, once installed (`firmware: 'bios'`, or installBios(pc) from src/machine/bios). */
  bios: Bios | null = null;

  /** Status the guest gave through isa-debug-exit ((value << 1) | 1), once it wrote port 0xF4. */
  exitStatus: number | null = null;
  /** Number of resets (triple faults, 8042/0x92/0xCF9 reset requests) since power-on. */
  resetCount = 0;
  private resetPending = false;
  private a20FromKbc = true;
  private a20FromPort92 = false;
  private readonly onSerialOutput: ((com: number, bytes: Uint8Array) => void) | undefined;

  constructor(config: PcConfig = {}) {
    const memoryMiB = config.memoryMiB ?? 32;
    if (!Number.isInteger(memoryMiB) || memoryMiB < 2 || memoryMiB > 3584) {
      throw new Error(`memory size ${memoryMiB} MiB is out of range (2 to 3584 MiB)`);
    }
    this.onSerialOutput = config.onSerialOutput;

    // CPU and RAM.
    this.memory = new PhysicalMemory(memoryMiB * 1024 * 1024);
    // Port accesses take ISA bus time (io-timing.ts); a charge that reaches the next timer deadline ends the
    // CPU's run slice so the timer fires on time.
    const chargeBusTime = (ns: number) => {
      this.clock.charge(ns);
      this.timers.timeJumped(this.clock.now());
    };
    this.cpu = new Cpu(this.memory, new TimedIoBus(this.ports, chargeBusTime));
    this.clock = new VirtualClock(this.cpu);
    this.cpu.timeNs = () => this.clock.now();
    this.timers = new TimerScheduler(this.clock);
    this.timers.onSliceCut = () => {
      this.cpu.stopRequested = true; // run() sees neither reset nor exit pending and starts a shorter slice
    };

    // Interrupt controllers: the CPU's INTR pin.
    this.pic = new Pic8259Pair();
    this.ports.register(this.pic);
    this.cpu.interruptController = this.pic;

    // Timer and port B (speaker gate, refresh toggle).
    this.pit = new Pit8254(this.clock, this.timers, this.pic.irqLine(0));
    this.ports.register(this.pit);
    this.timers.add(this.pit);
    this.portB = new SystemControlPortB(this.pit, this.clock);
    this.ports.register(this.portB);

    // Keyboard controller: IRQ 1 (keyboard), 12 (aux), A20 gate and the CPU reset line.
    this.keyboardController = new I8042({
      irq1: this.pic.irqLine(1),
      irq12: this.pic.irqLine(12),
      onA20: (on) => {
        this.a20FromKbc = on;
        this.updateA20();
      },
      onResetRequest: () => this.requestReset(),
    });
    this.ports.register(this.keyboardController);

    // Real-time clock and CMOS.
    this.rtc = new RtcMc146818(this.pic.irqLine(8), this.clock, this.timers, {
      startTime: config.rtcTime ?? DEFAULT_RTC_TIME,
    });
    this.ports.register(this.rtc);
    this.timers.add(this.rtc);
    this.rtc.setMemorySizes(this.memory.ramSize);

    // Serial ports COM1-COM4.
    for (let i = 0; i < 4; i++) {
      const uart = new Uart16550(`com${i + 1}`, COM_PORTS[i], this.pic.irqLine(COM_IRQS[i]), {
        clock: this.clock,
        timers: this.timers,
      });
      this.ports.register(uart);
      this.timers.add(uart);
      this.uarts.push(uart);
    }

    // Small board ports.
    this.postCode = new PostCodePort();
    this.ports.register(this.postCode);
    this.fastA20 = new FastA20Port({
      onA20: (on) => {
        this.a20FromPort92 = on;
        this.updateA20();
      },
      onResetRequest: () => this.requestReset(),
    });
    this.ports.register(this.fastA20);
    this.debugConsole = new DebugConsolePort(config.onDebugOutput ?? (() => {}));
    this.ports.register(this.debugConsole);
    this.debugExit = new DebugExitPort((status) => {
      this.exitStatus = status;
      this.cpu.stopRequested = true;
    });
    this.ports.register(this.debugExit);

    // Video: VGA text mode and its memory window.
    this.vga = new VgaText();
    this.vga.attach(this.memory);
    this.ports.register(this.vga);

    // ISA DMA and the floppy controller on DMA channel 2, IRQ 6.
    this.dma = new Dma8237(this.memory);
    this.ports.register(this.dma);
    this.floppy = new Floppy82077aa(this.pic.irqLine(6), this.dma);
    this.ports.register(this.floppy);
    (config.floppies ?? []).forEach((media, drive) => {
      if (media) this.floppy.insertMedia(drive, media);
    });

    // Hard disks: two ATA channels on IRQ 14 and 15.
    const disks = config.disks ?? [];
    if (disks.length > 4) throw new Error('at most four hard disks (two ATA channels, master and slave)');
    this.hardDisks = [0, 1, 2, 3].map((i) => (disks[i] ? new AtaDisk(disks[i]!) : undefined));
    const disk = (i: number) => this.hardDisks[i];
    this.ata.push(
      new AtaChannel(this.pic.irqLine(14), {
        ...ATA_PRIMARY,
        name: 'ata-primary',
        master: disk(0),
        slave: disk(1),
      }),
    );
    this.ata.push(
      new AtaChannel(this.pic.irqLine(15), {
        ...ATA_SECONDARY,
        name: 'ata-secondary',
        master: disk(2),
        slave: disk(3),
      }),
    );
    for (const channel of this.ata) this.ports.register(channel);

    // PCI: host bridge and ISA bridge.
    this.pci = new PciBus({ onResetRequest: () => this.requestReset() });
    this.pci.attach(0, 0, new I440fxHostBridge());
    this.pci.attach(1, 0, new Piix3IsaBridge());
    this.ports.register(this.pci);

    this.updateA20();

    // Firmware: the BIOS ROM and its hypercall port (the CPU then starts at F000:FFF0 in it).
    if (config.firmware === 'bios') installBios(this, config.bios);
  }

  /** A20 is enabled when either the 8042 output port or port 0x92 enables it. */
  private updateA20(): void {
    this.memory.setA20(this.a20FromKbc || this.a20FromPort92);
  }

  /** Asks for a system reset at the end of the current instruction. */
  requestReset(): void {
    this.resetPending = true;
    this.cpu.stopRequested = true;
  }

  /** Resets the CPU and every device, as the RESET line does (RAM keeps its contents). */
  reset(): void {
    this.resetCount++;
    this.resetPending = false;
    this.cpu.reset();
    this.pic.reset();
    this.pit.reset();
    this.portB.reset();
    this.keyboardController.reset();
    this.rtc.reset();
    for (const uart of this.uarts) uart.reset();
    this.postCode.reset();
    this.fastA20.reset();
    this.vga.reset();
    this.pci.reset();
    this.dma.reset();
    this.floppy.reset();
    for (const channel of this.ata) channel.reset();
    this.a20FromKbc = true;
    this.a20FromPort92 = false;
    this.updateA20();
    this.timers.refreshAll(this.clock.now());
  }

  /**
   * Runs up to `maxInstructions` guest instructions, servicing timers at their deadlines and skipping idle
   * time while the CPU is halted. Returns why it stopped.
   */
  run(maxInstructions: number): StopReason {
    const cpu = this.cpu;
    let remaining = maxInstructions;
    let reason: StopReason = 'budget';
    while (remaining > 0) {
      const now = this.clock.now();
      if (now >= this.timers.next) this.timers.runDue(now);
      if (cpu.halted === true && !this.interruptWaiting()) {
        // HLT with interrupts off (and no NMI) never wakes; with them on, skip to the next timer event and
        // charge the skipped time to the budget as if instructions had run.
        if (this.timers.next === Infinity || (cpu.flags & 0x200) === 0) {
          reason = 'idle';
          break;
        }
        const skipped = Math.ceil((this.timers.next - now) / NS_PER_INSTRUCTION);
        if (skipped > remaining) {
          this.clock.advanceTo(now + remaining * NS_PER_INSTRUCTION);
          break;
        }
        this.clock.advanceTo(this.timers.next);
        remaining -= skipped;
        continue;
      }
      const untilDeadline = Math.ceil((this.timers.next - now) / NS_PER_INSTRUCTION);
      const budget = Math.max(1, Math.min(remaining, untilDeadline));
      this.timers.sliceEnd = now + budget * NS_PER_INSTRUCTION;
      try {
        remaining -= cpu.run(budget) || (cpu.halted ? 0 : 1);
      } catch (e) {
        if (e !== CPU_SHUTDOWN) throw e;
        this.requestReset(); // a triple fault resets the PC (the chipset answers the shutdown cycle)
      } finally {
        this.timers.sliceEnd = Infinity;
      }
      if (cpu.stopRequested === true) {
        cpu.stopRequested = false;
        if (this.resetPending) {
          this.reset();
          reason = 'reset';
          break;
        }
        if (this.exitStatus !== null) {
          reason = 'exit';
          break;
        }
      }
    }
    this.flushSerial();
    return reason;
  }

  /** True when an NMI, or an INTR the CPU would take now, is waiting (a halted CPU would wake). */
  interruptWaiting(): boolean {
    return this.cpu.nmiPending || ((this.cpu.flags & 0x200) !== 0 && this.pic.hasInterrupt());
  }

  /** The devices whose state a snapshot holds, by name, in the order they are restored. */
  private statefulDevices(): Array<[string, { saveState(): DeviceState; loadState(s: DeviceState): void }]> {
    const list: Array<[string, { saveState(): DeviceState; loadState(s: DeviceState): void }]> = [
      ['pic', this.pic],
      ['pit', this.pit],
      ['portB', this.portB],
      ['keyboardController', this.keyboardController],
      ['rtc', this.rtc],
      ...this.uarts.map((u, i) => [`com${i + 1}`, u] as [string, Uart16550]),
      ['postCode', this.postCode],
      ['fastA20', this.fastA20],
      ['debugConsole', this.debugConsole],
      ['debugExit', this.debugExit],
      ['vga', this.vga],
      ['pci', this.pci],
      ['dma', this.dma],
      ['floppy', this.floppy],
      ['ataPrimary', this.ata[0]],
      ['ataSecondary', this.ata[1]],
    ];
    if (this.bios) list.push(['bios', this.bios]);
    return list;
  }

  /** The media in each hard disk position and floppy drive, as the snapshot's `media` field names them. */
  private mediaSlots(): Array<[string, BlockDevice | null]> {
    return [
      ...this.hardDisks.map((d, i) => [`disk${i}`, d?.block ?? null] as [string, BlockDevice | null]),
      ...this.floppy.drives.map((d, i) => [`floppy${i}`, d?.media ?? null] as [string, BlockDevice | null]),
    ];
  }

  /**
   * Each medium's contents: a copy-on-write overlay (DiskOverlay) is saved whole, its chain down to the id
   * of its base image; any other BlockDevice is recorded by size only (its contents live outside).
   */
  private saveMedia(): DeviceState {
    const media: DeviceState = {};
    for (const [slot, device] of this.mediaSlots()) {
      if (device === null) media[slot] = null;
      else if (device instanceof DiskOverlay)
        media[slot] = { kind: 'overlay', disk: serializeOverlay(device) };
      else media[slot] = { kind: 'device', sectorCount: device.sectorCount, readOnly: device.readOnly };
    }
    return media;
  }

  /** Checks the saved media against this board's; returns what restores them. Throws naming the slot. */
  private prepareMediaLoad(media: DeviceStateValue): () => void {
    if (typeof media !== 'object' || media === null || Array.isArray(media) || ArrayBuffer.isView(media)) {
      throw new Error("machine state field 'media' is malformed");
    }
    const saved = media as DeviceState;
    const steps: Array<() => void> = [];
    for (const [slot, device] of this.mediaSlots()) {
      const s = saved[slot] as DeviceState | null | undefined;
      const what = slot.startsWith('disk') ? `hard disk ${slot.slice(4)}` : `floppy drive ${slot.slice(6)}`;
      if (s === undefined) throw new Error(`machine state has no '${slot}' medium`);
      if (s === null) {
        if (device === null) continue;
        if (slot.startsWith('disk')) throw new Error(`the snapshot has no ${what}, this machine has one`);
        const drive = Number(slot.slice(6));
        steps.push(() => this.floppy.ejectMedia(drive)); // the disk was out of the drive when saved
        continue;
      }
      if (typeof s !== 'object' || Array.isArray(s))
        throw new Error(`machine state medium '${slot}' is malformed`);
      if (device === null) throw new Error(`the snapshot has a medium in ${what}, this machine has none`);
      if (s.kind === 'overlay') {
        if (!(device instanceof DiskOverlay)) {
          throw new Error(`the snapshot's ${what} is a copy-on-write overlay; this machine's is not`);
        }
        try {
          steps.push(device.prepareLoad(s.disk as DeviceState));
        } catch (e) {
          throw new Error(`${what}: ${(e as Error).message}`);
        }
      } else if (s.kind === 'device') {
        if (s.sectorCount !== device.sectorCount) {
          throw new Error(
            `the snapshot's ${what} has ${String(s.sectorCount)} sectors, this machine's ${device.sectorCount}`,
          );
        }
      } else {
        throw new Error(`machine state medium '${slot}' has an unknown kind '${String(s.kind)}'`);
      }
    }
    return () => steps.forEach((step) => step());
  }

  /**
   * The whole machine as plain named fields and typed arrays: CPU (with FPU), RAM, virtual time, every
   * device, and the media: disks on copy-on-write overlays are saved whole (their base image by id);
   * other block devices only by size.
   */
  saveState(): DeviceState {
    const devices: DeviceState = {};
    for (const [name, device] of this.statefulDevices()) devices[name] = device.saveState();
    return {
      format: 'visor86-machine',
      version: PC_STATE_VERSION,
      memoryBytes: this.memory.ramSize,
      firmware: this.bios ? 'bios' : 'none',
      clockNs: this.clock.now(),
      cpu: saveCpuState(this.cpu),
      ram: this.memory.ram.slice(),
      devices,
      media: this.saveMedia(),
      board: {
        exitStatus: this.exitStatus,
        resetCount: this.resetCount,
        a20FromKbc: this.a20FromKbc,
        a20FromPort92: this.a20FromPort92,
      },
    };
  }

  /**
   * Restores a state written by saveState onto a board built with the same memory size and firmware.
   * Throws an Error that names what does not fit; the checks that can be made up front are made before
   * anything changes.
   */
  loadState(state: DeviceState): void {
    if (state.format !== 'visor86-machine') throw new Error('not a visor86 machine state');
    if (state.version !== PC_STATE_VERSION) {
      const age =
        typeof state.version === 'number' && state.version < PC_STATE_VERSION
          ? 'older than this build reads'
          : 'newer than this build reads';
      throw new Error(
        `machine state version ${String(state.version)} is ${age} (this build reads version ${PC_STATE_VERSION})`,
      );
    }
    if (state.memoryBytes !== this.memory.ramSize) {
      throw new Error(
        `machine state has ${String(state.memoryBytes)} bytes of RAM, this machine ${this.memory.ramSize}`,
      );
    }
    if (state.firmware !== (this.bios ? 'bios' : 'none')) {
      throw new Error(`machine state was taken with firmware '${String(state.firmware)}'`);
    }
    const ram = state.ram;
    if (!(ram instanceof Uint8Array) || ram.length !== this.memory.ramSize)
      throw new Error("machine state field 'ram' is malformed");
    const devices = state.devices as DeviceState;
    const board = state.board as DeviceState;
    if (typeof devices !== 'object' || devices === null || typeof board !== 'object' || board === null) {
      throw new Error("machine state fields 'devices' and 'board' must be objects");
    }
    const list = this.statefulDevices();
    for (const [name] of list) {
      if (typeof devices[name] !== 'object' || devices[name] === null)
        throw new Error(`machine state has no '${name}' device`);
    }
    if (typeof state.clockNs !== 'number' || !Number.isFinite(state.clockNs) || state.clockNs < 0) {
      throw new Error("machine state field 'clockNs' is malformed");
    }
    const cpuState = state.cpu as DeviceState;
    if (typeof cpuState !== 'object' || cpuState === null || typeof cpuState.instructionCount !== 'number') {
      throw new Error("machine state field 'cpu' is malformed");
    }
    const restoreMedia = this.prepareMediaLoad(state.media);
    restoreMedia();
    // Time first (the clock counts from the CPU's instruction count): timed devices derive their deadlines
    // from it, and the TSC is restored relative to it.
    this.cpu.instructionCount = cpuState.instructionCount;
    this.clock.set(state.clockNs);
    for (const [name, device] of list) device.loadState(devices[name] as DeviceState);
    loadCpuState(this.cpu, cpuState);
    this.memory.ram.set(ram);
    this.memory.writeGeneration++;
    this.exitStatus = typeof board.exitStatus === 'number' ? board.exitStatus : null;
    this.resetCount = typeof board.resetCount === 'number' ? board.resetCount : 0;
    this.a20FromKbc = board.a20FromKbc === true;
    this.a20FromPort92 = board.a20FromPort92 === true;
    this.updateA20();
    this.cpu.mmu.flush(true);
    this.resetPending = false;
    this.cpu.stopRequested = false;
    this.timers.refreshAll(this.clock.now());
  }

  /** Hands pending UART output to the onSerialOutput callback. */
  flushSerial(): void {
    if (!this.onSerialOutput) return;
    for (let i = 0; i < 4; i++) {
      if (this.uarts[i].hasOutput) this.onSerialOutput(i, this.uarts[i].drainOutput());
    }
  }

  /** Types bytes into a UART's receiver (as much as fits; returns how many were taken). */
  sendSerial(com: number, bytes: Uint8Array | number[]): number {
    return this.uarts[com].receive(bytes);
  }
}

export function createPc(config: PcConfig = {}): Pc {
  return new Pc(config);
}
