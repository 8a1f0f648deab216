/**
 * Degu on AWS IoT Device Shadows: an in-process aedes broker with otakit's self-hosted shadow
 * service stands in for AWS IoT Core; the Degu publisher writes each thing's `desired`
 * (`script_user` URL + `script_user_ver` MD5) and follows `reported` into its fleet; each device
 * runs `createDeguAgent` on a `main.py` of its own. A Degu reports success only (its `*_ver`
 * MD5s): a failing device says nothing, and its rollout row ends `timed_out`.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDeguPublisher, mqttShadows } from '../../../src/cloud/degu/index.js';
import type { RolloutDispatcher } from '../../../src/cloud/rollout/dispatcher.js';
import { connectMqtt } from '../../../src/mqtt/index.js';
import { createDeguAgent } from '../../../src/node/agents/degu.js';
import { createFaultServer, createShadowService } from '../../../src/testing/index.js';
import {
  artifactBytes,
  Closers,
  failureOptions,
  type PlatformContext,
  type PlatformRun,
  startBroker,
  watchAgent,
} from '../common.js';

export async function startDegu(context: PlatformContext): Promise<PlatformRun> {
  const closers = new Closers();
  const broker = await startBroker();
  closers.add(() => broker.close());
  const connect = async (clientId: string) => {
    const connection = await connectMqtt(broker.url, { clientId, reconnect: { initialMs: 20, maxMs: 200 } });
    closers.add(() => connection.close());
    return connection;
  };
  const shadows = createShadowService({ connection: await connect('shadow-service') });
  await shadows.start();
  closers.add(() => shadows.stop());
  const script = artifactBytes("print('main 2.0.0')", 384 * 1024);
  const md5 = createHash('md5').update(script).digest('hex');
  const files = await createFaultServer();
  closers.add(() => files.close());
  files.route('/main_2.0.0.py', { body: script });

  for (const thingName of context.devices) {
    const main = join(context.root, `${thingName}-main.py`);
    await writeFile(main, "print('main 1.0.0')\n");
    const agent = createDeguAgent({
      thingName,
      connection: await connect(thingName),
      files: { script: main },
      stateDirectory: join(context.root, `${thingName}-agent`),
      fsync: false,
      ...failureOptions(context.failing.has(thingName)),
    });
    watchAgent(context.watcher, thingName, agent);
    closers.add(() => agent.stop({ cancel: true }));
    await agent.start();
  }

  const publisher = createDeguPublisher({
    shadow: mqttShadows(await connect('degu-publisher')),
    clearDesiredOnSuccess: true,
  });
  closers.add(() => publisher.close());
  // The Degu publisher never throws for one thing (each write has a result): a refused write
  // reaches the rollout as a dispatch failure.
  const dispatcher: RolloutDispatcher = {
    async dispatch(thingName, order, { signal }) {
      const [result] = await publisher.publish(thingName, order, signal === undefined ? {} : { signal });
      if (!result!.ok) throw result!.error;
    },
  };
  return {
    fleet: publisher.fleet,
    dispatcher,
    manifest: {
      id: 'main-2.0.0',
      version: '2.0.0',
      artifacts: [{ url: `${files.url}/main_2.0.0.py`, md5, target: 'script' }],
    },
    // Degu renames the update: its fleet knows it by the items and MD5s of the order.
    plan: { reportedAs: { updateId: `degu:script_user=${md5}` } },
    wiring: `aedes ${broker.url} + shadow service (desired/reported), files on ${files.url}`,
    close: () => closers.run(),
  };
}
