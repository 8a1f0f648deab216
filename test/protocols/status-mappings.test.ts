import { describe, expect, it } from 'vitest';
import { STATUS_MAPPINGS, UPDATE_STATES, type UpdateState } from '../../src/index.js';

describe('STATUS_MAPPINGS (PROTOCOLS.md §8.1)', () => {
  it('covers the five platforms and ThingsBoard', () => {
    expect(Object.keys(STATUS_MAPPINGS).sort()).toEqual(
      ['connhex', 'degu', 'exosite', 'insighIo', 'micropythonOta', 'thingsBoard'].sort(),
    );
  });

  for (const [system, mapping] of Object.entries(STATUS_MAPPINGS)) {
    const toCanonical = mapping.toCanonical as Record<string, UpdateState>;
    const fromCanonical = mapping.fromCanonical as Record<UpdateState, string | number | null>;

    describe(system, () => {
      it('says, for every canonical state, which wire value expresses it (or null)', () => {
        expect(Object.keys(fromCanonical).sort()).toEqual([...UPDATE_STATES].sort());
      });

      it('maps every wire value to a canonical state', () => {
        for (const state of Object.values(toCanonical)) expect(UPDATE_STATES).toContain(state);
        expect(Object.keys(toCanonical).length).toBeGreaterThan(0);
      });

      for (const wire of Object.keys(toCanonical)) {
        it(`wire ${JSON.stringify(wire)} round-trips through the canonical model`, () => {
          const state = toCanonical[wire]!;
          const back = fromCanonical[state];
          expect(back, `${system}: ${state} has no wire value, yet ${wire} maps to it`).not.toBeNull();
          expect(toCanonical[String(back)]).toBe(state);
        });
      }

      for (const state of UPDATE_STATES) {
        const wire = fromCanonical[state];
        if (wire === null) {
          it(`${state} cannot be expressed, and a note says why`, () => {
            const notes = (mapping as { notes?: Partial<Record<UpdateState, string>> }).notes ?? {};
            expect(Object.keys(notes).length, `${system} documents its gaps`).toBeGreaterThan(0);
          });
        } else {
          it(`${state} is sent as ${JSON.stringify(wire)}, which is understood as a state of the same outcome`, () => {
            const understood = toCanonical[String(wire)];
            expect(understood).toBeDefined();
            expect(isSameOutcome(state, understood!)).toBe(true);
          });
        }
      }
    });
  }
});

/** Near-equivalents a wire format may collapse: the same phase, or failure for failure. */
function isSameOutcome(sent: UpdateState, understood: UpdateState): boolean {
  if (sent === understood) return true;
  const failures: UpdateState[] = [
    'check_failed',
    'download_failed',
    'verify_failed',
    'install_failed',
    'rolled_back',
    'canceled',
  ];
  if (failures.includes(sent) && failures.includes(understood)) return true;
  // "current version" reports: idle after a success reads as committed (Degu, Exosite).
  if (sent === 'idle' && understood === 'committed') return true;
  const downloadPhase: UpdateState[] = ['downloading', 'downloaded', 'verifying'];
  if (downloadPhase.includes(sent) && downloadPhase.includes(understood)) return true;
  const installPhase: UpdateState[] = ['installing', 'installed', 'committed'];
  return installPhase.includes(sent) && installPhase.includes(understood);
}
