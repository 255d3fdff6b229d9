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
  const fresh = freshBoard(session);
  const restoredDevices = new Map(devicesOf(fresh));
  // Time first, as Pc.loadState does: timed devices derive their deadlines from the clock.
  fresh.cpu.instructionCount = session.pc.cpu.instructionCount;
  fresh.clock.set(session.pc.clock.now());
  const checked: string[] = [];
  for (const [name, device] of devicesOf(session.pc)) {
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

  test('hello (floppy boot through the BIOS) and bench (Multiboot, no firmware)', () => {
    for (const name of ['hello', 'bench']) {
      const vm = new GuestSession(name);
      vm.run(name === 'hello' ? 400_000 : 2_000_000);
      checkRoundTrips(vm);
    }
  });
});
