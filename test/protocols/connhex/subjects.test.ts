import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as connhex from '../../../src/protocols/connhex/index.js';
import { manifestError, onlyTypedErrors } from './support.js';

describe('NATS subjects', () => {
  it('builds and parses the OTA heartbeat subject', () => {
    expect(connhex.OTA_STATUS_SUBJECT).toBe('heartbeat.ota.service');
    expect(connhex.heartbeatSubject('ota')).toBe(connhex.OTA_STATUS_SUBJECT);
    expect(connhex.parseHeartbeatSubject('heartbeat.ota.service')).toEqual({ service: 'ota' });
    expect(connhex.parseHeartbeatSubject('heartbeat.my-svc_2.service')).toEqual({ service: 'my-svc_2' });
    expect(connhex.isOtaStatusSubject('heartbeat.ota.service')).toBe(true);
    expect(connhex.isOtaStatusSubject('heartbeat.ota.service.x')).toBe(false);
  });

  it('refuses service names that are not one literal token', () => {
    for (const bad of ['', 'a.b', '*', '>', 'a b', 'a\tb', 'a*', 'x\u0000']) {
      manifestError(() => connhex.heartbeatSubject(bad));
    }
  });

  it('refuses subjects that are not heartbeats', () => {
    for (const bad of ['heartbeat.ota', 'heartbeat.ota.status', 'beat.ota.service', 'heartbeat.*.service']) {
      manifestError(() => connhex.parseHeartbeatSubject(bad));
    }
  });

  it('applies the NATS subject rules', () => {
    const valid = ['a', 'a.b.c', 'heartbeat.ota.service', '$SYS.x', 'ünï.cødé', 'A-b_c.D'];
    for (const subject of valid) expect(connhex.parseSubject(subject)).toEqual(subject.split('.'));
    const invalid: [string, RegExp][] = [
      ['', /non-empty/],
      ['.a', /empty tokens/],
      ['a.', /empty tokens/],
      ['a..b', /empty tokens/],
      ['a b', /whitespace/],
      ['a\tb', /whitespace/],
      ['a\r\nPUB x', /whitespace/],
      ['a\u00a0b', /whitespace/],
      ['a.*', /wildcards/],
      ['a.>', /wildcards/],
      ['a*b', /wildcards/],
    ];
    for (const [subject, reason] of invalid) {
      expect(manifestError(() => connhex.parseSubject(subject)).message, subject).toMatch(reason);
    }
    expect(manifestError(() => connhex.parseSubject(42)).issues[0]!.expected).toBe('a string');
    expect(manifestError(() => connhex.parseSubject('a'.repeat(513))).message).toMatch(/at most 512/);
  });

  it('allows wildcards in subscriptions only where NATS does', () => {
    const options = { wildcards: true };
    expect(connhex.parseSubject('heartbeat.*.service', options)).toEqual(['heartbeat', '*', 'service']);
    expect(connhex.parseSubject('heartbeat.>', options)).toEqual(['heartbeat', '>']);
    expect(manifestError(() => connhex.parseSubject('a.>.b', options)).message).toMatch(/last token/);
    expect(manifestError(() => connhex.parseSubject('a.b*', options)).message).toMatch(/standing alone/);
    expect(connhex.isValidSubject('a.*', options)).toBe(true);
    expect(connhex.isValidSubject('a.*')).toBe(false);
  });

  it('matches subjects against subscription patterns', () => {
    expect(connhex.subjectMatches(connhex.HEARTBEAT_WILDCARD, 'heartbeat.ota.service')).toBe(true);
    expect(connhex.subjectMatches(connhex.HEARTBEAT_WILDCARD, 'heartbeat.ota.x.service')).toBe(false);
    expect(connhex.subjectMatches('heartbeat.>', 'heartbeat.ota.service')).toBe(true);
    expect(connhex.subjectMatches('heartbeat.>', 'heartbeat')).toBe(false);
    expect(connhex.subjectMatches('a.b', 'a.b')).toBe(true);
    expect(connhex.subjectMatches('a.b', 'a.b.c')).toBe(false);
    expect(connhex.subjectMatches('a.*.c', 'a.b')).toBe(false);
    expect(connhex.subjectMatches('a.*', 'a.*')).toBe(false); // a published subject cannot be a wildcard
  });

  it('arbitrary input gives tokens or a typed error; valid subjects round-trip (1000 runs)', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9_$-]{1,8}$/);
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.anything()),
        fc.boolean(),
        (input, wildcards) => {
          onlyTypedErrors(() => connhex.parseSubject(input, { wildcards }));
          onlyTypedErrors(() => connhex.parseHeartbeatSubject(input));
        },
      ),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 6 }), (tokens) => {
        const subject = tokens.join('.');
        expect(connhex.parseSubject(subject)).toEqual(tokens);
        expect(connhex.subjectMatches(subject, subject)).toBe(true);
        expect(connhex.subjectMatches('>', subject)).toBe(true);
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });
});
