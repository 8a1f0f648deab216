/**
 * Crash injection through a real device agent in a child process: the generic kit (child bundle
 * and runner, kill plans, store corruption, restart until settled, the store and install-count
 * checks, the campaign loop) and the micropython_ota campaign, shared by the fuzz suite
 * (test/fuzz/agent-crash.fuzz.ts). The ThingsBoard campaign (crash-harness-thingsboard.ts) runs
 * on the same kit.
 *
 * The micropython_ota device (agent-crash-child.ts, bundled once with esbuild so each start is
 * plain node): a FileStore, the resumable file download hook, the directory installer that swaps
 * the whole app tree. Its release (four files, ~400 KiB) is served by the fault server throttled,
 * so kills land mid-download. Each iteration kills the agent one to three times: right after its
 * n-th persisted transition, right after its n-th installer step, when the download passed a
 * random byte offset (the parent kills), or a random moment into the install (the parent kills).
 * Between a kill and the restart it may leave a truncated FileStore temp file (what a writer
 * killed mid-write leaves) or truncate the record itself (what only outside interference can do:
 * FileStore renames a complete temp file over it). Then it restarts the agent on the same
 * directories until it settles, and checks everything. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { machineStoreKey } from '../../src/machine/machine-base.js';
import { FileStore } from '../../src/node/file-store.js';
import { createFaultServer, type FaultServer } from '../../src/testing/fault-server.js';
import type { CrashChildConfig } from './agent-crash-child.js';
import type { KillConfig } from './crash-child-kit.js';

const CHILD = join(import.meta.dirname, 'agent-crash-child.ts');

export type Line = Record<string, unknown> & { event: string };

// ---------------------------------------------------------------------------------------------
// The release and the device's trees
// ---------------------------------------------------------------------------------------------

/** `length` bytes that depend only on `seed` (a SHA-256 chain). */
export function bytes(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < length; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** The release's files, in the order the agent downloads them. */
export const NEW_FILES: Record<string, Buffer> = {
  'main.py': Buffer.from('print("v2")\n'.repeat(40)),
  'lib/a.bin': bytes('a', 120 * 1024),
  'lib/b.bin': bytes('b', 180 * 1024),
  'data/c.bin': bytes('c', 100 * 1024),
};
export const RELEASE_BYTES = Object.values(NEW_FILES).reduce((sum, file) => sum + file.length, 0);

/** What the device runs before the update: some files the release replaces, some it keeps. */
export const OLD_FILES: Record<string, Buffer> = {
  'boot.py': Buffer.from('import main\n'),
  'main.py': Buffer.from('print("v1")\n'),
  'lib/a.bin': bytes('old-a', 50 * 1024),
  'lib/keep.txt': Buffer.from('kept across updates\n'),
};

/** path → SHA-256 of each file (directories end in `/`), under `root`; `null` when absent. */
export async function treeDigest(root: string): Promise<Record<string, string> | null> {
  try {
    await stat(root);
  } catch {
    return null;
  }
  const tree: Record<string, string> = {};
  const walk = async (directory: string, prefix: string): Promise<void> => {
    for (const entry of (await readdir(directory, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const path = `${prefix}${entry.name}`;
      const full = join(directory, entry.name);
      if (entry.isDirectory()) {
        tree[`${path}/`] = 'dir';
        await walk(full, `${path}/`);
      } else {
        tree[path] = createHash('sha256')
          .update(await readFile(full))
          .digest('hex');
      }
    }
  };
  await walk(root, '');
  return tree;
}

// ---------------------------------------------------------------------------------------------
// The child
// ---------------------------------------------------------------------------------------------

const bundles = new Map<string, Promise<string>>();
/**
 * The child `entry` (a .ts file) bundled once. Packages stay imports resolved from the
 * repository's node_modules, unless `bundlePackages` (the first call for an entry decides): one
 * self-contained file starts with about half the CPU (mqtt.js alone is some 200 ms of module
 * loading on a loaded core).
 */
export function childScript(
  entry: string = CHILD,
  options: { bundlePackages?: boolean } = {},
): Promise<string> {
  let bundle = bundles.get(entry);
  if (bundle === undefined) {
    bundle = (async () => {
      const cache = join(import.meta.dirname, '../../node_modules/.cache');
      await mkdir(cache, { recursive: true });
      const directory = await mkdtemp(join(cache, 'otakit-agent-crash-'));
      const outfile = join(directory, basename(entry).replace(/\.ts$/, '.mjs'));
      await build({
        entryPoints: [entry],
        bundle: true,
        ...(options.bundlePackages
          ? {
              // CommonJS packages in an ES module bundle still call require() for node builtins.
              banner: {
                js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
              },
            }
          : { packages: 'external' as const }),
        platform: 'node',
        format: 'esm',
        target: 'node20',
        outfile,
        logLevel: 'error',
      });
      return outfile;
    })();
    bundles.set(entry, bundle);
  }
  return bundle;
}

const children = new Set<ChildProcess>();
/** Kills every child still running (a failed test must not leave one behind). */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Line[];
  stderr: string;
}

/** A child that runs longer than this is wedged (no kill point or restart takes near as long). */
const WEDGED_MS = 60_000;

/**
 * Runs the child `entry` with `config` (its JSON argument) to its end, handing each stdout line
 * to `onLine` with a way to SIGKILL it. Exit 0 (settled) and 3 (refused to start) are results;
 * any other exit, or a child running past {@link WEDGED_MS}, throws.
 */
export async function runChild(
  entry: string,
  config: unknown,
  onLine: (line: Line, kill: () => void) => void = () => {},
): Promise<ChildRun> {
  const script = await childScript(entry);
  const child = spawn(process.execPath, [script, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: Line[] = [];
  let buffer = '';
  let stderr = '';
  let wedged = false;
  const kill = () => child.kill('SIGKILL');
  const guard = setTimeout(() => {
    wedged = true;
    kill();
  }, WEDGED_MS);
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const part of parts) {
      const line = JSON.parse(part) as Line;
      lines.push(line);
      onLine(line, kill);
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  clearTimeout(guard);
  children.delete(child);
  if (wedged) throw new Error(`agent child wedged:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
  if (signal === null && code !== 0 && code !== 3) throw new Error(`agent child exited ${code}:\n${stderr}`);
  return { code, signal, lines, stderr };
}

// ---------------------------------------------------------------------------------------------
// Plans
// ---------------------------------------------------------------------------------------------

export type KillPoint =
  | { kind: 'transition'; n: number }
  | { kind: 'step'; n: number }
  | { kind: 'bytes'; offset: number }
  | { kind: 'install'; delayMs: number };

export type Corruption = 'none' | 'temp' | 'record';

export interface Variant {
  /** The health check fails: the update ends rolled back. */
  unhealthy: boolean;
  installIsIdempotent: boolean;
}

export interface Plan<V extends Variant = Variant> {
  variant: V;
  kills: KillPoint[];
  /** Done between the first kill and the restart. */
  corruption: Corruption;
  /** Where the record or temp file is cut, as a fraction of its length. */
  cutAt: number;
}

export const VARIANTS: Variant[] = [
  { unhealthy: false, installIsIdempotent: true },
  { unhealthy: false, installIsIdempotent: false },
  { unhealthy: true, installIsIdempotent: true },
];

/** mulberry32: plans are reproducible from a seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How many transitions and installer steps a run without a kill makes (per variant). */
export interface Counts {
  transitions: number;
  steps: number;
}

/** A micropython_ota baseline: the counts, and the trees before and after. */
export interface Baseline extends Counts {
  newTree: Record<string, string>;
  oldTree: Record<string, string>;
  versionFile: { old: Buffer; new: Buffer<ArrayBufferLike> };
}

/**
 * Plan `index`: the first kill walks over every transition and every installer step of the
 * variant in turn (so a few dozen iterations cover all of them), then byte offsets (below
 * `releaseBytes`) and install moments; later kills (in the restarts) and corruptions are random.
 */
export function planFor(
  index: number,
  random: () => number,
  baselines: Counts[],
  releaseBytes: number = RELEASE_BYTES,
): Plan {
  const variantIndex = index % VARIANTS.length;
  const variant = VARIANTS[variantIndex]!;
  const baseline = baselines[variantIndex]!;
  const round = Math.floor(index / VARIANTS.length);
  const exact = baseline.transitions + baseline.steps;
  // Rounds alternate: exact points in order, then a random one (bytes or install).
  const cycle = Math.floor(round / 2);
  const randomKill = (): KillPoint => {
    const r = random();
    if (r < 0.45) return { kind: 'bytes', offset: Math.floor(random() * releaseBytes) };
    if (r < 0.65) return { kind: 'install', delayMs: Math.floor(random() * 25) };
    if (r < 0.85) return { kind: 'transition', n: 1 + Math.floor(random() * baseline.transitions) };
    return { kind: 'step', n: 1 + Math.floor(random() * baseline.steps) };
  };
  let first: KillPoint;
  if (round % 2 === 0) {
    const point = cycle % exact;
    first =
      point < baseline.transitions
        ? { kind: 'transition', n: point + 1 }
        : { kind: 'step', n: point - baseline.transitions + 1 };
  } else {
    first = random() < 0.7 ? { kind: 'bytes', offset: Math.floor(random() * releaseBytes) } : randomKill();
  }
  const kills = [first];
  if (random() < 0.35) kills.push(randomKill());
  if (random() < 0.1) kills.push(randomKill());
  const r = random();
  const corruption: Corruption = r < 0.15 ? 'temp' : r < 0.25 ? 'record' : 'none';
  return { variant, kills, corruption, cutAt: random() };
}

// ---------------------------------------------------------------------------------------------
// Kill, corrupt, restart until settled (any agent)
// ---------------------------------------------------------------------------------------------

/** What the generic part needs to know of a device. */
export interface CrashTarget {
  /** The child's entry (.ts). */
  entry: string;
  /** The machine record's file in the FileStore directory. */
  recordFile: string;
  /** The child's argument, with one kill point (exact points) or none. */
  config(kill?: KillPoint): unknown;
  /** A digest of what the agent installs to: it must not change while the store is corrupt. */
  snapshot(): Promise<unknown>;
  /** Called after each child process ended (e.g. to mark what the cloud side had received). */
  onRunEnd?(run: ChildRun): void;
}

export interface Crash {
  /** Every line of every process, each process opened by a `{ event: 'run' }` line. */
  all: Line[];
  /** The kill points that killed the process (a point the run never reached did not). */
  killedAt: string[];
  missed: number;
  restarts: number;
  /** A truncated record was refused with a STORE error (then repaired and resumed). */
  storeRefused: boolean;
  /** The truncated temp file planted beside the record, or `null`. */
  planted: string | null;
  /** The run that settled (exited 0). */
  last: ChildRun;
}

/** The child's side of a kill point: the exact points it SIGKILLs itself at. */
export function killConfig(kill: KillPoint | undefined): KillConfig {
  if (kill?.kind === 'transition') return { killAtTransition: kill.n };
  if (kill?.kind === 'step') return { killAtStep: kill.n };
  return {};
}

/**
 * The machine record of agent `id` parses with the library's FileStore, is idle, and says
 * `version` runs.
 */
export async function checkRecord(
  storeDirectory: string,
  id: string,
  version: string,
  all: Line[],
): Promise<void> {
  const record = (await new FileStore(storeDirectory).get(machineStoreKey(id))) as
    | { state: string; current: { version: string } | null }
    | undefined;
  if (record?.state !== 'idle') fail(`the record ends in ${String(record?.state)}`, all);
  if (record.current?.version !== version) fail(`the record says ${record.current?.version} runs`, all);
}

/** Runs the child with one kill point; the parent kills on byte offsets and install moments. */
function runWithKill(device: CrashTarget, kill: KillPoint): Promise<ChildRun> {
  let armed = true;
  return runChild(device.entry, device.config(kill), (line, killNow) => {
    if (!armed) return;
    if (kill.kind === 'bytes' && line.event === 'progress' && (line.bytes as number) >= kill.offset) {
      armed = false;
      killNow();
    } else if (kill.kind === 'install' && line.event === 'step') {
      armed = false;
      setTimeout(killNow, kill.delayMs);
    }
  });
}

function describeKill(kill: KillPoint, lines: Line[]): string {
  if (kill.kind === 'transition') {
    const line = lines.find((l) => l.event === 'transition' && l.n === kill.n);
    return `transition:${String(line?.from)}->${String(line?.to)}`;
  }
  if (kill.kind === 'step') {
    const line = lines.find((l) => l.event === 'step' && l.n === kill.n);
    return `step:${String(line?.step)}`;
  }
  if (kill.kind === 'bytes') return 'download-bytes';
  return 'install-moment';
}

export function fail(message: string, lines: Line[]): never {
  throw new Error(`${message}\n${lines.map((line) => JSON.stringify(line)).join('\n')}`);
}

/**
 * Kills the agent at each of the plan's points in turn (the first kill may be followed by a
 * truncated temp file or record), then restarts it until a run settles (exits 0).
 */
export async function crashAndSettle(device: CrashTarget, plan: Plan): Promise<Crash> {
  const all: Line[] = [];
  const killedAt: string[] = [];
  let missed = 0;
  let restarts = 0;
  let storeRefused = false;
  let planted: string | null = null;
  let last: ChildRun | undefined;
  const run = async (kill: KillPoint | undefined, label: string): Promise<ChildRun> => {
    const result =
      kill === undefined ? await runChild(device.entry, device.config()) : await runWithKill(device, kill);
    device.onRunEnd?.(result);
    restarts += 1;
    all.push({ event: 'run', kill: label }, ...result.lines);
    return result;
  };
  for (const [index, kill] of plan.kills.entries()) {
    const killed = await run(kill, kill.kind);
    if (killed.signal !== 'SIGKILL') {
      // The point was never reached (the update was already past it): this run settled.
      missed += 1;
      last = killed;
      break;
    }
    killedAt.push(describeKill(kill, killed.lines));
    if (index === 0 && plan.corruption === 'temp') {
      // What a writer killed between open() and rename() leaves: a prefix of a record.
      const record = await readFile(device.recordFile).catch(() =>
        Buffer.from('{"format":"otakit.machine/1"'),
      );
      planted = `${device.recordFile}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(planted, record.subarray(0, Math.floor(record.length * plan.cutAt)));
    } else if (index === 0 && plan.corruption === 'record') {
      const record = await readFile(device.recordFile).catch(() => null);
      if (record !== null) {
        const before = JSON.stringify(await device.snapshot());
        await truncate(device.recordFile, Math.floor(record.length * plan.cutAt));
        const cut = await readFile(device.recordFile);
        const refused = await run(undefined, 'none (truncated record)');
        const fatal = refused.lines.find((line) => line.event === 'fatal');
        if (refused.code !== 3 || fatal?.code !== 'STORE')
          fail('a truncated record was not refused with a STORE error', all);
        if (JSON.stringify(await device.snapshot()) !== before)
          fail('the agent touched what it installs to with a corrupt store', all);
        if (!(await readFile(device.recordFile)).equals(cut))
          fail('the corrupt record was not left as it was', all);
        storeRefused = true;
        // A human repairs it (puts back what was there): the agent then carries on.
        await writeFile(device.recordFile, record);
      }
    }
  }
  // Restart until it settles (exits 0 at an outcome, or finds nothing to do).
  while (last === undefined || last.signal !== null) {
    if (restarts > plan.kills.length + 6) fail('the agent did not settle', all);
    last = await run(undefined, 'none');
    if (last.code === 3) fail('the agent refused to start', all);
  }
  return { all, killedAt, missed, restarts, storeRefused, planted, last };
}

/**
 * Never installed twice: one commit of the installer at most (none when the update ended rolled
 * back), nothing downloaded or installed again after the update committed.
 */
export function checkInstalledOnce(all: Line[], committed: boolean): void {
  const commits = all.filter((line) => line.event === 'step' && line.step === 'committed').length;
  if (commits > (committed ? 1 : 0)) fail(`the installer committed ${commits} times`, all);
  const committedAt = all.findIndex((line) => line.event === 'transition' && line.to === 'committed');
  if (committedAt >= 0) {
    const after = all.slice(committedAt);
    if (after.some((line) => line.event === 'progress' || (line.event === 'step' && line.step === 'staged')))
      fail('the update was downloaded or installed again after it committed', all);
  }
}

/** How many times the update was offered again (and run) after it had rolled back. */
export function retriesAfterRollback(all: Line[]): number {
  const rolledBackAt = all.findIndex((line) => line.event === 'transition' && line.to === 'rolled_back');
  return rolledBackAt < 0
    ? 0
    : all.slice(rolledBackAt).filter((line) => line.event === 'transition' && line.to === 'available').length;
}

/**
 * No store temp file left but the planted one, and that one swept when the last run wrote.
 * Returns whether the planted file is gone (`null`: none was planted).
 */
export async function checkStoreDirectory(storeDirectory: string, crash: Crash): Promise<boolean | null> {
  const { planted, last, all } = crash;
  const temps = (await readdir(storeDirectory)).filter((name) => name.endsWith('.tmp'));
  const wroteLast = last.lines.some((line) => line.event === 'transition');
  const tempSwept = planted === null ? null : !temps.some((name) => planted.endsWith(name));
  if (temps.some((name) => !planted?.endsWith(name))) fail(`store temp files left: ${temps.join(', ')}`, all);
  if (planted !== null && !tempSwept && wroteLast) fail('a planted temp file survived a write', all);
  return tempSwept;
}

// ---------------------------------------------------------------------------------------------
// One micropython_ota iteration
// ---------------------------------------------------------------------------------------------

export interface Release {
  server: FaultServer;
  /** Publishes `project` (version file `v2`, the four files, throttled) on the server. */
  publish(project: string): void;
  close(): Promise<void>;
}

export async function startRelease(bytesPerSecond = 3_000_000): Promise<Release> {
  const server = await createFaultServer();
  return {
    server,
    publish(project) {
      server.route(`/${project}/version`, { body: Buffer.from('v2\n') });
      for (const [name, body] of Object.entries(NEW_FILES)) {
        server.route(`/${project}/v2_${name}`, { body, bytesPerSecond, chunkSize: 8 * 1024 });
      }
    },
    close: () => server.close(),
  };
}

export interface Device {
  root: string;
  project: string;
  app: string;
  storeDirectory: string;
  recordFile: string;
  config(variant: Variant, kill?: KillPoint): CrashChildConfig;
}

/** The FileStore file name of the machine record of agent `id`. */
export function recordFileName(id: string): string {
  return `${encodeURIComponent(machineStoreKey(id)).replaceAll('.', '%2E')}.json`;
}

export async function prepareDevice(
  release: Release,
  project: string,
  versionFile: Buffer<ArrayBufferLike> = Buffer.from('v1'),
): Promise<Device> {
  const root = await mkdtemp(join(tmpdir(), 'otakit-agent-crash-'));
  const app = join(root, 'app');
  for (const [name, body] of Object.entries({ ...OLD_FILES, version: versionFile })) {
    await mkdir(join(app, name, '..'), { recursive: true });
    await writeFile(join(app, name), body);
  }
  release.publish(project);
  const storeDirectory = join(root, 'agent', 'state');
  return {
    root,
    project,
    app,
    storeDirectory,
    recordFile: join(storeDirectory, recordFileName(`micropython_ota/${project}`)),
    config: (variant, kill) => ({
      root,
      host: release.server.url,
      project,
      filenames: Object.keys(NEW_FILES),
      unhealthy: variant.unhealthy,
      installIsIdempotent: variant.installIsIdempotent,
      ...killConfig(kill),
    }),
  };
}

export interface IterationResult {
  outcome: 'committed' | 'rolled_back' | 'settled';
  /** The kill points that killed the process (a point the run never reached did not). */
  killedAt: string[];
  missed: number;
  restarts: number;
  corruption: Corruption;
  /** A truncated record was refused with a STORE error (then repaired and resumed). */
  storeRefused: boolean;
  /** A planted temp file was gone at the end. */
  tempSwept: boolean | null;
  /** Installs retried after a rollback (micropython_ota retries a tag at every boot). */
  retriesAfterRollback: number;
}

/** The outcome the settling run printed: `committed`, `rolled_back` or `settled` (nothing to do). */
export function outcomeOf(crash: Crash): IterationResult['outcome'] {
  const end = crash.last.lines.find((line) => line.event === 'outcome' || line.event === 'settled');
  if (end === undefined) fail('the last run ended without an outcome', crash.all);
  const outcome = end.event === 'settled' ? 'settled' : (end.state as string);
  if (outcome !== 'committed' && outcome !== 'rolled_back' && outcome !== 'settled')
    fail(`the update ended ${outcome}`, crash.all);
  return outcome;
}

/** The tallies every campaign reports, from a crash and its outcome. */
export function resultOf(
  crash: Crash,
  plan: Plan,
  outcome: IterationResult['outcome'],
  tempSwept: boolean | null,
): IterationResult {
  return {
    outcome,
    killedAt: crash.killedAt,
    missed: crash.missed,
    restarts: crash.restarts,
    corruption: plan.corruption,
    storeRefused: crash.storeRefused,
    tempSwept,
    retriesAfterRollback: retriesAfterRollback(crash.all),
  };
}

const JUNK = [
  'app.otakit-new',
  'app.otakit-backup',
  'app.otakit-discard',
  'app.otakit-journal',
  'app.otakit-journal.tmp',
];

/**
 * Runs one plan on a fresh device and checks every invariant; throws with the child's lines on
 * a violation.
 */
export async function runIteration(
  release: Release,
  project: string,
  plan: Plan,
  baseline: Baseline,
): Promise<IterationResult> {
  const device = await prepareDevice(release, project, baseline.versionFile.old);
  try {
    const crash = await crashAndSettle(
      {
        entry: CHILD,
        recordFile: device.recordFile,
        config: (kill) => device.config(plan.variant, kill),
        snapshot: () => treeDigest(device.app),
      },
      plan,
    );
    const { all } = crash;
    const outcome = outcomeOf(crash);
    if (plan.variant.unhealthy && outcome !== 'rolled_back')
      fail('an unhealthy update did not roll back', all);
    if (!plan.variant.unhealthy && outcome === 'rolled_back' && plan.variant.installIsIdempotent)
      fail('an idempotent install rolled back', all);

    // The tree, byte for byte.
    const tree = await treeDigest(device.app);
    const expected = outcome === 'rolled_back' ? baseline.oldTree : baseline.newTree;
    if (JSON.stringify(tree) !== JSON.stringify(expected))
      fail(
        `app tree is not the ${outcome === 'rolled_back' ? 'old' : 'new'} one: ${JSON.stringify(tree)}`,
        all,
      );

    // The record parses with the library's FileStore and agrees with the tree.
    await checkRecord(
      device.storeDirectory,
      `micropython_ota/${project}`,
      outcome === 'rolled_back' ? 'v1' : 'v2',
      all,
    );

    checkInstalledOnce(all, outcome !== 'rolled_back');

    // No junk where it matters: the installer's work paths, staged downloads, store temp files.
    const beside = await readdir(device.root);
    const junk = beside.filter((name) => JUNK.includes(name));
    if (junk.length > 0) fail(`left behind: ${junk.join(', ')}`, all);
    const staging = await readdir(join(device.root, 'agent', 'staging'), { recursive: true }).catch(() => []);
    if (staging.length > 0) fail(`staged downloads left behind: ${staging.join(', ')}`, all);
    const tempSwept = await checkStoreDirectory(device.storeDirectory, crash);
    return resultOf(crash, plan, outcome, tempSwept);
  } finally {
    await rm(device.root, { recursive: true, force: true });
  }
}

/** Runs each variant once without a kill: how many transitions and steps, and the two trees. */
export async function measureBaselines(release: Release): Promise<Baseline[]> {
  const baselines: Baseline[] = [];
  for (const [index, variant] of VARIANTS.entries()) {
    const device = await prepareDevice(release, `baseline${index}`);
    try {
      const oldTree = (await treeDigest(device.app))!;
      const run = await baselineRun(CHILD, device.config(variant), variant);
      const version = await readFile(join(device.app, 'version'));
      baselines.push({
        ...countsOf(run),
        newTree: variant.unhealthy ? {} : (await treeDigest(device.app))!,
        oldTree,
        versionFile: { old: Buffer.from('v1'), new: version },
      });
    } finally {
      await rm(device.root, { recursive: true, force: true });
    }
  }
  // The unhealthy variant ends with the old tree; its "new" tree is the healthy one's.
  for (const baseline of baselines)
    if (Object.keys(baseline.newTree).length === 0) baseline.newTree = baselines[0]!.newTree;
  return baselines;
}

/** Runs `variant` once without a kill; it must end committed, or rolled back when unhealthy. */
export async function baselineRun(entry: string, config: unknown, variant: Variant): Promise<ChildRun> {
  const run = await runChild(entry, config);
  const outcome = run.lines.find((line) => line.event === 'outcome');
  if (outcome?.state !== (variant.unhealthy ? 'rolled_back' : 'committed'))
    fail('a baseline run failed', run.lines);
  return run;
}

/** The transitions and installer steps of a run. */
export function countsOf(run: ChildRun): Counts {
  return {
    transitions: run.lines.filter((line) => line.event === 'transition').length,
    steps: run.lines.filter((line) => line.event === 'step').length,
  };
}

// ---------------------------------------------------------------------------------------------
// Campaigns
// ---------------------------------------------------------------------------------------------

/** Runs plans 0..count-1 (drawn in order from one seeded source), `concurrency` at a time. */
export async function campaign<P, R>(options: {
  count: number;
  seed: number;
  concurrency: number;
  plan: (index: number, random: () => number) => P;
  run: (index: number, plan: P) => Promise<R>;
}): Promise<{ results: R[]; plans: P[] }> {
  const random = prng(options.seed);
  const plans = Array.from({ length: options.count }, (_, index) => options.plan(index, random));
  const results: R[] = new Array(plans.length);
  let next = 0;
  const worker = async () => {
    while (next < plans.length) {
      const index = next++;
      const plan = plans[index]!;
      try {
        results[index] = await options.run(index, plan);
      } catch (error) {
        throw new Error(`iteration ${index} (seed ${options.seed}, plan ${JSON.stringify(plan)}) failed`, {
          cause: error,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return { results, plans };
}

/** Runs `count` micropython_ota plans, `concurrency` at a time, and tallies the results. */
export function runCampaign(options: {
  release: Release;
  baselines: Baseline[];
  count: number;
  seed: number;
  concurrency: number;
  prefix: string;
}): Promise<{ results: IterationResult[]; plans: Plan[] }> {
  return campaign({
    ...options,
    plan: (index, random) => planFor(index, random, options.baselines),
    run: (index, plan) =>
      runIteration(
        options.release,
        `${options.prefix}${index}`,
        plan,
        options.baselines[index % VARIANTS.length]!,
      ),
  });
}

/** Counts of each value, `key=count` sorted by key. */
export function tally(values: string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([key, count]) => `${key}=${count}`)
    .join(' ');
}

/** A summary for the log: outcomes, kill points, corruptions. */
export function summarize(results: IterationResult[]): string {
  return [
    `iterations: ${results.length}`,
    `outcomes: ${tally(results.map((r) => r.outcome))}`,
    `kills: ${results.reduce((sum, r) => sum + r.killedAt.length, 0)} (points never reached: ${results.reduce((sum, r) => sum + r.missed, 0)})`,
    `kill points: ${tally(results.flatMap((r) => r.killedAt))}`,
    `agent starts: ${results.reduce((sum, r) => sum + r.restarts, 0)}`,
    `corruptions: ${tally(results.map((r) => r.corruption))}; truncated records refused with STORE: ${results.filter((r) => r.storeRefused).length}; planted temp files swept: ${results.filter((r) => r.tempSwept === true).length}, still there (no write after): ${results.filter((r) => r.tempSwept === false).length}`,
    `installs retried after a rollback: ${results.reduce((sum, r) => sum + r.retriesAfterRollback, 0)}`,
  ].join('\n');
}
