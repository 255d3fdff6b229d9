import { describe, expect, it } from 'vitest';
import {
  actionsForSelection,
  allowedActions,
  canDelete,
  isPoweredOn,
  nextState,
} from '../../src/host/lifecycle.ts';
import type { PowerAction, VmState } from '../../src/host/protocol.ts';

const STATES: VmState[] = ['off', 'starting', 'running', 'paused', 'crashed'];
const ACTIONS: PowerAction[] = ['power-on', 'pause', 'resume', 'reset', 'power-off', 'ctrl-alt-del'];

describe('VM lifecycle', () => {
  it('allows exactly the documented transitions', () => {
    const table: Record<string, VmState | null> = {};
    for (const state of STATES)
      for (const action of ACTIONS) table[`${state} ${action}`] = nextState(state, action);
    expect(Object.fromEntries(Object.entries(table).filter(([, to]) => to !== null))).toEqual({
      'off power-on': 'starting',
      'starting power-off': 'off',
      'running pause': 'paused',
      'running reset': 'running',
      'running power-off': 'off',
      'running ctrl-alt-del': 'running',
      'paused resume': 'running',
      'paused reset': 'running',
      'paused power-off': 'off',
      'crashed power-on': 'starting',
    });
  });

  it('agrees with allowedActions', () => {
    for (const state of STATES) {
      for (const action of ACTIONS) {
        expect(nextState(state, action) !== null).toBe(allowedActions(state).includes(action));
      }
    }
  });

  it('lets only stopped VMs be deleted and counts the others as powered on', () => {
    expect(STATES.filter(canDelete)).toEqual(['off', 'crashed']);
    expect(STATES.filter(isPoweredOn)).toEqual(['starting', 'running', 'paused']);
  });

  it('offers a selection every action some selected VM accepts', () => {
    expect([...actionsForSelection(['off', 'paused'])].sort()).toEqual(
      ['power-off', 'power-on', 'reset', 'resume'].sort(),
    );
    expect(actionsForSelection([]).size).toBe(0);
  });
});
