/**
 * One VM's console in the grid: a title bar (state, name, speed, serial/screen toggle, power buttons), the
 * console itself (xterm.js on COM1, or the VGA text screen), an overlay for the states where the guest is
 * not running (powered off, starting, crashed with its last log lines), and a statistics footer.
 */
import type { PowerAction, ScreenFrame } from '../host/protocol.ts';
import { STATE_LABELS } from '../host/protocol.ts';
import type { VmRecord } from '../host/hypervisor.ts';
import { isAllowed } from '../host/lifecycle.ts';
import { h, icon } from './dom.ts';
import { formatCount, formatMiB, formatMips, formatUptime } from './format.ts';
import { SerialConsole } from './serial-console.ts';
import { VgaScreen } from './vga-screen.ts';

export type ConsoleView = 'serial' | 'screen';

export interface ConsolePanelHooks {
  action(vm: VmRecord, action: PowerAction): void;
  focused(vm: VmRecord): void;
  toggleMaximize(vm: VmRecord): void;
  viewChanged(vm: VmRecord, view: ConsoleView): void;
  serialInput(vm: VmRecord, bytes: Uint8Array): void;
  key(vm: VmRecord, code: string, down: boolean): void;
  /** The page's own keys (console release); return true when handled. */
  interceptKey(event: KeyboardEvent): boolean;
}

/** Removes ANSI escape sequences and control characters (for the crash panel's plain text). */
export function plainText(s: string): string {
  return (
    s
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b[@-_]/g, '')
      .replace(/\r\n?/g, '\n')
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
  );
}

export class ConsolePanel {
  readonly element: HTMLElement;
  readonly serial: SerialConsole;
  readonly screen: VgaScreen;
  private readonly nameEl: HTMLElement;
  private readonly stateEl: HTMLElement;
  private readonly speedEl: HTMLElement;
  private readonly statsEl: HTMLElement;
  private readonly overlay: HTMLElement;
  private readonly body: HTMLElement;
  private readonly viewButtons: Record<ConsoleView, HTMLButtonElement>;
  private readonly buttons: Record<'pause' | 'reset' | 'power' | 'maximize', HTMLButtonElement>;
  private readonly resizeObserver: ResizeObserver;
  view: ConsoleView = 'serial';
  /** The user picked a view: stop switching automatically. */
  private viewChosen = false;
  private overlayKey = '';

  constructor(
    readonly vm: VmRecord,
    private readonly hooks: ConsolePanelHooks,
    private readonly charWidthRatio: number,
  ) {
    this.serial = new SerialConsole(vm.name);
    this.serial.onInput = (bytes) => hooks.serialInput(this.vm, bytes);
    this.serial.interceptKey = (e) => hooks.interceptKey(e);
    this.screen = new VgaScreen(vm.name, charWidthRatio);
    this.screen.onKey = (code, down) => hooks.key(this.vm, code, down);
    this.screen.interceptKey = (e) => hooks.interceptKey(e);
    this.screen.element.hidden = true;

    const viewButton = (view: ConsoleView, label: string) =>
      h(
        'button',
        {
          type: 'button',
          class: 'seg-btn',
          'aria-pressed': 'false',
          title: view === 'serial' ? 'Show the COM1 serial console' : 'Show the VGA text screen',
          onclick: () => this.setView(view, true),
        },
        icon(view === 'serial' ? 'terminal' : 'screen'),
        h('span', { class: 'seg-label' }, label),
      );
    this.viewButtons = { serial: viewButton('serial', 'Serial'), screen: viewButton('screen', 'Screen') };
    const tool = (name: string, title: string, onclick: () => void) =>
      h('button', { type: 'button', class: 'icon-btn', title, 'aria-label': title, onclick }, icon(name));
    this.buttons = {
      pause: tool('pause', 'Pause', () => this.togglePause()),
      reset: tool('reset', 'Reset', () => hooks.action(this.vm, 'reset')),
      power: tool('power', 'Power off', () => this.togglePower()),
      maximize: tool('expand', 'Maximize (m)', () => hooks.toggleMaximize(this.vm)),
    };

    this.stateEl = h('span', { class: 'state-dot' });
    this.nameEl = h('span', { class: 'console-name' }, vm.name);
    this.speedEl = h('span', { class: 'console-speed' });
    this.overlay = h('div', { class: 'console-overlay', hidden: true });
    this.body = h('div', { class: 'console-body' }, this.serial.element, this.screen.element, this.overlay);
    this.statsEl = h('footer', { class: 'console-stats' });
    this.element = h(
      'section',
      { class: 'console', 'data-vm': vm.id, 'aria-label': `Console of ${vm.name}` },
      h(
        'header',
        { class: 'console-bar', ondblclick: () => hooks.toggleMaximize(this.vm) },
        this.stateEl,
        this.nameEl,
        this.speedEl,
        h('span', { class: 'spacer' }),
        h(
          'div',
          { class: 'seg', role: 'group', 'aria-label': 'Console view' },
          this.viewButtons.serial,
          this.viewButtons.screen,
        ),
        h(
          'div',
          { class: 'console-tools' },
          this.buttons.pause,
          this.buttons.reset,
          this.buttons.power,
          this.buttons.maximize,
        ),
      ),
      this.body,
      this.statsEl,
    );
    this.element.addEventListener('focusin', () => hooks.focused(this.vm));
    this.element.addEventListener('pointerdown', () => hooks.focused(this.vm));
    this.body.addEventListener('click', () => this.focus());
    this.resizeObserver = new ResizeObserver(() => this.fit());
    this.resizeObserver.observe(this.body);
    this.setView(vm.console === 'vga' ? 'screen' : 'serial', false);
    this.update();
  }

  /** Called once the panel is in the document: opens the terminal and sizes it. */
  attached(): void {
    if (!this.serial.opened) this.serial.open();
    this.fit();
  }

  private fit(): void {
    const { width, height } = this.body.getBoundingClientRect();
    if (width === 0) return;
    this.serial.fit(width, height, this.charWidthRatio);
    this.screen.fit(width, height);
  }

  setView(view: ConsoleView, chosen: boolean): void {
    if (chosen) this.viewChosen = true;
    const hadFocus = this.element.contains(document.activeElement);
    this.view = view;
    this.serial.element.hidden = view !== 'serial';
    this.screen.element.hidden = view !== 'screen';
    for (const [name, button] of Object.entries(this.viewButtons)) {
      button.setAttribute('aria-pressed', String(name === view));
    }
    this.element.dataset.view = view;
    this.hooks.viewChanged(this.vm, view);
    if (hadFocus || chosen) this.focus();
  }

  toggleView(): void {
    this.setView(this.view === 'serial' ? 'screen' : 'serial', true);
  }

  focus(): void {
    if (this.view === 'serial') this.serial.focus();
    else this.screen.focus();
  }

  setFocused(focused: boolean): void {
    this.element.classList.toggle('focused', focused);
  }

  setMaximized(maximized: boolean): void {
    this.buttons.maximize.replaceChildren(icon(maximized ? 'collapse' : 'expand'));
    const title = maximized ? 'Back to the grid (m)' : 'Maximize (m)';
    this.buttons.maximize.title = title;
    this.buttons.maximize.setAttribute('aria-label', title);
  }

  private togglePause(): void {
    this.hooks.action(this.vm, this.vm.state === 'paused' ? 'resume' : 'pause');
  }

  private togglePower(): void {
    this.hooks.action(this.vm, isAllowed(this.vm.state, 'power-off') ? 'power-off' : 'power-on');
  }

  onSerial(bytes: Uint8Array): void {
    this.serial.write(bytes);
  }

  onScreen(frame: ScreenFrame): void {
    this.screen.render(frame);
  }

  /** Refreshes everything that depends on the VM's state and statistics. */
  update(): void {
    const vm = this.vm;
    const state = vm.state;
    this.element.dataset.state = state;
    this.nameEl.textContent = vm.name;
    this.stateEl.title = STATE_LABELS[state];
    this.stateEl.setAttribute('aria-label', STATE_LABELS[state]);
    this.speedEl.textContent =
      state === 'running'
        ? vm.stats.waiting
          ? 'idle'
          : `${formatMips(vm.stats.mips)} MIPS`
        : STATE_LABELS[state];

    const paused = state === 'paused';
    this.buttons.pause.replaceChildren(icon(paused ? 'play' : 'pause'));
    const pauseTitle = paused ? 'Resume (p)' : 'Pause (p)';
    this.buttons.pause.title = pauseTitle;
    this.buttons.pause.setAttribute('aria-label', pauseTitle);
    this.buttons.pause.disabled = !(isAllowed(state, 'pause') || isAllowed(state, 'resume'));
    this.buttons.reset.disabled = !isAllowed(state, 'reset');
    const on = isAllowed(state, 'power-off');
    this.buttons.power.classList.toggle('danger', on);
    const powerTitle = on ? 'Power off (x)' : 'Power on (s)';
    this.buttons.power.title = powerTitle;
    this.buttons.power.setAttribute('aria-label', powerTitle);
    this.buttons.power.disabled = !on && !isAllowed(state, 'power-on');

    // Switch to the screen by itself when the guest draws there and says nothing on COM1.
    // A guest that said it talks on COM1 keeps its serial console (a VM reverted to a snapshot draws its
    // screen before it writes anything new to COM1).
    if (
      !this.viewChosen &&
      this.view === 'serial' &&
      vm.usesScreen &&
      !vm.usesSerial &&
      vm.console !== 'serial'
    )
      this.setView('screen', false);
    this.viewButtons.screen.classList.toggle('has-content', vm.usesScreen);
    this.viewButtons.serial.classList.toggle('has-content', vm.usesSerial);

    const s = vm.stats;
    const irqs = s.irqCounts.reduce((a, b) => a + b, 0);
    const live = state === 'running' || state === 'paused';
    this.statsEl.replaceChildren(
      stat('up', live ? formatUptime(s.wallUptimeMs) : '—', 'Uptime (wall clock, since power-on)'),
      stat(
        'guest',
        live ? formatUptime(s.virtualUptimeMs) : '—',
        'Guest time (virtual clock): time as the guest sees it',
      ),
      stat('instr', formatCount(s.instructions), 'Instructions the guest CPU has executed'),
      stat('irq', formatCount(irqs), 'Hardware interrupts delivered (all IRQ lines)'),
      stat('disk', `${formatCount(s.diskReads)}/${formatCount(s.diskWrites)}`, 'Disk sectors read / written'),
      stat(
        'mem',
        `${formatMiB(s.memoryUsedMiB)}/${formatMiB(vm.config.memoryMiB)}`,
        'Memory the guest has touched / assigned',
      ),
    );
    this.updateOverlay();
  }

  private updateOverlay(): void {
    const vm = this.vm;
    const key = `${vm.state}|${vm.reason}|${vm.state === 'crashed' ? vm.log.length : 0}`;
    if (key === this.overlayKey) return;
    this.overlayKey = key;
    const overlay = this.overlay;
    const power = (label: string) =>
      h(
        'button',
        { type: 'button', class: 'btn primary', onclick: () => this.hooks.action(vm, 'power-on') },
        icon('play'),
        label,
      );
    switch (vm.state) {
      case 'running':
      case 'paused':
        overlay.hidden = true;
        overlay.replaceChildren();
        return;
      case 'starting':
        overlay.hidden = false;
        overlay.className = 'console-overlay soft';
        overlay.replaceChildren(
          h('div', { class: 'overlay-title' }, h('span', { class: 'spinner' }), 'Starting…'),
        );
        return;
      case 'off':
        overlay.hidden = false;
        overlay.className = 'console-overlay soft';
        overlay.replaceChildren(
          h('div', { class: 'overlay-title' }, 'Powered off'),
          ...(vm.reason && vm.reason !== 'powered off'
            ? [h('div', { class: 'overlay-reason' }, vm.reason)]
            : []),
          power('Power on'),
        );
        return;
      case 'crashed': {
        overlay.hidden = false;
        overlay.className = 'console-overlay crash';
        const logLines = vm.log
          .slice(-8)
          .map((line) =>
            h(
              'li',
              { class: `log-${line.level}` },
              h('time', {}, new Date(line.time).toLocaleTimeString()),
              line.text,
            ),
          );
        const tail = plainText(vm.consoleTail).trimEnd().split('\n').slice(-10).join('\n');
        overlay.replaceChildren(
          h('div', { class: 'overlay-title' }, 'Crashed'),
          h('div', { class: 'overlay-reason' }, vm.reason),
          h('div', { class: 'crash-label' }, 'Last log lines'),
          h('ol', { class: 'crash-log' }, ...logLines),
          ...(tail
            ? [
                h('div', { class: 'crash-label' }, 'Last console output'),
                h('pre', { class: 'crash-tail' }, tail),
              ]
            : []),
          power('Power on again'),
        );
        return;
      }
    }
  }

  dispose(): void {
    this.resizeObserver.disconnect();
    this.serial.dispose();
    this.screen.dispose();
    this.element.remove();
  }
}

function stat(label: string, value: string, title: string): HTMLElement {
  return h('span', { class: 'stat', title }, h('span', { class: 'stat-label' }, label), value);
}
