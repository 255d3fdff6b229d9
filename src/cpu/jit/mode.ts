/**
 * The JIT tier's switch. 'auto' compiles hot blocks when the host lets us build functions at
 * run time (a page served with a content-security policy that forbids 'unsafe-eval' does not: then the
 * interpreter runs alone); 'off' never compiles; 'on' compiles every block on its first execution and
 * also routes single steps (Cpu.step / stepUnchecked) through one-instruction compiled blocks, so that a
 * test suite run with it exercises the compiler on every instruction it runs.
 *
 * The environment variable VISOR86_JIT (read here and nowhere else, defensively: src/cpu uses no Node API)
 * picks the mode of newly created CPUs; `cpu.jitMode` changes it afterwards.
 */

export type JitMode = 'off' | 'on' | 'auto';

/**
 * The default mode: 'auto'. Measured (docs/PERFORMANCE.md, Engineering): about 5x the interpreter on the
 * Linux kernel's decompressor, 2x through kernel init, 2x on the bench guest; the whole test suite passes
 * with it, and the CPU-heavy suites also run forced 'on' and forced 'off' (npm test). Where compiling is
 * forbidden it is the interpreter anyway (canCompileFunctions).
 */
export const DEFAULT_JIT_MODE: JitMode = 'auto';

/** The mode named by VISOR86_JIT, or DEFAULT_JIT_MODE when it is unset or unrecognised. */
export function jitModeFromEnvironment(): JitMode {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.VISOR86_JIT?.trim().toLowerCase();
  return value === 'off' || value === 'on' || value === 'auto' ? value : DEFAULT_JIT_MODE;
}

/** Whether `new Function` works here (it throws an EvalError under a CSP without 'unsafe-eval'). */
export function canCompileFunctions(): boolean {
  try {
    return (new Function('return 7') as () => number)() === 7;
  } catch {
    return false;
  }
}

/**
 * What the block compiler generates: JavaScript functions (codegen.ts) or WebAssembly modules
 * (wasm-codegen.ts). VISOR86_JIT_BACKEND picks it for new CPUs ('js' or 'wasm'); `cpu.jit.backend` changes it.
 */
export type JitBackend = 'js' | 'wasm';

export const DEFAULT_JIT_BACKEND: JitBackend = 'wasm';

/** The back end named by VISOR86_JIT_BACKEND, or DEFAULT_JIT_BACKEND. */
export function jitBackendFromEnvironment(): JitBackend {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.VISOR86_JIT_BACKEND?.trim().toLowerCase();
  return value === 'js' || value === 'wasm' ? value : DEFAULT_JIT_BACKEND;
}

/** Whether WebAssembly can be compiled here (a CSP without 'wasm-unsafe-eval' forbids it). */
export function canCompileWasm(): boolean {
  try {
    // The smallest module: magic and version.
    const bytes = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
    return typeof WebAssembly === 'object' && new WebAssembly.Module(bytes) instanceof WebAssembly.Module;
  } catch {
    return false;
  }
}
