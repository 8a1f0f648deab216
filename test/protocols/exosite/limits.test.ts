import { describe, expect, it } from 'vitest';
import { isOtaError } from '../../../src/index.js';
import { exositeProvisioning } from '../../../src/node/index.js';
import * as exosite from '../../../src/protocols/exosite/index.js';
import { largestInputs, largestOf } from '../../support/cost.js';

const TEN_MB = 10 * 1024 * 1024;

/** Refused as `expected` ("at most N bytes") without decoding, parsing or scanning more than N bytes. */
async function refusedUnparsed(run: () => unknown, expected: string): Promise<void> {
  let error: unknown;
  const examined = await largestInputs(() => {
    try {
      run();
    } catch (caught) {
      error = caught;
    }
  });
  expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
  expect((error as { issues: unknown }).issues).toEqual([{ path: '', expected }]);
  const limit = Number(/at most (\d+) bytes/.exec(expected)?.[1]);
  expect(largestOf(examined)).toBeLessThanOrEqual(limit);
}

describe('LIMITS', () => {
  it('documents the byte and record limits', () => {
    expect(exosite.LIMITS).toMatchObject({
      resourceBytes: 1_048_576,
      formBytes: 3 * 1_048_576 + 4096,
      requestTimeoutMs: 300_000,
      formFields: 64,
    });
  });

  it('refuses a 10 MB manifest, status, form body or batch before parsing it', async () => {
    // Valid-looking JSON, so only the size check can stop it early.
    const json = `{"version":"1","name":"n","type":"JSON","payload":{"x":"${'a'.repeat(TEN_MB)}"}}`;
    const bytes = new TextEncoder().encode(json);
    const resource = `at most ${exosite.LIMITS.resourceBytes} bytes`;
    await refusedUnparsed(() => exosite.decodeManifest(json), resource);
    await refusedUnparsed(() => exosite.decodeManifest(bytes), resource);
    await refusedUnparsed(() => exosite.decodeStatus(json), resource);
    await refusedUnparsed(
      () => exosite.decodeForm(`config_otau=${'a'.repeat(TEN_MB)}`),
      `at most ${exosite.LIMITS.formBytes} bytes`,
    );
    await refusedUnparsed(() => exosite.decodeBatch(bytes), `at most ${exosite.LIMITS.batchBytes} bytes`);
    await refusedUnparsed(() => exosite.acknowledgePublication(bytes), resource);
    await refusedUnparsed(
      () => exositeProvisioning.decodeActivateResponse({ status: 200, body: bytes }),
      `at most ${exosite.LIMITS.smallBodyBytes} bytes`,
    );
    expect(exosite.manifestVersionOf(json)).toBeNull();
  });

  it('accepts a value right at the resource limit', () => {
    const head = '{"version":"1","name":"n","type":"JSON","payload":{"x":"';
    const tail = '"}}';
    const json = head + 'a'.repeat(exosite.LIMITS.resourceBytes - head.length - tail.length) + tail;
    expect(new TextEncoder().encode(json).length).toBe(exosite.LIMITS.resourceBytes);
    expect(exosite.decodeManifest(json).version).toBe('1');
    // The same value form-encoded is far over 1 MiB, and still within the form limit.
    const body = exosite.encodeForm({ config_otau: json });
    expect(exosite.decodeForm(body).config_otau).toBe(json);
    expect(
      isOtaError(
        safely(() => exosite.decodeManifest(`${json} `)),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
  });

  it('caps record counts: payload items, batch entries, form fields', () => {
    const items = Array.from({ length: exosite.LIMITS.payloadItems + 1 }, (_, index) => `f${index}`);
    expect(
      isOtaError(
        safely(() => exosite.decodeManifest({ version: '1', name: 'n', type: 'URL_LIST', payload: items })),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
    const entries = Array.from({ length: exosite.LIMITS.batchEntries + 1 }, () => ({
      timestamp: 1,
      values: {},
    }));
    expect(
      isOtaError(
        safely(() => exosite.decodeBatch(entries)),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
  });
});

function safely(run: () => unknown): unknown {
  try {
    return run();
  } catch (error) {
    return error;
  }
}
