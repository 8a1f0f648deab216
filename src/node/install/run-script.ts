/**
 * Runs the `update.sh` a package carries (Connhex Edge). **This is code execution**: the script
 * runs with the agent's privileges (often root), so the package is the trust boundary. Verify its
 * digest and signature before extracting it, and call this only when the application has decided
 * to run package scripts; otakit itself never calls it.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { abortReason, throwIfAborted } from '../../core/abort.js';
import { InstallError, OtaError } from '../../core/errors.js';
import { redactUrl } from '../../protocols/secrets.js';
import { interpreterFor, locateScript } from './locate-script.js';
import { OutputTail } from './output-tail.js';
import { ScriptError } from './script-error.js';

export interface RunUpdateScriptOptions {
  /**
   * The script's path relative to the package directory. Refused when it is a symlink, goes
   * through one, or lies outside the directory.
   * @default 'update.sh'
   */
  script?: string;
  /** Arguments after the script path. @default [] */
  args?: readonly string[];
  /**
   * The command that runs the script, e.g. `['/bin/bash']`.
   * @default the script's `#!` line, or `['/bin/sh']` without one (no execute bit needed)
   */
  interpreter?: readonly string[];
  /**
   * Time budget. When it runs out the script's whole process group gets SIGTERM, then SIGKILL
   * after `killGraceMs`, and the run fails with a {@link ScriptError} whose `timedOut` is true.
   * @default 600_000 (10 minutes)
   */
  timeoutMs?: number;
  /** How long a terminated script may take to exit before SIGKILL. @default 5_000 */
  killGraceMs?: number;
  /**
   * How much of stdout and stderr (interleaved) is kept: the last bytes, in a fixed ring buffer,
   * so the memory used never exceeds this however much the script prints.
   * @default 65_536
   */
  maxOutputBytes?: number;
  /**
   * Variables for the script, on top of the base environment. Values of 6 characters or more are
   * masked if they appear in an error message.
   * @default {}
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Pass the agent's whole environment to the script. Off by default because the agent's
   * environment often holds credentials the script has no need for; then only `PATH` is passed.
   * @default false
   */
  inheritEnv?: boolean;
  /**
   * How many of the last output lines a failure's message quotes. The message travels in status
   * reports to the cloud: set 0 if scripts may print secrets.
   * @default 5
   */
  messageLines?: number;
  /** Kills the script (as on timeout) and rejects with the signal's reason. @default undefined */
  signal?: AbortSignal;
}

export interface ScriptResult {
  exitCode: 0;
  /** The captured tail of stdout and stderr. */
  output: string;
  /** Bytes written in all, kept or not. */
  outputBytes: number;
  /** Whether older output was dropped to stay within `maxOutputBytes`. */
  truncated: boolean;
  durationMs: number;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** After the script exits, how long a background child holding its stdout may delay the result. */
const DRAIN_MS = 200;
const MAX_LINE_CHARS = 300;
const MIN_MASKED_LENGTH = 6;

function requireNumber(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new OtaError('CONFIG', `runUpdateScript: ${name} must be a finite number ≥ ${min}, got ${value}`);
  }
  return value;
}

function buildEnv(options: RunUpdateScriptOptions): Record<string, string> {
  const base: Record<string, string | undefined> = options.inheritEnv
    ? { ...process.env }
    : { PATH: process.env.PATH ?? DEFAULT_PATH };
  const merged = { ...base, ...options.env };
  return Object.fromEntries(
    Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/** The output lines an error message may quote, with URLs' and the caller's secrets masked. */
function quotedLines(tail: OutputTail, count: number, options: RunUpdateScriptOptions): string {
  const secrets = Object.values(options.env ?? {}).filter(
    (value): value is string => value !== undefined && value.length >= MIN_MASKED_LENGTH,
  );
  const lines = tail.lastLines(count).map((line) => {
    let safe = redactUrl(line);
    for (const secret of secrets) safe = safe.replaceAll(secret, '***');
    return safe.length > MAX_LINE_CHARS ? `${safe.slice(0, MAX_LINE_CHARS)}…` : safe;
  });
  return lines.length === 0 ? '' : `; last output:\n${lines.map((line) => `  ${line}`).join('\n')}`;
}

/** Signals the script's whole process group; a group that is already gone is fine. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: every member has exited.
  }
}

/**
 * Runs a package's update script with the package directory as working directory, a timeout, a
 * bounded output capture and an AbortSignal. Resolves when it exits 0; otherwise rejects with a
 * {@link ScriptError} (code `INSTALL`) whose message names the exit code or signal and quotes the
 * last lines of output. A missing, symlinked or out-of-package script is refused with an
 * {@link InstallError} before anything runs.
 *
 * The script runs in its own process group, so a timeout or an abort also kills whatever it
 * started. A script that exits 0 may leave a daemon running (starting a service is a legitimate
 * update step); its output after the script's exit is not captured.
 *
 * @example
 * ```ts
 * const { output } = await runUpdateScript('/opt/connhex/.store/ota/current', {
 *   timeoutMs: 120_000,
 *   env: { EDGE_DIR: '/opt/connhex' },
 *   signal,
 * })
 * ```
 */
export async function runUpdateScript(
  directory: string,
  options: RunUpdateScriptOptions = {},
): Promise<ScriptResult> {
  const { signal } = options;
  throwIfAborted(signal);
  const script = options.script ?? 'update.sh';
  const timeoutMs = requireNumber('timeoutMs', options.timeoutMs ?? 600_000, 1);
  const killGraceMs = requireNumber('killGraceMs', options.killGraceMs ?? 5_000, 0);
  const maxOutputBytes = Math.floor(requireNumber('maxOutputBytes', options.maxOutputBytes ?? 65_536, 0));
  const messageLines = Math.floor(requireNumber('messageLines', options.messageLines ?? 5, 0));

  const located = await locateScript(directory, script);
  const command = options.interpreter ? [...options.interpreter] : await interpreterFor(located.path);
  const [executable, ...interpreterArgs] = command;
  if (executable === undefined)
    throw new OtaError('CONFIG', 'runUpdateScript: interpreter must not be empty');
  throwIfAborted(signal);

  return new Promise<ScriptResult>((resolve, reject) => {
    const started = performance.now();
    const tail = new OutputTail(maxOutputBytes);
    const child = spawn(executable, [...interpreterArgs, located.path, ...(options.args ?? [])], {
      cwd: located.directory,
      env: buildEnv(options),
      // A new process group (and session): one kill reaches everything the script started.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const closed = new Promise<void>((done) => child.once('close', () => done()));
    child.stdout?.on('data', (chunk: Buffer) => tail.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => tail.push(chunk));

    let stopping: 'timeout' | 'abort' | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const stop = (why: 'timeout' | 'abort'): void => {
      if (stopping !== null) return;
      stopping = why;
      signalGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), killGraceMs);
    };
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    const onAbort = (): void => stop('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    const cleanUp = (): void => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
    };

    child.once('error', (cause) => {
      // spawn failed (interpreter missing or not executable): there is no process to wait for.
      if (settled) return;
      settled = true;
      cleanUp();
      reject(new InstallError(`Could not start ${script} with ${executable}: ${cause.message}`, { cause }));
    });

    child.once('exit', (exitCode, exitSignal) => {
      cleanUp();
      // After a timeout or an abort nothing the script started may survive it.
      if (stopping !== null) signalGroup(child, 'SIGKILL');
      const drained = new Promise<void>((done) => setTimeout(done, DRAIN_MS));
      void Promise.race([closed, drained]).then(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        if (settled) return;
        settled = true;
        const durationMs = Math.round(performance.now() - started);
        const failure = {
          exitCode,
          exitSignal,
          timedOut: stopping === 'timeout',
          output: tail.text(),
          outputBytes: tail.totalBytes,
        };
        if (stopping === 'abort' && signal !== undefined) return reject(abortReason(signal));
        if (stopping === null && exitCode === 0) {
          return resolve({
            exitCode: 0,
            output: failure.output,
            outputBytes: failure.outputBytes,
            truncated: tail.truncated,
            durationMs,
          });
        }
        const what =
          stopping === 'timeout'
            ? `${script} timed out after ${timeoutMs} ms; its process group was killed`
            : exitSignal !== null
              ? `${script} was killed by ${exitSignal} after ${durationMs} ms`
              : `${script} exited with code ${exitCode} after ${durationMs} ms`;
        reject(new ScriptError(`${what}${quotedLines(tail, messageLines, options)}`, failure));
      });
    });
  });
}
