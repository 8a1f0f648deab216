/**
 * Attack: credentials leaking, ThingsBoard. The device access token is the MQTT user name and a
 * path segment of every HTTP device API call (`/api/v1/<token>/firmware?title=&version=`), so it
 * sits in the URL of each download. A whole update through the real ThingsBoard agent (the
 * in-process ThingsBoard emulator: aedes with the device API, the HTTP firmware endpoint): a
 * package committed over HTTP, one whose checksum does not match (FAILED), and one fetched with a
 * token the endpoint refuses (401). Every log line, event, error, outcome, telemetry payload and
 * stored file is scanned: no token (raw, URL-encoded, base64) appears anywhere.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent } from '../../src/node/agents/thingsboard.js';
import { startThingsBoard } from '../device/thingsboard-support.js';
import { until } from '../support/system-services.js';
import { capturingLogger, expectNoSecret, filesUnder, forms, recordEmits, strings } from './leak-scan.js';

const TOKEN = 'TB_Leak_Token_5c9e27aa';
const REFUSED = 'TB_Refused_Token_81d0f3';
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => {});
});

describe('attack: credentials leaking (ThingsBoard access token in the download URL)', () => {
  it('committed, checksum mismatch and 401: the tokens are in no log, event, error, telemetry or stored file', async () => {
    const tb = await startThingsBoard(TOKEN);
    closers.push(() => tb.close());
    const root = await mkdtemp(join(tmpdir(), 'otakit-attack-leak-tb-'));
    closers.push(() => rm(root, { recursive: true, force: true }));
    const lines: unknown[] = [];
    const emitted: unknown[] = [];
    const outcomes: UpdateOutcome[] = [];

    /** One agent: its MQTT session is the device's; its HTTP downloads use `httpToken`. */
    const startAgent = async (name: string, httpToken: string) => {
      const file = join(root, `${name}.bin`);
      await writeFile(file, 'firmware 1.0\n');
      const connection = await connectMqtt(tb.url, {
        username: TOKEN,
        reconnect: { initialMs: 20, maxMs: 100 },
      });
      const agent = createThingsBoardAgent({
        target: { accessToken: httpToken, baseUrl: tb.http.baseUrl },
        connection,
        current: { title: 'app', version: '1.0' },
        transfer: 'http',
        installTarget: file,
        stateDirectory: join(root, name),
        fsync: false,
        logger: capturingLogger(lines),
        download: { retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 } },
      });
      recordEmits(agent as never, emitted);
      agent.on('outcome', (outcome) => outcomes.push(outcome));
      closers.push(async () => {
        await agent.stop({ cancel: true });
        await connection.close();
      });
      await agent.start();
      return { agent, file };
    };
    const settled = (count: number) =>
      until(
        () => outcomes.length >= count,
        () => `outcome ${count} (fw_state ${tb.fwStates().join(' ')})`,
      );

    const device = await startAgent('device', TOKEN);
    const good = { title: 'app', version: '1.1', bytes: new Uint8Array(randomBytes(12_000)) };
    await tb.assign(good);
    await settled(1);
    expect(outcomes[0]).toMatchObject({ state: 'committed', update: { id: 'fw:app@1.1' } });
    expect(new Uint8Array(await readFile(device.file))).toEqual(good.bytes);

    // A checksum that does not match the bytes served: FAILED, nothing installed.
    await tb.assign({ ...good, version: '1.2', checksum: '0'.repeat(64) });
    await settled(2);
    expect(outcomes[1]?.state).toMatch(/failed|rolled_back/);
    expect(new Uint8Array(await readFile(device.file))).toEqual(good.bytes);
    await device.agent.stop({ cancel: true });

    // A token the firmware endpoint refuses: a 401 whose URL names the token.
    const refused = await startAgent('refused', REFUSED);
    await tb.assign({ ...good, version: '1.3' });
    await settled(3);
    expect(outcomes[2]).toMatchObject({ state: 'download_failed', error: { code: 'TRANSPORT' } });
    expect(tb.http.requests.map((request) => request.status)).toEqual(expect.arrayContaining([200, 401]));
    // Stopped before the scan: a running agent still writes its state.
    await refused.agent.stop({ cancel: true });

    const haystack = [
      ...strings(lines),
      ...strings(emitted),
      ...strings(outcomes),
      ...tb.published.map((publish) => publish.payload),
      ...(await filesUnder(root)).filter((text) => !text.startsWith('firmware 1.0')),
    ];
    // The scan saw the failures it is about: the download errors are in it, redacted.
    expect(haystack.some((text) => text.includes('/api/v1/***/firmware'))).toBe(true);
    expect(haystack.some((text) => text.includes('401'))).toBe(true);
    expectNoSecret(haystack, [...forms(TOKEN), ...forms(REFUSED)]);
  });
});
