/**
 * The BIOS end to end: boot sectors written in NASM (fixtures/bios-*.asm) boot from floppy and hard disk
 * images, call the BIOS and report through INT 10h, which the BIOS mirrors to COM1.
 */
import { describe, expect, it } from 'vitest';
import { biosMemoryMap } from '../../src/machine/memory-map.ts';
import { NO_BOOT_MESSAGE } from '../../src/machine/bios/index.ts';
import { SECTOR_SIZE } from '../../src/devices/block-device.ts';
import { FLAG_IF } from '../../src/cpu/flags.ts';
import { bootMachine, diskImage, fixture, FLOPPY_144_SECTORS } from './bios-helpers.ts';

/** isa-debug-exit status of a boot sector's EXIT 0. */
const EXIT_OK = 1;

describe('BIOS boot', () => {
  it('boots a floppy whose boot sector reads more sectors with INT 13h CHS and prints them', () => {
    const image = diskImage(FLOPPY_144_SECTORS, fixture('bios-floppy-chs'), {
      1: 'Read sector 2 OK\r\n',
      2: 'Read sector 3 OK\r\n',
      71: 'Read C1 H1 S18 OK\r\n',
    });
    const m = bootMachine({ floppy: image });
    expect(m.runToExit()).toBe('exit');
    const lines = [
      'visor86 BIOS, 32768 KiB RAM',
      'Booting from floppy A:',
      'Floppy boot sector, drive 00',
      'Read sector 2 OK',
      'Read sector 3 OK',
      'Read C1 H1 S18 OK',
      'Bad sector status 04',
      'Params BL=04 CX=4F12 DX=0101',
      'OK',
    ];
    // COM1 (the mirror) and the VGA text screen show the same lines.
    expect(m.serial()).toBe(lines.join('\r\n') + '\r\n');
    expect(m.pc.vga.textLines().slice(0, lines.length)).toEqual(lines);
    expect(m.pc.exitStatus).toBe(EXIT_OK);
  });

  it('boots a hard disk whose boot sector uses the EDD extensions (AH=41h/42h/43h/48h)', () => {
    const sectors = 8192; // 4 MiB: 8 cylinders of 16 heads x 63 sectors
    const image = diskImage(sectors, fixture('bios-disk-edd'), {
      1: 'EDD read LBA 1\r\n',
      2: 'EDD read LBA 2\r\n',
      3: 'EDD read LBA 3\r\n',
    });
    const m = bootMachine({ disk: image });
    expect(m.runToExit()).toBe('exit');
    expect(m.serial()).toContain('Booting from hard disk 80h\r\n');
    expect(m.serial()).toContain(
      [
        'Hard disk boot, drive 80',
        'EDD read LBA 1',
        'EDD read LBA 2',
        'EDD read LBA 3',
        'Written by 43h, read by 02h',
        'Sectors 2000 size 0200 CHS CX=073F DX=0F01',
        'OK',
      ].join('\r\n'),
    );
    expect(m.pc.exitStatus).toBe(EXIT_OK);
    // The write reached the image.
    const written = new TextDecoder().decode(image.subarray(5 * SECTOR_SIZE, 5 * SECTOR_SIZE + 27));
    expect(written).toBe('Written by 43h, read by 02h');
  });

  it('says clearly when nothing is bootable, and waits with interrupts on', () => {
    const m = bootMachine();
    m.runUntil(() => m.serial().includes(NO_BOOT_MESSAGE), 20_000_000);
    expect(m.serial()).toContain(`${NO_BOOT_MESSAGE}\r\n`);
    expect(m.pc.vga.textLines()).toContain(NO_BOOT_MESSAGE);
    m.pc.run(1_000_000);
    expect(m.pc.cpu.halted).toBe(true);
    expect(m.pc.cpu.getFlags() & FLAG_IF).toBe(FLAG_IF);
  });

  it('refuses a floppy without the 55AA signature', () => {
    const m = bootMachine({ floppy: diskImage(FLOPPY_144_SECTORS, null, { 0: 'not a boot sector' }) });
    m.runUntil(() => m.serial().includes(NO_BOOT_MESSAGE), 20_000_000);
    expect(m.serial()).toContain('floppy A: is not bootable (no 55AA signature)\r\n');
    expect(m.serial()).toContain(NO_BOOT_MESSAGE);
  });

  it('boots the hard disk when floppy A: is empty of a boot sector', () => {
    const floppy = diskImage(FLOPPY_144_SECTORS, null);
    const disk = diskImage(8192, fixture('bios-disk-edd'), { 1: 'a\r\n', 2: 'b\r\n', 3: 'c\r\n' });
    const m = bootMachine({ floppy, disk });
    expect(m.runToExit()).toBe('exit');
    expect(m.serial()).toContain('floppy A: is not bootable');
    expect(m.serial()).toContain('Booting from hard disk 80h');
    expect(m.pc.exitStatus).toBe(EXIT_OK);
  });

  it('keeps COM1 quiet when the mirror is off', () => {
    const m = bootMachine({ bios: { serialMirror: false } });
    m.runUntil(() => m.pc.vga.textLines().includes(NO_BOOT_MESSAGE), 20_000_000);
    expect(m.pc.vga.textLines()[0]).toBe('visor86 BIOS, 32768 KiB RAM');
    expect(m.serial()).toBe('');
  });
});

describe('BIOS services seen from a boot sector', () => {
  it('reports the E820 map, E801h, 88h, INT 12h and INT 11h', () => {
    const memoryMiB = 64;
    const m = bootMachine({ floppy: diskImage(FLOPPY_144_SECTORS, fixture('bios-memmap')), memoryMiB });
    expect(m.runToExit()).toBe('exit');
    expect(m.pc.exitStatus).toBe(EXIT_OK);
    const mem = m.pc.memory;
    const map = biosMemoryMap(memoryMiB * 1024 * 1024);
    expect(mem.read16(0x0ff0)).toBe(map.length);
    expect(m.serial()).toContain(`E820 entries: ${map.length.toString(16).toUpperCase().padStart(4, '0')}`);
    map.forEach((region, i) => {
      const at = 0x1000 + i * 24;
      const base = mem.read32(at) >>> 0;
      const length = mem.read32(at + 8) >>> 0;
      expect({ base, length, type: mem.read32(at + 16) }).toEqual(region);
      expect(mem.read32(at + 4) | mem.read32(at + 12)).toBe(0);
      expect(mem.read32(at + 20)).toBe(1); // ACPI 3.0 attributes: enabled
    });
    // E801h: 15 MiB below 16 MiB (AX, CX) and 48 MiB above as 64 KiB blocks (BX, DX).
    expect([mem.read16(0x0fe0), mem.read16(0x0fe2), mem.read16(0x0fe4), mem.read16(0x0fe6)]).toEqual([
      0x3c00, 0x300, 0x3c00, 0x300,
    ]);
    expect(mem.read16(0x0fe8)).toBe(63 * 1024); // AH=88h: KiB above 1 MiB
    expect(mem.read16(0x0fea)).toBe(639); // INT 12h
    // INT 11h: floppy present (one drive), FPU, four serial ports.
    expect(mem.read16(0x0fec)).toBe(0x0001 | 0x0002 | (4 << 9));
  });

  it('reads the RTC through INT 1Ah in BCD and seeds the tick count from it', () => {
    const rtcTime = Date.UTC(2024, 1, 29, 12, 34, 56);
    const m = bootMachine({ floppy: diskImage(FLOPPY_144_SECTORS, fixture('bios-time')), rtcTime });
    expect(m.runToExit()).toBe('exit');
    expect(m.serial()).toContain('Time 12:34:56 Date 2024-02-29\r\n');
    const ticks = m.pc.memory.read32(0x0600);
    const expected = Math.floor(((12 * 3600 + 34 * 60 + 56) * 1193182) / 65536);
    expect(ticks).toBeGreaterThanOrEqual(expected);
    expect(ticks).toBeLessThanOrEqual(expected + 2);
  });

  it('reads keys typed on the PS/2 keyboard through INT 16h', () => {
    const m = bootMachine({ floppy: diskImage(FLOPPY_144_SECTORS, fixture('bios-keys')) });
    m.runUntil(() => m.serial().includes('Type: '), 20_000_000);
    const keyboard = m.pc.keyboardController.keyboard;
    const settle = () => m.pc.run(200_000);
    const press = (code: string) => {
      keyboard.keyDown(code);
      settle();
      keyboard.keyUp(code);
      settle();
    };
    keyboard.keyDown('ShiftLeft');
    settle();
    press('KeyH');
    keyboard.keyUp('ShiftLeft');
    settle();
    press('KeyI');
    keyboard.keyDown('ShiftRight');
    settle();
    press('Digit1');
    keyboard.keyUp('ShiftRight');
    settle();
    press('Enter');
    press('ArrowUp'); // grey key, read with AH=10h: 48E0
    press('ArrowDown'); // grey key, read with AH=00h: 5000
    expect(m.runToExit(20_000_000)).toBe('exit');
    expect(m.serial()).toContain('Type: Hi!\r\nExtended: 48E0 5000\r\n');
    const words = [0, 1, 2, 3, 4, 5].map((i) => m.pc.memory.read16(0x0600 + i * 2));
    expect(words).toEqual([0x2348, 0x1769, 0x0221, 0x1c0d, 0x48e0, 0x5000]);
  });

  it('waits on virtual time with INT 15h AH=86h', () => {
    const m = bootMachine({ floppy: diskImage(FLOPPY_144_SECTORS, fixture('bios-wait')) });
    expect(m.runToExit()).toBe('exit');
    expect(m.pc.exitStatus).toBe(EXIT_OK);
    const [a, b, c] = m.debug;
    expect(m.debug.map((d) => d.ch).join('')).toBe('ABC');
    expect(b.ns - a.ns).toBeGreaterThanOrEqual(1e9);
    // Beyond the wait: the instructions and port cycles (1 µs each, io-timing.ts) of the debug-port writes.
    expect(b.ns - a.ns).toBeLessThan(1e9 + 10_000);
    expect(c.ns - b.ns).toBeGreaterThanOrEqual(1e6);
    expect(c.ns - b.ns).toBeLessThan(1e6 + 10_000);
  });

  it('drives the text screen with INT 10h (scroll, write char/attr, cursor, write string, mode)', () => {
    const m = bootMachine({ floppy: diskImage(FLOPPY_144_SECTORS, fixture('bios-video')) });
    expect(m.runToExit()).toBe('exit');
    const mem = m.pc.memory;
    expect(mem.read16(0x0600)).toBe(0x050a); // AH=03h after AH=09h: the cursor did not move
    expect(mem.read16(0x0602)).toBe(0x4e58); // AH=08h: 'X' in yellow on red
    expect(mem.read16(0x0604)).toBe(0x5003); // AH=0Fh: 80 columns, mode 3
    expect(mem.read16(0x0606) >> 8).toBe(0); // active page
    expect(mem.read16(0x0608)).toBe(0x0707); // AH=13h with AL bit 0 moved the cursor after the string
    const screen = m.pc.vga.textSnapshot();
    const cell = (row: number, col: number) => screen.cells[row * 80 + col];
    const lines = m.pc.vga.textLines();
    expect(lines[5]).toBe('          XXX');
    expect(lines[7]).toBe('Hello13');
    expect(lines[9]).toBe('AB');
    expect(cell(5, 10) >> 8).toBe(0x4e);
    expect(cell(5, 13) >> 8).toBe(0x1f);
    expect(cell(7, 0) >> 8).toBe(0x2a);
    expect(cell(9, 0) >> 8).toBe(0x1f); // teletype keeps the cell's attribute
    expect(cell(24, 79)).toBe(0x1f20);
    expect(screen.cursor).toMatchObject({ row: 9, col: 2, visible: true });
    expect(m.serial()).toContain('Line 1E\r\n');
  });

  it('re-runs POST after a reset: Ctrl-Alt-Del sets the warm-boot flag, the 8042 pulse resets again', () => {
    const m = bootMachine({ floppy: diskImage(FLOPPY_144_SECTORS, fixture('bios-reset')) });
    m.runUntil(() => m.serial().includes('Boot 01'), 20_000_000);
    m.pc.run(1_000_000); // now waiting in INT 16h
    m.pc.keyboardController.keyboard.sendCtrlAltDel();
    expect(m.runToExit()).toBe('exit');
    expect(m.pc.exitStatus).toBe(EXIT_OK);
    expect(m.pc.resetCount).toBe(2);
    const banner = 'visor86 BIOS, 32768 KiB RAM\r\nBooting from floppy A:\r\n';
    expect(m.serial()).toBe(
      `${banner}Boot 01\r\n${banner}Boot 02\r\nReset flag 1234\r\n${banner}Boot 03\r\n`,
    );
  });
});
