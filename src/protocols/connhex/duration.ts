/**
 * Go `time.Duration` text, as `agent.toml`'s `check_interval` uses it (`'24h0m0s'`, `'1h'`,
 * `'90m'`, `'1.5h'`, `'300ms'`). The parser follows Go's `time.ParseDuration` step by step,
 * including its int64 overflow rules and its float64 rounding of fractions, and the formatter
 * follows `Duration.String()`, so a value read here means exactly what the Go agent reads.
 * Nanoseconds are `bigint` because int64 does not fit a JavaScript number.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { LIMITS } from './limits.js';

/** One nanosecond-based unit, as Go's `unitMap` defines them. */
const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n], // U+00B5 micro sign, what Go prints
  ['\u03bcs', 1_000n], // U+03BC Greek mu, also accepted by Go
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const TWO_63 = 1n << 63n;
/** Largest Go duration: 2562047h47m16.854775807s. */
export const MAX_GO_DURATION = TWO_63 - 1n;
/** Smallest Go duration: -2562047h47m16.854775808s. */
export const MIN_GO_DURATION = -TWO_63;

const NS_PER_MS = 1_000_000n;

type Parsed = { ok: true; nanoseconds: bigint } | { ok: false; expected: string };

const EXAMPLES = `a Go duration such as "1h", "90m", "1.5h", "300ms" or "24h0m0s"`;

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= '0' && char <= '9';
}

/**
 * The core of `time.ParseDuration`, returning why it failed instead of throwing. Messages never
 * echo the whole input (it may come from an arbitrary config file); at most the unit is named.
 */
function parse(text: string): Parsed {
  const invalid: Parsed = { ok: false, expected: EXAMPLES };
  if (text.length > LIMITS.maxDurationLength) {
    return { ok: false, expected: `${EXAMPLES} of at most ${LIMITS.maxDurationLength} characters` };
  }
  let s = text;
  let negative = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  // Go's special case: a bare zero needs no unit.
  if (s === '0') return { ok: true, nanoseconds: 0n };
  if (s === '') return invalid;
  let total = 0n;
  let i = 0;
  while (i < s.length) {
    if (!(s[i] === '.' || isDigit(s[i]))) return invalid;
    // Integer part: Go's leadingInt, which fails beyond 1<<63.
    let whole = 0n;
    const wholeStart = i;
    while (isDigit(s[i])) {
      if (whole > TWO_63 / 10n) return overflow();
      whole = whole * 10n + BigInt(s.charCodeAt(i) - 48);
      if (whole > TWO_63) return overflow();
      i++;
    }
    const hasWhole = i !== wholeStart;
    // Fraction: Go's leadingFraction, which stops gaining precision instead of failing.
    let fraction = 0n;
    let scale = 1;
    let hasFraction = false;
    if (s[i] === '.') {
      i++;
      const fractionStart = i;
      let saturated = false;
      while (isDigit(s[i])) {
        if (!saturated) {
          if (fraction > (TWO_63 - 1n) / 10n) {
            saturated = true;
          } else {
            const next = fraction * 10n + BigInt(s.charCodeAt(i) - 48);
            if (next > TWO_63) saturated = true;
            else {
              fraction = next;
              scale *= 10;
            }
          }
        }
        i++;
      }
      hasFraction = i !== fractionStart;
    }
    if (!hasWhole && !hasFraction) return invalid; // ".s", "-.s"
    // Unit: everything up to the next digit or dot.
    const unitStart = i;
    while (i < s.length && !(s[i] === '.' || isDigit(s[i]))) i++;
    if (i === unitStart) {
      return { ok: false, expected: `${EXAMPLES} (every number needs a unit: ns, us, ms, s, m, h)` };
    }
    const unitText = s.slice(unitStart, i);
    const unit = UNITS.get(unitText);
    if (unit === undefined) {
      const shown = JSON.stringify(unitText.length > 16 ? `${unitText.slice(0, 16)}…` : unitText);
      return { ok: false, expected: `a known unit (ns, us, µs, ms, s, m, h), not ${shown}` };
    }
    if (whole > TWO_63 / unit) return overflow();
    let value = whole * unit;
    if (fraction > 0n) {
      // Go computes this in float64 so fractions of hours stay nanosecond-accurate; the same
      // IEEE arithmetic here gives the same truncated result.
      value += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (value > TWO_63) return overflow();
    }
    total += value;
    if (total > TWO_63) return overflow();
  }
  if (negative) return { ok: true, nanoseconds: -total };
  if (total > MAX_GO_DURATION) return overflow();
  return { ok: true, nanoseconds: total };
}

function overflow(): Parsed {
  return { ok: false, expected: `a Go duration within ±2562047h47m16.854775807s (int64 nanoseconds)` };
}

/**
 * The nanoseconds of `text`, or what was expected instead. For callers that place the issue at
 * their own path (the config parser reports `ota.check_interval`).
 *
 * @internal
 */
export function goDurationProblem(text: string): { expected: string } | { nanoseconds: bigint } {
  const result = parse(text);
  return result.ok ? { nanoseconds: result.nanoseconds } : { expected: result.expected };
}

/**
 * Parses Go duration text into int64 nanoseconds, exactly like Go's `time.ParseDuration`:
 * a sign, then one or more `<number><unit>` parts (`1h30m`, `1.5h`, `.5s`, `-2m3.4s`), with
 * units `ns`, `us` (or `µs`/`μs`), `ms`, `s`, `m`, `h`; a bare `0` needs no unit. Negative
 * durations are accepted, as in Go; whoever needs a positive one checks the sign.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming what was expected: missing or unknown
 * unit, an empty number, or a value beyond int64 nanoseconds.
 *
 * @example
 * ```ts
 * parseGoDuration('24h0m0s') // 86_400_000_000_000n
 * parseGoDuration('1.5h')    // 5_400_000_000_000n
 * ```
 */
export function parseGoDuration(text: string): bigint {
  if (typeof text !== 'string') {
    throw new ManifestError('Go duration', [{ path: '', expected: 'a string' }]);
  }
  const result = parse(text);
  if (!result.ok) throw new ManifestError('Go duration', [{ path: '', expected: result.expected }]);
  return result.nanoseconds;
}

/** Like {@link parseGoDuration}, returning a result instead of throwing. */
export function safeParseGoDuration(
  text: string,
): { success: true; data: bigint } | { success: false; error: ManifestError } {
  try {
    return { success: true, data: parseGoDuration(text) };
  } catch (error) {
    if (error instanceof ManifestError) return { success: false, error };
    throw error;
  }
}

/** Writes the decimal fraction of `value / 10**precision` without trailing zeros (Go's fmtFrac). */
function fraction(value: bigint, precision: number): { text: string; rest: bigint } {
  let digits = '';
  let print = false;
  let v = value;
  for (let i = 0; i < precision; i++) {
    const digit = v % 10n;
    print = print || digit !== 0n;
    if (print) digits = String(digit) + digits;
    v /= 10n;
  }
  return { text: print ? `.${digits}` : '', rest: v };
}

/**
 * Formats int64 nanoseconds the way Go's `Duration.String()` does: `24h0m0s`, `1h30m0s`,
 * `1m30s`, `1.5s`, `300ms`, `1.1µs`, `0s`. Parsing the result with {@link parseGoDuration}
 * gives back the same value.
 *
 * @param nanoseconds An integer within int64 (a `number` must be a safe integer).
 * @throws ManifestError when the value is not an int64 integer.
 *
 * @example
 * ```ts
 * formatGoDuration(86_400_000_000_000n) // '24h0m0s'
 * ```
 */
export function formatGoDuration(nanoseconds: bigint | number): string {
  let ns: bigint;
  if (typeof nanoseconds === 'bigint') ns = nanoseconds;
  else if (Number.isSafeInteger(nanoseconds)) ns = BigInt(nanoseconds);
  else throw new ManifestError('Go duration', [{ path: '', expected: 'an integer count of nanoseconds' }]);
  if (ns > MAX_GO_DURATION || ns < MIN_GO_DURATION) {
    throw new ManifestError('Go duration', [{ path: '', expected: 'a value within int64 nanoseconds' }]);
  }
  const negative = ns < 0n;
  let u = negative ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    // Below one second Go switches to the largest sub-second unit, e.g. 1.2ms.
    if (u === 0n) return '0s';
    let unit: string;
    let precision: number;
    if (u < 1_000n) {
      unit = 'ns';
      precision = 0;
    } else if (u < 1_000_000n) {
      unit = '\u00b5s';
      precision = 3;
    } else {
      unit = 'ms';
      precision = 6;
    }
    const frac = fraction(u, precision);
    out = `${frac.rest}${frac.text}${unit}`;
  } else {
    const frac = fraction(u, 9);
    u = frac.rest; // whole seconds
    out = `${u % 60n}${frac.text}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      // Go stops at hours: days differ in length.
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return negative ? `-${out}` : out;
}

/**
 * Nanoseconds as milliseconds, the unit of JavaScript timers (may be fractional below 1 ms).
 * Exact to the nanosecond for every value a timer can use.
 */
export function nanosecondsToMs(nanoseconds: bigint): number {
  return Number(nanoseconds / NS_PER_MS) + Number(nanoseconds % NS_PER_MS) / 1e6;
}

/**
 * Milliseconds as nanoseconds, rounded to the nearest nanosecond.
 * @throws ManifestError when `ms` is not finite.
 */
export function msToNanoseconds(ms: number): bigint {
  if (!Number.isFinite(ms)) {
    throw new ManifestError('Go duration', [{ path: '', expected: 'a finite number of milliseconds' }]);
  }
  const whole = Math.trunc(ms);
  return BigInt(whole) * NS_PER_MS + BigInt(Math.round((ms - whole) * 1e6));
}
