/**
 * Every device's saveState/loadState round trip gives an identical device. Guests from images/ drive the
 * devices into busy states (the PIT at 100 Hz, the PIC remapped, COM1 by interrupt, the VGA screen, the
 * 8042 with keys queued, the floppy and ATA mid-command); at several stops each device's state is loaded
 * into the same device of a freshly built board, and then
 *   - the restored device saves exactly the same state, and
 *   - every field of the restored device object (walked recursively, so a field saveState forgets shows up)
 *     equals the original's.
 */
import { describe, expect, test } from 'vitest';
import { createPc, type Pc } from '../../src/machine/pc.ts';
import { installBios } from '../../src/machine/bios/index.ts';
import type { DeviceState } from '../../src/devices/device.ts';
import { GuestSession, RTC_TIME } from '../images/harness.ts';
import { MemoryBlockDevice } from '../../src/devices/block-device.ts';
import {
  FDC_CMD_MFM,
  FDC_CMD_READ_DATA,
  FDC_CMD_SENSE_INTERRUPT,
  FDC_CMD_SPECIFY,
  FDC_CMD_WRITE_DATA,
  FDC_MSR_RQM,
  FDC_REG_DIR_CCR,
  FDC_REG_DOR,
  FDC_REG_FIFO,
  FDC_REG_MSR_DSR,
} from '../../src/devices/floppy-82077aa-constants.ts';

type Stateful = { saveState(): DeviceState; loadState(state: DeviceState): void };

/** The board's devices by name (the same list Pc.saveState holds). */
function devicesOf(pc: Pc): Array<[string, Stateful]> {
  const list: Array<[string, Stateful]> = [
    ['pic', pc.pic],
    ['pit', pc.pit],
    ['portB', pc.portB],
    ['keyboardController', pc.keyboardController],
    ['rtc', pc.rtc],
    ...pc.uarts.map((u, i) => [`com${i + 1}`, u] as [string, Stateful]),
    ['postCode', pc.postCode],
    ['fastA20', pc.fastA20],
    ['debugConsole', pc.debugConsole],
    ['debugExit', pc.debugExit],
    ['vga', pc.vga],
    ['pci', pc.pci],
    ['dma', pc.dma],
    ['floppy', pc.floppy],
    ['ataPrimary', pc.ata[0]],
    ['ataSecondary', pc.ata[1]],
  ];
  if (pc.bios) list.push(['bios', pc.bios]);
  return list;
}

/** Objects a device points at but does not own: the board, other devices, media, callbacks' targets. */
const SHARED = new Set([
  'Pc',
  'Cpu',
  'PhysicalMemory',
  'VirtualClock',
  'TimerScheduler',
  'Pic8259Pair',
  'Pit8254',
  'Dma8237',
  'MemoryBlockDevice',
  'DiskOverlay',
  'DiskBase',
  'PortBus',
]);

/** Every primitive and typed-array field reachable from `root` through objects it owns, by path. */
function fields(root: object): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const seen = new Set<object>();
  const walk = (value: unknown, path: string, depth: number): void => {
    if (typeof value === 'function') return;
    if (value === null || typeof value !== 'object') {
      out.set(path, value);
      return;
    }
    if (ArrayBuffer.isView(value)) {
      out.set(path, Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex'));
      return;
    }
    if (seen.has(value) || depth > 6) return;
    seen.add(value);
    const name = (value as object).constructor?.name ?? 'Object';
    if (path !== '' && SHARED.has(name)) return;
    if (value instanceof Map || value instanceof Set) {
      out.set(path, JSON.stringify([...value]));
      return;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      // A buffer with a fill count beside it (`output` and `outputLength`): only the filled part is state.
      const length = record[`${key}Length`];
      const field = record[key];
      if (ArrayBuffer.isView(field) && typeof length === 'number') {
        walk((field as Uint8Array).subarray(0, length), `${path}.${key}`, depth + 1);
      } else {
        walk(field, `${path}.${key}`, depth + 1);
      }
    }
  };
  walk(root, '', 0);
  return out;
}

/**
 * Fields that are host-side bookkeeping, not device state: the guest cannot observe them, and a restored
 * device may differ there. Each entry says why.
 */
const NOT_STATE: Record<string, Record<string, string>> = {
  vga: {
    '.generation': 'a change counter for the page renderer: it only has to change when the screen does',
  },
  bios: {
    '.call.sp': "the caller's SP, read afresh at the start of every hypercall",
    '.disk.buffer': 'scratch for one INT 13h transfer: every call fills what it then uses',
  },
};

/** Paths whose values differ between two devices. */
function differences(name: string, a: object, b: object): string[] {
  const fa = fields(a);
  const fb = fields(b);
  const diff: string[] = [];
  for (const [path, value] of fa) {
    if (NOT_STATE[name]?.[path.replace(/\.snapshot\..*/, '.snapshot')] !== undefined) continue;
    if (fb.get(path) !== value)
      diff.push(`${path}: ${String(value).slice(0, 40)} vs ${String(fb.get(path)).slice(0, 40)}`);
  }
  for (const path of fb.keys()) if (!fa.has(path)) diff.push(`${path}: missing in the original`);
  return diff;
}

/** A board like the guest's, with the same kind of media, not yet run. */
function freshBoard(session: GuestSession): Pc {
  const guest = session.guest;
  const media = session.device
    ? new MemoryBlockDevice(new Uint8Array(session.device.data.length))
    : undefined;
  const pc = createPc({
    rtcTime: RTC_TIME,
    memoryMiB: guest.memoryMiB,
    floppies: guest.boot === 'floppy' ? [media] : [],
    disks: guest.boot === 'disk' ? [media] : [],
  });
  if (guest.boot !== 'multiboot') installBios(pc, { serialMirror: false });
  return pc;
}

/** Checks every device of `session` against a restored copy; returns the names checked. */
function checkRoundTrips(session: GuestSession): string[] {
  return checkBoard(session.pc, freshBoard(session));
}

/** Checks every device of `pc` against the same device of `fresh` (a new board like it) after a round trip. */
function checkBoard(pc: Pc, fresh: Pc): string[] {
  const restoredDevices = new Map(devicesOf(fresh));
  // Time first, as Pc.loadState does: timed devices derive their deadlines from the clock.
  fresh.cpu.instructionCount = pc.cpu.instructionCount;
  fresh.clock.set(pc.clock.now());
  const checked: string[] = [];
  for (const [name, device] of devicesOf(pc)) {
    const state = device.saveState();
    const restored = restoredDevices.get(name)!;
    restored.loadState(state);
    // Compared as flattened fields: toEqual walks big typed arrays element by element, slowly.
    expect(differences('', state, restored.saveState()), `${name}: saved state after a round trip`).toEqual(
      [],
    );
    expect(differences(name, device, restored), `${name}: fields that differ after a round trip`).toEqual([]);
    checked.push(name);
  }
  return checked;
}

describe('device state round trips', () => {
  test('monitor: PIT at 100 Hz, remapped PIC, COM1 by interrupt, RTC, ATA', () => {
    const vm = new GuestSession('monitor');
    vm.waitFor('> ');
    checkRoundTrips(vm);
    vm.type('disk write 5 hello\r');
    vm.run(300_000);
    checkRoundTrips(vm);
    vm.type('uptime\rdate\r');
    vm.waitFor('date');
    vm.run(50_000);
    const names = checkRoundTrips(vm);
    // Every device the board has is covered.
    expect(names).toEqual(devicesOf(vm.pc).map(([n]) => n));
    expect(names).toContain('bios');
  });

  test('life: VGA text screen, 8042 keyboard with keys queued, floppy', () => {
    const vm = new GuestSession('life');
    vm.waitFor(vm.guest.banner);
    vm.run(30_000_000);
    const keyboard = vm.pc.keyboardController.keyboard;
    keyboard.keyDown('ShiftLeft');
    keyboard.keyDown('KeyN');
    checkRoundTrips(vm);
    keyboard.keyUp('KeyN');
    keyboard.keyUp('ShiftLeft');
    vm.run(2_000_000);
    checkRoundTrips(vm);
  });

  test('disk: ATA and the floppy/DMA pair stopped at many points of their commands', () => {
    const vm = new GuestSession('disk');
    for (let i = 0; i < 12 && vm.reason === 'budget'; i++) {
      vm.run(137_000);
      checkRoundTrips(vm);
    }
    expect(vm.output).toContain('disk: writing 64 sectors');
  });

  test('82077AA floppy controller stopped in each phase of a READ DATA command (no guest drives it)', () => {
    const board = () =>
      createPc({ memoryMiB: 2, floppies: [new MemoryBlockDevice(new Uint8Array(2880 * 512).fill(0x5a))] });
    const pc = board();
    const FDC = 0x3f0;
    const phase = () => pc.floppy.saveState().phase;
    pc.ports.out8(FDC + FDC_REG_DOR, 0x08); // reset, DMA gate
    pc.ports.out8(FDC + FDC_REG_DOR, 0x1c); // out of reset, drive A motor on
    for (let drive = 0; drive < 4; drive++) {
      pc.ports.out8(FDC + FDC_REG_FIFO, FDC_CMD_SENSE_INTERRUPT);
      pc.ports.in8(FDC + FDC_REG_FIFO);
      pc.ports.in8(FDC + FDC_REG_FIFO);
    }
    for (const byte of [FDC_CMD_SPECIFY, 0xdf, 0x03]) pc.ports.out8(FDC + FDC_REG_FIFO, byte); // non-DMA
    pc.ports.out8(FDC + FDC_REG_DIR_CCR, 0); // 500 kb/s, the 1.44M data rate
    // READ DATA, MFM, drive 0 head 0, C 0 H 0 R 1 N 2, EOT 1, GPL 1Bh, DTL FFh.
    const command = [FDC_CMD_MFM | FDC_CMD_READ_DATA, 0, 0, 0, 1, 2, 1, 0x1b, 0xff];
    for (const byte of command.slice(0, 4)) pc.ports.out8(FDC + FDC_REG_FIFO, byte);
    expect(phase()).toBe(0); // command phase, 4 of 9 bytes in
    checkBoard(pc, board());
    for (const byte of command.slice(4)) pc.ports.out8(FDC + FDC_REG_FIFO, byte);
    let read = 0;
    for (; read < 100 && pc.ports.in8(FDC + FDC_REG_MSR_DSR) & FDC_MSR_RQM; read++) {
      expect(pc.ports.in8(FDC + FDC_REG_FIFO)).toBe(0x5a);
    }
    expect(read).toBe(100);
    expect(phase()).toBe(1); // execution phase, 100 of 512 bytes read
    checkBoard(pc, board());
    while (phase() === 1) pc.ports.in8(FDC + FDC_REG_FIFO);
    pc.ports.in8(FDC + FDC_REG_FIFO); // ST0 of 7 result bytes
    expect(phase()).toBe(2); // result phase
    checkBoard(pc, board());
    while (phase() === 2) pc.ports.in8(FDC + FDC_REG_FIFO);
    // WRITE DATA to sector 2, stopped 200 bytes into the sector.
    for (const byte of [FDC_CMD_MFM | FDC_CMD_WRITE_DATA, 0, 0, 0, 2, 2, 2, 0x1b, 0xff]) {
      pc.ports.out8(FDC + FDC_REG_FIFO, byte);
    }
    for (let i = 0; i < 200; i++) pc.ports.out8(FDC + FDC_REG_FIFO, i);
    expect(phase()).toBe(1);
    checkBoard(pc, board());
  });

  test('every device stopped half way through a register sequence', () => {
    const board = () =>
      createPc({ memoryMiB: 2, disks: [new MemoryBlockDevice(new Uint8Array(256 * 512).fill(0xa5))] });
    const pc = board();
    const out = (port: number, value: number) => pc.ports.out8(port, value);
    out(0x20, 0x11); // PIC master: ICW1 (edge, cascade, ICW4 needed), ICW2; waits for ICW3
    out(0x21, 0x20);
    out(0x43, 0x34); // PIT counter 0, mode 2, LSB then MSB: LSB written, MSB pending
    out(0x40, 0x9c);
    out(0x43, 0xb6); // counter 2 mode 3, latched next
    out(0x43, 0x80);
    out(0x64, 0xd1); // 8042: write output port, waiting for its data byte
    out(0x0c, 0); // DMA: clear the flip-flop, then the low byte of channel 2's address only
    out(0x04, 0x34);
    out(0x3fb, 0x80); // COM1 DLAB on, divisor low byte
    out(0x3f8, 0x0c);
    out(0x2f9, 0x0f); // COM2 interrupts enabled
    out(0x70, 0x8b); // CMOS index B with NMI masked
    out(0x3d4, 0x0e); // VGA CRTC index: cursor high
    out(0x3c0, 0x10); // VGA attribute controller flip-flop at data
    out(0xcf8, 0x80000000 | 0x08); // PCI address latched (a byte write only touches 0xCF8's low byte)
    checkBoard(pc, board());
    // ATA: READ SECTORS of 2 sectors, 100 words into the first.
    out(0x1f6, 0xe0);
    out(0x1f2, 2);
    out(0x1f3, 5);
    out(0x1f4, 0);
    out(0x1f5, 0);
    out(0x1f7, 0x20);
    for (let i = 0; i < 100; i++) expect(pc.ports.in16(0x1f0)).toBe(0xa5a5);
    expect(pc.hardDisks[0]!.transfer).toBe(1);
    checkBoard(pc, board());
  });

  test('hello (floppy boot through the BIOS) and bench (Multiboot, no firmware)', () => {
    for (const name of ['hello', 'bench']) {
      const vm = new GuestSession(name);
      vm.run(name === 'hello' ? 400_000 : 2_000_000);
      checkRoundTrips(vm);
    }
  });
});
