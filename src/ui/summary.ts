/** The host overview above the VM list: host, VM counts by state, memory, aggregate speed, storage. */
import type { HostSummary } from '../host/hypervisor.ts';
import { STATE_LABELS, type VmState } from '../host/protocol.ts';
import { h, icon, sparkline } from './dom.ts';
import { formatBytes, formatMiB, formatMips, formatUptime } from './format.ts';

/** What the page keeps in the browser's storage: VMs' bytes, and the browser's estimate of its quota. */
export interface StorageSummary {
  usedBytes: number;
  vms: number;
  snapshots: number;
  /** The browser's estimate (navigator.storage.estimate), when it gives one. */
  quotaBytes?: number;
}

const STATES: VmState[] = ['running', 'paused', 'off', 'crashed'];

export class SummaryCards {
  readonly element: HTMLElement;
  private readonly hostValue = h('div', { class: 'card-value' });
  private readonly hostSub = h('div', { class: 'card-sub' });
  private readonly vmValue = h('div', { class: 'card-value' });
  private readonly vmStates = h('div', { class: 'card-states' });
  private readonly memValue = h('div', { class: 'card-value' });
  private readonly memBar = h('div', { class: 'meter' });
  private readonly memSub = h('div', { class: 'card-sub' });
  private readonly cpuValue = h('div', { class: 'card-value' });
  private readonly cpuSpark = h('div', { class: 'card-spark' });
  private readonly cpuSub = h('div', { class: 'card-sub' });
  private readonly storeValue = h('div', { class: 'card-value' });
  private readonly storeBar = h('div', { class: 'meter' });
  private readonly storeSub = h('div', { class: 'card-sub' });
  private readonly history: number[] = [];

  constructor(private readonly hostName: string) {
    const card = (name: string, title: string, ...body: HTMLElement[]) =>
      h(
        'section',
        { class: `card card-${name}`, 'aria-label': title },
        h(
          'h3',
          { class: 'card-title' },
          icon(
            ({ vms: 'server', mem: 'memory', cpu: 'chip', storage: 'disk' } as Record<string, string>)[
              name
            ] ?? 'screen',
          ),
          title,
        ),
        ...body,
      );
    this.element = h(
      'div',
      { class: 'cards' },
      card('host', 'Host', this.hostValue, this.hostSub),
      card('vms', 'Virtual machines', this.vmValue, this.vmStates),
      card('mem', 'Memory', this.memValue, this.memBar, this.memSub),
      card('cpu', 'CPU', h('div', { class: 'card-row' }, this.cpuValue, this.cpuSpark), this.cpuSub),
      card('storage', 'Storage', this.storeValue, this.storeBar, this.storeSub),
    );
  }

  /** Called once a second with the hypervisor's summary (also records the MIPS history). */
  update(summary: HostSummary, uptimeMs: number, record: boolean, storage?: StorageSummary): void {
    if (storage) this.updateStorage(storage);
    this.hostValue.textContent = this.hostName;
    const cores = navigator.hardwareConcurrency || 1;
    this.hostSub.textContent = `up ${formatUptime(uptimeMs)} · ${cores} core${cores === 1 ? '' : 's'}`;

    this.vmValue.textContent = String(summary.total);
    this.vmStates.replaceChildren(
      ...STATES.map((state) =>
        h(
          'span',
          { class: 'pill', 'data-state': state, title: STATE_LABELS[state] },
          `${summary.byState[state] + (state === 'running' ? summary.byState.starting : 0)} ${STATE_LABELS[state].toLowerCase()}`,
        ),
      ),
    );

    const scale = Math.max(summary.memoryAssignedMiB, 1);
    this.memValue.replaceChildren(
      formatMiB(summary.memoryUsedMiB),
      h('span', { class: 'of' }, ` used of ${formatMiB(summary.memoryReservedMiB)}`),
    );
    this.memBar.replaceChildren(
      h('span', { class: 'meter-reserved', style: `width:${(100 * summary.memoryReservedMiB) / scale}%` }),
      h('span', { class: 'meter-used', style: `width:${(100 * summary.memoryUsedMiB) / scale}%` }),
    );
    this.memBar.title = `Used (touched by guests): ${formatMiB(summary.memoryUsedMiB)} · powered-on VMs: ${formatMiB(summary.memoryReservedMiB)} · assigned to all VMs: ${formatMiB(summary.memoryAssignedMiB)}`;
    this.memSub.textContent = `${formatMiB(summary.memoryAssignedMiB)} assigned to ${summary.total} VM${summary.total === 1 ? '' : 's'}`;

    if (record) {
      this.history.push(summary.mips);
      if (this.history.length > 60) this.history.shift();
    }
    this.cpuValue.replaceChildren(formatMips(summary.mips), h('span', { class: 'of' }, ' MIPS'));
    this.cpuSpark.replaceChildren(sparkline(this.history));
    this.cpuSub.textContent = `${Math.round(summary.cpuPercent)}% of one core · last 60 s`;
  }

  private updateStorage(storage: StorageSummary): void {
    const quota = storage.quotaBytes;
    this.storeValue.replaceChildren(
      formatBytes(storage.usedBytes),
      h('span', { class: 'of' }, quota ? ` of ${formatBytes(quota)} the browser allows` : ' stored'),
    );
    const share = quota ? Math.min(100, (100 * storage.usedBytes) / quota) : 0;
    this.storeBar.replaceChildren(
      h('span', { class: 'meter-used', style: `width:${Math.max(share, storage.usedBytes > 0 ? 0.5 : 0)}%` }),
    );
    this.storeBar.title = quota ? `${share.toFixed(2)}% of the browser's storage quota` : '';
    this.storeSub.textContent = `${storage.vms} VM${storage.vms === 1 ? '' : 's'} and ${storage.snapshots} snapshot${storage.snapshots === 1 ? '' : 's'} kept across reloads`;
  }
}
