/**
 * For the Connhex cloud tests: a real nats-server laid out as a Connhex back end meets its edges.
 * Each edge is an account of its own whose `heartbeat.ota.service` (the subject every OTA addon
 * publishes on) is imported by the cloud account as `edges.<initId>.heartbeat.ota.service`, the
 * way a leaf node or an account import gives each edge a subject of its own; the cloud then
 * watches every edge with one subscription, `edges.*.heartbeat.ota.service`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { NATS_SERVER } from '../nats/nats-server.js';
import { freePorts, sleep } from '../support/system-services.js';

export const EDGE_SUBJECTS = 'edges.*.heartbeat.ota.service';
export const edgeSubject = (initId: string) => `edges.${initId}.heartbeat.ota.service`;

/** The NATS login of an edge or of the cloud service. */
export interface NatsLogin {
  user: string;
  pass: string;
}

function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('INFO ')));
    socket.once('error', () => done(false));
  });
}

export class EdgeAccountsNats {
  #child: ChildProcess | undefined;
  #output = '';

  private constructor(
    readonly port: number,
    readonly file: string,
    readonly edges: readonly string[],
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** The login of edge `initId` (one of those the server was started with). */
  edge(initId: string): NatsLogin {
    if (!this.edges.includes(initId)) throw new Error(`no NATS account for ${initId}`);
    return { user: initId, pass: `pw-${initId}` };
  }

  get cloud(): NatsLogin {
    return { user: 'cloud', pass: 'pw-cloud' };
  }

  static async start(directory: string, edges: readonly string[]): Promise<EdgeAccountsNats> {
    for (let attempt = 1; ; attempt++) {
      const [port] = (await freePorts(1)) as [number];
      const file = join(directory, `nats-edges-${port}.conf`);
      const server = new EdgeAccountsNats(port, file, edges);
      const accounts = edges.map(
        (edge) =>
          `  "EDGE_${edge}" { users: [{ user: "${edge}", password: "pw-${edge}" }], exports: [{ stream: "heartbeat.ota.service" }] }`,
      );
      const imports = edges.map(
        (edge) =>
          `    { stream: { account: "EDGE_${edge}", subject: "heartbeat.ota.service" }, to: "${edgeSubject(edge)}" }`,
      );
      const config = [
        `listen: "127.0.0.1:${port}"`,
        'accounts {',
        ...accounts,
        '  CLOUD {',
        '    users: [{ user: "cloud", password: "pw-cloud" }]',
        '    imports: [',
        ...imports,
        '    ]',
        '  }',
        '}',
        '',
      ].join('\n');
      await writeFile(file, config, { mode: 0o600 });
      try {
        await server.start();
        return server;
      } catch (error) {
        await server.stop();
        if (attempt === 3 || !/in use/i.test(server.#output)) throw error;
      }
    }
  }

  async start(): Promise<void> {
    const child = spawn(NATS_SERVER!, ['-c', this.file], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        this.#output += chunk;
      });
    }
    const deadline = Date.now() + 10_000;
    while (!(await greets(this.port))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`nats-server exited before it accepted connections:\n${this.#output}`);
      }
      if (Date.now() > deadline)
        throw new Error(`nats-server did not greet on ${this.port}:\n${this.#output}`);
      await sleep(10);
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  }
}
