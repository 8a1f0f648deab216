/**
 * The insigh.io package writer, read back by everything that reads packages: the browser-safe
 * reader of the protocol (`readPackage`), otakit/node's extractor (what the agent installs with),
 * Python's `tarfile` and `zlib` (what microfreezer writes with), and a Python copy of the
 * reference firmware's minimal tar reader (name from the 100-byte field, size, a trailing `/`
 * for directories, nothing else).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type PackageFile,
  wrapPseudoGzip,
  writePackage,
  writeTar,
} from '../../src/cloud/insighio/package-writer.js';
import { isOtaError } from '../../src/core/errors.js';
import { extractArchive } from '../../src/node/archive/extract.js';
import { crc32, detectPackageFormat, readPackage } from '../../src/protocols/insighio/package.js';
import { MICROFREEZER_PACKAGE_B64 } from '../protocols/insighio/fixtures.js';
import { hasTool, skipOrFailInCi } from '../support/system-services.js';

const FILES: PackageFile[] = [
  { path: 'boot.py', data: 'print("v2")\n' },
  { path: 'apps/demo_console/scenario.py', data: 'SCENARIO = 2\n' },
  { path: 'apps/demo_console/ünïcödé.txt', data: new Uint8Array([0, 1, 2, 255]) },
  { path: 'lib/', type: 'directory' },
  { path: 'run.sh', data: '#!/bin/sh\n', mode: 0o755 },
  { path: 'empty.txt', data: '' },
  { path: `big/${'b'.repeat(90)}`, data: 'x'.repeat(1500) },
];

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});
async function temp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'otakit-insighio-writer-'));
  dirs.push(dir);
  return dir;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function listTree(root: string, prefix = ''): Promise<Record<string, string | null>> {
  const tree: Record<string, string | null> = {};
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) {
      tree[`${path}/`] = null;
      Object.assign(tree, await listTree(root, path));
    } else tree[path] = (await readFile(join(root, path))).toString('base64');
  }
  return tree;
}

const EXPECTED_TREE = {
  'apps/': null,
  'apps/demo_console/': null,
  'apps/demo_console/scenario.py': Buffer.from('SCENARIO = 2\n').toString('base64'),
  'apps/demo_console/ünïcödé.txt': Buffer.from([0, 1, 2, 255]).toString('base64'),
  'big/': null,
  [`big/${'b'.repeat(90)}`]: Buffer.from('x'.repeat(1500)).toString('base64'),
  'boot.py': Buffer.from('print("v2")\n').toString('base64'),
  'empty.txt': '',
  'lib/': null,
  'run.sh': Buffer.from('#!/bin/sh\n').toString('base64'),
};

describe('writeTar / writePackage', () => {
  it('writes parents before their files, directories with a trailing "/", no extension headers', async () => {
    const entries = await readPackage(writeTar(FILES));
    expect(entries.map((entry) => `${entry.type}:${entry.path}`)).toEqual([
      'file:boot.py',
      'directory:apps',
      'directory:apps/demo_console',
      'file:apps/demo_console/scenario.py',
      'file:apps/demo_console/ünïcödé.txt',
      'directory:lib',
      'file:run.sh',
      'file:empty.txt',
      'directory:big',
      `file:big/${'b'.repeat(90)}`,
    ]);
    expect(text(entries[0]!.data)).toBe('print("v2")\n');
    expect(entries.find((entry) => entry.path === 'run.sh')?.mode).toBe(0o755);
    expect(entries.find((entry) => entry.path === 'lib')?.mode).toBe(0o755);
    expect(entries.find((entry) => entry.path === 'boot.py')?.mode).toBe(0o644);
  });

  it('is deterministic: the same files give the same bytes', () => {
    expect(writeTar(FILES)).toEqual(writeTar(FILES));
    expect(writeTar(FILES, { mtime: 1_700_000_000 })).not.toEqual(writeTar(FILES));
  });

  it.each([
    ['tar', '.tar', 'tar'],
    ['insighio-zlib', '.tar.gz', 'insighio-zlib'],
    ['gzip', '.tar.gz', 'gzip'],
  ] as const)('%s: file type %s, detected as %s, read back whole', async (format, fileType, detected) => {
    const written = await writePackage(FILES, { format });
    expect(written.fileType).toBe(fileType);
    expect(detectPackageFormat(written.bytes)).toBe(detected);
    const entries = await readPackage(written.bytes);
    expect(entries.map((entry) => entry.path)).toHaveLength(10);
  });

  it('the pseudo-gzip: 8 fixed bytes, a zlib stream, a big-endian CRC-32 of the zlib bytes (vector I11)', async () => {
    const tar = writeTar(FILES);
    const wrapped = await wrapPseudoGzip(tar);
    expect([...wrapped.subarray(0, 8)]).toEqual([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00]);
    expect(wrapped[8]! & 0x0f).toBe(8); // deflate
    expect(((wrapped[8]! << 8) | wrapped[9]!) % 31).toBe(0); // zlib FCHECK
    const zlib = wrapped.subarray(8, wrapped.length - 4);
    expect(new DataView(wrapped.buffer).getUint32(wrapped.length - 4, false)).toBe(crc32(zlib));
    // A broken trailer is what the reader refuses: the trailer really is checked.
    const broken = wrapped.slice();
    broken[broken.length - 1]! ^= 0xff;
    await expect(readPackage(broken)).rejects.toThrow(/CRC-32/);
  });

  it("re-packs microfreezer's own package (the platform's vector) to the same entries", async () => {
    const original = Uint8Array.from(Buffer.from(MICROFREEZER_PACKAGE_B64, 'base64'));
    const entries = await readPackage(original);
    const files = entries.map((entry) =>
      entry.type === 'directory'
        ? { path: `${entry.path}/`, type: 'directory' as const }
        : { path: entry.path, data: entry.data, mode: entry.mode },
    );
    const again = await readPackage((await writePackage(files, { format: 'insighio-zlib' })).bytes);
    expect(again.map(({ path, type, size }) => ({ path, type, size }))).toEqual(
      entries.map(({ path, type, size }) => ({ path, type, size })),
    );
    expect(again.map((entry) => text(entry.data))).toEqual(entries.map((entry) => text(entry.data)));
  });

  it.each(['tar', 'insighio-zlib', 'gzip'] as const)(
    "%s: otakit/node's extractor (the agent's install) writes the same tree",
    async (format) => {
      const dir = await temp();
      const archive = join(dir, 'package.bin');
      await writeFile(archive, (await writePackage(FILES, { format })).bytes);
      await extractArchive(archive, join(dir, 'out'));
      expect(await listTree(join(dir, 'out'))).toEqual(EXPECTED_TREE);
    },
  );

  describe('refuses what a device could not or must not write, naming the file', () => {
    it.each([
      ['an absolute path', [{ path: '/boot.py', data: 'x' }], 'files[0].path'],
      ['a ".." component', [{ path: 'apps/../../etc/x', data: 'x' }], 'files[0].path'],
      ['a backslash', [{ path: 'apps\\x.py', data: 'x' }], 'files[0].path'],
      ['the root itself', [{ path: './', type: 'directory' }], 'files[0].path'],
      ['a name over 100 bytes', [{ path: 'a'.repeat(101), data: 'x' }], 'files[0].path'],
      [
        'a duplicate',
        [
          { path: 'a.py', data: 'x' },
          { path: './a.py', data: 'y' },
        ],
        'files[1]',
      ],
      [
        'a file where a directory is needed',
        [
          { path: 'a', data: 'x' },
          { path: 'a/b.py', data: 'y' },
        ],
        'files[1].path',
      ],
      ['a directory with content', [{ path: 'd/', data: 'x' }], 'files[0].data'],
      ['no files', [], 'files'],
      ['content that is neither text nor bytes', [{ path: 'a', data: 3 }], 'files[0].data'],
    ])('%s', (_, files, field) => {
      let thrown: unknown;
      try {
        writeTar(files as PackageFile[]);
      } catch (error) {
        thrown = error;
      }
      expect(isOtaError(thrown, 'MANIFEST_INVALID')).toBe(true);
      expect((thrown as Error).message).toContain(`${field}`);
    });
  });
});

describe('read by Python, as microfreezer and the reference firmware read', () => {
  /** The reference firmware's tar reader (apply_ota.py), in Python: name[0:100], size, "/" = directory. */
  const FIRMWARE_READER = `
import sys, os, zlib
data = open(sys.argv[1], 'rb').read()
if sys.argv[2] == 'zlib':
    data = zlib.decompress(data[8:-4])
root = sys.argv[3]
offset = 0
while offset + 512 <= len(data):
    header = data[offset:offset + 512]
    if header[0] == 0:
        break
    name = header[0:100].rstrip(b'\\0').decode()
    size = int(header[124:135], 8)
    offset += 512
    if name.endswith('/'):
        os.mkdir(os.path.join(root, name))
    else:
        with open(os.path.join(root, name), 'wb') as f:
            f.write(data[offset:offset + size])
    offset += (size + 511) // 512 * 512
`;

  it("tarfile lists exactly the members, types, sizes and contents (and reads the pseudo-gzip's zlib and CRC)", async (context) => {
    if (!hasTool('python3')) skipOrFailInCi(context, 'python3 is not installed');
    const dir = await temp();
    await writeFile(join(dir, 'p.tar'), writeTar(FILES));
    await writeFile(join(dir, 'p.tar.gz'), (await writePackage(FILES, { format: 'insighio-zlib' })).bytes);
    const script = `
import sys, tarfile, zlib, struct, io, json, hashlib
def members(fileobj):
    out = []
    with tarfile.open(fileobj=fileobj, mode='r:') as t:
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else b''
            out.append([m.name, 'dir' if m.isdir() else 'file' if m.isreg() else 'other', m.size, oct(m.mode), m.pax_headers, hashlib.sha256(data).hexdigest()])
    return out
plain = members(open(sys.argv[1], 'rb'))
packed = open(sys.argv[2], 'rb').read()
body = packed[8:-4]
crc_ok = struct.unpack('>I', packed[-4:])[0] == zlib.crc32(body)
inflated = members(io.BytesIO(zlib.decompress(body)))
print(json.dumps({'plain': plain, 'crc_ok': crc_ok, 'same': plain == inflated}))
`;
    const out = JSON.parse(
      execFileSync('python3', ['-c', script, join(dir, 'p.tar'), join(dir, 'p.tar.gz')]).toString(),
    ) as { plain: [string, string, number, string, object, string][]; crc_ok: boolean; same: boolean };
    expect(out.crc_ok).toBe(true);
    expect(out.same).toBe(true);
    expect(out.plain.map(([name, type, size, mode, pax]) => [name, type, size, mode, pax])).toEqual([
      ['boot.py', 'file', 12, '0o644', {}],
      ['apps', 'dir', 0, '0o755', {}],
      ['apps/demo_console', 'dir', 0, '0o755', {}],
      ['apps/demo_console/scenario.py', 'file', 13, '0o644', {}],
      ['apps/demo_console/ünïcödé.txt', 'file', 4, '0o644', {}],
      ['lib', 'dir', 0, '0o755', {}],
      ['run.sh', 'file', 10, '0o755', {}],
      ['empty.txt', 'file', 0, '0o644', {}],
      ['big', 'dir', 0, '0o755', {}],
      [`big/${'b'.repeat(90)}`, 'file', 1500, '0o644', {}],
    ]);
  });

  it.for(['tar', 'insighio-zlib'] as const)(
    "%s: the reference firmware's reader writes the same tree",
    async (format, context) => {
      if (!hasTool('python3')) skipOrFailInCi(context, 'python3 is not installed');
      const dir = await temp();
      const archive = join(dir, 'package.bin');
      await writeFile(archive, (await writePackage(FILES, { format })).bytes);
      const root = join(dir, 'root');
      await mkdir(root);
      execFileSync('python3', ['-c', FIRMWARE_READER, archive, format === 'tar' ? 'tar' : 'zlib', root]);
      expect(await listTree(root)).toEqual(EXPECTED_TREE);
    },
  );
});
