/**
 * `connhex.protocol` through both sides of the shared contract, with the documented Connhex
 * vectors (C4, C6–C9, C11–C13 and the status template of docs/protocols/connhex.md): the device
 * decodes the `HEAD` response and encodes heartbeats; the cloud publishes releases and decodes
 * heartbeats into statuses a real tracker ingests.
 */
import { describe, expect, it } from 'vitest';
import {
  connhex,
  createUpdateMachine,
  type InboundMessage,
  isOtaError,
  type ManifestInput,
  type StatusDecodeContext,
  type TrackerUpdateMachine,
  type UpdateRef,
  type UpdateState,
  type UpdateStatus,
  type WireMessage,
} from '../../../src/index.js';
import fixture from '../contract-fixtures/connhex.js';
import { AT, manifestError, SHA, SHA_B64 } from './support.js';

const { protocol } = connhex;
const KEY = 'thing-key-SECRET-91';
const target: connhex.Target = { domain: 'example.com', initId: 'dev-42', key: KEY };
const RELEASE_URL = 'https://apis.example.com/iot/ota/dev-42';
const SUBJECT = 'heartbeat.ota.service';
const INSTALLED: UpdateRef = { id: '0.0.2', version: '0.0.2' };

/** The response to the device's HEAD on its release endpoint. */
function head(status: number, headers: Record<string, string> = {}): InboundMessage {
  return { address: RELEASE_URL, payload: '', status, headers };
}

/** A heartbeat as it arrives at the service. */
function heartbeat(fields: Record<string, string>): InboundMessage {
  return {
    address: SUBJECT,
    payload: JSON.stringify({
      current_version: '',
      latest_version: '',
      error: '',
      last_checked: '',
      ...fields,
    }),
  };
}

/** A status as the device machine reports it. */
function status(state: UpdateState, previous: UpdateState | null, extra: Partial<UpdateStatus> = {}) {
  return { machineId: 'dev-42', updateId: '0.0.3', version: '0.0.3', state, previous, at: AT, ...extra };
}

/** What the tracker knows, as a decode context. */
function contextOf(tracker: TrackerUpdateMachine): StatusDecodeContext<connhex.Target> {
  const snapshot = tracker.snapshot();
  return {
    target,
    machineId: tracker.id,
    previous: { state: snapshot.state, update: snapshot.update },
    at: AT,
  };
}

/** Device messages → NATS → cloud decode → tracker, one at a time, like a service does. */
async function ingestAll(tracker: TrackerUpdateMachine, messages: WireMessage[]) {
  const results = [];
  for (const message of messages) {
    const [inbound] = fixture.deliverStatus([message], target);
    const decoded = protocol.cloud.decodeStatus(inbound!, contextOf(tracker));
    if (decoded === null) continue;
    results.push(await tracker.ingest(decoded));
  }
  return results;
}

describe('connhex.protocol identity', () => {
  it('is the registry descriptor with a target schema and the JSON schemas', () => {
    expect(protocol).toMatchObject({ name: 'connhex', title: 'Connhex Edge', integrity: 'sha256' });
    expect(protocol.statusMapping).toBe(connhex.statusMapping);
    expect(protocol.targetSchema).toBe(connhex.TargetSchema);
    expect(Object.keys(protocol.jsonSchemas)).toContain('target');
    expect(protocol.secrets.queryParameters).toContain('init_key');
  });
});

describe('target', () => {
  it('accepts a domain or a base URL, with the device or the artifact endpoint', () => {
    expect(connhex.parseTarget(target)).toEqual(target);
    const proxied = { baseUrl: 'https://ota.example.net/connhex/', initId: 'dev 42', firmwareId: 'fw-1' };
    expect(protocol.device.orderSources(proxied)).toEqual([
      {
        channel: 'http',
        request: {
          channel: 'http',
          method: 'HEAD',
          address: 'https://ota.example.net/connhex/iot/firmwares/fw-1/artifact',
          payload: '',
          headers: {},
        },
      },
    ]);
  });

  it('refuses a bad target naming the field, and never shows the key', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ initId: 'dev-42', key: KEY }, 'domain'],
      [{ ...target, baseUrl: 'https://apis.example.com' }, 'domain'],
      [{ ...target, domain: 'not a domain' }, 'domain'],
      [{ initId: 'dev-42', baseUrl: `http://u:${KEY}@127.0.0.1`, key: KEY }, 'baseUrl'],
      [{ initId: 'dev-42', baseUrl: `https://127.0.0.1/?token=${KEY}`, key: KEY }, 'baseUrl'],
      [{ ...target, initId: '' }, 'initId'],
      [{ ...target, initId: 'a\nb' }, 'initId'],
      [{ ...target, key: `${KEY} with space` }, 'key'],
      [{ ...target, key: `${KEY}\r\nX-Injected: 1` }, 'key'],
      [{ ...target, scheme: 'Basic' }, 'scheme'],
      [{ ...target, statusSubject: 'heartbeat.*.service' }, 'statusSubject'],
      [{ ...target, kye: KEY }, '(root)'],
    ];
    for (const [input, field] of cases) {
      const error = manifestError(() => connhex.parseTarget(input));
      expect(error.message, field).toContain(`${field}: expected`);
      expect(error.message).not.toContain(KEY);
    }
    manifestError(() => connhex.parseTarget(null));
  });

  it('plain http only with allowHttp (a local release server)', () => {
    const local = { baseUrl: 'http://127.0.0.1:8080', initId: 'dev-42' };
    manifestError(() => connhex.parseTarget(local));
    expect(protocol.cloud.encodeWithdrawal({ ...local, allowHttp: true })[0]!.address).toBe(
      'http://127.0.0.1:8080/iot/ota/dev-42',
    );
  });
});

describe('device side', () => {
  it('polls its release endpoint with HEAD and its thing key', () => {
    expect(protocol.device.orderSources(target)).toEqual([
      {
        channel: 'http',
        request: {
          channel: 'http',
          method: 'HEAD',
          address: RELEASE_URL,
          payload: '',
          headers: { authorization: `Thing ${KEY}` },
        },
      },
    ]);
    const [bearer] = protocol.device.orderSources({ ...target, scheme: 'Bearer' });
    expect(bearer).toMatchObject({ request: { headers: { authorization: `Bearer ${KEY}` } } });
  });

  it('C4: HEAD 200 Version "0.0.3" over installed 0.0.2 is an order for 0.0.3', () => {
    const { value, lost } = protocol.device.decodeOrder(
      head(200, { version: '"0.0.3"', 'content-length': '4096' }),
      { target, current: INSTALLED },
    );
    expect(lost).toEqual([]);
    expect(value).toMatchObject({
      id: '0.0.3',
      version: '0.0.3',
      artifacts: [{ url: RELEASE_URL, target: 'package', size: 4096 }],
      extensions: { connhex: { package: 'zip', entrypoint: 'update.sh' } },
    });
  });

  it('C12: each spelling of Content-Digest gives the SHA-256 to verify', () => {
    for (const digest of [`sha-256=:${SHA_B64}:`, `sha256=${SHA}`, `sha256=${SHA_B64}`]) {
      const { value } = protocol.device.decodeOrder(
        head(200, { version: '0.0.3', 'content-digest': digest }),
        {
          target,
        },
      );
      expect(value?.artifacts[0]?.sha256, digest).toBe(SHA);
    }
    const error = manifestError(() =>
      protocol.device.decodeOrder(head(200, { version: '0.0.3', 'content-digest': 'sha256=zz' }), { target }),
    );
    expect(error.message).toContain('Content-Digest');
  });

  it('C13: the installed version is no order; any other version is, a downgrade included', () => {
    const same = protocol.device.decodeOrder(head(200, { version: '"0.0.2"' }), {
      target,
      current: INSTALLED,
    });
    expect(same).toEqual({ value: null, lost: [] });
    const older = protocol.device.decodeOrder(head(200, { version: '0.8' }), {
      target,
      current: { id: '0.9', version: '0.9' },
    });
    expect(older.value?.version).toBe('0.8');
  });

  it('C11: 204 (nothing eligible), 304 (unchanged) and 404 (no firmware) are no order', () => {
    for (const code of [204, 304, 404]) {
      expect(protocol.device.decodeOrder(head(code), { target, current: INSTALLED })).toEqual({
        value: null,
        lost: [],
      });
    }
  });

  it('C8: a failed check throws a transport error with the retry the addon would make, no key', () => {
    for (const [code, retryable] of [
      [500, true],
      [503, true],
      [401, false],
      [403, false],
      [400, false],
    ] as const) {
      let caught: unknown;
      try {
        protocol.device.decodeOrder(head(code, { authorization: `Thing ${KEY}` }), { target });
      } catch (error) {
        caught = error;
      }
      expect(isOtaError(caught, 'TRANSPORT'), String(code)).toBe(true);
      expect((caught as { retryable: boolean }).retryable, String(code)).toBe(retryable);
      expect((caught as Error).message).not.toContain(KEY);
    }
  });

  it('refuses a response that is not from a release endpoint or has no status', () => {
    manifestError(() =>
      protocol.device.decodeOrder({ ...head(200, { version: '1' }), address: 'x' }, { target }),
    );
    manifestError(() =>
      protocol.device.decodeOrder(
        { ...head(200, { version: '1' }), address: 'https://apis.example.com/other' },
        { target },
      ),
    );
    manifestError(() =>
      protocol.device.decodeOrder(
        { address: RELEASE_URL, payload: '', headers: { version: '1' } },
        { target },
      ),
    );
  });

  it('the documented status template, byte for byte: a first check, nothing known yet', () => {
    expect(
      protocol.device.encodeStatus(status('checking', 'idle', { updateId: null, version: null }), { target }),
    ).toEqual([
      {
        channel: 'nats',
        address: SUBJECT,
        payload:
          '{"current_version":"","latest_version":"","status":"checking","error":"","last_checked":""}',
      },
    ]);
  });

  it('C4: the available release is reported as update_available with both versions', () => {
    const [message] = protocol.device.encodeStatus(status('available', 'checking'), {
      target,
      current: INSTALLED,
    });
    expect(message).toMatchObject({ channel: 'nats', address: SUBJECT });
    expect(JSON.parse(message!.payload)).toEqual({
      current_version: '0.0.2',
      latest_version: '0.0.3',
      status: 'update_available',
      error: '',
      last_checked: AT,
    });
  });

  it('C6: a whole update says downloading, update_ready, updating, updated (states without a word say nothing)', () => {
    const path: UpdateState[] = [
      'available',
      'downloading',
      'downloaded',
      'verifying',
      'installing',
      'installed',
      'committed',
    ];
    let previous: UpdateState = 'checking';
    const words: string[] = [];
    let last: Record<string, string> = {};
    for (const state of path) {
      const messages = protocol.device.encodeStatus(status(state, previous), { target, current: INSTALLED });
      for (const message of messages) {
        last = JSON.parse(message.payload);
        words.push(last.status!);
      }
      previous = state;
    }
    expect(words).toEqual(['update_available', 'downloading', 'update_ready', 'updating', 'updated']);
    expect(last).toMatchObject({ current_version: '0.0.3', latest_version: '0.0.3', error: '' });
  });

  it('C7 and C9: failures carry their word and a non-empty error; a cancel reports its phase', () => {
    const error = {
      name: 'ScriptError',
      code: 'INSTALL' as const,
      message: 'update.sh exited with status 1',
      retryable: false,
    };
    const [failed] = protocol.device.encodeStatus(status('install_failed', 'installing', { error }), {
      target,
    });
    expect(JSON.parse(failed!.payload)).toMatchObject({
      status: 'update_failed',
      error: 'update.sh exited with status 1',
    });
    const [aborted] = protocol.device.encodeStatus(status('download_failed', 'downloading'), { target });
    expect(JSON.parse(aborted!.payload)).toMatchObject({
      status: 'download_failed',
      error: 'download failed',
    });
    const [canceled] = protocol.device.encodeStatus(status('canceled', 'downloading'), { target });
    expect(JSON.parse(canceled!.payload).status).toBe('download_failed');
    expect(protocol.device.encodeStatus(status('idle', 'committed'), { target })).toEqual([]);
  });

  it('the boot report is the idle heartbeat: updated with the installed version', () => {
    const [report] = protocol.device.bootReport(INSTALLED, { target });
    expect(report).toMatchObject({ channel: 'nats', address: SUBJECT });
    expect(JSON.parse(report!.payload)).toEqual({
      current_version: '0.0.2',
      latest_version: '0.0.2',
      status: 'updated',
      error: '',
      last_checked: '',
    });
    expect(protocol.device.bootReport(null, { target })).toEqual([]);
  });
});

describe('cloud side', () => {
  const manifest: ManifestInput = {
    id: '0.0.3',
    version: '0.0.3',
    artifacts: [{ url: RELEASE_URL, target: 'package', size: 4096, sha256: SHA }],
  };

  it('publishes the release at the device endpoint; the device HEAD reads it back (C4, C12)', () => {
    const { value, lost } = protocol.cloud.encodeOrder(manifest, target);
    expect(lost).toEqual([]);
    expect(value).toEqual([
      {
        channel: 'http',
        method: 'PUT',
        address: RELEASE_URL,
        headers: { 'content-type': 'application/json' },
        payload: expect.any(String),
      },
    ]);
    expect(JSON.parse(value[0]!.payload)).toEqual({
      url: RELEASE_URL,
      version: '0.0.3',
      size: 4096,
      sha256: SHA,
    });
    expect(JSON.stringify(value)).not.toContain(KEY);
    const [response] = fixture.deliverOrder(value, target);
    expect(response).toMatchObject({
      status: 200,
      headers: { version: '"0.0.3"', 'content-length': '4096' },
    });
    const decoded = protocol.device.decodeOrder(response!, { target, current: INSTALLED }).value;
    expect(decoded).toMatchObject({
      id: '0.0.3',
      version: '0.0.3',
      artifacts: [{ url: RELEASE_URL, sha256: SHA, size: 4096 }],
    });
  });

  it('lists what a release cannot carry: a URL other than the endpoint, MD5, other artifacts', () => {
    const { value, lost } = protocol.cloud.encodeOrder(
      {
        id: 'deploy-9',
        version: '0.0.3',
        artifacts: [
          {
            url: 'https://cdn.example.com/r.zip',
            target: 'package',
            md5: '9e107d9d372bb6826bd81d3542a419d6',
          },
          { url: 'https://cdn.example.com/b.zip', target: 'package' },
        ],
        expiresAt: '2030-01-01T00:00:00Z',
        extensions: { degu: { x: 1 } },
      },
      target,
    );
    expect(lost.map((loss) => loss.field)).toEqual([
      'id',
      'artifacts[1]',
      'artifacts[0].md5',
      'expiresAt',
      'extensions.degu',
      'artifacts[0].url',
    ]);
    // The release server still learns where the artifact is.
    expect(JSON.parse(value[0]!.payload).url).toBe('https://cdn.example.com/r.zip');
  });

  it('withdraws with DELETE, which the device reads as no order (404, or 204 on the artifact endpoint)', () => {
    for (const where of [target, { ...target, firmwareId: 'fw-1' }]) {
      const messages = protocol.cloud.encodeWithdrawal(where);
      expect(messages).toEqual([
        { channel: 'http', method: 'DELETE', address: messages[0]!.address, payload: '' },
      ]);
      const [response] = fixture.deliverOrder(messages, where);
      expect(protocol.device.decodeOrder(response!, { target: where }).value).toBeNull();
    }
  });

  it('listens on heartbeat.ota.service, or the subject a leaf node maps it to', () => {
    expect(protocol.cloud.statusSources(target)).toEqual([{ channel: 'nats', subject: SUBJECT }]);
    const mapped = { ...target, statusSubject: 'edge.dev-42.heartbeat.ota.service' };
    expect(protocol.cloud.statusSources(mapped)).toEqual([
      { channel: 'nats', subject: 'edge.dev-42.heartbeat.ota.service' },
    ]);
    const decoded = protocol.cloud.decodeStatus(
      { ...heartbeat({ status: 'checking' }), address: 'edge.dev-42.heartbeat.ota.service' },
      { target: mapped, machineId: 'dev-42' },
    );
    expect(decoded?.state).toBe('checking');
  });

  it('reads each of the nine words as its canonical state', () => {
    const during = { state: 'installing' as const, update: { id: '0.0.3', version: '0.0.3' } };
    const cases: [Record<string, string>, UpdateState, string | null][] = [
      [{ status: 'checking' }, 'checking', null],
      [{ status: 'check_failed', error: 'HTTP 500' }, 'check_failed', null],
      [
        { status: 'update_available', current_version: '0.0.2', latest_version: '0.0.3' },
        'available',
        '0.0.3',
      ],
      [{ status: 'downloading', latest_version: '0.0.3' }, 'downloading', '0.0.3'],
      [{ status: 'download_failed', latest_version: '0.0.3', error: 'reset' }, 'download_failed', '0.0.3'],
      [{ status: 'update_ready', latest_version: '0.0.3' }, 'downloaded', '0.0.3'],
      [{ status: 'updating', latest_version: '0.0.3' }, 'installing', '0.0.3'],
      [{ status: 'update_failed', latest_version: '0.0.3', error: 'exit 1' }, 'install_failed', '0.0.3'],
      [{ status: 'updated', current_version: '0.0.3', latest_version: '0.0.3' }, 'committed', '0.0.3'],
    ];
    for (const [fields, state, updateId] of cases) {
      const decoded = protocol.cloud.decodeStatus(heartbeat(fields), {
        target,
        machineId: 'dev-42',
        previous: fields.status === 'updated' ? during : null,
        at: AT,
      });
      expect(decoded, fields.status).toMatchObject({ machineId: 'dev-42', state, updateId, at: AT });
      if (fields.status!.endsWith('_failed')) expect(decoded!.error?.message).toBe(fields.error);
    }
  });

  it('an updated heartbeat when no update is under way is "up to date" (idle)', () => {
    const decoded = protocol.cloud.decodeStatus(
      heartbeat({ status: 'updated', current_version: '0.0.2', latest_version: '0.0.2' }),
      { target, machineId: 'dev-42', previous: { state: 'idle', update: null } },
    );
    expect(decoded).toMatchObject({ state: 'idle', updateId: null, version: '0.0.2' });
  });

  it('another service heartbeat, an empty message or another subject is no status', () => {
    const context = { target, machineId: 'dev-42' };
    expect(
      protocol.cloud.decodeStatus(
        { ...heartbeat({ status: 'checking' }), address: 'heartbeat.modbus.service' },
        context,
      ),
    ).toBeNull();
    expect(protocol.cloud.decodeStatus({ address: SUBJECT, payload: '' }, context)).toBeNull();
    expect(protocol.cloud.decodeStatus({ address: SUBJECT, payload: new Uint8Array() }, context)).toBeNull();
  });
});

describe('a whole update into a real tracker', () => {
  /** The device side's messages for a walk through canonical states. */
  function walk(states: UpdateState[], extra: Partial<Record<UpdateState, Partial<UpdateStatus>>> = {}) {
    const messages: WireMessage[] = [];
    let previous: UpdateState | null = 'idle';
    for (const state of states) {
      const checking = state === 'checking';
      const report = status(state, previous, {
        ...(checking ? { updateId: null, version: null } : {}),
        ...extra[state],
      });
      messages.push(...protocol.device.encodeStatus(report, { target, current: INSTALLED }));
      previous = state;
    }
    return messages;
  }

  const WHOLE: UpdateState[] = [
    'checking',
    'available',
    'downloading',
    'downloaded',
    'verifying',
    'installing',
    'installed',
    'committed',
  ];

  it('C6: checking → … → updated ends committed; the heartbeats after it read as idle', async () => {
    const tracker = createUpdateMachine({ id: 'dev-42', role: 'tracker' });
    const messages = walk(WHOLE);
    const results = await ingestAll(tracker, messages);
    expect(results.map((result) => result.state)).toEqual([
      'checking',
      'available',
      'downloading',
      'downloaded',
      'installing',
      'committed',
    ]);
    expect(results.every((result) => result.accepted)).toBe(true);
    expect(tracker.state).toBe('committed');
    expect(tracker.snapshot()).toMatchObject({ current: { id: '0.0.3', version: '0.0.3' } });
    // The periodic heartbeat repeats `updated`: nothing is under way any more, so it is idle.
    await ingestAll(tracker, [messages.at(-1)!]);
    expect(tracker.state).toBe('idle');
    // The next boot says the same; the tracker keeps what the device runs.
    const [boot] = await ingestAll(
      tracker,
      protocol.device.bootReport({ id: '0.0.3', version: '0.0.3' }, { target }),
    );
    expect(boot).toMatchObject({ accepted: true, duplicate: true });
    expect(tracker.snapshot()).toMatchObject({ state: 'idle', current: { id: '0.0.3', version: '0.0.3' } });
  });

  it.each([
    ['C7: update.sh exits 1', 'installing', 'install_failed', 'install_failed'],
    ['C9: the download breaks off', 'downloading', 'download_failed', 'download_failed'],
    ['C8: the check fails', 'checking', 'check_failed', 'check_failed'],
    ['a digest mismatch', 'downloaded', 'verify_failed', 'download_failed'],
    ['a cancel during the download', 'downloading', 'canceled', 'download_failed'],
  ] as const)('%s ends in the failure state the word means', async (_name, last, failure, expected) => {
    const tracker = createUpdateMachine({ id: 'dev-42', role: 'tracker' });
    const states = [...WHOLE.slice(0, WHOLE.indexOf(last) + 1), failure];
    const error = {
      name: 'OtaError',
      code: 'INSTALL' as const,
      message: `${failure} here`,
      retryable: false,
    };
    const checkOnly = failure === 'check_failed' ? { updateId: null, version: null } : {};
    const results = await ingestAll(tracker, walk(states, { [failure]: { error, ...checkOnly } }));
    expect(results.every((result) => result.accepted)).toBe(true);
    expect(tracker.state).toBe(expected);
    expect(tracker.snapshot().lastOutcome).toMatchObject({
      state: expected,
      error: { message: `${failure} here` },
    });
  });

  it('a device machine with the protocol as its check and report hooks, cloud to tracker', async () => {
    const tracker = createUpdateMachine({ id: 'dev-42', role: 'tracker' });
    const order = protocol.cloud.encodeOrder(
      {
        id: '0.0.3',
        version: '0.0.3',
        artifacts: [{ url: RELEASE_URL, target: 'package', size: 4096, sha256: SHA }],
      },
      target,
    ).value;
    const reported: Promise<unknown>[] = [];
    const machine = createUpdateMachine({
      id: 'dev-42',
      hooks: {
        check: async ({ current }) => {
          const [response] = fixture.deliverOrder(order, target);
          return protocol.device.decodeOrder(response!, { target, current }).value;
        },
        download: async () => [{ location: 'mem://release.zip', size: 4096, sha256: SHA }],
        install: async () => {},
        report: async ({ status: report }) => {
          reported.push(
            ingestAll(tracker, protocol.device.encodeStatus(report, { target, current: INSTALLED })),
          );
          await reported.at(-1);
        },
      },
    });
    const outcome = await machine.runOnce();
    await Promise.all(reported);
    expect(outcome.state).toBe('committed');
    expect(tracker.state).toBe('committed');
    expect(tracker.snapshot().current).toEqual({ id: '0.0.3', version: '0.0.3' });
  });
});
