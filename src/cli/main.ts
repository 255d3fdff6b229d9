/**
 * `visor86` on the command line. `main(argv, io)` returns the process exit status instead of exiting, and
 * takes its streams as arguments, so tests (and several concurrent runs) can call it in-process.
 */
import { parseRunArgs, RUN_USAGE, UsageError } from './options.ts';
import { EXIT_USAGE, runVm } from './runner.ts';
import type { CliIo } from './runner.ts';
import { snapshotInfo } from './snapshot.ts';

export type { CliIo, CliInput } from './runner.ts';

export const USAGE = `Usage: visor86 <command> [options]

A PC emulator (i686-class x86) in TypeScript.

Commands:
  run [IMAGE] [options]   run one PC in this terminal, like qemu -nographic (see visor86 run --help)
  run --snapshot FILE     resume a machine saved with run --save FILE
  snapshot info FILE      check a snapshot file's hash and print what it holds

Options:
  -h, --help              show this help
`;

export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const streams: CliIo = {
    stdin: io.stdin ?? process.stdin,
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
  };
  const [command, ...rest] = argv;
  if (command === undefined) {
    streams.stderr.write(USAGE);
    return EXIT_USAGE;
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    streams.stdout.write(USAGE);
    return 0;
  }
  if (command === 'snapshot') return snapshotCommand(rest, streams);
  if (command !== 'run') {
    streams.stderr.write(`visor86: unknown command '${command}' (see visor86 --help)\n`);
    return EXIT_USAGE;
  }
  let options;
  try {
    options = parseRunArgs(rest);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    streams.stderr.write(`visor86: ${e.message}\n`);
    return EXIT_USAGE;
  }
  if (options.help) {
    streams.stdout.write(RUN_USAGE);
    return 0;
  }
  return runVm(options, streams);
}

export const SNAPSHOT_USAGE = `Usage: visor86 snapshot info FILE

Checks a snapshot file (its magic number, format version, length and SHA-256 hash) and prints what it
holds: when and by what it was saved, the machine (RAM, firmware, how it boots, CPU mode, virtual time,
devices) and its disks (the images they lie over and how much each overlay changed). A file that is
corrupted, truncated, of another version or not a snapshot is refused with a message saying which
(exit status 2).
`;

async function snapshotCommand(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '-h' || sub === '--help' || (sub === 'info' && (rest[0] === '-h' || rest[0] === '--help'))) {
    io.stdout.write(SNAPSHOT_USAGE);
    return 0;
  }
  if (sub !== 'info') {
    io.stderr.write(
      sub === undefined
        ? SNAPSHOT_USAGE
        : `visor86: unknown snapshot command '${sub}' (see visor86 snapshot --help)\n`,
    );
    return EXIT_USAGE;
  }
  if (rest.length !== 1) {
    io.stderr.write(`visor86: snapshot info takes one FILE (see visor86 snapshot --help)\n`);
    return EXIT_USAGE;
  }
  return snapshotInfo(rest[0], io);
}
