import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFaultServer, type FaultServer } from '../../src/testing/index.js';
import { bundled } from '../support/bundle.js';

const SIZE = 48 * 1024 * 1024;
const BODY = new Uint8Array(SIZE).map((_, index) => (index ^ (index >> 13)) & 0xff);
const SHA = createHash('sha256').update(BODY).digest('hex');
const AGENT = join(import.meta.dirname, '../support/download-agent.ts');

let server: FaultServer;
let root: string;
/** The agent bundled once: it starts as plain node, not through tsx. */
let bundledAgent: string;
beforeAll(async () => {
  bundledAgent = await bundled(AGENT);
  server = await createFaultServer();
  root = await mkdtemp(join(tmpdir(), 'otakit-kill-'));
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

function agent(
  onLine: (line: string, kill: () => void) => void,
): Promise<{ code: number | null; lines: string[] }> {
  const child = spawn(process.execPath, [bundledAgent, root, `${server.url}/big.bin`, SHA, String(SIZE)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      onLine(line, () => child.kill('SIGKILL'));
    }
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, lines })));
}

describe('a device agent killed at 50 % of a download', () => {
  it('resumes in a new process from what it made durable, and fetches only the rest', async () => {
    // Throttled so the kill lands mid-body, as it would on a real link; and the server stops sending
    // (socket open) at 75 %, so however late a busy machine delivers the kill, the first process
    // cannot have finished the download before it.
    server.route('/big.bin', {
      body: BODY,
      bytesPerSecond: 40 * 1024 * 1024,
      chunkSize: 256 * 1024,
      stall: { afterBytes: (SIZE * 3) / 4, times: 1 },
    });
    const first = await agent((line, kill) => {
      if (line.startsWith('progress ') && Number(line.slice(9)) >= SIZE / 2) kill();
    });
    expect(first.code).toBeNull(); // killed, not exited
    const sentBeforeKill = server.stats('/big.bin').bytesSent;
    expect(sentBeforeKill).toBeLessThan(SIZE);

    server.update('/big.bin', { bytesPerSecond: 0 });
    const second = await agent(() => {});
    expect(second.code).toBe(0);
    expect(JSON.parse(second.lines.at(-1)!)).toMatchObject({ state: 'committed' });
    const stats = server.stats('/big.bin');
    expect(stats.ranges.at(-1)).toMatch(/^bytes=\d+-$/);
    expect(stats.headers.at(-1)?.['if-range']).toBeDefined();
    console.info(
      `kill at 50 %: ${stats.bytesSent} bytes served for a ${SIZE}-byte artifact (${(stats.bytesSent / SIZE).toFixed(3)}x)`,
    );
    // What the resume cost, asserted exactly rather than as a ratio (which depends on how much
    // sat in socket buffers at the kill, so on machine load): the new process asked for the rest
    // from what it had made durable, a good part of the artifact, and was sent exactly that.
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(stats.ranges.at(-1)!)![1]);
    expect(resumedFrom).toBeGreaterThanOrEqual(SIZE / 4);
    expect(resumedFrom).toBeLessThanOrEqual(sentBeforeKill);
    expect(stats.bytesSent - sentBeforeKill).toBe(SIZE - resumedFrom);
    expect(
      createHash('sha256')
        .update(await readFile(join(root, 'app.bin')))
        .digest('hex'),
    ).toBe(SHA);
  }, 180_000); // only catches a hang
});
