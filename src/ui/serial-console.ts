/**
 * A VM's COM1 console: an xterm.js terminal of 80x25, scaled to its panel by font size (guests assume 80
 * columns). The terminal is opened the first time the panel is on screen; output that arrives before that
 * is kept (up to PENDING_LIMIT bytes) and written then. What the user types goes to `onInput` as bytes.
 */
import { Terminal, type ITheme } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { h } from './dom.ts';

const PENDING_LIMIT = 256 * 1024;
export const CONSOLE_COLS = 80;
export const CONSOLE_ROWS = 25;
export const MONO_FONT = "'DejaVu Sans Mono', ui-monospace, 'Cascadia Mono', Menlo, Consolas, monospace";

/** Consoles look like a screen in both themes: light text on near-black. */
const THEME: ITheme = {
  background: '#0d1117',
  foreground: '#d6dde6',
  cursor: '#7fd1ff',
  cursorAccent: '#0d1117',
  selectionBackground: '#2f5d8a',
  black: '#1b2129',
  red: '#ff6b6b',
  green: '#5fd38d',
  yellow: '#f2c94c',
  blue: '#5aa9ff',
  magenta: '#d38cff',
  cyan: '#4fd6d6',
  white: '#d6dde6',
  brightBlack: '#6b7682',
  brightRed: '#ff8f8f',
  brightGreen: '#86e3a9',
  brightYellow: '#ffe08a',
  brightBlue: '#8cc4ff',
  brightMagenta: '#e3b0ff',
  brightCyan: '#8beaea',
  brightWhite: '#ffffff',
};

const encoder = new TextEncoder();

export class SerialConsole {
  readonly element: HTMLDivElement;
  private term: Terminal | null = null;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private fontSize = 13;
  onInput: (bytes: Uint8Array) => void = () => {};
  /** Called for keys the page keeps for itself (the console-release chord); return true to swallow. */
  interceptKey: (event: KeyboardEvent) => boolean = () => false;

  constructor(private readonly label: string) {
    this.element = h('div', { class: 'serial' });
  }

  get opened(): boolean {
    return this.term !== null;
  }

  /** Opens the terminal (the element must be in the document). */
  open(): void {
    if (this.term) return;
    const term = new Terminal({
      cols: CONSOLE_COLS,
      rows: CONSOLE_ROWS,
      fontFamily: MONO_FONT,
      fontSize: this.fontSize,
      lineHeight: 1,
      scrollback: 5000,
      theme: THEME,
      cursorBlink: true,
      allowProposedApi: false,
      screenReaderMode: false,
    });
    term.open(this.element);
    term.textarea?.setAttribute('aria-label', `${this.label}: serial console`);
    term.attachCustomKeyEventHandler((event) => !this.interceptKey(event));
    term.onData((data) => this.onInput(encoder.encode(data)));
    term.onBinary((data) => this.onInput(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
    this.term = term;
    for (const chunk of this.pending) term.write(chunk);
    this.pending = [];
    this.pendingBytes = 0;
  }

  write(bytes: Uint8Array): void {
    if (this.term) {
      this.term.write(bytes);
      return;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    while (this.pendingBytes > PENDING_LIMIT && this.pending.length > 1) {
      this.pendingBytes -= this.pending.shift()!.length;
    }
  }

  /** Writes a line of the host's own (dimmed), e.g. "-- powered on --". */
  note(text: string): void {
    this.write(encoder.encode(`\r\n\x1b[2;36m── ${text} ──\x1b[0m\r\n`));
  }

  clear(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.term?.reset();
  }

  /** Picks the font size that fits 80x25 in `width` x `height` pixels. */
  fit(width: number, height: number, charWidthRatio: number): void {
    if (width <= 0 || height <= 0) return;
    const size = Math.max(
      5,
      Math.min((width - 4) / (CONSOLE_COLS * charWidthRatio), (height - 4) / (CONSOLE_ROWS * 1.18)),
    );
    const rounded = Math.floor(size * 2) / 2;
    if (rounded === this.fontSize) return;
    this.fontSize = rounded;
    if (this.term) this.term.options.fontSize = rounded;
  }

  focus(): void {
    this.term?.focus();
  }

  blur(): void {
    this.term?.blur();
  }

  /** The visible text (tests and the crash panel). */
  text(): string {
    const term = this.term;
    if (!term) return '';
    const buffer = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n').trimEnd();
  }

  dispose(): void {
    this.term?.dispose();
    this.term = null;
  }
}
