/**
 * A VM's power states and which actions each allows, as one table (the page greys out the rest).
 *
 *            power-on            started              pause
 *   off ─────────────▶ starting ────────▶ running ◀──────────▶ paused
 *    ▲                    │     reset, ctrl-alt-del ⟲  │  resume   │ reset ─▶ running
 *    └──── power-off ─────┴─────────────────────────────┴───────────┘
 *   crashed ── power-on ──▶ starting     (any state ── worker died / guest crashed ──▶ crashed)
 *
 * The worker is the authority on off/running/paused (it reports `state`); `starting` and `crashed` are
 * the page's own: the worker is being spawned or loading, or it died or stopped answering.
 */
import type { PowerAction, VmState } from './protocol.ts';

const ACTIONS: Record<VmState, readonly PowerAction[]> = {
  off: ['power-on'],
  starting: ['power-off'],
  running: ['pause', 'reset', 'power-off', 'ctrl-alt-del'],
  paused: ['resume', 'reset', 'power-off'],
  crashed: ['power-on'],
};

/** The power actions a VM in `state` accepts. */
export function allowedActions(state: VmState): readonly PowerAction[] {
  return ACTIONS[state];
}

export function isAllowed(state: VmState, action: PowerAction): boolean {
  return ACTIONS[state].includes(action);
}

/** The state a VM is in once the worker carried out `action`, or null when the action is not allowed. */
export function nextState(state: VmState, action: PowerAction): VmState | null {
  if (!isAllowed(state, action)) return null;
  switch (action) {
    case 'power-on':
      return 'starting';
    case 'pause':
      return 'paused';
    case 'resume':
    case 'reset':
    case 'ctrl-alt-del':
      return 'running';
    case 'power-off':
      return 'off';
  }
}

/** A VM can be removed from the host when no machine of it is running. */
export function canDelete(state: VmState): boolean {
  return state === 'off' || state === 'crashed';
}

/** Whether the VM holds a machine (its RAM counts as in use on the host). */
export function isPoweredOn(state: VmState): boolean {
  return state === 'running' || state === 'paused' || state === 'starting';
}

/** Actions that apply to every VM in a selection: those at least one selected VM accepts. */
export function actionsForSelection(states: VmState[]): Set<PowerAction> {
  const out = new Set<PowerAction>();
  for (const state of states) for (const action of ACTIONS[state]) out.add(action);
  return out;
}
