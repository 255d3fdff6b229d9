/**
 * The VM list: one row per VM (name, state, guest image, memory, CPU use, MIPS, uptime, storage), sortable by every
 * column, with check boxes for multi-selection and a "current" row (the keyboard cursor). Rows are kept per
 * VM and updated in place, so a statistics refresh never steals focus or loses a check.
 */
import type { VmRecord } from '../host/hypervisor.ts';
import { STATE_LABELS, type VmState } from '../host/protocol.ts';
import { h, icon } from './dom.ts';
import { formatBytes, formatMiB, formatMips, formatUptime } from './format.ts';

export type SortKey = 'name' | 'state' | 'image' | 'memory' | 'cpu' | 'mips' | 'uptime' | 'storage';

const STATE_ORDER: Record<VmState, number> = { running: 0, starting: 1, paused: 2, crashed: 3, off: 4 };

const COLUMNS: Array<{ key: SortKey; label: string; className: string; numeric?: boolean }> = [
  { key: 'name', label: 'Name', className: 'col-name' },
  { key: 'state', label: 'State', className: 'col-state' },
  { key: 'image', label: 'Guest image', className: 'col-image' },
  { key: 'memory', label: 'Memory', className: 'col-mem', numeric: true },
  { key: 'cpu', label: 'CPU', className: 'col-cpu', numeric: true },
  { key: 'mips', label: 'MIPS', className: 'col-mips', numeric: true },
  { key: 'uptime', label: 'Uptime', className: 'col-up', numeric: true },
  { key: 'storage', label: 'Storage', className: 'col-store', numeric: true },
];

function sortValue(vm: VmRecord, key: SortKey, storage: (id: string) => number): number | string {
  const live = vm.state === 'running' || vm.state === 'paused';
  switch (key) {
    case 'name':
      return vm.name.toLowerCase();
    case 'state':
      return STATE_ORDER[vm.state];
    case 'image':
      return vm.image.toLowerCase();
    case 'memory':
      return vm.config.memoryMiB;
    case 'cpu':
      return vm.state === 'running' ? vm.stats.cpuPercent : -1;
    case 'mips':
      return vm.state === 'running' ? vm.stats.mips : -1;
    case 'uptime':
      return live ? vm.stats.wallUptimeMs : -1;
    case 'storage':
      return storage(vm.id);
  }
}

/** Sorts VMs by a column; ties keep creation order. `storage` gives a VM's bytes in storage. */
export function sortVms(
  vms: VmRecord[],
  key: SortKey,
  ascending: boolean,
  storage: (id: string) => number = () => 0,
): VmRecord[] {
  return [...vms].sort((a, b) => {
    const x = sortValue(a, key, storage);
    const y = sortValue(b, key, storage);
    const c = x < y ? -1 : x > y ? 1 : a.createdAt - b.createdAt || a.id.localeCompare(b.id);
    return ascending ? c : -c;
  });
}

export interface VmTableHooks {
  selectionChanged(): void;
  currentChanged(id: string): void;
  /** Open (show and focus) the VM's console. */
  open(id: string): void;
  toggleShown(id: string): void;
  /** Bytes the VM takes in the page's storage (definition, disks, snapshots). */
  storageBytes?(id: string): number;
}

interface Row {
  tr: HTMLTableRowElement;
  check: HTMLInputElement;
  name: HTMLButtonElement;
  sub: HTMLElement;
  state: HTMLElement;
  image: HTMLElement;
  memory: HTMLElement;
  cpu: HTMLElement;
  cpuBar: HTMLElement;
  mips: HTMLElement;
  uptime: HTMLElement;
  storage: HTMLElement;
  shown: HTMLButtonElement;
}

export class VmTable {
  readonly element: HTMLElement;
  readonly selection = new Set<string>();
  current: string | null = null;
  sortKey: SortKey = 'name';
  ascending = true;
  private readonly tbody: HTMLTableSectionElement;
  private readonly selectAll: HTMLInputElement;
  private readonly headers = new Map<SortKey, HTMLTableCellElement>();
  private readonly rows = new Map<string, Row>();
  private order: string[] = [];

  constructor(private readonly hooks: VmTableHooks) {
    this.selectAll = h('input', { type: 'checkbox', 'aria-label': 'Select all VMs' });
    this.selectAll.addEventListener('change', () => {
      if (this.selectAll.checked) for (const id of this.order) this.selection.add(id);
      else this.selection.clear();
      this.hooks.selectionChanged();
    });
    const headRow = h('tr', {}, h('th', { class: 'col-check' }, this.selectAll));
    for (const col of COLUMNS) {
      const th = h(
        'th',
        { class: `${col.className}${col.numeric ? ' num' : ''}`, scope: 'col' },
        h(
          'button',
          { type: 'button', class: 'sort', onclick: () => this.sortBy(col.key) },
          col.label,
          h('span', { class: 'sort-arrow', 'aria-hidden': 'true' }),
        ),
      );
      this.headers.set(col.key, th);
      headRow.append(th);
    }
    headRow.append(h('th', { class: 'col-shown' }, h('span', { class: 'sr-only' }, 'Console')));
    this.tbody = h('tbody');
    this.element = h(
      'div',
      { class: 'table-wrap', tabindex: -1 },
      h('table', { class: 'vm-table' }, h('thead', {}, headRow), this.tbody),
    );
  }

  sortBy(key: SortKey): void {
    if (this.sortKey === key) this.ascending = !this.ascending;
    else {
      this.sortKey = key;
      this.ascending = key === 'name' || key === 'image' || key === 'state';
    }
    this.hooks.selectionChanged();
  }

  /** VM ids in display order. */
  orderedIds(): string[] {
    return this.order;
  }

  /** Moves the current row by `delta` (keyboard navigation). */
  moveCurrent(delta: number): void {
    if (this.order.length === 0) return;
    const at = this.current ? this.order.indexOf(this.current) : -1;
    const next = Math.max(0, Math.min(this.order.length - 1, at < 0 ? 0 : at + delta));
    this.setCurrent(this.order[next]);
  }

  setCurrent(id: string | null): void {
    if (this.current === id) return;
    this.current = id;
    for (const [rowId, row] of this.rows) row.tr.classList.toggle('current', rowId === id);
    if (id) {
      this.rows.get(id)?.tr.scrollIntoView({ block: 'nearest' });
      this.hooks.currentChanged(id);
    }
  }

  toggleSelected(id: string): void {
    if (this.selection.has(id)) this.selection.delete(id);
    else this.selection.add(id);
    this.hooks.selectionChanged();
  }

  render(vms: VmRecord[], shown: ReadonlySet<string>): void {
    for (const id of [...this.selection]) if (!vms.some((vm) => vm.id === id)) this.selection.delete(id);
    const sorted = sortVms(vms, this.sortKey, this.ascending, (id) => this.hooks.storageBytes?.(id) ?? 0);
    this.order = sorted.map((vm) => vm.id);
    for (const [key, th] of this.headers) {
      const active = key === this.sortKey;
      th.setAttribute('aria-sort', active ? (this.ascending ? 'ascending' : 'descending') : 'none');
      th.querySelector('.sort-arrow')!.textContent = active ? (this.ascending ? '▲' : '▼') : '';
    }
    for (const [id, row] of this.rows) {
      if (!vms.some((vm) => vm.id === id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    const children: HTMLTableRowElement[] = [];
    for (const vm of sorted) {
      const row = this.rows.get(vm.id) ?? this.makeRow(vm);
      this.fill(row, vm, shown.has(vm.id));
      children.push(row.tr);
    }
    if (children.length === 0) {
      this.tbody.replaceChildren(
        h(
          'tr',
          { class: 'empty' },
          h(
            'td',
            { colspan: COLUMNS.length + 2 },
            'No virtual machines yet. Create one with ',
            h('kbd', {}, 'n'),
            ' or New VM.',
          ),
        ),
      );
    } else if (
      children.some((tr, i) => this.tbody.children[i] !== tr) ||
      this.tbody.children.length !== children.length
    ) {
      this.tbody.replaceChildren(...children);
    }
    this.selectAll.checked = vms.length > 0 && this.selection.size === vms.length;
    this.selectAll.indeterminate = this.selection.size > 0 && this.selection.size < vms.length;
  }

  private makeRow(vm: VmRecord): Row {
    const id = vm.id;
    const check = h('input', { type: 'checkbox' });
    check.addEventListener('change', () => {
      if (check.checked) this.selection.add(id);
      else this.selection.delete(id);
      this.hooks.selectionChanged();
    });
    const name = h('button', { type: 'button', class: 'vm-link', title: 'Open its console' });
    name.addEventListener('click', () => this.hooks.open(id));
    const shown = h('button', { type: 'button', class: 'icon-btn small' }, icon('eye'));
    shown.addEventListener('click', () => this.hooks.toggleShown(id));
    const cpuBar = h('span', { class: 'bar-fill' });
    const row: Row = {
      tr: h('tr', { 'data-vm': id }),
      check,
      name,
      sub: h('div', { class: 'vm-sub' }),
      state: h('span', { class: 'pill' }),
      image: h('td', { class: 'col-image' }),
      memory: h('td', { class: 'col-mem num' }),
      cpu: h('span', { class: 'bar-text' }),
      cpuBar,
      mips: h('td', { class: 'col-mips num' }),
      uptime: h('td', { class: 'col-up num' }),
      storage: h('td', { class: 'col-store num' }),
      shown,
    };
    row.tr.append(
      h('td', { class: 'col-check' }, check),
      h('td', { class: 'col-name' }, name, row.sub),
      h('td', { class: 'col-state' }, row.state),
      row.image,
      row.memory,
      h('td', { class: 'col-cpu num' }, h('span', { class: 'bar' }, cpuBar), row.cpu),
      row.mips,
      row.uptime,
      row.storage,
      h('td', { class: 'col-shown' }, shown),
    );
    row.tr.addEventListener('click', (e) => {
      if ((e.target as HTMLElement).closest('input, button')) return;
      this.setCurrent(id);
    });
    this.rows.set(id, row);
    return row;
  }

  private fill(row: Row, vm: VmRecord, shown: boolean): void {
    const live = vm.state === 'running' || vm.state === 'paused';
    row.tr.dataset.state = vm.state;
    row.tr.classList.toggle('current', vm.id === this.current);
    row.tr.classList.toggle('selected', this.selection.has(vm.id));
    row.check.checked = this.selection.has(vm.id);
    row.check.setAttribute('aria-label', `Select ${vm.name}`);
    setText(row.name, vm.name);
    row.state.dataset.state = vm.state;
    setText(row.state, STATE_LABELS[vm.state]);
    row.state.title = vm.reason || STATE_LABELS[vm.state];
    setText(row.image, vm.image);
    setText(row.sub, vm.image);
    row.image.title = vm.image;
    setText(row.memory, formatMiB(vm.config.memoryMiB));
    const cpu = vm.state === 'running' ? vm.stats.cpuPercent : 0;
    setText(row.cpu, live ? `${Math.round(cpu)}%` : '—');
    row.cpuBar.style.width = `${Math.min(100, cpu)}%`;
    setText(row.mips, vm.state === 'running' ? formatMips(vm.stats.mips) : '—');
    setText(row.uptime, live ? formatUptime(vm.stats.wallUptimeMs) : '—');
    const stored = this.hooks.storageBytes?.(vm.id) ?? 0;
    setText(row.storage, stored > 0 ? formatBytes(stored) : '—');
    row.storage.title = stored > 0 ? `${vm.name} takes ${formatBytes(stored)} in the page's storage` : '';
    row.shown.setAttribute('aria-pressed', String(shown));
    const label = shown ? `Hide the console of ${vm.name}` : `Show the console of ${vm.name}`;
    row.shown.title = label;
    row.shown.setAttribute('aria-label', label);
  }
}

function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
