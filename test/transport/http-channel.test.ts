/**
 * The HTTP channel against a real loopback server: what a response becomes, and every way an
 * exchange can fail, each a typed error that names no credential.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpChannel, isOtaError } from '../../src/index.js';

let base: string;
const seen: IncomingMessage[] = [];
const server = createServer((request: IncomingMessage, response: ServerResponse) => {
  seen.push(request);
  const url = new URL(request.url ?? '/', 'http://x');
  if (url.pathname === '/hang') return; // never answers
  if (url.pathname === '/big') {
    response.writeHead(200);
    response.end(Buffer.alloc(4096, 0x61));
    return;
  }
  if (url.pathname === '/held') {
    setTimeout(() => response.writeHead(304).end(), Number(request.headers['request-timeout']));
    return;
  }
  let body = '';
  request.on('data', (chunk: Buffer) => {
    body += chunk.toString();
  });
  request.on('end', () => {
    response.writeHead(201, {
      'X-Echo-Method': request.method ?? '',
      'Last-Modified': 'Tue, 01 Dec 2026 10:00:00 GMT',
    });
    response.end(request.method === 'HEAD' ? undefined : `${request.method} ${body}`);
  });
});

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('httpChannel', () => {
  it('sends the method, headers and body, resolves relative addresses, and lower-cases response headers', async () => {
    const channel = httpChannel({ baseUrl: base, headers: { 'x-device': 'gw-7' } });
    const answer = await channel.send({
      channel: 'http',
      address: '/status',
      payload: 'state=ok',
      method: 'PUT',
    });
    expect(answer).toMatchObject({ address: `${base}/status`, status: 201, payload: 'PUT state=ok' });
    expect(answer.headers?.['x-echo-method']).toBe('PUT');
    expect(answer.headers?.['last-modified']).toBe('Tue, 01 Dec 2026 10:00:00 GMT');
    expect(seen.at(-1)?.headers['x-device']).toBe('gw-7');
    // No payload: a GET by default; HEAD reads no body.
    expect((await channel.send({ channel: 'http', address: '/x', payload: '' })).payload).toBe('GET ');
    expect(
      (await channel.send({ channel: 'http', address: '/x', payload: '', method: 'HEAD' })).payload,
    ).toBe('');
  });

  it('refuses a body over maxBodyBytes with a typed error instead of buffering it', async () => {
    const channel = httpChannel({ maxBodyBytes: 1024 });
    const error = await channel
      .send({ channel: 'http', address: `${base}/big`, payload: '' })
      .catch((e: unknown) => e);
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect((error as Error).message).toMatch(/over 1024 bytes/);
  });

  it('gives up on a server that never answers (retryable), naming no credential of the URL', async () => {
    const channel = httpChannel({ timeoutMs: 300 });
    const error = await channel
      .send({
        channel: 'http',
        address: `${base}/hang?token=key-secret&x=1`,
        payload: '',
      })
      .catch((e: unknown) => e);
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(true);
    expect((error as Error).message).toMatch(/no answer within 300 ms/);
    expect((error as Error).message).not.toContain('key-secret');
    // A protocol's own parameter names (insigh.io's `dk`) are masked when its secrets are given.
    const insighIoLike = httpChannel({
      timeoutMs: 300,
      secrets: { queryParameters: ['dk'], headers: [], paths: [] },
    });
    const named = await insighIoLike
      .send({ channel: 'http', address: `${base}/hang?dk=dk-secret`, payload: '' })
      .catch((e: unknown) => e);
    expect((named as Error).message).not.toContain('dk-secret');
    // fetch refuses user info in a URL; its own message would quote the URL, ours does not.
    const withUserInfo = await channel
      .send({
        channel: 'http',
        address: `http://user:pass-secret@127.0.0.1:${new URL(base).port}/x`,
        payload: '',
      })
      .catch((e: unknown) => e);
    expect(isOtaError(withUserInfo, 'TRANSPORT')).toBe(true);
    expect((withUserInfo as Error).message).not.toContain('pass-secret');
  });

  it('waits a long poll out: the budget grows by the Request-Timeout the request asks for', async () => {
    const channel = httpChannel({ timeoutMs: 300 });
    const answer = await channel.send({
      channel: 'http',
      address: `${base}/held`,
      payload: '',
      headers: { 'request-timeout': '600' },
    });
    expect(answer.status).toBe(304);
  });

  it('rejects a refused connection as retryable, an abort as ABORTED, and a relative address without baseUrl as CONFIG', async () => {
    const channel = httpChannel();
    const refused = await channel
      .send({ channel: 'http', address: 'http://127.0.0.1:1/x', payload: '' })
      .catch((e: unknown) => e);
    expect(isOtaError(refused, 'TRANSPORT')).toBe(true);
    expect((refused as { retryable: boolean }).retryable).toBe(true);
    const controller = new AbortController();
    const pending = channel.send(
      { channel: 'http', address: `${base}/hang`, payload: '' },
      { signal: controller.signal },
    );
    controller.abort();
    expect(isOtaError(await pending.catch((e: unknown) => e), 'ABORTED')).toBe(true);
    const relative = await channel
      .send({ channel: 'http', address: '/x', payload: '' })
      .catch((e: unknown) => e);
    expect(isOtaError(relative, 'CONFIG')).toBe(true);
    const wrongKind = await channel
      .send({ channel: 'mqtt', address: 'a/b', payload: '' })
      .catch((e: unknown) => e);
    expect(isOtaError(wrongKind, 'CONFIG')).toBe(true);
  });
});
