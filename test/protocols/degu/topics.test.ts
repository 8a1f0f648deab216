import { describe, expect, it } from 'vitest';
import { isOtaError } from '../../../src/index.js';
import * as degu from '../../../src/protocols/degu/index.js';

describe('shadow topics', () => {
  it('builds classic and named shadow topics', () => {
    expect(degu.shadowTopic({ thingName: 'A1B2C3D4E5F60718' }, 'update')).toBe(
      '$aws/things/A1B2C3D4E5F60718/shadow/update',
    );
    expect(degu.shadowTopic({ thingName: 'dev-1', shadowName: 'ota' }, 'update/delta')).toBe(
      '$aws/things/dev-1/shadow/name/ota/update/delta',
    );
    const all = degu.shadowTopics({ thingName: 'dev' });
    expect(Object.keys(all)).toEqual([...degu.SHADOW_TOPIC_KINDS]);
    expect(all['delete/rejected']).toBe('$aws/things/dev/shadow/delete/rejected');
  });

  it('lists the device subscriptions of PROTOCOLS.md §1.7, without wildcards', () => {
    expect(degu.deviceSubscriptions({ thingName: 'dev' })).toEqual([
      '$aws/things/dev/shadow/get/accepted',
      '$aws/things/dev/shadow/get/rejected',
      '$aws/things/dev/shadow/update/accepted',
      '$aws/things/dev/shadow/update/rejected',
      '$aws/things/dev/shadow/update/delta',
    ]);
  });

  it('parses every topic it builds, classic and named', () => {
    for (const address of [{ thingName: 'x:y_z-1' }, { thingName: 'dev', shadowName: '$package' }]) {
      for (const kind of degu.SHADOW_TOPIC_KINDS) {
        expect(degu.parseShadowTopic(degu.shadowTopic(address, kind))).toEqual({ ...address, kind });
      }
    }
  });

  it('parses a named shadow called like an operation, and rejects what is not a shadow topic', () => {
    expect(degu.parseShadowTopic('$aws/things/t/shadow/name/get/update')).toEqual({
      thingName: 't',
      shadowName: 'get',
      kind: 'update',
    });
    for (const topic of [
      '$aws/things/t/shadow/get/delta',
      '$aws/things/t/shadow/delete/documents',
      '$aws/things/t/shadow/name/update',
      '$aws/things/t/shadow/update/',
      '$aws/things/t/shadow/#',
      '$aws/things/t+/shadow/get',
      '$aws/things/t.b/shadow/get',
      '$aws/things//shadow/get',
      `$aws/things/${'a'.repeat(129)}/shadow/get`,
      `$aws/things/t/shadow/name/${'a'.repeat(65)}/get`,
      'things/t/shadow/get',
      '$aws/things/t/shadow/update/accepted/extra',
    ]) {
      expect(degu.parseShadowTopic(topic), topic).toBeUndefined();
    }
  });

  it('validates names by the AWS rules before building anything', () => {
    for (const thingName of ['', 'a/b', 'a#', 'a+', 'a b', 'é', 'a'.repeat(129)]) {
      expect(() => degu.shadowTopic({ thingName }, 'get')).toThrow(
        expect.objectContaining({ code: 'MANIFEST_INVALID' }),
      );
    }
    expect(degu.isThingName('a'.repeat(128))).toBe(true);
    expect(degu.isShadowName('a'.repeat(64))).toBe(true);
    expect(degu.isShadowName('a'.repeat(65))).toBe(false);
    expect(degu.isShadowName('a/b')).toBe(false);
    try {
      degu.shadowTopic({ thingName: 'dev', shadowName: 'a/b' }, 'get');
      expect.unreachable();
    } catch (error) {
      expect(isOtaError(error, 'MANIFEST_INVALID') && error.issues[0]?.path).toBe('shadowName');
    }
    expect(degu.DeguThingNameSchema.safeParse('A1B2C3D4E5F6').success).toBe(true);
    expect(degu.DeguThingNameSchema.safeParse('A1B2C3D4E5F60718').success).toBe(true);
    expect(degu.DeguThingNameSchema.safeParse('a1b2c3d4e5f60718').success).toBe(false);
  });

  it('maps topics to message kinds', () => {
    expect(degu.messageKindOf('update')).toBe('request');
    expect(degu.messageKindOf('get')).toBeUndefined();
    expect(degu.messageKindOf('delete')).toBeUndefined();
    expect(degu.messageKindOf('delete/rejected')).toBe('rejected');
    expect(degu.messageKindOf('update/documents')).toBe('update/documents');
  });

  it('builds REST paths', () => {
    expect(degu.shadowRestPath({ thingName: 'dev' })).toBe('/things/dev/shadow');
    expect(degu.shadowRestPath({ thingName: 'dev', shadowName: '$package' })).toBe(
      '/things/dev/shadow?name=%24package',
    );
    expect(degu.listNamedShadowsPath('dev', { pageSize: 10, nextToken: 'a b' })).toBe(
      '/api/things/shadow/ListNamedShadowsForThing/dev?nextToken=a+b&pageSize=10',
    );
    expect(() => degu.listNamedShadowsPath('dev', { pageSize: 0 })).toThrow(/pageSize/);
    expect(() => degu.shadowRestPath({ thingName: '../x' })).toThrow(/thingName/);
  });
});
