/** The "?" overlay: keyboard shortcuts, and a few lines on what the page shows (for learners). */
import { h } from './dom.ts';
import { closeButton } from './create-dialog.ts';

export const SHORTCUTS: Array<[keys: string[], what: string]> = [
  [['n'], 'New VM'],
  [['s'], 'Power on'],
  [['p'], 'Pause / resume'],
  [['r'], 'Reset'],
  [['x'], 'Power off'],
  [['d'], 'Send Ctrl-Alt-Del'],
  [['c'], 'Type the clipboard into the focused VM'],
  [['Delete'], 'Delete the VM (when powered off)'],
  [['↑', '↓'], 'Move through the VM list (also j / k)'],
  [['Space'], 'Select or unselect the current VM'],
  [['a'], 'Select all VMs / none'],
  [['Enter'], "Open the current VM's console"],
  [['1', '…', '9'], 'Focus console 1 to 9'],
  [['v'], 'Switch the focused console between serial and screen'],
  [['m'], 'Maximize the focused console / back to the grid'],
  [['t'], 'Theme: system, light, dark'],
  [['?'], 'This help'],
  [['↑', '↓', 'Home', 'End'], 'In the snapshot tree: move between snapshots'],
  [['Enter', 'F2', 'Delete'], 'In the snapshot tree: revert to, edit, delete the snapshot'],
  [['Ctrl', 'Enter'], 'In the snapshot dialog: take the snapshot'],
  [['Ctrl', 'Alt'], 'Press and release together: take the keyboard back from a console'],
];

export function createHelpDialog(): HTMLDialogElement {
  const dialog: HTMLDialogElement = h('dialog', {
    class: 'dialog help-dialog',
    'aria-label': 'Keyboard shortcuts',
  });
  const rows = SHORTCUTS.map(([keys, what]) =>
    h(
      'tr',
      {},
      h(
        'td',
        { class: 'keys' },
        ...keys.flatMap((k, i) => [i > 0 ? ' ' : null, k === '…' ? k : h('kbd', {}, k)]),
      ),
      h('td', {}, what),
    ),
  );
  dialog.append(
    h(
      'header',
      { class: 'dialog-head' },
      h('h2', {}, 'Keyboard shortcuts'),
      closeButton(() => dialog.close()),
    ),
    h(
      'div',
      { class: 'dialog-body' },
      h(
        'p',
        { class: 'lead' },
        'Shortcuts work when no console has the keyboard. Power actions apply to the checked VMs, or else to the current one. Inside a console every key goes to the guest.',
      ),
      h('table', { class: 'shortcuts' }, h('tbody', {}, ...rows)),
      h('h3', {}, 'What you are looking at'),
      h(
        'ul',
        { class: 'about' },
        h(
          'li',
          {},
          'Each VM is a whole PC emulated in TypeScript — CPU, interrupt controller, timer, serial ports, disks, VGA text — running in its own Web Worker.',
        ),
        h(
          'li',
          {},
          h('b', {}, 'Serial'),
          ' shows COM1, the first serial port, through xterm.js. ',
          h('b', {}, 'Screen'),
          ' shows the VGA text screen: 80×25 characters with their colours.',
        ),
        h(
          'li',
          {},
          h('b', {}, 'MIPS'),
          ' is millions of guest instructions per second. ',
          h('b', {}, 'Guest time'),
          ' is the virtual clock: 10 ns per instruction, and it jumps ahead while the guest waits in HLT.',
        ),
        h(
          'li',
          {},
          'A VM that loops forever only keeps its own worker busy: the page and the other VMs stay responsive.',
        ),
        h(
          'li',
          {},
          h('b', {}, 'Snapshots'),
          ' keep a moment of a VM — memory and disks when it is on, disks when it is off — to come back to. VMs, ' +
            'their disks and snapshots stay in the browser across reloads; ',
          h('b', {}, 'Export'),
          ' makes one .visor86 file, and dropping it on the page imports it. So does a machine saved by ' +
            'visor86 run --save that uses no disk image (a kernel booted directly): powering it on resumes it.',
        ),
      ),
    ),
  );
  return dialog;
}
