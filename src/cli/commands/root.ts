/**
 * `otakit root create|sign|rotate`: the trust root devices check signed manifests against.
 * `create` writes a root (k of n public keys); `sign` adds signatures to a root, making the signed
 * root a rotation needs (a threshold of the current root's keys and of the new root's own), each
 * holder in turn; `rotate` decides a rotation the way a device does (`rotateRoot`), exit 0 or 1.
 *
 * @module
 */
import type { Command } from 'commander';
import type { TrustRootInput } from '../../manifest/trust-root.js';
import { EXIT } from '../exit-codes.js';
import {
  collect,
  fieldOf,
  jsonText,
  keyIdsOf,
  loadPrivateKeys,
  parseInstant,
  parsePositiveInteger,
  readPublicKeyFile,
  rootIn,
  writeAtomically,
} from '../keys.js';
import { readJsonFile } from '../options.js';
import { createOutput } from '../output.js';

/** A date-time as the root schema takes it (with an offset), from any ISO 8601 instant. */
const isoInstant = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

interface CreateOptions {
  key: string[];
  threshold: number;
  version: number;
  expires?: string;
  out?: string;
  json?: boolean;
}

interface SignOptions {
  keyFile?: string[];
  keyEnv?: string[];
  out?: string;
  json?: boolean;
}

interface RotateOptions {
  current: string;
  new: string;
  now?: string;
  out?: string;
  json?: boolean;
}

export function registerRoot(program: Command): void {
  const root = program
    .command('root')
    .description('create, sign and rotate trust roots (k-of-n signing keys)');

  root
    .command('create')
    .description('write a trust root: the public keys that may sign, and how many must (k of n)')
    .requiredOption('--key <pub.json...>', 'public key files written by keygen (repeat or list several)')
    .requiredOption('--threshold <k>', 'how many distinct keys must sign', (value) =>
      parsePositiveInteger(value, '--threshold'),
    )
    .option(
      '--version <n>',
      'the root version; a rotation needs a greater one',
      (value) => parsePositiveInteger(value, '--version'),
      1,
    )
    .option('--expires <iso>', 'after this instant the root verifies nothing (ISO 8601)')
    .option('-o, --out <file>', 'write the root here (default: stdout)')
    .option('--json', 'with --out, print { file, version, keyIds, threshold, expiresAt }')
    .action(async (options: CreateOptions) => {
      const keys = [];
      for (const path of options.key) keys.push(await readPublicKeyFile(path));
      const input: TrustRootInput = { version: options.version, keys, threshold: options.threshold };
      if (options.expires !== undefined)
        input.expiresAt = isoInstant(parseInstant(options.expires, '--expires'));
      const { parseTrustRoot } = await import('../../manifest/trust-root.js');
      const trustRoot = parseTrustRoot(input);
      const out = createOutput({ json: options.json ?? false });
      if (options.out === undefined) return void process.stdout.write(jsonText(trustRoot));
      await writeAtomically(options.out, jsonText(trustRoot));
      const keyIds = trustRoot.keys.map((key) => key.keyId);
      if (out.json) {
        return out.result({
          file: options.out,
          version: trustRoot.version,
          keyIds,
          threshold: trustRoot.threshold,
          expiresAt: trustRoot.expiresAt ?? null,
        });
      }
      out.line(
        `${options.out}: trust root version ${trustRoot.version}, ${trustRoot.threshold} of ${keyIds.length} key(s)${trustRoot.expiresAt ? `, expires ${trustRoot.expiresAt}` : ''}`,
      );
      for (const keyId of keyIds) out.line(`  ${keyId}`);
    });

  root
    .command('sign')
    .description('add signatures to a trust root (a rotation needs the current keys and the new ones)')
    .argument('<root.json>', 'a root, or a signed root to add signatures to')
    .option('--key-file <file>', 'a private key file (mode 0600); repeat for several', collect)
    .option('--key-env <VAR>', 'an environment variable holding a private key; repeat for several', collect)
    .option('-o, --out <file>', 'write the signed root here (default: stdout)')
    .option('--json', 'with --out, print { file, version, keyIds, added }')
    .action(async (file: string, options: SignOptions) => {
      const document = await readJsonFile(file, 'trust root');
      const privateKeys = await loadPrivateKeys(options.keyFile, options.keyEnv);
      const added = await keyIdsOf(privateKeys);
      const { parseTrustRoot, SignedRootSchema } = await import('../../manifest/trust-root.js');
      const { signRoot } = await import('../../manifest/trust.js');
      const { parseWith } = await import('../../core/validate.js');
      const trustRoot = parseTrustRoot(rootIn(document));
      const existing = (document as { signatures?: unknown }).signatures;
      const kept = Array.isArray(existing)
        ? (existing as { keyId?: unknown }[]).filter(
            (signature) => !added.includes(signature?.keyId as string),
          )
        : [];
      const fresh = await signRoot(
        trustRoot,
        privateKeys.map((key) => key.value),
      );
      const signed = parseWith(
        SignedRootSchema,
        { root: fresh.root, signatures: [...kept, ...fresh.signatures] },
        'signed trust root',
      );
      if (options.out === undefined) return void process.stdout.write(jsonText(signed));
      await writeAtomically(options.out, jsonText(signed));
      const keyIds = signed.signatures.map((signature) => signature.keyId);
      const out = createOutput({ json: options.json ?? false });
      if (out.json) return out.result({ file: options.out, version: signed.root.version, keyIds, added });
      out.line(
        `${options.out}: trust root version ${signed.root.version} with ${keyIds.length} signature(s), added by:`,
      );
      for (const keyId of added) out.line(`  ${keyId}`);
    });

  root
    .command('rotate')
    .description('decide a rotation as a device does: exit 0 if the new root is accepted, 1 if refused')
    .requiredOption('--current <root.json>', "the device's current root (a root or a signed root)")
    .requiredOption('--new <signed-root.json>', 'the signed new root (written by root sign)')
    .option('--now <iso>', 'the time the device believes it is (default: now)')
    .option('-o, --out <file>', 'if accepted, write the new root (what the device keeps) here')
    .option(
      '--json',
      'print { accepted, version, previousVersion, keyIds, threshold, reason?, field?, cause? }',
    )
    .action(async (options: RotateOptions) => {
      const now = options.now === undefined ? Date.now() : parseInstant(options.now, '--now');
      const [currentDocument, next] = await Promise.all([
        readJsonFile(options.current, 'current trust root'),
        readJsonFile(options.new, 'new trust root'),
      ]);
      const current = rootIn(currentDocument) as TrustRootInput;
      const { rotateRoot } = await import('../../manifest/trust.js');
      const { isTrustError } = await import('../../core/errors.js');
      const out = createOutput({ json: options.json ?? false });
      try {
        const adopted = await rotateRoot(current, next as never, { now });
        if (options.out !== undefined) await writeAtomically(options.out, jsonText(adopted));
        const keyIds = adopted.keys.map((key) => key.keyId);
        if (out.json) {
          return out.result({
            accepted: true,
            version: adopted.version,
            previousVersion: current.version,
            keyIds,
            threshold: adopted.threshold,
          });
        }
        out.line(
          `accepted: trust root version ${current.version} -> ${adopted.version}, ${adopted.threshold} of ${keyIds.length} key(s)`,
        );
        for (const keyId of keyIds) out.line(`  ${keyId}`);
      } catch (error) {
        if (!isTrustError(error)) throw error;
        const cause = isTrustError(error.cause)
          ? { reason: error.cause.reason, field: fieldOf(error.cause) ?? null, message: error.cause.message }
          : undefined;
        process.exitCode = EXIT.failed;
        if (out.json) {
          return out.result({
            accepted: false,
            reason: error.reason,
            field: fieldOf(error) ?? null,
            message: error.message,
            ...(cause === undefined ? {} : { cause }),
          });
        }
        out.line(`refused: ${error.reason}${fieldOf(error) ? ` (${fieldOf(error)})` : ''}`);
        out.line(`  ${error.message}`);
        if (cause !== undefined) out.line(`  because: ${cause.message}`);
      }
    });
}
