/**
 * The management side of the local Murano service: what a back end (the Exosite publisher) uses,
 * with `Authorization: Bearer <management token>`. The device state API is Murano's own
 * (`/api:1/service/<productId>/device2/identity/<identity>/state`: `GET` reads alias →
 * `{ set, reported, timestamp }`, `PATCH` with `{ "<alias>": "<string>" }` sets values), which
 * `exosite.protocol.cloud` speaks; the write feed (`…/device2/events`) is this service's own, in
 * place of Murano's scripting event handler.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FEED_PAGE_LIMIT } from '../../cloud/exosite/feed.js';
import { isAlias } from '../../protocols/exosite/alias.js';
import { LIMITS } from '../../protocols/exosite/limits.js';
import { bearerMatches, type ExositeRequestRecord, readBody, requestTimeoutOf } from './exosite-http.js';
import type { LongPolls } from './exosite-long-poll.js';
import type { DeviceRegistry } from './exosite-registry.js';

/** What the management routes work on. */
export interface ManagementRoutesContext {
  productId: string;
  registry: DeviceRegistry;
  /** SHA-256 of the management token. */
  tokenDigest: Buffer;
  /** Feed long polls, on the product id. */
  feedPolls: LongPolls<void>;
  /** The platform sets a value (long polls and the MQTT mirror follow). */
  set(identity: string, alias: string, value: string): Promise<void>;
}

// Every alias of a PATCH travels in one JSON document.
const PATCH_BYTES = 4 * LIMITS.resourceBytes;

function answer(
  response: ServerResponse,
  record: ExositeRequestRecord,
  status: number,
  body?: unknown,
): void {
  record.status = status;
  if (body === undefined) return void response.writeHead(status).end();
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** The alias → string object of a PATCH body, or `undefined` when it is not one. */
function patchValues(text: string): Record<string, string> | undefined {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return undefined;
  const entries = Object.entries(document);
  if (entries.length === 0 || entries.length > LIMITS.formFields) return undefined;
  const values: Record<string, string> = {};
  for (const [alias, value] of entries) {
    if (!isAlias(alias) || typeof value !== 'string') return undefined;
    if (new TextEncoder().encode(value).length > LIMITS.resourceBytes) return undefined;
    values[alias] = value;
  }
  return values;
}

async function state(
  context: ManagementRoutesContext,
  identity: string,
  request: IncomingMessage,
  response: ServerResponse,
  record: ExositeRequestRecord,
): Promise<void> {
  if (!context.registry.has(identity)) return answer(response, record, 404);
  if (request.method === 'GET') return answer(response, record, 200, context.registry.state(identity));
  if (request.method !== 'PATCH') return answer(response, record, 405);
  let text: string;
  try {
    text = await readBody(request, PATCH_BYTES);
  } catch {
    return answer(response, record, 413);
  }
  const values = patchValues(text);
  if (values === undefined) {
    return answer(response, record, 400, {
      error: 'expected a JSON object of resource alias → string (at most 1 MiB each)',
    });
  }
  for (const [alias, value] of Object.entries(values)) await context.set(identity, alias, value);
  answer(response, record, 204);
}

function feed(
  context: ManagementRoutesContext,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  record: ExositeRequestRecord,
): void {
  if (request.method !== 'GET') {
    answer(response, record, 405);
    return;
  }
  const after = Number(url.searchParams.get('after') ?? '0');
  const limit = Number(url.searchParams.get('limit') ?? String(FEED_PAGE_LIMIT));
  const held = requestTimeoutOf(request, LIMITS.requestTimeoutMs);
  if (
    !Number.isSafeInteger(after) ||
    after < 0 ||
    !Number.isSafeInteger(limit) ||
    limit < 1 ||
    held === null
  ) {
    answer(response, record, 400, { error: 'expected after >= 0, limit >= 1, Request-Timeout in ms' });
    return;
  }
  const page = () => context.registry.feed(after, Math.min(limit, FEED_PAGE_LIMIT));
  const first = page();
  if (first.events.length > 0 || first.gap || held === undefined) {
    answer(response, record, 200, first);
    return;
  }
  context.feedPolls.hold(
    context.productId,
    response,
    held,
    () => answer(response, record, 200, page()),
    () => answer(response, record, 200, page()),
  );
}

/** Answers a management API request; `false` when the path is not the management API's. */
export async function managementRoute(
  context: ManagementRoutesContext,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  record: ExositeRequestRecord,
): Promise<boolean> {
  const prefix = `/api:1/service/${context.productId}/device2/`;
  if (!url.pathname.startsWith('/api:1/')) return false;
  if (!bearerMatches(request, context.tokenDigest)) {
    answer(response, record, 401);
    return true;
  }
  record.authorized = true;
  if (!url.pathname.startsWith(prefix)) {
    answer(response, record, 404);
    return true;
  }
  const rest = url.pathname.slice(prefix.length);
  if (rest === 'events') {
    feed(context, request, response, url, record);
    return true;
  }
  const match = /^identity\/([^/]+)\/state$/.exec(rest);
  if (match === null) {
    answer(response, record, 404);
    return true;
  }
  let identity: string;
  try {
    identity = decodeURIComponent(match[1]!);
  } catch {
    answer(response, record, 400);
    return true;
  }
  record.identity = identity;
  await state(context, identity, request, response, record);
  return true;
}
