import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOtaError } from '../../src/core/errors.js';
import { OutputTail, runUpdateScript, ScriptError } from '../../src/node/install/index.js';
import { eventually } from '../support/async.js';

let root: string;
let pkg: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'otakit-script-'));
  pkg = join(root, 'current');
  await mkdir(pkg);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function script(body: string, name = 'update.sh'): Promise<void> {
  await writeFile(join(pkg, name), body);
}

/** Rejection of `promise`, which must reject. */
async function failure(promise: Promise<unknown>): Promise<ScriptError> {
  try {
    await promise;
  } catch (error) {
    return error as ScriptError;
  }
  throw new Error('expected a rejection');
}

/**
 * Waits until `pid` has ended. A killed orphan stays a zombie until its new parent (init, or a
 * container's PID 1 that may never reap) collects it; a zombie runs nothing, so it counts as ended.
 * Polls with a generous limit, which only catches a process that was never killed.
 */
async function gone(pid: number): Promise<boolean> {
  const ended = async () => {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    return /^\d+ \(.*\) Z/.test(stat);
  };
  return eventually(ended, `process ${pid} to end`, { intervalMs: 20 }).then(
    () => true,
    () => false,
  );
}

describe('runUpdateScript', () => {
  it('runs update.sh in the package directory, with sh when it has no #! line and no execute bit', async () => {
    await script(
      'echo "cwd=$(pwd)"\necho "to stderr" >&2\necho "greeting=$GREETING"\necho "agent=[$OTAKIT_AGENT_SECRET]"\n',
    );
    process.env.OTAKIT_AGENT_SECRET = 'agent-only';
    try {
      const result = await runUpdateScript(pkg, { env: { GREETING: 'hello' } });
      expect(result).toMatchObject({ exitCode: 0, truncated: false });
      expect(result.output).toContain(`cwd=${pkg}`);
      expect(result.output).toContain('to stderr');
      expect(result.output).toContain('greeting=hello');
      // The agent's environment (credentials…) is not passed unless asked for.
      expect(result.output).toContain('agent=[]');
      expect(result.outputBytes).toBe(Buffer.byteLength(result.output));
      const inherited = await runUpdateScript(pkg, { inheritEnv: true });
      expect(inherited.output).toContain('agent=[agent-only]');
    } finally {
      delete process.env.OTAKIT_AGENT_SECRET;
    }
  });

  it('honours the #! line and passes arguments', async () => {
    await script('#!/usr/bin/env bash\necho "bash=$BASH_VERSION args=$*"\n');
    const result = await runUpdateScript(pkg, { args: ['one', 'two'] });
    expect(result.output.trim()).toMatch(/^bash=\d\S* args=one two$/);
    const viaSh = await runUpdateScript(pkg, { interpreter: ['/bin/sh'] });
    expect(viaSh.exitCode).toBe(0);
  });

  it('a non-zero exit is a ScriptError (INSTALL) naming the code and quoting the last lines, secrets masked', async () => {
    await script(
      'for i in 1 2 3 4 5 6 7; do echo "line $i"; done\necho "token is $THING_KEY"\necho "fetching https://h/x?dk=abc123"\nexit 3\n',
    );
    const error = await failure(runUpdateScript(pkg, { env: { THING_KEY: 'k-123456789' } }));
    expect(error).toBeInstanceOf(ScriptError);
    expect(isOtaError(error, 'INSTALL')).toBe(true);
    expect(error.retryable).toBe(false);
    expect(error).toMatchObject({ exitCode: 3, exitSignal: null, timedOut: false });
    expect(error.message).toMatch(/^update\.sh exited with code 3 after \d+ ms; last output:\n/);
    expect(error.message).toContain('line 7');
    expect(error.message).not.toContain('line 3'); // only the last 5 lines
    expect(error.message).toContain('token is ***');
    expect(error.message).toContain('dk=***');
    expect(error.message).not.toContain('k-123456789');
    // The full tail stays local: it is not part of what gets serialised and reported.
    expect(error.output).toContain('k-123456789');
    expect(JSON.stringify(error.toJSON())).not.toContain('k-123456789');
    expect(error.toJSON()).toMatchObject({ code: 'INSTALL', exitCode: 3, timedOut: false });

    const quiet = await failure(runUpdateScript(pkg, { env: { THING_KEY: 'x' }, messageLines: 0 }));
    expect(quiet.message).toMatch(/^update\.sh exited with code 3 after \d+ ms$/);
  });

  it('a script killed by a signal fails with that signal', async () => {
    await script('echo before\nkill -KILL $$\n');
    const error = await failure(runUpdateScript(pkg));
    expect(error).toMatchObject({ code: 'INSTALL', exitCode: null, exitSignal: 'SIGKILL' });
    expect(error.message).toContain('killed by SIGKILL');
  });

  it('a timeout kills the whole process group, background children included', async () => {
    // The script would run 60 s: only the kill can end it (the test's own timeout catches a hang).
    // 1 s leaves a busy machine time to start the sleeper before the timeout fires.
    await script('sleep 60 &\necho $! > sleeper.pid\nwait\n');
    const error = await failure(runUpdateScript(pkg, { timeoutMs: 1_000 }));
    expect(error).toMatchObject({ code: 'INSTALL', timedOut: true });
    expect(error.message).toContain('update.sh timed out after 1000 ms');
    const sleeper = Number(await readFile(join(pkg, 'sleeper.pid'), 'utf8'));
    expect(await gone(sleeper)).toBe(true);
  });

  it('a script that ignores SIGTERM gets SIGKILL after the grace period', async () => {
    await script("trap '' TERM\necho ready\nsleep 60\n");
    const started = Date.now();
    // 1 s leaves a busy machine time to set the trap before the timeout fires.
    const error = await failure(runUpdateScript(pkg, { timeoutMs: 1_000, killGraceMs: 300 }));
    // 'ready' means the trap was set, so SIGTERM was ignored and the SIGKILL came from the grace
    // timer. A lower bound only: timers never fire early, and a busy machine only makes it later.
    expect(error).toMatchObject({ timedOut: true, exitSignal: 'SIGKILL' });
    expect(error.message).toContain('ready');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000 + 300 - 50);
  });

  it('keeps only the last maxOutputBytes of a huge output', async () => {
    await script('yes | head -c 50000000\necho END\n');
    const result = await runUpdateScript(pkg);
    expect(result.outputBytes).toBe(50_000_004);
    expect(result.truncated).toBe(true);
    expect(Buffer.byteLength(result.output)).toBe(65_536);
    expect(result.output.endsWith('y\nEND\n')).toBe(true);

    const small = await runUpdateScript(pkg, { maxOutputBytes: 10 });
    expect(small.output).toBe('y\ny\ny\nEND\n');
  });

  it('an AbortSignal kills the script and rejects with ABORTED; an aborted signal runs nothing', async () => {
    await script('echo started > started.txt\nsleep 60 &\necho $! > sleeper.pid\nwait\n');
    const controller = new AbortController();
    const running = failure(runUpdateScript(pkg, { signal: controller.signal }));
    // Abort once the sleeper runs: the script would then wait 60 s, so only the abort ends it.
    await eventually(
      async () => (await readFile(join(pkg, 'sleeper.pid'), 'utf8').catch(() => '')).endsWith('\n'),
      'the script to start its sleeper',
    );
    controller.abort();
    const error = await running;
    expect(isOtaError(error, 'ABORTED')).toBe(true);
    expect(await gone(Number(await readFile(join(pkg, 'sleeper.pid'), 'utf8')))).toBe(true);

    await rm(join(pkg, 'started.txt'));
    const before = await failure(runUpdateScript(pkg, { signal: AbortSignal.abort() }));
    expect(isOtaError(before, 'ABORTED')).toBe(true);
    await expect(readFile(join(pkg, 'started.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses symlinks, paths outside the package and a missing script before running anything', async () => {
    const outside = join(root, 'evil.sh');
    await writeFile(outside, 'touch pwned\n');
    await chmod(outside, 0o755);
    const refused = async (options: Parameters<typeof runUpdateScript>[1], pattern: RegExp) => {
      const error = await failure(runUpdateScript(pkg, options));
      expect(isOtaError(error, 'INSTALL')).toBe(true);
      expect(error.message).toMatch(pattern);
    };

    await refused({}, /has no update\.sh/);
    await symlink(outside, join(pkg, 'update.sh'));
    await refused({}, /is a symlink/);
    await refused({ script: '../evil.sh' }, /not inside the package/);
    await refused({ script: outside }, /not inside the package/);
    await refused({ script: '.' }, /not inside the package/);
    await symlink(root, join(pkg, 'up'));
    await refused({ script: 'up/evil.sh' }, /goes through a symlink/);
    await mkdir(join(pkg, 'dir.sh'));
    await refused({ script: 'dir.sh' }, /not a regular file/);
    await expect(readFile(join(pkg, 'pwned'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readFile(join(root, 'pwned'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an interpreter that does not exist is an INSTALL error, invalid options a CONFIG error', async () => {
    await script('#!/nonexistent/interpreter\nexit 0\n');
    const error = await failure(runUpdateScript(pkg));
    expect(isOtaError(error, 'INSTALL')).toBe(true);
    expect(error.message).toContain('Could not start update.sh with /nonexistent/interpreter');
    await expect(runUpdateScript(pkg, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(runUpdateScript(pkg, { maxOutputBytes: -1 })).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(runUpdateScript(join(root, 'missing'))).rejects.toMatchObject({ code: 'INSTALL' });
  });
});

describe('OutputTail', () => {
  it('always holds the last `capacity` bytes of everything pushed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 30 }),
        (capacity, chunks) => {
          const tail = new OutputTail(capacity);
          for (const chunk of chunks) tail.push(chunk);
          const all = Buffer.concat(chunks);
          expect(tail.bytes()).toEqual(all.subarray(Math.max(0, all.length - capacity)));
          expect(tail.totalBytes).toBe(all.length);
          expect(tail.truncated).toBe(all.length > capacity);
        },
      ),
    );
  });

  it('drops a multi-byte character cut in half at the start, and lists the last lines', () => {
    const tail = new OutputTail(7);
    tail.push(Buffer.from('ab\néé\nxy\n')); // é is 2 bytes: the cut falls inside the first one
    expect(tail.text()).toBe('é\nxy\n');
    expect(tail.lastLines(1)).toEqual(['xy']);
    expect(tail.lastLines(0)).toEqual([]);
    expect(() => new OutputTail(-1)).toThrow(RangeError);
  });
});
