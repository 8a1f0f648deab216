/**
 * Debian's mosquitto on a free loopback port for a test file: anonymous, no persistence, MQTT 3.1.1
 * and 5 on one listener. `undefined` when mosquitto is not installed (the caller skips locally and
 * fails in CI, see system-services.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findSystemBinary, freePorts } from './system-services.js';

export const MOSQUITTO = findSystemBinary('mosquitto', 'MOSQUITTO_PATH');

export interface LoopbackMosquitto {
  url: string;
  close(): Promise<void>;
}

/** Starts mosquitto and waits until it accepts connections; `extraConfig` lines are appended. */
export async function startLoopbackMosquitto(
  extraConfig: readonly string[] = [],
): Promise<LoopbackMosquitto | undefined> {
  if (MOSQUITTO === undefined) return undefined;
  const directory = await mkdtemp(join(tmpdir(), 'otakit-mosquitto-'));
  const [port] = await freePorts(1);
  const config = join(directory, 'mosquitto.conf');
  await writeFile(
    config,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'set_tcp_nodelay true',
      ...extraConfig,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const socket = netConnect(port!, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  const deadline = Date.now() + 15_000;
  while (!(await accepts())) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`mosquitto did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
      await rm(directory, { recursive: true, force: true });
    },
  };
}
