/**
 * The stand-in for a micropython_ota web server, for the generic agent of docs/agents/README.md:
 * otakit's loopback test server (`createFaultServer` of `otakit/testing`) with release 1.0.1 of
 * the project `app` in the prefix layout (`app/version`, `app/1.0.1_main.py`). In production the
 * agent's `target.host` is the web server (Apache, nginx…) of your project, or, with another
 * protocol, that platform's endpoint.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFaultServer } from 'otakit/testing';

export interface WebServer {
  /** `http://127.0.0.1:<port>`: the agent's `target.host`. */
  host: string;
  /** A fresh directory for the device's files and the agent's state. */
  deviceDirectory: string;
  close(): Promise<void>;
}

export async function startWebServer(): Promise<WebServer> {
  const server = await createFaultServer();
  server.route('/app/version', { body: new TextEncoder().encode('1.0.1\n') });
  server.route('/app/1.0.1_main.py', { body: new TextEncoder().encode('print("1.0.1")\n') });
  return {
    host: server.url,
    deviceDirectory: await mkdtemp(join(tmpdir(), 'agent-')),
    close: () => server.close(),
  };
}
