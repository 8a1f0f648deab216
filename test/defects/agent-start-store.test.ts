/**
 * Issue (found by the ThingsBoard crash campaign, test/fuzz/agent-crash-thingsboard.fuzz.ts): a
 * device agent whose machine record could not be read (a truncated FileStore record) still
 * started: the resume's STORE error became an `error` event, and the agent sent its boot report,
 * subscribed and took orders, each failing with STORE again: running, but wedged. `start()` now
 * rejects with the STORE error and stops, as its documentation says, and nothing is installed.
 */
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createDeviceAgent,
  type InboundMessage,
  isOtaError,
  MemoryStore,
  StoreError,
  thingsBoard,
} from '../../src/index.js';
import { machineStoreKey } from '../../src/machine/machine-base.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent } from '../../src/node/agents/thingsboard.js';
import { FileStore } from '../../src/node/file-store.js';
import { startThingsBoard, type TbEmulator } from '../device/thingsboard-support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('an agent whose store cannot be read', () => {
  it('start() rejects with STORE and the agent takes no order (generic agent)', async () => {
    class Unreadable extends MemoryStore {
      override async get(key: string) {
        if (key.startsWith('otakit/machine/')) throw new StoreError('Reading the state failed');
        return super.get(key);
      }
    }
    const sent: string[] = [];
    let listened = 0;
    let fetched = 0;
    const agent = createDeviceAgent({
      id: 'dev-1',
      protocol: thingsBoard.protocol,
      target: { accessToken: 'TOKEN' },
      channels: {
        mqtt: {
          kind: 'mqtt',
          send: async (message) => {
            sent.push(message.address);
            return undefined;
          },
          listen: async () => {
            listened += 1;
            return async () => {};
          },
        },
      },
      store: new Unreadable(),
      hooks: { download: async () => [], install: async () => {} },
      fetchOrder: async (): Promise<InboundMessage[]> => {
        fetched += 1;
        return [];
      },
    });
    const errors: string[] = [];
    agent.on('error', (error) => errors.push(error.code));
    await expect(agent.start()).rejects.toSatisfy((error: unknown) => isOtaError(error, 'STORE'));
    expect(agent.running).toBe(false);
    expect({ sent, listened, fetched }).toEqual({ sent: [], listened: 0, fetched: 0 });
  });

  it('a ThingsBoard agent with a truncated FileStore record refuses to start; the file stays', async () => {
    const root = await mkdtemp(join(tmpdir(), 'otakit-agent-start-store-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const tb: TbEmulator = await startThingsBoard('START_STORE_TOKEN');
    cleanups.push(() => tb.close());
    const connection = await connectMqtt(tb.url, { username: tb.token });
    cleanups.push(() => connection.close());
    const file = join(root, 'app.bin');
    await writeFile(file, 'v1');
    const stateDirectory = join(root, 'agent');
    // A record as the agent writes it, cut in the middle.
    const store = new FileStore(join(stateDirectory, 'state'), { fsync: false });
    await store.put(machineStoreKey('thingsboard'), { format: 'otakit.machine/1', state: 'downloading' });
    const [name] = (await readdir(join(stateDirectory, 'state'))).filter((entry) => entry.endsWith('.json'));
    const record = join(stateDirectory, 'state', name!);
    await truncate(record, 20);
    const cut = await readFile(record);
    await tb.assign({ title: 'app', version: '2.0', bytes: Buffer.from('v2') }, { push: false });
    const agent = createThingsBoardAgent({
      target: { accessToken: tb.token },
      connection,
      current: { title: 'app', version: '1.0' },
      installTarget: file,
      stateDirectory,
      fsync: false,
    });
    agent.on('error', () => {});
    await expect(agent.start()).rejects.toSatisfy((error: unknown) => isOtaError(error, 'STORE'));
    expect(agent.running).toBe(false);
    expect(tb.attributeRequests).toEqual([]);
    expect(tb.fwStates()).toEqual([]);
    expect(await readFile(file, 'utf8')).toBe('v1');
    expect((await readFile(record)).equals(cut)).toBe(true);
  });
});
