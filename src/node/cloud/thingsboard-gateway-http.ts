/**
 * The HTTP side of the local ThingsBoard device gateway: the parts of ThingsBoard's HTTP device
 * API an OTA device uses. `GET /api/v1/<token>/firmware?title=&version=[&size=&chunk=]` (and
 * `/software`) returns the assigned package, or one chunk of it; `POST /api/v1/<token>/telemetry`
 * takes telemetry, as `v1/devices/me/telemetry` does. An unknown token is 401, a package that is
 * not the device's 404. The token is a path segment: request URLs are never logged.
 *
 * @module
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { PackageType } from '../../protocols/thingsboard/keys.js';
import type { ThingsBoardDeviceGateway } from './thingsboard-device-gateway.js';

const ROUTE = /^\/api\/v1\/([^/]+)\/(firmware|software|telemetry)$/;
/** Largest telemetry body taken (ThingsBoard's default is 64 KiB as well). */
const MAX_TELEMETRY_BYTES = 65_536;

function answer(response: ServerResponse, status: number, body?: Uint8Array | string): void {
  const bytes =
    body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  response.writeHead(status, {
    'content-length': String(bytes?.length ?? 0),
    ...(typeof body === 'string' ? { 'content-type': 'text/plain' } : {}),
    ...(body instanceof Uint8Array ? { 'content-type': 'application/octet-stream' } : {}),
  });
  response.end(bytes);
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    request.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) {
        resolve(undefined);
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** A non-negative integer query parameter, `undefined` when absent, `null` when malformed. */
function integerParam(url: URL, name: string): number | undefined | null {
  const text = url.searchParams.get(name);
  if (text === null) return undefined;
  return /^\d{1,10}$/.test(text) ? Number(text) : null;
}

/**
 * A request listener for `http.createServer`: the gateway's HTTP device API.
 *
 * @example
 * ```ts
 * createServer(thingsBoardGatewayHttpHandler(gateway)).listen(8080)
 * ```
 */
export function thingsBoardGatewayHttpHandler(gateway: ThingsBoardDeviceGateway): RequestListener {
  return (request, response) => {
    void handle(gateway, request, response).catch(() => {
      if (!response.headersSent) answer(response, 500);
      else response.destroy();
    });
  };
}

async function handle(
  gateway: ThingsBoardDeviceGateway,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://gateway');
  const route = ROUTE.exec(url.pathname);
  if (route === null) return answer(response, 404);
  const device = gateway.deviceOfToken(decodeURIComponent(route[1] as string));
  if (device === undefined) return answer(response, 401);
  if (route[2] === 'telemetry') {
    if (request.method !== 'POST') return answer(response, 405);
    const body = await readBody(request, MAX_TELEMETRY_BYTES);
    if (body === undefined) return answer(response, 413);
    gateway.receiveTelemetry(device.deviceId, new Uint8Array(body));
    return answer(response, 200);
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') return answer(response, 405);
  const type: PackageType = route[2] === 'firmware' ? 'firmware' : 'software';
  const pkg = await gateway.assignedPackage(device.deviceId, type);
  if (
    pkg === undefined ||
    url.searchParams.get('title') !== pkg.title ||
    url.searchParams.get('version') !== pkg.version
  ) {
    return answer(response, 404);
  }
  const size = integerParam(url, 'size');
  const chunk = integerParam(url, 'chunk');
  if (size === null || chunk === null) return answer(response, 400);
  const bytes =
    size === undefined || size === 0
      ? pkg.data
      : pkg.data.subarray(Math.min((chunk ?? 0) * size, pkg.data.length), ((chunk ?? 0) + 1) * size);
  if (request.method === 'HEAD') {
    response.writeHead(200, { 'content-length': String(bytes.length) });
    return void response.end();
  }
  answer(response, 200, bytes);
}
