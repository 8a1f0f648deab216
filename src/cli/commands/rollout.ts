/**
 * `otakit rollout start|status|pause|resume|cancel`: drive the staged rollouts that otakit
 * service instances run from a shared PostgreSQL database (docs/cloud/rollouts.md). The CLI only
 * writes and reads the rollout records; the instances send the orders.
 *
 * @module
 */
import { type Command, Option } from 'commander';
import type { RolloutSnapshot } from '../../cloud/rollout/snapshot.js';
import { quotedSchema } from '../../pg/schema-name.js';
import { CliError, usageError } from '../exit-codes.js';
import { parseSeconds, readJsonFile } from '../options.js';
import { createOutput, type Output } from '../output.js';
import { createProgress } from '../progress.js';
import type { DatabaseOptions, RolloutControl } from '../rollout-control.js';
import { untilSignalled } from '../signals.js';

interface CommonOptions extends DatabaseOptions {
  json?: boolean;
}

/** A schema name as the PostgreSQL stores take it; anything else is a usage error (exit 2). */
function parseSchema(value: string): string {
  try {
    quotedSchema(value, '--schema');
  } catch {
    throw usageError(
      `--schema must be a lower-case identifier (letters, digits, _; at most 63, not starting with a digit), not "${value}"`,
    );
  }
  return value;
}

function withDatabase(command: Command): Command {
  return command
    .option('--database <url>', 'the PostgreSQL URL (prefer --database-env: a password here shows in ps)')
    .option('--database-env <VAR>', 'the environment variable holding the PostgreSQL URL')
    .option('--schema <name>', 'the PostgreSQL schema of the tables', parseSchema, 'public')
    .option('--json', 'print the rollout snapshot as JSON');
}

async function withControl<T>(
  options: DatabaseOptions,
  body: (control: RolloutControl) => Promise<T>,
): Promise<T> {
  const { openRolloutControl } = await import('../rollout-control.js');
  const control = await openRolloutControl(options);
  try {
    return await body(control);
  } finally {
    await control.close();
  }
}

/** The final rollout states (FINAL_ROLLOUT_STATES, without loading the rollout module). */
const FINAL: readonly string[] = ['completed', 'aborted', 'cancelled'];

/**
 * The states a rollout may be in after each command for it to have done what was asked (again:
 * pausing a paused rollout is fine), and what is said otherwise.
 */
const OUTCOME: Record<'pause' | 'resume' | 'cancel', { states: readonly string[]; refusal: string }> = {
  pause: { states: ['paused'], refusal: 'only a scheduled or running rollout can be paused' },
  resume: { states: ['running', 'scheduled'], refusal: 'only a paused rollout can be resumed' },
  cancel: { states: ['cancelled'], refusal: 'it has ended' },
};

const SETTLED = ['succeeded', 'failed', 'timed_out', 'skipped', 'rolled_back'] as const;

function settledIn(counts: RolloutSnapshot['totals']): number {
  return SETTLED.reduce((sum, state) => sum + counts[state], 0);
}

function show(out: Output, snapshot: RolloutSnapshot): void {
  if (out.json) {
    out.result(snapshot);
    return;
  }
  out.line(
    `rollout ${snapshot.id}: ${snapshot.state}${snapshot.reason ? ` (${snapshot.reason.kind}: ${'message' in snapshot.reason ? snapshot.reason.message : ''})` : ''}`,
  );
  out.line(
    `  update ${snapshot.update.id}@${snapshot.update.version}, ${snapshot.deviceCount} device(s), wave ${snapshot.wave.index + 1}/${snapshot.waves.length} (${snapshot.wave.name})`,
  );
  for (const wave of snapshot.waves) {
    const counts = Object.entries(wave.counts)
      .filter(([, count]) => count > 0)
      .map(([state, count]) => `${state} ${count}`)
      .join(', ');
    out.line(`  ${wave.name}: ${settledIn(wave.counts)}/${wave.size} settled${counts ? ` (${counts})` : ''}`);
  }
  if (snapshot.failureRate !== null) out.line(`  failure rate ${(snapshot.failureRate * 100).toFixed(1)}%`);
}

async function lookup(control: RolloutControl, id: string): Promise<RolloutSnapshot> {
  const snapshot = await control.orchestrator.snapshot(id);
  if (snapshot === undefined) throw new CliError(`no rollout has the id "${id}"`);
  return snapshot;
}

export function registerRollout(program: Command): void {
  const rollout = program
    .command('rollout')
    .description('start and steer staged rollouts kept in PostgreSQL');

  withDatabase(
    rollout
      .command('start')
      .description('store a rollout plan; running service instances pick it up')
      .argument('<plan>', 'the rollout plan (JSON: id, manifest, devices, waves…)'),
  ).action(async (planFile: string, options: CommonOptions) => {
    const plan = await readJsonFile(planFile, 'rollout plan');
    const out = createOutput({ json: options.json ?? false });
    await withControl(options, async (control) => show(out, await control.orchestrator.start(plan as never)));
  });

  withDatabase(
    rollout
      .command('status')
      .description("a rollout's snapshot; with --watch, a progress bar per wave until it ends")
      .argument('<id>', 'the rollout id'),
  )
    .option('--watch', 'follow the rollout until it ends (or SIGINT)')
    .addOption(
      // The value is kept in milliseconds: help shows the default in the seconds it is given in.
      new Option('--interval <seconds>', 'how often to read it with --watch')
        .argParser((value) => parseSeconds(value, '--interval'))
        .default(1000, '1'),
    )
    .action(async (id: string, options: CommonOptions & { watch?: boolean; interval: number }) => {
      const out = createOutput({ json: options.json ?? false });
      await withControl(options, async (control) => {
        let snapshot = await lookup(control, id);
        if (!options.watch) return show(out, snapshot);
        const progress = createProgress({ silent: out.json });
        const bars = snapshot.waves.map((wave) => progress.bar(wave.name, wave.size));
        const stop = new AbortController();
        const signalled = untilSignalled(stop.signal);
        try {
          for (;;) {
            if (out.json) out.event(snapshot);
            snapshot.waves.forEach((wave, index) => {
              bars[index]?.update(settledIn(wave.counts), wave.size, snapshot.state);
            });
            const underWay = snapshot.deviceCount - settledIn(snapshot.totals);
            if (FINAL.includes(snapshot.state) && underWay === 0) break;
            const next = await Promise.race([
              new Promise<'tick'>((resolve) => setTimeout(() => resolve('tick'), options.interval)),
              signalled,
            ]);
            if (next !== 'tick') break;
            snapshot = await lookup(control, id);
          }
        } finally {
          stop.abort();
          progress.stop();
        }
        if (!out.json) show(out, snapshot);
        if (snapshot.state === 'aborted') throw new CliError(`rollout ${id} was aborted`);
      });
    });

  for (const verb of ['pause', 'resume', 'cancel'] as const) {
    const command = withDatabase(
      rollout.command(verb).description(`${verb} a rollout`).argument('<id>', 'the rollout id'),
    );
    if (verb !== 'resume') command.option('--message <text>', 'the reason shown');
    command.action(async (id: string, options: CommonOptions & { message?: string }) => {
      const out = createOutput({ json: options.json ?? false });
      await withControl(options, async (control) => {
        await lookup(control, id);
        const { orchestrator } = control;
        const snapshot =
          verb === 'pause'
            ? await orchestrator.pause(id, options.message)
            : verb === 'resume'
              ? await orchestrator.resume(id)
              : await orchestrator.cancel(
                  id,
                  options.message === undefined ? {} : { message: options.message },
                );
        // The orchestrator leaves a rollout it cannot move as it is (a completed one is not
        // paused): say so, rather than exit 0 as if it had been done.
        if (!OUTCOME[verb].states.includes(snapshot.state)) {
          throw new CliError(`rollout ${id} is ${snapshot.state}: ${OUTCOME[verb].refusal}`);
        }
        show(out, snapshot);
      });
    });
  }
}
