/**
 * The stand-in for the web server of a micropython_ota project, for the quick start of
 * docs/agents/micropython-ota.md: a loopback server with release v1.0.1 of the project `sample`
 * in the prefix layout (`sample/version`, `sample/v1.0.1_main.py`). In production the agent's
 * `target.host` is your Apache, nginx or any static web server.
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ReleaseServer {
  /** `http://127.0.0.1:<port>`: the agent's `target.host`. */
  host: string;
  /** A fresh directory for the device's files and the agent's state. */
  deviceDirectory: string;
  close(): Promise<void>;
}

export async function startReleaseServer(): Promise<ReleaseServer> {
  const files: Record<string, string> = {
    '/sample/version': 'v1.0.1\n',
    '/sample/v1.0.1_main.py': 'print("hi")\n',
  };
  const server = createServer((request, response) => {
    const body = files[request.url ?? ''];
    response.writeHead(body === undefined ? 404 : 200).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    host: `http://127.0.0.1:${port}`,
    deviceDirectory: await mkdtemp(join(tmpdir(), 'device-')),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
