/**
 * `otakit verify <manifest.json> --root <root.json>`: what a device decides before it fetches a
 * byte. The signatures must meet the root's threshold (`verifyManifestSignature`) and the order
 * must pass the policy (`checkManifestPolicy`: expiry, device type/id, the anti-rollback floor, the
 * weakest digest accepted: md5 by default, as the device's trust gate when it requires signatures).
 * Exit 0 with the key ids that signed; exit 1 with the refusal's reason and field.
 *
 * @module
 */
import { type Command, Option } from 'commander';
import type { Manifest, ManifestIntegrity } from '../../manifest/schema.js';
import type { SignatureCount } from '../../manifest/trust.js';
import type { TrustRoot } from '../../manifest/trust-root.js';
import { EXIT, usageError } from '../exit-codes.js';
import { fieldOf, parseInstant, rootIn } from '../keys.js';
import { readJsonFile } from '../options.js';
import { createOutput } from '../output.js';

type Compare = 'semver' | 'integer' | 'opaque';

/** Refusals about the signatures themselves, after the root and the envelope were read. */
const SIGNATURE_REASONS: ReadonlySet<string | undefined> = new Set([
  'bad_signature',
  'unknown_key',
  'revoked_key',
  'below_threshold',
]);

interface VerifyOptions {
  root: string;
  now?: string;
  deviceType?: string;
  deviceId?: string;
  floor?: string;
  compare: Compare;
  minIntegrity: ManifestIntegrity;
  json?: boolean;
}

interface Verdict {
  valid: boolean;
  reason?: string;
  field?: string | null;
  message?: string;
  issues?: { path: string; expected: string }[];
  keyIds: string[];
  threshold: number | null;
  rootVersion: number | null;
  rejected: SignatureCount['rejected'];
}

/**
 * Which of the manifest's signatures verify on their own (each against the root with threshold 1),
 * and why each other one does not: the library's own reasons, signature by signature.
 */
async function eachSignature(
  manifest: Manifest,
  root: TrustRoot,
  now: number,
): Promise<Pick<Verdict, 'keyIds' | 'rejected'>> {
  const { verifyManifestSignature } = await import('../../manifest/trust.js');
  const { isTrustError } = await import('../../core/errors.js');
  const keyIds: string[] = [];
  const rejected: Verdict['rejected'] = [];
  const seen = new Set<string>();
  for (const signature of manifest.signature?.signatures ?? []) {
    if (seen.has(signature.keyId)) {
      rejected.push({ keyId: signature.keyId, reason: 'duplicate_key' });
      continue;
    }
    seen.add(signature.keyId);
    try {
      await verifyManifestSignature(
        { ...manifest, signature: { ...manifest.signature!, signatures: [signature] } },
        { ...root, threshold: 1 },
        { now },
      );
      keyIds.push(signature.keyId);
    } catch (error) {
      if (!isTrustError(error)) throw error;
      const reason =
        error.reason === 'unknown_key' || error.reason === 'revoked_key' ? error.reason : 'bad_signature';
      rejected.push({ keyId: signature.keyId, reason });
    }
  }
  return { keyIds, rejected };
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description("check a signed manifest as a device does: the root's signature threshold, then the policy")
    .argument('<manifest.json>', 'the signed manifest')
    .requiredOption('--root <root.json>', 'the trust root (a root, or a signed root)')
    .option('--now <iso>', 'the time the device believes it is (default: now)')
    .option('--device-type <type>', "the device's type, checked against compatibility.deviceTypes")
    .option('--device-id <id>', "the device's id, checked against compatibility.deviceIds")
    .option('--floor <version>', "the device's anti-rollback floor (needs --compare semver or integer)")
    .addOption(
      new Option('--compare <order>', 'how versions are ordered for --floor and minVersion')
        .choices(['semver', 'integer', 'opaque'])
        .default('opaque'),
    )
    .addOption(
      new Option(
        '--min-integrity <digest>',
        "the weakest artifact digest accepted (a device's trust gate requires md5 when it requires signatures)",
      )
        .choices(['none', 'md5', 'sha256'] satisfies ManifestIntegrity[])
        .default('md5'),
    )
    .option('--json', 'print { valid, reason?, field?, keyIds, threshold, rootVersion, rejected }')
    .action(async (file: string, options: VerifyOptions) => {
      const now = options.now === undefined ? Date.now() : parseInstant(options.now, '--now');
      const policyModule = await import('../../manifest/version-policy.js');
      const compareVersions =
        options.compare === 'semver'
          ? policyModule.semverCompare
          : options.compare === 'integer'
            ? policyModule.integerCompare
            : policyModule.opaque;
      if (options.floor !== undefined) {
        if (compareVersions === 'opaque')
          throw usageError('--floor needs --compare semver or --compare integer');
        try {
          compareVersions(options.floor, options.floor);
        } catch {
          throw usageError(
            `--floor "${options.floor}" is not a version --compare ${options.compare} can read`,
          );
        }
      }
      const [input, rootDocument] = await Promise.all([
        readJsonFile(file, 'manifest'),
        readJsonFile(options.root, 'trust root'),
      ]);
      const { ManifestError, isOtaError, isTrustError } = await import('../../core/errors.js');
      const { safeParseWith } = await import('../../core/validate.js');
      const { TrustRootSchema } = await import('../../manifest/trust-root.js');
      const { parseManifest, safeParseManifest } = await import('../../manifest/schema.js');
      const { verifyManifestSignature } = await import('../../manifest/trust.js');
      const parsedRoot = safeParseWith(TrustRootSchema, rootIn(rootDocument), 'trust root');
      const root = parsedRoot.success ? parsedRoot.data : undefined;
      const verdict: Verdict = {
        valid: false,
        keyIds: [],
        threshold: root?.threshold ?? null,
        rootVersion: root?.version ?? null,
        rejected: [],
      };
      let signed = false;
      try {
        const count = await verifyManifestSignature(input as never, rootIn(rootDocument) as never, { now });
        signed = true;
        verdict.keyIds = count.keyIds;
        verdict.rejected = count.rejected;
        policyModule.checkManifestPolicy(parseManifest(input), {
          now,
          compareVersions,
          floor: options.floor ?? null,
          minIntegrity: options.minIntegrity,
          ...(options.deviceType === undefined ? {} : { deviceType: options.deviceType }),
          ...(options.deviceId === undefined ? {} : { deviceId: options.deviceId }),
        });
        verdict.valid = true;
      } catch (error) {
        if (error instanceof ManifestError) {
          verdict.reason = 'invalid_manifest';
          verdict.field = error.issues[0]?.path ?? null;
          verdict.issues = [...error.issues];
        } else if (isTrustError(error)) {
          verdict.reason = error.reason;
          verdict.field = fieldOf(error) ?? null;
        } else if (isOtaError(error, 'MANIFEST_EXPIRED')) {
          verdict.reason = 'manifest_expired';
          verdict.field = 'expiresAt';
        } else throw error;
        verdict.message = (error as Error).message;
        // A signature refusal: which signatures did verify, and why each other one did not.
        if (!signed && root !== undefined && SIGNATURE_REASONS.has(verdict.reason)) {
          const manifest = safeParseManifest(input);
          if (manifest.success) Object.assign(verdict, await eachSignature(manifest.data, root, now));
        }
      }
      const out = createOutput({ json: options.json ?? false });
      if (!verdict.valid) process.exitCode = EXIT.failed;
      if (out.json) return out.result(verdict);
      const signers = `${verdict.keyIds.length} of threshold ${verdict.threshold ?? '?'}`;
      if (verdict.valid) {
        const manifest = parseManifest(input);
        out.line(
          `valid: manifest ${manifest.id} ${manifest.version}, signed by ${signers} (trust root version ${verdict.rootVersion})`,
        );
      } else {
        out.line(`invalid: ${verdict.reason}${verdict.field ? ` (${verdict.field})` : ''}`);
        if (verdict.issues !== undefined) {
          // The message joins the same issues: one line per field instead, and no signature count
          // (the signatures of an invalid manifest were never checked).
          for (const issue of verdict.issues)
            out.line(`  ${issue.path || '(root)'}: expected ${issue.expected}`);
          return;
        }
        out.line(`  ${verdict.message}`);
        out.line(`signed by ${signers}:`);
      }
      for (const keyId of verdict.keyIds) out.line(`  ${keyId}`);
      for (const { keyId, reason } of verdict.rejected) out.line(`  ${keyId} not counted: ${reason}`);
    });
}
