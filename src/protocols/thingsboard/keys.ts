/**
 * The vocabulary of ThingsBoard OTA (≥ 3.3; docs/protocols/thingsBoard.md), as ThingsBoard's own enums spell it:
 * `OtaPackageType`, `OtaPackageKey`, `ChecksumAlgorithm`, `OtaPackageUpdateStatus`.
 *
 * @module
 */

/** Firmware (`fw_*` keys) or software (`sw_*` keys). */
export type PackageType = 'firmware' | 'software';

export const PACKAGE_TYPES = ['firmware', 'software'] as const satisfies readonly PackageType[];

/** The key prefix of each package type. */
export const PREFIX = { firmware: 'fw', software: 'sw' } as const satisfies Record<PackageType, string>;

export type Prefix = (typeof PREFIX)[PackageType];

/** `OtaPackageKey`: the part after `fw_`/`sw_`. (`id` is a server-scope key, never sent to devices.) */
export const PACKAGE_KEYS = [
  'title',
  'version',
  'ts',
  'state',
  'size',
  'checksum',
  'checksum_algorithm',
  'url',
  'tag',
] as const;

export type PackageKey = (typeof PACKAGE_KEYS)[number];

/** The shared attributes the server pushes for a package (`OtaPackageUtil.getAttributeKeys` minus ts/state). */
export const SHARED_KEYS = [
  'title',
  'version',
  'size',
  'checksum',
  'checksum_algorithm',
  'url',
  'tag',
] as const satisfies readonly PackageKey[];

export type SharedKey = (typeof SHARED_KEYS)[number];

/** `fw_title`, `sw_checksum`, … (`OtaPackageUtil.getAttributeKey`). */
export function attributeKey<T extends PackageType, K extends PackageKey>(
  type: T,
  key: K,
): `${(typeof PREFIX)[T]}_${K}` {
  return `${PREFIX[type]}_${key}` as `${(typeof PREFIX)[T]}_${K}`;
}

/** `current_fw_title`, … : what the device reports it runs (`getCurrentTelemetryKey`). */
export function currentTelemetryKey<T extends PackageType, K extends 'title' | 'version'>(
  type: T,
  key: K,
): `current_${(typeof PREFIX)[T]}_${K}` {
  return `current_${attributeKey(type, key)}`;
}

/** `target_fw_title`, … : what the server records as the assigned package (`getTargetTelemetryKey`). */
export function targetTelemetryKey<T extends PackageType, K extends PackageKey>(
  type: T,
  key: K,
): `target_${(typeof PREFIX)[T]}_${K}` {
  return `target_${attributeKey(type, key)}`;
}

/**
 * `ChecksumAlgorithm`, with the length of each checksum in hex characters. ThingsBoard computes
 * them with Guava's `HashFunction.hashBytes(…).toString()`: lowercase hex of the hash code's
 * bytes. For CRC32 and MURMUR3_32 those are the 32-bit value in little-endian order (Guava
 * `HashCode.fromInt`), so CRC32 of `print('hello')\n` reads `d800ca65` where zlib prints
 * `65ca00d8`; ThingsBoard's own Python example client reverses the bytes before comparing.
 */
export const CHECKSUM_ALGORITHMS = {
  MD5: 32,
  SHA256: 64,
  SHA384: 96,
  SHA512: 128,
  CRC32: 8,
  MURMUR3_32: 8,
  MURMUR3_128: 32,
} as const;

export type ChecksumAlgorithm = keyof typeof CHECKSUM_ALGORITHMS;

export const CHECKSUM_ALGORITHM_NAMES = Object.keys(CHECKSUM_ALGORITHMS) as [
  ChecksumAlgorithm,
  ...ChecksumAlgorithm[],
];

/** The algorithms otakit verifies, with the canonical artifact field each maps to. */
export const CANONICAL_DIGESTS = { MD5: 'md5', SHA256: 'sha256' } as const satisfies Partial<
  Record<ChecksumAlgorithm, 'md5' | 'sha256'>
>;

/**
 * `OtaPackageUpdateStatus`: the values of `fw_state`/`sw_state`. `QUEUED` and `INITIATED` are
 * written by the server; the rest by the device.
 */
export const FW_STATES = [
  'QUEUED',
  'INITIATED',
  'DOWNLOADING',
  'DOWNLOADED',
  'VERIFIED',
  'UPDATING',
  'UPDATED',
  'FAILED',
] as const;

export type FwState = (typeof FW_STATES)[number];

/**
 * The shared attribute a signed manifest travels in (the signed statement's JSON), beside the
 * package's own keys: `otakit_fw_manifest` or `otakit_sw_manifest`. Not a `fw_*`/`sw_*` key, so
 * ThingsBoard's own OTA service never rewrites or deletes it.
 */
export function statementAttribute(type: PackageType): string {
  return type === 'firmware' ? 'otakit_fw_manifest' : 'otakit_sw_manifest';
}
