import { describe, expect, it, vi } from 'vitest';
import { isOtaError, verifyStaged } from '../../../src/index.js';
import * as degu from '../../../src/protocols/degu/index.js';
import { deguEmulator, shadowModel } from '../../../src/testing/index.js';

const text = (value: string) => new TextEncoder().encode(value);
const FIRMWARE_MD5 = 'c4ff012243272695c13fa5b2f9a62b1e';
const MAIN_A_MD5 = 'c19cde3ac637be761b372ec031a4de72';
const MAIN_B_MD5 = '4f3e01b7dc12348ebbd1acfe11ef6328';
const MAIN_B_URL =
  'https://raw.githubusercontent.com/open-degu/degu-micropython-samples/master/basic/remote_update/main_B.py';
const T = 1_591_057_529;

/** A stand-in firmware image and two stand-in scripts (the vectors' own files are not copied here). */
const image = text('signed image v1');
const scriptOld = text("print('old')\n");
const scriptNew = text("print('new')\n");

function device(script: Uint8Array | null = scriptOld): deguEmulator.DeguFiles {
  return { script, config: null, firmware: image };
}

describe('Degu / AWS shadow vectors (PROTOCOLS.md §1.8)', () => {
  it('D1: boot report of main.py = "print(\'hello\')\\n", no CONFIG, known firmware MD5', () => {
    const report = degu.encodeReport(
      degu.bootReport({
        script: text("print('hello')\n"),
        config: null,
        firmware: FIRMWARE_MD5,
        firmwareVersion: '1.0.0-rc1',
      }),
    );
    const expected = JSON.parse(
      '{"state":{"reported":{"script_user_ver":"100e360cc768f15a35ed9ddf05e354ce","config_user_ver":"none","firmware_system_ver":"c4ff012243272695c13fa5b2f9a62b1e","firmware_ver":"1.0.0-rc1"}}}',
    );
    expect(report).toEqual(expected);
    expect(degu.decodeBootReport(JSON.stringify(expected))).toEqual(expected);
  });

  it('D2: an empty main.py reports md5("") = d41d8cd98f00b204e9800998ecf8427e, not "none"', () => {
    expect(degu.md5Ver(new Uint8Array(0))).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(degu.md5Ver(null)).toBe('none');
    const report = degu.bootReport({ script: new Uint8Array(0), config: null, firmware: image });
    expect(report.script_user_ver).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(report.config_user_ver).toBe('none');
  });

  it('D3: desired main_B while running main_A → check 1, one script artifact; next report matching → committed', async () => {
    const desired = { script_user: MAIN_B_URL, script_user_ver: MAIN_B_MD5 };
    const reported = {
      script_user_ver: MAIN_A_MD5,
      config_user_ver: 'none',
      firmware_system_ver: FIRMWARE_MD5,
    };
    const check = degu.checkUpdate(desired, reported);
    expect(check.update).toBe(true);
    expect(check.items).toEqual([
      { item: 'script_user', url: MAIN_B_URL, md5: MAIN_B_MD5, reportedMd5: MAIN_A_MD5 },
    ]);
    const { value: manifest, lost } = degu.toCanonical({ desired, reported });
    expect(lost).toEqual([]);
    expect(manifest?.artifacts).toEqual([
      { url: MAIN_B_URL, md5: MAIN_B_MD5, target: 'script', name: 'main.py' },
    ]);
    expect(degu.statusFromWire(reported, manifest).state).toBe('available');
    expect(degu.statusFromWire({ ...reported, script_user_ver: MAIN_B_MD5 }, manifest).state).toBe(
      'committed',
    );

    // The same cycle on the boot model, with stand-in files: download, write main.py, reboot,
    // and the next boot reports the desired MD5.
    const order = { script_user: MAIN_B_URL, script_user_ver: degu.md5Ver(scriptNew) };
    const fetch = vi.fn(async () => scriptNew);
    const first = await deguEmulator.simulateBoot(device(), {
      desired: order,
      fetch,
      firmwareVersion: '1.0.0-rc1',
    });
    expect(first.rebooted).toBe(true);
    expect(fetch).toHaveBeenCalledWith(MAIN_B_URL, 'script_user');
    expect(first.files.script).toEqual(scriptNew);
    const second = await deguEmulator.simulateBoot(first.files, {
      desired: order,
      fetch,
      firmwareVersion: '1.0.0-rc1',
    });
    expect(second.report.state.reported.script_user_ver).toBe(order.script_user_ver);
    expect(second.rebooted).toBe(false);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('D4: desired script_user_ver equal to the reported one → no update, no download', async () => {
    const desired = { script_user: MAIN_B_URL, script_user_ver: degu.md5Ver(scriptOld) };
    expect(degu.checkUpdate(desired, degu.bootReport(device())).update).toBe(false);
    expect(degu.toCanonical({ desired, reported: degu.bootReport(device()) }).value).toBeNull();
    const fetch = vi.fn(async () => scriptNew);
    const boot = await deguEmulator.simulateBoot(device(), { desired, fetch, firmwareVersion: '1' });
    expect(boot.rebooted).toBe(false);
    expect(fetch).not.toHaveBeenCalled();
  });

  it('D5: a URL without script_user_ver is no update', () => {
    const view = { desired: { script_user: MAIN_B_URL }, reported: { script_user_ver: MAIN_A_MD5 } };
    expect(degu.checkUpdate(view.desired, view.reported)).toEqual({ update: false, items: [], skipped: [] });
    expect(degu.toCanonical(view)).toEqual({ value: null, lost: [] });
  });

  it('D6: uppercase desired MD5 of the running file: reference loops, hardened does nothing', async () => {
    const upper = degu.md5Ver(scriptOld).toUpperCase();
    const desired = { script_user: MAIN_B_URL, script_user_ver: upper };
    const fetch = vi.fn(async () => scriptOld); // the URL serves the very same file
    expect(degu.checkUpdate(desired, degu.bootReport(device())).update).toBe(false);
    const hardened = await deguEmulator.simulateBoot(device(), { desired, fetch, firmwareVersion: '1' });
    expect(hardened.rebooted).toBe(false);

    let files = device();
    for (let boot = 0; boot < 3; boot++) {
      const result = await deguEmulator.simulateBoot(files, {
        desired,
        fetch,
        firmwareVersion: '1',
        strictCompat: true,
      });
      expect(result.rebooted).toBe(true); // strcmp never matches: update + reboot on every boot
      files = result.files;
    }
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it('D7: desired MD5 not matching the served file: reference loops, hardened refuses to install', async () => {
    const desired = { script_user: MAIN_B_URL, script_user_ver: MAIN_B_MD5 };
    const fetch = vi.fn(async () => scriptNew); // md5(scriptNew) !== MAIN_B_MD5
    const hardened = await deguEmulator.simulateBoot(device(), { desired, fetch, firmwareVersion: '1' });
    expect(hardened.rebooted).toBe(false);
    expect(hardened.files.script).toEqual(scriptOld);
    expect(isOtaError(hardened.error, 'INTEGRITY')).toBe(true);

    // The canonical path catches it in the verify step, before a byte is installed.
    const { value: manifest } = degu.toCanonical({ desired, reported: degu.bootReport(device()) });
    expect(() =>
      verifyStaged(manifest!, [
        { location: '/tmp/main.py', size: scriptNew.length, md5: degu.md5Ver(scriptNew) },
      ]),
    ).toThrow(expect.objectContaining({ code: 'INTEGRITY' }));

    let files = device();
    for (let boot = 0; boot < 3; boot++) {
      const result = await deguEmulator.simulateBoot(files, {
        desired,
        fetch,
        firmwareVersion: '1',
        strictCompat: true,
      });
      expect(result.rebooted).toBe(true);
      files = result.files;
    }
    expect(files.script).toEqual(scriptNew);
  });

  it('D8: config and firmware differing → order config then firmware, one reboot', async () => {
    const config = text('interval=60\n');
    const firmware = text('signed image v2');
    const desired = {
      config_user: 'https://example.com/CONFIG',
      config_user_ver: degu.md5Ver(config),
      firmware_system: 'https://example.com/degu.bin',
      firmware_system_ver: degu.md5Ver(firmware),
    };
    const { value: manifest } = degu.toCanonical({ desired, reported: degu.bootReport(device()) });
    expect(manifest?.artifacts.map((artifact) => artifact.target)).toEqual(['config', 'firmware']);

    const calls: string[] = [];
    const fetch = async (_url: string | undefined, item: degu.DeguItem) => {
      calls.push(item);
      return item === 'config_user' ? config : firmware;
    };
    const boot = await deguEmulator.simulateBoot(device(), { desired, fetch, firmwareVersion: '1' });
    expect(calls).toEqual(['config_user', 'firmware_system']);
    expect(boot.rebooted).toBe(true);
    expect(boot.files).toEqual({ script: scriptOld, config, firmware });
    const next = await deguEmulator.simulateBoot(boot.files, { desired, fetch, firmwareVersion: '1' });
    expect(next.rebooted).toBe(false);
  });

  it('D9: GET update/script_user answers 4.04: reference leaves main.py empty, hardened keeps it', async () => {
    const desired = {
      script_user: 'https://example.com/missing.py',
      script_user_ver: degu.md5Ver(scriptNew),
    };
    const fetch = async () => {
      throw new Error('CoAP 4.04 Not Found');
    };
    const reference = await deguEmulator.simulateBoot(device(), {
      desired,
      fetch,
      firmwareVersion: '1',
      strictCompat: true,
    });
    expect(reference.rebooted).toBe(false);
    expect(reference.files.script).toEqual(new Uint8Array(0));
    const after = await deguEmulator.simulateBoot(reference.files, {
      desired,
      fetch,
      firmwareVersion: '1',
      strictCompat: true,
    });
    expect(after.report.state.reported.script_user_ver).toBe('d41d8cd98f00b204e9800998ecf8427e');

    const hardened = await deguEmulator.simulateBoot(device(), { desired, fetch, firmwareVersion: '1' });
    expect(hardened.rebooted).toBe(false);
    expect(hardened.files.script).toEqual(scriptOld);
    expect(isOtaError(hardened.error, 'DOWNLOAD')).toBe(true);
  });

  it('D10: an update with version 9 on a shadow at version 10 → 409 "Version conflict"', () => {
    const created = shadowModel.applyUpdate(undefined, '{"state":{"desired":{"colors":["RED"]}}}', {
      timestamp: T,
      previousVersion: 9,
    });
    if (!created.ok) throw new Error('expected acceptance');
    expect(created.shadow.version).toBe(10);
    const result = shadowModel.applyUpdate(
      created.shadow,
      '{"state":{"desired":{"colors":["BLUE"]}},"version":9}',
      {
        timestamp: T + 1,
      },
    );
    expect(result).toEqual({
      ok: false,
      error: { code: 409, message: 'Version conflict', timestamp: T + 1 },
    });
    if (result.ok) return;
    expect(degu.decodeMessage('rejected', JSON.stringify(result.error))).toEqual(result.error);
    const fresh = shadowModel.applyUpdate(
      created.shadow,
      '{"state":{"desired":{"colors":["BLUE"]}},"version":10}',
      {
        timestamp: T + 2,
      },
    );
    expect(fresh.ok && fresh.shadow.version).toBe(11);
  });

  it('D11: nulls remove script_user and script_user_ver; no delta for them afterwards', () => {
    const clear = degu.encodeClearDesired(['script_user']);
    expect(clear).toEqual(JSON.parse('{"state":{"desired":{"script_user":null,"script_user_ver":null}}}'));
    const order = shadowModel.applyUpdate(
      undefined,
      {
        state: {
          desired: {
            script_user: MAIN_B_URL,
            script_user_ver: MAIN_B_MD5,
            firmware_system_ver: FIRMWARE_MD5,
          },
        },
      },
      { timestamp: T },
    );
    if (!order.ok) throw new Error('expected acceptance');
    expect(order.delta?.state).toHaveProperty('script_user');
    const result = shadowModel.applyUpdate(order.shadow, JSON.stringify(clear), { timestamp: T + 1 });
    if (!result.ok) throw new Error('expected acceptance');
    expect(result.shadow.state.desired).toEqual({ firmware_system_ver: FIRMWARE_MD5 });
    expect(result.shadow.metadata.desired).toEqual({ firmware_system_ver: { timestamp: T } });
    expect(result.delta?.state).toEqual({ firmware_system_ver: FIRMWARE_MD5 });
    // Whether AWS echoes the nulls is [unconfirmed]; this model echoes them, and the Degu
    // decoder accepts both.
    expect(degu.decodeMessage('update/accepted', result.accepted).state.desired).toEqual(clear.state.desired);
  });

  it('D12: desired {a:1,b:2} vs reported {a:1,c:3} → delta {b:2}', () => {
    expect(shadowModel.computeDelta({ a: 1, b: 2 }, { a: 1, c: 3 })).toEqual({ b: 2 });
    const result = shadowModel.applyUpdate(
      undefined,
      { state: { desired: { a: 1, b: 2 }, reported: { a: 1, c: 3 } } },
      { timestamp: T },
    );
    if (!result.ok) throw new Error('expected acceptance');
    expect(result.delta?.state).toEqual({ b: 2 });
    expect(result.delta?.metadata).toEqual({ b: { timestamp: T } });
    const got = shadowModel.getShadow(result.shadow, { thingName: 'lamp' }, { timestamp: T });
    expect(got.ok && got.accepted.state.delta).toEqual({ b: 2 });
  });

  it('D13: nested desired {l:{c:{r:255,g:255}}} vs reported {l:{c:{r:255,g:0}}} → delta {l:{c:{g:255}}}', () => {
    const desired = { l: { c: { r: 255, g: 255 } } };
    const reported = { l: { c: { r: 255, g: 0 } } };
    expect(shadowModel.computeDelta(desired, reported)).toEqual({ l: { c: { g: 255 } } });
    const result = shadowModel.applyUpdate(undefined, { state: { desired, reported } }, { timestamp: T });
    expect(result.ok && result.delta?.state).toEqual({ l: { c: { g: 255 } } });
    expect(result.ok && result.delta?.metadata).toEqual({ l: { c: { g: { timestamp: T } } } });
  });

  it('D14: a clientToken of 65 bytes → 400 "Invalid clientToken"', () => {
    const request = (clientToken: string) => JSON.stringify({ state: { reported: { a: 1 } }, clientToken });
    expect(shadowModel.checkRequest(request('x'.repeat(65)), { timestamp: T })).toEqual({
      ok: false,
      error: { code: 400, message: 'Invalid clientToken', timestamp: T },
    });
    expect(shadowModel.checkRequest(request('x'.repeat(64)), { timestamp: T }).ok).toBe(true);
    // Bytes, not characters: 22 × "€" is 66 bytes.
    expect(shadowModel.checkRequest(request('€'.repeat(22)), { timestamp: T }).ok).toBe(false);
    expect(() => degu.decodeMessage('request', request('x'.repeat(65)))).toThrow(
      /clientToken: expected at most 64 bytes/,
    );
  });

  it('D15: /get for a thing without shadow → 404 "No shadow exists with name: …"', () => {
    const result = shadowModel.getShadow(
      undefined,
      { thingName: 'A1B2C3D4E5F60718' },
      { timestamp: T, clientToken: 'c1' },
    );
    expect(result).toEqual({
      ok: false,
      error: {
        code: 404,
        message: "No shadow exists with name: 'A1B2C3D4E5F60718'",
        timestamp: T,
        clientToken: 'c1',
      },
    });
    if (result.ok) return;
    expect(degu.decodeMessage('rejected', JSON.stringify(result.error)).code).toBe(404);
    const named = shadowModel.getShadow(undefined, { thingName: 'dev', shadowName: 'ota' }, { timestamp: T });
    expect(!named.ok && named.error.message).toBe("No shadow exists with name: 'dev~ota'");
  });
});
