/**
 * The busybox workload's initramfs (scripts/bench/initrd.ts): a second gzip'd newc archive appended to an
 * existing one, parsed back; and the /init script's markers as the serial watcher reads them.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { buildCpio } from '../../scripts/lib/cpio.ts';
import { appendToInitrd, gunzipAll, readCpio, unpackedView } from '../../scripts/bench/initrd.ts';
import {
  BUSYBOX_STEPS,
  busyboxInitScript,
  parseMarker,
  SerialWatcher,
} from '../../scripts/bench/guest-scripts.ts';

const text = (s: string) => new TextEncoder().encode(s);
const base = gzipSync(
  buildCpio([
    { path: 'bin', mode: 0o040755 },
    { path: 'bin/busybox', mode: 0o100755, data: text('ELF...') },
    { path: 'init', mode: 0o100755, data: text('#!/bin/sh\necho original\n') },
  ]),
);

describe('appendToInitrd', () => {
  const combined = appendToInitrd(base, [
    { path: 'init', mode: 0o100755, data: text('#!/bin/sh\necho ours\n') },
  ]);

  it('keeps the original archive byte for byte in front', () => {
    expect(Buffer.from(combined.subarray(0, base.length)).equals(base)).toBe(true);
    expect(combined.length).toBeGreaterThan(base.length);
    expect([combined[base.length], combined[base.length + 1]]).toEqual([0x1f, 0x8b]);
  });

  it('parses back as both archives in order, the later /init replacing the first', () => {
    const records = readCpio(gunzipAll(combined));
    expect(records.map((r) => r.path)).toEqual(['bin', 'bin/busybox', 'init', 'init']);
    const files = unpackedView(records);
    expect(new TextDecoder().decode(files.get('init')?.data)).toBe('#!/bin/sh\necho ours\n');
    expect(files.get('init')?.mode).toBe(0o100755);
    expect(new TextDecoder().decode(files.get('bin/busybox')?.data)).toBe('ELF...');
  });

  it('refuses an initrd that is not gzip', () => {
    expect(() => appendToInitrd(buildCpio([]), [])).toThrow(/not gzip-compressed/);
  });
});

describe('readCpio', () => {
  it('says where the bytes stop being newc', () => {
    const bytes = buildCpio([{ path: 'a', mode: 0o100644, data: text('x') }]);
    const broken = new Uint8Array(bytes);
    broken[0] = 0x39; // "970701"
    expect(() => readCpio(broken)).toThrow(/no newc magic at offset 0/);
    expect(() => readCpio(bytes.subarray(0, 60))).toThrow(/truncated header at offset 0/);
  });
});

describe('the busybox workload script', () => {
  const script = busyboxInitScript();

  it('brackets every step with begin and end markers, between ready and done', () => {
    const markers = script
      .split('\n')
      .map((l) => /^echo "(@@BENCH [^"]+)"$/.exec(l)?.[1])
      .filter((m): m is string => m !== undefined)
      .map((m) => parseMarker(m));
    expect(markers[0]).toEqual({ kind: 'ready' });
    expect(markers.at(-1)).toEqual({ kind: 'done' });
    expect(markers.slice(1, -1)).toEqual(
      BUSYBOX_STEPS.flatMap((s) => [
        { kind: 'begin', step: s.name },
        { kind: 'end', step: s.name },
      ]),
    );
  });

  it('is seen by the serial watcher with each step output, kernel log lines dropped', () => {
    const seen: string[] = [];
    const watcher = new SerialWatcher({
      onMarker: (m, output) => seen.push(`${m.kind}${m.step ? ' ' + m.step : ''} [${output.join('|')}]`),
    });
    watcher.push(
      text(
        '@@BENCH ready\r\n@@BENCH begin sort\r\n[   12.5] random: crng init\r\nabc  -\r\n@@BENCH end sort\r\n',
      ),
    );
    expect(seen).toEqual(['ready []', 'begin sort []', 'end sort [abc  -]']);
  });

  it('reports the shell prompt once, without a newline after it', () => {
    let prompts = 0;
    const watcher = new SerialWatcher({ onPrompt: () => prompts++ });
    watcher.push(text('visor86 Linux: Linux 6.1\r\nvisor86:/# '));
    watcher.push(text('ls\r\nvisor86:/# '));
    expect(prompts).toBe(1);
    expect(watcher.lastLine()).toBe('visor86:/# ');
  });

  it('expects the answers the steps give, worked out here on the host', () => {
    const md5 = (s: string) => createHash('md5').update(s).digest('hex') + '  -';
    const lines = (n: number, f: (i: number) => string) =>
      Array.from({ length: n }, (_, i) => f(i + 1) + '\n').join('');
    const numbers: number[] = [];
    for (let i = 0, x = 1; i < 30000; i++) numbers.push((x = (x * 75 + 74) % 65537));
    const answers: Record<string, string> = {
      'seq-md5sum': md5(lines(100000, String)),
      'shell-loop': '20000',
      gzip: `61943 / ${md5(lines(25000, (i) => `${i} the quick brown fox jumps over`))}`,
      sort: md5(numbers.sort((a, b) => a - b).join('\n') + '\n'),
      'fork-exec': '200',
    };
    for (const step of BUSYBOX_STEPS) {
      if (step.expected) expect(answers[step.name], step.name).toMatch(step.expected);
    }
    expect(Object.keys(answers).sort()).toEqual(
      BUSYBOX_STEPS.filter((s) => s.expected)
        .map((s) => s.name)
        .sort(),
    );
  });
});
