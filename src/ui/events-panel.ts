/** "Recent events": the hypervisor's log lines of all VMs, newest first (like ESXi's recent tasks). */
import type { LogLine, VmRecord } from '../host/hypervisor.ts';
import { h } from './dom.ts';

const MAX_EVENTS = 100;

export class EventsPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly empty: HTMLElement;

  constructor() {
    this.list = h('ol', { class: 'events' });
    this.empty = h('p', { class: 'events-empty' }, 'Power actions, guest resets and crashes show up here.');
    this.element = h(
      'section',
      { class: 'panel events-panel', 'aria-label': 'Recent events' },
      h('h2', { class: 'section-title' }, 'Recent events'),
      this.empty,
      this.list,
    );
  }

  add(vm: VmRecord, line: LogLine): void {
    this.empty.hidden = true;
    const time = new Date(line.time);
    this.list.prepend(
      h(
        'li',
        { class: `event event-${line.level}` },
        h('time', { datetime: time.toISOString() }, time.toLocaleTimeString()),
        h('span', { class: 'event-vm' }, vm.name),
        h('span', { class: 'event-text', title: line.text }, line.text),
      ),
    );
    while (this.list.children.length > MAX_EVENTS) this.list.lastElementChild?.remove();
  }
}
