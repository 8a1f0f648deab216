/**
 * Key material for the signing commands (`keygen`, `root`, `sign`, `verify`): private keys are
 * read from files (refused when group or others may read or write them) or from an environment
 * variable, never from a command-line value; public keys from the `<name>.pub.json` files
 * `keygen` writes. Nothing here ever prints key material: errors name the file or the variable.
 *
 * @module
 */
import { chmod, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { CliError, usageError } from './exit-codes.js';
import { secretFromEnv } from './options.js';

/** A private key to sign with, and where it came from (for messages). */
export interface LoadedKey {
  /** `--key-file <path>` or `--key-env <VAR>`. */
  source: string;
  /** PKCS #8 PEM, or base64 of a seed or of PKCS #8 DER. */
  value: string;
}

/** Collects a repeatable option's values (`--key-file a --key-file b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Whether the file mode lets anyone but the owner in (ignored on Windows, whose modes are fake). */
function openToOthers(mode: number): boolean {
  return process.platform !== 'win32' && (mode & 0o077) !== 0;
}

/**
 * The private keys named by `--key-file` and `--key-env`, in that order. A key file that group or
 * others may read or write is refused (exit 1), as ssh does: `chmod 600` it.
 */
export async function loadPrivateKeys(
  files: readonly string[] = [],
  envs: readonly string[] = [],
): Promise<LoadedKey[]> {
  if (files.length === 0 && envs.length === 0) {
    throw usageError('give at least one private key: --key-file <file> or --key-env <VAR>');
  }
  const keys: LoadedKey[] = [];
  for (const path of files) {
    const source = `--key-file ${path}`;
    let mode: number;
    let value: string;
    try {
      mode = (await stat(path)).mode;
      value = await readFile(path, 'utf8');
    } catch (error) {
      throw usageError(`${source}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    // A .pub.json given by mistake: say so, rather than ask to chmod a file that holds no secret.
    if (looksLikePublicKeyFile(value)) {
      throw new CliError(
        `${source}: this is a public key file (keygen's .pub.json); give the private key file written beside it`,
      );
    }
    if (openToOthers(mode)) {
      throw new CliError(
        `${source}: the private key is open to group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it, or pass it with --key-env`,
      );
    }
    keys.push({ source, value });
  }
  for (const name of envs) {
    // A PEM pasted into a one-line variable often carries literal "\n".
    keys.push({ source: `--key-env ${name}`, value: secretFromEnv(name, '--key-env').replace(/\\n/g, '\n') });
  }
  return keys;
}

function looksLikePublicKeyFile(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && 'publicKey' in value;
  } catch {
    return false;
  }
}

/**
 * The key id of each private key; a value that is no Ed25519 private key fails naming its source,
 * and one key given twice (under two names or the same) is a usage error: it would count once.
 */
export async function keyIdsOf(keys: readonly LoadedKey[]): Promise<string[]> {
  const { ed25519PublicKey } = await import('../manifest/ed25519.js');
  const { keyIdOf } = await import('../manifest/trust-root.js');
  const ids: string[] = [];
  for (const key of keys) {
    try {
      ids.push(keyIdOf(await ed25519PublicKey(key.value)));
    } catch {
      // The library's error never echoes the key; this one names where it came from.
      throw new CliError(
        `${key.source}: not an Ed25519 private key (expected PKCS #8 PEM as written by otakit keygen, or base64 of a 32-byte seed)`,
      );
    }
    const first = ids.indexOf(ids.at(-1)!);
    if (first < ids.length - 1) {
      throw usageError(`${keys[first]!.source} and ${key.source} are the same key (${ids.at(-1)})`);
    }
  }
  return ids;
}

/** A public key as `keygen` writes it: `{ keyId, publicKey }`. */
export interface PublicKeyFile {
  keyId: string;
  publicKey: string;
}

/** Reads a `<name>.pub.json`; a private key given by mistake is named as such, never echoed. */
export async function readPublicKeyFile(path: string): Promise<PublicKeyFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw usageError(`--key ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (/PRIVATE KEY/.test(text)) {
    throw new CliError(`--key ${path}: this is a private key; give its .pub.json (written by otakit keygen)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text: not printed.
    throw new CliError(`--key ${path}: not JSON; expected { "keyId", "publicKey" } as otakit keygen writes`);
  }
  const { keyId, publicKey } = (value ?? {}) as Record<string, unknown>;
  if (typeof publicKey !== 'string') {
    throw new CliError(`--key ${path} publicKey: expected base64 of a raw 32-byte Ed25519 public key`);
  }
  const { keyIdOf } = await import('../manifest/trust-root.js');
  let derived: string;
  try {
    derived = keyIdOf(publicKey);
  } catch {
    throw new CliError(`--key ${path} publicKey: expected base64 of a raw 32-byte Ed25519 public key`);
  }
  if (keyId !== undefined && keyId !== derived) {
    throw new CliError(`--key ${path} keyId: expected the hex SHA-256 of publicKey (${derived})`);
  }
  return { keyId: derived, publicKey };
}

/** An ISO 8601 instant given as an option, in ms since the epoch; anything else is a usage error. */
export function parseInstant(value: string, option: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(value)
    ? Date.parse(value)
    : Number.NaN;
  if (Number.isNaN(ms)) throw usageError(`${option} must be an ISO 8601 date-time, not "${value}"`);
  return ms;
}

/** A positive integer option. */
export function parsePositiveInteger(value: string, option: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < 1) {
    throw usageError(`${option} must be a positive integer, not "${value}"`);
  }
  return number;
}

/** Writes `text` to `path` through a temporary file and a rename: never a half-written file. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, text);
    await rename(temporary, path);
  } catch (error) {
    throw new CliError(`cannot write ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Writes a secret file readable by its owner only (0600), refusing to replace one unless `force`. */
export async function writeSecretFile(path: string, text: string, force: boolean): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
    // The umask may only remove bits; set them anyway, the file must be exactly 0600.
    await chmod(temporary, 0o600);
    if (!force && (await exists(path))) throw new CliError(`${path} exists; --force replaces it`);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot write ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A document as the commands write it: pretty JSON and a final newline. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The trust root in a root file: a plain root, or the `root` of a signed root (`root sign`'s). */
export function rootIn(document: unknown): unknown {
  if (typeof document === 'object' && document !== null && 'root' in document && 'signatures' in document) {
    return (document as { root: unknown }).root;
  }
  return document;
}

/** The field a refusal is about: its own, or the first path of the validation error it wraps. */
export function fieldOf(error: { field?: string | undefined; cause?: unknown }): string | undefined {
  if (error.field !== undefined) return error.field;
  const issues = (error.cause as { issues?: { path: string }[] } | undefined)?.issues;
  return issues?.[0]?.path;
}
