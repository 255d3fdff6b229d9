/**
 * Test helpers for the host layer: the stand-in guests (fixtures/standin.asm) and an in-process "worker"
 * that runs a real VmRunner on this thread, with structured cloning at the boundary as postMessage does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkerLike } from '../../src/host/hypervisor.ts';
import type { HostToVm, VmConfig, VmToHost } from '../../src/host/protocol.ts';
import { VmRunner, type RunnerEnv } from '../../src/host/vm-runner.ts';

export type StandIn = 'monitor' | 'spin' | 'vga';

export function standIn(name: StandIn): Uint8Array {
  return new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures', `standin-${name}.bin`)));
}

export function standInConfig(name: StandIn, overrides: Partial<VmConfig> = {}): VmConfig {
  return {
    name,
    memoryMiB: 4,
    diskMiB: 0,
    media: { kind: 'multiboot', kernel: standIn(name) },
    ...overrides,
  };
}

/** A RunnerEnv on Node's timers; setImmediate plays the MessageChannel's part. */
export function nodeEnv(post: RunnerEnv['post']): RunnerEnv {
  return {
    post,
    now: () => performance.now(),
    schedule(fn, delayMs) {
      if (delayMs <= 0) {
        const handle = setImmediate(fn);
        return () => clearImmediate(handle);
      }
      const handle = setTimeout(fn, delayMs);
      return () => clearTimeout(handle);
    },
  };
}

/** A worker that runs its VmRunner on this thread. `die()` simulates an uncaught error in the worker. */
export class InProcessWorker implements WorkerLike {
  onmessage: ((event: MessageEvent<VmToHost>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  terminated = false;
  /** When true the worker goes silent (a hung worker): messages in and out are dropped. */
  hung = false;
  readonly received: HostToVm[] = [];
  readonly runner: VmRunner;

  constructor() {
    this.runner = new VmRunner(
      nodeEnv((message) => {
        if (this.terminated || this.hung) return;
        const copy = structuredClone(message);
        setImmediate(() => !this.terminated && this.onmessage?.({ data: copy } as MessageEvent<VmToHost>));
      }),
    );
  }

  postMessage(message: HostToVm): void {
    if (this.terminated || this.hung) return;
    const copy = structuredClone(message);
    this.received.push(copy);
    setImmediate(() => !this.terminated && this.runner.handle(copy));
  }

  terminate(): void {
    this.terminated = true;
    this.runner.dispose();
  }

  die(message: string): void {
    this.runner.dispose();
    this.onerror?.({ message, filename: 'vm-worker.ts', lineno: 1, preventDefault() {} } as ErrorEvent);
  }
}

/** Waits until `check` returns true, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
