/**
 * Issue: MD5 on the browser-safe path was wrong for Node Buffers that are views into a larger
 * buffer (small `Buffer.from(...)` values share one pool): the hasher hashed the whole pool.
 * Every path that hands bytes to spark-md5 is checked here with pool-backed views.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createWebHash, degu, downloadArtifact, hashBytes, MemorySink } from '../../src/index.js';
import { manifestFor, md5Hex } from '../../src/testing/index.js';

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

/** A small Buffer: a view into Node's shared 8 KiB pool, not a buffer of its own. */
function pooled(text: string): Buffer {
  const view = Buffer.from(text);
  expect(view.byteLength).toBeLessThan(view.buffer.byteLength); // the premise of the bug
  return view;
}

describe('MD5 of typed-array views', () => {
  it('hashBytes hashes only the bytes of the view', async () => {
    expect(await hashBytes(pooled('v2'), 'md5')).toBe('1b267619c4812cc46ee281747884ca50');
    expect(await hashBytes(pooled('v2'), 'md5')).toBe(md5(Buffer.from('v2')));
  });

  it('createWebHash hashes views chunk by chunk, including views with an offset', async () => {
    const hash = createWebHash('md5');
    const whole = new Uint8Array(64).map((_, index) => index);
    await hash.update(pooled('abc'));
    await hash.update(whole.subarray(10, 20));
    await hash.update(new Uint8Array(whole.buffer, 30, 5));
    expect(await hash.digest()).toBe(
      md5(Buffer.concat([Buffer.from('abc'), whole.subarray(10, 20), whole.subarray(30, 35)])),
    );
  });

  it('degu.md5Ver and the testing helpers agree with node:crypto', async () => {
    expect(degu.md5Ver(pooled('print(1)'))).toBe(md5(Buffer.from('print(1)')));
    expect(md5Hex(pooled('v2'))).toBe(md5(Buffer.from('v2')));
    const manifest = await manifestFor('u1', '2', new Map([['http://device.test/a', pooled('v2')]]));
    expect(manifest.artifacts[0]?.md5).toBe(md5(Buffer.from('v2')));
  });

  it('downloadArtifact verifies an MD5 over a body of pool-backed chunks', async () => {
    const chunks = [pooled('hello '), pooled('world')];
    const fetch = async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            for (const chunk of chunks) controller.enqueue(chunk);
            controller.close();
          },
        }),
        { status: 200, headers: { 'content-length': '11' } },
      );
    const sink = new MemorySink();
    const result = await downloadArtifact({
      url: 'http://device.test/a.bin',
      sink,
      fetch,
      expected: { md5: md5(Buffer.from('hello world')), size: 11 },
    });
    expect(result.md5).toBe(md5(Buffer.from('hello world')));
  });
});
