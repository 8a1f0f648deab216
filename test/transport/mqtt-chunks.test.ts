// The MQTT chunk transfer against an aedes broker that answers as ThingsBoard's MQTT transport
// does (test/device/thingsboard-support.ts): whole packages, resumes from held bytes, lost and
// unanswered requests, server errors, corrupt or oversized packages, the broker going down and
// up mid-transfer, and aborts. Timeouts here are short so retries are quick; nothing is timed.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isOtaError } from '../../src/core/errors.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import {
  chunkErrorTopic,
  chunkRequestTopic,
  chunkResponseSubscription,
  encodeChunkRequest,
} from '../../src/protocols/thingsboard/topics.js';
import { MemorySink } from '../../src/transport/download-sink.js';
import {
  downloadMqttChunks,
  type MqttChunkDownloadOptions,
  mqttChunkTopics,
} from '../../src/transport/mqtt-chunks.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { startThingsBoard, type TbEmulator } from '../device/thingsboard-support.js';
import { until } from '../support/system-services.js';

const TOKEN = 'A1_CHUNK_TEST_TOKEN';
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
const FAST = { baseDelayMs: 5, maxDelayMs: 20 };

let tb: TbEmulator;
let connection: MqttConnection;
const body = new Uint8Array(randomBytes(40_000));

beforeAll(async () => {
  tb = await startThingsBoard(TOKEN);
  connection = await connectMqtt(tb.url, { username: TOKEN, reconnect: { initialMs: 20, maxMs: 100 } });
  await tb.assign({ title: 'f', version: '2', bytes: body }, { push: false });
});
afterEach(() => {
  tb.release();
  tb.drop(0);
  tb.maxPayload = 65_536;
});
afterAll(async () => {
  await connection.close();
  await tb.close();
});

function options(extra: Partial<MqttChunkDownloadOptions> = {}): MqttChunkDownloadOptions {
  return {
    connection,
    sink: new MemorySink(),
    chunkSize: 4096,
    chunkTimeoutMs: 5_000,
    retry: FAST,
    ...extra,
  };
}

function requestsOf(requestId: number) {
  return tb.chunkRequests.filter((request) => request.requestId === requestId);
}

describe('downloadMqttChunks', () => {
  it('fetches a package chunk by chunk into the sink, hashed, with the size as payload', async () => {
    const sink = new MemorySink();
    const progress: number[] = [];
    const result = await downloadMqttChunks(
      options({
        sink,
        requestId: 101,
        expected: { size: body.length, sha256: sha256(body), md5: md5(body) },
        onProgress: ({ bytes }) => progress.push(bytes),
      }),
    );
    expect(result).toEqual({
      size: body.length,
      sha256: sha256(body),
      md5: md5(body),
      resumedFrom: 0,
      requests: 10,
    });
    expect(sha256(sink.bytes())).toBe(sha256(body));
    expect(requestsOf(101).map((request) => [request.chunk, request.size])).toEqual(
      Array.from({ length: 10 }, (_, index) => [index, 4096]),
    );
    expect(progress.at(-1)).toBe(body.length);
  });

  it('without a known size, an empty or short chunk ends the package', async () => {
    const sink = new MemorySink();
    const short = await downloadMqttChunks(options({ sink, requestId: 102 }));
    expect(short.size).toBe(body.length);
    expect(sha256(sink.bytes())).toBe(sha256(body));
    // 40 000 = 9 × 4096 + 3136: the tenth chunk is short, so nothing is asked after it.
    expect(requestsOf(102)).toHaveLength(10);

    const exact = await downloadMqttChunks(options({ requestId: 103, chunkSize: 8000 }));
    expect(exact.sha256).toBe(sha256(body));
    // 40 000 = 5 × 8000: the sixth answer is empty.
    expect(requestsOf(103).map((request) => request.chunk)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('resumes after the bytes the sink holds, from any offset, and rebuilds the hashes from them', async () => {
    const sink = new MemorySink();
    await sink.write(body.subarray(0, 5000)); // not a multiple of the chunk size
    const result = await downloadMqttChunks(
      options({ sink, requestId: 104, expected: { size: body.length, sha256: sha256(body) } }),
    );
    expect(result.resumedFrom).toBe(5000);
    expect(result.sha256).toBe(sha256(body));
    expect(sha256(sink.bytes())).toBe(sha256(body));
    // Chunk 1 holds byte 5000: its first 904 bytes are skipped, chunk 0 is never asked for.
    expect(requestsOf(104).map((request) => request.chunk)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const fresh = new MemorySink();
    await fresh.write(new Uint8Array(3000));
    const restarted = await downloadMqttChunks(options({ sink: fresh, requestId: 105, resume: false }));
    expect(restarted.resumedFrom).toBe(0);
    expect(sha256(fresh.bytes())).toBe(sha256(body));
  });

  it('asks again for a chunk whose request or answer was lost', async () => {
    tb.drop(2);
    const result = await downloadMqttChunks(
      options({ requestId: 106, chunkTimeoutMs: 300, expected: { sha256: sha256(body) } }),
    );
    expect(result.sha256).toBe(sha256(body));
    // Two lost, the third answered (a slow machine may time out more: never fewer requests).
    expect(requestsOf(106).filter((request) => request.chunk === 0).length).toBeGreaterThanOrEqual(3);
    expect(result.requests).toBe(requestsOf(106).length);
  });

  it('fails with a retryable TransportError when a chunk never comes within its attempts', async () => {
    tb.hold(2);
    const sink = new MemorySink();
    const error = await downloadMqttChunks(
      options({ sink, requestId: 107, chunkTimeoutMs: 300, retry: { ...FAST, attempts: 3 } }),
    ).catch((thrown: unknown) => thrown);
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect(error).toMatchObject({
      retryable: true,
      message: expect.stringMatching(/chunk 2: no answer after 3 requests/),
    });
    // What arrived stays for the next attempt to resume from.
    expect(await sink.length()).toBe(2 * 4096);
  });

  it('PAYLOAD_TOO_LARGE from the server: a TransportError that is not retried, naming the chunk size', async () => {
    tb.maxPayload = 8192;
    const error = await downloadMqttChunks(options({ requestId: 108, chunkSize: 10_000 })).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toMatchObject({ code: 'TRANSPORT', retryable: false });
    expect((error as Error).message).toMatch(/10000 bytes \(PAYLOAD_TOO_LARGE\)/);
    expect(requestsOf(108)).toHaveLength(1);
  });

  it('a digest mismatch: IntegrityError, and the sink is discarded', async () => {
    const sink = new MemorySink();
    await expect(
      downloadMqttChunks(options({ sink, requestId: 109, expected: { sha256: 'ab'.repeat(32) } })),
    ).rejects.toMatchObject({ code: 'INTEGRITY', algorithm: 'sha256' });
    expect(await sink.length()).toBe(0);
  });

  it('more bytes than the announced size, or fewer: IntegrityError on the size', async () => {
    const larger = new MemorySink();
    await expect(
      downloadMqttChunks(options({ sink: larger, requestId: 110, expected: { size: 30_000 } })),
    ).rejects.toMatchObject({ code: 'INTEGRITY', algorithm: 'size' });
    expect(await larger.length()).toBe(0);
    await expect(
      downloadMqttChunks(options({ requestId: 111, expected: { size: 50_000 } })),
    ).rejects.toMatchObject({ code: 'INTEGRITY', algorithm: 'size', expected: '50000', actual: '40000' });
  });

  it('the broker goes down mid-transfer and comes back: the transfer resumes and completes', async () => {
    tb.hold(3);
    const sink = new MemorySink();
    const download = downloadMqttChunks(
      options({
        sink,
        requestId: 112,
        chunkTimeoutMs: 1_000,
        retry: { ...FAST, attempts: 100 },
        expected: { size: body.length, sha256: sha256(body) },
      }),
    );
    await until(
      () => requestsOf(112).some((request) => request.chunk === 3),
      () => 'the request for chunk 3',
    );
    await tb.stop();
    tb.release();
    await tb.start();
    const result = await download;
    expect(result.sha256).toBe(sha256(body));
    expect(sha256(sink.bytes())).toBe(sha256(body));
    expect(
      requestsOf(112)
        .filter((request) => request.chunk < 3)
        .map((request) => request.chunk),
    ).toEqual([0, 1, 2]);
  });

  it('an abort stops the transfer at once with the abort reason', async () => {
    tb.hold(1);
    const controller = new AbortController();
    const download = downloadMqttChunks(options({ requestId: 113, signal: controller.signal }));
    await until(
      () => requestsOf(113).some((request) => request.chunk === 1),
      () => 'the request for chunk 1',
    );
    controller.abort(new Error('canceled by the test'));
    await expect(download).rejects.toMatchObject({ code: 'ABORTED', message: 'canceled by the test' });
  });

  it('refuses bad options with a CONFIG error naming them', async () => {
    const cases: [Partial<MqttChunkDownloadOptions>, string][] = [
      [{ chunkSize: 0 }, 'chunkSize'],
      [{ chunkSize: 1.5 }, 'chunkSize'],
      [{ requestId: -1 }, 'requestId'],
      [{ chunkTimeoutMs: 0 }, 'chunkTimeoutMs'],
      [{ expected: { size: -1 } }, 'expected.size'],
    ];
    for (const [extra, name] of cases) {
      await expect(downloadMqttChunks(options(extra))).rejects.toMatchObject({
        code: 'CONFIG',
        message: expect.stringContaining(name),
      });
    }
  });

  it("ThingsBoard's topic scheme: v2/fw for firmware, v2/sw for software, as its topics module spells them", () => {
    const firmware = mqttChunkTopics();
    expect(firmware.request(7, 3)).toBe(chunkRequestTopic(7, 3, 'firmware'));
    expect(firmware.responses).toBe(chunkResponseSubscription('firmware'));
    expect(firmware.errors).toBe(chunkErrorTopic('firmware'));
    expect(firmware.parseResponse('v2/fw/response/7/chunk/3')).toEqual({ requestId: 7, index: 3 });
    expect(firmware.parseResponse('v2/sw/response/7/chunk/3')).toBeUndefined();
    expect(firmware.parseResponse('v2/fw/response/7/chunk/x')).toBeUndefined();
    expect(firmware.parseResponse('v2/fw/response/99999999999/chunk/1')).toBeUndefined();
    expect(firmware.requestPayload(16384)).toBe(encodeChunkRequest(16384));
    const software = mqttChunkTopics('v2/sw');
    expect(software.request(7, 0)).toBe(chunkRequestTopic(7, 0, 'software'));
    expect(software.parseResponse('v2/sw/response/7/chunk/0')).toEqual({ requestId: 7, index: 0 });
    expect(() => mqttChunkTopics('v2/#')).toThrow(/prefix/);
  });
});
