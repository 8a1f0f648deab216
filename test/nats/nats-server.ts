/**
 * A real `nats-server` (Debian's, /usr/sbin/nats-server, or NATS_SERVER_PATH) on a loopback port,
 * for the NATS channel and Connhex agent tests: started, stopped and started again on the same
 * port (the client's reconnect), with an optional config file (users and permissions).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { findSystemBinary, freePorts, sleep } from '../support/system-services.js';

export const NATS_SERVER = findSystemBinary('nats-server', 'NATS_SERVER_PATH');
export const NATS_MISSING =
  'no nats-server on PATH or in /usr/sbin (install it with `apt-get install nats-server`, or set NATS_SERVER_PATH)';

/** Whether a NATS server answers on `port`: it greets every client with an `INFO {…}` line. */
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

export interface NatsUser {
  user: string;
  pass: string;
}

export class NatsServer {
  #child: ChildProcess | undefined;
  #output = '';

  private constructor(
    readonly port: number,
    private readonly args: string[],
  ) {}

  /** `nats://127.0.0.1:<port>` */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /**
   * Starts a server on a free port; with `users`, only they may connect, and `config` replaces
   * the configuration (both written to a file in `directory`). Tries another port if the one
   * picked was taken meanwhile.
   */
  static async start(options: {
    directory: string;
    users?: NatsUser[];
    /** A whole configuration of its own (accounts, imports…) for the port picked. */
    config?: (port: number) => string;
  }): Promise<NatsServer> {
    for (let attempt = 1; ; attempt++) {
      const [port] = (await freePorts(1)) as [number];
      let args = ['-a', '127.0.0.1', '-p', String(port)];
      if (options.config !== undefined) {
        const file = join(options.directory, `nats-${port}.conf`);
        await writeFile(file, options.config(port), { mode: 0o600 });
        args = ['-c', file];
      } else if (options.users !== undefined) {
        const file = join(options.directory, `nats-${port}.conf`);
        const users = options.users.map((u) => `    { user: "${u.user}", password: "${u.pass}" }`);
        await writeFile(
          file,
          [`listen: "127.0.0.1:${port}"`, 'authorization {', '  users = [', ...users, '  ]', '}', ''].join(
            '\n',
          ),
          { mode: 0o600 },
        );
        args = ['-c', file];
      }
      const server = new NatsServer(port, args);
      try {
        await server.start();
        return server;
      } catch (error) {
        await server.stop();
        if (attempt === 3 || !/in use/i.test(server.#output)) throw error;
      }
    }
  }

  /** Starts (again) on the same port; resolves once it greets a TCP client. */
  async start(): Promise<void> {
    const child = spawn(NATS_SERVER!, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let failure: Error | undefined;
    child.once('error', (error) => {
      failure = error;
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        this.#output += chunk;
      });
    }
    const deadline = Date.now() + 10_000;
    while (!(await greets(this.port))) {
      if (failure || child.exitCode !== null || child.signalCode !== null) {
        await sleep(20);
        throw new Error(`nats-server exited before it accepted connections:\n${this.#output}`);
      }
      if (Date.now() > deadline)
        throw new Error(`nats-server did not greet on ${this.port}:\n${this.#output}`);
      await sleep(10);
    }
  }

  /** Stops it (SIGTERM, then SIGKILL after 2 s) and waits until it is gone. */
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
