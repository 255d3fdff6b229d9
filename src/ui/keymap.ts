/**
 * Typing text on a PS/2 keyboard: each character as the DOM `KeyboardEvent.code` of its key on a US
 * layout, with Shift where the character needs it. Used by "type clipboard" when a VM's screen (not its
 * serial console) has the keyboard.
 */

const SHIFTED_SYMBOLS: Record<string, string> = {
  '!': 'Digit1',
  '@': 'Digit2',
  '#': 'Digit3',
  $: 'Digit4',
  '%': 'Digit5',
  '^': 'Digit6',
  '&': 'Digit7',
  '*': 'Digit8',
  '(': 'Digit9',
  ')': 'Digit0',
  _: 'Minus',
  '+': 'Equal',
  '{': 'BracketLeft',
  '}': 'BracketRight',
  '|': 'Backslash',
  ':': 'Semicolon',
  '"': 'Quote',
  '~': 'Backquote',
  '<': 'Comma',
  '>': 'Period',
  '?': 'Slash',
};

const SYMBOLS: Record<string, string> = {
  ' ': 'Space',
  '\n': 'Enter',
  '\t': 'Tab',
  '-': 'Minus',
  '=': 'Equal',
  '[': 'BracketLeft',
  ']': 'BracketRight',
  '\\': 'Backslash',
  ';': 'Semicolon',
  "'": 'Quote',
  '`': 'Backquote',
  ',': 'Comma',
  '.': 'Period',
  '/': 'Slash',
};

/** The key for `ch` and whether Shift is needed, or null for a character a US keyboard cannot type. */
export function keyForChar(ch: string): { code: string; shift: boolean } | null {
  if (/^[a-z]$/.test(ch)) return { code: `Key${ch.toUpperCase()}`, shift: false };
  if (/^[A-Z]$/.test(ch)) return { code: `Key${ch}`, shift: true };
  if (/^[0-9]$/.test(ch)) return { code: `Digit${ch}`, shift: false };
  if (ch in SYMBOLS) return { code: SYMBOLS[ch], shift: false };
  if (ch in SHIFTED_SYMBOLS) return { code: SHIFTED_SYMBOLS[ch], shift: true };
  return null;
}

/** Key presses and releases that type `text` (CR LF and CR count as one Enter). */
export function keystrokes(text: string): Array<{ code: string; down: boolean }> {
  const out: Array<{ code: string; down: boolean }> = [];
  for (const ch of text.replace(/\r\n?/g, '\n')) {
    const key = keyForChar(ch);
    if (!key) continue;
    if (key.shift) out.push({ code: 'ShiftLeft', down: true });
    out.push({ code: key.code, down: true }, { code: key.code, down: false });
    if (key.shift) out.push({ code: 'ShiftLeft', down: false });
  }
  return out;
}
