/**
 * Tests that need something only this workplace or a Debian machine provides (the ../shared data, nasm,
 * qemu, chromium) skip with a printed reason when it is missing — except in CI (CI=true), where a missing
 * requirement is a failure.
 */
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export const IN_CI = process.env.CI === 'true';

/** Returns a skip reason, or null when the requirement is met. Throws in CI when it is not. */
export function requirement(what: string, available: boolean, hint: string): string | null {
  if (available) return null;
  const reason = `${what} is not available (${hint})`;
  if (IN_CI) throw new Error(`CI requires ${reason}`);
  console.warn(`skipping: ${reason}`);
  return reason;
}

export function pathExists(path: string): boolean {
  return existsSync(path);
}

export function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
