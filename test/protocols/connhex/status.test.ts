import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  createUpdateMachine,
  UPDATE_STATES,
  type UpdateState,
  UpdateStatusSchema,
} from '../../../src/index.js';
import * as connhex from '../../../src/protocols/connhex/index.js';
import { CONTROL_CHARACTER } from '../../../src/protocols/connhex/text.js';
import { largestInputs, largestOf } from '../../support/cost.js';
import { AT, manifestError, onlyTypedErrors } from './support.js';

const { statusMapping } = connhex;

describe('status mapping (docs/protocols/connhex.md)', () => {
  it('maps all nine wire words, each to a distinct canonical state', () => {
    expect(Object.keys(statusMapping.toCanonical).sort()).toEqual([...connhex.OTA_STATUSES].sort());
    expect(new Set(Object.values(statusMapping.toCanonical)).size).toBe(9);
    expect(Object.keys(statusMapping.fromCanonical).sort()).toEqual([...UPDATE_STATES].sort());
  });

  it.each(connhex.OTA_STATUSES.map((word) => [word]))('round trip of wire word %s', (word) => {
    const state = statusMapping.toCanonical[word];
    const back = statusMapping.fromCanonical[state];
    expect(back).toBe(word);
    expect(statusMapping.toCanonical[back!]).toBe(state);
  });

  it.each(UPDATE_STATES.map((state) => [state]))('canonical state %s reads back as documented', (state) => {
    const word = statusMapping.fromCanonical[state];
    if (word === null) {
      expect(statusMapping.notes?.[state]).toBeTruthy();
      return;
    }
    expect(statusMapping.toCanonical[word]).toBe(connhex.NEAR_EQUIVALENTS[state] ?? state);
  });

  it('documents exactly these states as inexpressible and these as near-equivalents', () => {
    const none = UPDATE_STATES.filter((state) => statusMapping.fromCanonical[state] === null);
    expect(none).toEqual(['idle', 'verifying', 'installed', 'rolling_back', 'canceled']);
    expect(connhex.NEAR_EQUIVALENTS).toEqual({
      verify_failed: 'download_failed',
      rolled_back: 'install_failed',
    });
  });
});

const message: connhex.StatusMessage = {
  current_version: '0.0.2',
  latest_version: '0.0.3',
  status: 'update_available',
  error: '',
  last_checked: '2025-03-01T10:00:00Z',
};

describe('status payload: decoding', () => {
  it('decodes the documented payload from text, bytes and a parsed value', () => {
    const text = JSON.stringify(message);
    expect(connhex.decodeStatusMessage(text)).toEqual(message);
    expect(connhex.decodeStatusMessage(new TextEncoder().encode(text))).toEqual(message);
    expect(connhex.decodeStatusMessage(message)).toEqual(message);
    // The documented template: every field empty but status.
    expect(
      connhex.decodeStatusMessage(
        '{"current_version":"","latest_version":"","status":"checking","error":"","last_checked":""}',
      ).status,
    ).toBe('checking');
  });

  it('reads missing string fields as empty and ignores unknown keys', () => {
    expect(connhex.decodeStatusMessage('{"status":"updated","extra":1}')).toEqual({
      current_version: '',
      latest_version: '',
      status: 'updated',
      error: '',
      last_checked: '',
    });
  });

  it('names the path and the expectation on bad input, never a raw SyntaxError or ZodError', () => {
    expect(manifestError(() => connhex.decodeStatusMessage('{"status":"done"}')).issues[0]).toEqual({
      path: 'status',
      expected: expect.stringContaining('"update_available"'),
    });
    expect(manifestError(() => connhex.decodeStatusMessage('{')).issues[0]!.expected).toBe('valid JSON');
    expect(
      manifestError(() => connhex.decodeStatusMessage({ ...message, latest_version: 'a\nb' })).issues[0]!
        .path,
    ).toBe('latest_version');
    expect(manifestError(() => connhex.decodeStatusMessage(new Uint8Array([0xff, 0xfe]))).message).toMatch(
      /UTF-8/,
    );
    expect(connhex.safeDecodeStatusMessage('[]').success).toBe(false);
  });

  it('hardened: last_checked must be empty or RFC 3339; strictCompat accepts any short text', () => {
    const odd = { ...message, last_checked: '1709287200' };
    expect(manifestError(() => connhex.decodeStatusMessage(odd)).issues[0]!.path).toBe('last_checked');
    expect(connhex.decodeStatusMessage(odd, { strictCompat: true }).last_checked).toBe('1709287200');
    // Go's RFC3339Nano and zero time both pass.
    for (const at of ['2025-03-01T10:00:00.123456789+01:00', '0001-01-01T00:00:00Z']) {
      expect(connhex.decodeStatusMessage({ ...message, last_checked: at }).last_checked).toBe(at);
    }
  });

  it(`rejects a payload over ${connhex.LIMITS.maxStatusBytes} bytes before parsing (10 MB, never decoded or parsed)`, async () => {
    const huge = JSON.stringify({ ...message, error: 'x'.repeat(10 * 1024 * 1024) });
    const bytes = new TextEncoder().encode(huge);
    const messages: string[] = [];
    const examined = await largestInputs(() => {
      messages.push(manifestError(() => connhex.decodeStatusMessage(huge)).message);
      messages.push(manifestError(() => connhex.decodeStatusMessage(bytes)).message);
    });
    for (const text of messages) expect(text).toMatch(/at most 16384 bytes/);
    expect(largestOf(examined)).toBeLessThanOrEqual(connhex.LIMITS.maxStatusBytes);
  });
});

describe('status payload: encoding', () => {
  it('encodes all five fields in the documented order, with the NATS subject', () => {
    const text = connhex.encodeStatusMessage({ status: 'checking' });
    expect(text).toBe(
      '{"current_version":"","latest_version":"","status":"checking","error":"","last_checked":""}',
    );
    expect(connhex.statusEnvelope(message)).toEqual({
      subject: 'heartbeat.ota.service',
      payload: JSON.stringify(message),
    });
  });

  it('refuses an invalid or oversized message', () => {
    manifestError(() => connhex.encodeStatusMessage({ status: 'nope' as 'updated' }));
    manifestError(() => connhex.encodeStatusMessage({ status: 'update_failed', error: 'x'.repeat(20_000) }));
  });
});

describe('status payload: canonical transitions', () => {
  const context = { currentVersion: '0.0.2' };
  const at = AT;

  it('fills the fields: latest from the update, current becomes the update once committed', () => {
    expect(
      connhex.toWireStatus({ state: 'downloading', previous: 'available', version: '0.0.3', at }, context),
    ).toEqual({
      current_version: '0.0.2',
      latest_version: '0.0.3',
      status: 'downloading',
      error: '',
      last_checked: '',
    });
    expect(
      connhex.toWireStatus(
        { state: 'committed', previous: 'installed', version: '0.0.3', at },
        { ...context, lastChecked: '2025-03-01T09:00:00Z' },
      ),
    ).toEqual({
      current_version: '0.0.3',
      latest_version: '0.0.3',
      status: 'updated',
      error: '',
      last_checked: '2025-03-01T09:00:00Z',
    });
  });

  it('returns null for states Connhex cannot express', () => {
    for (const state of ['idle', 'verifying', 'installed', 'rolling_back'] as const) {
      expect(connhex.toWireStatus({ state, previous: null, version: '1', at }, context)).toBeNull();
    }
  });

  it('reports a canceled update with the failure word of its phase', () => {
    const canceled = (previous: UpdateState | null) =>
      connhex.toWireStatus({ state: 'canceled', previous, version: '0.0.3', at }, context);
    expect(canceled('checking')?.status).toBe('check_failed');
    expect(canceled('downloading')?.status).toBe('download_failed');
    expect(canceled('verifying')?.status).toBe('download_failed');
    expect(canceled('installing')?.status).toBe('update_failed');
    expect(canceled('downloading')?.error).toBe('update canceled');
    expect(canceled(null)).toBeNull();
  });

  it('never broadcasts a credential found in an error message, and bounds its length', () => {
    const error = {
      name: 'TransportError',
      code: 'DOWNLOAD' as const,
      message: 'GET https://dev:hunter2@apis.example.com/iot/ota/x?token=SECRET123 failed\r\nretry',
      retryable: true,
    };
    const wire = connhex.toWireStatus(
      { state: 'download_failed', previous: 'downloading', version: '1', at, error },
      context,
    );
    expect(wire!.error).not.toContain('hunter2');
    expect(wire!.error).not.toContain('SECRET123');
    expect(wire!.error).not.toMatch(/[\r\n]/);
    expect(wire!.error).toContain('token=***');
    const long = connhex.sanitizeErrorText('e'.repeat(10_000));
    expect(long).toHaveLength(connhex.LIMITS.maxErrorLength);
    expect(long.endsWith('…')).toBe(true);
  });

  it('reads updated as committed during an update, and as idle after a check that found nothing', () => {
    const updated = { ...message, status: 'updated' as const, current_version: '0.0.3' };
    expect(connhex.fromWireStatus(updated).state).toBe('committed');
    expect(connhex.fromWireStatus(updated, { previous: 'installing' }).state).toBe('committed');
    expect(connhex.fromWireStatus(updated, { previous: 'downloaded' }).state).toBe('committed');
    expect(connhex.fromWireStatus(updated, { previous: 'checking' }).state).toBe('idle');
    expect(connhex.fromWireStatus(updated, { previous: null }).state).toBe('idle');
    expect(connhex.fromWireStatus(updated, { previous: 'committed' }).state).toBe('idle');
  });

  it('reads a periodic re-check during an update as no news, so a tracker does not refuse it', async () => {
    const checking = { ...message, status: 'checking' as const };
    expect(connhex.fromWireStatus(checking, { previous: 'available' }).state).toBe('available');
    expect(connhex.fromWireStatus(checking, { previous: 'downloading' }).state).toBe('downloading');
    expect(connhex.fromWireStatus(checking, { previous: null }).state).toBe('checking');
    expect(connhex.fromWireStatus(checking, { previous: 'committed' }).state).toBe('checking');
    const tracker = createUpdateMachine({ id: 'edge-1', role: 'tracker' });
    const at = AT;
    for (const status of ['checking', 'update_available', 'checking', 'downloading', 'checking'] as const) {
      const wire = { ...message, status };
      const result = await tracker.ingest(
        connhex.toUpdateStatus(wire, {
          machineId: 'edge-1',
          at,
          previous: tracker.state === 'idle' ? null : tracker.state,
        }),
      );
      expect(result.accepted, `${status} after ${tracker.state}`).toBe(true);
    }
    expect(tracker.state).toBe('downloading');
  });

  it('turns failure words into serialised errors with the phase code', () => {
    const failed = connhex.fromWireStatus({ ...message, status: 'update_failed', error: 'exit 1' });
    expect(failed).toMatchObject({
      state: 'install_failed',
      error: { code: 'INSTALL', message: 'exit 1', retryable: false },
    });
    expect(connhex.fromWireStatus({ ...message, status: 'check_failed' }).error).toMatchObject({
      code: 'CHECK',
      message: 'check failed',
      retryable: true,
    });
    expect(connhex.fromWireStatus(message).error).toBeNull();
  });

  it('builds a valid UpdateStatus for a tracker, with the version as update id', () => {
    const status = connhex.toUpdateStatus(
      { ...message, status: 'downloading' },
      { machineId: 'edge-1', at, previous: 'available' },
    );
    expect(UpdateStatusSchema.parse(status)).toEqual(status);
    expect(status).toMatchObject({ updateId: '0.0.3', version: '0.0.3', state: 'downloading' });
  });

  it('every canonical state survives toWireStatus → fromWireStatus as documented', () => {
    for (const state of UPDATE_STATES) {
      // A check starts from idle (during an update a re-check reads as the update's state).
      const previous: UpdateState | null =
        state === 'canceled' ? 'downloading' : state === 'checking' ? null : 'installing';
      const wire = connhex.toWireStatus({ state, previous, version: '0.0.3', at }, context);
      if (wire === null) continue;
      const back = connhex.fromWireStatus(wire, { previous }).state;
      const expected = state === 'canceled' ? 'download_failed' : (connhex.NEAR_EQUIVALENTS[state] ?? state);
      expect(back, state).toBe(expected);
    }
  });
});

describe('status payload: properties', () => {
  const version = fc.string({ maxLength: 40 }).filter((text) => !CONTROL_CHARACTER.test(text));
  const timestamp = fc.oneof(
    fc.constant(''),
    fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2100-01-01T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((date) => date.toISOString()),
  );
  const valid = fc.record({
    current_version: version,
    latest_version: version,
    status: fc.constantFrom(...connhex.OTA_STATUSES),
    error: fc.string({ maxLength: 200 }),
    last_checked: timestamp,
  });

  it('encode → decode gives the same message (1000 runs)', () => {
    fc.assert(
      fc.property(valid, (value) => {
        expect(connhex.decodeStatusMessage(connhex.encodeStatusMessage(value))).toEqual(value);
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });

  it('arbitrary bytes, text and JSON give a message or a typed error (1000 runs)', () => {
    const shaped = fc.record(
      {
        current_version: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
        status: fc.oneof(fc.constantFrom(...connhex.OTA_STATUSES), fc.string()),
        error: fc.oneof(fc.string(), fc.boolean()),
        last_checked: fc.oneof(fc.string(), fc.constant('')),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string(), fc.jsonValue(), shaped),
        fc.boolean(),
        (input, strictCompat) => {
          onlyTypedErrors(() => connhex.decodeStatusMessage(input, { strictCompat }));
        },
      ),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });

  it('toWireStatus output always decodes back (1000 runs)', () => {
    const status = fc.record({
      state: fc.constantFrom(...UPDATE_STATES),
      previous: fc.oneof(fc.constant(null), fc.constantFrom(...UPDATE_STATES)),
      version: fc.oneof(fc.constant(null), version),
      at: timestamp.filter((text) => text !== ''),
      error: fc.oneof(
        fc.constant(null),
        fc.record({
          name: fc.constant('OtaError'),
          code: fc.constant('INSTALL' as const),
          message: fc.string({ maxLength: 6000 }),
          retryable: fc.boolean(),
        }),
      ),
    });
    fc.assert(
      fc.property(status, version, (value, current) => {
        const wire = connhex.toWireStatus(value, { currentVersion: current });
        if (wire === null) return;
        expect(connhex.decodeStatusMessage(connhex.encodeStatusMessage(wire))).toEqual(wire);
        if (wire.status.endsWith('_failed')) expect(wire.error).not.toBe('');
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });
});

describe('status JSON Schema', () => {
  it('every jsonSchemas entry converts with io: input', () => {
    for (const [name, schema] of Object.entries(connhex.jsonSchemas)) {
      expect(() => z.toJSONSchema(schema, { io: 'input' }), name).not.toThrow();
    }
    const status = z.toJSONSchema(connhex.jsonSchemas.statusMessage!, { io: 'input' }) as unknown as {
      properties: { status: { enum: string[] } };
    };
    expect(status.properties.status.enum).toEqual([...connhex.OTA_STATUSES]);
  });
});
