import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOtaError, type ManifestInput } from '../../../src/index.js';
import * as degu from '../../../src/protocols/degu/index.js';
import { shadowModel } from '../../../src/testing/index.js';

const RUNS = { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) };
const KINDS: degu.ShadowMessageKind[] = [
  'request',
  'get/accepted',
  'update/accepted',
  'update/delta',
  'update/documents',
  'delete/accepted',
  'rejected',
];

/** Either a typed value, or a MANIFEST_INVALID error: never anything else. */
function typedOutcome(run: () => unknown): boolean {
  try {
    run();
    return true;
  } catch (error) {
    return isOtaError(error, 'MANIFEST_INVALID') && error.issues.length > 0;
  }
}

const md5 = fc.stringMatching(/^[0-9a-f]{32}$/);
const anyCaseMd5 = fc.stringMatching(/^[0-9a-fA-F]{32}$/);
const url = fc.webUrl({ withQueryParameters: true, withFragments: true });
const reportedMd5 = fc.oneof(md5, fc.constant('none'));

/** Inputs near the shape of shadow documents, so the schemas' inner paths get exercised. */
const shadowish = fc.record(
  {
    state: fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          desired: fc.oneof(
            fc.jsonValue(),
            fc.dictionary(fc.constantFrom(...degu.DEGU_ITEMS, 'script_user_ver', 'x'), fc.jsonValue()),
          ),
          reported: fc.jsonValue(),
          delta: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
    ),
    metadata: fc.jsonValue(),
    version: fc.oneof(fc.nat(), fc.jsonValue()),
    timestamp: fc.oneof(fc.nat(), fc.jsonValue()),
    clientToken: fc.oneof(fc.string(), fc.jsonValue()),
    code: fc.oneof(fc.integer(), fc.jsonValue()),
    message: fc.jsonValue(),
    current: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

/** Values no JSON parser produces (BigInt, Date, Map, sparse arrays…), as a caller might pass. */
const oddValue = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withObjectString: true,
  withSet: true,
  withSparseArray: true,
  withTypedArray: true,
});

const wireInput = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  fc.string(),
  fc.json(),
  fc.jsonValue(),
  oddValue,
  oddValue.map((value) => ({
    state: {
      desired: { script_user_ver: value, other: value },
      reported: { firmware_ver: value, other: value },
    },
    version: 1,
    timestamp: 1,
    current: { state: { desired: value }, version: 1 },
  })),
  shadowish,
  shadowish.map((value) => JSON.stringify(value)),
  shadowish.map((value) => new TextEncoder().encode(JSON.stringify(value))),
);

const decoders: Array<[string, (input: unknown) => unknown]> = [
  ...KINDS.map((kind): [string, (input: unknown) => unknown] => [
    `decodeShadowMessage('${kind}')`,
    (input) => degu.decodeShadowMessage(kind, input),
  ]),
  ...KINDS.map((kind): [string, (input: unknown) => unknown] => [
    `decodeMessage('${kind}')`,
    (input) => degu.decodeMessage(kind, input),
  ]),
  ['decodeBootReport', (input) => degu.decodeBootReport(input)],
  ['toCanonical', (input) => degu.toCanonical(input as degu.DeguShadowView)],
  ['fromCanonical', (input) => degu.fromCanonical(input as ManifestInput)],
];

describe('arbitrary input never crashes a decoder', () => {
  for (const [name, decode] of decoders) {
    it(`${name}: typed value or MANIFEST_INVALID`, () => {
      fc.assert(
        fc.property(wireInput, (input) => typedOutcome(() => decode(input))),
        RUNS,
      );
    });
  }

  it('checkRequest / applyUpdate: accepted, or an AWS error document', () => {
    const codes = new Set(
      Object.values(shadowModel.SHADOW_ERRORS).map((error) => `${error.code} ${error.message}`),
    );
    fc.assert(
      fc.property(wireInput, (input) => {
        for (const result of [
          shadowModel.checkRequest(input, { timestamp: 1 }),
          shadowModel.applyUpdate(undefined, input, { timestamp: 1 }),
        ]) {
          if (!result.ok && !codes.has(`${result.error.code} ${result.error.message}`)) return false;
        }
        return true;
      }),
      RUNS,
    );
  });

  it('parseShadowTopic: undefined, or a topic that rebuilds to the same string', () => {
    const topicish = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.stringMatching(/^[a-zA-Z0-9:_$/+#-]{0,10}$/),
          fc.option(fc.stringMatching(/^[a-zA-Z0-9:_$/+#-]{0,10}$/)),
          fc.constantFrom(...degu.SHADOW_TOPIC_KINDS, 'get/delta', 'x', ''),
        )
        .map(
          ([thing, shadow, kind]) =>
            `$aws/things/${thing}/shadow${shadow === null ? '' : `/name/${shadow}`}/${kind}`,
        ),
    );
    fc.assert(
      fc.property(topicish, (topic) => {
        const parsed = degu.parseShadowTopic(topic);
        return parsed === undefined || degu.shadowTopic(parsed, parsed.kind) === topic;
      }),
      RUNS,
    );
  });
});

describe('encode → decode round trips', () => {
  const bootReport = fc.record(
    {
      script_user_ver: fc.oneof(anyCaseMd5, fc.constant('none')),
      config_user_ver: fc.oneof(anyCaseMd5, fc.constant('none')),
      firmware_system_ver: reportedMd5,
      firmware_ver: fc.string({ minLength: 1, maxLength: 64 }),
    },
    { requiredKeys: ['script_user_ver', 'config_user_ver', 'firmware_system_ver'] },
  );

  it('boot report: encodeReport → JSON → decodeBootReport', () => {
    fc.assert(
      fc.property(
        bootReport,
        fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        (report, clientToken) => {
          const encoded = degu.encodeReport(report, clientToken === undefined ? {} : { clientToken });
          const decoded = degu.decodeBootReport(new TextEncoder().encode(JSON.stringify(encoded)));
          expect(decoded).toEqual(encoded);
          expect(decoded.state.reported.script_user_ver).toBe(report.script_user_ver.toLowerCase());
        },
      ),
      RUNS,
    );
  });

  /** A Degu order: any non-empty subset of the items, each with URL and MD5. */
  const order = fc
    .record(
      {
        script_user: fc.tuple(url, anyCaseMd5),
        config_user: fc.tuple(url, anyCaseMd5),
        firmware_system: fc.tuple(url, anyCaseMd5),
      },
      { requiredKeys: [] },
    )
    .filter((items) => Object.keys(items).length > 0)
    .map((items) => {
      const desired: Record<string, string> = {};
      for (const [item, [address, digest]] of Object.entries(items)) {
        desired[item] = address;
        desired[`${item}_ver`] = digest;
      }
      return desired as degu.DeguDesired;
    });

  it('order: desired → toCanonical → fromCanonical → decodeMessage(request) gives the order back', () => {
    fc.assert(
      fc.property(order, (desired) => {
        const { value: manifest, lost } = degu.toCanonical({ desired });
        expect(lost).toEqual([]);
        const { value: request, lost: lostBack } = degu.fromCanonical(manifest!);
        expect(lostBack).toEqual([]);
        const lowered = Object.fromEntries(
          Object.entries(desired).map(([key, value]) => [
            key,
            key.endsWith('_ver') ? String(value).toLowerCase() : value,
          ]),
        );
        expect(degu.decodeMessage('request', JSON.stringify(request)).state.desired).toEqual(lowered);
      }),
      RUNS,
    );
  });

  it('manifest: fromCanonical → toCanonical keeps every artifact (in install order)', () => {
    const manifest = fc
      .uniqueArray(
        fc.record({ target: fc.constantFrom('script', 'config', 'firmware' as const), url, md5: anyCaseMd5 }),
        {
          minLength: 1,
          maxLength: 3,
          selector: (artifact) => artifact.target,
        },
      )
      .chain((artifacts) =>
        fc.record({
          id: fc.string({ minLength: 1 }),
          version: fc.string({ minLength: 1 }),
          artifacts: fc.constant(artifacts),
        }),
      );
    const order = ['script', 'config', 'firmware'];
    fc.assert(
      fc.property(manifest, (input) => {
        const { value: request } = degu.fromCanonical(input);
        const { value: back } = degu.toCanonical({
          desired: degu.decodeMessage('request', request).state.desired as degu.DeguDesired,
        });
        const expected = [...input.artifacts]
          .sort((a, b) => order.indexOf(a.target) - order.indexOf(b.target))
          .map((artifact) => ({
            target: artifact.target,
            url: artifact.url,
            md5: artifact.md5.toLowerCase(),
          }));
        expect(
          back?.artifacts.map(({ target, url: address, md5: digest }) => ({
            target,
            url: address,
            md5: digest,
          })),
        ).toEqual(expected);
      }),
      RUNS,
    );
  });

  /** State sections the service stores as sent: no nulls (they delete), no empty objects. */
  const leaf = fc.oneof(
    fc.integer(),
    fc.boolean(),
    fc.string({ maxLength: 8 }),
    fc.array(fc.integer(), { maxLength: 3 }),
  );
  const section = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small', maxDepth: 3 }, leaf, tie('object')),
    object: fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), tie('node'), { minKeys: 1, maxKeys: 4 }),
  })).object as fc.Arbitrary<degu.JsonObject>;

  it('service: every response decodes back to itself, and reporting the delta clears it', () => {
    fc.assert(
      fc.property(
        section,
        section,
        fc.option(fc.string({ maxLength: 64 }), { nil: undefined }),
        (desired, reported, clientToken) => {
          const request = {
            state: { desired, reported },
            ...(clientToken === undefined ? {} : { clientToken }),
          };
          const result = shadowModel.applyUpdate(undefined, JSON.stringify(request), { timestamp: 7 });
          if (!result.ok) return result.error.code === 400 || result.error.code === 413; // e.g. a token over 64 bytes
          for (const [kind, message] of [
            ['update/accepted', result.accepted],
            ['update/documents', result.documents],
            ['update/delta', result.delta],
          ] as const) {
            if (message === undefined) continue;
            expect(degu.decodeShadowMessage(kind, JSON.stringify(message))).toEqual(message);
          }
          expect(result.delta?.state).toEqual(shadowModel.computeDelta(desired, reported));
          if (result.delta === undefined) return true;
          const synced = shadowModel.applyUpdate(
            result.shadow,
            { state: { reported: result.delta.state } },
            { timestamp: 8 },
          );
          return synced.ok && synced.delta === undefined;
        },
      ),
      RUNS,
    );
  });

  it('topics: build → parse for any valid names', () => {
    const thingName = fc.stringMatching(/^[a-zA-Z0-9:_-]{1,128}$/);
    const shadowName = fc.option(fc.stringMatching(/^[$a-zA-Z0-9:_-]{1,64}$/), { nil: undefined });
    fc.assert(
      fc.property(
        thingName,
        shadowName,
        fc.constantFrom(...degu.SHADOW_TOPIC_KINDS),
        (thing, shadow, kind) => {
          const address =
            shadow === undefined ? { thingName: thing } : { thingName: thing, shadowName: shadow };
          expect(degu.parseShadowTopic(degu.shadowTopic(address, kind))).toEqual({ ...address, kind });
        },
      ),
      RUNS,
    );
  });
});

describe('one broken field of a valid order is refused (or, per vector D5, is no update)', () => {
  const ITEMS = ['script_user', 'config_user', 'firmware_system'] as const;
  const TARGETS = { script_user: 'script', config_user: 'config', firmware_system: 'firmware' } as const;
  /** A valid Degu order: a non-empty subset of the items, each with URL and MD5. */
  const validOrder = fc
    .uniqueArray(fc.constantFrom(...ITEMS), { minLength: 1, maxLength: 3 })
    .chain((items) =>
      fc.tuple(fc.constant(items), fc.array(fc.tuple(url, md5), { minLength: 3, maxLength: 3 })),
    )
    .map(([items, values]) => {
      const desired: Record<string, string> = {};
      items.forEach((item, index) => {
        desired[item] = values[index]![0];
        desired[`${item}_ver`] = values[index]![1];
      });
      return { items, desired };
    });
  const badVer = fc.constantFrom('abc', 'g'.repeat(32), `${'0'.repeat(31)}`, '0'.repeat(33), 'none');
  const badUrl = fc.constantFrom('ftp://example.com/main.py', 'main.py', '', 'javascript:alert(1)');

  function refusal(run: () => unknown): string[] {
    try {
      run();
    } catch (error) {
      if (isOtaError(error, 'MANIFEST_INVALID')) return error.issues.map((issue) => issue.path);
      throw error;
    }
    throw new Error('accepted');
  }

  it('a *_ver that is no MD5 is refused on both sides, named', () => {
    fc.assert(
      fc.property(validOrder, fc.nat(), badVer, ({ items, desired }, at, bad) => {
        const item = items[at % items.length]!;
        const broken = { ...desired, [`${item}_ver`]: bad };
        expect(refusal(() => degu.toCanonical({ desired: broken as degu.DeguDesired }))).toContain(
          `desired.${item}_ver`,
        );
        expect(
          refusal(() => degu.decodeMessage('request', JSON.stringify({ state: { desired: broken } }))),
        ).toContain(`state.desired.${item}_ver`);
      }),
      RUNS,
    );
  });

  it('a URL that is not absolute http(s) is refused, named', () => {
    fc.assert(
      fc.property(validOrder, fc.nat(), badUrl, ({ items, desired }, at, bad) => {
        const item = items[at % items.length]!;
        const broken = { ...desired, [item]: bad };
        expect(refusal(() => degu.toCanonical({ desired: broken as degu.DeguDesired }))).toContain(
          `desired.${item}`,
        );
      }),
      RUNS,
    );
  });

  it('a URL without its *_ver orders no update of that item (D5); the others stay ordered', () => {
    fc.assert(
      fc.property(validOrder, fc.nat(), ({ items, desired }, at) => {
        const item = items[at % items.length]!;
        const broken: Record<string, string> = { ...desired };
        Reflect.deleteProperty(broken, `${item}_ver`);
        const { value } = degu.toCanonical({ desired: broken as degu.DeguDesired });
        const targets = (value?.artifacts ?? []).map((artifact) => artifact.target);
        expect(targets).not.toContain(TARGETS[item]);
        expect(targets.sort()).toEqual(
          items
            .filter((other) => other !== item)
            .map((other) => TARGETS[other])
            .sort(),
        );
      }),
      RUNS,
    );
  });

  it('the cloud refuses a manifest whose artifact has no MD5 (it cannot write the *_ver), named', () => {
    fc.assert(
      fc.property(validOrder, fc.nat(), ({ items, desired }, at) => {
        const { value: manifest } = degu.toCanonical({ desired: desired as degu.DeguDesired });
        const index = at % manifest!.artifacts.length;
        const broken = {
          ...manifest!,
          artifacts: manifest!.artifacts.map((artifact, i) =>
            i === index ? { ...artifact, md5: undefined } : artifact,
          ),
        };
        expect(items.length).toBe(manifest!.artifacts.length);
        expect(
          refusal(() => degu.fromCanonical(JSON.parse(JSON.stringify(broken)) as ManifestInput)),
        ).toContain(`artifacts[${index}].md5`);
      }),
      RUNS,
    );
  });
});
