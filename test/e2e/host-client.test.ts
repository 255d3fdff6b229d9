/**
 * The host client in Debian's Chromium: the built site (npm run build's configuration) served by a plain
 * static file server, driven through playwright-core like a person would. Four guests of the library run
 * side by side; the test types into `monitor`, pauses one VM while the others advance, powers VMs off,
 * shows a crashed worker, rejects a bad file, and saves screenshots under test/e2e/artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { pathExists, requirement } from '../helpers/requirements.ts';
import { ARTIFACTS, CHROMIUM, buildSite, launchChromium, serveStatic } from './harness.ts';

const skip = requirement('chromium', pathExists(CHROMIUM), 'apt-get install chromium');

/** The four guests, with the line each prints first on COM1 (from images/catalog.json). */
const GUESTS = ['monitor', 'hello', 'life', 'bench'] as const;
const LONG = 90_000;
const TEST_TIMEOUT = 240_000;

interface VmView {
  name: string;
  state: string;
  instructions: number;
  irqs: number;
}

describe.skipIf(skip)('host client in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let close: () => Promise<void>;
  let cleanup: () => void;
  const pageErrors: string[] = [];
  let banners: Record<string, string> = {};

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const site = await buildSite();
    cleanup = site.cleanup;
    const server = await serveStatic(site.dir);
    close = server.close;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(server.url);
    await page.waitForFunction(() => (window.visor86?.catalogIds().length ?? 0) > 0, null, { timeout: LONG });
    banners = await page.evaluate(async () => {
      const catalog = await (await fetch('images/catalog.json')).json();
      return Object.fromEntries(
        (catalog.guests as Array<{ name: string; banner: string }>).map((g) => [g.name, g.banner]),
      );
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await close?.();
    cleanup?.();
  });

  const vms = (): Promise<VmView[]> =>
    page.evaluate(() =>
      window.visor86!.hypervisor.list().map((vm) => ({
        name: vm.name,
        state: vm.state,
        instructions: vm.stats.instructions,
        irqs: vm.stats.irqCounts.reduce((a, b) => a + b, 0),
      })),
    );
  const vm = async (name: string) => (await vms()).find((v) => v.name === name)!;
  const consoleHas = (name: string, text: string, timeout = LONG) =>
    page.waitForFunction(([n, t]) => window.visor86!.consoleText(n).includes(t), [name, text] as const, {
      timeout,
      polling: 250,
    });
  const advanced = async (name: string, since: number) => {
    await page.waitForFunction(
      ([n, i]) => (window.visor86!.hypervisor.list().find((v) => v.name === n)?.stats.instructions ?? 0) > i,
      [name, since] as const,
      { timeout: LONG, polling: 250 },
    );
  };
  /** Opens the create dialog with its shortcut (from outside any console). */
  const openCreate = async () => {
    await page.waitForSelector('dialog[open]', { state: 'detached' });
    await leaveConsole();
    await page.keyboard.press('n');
    await page.waitForSelector('dialog.create-dialog[open]');
  };
  const closeDialog = async () => {
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog[open]', { state: 'detached' });
  };
  /** Clicks an empty spot of the page, so the keyboard belongs to the page again. */
  const leaveConsole = () => page.locator('.events-panel .section-title').click();
  const row = (name: string) => page.locator(`.vm-table tr:has(.vm-link:text-is("${name}"))`);

  it(
    'loads with an empty host and the guest library in the create dialog',
    async () => {
      expect(await page.textContent('.brand-name')).toBe('visor86');
      expect(await page.textContent('.vm-table tbody')).toContain('No virtual machines yet');
      // The empty consoles panel: its big screen icon, and a New VM button whose plus is button-sized.
      const screenIcon = await page.locator('.grid-empty > .icon').boundingBox();
      const plus = await page.locator('.grid-empty button .icon').boundingBox();
      expect(screenIcon?.height).toBeGreaterThan(30);
      expect(plus?.height).toBeLessThan(20);
      const ids = await page.evaluate(() => window.visor86!.catalogIds());
      expect(ids).toEqual(expect.arrayContaining([...GUESTS]));
      await openCreate();
      for (const guest of GUESTS)
        expect(await page.isVisible(`.catalog-item[data-image="${guest}"]`)).toBe(true);
      await closeDialog();
    },
    TEST_TIMEOUT,
  );

  it(
    'starts four VMs of different guests, each with its banner in its own console',
    async () => {
      for (const guest of GUESTS) {
        await openCreate();
        await page.click(`.catalog-item[data-image="${guest}"]`);
        expect(await page.inputValue('.create-form input[name=name]')).toBe(guest);
        await page.click('.create-form button[type=submit]');
        await page.waitForSelector('dialog.create-dialog:not([open])', { state: 'attached', timeout: LONG });
      }
      expect((await vms()).map((v) => v.name)).toEqual([...GUESTS]);
      for (const guest of GUESTS) await consoleHas(guest, banners[guest]);
      // Each banner is in its own console only.
      for (const guest of GUESTS) {
        for (const other of GUESTS) {
          if (other !== guest)
            expect(await page.evaluate((n) => window.visor86!.consoleText(n), other)).not.toContain(
              banners[guest],
            );
        }
      }
      expect(await page.locator('.console').count()).toBe(4);
      // life draws on the VGA text screen, and its console opened on it.
      await page.waitForFunction(
        () => window.visor86!.consoleText('life', 'screen').includes('Game of Life'),
        null,
        { timeout: LONG },
      );
      expect(await page.getAttribute('.console:has(.console-name:text-is("life"))', 'data-view')).toBe(
        'screen',
      );
    },
    TEST_TIMEOUT,
  );

  it(
    'types a command into monitor and shows the answer',
    async () => {
      // The prompt ("> ") is the last thing on COM1 (the terminal's text has its trailing blank trimmed).
      await page.waitForFunction(
        () =>
          window
            .visor86!.hypervisor.list()
            .find((v) => v.name === 'monitor')!
            .consoleTail.endsWith('> '),
        null,
        { timeout: LONG },
      );
      await page.click('.console:has(.console-name:text-is("monitor")) .console-body');
      await page.keyboard.type('help');
      await page.keyboard.press('Enter');
      await consoleHas('monitor', 'Commands (numbers are hexadecimal):');
      await consoleHas('monitor', 'peek ADDR');
    },
    TEST_TIMEOUT,
  );

  it(
    'sends keys to the focused text screen through the keyboard controller',
    async () => {
      await page.click('.console:has(.console-name:text-is("life")) .vga');
      await page.keyboard.press('KeyR');
      await consoleHas('life', 'life: key R: a new random soup');
      await page.keyboard.press('Space');
      await consoleHas('life', 'life: key Space: paused');
      await page.keyboard.press('Space');
      await consoleHas('life', 'life: key Space: running');
    },
    TEST_TIMEOUT,
  );

  it(
    'types the clipboard into the focused VM',
    async () => {
      await page
        .context()
        .grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(page.url()).origin });
      await page.evaluate(() => navigator.clipboard.writeText('uptime\n'));
      await page.click('.console:has(.console-name:text-is("monitor")) .console-body');
      await page.click('.toolbar [data-action=paste]');
      if (await page.isVisible('dialog.paste-dialog[open]')) {
        // No clipboard access in this browser: the page asks for the text instead.
        await page.fill('.paste-area', 'uptime\n');
        await page.click('.paste-dialog button[type=submit]');
      }
      await consoleHas('monitor', 'ticks of IRQ0 at 100 Hz)');
    },
    TEST_TIMEOUT,
  );

  it(
    'keeps the page responsive while guests run flat out',
    async () => {
      // The main thread stays free: it paints and answers a posted task promptly. (A guest running on the
      // page's thread would freeze both.) Thresholds allow for a loaded CI machine.
      const { frames, worstLag } = await page.evaluate(
        () =>
          new Promise<{ frames: number; worstLag: number }>((done) => {
            let frames = 0;
            let worstLag = 0;
            const end = performance.now() + 2000;
            const step = () => {
              frames++;
              if (performance.now() < end) requestAnimationFrame(step);
            };
            requestAnimationFrame(step);
            const probe = () => {
              const posted = performance.now();
              setTimeout(() => {
                worstLag = Math.max(worstLag, performance.now() - posted);
                if (performance.now() < end) probe();
                else done({ frames, worstLag });
              }, 0);
            };
            probe();
          }),
      );
      expect(frames).toBeGreaterThan(4);
      expect(worstLag).toBeLessThan(1000);
      // And a click is handled: the help opens.
      await leaveConsole();
      await page.keyboard.press('?');
      await page.waitForSelector('dialog.help-dialog[open]', { timeout: 5000 });
      await closeDialog();
    },
    TEST_TIMEOUT,
  );

  it(
    'saves a screenshot of the host with four VMs',
    async () => {
      await page.waitForTimeout(1500); // a statistics tick or two
      await page.screenshot({ path: join(ARTIFACTS, 'host-client.png') });
    },
    TEST_TIMEOUT,
  );

  it(
    'pauses one VM while the others keep advancing',
    async () => {
      await row('life').locator('input[type=checkbox]').check();
      await page.click('.toolbar [data-action=pause]');
      await page.waitForFunction(
        () => window.visor86!.hypervisor.list().find((v) => v.name === 'life')?.state === 'paused',
      );
      await page.waitForTimeout(1500); // let the last statistics before the pause arrive
      const frozen = (await vm('life')).instructions;
      const monitor = await vm('monitor');
      const bench = await vm('bench');
      await advanced('monitor', monitor.instructions);
      if (bench.state === 'running') await advanced('bench', bench.instructions);
      await page.waitForTimeout(1200);
      expect((await vm('life')).instructions).toBe(frozen);
      expect((await vm('monitor')).irqs).toBeGreaterThan(monitor.irqs);
      expect(await page.textContent('.console[data-state=paused] .console-name')).toBe('life');
      // Resume it with the keyboard shortcut (the toolbar acts on the checked VM).
      await leaveConsole();
      await page.keyboard.press('p');
      await page.waitForFunction(
        () => window.visor86!.hypervisor.list().find((v) => v.name === 'life')?.state === 'running',
      );
      await advanced('life', frozen);
      await row('life').locator('input[type=checkbox]').uncheck();
    },
    TEST_TIMEOUT,
  );

  it(
    'powers two VMs off with a multi-selection',
    async () => {
      await row('hello').locator('input[type=checkbox]').check();
      await row('bench').locator('input[type=checkbox]').check();
      // The toolbar re-renders on the next animation frame, which a busy machine can delay.
      await expect.poll(() => page.textContent('.target-label')).toBe('2 selected');
      await page.click('.toolbar [data-action=power-off]');
      await page.waitForFunction(() =>
        window
          .visor86!.hypervisor.list()
          .every((v) =>
            v.name === 'hello' || v.name === 'bench' ? v.state === 'off' : v.state === 'running',
          ),
      );
      await page.waitForSelector(
        '.console:has(.console-name:text-is("hello")) .console-overlay:has-text("Powered off")',
      );
      await row('hello').locator('input[type=checkbox]').uncheck();
      await row('bench').locator('input[type=checkbox]').uncheck();
    },
    TEST_TIMEOUT,
  );

  it(
    'shows a VM whose worker died as crashed with its last lines; the others keep running',
    async () => {
      const before = await vm('monitor');
      await page.evaluate(() => {
        const hv = window.visor86!.hypervisor as unknown as {
          vms: Map<string, { record: { name: string }; worker: Worker }>;
        };
        const life = [...hv.vms.values()].find((v) => v.record.name === 'life')!;
        life.worker.terminate();
        life.worker.dispatchEvent(new ErrorEvent('error', { message: 'simulated worker failure' }));
      });
      await page.waitForSelector('.console[data-state=crashed] .console-overlay.crash');
      const panel = await page.textContent('.console[data-state=crashed] .console-overlay');
      expect(panel).toContain("the VM's worker died: simulated worker failure");
      expect(panel).toContain('Last log lines');
      expect(panel).toContain('powered on');
      await advanced('monitor', before.instructions);
      await page.screenshot({ path: join(ARTIFACTS, 'host-client-crashed.png') });
      // Power it on again: a fresh worker.
      await page.click('.console[data-state=crashed] .console-overlay .btn.primary');
      await page.waitForFunction(
        () => window.visor86!.hypervisor.list().find((v) => v.name === 'life')?.state === 'running',
      );
    },
    TEST_TIMEOUT,
  );

  it(
    'rejects a bad file with a clear message and creates nothing',
    async () => {
      const count = (await vms()).length;
      await openCreate();
      await page.click('.create-dialog .seg-btn:has-text("Local file")');
      await page.setInputFiles('#vm-file-input', {
        name: 'notes.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('not a disk image\n'.repeat(50)),
      });
      await page.waitForSelector('.form-error:not([hidden])');
      expect(await page.textContent('.form-error')).toMatch(
        /notes\.txt \(850 bytes\) is not a boot image.*512-byte sectors/,
      );
      await page.click('.create-form button[type=submit]');
      expect(await page.textContent('.form-error')).toBe('Choose or drop an image file.');
      // A floppy-sized image without a boot sector, dropped on the page.
      await closeDialog();
      await page.evaluate(() => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(1474560)], 'blank.img'));
        document.dispatchEvent(
          new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }),
        );
      });
      await page.waitForSelector('dialog.create-dialog[open] .form-error:not([hidden])');
      expect(await page.textContent('.form-error')).toMatch(
        /blank\.img: the first sector has no boot signature/,
      );
      await closeDialog();
      expect((await vms()).length).toBe(count);
    },
    TEST_TIMEOUT,
  );

  it(
    'looks right in a narrow window and in the dark theme',
    async () => {
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.waitForTimeout(300);
      expect(await page.getAttribute('html', 'data-theme')).toBe('dark');
      await page.screenshot({ path: join(ARTIFACTS, 'host-client-dark.png') });
      await page.setViewportSize({ width: 420, height: 900 });
      await page.emulateMedia({ colorScheme: 'light' });
      await page.waitForTimeout(500);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await page.screenshot({ path: join(ARTIFACTS, 'host-client-narrow.png'), fullPage: true });
      await page.setViewportSize({ width: 1600, height: 1000 });
    },
    TEST_TIMEOUT,
  );

  it('raised no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
