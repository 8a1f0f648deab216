/** Tags, names, URL escaping, credentials and limits of micropython_ota. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOtaError, ManifestError } from '../../../src/core/errors.js';
import * as micropythonOta from '../../../src/protocols/micropython-ota/index.js';
import { largestInputs, largestOf } from '../../support/cost.js';

const { fileUrl, isVersionTag, parseRemoteVersion, readLocalVersion, versionFileUrl } = micropythonOta;

const RUNS = Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300);
const urlBase = { host: 'http://192.168.2.100', project: 'sample' };

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('version tags', () => {
  it('accepts tags of the characters a URL path carries raw: unreserved, sub-delimiters, : and @', () => {
    for (const tag of [
      'v1.0.1',
      '1',
      'v1.0.1+build.7',
      'release-2024_01',
      "v~1!$&'()*,;=",
      'v1:rc@2',
      '..v',
      'x'.repeat(128),
    ]) {
      expect(isVersionTag(tag), tag).toBe(true);
    }
  });

  it('refuses what would break URL building or the file layout', () => {
    const bad = [
      '',
      '.',
      '..',
      'v1/2',
      'v1\\2',
      'v1 2',
      'v1\t',
      'v1\n',
      'v\u00001',
      'v1?x',
      'v1#x',
      'v1%20',
      'v1\u202e', // right-to-left override (a format character)
      'r[7]|x{y}^`"<>', // printable, but escaped in a URL: upstream sends them raw
      'β-3',
      'v1\u00a0',
      '\ufeffv1', // BOM
      'x'.repeat(129),
    ];
    for (const tag of bad) expect(isVersionTag(tag), JSON.stringify(tag)).toBe(false);
  });

  it('names the first character a URL path cannot carry raw, never the whole tag', () => {
    for (const [tag, character] of [
      ['r[7]|x{y}^`"<>', '"["'],
      ['v1|2', '"|"'],
      ['β-3', '"β" (U+03B2)'],
      ['v1\u202e', 'U+202E'],
      ['v 1', 'U+0020'],
    ] as const) {
      const error = thrown(() => fileUrl({ ...urlBase, version: tag, filename: 'main.py' }));
      expect(error, tag).toBeInstanceOf(ManifestError);
      const [issue, ...rest] = (error as ManifestError).issues;
      expect(rest).toEqual([]);
      expect(issue?.path).toBe('version');
      expect(issue?.expected).toContain(`found ${character}`);
      const remote = thrown(() => parseRemoteVersion(`${tag}\n`));
      expect((remote as ManifestError).issues[0]?.expected, tag).toContain(`found ${character}`);
    }
  });

  it('property: for every accepted tag, the URLs are the upstream string concatenation', () => {
    const ascii = fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)),
      minLength: 1,
      maxLength: 20,
    });
    const anyTag = fc.oneof(
      ascii,
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
    );
    fc.assert(
      fc.property(anyTag, fc.constantFrom('prefix' as const, 'subdirectory' as const), (tag, layout) => {
        if (!isVersionTag(tag)) {
          expect(
            isOtaError(
              thrown(() => fileUrl({ ...urlBase, version: tag, filename: 'main.py' })),
              'MANIFEST_INVALID',
            ),
          ).toBe(true);
          return;
        }
        const separator = layout === 'prefix' ? '_' : '/';
        // micropython_ota: host + '/' + project + '/' + version + sep + filename
        const upstream = `${urlBase.host}/${urlBase.project}/${tag}${separator}main.py`;
        expect(fileUrl({ ...urlBase, version: tag, filename: 'main.py', layout })).toBe(upstream);
        expect(
          fileUrl({ ...urlBase, version: tag, filename: 'main.py', layout }, { strictCompat: true }),
        ).toBe(upstream);
        // What a server that decodes paths sees is the same file name.
        expect(decodeURIComponent(new URL(upstream).pathname)).toBe(
          `/${urlBase.project}/${tag}${separator}main.py`,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('reads the remote tag: BOM, CRLF and surrounding blanks removed; invalid tags named by path', () => {
    expect(parseRemoteVersion('\ufeffv1.0.1\r\n')).toBe('v1.0.1');
    expect(parseRemoteVersion(new TextEncoder().encode('  v1.0.1 \n'))).toBe('v1.0.1');
    const error = thrown(() => parseRemoteVersion('v1/evil'));
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as ManifestError).issues).toEqual([
      { path: 'version', expected: expect.stringContaining('tag') },
    ]);
    expect(
      isOtaError(
        thrown(() => parseRemoteVersion('\n\n')),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
  });

  it('strips as Python does, not as String.prototype.trim does', () => {
    expect(micropythonOta.pyStrip('\u001cv1\u0085')).toBe('v1'); // Python strips these, trim() does not
    expect(micropythonOta.pyStrip('\ufeffv1')).toBe('\ufeffv1'); // trim() strips U+FEFF, Python does not
    expect(readLocalVersion('v1.0.1\r\nignored')).toBe('v1.0.1');
  });

  it('rejects invalid UTF-8 bytes with a typed error', () => {
    const error = thrown(() => parseRemoteVersion(new Uint8Array([0x76, 0xff, 0x31])));
    expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
    expect((error as ManifestError).issues[0]?.expected).toBe('UTF-8 text');
  });
});

describe('URL building', () => {
  const base = { host: 'https://ota.example.com', project: 'sample', version: 'v1.0.1' };

  it('escapes tricky names segment by segment, keeping pchar delimiters literal', () => {
    const cases: Array<[string, string]> = [
      ['main.py', 'v1.0.1_main.py'],
      ['my+file.py', 'v1.0.1_my+file.py'],
      ['a:b@c.py', 'v1.0.1_a:b@c.py'],
      ["file(1)!'*.py", "v1.0.1_file(1)!'*.py"],
      ['[x].py', 'v1.0.1_%5Bx%5D.py'],
      ['ümlaut.py', 'v1.0.1_%C3%BCmlaut.py'],
      ['lib/util.py', 'v1.0.1_lib/util.py'],
      ['a&b=c;d,e$.py', 'v1.0.1_a&b=c;d,e$.py'],
      ['😀.py', 'v1.0.1_%F0%9F%98%80.py'],
      ['x"<>`{|}^.py', 'v1.0.1_x%22%3C%3E%60%7B%7C%7D%5E.py'],
    ];
    for (const [filename, tail] of cases) {
      const url = fileUrl({ ...base, filename });
      expect(url, filename).toBe(`https://ota.example.com/sample/${tail}`);
      // What a server decodes is exactly the layout path.
      const path = new URL(url).pathname.split('/').map(decodeURIComponent).join('/');
      expect(path).toBe(`/sample/v1.0.1_${filename}`);
    }
  });

  it('escapes the tag, the project and both layouts alike', () => {
    expect(
      fileUrl({
        host: 'https://h/base/',
        project: 'fleet/ß',
        version: 'v1',
        filename: 'a.py',
        layout: 'subdirectory',
      }),
    ).toBe('https://h/base/fleet/%C3%9F/v1/a.py');
  });

  it('refuses names that would escape the layout, naming the field', () => {
    const cases: Array<[Partial<typeof base> & { filename?: string }, string]> = [
      [{ filename: '../boot.py' }, 'filename'],
      [{ filename: '/boot.py' }, 'filename'],
      [{ filename: 'lib//x.py' }, 'filename'],
      [{ filename: 'lib/./x.py' }, 'filename'],
      [{ filename: 'a\\b.py' }, 'filename'],
      [{ filename: 'x?.py' }, 'filename'],
      [{ filename: 'x#.py' }, 'filename'],
      [{ filename: '50%.py' }, 'filename'],
      [{ filename: 'my file.py' }, 'filename'],
      [{ version: '../v1' }, 'version'],
      [{ version: 'v1\n' }, 'version'],
      [{ project: '../etc' }, 'project'],
      [{ project: '/sample' }, 'project'],
      [{ host: 'ftp://h' }, 'host'],
      [{ host: 'http://h?x=1' }, 'host'],
      [{ host: 'http://h#f' }, 'host'],
      [{ host: 'h/path' }, 'host'],
    ];
    for (const [override, path] of cases) {
      const error = thrown(() => fileUrl({ ...base, filename: 'main.py', ...override }));
      expect(isOtaError(error, 'MANIFEST_INVALID'), JSON.stringify(override)).toBe(true);
      expect((error as ManifestError).issues.map((issue) => issue.path)).toEqual([path]);
    }
  });

  it('strictCompat concatenates without validating (as the reference does)', () => {
    expect(
      fileUrl(
        { ...base, version: 'v 1', filename: '../x.py', layout: 'subdirectory' },
        { strictCompat: true },
      ),
    ).toBe('https://ota.example.com/sample/v 1/../x.py');
  });

  it('builds the PR #20 file list URL in both layouts', () => {
    expect(micropythonOta.fileListUrl(base)).toBe('https://ota.example.com/sample/v1.0.1_manifest');
    expect(micropythonOta.fileListUrl({ ...base, layout: 'subdirectory' })).toBe(
      'https://ota.example.com/sample/v1.0.1/manifest',
    );
  });
});

describe('secrets', () => {
  const SECRET = 'topsecret';
  const forms = [SECRET, btoa(`otauser:${SECRET}`), btoa(`:${SECRET}`)];

  function expectNoSecret(error: unknown) {
    const text = `${String(error)} ${JSON.stringify(error)} ${JSON.stringify((error as ManifestError).issues ?? [])}`;
    for (const form of forms) expect(text).not.toContain(form);
  }

  it('never puts the password in an auth error', () => {
    expectNoSecret(thrown(() => micropythonOta.basicAuthHeaders({ password: SECRET })));
    expectNoSecret(
      thrown(() => micropythonOta.basicAuthHeaders({ user: 'otauser', password: `${SECRET}\n` })),
    );
    expectNoSecret(
      thrown(() => micropythonOta.basicAuthHeaders({ user: `otauser:${SECRET}`, password: SECRET })),
    );
    expect(
      isOtaError(
        thrown(() => micropythonOta.basicAuthHeaders({ user: 'a:b', password: 'c' })),
        'CONFIG',
      ),
    ).toBe(true);
    // strictCompat accepts what the reference accepts.
    expect(micropythonOta.basicAuthHeaders({ user: 'a:b', password: 'c' }, { strictCompat: true })).toEqual({
      Authorization: `Basic ${btoa('a:b:c')}`,
    });
  });

  it('encodes UTF-8 credentials browser-safely', () => {
    const header =
      micropythonOta.basicAuthHeaders({ user: 'jürgen', password: 'pässwörd✓' }).Authorization ?? '';
    const bytes = Uint8Array.from(atob(header.replace('Basic ', '')), (char) => char.charCodeAt(0));
    expect(new TextDecoder().decode(bytes)).toBe('jürgen:pässwörd✓');
  });

  it('refuses credentials in the host without echoing them', () => {
    const error = thrown(() =>
      versionFileUrl({ host: `https://otauser:${SECRET}@ota.example.com`, project: 'p' }),
    );
    expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
    expectNoSecret(error);
    const release = thrown(() =>
      micropythonOta.decodeRelease({
        host: `https://otauser:${SECRET}@ota.example.com`,
        project: 'p',
        version: 'v1',
        filenames: ['main.py'],
      }),
    );
    expectNoSecret(release);
    expect((release as ManifestError).issues.map((issue) => issue.path)).toEqual(['host']);
  });

  it('does not echo a URL with credentials from a manifest it cannot convert', () => {
    const error = thrown(() =>
      micropythonOta.fromCanonical({
        id: 'x',
        version: 'v1',
        artifacts: [{ url: `https://otauser:${SECRET}@cdn.example/fw.bin?token=${SECRET}`, target: 'file' }],
      }),
    );
    expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
    expectNoSecret(error);
  });
});

describe('limits', () => {
  const TEN_MB = 10 * 1024 * 1024;

  it('rejects a 10 MB version body without scanning it, in both modes', async () => {
    const body = `v1${'x'.repeat(TEN_MB)}`;
    for (const strictCompat of [false, true]) {
      let error: unknown;
      const examined = await largestInputs(() => {
        error = thrown(() => parseRemoteVersion(body, { strictCompat }));
      });
      expect((error as ManifestError).issues).toEqual([{ path: '', expected: 'at most 1024 bytes' }]);
      expect(largestOf(examined)).toBeLessThanOrEqual(micropythonOta.LIMITS.versionFileBytes);
    }
    const bytes = new Uint8Array(TEN_MB).fill(0x61);
    expect(
      isOtaError(
        thrown(() => readLocalVersion(bytes)),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
    expect(micropythonOta.evaluateVersionCheck('v1', { status: 200, body: bytes }).error?.code).toBe(
      'MANIFEST_INVALID',
    );
  });

  it('rejects a 10 MB release and file list without parsing them', async () => {
    const huge = JSON.stringify({
      host: 'http://h',
      project: 'p',
      version: 'v1',
      filenames: ['x'.repeat(TEN_MB)],
    });
    const hugeList = 'a.py\n'.repeat(TEN_MB / 5);
    const errors: unknown[] = [];
    const examined = await largestInputs(() => {
      errors.push(thrown(() => micropythonOta.decodeRelease(huge)));
      errors.push(thrown(() => micropythonOta.parseFileList(hugeList)));
    });
    expect((errors[0] as ManifestError).issues).toEqual([
      { path: '', expected: `at most ${micropythonOta.LIMITS.releaseBytes} bytes` },
    ]);
    expect((errors[1] as ManifestError).issues).toEqual([
      { path: '', expected: `at most ${micropythonOta.LIMITS.fileListBytes} bytes` },
    ]);
    // Never parsed or scanned by a regular expression: both sizes are checked first.
    expect(largestOf(examined)).toBeLessThanOrEqual(micropythonOta.LIMITS.releaseBytes);
  });

  it('caps the number of files', () => {
    const filenames = Array.from({ length: micropythonOta.LIMITS.files + 1 }, (_, index) => `f${index}.py`);
    const error = thrown(() =>
      micropythonOta.decodeRelease({ host: 'http://h', project: 'p', version: 'v1', filenames }),
    );
    expect((error as ManifestError).issues[0]?.path).toBe('filenames');
  });
});

describe('PR #20 file list', () => {
  it('parses directories before their files', () => {
    expect(micropythonOta.parseFileList('lib/\nlib/sub/ lib/sub/x.py\tmain.py\n')).toEqual({
      directories: ['lib', 'lib/sub'],
      files: ['lib/sub/x.py', 'main.py'],
    });
    expect(micropythonOta.encodeFileList({ directories: ['lib'], files: ['lib/x.py', 'main.py'] })).toBe(
      'lib/\nlib/x.py\nmain.py\n',
    );
  });

  it('names each bad entry by index', () => {
    const error = thrown(() => micropythonOta.parseFileList('main.py lib/x.py ../boot.py'));
    expect((error as ManifestError).issues).toEqual([
      { path: '[1]', expected: expect.stringContaining('directory listed before') },
      { path: '[2]', expected: expect.stringContaining('relative file name') },
    ]);
  });
});
