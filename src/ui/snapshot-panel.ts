/**
 * The snapshot manager of the current VM, as in ESXi's and Proxmox's: the tree of snapshots under the VM's
 * base disks with "You are here", take / revert / edit / delete, export of a snapshot or the whole VM, and
 * import of an exported file. Storage use of the VM is in the title.
 *
 * Two kinds of clone of a snapshot: a linked clone (a new VM whose disks are a copy-on-write layer over the
 * snapshot's, sharing its stored blocks: made at once, small, but tied to the snapshot, which cannot be
 * deleted while the clone uses it) and a full clone (its own copy of the disk: independent). A linked
 * clone says so in its base row, shows the bytes it shares apart from its own, and can be made independent.
 *
 * The tree is an ARIA tree (role=tree, treeitems with aria-level and aria-selected) with a roving
 * tabindex: ↑/↓ move, Home/End jump, Enter reverts, F2 edits, Delete deletes (each after confirming).
 */
import type { VmRecord } from '../host/hypervisor.ts';
import type { SnapshotNode } from '../host/snapshot-tree.ts';
import { EXPORT_EXTENSION, exportFileName, type Progress, type VmStore } from '../host/vm-store.ts';
import { closeButton } from './create-dialog.ts';
import { h, icon } from './dom.ts';
import { formatBytes, formatTime } from './format.ts';

export interface SnapshotPanelHooks {
  toast(message: string, error?: boolean): void;
  /** The VM the panel shows (the list's current VM), or null. */
  currentVm(): VmRecord | null;
  /** An import made a VM: select it. */
  imported(vm: VmRecord): void;
  /** The VM was reverted to a snapshot (the console marks the point). */
  reverted(vm: VmRecord, snapshot: SnapshotNode): void;
}

const CLONE_KINDS = {
  linked: {
    label: 'Linked clone',
    hint:
      'Fast and small: the new VM’s disk is a layer over this snapshot’s, sharing its stored blocks. ' +
      'It depends on this snapshot, which cannot be deleted while the clone uses it (until the clone is ' +
      'made independent).',
  },
  full: {
    label: 'Full clone',
    hint: 'The new VM gets its own copy of this snapshot’s disk: more storage, and independent of this VM.',
  },
} as const;
type CloneKind = keyof typeof CLONE_KINDS;

const POWER_LABELS = { running: 'running, with memory', paused: 'paused, with memory', off: 'powered off' };

export class SnapshotPanel {
  readonly element: HTMLElement;
  readonly dialog: HTMLDialogElement;
  /** Linked or full clone of the selected snapshot. */
  readonly cloneDialog: HTMLDialogElement;
  private readonly cloneTitle = h('h2', {}, 'Clone');
  private cloneTarget: { vmId: string; snapshotId: string } | null = null;
  private readonly title: HTMLElement;
  private readonly usageEl: HTMLElement;
  private readonly treeEl: HTMLElement;
  private readonly details: HTMLElement;
  private readonly progressBox: HTMLElement;
  private readonly progressBar: HTMLElement;
  private readonly progressLabel: HTMLElement;
  private readonly fileInput: HTMLInputElement;
  private readonly buttons = new Map<string, HTMLButtonElement>();
  private readonly dialogTitle: HTMLElement;
  private readonly dialogNote: HTMLElement;
  private readonly nameInput: HTMLInputElement;
  private readonly descriptionInput: HTMLTextAreaElement;
  private readonly dialogError: HTMLElement;
  private readonly dialogSubmit: HTMLButtonElement;
  /** The selected snapshot per VM. */
  private readonly selected = new Map<string, string>();
  private editing: { vmId: string; snapshotId: string | null } | null = null;
  private busy = false;
  /** What the panel last showed: render() skips work when nothing it shows changed. */
  private shown = '';

  constructor(
    private readonly store: VmStore,
    private readonly hooks: SnapshotPanelHooks,
  ) {
    this.title = h('span', { class: 'section-count' });
    this.usageEl = h('span', { class: 'snap-usage' });
    this.fileInput = h('input', {
      type: 'file',
      accept: `${EXPORT_EXTENSION},application/octet-stream`,
      class: 'sr-only',
      id: 'import-file-input',
      tabindex: -1,
      'aria-hidden': 'true',
    });
    this.fileInput.addEventListener('change', () => {
      const file = this.fileInput.files?.[0];
      this.fileInput.value = '';
      if (file) void this.importFile(file);
    });
    const button = (
      id: string,
      iconName: string,
      label: string,
      onclick: () => void,
      extra = '',
      /** A longer explanation, shown as the tooltip. */
      hint = label,
    ) => {
      const b = h(
        'button',
        { type: 'button', class: `btn tool ${extra}`, 'data-action': id, title: hint, onclick },
        icon(iconName),
        h('span', { class: 'label' }, label),
      );
      b.setAttribute('aria-label', label);
      if (hint !== label) b.setAttribute('aria-description', hint);
      this.buttons.set(id, b);
      return b;
    };
    const toolbar = h(
      'div',
      { class: 'toolbar snap-toolbar', role: 'toolbar', 'aria-label': 'Snapshot actions' },
      button('snap-take', 'camera', 'Take snapshot', () => this.openTake()),
      button('snap-revert', 'revert', 'Revert', () => void this.revertSelected()),
      button('snap-edit', 'edit', 'Edit', () => this.openEdit(), 'secondary'),
      button('snap-delete', 'trash', 'Delete', () => void this.deleteSelected(), 'secondary'),
      h('span', { class: 'tool-sep' }),
      button(
        'snap-clone',
        'clone',
        'Clone…',
        () => this.openClone(),
        'secondary',
        'Clone to a new VM: linked (shares this snapshot’s disk) or full (its own copy)',
      ),
      button('snap-export', 'download', 'Export snapshot', () => void this.exportSelected(), 'secondary'),
      h('span', { class: 'tool-sep' }),
      button('vm-export', 'download', 'Export VM', () => void this.exportVm()),
      button(
        'vm-independent',
        'disk',
        'Make independent',
        () => void this.makeIndependent(),
        'secondary',
        'Copy the disk this linked clone shares into the VM itself, so it no longer depends on the source snapshot (uses more storage)',
      ),
    );
    const importButton = h(
      'button',
      {
        type: 'button',
        class: 'btn small-btn',
        'data-action': 'import',
        title: 'Import a VM or snapshot file (or drop it on the page)',
        onclick: () => this.fileInput.click(),
      },
      icon('upload'),
      'Import',
    );
    this.treeEl = h('ul', { class: 'snap-tree', role: 'tree', 'aria-label': 'Snapshot tree' });
    this.treeEl.addEventListener('keydown', (e) => this.onTreeKey(e));
    this.details = h('div', { class: 'snap-details', 'aria-live': 'polite' });
    this.progressBar = h('div', {
      class: 'progress',
      role: 'progressbar',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': 0,
      'aria-label': 'Progress',
    });
    this.progressLabel = h('span', { class: 'progress-label' });
    this.progressBox = h(
      'div',
      { class: 'progress-box', hidden: true },
      h(
        'div',
        { class: 'progress-head' },
        this.progressLabel,
        h(
          'button',
          {
            type: 'button',
            class: 'icon-btn small progress-close',
            'aria-label': 'Dismiss',
            title: 'Dismiss',
            onclick: () => (this.progressBox.hidden = true),
          },
          icon('close'),
        ),
      ),
      h('div', { class: 'progress-track' }, this.progressBar),
    );
    this.element = h(
      'section',
      { class: 'panel snapshot-panel', 'aria-label': 'Snapshots' },
      h(
        'div',
        { class: 'snap-head' },
        h(
          'h2',
          { class: 'section-title' },
          'Snapshots',
          this.title,
          h('span', { class: 'spacer' }),
          this.usageEl,
        ),
        importButton,
      ),
      this.fileInput,
      toolbar,
      this.progressBox,
      h('div', { class: 'snap-body' }, this.treeEl, this.details),
    );

    // The take / edit dialog.
    this.dialogTitle = h('h2', {}, 'Take snapshot');
    this.dialogNote = h('p', { class: 'hint' });
    this.nameInput = h('input', {
      type: 'text',
      name: 'snapshot-name',
      maxlength: 80,
      autocomplete: 'off',
      required: true,
    });
    this.descriptionInput = h('textarea', {
      name: 'snapshot-description',
      rows: 3,
      maxlength: 2000,
      class: 'snap-description',
    });
    this.dialogError = h('div', { class: 'form-error', role: 'alert', hidden: true });
    this.dialogSubmit = h('button', { type: 'submit', class: 'btn primary' }, 'Take snapshot');
    const form = h(
      'form',
      { method: 'dialog', novalidate: true },
      h(
        'header',
        { class: 'dialog-head' },
        this.dialogTitle,
        closeButton(() => this.dialog.close()),
      ),
      h(
        'div',
        { class: 'dialog-body' },
        h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Name'), this.nameInput),
        h(
          'label',
          { class: 'field' },
          h('span', { class: 'field-label' }, 'Description'),
          this.descriptionInput,
        ),
        this.dialogNote,
        this.dialogError,
      ),
      h(
        'footer',
        { class: 'dialog-foot' },
        h('button', { type: 'button', class: 'btn', onclick: () => this.dialog.close() }, 'Cancel'),
        this.dialogSubmit,
      ),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submitDialog();
    });
    // Enter in the description is a new line; Ctrl+Enter (or ⌘+Enter) takes the snapshot from anywhere.
    form.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        void this.submitDialog();
      }
    });
    this.dialog = h('dialog', { class: 'dialog snapshot-dialog', 'aria-label': 'Snapshot' }, form);
    this.cloneDialog = this.makeCloneDialog();
    this.element.append(this.cloneDialog);
    this.render();
  }

  // ---- rendering ----

  render(): void {
    const vm = this.hooks.currentVm();
    const tree = vm ? this.store.tree(vm.id) : null;
    const nodes = tree?.list() ?? [];
    const selectedId = vm ? this.selectedId(vm.id) : null;
    const selected = selectedId ? tree!.get(selectedId) : undefined;
    const signature = JSON.stringify([
      vm?.id,
      vm?.name,
      vm?.state,
      tree?.toJSON(),
      selectedId,
      this.busy,
      vm && this.store.usage(vm.id),
      vm && this.store.linkedInfo(vm.id),
      vm && this.store.clonesOf(vm.id),
    ]);
    if (signature === this.shown) return;
    this.shown = signature;
    this.title.textContent = vm
      ? `${vm.name} · ${nodes.length} snapshot${nodes.length === 1 ? '' : 's'}`
      : 'no VM selected';
    const usage = vm ? this.store.usage(vm.id) : null;
    const linked = vm ? this.store.linkedInfo(vm.id) : null;
    this.usageEl.textContent =
      usage && usage.total > 0
        ? usage.shared > 0
          ? `${formatBytes(usage.total)} own + ${formatBytes(usage.shared)} shared`
          : `${formatBytes(usage.total)} stored`
        : '';
    this.usageEl.title = usage
      ? `Definition and media ${formatBytes(usage.definition)} · disks ${formatBytes(usage.disks)} · snapshots ${formatBytes(usage.snapshots)}` +
        (linked
          ? ` · shared ${formatBytes(usage.shared)}: the disk of "${linked.snapshotName}" of ${linked.vmName}, stored once and counted there`
          : '')
      : '';
    const state = vm?.state;
    const canTake = !!vm && (state === 'running' || state === 'paused' || state === 'off') && !this.busy;
    const set = (id: string, enabled: boolean) => (this.buttons.get(id)!.disabled = !enabled);
    set('snap-take', canTake);
    set('snap-revert', !!selected && state !== 'starting' && !this.busy);
    set('snap-edit', !!selected && !this.busy);
    set('snap-delete', !!selected && !this.busy);
    set('snap-export', !!selected && !this.busy);
    set('snap-clone', !!selected && !this.busy);
    set('vm-export', !!vm && state !== 'starting' && !this.busy);
    set('vm-independent', !!linked && !this.busy);
    this.buttons.get('vm-independent')!.hidden = !linked;

    if (!vm || !tree) {
      this.treeEl.replaceChildren(
        h('li', { class: 'snap-empty', role: 'none' }, 'Select a VM to see its snapshots.'),
      );
      this.details.replaceChildren();
      return;
    }
    const items: HTMLElement[] = [];
    const here = tree.current;
    const youAreHere = (level: number) =>
      h(
        'li',
        { class: 'snap-here', role: 'none', style: `--level:${level}` },
        icon('here'),
        h('span', {}, 'You are here'),
        h('span', { class: 'snap-meta' }, vm.state === 'off' ? 'powered off' : vm.state),
      );
    items.push(
      h(
        'li',
        { class: 'snap-base', role: 'none', style: '--level:0' },
        icon('disk'),
        h('span', {}, `${vm.name}`),
        linked
          ? h(
              'span',
              {
                class: 'snap-meta',
                title:
                  `Linked clone: its disks are a layer over snapshot "${linked.snapshotName}" of ${linked.vmName}` +
                  (linked.sourceDeleted
                    ? ' (that VM was deleted; what the clone reads is kept for it)'
                    : '') +
                  ', whose stored blocks it shares. Make it independent to copy them into this VM.',
              },
              `linked · ${linked.vmName}${linked.sourceDeleted ? ' (deleted)' : ''} › ${linked.snapshotName}`,
            )
          : h('span', { class: 'snap-meta' }, `base disks · ${vm.image}`),
      ),
    );
    if (here === null) items.push(youAreHere(1));
    const walk = (parent: string | null, level: number) => {
      for (const node of tree.children(parent)) {
        items.push(this.item(vm, node, level, node.id === selectedId, node.id === here));
        if (node.id === here) items.push(youAreHere(level + 1));
        walk(node.id, level + 1);
      }
    };
    walk(null, 1);
    if (nodes.length === 0) {
      items.push(
        h(
          'li',
          { class: 'snap-empty', role: 'none' },
          'No snapshots yet. Take one to keep this moment (with memory, when the VM is on) and come back to it.',
        ),
      );
    }
    const focused = this.treeEl.contains(document.activeElement);
    this.treeEl.replaceChildren(...items);
    if (focused) this.treeEl.querySelector<HTMLElement>('[tabindex="0"]')?.focus();
    this.details.replaceChildren(
      ...(selected ? this.describe(selected, this.store.clonesOf(vm.id, selected.id)) : []).filter(
        (x) => x !== null,
      ),
    );
  }

  private item(
    vm: VmRecord,
    node: SnapshotNode,
    level: number,
    selected: boolean,
    here: boolean,
  ): HTMLElement {
    const li = h(
      'li',
      {
        class: `snap-item${selected ? ' selected' : ''}${here ? ' current' : ''}`,
        role: 'treeitem',
        'aria-level': level,
        'aria-selected': String(selected),
        tabindex: selected ? 0 : -1,
        'data-snapshot': node.id,
        style: `--level:${level}`,
        title: node.description || node.name,
      },
      h('span', { class: `snap-dot ${node.powerState}`, 'aria-hidden': 'true' }),
      h('span', { class: 'snap-name' }, node.name),
      here ? h('span', { class: 'sr-only' }, ' (you are here)') : null,
      h('span', { class: 'snap-meta' }, formatTime(node.createdAt)),
    );
    li.addEventListener('click', () => this.select(vm.id, node.id, true));
    li.addEventListener('dblclick', () => void this.revertSelected());
    return li;
  }

  private describe(node: SnapshotNode, clones: string[]): Array<HTMLElement | null> {
    const size = node.machineBytes + [...node.layer.values()].reduce((n, s) => n + s.size * 512, 0);
    return [
      h('div', { class: 'snap-details-name' }, node.name),
      node.description ? h('p', { class: 'snap-details-text' }, node.description) : null,
      h(
        'dl',
        {},
        h('dt', {}, 'Taken'),
        h('dd', {}, new Date(node.createdAt).toLocaleString()),
        h('dt', {}, 'State'),
        h('dd', {}, POWER_LABELS[node.powerState]),
        h('dt', {}, 'Size'),
        h(
          'dd',
          {},
          `${formatBytes(size)} (memory ${formatBytes(node.machineBytes)}, disk changes ${formatBytes(size - node.machineBytes)})`,
        ),
        ...(clones.length > 0
          ? [
              h('dt', {}, 'Linked clones'),
              h(
                'dd',
                { class: 'snap-clones' },
                `${clones.join(', ')}: their disks lie on this snapshot, so it cannot be deleted while they use it (delete them or make them independent first)`,
              ),
            ]
          : []),
      ),
    ];
  }

  /** The selected snapshot of a VM: the one clicked last, else "you are here". */
  private selectedId(vmId: string): string | null {
    const tree = this.store.tree(vmId);
    const id = this.selected.get(vmId);
    if (id && tree.get(id)) return id;
    return tree.current;
  }

  private select(vmId: string, snapshotId: string, focus: boolean): void {
    this.selected.set(vmId, snapshotId);
    this.render();
    if (focus) this.treeEl.querySelector<HTMLElement>(`[data-snapshot="${snapshotId}"]`)?.focus();
  }

  private onTreeKey(e: KeyboardEvent): void {
    const vm = this.hooks.currentVm();
    if (!vm) return;
    const ids = [...this.treeEl.querySelectorAll<HTMLElement>('[role=treeitem]')].map(
      (el) => el.dataset.snapshot!,
    );
    const at = ids.indexOf(this.selectedId(vm.id) ?? '');
    const move = (to: number) => {
      if (ids.length > 0) this.select(vm.id, ids[Math.max(0, Math.min(ids.length - 1, to))], true);
    };
    const handled = (() => {
      switch (e.key) {
        case 'ArrowDown':
          move(at + 1);
          return true;
        case 'ArrowUp':
          move(at - 1);
          return true;
        case 'Home':
          move(0);
          return true;
        case 'End':
          move(ids.length - 1);
          return true;
        case 'Enter':
          void this.revertSelected();
          return true;
        case 'F2':
          this.openEdit();
          return true;
        case 'Delete':
          void this.deleteSelected();
          return true;
        default:
          return false;
      }
    })();
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  }

  // ---- actions ----

  private openTake(): void {
    const vm = this.hooks.currentVm();
    if (!vm) return;
    this.editing = { vmId: vm.id, snapshotId: null };
    this.dialogTitle.textContent = `Take a snapshot of ${vm.name}`;
    this.dialogSubmit.textContent = 'Take snapshot';
    this.nameInput.value = `Snapshot ${this.store.tree(vm.id).size + 1}`;
    this.descriptionInput.value = '';
    this.dialogNote.textContent =
      (vm.state === 'off'
        ? 'The VM is powered off: the snapshot keeps its disks.'
        : `The VM is ${vm.state}: the snapshot keeps its memory and disks, and reverting resumes it exactly here.`) +
      ' Ctrl+Enter takes it.';
    this.showDialogError('');
    this.dialog.showModal();
    this.nameInput.select();
  }

  private openEdit(): void {
    const vm = this.hooks.currentVm();
    const id = vm && this.selectedId(vm.id);
    const node = id ? this.store.tree(vm.id).get(id) : undefined;
    if (!vm || !node) return;
    this.editing = { vmId: vm.id, snapshotId: node.id };
    this.dialogTitle.textContent = 'Edit snapshot';
    this.dialogSubmit.textContent = 'Save';
    this.nameInput.value = node.name;
    this.descriptionInput.value = node.description;
    this.dialogNote.textContent = `Taken ${new Date(node.createdAt).toLocaleString()}, ${POWER_LABELS[node.powerState]}.`;
    this.showDialogError('');
    this.dialog.showModal();
    this.nameInput.select();
  }

  private showDialogError(message: string): void {
    this.dialogError.hidden = !message;
    this.dialogError.textContent = message;
  }

  private async submitDialog(): Promise<void> {
    const editing = this.editing;
    if (!editing || this.dialogSubmit.disabled) return;
    const vm = this.store.hypervisor.get(editing.vmId);
    if (!vm) return this.dialog.close();
    this.dialogSubmit.disabled = true;
    try {
      if (editing.snapshotId) {
        await this.store.editSnapshot(
          vm.id,
          editing.snapshotId,
          this.nameInput.value,
          this.descriptionInput.value,
        );
      } else {
        const label = this.dialogSubmit.textContent;
        this.dialogSubmit.textContent = 'Taking…';
        try {
          const node = await this.store.takeSnapshot(
            vm.id,
            this.nameInput.value,
            this.descriptionInput.value,
          );
          this.selected.set(vm.id, node.id);
          this.hooks.toast(`Took snapshot "${node.name}" of ${vm.name}`);
        } finally {
          this.dialogSubmit.textContent = label;
        }
      }
      this.dialog.close();
      this.render();
    } catch (e) {
      this.showDialogError((e as Error).message);
    } finally {
      this.dialogSubmit.disabled = false;
    }
  }

  private selectedNode(): { vm: VmRecord; node: SnapshotNode } | null {
    const vm = this.hooks.currentVm();
    const id = vm && this.selectedId(vm.id);
    const node = id ? this.store.tree(vm.id).get(id) : undefined;
    return vm && node ? { vm, node } : null;
  }

  private async revertSelected(): Promise<void> {
    const target = this.selectedNode();
    if (!target || this.busy) return;
    const { vm, node } = target;
    const lost = vm.state === 'off' ? 'its disks since then' : 'its current state (memory and disks)';
    if (
      !confirm(
        `Revert ${vm.name} to "${node.name}"? ${capitalize(lost)} will be lost unless you took a snapshot.`,
      )
    )
      return;
    await this.run(`Reverting ${vm.name}`, async () => {
      await this.store.revert(vm.id, node.id);
      this.hooks.reverted(vm, node);
      this.hooks.toast(`Reverted ${vm.name} to "${node.name}"`);
    });
  }

  private async deleteSelected(): Promise<void> {
    const target = this.selectedNode();
    if (!target || this.busy) return;
    const { vm, node } = target;
    if (this.store.clonesOf(vm.id, node.id).length > 0) {
      // Refused by the store, with a message naming the clones: no question to ask first.
      await this.run(`Deleting "${node.name}"`, () => this.store.deleteSnapshot(vm.id, node.id));
      return;
    }
    const children = this.store.tree(vm.id).children(node.id).length;
    const keep =
      children > 0
        ? ` Its ${children} child snapshot${children === 1 ? ' keeps' : 's keep'} their disks.`
        : '';
    if (!confirm(`Delete snapshot "${node.name}" of ${vm.name}?${keep}`)) return;
    await this.run(`Deleting "${node.name}"`, async () => {
      await this.store.deleteSnapshot(vm.id, node.id);
      this.selected.delete(vm.id);
      this.hooks.toast(`Deleted snapshot "${node.name}"`);
    });
  }

  private makeCloneDialog(): HTMLDialogElement {
    const choice = (kind: CloneKind) =>
      h(
        'label',
        { class: 'check', style: 'align-items:flex-start' },
        h('input', {
          type: 'radio',
          name: 'clone-kind',
          value: kind,
          checked: kind === 'linked',
          style: 'margin-top:3px',
        }),
        h(
          'span',
          {},
          h('strong', {}, CLONE_KINDS[kind].label),
          h('br', {}),
          h('span', { class: 'hint' }, CLONE_KINDS[kind].hint),
        ),
      );
    const form = h(
      'form',
      { method: 'dialog' },
      h(
        'header',
        { class: 'dialog-head' },
        this.cloneTitle,
        closeButton(() => dialog.close()),
      ),
      h(
        'div',
        { class: 'dialog-body', role: 'radiogroup', 'aria-label': 'Kind of clone' },
        choice('linked'),
        choice('full'),
        h(
          'p',
          { class: 'hint' },
          'The new VM starts powered off with the snapshot as "you are here": revert to it to resume there.',
        ),
      ),
      h(
        'footer',
        { class: 'dialog-foot' },
        h('button', { type: 'button', class: 'btn', onclick: () => dialog.close() }, 'Cancel'),
        h('button', { type: 'submit', class: 'btn primary' }, 'Clone'),
      ),
    );
    const dialog = h('dialog', { class: 'dialog clone-dialog', 'aria-label': 'Clone a snapshot' }, form);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const kind = new FormData(form).get('clone-kind') === 'full' ? 'full' : 'linked';
      dialog.close();
      const target = this.cloneTarget;
      const vm = target && this.store.hypervisor.get(target.vmId);
      const node = vm && this.store.tree(vm.id).get(target.snapshotId);
      if (vm && node) void this.clone(vm, node, kind);
    });
    return dialog;
  }

  private openClone(): void {
    const target = this.selectedNode();
    if (!target || this.busy) return;
    this.cloneTarget = { vmId: target.vm.id, snapshotId: target.node.id };
    this.cloneTitle.textContent = `Clone "${target.node.name}" of ${target.vm.name} to a new VM`;
    this.cloneDialog.showModal();
  }

  private async clone(vm: VmRecord, node: SnapshotNode, kind: CloneKind): Promise<void> {
    if (this.busy) return;
    await this.run(`${kind === 'linked' ? 'Linked' : 'Full'} clone of "${node.name}"`, async (progress) => {
      const clone =
        kind === 'linked'
          ? await this.store.linkedClone(vm.id, node.id, progress)
          : await this.store.cloneSnapshot(vm.id, node.id, progress);
      this.hooks.imported(clone);
      this.hooks.toast(
        `Made ${clone.name}, a ${kind} clone of "${node.name}"` +
          (kind === 'linked' ? ` (sharing its disk)` : '') +
          ': revert it to the snapshot to start it there',
      );
    });
  }

  private async makeIndependent(): Promise<void> {
    const vm = this.hooks.currentVm();
    const linked = vm && this.store.linkedInfo(vm.id);
    if (!vm || !linked || this.busy) return;
    const shared = formatBytes(this.store.usage(vm.id).shared);
    if (
      !confirm(
        `Make ${vm.name} independent? The disk it shares with "${linked.snapshotName}" of ${linked.vmName} (${shared} stored) is copied into it.`,
      )
    )
      return;
    await this.run(`Making ${vm.name} independent`, async (progress) => {
      await this.store.makeIndependent(vm.id, progress);
      this.hooks.toast(`${vm.name} is independent: it no longer shares "${linked.snapshotName}"`);
    });
  }

  private async exportSelected(): Promise<void> {
    const target = this.selectedNode();
    if (!target) return;
    const { vm, node } = target;
    await this.run(`Exporting "${node.name}"`, async (progress) => {
      const bytes = await this.store.exportSnapshot(vm.id, node.id, progress);
      download(bytes, exportFileName(vm.name, node.name));
      this.hooks.toast(`Exported "${node.name}" (${formatBytes(bytes.length)})`);
    });
  }

  private async exportVm(): Promise<void> {
    const vm = this.hooks.currentVm();
    if (!vm) return;
    await this.run(`Exporting ${vm.name}`, async (progress) => {
      const bytes = await this.store.exportVm(vm.id, progress);
      download(bytes, exportFileName(vm.name));
      this.hooks.toast(`Exported ${vm.name} (${formatBytes(bytes.length)})`);
    });
  }

  /** Imports an exported VM or snapshot file (from the picker, or dropped on the page). */
  async importFile(file: File): Promise<void> {
    await this.run(`Importing ${file.name}`, async (progress) => {
      const bytes = await readWithProgress(file, progress);
      const vm = await this.store.importFile(bytes, file.name, progress);
      this.hooks.imported(vm);
      const snapshots = this.store.tree(vm.id).size;
      this.hooks.toast(`Imported ${vm.name} with ${snapshots} snapshot${snapshots === 1 ? '' : 's'}`);
    });
  }

  /** Runs a long operation with the progress bar; its error becomes a toast and stays in the panel. */
  private async run(label: string, task: (progress: Progress) => Promise<void>): Promise<void> {
    this.busy = true;
    this.progressBox.hidden = false;
    this.progressBox.classList.remove('error');
    const update: Progress = (done, total, phase) => {
      const percent = total > 0 ? Math.round((100 * done) / total) : 0;
      this.progressBar.style.setProperty('--percent', `${percent}%`);
      this.progressBar.setAttribute('aria-valuenow', String(percent));
      this.progressLabel.textContent = `${label}: ${phase}${total > 1 ? ` (${percent}%)` : ''}`;
    };
    update(0, 0, 'starting');
    this.render();
    try {
      await task(update);
      this.progressBox.hidden = true;
    } catch (e) {
      const message = (e as Error).message;
      this.progressBox.classList.add('error');
      this.progressLabel.textContent = message;
      this.progressBar.style.setProperty('--percent', '0%');
      this.hooks.toast(message, true);
    } finally {
      this.busy = false;
      this.render();
    }
  }
}

/** Reads a file in chunks, reporting the bytes read. */
async function readWithProgress(file: File, progress: Progress): Promise<Uint8Array> {
  const out = new Uint8Array(file.size);
  let at = 0;
  const reader = file.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.length > out.length) throw new Error(`${file.name} changed while it was read`);
    out.set(value, at);
    at += value.length;
    progress(at, file.size, 'reading the file');
  }
  return at === out.length ? out : out.subarray(0, at);
}

/** Hands bytes to the browser as a download. */
function download(bytes: Uint8Array, fileName: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = h('a', { href: url, download: fileName, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
