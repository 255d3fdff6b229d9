/**
 * Counters that may pass 2^31 (instructions, region calls, writes to code pages) must not change their
 * object's hidden class in V8 when they do. V8 stores a field that has only held small integers as one; the
 * first bigger value changes the object's hidden class and throws away every optimised function compiled
 * against the old one (see Cpu.instructionCount and test/cpu/field-representation.test.ts). Giving each
 * counter a fractional value once, at construction, makes it a double field from the start. `keys` names the
 * counters when the object holds other fields too (all of its own keys by default).
 */
export function doubleCounters<T extends object>(
  counters: T,
  keys: readonly (keyof T & string)[] = Object.keys(counters) as (keyof T & string)[],
): T {
  const fields = counters as Record<string, number>;
  for (const key of keys) {
    const value = fields[key];
    fields[key] = value + 0.5;
    fields[key] = value;
  }
  return counters;
}
