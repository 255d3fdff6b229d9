import { describe, expect, it } from 'vitest';
import { keyForChar, keystrokes } from '../../src/ui/keymap.ts';
import {
  formatBytes,
  formatCount,
  formatMiB,
  formatMips,
  formatTime,
  formatUptime,
} from '../../src/ui/format.ts';
import { CP437 } from '../../src/ui/cp437.ts';
import { sortVms } from '../../src/ui/vm-table.ts';
import { emptyStats, type VmRecord } from '../../src/host/hypervisor.ts';

describe('page helpers', () => {
  it('types text as US-layout key presses', () => {
    expect(keyForChar('a')).toEqual({ code: 'KeyA', shift: false });
    expect(keyForChar('A')).toEqual({ code: 'KeyA', shift: true });
    expect(keyForChar('?')).toEqual({ code: 'Slash', shift: true });
    expect(keyForChar('é')).toBeNull();
    expect(keystrokes('Hi\r\n')).toEqual([
      { code: 'ShiftLeft', down: true },
      { code: 'KeyH', down: true },
      { code: 'KeyH', down: false },
      { code: 'ShiftLeft', down: false },
      { code: 'KeyI', down: true },
      { code: 'KeyI', down: false },
      { code: 'Enter', down: true },
      { code: 'Enter', down: false },
    ]);
  });

  it('formats the numbers the page shows', () => {
    expect(formatUptime(0)).toBe('—');
    expect(formatUptime(3_723_000)).toBe('1:02:03');
    expect(formatUptime(2 * 86_400_000 + 3_600_000)).toBe('2d 01:00');
    expect(formatCount(950)).toBe('950');
    expect(formatCount(12_345)).toBe('12.3 k');
    expect(formatCount(4_560_000_000)).toBe('4.56 G');
    expect(formatMiB(0.5)).toBe('512 KiB');
    expect(formatMiB(1536)).toBe('1.5 GiB');
    expect(formatMips(0.034)).toBe('0.03');
    expect(formatMips(123.4)).toBe('123');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(68 * 1024)).toBe('68 KiB');
    expect(formatBytes(3.5 * 1024 * 1024)).toBe('3.5 MiB');
    expect(formatBytes(10 * 1024 ** 3)).toBe('10.00 GiB');
    const noon = new Date(2026, 10, 27, 12, 3, 4).getTime();
    expect(formatTime(noon, noon + 60_000)).toBe(new Date(noon).toLocaleTimeString());
    const day = new Date(noon).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
    expect(formatTime(noon, noon + 3 * 86_400_000).startsWith(`${day} `)).toBe(true);
  });

  it('maps code page 437 to Unicode', () => {
    expect(CP437[0x41]).toBe('A');
    expect(CP437[0x03]).toBe('♥');
    expect(CP437[0xc9]).toBe('╔');
    expect(CP437[0xdb]).toBe('█');
  });

  it('sorts the VM list by any column, both ways', () => {
    const vm = (name: string, state: VmRecord['state'], mips: number, createdAt: number): VmRecord =>
      ({
        id: name,
        name,
        image: name.toUpperCase(),
        console: undefined,
        config: {
          name,
          memoryMiB: mips * 2 + 4,
          diskMiB: 0,
          media: { kind: 'floppy', image: new Uint8Array() },
        },
        state,
        reason: '',
        stats: { ...emptyStats(), mips, wallUptimeMs: mips * 1000 },
        mipsHistory: [],
        log: [],
        consoleTail: '',
        screen: null,
        usesScreen: false,
        usesSerial: false,
        createdAt,
        stateSince: 0,
      }) satisfies VmRecord;
    const list = [vm('b', 'running', 5, 1), vm('a', 'off', 0, 2), vm('c', 'paused', 9, 3)];
    const names = (key: Parameters<typeof sortVms>[1], asc: boolean) =>
      sortVms(list, key, asc).map((v) => v.name);
    expect(names('name', true)).toEqual(['a', 'b', 'c']);
    expect(names('state', true)).toEqual(['b', 'c', 'a']);
    expect(names('mips', false)).toEqual(['b', 'c', 'a']); // MIPS counts for running VMs only
    expect(names('memory', false)).toEqual(['c', 'b', 'a']);
    expect(names('uptime', false)).toEqual(['c', 'b', 'a']);
    const stored: Record<string, number> = { a: 300, b: 100, c: 200 };
    expect(sortVms(list, 'storage', false, (id) => stored[id]).map((v) => v.name)).toEqual(['a', 'c', 'b']);
  });
});
