import { describe, expect, it } from 'vitest';
import {
  isOtaError,
  MemoryStore,
  type OtaError,
  type ReportEvent,
  type TransitionEvent,
  UpdateSnapshotSchema,
  type UpdateStatus,
} from '../src/index.js';
import { machineStoreKey } from '../src/machine/machine-base.js';
import { blockUntilAborted, tick, until } from './support/async.js';
import { ARTIFACT_URL, manifest, rig } from './support/fixtures.js';

function record(machine: {
  on: (event: 'transition', listener: (event: TransitionEvent) => void) => unknown;
}) {
  const seen: string[] = [];
  machine.on('transition', (event) =>
    seen.push(`${event.from}->${event.to}${event.resumed ? ' (resumed)' : ''}`),
  );
  return seen;
}

describe('device machine: the happy path', () => {
  it('goes available → downloading → downloaded → verifying → installing → installed → committed → idle', async () => {
    const { device, build } = rig();
    const machine = build();
    const seen = record(machine);
    const outcome = await machine.apply(await manifest());
    expect(outcome).toEqual({
      state: 'committed',
      update: { id: 'u1', version: '1.0.0' },
      error: null,
      rebootRequired: false,
    });
    expect(seen).toEqual([
      'idle->available',
      'available->downloading',
      'downloading->downloaded',
      'downloaded->verifying',
      'verifying->installing',
      'installing->installed',
      'installed->committed',
      'committed->idle',
    ]);
    expect(device.version).toBe('1.0.0');
    expect(device.log).toEqual(['download:u1', 'verify:u1', 'install:u1', 'health:u1', 'commit:u1']);
    const snapshot = machine.snapshot();
    expect(snapshot.state).toBe('idle');
    expect(snapshot.current).toEqual({ id: 'u1', version: '1.0.0' });
    expect(snapshot.lastOutcome?.state).toBe('committed');
  });

  it('persists every transition before its side effect starts', async () => {
    const { device, store, build } = rig();
    const machine = build();
    const persistedAtHook: Record<string, string | undefined> = {};
    const read = async () =>
      ((await store.get(machineStoreKey('dev-1'))) as { state?: string } | undefined)?.state;
    const original = { ...device.hooks };
    device.hooks.download = async (context) => {
      persistedAtHook.download = await read();
      return original.download(context);
    };
    device.hooks.install = async (context) => {
      persistedAtHook.install = await read();
      return original.install(context);
    };
    device.hooks.healthCheck = async (context) => {
      persistedAtHook.healthCheck = await read();
      return original.healthCheck!(context);
    };
    device.hooks.rollback = original.rollback!;
    await machine.apply(await manifest());
    expect(persistedAtHook).toEqual({
      download: 'downloading',
      install: 'installing',
      healthCheck: 'installed',
    });
  });

  it('checks for an update with the check hook and applies it in runOnce()', async () => {
    const { device, build } = rig();
    const m = await manifest();
    let checks = 0;
    const machine = build(undefined, {
      hooks: {
        ...device.hooks,
        check: async ({ current }) => {
          checks += 1;
          return current?.version === m.version ? null : m;
        },
      },
    });
    const seen = record(machine);
    expect((await machine.runOnce()).state).toBe('committed');
    expect(seen[0]).toBe('idle->checking');
    expect(seen[1]).toBe('checking->available');
    // The second check finds nothing new.
    expect((await machine.check()).state).toBe('idle');
    expect(seen.slice(-2)).toEqual(['idle->checking', 'checking->idle']);
    expect(checks).toBe(2);
  });

  it('check() stops at available and apply() continues from there', async () => {
    const { device, build } = rig();
    const m = await manifest();
    const machine = build(undefined, { hooks: { ...device.hooks, check: async () => m } });
    const found = await machine.check();
    expect(found).toMatchObject({ state: 'available', update: { id: 'u1' } });
    expect(device.log).toEqual([]);
    expect((await machine.apply()).state).toBe('committed');
  });

  it('treats a check that returns the committed update as "nothing new"', async () => {
    const { device, build } = rig();
    const m = await manifest();
    const machine = build(undefined, { hooks: { ...device.hooks, check: async () => m } });
    await machine.apply(m);
    expect((await machine.check()).state).toBe('idle');
  });

  it('reports every transition through the report hook, in order', async () => {
    const statuses: UpdateStatus[] = [];
    const { device, build } = rig();
    const machine = build(undefined, {
      hooks: { ...device.hooks, report: async ({ status }) => void statuses.push(status) },
    });
    await machine.apply(await manifest());
    expect(statuses.map((status) => status.state)).toEqual([
      'available',
      'downloading',
      'downloaded',
      'verifying',
      'installing',
      'installed',
      'committed',
      'idle',
    ]);
    expect(statuses[1]).toMatchObject({
      machineId: 'dev-1',
      updateId: 'u1',
      version: '1.0.0',
      previous: 'available',
    });
    expect(statuses.at(-1)).toMatchObject({ updateId: null, previous: 'committed' });
  });

  it('keeps going when reporting fails, and says so through events', async () => {
    const { device, build } = rig({}, { retry: { report: { attempts: 2, baseDelayMs: 0 } } });
    let calls = 0;
    const machine = build(undefined, {
      hooks: {
        ...device.hooks,
        report: async () => {
          calls += 1;
          throw new Error('broker down');
        },
      },
    });
    const reports: ReportEvent[] = [];
    const errors: OtaError[] = [];
    machine.on('report', (event) => reports.push(event));
    machine.on('error', (error) => errors.push(error));
    expect((await machine.apply(await manifest())).state).toBe('committed');
    expect(reports).toHaveLength(8);
    expect(reports.every((event) => !event.delivered && event.error?.code === 'REPORT')).toBe(true);
    expect(calls).toBe(16);
    expect(errors.every((error) => error.code === 'REPORT')).toBe(true);
  });

  it('emits throttled progress with bytes, total and bytes per second on the injected clock', async () => {
    const { device, clock, build } = rig();
    const machine = build(undefined, {
      hooks: {
        ...device.hooks,
        download: async (context) => {
          for (let bytes = 0; bytes <= 100_000; bytes += 1_000) {
            await clock.advance(10);
            context.onProgress({ bytes, total: 100_000 });
          }
          return device.hooks.download(context);
        },
      },
      progressIntervalMs: 100,
    });
    const events: { bytes: number; total: number | null; bytesPerSecond: number }[] = [];
    machine.on('progress', (event) => events.push(event));
    await machine.offer(await manifest());
    const settled = await machine.apply();
    expect(settled.state).toBe('committed');
    const synthetic = events.filter((event) => event.total === 100_000);
    // 101 calls, emitted only when 1 % moved or 100 ms passed: every call moves 1 %, so all pass;
    // the rate is 1000 bytes per 10 ms.
    expect(synthetic.length).toBeGreaterThan(50);
    expect(synthetic.at(-1)).toMatchObject({ bytes: 100_000, bytesPerSecond: 100_000 });
  });

  it('throttles progress events that move less than 1 % within the interval', async () => {
    const { device, build } = rig();
    const machine = build(undefined, {
      hooks: {
        ...device.hooks,
        download: async (context) => {
          for (let bytes = 0; bytes <= 1_000_000; bytes += 100)
            context.onProgress({ bytes, total: 1_000_000 });
          return device.hooks.download(context);
        },
      },
    });
    let count = 0;
    machine.on('progress', (event) => {
      if (event.total === 1_000_000) count += 1;
    });
    await machine.apply(await manifest());
    // 10 001 calls; at most one per 1 % (plus the first and the last).
    expect(count).toBeGreaterThanOrEqual(100);
    expect(count).toBeLessThanOrEqual(102);
  });

  it('produces a JSON snapshot that validates and carries no artifact URL', async () => {
    const { build } = rig();
    const machine = build();
    await machine.offer(await manifest());
    const snapshot = machine.snapshot();
    expect(UpdateSnapshotSchema.parse(JSON.parse(JSON.stringify(snapshot)))).toEqual(snapshot);
    expect(JSON.stringify(snapshot)).not.toContain(new URL(ARTIFACT_URL).host);
    expect(snapshot).toMatchObject({
      state: 'available',
      update: { id: 'u1', version: '1.0.0' },
      role: 'device',
    });
  });
});

describe('device machine: failures end reported, then idle', () => {
  it('ends in verify_failed with an INTEGRITY error when the bytes are corrupt, and installs nothing', async () => {
    const { device, build } = rig({ corruptDownloads: true });
    const machine = build();
    const outcome = await machine.apply(await manifest());
    expect(outcome.state).toBe('verify_failed');
    expect(outcome.error?.code).toBe('INTEGRITY');
    expect(outcome.error?.message).toMatch(/sha256 mismatch, expected [0-9a-f]{64}, got [0-9a-f]{64}/);
    expect(device.log).not.toContain('install:u1');
    expect(device.version).toBe('0.0.0');
    expect(machine.state).toBe('idle');
  });

  it('the default verify compares the digests the download measured', async () => {
    const { device, build } = rig({ corruptDownloads: true });
    const { verify: _ignored, ...hooks } = device.hooks;
    const machine = build(undefined, { hooks });
    const outcome = await machine.apply(await manifest());
    expect(outcome.state).toBe('verify_failed');
    expect(outcome.error).toMatchObject({ code: 'INTEGRITY', name: 'IntegrityError' });
  });

  it('refuses an artifact without any digest unless allowUnverified is set', async () => {
    const { build } = rig();
    const hooks = {
      download: async () => [{ location: 'mem://a', size: 50_000 }],
      install: async () => {},
    };
    const m = await manifest();
    const bare = { ...m, artifacts: m.artifacts.map(({ md5: _m, sha256: _s, ...rest }) => rest) };
    const strict = await build(new MemoryStore(), { hooks }).apply(bare);
    expect(strict.state).toBe('verify_failed');
    expect(strict.error?.message).toMatch(/no digest/);
    const lenient = await build(new MemoryStore(), { hooks, allowUnverified: true }).apply(bare);
    expect(lenient.state).toBe('committed');
  });

  it('rolls back when the health check fails', async () => {
    const { device, build } = rig({ unhealthy: true });
    const machine = build();
    const seen = record(machine);
    const outcome = await machine.apply(await manifest());
    expect(outcome).toMatchObject({ state: 'rolled_back', error: { code: 'HEALTH_CHECK' } });
    expect(seen.slice(-3)).toEqual([
      'installed->rolling_back',
      'rolling_back->rolled_back',
      'rolled_back->idle',
    ]);
    expect(device.version).toBe('0.0.0');
    expect(machine.snapshot().current).toBeNull();
  });

  it('rolls back when install throws, and ends install_failed when there is no rollback hook', async () => {
    const first = rig({ failInstall: true });
    expect(await first.build().apply(await manifest())).toMatchObject({
      state: 'rolled_back',
      error: { code: 'INSTALL' },
    });
    const second = rig({ failInstall: true });
    const { rollback: _none, ...hooks } = second.device.hooks;
    const outcome = await second.build(undefined, { hooks }).apply(await manifest());
    expect(outcome).toMatchObject({ state: 'install_failed', error: { code: 'INSTALL' } });
  });

  it('ends install_failed with a ROLLBACK error when the rollback itself fails', async () => {
    const { device, build } = rig(
      { unhealthy: true },
      { retry: { rollback: { attempts: 2, baseDelayMs: 0 } } },
    );
    const machine = build(undefined, {
      hooks: {
        ...device.hooks,
        rollback: async () => {
          throw new Error('slot A unreadable');
        },
      },
    });
    const outcome = await machine.apply(await manifest());
    expect(outcome.state).toBe('install_failed');
    expect(outcome.error?.code).toBe('ROLLBACK');
    expect(outcome.error?.message).toMatch(/Rollback failed after HEALTH_CHECK: slot A unreadable/);
  });

  it('rolls back when commit keeps failing', async () => {
    const { device, build } = rig({}, { retry: { commit: { attempts: 2, baseDelayMs: 0 } } });
    let commits = 0;
    const machine = build(undefined, {
      hooks: {
        ...device.hooks,
        commit: async () => {
          commits += 1;
          throw new Error('bootloader env write failed');
        },
      },
    });
    expect(await machine.apply(await manifest())).toMatchObject({
      state: 'rolled_back',
      error: { code: 'COMMIT' },
    });
    expect(commits).toBe(2);
  });

  it('refuses an expired order before any byte moves', async () => {
    const { device, clock, build } = rig();
    const m = { ...(await manifest()), expiresAt: new Date(clock.now() - 1).toISOString() };
    const outcome = await build().apply(m);
    expect(outcome).toMatchObject({ state: 'check_failed', error: { code: 'MANIFEST_EXPIRED' } });
    expect(device.log).toEqual([]);
  });

  it('ends check_failed when the check hook keeps failing, or returns an invalid manifest', async () => {
    const { device, build } = rig({}, { retry: { check: { attempts: 2, baseDelayMs: 0 } } });
    const failing = build(new MemoryStore(), {
      hooks: {
        ...device.hooks,
        check: async () => {
          throw new Error('ECONNRESET');
        },
      },
    });
    expect(await failing.check()).toMatchObject({
      state: 'check_failed',
      error: { code: 'CHECK', message: 'ECONNRESET' },
    });
    const invalid = build(new MemoryStore(), {
      hooks: { ...device.hooks, check: async () => ({ id: 'x', version: '1', artifacts: [] }) },
    });
    const outcome = await invalid.check();
    expect(outcome).toMatchObject({ state: 'check_failed', error: { code: 'MANIFEST_INVALID' } });
    expect(outcome.error?.message).toContain('artifacts: expected at least one artifact');
  });
});

describe('device machine: retries and timeouts on the injected clock', () => {
  it('retries a failing download with backoff, then succeeds', async () => {
    const { device, clock, build } = rig(
      { failDownloads: 2 },
      { retry: { download: { attempts: 3, baseDelayMs: 1_000, factor: 2, jitter: 'none' } } },
    );
    const machine = build();
    let settled = false;
    const outcome = machine.apply(await manifest()).finally(() => {
      settled = true;
    });
    await clock.advance(999);
    expect(settled).toBe(false);
    expect(device.log).toEqual(['download:u1']);
    await clock.advance(1);
    expect(device.log).toEqual(['download:u1', 'download:u1:resume']);
    await clock.advance(1_999);
    expect(settled).toBe(false);
    await clock.advance(1);
    expect((await outcome).state).toBe('committed');
    expect(device.log.filter((line) => line.startsWith('download'))).toHaveLength(3);
  });

  it('ends download_failed when the retry budget is spent', async () => {
    const { device, clock, build } = rig(
      { failDownloads: 100 },
      { retry: { download: { attempts: 4, jitter: 'none' } } },
    );
    const machine = build();
    const errors: OtaError[] = [];
    machine.on('error', (error) => errors.push(error));
    const outcome = machine.apply(await manifest());
    await clock.runAll();
    expect(await outcome).toMatchObject({ state: 'download_failed', error: { code: 'TRANSPORT' } });
    expect(device.log.filter((line) => line.startsWith('download'))).toHaveLength(4);
    expect(errors.map((error) => error.code)).toEqual(['TRANSPORT']);
    expect(machine.state).toBe('idle');
  });

  it('does not retry errors that are not retryable', async () => {
    const { device, build } = rig();
    const m = await manifest();
    const missing = {
      ...m,
      artifacts: [{ ...m.artifacts[0]!, url: 'https://cdn.example.test/missing.bin' }],
    };
    const outcome = await build().apply(missing);
    expect(outcome).toMatchObject({ state: 'download_failed', error: { code: 'TRANSPORT' } });
    expect(device.log).toEqual(['download:u1']);
  });

  it('times out a hook that ignores its signal, and never wedges', async () => {
    const { device, clock, build } = rig(
      {},
      {
        timeouts: { download: 5_000 },
        retry: { download: { attempts: 2, baseDelayMs: 1_000, jitter: 'none' } },
      },
    );
    let calls = 0;
    const machine = build(undefined, {
      hooks: {
        ...device.hooks,
        download: () => {
          calls += 1;
          return new Promise(() => {}); // ignores its signal entirely
        },
      },
    });
    let settled = false;
    const outcome = machine.apply(await manifest()).finally(() => {
      settled = true;
    });
    await clock.advance(4_999);
    expect(settled).toBe(false);
    await clock.advance(1 + 1_000 + 5_000);
    expect(calls).toBe(2);
    const result = await outcome;
    expect(result).toMatchObject({ state: 'download_failed', error: { code: 'TIMEOUT' } });
    expect(result.error?.message).toBe('download hook timed out after 5000 ms');
  });

  it('times out a health check and rolls back', async () => {
    const { device, clock, build } = rig({}, { timeouts: { healthCheck: 30_000 } });
    let checking = false;
    const machine = build(undefined, {
      hooks: {
        ...device.hooks,
        healthCheck: ({ signal }) => {
          checking = true;
          return blockUntilAborted(signal);
        },
      },
    });
    const outcome = machine.apply(await manifest());
    await until(() => checking, 'the health check to start');
    await clock.advance(29_999);
    expect(device.version).toBe('1.0.0');
    await clock.advance(1);
    expect(await outcome).toMatchObject({ state: 'rolled_back', error: { code: 'TIMEOUT' } });
    expect(device.version).toBe('0.0.0');
  });
});

describe('device machine: misuse and bad input lose nothing', () => {
  it('rejects an invalid manifest with a ManifestError naming the field, and changes nothing', async () => {
    const { store, build } = rig();
    const machine = build();
    const m = await manifest();
    const bad = { ...m, artifacts: [{ ...m.artifacts[0]!, md5: 'not-hex' }] };
    await expect(machine.apply(bad)).rejects.toSatisfy(
      (error: unknown) =>
        isOtaError(error, 'MANIFEST_INVALID') &&
        error.issues[0]?.path === 'artifacts[0].md5' &&
        /32 hex characters/.test(error.message),
    );
    expect(await store.get(machineStoreKey('dev-1'))).toBeUndefined();
    expect(machine.state).toBe('idle');
  });

  it('refuses a second operation while one runs', async () => {
    const { device, build } = rig();
    const machine = build(undefined, {
      hooks: { ...device.hooks, download: ({ signal }) => blockUntilAborted(signal) },
    });
    const first = machine.apply(await manifest());
    await tick();
    await expect(machine.apply(await manifest())).rejects.toMatchObject({ code: 'STATE' });
    await expect(machine.check()).rejects.toMatchObject({ code: 'STATE' });
    await machine.cancel();
    expect((await first).state).toBe('canceled');
  });

  it('needs a check hook for check()', async () => {
    const { build } = rig();
    await expect(build().check()).rejects.toMatchObject({ code: 'CONFIG' });
  });

  it('refuses to build without download and install hooks', () => {
    const { build } = rig();
    expect(() => build(undefined, { hooks: {} as never })).toThrow(/download.*install/);
  });

  it('surfaces a failing store as STORE, keeps the last persisted state, and resumes later', async () => {
    const { device, store, build } = rig();
    let failPuts = false;
    const flaky = {
      get: (key: string) => store.get(key),
      delete: (key: string) => store.delete(key),
      put: async (key: string, value: Parameters<typeof store.put>[1]) => {
        if (failPuts) throw new Error('EIO');
        return store.put(key, value);
      },
    };
    const machine = build(flaky, {
      hooks: {
        ...device.hooks,
        install: async (context) => {
          const result = await device.hooks.install(context);
          failPuts = true; // the disk fails right after the install
          return result;
        },
      },
    });
    await expect(machine.apply(await manifest())).rejects.toMatchObject({ code: 'STORE' });
    expect(((await store.get(machineStoreKey('dev-1'))) as { state: string }).state).toBe('installing');
    // After the disk recovers, a restart rolls the half-recorded install back: safe by default.
    failPuts = false;
    const outcome = await build(store).resume();
    expect(outcome.state).toBe('rolled_back');
    expect(device.version).toBe('0.0.0');
  });

  it('reports a corrupt persisted record as STORE and leaves it untouched', async () => {
    const { store, build } = rig();
    await store.put(machineStoreKey('dev-1'), { format: 'otakit.machine/1', state: 'exploded' });
    await expect(build().load()).rejects.toMatchObject({ code: 'STORE' });
    expect(await store.get(machineStoreKey('dev-1'))).toEqual({
      format: 'otakit.machine/1',
      state: 'exploded',
    });
  });

  it('keeps the machine alive when an event listener throws', async () => {
    const { build } = rig();
    const machine = build();
    machine.on('transition', () => {
      throw new Error('listener bug');
    });
    expect((await machine.apply(await manifest())).state).toBe('committed');
  });

  it('stores only JSON: the persisted record round-trips through JSON', async () => {
    const { store, build } = rig();
    await build().apply(await manifest());
    const stored = await store.get(machineStoreKey('dev-1'));
    expect(JSON.parse(JSON.stringify(stored))).toEqual(stored);
  });
});
