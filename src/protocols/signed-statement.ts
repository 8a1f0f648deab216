/**
 * How a signed manifest travels on a platform's wire without breaking it.
 *
 * No platform's order carries the whole canonical manifest (Degu carries URLs and MD5s, insigh.io
 * a file id and a size, Exosite no digest at all), so a manifest decoded from the wire can never
 * reproduce the bytes that were signed. The **signed statement** travels beside the order
 * instead: the canonical manifest with its `signature` and without `extensions` (which the
 * signature does not cover), as JSON, in a place the platform's own firmware ignores (an extra
 * shadow key, SenML record, shared attribute or manifest field, or a companion file; see
 * docs/protocols/README.md). A cloud codec adds it only when the manifest is signed: an unsigned
 * order is byte for byte what it always was.
 *
 * On the device, the statement is decoded (bounded, validated with `ManifestSchema`) and
 * **reconciled** with the order the wire itself describes, so a statement of one update can
 * never ride along with the order of another (mix-and-match):
 *
 * - the ids are equal (every codec derives the id its status reports name), and the versions,
 *   where the wire carries one;
 * - the same number of artifacts, and for each (by index): the URL equal once credentials that
 *   only the wire adds are removed (user info, and e.g. insigh.io's `dk`), the target equal, and
 *   the name, size, MD5 and SHA-256 equal wherever both sides have one.
 *
 * Reconciled, the order's manifest *is* the statement (signature, `expiresAt`, `minVersion`,
 * SHA-256…), with the wire manifest's `extensions`: the machine then checks the signature and
 * the downloads against the statement's stronger digests. A mismatch is a `ManifestError`
 * (`MANIFEST_INVALID`) naming the statement's path, e.g. `otakit_manifest.artifacts[0].url`,
 * thrown by `decodeOrder`: nothing is downloaded.
 *
 * @module
 */
import { decodeBase64url, encodeBase64url } from '../core/encoding.js';
import { ManifestError, type ValidationIssue } from '../core/errors.js';
import { toValidationIssues } from '../core/validate.js';
import { decodeJson } from '../core/wire.js';
import { type Manifest, ManifestSchema } from '../manifest/schema.js';
import type { Conversion, Loss } from './conversion.js';

/** The key, record or attribute name the statement travels under (insigh.io, Degu, Exosite). */
export const STATEMENT_KEY = 'otakit_manifest';

/** Limits of a statement, checked before it is parsed. */
export const STATEMENT_LIMITS = {
  /**
   * Largest statement, in UTF-8 bytes of its JSON. A signed manifest with one artifact and one
   * signature is about 700 bytes; each further signature adds about 150. Each platform's own
   * message limit applies too (an AWS shadow holds 8 KB of state, an insigh.io message 4 KB).
   */
  maxBytes: 8192,
} as const;

const WHAT = 'signed manifest statement';

/** How the statement text is written: JSON, or base64url of the JSON (a SenML `vs` value). */
export type StatementEncoding = 'json' | 'base64url';

/**
 * The statement of `manifest`: the manifest with its signature, without `extensions`; `null`
 * when the manifest is not signed (nothing extra travels).
 */
export function signedStatement(manifest: Manifest): Manifest | null {
  if (manifest.signature === undefined) return null;
  const { extensions: _extensions, ...statement } = manifest;
  return statement;
}

/**
 * The statement text of a signed `manifest` (validated first), or `null` for an unsigned one.
 * @throws ManifestError when the statement is over {@link STATEMENT_LIMITS.maxBytes}.
 */
export function encodeStatement(manifest: Manifest, encoding: StatementEncoding = 'json'): string | null {
  const statement = signedStatement(manifest);
  if (statement === null) return null;
  const json = JSON.stringify(statement);
  const bytes = new TextEncoder().encode(json);
  if (bytes.length > STATEMENT_LIMITS.maxBytes) {
    throw new ManifestError(WHAT, [
      {
        path: 'signature',
        expected: `a signed manifest of at most ${STATEMENT_LIMITS.maxBytes} bytes as JSON without extensions (it is ${bytes.length})`,
      },
    ]);
  }
  return encoding === 'json' ? json : encodeBase64url(bytes);
}

/** Options of {@link decodeStatement}. */
export interface DecodeStatementOptions {
  /** Where the statement was found, prefixed to every error path. @default 'otakit_manifest' */
  path?: string;
  /** @default 'json' */
  encoding?: StatementEncoding;
}

/**
 * Decodes a statement off the wire: a string (JSON or base64url) or bytes, at most
 * {@link STATEMENT_LIMITS.maxBytes}, a valid manifest with a signature. `extensions` in it are
 * dropped (they are not signed; the wire's are used).
 * @throws ManifestError naming the path (`otakit_manifest.artifacts[0].md5`) and what was expected.
 */
export function decodeStatement(input: unknown, options: DecodeStatementOptions = {}): Manifest {
  const path = options.path ?? STATEMENT_KEY;
  const fail = (at: string, expected: string): never => {
    throw new ManifestError(WHAT, [{ path: join(path, at), expected }]);
  };
  let text: unknown = input;
  if (options.encoding === 'base64url') {
    if (typeof input !== 'string') return fail('', 'a base64url string');
    if (input.length > Math.ceil((STATEMENT_LIMITS.maxBytes * 4) / 3)) {
      return fail('', `at most ${STATEMENT_LIMITS.maxBytes} bytes`);
    }
    const bytes = decodeBase64url(input);
    if (bytes === undefined) return fail('', 'base64url (RFC 4648 §5) of the statement JSON');
    text = bytes;
  } else if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    return fail('', 'the statement as a JSON string');
  }
  let value: unknown;
  try {
    value = decodeJson(text, { what: WHAT, maxBytes: STATEMENT_LIMITS.maxBytes });
  } catch (error) {
    if (error instanceof ManifestError) {
      throw new ManifestError(
        WHAT,
        error.issues.map((issue) => ({ path: join(path, issue.path), expected: issue.expected })),
      );
    }
    throw error;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('', 'a manifest object');
  }
  const parsed = ManifestSchema.safeParse(value);
  if (!parsed.success) {
    const issues = toValidationIssues(parsed.error).map((issue) => ({
      path: join(path, issue.path),
      expected: issue.expected,
    }));
    throw new ManifestError(WHAT, issues);
  }
  if (parsed.data.signature === undefined) {
    return fail('signature', 'a signature envelope (only signed manifests travel as a statement)');
  }
  const { extensions: _unsigned, ...statement } = parsed.data;
  return statement;
}

/** Options of {@link reconcileStatement}. */
export interface ReconcileOptions {
  /** Where the statement was found, prefixed to every error path. @default 'otakit_manifest' */
  path?: string;
  /**
   * Whether the wire carries the version itself. Degu derives it from the MD5s and insigh.io from
   * the file id; there the statement's version stands.
   * @default true
   */
  wireVersion?: boolean;
  /** Query parameters only the wire adds to artifact URLs (credentials), ignored when comparing. */
  wireOnlyParams?: readonly string[];
}

/** `url` with user info, a fragment and the wire-only query parameters removed. */
export function normaliseArtifactUrl(url: string, wireOnlyParams: readonly string[] = []): string {
  if (!/^https?:/i.test(url) || !URL.canParse(url)) return url;
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  parsed.hash = '';
  for (const name of wireOnlyParams) parsed.searchParams.delete(name);
  return parsed.href;
}

/**
 * Checks that `statement` describes the update `wire` does (see the module), and returns the
 * manifest to run: the statement with the wire manifest's `extensions`.
 * @throws ManifestError naming every statement field that differs from the wire's.
 */
export function reconcileStatement(
  statement: Manifest,
  wire: Manifest,
  options: ReconcileOptions = {},
): Manifest {
  const path = options.path ?? STATEMENT_KEY;
  const issues: ValidationIssue[] = [];
  const differs = (at: string, what: string) =>
    issues.push({
      path: join(path, at),
      expected: `${what} the order on the wire has (a statement of another update is refused: mix-and-match)`,
    });
  if (statement.id !== wire.id) differs('id', 'the update id');
  if (options.wireVersion !== false && statement.version !== wire.version) differs('version', 'the version');
  if (statement.artifacts.length !== wire.artifacts.length) {
    differs('artifacts', `${wire.artifacts.length} artifact(s), as`);
  } else {
    const params = options.wireOnlyParams ?? [];
    statement.artifacts.forEach((signed, index) => {
      const onWire = wire.artifacts[index]!;
      const at = `artifacts[${index}]`;
      if (normaliseArtifactUrl(signed.url, params) !== normaliseArtifactUrl(onWire.url, params)) {
        differs(`${at}.url`, 'the URL');
      }
      if (signed.target !== onWire.target) differs(`${at}.target`, 'the target');
      for (const field of ['name', 'size', 'md5', 'sha256'] as const) {
        const a = signed[field];
        const b = onWire[field];
        if (a !== undefined && b !== undefined && a !== b) differs(`${at}.${field}`, `the ${field}`);
      }
    });
  }
  if (issues.length > 0) throw new ManifestError(WHAT, issues);
  return wire.extensions === undefined ? { ...statement } : { ...statement, extensions: wire.extensions };
}

/**
 * A device codec's decoding with the statement applied: unchanged when there is no order or no
 * statement (`undefined`); else the statement decoded and reconciled with the order, which it
 * replaces. Use in `decodeOrder`, after decoding the wire's own order.
 * @throws ManifestError for a statement that is malformed, too large or of another update.
 */
export function applyStatement<D extends Conversion<Manifest | null>>(
  decoding: D,
  statement: unknown,
  options: DecodeStatementOptions & ReconcileOptions = {},
): D {
  if (decoding.value === null || statement === undefined) return decoding;
  const decoded = decodeStatement(statement, options);
  return { ...decoding, value: reconcileStatement(decoded, decoding.value, options) };
}

/** Options of {@link signedOrder}. */
export interface SignedOrderOptions {
  /** Names the platform in errors, e.g. `signed manifest for Degu`. */
  what: string;
  /** Whether the wire carries the version itself (see {@link ReconcileOptions.wireVersion}). @default true */
  wireVersion?: boolean;
}

/** Loss paths that would make the device decode another update than the one signed. */
const BINDING = /^(?:id|version|artifacts|artifacts\[\d+\](?:\.(?:url|target|name))?)$/;

/**
 * The cloud side: for a signed `manifest`, checks the wire order can be reconciled with it and
 * returns the statement and the losses that remain (the statement carries every manifest field;
 * only other systems' extensions stay lost). `statement` is `null`, and `lost` unchanged, for an
 * unsigned manifest.
 * @throws ManifestError when the wire order would name another id, version (where the wire carries
 *   one) or artifact (URL, target, name, or an artifact left out) than the signed manifest: the
 *   device would refuse the order.
 */
export function signedOrder(
  manifest: Manifest,
  lost: Loss[],
  options: SignedOrderOptions,
): { statement: Manifest | null; lost: Loss[] } {
  if (manifest.signature === undefined) return { statement: null, lost };
  const issues: ValidationIssue[] = [];
  for (const loss of lost) {
    if (loss.field === 'version' && options.wireVersion === false) continue;
    if (BINDING.test(loss.field)) {
      issues.push({
        path: loss.field,
        expected: `what the order on the wire says, so the device can match the signed manifest to it (${loss.reason})`,
      });
    }
  }
  if (issues.length > 0) throw new ManifestError(options.what, issues);
  return {
    statement: signedStatement(manifest),
    lost: lost.filter((loss) => loss.field === 'extensions' || loss.field.startsWith('extensions.')),
  };
}

function join(prefix: string, path: string): string {
  if (path === '') return prefix;
  if (prefix === '') return path;
  return path.startsWith('[') ? `${prefix}${path}` : `${prefix}.${path}`;
}
