/**
 * Crash injection through a ThingsBoard device agent in a child process, on the kit of
 * crash-harness.ts (same plans, kill points, store corruptions and restarts), for the fuzz suite
 * (test/fuzz/agent-crash-thingsboard.fuzz.ts).
 *
 * Each iteration gets its own ThingsBoard emulator (test/device/thingsboard-support.ts: aedes in
 * process, the HTTP firmware endpoint), assigns a 360 KiB package (SHA-256 checksum) and runs the
 * agent (agent-crash-thingsboard-child.ts) with a FileStore and the file installer on `app.bin`,
 * fetching the package over MQTT in 8 KiB chunks or over HTTP (alternating every two rounds).
 * Besides what every campaign checks (the file byte for byte the old or the new package, the
 * outcome agreeing with it and with the record, which parses; one installer commit at most,
 * nothing downloaded or installed after the commit; no junk, no stray store temp files), the
 * cloud side must have the final status: the last `fw_state` the emulator received is `UPDATED`
 * (with `current_fw_version` 2.0, nothing but `UPDATED` after the first one) when the update
 * committed, `FAILED` (`fw_error` naming the failure state, never an `UPDATED`) when it did not;
 * and no `UPDATED` arrived before a process had persisted `committed`.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startThingsBoard, type TbEmulator, type TbPackage } from '../device/thingsboard-support.js';
import type { ThingsBoardCrashChildConfig } from './agent-crash-thingsboard-child.js';
import {
  baselineRun,
  bytes,
  type Counts,
  type Crash,
  campaign,
  checkInstalledOnce,
  checkRecord,
  checkStoreDirectory,
  childScript,
  countsOf,
  crashAndSettle,
  fail,
  type IterationResult,
  type KillPoint,
  killConfig,
  type Line,
  outcomeOf,
  type Plan,
  planFor,
  recordFileName,
  resultOf,
  summarize,
  tally,
  VARIANTS,
  type Variant,
} from './crash-harness.js';

export const THINGSBOARD_CHILD = join(import.meta.dirname, 'agent-crash-thingsboard-child.ts');

/** The child, bundled with its packages (it starts some 250 times per campaign). */
export function thingsBoardChild(): Promise<string> {
  return childScript(THINGSBOARD_CHILD, { bundlePackages: true });
}

const AGENT_ID = 'thingsboard';
const CURRENT = { title: 'app', version: '1.0' };
/** What the device runs before the update. */
export const OLD_PACKAGE = bytes('tb-old', 150 * 1024);
/** The package assigned to it: big enough that kills land mid-download. */
export const NEW_PACKAGE: TbPackage = { title: 'app', version: '2.0', bytes: bytes('tb-new', 360 * 1024) };

export type Transfer = ThingsBoardCrashChildConfig['transfer'];
export type ThingsBoardVariant = Variant & { transfer: Transfer };

/**
 * Plan `index`: {@link planFor}'s (the same walk over every transition and installer step, the
 * same random points), with the transfer alternating every two rounds, so both transfers meet
 * exact and random kill points.
 */
export function thingsBoardPlanFor(
  index: number,
  random: () => number,
  counts: Counts[],
): Plan<ThingsBoardVariant> {
  const plan = planFor(index, random, counts, NEW_PACKAGE.bytes.length);
  const transfer: Transfer = Math.floor(index / (2 * VARIANTS.length)) % 2 === 0 ? 'mqtt' : 'http';
  return { ...plan, variant: { ...plan.variant, transfer } };
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const OLD_DIGEST = sha256(OLD_PACKAGE);
const NEW_DIGEST = sha256(NEW_PACKAGE.bytes);

interface ThingsBoardDevice {
  root: string;
  file: string;
  storeDirectory: string;
  recordFile: string;
  tb: TbEmulator;
  config(variant: ThingsBoardVariant, kill?: KillPoint): ThingsBoardCrashChildConfig;
  close(): Promise<void>;
}

/** A fresh device running the old package, and its own emulator with the new one assigned. */
async function prepareDevice(token: string): Promise<ThingsBoardDevice> {
  const root = await mkdtemp(join(tmpdir(), 'otakit-tb-crash-'));
  const file = join(root, 'app.bin');
  await writeFile(file, OLD_PACKAGE);
  const tb = await startThingsBoard(token);
  // Not pushed: the agent finds it with its attribute request at start, as after being offline.
  await tb.assign(NEW_PACKAGE, { push: false });
  const storeDirectory = join(root, 'agent', 'state');
  return {
    root,
    file,
    storeDirectory,
    recordFile: join(storeDirectory, recordFileName(AGENT_ID)),
    tb,
    config: (variant, kill) => ({
      root,
      brokerUrl: tb.url,
      token,
      baseUrl: tb.http.baseUrl,
      transfer: variant.transfer,
      current: CURRENT,
      unhealthy: variant.unhealthy,
      installIsIdempotent: variant.installIsIdempotent,
      ...killConfig(kill),
    }),
    async close() {
      await tb.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function fileDigest(file: string): Promise<string | null> {
  return readFile(file).then(sha256, () => null);
}

export interface ThingsBoardIterationResult extends IterationResult {
  transfer: Transfer;
  /** The last `fw_state` the emulator received. */
  finalFwState: string | null;
  /** `UPDATED` messages received (a restart in `committed` sends it again). */
  updatedReports: number;
}

/** The index of the process (0-based, in `all`'s `run` lines) each line belongs to. */
function processOf(all: Line[]): number[] {
  let current = -1;
  return all.map((line) => {
    if (line.event === 'run') current += 1;
    return current;
  });
}

/**
 * The cloud side: the final `fw_state`, what came after the first `UPDATED`, and no `UPDATED`
 * before `committed` was persisted. `marks[k]` is how many telemetry messages the emulator had
 * when process k ended: a message below it was sent by process k or an earlier one.
 */
function checkCloud(tb: TbEmulator, crash: Crash, marks: number[], committed: boolean): string | null {
  const { all } = crash;
  const telemetry = tb.telemetry;
  const states = tb.fwStates();
  const final = states.at(-1) ?? null;
  const said = (text: string): never => fail(`${text}; telemetry: ${JSON.stringify(telemetry)}`, all);
  const updatedAt = telemetry.flatMap((entry, index) => (entry.fw_state === 'UPDATED' ? [index] : []));
  if (committed) {
    if (final !== 'UPDATED') said(`the update committed, but the last fw_state is ${final}`);
    const first = updatedAt[0]!;
    if (telemetry.slice(first).some((entry) => entry.fw_state !== undefined && entry.fw_state !== 'UPDATED'))
      said('another fw_state followed UPDATED');
    for (const index of updatedAt) {
      const entry = telemetry[index]!;
      if (entry.current_fw_version !== NEW_PACKAGE.version || entry.current_fw_title !== NEW_PACKAGE.title)
        said('UPDATED without current_fw_title/current_fw_version of the new package');
    }
    // No success before commit: the process that sent the first UPDATED (or an earlier one) had
    // persisted `committed` by then.
    const sender = marks.findIndex((mark) => mark > first);
    const by = sender < 0 ? marks.length - 1 : sender;
    const owners = processOf(all);
    const committedIn = all.findIndex((line) => line.event === 'transition' && line.to === 'committed');
    if (committedIn < 0 || owners[committedIn]! > by)
      said(`UPDATED arrived during process ${by}, before any process committed`);
  } else {
    if (final !== 'FAILED') said(`the update did not commit, but the last fw_state is ${final}`);
    if (updatedAt.length > 0) said('UPDATED was reported for an update that did not commit');
    const error = telemetry.findLast((entry) => entry.fw_state === 'FAILED')?.fw_error;
    if (typeof error !== 'string' || !error.startsWith('rolled_back: '))
      said(`FAILED with fw_error ${JSON.stringify(error)}`);
  }
  // The device's own view, line by line: no status it sent as UPDATED before it had persisted
  // `committed` (a transition line is printed before its status is sent).
  const reportedAt = all.findIndex(
    (line) => line.event === 'report' && (line.fw as unknown[]).includes('UPDATED'),
  );
  const persistedAt = all.findIndex((line) => line.event === 'transition' && line.to === 'committed');
  if (reportedAt >= 0 && (persistedAt < 0 || reportedAt < persistedAt))
    fail('UPDATED was sent before committed was persisted', all);
  if (!committed && reportedAt >= 0) fail('UPDATED was sent for an update that did not commit', all);
  // What the device says it runs, last: the new version when committed, else the old one.
  const version = telemetry.findLast((entry) => entry.current_fw_version !== undefined)?.current_fw_version;
  const expected = committed ? NEW_PACKAGE.version : CURRENT.version;
  if (version !== expected) said(`the last current_fw_version is ${String(version)}, not ${expected}`);
  return final;
}

/**
 * Runs one plan on a fresh device and emulator and checks every invariant; throws with the
 * child's lines on a violation.
 */
export async function runThingsBoardIteration(
  index: number,
  plan: Plan<ThingsBoardVariant>,
): Promise<ThingsBoardIterationResult> {
  const device = await prepareDevice(`TB_CRASH_TOKEN_${index}`);
  try {
    const marks: number[] = [];
    const crash = await crashAndSettle(
      {
        entry: THINGSBOARD_CHILD,
        recordFile: device.recordFile,
        config: (kill) => device.config(plan.variant, kill),
        snapshot: () => fileDigest(device.file),
        onRunEnd: () => marks.push(device.tb.telemetry.length),
      },
      plan,
    );
    const { all } = crash;
    const outcome = outcomeOf(crash);

    // The record parses with the library's FileStore; it says which version runs. Settled (the
    // update had ended in an earlier process) happens only after a commit: after a rollback the
    // package is still assigned, so a restart runs it again.
    const committed = outcome !== 'rolled_back';
    await checkRecord(
      device.storeDirectory,
      AGENT_ID,
      committed ? NEW_PACKAGE.version : CURRENT.version,
      all,
    );
    if (plan.variant.unhealthy && committed) fail('an unhealthy update committed', all);
    if (!plan.variant.unhealthy && !committed && plan.variant.installIsIdempotent)
      fail('an idempotent install rolled back', all);

    // The file, byte for byte.
    const digest = await fileDigest(device.file);
    if (digest !== (committed ? NEW_DIGEST : OLD_DIGEST))
      fail(`app.bin is not the ${committed ? 'new' : 'old'} package (sha256 ${digest})`, all);

    checkInstalledOnce(all, committed);
    const finalFwState = checkCloud(device.tb, crash, marks, committed);

    // No junk: the installer's work files, staged downloads, store temp files.
    const junk = (await readdir(device.root)).filter((name) => name !== 'app.bin' && name !== 'agent');
    if (junk.length > 0) fail(`left behind: ${junk.join(', ')}`, all);
    // Nothing at all: the update's files and its folder go once it has ended.
    const staging = await readdir(join(device.root, 'agent', 'staging'), { recursive: true }).catch(() => []);
    if (staging.length > 0) fail(`staged downloads left behind: ${staging.join(', ')}`, all);
    const tempSwept = await checkStoreDirectory(device.storeDirectory, crash);
    return {
      ...resultOf(crash, plan, outcome, tempSwept),
      transfer: plan.variant.transfer,
      finalFwState,
      updatedReports: device.tb.fwStates().filter((state) => state === 'UPDATED').length,
    };
  } finally {
    await device.close();
  }
}

/** Runs each variant once (over MQTT) without a kill: how many transitions and steps. */
export async function measureThingsBoardCounts(): Promise<Counts[]> {
  await thingsBoardChild();
  const counts: Counts[] = [];
  for (const [index, variant] of VARIANTS.entries()) {
    const device = await prepareDevice(`TB_BASELINE_${index}`);
    try {
      const config = device.config({ ...variant, transfer: 'mqtt' });
      counts.push(countsOf(await baselineRun(THINGSBOARD_CHILD, config, variant)));
    } finally {
      await device.close();
    }
  }
  return counts;
}

/** Runs `count` ThingsBoard plans, `concurrency` at a time. */
export async function runThingsBoardCampaign(options: {
  counts: Counts[];
  count: number;
  seed: number;
  concurrency: number;
}): Promise<{ results: ThingsBoardIterationResult[]; plans: Plan<ThingsBoardVariant>[] }> {
  await thingsBoardChild();
  return campaign({
    ...options,
    plan: (index, random) => thingsBoardPlanFor(index, random, options.counts),
    run: runThingsBoardIteration,
  });
}

/** {@link summarize}, plus transfers, the final fw_state and the UPDATED messages. */
export function summarizeThingsBoard(results: ThingsBoardIterationResult[]): string {
  return [
    summarize(results),
    `transfers: ${tally(results.map((r) => r.transfer))}`,
    `final fw_state: ${tally(results.map((r) => String(r.finalFwState)))}`,
    `UPDATED messages: ${results.reduce((sum, r) => sum + r.updatedReports, 0)} (iterations with more than one: ${results.filter((r) => r.updatedReports > 1).length})`,
  ].join('\n');
}
