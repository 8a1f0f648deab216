/**
 * Issue: after a failed download (TRANSPORT or TIMEOUT) the partial file stayed in staging for
 * ever. Intended (docs/downloads.md): a partial of the update under way is kept so the next
 * attempt resumes; an INTEGRITY failure removes it; and staging holds at most one update: when
 * another update starts downloading, what earlier updates left behind is removed.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DownloadContext, Manifest } from '../../src/index.js';
import { createFileDownloadHook, stagedPath } from '../../src/node/index.js';
import { createFaultServer, type FaultServer } from '../../src/testing/index.js';

let directory: string;
let server: FaultServer;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'otakit-staging-'));
  server = await createFaultServer();
});
afterEach(async () => {
  await server.close();
  await rm(directory, { recursive: true, force: true });
});

const BODY = new Uint8Array(300_000).fill(7);

function context(manifest: Manifest): DownloadContext {
  return {
    manifest,
    signal: new AbortController().signal,
    machineId: 'gw',
    attempt: 1,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    checkpoint: null,
    saveCheckpoint: async () => {},
    onProgress: () => {},
  } as unknown as DownloadContext;
}

const manifestOf = (id: string, path: string): Manifest => ({
  id,
  version: id,
  artifacts: [{ url: `${server.url}${path}`, target: 'file', size: BODY.length }],
});

describe('staging', () => {
  it('keeps the partial of a failed transfer for resume, and removes it once another update starts', async () => {
    server.route('/a.bin', { body: BODY, drop: { afterBytes: 100_000, times: 5 } });
    server.route('/b.bin', { body: BODY });
    const hook = createFileDownloadHook({ directory, retry: { attempts: 1 }, reserveBytes: false });
    const a = manifestOf('update-a', '/a.bin');
    await expect(hook(context(a))).rejects.toMatchObject({ code: 'TRANSPORT' });
    expect(await readdir(join(directory, encodeURIComponent('update-a')))).toEqual(['0.part']);

    // A foreign directory in staging (not otakit's) is never touched.
    await mkdir(join(directory, 'operator-notes'));
    await writeFile(join(directory, 'operator-notes', 'README'), 'keep me');

    const staged = await hook(context(manifestOf('update-b', '/b.bin')));
    expect(staged[0]?.location).toBe(stagedPath(directory, { id: 'update-b' }, 0));
    expect((await readdir(directory)).sort()).toEqual(['operator-notes', 'update-b']);
  });

  it('removes the staged bytes after an integrity failure', async () => {
    server.route('/bad.bin', { body: BODY });
    const hook = createFileDownloadHook({ directory, retry: { attempts: 1 }, reserveBytes: false });
    const manifest = manifestOf('update-c', '/bad.bin');
    manifest.artifacts[0]!.sha256 = '0'.repeat(64);
    await expect(hook(context(manifest))).rejects.toMatchObject({ code: 'INTEGRITY' });
    const left = await readdir(join(directory, 'update-c')).catch(() => []);
    expect(left).toEqual([]);
  });
});
