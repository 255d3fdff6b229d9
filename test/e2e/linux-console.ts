/**
 * Linux's console in the page, driven like a person would in Debian's Chromium: the page offers "Linux"
 * (images/linux exists) with 128 MiB, a machine saved at the busybox prompt by `visor86 run --kernel ...
 * --save FILE` is imported through the page's Import control, powered on (a saved machine resumes where it
 * was saved), and its xterm console is typed into with real key presses: line editing (Backspace), a
 * command interrupted with Ctrl+C, and the shell's status of it (130 = 128 + SIGINT).
 *
 * Booting Linux from power-on takes ~6.4 G guest instructions (minutes), too long for a browser test, so
 * the boot happens once on the command line (test/linux/linux-shell.test.ts) and this driver takes over
 * from the saved machine. Not a test file itself: test/linux calls it with the machine it saved, and
 * test/e2e/linux-console.test.ts with the one VISOR86_LINUX_STATE names.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { ARTIFACTS, ROOT, buildSite, launchChromium, serveStatic } from './harness.ts';

/** The shell's prompt (images/linux's /init sets PS1). */
export const LINUX_PROMPT = 'visor86:/# ';
/** The screenshot the docs show (linux-console.test.ts refreshes it when run by hand). */
export const LINUX_DOCS_SCREENSHOT = join(ROOT, 'docs', 'linux-console.png');

export interface LinuxConsoleOptions {
  /** Longest wait for one step (page load, import, one command's answer), in ms. Default 120 s. */
  stepTimeoutMs?: number;
  /**
   * Another place for the screenshot of the console, which always goes to
   * test/e2e/artifacts/linux-console.png (git-ignored, so test runs leave the checkout clean).
   */
  screenshot?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** A failure that says what was expected and what the page showed. */
class ConsoleCheckError extends Error {
  override name = 'ConsoleCheckError';
}

/**
 * Imports `stateFile` (a machine saved at the busybox prompt) into a freshly built page, resumes it, and
 * checks its console edits lines and takes Ctrl+C. Throws a ConsoleCheckError naming what was expected and
 * what the console showed. Needs /usr/bin/chromium and images/linux/bzImage.
 */
export async function checkLinuxConsoleInPage(
  stateFile: string,
  options: LinuxConsoleOptions = {},
): Promise<void> {
  const timeout = options.stepTimeoutMs ?? 120_000;
  const log = options.log ?? (() => {});
  if (!existsSync(stateFile)) throw new ConsoleCheckError(`the saved machine ${stateFile} does not exist`);
  if (!existsSync(join(ROOT, 'images', 'linux', 'bzImage'))) {
    throw new ConsoleCheckError(
      'images/linux/bzImage is missing, so the page cannot offer Linux (run npm run fetch:linux)',
    );
  }
  log('building the site');
  const site = await buildSite();
  const server = await serveStatic(site.dir);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(server.url);
    await page.waitForFunction(
      () =>
        (window.visor86?.catalogIds().length ?? 0) > 0 && document.getElementById('app')?.dataset.restored,
      null,
      { timeout },
    );

    // The catalog offers Linux, and the create dialog gives it 128 MiB.
    const ids = await page.evaluate(() => window.visor86!.catalogIds());
    if (!ids.includes('linux')) {
      throw new ConsoleCheckError(
        `expected the page's catalog to offer "linux" (images/linux/bzImage exists); it offers ${ids.join(', ')}`,
      );
    }
    await page.keyboard.press('n');
    await page.waitForSelector('dialog.create-dialog[open]', { timeout });
    await page.click('.catalog-item[data-image="linux"]');
    const memory = await page.inputValue('.create-dialog input[name=memory]');
    const title = (await page.textContent('.catalog-item[data-image="linux"]')) ?? '';
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog.create-dialog[open]', { state: 'detached', timeout });
    if (memory !== '128') {
      throw new ConsoleCheckError(
        `expected the create dialog to give Linux 128 MiB; it offered ${memory} MiB`,
      );
    }
    if (!title.includes('Linux')) {
      throw new ConsoleCheckError(
        `expected the catalog item "linux" to be titled Linux; it reads "${title}"`,
      );
    }

    // Import the saved machine through the snapshot panel's file input.
    log(`importing ${stateFile}`);
    const before = await page.evaluate(() => window.visor86!.hypervisor.list().map((v) => v.id));
    await page.setInputFiles('#import-file-input', stateFile);
    await page.waitForFunction(
      (known) => {
        const box = document.querySelector<HTMLElement>('.snapshot-panel .progress-box');
        const added = window.visor86!.hypervisor.list().some((v) => !known.includes(v.id));
        return (added && box?.hidden) || box?.classList.contains('error');
      },
      before,
      { timeout },
    );
    const problem = await page.evaluate(() => {
      const box = document.querySelector<HTMLElement>('.snapshot-panel .progress-box');
      return box?.classList.contains('error') ? (box.textContent ?? 'an error') : null;
    });
    if (problem) {
      throw new ConsoleCheckError(`expected the page to import ${basename(stateFile)}; it said: ${problem}`);
    }
    const vm = await page.evaluate((known) => {
      const v = window.visor86!.hypervisor.list().find((x) => !known.includes(x.id))!;
      return { id: v.id, name: v.name, state: v.state, memoryMiB: v.config.memoryMiB };
    }, before);
    const tree = (await page.textContent('.snap-tree')) ?? '';
    if (!tree.includes('visor86 run --save') || !/you are here/i.test(tree)) {
      throw new ConsoleCheckError(
        `expected the imported VM's snapshot tree to hold "visor86 run --save" as "you are here"; it shows: ${tree}`,
      );
    }
    if (vm.state !== 'off') {
      throw new ConsoleCheckError(`expected the imported VM to be powered off; it is ${vm.state}`);
    }

    // Power on: a saved machine resumes where it was saved, at the prompt.
    log(`powering on ${vm.name} (${vm.memoryMiB} MiB)`);
    await page.click('.toolbar [data-action=power-on]');
    await page
      .waitForFunction((id) => window.visor86!.hypervisor.get(id)?.state === 'running', vm.id, { timeout })
      .catch(async () => {
        const state = await page.evaluate((id) => {
          const v = window.visor86!.hypervisor.get(id);
          return `${v?.state} ${v?.reason ?? ''}`;
        }, vm.id);
        throw new ConsoleCheckError(`expected ${vm.name} to be running after Power on; it is ${state}`);
      });

    const shell = new LinuxConsole(page, vm.name, timeout);
    await shell.focus();

    // Line editing: "echo abx", Backspace, "c" runs "echo abc".
    log('line editing');
    await page.keyboard.type('echo abx');
    await shell.waitFor('"echo abx" echoed by the shell', (lines) => lastLine(lines).endsWith('echo abx'));
    await page.keyboard.press('Backspace');
    await page.keyboard.type('c');
    await page.keyboard.press('Enter');
    await shell.waitFor('a line "abc" (echo abx, Backspace, c)', (lines) => lines.includes('abc'));
    await shell.waitForPrompt('the prompt after echo abc');

    // Ctrl+C interrupts a running command and the prompt returns; the shell reports SIGINT as 130.
    log('Ctrl+C');
    const marks = shell.count('sleeping');
    await page.keyboard.type(`sh -c 'echo sleeping; exec sleep 100'`);
    await page.keyboard.press('Enter');
    await shell.waitFor('a line "sleeping"', (lines) => lines.filter((l) => l === 'sleeping').length > marks);
    const prompts = await shell.prompts();
    await page.keyboard.press('Control+c');
    await shell.waitFor(
      'the prompt back after Ctrl+C interrupted "sleep 100"',
      (lines) => lines.filter(isPrompt).length > prompts,
    );
    await page.keyboard.type('echo $?');
    await page.keyboard.press('Enter');
    await shell.waitFor('"130" after echo $? (128 + SIGINT)', (lines) => {
      const at = lines.lastIndexOf(LINUX_PROMPT + 'echo $?');
      return at >= 0 && lines[at + 1] === '130';
    });
    await shell.waitForPrompt('the prompt after echo $?');

    for (const path of [join(ARTIFACTS, 'linux-console.png'), options.screenshot ?? '']) {
      if (!path) continue;
      mkdirSync(dirname(path), { recursive: true });
      await page.screenshot({ path });
      log(`screenshot: ${path}`);
    }
    if (pageErrors.length > 0) {
      throw new ConsoleCheckError(`expected no errors in the page; it raised: ${pageErrors.join('; ')}`);
    }
  } finally {
    await browser.close();
    await server.close();
    site.cleanup();
  }
}

/** A prompt line, whatever was typed after it. */
const isPrompt = (line: string) => line.startsWith(LINUX_PROMPT.trimEnd());
const lastLine = (lines: string[]) => lines.filter((l) => l !== '').at(-1) ?? '';

/** The VM's serial console in the page: its text (from xterm's buffer), and waits on it. */
class LinuxConsole {
  private lastText = '';

  constructor(
    private readonly page: Page,
    private readonly name: string,
    private readonly timeout: number,
  ) {}

  /** Clicks the console, so the keyboard goes to its terminal. */
  async focus(): Promise<void> {
    const body = `.console:has(.console-name:text-is("${this.name}")) .console-body`;
    await this.page.click(body, { timeout: this.timeout });
    const focused = await this.page
      .locator(body)
      .evaluate((element) => element.contains(document.activeElement));
    if (!focused)
      throw new ConsoleCheckError(`expected clicking ${this.name}'s console to focus its terminal`);
  }

  /** The console's lines, trailing blanks trimmed. */
  async lines(): Promise<string[]> {
    this.lastText = await this.page.evaluate((n) => window.visor86!.consoleText(n), this.name);
    return this.lastText.split('\n').map((l) => l.trimEnd());
  }

  count(text: string): number {
    return this.lastText.split('\n').filter((l) => l.trimEnd() === text).length;
  }

  async prompts(): Promise<number> {
    return (await this.lines()).filter(isPrompt).length;
  }

  /** Polls the console until `check` holds; throws with what was expected and what the console showed. */
  async waitFor(what: string, check: (lines: string[]) => boolean): Promise<void> {
    const end = Date.now() + this.timeout;
    for (;;) {
      const lines = await this.lines();
      if (check(lines)) return;
      if (Date.now() > end) {
        const shown = lines.filter((l, i) => l !== '' || i < lines.length - 1).slice(-20);
        throw new ConsoleCheckError(
          `expected ${what} on ${this.name}'s console within ${Math.round(this.timeout / 1000)} s; ` +
            `its last lines were:\n${shown.map((l) => `  | ${l}`).join('\n')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Waits until the last line is a bare prompt. */
  waitForPrompt(what: string): Promise<void> {
    return this.waitFor(what, (lines) => lastLine(lines) === LINUX_PROMPT.trimEnd());
  }
}
