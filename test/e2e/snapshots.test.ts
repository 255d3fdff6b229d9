/**
 * Snapshots and storage in Debian's Chromium, driven like a person would: the library's `monitor` guest
 * writes a sector of its disk, a snapshot is taken while it runs, the sector is changed, the VM is reverted
 * and reads the old contents; after a page reload the VM and its snapshots are still there; the VM is
 * exported to a file and imported again; a corrupted and a truncated file are refused with messages that
 * say which. Screenshots go to test/e2e/artifacts/ (the best one is kept as docs/snapshots.png).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { pathExists, requirement } from '../helpers/requirements.ts';
import { ARTIFACTS, CHROMIUM, buildSite, launchChromium, serveStatic } from './harness.ts';

const skip = requirement('chromium', pathExists(CHROMIUM), 'apt-get install chromium');
const LONG = 90_000;
const TEST_TIMEOUT = 180_000;
/** A sector well past the monitor's own code on its 1 MiB boot disk (the monitor takes hex numbers). */
const LBA = '400';

describe.skipIf(skip)('snapshots and storage in Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let close: () => Promise<void>;
  let cleanup: () => void;
  let url: string;
  let exported: Buffer;
  const pageErrors: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const site = await buildSite();
    cleanup = site.cleanup;
    const server = await serveStatic(site.dir);
    close = server.close;
    url = server.url;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await page.goto(url);
    await ready();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await close?.();
    cleanup?.();
  });

  /** The page has loaded its catalog and the VMs kept in storage. */
  const ready = async () => {
    await page.waitForFunction(
      () =>
        (window.visor86?.catalogIds().length ?? 0) > 0 && document.getElementById('app')?.dataset.restored,
      null,
      { timeout: LONG },
    );
  };
  const vms = () =>
    page.evaluate(() =>
      window.visor86!.hypervisor.list().map((vm) => ({ id: vm.id, name: vm.name, state: vm.state })),
    );
  const stateOf = async (name: string) => (await vms()).find((v) => v.name === name)?.state;
  const waitState = (name: string, state: string) =>
    page.waitForFunction(
      ([n, s]) => window.visor86!.hypervisor.list().find((v) => v.name === n)?.state === s,
      [name, state] as const,
      { timeout: LONG },
    );
  const consoleText = (name: string) => page.evaluate((n) => window.visor86!.consoleText(n), name);
  const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;
  /** Waits until `text` appears on the VM's console more often than it did before. */
  const waitMore = async (name: string, text: string, before: number) =>
    page.waitForFunction(
      ([n, t, b]) => window.visor86!.consoleText(n).split(t).length - 1 > b,
      [name, text, before] as const,
      { timeout: LONG, polling: 200 },
    );
  /** Types a command into the VM's serial console and waits for `answer` to show up once more. */
  const command = async (name: string, line: string, answer: string) => {
    const before = count(await consoleText(name), answer);
    await page.click(`.console:has(.console-name:text-is("${name}")) .console-body`);
    await page.keyboard.type(line);
    await page.keyboard.press('Enter');
    await waitMore(name, answer, before);
  };
  const row = (name: string) => page.locator(`.vm-table tr:has(.vm-link:text-is("${name}"))`);
  const selectVm = async (name: string) => {
    await row(name).locator('td.col-state').click();
    await page.waitForFunction(
      (n) => document.querySelector('.snapshot-panel .section-count')?.textContent?.startsWith(n),
      name,
    );
  };
  const treeNames = () => page.locator('.snap-tree [role=treeitem] .snap-name').allTextContents();
  const takeSnapshot = async (name: string, description: string) => {
    await page.click('.snapshot-panel [data-action=snap-take]');
    await page.waitForSelector('dialog.snapshot-dialog[open]');
    await page.fill('.snapshot-dialog input[name=snapshot-name]', name);
    await page.fill('.snapshot-dialog textarea', description);
    await page.click('.snapshot-dialog button[type=submit]');
    await page.waitForSelector('dialog.snapshot-dialog[open]', { state: 'detached', timeout: LONG });
    await page.waitForSelector(`.snap-tree [role=treeitem]:has(.snap-name:text-is("${name}"))`);
  };
  const revertTo = async (name: string) => {
    await page.click(`.snap-tree [role=treeitem]:has(.snap-name:text-is("${name}"))`);
    await page.click('.snapshot-panel [data-action=snap-revert]');
    await page.waitForSelector('.snapshot-panel .progress-box', { state: 'hidden', timeout: LONG });
  };
  const importFile = async (name: string, buffer: Buffer) => {
    await page.setInputFiles('#import-file-input', { name, mimeType: 'application/octet-stream', buffer });
    await page.waitForFunction(
      () => {
        const box = document.querySelector<HTMLElement>('.snapshot-panel .progress-box');
        return box && (box.hidden || box.classList.contains('error'));
      },
      null,
      { timeout: LONG },
    );
  };

  it(
    'takes a snapshot of a running guest, changes its disk, reverts and reads the old sector',
    async () => {
      await page.keyboard.press('n');
      await page.waitForSelector('dialog.create-dialog[open]');
      await page.click('.catalog-item[data-image="monitor"]');
      await page.click('.create-form button[type=submit]');
      await page.waitForSelector('dialog.create-dialog[open]', { state: 'detached', timeout: LONG });
      // The prompt ("> ") is the last thing on COM1 (the terminal's text has its trailing blank trimmed).
      await page.waitForFunction(
        () =>
          window
            .visor86!.hypervisor.list()
            .find((v) => v.name === 'monitor')
            ?.consoleTail.endsWith('> '),
        null,
        { timeout: LONG },
      );
      await command('monitor', `disk write ${LBA} first-text`, `zeros to sector 00000${LBA}`);
      await selectVm('monitor');
      expect(await page.textContent('.snap-tree')).toContain('You are here');
      await takeSnapshot('before', 'the sector holds first-text');
      expect(await stateOf('monitor')).toBe('running');

      await command('monitor', `disk write ${LBA} second-text`, `zeros to sector 00000${LBA}`);
      await command('monitor', `disk read ${LBA}`, 'second-text');
      await takeSnapshot('after', 'the sector holds second-text');
      expect(await treeNames()).toEqual(['before', 'after']);

      await revertTo('before');
      expect(dialogs.at(-1)).toMatch(/^Revert monitor to "before"\?/);
      await waitState('monitor', 'running');
      expect(await consoleText('monitor')).toContain('reverted to snapshot "before"');
      const firsts = count(await consoleText('monitor'), 'first-text');
      await command('monitor', `disk read ${LBA}`, 'first-text');
      expect(count(await consoleText('monitor'), 'first-text')).toBeGreaterThan(firsts);
      // The tree: "before" has "after" and "You are here" below it.
      const tree = await page.locator('.snap-tree li').allTextContents();
      expect(tree.map((t) => t.replace(/\d.*$/, '').trim())).toEqual([
        'monitorbase disks · monitor',
        'before (you are here)',
        'You are hererunning',
        'after',
      ]);
      expect(await page.getAttribute('.snapshot-panel [data-action=snap-clone]', 'aria-label')).toBe(
        'Clone…',
      );
      await page.click('.snap-tree [role=treeitem]:has(.snap-name:text-is("before"))');
      await page.waitForTimeout(1200); // a statistics tick, so the storage column is filled in
      await page.screenshot({ path: join(ARTIFACTS, 'snapshots.png') });
    },
    TEST_TIMEOUT,
  );

  it(
    'is keyboard usable: arrows move through the tree, F2 edits',
    async () => {
      await page.focus('.snap-tree [role=treeitem][tabindex="0"]');
      await page.keyboard.press('ArrowDown');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toContain('after');
      await page.keyboard.press('F2');
      await page.waitForSelector('dialog.snapshot-dialog[open]');
      await page.fill('.snapshot-dialog textarea', 'edited with the keyboard');
      await page.keyboard.press('Control+Enter');
      await page.waitForSelector('dialog.snapshot-dialog[open]', { state: 'detached' });
      expect(await page.textContent('.snap-details')).toContain('edited with the keyboard');
      expect(await page.getAttribute('.snap-tree', 'aria-label')).toBe('Snapshot tree');
    },
    TEST_TIMEOUT,
  );

  it(
    'still has the VM and its snapshots after a reload, and reverts to one',
    async () => {
      await page.evaluate(() => window.visor86!.store.idle());
      await page.reload();
      await ready();
      expect((await vms()).map((v) => [v.name, v.state])).toEqual([['monitor', 'off']]);
      await selectVm('monitor');
      expect(await treeNames()).toEqual(['before', 'after']);
      // "You are here" is still on "before"; "after" keeps its edited description.
      expect(await page.getAttribute('.snap-tree [role=treeitem].current', 'data-snapshot')).toBeTruthy();
      expect(await page.textContent('.snap-tree [role=treeitem].current .snap-name')).toBe('before');
      await page.click('.snap-tree [role=treeitem]:has(.snap-name:text-is("after"))');
      expect(await page.textContent('.snap-details')).toContain('edited with the keyboard');
      // The list and the summary cards render on the next animation frame (app.ts render()).
      await expect.poll(() => row('monitor').locator('td.col-store').textContent()).toMatch(/KiB|MiB/);
      await expect
        .poll(() => page.textContent('.card-storage'))
        .toMatch(/1 VM and 2 snapshots kept across reloads/);
      await revertTo('after');
      await waitState('monitor', 'running');
      await command('monitor', `disk read ${LBA}`, 'second-text');
    },
    TEST_TIMEOUT,
  );

  it(
    'leaves the stored VMs to the first tab when the page is opened twice',
    async () => {
      const second = await context.newPage();
      try {
        await second.goto(url);
        await second.waitForSelector('.toast:has-text("open in another tab")', { timeout: LONG });
        await second.waitForFunction(() => document.getElementById('app')?.dataset.restored, null, {
          timeout: LONG,
        });
        expect(await second.evaluate(() => window.visor86!.hypervisor.list().length)).toBe(0);
      } finally {
        await second.close();
      }
      expect((await vms()).map((v) => v.name)).toEqual(['monitor']);
    },
    TEST_TIMEOUT,
  );

  it(
    'exports the VM to a file and imports it again as a second VM',
    async () => {
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: LONG }),
        page.click('.snapshot-panel [data-action=vm-export]'),
      ]);
      expect(download.suggestedFilename()).toBe('monitor.visor86');
      const path = join(ARTIFACTS, 'monitor.visor86');
      await download.saveAs(path);
      exported = readFileSync(path);
      expect(exported.subarray(0, 8).toString('latin1')).toBe('VISOR86S');

      // The Import button (a real button, so Tab and Enter reach it too) opens the file chooser.
      expect(await page.evaluate(() => document.querySelector('[data-action=import]')?.tagName)).toBe(
        'BUTTON',
      );
      const [chooser] = await Promise.all([
        page.waitForEvent('filechooser', { timeout: LONG }),
        page.click('.snapshot-panel [data-action=import]'),
      ]);
      await chooser.setFiles({
        name: 'monitor.visor86',
        mimeType: 'application/octet-stream',
        buffer: exported,
      });
      await page.waitForFunction(() => window.visor86!.hypervisor.list().some((v) => v.name === 'monitor-2'));
      await selectVm('monitor-2');
      expect(await treeNames()).toEqual(['before', 'after']);
      await revertTo('before');
      await waitState('monitor-2', 'running');
      await command('monitor-2', `disk read ${LBA}`, 'first-text');
    },
    TEST_TIMEOUT,
  );

  it(
    'refuses a corrupted and a truncated file with a message saying which, touching nothing',
    async () => {
      const before = await vms();
      const corrupted = Buffer.from(exported);
      corrupted[corrupted.length >> 1] ^= 0x5a;
      await importFile('broken.visor86', corrupted);
      expect(await page.textContent('.snapshot-panel .progress-label')).toBe(
        'broken.visor86 is corrupted: its SHA-256 hash does not match its contents',
      );
      // Dropped on the page, a truncated file.
      const truncated = [...exported.subarray(0, exported.length - 4096)];
      await page.evaluate((bytes) => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], 'short.visor86'));
        document.dispatchEvent(
          new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }),
        );
      }, truncated);
      await page.waitForFunction(
        () =>
          document.querySelector('.snapshot-panel .progress-label')?.textContent?.startsWith('short.visor86'),
        null,
        { timeout: LONG },
      );
      expect(await page.textContent('.snapshot-panel .progress-label')).toMatch(
        /^short\.visor86 is truncated: \d+ of \d+ payload bytes are present$/,
      );
      expect(await page.isVisible('.toast.error')).toBe(true);
      await page.screenshot({ path: join(ARTIFACTS, 'snapshots-refused.png') });
      expect((await vms()).map((v) => v.name)).toEqual(before.map((v) => v.name));
      expect(await stateOf('monitor')).toBe('running');
    },
    TEST_TIMEOUT,
  );

  it(
    'makes a linked clone that reads the snapshot’s disk, and refuses to delete that snapshot under it',
    async () => {
      await selectVm('monitor');
      await page.click('.snap-tree [role=treeitem]:has(.snap-name:text-is("before"))');
      await page.click('.snapshot-panel [data-action=snap-clone]');
      await page.waitForSelector('dialog.clone-dialog[open]');
      const choices = await page.locator('.clone-dialog label').allTextContents();
      expect(choices[0]).toMatch(/^Linked clone.*Fast and small.*depends on this snapshot/);
      expect(choices[1]).toMatch(/^Full clone.*own copy.*independent of this VM/);
      await page.screenshot({ path: join(ARTIFACTS, 'snapshots-clone-dialog.png') });
      await page.check('.clone-dialog input[value=linked]');
      await page.click('.clone-dialog button[type=submit]');
      await page.waitForFunction(() =>
        window.visor86!.hypervisor.list().some((v) => v.name === 'monitor-before-linked'),
      );
      await selectVm('monitor-before-linked');
      expect(await page.textContent('.snap-tree .snap-base')).toContain('linked · monitor › before');
      expect(await treeNames()).toEqual(['before']);
      await page.waitForFunction(() =>
        /own \+ .* shared$/.test(document.querySelector('.snapshot-panel .snap-usage')?.textContent ?? ''),
      );
      expect(await page.isVisible('.snapshot-panel [data-action=vm-independent]')).toBe(true);
      await page.screenshot({ path: join(ARTIFACTS, 'snapshots-linked-clone-vm.png') });
      await revertTo('before');
      await waitState('monitor-before-linked', 'running');
      await command('monitor-before-linked', `disk read ${LBA}`, 'first-text');

      // The source snapshot cannot go while the clone uses it: the message says why, nothing is asked.
      await selectVm('monitor');
      expect(await page.isVisible('.snapshot-panel [data-action=vm-independent]')).toBe(false);
      await page.click('.snap-tree [role=treeitem]:has(.snap-name:text-is("before"))');
      expect(await page.textContent('.snap-details')).toContain('monitor-before-linked: their disks lie on');
      const asked = dialogs.length;
      await page.click('.snapshot-panel [data-action=snap-delete]');
      await page.waitForSelector('.snapshot-panel .progress-box.error', { timeout: LONG });
      expect(await page.textContent('.snapshot-panel .progress-label')).toBe(
        'snapshot "before" is the shared disk of the linked clone monitor-before-linked: delete it or make it independent first',
      );
      expect(dialogs.length).toBe(asked);
      expect(await treeNames()).toEqual(['before', 'after']);
      await page.screenshot({ path: join(ARTIFACTS, 'snapshots-linked-clone.png') });
    },
    TEST_TIMEOUT,
  );

  it('raised no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
