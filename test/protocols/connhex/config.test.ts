import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { connhexAgent } from '../../../src/node/index.js';
import * as connhex from '../../../src/protocols/connhex/index.js';
import { largestInputs, largestOf } from '../../support/cost.js';
import { manifestError, onlyTypedErrors } from './support.js';

const RUNS = Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000);

// The longest text handed to the TOML parser, for the "refused before parsing" test.
const toml = vi.hoisted(() => ({ longestParsed: 0 }));
vi.mock('smol-toml', async (importOriginal) => {
  const actual = await importOriginal<typeof import('smol-toml')>();
  return {
    ...actual,
    parse: (text: string, ...rest: unknown[]) => {
      toml.longestParsed = Math.max(toml.longestParsed, text.length);
      return (actual.parse as (...args: unknown[]) => unknown)(text, ...rest);
    },
  };
});

const SECRET = 'tk_5f9a2c1d-SECRET-0b7e';

// A realistic agent.toml: the OTA table sits among tables that carry credentials.
const AGENT_TOML = `
[log]
level = "info"

[thing]
id = "a1b2"
key = "${SECRET}"

# OTA service configuration.
[ota]
auto_download = true
auto_install = true
check_interval = '24h0m0s'
`;

describe('agent.toml [ota]: reading', () => {
  it('reads the documented example among other tables', () => {
    expect(connhexAgent.parseAgentConfig(AGENT_TOML)).toEqual({
      autoDownload: true,
      autoInstall: true,
      checkIntervalMs: 86_400_000,
      checkInterval: '24h0m0s',
    });
  });

  it('reads UTF-8 bytes, a byte-order mark, and an already parsed table', () => {
    const bytes = new TextEncoder().encode(`\ufeff${AGENT_TOML}`);
    expect(connhexAgent.parseAgentConfig(bytes).checkInterval).toBe('24h0m0s');
    expect(connhexAgent.parseAgentConfig({ ota: { check_interval: '90m' } }).checkIntervalMs).toBe(5_400_000);
  });

  it('accepts the Go forms of check_interval and normalises them to what Go prints', () => {
    const cases: [string, number, string][] = [
      ['1h', 3_600_000, '1h0m0s'],
      ['90m', 5_400_000, '1h30m0s'],
      ['1.5h', 5_400_000, '1h30m0s'],
      ['300ms', 300, '300ms'],
      ['1h30m', 5_400_000, '1h30m0s'],
      ['90s', 90_000, '1m30s'],
    ];
    for (const [text, ms, printed] of cases) {
      const config = connhexAgent.parseAgentConfig(`[ota]\ncheck_interval = "${text}"\n`);
      expect([config.checkIntervalMs, config.checkInterval]).toEqual([ms, printed]);
    }
  });

  it('rejects invalid, zero, negative and overflowing intervals at ota.check_interval', () => {
    for (const text of ['1d', '24', '', '0', '0s', '-1h', '3000000h', '1 h']) {
      const error = manifestError(() => connhexAgent.parseAgentConfig(`[ota]\ncheck_interval = "${text}"\n`));
      expect(error.issues[0]!.path).toBe('ota.check_interval');
    }
    const zero = manifestError(() => connhexAgent.parseAgentConfig(`[ota]\ncheck_interval = "0s"\n`));
    expect(zero.message).toMatch(/positive/);
    const overflow = manifestError(() =>
      connhexAgent.parseAgentConfig(`[ota]\ncheck_interval = "3000000h"\n`),
    );
    expect(overflow.message).toMatch(/int64/);
  });

  it('rejects an integer interval (Go would read it as nanoseconds) and wrong types', () => {
    expect(
      manifestError(() => connhexAgent.parseAgentConfig('[ota]\ncheck_interval = 3600\n')).issues[0]!.path,
    ).toBe('ota.check_interval');
    expect(
      manifestError(() => connhexAgent.parseAgentConfig('[ota]\nauto_install = "yes"\n')).issues[0]!.path,
    ).toBe('ota.auto_install');
    expect(manifestError(() => connhexAgent.parseAgentConfig('ota = 5\n')).issues[0]!.path).toBe('ota');
  });

  it('hardened: an unknown [ota] key is an error; strictCompat ignores it like the Go agent', () => {
    const toml = '[ota]\nauto_instal = true\n';
    expect(manifestError(() => connhexAgent.parseAgentConfig(toml)).message).toMatch(/auto_instal/);
    expect(connhexAgent.parseAgentConfig(toml, { strictCompat: true })).toEqual(
      connhexAgent.DEFAULT_OTA_CONFIG,
    );
  });

  it('turns a TOML syntax error into MANIFEST_INVALID with line and column, never a raw TomlError', () => {
    const error = manifestError(() => connhexAgent.parseAgentConfig('[ota]\nauto_install = tru\n'));
    expect(error.name).toBe('ManifestError');
    expect(error.issues[0]!.expected).toMatch(/^valid TOML \(line 2, column \d+: /);
    expect(error.cause).toBeUndefined();
    const safe = connhexAgent.safeParseAgentConfig('[ota');
    expect(safe.success).toBe(false);
  });

  it('never puts a credential from another table into an error', () => {
    const broken = [
      `[thing]\nkey = "${SECRET}"\n[ota\n`,
      `[thing]\nkey = "${SECRET}" x\n`,
      `[thing]\nkey = "${SECRET}\n`,
      `${AGENT_TOML}\ncheck_interval = 'x'\n`,
      AGENT_TOML.replace("'24h0m0s'", "'24d'"),
    ];
    for (const toml of broken) {
      const error = manifestError(() => connhexAgent.parseAgentConfig(toml));
      expect(error.message).not.toContain(SECRET);
      expect(JSON.stringify(error.issues)).not.toContain(SECRET);
      expect(String(error.cause ?? '')).not.toContain(SECRET);
    }
  });

  it(`rejects a file over ${connhex.LIMITS.maxConfigBytes} bytes before parsing (10 MB, never decoded or parsed)`, async () => {
    const huge = `[ota]\n# ${'x'.repeat(10 * 1024 * 1024)}\n`;
    toml.longestParsed = 0;
    const messages: string[] = [];
    const examined = await largestInputs(() => {
      messages.push(manifestError(() => connhexAgent.parseAgentConfig(huge)).message);
      messages.push(
        manifestError(() => connhexAgent.parseAgentConfig(new Uint8Array(10 * 1024 * 1024))).message,
      );
    });
    for (const message of messages) expect(message).toMatch(/at most 131072 bytes/);
    expect(toml.longestParsed).toBe(0);
    expect(largestOf(examined)).toBeLessThanOrEqual(connhex.LIMITS.maxConfigBytes);
    // The probe does see the parser: a file within the limit reaches it.
    connhexAgent.parseAgentConfig('[ota]\n');
    expect(toml.longestParsed).toBeGreaterThan(0);
  });

  it('refuses deeply nested inline tables elsewhere in the file with a typed error', () => {
    const deep = `x = ${'['.repeat(100)}${']'.repeat(100)}\n`;
    expect(manifestError(() => connhexAgent.parseAgentConfig(deep)).message).toMatch(/valid TOML/);
  });
});

describe('agent.toml [ota]: writing', () => {
  it('writes every key with effective values and Go-printed interval', () => {
    const text = connhexAgent.encodeOtaSection({ autoInstall: true, checkIntervalMs: 86_400_000 });
    expect(text).toBe('[ota]\nauto_download = true\nauto_install = true\ncheck_interval = "24h0m0s"\n');
    expect(connhexAgent.encodeOtaSection({})).toBe(
      '[ota]\nauto_download = false\nauto_install = false\ncheck_interval = "1h0m0s"\n',
    );
    expect(connhexAgent.encodeOtaSection({ checkInterval: '90m' })).toContain('check_interval = "1h30m0s"');
  });

  it('refuses an interval the reader would refuse', () => {
    expect(manifestError(() => connhexAgent.encodeOtaSection({ checkIntervalMs: 0 })).issues[0]!.path).toBe(
      'checkIntervalMs',
    );
    manifestError(() => connhexAgent.encodeOtaSection({ checkIntervalMs: -5 }));
    manifestError(() => connhexAgent.encodeOtaSection({ checkIntervalMs: Number.POSITIVE_INFINITY }));
    manifestError(() => connhexAgent.encodeOtaSection({ checkIntervalMs: 1e20 }));
    expect(manifestError(() => connhexAgent.encodeOtaSection({ checkInterval: '1d' })).issues[0]!.path).toBe(
      'checkInterval',
    );
  });
});

describe('agent.toml [ota]: properties', () => {
  const config = fc.record({
    autoDownload: fc.boolean(),
    autoInstall: fc.boolean(),
    nanoseconds: fc.bigInt({ min: 1n, max: connhexAgent.MAX_GO_DURATION }),
  });

  it('encode → parse gives the same settings (1000 runs)', () => {
    fc.assert(
      fc.property(config, ({ autoDownload, autoInstall, nanoseconds }) => {
        const interval = connhexAgent.formatGoDuration(nanoseconds);
        const text = connhexAgent.encodeOtaSection({ autoDownload, autoInstall, checkInterval: interval });
        const read = connhexAgent.parseAgentConfig(text);
        expect(read).toEqual({
          autoDownload: autoDownload || autoInstall,
          autoInstall,
          checkIntervalMs: connhexAgent.nanosecondsToMs(nanoseconds),
          checkInterval: interval,
        });
        // Writing what was read is stable.
        expect(connhexAgent.encodeOtaSection(read)).toBe(text);
      }),
      { numRuns: RUNS },
    );
  });

  it('arbitrary text or bytes give settings or a typed error, never a crash (1000 runs)', () => {
    const tomlish = fc
      .array(
        fc.constantFrom(
          '[ota]\n',
          'auto_install = ',
          'true',
          '"1h"',
          "'",
          '\n',
          '=',
          '[',
          ']',
          '{',
          '}',
          'x',
        ),
        {
          maxLength: 20,
        },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), tomlish, fc.uint8Array({ maxLength: 200 }), fc.jsonValue()),
        (input) => {
          onlyTypedErrors(() => connhexAgent.parseAgentConfig(input));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('arbitrary [ota] tables give settings or a typed error (1000 runs)', () => {
    const value = fc.oneof(fc.boolean(), fc.string(), fc.integer(), fc.constant(null), fc.jsonValue());
    const section = fc.dictionary(
      fc.constantFrom('auto_download', 'auto_install', 'check_interval', 'other'),
      value,
    );
    fc.assert(
      fc.property(section, fc.boolean(), (ota, strictCompat) => {
        onlyTypedErrors(() => connhexAgent.resolveOtaSection(ota, { strictCompat }));
      }),
      { numRuns: RUNS },
    );
  });
});
