/**
 * `otakit serve <dir>`: the micropython_ota-compatible update server on a release root (what
 * `otakit release` publishes into): GET/HEAD with ETag and Range, optional Basic auth. The
 * password comes from an environment variable, never from the command line.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { usageError } from '../exit-codes.js';
import { parsePort, secretFromEnv } from '../options.js';
import { createOutput } from '../output.js';
import { untilSignalled } from '../signals.js';

interface ServeOptions {
  port: number;
  host: string;
  user?: string;
  passwordEnv?: string;
  basePath?: string;
  log?: boolean;
  json?: boolean;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a micropython_ota release root over HTTP until SIGINT/SIGTERM')
    .argument('<dir>', 'the release root (one directory per project)')
    .option('-p, --port <port>', 'port to listen on (0: any free one)', parsePort, 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--user <name>', 'require HTTP Basic auth with this user name')
    .option('--password-env <VAR>', 'the environment variable holding the Basic auth password')
    .option('--base-path <path>', 'answer under a path prefix (e.g. /ota)')
    .option('--log', 'print one line per request (never a credential)')
    .option('--json', 'print the start line and request lines as JSON')
    .action(async (dir: string, options: ServeOptions) => {
      const root = await stat(dir).catch(() => null);
      if (root === null || !root.isDirectory()) throw usageError(`${dir} is not a directory`);
      if ((options.user === undefined) !== (options.passwordEnv === undefined)) {
        throw usageError('--user and --password-env go together');
      }
      const auth =
        options.user === undefined
          ? undefined
          : { user: options.user, password: secretFromEnv(options.passwordEnv!, '--password-env') };
      const { startMicropythonOtaServer } = await import('../../node/cloud/micropython-ota-server.js');
      const server = await startMicropythonOtaServer({
        root: dir,
        port: options.port,
        host: options.host,
        ...(auth === undefined ? {} : { auth }),
        ...(options.basePath === undefined ? {} : { basePath: options.basePath }),
      });
      const out = createOutput({ json: options.json ?? false });
      if (options.log) {
        server.handler.on('fetch', (event) => {
          if (out.json) out.event({ event: 'fetch', ...event });
          else out.line(`${event.status} ${event.path}${event.version ? ` ${event.version}` : ''}`);
        });
      }
      // Listening before the listening line: a supervisor may signal as soon as it reads it.
      const signalled = untilSignalled();
      if (out.json) out.event({ event: 'listening', url: server.url, auth: auth !== undefined });
      else out.line(`otakit: serving ${dir} at ${server.url}${auth ? ' (Basic auth)' : ''}`);
      await signalled;
      await server.close();
    });
}
