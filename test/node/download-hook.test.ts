import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpdateMachine } from '../../src/index.js';
import {
  createFileDownloadHook,
  createFileInstaller,
  createWorkerHash,
  FileStore,
} from '../../src/node/index.js';
import { createFaultServer, type FaultServer } from '../../src/testing/index.js';

const BODY = new Uint8Array(300_000).map((_, index) => (index * 13) & 0xff);
const SHA = createHash('sha256').update(BODY).digest('hex');
let server: FaultServer;
let root: string;
beforeAll(async () => {
  server = await createFaultServer();
  server.route('/app.bin', { body: BODY });
  root = await mkdtemp(join(tmpdir(), 'otakit-hook-'));
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

const manifest = (size = BODY.length, sha256 = SHA) => ({
  id: `u-${size}-${sha256.slice(0, 6)}`,
  version: '2.0.0',
  artifacts: [{ url: `${server.url}/app.bin`, size, sha256, target: 'firmware' as const }],
});

describe('createFileDownloadHook + createFileInstaller in an update machine', () => {
  it('downloads, verifies and installs atomically; worker hashes give the same result', async () => {
    for (const [name, hashFactory] of [
      ['inline', undefined],
      ['workers', createWorkerHash],
    ] as const) {
      const target = join(root, `${name}.bin`);
      const installer = createFileInstaller({ target });
      const machine = createUpdateMachine({
        id: name,
        store: new FileStore(join(root, `${name}-state`)),
        hooks: {
          download: createFileDownloadHook({
            directory: join(root, 'staging'),
            ...(hashFactory ? { hashFactory } : {}),
          }),
          install: async ({ staged }) => installer.install(staged[0]!.location).then(() => {}),
          commit: async () => installer.commit(),
          rollback: async () => installer.rollback(),
        },
      });
      expect(await machine.apply(manifest())).toMatchObject({ state: 'committed' });
      expect(
        createHash('sha256')
          .update(await readFile(target))
          .digest('hex'),
      ).toBe(SHA);
    }
  });

  it('refuses before the first byte when the disk cannot hold the artifact', async () => {
    const machine = createUpdateMachine({
      id: 'full-disk',
      hooks: {
        download: createFileDownloadHook({ directory: join(root, 'staging') }),
        install: async () => {},
      },
    });
    const before = server.stats('/app.bin').requests;
    const outcome = await machine.apply(manifest(2 ** 52, SHA));
    expect(outcome.state).toBe('download_failed');
    expect(outcome.error?.code).toBe('DOWNLOAD');
    expect(outcome.error?.message).toMatch(/needed|available/i);
    expect(server.stats('/app.bin').requests).toBe(before);
  });

  it('fails the download with INTEGRITY when the bytes do not match, leaving no staged file', async () => {
    const machine = createUpdateMachine({
      id: 'tampered',
      hooks: {
        download: createFileDownloadHook({ directory: join(root, 'staging-bad') }),
        install: async () => {},
      },
    });
    const outcome = await machine.apply(manifest(BODY.length, '0'.repeat(64)));
    expect(outcome.state).toBe('download_failed');
    expect(outcome.error).toMatchObject({ code: 'INTEGRITY' });
    await expect(
      readFile(
        join(root, 'staging-bad', encodeURIComponent(manifest(BODY.length, '0'.repeat(64)).id), '0.part'),
      ),
    ).rejects.toMatchObject({
      code: 'ENOENT',
    });
    // Nor the update's folder: a refused download leaves nothing staged.
    expect(await readdir(join(root, 'staging-bad'))).toEqual([]);
  });

  it('keeps a partial download worth resuming, in its folder, when the transfer fails', async () => {
    server.route('/cut.bin', { body: BODY, drop: { afterBytes: 100_000, times: 10 } });
    const cut = {
      id: 'u-cut',
      version: '2.0.0',
      artifacts: [
        { url: `${server.url}/cut.bin`, size: BODY.length, sha256: SHA, target: 'firmware' as const },
      ],
    };
    const machine = createUpdateMachine({
      id: 'cut',
      hooks: {
        // One request per attempt, and one attempt: the failure is final for this run.
        download: createFileDownloadHook({ directory: join(root, 'staging-cut'), retry: { attempts: 1 } }),
        install: async () => {},
      },
      retry: { download: { attempts: 1 } },
    });
    const outcome = await machine.apply(cut);
    expect(outcome.state).toBe('download_failed');
    expect(outcome.error).toMatchObject({ code: 'TRANSPORT' });
    expect(await readdir(join(root, 'staging-cut'))).toEqual(['u-cut']);
    expect((await stat(join(root, 'staging-cut', 'u-cut', '0.part'))).size).toBeGreaterThan(0);
  });
});
