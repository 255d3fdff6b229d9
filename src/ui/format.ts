/** Number and time formatting for the host client (compact, fixed-width friendly). */

/** 0:00:05, 1:02:03, 2d 03:04 */
export function formatUptime(ms: number): string {
  if (!(ms > 0)) return '—';
  const s = Math.floor(ms / 1000);
  const days = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (days > 0) return `${days}d ${two(h)}:${two(m)}`;
  return `${h}:${two(m)}:${two(sec)}`;
}

/** 950, 12.3 k, 4.56 M, 1.23 G */
export function formatCount(n: number): string {
  const abs = Math.abs(n);
  if (abs < 1000) return String(Math.round(n));
  const units = ['k', 'M', 'G', 'T'];
  let value = n;
  let unit = -1;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(Math.abs(value) < 10 ? 2 : Math.abs(value) < 100 ? 1 : 0)} ${units[unit]}`;
}

/** 512 MiB, 1.5 GiB */
export function formatMiB(mib: number): string {
  if (mib >= 1024) return `${(mib / 1024).toFixed(mib % 1024 === 0 ? 0 : 1)} GiB`;
  if (mib > 0 && mib < 1) return `${Math.max(1, Math.round(mib * 1024))} KiB`;
  if (mib < 10 && !Number.isInteger(mib)) return `${mib.toFixed(1)} MiB`;
  return `${Math.round(mib)} MiB`;
}

/** 12:03:04 today, or Nov 27 12:03 on another day. */
export function formatTime(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  if (new Date(now).toDateString() === d.toDateString()) return d.toLocaleTimeString();
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`;
}

export function formatMips(mips: number): string {
  if (mips <= 0) return '0';
  if (mips < 1) return mips.toFixed(2);
  if (mips < 10) return mips.toFixed(1);
  return Math.round(mips).toString();
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(n / (1024 * 1024 * 1024)).toFixed(2)} GiB`;
}
