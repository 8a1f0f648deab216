/**
 * `keygen`, `root create|sign|rotate`, `sign` and `verify`, run as the command: a key ceremony
 * with two keys and threshold 2, signing by each holder in turn, tampering, expiry, a rotation to
 * a third key accepted and refused. The private keys never appear in any output. The steps share
 * files, so they run in order; independent commands of one step run concurrently (each start
 * costs about a second through tsx).
 */
import { chmod, copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeJson } from './fixtures.js';
import { type CliOptions, type CliResult, runCli } from './run-cli.js';

const MANIFEST = {
  id: 'fw-2',
  version: '2.0.0',
  artifacts: [
    {
      url: 'https://cdn.example.test/fw.bin',
      target: 'firmware',
      size: 3,
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    },
  ],
  compatibility: { deviceTypes: ['gw-2'] },
};

interface Verdict {
  valid: boolean;
  reason?: string;
  field?: string | null;
  keyIds: string[];
  threshold: number | null;
  rejected: { keyId: string; reason: string }[];
}

let dir: string;
const at = (name: string) => join(dir, name);
/** Every output of every run, searched for key material at the end. */
const outputs: CliResult[] = [];
const keyIds: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };

async function otakit(args: readonly string[], options?: CliOptions): Promise<CliResult> {
  const result = await runCli(args, options);
  outputs.push(result);
  return result;
}

beforeAll(async () => {
  dir = await tempDir('sign');
  await writeJson(dir, 'manifest.json', MANIFEST);
});

describe('a key ceremony: two keys, threshold 2', () => {
  it('keygen writes a 0600 private key and a public key file, and prints the key id', async () => {
    const [a, b, c] = await Promise.all([
      otakit(['keygen', '--out', at('a')]),
      otakit(['keygen', '--out', at('b'), '--json']),
      otakit(['keygen', '--out', at('c'), '--json']),
    ]);
    for (const result of [a, b, c]) expect(result.code, result.stderr).toBe(0);
    keyIds.a = a.stdout.split('\n')[0]!;
    expect(keyIds.a).toMatch(/^[0-9a-f]{64}$/);
    const bJson = JSON.parse(b.stdout) as Record<string, string>;
    expect(bJson).toMatchObject({
      keyId: expect.stringMatching(/^[0-9a-f]{64}$/),
      privateKeyFile: at('b.key'),
    });
    expect(Object.keys(bJson)).not.toContain('privateKey');
    keyIds.b = bJson.keyId!;
    keyIds.c = (JSON.parse(c.stdout) as { keyId: string }).keyId;
    expect(new Set(Object.values(keyIds)).size).toBe(3);

    expect((await stat(at('a.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(at('a.key'), 'utf8')).toMatch(
      /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/,
    );
    const pub = JSON.parse(await readFile(at('a.pub.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(pub).sort()).toEqual(['keyId', 'publicKey']);
    expect(pub.keyId).toBe(keyIds.a);
  });

  it('keygen refuses to overwrite; root create (k=2); the first holder signs; a key open to others is refused', async () => {
    const before = await readFile(at('a.key'), 'utf8');
    await copyFile(at('b.key'), at('open.key'));
    await chmod(at('open.key'), 0o644);
    const [again, root, signed, open, nextRoot] = await Promise.all([
      otakit(['keygen', '--out', at('a')]),
      otakit([
        'root',
        'create',
        '--key',
        at('a.pub.json'),
        at('b.pub.json'),
        '--threshold',
        '2',
        '--expires',
        '2035-01-01T00:00:00Z',
        '--out',
        at('root.json'),
      ]),
      otakit(['sign', at('manifest.json'), '--key-file', at('a.key'), '--out', at('signed-1.json')]),
      otakit(['sign', at('manifest.json'), '--key-file', at('open.key')]),
      // For the rotation below: version 2, keys b and c (a retired), threshold 2.
      otakit([
        'root',
        'create',
        '--key',
        at('b.pub.json'),
        '--key',
        at('c.pub.json'),
        '--threshold',
        '2',
        '--version',
        '2',
        '--out',
        at('root-2.json'),
      ]),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--force');
    expect(await readFile(at('a.key'), 'utf8')).toBe(before);

    expect(root.code, root.stderr).toBe(0);
    const trustRoot = JSON.parse(await readFile(at('root.json'), 'utf8')) as Record<string, unknown>;
    expect(trustRoot).toMatchObject({ version: 1, threshold: 2, expiresAt: '2035-01-01T00:00:00Z' });
    expect(nextRoot.code, nextRoot.stderr).toBe(0);

    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout).toContain(keyIds.a);

    expect(open.code).toBe(1);
    expect(open.stderr).toMatch(/open to group or others \(mode 0644\)/);
    expect(open.stdout).toBe('');
  });

  it('one signature of two: verify exits 1 below_threshold; the second holder signs from --key-env', async () => {
    const pemB = await readFile(at('b.key'), 'utf8');
    const [below, second, rootByCurrent] = await Promise.all([
      otakit(['verify', at('signed-1.json'), '--root', at('root.json'), '--json']),
      otakit(['sign', at('signed-1.json'), '--key-env', 'OTAKIT_TEST_KEY'], {
        env: { OTAKIT_TEST_KEY: pemB },
      }),
      // The current root's holders sign the new root, both in one run.
      otakit([
        'root',
        'sign',
        at('root-2.json'),
        '--key-file',
        at('a.key'),
        '--key-file',
        at('b.key'),
        '--out',
        at('signed-root-ab.json'),
      ]),
    ]);
    expect(below.code).toBe(1);
    expect(JSON.parse(below.stdout)).toMatchObject({
      valid: false,
      reason: 'below_threshold',
      field: 'signature.signatures',
      keyIds: [keyIds.a],
      threshold: 2,
    });

    expect(second.code, second.stderr).toBe(0);
    const signed = JSON.parse(second.stdout) as { signature: { signatures: { keyId: string }[] } };
    // The first holder's signature is kept.
    expect(signed.signature.signatures.map((s) => s.keyId)).toEqual([keyIds.a, keyIds.b]);
    await writeFile(at('signed-2.json'), second.stdout);
    // A byte changed after signing: the version.
    await writeFile(at('tampered.json'), second.stdout.replace('"version": "2.0.0"', '"version": "2.0.1"'));

    expect(rootByCurrent.code, rootByCurrent.stderr).toBe(0);
  });

  it('verify: valid (exit 0), tampered (bad_signature), root expired, wrong device type; a rotation signed by the current keys only is refused', async () => {
    const verify = (file: string, ...extra: string[]) =>
      otakit(['verify', at(file), '--root', at('root.json'), ...extra]);
    const [valid, tampered, expired, wrongTarget, refused, withNew] = await Promise.all([
      verify('signed-2.json', '--device-type', 'gw-2', '--floor', '1.0.0', '--compare', 'semver'),
      verify('tampered.json', '--json'),
      verify('signed-2.json', '--now', '2035-06-01T00:00:00Z', '--json'),
      verify('signed-2.json', '--device-type', 'gw-3', '--json'),
      otakit(['root', 'rotate', '--current', at('root.json'), '--new', at('signed-root-ab.json'), '--json']),
      // The new key's holder adds theirs.
      otakit([
        'root',
        'sign',
        at('signed-root-ab.json'),
        '--key-file',
        at('c.key'),
        '--out',
        at('signed-root-abc.json'),
      ]),
    ]);
    expect(valid.code, valid.stdout + valid.stderr).toBe(0);
    expect(valid.stdout).toContain('signed by 2 of threshold 2');
    expect(valid.stdout).toContain(keyIds.a);
    expect(valid.stdout).toContain(keyIds.b);

    expect(tampered.code).toBe(1);
    const bad = JSON.parse(tampered.stdout) as Verdict;
    expect(bad).toMatchObject({
      valid: false,
      reason: 'bad_signature',
      field: 'signature.signatures',
      keyIds: [],
    });
    expect(bad.rejected.map((r) => r.reason)).toEqual(['bad_signature', 'bad_signature']);

    expect(expired.code).toBe(1);
    expect(JSON.parse(expired.stdout)).toMatchObject({
      valid: false,
      reason: 'root_expired',
      field: 'root.expiresAt',
    });

    expect(wrongTarget.code).toBe(1);
    expect(JSON.parse(wrongTarget.stdout)).toMatchObject({
      valid: false,
      reason: 'wrong_target',
      field: 'compatibility.deviceTypes',
      keyIds: [keyIds.a, keyIds.b],
    });

    // Signed by a and b: the current threshold is met, the new root's (b and c) is not.
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({
      accepted: false,
      reason: 'root_rejected',
      field: 'signatures',
      cause: { reason: 'below_threshold' },
    });
    expect(withNew.code, withNew.stderr).toBe(0);
  });

  it('sign warns about what devices would refuse; verify holds a bare artifact to md5 as the gate does; a key twice or a public key is refused', async () => {
    const bare = {
      ...MANIFEST,
      id: 'fw-bare',
      releaseNotes: 'not signed',
      expiresAt: '2020-01-01T00:00:00Z',
      artifacts: [{ url: 'https://cdn.example.test/fw.bin', target: 'firmware', size: 3, foo: 1 }],
    };
    await writeJson(dir, 'bare.json', bare);
    await writeJson(dir, 'fresh-bare.json', { ...bare, expiresAt: '2035-01-01T00:00:00Z' });
    await chmod(at('a.pub.json'), 0o600);
    const [expired, fresh, twice, publicKey] = await Promise.all([
      otakit(['sign', at('bare.json'), '--key-file', at('a.key'), '--out', at('bare.signed.json')]),
      otakit(['sign', at('fresh-bare.json'), '--key-file', at('a.key'), '--key-env', 'B_KEY'], {
        env: { B_KEY: await readFile(at('b.key'), 'utf8') },
      }),
      otakit(['sign', at('manifest.json'), '--key-file', at('a.key'), '--key-file', at('a.key')]),
      otakit(['sign', at('manifest.json'), '--key-file', at('a.pub.json')]),
    ]);
    expect(expired.code, expired.stderr).toBe(0);
    expect(expired.stderr).toContain('left out of the signed manifest: artifacts[0].foo, releaseNotes');
    expect(expired.stderr).toContain('artifacts[0]: no md5 or sha256');
    expect(expired.stderr).toContain('weak_integrity');
    expect(expired.stderr).toContain('expiresAt 2020-01-01T00:00:00Z is already past');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stderr).not.toContain('already past');
    await writeFile(at('bare-2.signed.json'), fresh.stdout);

    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain(`are the same key (${keyIds.a})`);
    expect(twice.stdout).toBe('');
    expect(publicKey.code).toBe(1);
    expect(publicKey.stderr).toContain('this is a public key file');
    expect(publicKey.stderr).not.toContain('chmod');

    const common = ['--root', at('root.json'), '--device-type', 'gw-2', '--json'];
    await writeJson(dir, 'invalid.json', {
      ...MANIFEST,
      artifacts: [{ ...MANIFEST.artifacts[0], md5: 'x' }],
    });
    const [weak, lenient, invalid] = await Promise.all([
      otakit(['verify', at('bare-2.signed.json'), ...common]),
      otakit(['verify', at('bare-2.signed.json'), ...common, '--min-integrity', 'none']),
      otakit(['verify', at('invalid.json'), '--root', at('root.json')]),
    ]);
    // Text: the field once, on its own line; no signature count for a manifest never checked.
    expect(invalid.code).toBe(1);
    expect(invalid.stdout.trim().split('\n')).toEqual([
      'invalid: invalid_manifest (artifacts[0].md5)',
      '  artifacts[0].md5: expected 32 hex characters (MD5)',
    ]);
    expect(weak.code).toBe(1);
    expect(JSON.parse(weak.stdout)).toMatchObject({
      valid: false,
      reason: 'weak_integrity',
      field: 'artifacts',
    });
    expect(lenient.code, lenient.stdout).toBe(0);
    expect(JSON.parse(lenient.stdout)).toMatchObject({ valid: true });
  });

  it('the rotation signed by the current keys and the new ones is accepted', async () => {
    const accepted = await otakit([
      'root',
      'rotate',
      '--current',
      at('root.json'),
      '--new',
      at('signed-root-abc.json'),
    ]);
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);
    expect(accepted.stdout).toContain('accepted: trust root version 1 -> 2');
    expect(accepted.stdout).toContain(keyIds.c);
  });
});

describe('key material', () => {
  it('no private key appears in any output', async () => {
    expect(outputs.length).toBe(25);
    for (const name of ['a', 'b', 'c']) {
      const pem = await readFile(at(`${name}.key`), 'utf8');
      const body = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
      // The last 40 characters are the seed's (the DER prefix is the same for every key); and the
      // seed's own base64.
      const tail = body.slice(-40);
      const seed = Buffer.from(body, 'base64').subarray(16).toString('base64');
      for (const { stdout, stderr } of outputs) {
        expect(stdout + stderr).not.toContain(tail);
        expect(stdout + stderr).not.toContain(seed);
        expect(stdout + stderr).not.toContain('PRIVATE KEY-----');
      }
    }
  });
});
