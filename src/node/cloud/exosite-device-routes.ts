/**
 * The device side of the local Murano service, as a device sees `<productId>.m2.exosite.io`
 * (docs/protocols/exosite.md, "HTTP device API"): activation, resource writes, reads and long
 * polls on `/onep:v1/stack/alias` with `X-Exosite-CIK`, the server clock, and the connector
 * content API. Form bodies in and out; a body over its limit is `413`, a malformed one `400`.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isOtaError } from '../../core/errors.js';
import { decodeForm, encodeForm } from '../../protocols/exosite/form.js';
import { ALIAS_PATH, FORM_CONTENT_TYPE } from '../../protocols/exosite/http.js';
import { LIMITS } from '../../protocols/exosite/limits.js';
import type { ContentArea } from './exosite-content.js';
import { type ExositeRequestRecord, readBody, requestTimeoutOf } from './exosite-http.js';
import type { LongPolls } from './exosite-long-poll.js';
import type { DeviceRegistry } from './exosite-registry.js';

/** A value a long poll answers, with its `Last-Modified` (ms). */
export interface PolledValue {
  value: string;
  atMs: number;
}

/** What the device routes work on. */
export interface DeviceRoutesContext {
  productId: string;
  registry: DeviceRegistry;
  content: ContentArea;
  /** Long polls on `<identity>\n<alias>`. */
  polls: LongPolls<PolledValue>;
  /** Per identity: the next long poll answers this instead (a proxy replaying an old answer). */
  replays: Map<string, PolledValue>;
  /** Tokens handed out at activation instead of new ones (devices given a token and activation). */
  preIssued: Map<string, string>;
}

/** The key of a device's resource in {@link DeviceRoutesContext.polls}. */
export const pollKey = (identity: string, alias: string): string => `${identity}\n${alias}`;

function sinceMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (/^\d{1,12}$/.test(header.trim())) return Number(header.trim()) * 1000;
  const parsed = Date.parse(header);
  return Number.isNaN(parsed) ? undefined : parsed;
}

function answer(response: ServerResponse, record: ExositeRequestRecord, status: number): void {
  record.status = status;
  response.writeHead(status).end();
}

function answerForm(
  response: ServerResponse,
  record: ExositeRequestRecord,
  values: Record<string, string>,
  atMs: number | undefined,
): void {
  if (Object.keys(values).length === 0) {
    answer(response, record, 204);
    return;
  }
  record.status = 200;
  response.writeHead(200, {
    'content-type': FORM_CONTENT_TYPE,
    ...(atMs === undefined ? {} : { 'last-modified': new Date(atMs).toUTCString() }),
  });
  response.end(encodeForm(values));
}

/** A form body, or `undefined` after answering `400`/`413` for it. */
async function formOf(
  request: IncomingMessage,
  response: ServerResponse,
  record: ExositeRequestRecord,
): Promise<Record<string, string> | undefined> {
  let text: string;
  try {
    text = await readBody(request, LIMITS.formBytes);
  } catch {
    answer(response, record, 413);
    return undefined;
  }
  try {
    return decodeForm(text);
  } catch (error) {
    if (!isOtaError(error)) throw error;
    answer(response, record, 400);
    return undefined;
  }
}

/** What the device reads of its resources: what the platform set (an empty value is no value). */
function readValues(context: DeviceRoutesContext, identity: string, aliases: string[]) {
  const values: Record<string, string> = {};
  let atMs: number | undefined;
  for (const alias of aliases.slice(0, LIMITS.formFields)) {
    const resource = context.registry.resource(identity, alias);
    const value = resource?.set ?? resource?.reported;
    if (value === undefined || value === '') continue;
    values[alias] = value;
    atMs = Math.max(atMs ?? 0, resource?.setAtMs ?? Math.floor((resource?.timestamp ?? 0) / 1000));
  }
  return { values, atMs };
}

async function alias(
  context: DeviceRoutesContext,
  identity: string,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  record: ExositeRequestRecord,
): Promise<void> {
  const aliases = [...url.searchParams.keys()];
  if (request.method === 'POST') {
    const values = await formOf(request, response, record);
    if (values === undefined) return;
    if (Object.keys(values).length > 0) await context.registry.report(identity, values);
    if (aliases.length === 0) return answer(response, record, 204);
    // A hybrid write and read.
    const read = readValues(context, identity, aliases);
    return answerForm(response, record, read.values, read.atMs);
  }
  if (request.method !== 'GET') return answer(response, record, 405);
  const held = requestTimeoutOf(request, LIMITS.requestTimeoutMs);
  if (held === null) return answer(response, record, 400);
  if (held === undefined) {
    const read = readValues(context, identity, aliases);
    return answerForm(response, record, read.values, read.atMs);
  }
  // A long poll watches one alias.
  const watched = aliases[0];
  if (watched === undefined || aliases.length !== 1) return answer(response, record, 400);
  const replay = context.replays.get(identity);
  if (replay !== undefined) {
    context.replays.delete(identity);
    return answerForm(response, record, { [watched]: replay.value }, replay.atMs);
  }
  const since = sinceMs(request.headers['if-modified-since']);
  const resource = context.registry.resource(identity, watched);
  if (since !== undefined && resource?.set !== undefined && (resource.setAtMs ?? 0) > since) {
    return answerForm(response, record, { [watched]: resource.set }, resource.setAtMs);
  }
  // Held until the platform sets the alias, or Request-Timeout; without If-Modified-Since it
  // waits for the next change, as Murano's does.
  context.polls.hold(
    pollKey(identity, watched),
    response,
    held,
    ({ value, atMs }) => {
      record.status = 200;
      response.writeHead(200, {
        'content-type': FORM_CONTENT_TYPE,
        'last-modified': new Date(atMs).toUTCString(),
      });
      response.end(encodeForm({ [watched]: value }));
    },
    () => answer(response, record, 304),
  );
}

async function activate(
  context: DeviceRoutesContext,
  request: IncomingMessage,
  response: ServerResponse,
  record: ExositeRequestRecord,
): Promise<void> {
  const form = await formOf(request, response, record);
  if (form === undefined) return;
  const product = form.vendor === context.productId && form.model === context.productId;
  const identity = form.sn;
  const preIssued = identity === undefined ? undefined : context.preIssued.get(identity);
  const result =
    product && identity !== undefined
      ? await context.registry.activate(identity, preIssued === undefined ? undefined : () => preIssued)
      : 'unknown';
  if (result === 'unknown') return answer(response, record, 404);
  if (result === 'refused') return answer(response, record, 409);
  record.status = 200;
  record.identity = identity as string;
  response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(result);
}

/** Answers a device API request; `false` when the path is not the device API's. */
export async function deviceRoute(
  context: DeviceRoutesContext,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  record: ExositeRequestRecord,
): Promise<boolean> {
  const path = url.pathname;
  if (path === '/provision/activate' && request.method === 'POST') {
    await activate(context, request, response, record);
    return true;
  }
  if (path !== ALIAS_PATH && path !== '/provision/download' && path !== '/timestamp') return false;
  const cik = request.headers['x-exosite-cik'];
  const identity = context.registry.authenticate(typeof cik === 'string' ? cik : undefined);
  if (identity === undefined) {
    answer(response, record, 401);
    return true;
  }
  record.authorized = true;
  record.identity = identity;
  if (path === ALIAS_PATH) await alias(context, identity, request, response, url, record);
  else if (path === '/timestamp') {
    record.status = 200;
    response.writeHead(200, { 'content-type': 'text/plain' }).end(String(Math.floor(Date.now() / 1000)));
  } else if (request.method !== 'GET') answer(response, record, 405);
  else if (url.searchParams.get('vendor') !== context.productId) answer(response, record, 404);
  else record.status = context.content.serve(request, response, url);
  return true;
}
