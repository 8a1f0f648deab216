/**
 * The micropython_ota protocol object, both sides, on the documented vectors (M1–M17, see
 * docs/protocols/micropythonOta.md): the exact URLs, headers and file contents, then a whole
 * update through a real tracker, then properties of the two decoders.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createUpdateMachine,
  isOtaError,
  type ManifestError,
  micropythonOta,
  type TransportError,
  type UpdateState,
  type UpdateStatus,
} from '../../../src/index.js';

const { protocol } = micropythonOta;
const { device, cloud } = protocol;

const HOST = 'http://example.org';
const VERSION_URL = 'http://example.org/sample/version';
const PASSWORD = 'topsecret-7f3a';
const target: micropythonOta.Target = { host: HOST, project: 'sample', filenames: ['main.py'] };
const twoFiles: micropythonOta.Target = { ...target, filenames: ['main.py', 'library.py'] };
const withAuth: micropythonOta.Target = { ...twoFiles, auth: { user: 'otauser', password: PASSWORD } };
const AT = '2026-03-01T12:00:00.000Z';

function response(payload: string | Uint8Array, status = 200) {
  return { address: VERSION_URL, payload, status };
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function issuesOf(run: () => unknown) {
  const error = thrown(run);
  expect(isOtaError(error, 'MANIFEST_INVALID'), String(error)).toBe(true);
  return (error as ManifestError).issues;
}

function status(state: UpdateState, previous: UpdateState | null, version: string | null): UpdateStatus {
  return {
    machineId: 'esp32-1',
    updateId: version === null ? null : `sample@${version}`,
    version,
    state,
    previous,
    at: AT,
  };
}

describe('micropython_ota protocol object: identity', () => {
  it('is the descriptor plus the codecs, under the registry name', () => {
    expect(protocol.name).toBe('micropythonOta');
    expect(protocol.integrity).toBe('none');
    expect(protocol.statusMapping).toBe(micropythonOta.descriptor.statusMapping);
    expect(Object.keys(protocol.jsonSchemas).sort()).toEqual(['extension', 'release', 'target']);
  });
});

describe('micropython_ota device side (vectors)', () => {
  it('M2: polls the version file with a GET and no auth header', () => {
    expect(device.orderSources(target)).toEqual([
      { channel: 'http', request: { channel: 'http', address: VERSION_URL, payload: '', method: 'GET' } },
    ]);
  });

  it('M5: sends Basic auth on the poll, with a lower-case header name', () => {
    const auth = (user: string, password: string) =>
      device.orderSources({ ...target, auth: { user, password } })[0];
    expect(auth('hello', 'world')).toMatchObject({
      request: { headers: { authorization: 'Basic aGVsbG86d29ybGQ=' } },
    });
    expect(auth('otauser', 'topsecret')).toMatchObject({
      request: { headers: { authorization: 'Basic b3RhdXNlcjp0b3BzZWNyZXQ=' } },
    });
  });

  it('M6: refuses a user without a password, naming the field and not the user', () => {
    const error = thrown(() => device.orderSources({ ...target, auth: { user: 'otauser' } } as never));
    expect((error as ManifestError).issues).toEqual([{ path: 'auth.password', expected: 'a password' }]);
    expect(String(error)).not.toContain('otauser');
  });

  it('M1 + M7: a tag with no local version is an order for the prefix-layout URLs', () => {
    const { value, lost } = device.decodeOrder(response('v1.0.1\n'), { target, current: null });
    expect(value).toMatchObject({
      id: 'sample@v1.0.1',
      version: 'v1.0.1',
      artifacts: [{ url: 'http://example.org/sample/v1.0.1_main.py', name: 'main.py', target: 'script' }],
    });
    expect(lost.map((loss) => loss.field)).toEqual(['artifacts']);
  });

  it('M8: the subdirectory layout fetches <version>/<file>', () => {
    const { value } = device.decodeOrder(response('v1.0.1\n'), {
      target: { ...target, layout: 'subdirectory' },
    });
    expect(value?.artifacts.map((artifact) => artifact.url)).toEqual([
      'http://example.org/sample/v1.0.1/main.py',
    ]);
  });

  it('M9: every file of the target, in order', () => {
    const { value } = device.decodeOrder(response('v1.0.1'), { target: twoFiles });
    expect(value?.artifacts.map((artifact) => artifact.url)).toEqual([
      'http://example.org/sample/v1.0.1_main.py',
      'http://example.org/sample/v1.0.1_library.py',
    ]);
  });

  it('M2: the tag the device runs is no order', () => {
    const current = { id: 'sample@v1.0.1', version: 'v1.0.1' };
    expect(device.decodeOrder(response('v1.0.1\n'), { target, current })).toEqual({ value: null, lost: [] });
  });

  it('M3: a 404 is no order (a withdrawn order); refused credentials and server errors are failed checks', () => {
    for (const code of [404, 410]) {
      expect(device.decodeOrder(response('<h1>Not Found</h1>', code), { target }).value).toBeNull();
    }
    for (const [code, retryable] of [
      [401, false],
      [403, false],
      [500, true],
      [503, true],
      [429, true],
      [400, false],
    ] as const) {
      const error = (() => {
        try {
          device.decodeOrder(response('no', code), { target });
        } catch (thrown) {
          return thrown;
        }
      })();
      expect(isOtaError(error, 'TRANSPORT'), String(code)).toBe(true);
      expect((error as TransportError).retryable, String(code)).toBe(retryable);
      expect((error as TransportError).status).toBe(code);
    }
  });

  it('M13: an older tag is an order too (the rollback mechanism)', () => {
    const current = { id: 'sample@v1.0.1', version: 'v1.0.1' };
    expect(device.decodeOrder(response('v1.0.0'), { target, current }).value?.version).toBe('v1.0.0');
  });

  it('M15: only the first line of the version file counts (no update loop)', () => {
    expect(device.decodeOrder(response('v2\nextra'), { target }).value?.version).toBe('v2');
    expect(
      device.decodeOrder(response(new TextEncoder().encode('\uFEFFv2\r\n')), { target }).value?.version,
    ).toBe('v2');
  });

  it('M16: a trailing slash on the host is not doubled', () => {
    expect(device.orderSources({ ...target, host: 'http://h/' })[0]).toMatchObject({
      request: { address: 'http://h/sample/version' },
    });
  });

  it('M17: files in sub-directories keep their path', () => {
    const { value } = device.decodeOrder(response('v1.0.1'), {
      target: { ...target, filenames: ['lib/util.py'] },
    });
    expect(value?.artifacts[0]?.url).toBe('http://example.org/sample/v1.0.1_lib/util.py');
  });

  it('refuses an empty or invalid version file, naming the field', () => {
    for (const body of ['', '\n', 'v 1', '../v1', 'v1?x', '%2e']) {
      expect(issuesOf(() => device.decodeOrder(response(body), { target }))).toEqual([
        { path: 'version', expected: expect.stringContaining('version tag') },
      ]);
    }
  });

  it('M9: writes the version file (tag, no newline) when committed, and nothing before', () => {
    const flow: Array<[UpdateState, UpdateState | null]> = [
      ['checking', 'idle'],
      ['available', 'checking'],
      ['downloading', 'available'],
      ['downloaded', 'downloading'],
      ['installing', 'downloaded'],
      ['installed', 'installing'],
    ];
    for (const [state, previous] of flow) {
      expect(device.encodeStatus(status(state, previous, 'v1.0.1'), { target }), state).toEqual([]);
    }
    expect(device.encodeStatus(status('committed', 'installed', 'v1.0.1'), { target })).toEqual([
      { channel: 'file', address: 'version', payload: 'v1.0.1' },
    ]);
  });

  it('M12: a failed download writes nothing: the version file stays as it was', () => {
    for (const state of ['check_failed', 'download_failed', 'install_failed'] as const) {
      expect(device.encodeStatus(status(state, 'downloading', 'v1.0.1'), { target })).toEqual([]);
    }
  });

  it('refuses to write a committed status without a usable tag', () => {
    expect(issuesOf(() => device.encodeStatus(status('committed', 'installed', null), { target }))).toEqual([
      { path: 'version', expected: expect.any(String) },
    ]);
    expect(
      issuesOf(() => device.encodeStatus(status('committed', 'installed', 'v1\nv2'), { target })),
    ).toEqual([{ path: 'version', expected: expect.stringContaining('version tag') }]);
  });

  it('reports at boot the version file it runs, nothing without one', () => {
    expect(device.bootReport({ id: 'sample@v1.0.0', version: 'v1.0.0' }, { target })).toEqual([
      { channel: 'file', address: 'version', payload: 'v1.0.0' },
    ]);
    expect(device.bootReport(null, { target })).toEqual([]);
    expect(device.bootReport({ id: 'x', version: null }, { target })).toEqual([]);
  });
});

describe('micropython_ota cloud side (vectors)', () => {
  const manifest = {
    id: 'sample@v1.0.1',
    version: 'v1.0.1',
    artifacts: [
      { url: 'http://example.org/sample/v1.0.1_main.py', target: 'script' as const, name: 'main.py' },
      { url: 'http://example.org/sample/v1.0.1_library.py', target: 'script' as const, name: 'library.py' },
    ],
  };

  it('M1: orders by writing the tag to <host>/<project>/version', () => {
    expect(cloud.encodeOrder(manifest, twoFiles)).toEqual({
      value: [
        {
          channel: 'http',
          address: VERSION_URL,
          method: 'PUT',
          payload: 'v1.0.1\n',
          headers: { 'content-type': 'text/plain; charset=utf-8' },
        },
      ],
      lost: [],
    });
  });

  it('lists what the version file cannot carry', () => {
    const rich = {
      ...manifest,
      id: 'deploy-42',
      expiresAt: '2030-01-01T00:00:00Z',
      artifacts: manifest.artifacts.map((artifact) => ({ ...artifact, size: 10 })),
      extensions: { degu: {} },
    };
    expect(cloud.encodeOrder(rich, twoFiles).lost.map((loss) => loss.field)).toEqual([
      'id',
      'artifacts[0].size',
      'artifacts[1].size',
      'expiresAt',
      'extensions.degu',
    ]);
  });

  it("refuses a manifest whose files are not exactly the device's, where it fetches them", () => {
    const refused = [
      { ...manifest, artifacts: manifest.artifacts.slice(0, 1) },
      { ...manifest, artifacts: [...manifest.artifacts].reverse() },
      {
        ...manifest,
        artifacts: manifest.artifacts.map((artifact) => ({
          ...artifact,
          url: artifact.url.replace('/sample/', '/other/'),
        })),
      },
    ];
    for (const order of refused) {
      expect(issuesOf(() => cloud.encodeOrder(order, twoFiles))).toEqual([
        { path: 'artifacts', expected: expect.stringContaining('main.py, library.py') },
      ]);
    }
    expect(
      issuesOf(() => cloud.encodeOrder({ ...manifest, version: 'v 1.0.1' }, twoFiles)).map(
        (issue) => issue.path,
      ),
    ).toContain('version');
  });

  it('withdraws by deleting the version file; has no status source', () => {
    expect(cloud.encodeWithdrawal(target)).toEqual([
      { channel: 'http', address: VERSION_URL, method: 'DELETE', payload: '' },
    ]);
    expect(cloud.statusSources(target)).toEqual([]);
  });

  it("reads a device's version file as the release it has committed", () => {
    expect(
      cloud.decodeStatus({ address: 'version', payload: 'v1.0.1' }, { target, machineId: 'esp32-1', at: AT }),
    ).toEqual({
      machineId: 'esp32-1',
      updateId: 'sample@v1.0.1',
      version: 'v1.0.1',
      state: 'committed',
      previous: null,
      at: AT,
    });
  });

  it('names the tracked update when its tag matches, and keeps the tracked state as previous', () => {
    const previous = { state: 'available' as const, update: { id: 'deploy-42', version: 'v1.0.1' } };
    expect(
      cloud.decodeStatus(
        { address: '/version', payload: 'v1.0.1\n' },
        { target, machineId: 'esp32-1', previous },
      ),
    ).toMatchObject({ updateId: 'deploy-42', version: 'v1.0.1', state: 'committed', previous: 'available' });
  });

  it('is not a status: the server version file, an empty local one, a failed read', () => {
    const context = { target, machineId: 'esp32-1' };
    expect(cloud.decodeStatus(response('v1.0.1'), context)).toBeNull();
    expect(cloud.decodeStatus({ address: 'version', payload: '' }, context)).toBeNull();
    expect(cloud.decodeStatus({ address: 'version', payload: 'v1', status: 404 }, context)).toBeNull();
  });
});

/** The tracker role of the update machine, as `createUpdateMachine` returns it. */
type Tracker = ReturnType<typeof newTracker>;

function newTracker() {
  return createUpdateMachine({ id: 'esp32-1', role: 'tracker' });
}

describe('micropython_ota through a real tracker', () => {
  /** One device boot cycle: poll, decode, run the update, write what the protocol writes. */
  function deviceRun(
    versionFileBody: string,
    current: { id: string; version: string } | null,
    succeeds: boolean,
  ) {
    const { value: order } = device.decodeOrder(response(versionFileBody), { target: twoFiles, current });
    if (order === null) return [];
    const ref = { id: order.id, version: order.version };
    const states: UpdateState[] = succeeds
      ? ['checking', 'available', 'downloading', 'downloaded', 'installing', 'installed', 'committed']
      : ['checking', 'available', 'downloading', 'download_failed'];
    let previous: UpdateState = 'idle';
    return states.flatMap((state) => {
      const messages = device.encodeStatus(
        { machineId: 'esp32-1', updateId: ref.id, version: ref.version, state, previous, at: AT },
        { target: twoFiles },
      );
      previous = state;
      return messages;
    });
  }

  async function ingestAll(tracker: Tracker, messages: ReturnType<typeof deviceRun>) {
    for (const message of messages) {
      const snapshot = tracker.snapshot();
      const decoded = cloud.decodeStatus(
        { address: message.address, payload: message.payload },
        {
          target: twoFiles,
          machineId: 'esp32-1',
          previous: { state: snapshot.state, update: snapshot.update },
        },
      );
      if (decoded === null) continue;
      const result = await tracker.ingest(decoded);
      expect(result.accepted, result.accepted ? '' : result.error.message).toBe(true);
    }
  }

  it('follows a whole update to committed, then a rollback tag to committed again', async () => {
    const tracker = newTracker();
    await ingestAll(tracker, deviceRun('v1.0.1\n', null, true));
    expect(tracker.state).toBe('committed');
    expect(tracker.snapshot().current).toEqual({ id: 'sample@v1.0.1', version: 'v1.0.1' });

    await ingestAll(tracker, deviceRun('v1.0.0\n', { id: 'sample@v1.0.1', version: 'v1.0.1' }, true));
    expect(tracker.state).toBe('committed');
    expect(tracker.snapshot().current).toEqual({ id: 'sample@v1.0.0', version: 'v1.0.0' });
  });

  it('a failed update is invisible to the cloud: the device still reports the release it runs', async () => {
    const tracker = newTracker();
    const running = { id: 'sample@v1.0.0', version: 'v1.0.0' };
    await ingestAll(tracker, device.bootReport(running, { target: twoFiles }));
    expect(tracker.state).toBe('committed');

    // M12: library.py is missing on the server, so the device ends download_failed, locally.
    const failed = deviceRun('v1.0.1\n', running, false);
    expect(failed).toEqual([]);
    // After the reset, its boot report names the old release: the tracker never claims v1.0.1.
    await ingestAll(tracker, [...failed, ...device.bootReport(running, { target: twoFiles })]);
    expect(tracker.state).toBe('committed');
    expect(tracker.snapshot().current).toEqual(running);
  });
});

const RUNS = { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300) };

/** Passes when `run` returns, or throws MANIFEST_INVALID without any credential in the message. */
function typedOnly(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    expect(isOtaError(error, 'MANIFEST_INVALID'), String(error)).toBe(true);
    expect(String((error as Error).message)).not.toContain(PASSWORD);
  }
}

const anyPayload = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.constantFrom('__proto__', '{"__proto__":{}}', '[[[[[[[[[[]]]]]]]]]]', '\u0000', 'v1'.repeat(2000)),
);
const anyValue = fc.oneof(fc.anything(), fc.jsonValue(), fc.constant(null), fc.integer());
const anyMessage = fc.oneof(
  fc.record({ address: fc.constantFrom(VERSION_URL, 'version'), payload: anyPayload }),
  fc.record({
    address: fc.constantFrom(VERSION_URL, 'version'),
    payload: anyPayload,
    status: fc.oneof(fc.constantFrom(200, 404), fc.integer()),
  }),
  anyValue,
  fc.record({ address: anyValue, payload: anyValue }),
);

// The tag alphabet: what a URL path carries raw (docs/protocols/micropythonOta.md, "Version tags").
const TAG_CHARS = [..."abcXYZ0129.-_~+!$&'()*,;=:@"];
const tag = fc
  .string({ unit: fc.constantFrom(...TAG_CHARS), minLength: 1, maxLength: 24 })
  .filter((value) => value !== '.' && value !== '..');
/** What a tag must not contain: separators, URL syntax, spaces, controls, format characters. */
const BREAKERS = ['/', '\\', '?', '#', '%', ' ', '\t', '\u0000', '\u007f', '\u202e', '\u00a0', '[', '"', 'β'];
const brokenTag = fc
  .tuple(tag, fc.constantFrom(...BREAKERS), tag)
  .map(([before, breaker, after]) => `${before}${breaker}${after}`);

describe('micropython_ota decoders (properties)', () => {
  it('decodeOrder: any message decodes or throws MANIFEST_INVALID, without a credential', () => {
    fc.assert(
      fc.property(anyMessage, (message) => {
        typedOnly(() => device.decodeOrder(message as never, { target: withAuth }));
      }),
      RUNS,
    );
  });

  it('decodeStatus: any message decodes or throws MANIFEST_INVALID, without a credential', () => {
    fc.assert(
      fc.property(anyMessage, (message) => {
        typedOnly(() => cloud.decodeStatus(message as never, { target: withAuth, machineId: 'esp32-1' }));
      }),
      RUNS,
    );
  });

  it('every valid tag is an order for exactly the URLs the device fetches, and back', () => {
    fc.assert(
      fc.property(tag, fc.constantFrom('prefix' as const, 'subdirectory' as const), (version, layout) => {
        const device2 = { ...withAuth, layout };
        const order = device.decodeOrder(response(`${version}\n`), { target: device2 }).value!;
        expect(order.version).toBe(version);
        expect(order.artifacts.map((artifact) => artifact.url)).toEqual(
          device2.filenames.map((filename) =>
            micropythonOta.fileUrl({ host: HOST, project: 'sample', version, filename, layout }),
          ),
        );
        const [write] = cloud.encodeOrder(order, device2).value;
        expect(write?.payload).toBe(`${version}\n`);
        expect(write?.address).toBe(VERSION_URL);
      }),
      RUNS,
    );
  });

  it('refuses a version file whose first line is a broken tag, on both sides', () => {
    fc.assert(
      fc.property(brokenTag, (broken) => {
        expect(issuesOf(() => device.decodeOrder(response(broken), { target: withAuth }))).toEqual([
          { path: 'version', expected: expect.stringContaining('version tag') },
        ]);
        expect(
          issuesOf(() =>
            cloud.decodeStatus({ address: 'version', payload: broken }, { target: withAuth, machineId: 'd' }),
          ),
        ).toEqual([{ path: 'version', expected: expect.stringContaining('version tag') }]);
      }),
      RUNS,
    );
  });

  it('refuses a target with one field broken, naming it and never showing the password', () => {
    const breakages: Array<[string, Record<string, unknown>]> = [
      ['host', { host: `http://otauser:${PASSWORD}@example.org` }],
      ['host', { host: `http://example.org/?token=${PASSWORD}` }],
      ['project', { project: '../etc' }],
      ['filenames', { filenames: [] }],
      ['filenames[0]', { filenames: ['../boot.py'] }],
      ['layout', { layout: 'flat' }],
      ['auth.user', { auth: { user: 'a:b', password: PASSWORD } }],
      ['auth.password', { auth: { user: 'otauser', password: `${PASSWORD}\n` } }],
      ['auth.password', { auth: { user: 'otauser', password: '' } }],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...breakages), ([field, change]) => {
        const broken = { ...withAuth, ...change } as micropythonOta.Target;
        for (const run of [
          () => device.orderSources(broken),
          () => device.decodeOrder(response('v1'), { target: broken }),
          () => cloud.encodeWithdrawal(broken),
          () => cloud.decodeStatus({ address: 'version', payload: 'v1' }, { target: broken, machineId: 'd' }),
        ]) {
          const error = thrown(run);
          expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
          expect((error as ManifestError).issues.map((issue) => issue.path)).toContain(field);
          expect((error as Error).message).not.toContain(PASSWORD);
        }
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 50) },
    );
  });
});
