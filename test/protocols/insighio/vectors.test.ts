/** One test per insigh.io reference case (I1-I15 of docs/protocols/insighIo.md). */
import { describe, expect, it } from 'vitest';
import { isOtaError } from '../../../src/core/errors.js';
import { manifestIntegrity } from '../../../src/manifest/schema.js';
import { insighIoPackage } from '../../../src/node/index.js';
import * as insighIo from '../../../src/protocols/insighio/index.js';
import {
  CONTEXT,
  DID,
  DK,
  fromBase64,
  gzip,
  I2_URL,
  IDS,
  LONG_PATH,
  MICROFREEZER_PACKAGE_B64,
  makeTar,
  ORDER,
  ORDER_TEXT,
  OTA_TOPIC,
  REAL_GZIP_PACKAGE_B64,
  text,
} from './fixtures.js';

async function refusal(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a refusal');
}

describe('insigh.io reference cases (docs/protocols/insighIo.md)', () => {
  it('I1: connect as user=DID, pass=DK and subscribe to channels/CC/messages/DID/#', () => {
    expect(insighIo.connectSettings({ ...IDS, deviceKey: DK })).toEqual({
      host: 'console.insigh.io',
      port: 1884,
      username: DID,
      password: DK,
      keepalive: 120,
    });
    expect(insighIo.controlSubscription(IDS)).toBe(
      'channels/6979beea-6c10-4ab2-a684-11989451d7e6/messages/06c80d38-07a0-4f3a-87ed-ee17232cd7e7/#',
    );
  });

  it('I2: the retained order leads to the documented download URL and file name, given enough space', () => {
    expect(insighIo.parseOtaTopic(OTA_TOPIC)).toEqual(IDS);
    const message = insighIo.decodeMessage(ORDER_TEXT);
    expect(message).toEqual({ kind: 'order', order: ORDER });
    if (message.kind !== 'order') throw new Error('unreachable');
    const { value: manifest, lost } = insighIo.toCanonical(message.order, {
      ...CONTEXT,
      deviceKeyInUrl: true,
    });
    expect(lost).toEqual([]);
    expect(manifest.artifacts).toEqual([
      { url: I2_URL, size: 3987, target: 'package', name: 'fa8884d2.tar.gz' },
    ]);
    // The firmware saves to <root><fileId><fileType> with root "/".
    expect(`/${manifest.artifacts[0]?.name}`).toBe('/fa8884d2.tar.gz');
    expect(manifestIntegrity(manifest)).toBe('none');
    expect(insighIo.downloadUrl({ fileId: 'fa8884d2', ...CONTEXT }).href).toBe(I2_URL);
  });

  it('I3: success publishes e=1 (non-retained, QoS 1), then an empty retained payload', () => {
    expect(insighIo.reportPublications(IDS, { state: 'committed', updateId: 'fa8884d2' })).toEqual([
      {
        topic: OTA_TOPIC,
        payload: '[{"n":"e","v":1},{"n":"i","vs":"fa8884d2"}]',
        options: { qos: 1, retain: false },
      },
      { topic: OTA_TOPIC, payload: '', options: { qos: 1, retain: true } },
    ]);
  });

  it('I4: not enough space: e=2 "not enough space", no clear (the order stays retained)', () => {
    const publications = insighIo.reportPublications(
      IDS,
      { state: 'download_failed', updateId: 'fa8884d2' },
      { message: 'not enough space' },
    );
    expect(publications).toEqual([
      {
        topic: OTA_TOPIC,
        payload: '[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"n":"m","vs":"not enough space"}]',
        options: { qos: 1, retain: false },
      },
    ]);
    // A tracker reads both of the reference's messages as a download failure.
    for (const payload of [
      publications[0]!.payload,
      insighIo.encodeStatus({ event: 2, fileId: 'fa8884d2', message: 'can not download' }),
    ]) {
      const message = insighIo.decodeMessage(payload);
      if (message.kind !== 'status') throw new Error('expected a status');
      expect(insighIo.statusFromWire(message.status).state).toBe('download_failed');
    }
  });

  it('I5: a failed download reports e=2 "can not download" and keeps the order', () => {
    const publications = insighIo.reportPublications(IDS, { state: 'download_failed', updateId: 'fa8884d2' });
    expect(publications.map((p) => [p.payload, p.options.retain])).toEqual([
      ['[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"n":"m","vs":"can not download"}]', false],
    ]);
  });

  it('I6: a corrupt archive is refused as an install failure: e=2 "can not apply", order cleared', async () => {
    const corrupt = fromBase64(MICROFREEZER_PACKAGE_B64);
    corrupt[40]! ^= 0xff;
    const error = await refusal(insighIoPackage.readPackage(corrupt));
    expect(isOtaError(error, 'INSTALL')).toBe(true);
    const publications = insighIo.reportPublications(IDS, { state: 'install_failed', updateId: 'fa8884d2' });
    expect(publications.map((p) => [p.payload, p.options.retain])).toEqual([
      ['[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"n":"m","vs":"can not apply"}]', false],
      ['', true],
    ]);
  });

  it('I7: e = 1, 2 or 3 is a status, never an order', () => {
    for (const event of [1, 2, 3] as const) {
      const message = insighIo.decodeMessage(`[{"n":"e","v":${event}},{"n":"i","vs":"fa8884d2"}]`);
      expect(message).toEqual({ kind: 'status', status: { event, fileId: 'fa8884d2' } });
    }
    // Even with the order's records present (a device echoing the order with another event).
    const echo = ORDER_TEXT.replace('"v":0', '"v":1');
    expect(insighIo.decodeMessage(echo).kind).toBe('status');
  });

  it('I8: an empty payload is the cleared order, not an error', () => {
    expect(insighIo.decodeMessage('')).toEqual({ kind: 'cleared' });
    expect(insighIo.decodeMessage(new Uint8Array(0))).toEqual({ kind: 'cleared' });
    expect(insighIo.decodeMessage(new ArrayBuffer(0))).toEqual({ kind: 'cleared' });
  });

  it('I9: an order without t or s is refused, naming the missing record', () => {
    const withoutT = '[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"s","v":3987}]';
    const withoutS = '[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"}]';
    for (const [payload, name] of [
      [withoutT, 't'],
      [withoutS, 's'],
    ] as const) {
      const result = insighIo.safeDecodeMessage(payload);
      if (result.success) throw new Error('expected a refusal');
      expect(result.error.code).toBe('MANIFEST_INVALID');
      expect(result.error.issues).toEqual([{ path: '', expected: expect.stringContaining(`"${name}"`) }]);
    }
  });

  it('I10: e sent as 0.0 is accepted as pending (hardened reading of numeric 0)', () => {
    const payload = ORDER_TEXT.replace('"v":0', '"v":0.0');
    expect(payload).toContain('"v":0.0');
    expect(insighIo.decodeMessage(payload)).toEqual({ kind: 'order', order: ORDER });
    expect(insighIo.decodeMessage(payload, { strictCompat: true })).toEqual({ kind: 'order', order: ORDER });
  });

  it('I11: a microfreezer .tar.gz is unpacked by skipping 8 bytes, inflating zlib and checking the 4-byte trailer', async () => {
    const bytes = fromBase64(MICROFREEZER_PACKAGE_B64);
    expect(Array.from(bytes.subarray(0, 10))).toEqual([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x78, 0x5e]);
    expect(insighIoPackage.detectPackageFormat(bytes)).toBe('insighio-zlib');
    const entries = await insighIoPackage.readPackage(bytes);
    expect(entries.map((entry) => [entry.path, entry.type, text(entry.data)])).toEqual([
      ['apps', 'directory', ''],
      ['apps/demo_console', 'directory', ''],
      ['apps/demo_console/demo_scenario.py', 'file', 'print("scenario")\n'],
      ['package_md5sum.py', 'file', 'md5sum="abc"'],
    ]);
    // The trailer is checked: a wrong CRC is refused even though the zlib stream is intact.
    const wrongTrailer = bytes.slice();
    wrongTrailer[wrongTrailer.length - 1]! ^= 1;
    expect(isOtaError(await refusal(insighIoPackage.readPackage(wrongTrailer)), 'INSTALL')).toBe(true);
  });

  it('I12: a real gzip (tar czf) is detected and inflated properly', async () => {
    const python = fromBase64(REAL_GZIP_PACKAGE_B64);
    expect(insighIoPackage.detectPackageFormat(python)).toBe('gzip');
    const entries = await insighIoPackage.readPackage(python);
    expect(entries.map((entry) => [entry.path, text(entry.data)])).toEqual([[LONG_PATH, 'x = 1\n']]);
    const ours = await gzip(makeTar([{ name: 'main.py', data: 'print(1)\n' }]));
    expect(insighIoPackage.detectPackageFormat(ours)).toBe('gzip');
    expect((await insighIoPackage.readPackage(ours)).map((entry) => entry.path)).toEqual(['main.py']);
  });

  it('I13: members ../etc/x and /boot.py are refused (path traversal)', () => {
    for (const name of ['../etc/x', '/boot.py', 'apps/../../x', 'a\\..\\b', 'C:/x']) {
      const tar = makeTar([
        { name: 'ok.py', data: '1' },
        { name, data: 'evil' },
      ]);
      expect(() => insighIoPackage.readTar(tar), name).toThrow(/refused/);
    }
    // A pax path cannot sneak a traversal past a harmless header name either.
    const viaPax = makeTar([{ name: 'harmless.py', data: 'x', pax: { path: '../../boot.py' } }]);
    expect(() => insighIoPackage.readTar(viaPax)).toThrow(/"\.\."/);
  });

  it('I14: pax headers (x, g) are skipped, never written, and their path is honoured', () => {
    const tar = makeTar([
      { name: 'global', type: 'g', data: '' },
      { name: 'truncated-name.py', data: 'long', pax: { path: LONG_PATH, mtime: '1700000000.5' } },
      { name: 'short.py', data: 'short', pax: { mtime: '1700000000' } },
    ]);
    expect(insighIoPackage.readTar(tar).map((entry) => [entry.path, text(entry.data)])).toEqual([
      [LONG_PATH, 'long'],
      ['short.py', 'short'],
    ]);
  });

  it('I15: symlink and hardlink members are refused', () => {
    for (const type of ['1', '2']) {
      const tar = makeTar([{ name: 'boot.py', type, linkname: '/etc/passwd' }]);
      expect(() => insighIoPackage.readTar(tar), type).toThrow(/is a link; links are refused/);
    }
  });
});
