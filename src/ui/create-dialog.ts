/**
 * The create-VM dialog: a name, an image (from images/catalog.json, or local files picked or dropped),
 * memory and disk size. Files are checked as soon as they are chosen (media.ts) and the worker checks the
 * whole configuration again; the VM appears in the list only once both agreed, so a bad file gives a
 * message and leaves nothing half-created.
 */
import type { CatalogEntry } from '../host/catalog.ts';
import { describeMedia, mediaFromFiles } from '../host/media.ts';
import type { BootMedia, VmConfig } from '../host/protocol.ts';
import { h, icon } from './dom.ts';
import { formatBytes, formatMiB } from './format.ts';

export interface CreateRequest {
  config: Omit<VmConfig, 'media'>;
  /** The media, or the catalog entry to fetch it from. */
  source: { media: BootMedia; label: string } | { entry: CatalogEntry };
  powerOn: boolean;
}

export interface CreateDialogHooks {
  /** Creates the VM; rejects with a message to show. */
  create(request: CreateRequest): Promise<void>;
  /** A name not yet taken, based on `base`. */
  suggestName(base: string): string;
}

const MEMORY_PRESETS = [4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** Files larger than this are refused before reading (the worker holds them in memory). */
const MAX_FILE_BYTES = 1024 * 1024 * 1024;

export class CreateDialog {
  readonly element: HTMLDialogElement;
  private catalog: CatalogEntry[] = [];
  private catalogProblems: string[] = [];
  private mode: 'catalog' | 'file' = 'catalog';
  private entry: CatalogEntry | null = null;
  private local: { media: BootMedia; label: string } | null = null;
  private nameTouched = false;
  private memoryTouched = false;
  private busy = false;

  private readonly form: HTMLFormElement;
  private readonly nameInput: HTMLInputElement;
  private readonly memoryInput: HTMLInputElement;
  private readonly diskInput: HTMLInputElement;
  private readonly powerOnInput: HTMLInputElement;
  private readonly paceInput: HTMLInputElement;
  private readonly catalogList: HTMLElement;
  private readonly filePane: HTMLElement;
  private readonly fileInput: HTMLInputElement;
  private readonly fileStatus: HTMLElement;
  private readonly dropZone: HTMLElement;
  private readonly errorBox: HTMLElement;
  private readonly createButton: HTMLButtonElement;
  private readonly tabs: Record<'catalog' | 'file', HTMLButtonElement>;

  constructor(private readonly hooks: CreateDialogHooks) {
    this.nameInput = h('input', {
      type: 'text',
      name: 'name',
      required: true,
      maxlength: 40,
      autocomplete: 'off',
      spellcheck: 'false',
    });
    this.nameInput.addEventListener('input', () => (this.nameTouched = true));
    this.memoryInput = h('input', {
      type: 'number',
      name: 'memory',
      min: 2,
      max: 2048,
      step: 1,
      required: true,
      list: 'memory-presets',
    });
    this.memoryInput.addEventListener('input', () => (this.memoryTouched = true));
    this.diskInput = h('input', {
      type: 'number',
      name: 'disk',
      min: 0,
      max: 2048,
      step: 1,
      value: 0,
      required: true,
    });
    this.powerOnInput = h('input', { type: 'checkbox', name: 'power-on', checked: true });
    this.paceInput = h('input', { type: 'checkbox', name: 'pace', checked: true });
    this.catalogList = h('div', { class: 'catalog', role: 'radiogroup', 'aria-label': 'Guest images' });
    this.fileInput = h('input', { type: 'file', multiple: true, class: 'sr-only', id: 'vm-file-input' });
    this.fileInput.addEventListener('change', () => void this.takeFiles([...(this.fileInput.files ?? [])]));
    this.fileStatus = h('div', { class: 'file-status', 'aria-live': 'polite' });
    this.dropZone = h(
      'label',
      { class: 'drop-zone', for: 'vm-file-input' },
      icon('upload'),
      h('strong', {}, 'Drop files here or click to choose'),
      h(
        'span',
        { class: 'hint' },
        'A raw disk image, a 1.44 MB floppy image, a Multiboot kernel, or a bzImage with its initrd',
      ),
    );
    for (const type of ['dragenter', 'dragover']) {
      this.dropZone.addEventListener(type, (e) => {
        e.preventDefault();
        this.dropZone.classList.add('over');
      });
    }
    this.dropZone.addEventListener('dragleave', () => this.dropZone.classList.remove('over'));
    this.dropZone.addEventListener('drop', (e) => {
      e.preventDefault();
      e.stopPropagation();
      this.dropZone.classList.remove('over');
      void this.takeFiles([...(e.dataTransfer?.files ?? [])]);
    });
    this.filePane = h(
      'div',
      { class: 'file-pane', hidden: true },
      this.fileInput,
      this.dropZone,
      this.fileStatus,
    );
    this.errorBox = h('div', { class: 'form-error', role: 'alert', hidden: true });
    this.createButton = h('button', { type: 'submit', class: 'btn primary' }, 'Create');
    const tab = (mode: 'catalog' | 'file', label: string) =>
      h(
        'button',
        { type: 'button', class: 'seg-btn', 'aria-pressed': 'false', onclick: () => this.setMode(mode) },
        label,
      );
    this.tabs = { catalog: tab('catalog', 'Guest library'), file: tab('file', 'Local file') };

    const field = (label: string, input: HTMLElement, hint?: string) =>
      h(
        'label',
        { class: 'field' },
        h('span', { class: 'field-label' }, label),
        input,
        hint ? h('span', { class: 'hint' }, hint) : null,
      );

    this.form = h(
      'form',
      { method: 'dialog', class: 'create-form', novalidate: true },
      h(
        'header',
        { class: 'dialog-head' },
        h('h2', {}, 'New virtual machine'),
        closeButton(() => this.close()),
      ),
      h(
        'div',
        { class: 'dialog-body' },
        field('Name', this.nameInput),
        h(
          'div',
          { class: 'field' },
          h('span', { class: 'field-label' }, 'Image'),
          h('div', { class: 'seg wide', role: 'group' }, this.tabs.catalog, this.tabs.file),
        ),
        this.catalogList,
        this.filePane,
        h(
          'div',
          { class: 'field-row' },
          field('Memory (MiB)', this.memoryInput),
          field('Disk (MiB)', this.diskInput, '0 = no disk; a blank ATA disk otherwise'),
        ),
        h('datalist', { id: 'memory-presets' }, ...MEMORY_PRESETS.map((m) => h('option', { value: m }))),
        h('label', { class: 'check' }, this.powerOnInput, 'Power on after creating'),
        h(
          'label',
          {
            class: 'check',
            title:
              'Guest time never runs ahead of real time: an idle guest sleeps instead of using a whole core',
          },
          this.paceInput,
          'Keep guest time in step with real time (recommended)',
        ),
        this.errorBox,
      ),
      h(
        'footer',
        { class: 'dialog-foot' },
        h('button', { type: 'button', class: 'btn', onclick: () => this.close() }, 'Cancel'),
        this.createButton,
      ),
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submit();
    });
    this.element = h(
      'dialog',
      { class: 'dialog create-dialog', 'aria-label': 'New virtual machine' },
      this.form,
    );
    this.element.addEventListener('close', () => this.showError(''));
    this.setMode('catalog');
  }

  setCatalog(entries: CatalogEntry[], problems: string[]): void {
    this.catalog = entries;
    this.catalogProblems = problems;
    this.renderCatalog();
  }

  open(files?: File[]): void {
    this.nameTouched = false;
    this.memoryTouched = false;
    this.local = null;
    this.fileStatus.replaceChildren();
    this.showError('');
    if (!this.element.open) this.element.showModal();
    if (files && files.length > 0) {
      this.setMode('file');
      void this.takeFiles(files);
    } else {
      this.setMode(this.catalog.length > 0 ? 'catalog' : 'file');
      if (this.mode === 'catalog' && !this.entry && this.catalog[0]) this.pick(this.catalog[0]);
      this.suggest();
    }
    this.nameInput.focus();
    this.nameInput.select();
  }

  close(): void {
    if (this.element.open) this.element.close();
  }

  private setMode(mode: 'catalog' | 'file'): void {
    this.mode = mode;
    for (const [name, button] of Object.entries(this.tabs))
      button.setAttribute('aria-pressed', String(name === mode));
    this.catalogList.hidden = mode !== 'catalog';
    this.filePane.hidden = mode !== 'file';
    this.showError('');
    this.suggest();
  }

  private renderCatalog(): void {
    if (this.catalog.length === 0) {
      this.catalogList.replaceChildren(
        h(
          'p',
          { class: 'empty-note' },
          'No guest images found. ',
          this.catalogProblems[0] ?? '',
          ' Use a local file instead.',
        ),
      );
      return;
    }
    this.catalogList.replaceChildren(
      ...this.catalog.map((entry) => {
        const radio = h('input', {
          type: 'radio',
          name: 'image',
          value: entry.id,
          checked: entry === this.entry,
        });
        radio.addEventListener('change', () => this.pick(entry));
        return h(
          'label',
          { class: 'catalog-item', 'data-image': entry.id },
          radio,
          h(
            'span',
            { class: 'catalog-text' },
            h(
              'span',
              { class: 'catalog-title' },
              entry.title,
              h('span', { class: 'tag' }, kindLabel(entry.kind)),
            ),
            entry.description ? h('span', { class: 'catalog-desc' }, entry.description) : null,
          ),
          h('span', { class: 'catalog-mem' }, formatMiB(entry.memoryMiB)),
        );
      }),
    );
  }

  private pick(entry: CatalogEntry): void {
    this.entry = entry;
    for (const input of this.catalogList.querySelectorAll<HTMLInputElement>('input[type=radio]')) {
      input.checked = input.value === entry.id;
    }
    if (!this.memoryTouched) this.memoryInput.value = String(entry.memoryMiB);
    this.diskInput.value = String(entry.diskMiB);
    this.showError('');
    this.suggest();
  }

  /** Selects a catalog entry by id (tests and shortcuts). */
  pickById(id: string): boolean {
    const entry = this.catalog.find((e) => e.id === id);
    if (!entry) return false;
    this.setMode('catalog');
    this.pick(entry);
    return true;
  }

  private suggest(): void {
    if (this.nameTouched) return;
    const base =
      this.mode === 'catalog'
        ? (this.entry?.id ?? 'vm')
        : (this.local?.label.split(/[ +]/)[0].replace(/\.[^.]*$/, '') || 'vm').toLowerCase();
    this.nameInput.value = this.hooks.suggestName(base);
  }

  private async takeFiles(files: File[]): Promise<void> {
    this.local = null;
    this.showError('');
    this.fileStatus.replaceChildren();
    try {
      const tooBig = files.find((f) => f.size > MAX_FILE_BYTES);
      if (tooBig) throw new Error(`${tooBig.name} is ${formatBytes(tooBig.size)}; the limit is 1 GiB`);
      const named = await Promise.all(
        files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })),
      );
      this.local = mediaFromFiles(named);
      if (!this.memoryTouched) this.memoryInput.value = this.local.media.kind === 'linux' ? '128' : '16';
      this.fileStatus.replaceChildren(
        h('span', { class: 'ok' }, '✓ '),
        h('strong', {}, this.local.label),
        ` — ${describeMedia(this.local.media)}`,
      );
    } catch (e) {
      this.showError((e as Error).message);
    } finally {
      this.fileInput.value = '';
    }
    this.suggest();
  }

  private showError(message: string): void {
    this.errorBox.hidden = !message;
    this.errorBox.textContent = message;
  }

  private async submit(): Promise<void> {
    if (this.busy) return;
    const name = this.nameInput.value.trim();
    const memoryMiB = Number(this.memoryInput.value);
    const diskMiB = Number(this.diskInput.value || 0);
    const problem = !name
      ? 'Give the VM a name.'
      : !Number.isInteger(memoryMiB) || memoryMiB < 2 || memoryMiB > 2048
        ? 'Memory must be a whole number of MiB from 2 to 2048.'
        : !Number.isInteger(diskMiB) || diskMiB < 0 || diskMiB > 2048
          ? 'Disk size must be a whole number of MiB from 0 to 2048.'
          : this.mode === 'catalog' && !this.entry
            ? 'Pick an image from the guest library.'
            : this.mode === 'file' && !this.local
              ? 'Choose or drop an image file.'
              : '';
    if (problem) {
      this.showError(problem);
      return;
    }
    this.busy = true;
    this.createButton.disabled = true;
    this.createButton.textContent = 'Creating…';
    try {
      await this.hooks.create({
        config: { name, memoryMiB, diskMiB, pace: this.paceInput.checked },
        source: this.mode === 'catalog' ? { entry: this.entry! } : this.local!,
        powerOn: this.powerOnInput.checked,
      });
      this.close();
    } catch (e) {
      this.showError((e as Error).message);
    } finally {
      this.busy = false;
      this.createButton.disabled = false;
      this.createButton.textContent = 'Create';
    }
  }
}

function kindLabel(kind: CatalogEntry['kind']): string {
  return { multiboot: 'Multiboot', linux: 'bzImage', disk: 'disk', floppy: 'floppy' }[kind];
}

export function closeButton(onclick: () => void): HTMLButtonElement {
  return h(
    'button',
    { type: 'button', class: 'icon-btn', 'aria-label': 'Close', title: 'Close (Esc)', onclick },
    icon('close'),
  );
}
