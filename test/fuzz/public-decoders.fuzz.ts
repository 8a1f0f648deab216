/**
 * Fuzzing every public decoder of every protocol namespace (found by name in the namespaces the
 * root entry and `otakit/node` export, as in test/protocols/public-decoders.test.ts, so a new
 * decoder is fuzzed with no edit here), FUZZ_RUNS cases each: hostile values of any type, and
 * mutations of every valid payload, address and header value the protocols' contract fixtures
 * produce. Each returns, or throws an otakit error with a message (a `safe*` decoder never throws).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import * as otakit from '../../src/index.js';
import {
  type AnyFunction,
  type Decoder,
  NAMESPACES,
  NODE_NAMESPACES,
  namespaceDecoders,
} from '../support/public-decoders.js';
import { TEST_LITERALS } from './corpus.js';
import { SEEDS } from './protocol-seeds.js';
import { countCase, fuzzParameters, printCounts, RUNS_LABEL } from './runs.js';
import { describeValue, fromSeeds, hostile, mutatedJson, mutatedPayload, typedOutcome } from './support.js';

afterAll(() => printCounts('public-decoders.fuzz.ts'));

function publicDecoders(): Decoder[] {
  const found = namespaceDecoders();
  // The root entry's own decoders.
  found.push({ label: 'parseManifest', fn: otakit.parseManifest as AnyFunction, arity: 1, safe: false });
  found.push({
    label: 'safeParseManifest',
    fn: otakit.safeParseManifest as AnyFunction,
    arity: 1,
    safe: true,
  });
  return found;
}

const DECODERS = publicDecoders();

/** Every valid payload, address and header value the fixtures produce: seeds for the first argument. */
const TEXT_SEEDS = [
  ...new Set(
    SEEDS.flatMap(([, seeds]) =>
      [...seeds.orders, ...seeds.statuses].flatMap((message) => [
        typeof message.payload === 'string' ? message.payload : new TextDecoder().decode(message.payload),
        message.address,
        ...Object.values(message.headers ?? {}),
      ]),
    ).filter((text) => text !== ''),
  ),
  JSON.stringify(SEEDS.map(([, seeds]) => seeds.fixture.manifest)[0]),
  ...SEEDS.map(([, seeds]) => JSON.stringify(seeds.fixture.manifest)),
];
const JSON_SEEDS = TEXT_SEEDS.flatMap((text) => {
  try {
    return [JSON.parse(text) as unknown];
  } catch {
    return [];
  }
}).filter((value) => value !== null && typeof value === 'object');

const firstArgument: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: hostile },
  { weight: 3, arbitrary: fromSeeds(TEXT_SEEDS, mutatedPayload) },
  { weight: 2, arbitrary: fromSeeds(TEST_LITERALS, mutatedPayload) },
  { weight: 3, arbitrary: fromSeeds(JSON_SEEDS, mutatedJson) },
  {
    weight: 1,
    arbitrary: fromSeeds(TEXT_SEEDS, mutatedPayload).map((text) => new TextEncoder().encode(text)),
  },
);

describe('public decoders of every protocol namespace', () => {
  it('finds them (a new decoder is fuzzed with no edit here)', () => {
    console.info(
      `public decoders fuzzed (${DECODERS.length}): ${DECODERS.map((decoder) => decoder.label).join(', ')}`,
    );
    for (const namespace of [...NAMESPACES, ...NODE_NAMESPACES]) {
      expect(DECODERS.some((decoder) => decoder.label.startsWith(`${namespace}.`))).toBe(true);
    }
  });

  it.each(DECODERS.map((decoder) => [decoder.label, decoder] as const))(
    `%s: ${RUNS_LABEL} hostile and mutated inputs give a value or a typed error`,
    async (label, decoder) => {
      const rest = fc.array(fc.oneof(hostile, firstArgument), {
        minLength: decoder.arity - 1,
        maxLength: decoder.arity - 1,
      });
      await fc.assert(
        fc.asyncProperty(firstArgument, rest, async (first, others) => {
          countCase(label);
          const args = [first, ...others];
          const outcome = await typedOutcome(
            label,
            () => args.map(describeValue).join(', '),
            () => decoder.fn(...args),
          );
          if (decoder.safe && !outcome.ok) {
            throw new Error(
              `${label}(${args.map(describeValue).join(', ')}) threw; a safe* decoder never throws`,
            );
          }
        }),
        fuzzParameters(),
      );
    },
  );
});
