import { describe, expect, it } from 'vitest';
import { DEFAULT_MEMORY_MIB, parseRunArgs, UsageError } from '../../src/cli/options.ts';
import { EscapeFilter } from '../../src/cli/escape.ts';
import type { EscapeCommand } from '../../src/cli/escape.ts';

describe('parseRunArgs', () => {
  it('takes an IMAGE and QEMU-like options, with values after a space or an =', () => {
    const o = parseRunArgs([
      'disk.img',
      '--memory=64',
      '--floppy',
      'a.img',
      '--floppy',
      'b.img',
      '--disk',
      'd2.img',
    ]);
    expect(o.image).toBe('disk.img');
    expect(o.memoryMiB).toBe(64);
    expect(o.floppies).toEqual(['a.img', 'b.img']);
    expect(o.disks).toEqual(['d2.img']);
    expect(o.serial).toEqual({ kind: 'stdio' });
  });

  it('has defaults: 128 MiB, stdio, no timeout', () => {
    const o = parseRunArgs(['--kernel', 'k']);
    expect(o.memoryMiB).toBe(DEFAULT_MEMORY_MIB);
    expect(DEFAULT_MEMORY_MIB).toBe(128);
    expect(o.timeoutSeconds).toBeUndefined();
  });

  it('parses --serial, --until, --timeout and --append (which may start with a dash)', () => {
    const o = parseRunArgs([
      '--kernel',
      'k',
      '--serial',
      'file:out.txt',
      '--until',
      'login:',
      '--timeout',
      '2.5',
      '--append',
      '-v',
    ]);
    expect(o.serial).toEqual({ kind: 'file', path: 'out.txt' });
    expect(o.until).toBe('login:');
    expect(o.timeoutSeconds).toBe(2.5);
    expect(o.append).toBe('-v');
  });

  it('refuses repeated single options and bad values', () => {
    expect(() => parseRunArgs(['--kernel', 'a', '--kernel', 'b'])).toThrow(/--kernel given more than once/);
    expect(() => parseRunArgs(['--kernel', 'a', '--memory', '12.5'])).toThrow(UsageError);
    expect(() => parseRunArgs(['--kernel', 'a', '--timeout', '0'])).toThrow(/bad --timeout/);
    expect(() => parseRunArgs(['--kernel', 'a', '--serial', 'file:'])).toThrow(/bad --serial/);
    expect(() => parseRunArgs(['--kernel', 'a', '--until', ''])).toThrow(/--until needs/);
  });

  it('parses --save and --snapshot; --snapshot needs nothing to boot and takes no machine options', () => {
    const saved = parseRunArgs(['disk.img', '--save', 'vm.v86']);
    expect(saved.save).toBe('vm.v86');
    const resumed = parseRunArgs([
      '--snapshot=vm.v86',
      '--until',
      'login:',
      '--timeout',
      '5',
      '--save',
      'b.v86',
    ]);
    expect(resumed.snapshot).toBe('vm.v86');
    expect(resumed.save).toBe('b.v86');
    expect(resumed.until).toBe('login:');
    expect(() => parseRunArgs(['disk.img', '--snapshot', 'vm.v86'])).toThrow(
      /--snapshot resumes the machine saved in the file; an IMAGE cannot be given with it/,
    );
    expect(() => parseRunArgs(['--snapshot', 'vm.v86', '--memory', '64', '--disk', 'd.img'])).toThrow(
      /--memory, --disk cannot be given/,
    );
    expect(() => parseRunArgs(['--kernel', 'k', '--save', ''])).toThrow(/--save needs a file name/);
    expect(() => parseRunArgs(['--snapshot', 'a', '--snapshot', 'b'])).toThrow(/given more than once/);
  });

  it('parses --rtc: now (the default, the host clock) or a UTC date; refuses local times and nonsense', () => {
    expect(parseRunArgs(['x.img']).rtcTime).toBeUndefined();
    expect(parseRunArgs(['x.img', '--rtc', 'now']).rtcTime).toBeUndefined();
    expect(parseRunArgs(['x.img', '--rtc=2026-01-01T00:00:00Z']).rtcTime).toBe(Date.UTC(2026, 0, 1));
    expect(parseRunArgs(['x.img', '--rtc', '1999-12-31']).rtcTime).toBe(Date.UTC(1999, 11, 31));
    expect(parseRunArgs(['x.img', '--rtc', '2030-06-01T12:00+02:00']).rtcTime).toBe(Date.UTC(2030, 5, 1, 10));
    for (const bad of ['2026-01-01T00:00:00', 'yesterday', '1970-01-01', '2100-01-01', '2026-13-01']) {
      expect(() => parseRunArgs(['x.img', '--rtc', bad])).toThrow(/bad --rtc value/);
    }
    expect(() => parseRunArgs(['--snapshot', 's.visor86', '--rtc', 'now'])).toThrow(/--rtc cannot be given/);
  });

  it('accepts --help anywhere without needing something to boot', () => {
    expect(parseRunArgs(['--help']).help).toBe(true);
    expect(parseRunArgs(['-h', '--kernel', 'k']).help).toBe(true);
  });
});

describe('EscapeFilter (C-a)', () => {
  function filter(chunks: string[]): { out: string; commands: EscapeCommand[] } {
    const commands: EscapeCommand[] = [];
    const f = new EscapeFilter((c) => commands.push(c));
    let out = '';
    for (const chunk of chunks) out += Buffer.from(f.filter(Buffer.from(chunk, 'latin1'))).toString('latin1');
    return { out, commands };
  }

  it('passes ordinary bytes through', () => {
    expect(filter(['hello\r\x03'])).toEqual({ out: 'hello\r\x03', commands: [] });
  });

  it('turns C-a C-a into one C-a, even split across chunks', () => {
    expect(filter(['a\x01\x01b'])).toEqual({ out: 'a\x01b', commands: [] });
    expect(filter(['a\x01', '\x01b'])).toEqual({ out: 'a\x01b', commands: [] });
  });

  it('runs C-a h and C-a x, dropping what follows the quit', () => {
    expect(filter(['1\x01h2'])).toEqual({ out: '12', commands: ['help'] });
    expect(filter(['1\x01x2'])).toEqual({ out: '1', commands: ['quit'] });
    expect(filter(['\x01', 'x'])).toEqual({ out: '', commands: ['quit'] });
  });

  it('reports C-a s and lets what follows through (the runner decides whether the run ends)', () => {
    expect(filter(['1\x01s2'])).toEqual({ out: '12', commands: ['save'] });
    expect(filter(['\x01', 'S'])).toEqual({ out: '', commands: ['save'] });
  });

  it('drops unknown C-a commands', () => {
    expect(filter(['a\x01zb'])).toEqual({ out: 'ab', commands: [] });
  });
});
