import { describe, expect, it } from 'vitest';
import type { DeviceState, IrqLine } from '../../src/devices/device.ts';
import {
  CMD_AUX_DISABLE,
  CMD_AUX_INT,
  CMD_KBD_DISABLE,
  CMD_KBD_INT,
  CMD_SYS,
  CMD_XLAT,
  I8042,
  STATUS_A2,
  STATUS_AUXB,
  STATUS_INH,
  STATUS_OBF,
  STATUS_SYS,
  STATUS_TIMEOUT,
} from '../../src/devices/i8042.ts';
import { KBD_BUFFER_SIZE, Ps2Keyboard, translateSet2ToSet1 } from '../../src/devices/ps2-keyboard.ts';

class FakeIrq implements IrqLine {
  levels: boolean[] = [];
  level = false;
  set(level: boolean): void {
    if (level !== this.level) this.levels.push(level);
    this.level = level;
  }
  /** Number of low-to-high transitions seen. */
  get rises(): number {
    return this.levels.filter((l) => l).length;
  }
}

function setup() {
  const irq1 = new FakeIrq();
  const irq12 = new FakeIrq();
  const a20: boolean[] = [];
  let resets = 0;
  const kbc = new I8042({ irq1, irq12, onA20: (on) => a20.push(on), onResetRequest: () => resets++ });
  const status = () => kbc.read8(0x64);
  const command = (c: number, data?: number) => {
    kbc.write8(0x64, c);
    if (data !== undefined) kbc.write8(0x60, data);
  };
  /** Reads every byte the controller has, one output buffer at a time. */
  const drain = () => {
    const out: number[] = [];
    while (status() & STATUS_OBF) out.push(kbc.read8(0x60));
    return out;
  };
  const setCommandByte = (value: number) => command(0x60, value);
  return { kbc, irq1, irq12, a20, resets: () => resets, status, command, drain, setCommandByte };
}

describe('I8042 controller', () => {
  it('powers on with an empty buffer, interrupts and translation enabled', () => {
    const { status, command, drain, irq1 } = setup();
    expect(status()).toBe(STATUS_INH);
    command(0x20);
    expect(status()).toBe(STATUS_INH | STATUS_OBF | STATUS_A2);
    expect(irq1.level).toBe(true); // controller replies raise IRQ 1 like keyboard data
    expect(drain()).toEqual([CMD_KBD_INT | CMD_XLAT]);
    expect(irq1.level).toBe(false);
  });

  it('writes and reads the command byte; status SYS and A2 follow', () => {
    const { status, command, drain, setCommandByte } = setup();
    setCommandByte(0x47);
    expect(status() & STATUS_A2).toBe(0); // the last write went to the data port
    expect(status() & STATUS_SYS).toBe(STATUS_SYS);
    command(0x20);
    expect(drain()).toEqual([0x47]);
    setCommandByte(0x43);
    expect(status() & STATUS_SYS).toBe(0);
  });

  it('keeps 32 bytes of internal RAM behind 0x20-0x3F / 0x60-0x7F', () => {
    const { command, drain } = setup();
    command(0x65, 0x12);
    command(0x7f, 0x34);
    command(0x25);
    command(0x3f);
    expect(drain()).toEqual([0x12, 0x34]);
  });

  it('answers the self and interface tests; self test sets the system flag', () => {
    const { command, drain, status } = setup();
    command(0xaa);
    expect(drain()).toEqual([0x55]);
    expect(status() & STATUS_SYS).toBe(STATUS_SYS);
    command(0xab);
    command(0xa9);
    command(0xa4);
    command(0xc0);
    command(0xe0);
    expect(drain()).toEqual([0x00, 0x00, 0xf1, 0xa0, 0x00]);
  });

  it('toggles the keyboard and aux disable bits', () => {
    const { kbc, command } = setup();
    command(0xad);
    expect(kbc.commandByte & CMD_KBD_DISABLE).toBe(CMD_KBD_DISABLE);
    command(0xae);
    expect(kbc.commandByte & CMD_KBD_DISABLE).toBe(0);
    command(0xa7);
    expect(kbc.commandByte & CMD_AUX_DISABLE).toBe(CMD_AUX_DISABLE);
    command(0xa8);
    expect(kbc.commandByte & CMD_AUX_DISABLE).toBe(0);
  });

  it('drives A20 and reset from the output port', () => {
    const { kbc, command, drain, a20, resets } = setup();
    command(0xd0);
    expect(drain()).toEqual([0xcf]);
    command(0xd1, 0xcd); // A20 off, reset line high
    expect(a20).toEqual([false]);
    expect(kbc.a20).toBe(false);
    command(0xd1, 0xcd); // no change, no callback
    command(0xdf);
    command(0xdd);
    command(0xdf);
    expect(a20).toEqual([false, true, false, true]);
    expect(resets()).toBe(0);
    command(0xd1, 0xce); // bit 0 low: the CPU is reset
    expect(resets()).toBe(1);
    command(0xd0);
    expect(drain()).toEqual([0xcf]); // modelled as a pulse: the line is high again
  });

  it('pulses the reset line with 0xF0-0xFF when bit 0 of the command is 0', () => {
    const { command, resets } = setup();
    command(0xff);
    command(0xfd);
    expect(resets()).toBe(0);
    command(0xfe);
    command(0xf0);
    expect(resets()).toBe(2);
  });

  it('reports output-buffer-full lines in the output port', () => {
    const { command, drain } = setup();
    command(0xd2, 0x99);
    command(0xd0); // queued behind the full buffer, read while it still holds 0x99
    expect(drain()).toEqual([0x99, 0xcf | 0x10]);
    command(0xd3, 0x77);
    command(0xd0);
    expect(drain()).toEqual([0x77, 0xcf | 0x20]);
  });

  it('writes the keyboard output buffer without translation (0xD2)', () => {
    const { command, status, kbc, irq1, irq12 } = setup();
    command(0xd2, 0x1c);
    expect(status() & (STATUS_OBF | STATUS_AUXB)).toBe(STATUS_OBF);
    expect(irq1.level).toBe(true);
    expect(irq12.level).toBe(false);
    expect(kbc.read8(0x60)).toBe(0x1c);
  });

  it('loops bytes back as aux data (0xD3), IRQ 12 gated by the command byte', () => {
    const { command, status, kbc, irq1, irq12, setCommandByte } = setup();
    command(0xa7); // loopback works with the aux interface disabled
    command(0xd3, 0x5a);
    expect(status() & (STATUS_OBF | STATUS_AUXB)).toBe(STATUS_OBF | STATUS_AUXB);
    expect(irq12.level).toBe(false); // CMD_AUX_INT is clear after power-on
    expect(irq1.level).toBe(false);
    expect(kbc.read8(0x60)).toBe(0x5a);
    setCommandByte(CMD_KBD_INT | CMD_AUX_INT);
    command(0xd3, 0xa5);
    expect(irq12.level).toBe(true);
    expect(kbc.read8(0x60)).toBe(0xa5);
    expect(irq12.level).toBe(false);
  });

  it('answers bytes for the absent aux device with 0xFE and a timeout', () => {
    const { command, status, kbc } = setup();
    command(0xd4, 0xff);
    expect(status() & (STATUS_OBF | STATUS_AUXB | STATUS_TIMEOUT)).toBe(
      STATUS_OBF | STATUS_AUXB | STATUS_TIMEOUT,
    );
    expect(kbc.read8(0x60)).toBe(0xfe);
    expect(status() & STATUS_TIMEOUT).toBe(0);
  });

  it('abandons a command waiting for data when another command arrives', () => {
    const { command, kbc, drain } = setup();
    command(0x60);
    command(0xaa);
    expect(drain()).toEqual([0x55]);
    kbc.write8(0x60, 0xee); // goes to the keyboard, not into the command byte
    expect(drain()).toEqual([0xee]);
    expect(kbc.commandByte).toBe(CMD_KBD_INT | CMD_XLAT | CMD_SYS);
  });

  it('re-reads the stale byte when the output buffer is empty', () => {
    const { command, kbc } = setup();
    command(0xd2, 0x42);
    expect(kbc.read8(0x60)).toBe(0x42);
    expect(kbc.read8(0x60)).toBe(0x42);
  });
});

describe('I8042 with the PS/2 keyboard', () => {
  it('translates set 2 to set 1 when XLAT is set', () => {
    const { kbc, drain } = setup();
    kbc.keyboard.keyDown('KeyA');
    kbc.keyboard.keyUp('KeyA');
    kbc.keyboard.keyDown('ArrowUp');
    kbc.keyboard.keyUp('ArrowUp');
    expect(drain()).toEqual([0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8]);
  });

  it('passes set 2 through when XLAT is clear', () => {
    const { kbc, drain, setCommandByte } = setup();
    setCommandByte(CMD_KBD_INT);
    kbc.keyboard.keyDown('KeyA');
    kbc.keyboard.keyUp('KeyA');
    kbc.keyboard.keyDown('ControlRight');
    kbc.keyboard.keyUp('ControlRight');
    expect(drain()).toEqual([0x1c, 0xf0, 0x1c, 0xe0, 0x14, 0xe0, 0xf0, 0x14]);
  });

  it('delivers one byte per output buffer read, with a fresh IRQ 1 edge each time', () => {
    const { kbc, status, irq1, setCommandByte } = setup();
    setCommandByte(CMD_KBD_INT);
    kbc.keyboard.keyDown('Delete'); // E0 71
    expect(irq1.rises).toBe(1);
    expect(status() & STATUS_OBF).toBe(STATUS_OBF);
    expect(status() & STATUS_OBF).toBe(STATUS_OBF); // reading status consumes nothing
    expect(kbc.read8(0x60)).toBe(0xe0);
    expect(irq1.level).toBe(true);
    expect(irq1.rises).toBe(2); // the line dropped on the read and rose for the next byte
    expect(kbc.read8(0x60)).toBe(0x71);
    expect(irq1.level).toBe(false);
    expect(status() & STATUS_OBF).toBe(0);
  });

  it('does not interrupt when the keyboard interrupt is disabled', () => {
    const { kbc, irq1, status, setCommandByte } = setup();
    setCommandByte(CMD_XLAT);
    kbc.keyboard.keyDown('Space');
    expect(status() & STATUS_OBF).toBe(STATUS_OBF);
    expect(irq1.rises).toBe(0);
    expect(kbc.read8(0x60)).toBe(0x39);
  });

  it('holds keyboard data while the keyboard interface is disabled', () => {
    const { kbc, command, status, drain } = setup();
    command(0xad);
    kbc.keyboard.keyDown('Enter');
    expect(status() & STATUS_OBF).toBe(0);
    command(0xae);
    expect(drain()).toEqual([0x1c]);
  });

  it('sends controller replies ahead of waiting keyboard bytes', () => {
    const { kbc, command, drain } = setup();
    kbc.keyboard.keyDown('KeyA');
    kbc.keyboard.keyDown('KeyB');
    command(0xaa);
    expect(drain()).toEqual([0x1e, 0x55, 0x30]);
  });

  it('runs keyboard reset, identify, echo, LEDs and typematic commands', () => {
    const { kbc, drain, setCommandByte } = setup();
    setCommandByte(CMD_KBD_INT); // no translation: raw keyboard bytes
    kbc.write8(0x60, 0xff);
    expect(drain()).toEqual([0xfa, 0xaa]);
    kbc.write8(0x60, 0xf2);
    expect(drain()).toEqual([0xfa, 0xab, 0x83]);
    kbc.write8(0x60, 0xee);
    expect(drain()).toEqual([0xee]);
    kbc.write8(0x60, 0xed);
    kbc.write8(0x60, 0x05);
    expect(drain()).toEqual([0xfa, 0xfa]);
    expect(kbc.keyboard.ledState).toBe(0x05);
    kbc.write8(0x60, 0xf3);
    kbc.write8(0x60, 0x20);
    expect(drain()).toEqual([0xfa, 0xfa]);
    kbc.write8(0x60, 0x01); // not a command
    expect(drain()).toEqual([0xfe]);
  });

  it('translates the identify reply: MF II keyboards read AB 41 through XLAT', () => {
    const { kbc, drain } = setup();
    kbc.write8(0x60, 0xf2);
    expect(drain()).toEqual([0xfa, 0xab, 0x41]);
  });

  it('aborts a command waiting for its parameter when a command byte arrives', () => {
    const { kbc, drain, setCommandByte } = setup();
    setCommandByte(CMD_KBD_INT);
    kbc.write8(0x60, 0xed);
    kbc.write8(0x60, 0xf4);
    expect(drain()).toEqual([0xfa, 0xfa]);
    kbc.write8(0x60, 0x02); // no longer a parameter: rejected
    expect(drain()).toEqual([0xfe]);
  });

  it('gets and sets the scan code set; set 1 produces set-1 codes directly', () => {
    const { kbc, drain, setCommandByte } = setup();
    setCommandByte(CMD_KBD_INT);
    kbc.write8(0x60, 0xf0);
    kbc.write8(0x60, 0x00);
    expect(drain()).toEqual([0xfa, 0xfa, 0x02]);
    kbc.write8(0x60, 0xf0);
    kbc.write8(0x60, 0x03); // set 3 is not supported
    expect(drain()).toEqual([0xfa, 0xfe]);
    kbc.write8(0x60, 0xf0);
    kbc.write8(0x60, 0x01);
    expect(drain()).toEqual([0xfa, 0xfa]);
    expect(kbc.keyboard.currentScanCodeSet).toBe(1);
    kbc.keyboard.keyDown('KeyA');
    kbc.keyboard.keyUp('KeyA');
    kbc.keyboard.keyDown('Home');
    kbc.keyboard.keyUp('Home');
    expect(drain()).toEqual([0x1e, 0x9e, 0xe0, 0x47, 0xe0, 0xc7]);
    kbc.write8(0x60, 0xf6); // defaults: back to set 2
    expect(drain()).toEqual([0xfa]);
    kbc.keyboard.keyDown('KeyA');
    expect(drain()).toEqual([0x1c]);
  });

  it('reports the current set through translation as 0x43/0x41', () => {
    const { kbc, drain } = setup();
    kbc.write8(0x60, 0xf0);
    kbc.write8(0x60, 0x00);
    expect(drain()).toEqual([0xfa, 0xfa, 0x41]);
  });

  it('stops scanning on 0xF5 and resumes on 0xF4', () => {
    const { kbc, drain } = setup();
    kbc.write8(0x60, 0xf5);
    expect(drain()).toEqual([0xfa]);
    kbc.keyboard.keyDown('KeyQ');
    expect(drain()).toEqual([]);
    kbc.write8(0x60, 0xf4);
    kbc.keyboard.keyDown('KeyQ');
    expect(drain()).toEqual([0xfa, 0x10]);
  });

  it('resends the last byte on 0xFE', () => {
    const { kbc, drain, setCommandByte } = setup();
    setCommandByte(CMD_KBD_INT);
    kbc.keyboard.keyDown('KeyZ');
    expect(drain()).toEqual([0x1a]);
    kbc.write8(0x60, 0xfe);
    expect(drain()).toEqual([0x1a]);
  });

  it('sends the PrintScreen and Pause sequences, and their modifier variants', () => {
    const { kbc, drain, setCommandByte } = setup();
    const kb = kbc.keyboard;
    kb.keyDown('PrintScreen');
    kb.keyUp('PrintScreen');
    expect(drain()).toEqual([0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa]);
    kb.keyDown('Pause');
    kb.keyUp('Pause');
    expect(drain()).toEqual([0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]);
    setCommandByte(CMD_KBD_INT);
    kb.keyDown('PrintScreen');
    kb.keyUp('PrintScreen');
    expect(drain()).toEqual([0xe0, 0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12]);
    kb.keyDown('Pause');
    kb.keyUp('Pause');
    expect(drain()).toEqual([0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77]);
    kb.keyDown('ControlLeft');
    kb.keyDown('Pause'); // Ctrl+Pause is Break
    kb.keyUp('ControlLeft');
    expect(drain()).toEqual([0x14, 0xe0, 0x7e, 0xe0, 0xf0, 0x7e, 0xf0, 0x14]);
    kb.keyDown('AltLeft');
    kb.keyDown('PrintScreen'); // Alt+PrintScreen is SysRq
    kb.keyUp('PrintScreen');
    kb.keyUp('AltLeft');
    expect(drain()).toEqual([0x11, 0x84, 0xf0, 0x84, 0xf0, 0x11]);
    kb.keyDown('ShiftLeft');
    kb.keyDown('PrintScreen'); // with Shift the fake shift is left out
    kb.keyUp('PrintScreen');
    kb.keyUp('ShiftLeft');
    expect(drain()).toEqual([0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xf0, 0x12]);
  });

  it('sends Ctrl+Alt+Del', () => {
    const { kbc, drain } = setup();
    kbc.keyboard.sendCtrlAltDel();
    expect(drain()).toEqual([0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d]);
  });

  it('maps the whole main block, function keys and keypad to the standard set-1 codes', () => {
    const { kbc, drain } = setup();
    const expected: Record<string, number[]> = {
      Escape: [0x01],
      Digit1: [0x02],
      Digit0: [0x0b],
      Minus: [0x0c],
      Equal: [0x0d],
      Backspace: [0x0e],
      Tab: [0x0f],
      KeyP: [0x19],
      BracketRight: [0x1b],
      Enter: [0x1c],
      ControlLeft: [0x1d],
      Semicolon: [0x27],
      Quote: [0x28],
      Backquote: [0x29],
      ShiftLeft: [0x2a],
      Backslash: [0x2b],
      KeyM: [0x32],
      Slash: [0x35],
      ShiftRight: [0x36],
      NumpadMultiply: [0x37],
      AltLeft: [0x38],
      Space: [0x39],
      CapsLock: [0x3a],
      F1: [0x3b],
      F7: [0x41],
      F10: [0x44],
      NumLock: [0x45],
      ScrollLock: [0x46],
      Numpad7: [0x47],
      NumpadSubtract: [0x4a],
      NumpadAdd: [0x4e],
      NumpadDecimal: [0x53],
      IntlBackslash: [0x56],
      F11: [0x57],
      F12: [0x58],
      NumpadEnter: [0xe0, 0x1c],
      ControlRight: [0xe0, 0x1d],
      NumpadDivide: [0xe0, 0x35],
      AltRight: [0xe0, 0x38],
      Home: [0xe0, 0x47],
      ArrowLeft: [0xe0, 0x4b],
      ArrowRight: [0xe0, 0x4d],
      End: [0xe0, 0x4f],
      ArrowDown: [0xe0, 0x50],
      PageDown: [0xe0, 0x51],
      Insert: [0xe0, 0x52],
      MetaLeft: [0xe0, 0x5b],
      MetaRight: [0xe0, 0x5c],
      ContextMenu: [0xe0, 0x5d],
    };
    for (const [code, make] of Object.entries(expected)) {
      expect(kbc.keyboard.keyDown(code), code).toBe(true);
      expect(drain(), code).toEqual(make);
      kbc.keyboard.keyUp(code);
      const release = [...make];
      release[release.length - 1] |= 0x80;
      expect(drain(), code).toEqual(release);
    }
    expect(kbc.keyboard.keyDown('NoSuchKey')).toBe(false);
    expect(kbc.keyboard.keyUp('NoSuchKey')).toBe(false);
  });

  it('keeps 16 bytes and ends an overflowing buffer with the overrun code', () => {
    const { kbc, command, drain, setCommandByte } = setup();
    setCommandByte(CMD_KBD_INT | CMD_KBD_DISABLE);
    for (let i = 0; i < 20; i++) kbc.keyboard.keyDown('KeyA');
    command(0xae);
    const bytes = drain();
    expect(bytes).toHaveLength(KBD_BUFFER_SIZE);
    expect(bytes.slice(0, 15)).toEqual(Array(15).fill(0x1c));
    expect(bytes[15]).toBe(0x00);
    expect(translateSet2ToSet1(0x00)).toBe(0xff); // through XLAT the overrun code becomes set 1's 0xFF
  });

  it('a keyboard can be supplied by the board', () => {
    const keyboard = new Ps2Keyboard();
    const kbc = new I8042({ irq1: new FakeIrq(), irq12: new FakeIrq(), keyboard });
    expect(kbc.keyboard).toBe(keyboard);
    keyboard.keyDown('KeyA');
    expect(kbc.read8(0x60)).toBe(0x1e);
  });
});

describe('I8042 state', () => {
  it('round-trips through saveState and loadState mid-sequence', () => {
    const a = setup();
    a.setCommandByte(CMD_KBD_INT | CMD_AUX_INT | CMD_SYS); // XLAT off
    a.kbc.write8(0x60, 0xed);
    a.kbc.write8(0x60, 0x02); // Num Lock LED
    expect(a.drain()).toEqual([0xfa, 0xfa]);
    a.kbc.write8(0x60, 0xf3); // leaves the keyboard waiting for a parameter
    expect(a.drain()).toEqual([0xfa]);
    a.command(0xdd);
    a.kbc.keyboard.keyDown('ArrowUp');
    a.kbc.keyboard.keyUp('ArrowUp');
    expect(a.kbc.read8(0x60)).toBe(0xe0);
    const state = structuredClone(a.kbc.saveState());

    const b = setup();
    b.kbc.loadState(state);
    expect(b.irq1.level).toBe(true); // recomputed from the restored output buffer
    expect(b.drain()).toEqual([0x75, 0xe0, 0xf0, 0x75]);
    expect(b.kbc.keyboard.ledState).toBe(0x02);
    expect(b.kbc.commandByte).toBe(CMD_KBD_INT | CMD_AUX_INT | CMD_SYS);
    expect(b.kbc.a20).toBe(false);
    b.kbc.write8(0x60, 0x20); // the typematic parameter the saved keyboard was waiting for
    expect(b.drain()).toEqual([0xfa]);
  });

  it('round-trips an idle controller exactly', () => {
    const a = setup();
    a.command(0xaa);
    a.command(0xd4, 0xf2);
    const state = a.kbc.saveState();
    const b = setup();
    b.kbc.loadState(state);
    expect(b.kbc.saveState()).toEqual(state);
    expect(b.drain()).toEqual([0x55, 0xfe]);
  });

  it('rejects malformed state, naming the field', () => {
    const { kbc } = setup();
    const good = kbc.saveState();
    const bad = (patch: DeviceState) => () => kbc.loadState({ ...good, ...patch });
    expect(bad({ ram: new Uint8Array(31) })).toThrow(/'ram'/);
    expect(bad({ obf: 1 })).toThrow(/'obf'/);
    expect(bad({ outputPort: 0x100 })).toThrow(/'outputPort'/);
    expect(bad({ replies: [1, 2] })).toThrow(/'replies'/);
    expect(bad({ keyboard: null })).toThrow(/'keyboard'/);
    const keyboard = good.keyboard as DeviceState;
    expect(bad({ keyboard: { ...keyboard, scanCodeSet: 3 } })).toThrow(/'scanCodeSet'/);
    expect(bad({ keyboard: { ...keyboard, queue: [0xfa] } })).toThrow(/'queue'/);
    expect(bad({ keyboard: { ...keyboard, pending: 0x42 } })).toThrow(/'pending'/);
    expect(bad({ keyboard: { ...keyboard, scanning: 'yes' } })).toThrow(/'scanning'/);
    // A failed load leaves the controller as it was.
    expect(kbc.saveState()).toEqual(good);
  });
});
