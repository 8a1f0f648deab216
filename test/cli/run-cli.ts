/**
 * Runs the `otakit` command as a subprocess, as users do. The built binary (dist/cli/main.js)
 * when it exists and is newer than every file of src/ (CI builds before testing; the CLI's chunks
 * hold code from all of src/); otherwise src/cli/main.ts bundled once per test process with
 * esbuild (test/support/bundle.ts), which starts as plain node: a third of the CPU of starting it
 * through tsx, for each of the ~100 commands these tests run. `runCli` waits for the exit;
 * `startCli` returns the running process for long-running commands (serve, shadow-service,
 * watch), to read lines from and signal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bundled } from '../support/bundle.js';

const ROOT = join(import.meta.dirname, '../..');
const BUILT = join(ROOT, 'dist/cli/main.js');
const SOURCE = join(ROOT, 'src/cli/main.ts');

function newestIn(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const FRESH_BUILD = existsSync(BUILT) && statSync(BUILT).mtimeMs > newestIn(join(ROOT, 'src'));

export const CLI_MODE: 'built' | 'bundled' = FRESH_BUILD ? 'built' : 'bundled';

/** The script `node` runs to start the CLI. */
const ENTRY = FRESH_BUILD ? BUILT : await bundled(SOURCE);

/** `node` and the arguments that start the CLI. */
export function cliCommand(): string[] {
  return [ENTRY];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  cwd?: string;
}

function spawnCli(args: readonly string[], options: CliOptions): ChildProcess {
  return spawn(process.execPath, [...cliCommand(), ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `otakit <args>` to its end. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface RunningCli {
  child: ChildProcess;
  /** Everything printed so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the first stdout line matching `pattern` (rejects if the process ends first). */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` and resolves with the exit code and output. */
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
  /** Resolves once it exits by itself. */
  exited(): Promise<CliResult>;
}

export function startCli(args: readonly string[], options: CliOptions = {}): RunningCli {
  const child = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
    notify();
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const closed = new Promise<CliResult>((resolve) => {
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
      notify();
    });
  });
  let ended = false;
  void closed.then(() => {
    ended = true;
  });
  return {
    child,
    output: () => ({ stdout, stderr }),
    line(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = stdout.split('\n').find((line) => pattern.test(line));
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (ended) {
            done();
            reject(new Error(`otakit exited before printing ${pattern}:\n${stdout}\n${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`otakit printed no ${pattern} in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGINT') {
      if (!ended) child.kill(signal);
      return closed;
    },
    exited: () => closed,
  };
}
