/** Files the CLI tests share: a valid canonical manifest and one with wrong fields. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GOOD_MANIFEST = {
  id: 'app',
  version: '2.0.0',
  artifacts: [
    {
      url: 'https://files.example.test/app-2.0.0.tar',
      size: 1024,
      md5: '0123456789abcdef0123456789abcdef',
      sha256: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      target: 'package',
    },
  ],
};

export const BAD_MANIFEST = {
  id: 'app',
  version: '',
  artifacts: [{ url: 'ftp://files.example.test/app.tar', md5: 'not-hex', target: 'package' }],
};

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `otakit-cli-${prefix}-`));
}

export async function writeJson(dir: string, name: string, value: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(value));
  return path;
}
