/**
 * NATS subjects of the Connhex Edge agent: the `heartbeat.<service>.service` liveness convention
 * the OTA addon publishes its status on, and the NATS subject rules every subject must follow.
 *
 * NATS rules (as nats-server checks them): a subject is `.`-separated tokens; no token is empty;
 * no whitespace or control characters anywhere; `*` (one token) and `>` (one or more trailing
 * tokens) are wildcards that must stand alone in their token, `>` only last, and only
 * subscriptions may use them, never a published subject.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { LIMITS } from './limits.js';

/** The subject the OTA addon publishes its status on. */
export const OTA_STATUS_SUBJECT = 'heartbeat.ota.service';

/** Subscribes to the heartbeats of every Connhex Edge service. */
export const HEARTBEAT_WILDCARD = 'heartbeat.*.service';

export interface SubjectOptions {
  /**
   * Allow the `*` and `>` wildcards (for a subscription). Published subjects never may.
   * @default false
   */
  wildcards?: boolean;
}

// NUL, whitespace (NATS splits protocol lines on it) and other control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const FORBIDDEN = /[\u0000-\u0020\u007f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** Why `subject` breaks the NATS rules, or `undefined` when it is valid. */
function subjectProblem(subject: unknown, options: SubjectOptions): string | undefined {
  if (typeof subject !== 'string') return 'a string';
  if (subject.length === 0) return 'a non-empty subject';
  if (subject.length > LIMITS.maxSubjectLength) return `at most ${LIMITS.maxSubjectLength} characters`;
  if (FORBIDDEN.test(subject)) return 'a subject without whitespace or control characters';
  const tokens = subject.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === '') return 'no empty tokens (no leading, trailing or doubled ".")';
    const wildcard = token === '*' || token === '>';
    if (wildcard && !options.wildcards) return 'a literal subject (no "*" or ">" wildcards in a publish)';
    if (!wildcard && (token.includes('*') || token.includes('>'))) {
      return options.wildcards
        ? 'wildcards "*" and ">" standing alone in their token'
        : 'a literal subject (no "*" or ">" wildcards in a publish)';
    }
    if (token === '>' && i !== tokens.length - 1) return 'the ">" wildcard only as the last token';
  }
  return undefined;
}

/**
 * Splits a NATS subject into its tokens, checking the NATS subject rules.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) saying which rule was broken.
 *
 * @example
 * ```ts
 * parseSubject('heartbeat.ota.service') // ['heartbeat', 'ota', 'service']
 * parseSubject('heartbeat.*.service', { wildcards: true })
 * ```
 */
export function parseSubject(subject: unknown, options: SubjectOptions = {}): string[] {
  const problem = subjectProblem(subject, options);
  if (problem !== undefined) throw new ManifestError('NATS subject', [{ path: '', expected: problem }]);
  return (subject as string).split('.');
}

/** Whether `subject` follows the NATS subject rules. */
export function isValidSubject(subject: unknown, options: SubjectOptions = {}): subject is string {
  return subjectProblem(subject, options) === undefined;
}

/**
 * Whether the literal `subject` matches the subscription `pattern` (`*` one token, `>` the rest).
 * Invalid subjects or patterns never match.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (!isValidSubject(pattern, { wildcards: true }) || !isValidSubject(subject)) return false;
  const want = pattern.split('.');
  const got = subject.split('.');
  for (let i = 0; i < want.length; i++) {
    const token = want[i]!;
    if (token === '>') return got.length > i;
    if (i >= got.length) return false;
    if (token !== '*' && token !== got[i]) return false;
  }
  return want.length === got.length;
}

/**
 * The heartbeat subject of a Connhex Edge service: `heartbeat.<service>.service`.
 *
 * @throws ManifestError when `service` is not a single literal subject token.
 *
 * @example
 * ```ts
 * heartbeatSubject('ota') // 'heartbeat.ota.service'
 * ```
 */
export function heartbeatSubject(service: string): string {
  if (typeof service !== 'string' || service.includes('.') || !isValidSubject(service)) {
    throw new ManifestError('Connhex heartbeat service name', [
      { path: '', expected: 'one NATS token: no ".", wildcards, whitespace or control characters' },
    ]);
  }
  return `heartbeat.${service}.service`;
}

/**
 * Reads the service name out of a heartbeat subject.
 *
 * @throws ManifestError when `subject` is not a valid literal `heartbeat.<service>.service`.
 *
 * @example
 * ```ts
 * parseHeartbeatSubject('heartbeat.ota.service') // { service: 'ota' }
 * ```
 */
export function parseHeartbeatSubject(subject: unknown): { service: string } {
  const tokens = parseSubject(subject);
  if (tokens.length !== 3 || tokens[0] !== 'heartbeat' || tokens[2] !== 'service') {
    throw new ManifestError('Connhex heartbeat subject', [
      { path: '', expected: 'a subject of the form heartbeat.<service>.service' },
    ]);
  }
  return { service: tokens[1]! };
}

/** Whether `subject` is exactly the OTA status subject. */
export function isOtaStatusSubject(subject: unknown): boolean {
  return subject === OTA_STATUS_SUBJECT;
}
