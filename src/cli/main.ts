/**
 * `visor86` on the command line. `main(argv, io)` returns the process exit status instead of exiting, and
 * takes its streams as arguments, so tests (and several concurrent runs) can call it in-process.
 */
import { parseRunArgs, RUN_USAGE, UsageError } from './options.ts';
import { EXIT_USAGE, runVm } from './runner.ts';
import type { CliIo } from './runner.ts';

export type { CliIo, CliInput } from './runner.ts';

export const USAGE = `Usage: visor86 <command> [options]

A PC emulator (i686-class x86) in TypeScript.

Commands:
  run [IMAGE] [options]   run one PC in this terminal, like qemu -nographic (see visor86 run --help)

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
