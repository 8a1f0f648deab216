/**
 * The demo itself: options, the fleets of every platform, their rollouts, the live display, the
 * summary and the exit code. `examples/demo.ts` runs {@link main}.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { DemoStreamPayload } from '../dashboard/payload.js';
import {
  deviceIds,
  PLATFORMS,
  type PlatformContext,
  type PlatformName,
  type PlatformRun,
  PREFIXES,
  PROTOCOL_NAMES,
  TITLES,
} from './common.js';
import { createDisplay } from './display.js';
import { startConnhex } from './platforms/connhex.js';
import { startDegu } from './platforms/degu.js';
import { startExosite } from './platforms/exosite.js';
import { startInsighio } from './platforms/insighio.js';
import { startMicropythonOta } from './platforms/micropython-ota.js';
import { startThingsBoard } from './platforms/thingsboard.js';
import { type RolloutRun, startRollout } from './rollout.js';

const STARTERS: Record<PlatformName, (context: PlatformContext) => Promise<PlatformRun>> = {
  degu: startDegu,
  micropython_ota: startMicropythonOta,
  insighio: startInsighio,
  connhex: startConnhex,
  exosite: startExosite,
  thingsboard: startThingsBoard,
};

const ALIASES: Record<string, PlatformName> = {
  degu: 'degu',
  micropython_ota: 'micropython_ota',
  'micropython-ota': 'micropython_ota',
  micropythonota: 'micropython_ota',
  mpy: 'micropython_ota',
  insighio: 'insighio',
  'insigh.io': 'insighio',
  connhex: 'connhex',
  exosite: 'exosite',
  thingsboard: 'thingsboard',
  tb: 'thingsboard',
};

interface Options {
  devices: number;
  platforms: PlatformName[];
  fail: string[];
  failureRate: number;
  threshold: number;
  deviceTimeout: number;
  serve: number | boolean | undefined;
  progress: boolean | undefined;
  seed: number;
}

const whole = (min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`a whole number, at least ${min}`);
  return n;
};
const share = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('a number between 0 and 1');
  return n;
};
const platformList = (value: string) =>
  value.split(',').map((name) => {
    const platform = ALIASES[name.trim().toLowerCase()];
    if (platform === undefined)
      throw new InvalidArgumentError(`unknown platform "${name}" (one of ${PLATFORMS.join(', ')})`);
    return platform;
  });

export function program(): Command {
  return new Command('npm run demo --')
    .description(
      'A staged OTA rollout over all six platforms on loopback: embedded MQTT broker, HTTP servers, real device agents, the rollout orchestrator.',
    )
    .addOption(new Option('-d, --devices <n>', 'devices per platform').argParser(whole(1)).default(4))
    .addOption(
      new Option('-p, --platforms <list>', `comma-separated platforms (${PLATFORMS.join(', ')})`)
        .argParser(platformList)
        .default([...PLATFORMS], 'all six'),
    )
    .addOption(
      new Option('-f, --fail <ids>', 'comma-separated device ids given a corrupt artifact ("none" for none)')
        .argParser((value: string) => (value === 'none' ? [] : value.split(',').map((id) => id.trim())))
        .default(['tb-1'], "tb-1, the ThingsBoard canary (or the first platform's canary)"),
    )
    .addOption(
      new Option('--failure-rate <r>', 'also corrupt this share of the other devices, at random (0–1)')
        .argParser(share)
        .default(0),
    )
    .addOption(new Option('--seed <n>', 'seed of --failure-rate').argParser(whole(0)).default(1))
    .addOption(
      new Option('--threshold <r>', 'pause a rollout once this share of its settled devices failed')
        .argParser(share)
        .default(0.25),
    )
    .addOption(
      new Option(
        '--device-timeout <ms>',
        'a device that says nothing this long times out (Degu and micropython_ota report no failures)',
      )
        .argParser(whole(1000))
        .default(15_000),
    )
    .addOption(
      new Option('--serve [port]', 'keep running after the rollouts and serve the live dashboard').argParser(
        whole(0),
      ),
    )
    .addOption(new Option('--no-progress', 'plain lines even on a terminal'));
}

/** Mulberry32: a small seeded generator, so --failure-rate picks the same devices each run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function main(argv: string[]): Promise<number> {
  const command = program();
  command.parse(argv, { from: 'user' });
  const options = command.opts<Options>();
  const platforms = [...new Set(options.platforms)];
  const fleets = new Map(platforms.map((platform) => [platform, deviceIds(platform, options.devices)]));
  const all = [...fleets.values()].flat();

  // The injected failures: the default names the ThingsBoard canary; without ThingsBoard, the
  // first platform's canary stands in.
  let failing = options.fail.filter((id) => all.includes(id));
  const defaulted = command.getOptionValueSource('fail') === 'default';
  if (defaulted && failing.length === 0 && platforms.length > 0) failing = [`${PREFIXES[platforms[0]!]}-1`];
  for (const id of options.fail) if (!all.includes(id) && !defaulted) console.warn(`--fail: no device ${id}`);
  const random = seeded(options.seed);
  for (const id of all) if (!failing.includes(id) && random() < options.failureRate) failing.push(id);
  const failingSet = new Set(failing);

  const tty = options.progress !== false && process.stdout.isTTY === true;
  const display = createDisplay(tty);
  const root = await mkdtemp(join(tmpdir(), 'otakit-demo-'));
  const runs = new Map<PlatformName, PlatformRun>();
  const rollouts = new Map<PlatformName, RolloutRun>();
  let done = false;
  let dashboard: { url: string; close(): Promise<void> } | undefined;
  try {
    console.log(
      `otakit demo: ${platforms.length} platform(s) x ${options.devices} device(s); injected failure(s): ${failing.join(', ') || 'none'}`,
    );
    console.log('Starting the cloud side and the device agents…');
    for (const platform of platforms) {
      const devices = fleets.get(platform)!;
      await mkdir(join(root, platform), { recursive: true });
      const run = await STARTERS[platform]({
        root: join(root, platform),
        devices,
        failing: failingSet,
        watcher: display.platform(platform, devices),
        note: (line) => display.say(`[${TITLES[platform]}] ${line}`),
      });
      runs.set(platform, run);
      display.say(`[${TITLES[platform]}] ${run.wiring}`);
    }

    if (options.serve !== undefined) {
      const snapshot = async (): Promise<DemoStreamPayload> => ({
        at: new Date().toISOString(),
        platforms: await Promise.all(
          [...runs].map(async ([platform, run]) => ({
            platform: PROTOCOL_NAMES[platform],
            title: TITLES[platform],
            fleet: await run.fleet.snapshot(),
          })),
        ),
        rollouts: await Promise.all(
          [...rollouts.values()].map((rollout) => rollout.orchestrator.snapshot(rollout.id)),
        ),
        done,
      });
      const { serveDashboard } = await import('../dashboard/serve.js');
      dashboard = await serveDashboard({
        port: typeof options.serve === 'number' ? options.serve : 0,
        host: '127.0.0.1',
        snapshot,
      });
      display.say(`Dashboard: ${dashboard.url}`);
    }

    display.say('Rolling out: canary (1 device), then 100 %, on every platform at once.');
    for (const platform of platforms) {
      rollouts.set(
        platform,
        await startRollout(platform, fleets.get(platform)!, runs.get(platform)!, {
          deviceTimeoutMs: options.deviceTimeout,
          failureRate: options.threshold,
          minSample: 1,
          resumeAfterMs: 1_000,
          say: (line) => display.say(line),
        }),
      );
    }
    const finals = new Map(
      await Promise.all(
        [...rollouts].map(async ([platform, rollout]) => [platform, await rollout.done] as const),
      ),
    );
    done = true;
    display.stop();

    // The summary: the fleet's word (what each platform's cloud side heard from the wire) and
    // the rollout's (each device's row).
    let healthyOk = true;
    const rows = [];
    for (const platform of platforms) {
      const run = runs.get(platform)!;
      const rollout = rollouts.get(platform)!;
      const final = finals.get(platform)!;
      const devices = fleets.get(platform)!;
      const rowsById = new Map(
        (await rollout.orchestrator.devices(rollout.id)).map((row) => [row.deviceId, row]),
      );
      let committed = 0;
      const problems: string[] = [];
      for (const id of devices) {
        const seen = await run.fleet.device(id);
        const row = rowsById.get(id);
        // A Connhex edge goes back to its idle heartbeat once committed: the fleet's history
        // keeps the commit it heard during the rollout.
        const heard =
          seen?.state === 'committed' ||
          (await run.fleet.history(id)).some(
            (entry) => entry.to === 'committed' && Date.parse(entry.at) >= rollout.startedAt,
          );
        const ok = heard && row?.state === 'succeeded';
        if (ok) committed += 1;
        if (!failingSet.has(id) && !ok) {
          healthyOk = false;
          problems.push(`${id}: fleet ${seen?.state ?? 'unknown'}, rollout ${row?.state ?? 'none'}`);
        }
      }
      const failures = Object.entries(final.failures)
        .map(([kind, n]) => `${n} ${kind}`)
        .join(', ');
      rows.push({
        platform: TITLES[platform],
        devices: devices.length,
        committed,
        failed: final.totals.failed + final.totals.timed_out,
        'failed as': failures || '-',
        injected: devices.filter((id) => failingSet.has(id)).length,
        rollout: final.state,
        paused: rollout.pauses,
        time: `${(((rollout.endedAt ?? Date.now()) - rollout.startedAt) / 1000).toFixed(1)} s`,
      });
      for (const problem of problems) console.log(`NOT COMMITTED: ${TITLES[platform]} ${problem}`);
    }
    console.log('\nSummary');
    console.table(rows);
    const healthy = all.length - failingSet.size;
    console.log(
      healthyOk
        ? `All ${healthy} healthy devices committed; the ${failingSet.size} injected failure(s) were caught.`
        : 'Some healthy device did not reach committed.',
    );
    if (dashboard !== undefined) {
      console.log(`Serving the dashboard at ${dashboard.url} (Ctrl-C to stop).`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    return healthyOk ? 0 : 1;
  } finally {
    display.stop();
    await dashboard?.close().catch(() => {});
    await Promise.all([...rollouts.values()].map((rollout) => rollout.orchestrator.close().catch(() => {})));
    for (const run of runs.values()) await run.close().catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
}
