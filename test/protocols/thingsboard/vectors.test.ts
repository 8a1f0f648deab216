/** The test vectors T1–T4 of docs/protocols/thingsBoard.md, one test each. */
import SparkMD5 from 'spark-md5';
import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../../src/core/errors.js';
import type { UpdateState } from '../../../src/core/states.js';
import type { UpdateStatus } from '../../../src/core/status.js';
import { verifyStaged } from '../../../src/machine/verify-staged.js';
import { manifestIntegrity } from '../../../src/manifest/schema.js';
import * as thingsBoard from '../../../src/protocols/thingsboard/index.js';

const T1_PUSH =
  '{"fw_title":"f","fw_version":"1.2","fw_size":421320,"fw_checksum_algorithm":"SHA256","fw_checksum":"17ae291d08837890026d562e5b666f88d6389fe71d1183d6ed7eeee7505cc209"}';
const T1_SHA = '17ae291d08837890026d562e5b666f88d6389fe71d1183d6ed7eeee7505cc209';

function status(
  state: UpdateState,
  previous: UpdateState | null,
  extra: Partial<UpdateStatus> = {},
): UpdateStatus {
  return {
    machineId: 'dev-1',
    updateId: 'fw:f@1.2',
    version: '1.2',
    state,
    previous,
    at: '2025-01-01T00:00:00Z',
    ...extra,
  };
}

/** The device side: publish what each transition produces, as JSON text on the telemetry topic. */
function publish(statuses: UpdateStatus[], title: string): string[] {
  return statuses.flatMap((item) =>
    thingsBoard.statusToTelemetry(item, { title }).map((m) => JSON.stringify(m)),
  );
}

/** The tracker side: decode each telemetry message and follow the canonical state. */
function track(messages: string[]): Array<UpdateState | null> {
  let previous: UpdateState | null = 'available';
  return messages.map((message) => {
    const [entry] = thingsBoard.decodeTelemetry(message);
    const read = thingsBoard.telemetryToStatus(entry!.values, { previous });
    previous = read?.state ?? previous;
    return read?.state ?? null;
  });
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes.slice().buffer));
  return [...digest].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

describe('ThingsBoard vectors T1–T4', () => {
  it('T1: a SHA-256 package over current f/1.1 reports DOWNLOADING → DOWNLOADED → VERIFIED → UPDATING → UPDATED', () => {
    const attributes = thingsBoard.decodeAttributes(T1_PUSH);
    const pkg = thingsBoard.readPackage(attributes);
    expect(thingsBoard.updateDecision(pkg, { title: 'f', version: '1.1' })).toBe('update');
    const { value: manifest, lost } = thingsBoard.toCanonical(attributes);
    expect(lost).toEqual([]);
    expect(manifest.artifacts).toEqual([
      { url: 'firmware?title=f&version=1.2', size: 421320, sha256: T1_SHA, target: 'firmware', name: 'f' },
    ]);
    expect(manifestIntegrity(manifest)).toBe('sha256');
    // The SHA-256 the download measured matches: verification passes.
    expect(() =>
      verifyStaged(manifest, [{ location: 'slot-b', size: 421320, sha256: T1_SHA }]),
    ).not.toThrow();

    const messages = publish(
      [
        status('downloading', 'available'),
        status('downloaded', 'downloading'),
        status('verifying', 'downloaded'),
        status('installing', 'verifying'),
        status('installed', 'installing'),
        status('committed', 'installed'),
      ],
      pkg.title,
    );
    expect(messages.map((message) => JSON.parse(message))).toEqual([
      { fw_state: 'DOWNLOADING' },
      { fw_state: 'DOWNLOADED' },
      { fw_state: 'VERIFIED' },
      { fw_state: 'UPDATING' },
      { current_fw_title: 'f', current_fw_version: '1.2', fw_state: 'UPDATED' },
    ]);
    expect(track(messages)).toEqual(['downloading', 'downloaded', 'downloaded', 'installing', 'committed']);
  });

  it('T2: a checksum mismatch reports FAILED with fw_error, and a tracker reads verify_failed', () => {
    const { value: manifest } = thingsBoard.toCanonical(thingsBoard.decodeAttributes(T1_PUSH));
    let failure: unknown;
    try {
      verifyStaged(manifest, [{ location: 'slot-b', size: 421320, sha256: '0'.repeat(64) }]);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(IntegrityError);
    const error = (failure as IntegrityError).toJSON();
    const [message, ...rest] = thingsBoard.statusToTelemetry(status('verify_failed', 'verifying', { error }));
    expect(rest).toEqual([]);
    expect(message).toEqual({ fw_state: 'FAILED', fw_error: `verify_failed: INTEGRITY: ${error.message}` });
    // Received by a tracker that last saw DOWNLOADED (VERIFIED never came).
    const [entry] = thingsBoard.decodeTelemetry(JSON.stringify(message));
    expect(thingsBoard.telemetryToStatus(entry!.values, { previous: 'downloaded' })).toEqual({
      fwState: 'FAILED',
      state: 'verify_failed',
      error: { name: 'OtaError', code: 'INTEGRITY', message: error.message, retryable: false },
      current: null,
    });
    // Another client's bare FAILED falls back to the phase the tracker saw.
    const foreign = { fw_state: 'FAILED' as const, fw_error: 'Checksum verification failed!' };
    expect(thingsBoard.telemetryToStatus(foreign, { previous: 'verifying' })).toMatchObject({
      state: 'verify_failed',
      error: { code: 'INTEGRITY', message: 'Checksum verification failed!' },
    });
    expect(thingsBoard.telemetryToStatus(foreign, { previous: 'downloading' })?.state).toBe(
      'download_failed',
    );
    expect(thingsBoard.telemetryToStatus({ fw_state: 'FAILED' })?.state).toBe('install_failed');
  });

  it('T3: a different title is "not for us" by default, an update when configured', () => {
    const pkg = thingsBoard.readPackage(thingsBoard.decodeAttributes(T1_PUSH));
    const current = { title: 'other-product', version: '1.1' };
    expect(thingsBoard.updateDecision(pkg, current)).toBe('not_for_us');
    expect(thingsBoard.updateDecision(pkg, current, { title: 'match' })).toBe('not_for_us');
    expect(thingsBoard.updateDecision(pkg, current, { title: 'any' })).toBe('update');
    expect(thingsBoard.updateDecision(pkg, { title: 'f', version: '1.2' })).toBe('current');
    expect(thingsBoard.updateDecision(pkg, { title: 'f', version: '1.2' }, { title: 'any' })).toBe('current');
    expect(thingsBoard.updateDecision(pkg, null)).toBe('update');
  });

  it("T4: SHA-256, MD5 and CRC32 of print('hello')\\n map to sha256, md5 and an unverifiable extension", async () => {
    const content = new TextEncoder().encode("print('hello')\n");
    const sha = '03e693d9f2f687e0f40e36a8df7fcb4d1c22974012b7c2a55c000eb30f305824';
    const md5 = '100e360cc768f15a35ed9ddf05e354ce';
    expect(await sha256Hex(content)).toBe(sha);
    expect(SparkMD5.ArrayBuffer.hash(content.slice().buffer)).toBe(md5);
    // The vector's CRC32 is zlib's order; ThingsBoard (Guava HashCode) prints the bytes reversed.
    expect(crc32(content).toString(16).padStart(8, '0')).toBe('65ca00d8');
    const guava = '65ca00d8'.match(/../g)!.reverse().join('');
    expect(guava).toBe('d800ca65');

    const base = { fw_title: 'hello', fw_version: '1', fw_size: content.length };
    const staged = [{ location: 'x', size: content.length, sha256: sha, md5 }];

    const bySha = thingsBoard.toCanonical({
      ...base,
      fw_checksum_algorithm: 'SHA256',
      fw_checksum: sha.toUpperCase(),
    });
    expect(bySha.value.artifacts[0]?.sha256).toBe(sha);
    expect(() => verifyStaged(bySha.value, staged)).not.toThrow();

    const byMd5 = thingsBoard.toCanonical({ ...base, fw_checksum_algorithm: 'MD5', fw_checksum: md5 });
    expect(byMd5.value.artifacts[0]).toMatchObject({ md5 });
    expect(manifestIntegrity(byMd5.value)).toBe('md5');
    expect(() => verifyStaged(byMd5.value, staged)).not.toThrow();

    for (const checksum of ['65ca00d8', guava]) {
      const byCrc = thingsBoard.toCanonical({
        ...base,
        fw_checksum_algorithm: 'CRC32',
        fw_checksum: checksum,
      });
      expect(byCrc.value.extensions?.thingsboard).toEqual({
        type: 'firmware',
        title: 'hello',
        checksumAlgorithm: 'CRC32',
        checksum,
      });
      expect(manifestIntegrity(byCrc.value)).toBe('none');
      expect(byCrc.lost).toEqual([
        { field: 'fw_checksum', reason: expect.stringContaining('cannot verify CRC32') },
      ]);
      // Nothing otakit can check: verification refuses unless told to accept unverified updates.
      expect(() => verifyStaged(byCrc.value, staged)).toThrow(/no digest to verify/);
      expect(() => verifyStaged(byCrc.value, staged, { allowUnverified: true })).not.toThrow();
      expect(thingsBoard.fromCanonical(byCrc.value).value).toMatchObject({
        fw_checksum_algorithm: 'CRC32',
        fw_checksum: checksum,
      });
    }
  });
});
