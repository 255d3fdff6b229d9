/**
 * `visor86 run --save FILE`, `visor86 run --snapshot FILE` and `visor86 snapshot info FILE`: a run saved
 * at its end resumes with COM1 continuing where it stopped (a split run prints what the straight run
 * printed), disks go to a copy-on-write overlay in the snapshot and the image files stay untouched, and
 * snapshot files that are corrupted, truncated, of another version or not snapshots are refused, saying which.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fixture, run, start } from './harness.ts';
import { encodeSnapshot, type StateValue } from '../../src/machine/snapshot-file.ts';
import { createPc } from '../../src/machine/pc.ts';

const ECHO = fixture('tiny-echo.bin');
const IMAGES = resolve(import.meta.dirname, '../../images');

let dir = '';
const tmp = (name: string) => join(dir, name);
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'visor86-snapshot-'));
  // The disk guest on a 1 MiB disk, as the page builds it.
  const disk = Buffer.alloc(1024 * 1024);
  readFileSync(join(IMAGES, 'disk/disk.bin')).copy(disk);
  writeFileSync(tmp('disk.img'), disk);
  // bench patched to 1 iteration (the dword after its "BENCH-ITERATIONS" marker).
  const bench = readFileSync(join(IMAGES, 'bench/bench.bin'));
  const at = bench.indexOf('BENCH-ITERATIONS');
  bench.writeUInt32LE(1, at + 'BENCH-ITERATIONS'.length);
  writeFileSync(tmp('bench1.bin'), bench);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('visor86 run --save / --snapshot', () => {
  it('a run split by --save and --snapshot prints what the straight run printed (bench)', async () => {
    const straight = await run(['run', '--kernel', tmp('bench1.bin'), '--memory', '16']);
    expect(straight.status).toBe(1); // bench exits through port 0xF4 with 0: (0 << 1) | 1
    expect(straight.stdout).toMatch(/bench: iterations=1 checksum=[0-9A-F]{8}\r\n$/);

    const first = await run([
      'run',
      '--kernel',
      tmp('bench1.bin'),
      '--memory',
      '16',
      '--until',
      'bench: running',
      '--save',
      tmp('bench.v86'),
    ]);
    expect(first.status).toBe(0);
    expect(first.stderr).toContain(`visor86: saved the machine to '${tmp('bench.v86')}'`);
    expect(straight.stdout.startsWith(first.stdout)).toBe(true);
    expect(first.stdout.length).toBeLessThan(straight.stdout.length);

    const rest = await run(['run', '--snapshot', tmp('bench.v86')]);
    expect(rest.status).toBe(1);
    expect(rest.stderr).toContain(`visor86: resumed '${tmp('bench.v86')}'`);
    expect(first.stdout + rest.stdout).toBe(straight.stdout);
  });

  it('COM1 continues where it stopped; C-a s saves and stops; input after a resume reaches the guest', async () => {
    const first = await run([
      'run',
      '--kernel',
      ECHO,
      '--memory',
      '4',
      '--append',
      'wait',
      '--until',
      'ready',
      '--save',
      tmp('e1.v86'),
    ]);
    expect(first.status).toBe(0);
    expect(first.stdout).toBe('echo: wait\nready\n');

    // Resume, type, then C-a s: the state with the typed text handled goes to e2.v86.
    const second = start(['run', '--snapshot', tmp('e1.v86'), '--save', tmp('e2.v86')]);
    second.stdin.write('abc');
    await second.stdout.waitFor('ABC');
    second.stdin.write('\x01s');
    expect(await second.status).toBe(0);
    expect(second.stdout.text()).toBe('ABC');
    expect(second.stderr.text()).toContain('C-a s: saving the machine and stopping');

    // The second resume goes on from there: nothing printed again, the guest still answers.
    const third = start(['run', '--snapshot', tmp('e2.v86')]);
    third.stdin.write('xq');
    expect(await third.status).toBe(85); // 'q': "bye" and isa-debug-exit 0x2A
    expect(third.stdout.text()).toBe('X\nbye\n');
  });

  it('C-a s without --save says so and the run goes on', async () => {
    const r = start(['run', '--kernel', ECHO, '--append', 'wait']);
    await r.stdout.waitFor('ready');
    r.stdin.write('\x01s');
    await r.stderr.waitFor('--save');
    r.stdin.write('q');
    expect(await r.status).toBe(85);
    expect(r.stderr.text()).toContain('C-a s saves to the file given with --save; there is none');
    const help = start(['run', '--kernel', ECHO, '--append', 'wait']);
    await help.stdout.waitFor('ready');
    help.stdin.write('\x01h\x01x');
    expect(await help.status).toBe(0);
    expect(help.stderr.text()).toContain('C-a s    save the machine to the --save file and exit');
  });

  it('disks run on a copy-on-write overlay saved in the snapshot; the image file is not written', async () => {
    const before = sha256(tmp('disk.img'));
    const first = await run([
      'run',
      tmp('disk.img'),
      '--memory',
      '4',
      '--until',
      'count is saved',
      '--save',
      tmp('d1.v86'),
    ]);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('disk: this is boot #1;');
    expect(first.stderr).toContain('images stay unchanged');
    expect(sha256(tmp('disk.img'))).toBe(before);

    const info = await run(['snapshot', 'info', tmp('d1.v86')]);
    expect(info.status).toBe(0);
    expect(info.stdout).toContain('SHA-256 verified');
    expect(info.stdout).toMatch(/RAM: +4194304 bytes/);
    expect(info.stdout).toContain('firmware:      bios');
    expect(info.stdout).toMatch(/hard disk 0: copy-on-write overlay, 1 layer, 65 sectors changed/);
    expect(info.stdout).toContain(`over ${tmp('disk.img')} (1048576 bytes (1.00 MiB), sha256:${before})`);
    expect(info.stdout).toMatch(/devices: +20 \(pic, pit, .*ataPrimary, ataSecondary, bios\)/);
    expect(info.stdout).toMatch(/CPU: +real mode, CS:EIP 0000:[0-9a-f]{8}/);

    // Resumed, the guest's changes are there (the halted guest ends at once) and the file still untouched.
    const resumed = await run(['run', '--snapshot', tmp('d1.v86')]);
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toContain('the guest halted with interrupts off');
    expect(sha256(tmp('disk.img'))).toBe(before);

    // A changed image is refused; so is a missing one.
    const changed = readFileSync(tmp('disk.img'));
    changed[100_000] ^= 1;
    writeFileSync(tmp('disk.img'), changed);
    const refused = await run(['run', '--snapshot', tmp('d1.v86')]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(
      `disk image '${tmp('disk.img')}' has changed since the snapshot was taken`,
    );
    changed[100_000] ^= 1;
    writeFileSync(tmp('disk.img'), changed);
    renameSync(tmp('disk.img'), tmp('moved.img'));
    const missing = await run(['run', '--snapshot', tmp('d1.v86')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`cannot open disk image '${tmp('disk.img')}': no such file`);
    renameSync(tmp('moved.img'), tmp('disk.img'));
  });

  it('bad combinations and unwritable --save paths are refused before anything runs', async () => {
    const both = await run(['run', '--snapshot', tmp('x.v86'), '--kernel', ECHO]);
    expect(both.status).toBe(2);
    expect(both.stderr).toBe(
      'visor86: --snapshot resumes the machine saved in the file; --kernel cannot be given with it\n',
    );
    const noDir = await run(['run', '--kernel', ECHO, '--save', tmp('nowhere/s.v86')]);
    expect(noDir).toEqual({
      status: 2,
      stdout: '',
      stderr: `visor86: cannot write snapshot '${tmp('nowhere/s.v86')}': no such file\n`,
    });
    const isDir = await run(['run', '--kernel', ECHO, '--save', dir]);
    expect(isDir.stderr).toContain('is a directory');
    const usage = await run(['run', '--help']);
    expect(usage.stdout).toContain('--snapshot FILE');
    expect(usage.stdout).toContain('--save FILE');
  });
});

describe('snapshot files that are not right are refused, saying which', () => {
  let good: Buffer;
  beforeAll(async () => {
    const r = await run([
      'run',
      '--kernel',
      ECHO,
      '--append',
      'halt',
      '--memory',
      '4',
      '--save',
      tmp('h.v86'),
    ]);
    expect(r.status).toBe(0);
    good = readFileSync(tmp('h.v86'));
  });

  const cases: Array<[string, () => Buffer | string, RegExp]> = [
    [
      'corrupted',
      () => Buffer.from(good.map((b, i) => (i === good.length - 100 ? b ^ 0x10 : b))),
      /snapshot is corrupted: its SHA-256 hash does not match/,
    ],
    [
      'truncated',
      () => good.subarray(0, good.length - 1000),
      /snapshot is truncated: \d+ of \d+ payload bytes are present/,
    ],
    [
      'a newer version',
      () => Buffer.concat([good.subarray(0, 8), Buffer.from([7, 0, 0, 0]), good.subarray(12)]),
      /format version 7 is not supported \(this build reads version 1\): it was written by a newer visor86/,
    ],
    [
      'not a snapshot',
      () => 'just some text that is long enough to have a header, and more of it\n',
      /not a visor86 snapshot: bad magic number/,
    ],
    ['empty', () => Buffer.alloc(0), /not a visor86 snapshot: only 0 bytes/],
  ];

  for (const [what, content, message] of cases) {
    it(`${what}: snapshot info and run --snapshot both refuse it (status 2)`, async () => {
      const path = tmp(`bad-${what.replace(/ /g, '-')}.v86`);
      writeFileSync(path, content());
      const info = await run(['snapshot', 'info', path]);
      expect(info.status).toBe(2);
      expect(info.stdout).toBe('');
      expect(info.stderr).toMatch(message);
      expect(info.stderr).toContain(`snapshot '${path}'`);
      const resume = await run(['run', '--snapshot', path]);
      expect(resume.status).toBe(2);
      expect(resume.stderr).toMatch(message);
    });
  }

  it('a valid container that holds something else, or a missing file, is refused too', async () => {
    writeFileSync(tmp('other.v86'), await encodeSnapshot({ format: 'something-else', value: 1 }));
    const resume = await run(['run', '--snapshot', tmp('other.v86')]);
    expect(resume.status).toBe(2);
    expect(resume.stderr).toContain(
      "holds a 'something-else' document, not a machine saved by visor86 run --save",
    );
    const info = await run(['snapshot', 'info', tmp('other.v86')]);
    expect(info.status).toBe(0);
    expect(info.stdout).toContain("holds:         a 'something-else' document with fields format, value");
    const missing = await run(['snapshot', 'info', tmp('none.v86')]);
    expect(missing).toEqual({
      status: 2,
      stdout: '',
      stderr: `visor86: cannot read snapshot '${tmp('none.v86')}': no such file\n`,
    });
    expect((await run(['snapshot'])).status).toBe(2);
    expect((await run(['snapshot', 'list'])).stderr).toContain("unknown snapshot command 'list'");
    expect((await run(['snapshot', 'info'])).status).toBe(2);
    expect((await run(['snapshot', '--help'])).stdout).toMatch(/^Usage: visor86 snapshot info FILE/);
  });

  it('describes a VM exported by the page, checking each machine state inside; a bad one is refused', async () => {
    const machine = await encodeSnapshot(createPc({ memoryMiB: 2 }).saveState() as StateValue);
    const exported = (machineBytes: Uint8Array) =>
      encodeSnapshot({
        format: 'visor86-export',
        version: 1,
        kind: 'vm',
        exportedAt: Date.UTC(2026, 10, 27, 9, 0, 0),
        vm: { name: 'web server', image: 'monitor' },
        tree: {
          current: 's2',
          nodes: [
            { id: 's1', name: 'fresh' },
            { id: 's2', name: 'booted' },
          ],
        },
        snapshots: { s1: { machine: null }, s2: { machine: machineBytes } },
      });
    writeFileSync(tmp('export.v86'), await exported(machine));
    const info = await run(['snapshot', 'info', tmp('export.v86')]);
    expect(info.status).toBe(0);
    expect(info.stdout).toContain('holds:         a whole VM exported by the page, export version 1');
    expect(info.stdout).toContain('VM:            "web server" (guest monitor)');
    expect(info.stdout).toContain('exported:      2026-11-27T09:00:00.000Z');
    expect(info.stdout).toContain('snapshots:     2 (you are here: s2)');
    expect(info.stdout).toContain('  s1 "fresh": powered off (no machine state)');
    expect(info.stdout).toMatch(
      / {2}s2 "booted": 2097152 bytes \(2\.00 MiB\) RAM, real mode, .*hash verified/,
    );

    const broken = machine.slice();
    broken[broken.length - 3] ^= 0xff;
    writeFileSync(tmp('export-bad.v86'), await exported(broken));
    const bad = await run(['snapshot', 'info', tmp('export-bad.v86')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('the machine state of snapshot s2: snapshot is corrupted');
  });

  it('the good one is described: kernel boot, halted CPU, no media', async () => {
    const info = await run(['snapshot', 'info', tmp('h.v86')]);
    expect(info.status).toBe(0);
    expect(info.stdout).toContain(`boot:          kernel ${ECHO} (command line "halt")`);
    expect(info.stdout).toContain('firmware:      none');
    expect(info.stdout).toMatch(/CPU: +protected mode, CS:EIP [0-9a-f]{4}:[0-9a-f]{8}, halted/);
    expect(info.stdout).toContain('media:         none');
    expect(info.stdout).toContain(`${statSync(tmp('h.v86')).size} bytes`);
  });
});
