import { describe, expect, it } from 'vitest';
import { isOtaError } from '../../../src/index.js';
import * as exosite from '../../../src/protocols/exosite/index.js';

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('MQTT topics', () => {
  it('builds and parses $resource/<alias> and $resource/<alias>/<timestamp>', () => {
    expect(exosite.resourceTopic('otau_in')).toBe('$resource/otau_in');
    expect(exosite.resourceChangeTopic('config_otau', 1526046488000000)).toBe(
      '$resource/config_otau/1526046488000000',
    );
    expect(exosite.parseResourceTopic('$resource/otau_in')).toEqual({ alias: 'otau_in' });
    expect(exosite.parseResourceTopic('$resource/config_otau/0')).toEqual({
      alias: 'config_otau',
      timestamp: 0,
    });
    expect(exosite.BATCH_TOPIC).toBe('$resource.batch');
    expect(exosite.RESOURCE_SUBSCRIPTION).toBe('$resource/#');
  });

  it('refuses invalid aliases when building', () => {
    for (const alias of ['', 'a/b', 'a+', '#', 'a b', 'x'.repeat(129), 'é']) {
      expect(
        isOtaError(
          caught(() => exosite.resourceTopic(alias)),
          'CONFIG',
        ),
      ).toBe(true);
    }
    expect(
      isOtaError(
        caught(() => exosite.resourceChangeTopic('a', -1)),
        'CONFIG',
      ),
    ).toBe(true);
    expect(
      isOtaError(
        caught(() => exosite.resourceChangeTopic('a', 2 ** 53)),
        'CONFIG',
      ),
    ).toBe(true);
  });

  it('refuses anything else when parsing', () => {
    for (const topic of [
      '$resource',
      '$resource/',
      '$resource//1',
      '$resource/a/1/2',
      '$resource/a/x1',
      '$resource/a/99999999999999999',
      '$resource/a/',
      '$resource.batch',
      'resource/a',
      '$provision/a',
      '$resource/+',
      '$resource/#',
    ]) {
      const error = caught(() => exosite.parseResourceTopic(topic));
      expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
      expect(exosite.safeParseResourceTopic(topic)).toBeUndefined();
    }
    expect(caught(() => exosite.parseResourceTopic('x'))).toMatchObject({
      issues: [{ path: '', expected: '$resource/<alias> or $resource/<alias>/<timestamp>' }],
    });
  });

  it('builds the activation topic', () => {
    expect(exosite.provisionTopic('a0:01:02')).toBe('$provision/a0:01:02');
    for (const identity of ['', 'a/b', 'a+b', 'a#', 'a\nb']) {
      expect(
        isOtaError(
          caught(() => exosite.provisionTopic(identity)),
          'CONFIG',
        ),
      ).toBe(true);
    }
  });
});

describe('$resource.batch', () => {
  it('encodes statuses as JSON strings inside JSON (encoded twice)', () => {
    const status = exosite.encodeStatus({ version: '1.0.2', status: 'DOWNLOAD' });
    const payload = exosite.encodeBatch([{ timestamp: 1526046488000000, values: { otau_in: status } }]);
    expect(JSON.parse(payload)).toEqual([
      {
        timestamp: 1526046488000000,
        values: { otau_in: '{"version":"1.0.2","status":"DOWNLOAD","message":""}' },
      },
    ]);
    const [entry] = exosite.decodeBatch(payload);
    expect(exosite.decodeStatus(entry!.values.otau_in)).toEqual({
      version: '1.0.2',
      status: 'DOWNLOAD',
      message: '',
    });
  });

  it('refuses malformed batches', () => {
    for (const input of [
      '[]',
      '{}',
      '[{"timestamp":-1,"values":{}}]',
      '[{"timestamp":1,"values":{"a/b":"x"}}]',
    ]) {
      expect(
        isOtaError(
          caught(() => exosite.decodeBatch(input)),
          'MANIFEST_INVALID',
        ),
      ).toBe(true);
    }
    expect(
      isOtaError(
        caught(() => exosite.encodeBatch([])),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
  });
});

describe('acknowledgement', () => {
  it('echoes the value unchanged, over MQTT and HTTP, even when it is not a valid manifest', () => {
    const value = '{"version":"9","type":"ZIP"}';
    expect(exosite.acknowledgePublication(value)).toEqual({ topic: '$resource/config_otau', payload: value });
    expect(exosite.acknowledgeChange({ topic: '$resource/config_otau/17', payload: value })).toEqual({
      topic: '$resource/config_otau',
      payload: value,
    });
    const request = exosite.acknowledgeRequest({ token: 'tok', value });
    expect(exosite.decodeForm(request.body!)).toEqual({ config_otau: value });
    expect(exosite.acknowledgeRequest({ token: 'tok', value: '' }).body).toBe('config_otau=');
  });

  it('acknowledges on the alias the change arrived on', () => {
    expect(exosite.acknowledgeChange({ topic: '$resource/config_io/1', payload: 'x' }).topic).toBe(
      '$resource/config_io',
    );
  });

  it('refuses oversized or non-UTF-8 values and foreign topics', () => {
    const big = new Uint8Array(exosite.LIMITS.resourceBytes + 1).fill(0x41);
    expect(
      isOtaError(
        caught(() => exosite.acknowledgePublication(big)),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
    expect(
      isOtaError(
        caught(() => exosite.acknowledgePublication(new Uint8Array([0xc3]))),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
    expect(
      isOtaError(
        caught(() => exosite.acknowledgeChange({ topic: 'other/x', payload: 'x' })),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
  });
});
