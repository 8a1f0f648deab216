/** `manifest validate`, `manifest convert` and `hash`, run as the command. */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BAD_MANIFEST, GOOD_MANIFEST, tempDir, writeJson } from './fixtures.js';
import { runCli } from './run-cli.js';

let dir: string;
let good: string;
let bad: string;

beforeAll(async () => {
  dir = await tempDir('manifest');
  good = await writeJson(dir, 'good.json', GOOD_MANIFEST);
  bad = await writeJson(dir, 'bad.json', BAD_MANIFEST);
});

describe('otakit manifest validate', () => {
  it('a valid manifest: exit 0, and { valid: true } with --json', async () => {
    const [text, json] = await Promise.all([
      runCli(['manifest', 'validate', good]),
      runCli(['manifest', 'validate', good, '--json']),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('valid canonical manifest');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: true, issues: [] });
  });

  it('an invalid one: exit 1, every wrong field by its path and what was expected', async () => {
    const [text, json] = await Promise.all([
      runCli(['manifest', 'validate', bad]),
      runCli(['manifest', 'validate', bad, '--json']),
    ]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('version: expected');
    expect(text.stdout).toContain('artifacts[0].url: expected');
    expect(text.stdout).toContain('artifacts[0].md5: expected');
    expect(json.code).toBe(1);
    const result = JSON.parse(json.stdout) as {
      valid: boolean;
      issues: { path: string; expected: string }[];
    };
    expect(result.valid).toBe(false);
    expect(result.issues.map((issue) => issue.path)).toEqual(
      expect.arrayContaining(['version', 'artifacts[0].url', 'artifacts[0].md5']),
    );
  });

  it("a platform's own document: an Exosite manifest checked with the protocol's schema", async () => {
    const path = await writeJson(dir, 'thingsboard.json', { fw_title: 'app', fw_version: 7 });
    const result = await runCli(['manifest', 'validate', path, '--format', 'thingsboard', '--json']);
    expect(result.code).toBe(1);
    const parsed = JSON.parse(result.stdout) as { valid: boolean; issues: { path: string }[] };
    expect(parsed.valid).toBe(false);
    expect(parsed.issues.length).toBeGreaterThan(0);
  });

  it('a file that is not JSON: exit 1; a missing file: exit 2', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '{ nope');
    const [broken, missing] = await Promise.all([
      runCli(['manifest', 'validate', path]),
      runCli(['manifest', 'validate', join(dir, 'missing.json')]),
    ]);
    expect(broken.code).toBe(1);
    expect(missing.code).toBe(2);
  });
});

describe('otakit manifest convert', () => {
  it("prints insigh.io's retained SenML order and what it could not carry", async () => {
    const target = JSON.stringify({
      controlChannelId: 'cc',
      deviceId: 'dev-1',
      baseUrl: 'https://console.example.test',
    });
    const result = await runCli([
      'manifest',
      'convert',
      good,
      '--to',
      'insighio',
      '--target',
      target,
      '--json',
    ]);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as {
      messages: { address: string; payload: string; retain?: boolean }[];
      lost: { field: string }[];
    };
    expect(parsed.messages).toHaveLength(1);
    expect(parsed.messages[0]).toMatchObject({ address: 'channels/cc/messages/dev-1/ota', retain: true });
    expect(JSON.parse(parsed.messages[0]!.payload)).toContainEqual({ n: 'i', vs: 'app' });
    expect(parsed.lost.map((loss) => loss.field)).toContain('artifacts[0].md5');
  });

  it('an invalid manifest: exit 1 with the field path on stderr', async () => {
    const result = await runCli(['manifest', 'convert', bad, '--to', 'insighio', '--target', '{}']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('artifacts[0].md5');
  });
});

describe('otakit hash', () => {
  it('streams MD5 and SHA-256, equal to node:crypto', async () => {
    const content = Buffer.alloc(3 * 1024 * 1024 + 17, 'otakit');
    const path = join(dir, 'blob.bin');
    await writeFile(path, content);
    const md5 = createHash('md5').update(content).digest('hex');
    const sha256 = createHash('sha256').update(content).digest('hex');
    const [all, one] = await Promise.all([
      runCli(['hash', path, '--json']),
      runCli(['hash', path, '-a', 'md5']),
    ]);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual({ file: path, size: content.length, md5, sha256 });
    expect(one.code).toBe(0);
    expect(one.stdout.trim().split('\n')).toEqual([
      `size  ${content.length}  ${path}`,
      `md5  ${md5}  ${path}`,
    ]);
  });

  it('a missing file: exit 1', async () => {
    const result = await runCli(['hash', join(dir, 'nope.bin')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ENOENT');
  });
});
