/**
 * micropython_ota: the real release server (`startMicropythonOtaServer`) over a release root that
 * `publishRelease` writes, a project per board (every board of a project polls the same `version`
 * file, so a rollout that orders boards one wave at a time needs a project each); boards run
 * `createMicropythonOtaAgent`, polling their project's `version` file and fetching the files.
 *
 * micropython_ota has no status channel: what the cloud knows is what the server sees plus each
 * board's own `version` file. On every version poll, the fleet tool reads that board's file (a
 * real tool reads it over mpremote, a REPL or a sidecar; here it is the board's directory) and
 * ingests it, which the protocol's cloud side decodes as `committed` with that tag. A failing
 * board keeps its tag and says nothing: its rollout row ends `timed_out`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RolloutDispatcher } from '../../../src/cloud/rollout/dispatcher.js';
import { Fleet, micropythonOta } from '../../../src/index.js';
import { createMicropythonOtaAgent } from '../../../src/node/agents/micropython-ota.js';
import { publishRelease } from '../../../src/node/cloud/micropython-ota-publish.js';
import { startMicropythonOtaServer } from '../../../src/node/cloud/micropython-ota-server.js';
import {
  artifactBytes,
  Closers,
  dataOf,
  dataUrl,
  failureOptions,
  type PlatformContext,
  type PlatformRun,
  watchAgent,
} from '../common.js';

const FILES = ['main.py', 'model.bin'];

export async function startMicropythonOta(context: PlatformContext): Promise<PlatformRun> {
  const closers = new Closers();
  const serverRoot = join(context.root, 'server');
  const boards = context.devices;
  // Each board's project offers v1.0.0, which it runs, until the rollout publishes v2.0.0 there.
  for (const board of boards) {
    await publishRelease({
      root: serverRoot,
      project: board,
      version: 'v1.0.0',
      files: { 'main.py': Buffer.from('print("main 1.0.0")\n'), 'model.bin': Buffer.from('model 1.0.0\n') },
      fsync: false,
    });
  }
  const server = await startMicropythonOtaServer({ root: serverRoot });
  closers.add(() => server.close());
  const targetOf = (board: string): micropythonOta.Target => ({
    host: server.url,
    project: board,
    filenames: FILES,
  });
  const appOf = (board: string) => join(context.root, board, 'app');

  const fleet = new Fleet();
  const lanes = new Map<string, Promise<void>>();
  const read = new Map<string, string>();
  server.handler.on('fetch', (event) => {
    const board = event.path.split('/')[1]!;
    if (event.kind !== 'version' || !boards.includes(board)) return;
    const lane = (lanes.get(board) ?? Promise.resolve()).then(async () => {
      const payload = await readFile(join(appOf(board), 'version'), 'utf8').catch(() => null);
      if (payload === null || read.get(board) === payload) return;
      read.set(board, payload);
      await fleet.ingestMessage(
        micropythonOta.protocol,
        targetOf(board),
        { address: 'version', payload },
        { deviceId: board },
      );
    });
    lanes.set(
      board,
      lane.catch(() => {}),
    );
  });

  for (const board of boards) {
    await mkdir(appOf(board), { recursive: true });
    await writeFile(join(appOf(board), 'version'), 'v1.0.0');
    const agent = createMicropythonOtaAgent({
      target: targetOf(board),
      appDirectory: appOf(board),
      stateDirectory: join(context.root, board, 'otakit'),
      poll: { intervalMs: 300 },
      fsync: false,
      ...failureOptions(context.failing.has(board)),
    });
    watchAgent(context.watcher, board, agent);
    closers.add(() => agent.stop({ cancel: true }));
    await agent.start();
  }

  // micropython_ota's publisher is publishRelease: the files first, the `version` file last.
  const dispatcher: RolloutDispatcher = {
    async dispatch(board, order) {
      await publishRelease({
        root: serverRoot,
        project: board,
        version: order.version,
        files: Object.fromEntries(order.artifacts.map((artifact) => [artifact.name!, dataOf(artifact.url)])),
        fsync: false,
      });
    },
  };
  return {
    fleet,
    dispatcher,
    manifest: {
      id: 'app@v2.0.0',
      version: 'v2.0.0',
      artifacts: [
        { url: dataUrl(Buffer.from('print("main 2.0.0")\n')), target: 'file', name: 'main.py' },
        { url: dataUrl(artifactBytes('model 2.0.0', 256 * 1024)), target: 'file', name: 'model.bin' },
      ],
    },
    wiring: `release server ${server.url} (a project per board, version polls every 300 ms); status: each board's version file`,
    close: () => closers.run(),
  };
}
