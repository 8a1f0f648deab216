import { describe, expect, it } from 'vitest';
import { ManifestError } from '../../../src/core/errors.js';
import { UPDATE_STATES, type UpdateState } from '../../../src/core/states.js';
import * as insighIo from '../../../src/protocols/insighio/index.js';
import { IDS, OTA_TOPIC } from './fixtures.js';

const { statusMapping } = insighIo;
const EVENTS = [0, 1, 2, 3] as const;
const FAILURES = [
  'check_failed',
  'download_failed',
  'verify_failed',
  'install_failed',
  'rolled_back',
] as const;

describe('insigh.io status mapping (docs/protocols/insighIo.md)', () => {
  it('maps every event and every canonical state, as documented', () => {
    expect(statusMapping.toCanonical).toEqual({
      0: 'available',
      1: 'committed',
      2: 'install_failed',
      3: 'canceled',
    });
    const expressible = UPDATE_STATES.filter((state) => statusMapping.fromCanonical[state] !== null);
    expect(expressible).toEqual(['available', 'committed', ...FAILURES, 'canceled']);
    for (const state of UPDATE_STATES) {
      if (statusMapping.fromCanonical[state] === null)
        expect(statusMapping.notes?.[state], state).toBeTruthy();
    }
  });

  it('round trip wire -> canonical -> wire -> canonical is stable for every event', () => {
    for (const event of EVENTS) {
      const state = statusMapping.toCanonical[event];
      const back = statusMapping.fromCanonical[state];
      expect(back, String(event)).toBe(event);
      expect(statusMapping.toCanonical[back!]).toBe(state);
    }
  });

  it('round trip canonical -> wire -> canonical: exact, except failures, which collapse to install_failed on e alone', () => {
    for (const state of UPDATE_STATES) {
      const event = statusMapping.fromCanonical[state];
      if (event === null) continue;
      const expected: UpdateState = (FAILURES as readonly string[]).includes(state)
        ? 'install_failed'
        : state;
      expect(statusMapping.toCanonical[event], state).toBe(expected);
    }
  });

  it('with m, every reportable status survives statusToWire -> encode -> decode -> statusFromWire exactly', () => {
    for (const state of UPDATE_STATES) {
      const wire = insighIo.statusToWire({ state, updateId: 'fa8884d2' });
      const event = statusMapping.fromCanonical[state];
      if (event === null || event === 0) {
        expect(wire, state).toBeNull();
        continue;
      }
      const decoded = insighIo.decodeMessage(insighIo.encodeStatus(wire!));
      if (decoded.kind !== 'status') throw new Error('expected a status');
      const fields = insighIo.statusFromWire(decoded.status);
      expect(fields.state, state).toBe(state);
      expect(fields.updateId).toBe('fa8884d2');
      expect(fields.error === null, state).toBe(state === 'committed' || state === 'canceled');
    }
  });

  it('statusToWire: reference messages for failures, an override, nothing without an update id', () => {
    expect(insighIo.statusToWire({ state: 'install_failed', updateId: 'f1' })).toEqual({
      event: 2,
      fileId: 'f1',
      message: 'can not apply',
    });
    expect(insighIo.statusToWire({ state: 'committed', updateId: 'f1' })).toEqual({ event: 1, fileId: 'f1' });
    expect(insighIo.statusToWire({ state: 'canceled', updateId: 'f1' }, { message: 'by user' })).toEqual({
      event: 3,
      fileId: 'f1',
      message: 'by user',
    });
    expect(insighIo.statusToWire({ state: 'install_failed', updateId: null })).toBeNull();
    expect(() => insighIo.statusToWire({ state: 'committed', updateId: 'deploy/7' })).toThrow(ManifestError);
  });

  it('statusFromWire: messages select the failure state; unknown and absent ones read as install_failed', () => {
    const read = (message?: string) =>
      insighIo.statusFromWire(
        message === undefined ? { event: 2, fileId: 'f' } : { event: 2, fileId: 'f', message },
      );
    expect(read('not enough space').state).toBe('download_failed');
    expect(read('  Can Not Download ').state).toBe('download_failed');
    expect(read('can not apply').error).toEqual({
      name: 'OtaError',
      code: 'INSTALL',
      message: 'can not apply',
      retryable: false,
    });
    expect(read('disk on fire').state).toBe('install_failed');
    expect(read('disk on fire').error?.message).toBe('disk on fire');
    expect(read().state).toBe('install_failed');
    // An undone install is INSTALL; ROLLBACK is reserved for a rollback that itself failed.
    expect(read('rolled back').error?.code).toBe('INSTALL');
    expect(insighIo.statusFromWire({ event: 1, fileId: 'f' })).toEqual({
      updateId: 'f',
      version: 'f',
      state: 'committed',
      error: null,
    });
    expect(insighIo.statusFromWire({ event: 3, fileId: 'f' }).state).toBe('canceled');
  });

  it('reportPublications: status first, then a clear only where the firmware clears', () => {
    for (const state of UPDATE_STATES) {
      const publications = insighIo.reportPublications(IDS, { state, updateId: 'f1' });
      const event = statusMapping.fromCanonical[state];
      if (event === null || event === 0) {
        expect(publications, state).toEqual([]);
        continue;
      }
      expect(publications[0]).toMatchObject({ topic: OTA_TOPIC, options: { qos: 1, retain: false } });
      const clears = ['committed', 'install_failed', 'rolled_back', 'canceled'].includes(state);
      expect(insighIo.clearsOrder(state)).toBe(clears);
      expect(publications.slice(1), state).toEqual(
        clears ? [{ topic: OTA_TOPIC, payload: '', options: { qos: 1, retain: true } }] : [],
      );
    }
  });
});
