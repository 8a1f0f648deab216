/**
 * The server side of micropython_ota (docs/cloud/micropython-ota.md): a static file server for a
 * root laid out as the reference's README describes, `<root>/<project>/version` and the files
 * of each release as `<version>_<file>` (prefix layout) or `<version>/<file>` (subdirectory
 * layout). It needs no knowledge of the layout: a request path is a file path under the root.
 * `publishRelease` (micropython-ota-publish.ts) lays releases out.
 *
 * - A `node:http` request handler, usable as express or connect middleware (`next` is called
 *   for what it does not serve) and behind `startMicropythonOtaServer`.
 * - Nothing outside the root is served: dot segments, encoded separators, dot files and
 *   symlinks out of the root are refused; directories are never listed.
 * - HTTP Basic auth, for the whole root and/or per project, compared in constant time.
 * - GET and HEAD, `Content-Length`, a strong `ETag`, `If-None-Match` (304), one `Range` (206,
 *   or 416 when unsatisfiable) guarded by `If-Range`, so an agent resumes a broken download.
 * - micropython_ota has no status channel: what the server sees is the status. Every answer is
 *   a `fetch` event (path, status, the tag a `version` file held, the client's address and
 *   user), never with the credentials.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { createMicropythonOtaHandler } from 'otakit/node'
 *
 * const handler = createMicropythonOtaHandler({ root: '/srv/ota', auth: { user: 'otauser', password: process.env.OTA_PASSWORD! } })
 * handler.on('fetch', (event) => console.log(event.remoteAddress, event.path, event.status))
 * createServer(handler).listen(8080)
 * ```
 *
 * @module
 */
import { constants } from 'node:fs';
import { type FileHandle, open, realpath } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { OtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import { DEFAULTS, LIMITS } from '../../protocols/micropython-ota/limits.js';
import { readLocalVersion } from '../../protocols/micropython-ota/version-file.js';
import { errorCode } from '../install/durable-fs.js';
import {
  type CredentialCheck,
  type CredentialsOption,
  credentialCheck,
} from './micropython-ota-basic-auth.js';
import { decideAnswer, validatorsOf } from './micropython-ota-conditional.js';
import {
  isPlainSegment,
  RefusedPathError,
  requestSegments,
  resolveInsideRoot,
} from './micropython-ota-request-path.js';

export type { CredentialsOption, ServerCredentials } from './micropython-ota-basic-auth.js';

export interface MicropythonOtaServerOptions {
  /** The directory that holds one directory per project. */
  root: string;
  /** Credentials every request must carry, unless `projectAuth` names its project. */
  auth?: CredentialsOption;
  /**
   * Credentials per project path (`sample`, `fleet/sample`), in place of `auth` for requests
   * under that project (the longest matching path wins).
   */
  projectAuth?: Readonly<Record<string, CredentialsOption>>;
  /** The realm of the `WWW-Authenticate` challenge. @default 'micropython_ota' */
  realm?: string;
  /**
   * A path prefix the handler answers under (`/ota` serves `/ota/sample/version`). Unneeded
   * under express's `app.use('/ota', handler)`, which strips the prefix itself.
   */
  basePath?: string;
  /**
   * With a `next` (middleware): pass requests it does not serve (not found, other methods) to
   * `next()` instead of answering 404 or 405. Refused paths and failed auth are always answered.
   * @default true
   */
  fallthrough?: boolean;
  /** Receives one debug line per request: method, path, status, user. Never a credential. */
  logger?: Logger;
}

/** What the server saw: one request for a file of the root, and how it was answered. */
export interface FetchEvent {
  method: 'GET' | 'HEAD';
  /** The decoded path under the root, e.g. `/sample/v1.0.1_main.py`. */
  path: string;
  /** `version` for a project's version file (the poll), `file` for anything else. */
  kind: 'version' | 'file';
  status: number;
  /** For a `version` file answered with its content: the tag it held (the release offered). */
  version?: string;
  /** Body bytes sent (planned), 0 for HEAD, 304 and errors. */
  bytes: number;
  remoteAddress: string | undefined;
  /** The Basic auth user the request was accepted for. */
  user?: string;
}

export type FetchListener = (event: FetchEvent) => void;

/** `(req, res, next?)`: a node:http handler and a connect/express middleware. */
export interface MicropythonOtaHandler {
  (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void): void;
  on(event: 'fetch', listener: FetchListener): MicropythonOtaHandler;
  off(event: 'fetch', listener: FetchListener): MicropythonOtaHandler;
}

interface ProjectRule {
  segments: string[];
  check: CredentialCheck;
}

function projectRules(projectAuth: Readonly<Record<string, CredentialsOption>>): ProjectRule[] {
  return Object.entries(projectAuth)
    .map(([project, credentials]) => {
      const segments = project.split('/').filter((segment) => segment !== '');
      if (segments.length === 0 || !segments.every(isPlainSegment)) {
        throw new OtaError(
          'CONFIG',
          `projectAuth: expected project paths of plain names (such as sample or fleet/sample)`,
        );
      }
      return { segments, check: credentialCheck(credentials, `projectAuth[${JSON.stringify(project)}]`) };
    })
    .sort((a, b) => b.segments.length - a.segments.length);
}

function normalBasePath(basePath: string | undefined): string {
  if (basePath === undefined || basePath === '' || basePath === '/') return '';
  if (!basePath.startsWith('/') || /[?#]/.test(basePath)) {
    throw new OtaError('CONFIG', 'basePath: expected a path starting with / (such as /ota)');
  }
  return basePath.replace(/\/+$/, '');
}

/** The first line of a small `version` file, or `undefined`. */
async function tagIn(handle: FileHandle, size: number): Promise<string | undefined> {
  if (size > LIMITS.versionFileBytes) return undefined;
  const buffer = Buffer.alloc(size);
  await handle.read(buffer, 0, size, 0);
  try {
    return readLocalVersion(new Uint8Array(buffer)) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates the request handler.
 *
 * @throws OtaError `CONFIG` naming the option (never a password) when credentials, a project
 *   path or `basePath` are invalid.
 */
export function createMicropythonOtaHandler(options: MicropythonOtaServerOptions): MicropythonOtaHandler {
  if (typeof options?.root !== 'string' || options.root === '') {
    throw new OtaError('CONFIG', 'root: expected the directory that holds the projects');
  }
  const root = resolve(options.root);
  const globalCheck = options.auth === undefined ? undefined : credentialCheck(options.auth, 'auth');
  const rules = projectRules(options.projectAuth ?? {});
  const realm = (options.realm ?? 'micropython_ota').replace(/["\\]/g, '');
  const basePath = normalBasePath(options.basePath);
  const fallthrough = options.fallthrough ?? true;
  const logger = options.logger ?? noopLogger;
  const listeners = new Set<FetchListener>();

  const authFor = (segments: readonly string[]): CredentialCheck | undefined => {
    const rule = rules.find(
      ({ segments: project }) =>
        segments.length > project.length && project.every((segment, index) => segments[index] === segment),
    );
    return rule?.check ?? globalCheck;
  };

  const emit = (event: FetchEvent) => {
    logger.debug('micropython_ota request', {
      method: event.method,
      path: event.path,
      status: event.status,
      ...(event.user === undefined ? {} : { user: event.user }),
    });
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        logger.warn('micropython_ota fetch listener failed', { error: (error as Error)?.name });
      }
    }
  };

  async function serve(
    request: IncomingMessage,
    response: ServerResponse,
    next: ((error?: unknown) => void) | undefined,
  ): Promise<void> {
    const pass = next !== undefined && fallthrough ? next : undefined;
    const method = request.method;
    if (method !== 'GET' && method !== 'HEAD') {
      if (pass) return pass();
      response.writeHead(405, { allow: 'GET, HEAD', 'content-length': '0' }).end();
      return;
    }
    const notFound = () => {
      if (pass) return pass();
      response
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
        .end(method === 'GET' ? 'Not Found\n' : undefined);
    };

    let target = request.url ?? '/';
    if (basePath !== '') {
      if (target !== basePath && !target.startsWith(`${basePath}/`) && !target.startsWith(`${basePath}?`)) {
        return notFound();
      }
      target = target.slice(basePath.length) || '/';
    }
    let segments: string[];
    try {
      segments = requestSegments(target);
    } catch (error) {
      if (!(error instanceof RefusedPathError)) throw error;
      if (error.message === 'no file named') return notFound();
      response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('Bad Request\n');
      logger.debug('micropython_ota request refused', { method, reason: error.message, status: 400 });
      return;
    }

    const path = `/${segments.join('/')}`;
    const kind = segments.at(-1) === DEFAULTS.versionFile && segments.length > 1 ? 'version' : 'file';
    const event: FetchEvent = {
      method,
      path,
      kind,
      status: 0,
      bytes: 0,
      remoteAddress: request.socket?.remoteAddress,
    };
    const check = authFor(segments);
    if (check !== undefined) {
      const user = check.check(request.headers.authorization);
      if (user === null) {
        response
          .writeHead(401, {
            'www-authenticate': `Basic realm="${realm}", charset="UTF-8"`,
            'content-type': 'text/plain; charset=utf-8',
          })
          .end(method === 'GET' ? 'Unauthorized\n' : undefined);
        return emit({ ...event, status: 401 });
      }
      event.user = user;
    }

    let realRoot: string;
    try {
      realRoot = await realpath(root);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      emit({ ...event, status: 404 });
      return notFound();
    }
    const file = await resolveInsideRoot(realRoot, segments);
    let handle: FileHandle | undefined;
    if (file !== null) {
      try {
        handle = await open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
      } catch (error) {
        const code = errorCode(error);
        if (code !== 'ENOENT' && code !== 'ELOOP' && code !== 'EISDIR' && code !== 'EACCES') throw error;
      }
    }
    const stats = await handle?.stat().catch(async (error: unknown) => {
      await handle?.close();
      throw error;
    });
    if (handle === undefined || stats === undefined || !stats.isFile()) {
      await handle?.close();
      emit({ ...event, status: 404 });
      return notFound();
    }

    try {
      const validators = validatorsOf(stats);
      const answer = decideAnswer(request.headers, stats.size, validators);
      const headers: Record<string, string> = {
        etag: validators.etag,
        'last-modified': validators.lastModified,
        'accept-ranges': 'bytes',
        'x-content-type-options': 'nosniff',
        // The poll must always reach the server; a release's files may be cached.
        ...(kind === 'version' ? { 'cache-control': 'no-cache' } : {}),
      };
      if (kind === 'version' && (answer.status === 200 || answer.status === 206)) {
        const version = await tagIn(handle, stats.size);
        if (version !== undefined) event.version = version;
      }
      if (answer.status === 304) {
        response.writeHead(304, headers).end();
        return emit({ ...event, status: 304 });
      }
      if (answer.status === 416) {
        response.writeHead(416, { ...headers, 'content-range': `bytes */${stats.size}` }).end();
        return emit({ ...event, status: 416 });
      }
      const length = stats.size === 0 ? 0 : answer.end - answer.start + 1;
      response.writeHead(answer.status, {
        ...headers,
        'content-type': kind === 'version' ? 'text/plain; charset=utf-8' : 'application/octet-stream',
        'content-length': String(length),
        ...(answer.status === 206
          ? { 'content-range': `bytes ${answer.start}-${answer.end}/${stats.size}` }
          : {}),
      });
      emit({ ...event, status: answer.status, bytes: method === 'GET' ? length : 0 });
      if (method === 'HEAD' || length === 0) {
        response.end();
        return;
      }
      const stream = handle.createReadStream({ start: answer.start, end: answer.end, autoClose: false });
      // A client that goes away mid-body ends the pipeline with an error: nothing to answer.
      await pipeline(stream, response).catch(() => response.destroy());
    } finally {
      await handle.close();
    }
  }

  const handler = ((request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void) => {
    serve(request, response, next).catch((error: unknown) => {
      logger.warn('micropython_ota request failed', { code: errorCode(error) ?? (error as Error)?.name });
      if (next) return next(error);
      if (!response.headersSent) response.writeHead(500, { 'content-length': '0' }).end();
      else response.destroy();
    });
  }) as MicropythonOtaHandler;
  handler.on = (_event, listener) => {
    listeners.add(listener);
    return handler;
  };
  handler.off = (_event, listener) => {
    listeners.delete(listener);
    return handler;
  };
  return handler;
}

export interface StartMicropythonOtaServerOptions extends MicropythonOtaServerOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' (put it behind a TLS proxy, docs/cloud/micropython-ota.md) */
  host?: string;
}

export interface StartedMicropythonOtaServer {
  /** `http://<host>:<port>`: the devices' `target.host`. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly handler: MicropythonOtaHandler;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Listens with the handler on its own `node:http` server. */
export async function startMicropythonOtaServer(
  options: StartMicropythonOtaServerOptions,
): Promise<StartedMicropythonOtaServer> {
  const { port = 0, host = '127.0.0.1', ...handlerOptions } = options;
  const handler = createMicropythonOtaHandler(handlerOptions);
  const server = createServer(handler);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    server,
    handler,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}
