/**
 * A throwaway PostgreSQL cluster for one test file: `initdb` into a temp directory, `postgres`
 * on a free loopback port with password (SCRAM) authentication over TCP, stopped and deleted
 * after. PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user
 * (Debian's package creates it); otherwise as the current user. Binaries: `$POSTGRES_BIN`, else
 * the newest `/usr/lib/postgresql/<major>/bin` (Debian), else `initdb` on the PATH.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findSystemBinary, freePorts } from './system-services.js';

export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** `postgres://user:password@127.0.0.1:port/database` (database `postgres` by default). */
  url(database?: string): string;
  /** Stops the server (fast shutdown) and deletes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** The directory holding `initdb` and `postgres`, or undefined when PostgreSQL is not installed. */
export function findPostgresBin(): string | undefined {
  const fromEnv = process.env.POSTGRES_BIN;
  if (fromEnv && existsSync(join(fromEnv, 'initdb'))) return fromEnv;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const majors = readdirSync(debian)
      .filter((entry) => /^\d+$/.test(entry) && existsSync(join(debian, entry, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (majors[0] !== undefined) return join(debian, majors[0], 'bin');
  }
  const initdb = findSystemBinary('initdb', 'POSTGRES_INITDB');
  return initdb === undefined ? undefined : join(initdb, '..');
}

/** As root: the `postgres` user's uid and gid (PostgreSQL will not run as root). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root and there is no "postgres" user to run PostgreSQL as');
  }
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; user: { uid: number; gid: number } | undefined },
) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options.user,
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${output}`)),
    );
  });
}

/** Starts `postgres` and resolves once it accepts connections (rejects with its log if it exits). */
function startServer(
  bin: string,
  data: string,
  port: number,
  directory: string,
  user: ReturnType<typeof runAs>,
  durable: boolean,
) {
  // A throwaway test cluster: durability buys nothing, and fsync on a busy CI disk is slow.
  const fast = ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
  const child = spawn(
    join(bin, 'postgres'),
    [
      ...(durable ? [] : fast),
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      directory,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=60',
    ],
    { cwd: directory, stdio: ['ignore', 'ignore', 'pipe'], ...user },
  );
  let log = '';
  return new Promise<ChildProcess>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk;
      if (log.includes('ready to accept connections')) {
        child.stderr?.off('data', onData);
        child.stderr?.resume(); // keep draining, so the server never blocks on a full pipe
        resolve(child);
      }
    };
    child.stderr?.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`postgres exited ${code} before it was ready:\n${log}`)));
  });
}

export interface StartPostgresOptions {
  /**
   * Keep PostgreSQL's durability settings (fsync, synchronous commit), for benchmarks; tests
   * turn them off, since the cluster is deleted after.
   * @default false
   */
  durable?: boolean;
}

/** Starts a throwaway cluster. Call `findPostgresBin()` first to skip when there is none. */
export async function startPostgres(
  bin = findPostgresBin(),
  options: StartPostgresOptions = {},
): Promise<PostgresServer> {
  if (bin === undefined) throw new Error('PostgreSQL is not installed');
  const user = runAs();
  const directory = await mkdtemp(join(tmpdir(), 'otakit-pg-'));
  if (user) await chown(directory, user.uid, user.gid);
  const password = randomBytes(12).toString('hex');
  const passwordFile = join(directory, 'password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (user) await chown(passwordFile, user.uid, user.gid);
  const data = join(directory, 'data');
  await run(
    join(bin, 'initdb'),
    [
      '-D',
      data,
      '-U',
      'otakit',
      `--pwfile=${passwordFile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '-E',
      'UTF8',
      '--no-locale',
      '--no-sync',
    ],
    { cwd: directory, user },
  );
  let child: ChildProcess | undefined;
  let port = 0;
  // A free port can be taken between looking and binding: try a few.
  for (let attempt = 0; child === undefined; attempt++) {
    [port] = (await freePorts(1)) as [number];
    try {
      child = await startServer(bin, data, port, directory, user, options.durable ?? false);
    } catch (error) {
      if (attempt >= 2) {
        await rm(directory, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const server = child;
  const killOnExit = () => server.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    user: 'otakit',
    password,
    url: (database = 'postgres') => `postgres://otakit:${password}@127.0.0.1:${port}/${database}`,
    stop() {
      stopped ??= (async () => {
        process.off('exit', killOnExit);
        if (server.exitCode === null && server.signalCode === null) {
          const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
          server.kill('SIGINT'); // fast shutdown: ends sessions, no waiting for clients
          const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        await rm(directory, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
