import { describe, expect, it } from 'vitest';
import { UPDATE_STATES, type UpdateState } from '../../../src/index.js';
import * as exosite from '../../../src/protocols/exosite/index.js';

const { statusMapping } = exosite;

/** The near-equivalents statusMapping documents: canonical → wire → a different canonical state. */
const NEAR: Partial<Record<UpdateState, UpdateState>> = {
  idle: 'committed',
  verify_failed: 'download_failed',
  rolled_back: 'install_failed',
};
const UNEXPRESSED: UpdateState[] = ['checking', 'verifying', 'rolling_back'];

describe('status mapping (docs/protocols/exosite.md, "Status")', () => {
  it('maps all 15 wire statuses and all 16 canonical states', () => {
    expect(Object.keys(statusMapping.toCanonical).sort()).toEqual([...exosite.OTAU_STATUSES].sort());
    expect(Object.keys(statusMapping.fromCanonical).sort()).toEqual([...UPDATE_STATES].sort());
    expect(statusMapping.system).toBe('exosite');
  });

  for (const wire of exosite.OTAU_STATUSES) {
    it(`round-trips wire ${wire}`, () => {
      const canonical = statusMapping.toCanonical[wire];
      const back = statusMapping.fromCanonical[canonical];
      expect(back).not.toBeNull();
      expect(statusMapping.toCanonical[back!]).toBe(canonical);
    });
  }

  for (const state of UPDATE_STATES) {
    it(`round-trips canonical ${state}`, () => {
      const wire = statusMapping.fromCanonical[state];
      if (UNEXPRESSED.includes(state)) {
        expect(wire).toBeNull();
        expect(statusMapping.notes?.[state]).toBeTruthy();
        expect(exosite.statusFromCanonical({ state, version: '1' })).toBeNull();
        return;
      }
      expect(wire).not.toBeNull();
      expect(statusMapping.toCanonical[wire!]).toBe(NEAR[state] ?? state);
      if (NEAR[state] !== undefined) expect(statusMapping.notes?.[state]).toBeTruthy();
      expect(exosite.statusFromCanonical({ state, version: '1' })?.status).toBe(wire);
    });
  }

  it('follows the cross-system mapping for the rows it names', () => {
    expect(statusMapping.toCanonical.INSTALLED_VERSION).toBe('committed');
    for (const code of ['INIT', 'TEST', 'TEST_STEP', 'TEST_SUCCESS'] as const) {
      expect(statusMapping.toCanonical[code]).toBe('available');
    }
    expect(statusMapping.toCanonical.DOWNLOAD_SUCCESS).toBe('downloaded');
    expect(statusMapping.toCanonical.INSTALL_ABORTED).toBe('canceled');
  });
});

describe('statusFromCanonical', () => {
  it('sends the _STEP status for a repeated state or a step', () => {
    expect(
      exosite.statusFromCanonical({ state: 'downloading', version: '1', previous: 'downloading' }),
    ).toEqual({
      version: '1',
      status: 'DOWNLOAD_STEP',
      message: '',
    });
    expect(
      exosite.statusFromCanonical({ state: 'installing', version: '1' }, { step: { index: 1, count: 3 } }),
    ).toEqual({ version: '1', status: 'INSTALL_STEP', message: 'Installing file 1 of 3' });
    expect(
      exosite.statusFromCanonical({ state: 'available', version: '1', previous: 'available' })?.status,
    ).toBe('TEST_STEP');
    // States without a _STEP form keep their status.
    expect(
      exosite.statusFromCanonical({ state: 'downloaded', version: '1' }, { step: { index: 1, count: 1 } })
        ?.status,
    ).toBe('DOWNLOAD_SUCCESS');
  });

  it('carries the error message, masks secrets and caps its length (hardened)', () => {
    const error = {
      name: 'OtaError',
      code: 'DOWNLOAD' as const,
      message: 'GET https://cdn.example/fw?token=SECRET123&x=1 failed',
      retryable: true,
    };
    const hardened = exosite.statusFromCanonical({ state: 'download_failed', version: '1', error });
    expect(hardened).toEqual({
      version: '1',
      status: 'DOWNLOAD_ERROR',
      message: 'GET https://cdn.example/fw?token=***&x=1 failed',
    });
    const faithful = exosite.statusFromCanonical(
      { state: 'download_failed', version: '1', error },
      { strictCompat: true },
    );
    expect(faithful?.message).toContain('SECRET123');
    const long = exosite.statusFromCanonical(
      { state: 'install_failed', version: '1' },
      { message: 'x'.repeat(10_000) },
    );
    expect(long?.message).toHaveLength(exosite.LIMITS.messageLength);
    expect(
      exosite.statusFromCanonical({ state: 'canceled', version: '1' }, { message: 'wrong version' }),
    ).toEqual({
      version: '1',
      status: 'INSTALL_ABORTED',
      message: 'wrong version',
    });
  });
});

describe('statusToCanonical', () => {
  it('reads every status with the static table when given no context', () => {
    for (const status of exosite.OTAU_STATUSES) {
      expect(exosite.statusToCanonical({ version: '1', status }).state).toBe(
        statusMapping.toCanonical[status],
      );
    }
  });

  it('tells a boot report (idle) from a finished update (committed)', () => {
    const message = { version: '2.0.5', status: 'INSTALLED_VERSION' as const, message: '' };
    expect(exosite.statusToCanonical(message, { updateVersion: '2.0.5' })).toEqual({
      state: 'committed',
      version: '2.0.5',
      updateId: '2.0.5',
      error: null,
      message: null,
    });
    expect(exosite.statusToCanonical(message, { updateVersion: '2.0.6' })).toMatchObject({
      state: 'idle',
      updateId: null,
    });
    expect(exosite.statusToCanonical(message, { updateVersion: null }).state).toBe('idle');
  });

  it('refines the near-equivalents with the current state', () => {
    const read = (status: exosite.OtauStatusCode, current: UpdateState) =>
      exosite.statusToCanonical({ version: '1', status }, { current }).state;
    expect(read('DOWNLOAD_ERROR', 'verifying')).toBe('verify_failed');
    expect(read('DOWNLOAD_ERROR', 'downloading')).toBe('download_failed');
    expect(read('INSTALL_ERROR', 'rolling_back')).toBe('rolled_back');
    expect(read('INSTALL_ERROR', 'installing')).toBe('install_failed');
    expect(read('INSTALL_ABORTED', 'installing')).toBe('install_failed');
    expect(read('INSTALL_ABORTED', 'downloading')).toBe('canceled');
  });

  it('turns failures into serialised errors with the device message', () => {
    expect(
      exosite.statusToCanonical({ version: '1.2.4', status: 'TEST_ERROR', message: 'Not enough memory' }),
    ).toEqual({
      state: 'check_failed',
      version: '1.2.4',
      updateId: '1.2.4',
      error: { name: 'OtaError', code: 'CHECK', message: 'Not enough memory', retryable: false },
      message: 'Not enough memory',
    });
    expect(exosite.statusToCanonical({ version: '', status: 'INSTALL_ERROR' })).toMatchObject({
      version: null,
      error: { code: 'INSTALL', message: 'Device reported INSTALL_ERROR' },
    });
  });
});
