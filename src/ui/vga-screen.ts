/**
 * The VGA text screen of a VM, drawn on a canvas from the frames its worker exports: each cell's background,
 * then its glyph (CP437 as Unicode) in the foreground colour of the frame's 16-colour palette. Only rows that
 * changed since the last frame are redrawn. Box-drawing, block and shade characters are drawn as rectangles,
 * so frames and bars join up the way the VGA's 9-dot-wide character cells join them. Blinking characters
 * and the cursor blink at the VGA's rate (about 1.9 Hz).
 *
 * The element takes keyboard focus and forwards keys as DOM `KeyboardEvent.code` presses and releases (the
 * PS/2 keyboard maps them to scan codes).
 */
import type { ScreenFrame } from '../host/protocol.ts';
import { CP437, VGA_PALETTE } from './cp437.ts';
import { h } from './dom.ts';
import { MONO_FONT } from './serial-console.ts';

const BLINK_MS = 533;
/** Line height of a text row, in units of the font size. */
const ROW_HEIGHT = 1.2;

/**
 * CP437 box-drawing characters 0xB3-0xDA as lines from the cell's centre: [up, right, down, left], each
 * 0 (none), 1 (single) or 2 (double).
 */
const BOX: Record<number, [number, number, number, number]> = {
  0xb3: [1, 0, 1, 0],
  0xb4: [1, 0, 1, 1],
  0xb5: [1, 0, 1, 2],
  0xb6: [2, 0, 2, 1],
  0xb7: [0, 0, 2, 1],
  0xb8: [0, 0, 1, 2],
  0xb9: [2, 0, 2, 2],
  0xba: [2, 0, 2, 0],
  0xbb: [0, 0, 2, 2],
  0xbc: [2, 0, 0, 2],
  0xbd: [2, 0, 0, 1],
  0xbe: [1, 0, 0, 2],
  0xbf: [0, 0, 1, 1],
  0xc0: [1, 1, 0, 0],
  0xc1: [1, 1, 0, 1],
  0xc2: [0, 1, 1, 1],
  0xc3: [1, 1, 1, 0],
  0xc4: [0, 1, 0, 1],
  0xc5: [1, 1, 1, 1],
  0xc6: [1, 2, 1, 0],
  0xc7: [2, 1, 2, 0],
  0xc8: [2, 2, 0, 0],
  0xc9: [0, 2, 2, 0],
  0xca: [2, 2, 0, 2],
  0xcb: [0, 2, 2, 2],
  0xcc: [2, 2, 2, 0],
  0xcd: [0, 2, 0, 2],
  0xce: [2, 2, 2, 2],
  0xcf: [1, 2, 0, 2],
  0xd0: [2, 1, 0, 1],
  0xd1: [0, 2, 1, 2],
  0xd2: [0, 1, 2, 1],
  0xd3: [2, 1, 0, 0],
  0xd4: [1, 2, 0, 0],
  0xd5: [0, 2, 1, 0],
  0xd6: [0, 1, 2, 0],
  0xd7: [2, 1, 2, 1],
  0xd8: [1, 2, 1, 2],
  0xd9: [1, 0, 0, 1],
  0xda: [0, 1, 1, 0],
};

function cssColor(rgb: number): string {
  return `#${(rgb & 0xffffff).toString(16).padStart(6, '0')}`;
}

export interface KeyHandler {
  (code: string, down: boolean): void;
}

export class VgaScreen {
  readonly element: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly cursor: HTMLDivElement;
  private frame: ScreenFrame | null = null;
  /** The cells as last drawn (null: everything must be drawn). */
  private drawn: Uint16Array | null = null;
  private palette: string[] = VGA_PALETTE.map(cssColor);
  private cellW = 8;
  private cellH = 16;
  private fontPx = 14;
  private dpr = 1;
  private blinkOn = true;
  private blinkTimer: ReturnType<typeof setInterval> | null = null;
  private readonly pressed = new Set<string>();
  onKey: KeyHandler = () => {};
  /** Called for keys the page keeps for itself (the console-release chord); return true to swallow. */
  interceptKey: (event: KeyboardEvent) => boolean = () => false;

  constructor(
    label: string,
    private readonly charWidthRatio = 0.6,
  ) {
    this.canvas = h('canvas', { class: 'vga-canvas' });
    this.ctx = this.canvas.getContext('2d', { alpha: false })!;
    this.cursor = h('div', { class: 'vga-cursor', hidden: true });
    this.element = h(
      'div',
      { class: 'vga', tabindex: 0, role: 'img', 'aria-label': `${label}: text screen` },
      h('div', { class: 'vga-inner' }, this.canvas, this.cursor),
    );
    this.element.addEventListener('keydown', (e) => this.key(e, true));
    this.element.addEventListener('keyup', (e) => this.key(e, false));
    this.element.addEventListener('blur', () => this.releaseAll());
    this.showBlank();
  }

  private key(event: KeyboardEvent, down: boolean): void {
    if (this.interceptKey(event)) return;
    if (!event.code) return;
    event.preventDefault();
    event.stopPropagation();
    if (down) this.pressed.add(event.code);
    else if (!this.pressed.delete(event.code)) return;
    this.onKey(event.code, down);
  }

  /** Keys still held when focus leaves are released, so the guest does not see them stuck. */
  releaseAll(): void {
    for (const code of this.pressed) this.onKey(code, false);
    this.pressed.clear();
  }

  focus(): void {
    this.element.focus({ preventScroll: true });
  }

  /** An 80x25 black screen (before the first frame, and after power-off). */
  showBlank(): void {
    this.render({
      cols: 80,
      rows: 25,
      cells: new Uint16Array(80 * 25),
      cursor: { row: 0, col: 0, visible: false },
      blink: false,
      blank: true,
      palette: [...VGA_PALETTE],
      generation: -1,
    });
  }

  /** Sizes the cells so that the screen fills `width` x `height` CSS pixels. */
  fit(width: number, height: number): void {
    const cols = this.frame?.cols ?? 80;
    const rows = this.frame?.rows ?? 25;
    const font = Math.max(
      4,
      Math.min((width - 4) / (cols * this.charWidthRatio), (height - 4) / (rows * ROW_HEIGHT)),
    );
    const dpr = window.devicePixelRatio || 1;
    const cellW = Math.max(3, Math.round(font * this.charWidthRatio * dpr));
    const cellH = Math.max(5, Math.round(font * ROW_HEIGHT * dpr));
    if (cellW === this.cellW && cellH === this.cellH && dpr === this.dpr) return;
    this.cellW = cellW;
    this.cellH = cellH;
    this.dpr = dpr;
    this.fontPx = Math.min(cellH / ROW_HEIGHT, cellW / this.charWidthRatio);
    this.resizeCanvas();
  }

  private resizeCanvas(): void {
    const cols = this.frame?.cols ?? 80;
    const rows = this.frame?.rows ?? 25;
    this.canvas.width = cols * this.cellW;
    this.canvas.height = rows * this.cellH;
    this.canvas.style.width = `${(cols * this.cellW) / this.dpr}px`;
    this.canvas.style.height = `${(rows * this.cellH) / this.dpr}px`;
    this.drawn = null;
    if (this.frame) this.draw();
  }

  render(frame: ScreenFrame): void {
    const palette = (frame.palette.length === 16 ? frame.palette : VGA_PALETTE).map(cssColor);
    const old = this.frame;
    if (!old || old.cols !== frame.cols || old.rows !== frame.rows) {
      this.frame = frame;
      this.palette = palette;
      this.resizeCanvas();
    } else {
      if (palette.join() !== this.palette.join() || frame.blank !== old.blank || frame.blink !== old.blink) {
        this.drawn = null;
      }
      this.palette = palette;
      this.frame = frame;
      this.draw();
    }
    this.updateBlinkTimer();
  }

  /** Draws the rows whose cells differ from what is on the canvas. */
  private draw(): void {
    const frame = this.frame!;
    const { cols, rows, cells } = frame;
    const drawn = this.drawn;
    for (let row = 0; row < rows; row++) {
      if (drawn && rowEqual(drawn, cells, row * cols, cols)) continue;
      this.drawRow(row);
    }
    this.drawn = cells.slice();
    this.placeCursor();
  }

  private drawRow(row: number): void {
    const frame = this.frame!;
    const { cols, cells, blink } = frame;
    const ctx = this.ctx;
    const w = this.cellW;
    const hgt = this.cellH;
    const y = row * hgt;
    const palette = this.palette;
    ctx.font = `${this.fontPx}px ${MONO_FONT}`;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'center';
    for (let col = 0; col < cols; col++) {
      const cell = cells[row * cols + col];
      const attr = cell >> 8;
      const fg = palette[attr & 0x0f];
      const bg = palette[blink ? (attr >> 4) & 0x07 : (attr >> 4) & 0x0f];
      const x = col * w;
      ctx.fillStyle = bg;
      ctx.fillRect(x, y, w, hgt);
      if (frame.blank) continue;
      if (blink && attr & 0x80 && !this.blinkOn) continue;
      this.drawGlyph(cell & 0xff, x, y, fg, bg);
    }
  }

  private drawGlyph(ch: number, x: number, y: number, fg: string, bg: string): void {
    const ctx = this.ctx;
    const w = this.cellW;
    const hgt = this.cellH;
    if (ch === 0 || ch === 0x20 || ch === 0xff) return;
    ctx.fillStyle = fg;
    const box = BOX[ch];
    if (box) {
      drawBox(ctx, box, x, y, w, hgt);
      return;
    }
    switch (ch) {
      case 0xdb:
        ctx.fillRect(x, y, w, hgt);
        return;
      case 0xdc:
        ctx.fillRect(x, y + (hgt >> 1), w, hgt - (hgt >> 1));
        return;
      case 0xdd:
        ctx.fillRect(x, y, w >> 1, hgt);
        return;
      case 0xde:
        ctx.fillRect(x + (w >> 1), y, w - (w >> 1), hgt);
        return;
      case 0xdf:
        ctx.fillRect(x, y, w, hgt >> 1);
        return;
      case 0xb0:
      case 0xb1:
      case 0xb2:
        ctx.globalAlpha = ch === 0xb0 ? 0.25 : ch === 0xb1 ? 0.5 : 0.75;
        ctx.fillRect(x, y, w, hgt);
        ctx.globalAlpha = 1;
        return;
    }
    void bg;
    ctx.fillText(CP437[ch], x + w / 2, y + hgt / 2 + hgt * 0.04);
  }

  private placeCursor(): void {
    const frame = this.frame!;
    const { cursor } = frame;
    const visible = cursor.visible && !frame.blank && cursor.row < frame.rows && cursor.col < frame.cols;
    this.cursor.hidden = !visible;
    if (!visible) return;
    const w = this.cellW / this.dpr;
    const hgt = this.cellH / this.dpr;
    const attr = frame.cells[cursor.row * frame.cols + cursor.col] >> 8;
    this.cursor.style.left = `${cursor.col * w}px`;
    this.cursor.style.top = `${cursor.row * hgt + hgt * 0.8}px`;
    this.cursor.style.width = `${w}px`;
    this.cursor.style.height = `${Math.max(1.5, hgt * 0.13)}px`;
    this.cursor.style.backgroundColor = this.palette[attr & 0x0f];
  }

  /** Redraws blinking characters twice a blink period while any are on screen. */
  private updateBlinkTimer(): void {
    const frame = this.frame!;
    let any = false;
    if (frame.blink && !frame.blank) {
      for (let i = 0; i < frame.cells.length; i++) {
        if (frame.cells[i] & 0x8000) {
          any = true;
          break;
        }
      }
    }
    if (any && !this.blinkTimer) {
      this.blinkTimer = setInterval(() => {
        this.blinkOn = !this.blinkOn;
        const f = this.frame!;
        for (let row = 0; row < f.rows; row++) {
          for (let col = 0; col < f.cols; col++) {
            if (f.cells[row * f.cols + col] & 0x8000) {
              this.drawRow(row);
              break;
            }
          }
        }
      }, BLINK_MS);
    } else if (!any && this.blinkTimer) {
      clearInterval(this.blinkTimer);
      this.blinkTimer = null;
      this.blinkOn = true;
    }
  }

  /** The screen as text, one line per row, trailing blanks removed (tests, copy). */
  text(): string {
    const frame = this.frame;
    if (!frame || frame.blank) return '';
    const lines: string[] = [];
    for (let row = 0; row < frame.rows; row++) {
      let line = '';
      for (let col = 0; col < frame.cols; col++) line += CP437[frame.cells[row * frame.cols + col] & 0xff];
      lines.push(line.replace(/\u00a0/g, ' ').trimEnd());
    }
    return lines.join('\n');
  }

  dispose(): void {
    if (this.blinkTimer) clearInterval(this.blinkTimer);
    this.blinkTimer = null;
  }
}

function rowEqual(a: Uint16Array, b: Uint16Array, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Single and double lines from the cell's centre to its edges. */
function drawBox(
  ctx: CanvasRenderingContext2D,
  [up, right, down, left]: [number, number, number, number],
  x: number,
  y: number,
  w: number,
  h: number,
): void {
  const t = Math.max(1, Math.round(Math.min(w, h) / 8)); // line thickness
  const gap = t * 2; // distance between the two lines of a double line
  const cx = x + Math.floor((w - t) / 2);
  const cy = y + Math.floor((h - t) / 2);
  // Vertical strokes.
  const vertical = (kind: number, from: number, to: number) => {
    if (kind === 1) ctx.fillRect(cx, from, t, to - from);
    else if (kind === 2) {
      ctx.fillRect(cx - gap / 2, from, t, to - from);
      ctx.fillRect(cx + gap / 2, from, t, to - from);
    }
  };
  const horizontal = (kind: number, from: number, to: number) => {
    if (kind === 1) ctx.fillRect(from, cy, to - from, t);
    else if (kind === 2) {
      ctx.fillRect(from, cy - gap / 2, to - from, t);
      ctx.fillRect(from, cy + gap / 2, to - from, t);
    }
  };
  // A line reaching the centre extends to the far side of the crossing stroke so corners close.
  const hExtent = Math.max(left, right) === 2 ? gap / 2 + t : t;
  const vExtent = Math.max(up, down) === 2 ? gap / 2 + t : t;
  vertical(up, y, cy + hExtent);
  vertical(down, cy - (hExtent - t), y + h);
  horizontal(left, x, cx + vExtent);
  horizontal(right, cx - (vExtent - t), x + w);
}
