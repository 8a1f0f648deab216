import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createUpdateMachine,
  exosite,
  type InboundMessage,
  isOtaError,
  manifestIntegrity,
  redactHeaders,
  type UpdateState,
  type UpdateStatus,
  UpdateStatusSchema,
  type WireMessage,
} from '../../../src/index.js';
import fixture from '../contract-fixtures/exosite.js';

const { protocol } = exosite;
const TOKEN = 'f3b2c1d0e9a8f7b6c5d4e3f2a1b0c9d8e7f6a5b4';
const PID = 'd1zzd6dflnt50000';
const ORIGIN = `https://${PID}.m2.exosite.io`;
const STATE_PATH = `/api:1/service/${PID}/device2/identity/sensor-0042/state`;
const http: exosite.Target = { productId: PID, identity: 'sensor-0042', transport: 'http', token: TOKEN };
const mqtt: exosite.Target = { productId: PID, identity: 'sensor-0042', transport: 'mqtt' };
const FORM = 'application/x-www-form-urlencoded; charset=utf-8';

const E3_MANIFEST = {
  version: '1.0.2',
  name: 'Firmware update',
  description: 'firmware package updated',
  type: 'URL_LIST',
  payload: ['firmware_updatev102.txt'],
};
const E3_VALUE = JSON.stringify(E3_MANIFEST);
// The body of E3 as the server sends it: the manifest string, percent-encoded in a form.
const E3_BODY = `config_otau=${encodeURIComponent(E3_VALUE)}`;

function pollAnswer(status: number, payload = ''): InboundMessage {
  return { address: `${ORIGIN}/onep:v1/stack/alias?config_otau`, status, payload };
}

function change(value: string | Uint8Array, alias = 'config_otau'): InboundMessage {
  return { address: `$resource/${alias}/1526046488000000`, payload: value };
}

function stateAnswer(reported: string, timestamp = 1_526_046_488_000_000): InboundMessage {
  return { address: STATE_PATH, status: 200, payload: JSON.stringify({ otau_in: { reported, timestamp } }) };
}

function manifestError(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (isOtaError(error, 'MANIFEST_INVALID')) return error;
    throw error;
  }
  throw new Error('expected a MANIFEST_INVALID error');
}

function status(state: UpdateState, extra: Partial<UpdateStatus> = {}): UpdateStatus {
  return {
    machineId: 'sensor-0042',
    updateId: '1.0.2',
    version: '1.0.2',
    state,
    previous: null,
    at: '2024-05-01T00:00:00.000Z',
    ...extra,
  };
}

describe('exosite.protocol: identity and target', () => {
  it('carries the descriptor, the target schema and the wire schemas', () => {
    expect(protocol.name).toBe('exosite');
    expect(protocol.integrity).toBe('none');
    expect(protocol.secrets.headers).toContain('x-exosite-cik');
    expect(protocol.statusMapping.fromCanonical.downloading).toBe('DOWNLOAD');
    expect(Object.keys(protocol.jsonSchemas)).toEqual(['manifest', 'status', 'batch']);
    expect(protocol.targetSchema.parse(http)).toEqual(http);
  });

  it('names the failing field of a bad target, never the token', () => {
    const bad = { ...http, token: `${TOKEN} injected\r\nX: y`, productId: 'Not-A-Pid' };
    const error = manifestError(() => protocol.device.orderSources(bad));
    expect(error.message).toMatch(/productId/);
    expect(error.message).toMatch(/token/);
    expect(error.message).not.toContain(TOKEN);
    const coap = { ...mqtt, transport: 'coap' } as unknown as exosite.Target;
    expect(manifestError(() => protocol.cloud.statusSources(coap)).issues).toEqual([
      { path: 'transport', expected: 'one of "http", "mqtt"' },
    ]);
    // The schema itself, for configuration files: zod's result names the same path.
    expect(protocol.targetSchema.safeParse(coap).error?.issues[0]?.path).toEqual(['transport']);
  });

  it('needs the token for the http transport only', () => {
    const { token: _token, ...noToken } = http;
    expect(manifestError(() => protocol.device.orderSources(noToken)).message).toMatch(/token/);
    expect(protocol.device.orderSources(mqtt)).toEqual([{ channel: 'mqtt', filter: '$resource/#' }]);
    // The cloud side needs no device token.
    expect(protocol.cloud.statusSources(noToken)).toHaveLength(1);
  });
});

describe('exosite.protocol.device: orders (test vectors)', () => {
  it('E2: the order source is the long poll on config_otau; a 304 is no order', () => {
    expect(protocol.device.orderSources(http)).toEqual([
      {
        channel: 'http',
        request: {
          channel: 'http',
          address: `${ORIGIN}/onep:v1/stack/alias?config_otau`,
          method: 'GET',
          payload: '',
          headers: { 'x-exosite-cik': TOKEN, accept: FORM, 'request-timeout': '30000' },
        },
      },
    ]);
    const [source] = protocol.device.orderSources({ ...http, longPollTimeoutMs: 300_000 });
    expect(source?.channel === 'http' && source.request.headers?.['request-timeout']).toBe('300000');
    expect(protocol.device.decodeOrder(pollAnswer(304), { target: http })).toEqual({ value: null, lost: [] });
    expect(protocol.device.decodeOrder(pollAnswer(204), { target: http }).value).toBeNull();
  });

  it('E3/E4: a long poll answer decodes to the manifest; content ids download through the content API', () => {
    const { value, lost } = protocol.device.decodeOrder(pollAnswer(200, E3_BODY), { target: http });
    expect(value).toMatchObject({
      id: '1.0.2',
      version: '1.0.2',
      artifacts: [
        {
          url: `${ORIGIN}/provision/download?vendor=${PID}&model=${PID}&id=firmware_updatev102.txt`,
          name: 'firmware_updatev102.txt',
        },
      ],
    });
    expect(manifestIntegrity(value!)).toBe('none');
    expect(lost.map((loss) => loss.field)).toEqual(['artifacts']);
  });

  it('E3: the acknowledgement writes the identical string back to config_otau', () => {
    const [ack, ...rest] = exosite.acknowledgeOrder(pollAnswer(200, E3_BODY), http);
    expect(rest).toEqual([]);
    expect(ack).toEqual({
      channel: 'http',
      address: `${ORIGIN}/onep:v1/stack/alias`,
      method: 'POST',
      payload: exosite.encodeForm({ config_otau: E3_VALUE }),
      headers: { 'x-exosite-cik': TOKEN, 'content-type': FORM },
    });
    expect(exosite.decodeForm(ack!.payload).config_otau).toBe(E3_VALUE);
    // Nothing arrived, nothing to acknowledge.
    expect(exosite.acknowledgeOrder(pollAnswer(304), http)).toEqual([]);
  });

  it('E5: two absolute URLs become two artifacts, downloaded directly', () => {
    const value = JSON.stringify({
      version: '08-14-2021',
      name: 'Two files',
      type: 'URL_LIST',
      payload: ['https://mycontentserver.com/file1', 'https://mycontentserver.com/file2'],
    });
    const manifest = protocol.device.decodeOrder(change(value), { target: mqtt }).value;
    expect(manifest?.artifacts.map((artifact) => artifact.url)).toEqual([
      'https://mycontentserver.com/file1',
      'https://mycontentserver.com/file2',
    ]);
  });

  it('E7: a FILE manifest is one download', () => {
    const value = JSON.stringify({
      version: '3',
      name: 'exe',
      type: 'FILE',
      payload: 'https://www.example.com/otau.exe',
    });
    const manifest = protocol.device.decodeOrder(change(value), { target: mqtt }).value;
    expect(manifest?.artifacts).toEqual([
      { url: 'https://www.example.com/otau.exe', target: 'file', name: 'otau.exe' },
    ]);
  });

  it('E8: a JSON manifest downloads nothing; the object is kept for the handler', () => {
    const payload = { mode: 'eco', interval: 60 };
    const value = JSON.stringify({ version: '4', name: 'settings', type: 'JSON', payload });
    const manifest = protocol.device.decodeOrder(change(value), { target: mqtt }).value!;
    expect(manifest.artifacts[0]?.url.startsWith('data:application/json,')).toBe(true);
    expect(manifest.extensions?.exosite).toMatchObject({ type: 'JSON', payload });
  });

  it('E9/E10: an unknown type or a missing version or name is refused, naming the field', () => {
    const zip = manifestError(() =>
      protocol.device.decodeOrder(change(JSON.stringify({ ...E3_MANIFEST, type: 'ZIP' })), { target: mqtt }),
    );
    expect(zip.message).toMatch(/type.*URL_LIST/);
    for (const field of ['version', 'name'] as const) {
      const { [field]: _dropped, ...rest } = E3_MANIFEST;
      const error = manifestError(() =>
        protocol.device.decodeOrder(change(JSON.stringify(rest)), { target: mqtt }),
      );
      expect(error.issues.map((issue) => issue.path)).toEqual([field]);
    }
  });

  it('E11: an MQTT change on $resource/config_otau/<timestamp> decodes; the ack republishes the same payload', () => {
    const bytes = new TextEncoder().encode(E3_VALUE);
    const { value } = protocol.device.decodeOrder(change(bytes), { target: mqtt });
    expect(value?.version).toBe('1.0.2');
    expect(exosite.acknowledgeOrder(change(bytes), mqtt)).toEqual([
      { channel: 'mqtt', address: '$resource/config_otau', payload: E3_VALUE },
    ]);
    // Other resources' changes are not orders, and are not acknowledged here.
    expect(protocol.device.decodeOrder(change('21.5', 'data_out'), { target: mqtt }).value).toBeNull();
    expect(exosite.acknowledgeOrder(change('21.5', 'data_out'), mqtt)).toEqual([]);
  });

  it('E13: the same manifest delivered again is no order once that version is committed', () => {
    const current = { id: '1.0.2', version: '1.0.2' };
    expect(protocol.device.decodeOrder(change(E3_VALUE), { target: mqtt, current }).value).toBeNull();
    const other = { id: '1.0.1', version: '1.0.1' };
    expect(
      protocol.device.decodeOrder(change(E3_VALUE), { target: mqtt, current: other }).value,
    ).not.toBeNull();
    // Still validated first: a broken manifest is refused whatever is installed.
    manifestError(() =>
      protocol.device.decodeOrder(change('{"version":"1.0.2"}'), { target: mqtt, current }),
    );
  });

  it('an empty config_otau (the order withdrawn) is no order, on both transports', () => {
    expect(protocol.device.decodeOrder(change(''), { target: mqtt }).value).toBeNull();
    expect(protocol.device.decodeOrder(pollAnswer(200, 'config_otau='), { target: http }).value).toBeNull();
  });

  it('refuses a topic that is not a resource topic, and reports a rejected token as a transport error', () => {
    const error = manifestError(() =>
      protocol.device.decodeOrder({ address: 'devices/x/ota', payload: E3_VALUE }, { target: mqtt }),
    );
    expect(error.issues[0]?.path).toBe('address');
    expect(() => protocol.device.decodeOrder(pollAnswer(401), { target: http })).toThrow(
      expect.objectContaining({ code: 'TRANSPORT', retryable: false }),
    );
  });
});

describe('exosite.protocol.device: statuses (test vectors)', () => {
  it('E1: the boot report writes INSTALLED_VERSION to otau_in', () => {
    const [message] = protocol.device.bootReport(
      { id: '2.0.5-stable', version: '2.0.5-stable' },
      { target: http },
    );
    expect(message).toMatchObject({
      channel: 'http',
      address: `${ORIGIN}/onep:v1/stack/alias`,
      method: 'POST',
      headers: { 'x-exosite-cik': TOKEN, 'content-type': FORM },
    });
    expect(JSON.parse(exosite.decodeForm(message!.payload).otau_in!)).toEqual({
      version: '2.0.5-stable',
      status: 'INSTALLED_VERSION',
      message: '',
    });
    expect(protocol.device.bootReport(null, { target: http })).toEqual([]);
  });

  it('E12: an MQTT status is published to $resource/otau_in', () => {
    expect(protocol.device.encodeStatus(status('downloading'), { target: mqtt })).toEqual([
      {
        channel: 'mqtt',
        address: '$resource/otau_in',
        payload: '{"version":"1.0.2","status":"DOWNLOAD","message":""}',
      },
    ]);
  });

  it('E5: a repeated state is the phase step', () => {
    const [message] = protocol.device.encodeStatus(status('downloading', { previous: 'downloading' }), {
      target: mqtt,
    });
    expect(JSON.parse(message!.payload)).toMatchObject({ version: '1.0.2', status: 'DOWNLOAD_STEP' });
  });

  it('E6: a failed check carries the reason', () => {
    const reason = 'Not enough memory (required: 1024MB, available: 512MB).';
    const failed = status('check_failed', {
      updateId: '1.2.4',
      version: '1.2.4',
      error: { name: 'OtaError', code: 'CHECK', message: reason, retryable: false },
    });
    const [message] = protocol.device.encodeStatus(failed, { target: mqtt });
    expect(JSON.parse(message!.payload)).toEqual({ version: '1.2.4', status: 'TEST_ERROR', message: reason });
  });

  it('says nothing for the states Exosite has no word for', () => {
    for (const state of ['checking', 'verifying', 'rolling_back'] as const) {
      expect(protocol.device.encodeStatus(status(state), { target: http })).toEqual([]);
    }
  });

  it('refuses a malformed status with MANIFEST_INVALID', () => {
    manifestError(() =>
      protocol.device.encodeStatus({ ...status('installing'), state: 'done' as never }, { target: mqtt }),
    );
  });
});

describe('exosite.protocol.cloud', () => {
  it('orders by writing config_otau through the device state API (E3 round trip)', () => {
    const { value: canonical } = protocol.device.decodeOrder(pollAnswer(200, E3_BODY), { target: http });
    const { value: messages, lost } = protocol.cloud.encodeOrder(canonical!, mqtt);
    expect(lost).toEqual([]);
    expect(messages).toHaveLength(1);
    const [order] = messages;
    expect(order).toMatchObject({
      channel: 'http',
      address: STATE_PATH,
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
    });
    const written = JSON.parse(order!.payload) as { config_otau: string };
    expect(Object.keys(written)).toEqual(['config_otau']);
    expect(JSON.parse(written.config_otau)).toEqual(E3_MANIFEST);
  });

  it('says what the manifest could not carry', () => {
    const { lost } = protocol.cloud.encodeOrder(
      {
        id: 'rollout-7',
        version: '2.0.0',
        artifacts: [{ url: 'https://cdn.example/fw.bin', target: 'firmware', sha256: 'a'.repeat(64) }],
        expiresAt: '2030-01-01T00:00:00Z',
      },
      mqtt,
    );
    expect(lost.map((loss) => loss.field)).toEqual(['id', 'artifacts[0].sha256', 'expiresAt']);
  });

  it('refuses a manifest it cannot express', () => {
    const error = manifestError(() =>
      protocol.cloud.encodeOrder(
        { id: '1', version: '1', artifacts: [{ url: 'ftp://host/fw', target: 'firmware' }] },
        mqtt,
      ),
    );
    expect(error.issues[0]?.path).toBe('artifacts[0].url');
  });

  it('withdraws by writing an empty config_otau, which the device reads as no order', () => {
    const withdrawal = protocol.cloud.encodeWithdrawal(http);
    expect(withdrawal).toEqual([
      {
        channel: 'http',
        address: STATE_PATH,
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        payload: '{"config_otau":""}',
      },
    ]);
    for (const inbound of fixture.deliverOrder(withdrawal, http)) {
      expect(protocol.device.decodeOrder(inbound, { target: http }).value).toBeNull();
    }
  });

  it('polls the device state for statuses', () => {
    expect(protocol.cloud.statusSources(mqtt)).toEqual([
      {
        channel: 'http',
        request: {
          channel: 'http',
          address: STATE_PATH,
          method: 'GET',
          headers: { accept: 'application/json' },
          payload: '',
        },
      },
    ]);
  });

  const context = { target: mqtt, machineId: 'sensor-0042', at: '2024-05-01T00:00:00.000Z' };
  const following = { state: 'downloading' as const, update: { id: 'rollout-7', version: '08-14-2021' } };

  it('E1: INSTALLED_VERSION with no update followed is the boot report (idle)', () => {
    const decoded = protocol.cloud.decodeStatus(
      stateAnswer('{"version":"2.0.5-stable","status":"INSTALLED_VERSION","message":""}'),
      context,
    );
    expect(decoded).toEqual({
      machineId: 'sensor-0042',
      updateId: null,
      version: '2.0.5-stable',
      state: 'idle',
      previous: null,
      at: '2018-05-11T13:48:08.000Z',
    });
  });

  it('E5/E12: DOWNLOAD and DOWNLOAD_STEP are downloading, with the tracked update id', () => {
    for (const word of ['DOWNLOAD', 'DOWNLOAD_STEP']) {
      const decoded = protocol.cloud.decodeStatus(
        { address: '$resource/otau_in', payload: `{"version":"08-14-2021","status":"${word}","message":""}` },
        { ...context, previous: following },
      );
      expect(decoded).toMatchObject({
        state: 'downloading',
        updateId: 'rollout-7',
        version: '08-14-2021',
        previous: 'downloading',
        at: context.at,
      });
    }
  });

  it('E6: TEST_ERROR is check_failed, with the device message as the error', () => {
    const form = exosite.encodeForm({
      otau_in: JSON.stringify({
        version: '1.2.4',
        status: 'TEST_ERROR',
        message: 'Not enough memory (required: 1024MB, available: 512MB).',
      }),
    });
    const decoded = protocol.cloud.decodeStatus(
      { address: `${ORIGIN}/onep:v1/stack/alias`, payload: form },
      context,
    );
    expect(decoded).toMatchObject({
      state: 'check_failed',
      updateId: '1.2.4',
      error: {
        code: 'CHECK',
        message: 'Not enough memory (required: 1024MB, available: 512MB).',
      },
    });
  });

  it('reads the latest otau_in of a $resource.batch', () => {
    const batch = exosite.encodeBatch([
      { timestamp: 2_000_000, values: { otau_in: '{"version":"1","status":"INSTALL","message":""}' } },
      { timestamp: 1_000_000, values: { otau_in: '{"version":"1","status":"DOWNLOAD","message":""}' } },
      { timestamp: 3_000_000, values: { temperature: '21.5' } },
    ]);
    const decoded = protocol.cloud.decodeStatus({ address: '$resource.batch', payload: batch }, context);
    expect(decoded).toMatchObject({ state: 'installing', at: '1970-01-01T00:00:02.000Z' });
  });

  it('returns null for what is not a status', () => {
    const notStatuses: InboundMessage[] = [
      { address: '$resource/config_otau', payload: E3_VALUE },
      { address: STATE_PATH, status: 200, payload: '{"config_otau":{"set":"x"}}' },
      { address: STATE_PATH, status: 200, payload: '{"otau_in":{"timestamp":1}}' },
      { address: STATE_PATH, status: 204, payload: '' },
      stateAnswer(''),
      { address: '$resource/otau_in', payload: '' },
    ];
    for (const message of notStatuses) expect(protocol.cloud.decodeStatus(message, context)).toBeNull();
  });

  it('refuses a status word outside the 15, and an address it does not know', () => {
    const error = manifestError(() =>
      protocol.cloud.decodeStatus(stateAnswer('{"version":"1","status":"DONE"}'), context),
    );
    expect(error.issues[0]?.path).toBe('status');
    expect(
      manifestError(() => protocol.cloud.decodeStatus({ address: 'x/y', payload: '{}' }, context)).issues[0]
        ?.path,
    ).toBe('address');
  });
});

/** Drives one update through device → (Murano, played by the fixture) → cloud → tracker. */
async function follow(target: exosite.Target, states: UpdateState[]) {
  const tracker = createUpdateMachine({ id: 'sensor-0042', role: 'tracker' });
  const ingest = async (messages: WireMessage[]) => {
    for (const inbound of fixture.deliverStatus(messages, target)) {
      const snapshot = tracker.snapshot();
      const decoded = protocol.cloud.decodeStatus(inbound, {
        target,
        machineId: 'sensor-0042',
        previous: { state: snapshot.state, update: snapshot.update },
      });
      expect(decoded).not.toBeNull();
      expect(UpdateStatusSchema.parse(decoded)).toEqual(decoded);
      const result = await tracker.ingest(decoded);
      expect(result.accepted, JSON.stringify(result)).toBe(true);
    }
  };
  // At boot the device names what it runs: the tracker reads it as idle.
  await ingest(protocol.device.bootReport({ id: '1.0.1', version: '1.0.1' }, { target }));
  expect(tracker.state).toBe('idle');
  let previous: UpdateState | null = 'idle';
  for (const state of states) {
    const error =
      state === 'download_failed'
        ? { name: 'TransportError', code: 'TRANSPORT' as const, message: 'HTTP 404', retryable: false }
        : undefined;
    const reported = status(state, { previous, ...(error === undefined ? {} : { error }) });
    await ingest(protocol.device.encodeStatus(reported, { target }));
    previous = state;
  }
  return tracker;
}

describe('exosite.protocol: a whole update, device to tracker', () => {
  const happy: UpdateState[] = [
    'available',
    'downloading',
    'downloading',
    'downloaded',
    'verifying',
    'installing',
    'installed',
    'committed',
  ];

  for (const target of [http, mqtt]) {
    it(`ends committed (${target.transport})`, async () => {
      const tracker = await follow(target, happy);
      expect(tracker.state).toBe('committed');
      expect(tracker.snapshot().current).toEqual({ id: '1.0.2', version: '1.0.2' });
    });
  }

  it('ends download_failed with the device reason when a download fails', async () => {
    const tracker = await follow(http, ['available', 'downloading', 'download_failed']);
    expect(tracker.state).toBe('download_failed');
    expect(tracker.snapshot().lastError).toMatchObject({ code: 'DOWNLOAD', message: 'HTTP 404' });
  });

  it('ends canceled when the device aborts before installing', async () => {
    const tracker = await follow(mqtt, ['available', 'downloading', 'canceled']);
    expect(tracker.state).toBe('canceled');
  });

  it('ends install_failed when the install fails', async () => {
    const tracker = await follow(mqtt, [
      'available',
      'downloading',
      'downloaded',
      'installing',
      'install_failed',
    ]);
    expect(tracker.state).toBe('install_failed');
  });
});

describe('exosite contract fixture', () => {
  for (const target of [http, mqtt]) {
    it(`carries the manifest's URLs and version from cloud to device (${target.transport})`, () => {
      const { value: messages } = protocol.cloud.encodeOrder(fixture.manifest, target);
      const delivered = fixture.deliverOrder(messages, target);
      expect(delivered).toHaveLength(1);
      const { value } = protocol.device.decodeOrder(delivered[0]!, { target });
      expect(value?.version).toBe('1.0.2');
      expect(value?.artifacts.map((artifact) => artifact.url)).toEqual([
        'https://mycontentserver.com/file1',
        'https://mycontentserver.com/file2',
      ]);
    });
  }

  it('keeps the device token out of every address and redacted header', () => {
    const messages = [
      ...protocol.cloud.encodeOrder(fixture.manifest, fixture.target).value,
      ...protocol.device.encodeStatus(status('installing'), { target: fixture.target }),
      ...protocol.device.bootReport({ id: '1', version: '1' }, { target: fixture.target }),
    ];
    for (const message of messages) {
      expect(message.address).not.toContain(TOKEN);
      expect(message.payload).not.toContain(TOKEN);
      expect(JSON.stringify(redactHeaders({ ...message.headers }))).not.toContain(TOKEN);
    }
  });
});

describe('exosite module hygiene', () => {
  it('imports nothing outside its folder but the contract helpers and core', () => {
    const folder = join(import.meta.dirname, '../../../src/protocols/exosite');
    const allowed =
      /^\.\.\/(contract|conversion|losses|signed-statement|update-status)\.js$|^\.\.\/\.\.\/core\/[a-z-]+\.js$/;
    for (const file of readdirSync(folder).filter((name) => name.endsWith('.ts'))) {
      const source = readFileSync(join(folder, file), 'utf8');
      for (const [, path] of source.matchAll(/^(?:import|export)\b[^;]*?from '([^']+)';/gm)) {
        if (path!.startsWith('./') || path === 'zod') continue;
        // The manifest schema is core data for every codec (as in the other protocol folders).
        if (path === '../../manifest/schema.js') continue;
        expect(path, `${file} imports ${path}`).toMatch(allowed);
      }
    }
  });
});

describe('Exosite decoders name every broken field of a message at once', () => {
  it('decodeOrder and decodeStatus: address, payload and status together', () => {
    const broken = { address: 5, payload: 5, status: 42 } as never;
    for (const run of [
      () => protocol.device.decodeOrder(broken, { target: http }),
      () => protocol.cloud.decodeStatus(broken, { target: http, machineId: 'sensor-0042' }),
    ]) {
      let caught: unknown;
      try {
        run();
      } catch (error) {
        caught = error;
      }
      expect(isOtaError(caught, 'MANIFEST_INVALID')).toBe(true);
      expect((caught as { issues: Array<{ path: string }> }).issues.map((issue) => issue.path)).toEqual([
        'address',
        'payload',
        'status',
      ]);
    }
  });
});
