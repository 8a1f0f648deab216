/**
 * The error model of otakit: one base class with a stable `code`, a few subclasses where a
 * caller would `catch` differently, and guards that work across realms (iframes, workers,
 * duplicated copies of the package) because they check a registered symbol and the `code`,
 * not only `instanceof`.
 *
 * @module
 */

/** Every code an otakit error can carry. Stable: codes are added, never renamed. */
export const OTA_ERROR_CODES = [
  'MANIFEST_INVALID',
  'MANIFEST_EXPIRED',
  'TRANSPORT',
  'TIMEOUT',
  'ABORTED',
  'CHECK',
  'DOWNLOAD',
  'INTEGRITY',
  'INSTALL',
  'HEALTH_CHECK',
  'COMMIT',
  'ROLLBACK',
  'REPORT',
  'STATE',
  'STATE_LOOP',
  'STORE',
  'CONFIG',
  'TRUST',
] as const;

export type OtaErrorCode = (typeof OTA_ERROR_CODES)[number];

// A registered symbol is shared by every realm of one agent, so a second copy of otakit
// (or an error crossing from a worker via structured clone of its fields) is still recognised.
const BRAND = Symbol.for('otakit.error');

export interface OtaErrorOptions {
  cause?: unknown;
  /** Whether trying the same step again may succeed. */
  retryable?: boolean;
}

/** Base class of every error otakit throws or reports. */
export class OtaError extends Error {
  override name = 'OtaError';
  readonly code: OtaErrorCode;
  /** Whether the machine may try the failed step again within its retry budget. */
  readonly retryable: boolean;

  constructor(code: OtaErrorCode, message: string, options: OtaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** A plain, JSON-serialisable form for snapshots, reports and logs. */
  toJSON(): SerializedOtaError {
    return { name: this.name, code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** What a serialised {@link OtaError} looks like in snapshots and reports. */
export interface SerializedOtaError {
  name: string;
  code: OtaErrorCode;
  message: string;
  retryable: boolean;
  /**
   * The reason of an error that has one (a {@link TrustError}'s, an `ArchiveError`'s): kept so a
   * dashboard or a reloaded record can still tell a rollback from a bad signature.
   */
  reason?: string | undefined;
  /** A {@link TrustError}'s field, e.g. `version`. */
  field?: string | undefined;
}

/** One problem found while validating input: where, and what was expected there. */
export interface ValidationIssue {
  /** Dotted path with array indices, e.g. `artifacts[0].md5`; empty for the root. */
  path: string;
  /** What was expected at that path, e.g. `32 lowercase hex characters (MD5)`. */
  expected: string;
}

/** Input (a manifest, a wire message, a persisted record) did not match its schema. */
export class ManifestError extends OtaError {
  override name = 'ManifestError';
  readonly issues: readonly ValidationIssue[];

  constructor(what: string, issues: readonly ValidationIssue[], options: OtaErrorOptions = {}) {
    const listed = issues
      .slice(0, 5)
      .map((issue) => `${issue.path || '(root)'}: expected ${issue.expected}`)
      .join('; ');
    const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : '';
    super('MANIFEST_INVALID', `Invalid ${what}: ${listed}${more}`, options);
    this.issues = issues;
  }
}

/** A network or protocol-level failure talking to a remote peer. Retryable by default. */
export class TransportError extends OtaError {
  override name = 'TransportError';
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;

  constructor(message: string, options: OtaErrorOptions & { status?: number } = {}) {
    super('TRANSPORT', message, { retryable: true, ...options });
    this.status = options.status;
  }
}

/** A step did not finish within its time budget. Retryable by default. */
export class TimeoutError extends OtaError {
  override name = 'TimeoutError';
  readonly timeoutMs: number;

  constructor(what: string, timeoutMs: number, options: OtaErrorOptions = {}) {
    super('TIMEOUT', `${what} timed out after ${timeoutMs} ms`, { retryable: true, ...options });
    this.timeoutMs = timeoutMs;
  }
}

/** The operation was canceled through `cancel()` or an `AbortSignal`. Never retried. */
export class AbortError extends OtaError {
  override name = 'AbortError';

  constructor(message = 'Operation aborted', options: OtaErrorOptions = {}) {
    super('ABORTED', message, { ...options, retryable: false });
  }
}

/** A downloaded artifact does not match its expected size or digest. Never retried as-is. */
export class IntegrityError extends OtaError {
  override name = 'IntegrityError';
  readonly algorithm: string;
  readonly expected: string;
  readonly actual: string;

  constructor(
    subject: string,
    detail: { algorithm: string; expected: string; actual: string },
    options: OtaErrorOptions = {},
  ) {
    super(
      'INTEGRITY',
      `${subject}: ${detail.algorithm} mismatch, expected ${detail.expected}, got ${detail.actual}`,
      { ...options, retryable: false },
    );
    this.algorithm = detail.algorithm;
    this.expected = detail.expected;
    this.actual = detail.actual;
  }

  override toJSON(): SerializedOtaError & { algorithm: string; expected: string; actual: string } {
    return { ...super.toJSON(), algorithm: this.algorithm, expected: this.expected, actual: this.actual };
  }
}

/** Installing (or committing, or rolling back) an update failed. */
export class InstallError extends OtaError {
  override name = 'InstallError';

  constructor(message: string, options: OtaErrorOptions & { code?: 'INSTALL' | 'COMMIT' | 'ROLLBACK' } = {}) {
    super(options.code ?? 'INSTALL', message, options);
  }
}

/** A state transition that the transition table forbids, or a call made in the wrong state. */
export class StateError extends OtaError {
  override name = 'StateError';
  readonly from: string | undefined;
  readonly to: string | undefined;

  constructor(message: string, options: OtaErrorOptions & { from?: string; to?: string } = {}) {
    super('STATE', message, options);
    this.from = options.from;
    this.to = options.to;
  }
}

/** Reading or writing the persistent state store failed, or it held a corrupt record. */
export class StoreError extends OtaError {
  override name = 'StoreError';

  constructor(message: string, options: OtaErrorOptions = {}) {
    super('STORE', message, options);
  }
}

/**
 * Why a {@link TrustError} refused something. Closed: a caller may `switch` on it exhaustively;
 * reasons are added, never renamed.
 */
export const TRUST_REASONS = [
  /** The manifest (or root) carries no signature, and one is required. */
  'unsigned',
  /** The envelope names a canonicalization this version of otakit does not know. */
  'unknown_canonicalization',
  /** The value cannot be encoded canonically (a non-integer or non-finite number). */
  'not_canonical',
  /** A signature from a trusted key does not verify over the canonical bytes. */
  'bad_signature',
  /** Signatures only from key ids the trust root does not list. */
  'unknown_key',
  /** Signatures only from keys the trust root revoked. */
  'revoked_key',
  /** Fewer valid signatures from distinct trusted keys than the root's threshold. */
  'below_threshold',
  /** The trust root itself has expired (`expiresAt`). */
  'root_expired',
  /** A new trust root was refused (version not greater, or not signed by both thresholds). */
  'root_rejected',
  /** A trust root or key is malformed (bad key length, key id not derived from the key). */
  'invalid_root',
  /** The order's version is below the device's anti-rollback floor (or not above the committed one). */
  'below_floor',
  /** A version cannot be read by the configured comparator (e.g. not semver). */
  'invalid_version',
  /** The order is bound to other device types or device ids. */
  'wrong_target',
  /** An artifact carries no digest, so the signature would not cover its bytes. */
  'weak_integrity',
] as const;

export type TrustReason = (typeof TRUST_REASONS)[number];

/**
 * A signed-manifest, trust-root or update-policy check refused an order. Never retried: the same
 * order gives the same answer. Messages name the field and what was expected, and never carry key
 * material beyond key ids.
 */
export class TrustError extends OtaError {
  override name = 'TrustError';
  readonly reason: TrustReason;
  /** The manifest or root field the refusal is about, e.g. `signature.signatures[1]`, `version`. */
  readonly field: string | undefined;
  /** Key ids involved (never keys). */
  readonly keyIds: readonly string[];

  constructor(
    reason: TrustReason,
    message: string,
    options: OtaErrorOptions & { field?: string; keyIds?: readonly string[] } = {},
  ) {
    super('TRUST', `${message} (${reason})`, { ...options, retryable: false });
    this.reason = reason;
    this.field = options.field;
    this.keyIds = options.keyIds ?? [];
  }

  override toJSON(): SerializedOtaError & { reason: TrustReason } {
    return {
      ...super.toJSON(),
      reason: this.reason,
      ...(this.field === undefined ? {} : { field: this.field }),
    };
  }
}

const TRUST_REASON_SET: ReadonlySet<string> = new Set(TRUST_REASONS);

/**
 * Whether `value` is a {@link TrustError} (across realms: the brand, the `TRUST` code and a known
 * `reason`), optionally for one reason.
 *
 * @example
 * ```ts
 * if (isTrustError(outcome.error, 'below_floor')) alert('rollback attempt refused')
 * ```
 */
export function isTrustError(value: unknown, reason?: TrustReason): value is TrustError {
  if (!isOtaError(value, 'TRUST')) return false;
  const found = (value as { reason?: unknown }).reason;
  return (
    typeof found === 'string' && TRUST_REASON_SET.has(found) && (reason === undefined || found === reason)
  );
}

interface ErrorByCode {
  MANIFEST_INVALID: ManifestError;
  TRANSPORT: TransportError;
  TIMEOUT: TimeoutError;
  ABORTED: AbortError;
  INTEGRITY: IntegrityError;
  STATE: StateError;
  STORE: StoreError;
  TRUST: TrustError;
}

/** The error type a given code narrows to. */
export type OtaErrorFor<C extends OtaErrorCode> = C extends keyof ErrorByCode ? ErrorByCode[C] : OtaError;

const KNOWN_CODES: ReadonlySet<string> = new Set(OTA_ERROR_CODES);

/**
 * Whether `value` is an otakit error, optionally with a given code. Works across realms and
 * across duplicated copies of the package.
 *
 * @example
 * ```ts
 * try { await machine.apply(manifest) } catch (error) {
 *   if (isOtaError(error, 'MANIFEST_INVALID')) console.log(error.issues)
 * }
 * ```
 */
export function isOtaError<C extends OtaErrorCode>(value: unknown, code?: C): value is OtaErrorFor<C> {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { code?: unknown; [BRAND]?: unknown };
  if (candidate[BRAND] !== true) return false;
  if (typeof candidate.code !== 'string' || !KNOWN_CODES.has(candidate.code)) return false;
  return code === undefined || candidate.code === code;
}

/** Whether `value` looks like a serialised otakit error (from a snapshot or a report). */
export function isSerializedOtaError(value: unknown): value is SerializedOtaError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.code === 'string' &&
    KNOWN_CODES.has(candidate.code) &&
    typeof candidate.message === 'string' &&
    typeof candidate.name === 'string'
  );
}

/**
 * Turns anything thrown by a hook into an {@link OtaError}. Errors that already are otakit errors
 * pass through; anything else is wrapped with `fallback` as its code and kept as `cause`.
 */
export function toOtaError(value: unknown, fallback: OtaErrorCode, retryable = false): OtaError {
  if (isOtaError(value)) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new OtaError(fallback, message, { cause: value, retryable });
}

/**
 * Rebuilds a live error from its serialised form (e.g. a persisted `lastError`). A serialised
 * {@link TrustError} (code `TRUST` with a known `reason`) comes back as one, so `isTrustError`
 * still answers after a restart.
 */
export function fromSerializedError(value: SerializedOtaError): OtaError {
  const error =
    value.code === 'TRUST' && value.reason !== undefined && TRUST_REASON_SET.has(value.reason)
      ? new TrustError(
          value.reason as TrustReason,
          '',
          value.field === undefined ? {} : { field: value.field },
        )
      : new OtaError(value.code, '', { retryable: value.retryable });
  // The message as it was: TrustError's constructor would append the reason a second time.
  error.message = value.message;
  error.name = value.name;
  return error;
}
