/**
 * Command-line parsing for `visor86 run`: QEMU-like options, `--name value` or `--name=value`.
 * Parsing is pure (no file access); files are opened by media.ts.
 */

/** A problem with the command line or the files it names: reported in one line, exit status 2. */
export class UsageError extends Error {}

export type SerialTarget = { kind: 'stdio' } | { kind: 'file'; path: string };

export interface RunOptions {
  /** The positional IMAGE: a hard disk image, or a floppy when its size is a standard floppy size. */
  image?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  memoryMiB: number;
  disks: string[];
  floppies: string[];
  serial: SerialTarget;
  until?: string;
  timeoutSeconds?: number;
  /** Write the whole machine state here when the run ends (--save). */
  save?: string;
  /** Resume the machine saved in this file instead of booting one (--snapshot). */
  snapshot?: string;
  /** The RTC's time at power-on, ms since the epoch (--rtc); undefined: the host's time when the run starts. */
  rtcTime?: number;
  help: boolean;
}

export const DEFAULT_MEMORY_MIB = 128;
export const MIN_MEMORY_MIB = 2;
export const MAX_MEMORY_MIB = 3584;
export const MAX_DISKS = 4;
export const MAX_FLOPPIES = 2;

export const RUN_USAGE = `Usage: visor86 run [IMAGE] [options]
       visor86 run --snapshot FILE [--until TEXT] [--timeout SEC] [--save FILE] [--serial ...]

Runs one PC in the terminal, the way qemu -nographic does: what the guest sends to COM1 goes to stdout,
what you type goes to COM1. The runner's own messages go to stderr.

IMAGE is a hard disk image; a file of a standard floppy size (360K, 720K, 1.2M, 1.44M, 2.88M) is
inserted as floppy A: instead. Disks and floppies boot through the BIOS, which mirrors its screen
output to COM1.

Options:
  --kernel FILE             boot a Linux bzImage or a Multiboot kernel directly (no firmware)
  --initrd FILE             initial ramdisk for --kernel (Multiboot: module 0)
  --append TEXT             kernel command line (Linux default: "console=ttyS0 tsc=reliable", so
                            that its messages and shell reach COM1)
  --memory MIB              RAM in MiB, ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB} (default ${DEFAULT_MEMORY_MIB})
  --disk FILE               hard disk image (again for the next drive, up to ${MAX_DISKS})
  --floppy FILE             floppy image for drive A: (again for B:)
  --serial stdio|file:FILE  where COM1 output goes (default stdio; with a file, stdin is not read)
  --until TEXT              stop with status 0 as soon as TEXT appears on COM1
  --timeout SEC             stop with status 124 after SEC seconds of wall-clock time
  --rtc now|DATE            the real-time clock at power-on: the host's time (default, as QEMU does) or
                            a fixed UTC date such as 2026-01-01T00:00:00Z, for runs that repeat exactly
  --save FILE               when the run ends (--until matched, --timeout, C-a s, C-a x, the guest
                            stopping), write the whole machine to FILE: CPU, RAM, devices and the disks'
                            changes. The image files are then not written: the guest's writes go to a
                            copy-on-write overlay saved in FILE
  --snapshot FILE           resume the machine saved in FILE (by --save) where it stopped; its disk and
                            floppy images must still be at their paths, unchanged
  -h, --help                show this help

Keys (stdin): C-a x quits, C-a s saves to the --save FILE and quits, C-a h shows this list,
C-a C-a sends C-a to the guest.

Exit status: the guest's isa-debug-exit status when it writes port 0xF4 ((value << 1) | 1, low 8 bits);
0 when --until TEXT appeared, after C-a x or C-a s, or when the guest halts with interrupts off; 1 when it
halts that way before the --until text appeared, or when --save could not write its file; 124 on
--timeout; 2 for bad options or unusable files (a snapshot that is corrupted, truncated, of another
version or not a snapshot at all is refused with a message saying which).
`;

/** The options that take a value, and whether they may be repeated. */
const VALUE_OPTIONS = new Map<string, { repeat: boolean }>([
  ['--kernel', { repeat: false }],
  ['--initrd', { repeat: false }],
  ['--append', { repeat: false }],
  ['--memory', { repeat: false }],
  ['--disk', { repeat: true }],
  ['--floppy', { repeat: true }],
  ['--serial', { repeat: false }],
  ['--until', { repeat: false }],
  ['--timeout', { repeat: false }],
  ['--save', { repeat: false }],
  ['--snapshot', { repeat: false }],
  ['--rtc', { repeat: false }],
]);

function parseMemory(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < MIN_MEMORY_MIB || n > MAX_MEMORY_MIB) {
    throw new UsageError(
      `bad --memory value '${value}': give a whole number of MiB from ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB}`,
    );
  }
  return n;
}

function parseTimeout(value: string): number {
  const n = /^\d+(\.\d+)?$|^\.\d+$/.test(value) ? Number(value) : NaN;
  if (!(n > 0) || !Number.isFinite(n) || n > 2_000_000) {
    throw new UsageError(`bad --timeout value '${value}': give a positive number of seconds`);
  }
  return n;
}

function parseRtc(value: string): number | undefined {
  if (value === 'now') return undefined;
  // A date with a time must name its zone (Z or an offset): a local time would make runs differ by host.
  const iso = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d))?$/.test(value);
  const ms = iso ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms) || ms < Date.UTC(1980, 0, 1) || ms >= Date.UTC(2100, 0, 1)) {
    throw new UsageError(
      `bad --rtc value '${value}': give now, or a UTC date from 1980 to 2099 such as 2026-01-01T00:00:00Z`,
    );
  }
  return ms;
}

function parseSerial(value: string): SerialTarget {
  if (value === 'stdio') return { kind: 'stdio' };
  if (value.startsWith('file:') && value.length > 5) return { kind: 'file', path: value.slice(5) };
  throw new UsageError(`bad --serial value '${value}': give stdio or file:PATH`);
}

/** Parses the arguments after `run`. Throws UsageError for anything it cannot accept. */
export function parseRunArgs(args: readonly string[]): RunOptions {
  const options: RunOptions = {
    memoryMiB: DEFAULT_MEMORY_MIB,
    disks: [],
    floppies: [],
    serial: { kind: 'stdio' },
    help: false,
  };
  const seen = new Set<string>();
  let positional: string | undefined;
  let onlyPositional = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (onlyPositional || !arg.startsWith('-') || arg === '-') {
      if (positional !== undefined)
        throw new UsageError(`more than one IMAGE given ('${positional}', '${arg}')`);
      positional = arg;
      continue;
    }
    if (arg === '--') {
      onlyPositional = true;
      continue;
    }
    if (arg === '-h' || arg === '--help') {
      options.help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = VALUE_OPTIONS.get(name);
    if (!spec) throw new UsageError(`unknown option '${name}' (see visor86 run --help)`);
    let value: string;
    if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      if (i + 1 >= args.length) throw new UsageError(`option ${name} needs a value`);
      value = args[++i];
    }
    if (!spec.repeat && seen.has(name)) throw new UsageError(`option ${name} given more than once`);
    seen.add(name);
    switch (name) {
      case '--kernel':
        options.kernel = value;
        break;
      case '--initrd':
        options.initrd = value;
        break;
      case '--append':
        options.append = value;
        break;
      case '--memory':
        options.memoryMiB = parseMemory(value);
        break;
      case '--disk':
        options.disks.push(value);
        break;
      case '--floppy':
        options.floppies.push(value);
        break;
      case '--serial':
        options.serial = parseSerial(value);
        break;
      case '--until':
        if (value === '') throw new UsageError('option --until needs a non-empty text');
        options.until = value;
        break;
      case '--timeout':
        options.timeoutSeconds = parseTimeout(value);
        break;
      case '--save':
        if (value === '') throw new UsageError('option --save needs a file name');
        options.save = value;
        break;
      case '--snapshot':
        if (value === '') throw new UsageError('option --snapshot needs a file name');
        options.snapshot = value;
        break;
      case '--rtc':
        options.rtcTime = parseRtc(value);
        break;
    }
  }
  options.image = positional;
  if (options.help) return options;
  if (options.snapshot !== undefined) {
    // The snapshot names the machine: its memory, firmware, kernel and media.
    const conflicting = [
      positional !== undefined ? 'an IMAGE' : '',
      ...['--kernel', '--initrd', '--append', '--memory', '--disk', '--floppy', '--rtc'].filter((o) =>
        seen.has(o),
      ),
    ].filter((o) => o !== '');
    if (conflicting.length > 0) {
      throw new UsageError(
        `--snapshot resumes the machine saved in the file; ${conflicting.join(', ')} cannot be given with it`,
      );
    }
    return options;
  }
  if (
    options.image === undefined &&
    !options.kernel &&
    options.disks.length === 0 &&
    !options.floppies.length
  ) {
    throw new UsageError(
      'nothing to boot: give a disk IMAGE, --kernel, --disk or --floppy (see visor86 run --help)',
    );
  }
  if (!options.kernel && (options.initrd !== undefined || options.append !== undefined)) {
    throw new UsageError(`${options.initrd !== undefined ? '--initrd' : '--append'} needs --kernel`);
  }
  return options;
}
