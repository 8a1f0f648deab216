/**
 * Which devices fail, and the error each failure carries. Devices are picked once, when the
 * simulator is created (a named device first, then the rate drawn with the simulator's random
 * source), so a seeded run fails the same devices every time. The errors are the ones the real
 * update machine reports for the same failure, so the platform's wire words (insigh.io's message,
 * Connhex's `error`, ThingsBoard's `fw_error`) come out as a real device's would.
 *
 * @module
 */
import { InstallError, IntegrityError, OtaError, type SerializedOtaError } from '../../core/errors.js';
import type { FailureKind, FailureRule } from './options.js';
import { chance } from './random.js';

const KINDS: ReadonlySet<string> = new Set([
  'download_failed',
  'verify_failed',
  'install_failed',
  'rolled_back',
  'silent',
]);

/** The rules, checked: a known kind, a rate from 0 to 1, whole positive attempts. */
export function checkedRules(failures: FailureRule | readonly FailureRule[] | undefined): FailureRule[] {
  const rules =
    failures === undefined ? [] : Array.isArray(failures) ? [...failures] : [failures as FailureRule];
  for (const [index, rule] of rules.entries()) {
    const at = `failures[${index}]`;
    if (!KINDS.has(rule?.kind)) {
      throw new OtaError('CONFIG', `${at}.kind must be one of ${[...KINDS].join(', ')}`);
    }
    if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) {
      throw new OtaError('CONFIG', `${at}.rate must be a number from 0 to 1`);
    }
    if (rule.attempts !== undefined && !(rule.attempts >= 1)) {
      throw new OtaError('CONFIG', `${at}.attempts must be at least 1`);
    }
  }
  return rules;
}

/**
 * The rule for each device id: named devices take the first rule naming them; every other device
 * is drawn against each rule's rate in turn (one draw per rule with a rate).
 */
export function assignFaults(rules: readonly FailureRule[], random: () => number) {
  const named = new Map<string, FailureRule>();
  for (const rule of rules) {
    for (const id of rule.devices ?? []) if (!named.has(id)) named.set(id, rule);
  }
  const drawn = rules.filter((rule) => (rule.rate ?? 0) > 0);
  return (id: string): FailureRule | null => {
    const rule = named.get(id);
    if (rule !== undefined) return rule;
    for (const candidate of drawn) if (chance(candidate.rate, random)) return candidate;
    return null;
  };
}

/** The error a failure is reported with, as the update machine serializes it. */
export function failureError(kind: Exclude<FailureKind, 'silent'>, subject: string): SerializedOtaError {
  switch (kind) {
    case 'download_failed':
      return new OtaError('DOWNLOAD', `Simulated download failure of ${subject}`, {
        retryable: true,
      }).toJSON();
    case 'verify_failed':
      return new IntegrityError(subject, {
        algorithm: 'sha256',
        expected: 'the ordered digest',
        actual: 'another (simulated)',
      }).toJSON();
    case 'install_failed':
      return new InstallError(`Simulated install failure of ${subject}`).toJSON();
    case 'rolled_back':
      return new OtaError('HEALTH_CHECK', 'The health check failed after installing (simulated)').toJSON();
  }
}
