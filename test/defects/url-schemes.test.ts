/**
 * Issue: no scheme allow-list in downloadArtifact (a file:/ftp: URL reached fetch and was retried
 * 30 times), parseManifest accepted file:///etc/passwd, and inline `data:` artifacts (Exosite
 * JSON-type manifests) could not be installed on Node.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createUpdateMachine,
  downloadArtifact,
  exosite,
  isOtaError,
  MemorySink,
  MemoryStore,
  parseManifest,
  safeParseManifest,
} from '../../src/index.js';
import { createFileDownloadHook } from '../../src/node/index.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'otakit-schemes-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

const artifact = (url: string) => ({ id: 'u', version: '1', artifacts: [{ url, target: 'file' as const }] });

describe('URL schemes', () => {
  it.each([
    'file:///etc/passwd',
    'ftp://host/fw.bin',
    'javascript:alert(1)',
    'gopher://host/x',
    'blob:http://h/x',
  ])('downloadArtifact refuses %s before any request, not retryable', async (url) => {
    const fetch = vi.fn(async () => new Response('x'));
    const thrown = await downloadArtifact({
      url,
      sink: new MemorySink(),
      fetch,
      retry: { attempts: 5 },
    }).catch((error: unknown) => error);
    expect(isOtaError(thrown), String(thrown)).toBe(true);
    expect(thrown).toMatchObject({ retryable: false });
    expect(fetch).not.toHaveBeenCalled();
  });

  it('downloadArtifact refuses an inline data: URL unless inline content is allowed', async () => {
    const fetch = vi.fn(async () => new Response('x'));
    await expect(
      downloadArtifact({ url: 'data:,hello', sink: new MemorySink(), fetch }),
    ).rejects.toMatchObject({ retryable: false });
    expect(fetch).not.toHaveBeenCalled();
  });

  it('stages an inline data: URL without a network request, hashed and size-checked', async () => {
    const fetch = vi.fn(async () => new Response('x'));
    const sink = new MemorySink();
    const result = await downloadArtifact({
      url: 'data:application/json,%7B%22a%22%3A1%7D',
      sink,
      fetch,
      inline: true,
      expected: { size: 7, sha256: '015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862' },
    }).catch((error: unknown) => error);
    expect(fetch).not.toHaveBeenCalled();
    expect(new TextDecoder().decode(sink.bytes())).toBe('{"a":1}');
    expect(result).toMatchObject({ size: 7 });
  });

  it('stages a base64 data: URL and refuses one over maxBytes', async () => {
    const sink = new MemorySink();
    await downloadArtifact({ url: 'data:;base64,aGVsbG8=', sink, inline: true, hashes: [] });
    expect(new TextDecoder().decode(sink.bytes())).toBe('hello');
    await expect(
      downloadArtifact({ url: 'data:,0123456789', sink: new MemorySink(), inline: true, maxBytes: 4 }),
    ).rejects.toMatchObject({ code: 'INTEGRITY' });
    await expect(
      downloadArtifact({ url: 'data:;base64,%%%', sink: new MemorySink(), inline: true }),
    ).rejects.toMatchObject({ retryable: false });
  });

  it.each(['file:///etc/passwd', 'ftp://host/fw.bin', 'javascript:alert(1)'])(
    'parseManifest refuses the artifact URL %s, naming the field',
    (url) => {
      const result = safeParseManifest(artifact(url));
      expect(result.success).toBe(false);
      if (!result.success) expect(result.error.message).toContain('artifacts[0].url');
    },
  );

  it.each(['https://h/fw.bin', 'http://h/fw.bin', 'content/fw.bin', 'data:,x'])(
    'parseManifest accepts %s',
    (url) => {
      expect(parseManifest(artifact(url)).artifacts[0]?.url).toBe(url);
    },
  );

  it('a machine refuses a file: artifact at apply, without calling download', async () => {
    const download = vi.fn();
    const install = vi.fn();
    const machine = createUpdateMachine({ id: 'd', store: new MemoryStore(), hooks: { download, install } });
    await machine.resume();
    await expect(machine.apply(artifact('file:///etc/passwd'))).rejects.toMatchObject({
      code: 'MANIFEST_INVALID',
    });
    expect(download).not.toHaveBeenCalled();
  });

  it('an Exosite JSON-type order installs on Node through the file download hook', async () => {
    const { value: manifest } = exosite.toCanonical({
      version: 'cfg-2',
      type: 'JSON',
      name: 'settings.json',
      payload: { interval: 30 },
    } as never);
    const hook = createFileDownloadHook({ directory });
    const staged = await hook({
      manifest,
      signal: new AbortController().signal,
      machineId: 'd',
      attempt: 1,
      onProgress: () => {},
      resume: null,
      saveCheckpoint: async () => {},
    } as never);
    const first = Array.isArray(staged) ? staged[0] : staged;
    expect(JSON.parse(await readFile((first as { location: string }).location, 'utf8'))).toEqual({
      interval: 30,
    });
  });
});
