import { describe, expect, it } from 'vitest';
import { isOtaError, isTrustError, type TrustReason } from '../../src/core/errors.js';
import { type Manifest, parseManifest } from '../../src/manifest/schema.js';
import {
  checkManifestPolicy,
  integerCompare,
  type ManifestPolicy,
  maxVersion,
  raiseFloor,
  semverCompare,
} from '../../src/manifest/version-policy.js';
import { BASE_MANIFEST } from './keys.js';

const NOW = Date.parse('2026-12-01T00:00:00Z');

function order(manifest: Partial<Manifest> & { version?: string } = {}): Manifest {
  return parseManifest({ ...BASE_MANIFEST, ...manifest });
}

function refusedWith(manifest: Manifest, policy: Partial<ManifestPolicy>): TrustReason | 'MANIFEST_EXPIRED' {
  try {
    checkManifestPolicy(manifest, { now: NOW, ...policy });
  } catch (error) {
    if (isOtaError(error, 'MANIFEST_EXPIRED')) return 'MANIFEST_EXPIRED';
    if (isTrustError(error)) return error.reason;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('semverCompare', () => {
  it('orders by SemVer 2.0.0 precedence (the spec example chain), prerelease below release', () => {
    const chain = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.1.0',
      '1.10.0',
      '2.0.0',
      '18446744073709551616.0.0',
    ];
    for (let i = 0; i < chain.length; i++) {
      for (let j = 0; j < chain.length; j++) {
        expect(Math.sign(semverCompare(chain[i]!, chain[j]!)), `${chain[i]} vs ${chain[j]}`).toBe(
          Math.sign(i - j),
        );
      }
    }
  });

  it('ignores build metadata, accepts a leading v, refuses non-semver with invalid_version', () => {
    expect(semverCompare('1.2.3+build.7', '1.2.3')).toBe(0);
    expect(semverCompare('v1.2.3', '1.2.3')).toBe(0);
    for (const bad of ['1.2', '01.2.3', '1.2.3-', '1.2.3-01', 'abc', '']) {
      let thrown: unknown;
      try {
        semverCompare(bad, '1.0.0');
      } catch (error) {
        thrown = error;
      }
      expect(isTrustError(thrown, 'invalid_version'), bad).toBe(true);
    }
  });
});

describe('integerCompare and opaque', () => {
  it('orders decimal integers of any size, refuses anything else', () => {
    expect(integerCompare('9', '10')).toBe(-1);
    expect(integerCompare('100', '100')).toBe(0);
    expect(integerCompare('123456789012345678901234567890', '99')).toBe(1);
    for (const bad of ['-1', '01', '1.0', ' 1', 'x'])
      expect(() => integerCompare(bad, '1'), bad).toThrow(/invalid_version/);
  });

  it('maxVersion / raiseFloor: the greatest minVersion (and version with strictMonotonic); opaque keeps no floor', () => {
    expect(maxVersion(semverCompare, '1.2.0', '1.10.0')).toBe('1.10.0');
    expect(maxVersion(semverCompare, null, '1.0.0')).toBe('1.0.0');
    expect(maxVersion('opaque', '1', '2')).toBeNull();
    const m = { version: '3.0.0', minVersion: '2.5.0' };
    expect(raiseFloor('2.0.0', m, { compareVersions: semverCompare })).toBe('2.5.0');
    expect(raiseFloor('2.7.0', m, { compareVersions: semverCompare })).toBe('2.7.0');
    expect(raiseFloor('2.0.0', m, { compareVersions: semverCompare, strictMonotonic: true })).toBe('3.0.0');
    expect(raiseFloor('2.0.0', m, { compareVersions: 'opaque' })).toBeNull();
    expect(raiseFloor(null, m)).toBeNull();
  });
});

describe('checkManifestPolicy', () => {
  it('passes an order that meets every rule', () => {
    expect(() =>
      checkManifestPolicy(
        order({
          version: '2.1.0',
          minVersion: '2.0.0',
          compatibility: { deviceTypes: ['gw-2'], deviceIds: ['dev-1'] },
        }),
        {
          now: NOW,
          compareVersions: semverCompare,
          floor: '2.0.0',
          current: '2.0.0',
          strictMonotonic: true,
          deviceType: 'gw-2',
          deviceId: 'dev-1',
          minIntegrity: 'sha256',
        },
      ),
    ).not.toThrow();
  });

  it('refuses an expired order with MANIFEST_EXPIRED (expiresAt <= now)', () => {
    expect(refusedWith(order({ expiresAt: new Date(NOW).toISOString() }), {})).toBe('MANIFEST_EXPIRED');
    expect(() =>
      checkManifestPolicy(order({ expiresAt: new Date(NOW + 1).toISOString() }), { now: NOW }),
    ).not.toThrow();
  });

  it('refuses versions below the floor, below their own minVersion, and not above the committed one when strict', () => {
    const semver = { compareVersions: semverCompare };
    expect(refusedWith(order({ version: '1.9.9' }), { ...semver, floor: '2.0.0' })).toBe('below_floor');
    expect(refusedWith(order({ version: '2.0.0-rc.1' }), { ...semver, floor: '2.0.0' })).toBe('below_floor');
    expect(() =>
      checkManifestPolicy(order({ version: '2.0.0' }), { now: NOW, ...semver, floor: '2.0.0' }),
    ).not.toThrow();
    expect(refusedWith(order({ version: '2.0.0', minVersion: '2.1.0' }), semver)).toBe('below_floor');
    expect(
      refusedWith(order({ version: '2.0.0' }), { ...semver, current: '2.0.0', strictMonotonic: true }),
    ).toBe('below_floor');
    expect(() =>
      checkManifestPolicy(order({ version: '2.0.0' }), { now: NOW, ...semver, current: '2.0.0' }),
    ).not.toThrow();
    expect(refusedWith(order({ version: '41' }), { compareVersions: integerCompare, floor: '42' })).toBe(
      'below_floor',
    );
  });

  it('names the field and the expectation in the message', () => {
    let thrown: unknown;
    try {
      checkManifestPolicy(order({ version: '1.0.0' }), {
        now: NOW,
        compareVersions: semverCompare,
        floor: '2.0.0',
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({
      field: 'version',
      message: `manifest fw-2 version "1.0.0": expected at least the device's anti-rollback floor "2.0.0" (below_floor)`,
    });
  });

  it('with opaque versions (the default) the floor is off: any version passes', () => {
    expect(() =>
      checkManifestPolicy(order({ version: 'd41d8cd98f00b204', minVersion: 'zzz' }), {
        now: NOW,
        floor: 'ffff',
      }),
    ).not.toThrow();
  });

  it('refuses a version the comparator cannot read, even with no floor yet', () => {
    expect(refusedWith(order({ version: 'build-7' }), { compareVersions: semverCompare })).toBe(
      'invalid_version',
    );
    expect(
      refusedWith(order({ version: '2.0.0' }), { compareVersions: semverCompare, floor: 'garbage' }),
    ).toBe('invalid_version');
  });

  it('refuses the wrong target: another device type, another device id, or a device that cannot tell (fail closed)', () => {
    const bound = order({ compatibility: { deviceTypes: ['gw-2', 'gw-2e'] } });
    expect(refusedWith(bound, { deviceType: 'gw-1' })).toBe('wrong_target');
    expect(refusedWith(bound, {})).toBe('wrong_target');
    expect(() => checkManifestPolicy(bound, { now: NOW, deviceType: 'gw-2e' })).not.toThrow();
    const forOne = order({ compatibility: { deviceIds: ['dev-7'] } });
    expect(refusedWith(forOne, { deviceId: 'dev-8' })).toBe('wrong_target');
    expect(() => checkManifestPolicy(forOne, { now: NOW, deviceId: 'dev-7' })).not.toThrow();
    // Unbound orders go anywhere.
    expect(() => checkManifestPolicy(order(), { now: NOW, deviceType: 'gw-1', deviceId: 'x' })).not.toThrow();
  });

  it('refuses artifacts whose digest is weaker than minIntegrity', () => {
    const noDigest = order({ artifacts: [{ url: 'https://cdn.example.test/a', target: 'file' }] });
    const md5Only = order({
      artifacts: [{ url: 'https://cdn.example.test/a', target: 'file', md5: 'a'.repeat(32) }],
    });
    expect(refusedWith(noDigest, { minIntegrity: 'md5' })).toBe('weak_integrity');
    expect(refusedWith(md5Only, { minIntegrity: 'sha256' })).toBe('weak_integrity');
    expect(() => checkManifestPolicy(md5Only, { now: NOW, minIntegrity: 'md5' })).not.toThrow();
    expect(() => checkManifestPolicy(noDigest, { now: NOW })).not.toThrow();
  });

  it('keeps compatibility.deviceIds optional: manifests without it still parse', () => {
    expect(order({ compatibility: { deviceTypes: ['a'] } }).compatibility).toEqual({ deviceTypes: ['a'] });
    expect(() => parseManifest({ ...BASE_MANIFEST, compatibility: { deviceIds: [] } })).toThrow(/deviceIds/);
  });
});
