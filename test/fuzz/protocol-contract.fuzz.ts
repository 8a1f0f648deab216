/**
 * Fuzzing the contract decoders of every protocol in the registry, FUZZ_RUNS cases each:
 * `device.decodeOrder` and `cloud.decodeStatus`, fed mutations of the valid messages the
 * protocol's contract fixture produces (payload at the character and the JSON-tree level,
 * address, HTTP status and headers, the remembered `memory`, the tracker's `previous`). A protocol
 * added to the registry is fuzzed with no edit here. Each decoder returns a value that validates
 * (a manifest whose artifact URLs are https, http, data or relative; an UpdateStatus), `null`, or
 * throws an otakit error with a message: never a TypeError, a RangeError, a plain Error, or a hang.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isArtifactUrl } from '../../src/core/url-scheme.js';
import * as otakit from '../../src/index.js';
import {
  type InboundMessage,
  isOtaError,
  ManifestSchema,
  type UpdateState,
  UpdateStatusSchema,
} from '../../src/index.js';
import { SEEDS, STATES } from './protocol-seeds.js';
import { countCase, fuzzParameters, printCounts, RUNS_LABEL } from './runs.js';
import {
  describeValue,
  fromSeeds,
  mutatedBytes,
  mutatedJson,
  mutatedPayload,
  mutatedText,
  typedOutcome,
} from './support.js';

afterAll(() => printCounts('protocol-contract.fuzz.ts'));

function mutatedMessage(message: InboundMessage): fc.Arbitrary<InboundMessage> {
  const payload: fc.Arbitrary<string | Uint8Array> =
    typeof message.payload === 'string'
      ? fc.oneof(
          { weight: 8, arbitrary: mutatedPayload(message.payload) },
          { weight: 1, arbitrary: fc.constant(message.payload) },
          {
            weight: 1,
            arbitrary: mutatedPayload(message.payload).map((text) => new TextEncoder().encode(text)),
          },
        )
      : mutatedBytes(message.payload);
  const headers: fc.Arbitrary<Readonly<Record<string, string>> | undefined> =
    message.headers === undefined
      ? fc.constant(undefined)
      : fc.oneof(
          fc.constant(message.headers),
          mutatedJson(message.headers).map((value) =>
            value !== null && typeof value === 'object' && !Array.isArray(value)
              ? Object.fromEntries(
                  Object.entries(value).map(([key, item]) => [
                    key,
                    typeof item === 'string' ? item : (JSON.stringify(item) ?? ''),
                  ]),
                )
              : {},
          ),
        );
  return fc
    .record({
      payload,
      address: fc.oneof(
        { weight: 6, arbitrary: fc.constant(message.address) },
        { weight: 1, arbitrary: mutatedText(message.address) },
      ),
      status: fc.oneof(
        { weight: 6, arbitrary: fc.constant(message.status) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            undefined,
            0,
            100,
            200,
            204,
            206,
            301,
            304,
            401,
            404,
            429,
            500,
            503,
            999,
            -1,
          ),
        },
      ),
      headers,
      retained: fc.option(fc.boolean(), { nil: undefined }),
    })
    .map(({ payload, address, status, headers, retained }) => {
      const out: InboundMessage = { address, payload };
      if (status !== undefined) out.status = status;
      if (headers !== undefined) out.headers = headers;
      if (retained !== undefined) out.retained = retained;
      return out;
    });
}

function describeMessage(message: InboundMessage): string {
  return `{address: ${describeValue(message.address)}, status: ${message.status}, headers: ${describeValue(message.headers)}, payload: ${describeValue(message.payload)}}`;
}

describe.each(SEEDS)('%s: the contract decoders', (name, seeds) => {
  const { protocol, fixture } = seeds;
  const { target } = fixture;
  const ref = {
    id: otakit.parseManifest(fixture.manifest).id,
    version: otakit.parseManifest(fixture.manifest).version,
  };

  it(`device.decodeOrder: ${RUNS_LABEL} mutated orders give a valid manifest, null, or a typed error`, async () => {
    expect(seeds.orders.length).toBeGreaterThan(0);
    const memory = fc.oneof(
      fc.constant(undefined),
      ...(seeds.memories.length > 0 ? [fromSeeds(seeds.memories, mutatedJson)] : []),
      fc.jsonValue({ maxDepth: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...seeds.orders).chain(mutatedMessage),
        memory,
        fc.constantFrom(undefined, null, ref, { id: 'other', version: '0' }),
        async (message, remembered, current) => {
          countCase(`${name}.device.decodeOrder`);
          const context = {
            target,
            ...(current === undefined ? {} : { current }),
            ...(remembered === undefined ? {} : { memory: remembered as never }),
          };
          const outcome = await typedOutcome(
            `${name}.device.decodeOrder`,
            () => `${describeMessage(message)}, memory ${describeValue(remembered)}`,
            () => protocol.device.decodeOrder(message, context),
          );
          if (!outcome.ok) return;
          const { value, lost, memory: next } = outcome.value;
          expect(Array.isArray(lost)).toBe(true);
          if (value !== null) {
            const parsed = ManifestSchema.safeParse(value);
            expect(parsed.success, `decoded order does not validate: ${describeValue(value)}`).toBe(true);
            // The documented refusal: no scheme but https, http and data (or a relative path).
            for (const artifact of value.artifacts) expect(isArtifactUrl(artifact.url)).toBe(true);
          }
          if (next !== undefined) expect(() => JSON.stringify(next)).not.toThrow();
        },
      ),
      fuzzParameters(),
    );
  });

  it(`cloud.decodeStatus: ${RUNS_LABEL} mutated statuses give a valid status, null, or a typed error`, async () => {
    if (seeds.statuses.length === 0) {
      expect(fixture.reportsStatus).toBe(false);
    }
    const statuses = seeds.statuses.length > 0 ? seeds.statuses : [{ address: 'version', payload: '1.0.0' }];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...statuses).chain(mutatedMessage),
        fc.constantFrom<UpdateState | undefined>(undefined, ...STATES),
        async (message, previousState) => {
          countCase(`${name}.cloud.decodeStatus`);
          const context = {
            target,
            machineId: fixture.machineId,
            at: '2026-12-05T12:00:00.000Z',
            ...(previousState === undefined
              ? {}
              : { previous: { state: previousState, update: previousState === 'idle' ? null : ref } }),
          };
          const outcome = await typedOutcome(
            `${name}.cloud.decodeStatus`,
            () => describeMessage(message),
            () => protocol.cloud.decodeStatus(message, context),
          );
          if (!outcome.ok || outcome.value === null) return;
          const parsed = UpdateStatusSchema.safeParse(outcome.value);
          expect(parsed.success, `decoded status does not validate: ${describeValue(outcome.value)}`).toBe(
            true,
          );
        },
      ),
      fuzzParameters(),
    );
  });

  it('refuses an order or status padded past every message limit (4 MiB) with a typed error', () => {
    const padding = ' '.repeat(4 * 1024 * 1024 + 1);
    for (const message of [...seeds.orders, ...seeds.statuses]) {
      if (typeof message.payload !== 'string' || message.payload === '') continue;
      if (message.status !== undefined && message.status !== 200) continue;
      const padded = { ...message, payload: `${message.payload}${padding}` };
      const isOrder = seeds.orders.includes(message);
      // Only messages the decoder reads: one that is not an order or a status (a device's
      // attribute request on a shared topic) is `null` whatever its body.
      const unpadded = isOrder
        ? protocol.device.decodeOrder(message, { target }).value
        : protocol.cloud.decodeStatus(message, { target, machineId: fixture.machineId });
      if (unpadded === null) continue;
      let thrown: unknown;
      try {
        if (isOrder) protocol.device.decodeOrder(padded, { target });
        else protocol.cloud.decodeStatus(padded, { target, machineId: fixture.machineId });
      } catch (error) {
        thrown = error;
      }
      expect(
        isOtaError(thrown),
        `${name} ${isOrder ? 'order' : 'status'} on ${message.address} padded to 4 MiB was not refused`,
      ).toBe(true);
    }
  });
});
