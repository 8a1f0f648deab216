/** fast-check properties: every decoder takes anything without crashing; encoders round-trip. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InstallError, ManifestError } from '../../../src/core/errors.js';
import { UPDATE_STATES } from '../../../src/core/states.js';
import { insighIoPackage } from '../../../src/node/index.js';
import * as insighIo from '../../../src/protocols/insighio/index.js';
import { CONTEXT, makeTar, microfreezer, text } from './fixtures.js';

const RUNS = { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) };

/** Runs `decode`; it must return, or throw an error of `type` (never a raw SyntaxError/ZodError). */
function typedOutcome<T>(
  decode: () => T,
  type: new (...args: never[]) => Error = ManifestError,
): T | undefined {
  try {
    return decode();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return undefined;
  }
}

async function typedAsyncOutcome<T>(
  decode: () => Promise<T>,
  type: new (...args: never[]) => Error,
): Promise<T | undefined> {
  try {
    return await decode();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return undefined;
  }
}

const fileId = fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/);
const fileType = fc.stringMatching(/^(\.[A-Za-z0-9]{1,6}){1,4}$/);
const size = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const order = fc.record({ fileId, fileType, size });
const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const deviceKey = fc
  .string({ minLength: 1, maxLength: 64, unit: 'grapheme' })
  .filter((key) => ![...key].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f));
const message = fc.string({ maxLength: 100, unit: 'grapheme' });
const status = fc.oneof(
  fc.record({ event: fc.constantFrom(1 as const, 2 as const, 3 as const), fileId }),
  fc.record({ event: fc.constantFrom(1 as const, 2 as const, 3 as const), fileId, message }),
);

/** SenML-shaped records, to reach past JSON and zod into the interpretation. */
const senmlRecord = fc.record(
  {
    n: fc.constantFrom('e', 'i', 't', 's', 'm', 'x', ''),
    bn: fc.constantFrom('', 'e', 'ota/'),
    v: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double(), fc.constant(3987)),
    vs: fc.oneof(fc.constantFrom('0', 'fa8884d2', '.tar.gz', '../x', '', '3987'), fc.string()),
    vb: fc.boolean(),
    bv: fc.integer({ min: -3, max: 3 }),
    m: fc.string(),
    x_: fc.constant(1),
  },
  { requiredKeys: [] },
);

function checkMessage(result: insighIo.OtaMessage | undefined): void {
  if (result === undefined || result.kind === 'cleared') return;
  if (result.kind === 'order') expect(insighIo.OtaOrderSchema.safeParse(result.order).success).toBe(true);
  else expect(insighIo.OtaStatusSchema.safeParse(result.status).success).toBe(true);
}

describe('insigh.io decoders take anything (typed errors only)', () => {
  it('decodeMessage: arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, strictCompat) => {
        checkMessage(typedOutcome(() => insighIo.decodeMessage(bytes, { strictCompat })));
      }),
      RUNS,
    );
  });

  it('decodeMessage: arbitrary JSON text and values', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string()), fc.boolean(), (json, strictCompat) => {
        checkMessage(typedOutcome(() => insighIo.decodeMessage(json, { strictCompat })));
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, strictCompat) => {
        checkMessage(typedOutcome(() => insighIo.decodeMessage(value, { strictCompat })));
      }),
      RUNS,
    );
  });

  it('decodeMessage: arbitrary SenML packs', () => {
    fc.assert(
      fc.property(fc.array(senmlRecord, { maxLength: 40 }), fc.boolean(), (pack, strictCompat) => {
        checkMessage(typedOutcome(() => insighIo.decodeMessage(JSON.stringify(pack), { strictCompat })));
      }),
      RUNS,
    );
  });

  it('parseControlTopic / parseOtaTopic: arbitrary strings and topic-like strings', () => {
    const topicLike = fc
      .array(fc.oneof(fc.constantFrom('channels', 'messages', 'ota', '+', '#', '', 'a'), id, fc.string()), {
        maxLength: 7,
      })
      .map((levels) => levels.join('/'));
    fc.assert(
      fc.property(fc.oneof(fc.string(), topicLike), (topic) => {
        const parsed = typedOutcome(() => insighIo.parseControlTopic(topic));
        // Whatever parses rebuilds to the same topic: nothing was smuggled in.
        if (parsed) expect(insighIo.controlTopic(parsed, parsed.subtopic ?? undefined)).toBe(topic);
        const ota = typedOutcome(() => insighIo.parseOtaTopic(topic));
        if (ota) expect(insighIo.otaTopic(ota)).toBe(topic);
      }),
      RUNS,
    );
  });

  it('parseDownloadUrl: arbitrary strings and URLs', () => {
    const urlLike = fc
      .tuple(
        fc.webUrl(),
        fc.array(fc.tuple(fc.constantFrom('fuid', 'did', 'dk', 'cid', 'x'), fc.string()), { maxLength: 6 }),
      )
      .map(
        ([base, params]) =>
          `${base}/packages/download?${params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`,
      );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webUrl(), urlLike), (url) => {
        const parsed = typedOutcome(() => insighIo.parseDownloadUrl(url));
        if (parsed) expect(insighIo.DownloadParamsSchema.safeParse(parsed).success).toBe(true);
      }),
      RUNS,
    );
  });

  it('fromCanonical: arbitrary JSON and manifest-like values', () => {
    const manifestLike = fc.record(
      {
        id: fc.oneof(id, fc.string()),
        version: fc.string(),
        artifacts: fc.array(
          fc.record(
            {
              url: fc.oneof(
                fc.webUrl(),
                fc.string(),
                fc.constantFrom('https://x.test/a.tar', 'https://x.test/a.tar.gz'),
              ),
              size: fc.oneof(fc.integer(), fc.double()),
              target: fc.constantFrom('package', 'file', 'nope'),
              name: fc.string(),
            },
            { requiredKeys: ['url', 'target'] },
          ),
          { maxLength: 3 },
        ),
        extensions: fc.dictionary(fc.constantFrom('insighio', 'degu'), fc.jsonValue()),
      },
      { requiredKeys: ['id', 'version', 'artifacts'] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), manifestLike), (value) => {
        const result = typedOutcome(() => insighIo.fromCanonical(value));
        if (result) expect(insighIo.OtaOrderSchema.safeParse(result.value).success).toBe(true);
      }),
      RUNS,
    );
  });

  it('readTar: arbitrary bytes and corrupted valid archives throw InstallError only', () => {
    const valid = makeTar([
      { name: 'apps/', type: '5' },
      { name: 'apps/a.py', data: 'a'.repeat(700), pax: { path: 'apps/b.py' } },
    ]);
    const corrupted = fc
      .array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 8,
      })
      .map((edits) => {
        const copy = valid.slice();
        for (const [index, byte] of edits) copy[index] = byte;
        return copy;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2048 }), corrupted), (bytes) => {
        const entries = typedOutcome(() => insighIoPackage.readTar(bytes), InstallError);
        for (const entry of entries ?? []) {
          expect(entry.path.startsWith('/')).toBe(false);
          expect(entry.path.split('/')).not.toContain('..');
        }
      }),
      RUNS,
    );
  });

  it('readPackage: arbitrary bytes throw InstallError only', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 1200 }),
          fc
            .uint8Array({ maxLength: 200 })
            .map((tail) => Uint8Array.of(0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x78, 0x5e, ...tail)),
          fc
            .uint8Array({ maxLength: 200 })
            .map((tail) => Uint8Array.of(0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, ...tail)),
        ),
        async (bytes) => {
          await typedAsyncOutcome(() => insighIoPackage.readPackage(bytes), InstallError);
        },
      ),
      RUNS,
    );
  });
});

describe('insigh.io refuses a valid order with one record broken, naming it', () => {
  /**
   * A bad value per record: the event id, file id, file type and size. strictCompat reads as the
   * reference does (a digit string as a number, a fractional size truncated), so those are bad in
   * hardened mode only.
   */
  const BAD = {
    e: [{ v: 7 }, { v: -1 }, { v: 0.5 }],
    i: [{ vs: '../x' }, { vs: 'a/b' }, { v: 1 }, { vs: 'x'.repeat(129) }],
    t: [{ vs: 'tar.gz' }, { vs: './x' }, { v: 1 }],
    s: [{ v: -1 }, { vs: 'big' }],
  } as const;
  const HARDENED_ONLY = { e: [{ vs: '0' }], i: [], t: [], s: [{ v: 1.5 }, { vs: '3987' }] } as const;
  const breakage = fc.boolean().chain((strictCompat) =>
    fc.record({
      strictCompat: fc.constant(strictCompat),
      broken: fc.oneof(
        ...(['e', 'i', 't', 's'] as const).map((name) =>
          fc.record({
            name: fc.constant(name),
            replace: fc.constantFrom<Readonly<Record<string, unknown>> | undefined>(
              undefined,
              ...BAD[name],
              ...(strictCompat ? [] : HARDENED_ONLY[name]),
            ),
          }),
        ),
      ),
    }),
  );

  it('a missing or malformed e, i (the file id), t or s is refused, in both modes', () => {
    fc.assert(
      fc.property(order, breakage, fc.nat(), (value, { strictCompat, broken: { name, replace } }, seed) => {
        const records = JSON.parse(insighIo.encodeOrder(value)) as Array<Record<string, unknown>>;
        const rotated = records.map((_, index) => records[(index + seed) % records.length]!);
        const at = rotated.findIndex((record) => record.n === name);
        const broken =
          replace === undefined
            ? rotated.filter((record) => record.n !== name)
            : rotated.map((record, index) => (index === at ? { n: name, ...replace } : record));
        let thrown: unknown;
        try {
          insighIo.decodeMessage(JSON.stringify(broken), { strictCompat });
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `record ${name} broken, yet accepted`).toBeInstanceOf(ManifestError);
        const issues = (thrown as ManifestError).issues;
        const named =
          replace === undefined
            ? issues.some((issue) => issue.expected.includes(`record named "${name}"`))
            : issues.some((issue) => issue.path.startsWith(`[${at}].`));
        expect(named, JSON.stringify(issues)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('insigh.io round trips', () => {
  it('encodeOrder -> decodeMessage, in both modes and with the records shuffled', () => {
    fc.assert(
      fc.property(order, fc.boolean(), fc.nat(), (value, strictCompat, seed) => {
        const text = insighIo.encodeOrder(value);
        expect(insighIo.decodeMessage(text, { strictCompat })).toEqual({ kind: 'order', order: value });
        const records = JSON.parse(text) as unknown[];
        const rotated = records.map((_, index) => records[(index + seed) % records.length]);
        expect(insighIo.decodeMessage(rotated, { strictCompat })).toEqual({ kind: 'order', order: value });
      }),
      RUNS,
    );
  });

  it('encodeStatus -> decodeMessage', () => {
    fc.assert(
      fc.property(status, fc.boolean(), (value, strictCompat) => {
        // strictCompat reads a falsy message as absent, as the reference would.
        const expected =
          strictCompat && 'message' in value && value.message === ''
            ? { event: value.event, fileId: value.fileId }
            : value;
        const decoded = insighIo.decodeMessage(insighIo.encodeStatus(value), { strictCompat });
        expect(decoded).toStrictEqual({ kind: 'status', status: { ...expected } });
      }),
      RUNS,
    );
  });

  it('otaTopic -> parseOtaTopic', () => {
    fc.assert(
      fc.property(id, id, (controlChannelId, deviceId) => {
        const ids = { controlChannelId, deviceId };
        expect(insighIo.parseOtaTopic(insighIo.otaTopic(ids))).toEqual(ids);
      }),
      RUNS,
    );
  });

  it('downloadUrl -> parseDownloadUrl, with any printable key, never printing it', () => {
    fc.assert(
      fc.property(fileId, id, id, deviceKey, (file, deviceId, controlChannelId, key) => {
        const params = { fileId: file, deviceId, controlChannelId, deviceKey: key };
        const url = insighIo.downloadUrl(params);
        expect(insighIo.parseDownloadUrl(url.href)).toEqual({
          baseUrl: insighIo.DEFAULT_BASE_URL,
          ...params,
        });
        expect(String(url)).toContain('dk=***');
        expect(String(url).split('dk=')[1]?.startsWith('***&cid=')).toBe(true);
      }),
      RUNS,
    );
  });

  it('toCanonical -> fromCanonical -> toCanonical', () => {
    fc.assert(
      fc.property(order, (value) => {
        const { value: manifest, lost } = insighIo.toCanonical(value, CONTEXT);
        expect(lost).toEqual([]);
        const back = insighIo.fromCanonical(manifest);
        expect(back).toEqual({ value, lost: [] });
        expect(insighIo.toCanonical(back.value, CONTEXT).value).toEqual(manifest);
      }),
      RUNS,
    );
  });

  it('statusToWire -> encodeStatus -> decodeMessage -> statusFromWire keeps the state and id', () => {
    fc.assert(
      fc.property(fc.constantFrom(...UPDATE_STATES), fileId, (state, updateId) => {
        const wire = insighIo.statusToWire({ state, updateId });
        if (wire === null) return;
        const decoded = insighIo.decodeMessage(insighIo.encodeStatus(wire));
        if (decoded.kind !== 'status') throw new Error('expected a status');
        expect(insighIo.statusFromWire(decoded.status)).toMatchObject({ state, updateId });
      }),
      RUNS,
    );
  });

  it('makeTar -> readTar keeps every safe entry', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/).filter((part) => part !== '..');
    const entry = fc.record({
      path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/')),
      data: fc.uint8Array({ maxLength: 1500 }),
      long: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), (entries) => {
        const tar = makeTar(
          entries.map((item) =>
            item.long
              ? { name: 'short-name', data: item.data, pax: { path: item.path } }
              : { name: item.path, data: item.data },
          ),
        );
        expect(insighIoPackage.readTar(tar).map((read) => [read.path, Array.from(read.data)])).toEqual(
          entries.map((item) => [item.path, Array.from(item.data)]),
        );
      }),
      RUNS,
    );
  });

  it('microfreezer package -> readPackage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ maxLength: 600 }), { maxLength: 4 }), async (contents) => {
        const tar = makeTar(contents.map((data, index) => ({ name: `f${index}.py`, data })));
        const entries = await insighIoPackage.readPackage(await microfreezer(tar));
        expect(entries.map((read) => text(read.data))).toEqual(contents);
      }),
      RUNS,
    );
  });
});
