/**
 * The CPU's constants must reach the hot paths as literals. esbuild's syntax minifier (`npm run bench`)
 * inlines a module's `export const NAME = literal` into its users, but not in every case: not when the
 * module imports anything, and not after a function was added to constants.ts (it happened once), which
 * silently turned every CS, ALU_CMP and register number into a load from the module's context, in every
 * instruction. The constant modules therefore hold constants only, and this bundles the machine as the
 * benchmark does and checks that none of their constants survives as a declaration.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { expect, test } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const CONSTANT_MODULES = [
  'src/cpu/constants.ts',
  'src/cpu/paging.ts',
  'src/cpu/decoded-format.ts',
  'src/cpu/fpu-constants.ts',
  'src/cpu/jit/tuning.ts',
];

/** The names a module exports as `export const NAME = ...`. */
function exportedConstants(path: string): string[] {
  const source = readFileSync(join(ROOT, path), 'utf8');
  return [...source.matchAll(/^export const ([A-Za-z_$][\w$]*)\s*=/gm)].map((m) => m[1]);
}

test('constant modules hold nothing but constants', () => {
  for (const path of CONSTANT_MODULES) {
    const source = readFileSync(join(ROOT, path), 'utf8');
    expect(source, `${path} imports something`).not.toMatch(/^import /m);
    const declarations = [...source.matchAll(/^export (?!const )\S+ \S+/gm)].map((m) => m[0]);
    expect(declarations, `${path} exports more than constants`).toEqual([]);
    expect(exportedConstants(path).length, `${path} exports no constants`).toBeGreaterThan(0);
  }
});

test('the bundled machine has every CPU constant inlined', async () => {
  const result = await build({
    entryPoints: [join(ROOT, 'src/machine/pc.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    minifySyntax: true,
    minifyWhitespace: true, // drops comments, which name constants in prose
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  const survivors: string[] = [];
  for (const path of CONSTANT_MODULES) {
    for (const name of exportedConstants(path)) {
      // A declaration or assignment of the name (not a comparison): `NAME=` after `var`, `let` or a comma.
      if (new RegExp(`(?:\\bvar |\\blet |\\bconst |,)${name.replace(/\$/g, '\\$')}=(?!=)`).test(code)) {
        survivors.push(`${path}: ${name}`);
      }
    }
  }
  expect(survivors).toEqual([]);
}, 60_000);
