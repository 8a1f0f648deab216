import { describe, expect, it } from 'vitest';
import {
  canTransition,
  failureStateFor,
  isActiveState,
  isFailureState,
  isTerminalState,
  statesBetween,
  TERMINAL_STATES,
  TRANSITIONS,
  UPDATE_STATES,
  type UpdateState,
} from '../src/index.js';

const EXPECTED_EDGES: Record<UpdateState, UpdateState[]> = {
  idle: ['checking', 'available'],
  checking: ['available', 'idle', 'check_failed', 'canceled'],
  available: ['downloading', 'check_failed', 'verify_failed', 'canceled'],
  downloading: ['downloaded', 'download_failed', 'canceled'],
  downloaded: ['verifying', 'download_failed', 'canceled'],
  verifying: ['installing', 'verify_failed', 'canceled'],
  installing: ['installed', 'rolling_back', 'install_failed'],
  installed: ['committed', 'rolling_back', 'install_failed'],
  rolling_back: ['rolled_back', 'install_failed'],
  committed: ['idle'],
  check_failed: ['idle'],
  download_failed: ['idle'],
  verify_failed: ['idle'],
  install_failed: ['idle'],
  rolled_back: ['idle'],
  canceled: ['idle'],
};

describe('transition table', () => {
  it('lists the canonical states of docs/state-machine.md, exactly', () => {
    expect([...UPDATE_STATES].sort()).toEqual(Object.keys(EXPECTED_EDGES).sort());
  });

  for (const from of UPDATE_STATES) {
    for (const to of UPDATE_STATES) {
      const legal = EXPECTED_EDGES[from].includes(to);
      it(`${from} -> ${to} is ${legal ? 'legal' : 'illegal'}`, () => {
        expect(canTransition(from, to)).toBe(legal);
      });
    }
  }

  it('lets every terminal state go only back to idle', () => {
    for (const state of TERMINAL_STATES) expect(TRANSITIONS[state]).toEqual(['idle']);
  });

  it('cannot cancel once installing began (rollback is the only way out)', () => {
    for (const state of ['installing', 'installed', 'rolling_back'] as const) {
      expect(canTransition(state, 'canceled')).toBe(false);
    }
  });

  it('classifies states', () => {
    expect(isTerminalState('committed')).toBe(true);
    expect(isFailureState('committed')).toBe(false);
    expect(isFailureState('rolled_back')).toBe(true);
    expect(isActiveState('idle')).toBe(false);
    expect(isActiveState('installed')).toBe(true);
    expect(failureStateFor('downloaded')).toBe('download_failed');
    expect(failureStateFor('available')).toBe('check_failed');
    expect(failureStateFor('installed')).toBe('install_failed');
  });

  it('finds the states a device skipped when reporting', () => {
    expect(statesBetween('available', 'committed')).toEqual([
      'downloading',
      'downloaded',
      'verifying',
      'installing',
      'installed',
    ]);
    expect(statesBetween('downloading', 'downloaded')).toEqual([]);
    expect(statesBetween('installing', 'downloading')).toBeUndefined();
    // Never invents a new update by passing through idle or a terminal state.
    expect(statesBetween('committed', 'downloading')).toBeUndefined();
    expect(statesBetween('checking', 'committed')).toEqual([
      'available',
      'downloading',
      'downloaded',
      'verifying',
      'installing',
      'installed',
    ]);
  });
});
