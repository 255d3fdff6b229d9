/**
 * Linux's console in the page (test/e2e/linux-console.ts) on a machine saved at the busybox prompt, when
 * VISOR86_LINUX_STATE names one:
 *
 *   node bin/visor86.js run --kernel images/linux/bzImage --initrd images/linux/initrd.gz \
 *     --append 'console=ttyS0 tsc=reliable' --until 'visor86:/# ' --save /tmp/linux-prompt.visor86
 *   VISOR86_LINUX_STATE=/tmp/linux-prompt.visor86 npx vitest run test/e2e/linux-console.test.ts
 *
 * It refreshes docs/linux-console.png. Without it the test skips: booting Linux takes minutes, and test/linux/linux-shell.test.ts (which boots
 * it in CI anyway) runs the same driver on the machine it saves.
 */
import { describe, it } from 'vitest';
import { existsSync } from 'node:fs';
import { pathExists, requirement } from '../helpers/requirements.ts';
import { CHROMIUM } from './harness.ts';
import { LINUX_DOCS_SCREENSHOT, checkLinuxConsoleInPage } from './linux-console.ts';

const STATE = process.env.VISOR86_LINUX_STATE ?? '';

function skipReason(): string | null {
  if (!STATE) {
    const reason =
      'VISOR86_LINUX_STATE names no saved Linux machine (test/linux/linux-shell.test.ts runs this check itself)';
    console.warn(`skipping: ${reason}`);
    return reason;
  }
  if (!existsSync(STATE)) {
    const reason = `VISOR86_LINUX_STATE=${STATE} does not exist`;
    console.warn(`skipping: ${reason}`);
    return reason;
  }
  return requirement('chromium', pathExists(CHROMIUM), 'apt-get install chromium');
}

const skip = skipReason();

describe.skipIf(skip !== null)('Linux console in Chromium', () => {
  it(
    'imports the machine saved at the prompt, resumes it, edits a line and interrupts a command with Ctrl+C',
    async () => {
      await checkLinuxConsoleInPage(STATE, {
        log: (line) => console.log(`linux-console: ${line}`),
        screenshot: LINUX_DOCS_SCREENSHOT,
      });
    },
    10 * 60_000,
  );
});
