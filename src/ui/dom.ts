/** A few DOM helpers: building elements and inline SVG icons (no framework). */

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** h('button', { class: 'x', onclick: fn, disabled: true }, 'label') */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value as EventListener);
    } else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

/** Icons drawn on a 16x16 grid: filled shapes, or strokes where the name says so. */
const ICONS: Record<string, string> = {
  play: '<path d="M4.5 2.8v10.4l8.6-5.2z" fill="currentColor"/>',
  pause: '<path d="M4 3h3v10H4zM9 3h3v10H9z" fill="currentColor"/>',
  stop: '<rect x="3.5" y="3.5" width="9" height="9" rx="1" fill="currentColor"/>',
  reset:
    '<path d="M12.6 5.2A5.2 5.2 0 1 0 13.2 9" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round"/><path d="M13.6 1.9v4.2H9.4z" fill="currentColor"/>',
  power:
    '<path d="M8 1.8v5.6" stroke="currentColor" stroke-width="1.7" stroke-linecap="round"/><path d="M4.6 4.1a5.3 5.3 0 1 0 6.8 0" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round"/>',
  keys: '<rect x="1.5" y="4" width="13" height="8" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.3"/><path d="M4 6.5h1.5M7.2 6.5h1.6M10.5 6.5H12M5 9.5h6" stroke="currentColor" stroke-width="1.3" stroke-linecap="round"/>',
  clipboard:
    '<rect x="3" y="3" width="10" height="11.5" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.3"/><rect x="5.5" y="1.5" width="5" height="3" rx="1" fill="currentColor"/><path d="M5.5 8h5M5.5 10.8h3.5" stroke="currentColor" stroke-width="1.3" stroke-linecap="round"/>',
  plus: '<path d="M8 2.5v11M2.5 8h11" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/>',
  trash:
    '<path d="M2.5 4h11M6 4V2.5h4V4M4 4l.7 9.5h6.6L12 4" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/>',
  help: '<circle cx="8" cy="8" r="6.3" fill="none" stroke="currentColor" stroke-width="1.4"/><path d="M6.2 6.2a1.9 1.9 0 1 1 2.6 1.8c-.6.3-.8.7-.8 1.3v.4" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linecap="round"/><circle cx="8" cy="11.6" r=".9" fill="currentColor"/>',
  theme:
    '<circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" stroke-width="1.4"/><path d="M8 2a6 6 0 0 1 0 12z" fill="currentColor"/>',
  expand:
    '<path d="M2.5 6V2.5H6M10 2.5h3.5V6M13.5 10v3.5H10M6 13.5H2.5V10" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>',
  collapse:
    '<path d="M6 2.5V6H2.5M13.5 6H10V2.5M10 13.5V10h3.5M2.5 10H6v3.5" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>',
  terminal:
    '<rect x="1.5" y="2.5" width="13" height="11" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.3"/><path d="M4 6l2.2 2L4 10M7.8 10.5H12" fill="none" stroke="currentColor" stroke-width="1.3" stroke-linecap="round" stroke-linejoin="round"/>',
  screen:
    '<rect x="1.5" y="2" width="13" height="9.5" rx="1.2" fill="none" stroke="currentColor" stroke-width="1.3"/><path d="M5.5 14h5M8 11.5V14" stroke="currentColor" stroke-width="1.3" stroke-linecap="round"/>',
  eye: '<path d="M1.5 8s2.4-4.3 6.5-4.3S14.5 8 14.5 8s-2.4 4.3-6.5 4.3S1.5 8 1.5 8z" fill="none" stroke="currentColor" stroke-width="1.3"/><circle cx="8" cy="8" r="2" fill="currentColor"/>',
  upload:
    '<path d="M8 10.5V2.5M4.8 5.5 8 2.3l3.2 3.2M2.5 10.5v3h11v-3" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>',
  camera:
    '<path d="M2 5h2.6l1.2-1.8h4.4L11.4 5H14v8H2z" fill="none" stroke="currentColor" stroke-width="1.3" stroke-linejoin="round"/><circle cx="8" cy="8.8" r="2.3" fill="none" stroke="currentColor" stroke-width="1.3"/>',
  revert:
    '<path d="M3.4 5.2A5.2 5.2 0 1 1 2.8 9" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round"/><path d="M2.4 1.9v4.2h4.2z" fill="currentColor"/>',
  download:
    '<path d="M8 2.5v8M4.8 7.5 8 10.7l3.2-3.2M2.5 10.5v3h11v-3" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>',
  edit: '<path d="M10.5 2.5l3 3-7.8 7.8H2.7v-3z" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/>',
  clone:
    '<rect x="5" y="5" width="8.5" height="8.5" rx="1.2" fill="none" stroke="currentColor" stroke-width="1.3"/><path d="M11 3.2V2.5H2.5V11h.7" fill="none" stroke="currentColor" stroke-width="1.3" stroke-linejoin="round"/>',
  disk: '<rect x="2" y="3" width="12" height="10" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.3"/><path d="M2 9.5h12" stroke="currentColor" stroke-width="1.3"/><circle cx="11.3" cy="11.3" r=".9" fill="currentColor"/>',
  here: '<path d="M3 8h7.5M7.5 4.5 11 8l-3.5 3.5" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round"/><path d="M13 3v10" stroke="currentColor" stroke-width="1.7" stroke-linecap="round"/>',
  close:
    '<path d="M3.5 3.5l9 9M12.5 3.5l-9 9" stroke="currentColor" stroke-width="1.7" stroke-linecap="round"/>',
  chip: '<rect x="4" y="4" width="8" height="8" rx="1" fill="none" stroke="currentColor" stroke-width="1.3"/><path d="M6 1.5V4M10 1.5V4M6 12v2.5M10 12v2.5M1.5 6H4M1.5 10H4M12 6h2.5M12 10h2.5" stroke="currentColor" stroke-width="1.2"/>',
  memory:
    '<rect x="1.5" y="4.5" width="13" height="6" rx="1" fill="none" stroke="currentColor" stroke-width="1.3"/><path d="M4 7h1.5M7.2 7h1.6M10.5 7H12M3.5 10.5v2M6.5 10.5v2M9.5 10.5v2M12.5 10.5v2" stroke="currentColor" stroke-width="1.2"/>',
  server:
    '<rect x="2" y="2" width="12" height="5" rx="1" fill="none" stroke="currentColor" stroke-width="1.3"/><rect x="2" y="9" width="12" height="5" rx="1" fill="none" stroke="currentColor" stroke-width="1.3"/><circle cx="4.8" cy="4.5" r=".9" fill="currentColor"/><circle cx="4.8" cy="11.5" r=".9" fill="currentColor"/>',
};

export function icon(name: keyof typeof ICONS | string, label?: string): SVGSVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', `icon icon-${name}`);
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  } else svg.setAttribute('aria-hidden', 'true');
  svg.innerHTML = ICONS[name] ?? '';
  return svg;
}

/** A small line chart of the last values (0 at the bottom), as an SVG path. */
export function sparkline(values: number[], width = 120, height = 28): SVGSVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('preserveAspectRatio', 'none');
  if (values.length < 2) return svg;
  const max = Math.max(...values, 1e-9);
  const step = width / (values.length - 1);
  const y = (v: number) => (height - 2 - (v / max) * (height - 4)).toFixed(1);
  const line = values.map((v, i) => `${i === 0 ? 'M' : 'L'}${(i * step).toFixed(1)} ${y(v)}`).join('');
  svg.innerHTML =
    `<path d="${line}L${width} ${height}L0 ${height}z" class="spark-fill"/>` +
    `<path d="${line}" class="spark-line" fill="none"/>`;
  return svg;
}
