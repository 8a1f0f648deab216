/**
 * Exosite manifests to and from the canonical manifest.
 *
 * Exosite → canonical loses nothing, but gains no integrity: the manifest carries no digest and
 * no size, so every artifact lacks both and `manifestIntegrity()` is `none` (the conversion says
 * so in `lost`). The canonical id is the Exosite `version` (Exosite: it "identifies the OTAU").
 * `name`, `description`, `type`, a `JSON` payload and the content ids behind resolved URLs are
 * kept in `extensions.exosite`, so {@link fromCanonical} re-encodes the same manifest.
 *
 * @module
 */
import * as z from 'zod';
import { parseWith } from '../../core/validate.js';
import { type Artifact, type ArtifactTarget, type Manifest, ManifestSchema } from '../../manifest/schema.js';
import type { Conversion, Loss } from '../conversion.js';
import { foreignExtensions, unsupportedFields } from '../losses.js';
import { refuseProtoKeys } from './json-payload.js';
import { LIMITS } from './limits.js';
import { type ContentLocator, classifyPayloadItem, resolvePayloadItem } from './payload.js';
import { OTAU_TYPES, type OtauManifest, OtauManifestSchema, type OtauType } from './schemas.js';

type JsonValue = z.core.util.JSONType;

/** The key of this system in `manifest.extensions`. */
export const EXTENSION_KEY = 'exosite';

/** What `extensions.exosite` holds. */
export const ExositeExtensionSchema = z.object({
  name: z.string().max(LIMITS.nameLength),
  description: z.string().max(LIMITS.descriptionLength).optional(),
  type: z.enum(OTAU_TYPES),
  /** The inline object of a `JSON` manifest. */
  payload: z.record(z.string(), z.json()).optional(),
  /** Resolved download URL → the connector content id it came from. */
  content: z.record(z.string(), z.string()).optional(),
});
export type ExositeExtension = z.output<typeof ExositeExtensionSchema>;

/** Options of {@link toCanonical}. */
export interface ToCanonicalOptions {
  /**
   * Where connector content (payload items without a host) is downloaded from. Without it the
   * artifact URL is the content id itself (a path relative to the content store, which the
   * canonical manifest allows).
   */
  content?: ContentLocator;
  /**
   * What the downloaded files are; Exosite does not say.
   * @default 'file' ('config' for a JSON manifest)
   */
  target?: ArtifactTarget;
}

const NO_DIGEST: Loss = {
  field: 'artifacts',
  reason: 'Exosite manifests carry no digest and no size: integrity is none (manifestIntegrity() === "none")',
};

/** `data:` URL of the inline object: fetchable by `fetch`, and never sent to Exosite. */
function jsonDataUrl(payload: unknown): string {
  return `data:application/json,${encodeURIComponent(JSON.stringify(payload))}`;
}

function fileName(url: string): string | undefined {
  const path = URL.canParse(url) ? new URL(url).pathname : url;
  const last = path.split('/').pop();
  return last === undefined || last === '' ? undefined : last;
}

/**
 * The canonical manifest of an Exosite manifest.
 *
 * @throws ManifestError when a payload item is neither an http(s) URL nor a content id (possible
 *   for a manifest decoded with `strictCompat`); OtaError `CONFIG` for a bad `content` locator.
 *
 * @example
 * ```ts
 * const { value, lost } = toCanonical(manifest, { content: contentBaseUrl(pid) })
 * await machine.apply(value)
 * ```
 */
export function toCanonical(manifest: OtauManifest, options: ToCanonicalOptions = {}): Conversion<Manifest> {
  refuseProtoKeys(manifest, 'Exosite config_otau manifest');
  const valid = parseWith(OtauManifestSchema, manifest, 'Exosite config_otau manifest');
  // Built as plain JSON (no `undefined` members), which is what `extensions` holds.
  const extension: Record<string, JsonValue> = { name: valid.name, type: valid.type };
  if (valid.description !== undefined) extension.description = valid.description;
  const artifacts: Artifact[] = [];
  if (valid.type === 'JSON') {
    extension.payload = valid.payload;
    artifacts.push({
      url: jsonDataUrl(valid.payload),
      target: options.target ?? 'config',
      name: 'payload.json',
    });
  } else {
    const items = valid.type === 'FILE' ? [valid.payload] : valid.payload;
    const content: Record<string, string> = {};
    for (const [index, item] of items.entries()) {
      const path = valid.type === 'FILE' ? 'payload' : `payload[${index}]`;
      const kind = classifyPayloadItem(item, path);
      let url = item;
      if (kind.kind === 'content' && options.content !== undefined) {
        url = resolvePayloadItem(item, options.content, path);
        content[url] = kind.id;
      }
      const artifact: Artifact = { url, target: options.target ?? 'file' };
      const name = kind.kind === 'content' ? kind.id : fileName(url);
      if (name !== undefined) artifact.name = name;
      artifacts.push(artifact);
    }
    if (Object.keys(content).length > 0) extension.content = content;
  }
  const value: Manifest = {
    id: valid.version,
    version: valid.version,
    artifacts,
    extensions: { [EXTENSION_KEY]: extension },
  };
  return { value, lost: [NO_DIGEST] };
}

/** Options of {@link fromCanonical}. */
export interface FromCanonicalOptions {
  /**
   * Manifest type when `extensions.exosite` does not say.
   * @default 'URL_LIST' (the only type ExoSense's UI produces)
   */
  type?: OtauType;
}

/** What Exosite cannot carry, field by field. */
function losses(manifest: Manifest): Loss[] {
  const lost: Loss[] = [];
  if (manifest.id !== manifest.version) {
    lost.push({ field: 'id', reason: 'Exosite identifies an OTAU by its version; the id is not sent' });
  }
  for (const [index, artifact] of manifest.artifacts.entries()) {
    for (const field of ['size', 'md5', 'sha256'] as const) {
      if (artifact[field] !== undefined) {
        lost.push({
          field: `artifacts[${index}].${field}`,
          reason: `Exosite manifests carry no ${field === 'size' ? 'size' : 'digest'}`,
        });
      }
    }
  }
  lost.push(
    ...unsupportedFields(manifest, {
      compatibility: 'Exosite manifests carry no compatibility',
      provides: 'Exosite manifests carry no provides',
      depends: 'Exosite manifests carry no depends',
      expiresAt: 'Exosite manifests carry no expiry',
      minVersion: 'Exosite versions are opaque; no anti-rollback floor',
      signature: 'the Exosite manifest fields carry no signature (cloud.encodeOrder adds otakit_manifest)',
    }),
    ...foreignExtensions(manifest, EXTENSION_KEY),
  );
  return lost;
}

function decodeDataUrl(url: string): unknown {
  const prefix = 'data:application/json,';
  if (!url.startsWith(prefix)) return undefined;
  try {
    return JSON.parse(decodeURIComponent(url.slice(prefix.length))) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The Exosite manifest of a canonical manifest, and what it could not carry.
 *
 * `extensions.exosite` supplies `name` (else the version), `description`, `type` and a `JSON`
 * payload, and maps resolved content URLs back to their content ids. A `FILE` manifest with
 * more than one artifact becomes `URL_LIST` (and says so). Artifact names and targets are
 * derived, never lost in substance.
 *
 * @throws ManifestError when an artifact URL is neither an http(s) URL nor a content id, or
 *   `extensions.exosite` is malformed, or a `JSON` manifest has no object payload.
 *
 * @example
 * ```ts
 * const { value, lost } = fromCanonical(manifest)
 * await send(writeRequest({ token, values: { config_otau: encodeManifest(value) } }))
 * ```
 */
export function fromCanonical(input: Manifest, options: FromCanonicalOptions = {}): Conversion<OtauManifest> {
  const what = 'canonical manifest for Exosite';
  const manifest = parseWith(ManifestSchema, input, what);
  const raw = manifest.extensions?.[EXTENSION_KEY];
  const extension =
    raw === undefined
      ? undefined
      : parseWith(ExositeExtensionSchema, raw, `${what} (extensions.${EXTENSION_KEY})`);
  const lost = losses(manifest);
  let type: OtauType = extension?.type ?? options.type ?? 'URL_LIST';
  const common = {
    version: manifest.version,
    name: extension?.name ?? manifest.version,
    ...(extension?.description === undefined ? {} : { description: extension.description }),
  };

  if (type === 'JSON') {
    const payload = extension?.payload ?? decodeDataUrl(manifest.artifacts[0]?.url ?? '');
    const value = parseWith(OtauManifestSchema, { ...common, type, payload }, what);
    if (manifest.artifacts.length > 1) {
      lost.push({
        field: 'artifacts',
        reason: 'a JSON manifest downloads nothing; only the inline payload is sent',
      });
    }
    return { value, lost };
  }

  const content = extension?.content ?? {};
  const items = manifest.artifacts.map((artifact, index) => {
    const item = Object.hasOwn(content, artifact.url) ? (content[artifact.url] as string) : artifact.url;
    classifyPayloadItem(item, `artifacts[${index}].url`);
    return item;
  });
  if (type === 'FILE' && items.length !== 1) {
    type = 'URL_LIST';
    lost.push({
      field: `extensions.${EXTENSION_KEY}.type`,
      reason: 'FILE carries one URL; sent as URL_LIST',
    });
  }
  const value =
    type === 'FILE'
      ? parseWith(OtauManifestSchema, { ...common, type, payload: items[0] }, what)
      : parseWith(OtauManifestSchema, { ...common, type, payload: items }, what);
  return { value, lost };
}
