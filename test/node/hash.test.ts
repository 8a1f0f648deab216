import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWebHash, type HashAlgorithm, type HashFactory, hashBytes } from '../../src/index.js';
import { updateAll } from '../../src/manifest/hash.js';
import { createNodeHash, createWorkerHash, hashInWorkers } from '../../src/node/index.js';
import { eventually } from '../support/async.js';
import { bundled } from '../support/bundle.js';

const FACTORIES: [string, HashFactory][] = [
  ['web (spark-md5, @noble/hashes)', createWebHash],
  ['node:crypto', createNodeHash],
  ['node:crypto in workers', createWorkerHash],
  ['MD5 in a worker, SHA-256 inline', hashInWorkers(['md5'])],
];
const ALGORITHMS: HashAlgorithm[] = ['md5', 'sha256'];

describe('hash factories agree with node:crypto on any chunking', () => {
  for (const [name, factory] of FACTORIES) {
    it(name, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 70_000 }), { maxLength: 8 }), async (chunks) => {
          const whole = createHash('md5');
          const wholeSha = createHash('sha256');
          for (const chunk of chunks) {
            whole.update(chunk);
            wholeSha.update(chunk);
          }
          const hashes = ALGORITHMS.map((algorithm) => factory(algorithm));
          for (const chunk of chunks) await updateAll(hashes, chunk);
          expect(await hashes[0]!.digest()).toBe(whole.digest('hex'));
          expect(await hashes[1]!.digest()).toBe(wholeSha.digest('hex'));
        }),
        { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 60) },
      );
    });
  }

  for (const [name, factory] of FACTORIES) {
    it(`${name}: lets the caller reuse a chunk's memory once update settles`, async () => {
      // The download engine reads every chunk into the same buffer.
      const buffer = new Uint8Array(300_000);
      const expected = ALGORITHMS.map((algorithm) => createHash(algorithm));
      const hashes = ALGORITHMS.map((algorithm) => factory(algorithm));
      for (let round = 0; round < 20; round++) {
        buffer.fill(round * 13 + 1);
        const chunk = buffer.subarray(0, 1000 + round * 14_000);
        for (const hash of expected) hash.update(chunk);
        await updateAll(hashes, chunk);
      }
      buffer.fill(0);
      for (const [index, hash] of hashes.entries()) {
        expect(await hash.digest()).toBe(expected[index]!.digest('hex'));
      }
    });
  }

  it('hashInWorkers offloads only the algorithms named', async () => {
    const factory = hashInWorkers(['md5']);
    const md5 = factory('md5');
    const sha256 = factory('sha256');
    expect(md5.update(new Uint8Array(1))).toBeInstanceOf(Promise); // crossing to a worker
    expect(sha256.update(new Uint8Array(1))).toBeUndefined(); // node:crypto, synchronous
    expect(await md5.digest()).toBe(createHash('md5').update(new Uint8Array(1)).digest('hex'));
  });

  it('an abandoned or disposed worker hash never keeps the process alive', async () => {
    // Bundled (plain node, not tsx) and awaited, not spawnSync: the worker thread stays free.
    const script = await bundled(join(import.meta.dirname, '../support/abandoned-worker-hash.ts'));
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    // Only catches a process that never exits (generous: a busy machine is slow to start one).
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    const [status, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    clearTimeout(timer);
    expect(signal).toBeNull(); // not killed by the timeout
    expect(status).toBe(0);
    expect(stdout.trim()).toBe('900150983cd24fb0d6963f7d28e17f72');
  });

  it('keeps concurrent worker sessions apart, and applies back-pressure on large inputs', async () => {
    const big = new Uint8Array(40 * 1024 * 1024).map((_, index) => index & 0xff);
    const a = createWorkerHash('sha256');
    const b = createWorkerHash('sha256');
    const chunk = 1024 * 1024;
    for (let offset = 0; offset < big.length; offset += chunk) {
      await a.update(big.subarray(offset, offset + chunk));
      await b.update(big.subarray(0, 16));
    }
    expect(await a.digest()).toBe(createHash('sha256').update(big).digest('hex'));
    const repeated = createHash('sha256');
    for (let offset = 0; offset < big.length; offset += chunk) repeated.update(big.subarray(0, 16));
    expect(await b.digest()).toBe(repeated.digest('hex'));
  });

  it('fails the sessions of a worker that dies, instead of hanging, and starts a new worker after', async () => {
    const broken = createWorkerHash('sha3-999' as HashAlgorithm);
    await broken.update(new Uint8Array(16));
    await expect(broken.digest()).rejects.toThrow();
    // More than the ring holds: update waits for room the dead worker will never make.
    const starved = createWorkerHash('sha3-999' as HashAlgorithm);
    await expect(starved.update(new Uint8Array(16 * 1024 * 1024))).rejects.toThrow();
    const healthy = createWorkerHash('md5');
    await healthy.update(new TextEncoder().encode('abc'));
    expect(await healthy.digest()).toBe('900150983cd24fb0d6963f7d28e17f72');
  });

  it('dispose while update waits for room in the ring settles the update instead of hanging', async () => {
    for (const delay of [0, 1, 20]) {
      const hash = createWorkerHash('sha256');
      const updating = Promise.resolve(hash.update(new Uint8Array(24 * 1024 * 1024))).then(
        () => 'resolved',
        () => 'rejected',
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
      hash.dispose?.();
      expect(await updating).toBe('resolved'); // stops feeding the ring: the hash is dropped
      // Whether the worker is still there or not: the same answer, never a hang nor a digest.
      await expect(hash.digest()).rejects.toThrow(/dispose/);
    }
  });

  it('a digest after the worker exited (a second digest, or after dispose) reports it instead of hanging', async () => {
    const hash = createWorkerHash('md5');
    await hash.update(new TextEncoder().encode('abc'));
    expect(await hash.digest()).toBe('900150983cd24fb0d6963f7d28e17f72');
    // The worker exits on its own after its digest; until its exit is seen, a second digest may
    // still give the digest. Wait for the exit (a digest that fails), then check what it says.
    let second: unknown;
    await eventually(
      () =>
        Promise.resolve(hash.digest()).then(
          () => false,
          (error: unknown) => {
            second = error;
            return true;
          },
        ),
      'the worker to exit after its digest',
    );
    expect(String(second)).toMatch(/exited/);
    const disposed = createWorkerHash('md5');
    await disposed.update(new Uint8Array(10));
    disposed.dispose?.();
    await expect(disposed.digest()).rejects.toThrow(/dispose/);
  });

  it('gives every thread back once its hash is digested or disposed', async () => {
    const threads = () => readdirSync('/proc/self/task').length;
    const before = threads();
    const hashes = Array.from({ length: 24 }, (_, index) => createWorkerHash(index % 2 ? 'md5' : 'sha256'));
    for (const hash of hashes) await hash.update(new Uint8Array(100_000));
    expect(threads()).toBeGreaterThanOrEqual(before + 20);
    for (const [index, hash] of hashes.entries()) {
      if (index % 3 === 0) hash.dispose?.();
      else await hash.digest();
    }
    // A generous limit: it only catches threads that are never given back.
    await eventually(() => threads() <= before, 'every worker thread to exit', { intervalMs: 20 });
    expect(threads()).toBeLessThanOrEqual(before);
  });

  it('hashBytes hashes a whole buffer', async () => {
    expect(await hashBytes(new TextEncoder().encode('abc'), 'md5')).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(await hashBytes(new TextEncoder().encode('abc'), 'sha256', createNodeHash)).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});
