/**
 * An insigh.io order against the canonical manifest, both ways. The order names a package by
 * file id, type and size; the manifest needs a URL, which is the download URL built from the
 * device's ids and key, so {@link toCanonical} takes those as context.
 *
 * @module
 */
import * as z from 'zod';
import type { DownloadAuth } from '../../core/credentials.js';
import { ManifestError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { type Manifest, parseManifest } from '../../manifest/schema.js';
import type { Conversion, Loss } from '../conversion.js';
import { foreignExtensions, type OptionalManifestField, unsupportedFields } from '../losses.js';
import { FileIdSchema, FileTypeSchema } from './ids.js';
import { type OtaOrder, OtaOrderSchema } from './schemas.js';
import { type DownloadUrlOptions, downloadUrl, parseDownloadUrl } from './urls.js';

/** The key under `manifest.extensions` where the codec keeps what a re-encode needs. */
export const EXTENSION_KEY = 'insighio';

/** `manifest.extensions.insighio`: the order's own fields, so `fromCanonical` is exact. */
export const InsighioExtensionSchema = z.object({
  fileId: FileIdSchema,
  fileType: FileTypeSchema,
});
export type InsighioExtension = z.output<typeof InsighioExtensionSchema>;

/** Who downloads: the ids and key that go into the download URL, and where it points. */
export interface CanonicalContext extends DownloadUrlOptions {
  deviceId: string;
  /** The device key. A secret: by default it stays out of the manifest (see `deviceKeyInUrl`). */
  deviceKey: string;
  /**
   * Put the device key (`dk`) into the artifact URL, as the firmware's own URL has it. Off by
   * default: the manifest is persisted (store, snapshots, logs of other tools), and a key in it
   * would be a secret at rest. Download with `auth: insighIo.downloadAuth(deviceKey)` instead,
   * which adds `dk` to the URL only on the wire.
   * @default false
   */
  deviceKeyInUrl?: boolean;
  controlChannelId: string;
}

/**
 * The canonical manifest of an order. One `package` artifact whose URL is the device's download
 * URL without its key (download with `auth: downloadAuth(deviceKey)`), whose `size` is
 * `s` and whose `name` is the file name the firmware saves, `<fileId><fileType>`. The order has
 * no version, so `id` and `version` are both the file id; it has no digest, so the manifest
 * carries none and `manifestIntegrity()` is `'none'`: the size is the only check.
 * Nothing of the order is lost (`lost` is empty).
 *
 * @throws ManifestError when `order` is not a valid order; OtaError (`CONFIG`) when the context
 * is invalid (the message never contains the key).
 *
 * @example
 * ```ts
 * const message = insighIo.decodeMessage(payload)
 * if (message.kind === 'order') {
 *   const { value: manifest } = insighIo.toCanonical(message.order, { deviceId, deviceKey, controlChannelId })
 *   await machine.apply(manifest) // the download hook passes auth: insighIo.downloadAuth(deviceKey)
 * }
 * ```
 */
export function toCanonical(order: OtaOrder, context: CanonicalContext): Conversion<Manifest> {
  const valid = parseWith(OtaOrderSchema, order, 'insigh.io OTA order');
  const url = downloadUrl(
    {
      fileId: valid.fileId,
      deviceId: context.deviceId,
      deviceKey: context.deviceKey,
      controlChannelId: context.controlChannelId,
    },
    context,
  );
  const extension: InsighioExtension = { fileId: valid.fileId, fileType: valid.fileType };
  let href = url.href;
  if (context.deviceKeyInUrl !== true) {
    const withoutKey = new URL(href);
    withoutKey.searchParams.delete('dk');
    href = withoutKey.href;
  }
  const manifest = parseManifest({
    id: valid.fileId,
    version: valid.fileId,
    artifacts: [{ url: href, size: valid.size, target: 'package', name: `${valid.fileId}${valid.fileType}` }],
    extensions: { [EXTENSION_KEY]: extension },
  });
  return { value: manifest, lost: [] };
}

/**
 * The download credential for {@link toCanonical}'s manifests: `dk=<deviceKey>` added to the
 * artifact URL on the wire only, and masked in every error and log line.
 *
 * @example
 * ```ts
 * createFileDownloadHook({ directory, auth: insighIo.downloadAuth(deviceKey) })
 * ```
 */
export function downloadAuth(deviceKey: string): DownloadAuth {
  return { type: 'query', name: 'dk', value: deviceKey };
}

const PACKAGE_SUFFIX = /(\.tar\.gz|\.tar)$/i;

/** The manifest fields an insigh.io order has no place for, and why. */
const UNSUPPORTED: Partial<Record<OptionalManifestField, string>> = {
  compatibility: 'insigh.io orders carry no compatibility',
  provides: 'insigh.io orders carry no provides',
  depends: 'insigh.io orders carry no depends',
  expiresAt: 'insigh.io orders carry no expiresAt',
  minVersion: 'insigh.io orders carry no minVersion',
  signature: 'the SenML order carries no signature (cloud.encodeOrder adds the signed statement record)',
};

/**
 * The order for a canonical manifest. Needs exactly one artifact with a `size`. The file id is
 * taken from `extensions.insighio`, else from the artifact URL's `fuid`, else from `id`; the
 * file type from `extensions.insighio`, else from the artifact's name or URL (`.tar.gz`, `.tar`).
 * Everything else the order cannot carry is listed in `lost`: version, digests, target, a URL
 * that is not the file's download URL, compatibility, dependencies, expiry, anti-rollback floor,
 * signature and other systems' extensions.
 *
 * @throws ManifestError when the manifest is invalid or cannot be expressed as an order at all
 * (several artifacts, no size, no recognisable file id or type).
 */
export function fromCanonical(manifest: unknown): Conversion<OtaOrder> {
  const valid = parseManifest(manifest);
  const what = 'manifest for insigh.io';
  const fail = (path: string, expected: string): never => {
    throw new ManifestError(what, [{ path, expected }]);
  };
  if (valid.artifacts.length !== 1)
    fail('artifacts', 'exactly one artifact (an insigh.io order names one package)');
  const artifact = valid.artifacts[0]!;

  const rawExtension = valid.extensions?.[EXTENSION_KEY];
  const extension =
    rawExtension === undefined
      ? undefined
      : (InsighioExtensionSchema.partial().safeParse(rawExtension).data ??
        fail(`extensions.${EXTENSION_KEY}`, 'an object with a file id and a file type'));

  const fromUrl = safeFileIdOf(artifact.url);
  let fileId = extension?.fileId ?? fromUrl ?? valid.id;
  if (!FileIdSchema.safeParse(fileId).success) {
    fileId = fail('id', 'a file id of letters, digits, "-" and "_" (or extensions.insighio.fileId)');
  }
  const fileType =
    extension?.fileType ??
    PACKAGE_SUFFIX.exec(artifact.name ?? '')?.[1]?.toLowerCase() ??
    PACKAGE_SUFFIX.exec(pathOf(artifact.url))?.[1]?.toLowerCase() ??
    fail('artifacts[0].name', 'a file name ending in .tar or .tar.gz (or extensions.insighio.fileType)');
  if (artifact.size === undefined || artifact.size < 1) {
    fail('artifacts[0].size', 'a size of at least 1 byte (insigh.io devices ignore an order without one)');
  }
  const order = parseWith(OtaOrderSchema, { fileId, fileType, size: artifact.size }, what);

  const lost: Loss[] = [];
  const lose = (field: string, reason: string) => lost.push({ field, reason });
  if (valid.id !== fileId) lose('id', 'insigh.io orders identify the update by its file id only');
  if (valid.version !== fileId) lose('version', 'insigh.io orders carry no version');
  if (fromUrl !== fileId) {
    lose(
      'artifacts[0].url',
      'insigh.io orders carry no URL: the device downloads the file id from the console',
    );
  }
  if (artifact.md5 !== undefined)
    lose('artifacts[0].md5', 'insigh.io orders carry no digest (only the size)');
  if (artifact.sha256 !== undefined)
    lose('artifacts[0].sha256', 'insigh.io orders carry no digest (only the size)');
  if (artifact.target !== 'package') {
    lose('artifacts[0].target', 'insigh.io delivers packages only (a tar extracted at the device root)');
  }
  if (artifact.name !== undefined && artifact.name !== `${fileId}${fileType}`) {
    lose('artifacts[0].name', 'the device names the file <fileId><fileType>');
  }
  lost.push(...unsupportedFields(valid, UNSUPPORTED), ...foreignExtensions(valid, EXTENSION_KEY));
  return { value: order, lost };
}

function safeFileIdOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    // toCanonical leaves the key out by default; the rest of the URL still names the file.
    if (!parsed.searchParams.has('dk')) parsed.searchParams.set('dk', 'absent');
    return parseDownloadUrl(parsed.href).fileId;
  } catch {
    return undefined;
  }
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url.split(/[?#]/)[0] ?? '';
  }
}
