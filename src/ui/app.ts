/**
 * The host client page: top bar, host overview, VM list with its toolbar, and the console grid, wired to
 * the hypervisor. Power actions apply to the checked VMs, or else to the current one (the list's cursor,
 * which follows the focused console). Keyboard input goes to the focused console; page shortcuts work
 * when no console has the keyboard (see help.ts). VMs, their disks and snapshots are kept in IndexedDB
 * (src/host/vm-store.ts) and come back, powered off, when the page is loaded again.
 */
import { Hypervisor, type HypervisorEvent, type VmRecord } from '../host/hypervisor.ts';
import { fetchMedia, loadCatalog, type CatalogEntry } from '../host/catalog.ts';
import { actionsForSelection, canDelete, isAllowed } from '../host/lifecycle.ts';
import type { PowerAction } from '../host/protocol.ts';
import { ConsolePanel, type ConsoleView } from './console-panel.ts';
import { CreateDialog, closeButton, type CreateRequest } from './create-dialog.ts';
import { h, icon } from './dom.ts';
import { createHelpDialog } from './help.ts';
import { keystrokes } from './keymap.ts';
import { MONO_FONT } from './serial-console.ts';
import { EventsPanel } from './events-panel.ts';
import { SummaryCards } from './summary.ts';
import { VmTable } from './vm-table.ts';
import { SnapshotPanel } from './snapshot-panel.ts';
import { VmStore, EXPORT_EXTENSION } from '../host/vm-store.ts';
import { DeferredStorage, IndexedDbStorage, MemoryStorage, type StorageBackend } from '../host/storage.ts';
import { SNAPSHOT_MAGIC } from '../machine/snapshot-file.ts';

export const MAX_CONSOLES = 9;
type Theme = 'system' | 'light' | 'dark';

const ACTION_LABELS: Record<PowerAction, string> = {
  'power-on': 'Power on',
  pause: 'Pause',
  resume: 'Resume',
  reset: 'Reset',
  'power-off': 'Power off',
  'ctrl-alt-del': 'Ctrl-Alt-Del',
};

/** Measures the monospace font's advance width as a fraction of its size (for fitting 80 columns). */
function measureCharWidth(): number {
  const probe = h(
    'span',
    { style: `position:absolute;visibility:hidden;white-space:pre;font:100px ${MONO_FONT}` },
    'M'.repeat(50),
  );
  document.body.append(probe);
  const ratio = probe.getBoundingClientRect().width / 5000;
  probe.remove();
  return ratio > 0.3 && ratio < 1 ? ratio : 0.6;
}

export class App {
  readonly hypervisor: Hypervisor;
  /** VMs, disks and snapshots in storage; snapshot operations; export and import. */
  readonly store: VmStore;
  /** Resolves once the VMs kept in storage are back in the list. */
  readonly restored: Promise<void>;
  private readonly snapshots: SnapshotPanel;
  private readonly root: HTMLElement;
  private readonly imagesBase: string;
  private readonly panels = new Map<string, ConsolePanel>();
  /** VMs whose consoles are in the grid, in grid order. */
  private readonly shown: string[] = [];
  private focusedId: string | null = null;
  private maximizedId: string | null = null;
  private readonly table: VmTable;
  private readonly summary: SummaryCards;
  private readonly events = new EventsPanel();
  private readonly createDialog: CreateDialog;
  private readonly helpDialog: HTMLDialogElement;
  private readonly pasteDialog: HTMLDialogElement;
  private readonly grid: HTMLElement;
  private readonly consolesCount: HTMLElement;
  private readonly toolbarButtons = new Map<string, HTMLButtonElement>();
  private readonly targetLabel: HTMLElement;
  private readonly toasts: HTMLElement;
  private readonly uptimeEl: HTMLElement;
  private readonly charWidth: number;
  private renderQueued = false;
  private chord = { armed: false };
  private lastStates = new Map<string, string>();
  private catalog: CatalogEntry[] = [];
  private quotaBytes: number | undefined;
  private quotaCheckedAt = 0;

  constructor(
    root: HTMLElement,
    options: { hypervisor?: Hypervisor; imagesBase?: string; storage?: StorageBackend } = {},
  ) {
    this.root = root;
    this.hypervisor = options.hypervisor ?? new Hypervisor();
    this.store = new VmStore(this.hypervisor, new DeferredStorage(this.openStorage(options.storage)));
    this.imagesBase = options.imagesBase ?? new URL('images/', document.baseURI).href;
    this.charWidth = measureCharWidth();
    this.applyTheme(this.storedTheme());
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () =>
      this.applyTheme(this.storedTheme()),
    );

    const hostName = location.hostname || 'localhost';
    this.summary = new SummaryCards(hostName);
    this.table = new VmTable({
      selectionChanged: () => this.render(),
      currentChanged: () => {
        this.renderToolbar();
        this.snapshots.render();
      },
      open: (id) => this.openConsole(id),
      toggleShown: (id) => this.toggleShown(id),
      storageBytes: (id) => this.store.usage(id).total,
    });
    this.snapshots = new SnapshotPanel(this.store, {
      toast: (message, error) => this.toast(message, error),
      currentVm: () => {
        const id = this.table.current ?? this.focusedId;
        return (id && this.hypervisor.get(id)) || null;
      },
      imported: (vm) => {
        this.table.setCurrent(vm.id);
        this.render();
      },
      reverted: (vm, snapshot) => {
        // (Reverting to a powered-off snapshot is marked like any power-off.)
        if (vm.state !== 'off')
          this.panels.get(vm.id)?.serial.note(`reverted to snapshot "${snapshot.name}"`);
      },
    });
    this.store.subscribe((event) => {
      if (event.type === 'error') this.toast(event.message, true);
      this.snapshots.render();
      this.render();
    });
    this.createDialog = new CreateDialog({
      create: (request) => this.create(request),
      suggestName: (base) => this.suggestName(base),
    });
    this.helpDialog = createHelpDialog();
    this.pasteDialog = this.makePasteDialog();
    this.grid = h('div', { class: 'console-grid' });
    this.consolesCount = h('span', { class: 'section-count' });
    this.targetLabel = h('span', { class: 'target-label', 'aria-live': 'polite' });
    this.toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    this.uptimeEl = h('span', { class: 'topbar-uptime' });

    const topbar = h(
      'header',
      { class: 'topbar' },
      h(
        'div',
        { class: 'brand' },
        icon('chip'),
        h('span', { class: 'brand-name' }, 'visor86'),
        h('span', { class: 'brand-sub' }, 'host client'),
      ),
      h('div', { class: 'topbar-host' }, icon('server'), h('span', {}, hostName), this.uptimeEl),
      h('span', { class: 'spacer' }),
      h(
        'button',
        {
          type: 'button',
          class: 'btn primary',
          onclick: () => this.createDialog.open(),
          title: 'New VM (n)',
        },
        icon('plus'),
        h('span', { class: 'label' }, 'New VM'),
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'icon-btn on-dark',
          onclick: () => this.cycleTheme(),
          title: 'Theme (t)',
          'aria-label': 'Theme',
        },
        icon('theme'),
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'icon-btn on-dark',
          onclick: () => this.helpDialog.showModal(),
          title: 'Keyboard shortcuts (?)',
          'aria-label': 'Keyboard shortcuts',
        },
        icon('help'),
      ),
    );

    const toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Power actions' });
    const tool = (
      id: string,
      iconName: string,
      label: string,
      key: string,
      onclick: () => void,
      extra = '',
    ) => {
      const button = h(
        'button',
        {
          type: 'button',
          class: `btn tool ${extra}`,
          title: `${label} (${key})`,
          'data-action': id,
          onclick,
        },
        icon(iconName),
        h('span', { class: 'label' }, label),
      );
      this.toolbarButtons.set(id, button);
      return button;
    };
    toolbar.append(
      tool('power-on', 'play', 'Power on', 's', () => this.act('power-on')),
      tool('pause', 'pause', 'Pause', 'p', () => this.act(this.pauseOrResume())),
      tool('reset', 'reset', 'Reset', 'r', () => this.act('reset')),
      tool('power-off', 'stop', 'Power off', 'x', () => this.act('power-off'), 'danger'),
      h('span', { class: 'tool-sep' }),
      tool('ctrl-alt-del', 'keys', 'Ctrl-Alt-Del', 'd', () => this.act('ctrl-alt-del'), 'secondary'),
      tool('paste', 'clipboard', 'Type clipboard', 'c', () => void this.typeClipboard(), 'secondary'),
      h('span', { class: 'tool-sep' }),
      tool('delete', 'trash', 'Delete', 'Del', () => this.deleteTargets(), 'secondary'),
      h('span', { class: 'spacer' }),
      this.targetLabel,
    );

    const main = h(
      'main',
      { class: 'layout' },
      h(
        'div',
        { class: 'col-overview' },
        this.summary.element,
        h(
          'section',
          { class: 'panel vm-panel', 'aria-label': 'Virtual machines' },
          h('h2', { class: 'section-title' }, 'Virtual machines'),
          toolbar,
          this.table.element,
        ),
        this.snapshots.element,
        this.events.element,
      ),
      h(
        'section',
        { class: 'col-consoles', 'aria-label': 'Consoles' },
        h('h2', { class: 'section-title' }, 'Consoles', this.consolesCount),
        this.grid,
      ),
    );
    root.replaceChildren(
      topbar,
      main,
      this.createDialog.element,
      this.helpDialog,
      this.pasteDialog,
      this.snapshots.dialog,
      this.toasts,
    );

    this.hypervisor.subscribe((event) => this.onEvent(event));
    document.addEventListener('keydown', (e) => this.onShortcut(e));
    this.installDropTarget();
    new ResizeObserver(() => this.layoutGrid()).observe(this.grid);
    setInterval(() => this.tick(true), 1000);
    addEventListener('beforeunload', () => this.hypervisor.dispose());
    this.renderGrid();
    this.render();
    this.tick(false);
    void this.loadCatalog();
    this.restored = this.restoreVms();
  }

  // ---- data ----

  /** IndexedDB, or (private windows, old browsers) memory, with a warning that nothing will be kept. */
  private async openStorage(given?: StorageBackend): Promise<StorageBackend> {
    if (given) return given;
    // One page at a time owns the stored VMs: a second tab would run the same VMs and overwrite their disks.
    if (!(await this.holdStorageLock())) {
      this.toast(
        'visor86 is open in another tab, which keeps the stored VMs: VMs made here are not kept after this tab closes',
        true,
      );
      return new MemoryStorage();
    }
    try {
      const storage = await IndexedDbStorage.open();
      void navigator.storage?.persist?.().catch(() => false);
      return storage;
    } catch (e) {
      this.toast(`VMs will not be kept after this page closes: ${(e as Error).message}`, true);
      return new MemoryStorage();
    }
  }

  /** Takes the page's storage lock for as long as the page lives; false when another tab holds it. */
  private holdStorageLock(): Promise<boolean> {
    const locks = navigator.locks;
    if (!locks) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      // Wait a little: on a reload the previous page may not have let go yet.
      locks
        .request('visor86-storage', { signal: AbortSignal.timeout(3000) }, () => {
          resolve(true);
          return new Promise<never>(() => {}); // held until the page goes away
        })
        .catch(() => resolve(false));
    });
  }

  private async restoreVms(): Promise<void> {
    try {
      const { restored, problems } = await this.store.restore();
      for (const problem of problems) this.toast(problem, true);
      if (restored.length > 0) {
        this.toast(`Restored ${restored.length} VM${restored.length === 1 ? '' : 's'} from storage`);
        if (!this.table.current) this.table.setCurrent(restored[0].id);
      }
    } catch (e) {
      this.toast(`Could not read the stored VMs: ${(e as Error).message}`, true);
    }
    this.root.dataset.restored = 'true';
  }

  private async loadCatalog(): Promise<void> {
    const { entries, problems } = await loadCatalog(this.imagesBase);
    this.catalog = entries;
    this.createDialog.setCatalog(entries, problems);
    for (const problem of problems) console.info(`visor86: ${problem}`);
    this.root.dataset.catalog = entries.map((e) => e.id).join(' ');
  }

  private suggestName(base: string): string {
    const clean = base.replace(/[^a-z0-9_-]+/gi, '-').replace(/^-+|-+$/g, '') || 'vm';
    const names = new Set(this.hypervisor.list().map((vm) => vm.name));
    if (!names.has(clean)) return clean;
    for (let i = 2; ; i++) if (!names.has(`${clean}-${i}`)) return `${clean}-${i}`;
  }

  private async create(request: CreateRequest): Promise<void> {
    const source = request.source;
    let media;
    let image;
    let console: 'serial' | 'vga' | undefined;
    if ('entry' in source) {
      media = await fetchMedia(this.imagesBase, source.entry);
      image = source.entry.title;
      console = source.entry.console;
    } else {
      media = source.media;
      image = source.label;
    }
    const vm = await this.hypervisor.createVm({ ...request.config, media }, image, { console });
    if (request.powerOn) this.hypervisor.action(vm.id, 'power-on');
    this.table.setCurrent(vm.id);
    this.focusConsole(vm.id);
    this.toast(`Created ${vm.name}`);
  }

  // ---- hypervisor events ----

  private onEvent(event: HypervisorEvent): void {
    const vm = event.vm;
    switch (event.type) {
      case 'added': {
        const panel = new ConsolePanel(
          vm,
          {
            action: (target, action) => this.runAction([target], action),
            focused: (target) => this.setFocused(target.id),
            toggleMaximize: (target) => this.toggleMaximize(target.id),
            viewChanged: (target, view) => this.viewChanged(target.id, view),
            serialInput: (target, bytes) => this.hypervisor.sendSerial(target.id, bytes),
            key: (target, code, down) => this.hypervisor.sendKey(target.id, code, down),
            interceptKey: (e) => this.consoleChord(e),
          },
          this.charWidth,
        );
        this.panels.set(vm.id, panel);
        if (this.shown.length < MAX_CONSOLES) this.shown.push(vm.id);
        this.lastStates.set(vm.id, vm.state);
        this.renderGrid();
        this.render();
        return;
      }
      case 'removed': {
        this.panels.get(vm.id)?.dispose();
        this.panels.delete(vm.id);
        const at = this.shown.indexOf(vm.id);
        if (at >= 0) this.shown.splice(at, 1);
        if (this.focusedId === vm.id) this.focusedId = null;
        if (this.maximizedId === vm.id) this.maximizedId = null;
        if (this.table.current === vm.id) this.table.current = null;
        this.renderGrid();
        this.render();
        return;
      }
      case 'changed':
        this.noteStateChange(vm);
        this.panels.get(vm.id)?.update();
        this.snapshots.render();
        this.render();
        return;
      case 'stats':
        this.panels.get(vm.id)?.update();
        this.render();
        return;
      case 'log':
        this.events.add(vm, event.line);
        return;
      case 'serial':
        this.panels.get(vm.id)?.onSerial(event.bytes);
        return;
      case 'screen':
        this.panels.get(vm.id)?.onScreen(event.frame);
        return;
    }
  }

  /** Marks power events in the serial console, so a reboot is visible in the scrollback. */
  private noteStateChange(vm: VmRecord): void {
    const before = this.lastStates.get(vm.id);
    if (before === vm.state) return;
    this.lastStates.set(vm.id, vm.state);
    const panel = this.panels.get(vm.id);
    if (!panel) return;
    if (vm.state === 'starting') {
      if (before === 'off' || before === 'crashed') {
        // A machine saved by visor86 run starts where it was saved: its earlier output is not here.
        const resumes = vm.config.media.kind === 'saved' ? ', resuming the machine where it was saved' : '';
        panel.serial.note(`powered on ${new Date().toLocaleTimeString()}${resumes}`);
      }
      panel.screen.showBlank();
    } else if (vm.state === 'off' && before !== 'starting') panel.serial.note(vm.reason || 'powered off');
    else if (vm.state === 'crashed') panel.serial.note('crashed');
  }

  // ---- rendering ----

  /** Re-renders the list, toolbar and overview on the next frame (many events arrive together). */
  private render(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.table.render(this.hypervisor.list(), new Set(this.shown));
      this.renderToolbar();
      this.tick(false);
    });
  }

  private tick(record: boolean): void {
    const uptime = Date.now() - this.hypervisor.startedAt;
    const vms = this.hypervisor.list();
    if (record && Date.now() - this.quotaCheckedAt > 10_000) {
      this.quotaCheckedAt = Date.now();
      void navigator.storage
        ?.estimate?.()
        .then((estimate) => (this.quotaBytes = estimate.quota))
        .catch(() => undefined);
    }
    this.summary.update(this.hypervisor.summary(), uptime, record, {
      usedBytes: this.store.totalUsage(),
      vms: vms.length,
      snapshots: vms.reduce((n, vm) => n + this.store.tree(vm.id).size, 0),
      quotaBytes: this.quotaBytes,
    });
    this.uptimeEl.textContent = `up ${formatShortUptime(uptime)}`;
  }

  private renderToolbar(): void {
    const targets = this.targets();
    const allowed = actionsForSelection(targets.map((vm) => vm.state));
    const pauseAction = this.pauseOrResume();
    const set = (id: string, enabled: boolean) => {
      const button = this.toolbarButtons.get(id)!;
      button.disabled = !enabled;
    };
    set('power-on', allowed.has('power-on'));
    set('pause', allowed.has(pauseAction));
    const pause = this.toolbarButtons.get('pause')!;
    pause.replaceChildren(
      icon(pauseAction === 'resume' ? 'play' : 'pause'),
      h('span', { class: 'label' }, ACTION_LABELS[pauseAction]),
    );
    pause.title = `${ACTION_LABELS[pauseAction]} (p)`;
    set('reset', allowed.has('reset'));
    set('power-off', allowed.has('power-off'));
    set('ctrl-alt-del', allowed.has('ctrl-alt-del'));
    set('paste', !!this.inputTarget());
    set('delete', targets.length > 0 && targets.every((vm) => canDelete(vm.state)));
    const checked = this.table.selection.size;
    this.targetLabel.textContent =
      checked > 0 ? `${checked} selected` : targets.length === 1 ? targets[0].name : 'No VM selected';
    this.consolesCount.textContent = `${this.shown.length} of ${this.hypervisor.list().length}`;
  }

  private renderGrid(): void {
    const ids = this.maximizedId ? [this.maximizedId] : this.shown;
    const panels = ids.map((id) => this.panels.get(id)!).filter(Boolean);
    const current = [...this.grid.children];
    if (panels.length !== current.length || panels.some((p, i) => current[i] !== p.element)) {
      this.grid.replaceChildren(...panels.map((p) => p.element));
    }
    if (panels.length === 0) {
      this.grid.replaceChildren(
        h(
          'div',
          { class: 'grid-empty' },
          icon('screen'),
          h('p', {}, 'Consoles of up to nine VMs appear here, side by side.'),
          h(
            'button',
            { type: 'button', class: 'btn primary', onclick: () => this.createDialog.open() },
            icon('plus'),
            'New VM',
          ),
        ),
      );
    }
    this.grid.dataset.count = String(panels.length);
    this.grid.classList.toggle('maximized', !!this.maximizedId);
    for (const [id, panel] of this.panels) {
      panel.setMaximized(id === this.maximizedId);
      panel.setFocused(id === this.focusedId);
    }
    this.layoutGrid();
    for (const panel of panels) panel.attached();
    for (const [id, panel] of this.panels) this.viewChanged(id, panel.view);
  }

  /** Columns for the grid: by count, fewer when the window is narrow. */
  private layoutGrid(): void {
    const n = Number(this.grid.dataset.count ?? 0);
    const width = this.grid.clientWidth;
    const maxCols = width < 640 ? 1 : width < 1000 ? 2 : 3;
    const cols = Math.max(1, Math.min(maxCols, n <= 1 ? 1 : n <= 4 ? 2 : 3));
    this.grid.style.setProperty('--cols', String(cols));
  }

  private viewChanged(id: string, view: ConsoleView): void {
    const visible = this.maximizedId ? this.maximizedId === id : this.shown.includes(id);
    this.hypervisor.setView(id, visible && view === 'screen' ? 'live' : 'background');
  }

  // ---- focus and grid ----

  private setFocused(id: string): void {
    if (this.focusedId === id) return;
    this.focusedId = id;
    for (const [panelId, panel] of this.panels) panel.setFocused(panelId === id);
    this.table.setCurrent(id);
  }

  private focusConsole(id: string): void {
    const panel = this.panels.get(id);
    if (!panel) return;
    if (!this.shown.includes(id) && !this.maximizedId) this.showConsole(id);
    if (this.maximizedId && this.maximizedId !== id) {
      this.maximizedId = id;
      this.renderGrid();
    }
    this.setFocused(id);
    panel.element.scrollIntoView({ block: 'nearest' });
    panel.focus();
  }

  private openConsole(id: string): void {
    this.table.setCurrent(id);
    this.focusConsole(id);
  }

  private showConsole(id: string): void {
    if (this.shown.includes(id)) return;
    if (this.shown.length >= MAX_CONSOLES) {
      const dropped = this.shown.shift()!;
      this.toast(`At most ${MAX_CONSOLES} consoles: hid ${this.hypervisor.get(dropped)?.name ?? dropped}`);
    }
    this.shown.push(id);
    this.renderGrid();
    this.render();
  }

  private toggleShown(id: string): void {
    const at = this.shown.indexOf(id);
    if (at >= 0) {
      this.shown.splice(at, 1);
      if (this.maximizedId === id) this.maximizedId = null;
      this.renderGrid();
      this.render();
    } else this.showConsole(id);
  }

  private toggleMaximize(id: string): void {
    this.maximizedId = this.maximizedId === id ? null : id;
    if (!this.maximizedId && !this.shown.includes(id)) this.shown.push(id);
    this.renderGrid();
    this.panels.get(id)?.focus();
  }

  // ---- actions ----

  /** The VMs a power action applies to: the checked ones, or else the current one. */
  private targets(): VmRecord[] {
    const checked = this.table.orderedIds().filter((id) => this.table.selection.has(id));
    const ids =
      checked.length > 0 ? checked : [this.table.current ?? this.focusedId].filter((x): x is string => !!x);
    return ids.map((id) => this.hypervisor.get(id)).filter((vm): vm is VmRecord => !!vm);
  }

  private pauseOrResume(): PowerAction {
    const targets = this.targets();
    return targets.some((vm) => vm.state === 'running') || !targets.some((vm) => vm.state === 'paused')
      ? 'pause'
      : 'resume';
  }

  private act(action: PowerAction): void {
    const targets = this.targets();
    if (targets.length === 0) {
      this.toast('Select a VM first');
      return;
    }
    this.runAction(targets, action);
  }

  private runAction(targets: VmRecord[], action: PowerAction): void {
    const able = targets.filter((vm) => isAllowed(vm.state, action));
    if (able.length === 0) {
      this.toast(`${ACTION_LABELS[action]}: not possible in the current state`);
      return;
    }
    for (const vm of able) {
      try {
        this.hypervisor.action(vm.id, action);
      } catch (e) {
        this.toast((e as Error).message, true);
      }
    }
    if (able.length > 1) this.toast(`${ACTION_LABELS[action]}: ${able.length} VMs`);
    this.render();
  }

  private deleteTargets(): void {
    const targets = this.targets();
    if (targets.length === 0 || !targets.every((vm) => canDelete(vm.state))) {
      this.toast('Power the VMs off before deleting them');
      return;
    }
    const names = targets.map((vm) => vm.name).join(', ');
    if (!confirm(`Delete ${names}? Its disks are lost.`)) return;
    for (const vm of targets) this.hypervisor.deleteVm(vm.id);
    this.toast(`Deleted ${names}`);
  }

  /** The VM that keyboard input and "type clipboard" go to: the focused console, or the current VM. */
  private inputTarget(): VmRecord | undefined {
    const id = this.focusedId ?? this.table.current;
    const vm = id ? this.hypervisor.get(id) : undefined;
    return vm && (vm.state === 'running' || vm.state === 'paused') ? vm : undefined;
  }

  private async typeClipboard(): Promise<void> {
    const vm = this.inputTarget();
    if (!vm) {
      this.toast('Focus a running VM first');
      return;
    }
    let text: string | null = null;
    try {
      text = await navigator.clipboard.readText();
    } catch {
      text = null; // no permission, or no clipboard API: ask for the text instead
    }
    if (text === null) {
      this.pasteDialog.dataset.vm = vm.id;
      this.pasteDialog.showModal();
      return;
    }
    this.typeText(vm.id, text);
  }

  /** Types text into a VM: as bytes on COM1, or as key presses when its screen has the keyboard. */
  typeText(id: string, text: string): void {
    const panel = this.panels.get(id);
    if (!panel || !text) return;
    if (panel.view === 'serial') {
      this.hypervisor.sendSerial(id, new TextEncoder().encode(text.replace(/\r?\n/g, '\r')));
    } else {
      // The PS/2 keyboard buffers 16 bytes: pace the keys so the guest can keep up.
      const strokes = keystrokes(text);
      let i = 0;
      const next = () => {
        for (let n = 0; n < 4 && i < strokes.length; n++, i++)
          this.hypervisor.sendKey(id, strokes[i].code, strokes[i].down);
        if (i < strokes.length) setTimeout(next, 15);
      };
      next();
    }
    this.toast(
      `Typed ${text.length} character${text.length === 1 ? '' : 's'} into ${this.hypervisor.get(id)?.name}`,
    );
    panel.focus();
  }

  private makePasteDialog(): HTMLDialogElement {
    const area = h('textarea', {
      rows: 6,
      class: 'paste-area',
      'aria-label': 'Text to type',
      placeholder: 'Paste the text to type here (Ctrl+V)',
    });
    const dialog: HTMLDialogElement = h('dialog', {
      class: 'dialog paste-dialog',
      'aria-label': 'Type text',
    });
    const form = h(
      'form',
      { method: 'dialog' },
      h(
        'header',
        { class: 'dialog-head' },
        h('h2', {}, 'Type text into the VM'),
        closeButton(() => dialog.close()),
      ),
      h(
        'div',
        { class: 'dialog-body' },
        h('p', { class: 'hint' }, 'The page may not read the clipboard here; paste the text below instead.'),
        area,
      ),
      h(
        'footer',
        { class: 'dialog-foot' },
        h('button', { type: 'button', class: 'btn', onclick: () => dialog.close() }, 'Cancel'),
        h('button', { type: 'submit', class: 'btn primary' }, 'Type it'),
      ),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const id = dialog.dataset.vm;
      dialog.close();
      if (id) this.typeText(id, area.value);
      area.value = '';
    });
    dialog.append(form);
    return dialog;
  }

  // ---- keyboard ----

  /**
   * Ctrl+Alt pressed and released together (nothing else in between) takes the keyboard back from a
   * console, as in VMware's consoles. Returns true when the event completed the chord.
   */
  private consoleChord(e: KeyboardEvent): boolean {
    const modifier = e.key === 'Control' || e.key === 'Alt';
    if (e.type === 'keydown') {
      this.chord.armed = modifier && e.ctrlKey && e.altKey ? true : modifier ? this.chord.armed : false;
      return false;
    }
    if (e.type === 'keyup' && modifier && this.chord.armed) {
      this.chord.armed = false;
      (document.activeElement as HTMLElement | null)?.blur();
      this.table.element.focus({ preventScroll: true });
      this.toast('Keyboard released from the console');
      return true;
    }
    return false;
  }

  private onShortcut(e: KeyboardEvent): void {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target as HTMLElement | null;
    // Text fields, consoles and dialogs keep their keys; check boxes and buttons keep Space and Enter.
    const typing = target?.closest(
      'input:not([type=checkbox]):not([type=radio]), textarea, select, [contenteditable], .console, dialog',
    );
    if (typing || document.querySelector('dialog[open]')) return;
    if ((e.key === ' ' || e.key === 'Enter') && target?.closest('input, button')) return;
    const current = this.table.current;
    const key = e.key;
    const handled = (() => {
      switch (key) {
        case '?':
          this.helpDialog.showModal();
          return true;
        case 'n':
          this.createDialog.open();
          return true;
        case 's':
          this.act('power-on');
          return true;
        case 'p':
          this.act(this.pauseOrResume());
          return true;
        case 'r':
          this.act('reset');
          return true;
        case 'x':
          this.act('power-off');
          return true;
        case 'd':
          this.act('ctrl-alt-del');
          return true;
        case 'c':
          void this.typeClipboard();
          return true;
        case 'Delete':
          this.deleteTargets();
          return true;
        case 'ArrowDown':
        case 'j':
          this.table.moveCurrent(1);
          return true;
        case 'ArrowUp':
        case 'k':
          this.table.moveCurrent(-1);
          return true;
        case ' ':
          if (current) this.table.toggleSelected(current);
          return true;
        case 'a': {
          const all = this.table.orderedIds();
          if (this.table.selection.size === all.length) this.table.selection.clear();
          else for (const id of all) this.table.selection.add(id);
          this.render();
          return true;
        }
        case 'Enter':
          if (current) this.openConsole(current);
          return true;
        case 'v': {
          const id = this.focusedId ?? current;
          if (id) this.panels.get(id)?.toggleView();
          return true;
        }
        case 'm': {
          const id = this.focusedId ?? current;
          if (id) this.toggleMaximize(id);
          return true;
        }
        case 't':
          this.cycleTheme();
          return true;
        default:
          if (/^[1-9]$/.test(key)) {
            const id = (this.maximizedId ? [this.maximizedId] : this.shown)[Number(key) - 1];
            if (id) this.focusConsole(id);
            return true;
          }
          return false;
      }
    })();
    if (handled) e.preventDefault();
  }

  // ---- drag and drop anywhere ----

  private installDropTarget(): void {
    let depth = 0;
    const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    document.addEventListener('dragenter', (e) => {
      if (!hasFiles(e)) return;
      depth++;
      document.body.classList.add('dragging');
    });
    document.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) document.body.classList.remove('dragging');
    });
    document.addEventListener('dragover', (e) => {
      if (hasFiles(e)) e.preventDefault();
    });
    document.addEventListener('drop', (e) => {
      depth = 0;
      document.body.classList.remove('dragging');
      if (!hasFiles(e)) return;
      e.preventDefault();
      void this.dropped([...(e.dataTransfer?.files ?? [])]);
    });
  }

  /** Exported VMs and snapshots are imported; anything else goes to the create dialog. */
  private async dropped(files: File[]): Promise<void> {
    const isExport = async (file: File) =>
      file.name.toLowerCase().endsWith(EXPORT_EXTENSION) ||
      new TextDecoder().decode(await file.slice(0, 8).arrayBuffer()) === SNAPSHOT_MAGIC;
    const exports = [];
    for (const file of files) if (await isExport(file)) exports.push(file);
    if (exports.length === 0) {
      this.createDialog.open(files);
      return;
    }
    for (const file of exports) await this.snapshots.importFile(file);
  }

  // ---- theme and toasts ----

  private storedTheme(): Theme {
    const t = localStorage.getItem('visor86.theme');
    return t === 'light' || t === 'dark' ? t : 'system';
  }

  private applyTheme(theme: Theme): void {
    const dark =
      theme === 'dark' || (theme === 'system' && matchMedia('(prefers-color-scheme: dark)').matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
    document.documentElement.dataset.themeChoice = theme;
  }

  private cycleTheme(): void {
    const order: Theme[] = ['system', 'light', 'dark'];
    const next = order[(order.indexOf(this.storedTheme()) + 1) % order.length];
    if (next === 'system') localStorage.removeItem('visor86.theme');
    else localStorage.setItem('visor86.theme', next);
    this.applyTheme(next);
    this.toast(`Theme: ${next === 'system' ? 'follow the system' : next}`);
  }

  toast(message: string, error = false): void {
    const el = h('div', { class: `toast${error ? ' error' : ''}` }, message);
    this.toasts.append(el);
    setTimeout(() => el.classList.add('leaving'), 2600);
    setTimeout(() => el.remove(), 3000);
    while (this.toasts.children.length > 4) this.toasts.firstElementChild?.remove();
  }

  // ---- for tests and the console (window.visor86) ----

  /** Text on a VM's console: the serial terminal's buffer, or the screen. */
  consoleText(name: string, view: ConsoleView = 'serial'): string {
    const vm = this.hypervisor.list().find((v) => v.name === name);
    const panel = vm && this.panels.get(vm.id);
    if (!panel) return '';
    return view === 'serial' ? panel.serial.text() : panel.screen.text();
  }

  catalogIds(): string[] {
    return this.catalog.map((e) => e.id);
  }
}

function formatShortUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return `${hh}:${mm}:${ss}`;
}
