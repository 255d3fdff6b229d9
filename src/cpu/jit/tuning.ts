/**
 * The block compiler's entry modes, sizes and thresholds (jit.ts and codegen.ts use them; the reasons and
 * measurements are beside each). Constants only and no imports, so that the bundler puts the values in place
 * of the names in the dispatcher's hot paths (esbuild does not inline the constants of a module that imports
 * anything, nor those declared after anything else; test/cpu/bundle-constants.test.ts checks it).
 */

/** Block mode bits (part of the cache key: everything decoding and the generated code depend on). */
export const MODE_CODE32 = 1;
export const MODE_STACK32 = 2;
/**
 * ES, SS and DS are flat (base 0, limit 4 GiB, readable and writable: what Linux runs with): the WebAssembly
 * back end's memory accesses through them skip the segment checks. Only segment loads change it, which
 * compiled code leaves to the interpreter.
 */
export const MODE_FLAT = 4;
/** Single-instruction blocks for Cpu.stepUnchecked in 'on' mode. */
export const MODE_SINGLE = 8;

/** Instructions in one block at most. */
export const MAX_INSTRUCTIONS = 48;

/**
 * Limits of one region. Small regions win: V8 optimises a region function on a background thread and runs
 * its unoptimised code meanwhile, and that takes the longer the bigger the function. On the Linux kernel's
 * decompressor 8 blocks / 100 instructions ran about 2-3x faster than 40 / 320 (docs/PERFORMANCE.md).
 */
export const MAX_REGION_BLOCKS = 8;
export const MAX_REGION_INSTRUCTIONS = 100;

/** The most instructions one region call is asked to run (a small integer to V8: below 2^30). */
export const BUDGET_MAX = 0x3fffffff;

export const HASH_BITS = 16;
export const HASH_SIZE = 1 << HASH_BITS;
export const HASH_MASK = HASH_SIZE - 1;
/** Characters of source kept in the factory cache before it is emptied (some 16 MB of strings). */
export const FACTORY_CACHE_CHARS = 8 << 20;
/** Filled hash slots a flush clears one by one (beyond: the whole table). */
export const USED_SLOTS_MAX = 1024;
/** Entries (block starts) kept before the whole cache is dropped. */
export const MAX_ENTRIES = 1 << 17;
/**
 * Executions of a block start before it is compiled (mode 'auto'). A region costs about a millisecond to
 * compile, and V8 runs a new function unoptimised until it is hot in turn: code run a few hundred times is
 * cheaper to interpret. Measured through Linux kernel init (CPU MIPS): 100 → 7.7, 1000 → 13.8, 5000 → 17.1,
 * 20000 → 16.6 (the interpreter alone: 9.7); the decompressor's and the bench guest's loops reach any of
 * them at once (docs/PERFORMANCE.md). The WebAssembly back end compiles several times faster, but lower
 * thresholds did not pay there either: Linux boot and busybox (seconds, single runs) 500 → 21.6 and 28.3,
 * 2000 → 18.6 and 28.1, 5000 → 17.9 and 21.6; lukewarm kernel code compiled for each fork+exec costs more
 * than interpreting it.
 */
export const DEFAULT_THRESHOLD = 5000;

/**
 * Regions per WebAssembly module at most: the one that reached the threshold and warm ones taken along
 * (Jit.compileWasm). `new WebAssembly.Module` costs about the same for one region as for several (0.5 ms
 * on an idle 2-vCPU machine, 1 ms during a boot, whatever the module's size).
 */
export const WASM_BATCH = 8;
/** Warm entries remembered (a power of two). */
export const WARM_ENTRIES = 64;
/** Instructions after which a warm entry is too old to be compiled along (it may be code no longer run). */
export const WARM_FOR = 20_000_000;

/** Bytes an interpret-only entry watches (the longest instruction). */
export const INSTRUCTION_MAX = 15;

/**
 * Calls after which a region that loops, and whose calls ran UPGRADE_MIN_PER_CALL instructions or more on
 * average, is compiled again with its memory accesses written out in place (generateRegion's inlineMemory).
 * Hot loops run 20-45% faster that way (the kernel's RSA arithmetic at late init: 23 -> 13 s), but every
 * new function runs unoptimised until V8 has optimised it again, and bigger functions take longer: compiled
 * that way from the start, kernel init was 25% slower; upgraded without the per-call test, the bench guest
 * was 15% slower.
 */
export const UPGRADE_CALLS = 20000;
/** Instructions per call (on average over those calls) a region must run to be upgraded. */
export const UPGRADE_MIN_PER_CALL = 100;
