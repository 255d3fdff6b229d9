/**
 * What the Linux workloads look for on COM1: the shell prompt of images/linux's initramfs, and the markers
 * our busybox workload's /init prints around each timed step. SerialWatcher turns the console's bytes into
 * lines and reports prompts and markers as they arrive; both emulators' runners feed it.
 */

/** The prompt of the shell scripts/fetch-linux.ts's /init starts (PS1='visor86:\w# '). */
export const PROMPT_PATTERN = /visor86:[^\n]*# $/;

export const MARKER_PREFIX = '@@BENCH';

/**
 * The busybox workload's timed steps, in the order /init runs them. `expected` is the output a correct CPU
 * gives (worked out independently of any emulator); a step that prints something else fails. The awk step
 * has none: its last digits depend on x87 rounding, so the engines' answers are only compared.
 */
export const BUSYBOX_STEPS: ReadonlyArray<{
  name: string;
  description: string;
  script: string;
  expected?: RegExp;
}> = [
  {
    name: 'seq-md5sum',
    description: 'seq 1 100000 | md5sum',
    script: 'seq 1 100000 | md5sum',
    expected: /^dea9193b768319cbb4ff1a137ac03113 {2}-$/,
  },
  {
    name: 'shell-loop',
    description: 'a 20,000-iteration ash loop (test, arithmetic)',
    script: 'i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done; echo $i',
    expected: /^20000$/,
  },
  {
    name: 'awk-float',
    description: 'awk: 50,000 iterations of floating-point add, multiply, divide (x87)',
    script: `awk 'BEGIN { s = 0; p = 1; for (i = 1; i <= 50000; i++) { s += 1 / (i + 0.5); p = p * 1.0000001 + 0.5 / i }; printf "%.6f %.6f\\n", s, p }'`,
  },
  {
    name: 'gzip',
    description: 'gzip -6 of a 0.8 MB text, then gunzip | md5sum',
    script: 'gzip -c /tmp/text > /tmp/text.gz; wc -c < /tmp/text.gz; gzip -dc /tmp/text.gz | md5sum',
    expected: /^\d+ \/ 2f12477aa513a5e41d91acc37583d2e4 {2}-$/,
  },
  {
    name: 'sort',
    description: 'sort -n of 30,000 numbers | md5sum',
    script: 'sort -n /tmp/numbers | md5sum',
    expected: /^3f9620fb31edd625d3e87ed823d1f3cd {2}-$/,
  },
  {
    name: 'fork-exec',
    description: '200 fork+exec of /bin/true',
    script: 'i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i + 1)); done; echo $i',
    expected: /^200$/,
  },
];

/**
 * The /init of the busybox workload: the same set-up as images/linux's /init, inputs made before the
 * timed part, then each step between "@@BENCH begin NAME" and "@@BENCH end NAME" lines, and "@@BENCH done".
 */
export function busyboxInitScript(): string {
  const steps = BUSYBOX_STEPS.map(
    (s) => `echo "${MARKER_PREFIX} begin ${s.name}"\n${s.script}\necho "${MARKER_PREFIX} end ${s.name}"`,
  ).join('\n');
  return `#!/bin/busybox sh
# visor86 benchmark: the busybox workload (scripts/bench/guest-scripts.ts). Replaces images/linux's /init.
/bin/busybox mkdir -p /proc /sys /dev /tmp /usr/bin /usr/sbin /sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
cd /tmp
# Inputs, made before the timed part: numbers from a small exact LCG, and lines of text.
awk 'BEGIN { x = 1; for (i = 0; i < 30000; i++) { x = (x * 75 + 74) % 65537; print x } }' > /tmp/numbers
seq 1 25000 | sed 's/$/ the quick brown fox jumps over/' > /tmp/text
echo "${MARKER_PREFIX} ready"
${steps}
echo "${MARKER_PREFIX} done"
while true; do sleep 1000; done
`;
}

export interface Marker {
  /** "ready", "begin", "end" or "done". */
  kind: string;
  /** The step name for begin/end. */
  step?: string;
}

/** Parses a console line as a marker, or returns null. */
export function parseMarker(line: string): Marker | null {
  const m = /^@@BENCH (ready|begin|end|done)(?: ([a-z0-9-]+))?\s*$/.exec(line.replace(/\r$/, ''));
  if (!m) return null;
  return m[2] ? { kind: m[1], step: m[2] } : { kind: m[1] };
}

/** A kernel log line ("[    1.234567] ..."), which may interleave with the workload's output. */
const KERNEL_LOG_LINE = /^\[\s*\d+\.\d+\]/;

export interface SerialEvents {
  onMarker?(marker: Marker, outputSinceLastMarker: string[]): void;
  onPrompt?(): void;
}

/** Splits console bytes into lines; reports markers with the output lines before them, and the prompt. */
export class SerialWatcher {
  private line = '';
  private output: string[] = [];
  private readonly recent: string[] = [];
  private promptSeen = false;
  totalBytes = 0;

  constructor(private readonly events: SerialEvents) {}

  push(bytes: Uint8Array | number[]): void {
    for (const b of bytes) this.pushByte(b);
  }

  pushByte(byte: number): void {
    this.totalBytes++;
    if (byte === 10) {
      const text = this.line.replace(/\r+$/, '');
      this.line = '';
      this.recent.push(text);
      if (this.recent.length > 5) this.recent.shift();
      const marker = parseMarker(text);
      if (marker) {
        const output = this.output;
        this.output = [];
        this.events.onMarker?.(marker, output);
      } else if (text && !KERNEL_LOG_LINE.test(text)) {
        this.output.push(text);
        if (this.output.length > 50) this.output.shift();
      }
      return;
    }
    if (byte === 13) return;
    this.line += String.fromCharCode(byte);
    if (this.line.length > 4096) this.line = this.line.slice(-1024);
    if (!this.promptSeen && PROMPT_PATTERN.test(this.line)) {
      this.promptSeen = true;
      this.events.onPrompt?.();
    }
  }

  /** The last non-empty console line (complete or not), for progress and failure messages. */
  lastLine(): string {
    if (this.line.trim()) return this.line;
    for (let i = this.recent.length - 1; i >= 0; i--) if (this.recent[i].trim()) return this.recent[i];
    return '';
  }
}
