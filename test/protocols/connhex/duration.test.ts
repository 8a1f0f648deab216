import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { connhexAgent } from '../../../src/node/index.js';
import * as connhex from '../../../src/protocols/connhex/index.js';
import { largestInputs, largestOf } from '../../support/cost.js';
import { manifestError, onlyTypedErrors } from './support.js';

const RUNS = Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000);

const S = 1_000_000_000n;
const MS = 1_000_000n;
const US = 1_000n;
const MIN = 60n * S;
const H = 60n * MIN;

// Go's own table (time/time_test.go, parseDurationTests).
const GO_VALID: [string, bigint][] = [
  ['0', 0n],
  ['5s', 5n * S],
  ['30s', 30n * S],
  ['1478s', 1478n * S],
  ['-5s', -5n * S],
  ['+5s', 5n * S],
  ['-0', 0n],
  ['+0', 0n],
  ['5.0s', 5n * S],
  ['5.6s', 5n * S + 600n * MS],
  ['5.s', 5n * S],
  ['.5s', 500n * MS],
  ['1.0s', S],
  ['1.00s', S],
  ['1.004s', S + 4n * MS],
  ['1.0040s', S + 4n * MS],
  ['100.00100s', 100n * S + MS],
  ['10ns', 10n],
  ['11us', 11n * US],
  ['12\u00b5s', 12n * US],
  ['12\u03bcs', 12n * US],
  ['13ms', 13n * MS],
  ['14s', 14n * S],
  ['15m', 15n * MIN],
  ['16h', 16n * H],
  ['3h30m', 3n * H + 30n * MIN],
  ['10.5s4m', 4n * MIN + 10n * S + 500n * MS],
  ['-2m3.4s', -(2n * MIN + 3n * S + 400n * MS)],
  ['1h2m3s4ms5us6ns', H + 2n * MIN + 3n * S + 4n * MS + 5n * US + 6n],
  ['39h9m14.425s', 39n * H + 9n * MIN + 14n * S + 425n * MS],
  ['52763797000ns', 52763797000n],
  ['0.3333333333333333333h', 20n * MIN],
  ['9007199254740993ns', (1n << 53n) + 1n],
  ['9223372036854775807ns', (1n << 63n) - 1n],
  ['9223372036854775.807us', (1n << 63n) - 1n],
  ['9223372036s854ms775us807ns', (1n << 63n) - 1n],
  ['-9223372036854775808ns', -(1n << 63n)],
  ['-9223372036854775.808us', -(1n << 63n)],
  ['-9223372036s854ms775us808ns', -(1n << 63n)],
  ['-2562047h47m16.854775808s', -(1n << 63n)],
  ['0.100000000000000000000h', 6n * MIN],
  ['0.830103483285477580700h', 49n * MIN + 48n * S + 372539827n],
];

// Go's error table (parseDurationErrorTests).
const GO_INVALID = [
  '',
  '3',
  '-',
  's',
  '.',
  '-.',
  '.s',
  '+.s',
  '1d',
  '\x85\x85',
  '\xffff',
  'hello \xffff world',
  '\uFFFD',
  '\uFFFD hello \uFFFD world',
  '9223372036854775810ns',
  '9223372036854775808ns',
  '-9223372036854775809ns',
  '9223372036854776us',
  '3000000h',
  '9223372036854775.808us',
  '9223372036854ms775us808ns',
];

// Go's Duration.String() table (durationTests).
const GO_STRINGS: [string, bigint][] = [
  ['0s', 0n],
  ['1ns', 1n],
  ['1.1\u00b5s', 1100n],
  ['2.2ms', 2200n * US],
  ['3.3s', 3300n * MS],
  ['4m5s', 4n * MIN + 5n * S],
  ['4m5.001s', 4n * MIN + 5001n * MS],
  ['5h6m7.001s', 5n * H + 6n * MIN + 7001n * MS],
  ['8m0.000000001s', 8n * MIN + 1n],
  ['2562047h47m16.854775807s', (1n << 63n) - 1n],
  ['-2562047h47m16.854775808s', -(1n << 63n)],
];

describe('Go durations: parseGoDuration', () => {
  it.each(GO_VALID)('parses %j like Go', (text, want) => {
    expect(connhexAgent.parseGoDuration(text)).toBe(want);
  });

  it.each(GO_INVALID.map((text) => [text]))('rejects %j like Go, with a typed error', (text) => {
    const error = manifestError(() => connhexAgent.parseGoDuration(text));
    expect(error.issues[0]!.expected).toMatch(/Go duration|unit/);
  });

  it('names the problem: missing unit, unknown unit, overflow', () => {
    expect(manifestError(() => connhexAgent.parseGoDuration('90')).message).toMatch(/needs a unit/);
    expect(manifestError(() => connhexAgent.parseGoDuration('1d')).message).toMatch(/not "d"/);
    expect(manifestError(() => connhexAgent.parseGoDuration('3000000h')).message).toMatch(/int64/);
  });

  it('rejects non-strings and texts over the documented length limit without parsing', async () => {
    expect(
      manifestError(() => connhexAgent.parseGoDuration(42 as unknown as string)).issues[0]!.expected,
    ).toBe('a string');
    const long = `${'1'.repeat(connhex.LIMITS.maxDurationLength)}s`;
    expect(manifestError(() => connhexAgent.parseGoDuration(long)).message).toMatch(/at most 64 characters/);
    const huge = `${'9'.repeat(10 * 1024 * 1024)}h`;
    let message = '';
    const examined = await largestInputs(() => {
      message = manifestError(() => connhexAgent.parseGoDuration(huge)).message;
    });
    expect(message).toMatch(/at most 64 characters/);
    expect(largestOf(examined)).toBeLessThanOrEqual(connhex.LIMITS.maxDurationLength);
  });

  it('safeParseGoDuration returns a result', () => {
    expect(connhexAgent.safeParseGoDuration('1h')).toEqual({ success: true, data: H });
    const failed = connhexAgent.safeParseGoDuration('1 h');
    expect(failed.success).toBe(false);
  });
});

describe('Go durations: formatGoDuration', () => {
  it.each(GO_STRINGS)('formats %s like Duration.String()', (text, value) => {
    expect(connhexAgent.formatGoDuration(value)).toBe(text);
    expect(connhexAgent.parseGoDuration(text)).toBe(value);
  });

  it('formats the agent.toml example and the defaults', () => {
    expect(connhexAgent.formatGoDuration(24n * H)).toBe('24h0m0s');
    expect(connhexAgent.formatGoDuration(H)).toBe('1h0m0s');
    expect(connhexAgent.formatGoDuration(90n * S)).toBe('1m30s');
    expect(connhexAgent.formatGoDuration(300_000_000)).toBe('300ms');
  });

  it('refuses values outside int64 and unsafe numbers', () => {
    manifestError(() => connhexAgent.formatGoDuration(1n << 63n));
    manifestError(() => connhexAgent.formatGoDuration(-(1n << 63n) - 1n));
    manifestError(() => connhexAgent.formatGoDuration(1.5));
    manifestError(() => connhexAgent.formatGoDuration(Number.MAX_SAFE_INTEGER + 1));
  });

  it('converts to and from milliseconds exactly', () => {
    expect(connhexAgent.nanosecondsToMs(86_400_000_000_000n)).toBe(86_400_000);
    expect(connhexAgent.nanosecondsToMs(1_500_000n)).toBe(1.5);
    expect(connhexAgent.msToNanoseconds(1.5)).toBe(1_500_000n);
    expect(connhexAgent.msToNanoseconds(86_400_000)).toBe(86_400_000_000_000n);
    manifestError(() => connhexAgent.msToNanoseconds(Number.NaN));
  });
});

describe('Go durations: properties', () => {
  const int64 = fc.bigInt({ min: connhexAgent.MIN_GO_DURATION, max: connhexAgent.MAX_GO_DURATION });

  it('format → parse gives the same nanoseconds (1000 runs)', () => {
    fc.assert(
      fc.property(int64, (value) => {
        expect(connhexAgent.parseGoDuration(connhexAgent.formatGoDuration(value))).toBe(value);
      }),
      { numRuns: RUNS },
    );
  });

  it('a sum of <integer><unit> parts parses to the exact sum (1000 runs)', () => {
    const units = { h: H, m: MIN, s: S, ms: MS, us: US, ns: 1n } as const;
    const part = fc.tuple(fc.bigInt({ min: 0n, max: 100_000n }), fc.constantFrom(...Object.keys(units)));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), (parts) => {
        const text = parts.map(([n, unit]) => `${n}${unit}`).join('');
        const want = parts.reduce((sum, [n, unit]) => sum + n * units[unit as keyof typeof units], 0n);
        expect(connhexAgent.parseGoDuration(text)).toBe(want);
      }),
      { numRuns: RUNS },
    );
  });

  it('arbitrary strings give a value or a typed error, never a crash (1000 runs)', () => {
    const alphabet = fc.constantFrom(...'0123456789.+-hmsunµμ d'.split(''));
    const durationish = fc.array(alphabet, { maxLength: 30 }).map((chars) => chars.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), durationish, fc.string({ unit: 'binary' })), (text) => {
        onlyTypedErrors(() => connhexAgent.parseGoDuration(text));
      }),
      { numRuns: RUNS },
    );
  });
});
