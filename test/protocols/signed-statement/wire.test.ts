/**
 * A signed manifest on every platform's wire: cloud `encodeOrder` → what the device receives →
 * device `decodeOrder` gives the signed statement (+ the wire's extensions); unsigned orders are
 * unchanged; a statement of another update (mix-and-match), a garbage or an oversized one is a
 * typed error naming the statement's path. micropython_ota and Connhex carry it in a companion
 * file (statement-companion.test.ts); their cloud side is checked here.
 */

import { describe, expect, it } from 'vitest';
import { encodeBase64url } from '../../../src/core/encoding.js';
import {
  type InboundMessage,
  isOtaError,
  type Manifest,
  type ManifestInput,
  parseManifest,
  type WireMessage,
} from '../../../src/index.js';
import { PROTOCOLS } from '../../../src/protocols/registry.js';
import {
  decodeStatement,
  encodeStatement,
  STATEMENT_KEY,
  STATEMENT_LIMITS,
} from '../../../src/protocols/signed-statement.js';
import type { ContractFixture } from '../contract-fixtures/types.js';

const SIGNATURE = {
  canonicalization: 'otakit-json-v1' as const,
  signatures: [{ keyId: 'release-key-1', algorithm: 'ed25519' as const, value: `${'A'.repeat(85)}Q==` }],
};
const SHA = '5f8f04f6a3a892aaabbddb6cf273894493773960d4a325b105fee46eef4304f1';

const INLINE = ['degu', 'insighIo', 'exosite', 'thingsBoard'] as const;
const COMPANION = ['micropythonOta', 'connhex'] as const;

let fresh = 0;

/** The fixture, with a target of its own where the fixture keeps server state per target (Degu's shadow). */
async function fixtureOf(name: string): Promise<ContractFixture> {
  const fixture = ((await import(`../contract-fixtures/${name}.ts`)) as { default: ContractFixture }).default;
  if (name !== 'degu') return fixture;
  fresh++;
  return { ...fixture, target: { ...(fixture.target as object), thingName: `signed-${fresh}` } };
}

/** `payload` with `a` replaced by `b` however deeply the wire escaped it (JSON in JSON, base64url). */
function swap(payload: string, a: string, b: string): string {
  let out = payload.replaceAll(
    encodeBase64url(new TextEncoder().encode(a)),
    encodeBase64url(new TextEncoder().encode(b)),
  );
  let from = a;
  let to = b;
  for (let depth = 0; depth < 3; depth++) {
    from = JSON.stringify(from).slice(1, -1);
    to = JSON.stringify(to).slice(1, -1);
    out = out.replaceAll(from, to);
  }
  return out;
}

// biome-ignore lint/suspicious/noExplicitAny: each protocol has its own target type
const protocolOf = (name: string) => (PROTOCOLS as Record<string, any>)[name];

function decodeAll(name: string, fixture: ContractFixture, messages: WireMessage[]): Array<Manifest | null> {
  const protocol = protocolOf(name);
  return fixture
    .deliverOrder(messages, fixture.target)
    .map((message: InboundMessage) => protocol.device.decodeOrder(message, { target: fixture.target }).value);
}

/** The manifest the device decodes from the unsigned order of the fixture. */
function wireManifest(name: string, fixture: ContractFixture): Manifest {
  const { value } = protocolOf(name).cloud.encodeOrder(fixture.manifest, fixture.target);
  const decoded = decodeAll(name, fixture, value).filter((m): m is Manifest => m !== null);
  expect(decoded.length).toBeGreaterThan(0);
  return decoded.at(-1)!;
}

/** The fixture's wire manifest, signed, with what only the statement carries. */
function signedOf(wire: Manifest, name = ''): Manifest {
  const { extensions, ...rest } = wire;
  return parseManifest({
    ...rest,
    // Degu and insigh.io carry no version of their own: the signed one stands.
    ...(name === 'degu' || name === 'insighIo' ? { version: '2.1.0' } : {}),
    artifacts: rest.artifacts.map((artifact) => ({ ...artifact, sha256: artifact.sha256 ?? SHA })),
    expiresAt: '2031-01-01T00:00:00Z',
    minVersion: '1.0.0',
    compatibility: { deviceTypes: ['edge-x'] },
    signature: SIGNATURE,
    ...(extensions === undefined ? {} : { extensions }),
  });
}

function expectStatementError(run: () => unknown, path: string | RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(isOtaError(caught, 'MANIFEST_INVALID')).toBe(true);
  const paths = (caught as { issues: Array<{ path: string }> }).issues.map((issue) => issue.path);
  expect(paths.some((p) => (typeof path === 'string' ? p === path : path.test(p)))).toBe(true);
}

describe.each(INLINE)('%s: the signed statement travels in the order', (name) => {
  it('decodes to the signed statement with the wire extensions', async () => {
    const fixture = await fixtureOf(name);
    const wire = wireManifest(name, fixture);
    const signed = signedOf(wire, name);
    const { value: messages, lost } = protocolOf(name).cloud.encodeOrder(signed, fixture.target);
    expect(lost.filter((loss: { field: string }) => !loss.field.startsWith('extensions'))).toEqual([]);
    const decoded = decodeAll(name, fixture, messages).filter((m) => m !== null);
    expect(decoded.length).toBeGreaterThan(0);
    for (const manifest of decoded) {
      const { extensions: _e, ...statement } = signed;
      expect(manifest).toEqual(
        wire.extensions === undefined ? statement : { ...statement, extensions: wire.extensions },
      );
      expect(manifest!.signature).toEqual(SIGNATURE);
      expect(manifest!.artifacts[0]!.sha256).toBe(signed.artifacts[0]!.sha256);
    }
  });

  it('leaves an unsigned order byte for byte as it was', async () => {
    const fixture = await fixtureOf(name);
    const { value } = protocolOf(name).cloud.encodeOrder(fixture.manifest, fixture.target);
    for (const message of value as WireMessage[]) expect(message.payload).not.toContain(STATEMENT_KEY);
    expect(JSON.stringify(value)).not.toContain('otakit_');
  });

  it('refuses a statement of another update (mix-and-match), naming the path', async () => {
    const fixture = await fixtureOf(name);
    const wire = wireManifest(name, fixture);
    const signedA = signedOf(wire, name);
    // Manifest B: the same order with another artifact URL (or size/version where the URL is fixed).
    const { value: messagesA } = protocolOf(name).cloud.encodeOrder(signedA, fixture.target);
    const statementA = encodeStatement(signedA)!;
    const tampered = parseManifest({
      ...signedA,
      artifacts: signedA.artifacts.map((artifact, index) =>
        index === 0
          ? { ...artifact, sha256: 'f'.repeat(64), url: `${artifact.url.split('?')[0]}x` }
          : artifact,
      ),
    });
    const statementB = encodeStatement(tampered)!;
    // Put B's statement into A's order, where the wire carries it.
    const swapped = (messagesA as WireMessage[]).map((message) => ({
      ...message,
      payload: swap(message.payload, statementA, statementB),
    }));
    expect(swapped.map((m) => m.payload)).not.toEqual((messagesA as WireMessage[]).map((m) => m.payload));
    expectStatementError(() => decodeAll(name, fixture, swapped), /\.artifacts\[0\]\.url$/);
  });

  it('refuses a garbage statement with a typed error', async () => {
    const fixture = await fixtureOf(name);
    const signed = signedOf(wireManifest(name, fixture), name);
    const { value: messages } = protocolOf(name).cloud.encodeOrder(signed, fixture.target);
    const statement = encodeStatement(signed)!;
    const garbage = (messages as WireMessage[]).map((message) => ({
      ...message,
      payload: swap(message.payload, statement, '{not json'),
    }));
    expectStatementError(() => decodeAll(name, fixture, garbage), /otakit_/);
  });
});

describe.each(COMPANION)('%s: the cloud side publishes the statement beside the order', (name) => {
  it('adds the statement only when signed, and loses no signed field', async () => {
    const fixture = await fixtureOf(name);
    const wire = wireManifest(name, fixture);
    const unsigned = protocolOf(name).cloud.encodeOrder(fixture.manifest, fixture.target)
      .value as WireMessage[];
    expect(JSON.stringify(unsigned)).not.toContain('otakit');
    const signed = signedOf(wire, name);
    const { value, lost } = protocolOf(name).cloud.encodeOrder(signed, fixture.target);
    expect(lost.filter((loss: { field: string }) => !loss.field.startsWith('extensions'))).toEqual([]);
    const text = JSON.stringify(value);
    expect(text).toContain('otakit');
    const carried = (value as WireMessage[]).flatMap((message) => {
      if (message.address.endsWith('.otakit.json')) return [message.payload];
      const json = message.payload.startsWith('{')
        ? (JSON.parse(message.payload) as Record<string, unknown>)
        : {};
      return typeof json[STATEMENT_KEY] === 'string' ? [json[STATEMENT_KEY] as string] : [];
    });
    expect(carried).toHaveLength(1);
    const { extensions: _e, ...statement } = signed;
    expect(decodeStatement(carried[0])).toEqual(statement);
  });
});

describe('Degu: the statement of an earlier signed order left in the shadow', () => {
  // The cloud leaves `otakit_manifest` alone on unsigned orders (the wire stays the platform's),
  // so after a signed order it stays in `desired` and rides in the next order's delta.
  const MD5 = 'c4ca4238a0b923820dcc509a6f75849b';
  const next = {
    id: `degu:script_user=${MD5}`,
    version: MD5,
    artifacts: [
      { url: 'https://ota.example.test/main-c.py', md5: MD5, target: 'script' as const, name: 'main.py' },
    ],
  };

  it('does not make the next unsigned order a mix-and-match: it decodes as the unsigned order it is', async () => {
    const fixture = await fixtureOf('degu');
    const signed = signedOf(wireManifest('degu', fixture), 'degu');
    const first = decodeAll(
      'degu',
      fixture,
      protocolOf('degu').cloud.encodeOrder(signed, fixture.target).value,
    );
    expect(first.at(-1)?.signature).toEqual(SIGNATURE);

    const messages = protocolOf('degu').cloud.encodeOrder(next, fixture.target).value as WireMessage[];
    const received = fixture.deliverOrder(messages, fixture.target);
    // The stale statement really is on the wire the device reads.
    expect(received.some((message) => String(message.payload).includes(STATEMENT_KEY))).toBe(true);
    const decodings = received.map((message: InboundMessage) =>
      protocolOf('degu').device.decodeOrder(message, { target: fixture.target }),
    );
    const last = decodings.filter((decoding: { value: Manifest | null }) => decoding.value !== null).at(-1)!;
    expect(last.value).toMatchObject({ id: next.id, artifacts: [{ url: next.artifacts[0]!.url, md5: MD5 }] });
    expect(last.value.signature).toBeUndefined();
    expect(last.lost).toContainEqual({
      field: STATEMENT_KEY,
      reason: expect.stringContaining(`the statement of an earlier order (${signed.id})`),
    });
  });

  it("still refuses a statement with this order's id that differs from it (mix-and-match)", async () => {
    const fixture = await fixtureOf('degu');
    const signed = signedOf(wireManifest('degu', fixture), 'degu');
    const [message] = protocolOf('degu').cloud.encodeOrder(signed, fixture.target).value as WireMessage[];
    const url = signed.artifacts[0]!.url;
    const tampered = {
      ...message!,
      payload: swap(String(message!.payload), url, 'https://evil.example/x.py'),
    };
    // The order's URL is swapped, the statement's too (swap reaches into it), so put the signed URL
    // back in the statement only: same id (the MD5s did not change), other artifact.
    const document = JSON.parse(String(tampered.payload));
    document.state.desired.otakit_manifest = encodeStatement(signed);
    const decode = () =>
      fixture
        .deliverOrder([{ ...tampered, payload: JSON.stringify(document) }], fixture.target)
        .map((inbound: InboundMessage) =>
          protocolOf('degu').device.decodeOrder(inbound, { target: fixture.target }),
        );
    expectStatementError(decode, 'otakit_manifest.artifacts[0].url');
  });
});

describe('a signed manifest the wire cannot bind is refused at encode time', () => {
  it('Degu: an id other than the order id', async () => {
    const fixture = await fixtureOf('degu');
    const signed = { ...signedOf(wireManifest('degu', fixture), 'degu'), id: 'release-7' };
    expectStatementError(() => protocolOf('degu').cloud.encodeOrder(signed, fixture.target), 'id');
  });

  it('insigh.io: an artifact URL that is not the download URL', async () => {
    const fixture = await fixtureOf('insighIo');
    const wire = signedOf(wireManifest('insighIo', fixture), 'insighIo');
    const signed = { ...wire, artifacts: [{ ...wire.artifacts[0]!, url: 'https://cdn.example/p.tar.gz' }] };
    expectStatementError(() => protocolOf('insighIo').cloud.encodeOrder(signed, fixture.target), /url$/);
  });

  it('insigh.io: a statement too large for the 4 KB order message', async () => {
    const fixture = await fixtureOf('insighIo');
    const wire = signedOf(wireManifest('insighIo', fixture), 'insighIo');
    const signed: ManifestInput = {
      ...wire,
      signature: {
        ...SIGNATURE,
        signatures: Array.from({ length: 20 }, (_, i) => ({
          ...SIGNATURE.signatures[0]!,
          keyId: `key-${i}`,
        })),
      },
    };
    expectStatementError(() => protocolOf('insighIo').cloud.encodeOrder(signed, fixture.target), 'signature');
  });
});

describe('decodeStatement', () => {
  const statement = encodeStatement(
    parseManifest({
      id: 'a',
      version: '1',
      artifacts: [{ url: 'https://cdn.example/a.bin', target: 'file', sha256: SHA }],
      signature: SIGNATURE,
    }),
  )!;

  it('round-trips JSON and base64url', () => {
    const json = decodeStatement(statement);
    expect(json.signature).toEqual(SIGNATURE);
    expect(
      decodeStatement(encodeBase64url(new TextEncoder().encode(statement)), { encoding: 'base64url' }),
    ).toEqual(json);
  });

  it('refuses an unsigned statement, an oversized one and garbage, naming the path', () => {
    const unsigned = JSON.stringify({ ...JSON.parse(statement), signature: undefined });
    expectStatementError(() => decodeStatement(unsigned), 'otakit_manifest.signature');
    expectStatementError(() => decodeStatement(' '.repeat(STATEMENT_LIMITS.maxBytes + 1)), 'otakit_manifest');
    expectStatementError(() => decodeStatement('[1]'), 'otakit_manifest');
    expectStatementError(() => decodeStatement('e30=', { encoding: 'base64url' }), 'otakit_manifest');
    expectStatementError(() => decodeStatement(42), 'otakit_manifest');
    expectStatementError(
      () =>
        decodeStatement(
          JSON.stringify({
            ...JSON.parse(statement),
            artifacts: [{ url: 'file:///etc/passwd', target: 'file' }],
          }),
        ),
      'otakit_manifest.artifacts[0].url',
    );
  });
});
