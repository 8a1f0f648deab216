/**
 * Every public decoder of every protocol namespace returns a value or throws a typed otakit
 * error, whatever it is given: callers in plain JavaScript, or with data from the network, pass
 * values outside the TypeScript types. The decoders are found by name in the namespaces the root
 * entry exports, so a new decoder is covered without editing this file.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as otakit from '../../src/index.js';
import { isOtaError } from '../../src/index.js';
import * as otakitNode from '../../src/node/index.js';
import {
  type Decoder,
  NAMESPACES,
  NODE_NAMESPACES,
  namespaceDecoders,
  PROTOTYPE_NAMES,
} from '../support/public-decoders.js';

const RUNS = Number(process.env.OTAKIT_PROPERTY_RUNS ?? 150);

const DECODERS = namespaceDecoders();

function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function nestedObject(depth: number): unknown {
  let value: unknown = {};
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

const HUGE = 'a'.repeat(2_000_000);
const DEEP_ARRAY = nested(20_000, 0);
const DEEP_OBJECT = nestedObject(20_000);

/** Values outside every decoder's types, and values that look almost right. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withTypedArray: true,
    withSparseArray: true,
    withUnicodeString: true,
  }),
  fc.constantFrom<unknown>(
    ...PROTOTYPE_NAMES,
    null,
    undefined,
    0,
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    2 ** 53,
    true,
    '',
    '{}',
    '[]',
    'null',
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
    HUGE,
    `{"a":"${HUGE}"}`,
    '['.repeat(100_000),
    `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
    `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`,
    DEEP_ARRAY,
    DEEP_OBJECT,
    new Uint8Array(0),
    new Uint8Array([0x1f, 0x8b, 0x08, 0x00]),
    new Uint8Array([0x50, 0x4b, 0x03, 0x04]),
    new Uint8Array(1024),
    new ArrayBuffer(8),
    Object.create(null) as unknown,
    Symbol('decoder input'),
    () => 'a function',
    [],
    {},
    { __proto__: null, toString: 'x' },
    { toString: 1, valueOf: 1 },
    { length: -1 },
    { length: 2 ** 32 },
    new Date(Number.NaN),
    /regex/,
  ),
  fc.constantFrom(...PROTOTYPE_NAMES).map((name) => ({ [name]: name })),
  fc.uint8Array({ maxLength: 600 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.jsonValue(),
);

type Outcome = { kind: 'value' } | { kind: 'typed'; code: string } | { kind: 'raw'; error: unknown };

async function outcome(decoder: Decoder, args: unknown[]): Promise<Outcome> {
  let result: unknown;
  try {
    result = decoder.fn(...args);
  } catch (error) {
    return isOtaError(error) ? { kind: 'typed', code: error.code } : { kind: 'raw', error };
  }
  if (result instanceof Promise) {
    try {
      await result;
    } catch (error) {
      return isOtaError(error) ? { kind: 'typed', code: error.code } : { kind: 'raw', error };
    }
  }
  return { kind: 'value' };
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message.slice(0, 200)}`;
  return String(error).slice(0, 200);
}

function describeArgs(args: unknown[]): string {
  return args
    .map((arg) => {
      if (typeof arg === 'string')
        return JSON.stringify(arg.length > 40 ? `${arg.slice(0, 40)}…(${arg.length})` : arg);
      if (typeof arg === 'symbol' || typeof arg === 'function' || typeof arg === 'bigint') return String(arg);
      if (arg instanceof Uint8Array) return `Uint8Array(${arg.length})`;
      try {
        const text = JSON.stringify(arg);
        return text === undefined ? String(arg) : text.slice(0, 80);
      } catch {
        return Object.prototype.toString.call(arg);
      }
    })
    .join(', ');
}

describe('public decoders of every protocol namespace', () => {
  it('finds the decoders by name in every namespace the root entry exports', () => {
    const listed = DECODERS.map((decoder) => `${decoder.label}/${decoder.arity}`);
    // Printed so a reviewer sees what the property below covers.
    console.info(`public decoders under test (${listed.length}):\n  ${listed.join('\n  ')}`);
    for (const namespace of [...NAMESPACES, ...NODE_NAMESPACES]) {
      expect(DECODERS.some((decoder) => decoder.label.startsWith(`${namespace}.`))).toBe(true);
    }
    // The ones found throwing raw TypeErrors when the package was tried from outside.
    for (const label of ['degu.decodeMessage', 'insighIoPackage.readTar', 'thingsBoard.decodeChunkRequest']) {
      expect(DECODERS.map((decoder) => decoder.label)).toContain(label);
    }
  });

  it.each(DECODERS.map((decoder) => [decoder.label, decoder] as const))(
    '%s returns a value or throws an OtaError, whatever it is given',
    async (_label, decoder) => {
      const details = await fc.check(
        fc.asyncProperty(
          fc.array(hostile, { minLength: decoder.arity, maxLength: decoder.arity }),
          async (args) => {
            const result = await outcome(decoder, args);
            if (result.kind === 'raw') {
              throw new Error(
                `${decoder.label}(${describeArgs(args)}) threw ${describeError(result.error)}, not an OtaError`,
              );
            }
            if (decoder.safe && result.kind === 'typed') {
              throw new Error(
                `${decoder.label}(${describeArgs(args)}) threw ${result.code}; a safe* decoder never throws`,
              );
            }
          },
        ),
        { numRuns: RUNS },
      );
      // The counterexample is printed short (inputs reach megabytes), with the seed to replay it.
      if (details.failed) {
        throw new Error(
          `${describeError(details.errorInstance)} (seed ${details.seed}, path ${details.counterexamplePath})`,
        );
      }
    },
  );

  it.each(PROTOTYPE_NAMES)(
    'degu.decodeMessage refuses the kind %j with a MANIFEST_INVALID naming the kind',
    (kind) => {
      let thrown: unknown;
      try {
        otakit.degu.decodeMessage(kind as never, '{}');
      } catch (error) {
        thrown = error;
      }
      expect(isOtaError(thrown, 'MANIFEST_INVALID')).toBe(true);
      expect(String((thrown as Error).message)).toMatch(/kind/);
    },
  );

  it('insighIoPackage.readTar(null) throws MANIFEST_INVALID; thingsBoard.decodeChunkRequest(null) is no chunk request', () => {
    expect(() => otakitNode.insighIoPackage.readTar(null as never)).toThrow(
      expect.objectContaining({ code: 'MANIFEST_INVALID', message: expect.stringMatching(/bytes/) }),
    );
    expect(otakit.thingsBoard.decodeChunkRequest(null as never)).toBeUndefined();
  });
});
