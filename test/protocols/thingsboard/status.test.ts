/** fw_state mapping, telemetry both ways, topics, secrets and limits. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isOtaError, type ManifestError } from '../../../src/core/errors.js';
import { FAILURE_STATES, UPDATE_STATES, type UpdateState } from '../../../src/core/states.js';
import * as thingsBoard from '../../../src/protocols/thingsboard/index.js';
import { largestInputs, largestOf } from '../../support/cost.js';

const { statusMapping } = thingsBoard;

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('ThingsBoard fw_state mapping', () => {
  it('covers every fw_state and every canonical state', () => {
    expect(Object.keys(statusMapping.toCanonical)).toEqual([...thingsBoard.FW_STATES]);
    expect(Object.keys(statusMapping.fromCanonical).sort()).toEqual([...UPDATE_STATES].sort());
  });

  it('round-trips every fw_state', () => {
    for (const wire of thingsBoard.FW_STATES) {
      const state = statusMapping.toCanonical[wire];
      const back = statusMapping.fromCanonical[state];
      expect(back, wire).not.toBeNull();
      expect(statusMapping.toCanonical[back!], wire).toBe(state);
    }
  });

  it('round-trips every expressible canonical state, with the documented near-equivalents', () => {
    const nearEquivalent: Partial<Record<UpdateState, UpdateState>> = {
      check_failed: 'install_failed',
      download_failed: 'install_failed',
      verify_failed: 'install_failed',
      rolled_back: 'install_failed',
      canceled: 'install_failed',
    };
    for (const state of UPDATE_STATES) {
      const wire = statusMapping.fromCanonical[state];
      if (wire === null) {
        expect(statusMapping.notes?.[state], state).toBeTruthy();
        continue;
      }
      expect(statusMapping.toCanonical[wire], state).toBe(nearEquivalent[state] ?? state);
      if (nearEquivalent[state]) expect(statusMapping.notes?.[state], state).toMatch(/FAILED/);
    }
    expect(UPDATE_STATES.filter((state) => statusMapping.fromCanonical[state] === null)).toEqual([
      'idle',
      'checking',
      'verifying',
      'installed',
      'rolling_back',
    ]);
  });

  it('recovers the exact failure state through fw_error, for every failure', () => {
    for (const state of FAILURE_STATES) {
      const error = {
        name: 'OtaError',
        code: 'DOWNLOAD' as const,
        message: 'HTTP 503: x: y',
        retryable: true,
      };
      const [message] = thingsBoard.statusToTelemetry({
        state,
        previous: 'downloading',
        version: '1',
        error,
      });
      expect(message).toEqual({ fw_state: 'FAILED', fw_error: `${state}: DOWNLOAD: HTTP 503: x: y` });
      expect(thingsBoard.telemetryToStatus(message!)).toEqual({
        fwState: 'FAILED',
        state,
        error: { name: 'OtaError', code: 'DOWNLOAD', message: 'HTTP 503: x: y', retryable: false },
        current: null,
      });
    }
  });
});

describe('ThingsBoard telemetry', () => {
  it('writes software states under sw_* keys', () => {
    expect(
      thingsBoard.statusToTelemetry(
        { state: 'committed', previous: 'installed', version: '3' },
        { type: 'software', title: 'app' },
      ),
    ).toEqual([{ current_sw_title: 'app', current_sw_version: '3', sw_state: 'UPDATED' }]);
    expect(
      thingsBoard.statusToTelemetry(
        { state: 'canceled', previous: 'downloading', version: null },
        { type: 'software' },
      ),
    ).toEqual([{ sw_state: 'FAILED', sw_error: 'canceled' }]);
    expect(thingsBoard.currentTelemetry({ title: 'Initial', version: 'v0' })).toEqual({
      current_fw_title: 'Initial',
      current_fw_version: 'v0',
    });
  });

  it('says nothing for states ThingsBoard has no value for', () => {
    for (const state of ['idle', 'checking', 'verifying', 'installed', 'rolling_back'] as const) {
      expect(thingsBoard.statusToTelemetry({ state, previous: null, version: '1' }), state).toEqual([]);
    }
  });

  it('cuts a long fw_error to the documented limit', () => {
    const error = { name: 'OtaError', code: 'INSTALL' as const, message: 'x'.repeat(5000), retryable: false };
    const text = thingsBoard.formatFwError('install_failed', error);
    expect(text).toHaveLength(thingsBoard.LIMITS.errorLength);
    expect(text.endsWith('…')).toBe(true);
    expect(thingsBoard.parseFwError(text)).toMatchObject({ state: 'install_failed', code: 'INSTALL' });
    expect(thingsBoard.parseFwError('download_failed: NOT_A_CODE: m')).toEqual({
      state: 'download_failed',
      message: 'NOT_A_CODE: m',
    });
    expect(thingsBoard.parseFwError('Unable to download firmware')).toEqual({
      message: 'Unable to download firmware',
    });
  });

  it('decodes every telemetry form and reads a boot report', () => {
    const entries = thingsBoard.decodeTelemetry(
      '[{"current_fw_title":"Initial","current_fw_version":"v0"},{"ts":1451649600512,"values":{"fw_state":"DOWNLOADING","temperature":42}}]',
    );
    expect(entries).toEqual([
      { values: { current_fw_title: 'Initial', current_fw_version: 'v0' } },
      { ts: 1451649600512, values: { fw_state: 'DOWNLOADING', temperature: 42 } },
    ]);
    expect(thingsBoard.telemetryToStatus(entries[0]!.values)).toEqual({
      fwState: null,
      state: null,
      error: null,
      current: { title: 'Initial', version: 'v0' },
    });
    expect(thingsBoard.telemetryToStatus(entries[1]!.values, { type: 'software' })).toBeNull();
    expect(thingsBoard.telemetryToStatus({ temperature: 1 })).toBeNull();
  });

  it('names the bad path in every form, without echoing values', () => {
    const error = thrown(() =>
      thingsBoard.decodeTelemetry(
        '[{"fw_state":"CHECKSUM ERROR"},{"ts":-1,"values":{}},{"ts":1,"values":{"sw_state":1}}]',
      ),
    ) as ManifestError;
    expect(error.issues.map((issue) => issue.path)).toEqual([
      '[0].fw_state',
      '[1].ts',
      '[2].values.sw_state',
    ]);
    expect(error.message).not.toContain('CHECKSUM ERROR');
  });
});

describe('ThingsBoard topics', () => {
  it('builds and parses the MQTT topics of the device API', () => {
    expect(thingsBoard.ATTRIBUTES_TOPIC).toBe('v1/devices/me/attributes');
    expect(thingsBoard.TELEMETRY_TOPIC).toBe('v1/devices/me/telemetry');
    expect(thingsBoard.ATTRIBUTE_RESPONSE_SUBSCRIPTION).toBe('v1/devices/me/attributes/response/+');
    expect(thingsBoard.attributeRequestTopic(1)).toBe('v1/devices/me/attributes/request/1');
    expect(thingsBoard.parseAttributeResponseTopic('v1/devices/me/attributes/response/17')).toBe(17);
    expect(thingsBoard.parseAttributeResponseTopic('v1/devices/me/attributes/response/x')).toBeUndefined();
    expect(
      thingsBoard.parseAttributeResponseTopic('v1/devices/me/attributes/response/2147483648'),
    ).toBeUndefined();
    expect(thingsBoard.chunkResponseSubscription()).toBe('v2/fw/response/+/chunk/+');
    expect(thingsBoard.chunkErrorTopic('software')).toBe('v2/sw/error');
    expect(thingsBoard.chunkRequestTopic(3, 0)).toBe('v2/fw/request/3/chunk/0');
    expect(thingsBoard.parseChunkTopic('v2/sw/response/3/chunk/12')).toEqual({
      type: 'software',
      direction: 'response',
      requestId: 3,
      chunk: 12,
    });
    for (const bad of [
      'v2/fw/response/3/chunk',
      'v2/xx/response/1/chunk/1',
      'v2/fw/response/-1/chunk/1',
      'v2/fw/response/1/chunk/1/x',
    ]) {
      expect(thingsBoard.parseChunkTopic(bad), bad).toBeUndefined();
    }
    expect(
      isOtaError(
        thrown(() => thingsBoard.chunkRequestTopic(-1, 0)),
        'CONFIG',
      ),
    ).toBe(true);
    expect(
      isOtaError(
        thrown(() => thingsBoard.attributeRequestTopic(1.5)),
        'CONFIG',
      ),
    ).toBe(true);
  });

  it('encodes chunk requests as ThingsBoard parses them', () => {
    expect(thingsBoard.encodeChunkRequest(16384)).toBe('16384');
    expect(thingsBoard.encodeChunkRequest()).toBe('');
    expect(thingsBoard.decodeChunkRequest('16384')).toBe(16384);
    expect(thingsBoard.decodeChunkRequest(new TextEncoder().encode('512'))).toBe(512);
    expect(thingsBoard.decodeChunkRequest('')).toBe(0);
    expect(thingsBoard.decodeChunkRequest('12a')).toBeUndefined();
    expect(thingsBoard.decodeChunkRequest('9'.repeat(11))).toBeUndefined();
  });

  it('builds the HTTP firmware URL with an escaped query', () => {
    expect(
      thingsBoard.firmwareUrl({
        baseUrl: 'https://tb.example.com/',
        token: 'A1b2C3',
        title: 'temp prod',
        version: '1.1&x',
        size: 16384,
        chunk: 1,
      }),
    ).toBe(
      'https://tb.example.com/api/v1/A1b2C3/firmware?title=temp+prod&version=1.1%26x&size=16384&chunk=1',
    );
    expect(
      thingsBoard.firmwareUrl({
        baseUrl: 'http://tb',
        token: 't',
        type: 'software',
        title: 'a',
        version: '1',
      }),
    ).toBe('http://tb/api/v1/t/software?title=a&version=1');
  });
});

describe('ThingsBoard secrets', () => {
  const TOKEN = 'S3cr3tT0k3n';

  it('never puts the device token in an error, and redacts it from URLs', () => {
    for (const token of [`${TOKEN}/x`, `${TOKEN} `, `${TOKEN}?`, `${TOKEN}\n`]) {
      const error = thrown(() =>
        thingsBoard.firmwareUrl({ baseUrl: 'https://tb', token, title: 'a', version: '1' }),
      );
      expect(isOtaError(error, 'CONFIG')).toBe(true);
      expect(JSON.stringify(error) + String(error)).not.toContain(TOKEN);
    }
    const url = thingsBoard.firmwareUrl({ baseUrl: 'https://tb', token: TOKEN, title: 'a', version: '1' });
    expect(thingsBoard.redactFirmwareUrl(url)).toBe('https://tb/api/v1/***/firmware?title=a&version=1');
    expect(
      thingsBoard.toCanonical({
        fw_title: 'a',
        fw_version: '1',
        fw_size: 1,
        fw_checksum_algorithm: 'CRC32',
        fw_checksum: 'deadbeef',
      }).value.artifacts[0]?.url,
    ).not.toContain('api/v1');
  });

  it('does not echo a rejected URL or value in a decode error', () => {
    const error = thrown(() =>
      thingsBoard.decodeAttributes({
        fw_url: `ftp://user:${TOKEN}@cdn.example/f?token=${TOKEN}`,
        fw_title: `\u0000${TOKEN}`,
      }),
    ) as ManifestError;
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(['fw_title', 'fw_url']);
    expect(JSON.stringify(error.issues) + error.message).not.toContain(TOKEN);
  });
});

describe('ThingsBoard limits', () => {
  const TEN_MB = 10 * 1024 * 1024;

  it('rejects 10 MB attribute, response and telemetry messages without parsing them', async () => {
    const big = `{"fw_title":"${'x'.repeat(TEN_MB)}"}`;
    const bytes = new TextEncoder().encode(big);
    const decoders = [
      [thingsBoard.decodeAttributes, thingsBoard.LIMITS.attributesBytes],
      [thingsBoard.decodeAttributeResponse, thingsBoard.LIMITS.attributesBytes],
      [thingsBoard.decodeTelemetry, thingsBoard.LIMITS.telemetryBytes],
    ] as const;
    for (const [decode, limit] of decoders) {
      for (const input of [big, bytes]) {
        let error: ManifestError | undefined;
        const examined = await largestInputs(() => {
          error = thrown(() => decode(input)) as ManifestError;
        });
        expect(error?.issues).toEqual([{ path: '', expected: `at most ${limit} bytes` }]);
        // Never decoded, parsed or scanned: the size is checked first.
        expect(largestOf(examined)).toBeLessThanOrEqual(limit);
      }
    }
  });

  it('caps array telemetry entries and text lengths', () => {
    const many = JSON.stringify(Array.from({ length: thingsBoard.LIMITS.telemetryEntries + 1 }, () => ({})));
    expect((thrown(() => thingsBoard.decodeTelemetry(many)) as ManifestError).issues).toEqual([
      { path: '', expected: `at most ${thingsBoard.LIMITS.telemetryEntries} entries` },
    ]);
    const long = { fw_title: 'x'.repeat(256) };
    expect(
      (thrown(() => thingsBoard.decodeAttributes(long)) as ManifestError).issues.map((issue) => issue.path),
    ).toEqual(['fw_title']);
  });
});

describe('ThingsBoard module hygiene', () => {
  // Outside its folder: the shared protocol vocabulary, the core, and the canonical manifest it converts to.
  it('is browser-safe and imports no other protocol', () => {
    const dir = join(import.meta.dirname, '../../../src/protocols/thingsboard');
    for (const file of readdirSync(dir)) {
      const source = readFileSync(join(dir, file), 'utf8');
      expect(source, file).not.toMatch(
        /from '(node:|mqtt)|\bBuffer\.|from '\.\.\/(?!(?:conversion|contract|losses|signed-statement|update-status)\.js'|\.\.\/(?:core|manifest)\/)[^']*'/,
      );
    }
  });
});
