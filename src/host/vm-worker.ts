/**
 * A VM's Web Worker: owns one machine (through VmRunner) and talks to the page only through the messages
 * of protocol.ts. Spawned by hypervisor.ts as
 * `new Worker(new URL('./vm-worker.ts', import.meta.url), { type: 'module' })`.
 *
 * Yielding between slices goes through a MessageChannel rather than setTimeout(0), which browsers clamp to
 * 4 ms once nested: a guest that runs flat out loses no time, and the page's commands still get in between
 * slices because they are tasks in the same event loop.
 */
/// <reference lib="webworker" />
import type { HostToVm, VmToHost } from './protocol.ts';
import { VmRunner, type RunnerEnv } from './vm-runner.ts';
import { warmUpInterpreter } from '../machine/warm-up.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

const channel = new MessageChannel();
let nextId = 0;
const soon = new Map<number, () => void>();
channel.port1.onmessage = (event: MessageEvent<number>) => {
  const fn = soon.get(event.data);
  soon.delete(event.data);
  fn?.();
};

const env: RunnerEnv = {
  post: (message: VmToHost, transfer?: Transferable[]) => scope.postMessage(message, transfer ?? []),
  now: () => performance.now(),
  schedule(fn, delayMs) {
    if (delayMs <= 0) {
      const id = nextId++;
      soon.set(id, fn);
      channel.port2.postMessage(id);
      return () => soon.delete(id);
    }
    const handle = setTimeout(fn, delayMs);
    return () => clearTimeout(handle);
  },
};

const runner = new VmRunner(env);
scope.onmessage = (event: MessageEvent<HostToVm>) => runner.handle(event.data);
// Before the first message is handled (the page's commands wait in the queue meanwhile): about 0.3 s here
// saves the guest's first second from running at a fraction of its speed (warm-up.ts).
// Its failure would be a bug of the emulator's: said on the console, but the VM still runs.
try {
  warmUpInterpreter();
} catch (e) {
  console.warn(`visor86: ${e instanceof Error ? e.message : String(e)}`);
}
