/** fast-check properties: every decoder fails only with a typed error; encoders round-trip. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOtaError } from '../../../src/core/errors.js';
import * as micropythonOta from '../../../src/protocols/micropython-ota/index.js';

const RUNS = { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) };

/** Passes when `run` returns, or throws an otakit error with code MANIFEST_INVALID. */
function typedOnly(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!isOtaError(error, 'MANIFEST_INVALID')) throw error;
  }
}

const wireInput = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.json().map((json) => json),
);
const anyJson = fc.oneof(fc.jsonValue(), fc.anything());

// The safe alphabet: ASCII letters and digits, RFC 3986 sub-delimiters, a few characters that must be
// escaped, and non-ASCII letters and an emoji.
const CHARS = [...'abcXYZ019.-_~+!$&\'()*,;=:@[]^`{|}"<>äβ漢', '😀'];
const segment = fc
  .string({ unit: fc.constantFrom(...CHARS), minLength: 1, maxLength: 12 })
  .filter((value) => value !== '.' && value !== '..');
// Tags: only what a URL path carries raw (docs/protocols/micropythonOta.md, "Version tags").
const TAG_CHARS = [..."abcXYZ019.-_~+!$&'()*,;=:@"];
const tag = fc
  .string({ unit: fc.constantFrom(...TAG_CHARS), minLength: 1, maxLength: 12 })
  .filter((value) => value !== '.' && value !== '..');
const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
const host = fc.constantFrom(
  'http://example.org',
  'https://ota.example.com/base',
  'https://10.0.0.1:8443/a/b',
);
const release = fc.record({
  host,
  project: path,
  version: tag,
  filenames: fc.uniqueArray(path, { minLength: 1, maxLength: 5 }),
  layout: fc.constantFrom('prefix' as const, 'subdirectory' as const),
});

describe('micropython_ota decoders never crash', () => {
  it('parseRemoteVersion (hardened and strictCompat)', () => {
    fc.assert(
      fc.property(wireInput, fc.boolean(), (input, strictCompat) => {
        typedOnly(() => micropythonOta.parseRemoteVersion(input as string, { strictCompat }));
      }),
      RUNS,
    );
  });

  it('readLocalVersion', () => {
    fc.assert(
      fc.property(wireInput, (input) => typedOnly(() => micropythonOta.readLocalVersion(input as string))),
      RUNS,
    );
  });

  it('evaluateVersionCheck never throws, whatever the server answers', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer(), wireInput, (local, status, body) => {
        const check = micropythonOta.evaluateVersionCheck(local, { status, body: body as string });
        expect(check.changed).toBe(check.outcome === 'changed');
        if (check.error) expect(isOtaError(check.error)).toBe(true);
      }),
      RUNS,
    );
  });

  it('decodeRelease', () => {
    fc.assert(
      fc.property(fc.oneof(wireInput, anyJson), (input) =>
        typedOnly(() => micropythonOta.decodeRelease(input)),
      ),
      RUNS,
    );
  });

  it('parseFileList', () => {
    fc.assert(
      fc.property(wireInput, (input) => typedOnly(() => micropythonOta.parseFileList(input as string))),
      RUNS,
    );
  });

  it('fromCanonical', () => {
    const manifestLike = fc.record({
      id: fc.string(),
      version: fc.oneof(tag, fc.string()),
      artifacts: fc.array(
        fc.record(
          {
            url: fc.oneof(fc.webUrl(), fc.string()),
            target: fc.constantFrom('script', 'file', 'x'),
            name: fc.option(path, { nil: undefined }),
          },
          { requiredKeys: ['url', 'target'] },
        ),
        { maxLength: 3 },
      ),
    });
    fc.assert(
      fc.property(fc.oneof(manifestLike, anyJson), (input) =>
        typedOnly(() => micropythonOta.fromCanonical(input as never)),
      ),
      RUNS,
    );
  });
});

describe('micropython_ota refuses a valid release with one field broken, naming it', () => {
  /** Field, the path the error names, and a bad value (`undefined`: the field is removed). */
  const breakage = fc.constantFrom<readonly [string, string, unknown]>(
    ['host', 'host', undefined],
    ['host', 'host', 'ftp://example.org'],
    ['host', 'host', 'http://user:pw@example.org'],
    ['project', 'project', '../x'],
    ['project', 'project', ''],
    ['version', 'version', undefined],
    ['version', 'version', ''],
    ['version', 'version', 'a b'],
    ['filenames', 'filenames', []],
    ['filenames', 'filenames[0]', ['../x']],
    ['filenames', 'filenames', ['a.py', 'a.py']],
    ['layout', 'layout', 'flat'],
  );

  it('decodeRelease', () => {
    fc.assert(
      fc.property(release, breakage, (value, [field, path, bad]) => {
        const broken: Record<string, unknown> = { ...value };
        if (bad === undefined) Reflect.deleteProperty(broken, field);
        else broken[field] = bad;
        let thrown: unknown;
        try {
          micropythonOta.decodeRelease(JSON.stringify(broken));
        } catch (error) {
          thrown = error;
        }
        expect(isOtaError(thrown, 'MANIFEST_INVALID'), `${field} broken, yet accepted`).toBe(true);
        expect((thrown as { issues: Array<{ path: string }> }).issues.map((issue) => issue.path)).toContain(
          path,
        );
        // No credential of the host in the message.
        expect((thrown as Error).message).not.toContain(':pw@');
      }),
      RUNS,
    );
  });
});

describe('micropython_ota round trips', () => {
  it('a tag written to a version file reads back as itself, remote and local', () => {
    fc.assert(
      fc.property(tag, fc.constantFrom('', '\n', '\r\n', ' \n'), (value, ending) => {
        const file = micropythonOta.encodeVersionFile(value) + ending;
        expect(micropythonOta.parseRemoteVersion(file)).toBe(value);
        expect(micropythonOta.parseRemoteVersion(new TextEncoder().encode(file))).toBe(value);
        expect(micropythonOta.readLocalVersion(file)).toBe(value);
      }),
      RUNS,
    );
  });

  it('a release survives toCanonical → fromCanonical unchanged, with nothing lost', () => {
    fc.assert(
      fc.property(release, (value) => {
        const back = micropythonOta.fromCanonical(micropythonOta.toCanonical(value).value);
        expect(back).toEqual({ value, lost: [] });
      }),
      RUNS,
    );
  });

  it('a release survives JSON encoding and decodeRelease', () => {
    fc.assert(
      fc.property(release, (value) => {
        expect(micropythonOta.decodeRelease(new TextEncoder().encode(JSON.stringify(value)))).toEqual(value);
      }),
      RUNS,
    );
  });

  it('every file URL decodes to exactly the layout path of its names', () => {
    fc.assert(
      fc.property(release, (value) => {
        for (const filename of value.filenames) {
          const url = new URL(micropythonOta.fileUrl({ ...value, filename }));
          const decoded = url.pathname.split('/').map(decodeURIComponent).join('/');
          const base = new URL(value.host).pathname.replace(/\/+$/, '');
          const separator = value.layout === 'prefix' ? '_' : '/';
          expect(decoded).toBe(`${base}/${value.project}/${value.version}${separator}${filename}`);
          expect(url.search).toBe('');
          expect(url.hash).toBe('');
        }
      }),
      RUNS,
    );
  });

  it('a file list survives encodeFileList → parseFileList', () => {
    const list = fc.uniqueArray(segment, { minLength: 0, maxLength: 4 }).chain((directories) =>
      fc.record({
        directories: fc.constant(directories),
        files: fc.uniqueArray(
          fc
            .tuple(fc.constantFrom('', ...directories), segment)
            .map(([dir, name]) => (dir ? `${dir}/${name}` : name)),
          { maxLength: 6 },
        ),
      }),
    );
    fc.assert(
      fc.property(list, (value) => {
        // A file may not share a name with a directory: that is not a layout a file system can hold.
        fc.pre(value.files.every((file) => !value.directories.includes(file)));
        expect(micropythonOta.parseFileList(micropythonOta.encodeFileList(value))).toEqual(value);
      }),
      RUNS,
    );
  });

  it('Basic auth decodes back to user:password (UTF-8)', () => {
    const printable = fc
      .string({ minLength: 1, maxLength: 30 })
      .filter((value) => ![...value].some((char) => char.charCodeAt(0) < 0x20 || char === '\u007f'));
    fc.assert(
      fc.property(
        printable.filter((user) => !user.includes(':')),
        printable,
        (user, password) => {
          const header = micropythonOta.basicAuthHeaders({ user, password }).Authorization ?? '';
          expect(header.startsWith('Basic ')).toBe(true);
          const bytes = Uint8Array.from(atob(header.slice(6)), (char) => char.charCodeAt(0));
          expect(new TextDecoder().decode(bytes)).toBe(`${user}:${password}`);
        },
      ),
      RUNS,
    );
  });
});
