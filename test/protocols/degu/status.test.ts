import { describe, expect, it } from 'vitest';
import { isOtaError, UPDATE_STATES } from '../../../src/index.js';
import * as degu from '../../../src/protocols/degu/index.js';
import { deguEmulator } from '../../../src/testing/index.js';

const { statusMapping } = degu;
const A = 'c19cde3ac637be761b372ec031a4de72';
const B = '4f3e01b7dc12348ebbd1acfe11ef6328';
const F = 'c4ff012243272695c13fa5b2f9a62b1e';

describe('Degu status mapping (PROTOCOLS.md §8.1)', () => {
  it('maps every wire value, and every wire value survives a round trip', () => {
    expect(Object.keys(statusMapping.toCanonical).sort()).toEqual([...degu.DEGU_STATUSES].sort());
    for (const wire of degu.DEGU_STATUSES) {
      const state = statusMapping.toCanonical[wire];
      const back = statusMapping.fromCanonical[state];
      expect(back, wire).not.toBeNull();
      expect(statusMapping.toCanonical[back!], wire).toBe(state);
    }
  });

  it('maps every canonical state, each expressible one back to itself or its documented near-equivalent', () => {
    expect(Object.keys(statusMapping.fromCanonical).sort()).toEqual([...UPDATE_STATES].sort());
    const expressible: string[] = [];
    for (const state of UPDATE_STATES) {
      const wire = statusMapping.fromCanonical[state];
      if (wire === null) {
        expect(statusMapping.notes?.[state], `${state} needs a note saying why`).toBeTruthy();
        continue;
      }
      expressible.push(state);
      expect(statusMapping.toCanonical[wire], state).toBe(degu.NEAR_EQUIVALENTS[state] ?? state);
    }
    expect(expressible).toEqual(['idle', 'available', 'committed']);
    expect(degu.NEAR_EQUIVALENTS).toEqual({ idle: 'committed' });
  });
});

describe('statusFromWire', () => {
  const manifest = degu.toCanonical({
    desired: {
      script_user: 'https://e.com/main.py',
      script_user_ver: B,
      firmware_system: 'https://e.com/degu.bin',
      firmware_system_ver: F,
    },
  }).value!;

  it('reads a matching report as committed, with the order id and version', () => {
    const reading = degu.statusFromWire(
      { script_user_ver: B, config_user_ver: 'none', firmware_system_ver: F.toUpperCase() },
      manifest,
    );
    expect(reading).toEqual({
      status: 'in_sync',
      state: 'committed',
      updateId: manifest.id,
      version: manifest.version,
      items: [
        { item: 'script_user', expected: B, reported: B, match: true },
        { item: 'firmware_system', expected: F, reported: F.toUpperCase(), match: true },
      ],
    });
    expect(
      degu.statusFromWire({ script_user_ver: B, firmware_system_ver: F.toUpperCase() }, manifest, {
        strictCompat: true,
      }).state,
    ).toBe('available');
  });

  it('reads a partly matching or missing report as available (Degu cannot say "failed")', () => {
    expect(degu.statusFromWire({ script_user_ver: B, firmware_system_ver: A }, manifest).state).toBe(
      'available',
    );
    expect(degu.statusFromWire(null, manifest).status).toBe('out_of_sync');
  });

  it("keeps an operator's manifest id and version", () => {
    const reading = degu.statusFromWire(
      { config_user_ver: A },
      {
        id: 'rollout-7',
        version: '2.0.0',
        artifacts: [{ url: 'https://e.com/c', md5: A, target: 'config' }],
      },
    );
    expect(reading).toMatchObject({ state: 'committed', updateId: 'rollout-7', version: '2.0.0' });
  });

  it('reads against the desired section too, and is idle without an order', () => {
    expect(degu.statusFromWire({ script_user_ver: A }, { script_user_ver: A })).toMatchObject({
      state: 'committed',
      updateId: `degu:script_user=${A}`,
      version: A,
    });
    expect(degu.statusFromWire({ script_user_ver: A }, { script_user: 'https://e.com/x' })).toEqual({
      status: null,
      state: 'idle',
      updateId: null,
      version: null,
      items: [],
    });
  });
});

describe('statusToWire', () => {
  const installed = { script_user_ver: B, config_user_ver: 'none', firmware_system_ver: F };

  it('publishes the boot report for expressible states and nothing for the others', () => {
    for (const state of UPDATE_STATES) {
      const { value, lost } = degu.statusToWire({ state }, installed);
      if (statusMapping.fromCanonical[state] === null) {
        expect(value, state).toBeNull();
        expect(lost, state).toEqual([{ field: 'state', reason: statusMapping.notes?.[state] }]);
      } else {
        expect(value, state).toEqual({ state: { reported: installed } });
        expect(lost, state).toEqual([]);
      }
    }
  });

  it('says that errors and progress are lost', () => {
    const error = {
      name: 'IntegrityError',
      code: 'INTEGRITY' as const,
      message: 'md5 mismatch',
      retryable: false,
    };
    const progress = { bytes: 1, total: 2, bytesPerSecond: 3 };
    expect(
      degu.statusToWire({ state: 'verify_failed', error, progress }, installed).lost.map((l) => l.field),
    ).toEqual(['error', 'progress', 'state']);
  });
});

describe('the boot model', () => {
  it('never puts URL credentials into a download error', async () => {
    const url = 'https://operator:hunter2@files.example.com/main.py?token=s3cr3t&x=1';
    const boot = await deguEmulator.simulateBoot(
      { script: null, config: null, firmware: new Uint8Array([1]) },
      {
        desired: { script_user: url, script_user_ver: A },
        fetch: async () => {
          throw new Error('CoAP 4.04');
        },
        firmwareVersion: '1',
      },
    );
    expect(isOtaError(boot.error, 'DOWNLOAD')).toBe(true);
    expect(boot.error?.message).toContain('files.example.com');
    expect(boot.error?.message).not.toMatch(/hunter2|s3cr3t/);
  });
});
