/**
 * Counting devices by state.
 *
 * @module
 */
import { UPDATE_STATES, type UpdateState } from '../../core/states.js';
import type { StateCounts } from './types.js';

/** Every state at 0. */
export function emptyCounts(): StateCounts {
  return Object.fromEntries(UPDATE_STATES.map((state) => [state, 0])) as StateCounts;
}

/** The states a query names, as a set; `undefined` = every state. */
export function stateFilter(
  state: UpdateState | readonly UpdateState[] | undefined,
): Set<UpdateState> | undefined {
  if (state === undefined) return undefined;
  return new Set(typeof state === 'string' ? [state] : state);
}
