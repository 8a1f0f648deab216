import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/index.js';
import * as degu from '../../src/protocols/degu/index.js';
import { shadowModel } from '../../src/testing/index.js';

const T = 1_700_000_000;
const opts = { timestamp: T };

function accepted(result: shadowModel.ServiceResult<shadowModel.UpdateOutcome>) {
  if (!result.ok) throw new Error(`rejected: ${result.error.message}`);
  return result;
}

describe('shadow service model: request validation with AWS error documents', () => {
  const cases: Array<[string, JsonValue | string | Uint8Array, keyof typeof shadowModel.SHADOW_ERRORS]> = [
    ['not JSON', '{"state":', 'invalidJson'],
    ['no state', '{"desired":{}}', 'missingState'],
    ['not an object', '[1]', 'missingState'],
    ['state not an object', '{"state":[]}', 'stateNotObject'],
    ['desired not an object', '{"state":{"desired":"on"}}', 'desiredNotObject'],
    ['reported not an object', '{"state":{"reported":3}}', 'reportedNotObject'],
    ['unknown node in state', '{"state":{"delta":{}}}', 'invalidNode'],
    ['null inside an array', '{"state":{"desired":{"colors":[null,"RED"]}}}', 'invalidNode'],
    ['negative version', '{"state":{},"version":-1}', 'invalidVersion'],
    ['fractional version', '{"state":{},"version":1.5}', 'invalidVersion'],
    ['clientToken not a string', '{"state":{},"clientToken":7}', 'invalidClientToken'],
    ['7 levels in desired', '{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{}}}}}}}}}', 'tooDeep'],
    ['state over 8 KB', JSON.stringify({ state: { reported: { blob: 'x'.repeat(8200) } } }), 'tooLarge'],
    ['bytes that are not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 'unsupportedEncoding'],
  ];
  for (const [name, input, key] of cases) {
    it(`rejects ${name} with ${shadowModel.SHADOW_ERRORS[key].code} "${shadowModel.SHADOW_ERRORS[key].message}"`, () => {
      const result = shadowModel.checkRequest(input, opts);
      expect(result).toEqual({ ok: false, error: { ...shadowModel.SHADOW_ERRORS[key], timestamp: T } });
    });
  }

  it('accepts 6 levels in desired and echoes a valid clientToken in errors', () => {
    expect(shadowModel.checkRequest('{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{}}}}}}}}', opts).ok).toBe(
      true,
    );
    expect(shadowModel.checkRequest('{"state":1,"clientToken":"t1"}', opts)).toEqual({
      ok: false,
      error: { code: 400, message: 'State node must be an object', timestamp: T, clientToken: 't1' },
    });
  });
});

describe('shadow service model: updates', () => {
  it('creates, merges, removes and stamps metadata per leaf', () => {
    const first = accepted(
      shadowModel.applyUpdate(
        undefined,
        { state: { desired: { a: 1, n: { x: 1, y: 2 } } }, clientToken: 'c1' },
        opts,
      ),
    );
    expect(first.shadow).toEqual({
      state: { desired: { a: 1, n: { x: 1, y: 2 } } },
      metadata: { desired: { a: { timestamp: T }, n: { x: { timestamp: T }, y: { timestamp: T } } } },
      version: 1,
      timestamp: T,
    });
    expect(first.accepted).toEqual({
      state: { desired: { a: 1, n: { x: 1, y: 2 } } },
      metadata: { desired: { a: { timestamp: T }, n: { x: { timestamp: T }, y: { timestamp: T } } } },
      version: 1,
      timestamp: T,
      clientToken: 'c1',
    });
    expect(first.documents).toEqual({
      current: { state: first.shadow.state, metadata: first.shadow.metadata, version: 1 },
      timestamp: T,
      clientToken: 'c1',
    });
    expect(first.delta?.state).toEqual({ a: 1, n: { x: 1, y: 2 } });

    const second = accepted(
      shadowModel.applyUpdate(
        first.shadow,
        { state: { desired: { n: { x: null, y: 3 } }, reported: { a: 1 } } },
        { timestamp: T + 5 },
      ),
    );
    expect(second.shadow.state).toEqual({ desired: { a: 1, n: { y: 3 } }, reported: { a: 1 } });
    expect(second.shadow.metadata.desired).toEqual({ a: { timestamp: T }, n: { y: { timestamp: T + 5 } } });
    expect(second.delta?.state).toEqual({ n: { y: 3 } });
    expect(second.documents.previous?.version).toBe(1);
    expect(second.documents.current.version).toBe(2);

    const third = accepted(
      shadowModel.applyUpdate(second.shadow, { state: { reported: { n: { y: 3 } } } }, opts),
    );
    expect(third.delta).toBeUndefined();
    const cleared = accepted(shadowModel.applyUpdate(third.shadow, { state: { desired: null } }, opts));
    expect(cleared.shadow.state).toEqual({ reported: { a: 1, n: { y: 3 } } });
    expect(cleared.accepted.state).toEqual({ desired: null });
    expect(cleared.accepted.metadata).toEqual({ desired: null });
  });

  it('replaces arrays whole and stamps them as one value', () => {
    const first = accepted(
      shadowModel.applyUpdate(undefined, { state: { desired: { colors: ['RED', 'GREEN'] } } }, opts),
    );
    const next = accepted(
      shadowModel.applyUpdate(first.shadow, { state: { desired: { colors: ['RED'] } } }, opts),
    );
    expect(next.shadow.state.desired).toEqual({ colors: ['RED'] });
    expect(next.shadow.metadata.desired).toEqual({ colors: { timestamp: T } });
    expect(shadowModel.computeDelta({ colors: ['RED'] }, { colors: ['RED'] })).toBeUndefined();
    expect(shadowModel.computeDelta({ colors: ['RED'] }, { colors: ['RED', 'BLUE'] })).toEqual({
      colors: ['RED'],
    });
  });

  it('rejects an update whose merged state passes 8 KB with 413', () => {
    const first = accepted(
      shadowModel.applyUpdate(undefined, { state: { desired: { a: 'x'.repeat(5000) } } }, opts),
    );
    const result = shadowModel.applyUpdate(
      first.shadow,
      { state: { reported: { b: 'y'.repeat(5000) } }, clientToken: 'c' },
      opts,
    );
    expect(result).toEqual({
      ok: false,
      error: { ...shadowModel.SHADOW_ERRORS.tooLarge, timestamp: T, clientToken: 'c' },
    });
  });

  it('keeps counting versions across a delete', () => {
    const first = accepted(shadowModel.applyUpdate(undefined, { state: { reported: { a: 1 } } }, opts));
    const again = accepted(shadowModel.applyUpdate(first.shadow, { state: { reported: { a: 2 } } }, opts));
    const deleted = shadowModel.deleteShadow(
      again.shadow,
      { thingName: 'dev' },
      { ...opts, clientToken: 'd' },
    );
    if (!deleted.ok) throw new Error('expected deletion');
    expect(deleted.accepted).toEqual({ version: 2, timestamp: T, clientToken: 'd' });
    const recreated = accepted(
      shadowModel.applyUpdate(
        undefined,
        { state: { reported: { a: 3 } } },
        { ...opts, previousVersion: deleted.deletedVersion },
      ),
    );
    expect(recreated.shadow.version).toBe(3);
    expect(shadowModel.deleteShadow(undefined, { thingName: 'dev' }, opts)).toEqual({
      ok: false,
      error: { code: 404, message: "No shadow exists with name: 'dev'", timestamp: T },
    });
  });

  it('produces documents every decoder accepts, generic and Degu', () => {
    const order = accepted(
      shadowModel.applyUpdate(
        undefined,
        {
          state: {
            desired: {
              script_user: 'https://e.com/m.py',
              script_user_ver: 'c19cde3ac637be761b372ec031a4de72',
            },
          },
        },
        opts,
      ),
    );
    const report = accepted(
      shadowModel.applyUpdate(
        order.shadow,
        { state: { reported: { script_user_ver: 'none', firmware_ver: '1.0.0' } } },
        opts,
      ),
    );
    const got = shadowModel.getShadow(report.shadow, { thingName: 'dev' }, opts);
    if (!got.ok) throw new Error('expected the shadow');
    const messages = {
      'update/accepted': report.accepted,
      'update/delta': report.delta,
      'update/documents': report.documents,
      'get/accepted': got.accepted,
    } as const;
    for (const [kind, message] of Object.entries(messages)) {
      const wire = JSON.stringify(message);
      expect(degu.decodeShadowMessage(kind as degu.ShadowMessageKind, wire), kind).toEqual(message);
      expect(degu.decodeMessage(kind as degu.ShadowMessageKind, wire), kind).toEqual(message);
    }
    expect(
      degu.getAcceptedToCanonical(degu.decodeMessage('get/accepted', JSON.stringify(got.accepted))).value?.id,
    ).toBe('degu:script_user=c19cde3ac637be761b372ec031a4de72');
  });

  it('treats "__proto__", "constructor" and "toString" as ordinary keys, without touching prototypes', () => {
    const payload =
      '{"state":{"desired":{"__proto__":{"polluted":1},"constructor":2,"toString":3},"reported":{"toString":3}}}';
    const result = accepted(shadowModel.applyUpdate(undefined, payload, opts));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(result.shadow.state.desired)).toBe(Object.prototype);
    expect(Object.keys(result.shadow.state.desired ?? {})).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.keys(result.delta?.state ?? {})).toEqual(['__proto__', 'constructor']);
    expect(Object.keys(result.shadow.metadata.desired ?? {})).toEqual([
      '__proto__',
      'constructor',
      'toString',
    ]);
  });
});
