import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOtaError } from '../../src/core/errors.js';
import {
  ensureFreeSpace,
  formatBytes,
  InsufficientSpaceError,
  measureFreeSpace,
} from '../../src/node/install/index.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'otakit-space-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('ensureFreeSpace', () => {
  it('resolves with the measured space when the bytes fit', async () => {
    const space = await ensureFreeSpace(root, 1024);
    expect(space).toMatchObject({ directory: root, neededBytes: 1024, reserveBytes: 1_048_576 });
    expect(space.availableBytes).toBeGreaterThan(1024);
  });

  it('a huge requirement is a DOWNLOAD error naming needed and available bytes', async () => {
    const needed = 2 ** 52; // 4 PiB
    let error: unknown;
    try {
      await ensureFreeSpace(root, needed, { reserveBytes: 0 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InsufficientSpaceError);
    expect(isOtaError(error, 'DOWNLOAD')).toBe(true);
    const space = error as InsufficientSpaceError;
    expect(space.retryable).toBe(false);
    expect(space.neededBytes).toBe(needed);
    expect(space.availableBytes).toBeGreaterThan(0);
    expect(space.message).toBe(
      `Not enough free space in ${root}: 4503599627370496 bytes (4.0 PiB) needed, ${formatBytes(space.availableBytes)} available`,
    );
    expect(space.toJSON()).toMatchObject({ code: 'DOWNLOAD', neededBytes: needed, reserveBytes: 0 });
  });

  it('counts the reserve, and can fail with INSTALL (before an extraction)', async () => {
    const { availableBytes } = await measureFreeSpace(root);
    await expect(
      ensureFreeSpace(root, 0, { reserveBytes: availableBytes + 1024 ** 3, code: 'INSTALL' }),
    ).rejects.toSatisfy(
      (error) =>
        isOtaError(error, 'INSTALL') && /0 bytes needed plus .* reserve/.test((error as Error).message),
    );
  });

  it('measures the nearest existing ancestor of a directory not created yet', async () => {
    const space = await ensureFreeSpace(join(root, 'not', 'yet'), 1);
    expect(space.directory).toBe(root);
  });

  it.skipIf(process.platform !== 'linux')(
    'agrees with df within a margin (other writers share the disk)',
    async () => {
      const { availableBytes } = await measureFreeSpace(root);
      const output = execFileSync('df', ['--output=avail', '-B1', root], { encoding: 'utf8' });
      const df = Number(output.trim().split('\n').at(-1));
      expect(Math.abs(availableBytes - df)).toBeLessThan(Math.max(df * 0.05, 256 * 1024 ** 2));
    },
  );

  it('rejects nonsense sizes (CONFIG) and an aborted signal (ABORTED)', async () => {
    await expect(ensureFreeSpace(root, -1)).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(ensureFreeSpace(root, 1.5)).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(ensureFreeSpace(root, 1, { reserveBytes: Number.NaN })).rejects.toMatchObject({
      code: 'CONFIG',
    });
    await expect(ensureFreeSpace(root, 1, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ABORTED',
    });
  });

  it('formats sizes for people without losing the exact count', () => {
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(1536)).toBe('1536 bytes (1.5 KiB)');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5368709120 bytes (5.0 GiB)');
  });
});
