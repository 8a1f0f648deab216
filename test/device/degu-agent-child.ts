// A Degu agent in its own process, for the SIGKILL tests of test/device/degu-agent.test.ts. It
// prints what it does, one line each: `progress <bytes>`, `step <item>:<installer step>`,
// `outcome <json>`, and `in-sync` when it started with nothing left to do; it exits 0 once the
// update ended (or there was none). With OTAKIT_CRASH_AT=<item>:<step> it SIGKILLs itself right
// after that installer step, like a power cut; pipes are synchronous on Linux, so the parent sees
// every line before the kill.
import { connectMqtt } from '../../src/mqtt/index.js';
import { createDeguAgent } from '../../src/node/agents/degu.js';

interface ChildConfig {
  url: string;
  thingName: string;
  stateDirectory: string;
  files: { script: string; config: string; firmware: string };
  /** The `*_ver` MD5s the files have once the order is installed. */
  expected: Record<string, string>;
}

const config = JSON.parse(process.argv[2]!) as ChildConfig;
const crashAt = process.env.OTAKIT_CRASH_AT ?? '';
const print = (line: string) => process.stdout.write(`${line}\n`);

const connection = await connectMqtt(config.url, { clientId: `degu-child-${process.pid}` });
const agent = createDeguAgent({
  thingName: config.thingName,
  connection,
  files: config.files,
  stateDirectory: config.stateDirectory,
  fsync: false,
  // A stalled body is given up (and resumed) after a second, not the default 30.
  download: { lowSpeed: { bytesPerSecond: 1, windowMs: 1_000 }, retry: { baseDelayMs: 10, maxDelayMs: 50 } },
  onInstallStep: (item, step) => {
    print(`step ${item}:${step}`);
    if (`${item}:${step}` === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
agent.on('progress', ({ bytes }) => print(`progress ${bytes}`));
agent.on('error', (error) => print(`error ${error.code} ${error.message}`));
const ended = new Promise<void>((resolve) => {
  agent.on('outcome', (outcome) => {
    print(`outcome ${JSON.stringify(outcome)}`);
    resolve();
  });
});
const inSync = () => Object.entries(config.expected).every(([key, md5]) => agent.localVersions[key] === md5);
await agent.start();
if (inSync()) print('in-sync');
else await ended;
await agent.stop();
await connection.close();
process.exit(0);
