/**
 * In-process runs of `main` with memory streams: stdin is a PassThrough the test types into, stdout and
 * stderr collect what was written and can be awaited for a piece of text.
 */
import { PassThrough, Writable } from 'node:stream';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';

export const FIXTURES = join(import.meta.dirname, '..', 'machine', 'fixtures');
export const fixture = (name: string) => join(FIXTURES, name);

export class Sink extends Writable {
  private readonly chunks: Buffer[] = [];
  private waiters: Array<{ text: string; resolve: () => void }> = [];

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    const all = this.text();
    this.waiters = this.waiters.filter((w) => {
      if (!all.includes(w.text)) return true;
      w.resolve();
      return false;
    });
    callback();
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.bytes().toString('latin1');
  }

  /** Resolves once `text` has been written. */
  waitFor(text: string): Promise<void> {
    if (this.text().includes(text)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ text, resolve }));
  }
}

export interface Run {
  stdin: PassThrough;
  stdout: Sink;
  stderr: Sink;
  status: Promise<number>;
}

/** Starts `visor86 ...args` in this process. */
export function start(args: string[]): Run {
  const stdin = new PassThrough();
  const stdout = new Sink();
  const stderr = new Sink();
  const status = main(args, { stdin, stdout, stderr });
  return { stdin, stdout, stderr, status };
}

/** Runs `visor86 ...args` to the end and returns what it wrote. */
export async function run(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const r = start(args);
  const status = await r.status;
  return { status, stdout: r.stdout.text(), stderr: r.stderr.text() };
}
