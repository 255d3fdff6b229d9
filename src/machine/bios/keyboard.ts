/**
 * The keyboard: the IRQ1 (INT 09h) translation of scan code set 1 (as the 8042 delivers it) into BIOS key
 * codes in the BDA ring buffer, and INT 16h, which reads that buffer. Key codes follow the IBM PC/AT
 * Technical Reference keyboard tables as listed in Ralf Brown's Interrupt List (INT 16h, "keystroke"
 * tables): AH = scan code or extended code, AL = ASCII, 0x00 for special keys, 0xE0 for the grey keys of
 * the 101-key keyboard (INT 16h AH=00h/01h hide that detail, AH=10h/11h report it).
 *
 * All state is in the BDA: shift flags at 0x417/0x418/0x496, the Alt+keypad accumulator at 0x419, the buffer
 * at 0x41E with head and tail at 0x41A/0x41C and bounds at 0x480/0x482.
 */
import type { Pc } from '../pc.ts';
import {
  BDA_BASE,
  BDA_BREAK,
  BDA_KBD_ALT_KEYPAD,
  BDA_KBD_BUFFER_END,
  BDA_KBD_BUFFER_START,
  BDA_KBD_FLAGS1,
  BDA_KBD_FLAGS2,
  BDA_KBD_FLAGS3,
  BDA_KBD_HEAD,
  BDA_KBD_TAIL,
  BDA_RESET_FLAG,
  KBD_BUFFER_END,
  KBD_BUFFER_START,
  RESET_FLAG_WARM,
} from './layout.ts';
import { AH, AL, AX, CX, DONE, WAIT_HALT, type BiosCall } from './hypercall.ts';

// BDA 0x417 (shift flags 1).
export const KF1_RIGHT_SHIFT = 0x01;
export const KF1_LEFT_SHIFT = 0x02;
export const KF1_CTRL = 0x04;
export const KF1_ALT = 0x08;
export const KF1_SCROLL_LOCK = 0x10;
export const KF1_NUM_LOCK = 0x20;
export const KF1_CAPS_LOCK = 0x40;
export const KF1_INSERT = 0x80;
// BDA 0x418 (shift flags 2: keys held down).
const KF2_LEFT_CTRL = 0x01;
const KF2_LEFT_ALT = 0x02;
const KF2_SYSREQ = 0x04;
const KF2_SCROLL_DOWN = 0x10;
const KF2_NUM_DOWN = 0x20;
const KF2_CAPS_DOWN = 0x40;
const KF2_INSERT_DOWN = 0x80;
// BDA 0x496 (keyboard status 3).
const KF3_E1 = 0x01;
const KF3_E0 = 0x02;
const KF3_RIGHT_CTRL = 0x04;
const KF3_RIGHT_ALT = 0x08;
export const KF3_ENHANCED = 0x10;

const BREAK_BIT = 0x80;
const PREFIX_E0 = 0xe0;
const PREFIX_E1 = 0xe1;

// Set-1 make codes with a meaning of their own.
const SC_CTRL = 0x1d;
const SC_LEFT_SHIFT = 0x2a;
const SC_RIGHT_SHIFT = 0x36;
const SC_ALT = 0x38;
const SC_CAPS = 0x3a;
const SC_NUM = 0x45;
const SC_SCROLL = 0x46;
const SC_INSERT = 0x52;
const SC_DELETE = 0x53;
const SC_SYSREQ = 0x54;
const SC_KEYPAD_SLASH = 0x35;
const SC_ENTER = 0x1c;
/**
 * Keyboard replies that reach IRQ1 but are not keys: error/overrun, echo, ACK, resend. (0xAA, the
 * self-test reply, is also the set-1 break code of the left Shift, and is taken as the latter.)
 */
const KBD_REPLIES: ReadonlySet<number> = new Set([0x00, 0xee, 0xfa, 0xfe, 0xff]);

/** Make codes of the numeric keypad 0x47-0x53 (Num Lock affects them). */
const KEYPAD_FIRST = 0x47;
const KEYPAD_LAST = 0x53;

function key(scan: number, ascii: number): number {
  return (scan << 8) | ascii;
}

/** Key words for one make code: [normal, shift, ctrl, alt] (0 = the combination types nothing). */
type KeyRow = readonly [number, number, number, number];

interface KeyTable {
  /** One row per set-1 make code 0x00-0x58. */
  rows: readonly KeyRow[];
  /** Make codes of the letter keys, which Caps Lock affects. */
  letters: ReadonlySet<number>;
}

function buildKeyTable(): KeyTable {
  const rows: KeyRow[] = [];
  const letters = new Set<number>();
  for (let i = 0; i <= 0x58; i++) rows.push([0, 0, 0, 0]);
  const set = (scan: number, normal: number, shift: number, ctrl: number, alt: number) => {
    rows[scan] = [normal, shift, ctrl, alt];
  };
  const ch = (c: string) => c.charCodeAt(0);
  // Letters.
  const letterRows: Array<[number, string]> = [
    [0x10, 'qwertyuiop'],
    [0x1e, 'asdfghjkl'],
    [0x2c, 'zxcvbnm'],
  ];
  for (const [first, keys] of letterRows) {
    for (let i = 0; i < keys.length; i++) {
      const scan = first + i;
      const lower = ch(keys[i]);
      set(scan, key(scan, lower), key(scan, lower - 0x20), key(scan, lower - 0x60), key(scan, 0));
      letters.add(scan);
    }
  }
  // Digit row: Alt+digit gives the extended codes 0x78-0x81.
  const digits = '1234567890';
  const shifted = '!@#$%^&*()';
  for (let i = 0; i < 10; i++) {
    const scan = 0x02 + i;
    const ctrl = scan === 0x03 ? key(scan, 0x00) : scan === 0x07 ? key(scan, 0x1e) : 0;
    set(scan, key(scan, ch(digits[i])), key(scan, ch(shifted[i])), ctrl, key(0x78 + i, 0));
  }
  // Punctuation: [scan, normal, shift, ctrl ASCII (0 = none), alt code].
  const punctuation: Array<[number, string, string, number, number]> = [
    [0x0c, '-', '_', 0x1f, key(0x82, 0)],
    [0x0d, '=', '+', 0, key(0x83, 0)],
    [0x1a, '[', '{', 0x1b, key(0x1a, 0)],
    [0x1b, ']', '}', 0x1d, key(0x1b, 0)],
    [0x27, ';', ':', 0, key(0x27, 0)],
    [0x28, "'", '"', 0, key(0x28, 0)],
    [0x29, '`', '~', 0, key(0x29, 0)],
    [0x2b, '\\', '|', 0x1c, key(0x2b, 0)],
    [0x33, ',', '<', 0, key(0x33, 0)],
    [0x34, '.', '>', 0, key(0x34, 0)],
    [0x35, '/', '?', 0, key(0x35, 0)],
    [0x56, '\\', '|', 0, 0],
  ];
  for (const [scan, normal, shift, ctrl, alt] of punctuation) {
    set(scan, key(scan, ch(normal)), key(scan, ch(shift)), ctrl ? key(scan, ctrl) : 0, alt);
  }
  set(0x01, 0x011b, 0x011b, 0x011b, 0x0100); // Esc
  set(0x0e, 0x0e08, 0x0e08, 0x0e7f, 0x0e00); // Backspace
  set(0x0f, 0x0f09, 0x0f00, 0x9400, 0xa500); // Tab
  set(0x1c, 0x1c0d, 0x1c0d, 0x1c0a, 0xa600); // Enter
  set(0x37, 0x372a, 0x372a, 0x9600, 0x3700); // keypad *
  set(0x39, 0x3920, 0x3920, 0x3920, 0x3920); // Space
  for (let i = 0; i < 10; i++) {
    set(0x3b + i, key(0x3b + i, 0), key(0x54 + i, 0), key(0x5e + i, 0), key(0x68 + i, 0)); // F1-F10
  }
  set(0x57, 0x8500, 0x8700, 0x8900, 0x8b00); // F11
  set(0x58, 0x8600, 0x8800, 0x8a00, 0x8c00); // F12
  // Keypad: the "shift" column is the numeric meaning (Num Lock on, or Shift with it off).
  const keypad: Array<[number, string, number]> = [
    [0x47, '7', 0x7700],
    [0x48, '8', 0x8d00],
    [0x49, '9', 0x8400],
    [0x4a, '-', 0x8e00],
    [0x4b, '4', 0x7300],
    [0x4c, '5', 0x8f00],
    [0x4d, '6', 0x7400],
    [0x4e, '+', 0x9000],
    [0x4f, '1', 0x7500],
    [0x50, '2', 0x9100],
    [0x51, '3', 0x7600],
    [0x52, '0', 0x9200],
    [0x53, '.', 0x9300],
  ];
  for (const [scan, numeric, ctrl] of keypad) {
    const operator = numeric === '-' || numeric === '+';
    const normal = operator ? key(scan, ch(numeric)) : key(scan, 0);
    set(scan, normal, key(scan, ch(numeric)), ctrl, operator ? key(scan, 0) : 0);
  }
  return { rows, letters };
}

const KEY_TABLE = buildKeyTable();

/** Alt + grey navigation key (0xE0-prefixed): extended codes of the 101-key keyboard. */
const GREY_ALT: ReadonlyMap<number, number> = new Map([
  [0x47, 0x97],
  [0x48, 0x98],
  [0x49, 0x99],
  [0x4b, 0x9b],
  [0x4d, 0x9d],
  [0x4f, 0x9f],
  [0x50, 0xa0],
  [0x51, 0xa1],
  [0x52, 0xa2],
  [0x53, 0xa3],
]);

export class KeyboardServices {
  constructor(
    private readonly pc: Pc,
    private readonly call: BiosCall,
  ) {}

  // ---- The ring buffer (offsets within segment 0x40) ----

  private bounds(): { start: number; end: number } {
    const mem = this.pc.memory;
    let start = mem.read16(BDA_KBD_BUFFER_START);
    let end = mem.read16(BDA_KBD_BUFFER_END);
    if (start >= end || (start | end) & 1) {
      start = KBD_BUFFER_START;
      end = KBD_BUFFER_END;
    }
    return { start, end };
  }

  /** Appends a key word; false when the buffer is full. */
  enqueue(word: number): boolean {
    const mem = this.pc.memory;
    const { start, end } = this.bounds();
    const tail = mem.read16(BDA_KBD_TAIL);
    let next = tail + 2;
    if (next >= end) next = start;
    if (next === mem.read16(BDA_KBD_HEAD)) return false;
    mem.write16(BDA_BASE + tail, word);
    mem.write16(BDA_KBD_TAIL, next);
    return true;
  }

  /** The oldest key word, or -1; `remove` takes it out of the buffer. */
  private peek(remove: boolean): number {
    const mem = this.pc.memory;
    const head = mem.read16(BDA_KBD_HEAD);
    if (head === mem.read16(BDA_KBD_TAIL)) return -1;
    const word = mem.read16(BDA_BASE + head);
    if (remove) {
      const { start, end } = this.bounds();
      let next = head + 2;
      if (next >= end) next = start;
      mem.write16(BDA_KBD_HEAD, next);
    }
    return word;
  }

  private flush(): void {
    const mem = this.pc.memory;
    mem.write16(BDA_KBD_HEAD, mem.read16(BDA_KBD_TAIL));
  }

  // ---- IRQ1 ----

  /** Translates one scan code byte (AL, after INT 15h/4Fh let it through). */
  irq1(): number {
    this.scanCode(this.pc.cpu.reg8[AL]);
    return DONE;
  }

  scanCode(code: number): void {
    const mem = this.pc.memory;
    let f1 = mem.read8(BDA_KBD_FLAGS1);
    let f2 = mem.read8(BDA_KBD_FLAGS2);
    let f3 = mem.read8(BDA_KBD_FLAGS3);
    const save = () => {
      mem.write8(BDA_KBD_FLAGS1, f1);
      mem.write8(BDA_KBD_FLAGS2, f2);
      mem.write8(BDA_KBD_FLAGS3, f3);
    };
    if (KBD_REPLIES.has(code)) return;
    if (code === PREFIX_E0) {
      f3 |= KF3_E0;
      return save();
    }
    if (code === PREFIX_E1) {
      f3 |= KF3_E1;
      return save();
    }
    if (f3 & KF3_E1) {
      // Pause sends E1 1D 45 E1 9D C5: swallow the two bytes after each E1.
      if ((code & ~BREAK_BIT) !== SC_CTRL) f3 &= ~KF3_E1;
      return save();
    }
    const grey = (f3 & KF3_E0) !== 0;
    f3 &= ~KF3_E0;
    const released = (code & BREAK_BIT) !== 0;
    const scan = code & ~BREAK_BIT;

    // Modifiers.
    switch (scan) {
      case SC_LEFT_SHIFT:
      case SC_RIGHT_SHIFT: {
        if (grey) return save(); // the keyboard's fake shifts around grey keys
        const bit = scan === SC_LEFT_SHIFT ? KF1_LEFT_SHIFT : KF1_RIGHT_SHIFT;
        f1 = released ? f1 & ~bit : f1 | bit;
        return save();
      }
      case SC_CTRL:
      case SC_ALT: {
        const ctrl = scan === SC_CTRL;
        const left = ctrl ? KF2_LEFT_CTRL : KF2_LEFT_ALT;
        const right = ctrl ? KF3_RIGHT_CTRL : KF3_RIGHT_ALT;
        if (grey) f3 = released ? f3 & ~right : f3 | right;
        else f2 = released ? f2 & ~left : f2 | left;
        const down = (f2 & left) !== 0 || (f3 & right) !== 0;
        const bit = ctrl ? KF1_CTRL : KF1_ALT;
        f1 = down ? f1 | bit : f1 & ~bit;
        save();
        if (!ctrl && released && !down) {
          // Releasing Alt delivers a code typed on the keypad (Alt+digits).
          const value = mem.read8(BDA_KBD_ALT_KEYPAD);
          mem.write8(BDA_KBD_ALT_KEYPAD, 0);
          if (value !== 0) this.enqueue(value);
        }
        return;
      }
      case SC_CAPS:
      case SC_NUM:
      case SC_SCROLL: {
        if (scan === SC_SCROLL && grey) {
          // Ctrl+Break (E0 46): empty the buffer, set the break flag, store a null key.
          if (!released) {
            this.flush();
            mem.write8(BDA_BREAK, 0x80);
            this.enqueue(0x0000);
          }
          return save();
        }
        const held = scan === SC_CAPS ? KF2_CAPS_DOWN : scan === SC_NUM ? KF2_NUM_DOWN : KF2_SCROLL_DOWN;
        const toggle = scan === SC_CAPS ? KF1_CAPS_LOCK : scan === SC_NUM ? KF1_NUM_LOCK : KF1_SCROLL_LOCK;
        if (released) f2 &= ~held;
        else if (!(f2 & held)) {
          f2 |= held;
          f1 ^= toggle;
        }
        return save();
      }
      case SC_SYSREQ:
        f2 = released ? f2 & ~KF2_SYSREQ : f2 | KF2_SYSREQ;
        return save();
    }
    if (scan === SC_INSERT && (grey || !(f1 & (KF1_NUM_LOCK | KF1_LEFT_SHIFT | KF1_RIGHT_SHIFT)))) {
      if (released) f2 &= ~KF2_INSERT_DOWN;
      else if (!(f2 & KF2_INSERT_DOWN)) {
        f2 |= KF2_INSERT_DOWN;
        f1 ^= KF1_INSERT;
      }
    }
    save();
    if (released || scan >= KEY_TABLE.rows.length) return;

    const ctrl = (f1 & KF1_CTRL) !== 0;
    const alt = (f1 & KF1_ALT) !== 0;
    if (ctrl && alt && scan === SC_DELETE) {
      // Ctrl+Alt+Del: a warm reboot.
      mem.write16(BDA_RESET_FLAG, RESET_FLAG_WARM);
      this.pc.requestReset();
      return;
    }
    const word = this.keyWord(scan, grey, f1);
    if (word >= 0) this.enqueue(word);
  }

  /** The key word for a make code under the current shift state, or -1 for none. */
  private keyWord(scan: number, grey: boolean, f1: number): number {
    const mem = this.pc.memory;
    const shift = (f1 & (KF1_LEFT_SHIFT | KF1_RIGHT_SHIFT)) !== 0;
    const ctrl = (f1 & KF1_CTRL) !== 0;
    const alt = (f1 & KF1_ALT) !== 0;
    const keypad = scan >= KEYPAD_FIRST && scan <= KEYPAD_LAST;
    const row = KEY_TABLE.rows[scan];

    if (grey) {
      // The 101-key keyboard's separate keys: Enter and / of the keypad, and the grey navigation block.
      if (scan === SC_ENTER) return alt ? 0xa600 : key(PREFIX_E0, ctrl ? 0x0a : 0x0d);
      if (scan === SC_KEYPAD_SLASH) return alt ? 0xa400 : ctrl ? 0x9500 : key(PREFIX_E0, 0x2f);
      if (!keypad) return -1;
      if (alt) return key(GREY_ALT.get(scan) ?? 0, 0) || -1;
      if (ctrl) return key(row[2] >> 8, PREFIX_E0);
      return key(scan, PREFIX_E0);
    }
    if (alt) {
      if (keypad && row[1] !== 0) {
        const digit = (row[1] & 0xff) - 0x30;
        if (digit >= 0 && digit <= 9) {
          // Alt + keypad digits build a character code in the BDA; it is typed when Alt is released.
          mem.write8(BDA_KBD_ALT_KEYPAD, (mem.read8(BDA_KBD_ALT_KEYPAD) * 10 + digit) & 0xff);
          return -1;
        }
      }
      return row[3] || -1;
    }
    if (ctrl) return row[2] || -1;
    let shifted = shift;
    if (KEY_TABLE.letters.has(scan) && f1 & KF1_CAPS_LOCK) shifted = !shifted;
    if (keypad && f1 & KF1_NUM_LOCK) shifted = !shifted;
    return (shifted ? row[1] : row[0]) || -1;
  }

  // ---- INT 16h ----

  int16(): number {
    const cpu = this.pc.cpu;
    const mem = this.pc.memory;
    const fn = cpu.reg8[AH];
    switch (fn) {
      case 0x00:
      case 0x10: {
        const word = this.peek(true);
        if (word < 0) return WAIT_HALT;
        cpu.reg16[AX] = fn === 0x00 ? standardKey(word) : word;
        return DONE;
      }
      case 0x01:
      case 0x11: {
        const word = this.peek(false);
        this.call.setZero(word < 0);
        if (word >= 0) cpu.reg16[AX] = fn === 0x01 ? standardKey(word) : word;
        return DONE;
      }
      case 0x02:
        cpu.reg8[AL] = mem.read8(BDA_KBD_FLAGS1);
        return DONE;
      case 0x12: {
        const f2 = mem.read8(BDA_KBD_FLAGS2);
        const f3 = mem.read8(BDA_KBD_FLAGS3);
        cpu.reg8[AL] = mem.read8(BDA_KBD_FLAGS1);
        cpu.reg8[AH] =
          (f2 & (KF2_LEFT_CTRL | KF2_LEFT_ALT)) |
          (f3 & (KF3_RIGHT_CTRL | KF3_RIGHT_ALT)) |
          (f2 & (KF2_SCROLL_DOWN | KF2_NUM_DOWN | KF2_CAPS_DOWN)) |
          (f2 & KF2_SYSREQ ? 0x80 : 0);
        return DONE;
      }
      case 0x05:
        cpu.reg8[AL] = this.enqueue(cpu.reg16[CX]) ? 0 : 1;
        return DONE;
      default:
        return DONE; // 03h typematic rate and the rest: accepted, nothing to do.
    }
  }
}

/** INT 16h AH=00h/01h view of a key word: grey-key markers become the 84-key keyboard's codes. */
function standardKey(word: number): number {
  const scan = word >> 8;
  const ascii = word & 0xff;
  if (scan === PREFIX_E0) return key(ascii === 0x2f ? SC_KEYPAD_SLASH : SC_ENTER, ascii);
  if (ascii === PREFIX_E0 && scan !== 0) return key(scan, 0);
  return word;
}
