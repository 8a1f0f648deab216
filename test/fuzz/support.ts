/**
 * What the fuzz files share: inputs (hostile values, and mutations of valid vectors, which reach
 * far deeper into a decoder than random bytes), and the one assertion every decoder must pass:
 * it returns, or throws a typed otakit error with a message, and never takes long.
 */
import fc from 'fast-check';
import { isOtaError } from '../../src/index.js';
import { PROTOTYPE_NAMES } from '../support/public-decoders.js';
import { noteElapsed, positiveInteger } from './runs.js';

/**
 * Time one call may take before it counts as a hang: generous (two loaded cores), since the
 * slowest decoder case takes tens of milliseconds. `FUZZ_HANG_MS=200` hunts for slow inputs.
 */
export const HANG_MS = positiveInteger('FUZZ_HANG_MS', 5_000);

const BIG = 'a'.repeat(200_000);

function nested(depth: number): unknown {
  let value: unknown = 0;
  for (let index = 0; index < depth; index++) value = [value];
  return value;
}

/** JSON values a mutation may drop in anywhere. */
const oddJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    false,
    0,
    -1,
    -0,
    0.5,
    1e308,
    -1e308,
    2 ** 53,
    2 ** 31,
    2 ** 32,
    -(2 ** 31),
    '',
    ' ',
    '0',
    '-1',
    'null',
    'NaN',
    'Infinity',
    '1e999',
    '..',
    '../../etc/passwd',
    '/',
    '\u0000',
    '\ud800',
    '\u202e',
    'javascript:alert(1)',
    'file:///etc/passwd',
    'ftp://example.com/a',
    'data:,x',
    'http://',
    'https://user:pass@example.com/a?token=x',
    '%00',
    '%2e%2e%2f',
    BIG,
    [],
    {},
    [[]],
    nested(2_000),
    ...PROTOTYPE_NAMES,
  ),
  fc.constantFrom(...PROTOTYPE_NAMES).map((name) => JSON.parse(`{"${name}":{"x":1}}`) as unknown),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer(),
  fc.double(),
);

/** Hostile values of any type: for decoders callers may hand anything (plain JavaScript). */
export const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({
    maxDepth: 3,
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
  oddJson,
  fc.constantFrom<unknown>(
    undefined,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    new Uint8Array(0),
    new Uint8Array([0x1f, 0x8b, 0x08, 0x00]),
    new Uint8Array([0x50, 0x4b, 0x03, 0x04]),
    new ArrayBuffer(8),
    Object.create(null) as unknown,
    Symbol('input'),
    () => 'a function',
    { toString: 1, valueOf: 1 },
    { length: -1 },
    { length: 2 ** 32 },
    new Date(Number.NaN),
  ),
  fc.uint8Array({ maxLength: 600 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
);

// ---------------------------------------------------------------------------------------------
// Mutations

type Path = (string | number)[];

function pathsOf(value: unknown, path: Path = [], out: Path[] = [], budget = { left: 400 }): Path[] {
  if (budget.left-- <= 0) return out;
  out.push(path);
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) pathsOf(item, [...path, index], out, budget);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) pathsOf(item, [...path, key], out, budget);
  }
  return out;
}

function structuredCloneJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

type JsonEdit =
  | { kind: 'replace'; with: unknown }
  | { kind: 'delete' }
  | { kind: 'rename'; to: string }
  | { kind: 'text'; ops: TextOp[] }
  | { kind: 'number'; with: number }
  | { kind: 'wrap' }
  | { kind: 'duplicate' };

function jsonEdit(): fc.Arbitrary<JsonEdit> {
  return fc.oneof(
    { weight: 4, arbitrary: oddJson.map((value) => ({ kind: 'replace' as const, with: value })) },
    { weight: 2, arbitrary: fc.constant({ kind: 'delete' as const }) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.constantFrom(...PROTOTYPE_NAMES), fc.string({ maxLength: 8 }))
        .map((to) => ({ kind: 'rename' as const, to })),
    },
    {
      weight: 3,
      arbitrary: fc
        .array(textOp(), { minLength: 1, maxLength: 3 })
        .map((ops) => ({ kind: 'text' as const, ops })),
    },
    {
      weight: 2,
      arbitrary: fc
        .oneof(fc.integer(), fc.double({ noNaN: true }), fc.constantFrom(-1, 0, 2 ** 53, 1e21, 0.1))
        .map((value) => ({ kind: 'number' as const, with: value })),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'wrap' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'duplicate' as const }) },
  );
}

function applyJsonEdit(root: unknown, path: Path, edit: JsonEdit): unknown {
  const apply = (value: unknown): unknown | typeof DELETE => {
    switch (edit.kind) {
      case 'replace':
        return edit.with;
      case 'delete':
        return DELETE;
      case 'text':
        return typeof value === 'string'
          ? applyTextOps(value, edit.ops)
          : applyTextOps(JSON.stringify(value) ?? '', edit.ops);
      case 'number':
        return edit.with;
      case 'wrap':
        return [value];
      case 'duplicate':
        return Array.isArray(value) ? [...value, ...value] : value;
      case 'rename':
        return value;
    }
  };
  if (path.length === 0) {
    const next = apply(root);
    return next === DELETE ? undefined : next;
  }
  const parent = path
    .slice(0, -1)
    .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], root) as
    | Record<string, unknown>
    | unknown[];
  const key = path.at(-1)!;
  if (edit.kind === 'rename' && !Array.isArray(parent)) {
    const value = (parent as Record<string, unknown>)[key];
    delete (parent as Record<string, unknown>)[key];
    Object.defineProperty(parent, edit.to, { value, enumerable: true, configurable: true, writable: true });
    return root;
  }
  const next = apply((parent as Record<string | number, unknown>)[key]);
  if (next === DELETE) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete (parent as Record<string, unknown>)[key];
  } else {
    Object.defineProperty(parent, key, { value: next, enumerable: true, configurable: true, writable: true });
  }
  return root;
}

const DELETE = Symbol('delete');

/** Mutations of a JSON value: 1 to 4 edits anywhere in the tree. */
export function mutatedJson(valid: unknown): fc.Arbitrary<unknown> {
  return fc.array(fc.tuple(fc.nat(), jsonEdit()), { minLength: 1, maxLength: 4 }).map((edits) => {
    let value = structuredCloneJson(valid);
    for (const [at, edit] of edits) {
      const paths = pathsOf(value);
      if (paths.length === 0) break;
      value = applyJsonEdit(value, paths[at % paths.length]!, edit);
    }
    return value;
  });
}

type TextOp =
  | { kind: 'set'; at: number; char: string }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'repeat'; at: number; length: number; times: number };

const INTERESTING_CHARS = [
  '"',
  '\\',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '0',
  '9',
  '-',
  '.',
  ' ',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '%',
  '/',
  '&',
  '=',
  '+',
  'e',
  'é',
  '\ud83d',
  '\uffff',
];

function textOp(): fc.Arbitrary<TextOp> {
  return fc.oneof(
    fc.record({
      kind: fc.constant('set' as const),
      at: fc.nat(),
      char: fc.oneof(
        fc.constantFrom(...INTERESTING_CHARS),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      ),
    }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      text: fc.oneof(
        fc.constantFrom(
          ...INTERESTING_CHARS,
          'null',
          '"a"',
          '[]',
          '{}',
          '1e999',
          '-0',
          '%zz',
          '\r\n\r\n',
          BIG.slice(0, 70_000),
        ),
        fc.string({ unit: 'binary', maxLength: 8 }),
      ),
    }),
    fc.record({
      kind: fc.constant('delete' as const),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 16 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('repeat' as const),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 32 }),
      times: fc.integer({ min: 2, max: 50 }),
    }),
  );
}

function applyTextOps(text: string, ops: readonly TextOp[]): string {
  let out = text;
  for (const op of ops) {
    const at = op.at % (out.length + 1);
    switch (op.kind) {
      case 'set':
        out = out.slice(0, at) + op.char + out.slice(at + 1);
        break;
      case 'insert':
        out = out.slice(0, at) + op.text + out.slice(at);
        break;
      case 'delete':
        out = out.slice(0, at) + out.slice(at + op.length);
        break;
      case 'truncate':
        out = out.slice(0, at);
        break;
      case 'repeat':
        out = out.slice(0, at) + out.slice(at, at + op.length).repeat(op.times) + out.slice(at);
        break;
    }
  }
  return out;
}

/** Character-level mutations of a string. */
export function mutatedText(valid: string): fc.Arbitrary<string> {
  return fc.array(textOp(), { minLength: 1, maxLength: 4 }).map((ops) => applyTextOps(valid, ops));
}

/**
 * Mutations of a wire string: at the character level, and, when it is JSON, at the level of its
 * tree (a field deleted, retyped, renamed to `__proto__`…), re-serialised.
 */
export function mutatedPayload(valid: string): fc.Arbitrary<string> {
  let parsed: unknown;
  let isJson = false;
  try {
    parsed = JSON.parse(valid);
    isJson = true;
  } catch {
    // not JSON: character mutations only
  }
  if (!isJson) return mutatedText(valid);
  return fc.oneof(
    mutatedText(valid),
    mutatedJson(parsed).map((value) => JSON.stringify(value) ?? ''),
    mutatedJson(parsed).chain((value) => mutatedText(JSON.stringify(value) ?? '')),
  );
}

type ByteOp =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'u32'; at: number; value: number };

const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.oneof(
      fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x20, 0x30, 0x37, 0x38, 0x2f, 0x2e, 0x0a),
      fc.integer({ min: 0, max: 255 }),
    ),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('u32' as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 0xffff, 0xffffffff, 0x7fffffff, 0x80000000, 512, 65_536),
  }),
);

function applyByteOps(bytes: Uint8Array, ops: readonly ByteOp[]): Uint8Array {
  let out = Uint8Array.from(bytes);
  for (const op of ops) {
    const at = op.at % (out.length + 1);
    switch (op.kind) {
      case 'flip':
        if (at < out.length) out[at] = out[at]! ^ (1 << op.bit);
        break;
      case 'set':
        if (at < out.length) out[at] = op.value;
        break;
      case 'insert': {
        const next = new Uint8Array(out.length + op.bytes.length);
        next.set(out.subarray(0, at));
        next.set(op.bytes, at);
        next.set(out.subarray(at), at + op.bytes.length);
        out = next;
        break;
      }
      case 'delete':
        out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + op.length)]);
        break;
      case 'truncate':
        out = out.slice(0, at);
        break;
      case 'u32':
        if (at + 4 <= out.length) new DataView(out.buffer).setUint32(at, op.value, true);
        break;
    }
  }
  return out;
}

/** Byte-level mutations of binary data (headers, archives). */
export function mutatedBytes(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.array(byteOp, { minLength: 1, maxLength: 5 }).map((ops) => applyByteOps(valid, ops));
}

/** Mutations of one of `seeds`, with the unmutated seeds now and then. */
export function fromSeeds<T>(seeds: readonly T[], mutate: (seed: T) => fc.Arbitrary<T>): fc.Arbitrary<T> {
  if (seeds.length === 0) throw new Error('no seeds');
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
    { weight: 9, arbitrary: fc.constantFrom(...seeds).chain(mutate) },
  );
}

// ---------------------------------------------------------------------------------------------
// The assertion

export function describeError(error: unknown): string {
  if (error instanceof Error)
    return `${error.name}: ${error.message.slice(0, 300)}\n${error.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`;
  return String(error).slice(0, 300);
}

export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 300 ? `${value.slice(0, 300)}…(${value.length})` : value);
  if (value instanceof Uint8Array)
    return `Uint8Array(${value.length}) ${Buffer.from(value.subarray(0, 96)).toString('hex')}`;
  if (typeof value === 'symbol' || typeof value === 'function' || typeof value === 'bigint')
    return String(value);
  try {
    const text = JSON.stringify(value, (_key, item: unknown) =>
      typeof item === 'bigint' ? `${item}n` : item,
    );
    if (text === undefined) return String(value);
    return text.length > 400 ? `${text.slice(0, 400)}…(${text.length})` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** What is accepted as a refusal: an otakit error (by default) with a non-empty message. */
export type ErrorGuard = (error: unknown) => boolean;

export const typedError: ErrorGuard = (error) => isOtaError(error);

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs `call` (sync or async); a result passes, a typed error with a message passes, anything
 * else (a TypeError, a RangeError, a plain Error, a non-error, a hang) fails with a description.
 */
export async function typedOutcome<T>(
  label: string,
  input: () => string,
  call: () => T | Promise<T>,
  guard: ErrorGuard = typedError,
): Promise<Outcome<Awaited<T>>> {
  const started = performance.now();
  let outcome: Outcome<Awaited<T>>;
  try {
    const result = call();
    if (result instanceof Promise) {
      let timer: NodeJS.Timeout | undefined;
      const hang = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`hang: no answer within ${HANG_MS} ms`)), HANG_MS);
      });
      try {
        outcome = { ok: true, value: await Promise.race([result, hang]) };
      } finally {
        clearTimeout(timer);
      }
    } else {
      outcome = { ok: true, value: result as Awaited<T> };
    }
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('hang:')) {
      throw new Error(`${label}(${input()}) hung: ${error.message}`);
    }
    outcome = { ok: false, error };
  }
  const elapsed = performance.now() - started;
  noteElapsed(label, elapsed);
  if (elapsed > HANG_MS) throw new Error(`${label}(${input()}) took ${Math.round(elapsed)} ms (a hang)`);
  if (!outcome.ok) {
    const { error } = outcome;
    if (!guard(error))
      throw new Error(`${label}(${input()}) threw ${describeError(error)}: not a typed error`);
    const message = (error as { message?: unknown }).message;
    if (typeof message !== 'string' || message.trim() === '') {
      throw new Error(`${label}(${input()}) threw a typed error with an empty message`);
    }
  }
  return outcome;
}
