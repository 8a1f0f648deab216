/**
 * The packages a local ThingsBoard device gateway serves: what ThingsBoard keeps after an upload
 * (title, version, bytes, one checksum), and the canonical manifest that assigns each one. The
 * manifest's artifact is ThingsBoard's content path (`firmware?title=…&version=…`), so the
 * publisher announces it as a stored package and the device fetches it from the gateway, by MQTT
 * chunks or over HTTP.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { OtaError } from '../../core/errors.js';
import type { Manifest } from '../../manifest/schema.js';
import { toCanonical } from '../../protocols/thingsboard/codec.js';
import { attributeKey, type PackageType } from '../../protocols/thingsboard/keys.js';

/** The algorithms the gateway computes (the ones otakit devices verify while the bytes stream, and SHA-384/512). */
export type GatewayChecksumAlgorithm = 'SHA256' | 'MD5' | 'SHA384' | 'SHA512';

const NODE_NAMES: Record<GatewayChecksumAlgorithm, string> = {
  SHA256: 'sha256',
  MD5: 'md5',
  SHA384: 'sha384',
  SHA512: 'sha512',
};

export interface GatewayPackageInput {
  /** @default 'firmware' */
  type?: PackageType;
  title: string;
  version: string;
  /** The package, as devices receive it. */
  data: Uint8Array;
  /** @default 'SHA256' */
  checksumAlgorithm?: GatewayChecksumAlgorithm;
  /** ThingsBoard's optional `fw_tag`. */
  tag?: string;
}

/** A package as the gateway keeps it. */
export interface GatewayPackage {
  type: PackageType;
  title: string;
  version: string;
  data: Uint8Array;
  /** The manifest that assigns it (give it to the publisher). */
  manifest: Manifest;
}

function key(type: PackageType, title: string, version: string): string {
  return `${type}\u0000${title}\u0000${version}`;
}

/** The packages of one gateway, by type, title and version. */
export class GatewayPackages {
  readonly #packages = new Map<string, GatewayPackage>();

  /**
   * Keeps `input` (replacing a package of the same type, title and version) and returns it with
   * its manifest. @throws OtaError `CONFIG` for a bad algorithm; ManifestError naming the field
   * for a title or version ThingsBoard would refuse.
   */
  add(input: GatewayPackageInput): GatewayPackage {
    const type = input?.type ?? 'firmware';
    const algorithm = input.checksumAlgorithm ?? 'SHA256';
    if (!Object.hasOwn(NODE_NAMES, algorithm)) {
      throw new OtaError('CONFIG', `checksumAlgorithm must be one of ${Object.keys(NODE_NAMES).join(', ')}`);
    }
    if (!(input.data instanceof Uint8Array)) throw new OtaError('CONFIG', 'data must be the package bytes');
    const data = new Uint8Array(input.data);
    const attributes: Record<string, unknown> = {
      [attributeKey(type, 'title')]: input.title,
      [attributeKey(type, 'version')]: input.version,
      [attributeKey(type, 'size')]: data.length,
      [attributeKey(type, 'checksum_algorithm')]: algorithm,
      [attributeKey(type, 'checksum')]: createHash(NODE_NAMES[algorithm]).update(data).digest('hex'),
    };
    if (input.tag !== undefined) attributes[attributeKey(type, 'tag')] = input.tag;
    const { value: manifest } = toCanonical(attributes, { type });
    const stored: GatewayPackage = { type, title: input.title, version: input.version, data, manifest };
    this.#packages.set(key(type, input.title, input.version), stored);
    return stored;
  }

  get(type: PackageType, title: string, version: string): GatewayPackage | undefined {
    return this.#packages.get(key(type, title, version));
  }

  delete(type: PackageType, title: string, version: string): boolean {
    return this.#packages.delete(key(type, title, version));
  }
}
