/**
 * The device machine with `trust`: refused orders end in verify_failed with a TrustError before the
 * download hook is ever called; the floor and a rotated root survive restarts (FileStore).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isOtaError } from '../../src/core/errors.js';
import type { UpdateStatus } from '../../src/core/status.js';
import { MemoryStore, type StateStore } from '../../src/core/store.js';
import type { DeviceMachineOptions, DeviceUpdateMachine } from '../../src/machine/device-machine.js';
import { machineStoreKey } from '../../src/machine/machine-base.js';
import { createTrustGate, type MachineTrustOptions } from '../../src/machine/trust-gate.js';
import type { Manifest } from '../../src/manifest/schema.js';
import { signManifest, signRoot } from '../../src/manifest/trust.js';
import { integerCompare, semverCompare } from '../../src/manifest/version-policy.js';
import { FileStore } from '../../src/node/file-store.js';
import { manifest, rig } from '../support/fixtures.js';
import { rootOf, type TestKey, testKeys } from './keys.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function fileStore(): Promise<StateStore> {
  const dir = await mkdtemp(join(tmpdir(), 'otakit-trust-'));
  dirs.push(dir);
  return new FileStore(dir, { fsync: false });
}

interface Harness {
  build: (store?: StateStore, trust?: Partial<MachineTrustOptions>) => DeviceUpdateMachine;
  download: ReturnType<typeof vi.fn>;
  reports: UpdateStatus[];
  device: ReturnType<typeof rig>['device'];
  store: StateStore;
}

function harness(trust: MachineTrustOptions): Harness {
  const r = rig();
  const reports: UpdateStatus[] = [];
  const download = vi.fn(r.device.hooks.download);
  const hooks: DeviceMachineOptions['hooks'] = {
    ...r.device.hooks,
    download,
    report: async ({ status }) => {
      reports.push(status);
    },
  };
  return {
    build: (store = r.store, extra = {}) =>
      r.build(store, { hooks, trust: createTrustGate({ ...trust, ...extra }) }),
    download,
    reports,
    device: r.device,
    store: r.store,
  };
}

async function signed(keys: readonly TestKey[], id: string, version: string, extra: Partial<Manifest> = {}) {
  return signManifest(
    { ...(await manifest(id, version)), ...extra },
    keys.map((key) => key.seed),
  );
}

describe('device machine with trust: refusals happen before a byte is fetched', () => {
  it('refuses an unsigned order: verify_failed with a TRUST error, reported, the download hook never called', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1) });
    const machine = h.build();
    const transitions: string[] = [];
    machine.on('transition', ({ from, to }) => transitions.push(`${from}->${to}`));
    const outcome = await machine.apply(await manifest('u1', '1.0.0'));
    expect(outcome).toMatchObject({ state: 'verify_failed', error: { code: 'TRUST', name: 'TrustError' } });
    expect(outcome.error?.message).toContain('(unsigned)');
    expect(transitions).toEqual(['idle->available', 'available->verify_failed', 'verify_failed->idle']);
    expect(h.download).not.toHaveBeenCalled();
    expect(h.device.log).toEqual([]);
    expect(h.reports.find((status) => status.state === 'verify_failed')?.error).toMatchObject({
      code: 'TRUST',
    });
  });

  it('refuses a badly signed order (a field changed after signing)', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1) });
    const good = await signed([a!], 'u1', '1.0.0');
    const tampered = {
      ...good,
      artifacts: [{ ...good.artifacts[0]!, url: 'https://evil.example.test/app.bin' }],
    };
    const outcome = await h.build().apply(tampered);
    expect(outcome).toMatchObject({ state: 'verify_failed', error: { code: 'TRUST' } });
    expect(outcome.error?.message).toContain('(bad_signature)');
    expect(h.download).not.toHaveBeenCalled();
  });

  it('refuses an order signed by an unknown key, and one below the threshold', async () => {
    const keys = await testKeys(1, 2, 9);
    const h = harness({ root: rootOf(keys.slice(0, 2), 2) });
    const machine = h.build();
    expect((await machine.apply(await signed([keys[2]!], 'u1', '1.0.0'))).error?.message).toContain(
      '(unknown_key)',
    );
    expect((await machine.apply(await signed([keys[0]!], 'u2', '1.0.0'))).error?.message).toContain(
      '(below_threshold)',
    );
    expect(h.download).not.toHaveBeenCalled();
    expect((await machine.apply(await signed(keys.slice(0, 2), 'u3', '1.0.0'))).state).toBe('committed');
  });

  it('refuses the wrong target: another device type, or an order bound to another device id', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1), deviceType: 'gw-1' });
    const machine = h.build();
    const otherType = await signed([a!], 'u1', '1.0.0', { compatibility: { deviceTypes: ['gw-2'] } });
    expect((await machine.apply(otherType)).error?.message).toContain('(wrong_target)');
    const otherDevice = await signed([a!], 'u2', '1.0.0', { compatibility: { deviceIds: ['dev-2'] } });
    expect((await machine.apply(otherDevice)).error?.message).toContain('(wrong_target)');
    expect(h.download).not.toHaveBeenCalled();
    const mine = await signed([a!], 'u3', '1.0.0', {
      compatibility: { deviceTypes: ['gw-1'], deviceIds: ['dev-1'] },
    });
    expect((await machine.apply(mine)).state).toBe('committed');
  });

  it('still refuses an expired order with MANIFEST_EXPIRED (check_failed), as without trust', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1) });
    const order = await signed([a!], 'u1', '1.0.0', { expiresAt: '2025-01-01T00:00:00Z' });
    expect(await h.build().apply(order)).toMatchObject({
      state: 'check_failed',
      error: { code: 'MANIFEST_EXPIRED' },
    });
    expect(h.download).not.toHaveBeenCalled();
  });

  it('checks a pushed order (offer) and a checked one (check hook) the same way, when it is applied', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1) });
    const machine = h.build();
    expect((await machine.offer(await manifest('u1', '1.0.0'))).state).toBe('available');
    expect((await machine.apply()).state).toBe('verify_failed');
    expect(h.download).not.toHaveBeenCalled();
  });

  it('requireSignature: false lets unsigned orders through but still refuses a bad signature', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1), requireSignature: false });
    const machine = h.build();
    expect((await machine.apply(await manifest('u1', '1.0.0'))).state).toBe('committed');
    const good = await signed([a!], 'u2', '2.0.0');
    const bad = { ...good, version: '2.0.1' };
    expect((await machine.apply(bad)).state).toBe('verify_failed');
    expect(h.download).toHaveBeenCalledTimes(1);
  });

  it('by default refuses a signed order whose artifacts carry no digest (the signature would not cover the bytes)', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1) });
    const base = await manifest('u1', '1.0.0');
    const bare = await signManifest(
      {
        ...base,
        artifacts: base.artifacts.map(({ url, target, name }) => ({
          url,
          target,
          ...(name ? { name } : {}),
        })),
      },
      [a!.seed],
    );
    expect((await h.build().apply(bare)).error?.message).toContain('(weak_integrity)');
    expect(h.download).not.toHaveBeenCalled();
  });
});

describe('device machine with trust: accepted orders, the floor, restarts', () => {
  it('accepts a properly signed order and commits it (both Ed25519 backends)', async () => {
    for (const backend of ['webcrypto', 'js'] as const) {
      const keys = await testKeys(1, 2, 3);
      const h = harness({ root: rootOf(keys, 2), backend });
      const machine = h.build();
      const outcome = await machine.apply(await signed([keys[0]!, keys[2]!], 'u1', '1.0.0'));
      expect(outcome).toMatchObject({ state: 'committed', update: { id: 'u1', version: '1.0.0' } });
      expect(h.download).toHaveBeenCalledTimes(1);
      expect(h.device.version).toBe('1.0.0');
    }
  });

  it('raises the floor at commit (not before), persists it, and refuses a rollback after a restart', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1), compareVersions: semverCompare });
    const store = await fileStore();
    const first = h.build(store);
    await first.load();
    expect(first.trust).toEqual({ rootVersion: 1, floor: null });
    // A failed install does not raise the floor.
    const failing = harness({ root: rootOf([a!], 1), compareVersions: semverCompare });
    failing.device.faults.failInstall = true;
    const failed = failing.build(store);
    expect((await failed.apply(await signed([a!], 'u0', '3.0.0', { minVersion: '3.0.0' }))).state).not.toBe(
      'committed',
    );
    expect(failed.trust?.floor).toBeNull();
    failed.dispose();

    const machine = h.build(store);
    expect((await machine.apply(await signed([a!], 'u2', '2.0.0', { minVersion: '2.0.0' }))).state).toBe(
      'committed',
    );
    expect(machine.trust?.floor).toBe('2.0.0');
    machine.dispose();

    // Restart: a new machine over the same files.
    const restarted = h.build(store);
    await restarted.load();
    expect(restarted.trust).toEqual({ rootVersion: 1, floor: '2.0.0' });
    const calls = h.download.mock.calls.length;
    const rollback = await restarted.apply(await signed([a!], 'u1', '1.5.0'));
    expect(rollback).toMatchObject({ state: 'verify_failed', error: { code: 'TRUST' } });
    expect(rollback.error?.message).toContain(
      `expected at least the device's anti-rollback floor "2.0.0" (below_floor)`,
    );
    expect(h.download.mock.calls.length).toBe(calls);
    expect((await restarted.apply(await signed([a!], 'u3', '2.0.0'))).state).toBe('committed');
  });

  it('strictMonotonic refuses the committed version again (another id) and lower integer versions', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1), compareVersions: integerCompare, strictMonotonic: true });
    const machine = h.build();
    expect((await machine.apply(await signed([a!], 'b41', '41'))).state).toBe('committed');
    expect(machine.trust?.floor).toBe('41');
    expect((await machine.apply(await signed([a!], 'b41-again', '41'))).error?.message).toContain(
      '(below_floor)',
    );
    expect((await machine.apply(await signed([a!], 'b40', '40'))).error?.message).toContain('(below_floor)');
    expect((await machine.apply(await signed([a!], 'b42', '42'))).state).toBe('committed');
  });

  it('loads records stored before trust existed (no trust field), and records of machines without trust', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1) });
    const plain = rig();
    await plain.build(h.store).apply(await manifest('u0', '0.1.0'));
    const stored = (await h.store.get(machineStoreKey('dev-1'))) as Record<string, unknown>;
    expect(stored.trust).toBeUndefined();
    const machine = h.build(h.store);
    await machine.load();
    expect(machine.trust).toEqual({ rootVersion: 1, floor: null });
    expect((await machine.apply(await signed([a!], 'u1', '1.0.0'))).state).toBe('committed');
  });

  it('refuses a bad configuration at construction', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1) });
    expect(() => h.build(new MemoryStore(), { root: { ...rootOf([a!], 1), threshold: 2 } })).toThrow(
      expect.objectContaining({ code: 'MANIFEST_INVALID' }),
    );
    let thrown: unknown;
    try {
      h.build(new MemoryStore(), { strictMonotonic: true });
    } catch (error) {
      thrown = error;
    }
    expect(isOtaError(thrown, 'CONFIG')).toBe(true);
    // Plain options instead of a gate: a CONFIG error that says what to pass.
    const plain = rig();
    expect(() => plain.build(undefined, { trust: { root: rootOf([a!], 1) } as never })).toThrow(
      /createTrustGate/,
    );
  });

  it('fails closed when the persisted rotated root is corrupt', async () => {
    const [a] = await testKeys(1);
    const h = harness({ root: rootOf([a!], 1) });
    await h.build().apply(await signed([a!], 'u1', '1.0.0'));
    const stored = (await h.store.get(machineStoreKey('dev-1'))) as Record<string, unknown>;
    await h.store.put(machineStoreKey('dev-1'), {
      ...stored,
      trust: { floor: null, root: { version: 9 } },
    } as never);
    const outcome = await h.build().apply(await signed([a!], 'u2', '2.0.0'));
    expect(outcome).toMatchObject({ state: 'verify_failed', error: { code: 'TRUST' } });
    expect(outcome.error?.message).toContain('(invalid_root)');
  });
});

describe('device machine with trust: key rotation', () => {
  it('adopts a root signed by the old and new thresholds, persists it across a restart, and uses the new keys', async () => {
    const keys = await testKeys(1, 2, 3, 4);
    const [k1, k2, k3, k4] = keys as [TestKey, TestKey, TestKey, TestKey];
    const h = harness({ root: rootOf([k1, k2], 1) });
    const store = await fileStore();
    const machine = h.build(store);
    const next = { ...rootOf([k3, k4], 1), version: 2 };
    const adopted = await machine.rotateTrustRoot(await signRoot(next, [k1.seed, k3.seed]));
    expect(adopted.version).toBe(2);
    expect(machine.trust?.rootVersion).toBe(2);
    machine.dispose();

    // The app still ships root v1 in its configuration: the persisted v2 wins after the restart.
    const restarted = h.build(store);
    await restarted.load();
    expect(restarted.trust).toEqual({ rootVersion: 2, floor: null });
    const byOldKey = await restarted.apply(await signed([k1], 'u1', '1.0.0'));
    expect(byOldKey.error?.message).toContain('(unknown_key)');
    expect((await restarted.apply(await signed([k4], 'u2', '1.0.0'))).state).toBe('committed');
    expect(h.download).toHaveBeenCalledTimes(1);
  });

  it('refuses a root without the old keys threshold, or not newer, and changes nothing', async () => {
    const keys = await testKeys(1, 2, 3, 4);
    const [k1, k2, k3, k4] = keys as [TestKey, TestKey, TestKey, TestKey];
    const h = harness({ root: rootOf([k1, k2], 2) });
    const store = await fileStore();
    const machine = h.build(store);
    const next = { ...rootOf([k3, k4], 1), version: 2 };
    await expect(machine.rotateTrustRoot(await signRoot(next, [k1.seed, k3.seed]))).rejects.toMatchObject({
      code: 'TRUST',
      reason: 'root_rejected',
    });
    const stale = { ...rootOf([k3], 1), version: 1 };
    await expect(
      machine.rotateTrustRoot(await signRoot(stale, [k1.seed, k2.seed, k3.seed])),
    ).rejects.toMatchObject({
      reason: 'root_rejected',
    });
    expect(machine.trust?.rootVersion).toBe(1);
    const stored = (await store.get(machineStoreKey('dev-1'))) as { trust?: unknown } | undefined;
    expect(stored?.trust).toBeUndefined();
    // A machine without trust cannot rotate.
    const plain = rig().build();
    await expect(plain.rotateTrustRoot(await signRoot(next, [k1.seed]))).rejects.toMatchObject({
      code: 'CONFIG',
    });
  });
});
