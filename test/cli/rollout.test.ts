/**
 * `otakit rollout start|status|pause|resume|cancel` run as a subprocess against a real PostgreSQL
 * (a throwaway cluster, test/support/postgres.ts, password authentication), while a service
 * instance runs in this process as docs/cloud/rollouts.md shows it: an orchestrator over a
 * PostgresRolloutStore on the same database and schema, the insigh.io publisher and status intake
 * on an in-process broker (aedes), and a fleet of simulated insigh.io devices. The CLI only writes
 * and reads the rollout records; the service sends every order.
 *
 * The pause is checked without timing: the service's dispatcher holds every order after the
 * first four until the pause is seen by a round of the service (its store is wrapped to see the
 * state each round reads); then the held orders (claimed before the pause) go out, and two more
 * rounds after they settled must claim nobody new. The database password must never be printed,
 * whatever fails. Without PostgreSQL installed the file skips locally and fails in CI.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/cloud/fleet/fleet.js';
import { createUpdatePublisher } from '../../src/cloud/publisher.js';
import { publisherDispatcher } from '../../src/cloud/rollout/dispatcher.js';
import { createRolloutOrchestrator, type RolloutOrchestrator } from '../../src/cloud/rollout/orchestrator.js';
import type { RolloutPlanInput } from '../../src/cloud/rollout/plan.js';
import type { RolloutSnapshot } from '../../src/cloud/rollout/snapshot.js';
import type { RolloutStore } from '../../src/cloud/rollout/store.js';
import { createStatusIntake, type StatusIntake } from '../../src/cloud/status-intake.js';
import { insighIo } from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { PostgresRolloutStore } from '../../src/pg/index.js';
import { createFleetSimulator, type FleetSimulator, seededRandom } from '../../src/testing/index.js';
import { mqttChannel } from '../../src/transport/mqtt-channel.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { type LoopbackAedes, startLoopbackAedes } from '../support/aedes.js';
import { eventually } from '../support/async.js';
import { findPostgresBin, type PostgresServer, startPostgres } from '../support/postgres.js';
import { freePorts, skipOrFailInCi } from '../support/system-services.js';
import { tempDir, writeJson } from './fixtures.js';
import { type CliResult, runCli, startCli } from './run-cli.js';

const PG_BIN = findPostgresBin();
const SCHEMA = 'cli_rollouts';
const CONTROL_CHANNEL = 'ctrl-cli';
const DEVICES = Array.from({ length: 12 }, (_, index) => `dev-${String(index + 1).padStart(2, '0')}`);
/** Orders the service's dispatcher lets through before it holds the rest (until the pause is seen). */
const FREE_ORDERS = 4;
const RELEASE = {
  id: 'fa8884d2',
  version: '2.0.0',
  artifacts: [
    {
      url: 'https://console.insigh.io/mf-rproxy/packages/download?fuid=fa8884d2',
      target: 'package' as const,
      size: 4096,
      name: 'fa8884d2.tar.gz',
    },
  ],
};
const PLAN: RolloutPlanInput = {
  id: 'app-2.0',
  manifest: RELEASE,
  devices: DEVICES,
  waves: [{ name: 'canary', count: 2 }, { percent: 100 }],
  maxInFlight: 3,
};
/** Polls until `condition` holds; the timeout only catches a hang (a loaded machine polls longer). */
const until = (condition: () => boolean | Promise<boolean>, what: string) =>
  eventually(condition, what, { timeoutMs: 40_000, intervalMs: 25 });
/** At most 3 CLI processes at a time: a few overlap start-up and I/O, more only thrash 2 cores. */
const slots = semaphore(3);
const IN_FLIGHT = ['dispatching', 'in_progress', 'retry_wait', 'rolling_back'] as const;

if (PG_BIN === undefined) {
  describe('otakit rollout', () => {
    it('has PostgreSQL to run against', (context) =>
      skipOrFailInCi(context, 'PostgreSQL is not installed (apt install postgresql)'));
  });
}

describe.skipIf(PG_BIN === undefined)(
  'otakit rollout (PostgreSQL, a service instance, simulated devices)',
  () => {
    let database: PostgresServer;
    let broker: LoopbackAedes;
    const connections: MqttConnection[] = [];
    let sim: FleetSimulator<insighIo.Target>;
    let intake: StatusIntake<insighIo.Target>;
    let rolloutStore: PostgresRolloutStore;
    let orchestrator: RolloutOrchestrator;
    let dir: string;
    /** What every CLI run printed, checked for the password at the end. */
    const printed: CliResult[] = [];
    /** Each order the service sent: the device, the rollout, the rounds that had seen `paused` by then. */
    const orders: Array<{ deviceId: string; rolloutId: string; pausedRoundsBefore: number }> = [];
    /** Orders held by the dispatcher: resolved to let them go. */
    let releaseHeld!: () => void;
    const held = new Promise<void>((resolve) => {
      releaseHeld = resolve;
    });
    let holding = 0;
    /** Rounds of the service that read the rollout `app-2.0` paused. */
    let pausedRounds = 0;

    const env = () => ({ DB_URL: database.url() });
    const cli = async (args: string[], extraEnv: Record<string, string> = {}) => {
      await slots.take();
      try {
        const result = await runCli(args, { env: { ...env(), ...extraEnv } });
        printed.push(result);
        return result;
      } finally {
        slots.give();
      }
    };
    const db = ['--database-env', 'DB_URL', '--schema', SCHEMA];
    const snapshot = async (id: string) => (await orchestrator.snapshot(id))!;
    const underWay = (snap: RolloutSnapshot) => IN_FLIGHT.reduce((sum, state) => sum + snap.totals[state], 0);

    beforeAll(async () => {
      [database, broker] = await Promise.all([startPostgres(PG_BIN), startLoopbackAedes()]);
      dir = await tempDir('rollout');
      for (const clientId of ['simulated-fleet', 'ota-service']) {
        connections.push(await connectMqtt(broker.url, { clientId }));
      }
      const [devicesConnection, serviceConnection] = connections as [MqttConnection, MqttConnection];
      sim = createFleetSimulator<insighIo.Target>({
        protocol: insighIo.protocol,
        devices: DEVICES.map((deviceId) => ({
          id: deviceId,
          target: { controlChannelId: CONTROL_CHANNEL, deviceId },
        })),
        channels: { mqtt: mqttChannel(devicesConnection) },
        latency: { download: [5, 20], install: [5, 20] },
        random: seededRandom(3),
      });
      await sim.start();

      // The service instance, as in docs/cloud/rollouts.md, with its rollouts in PostgreSQL.
      const fleet = new Fleet();
      const targetOf = (deviceId: string) => ({ controlChannelId: CONTROL_CHANNEL, deviceId });
      const publisher = createUpdatePublisher({
        protocol: insighIo.protocol,
        channels: { mqtt: mqttChannel(serviceConnection) },
        fleet,
      });
      intake = createStatusIntake({
        fleet,
        protocol: insighIo.protocol,
        connection: serviceConnection,
        filter: `channels/${CONTROL_CHANNEL}/messages/+/ota`,
        targetOf: (topic) => targetOf(topic.split('/')[3]!),
      });
      await intake.start();
      rolloutStore = await PostgresRolloutStore.open({
        connectionString: database.url(),
        schema: SCHEMA,
        maxConnections: 4,
      });
      const publishing = publisherDispatcher(publisher, targetOf);
      orchestrator = createRolloutOrchestrator({
        store: watchRounds(rolloutStore, (state) => {
          if (state === 'paused') pausedRounds++;
        }),
        fleet,
        instanceId: 'service-1',
        pollMs: 100,
        discoverMs: 150,
        dispatcher: {
          async dispatch(deviceId, manifest, options) {
            orders.push({ deviceId, rolloutId: options.rolloutId, pausedRoundsBefore: pausedRounds });
            if (orders.length > FREE_ORDERS) {
              holding++;
              await held;
            }
            await publishing.dispatch(deviceId, manifest, options);
          },
        },
      });
      await orchestrator.run();
    }, 120_000);

    afterAll(async () => {
      releaseHeld?.();
      await orchestrator?.close();
      await intake?.stop();
      await rolloutStore?.close();
      await sim?.stop();
      await Promise.all(connections.map((connection) => connection.close()));
      await broker?.close();
      await database?.stop();
    }, 120_000);

    it('start: stores the plan, prints its snapshot; the service picks it up and orders devices', async () => {
      const planFile = await writeJson(dir, 'plan.json', PLAN);
      const started = await cli(['rollout', 'start', planFile, ...db, '--json']);
      expect(started.code, started.stderr).toBe(0);
      const snap = JSON.parse(started.stdout) as RolloutSnapshot;
      expect(snap).toMatchObject({
        id: 'app-2.0',
        update: { id: 'fa8884d2', version: '2.0.0' },
        deviceCount: 12,
      });
      // The CLI runs no round: the rollout is as stored, unless the service was quicker.
      expect(['scheduled', 'running']).toContain(snap.state);
      expect(snap.waves.map((wave) => [wave.name, wave.size])).toEqual([
        ['canary', 2],
        ['wave 2', 10],
      ]);
      expect(snap.totals.succeeded).toBe(0);

      // The service: the canaries, then the first of wave 2, until its dispatcher holds 3 orders.
      await until(
        async () => holding === 3 && (await snapshot('app-2.0')).totals.succeeded === FREE_ORDERS,
        'four devices updated and three orders held',
      );
      const updated = [...sim.installCounts('fa8884d2')].filter(([, count]) => count > 0);
      expect(updated.map(([id]) => id).sort()).toEqual(DEVICES.slice(0, FREE_ORDERS));
      expect((await snapshot('app-2.0')).state).toBe('running');
    });

    it('pause: the snapshot is paused with the message; the service orders nobody new', async () => {
      const paused = await cli([
        'rollout',
        'pause',
        'app-2.0',
        ...db,
        '--message',
        'checking canary logs',
        '--json',
      ]);
      expect(paused.code, paused.stderr).toBe(0);
      const snap = JSON.parse(paused.stdout) as RolloutSnapshot;
      expect(snap.state).toBe('paused');
      expect(snap.reason).toMatchObject({ kind: 'operator', message: 'checking canary logs' });

      // The service sees it; then the orders it claimed before the pause go out and settle.
      await until(() => pausedRounds > 0, 'a round of the service to read the pause');
      releaseHeld();
      await until(async () => underWay(await snapshot('app-2.0')) === 0, 'the held orders to settle');
      const settled = pausedRounds;
      await until(() => pausedRounds >= settled + 2, 'two more rounds of the paused rollout');

      const after = await snapshot('app-2.0');
      expect(after.state).toBe('paused');
      expect(after.totals.succeeded).toBe(7);
      expect(after.totals.pending).toBe(5);
      expect(orders.filter((order) => order.rolloutId === 'app-2.0')).toHaveLength(7);
      // Every order was claimed before the service saw the pause.
      expect(orders.filter((order) => order.pausedRoundsBefore > 0)).toEqual([]);
      expect([...sim.installCounts('fa8884d2').values()].filter((count) => count > 0)).toHaveLength(7);

      // Text output, and the URL given with --database (password and all) rather than by variable.
      const status = await cli([
        'rollout',
        'status',
        'app-2.0',
        '--database',
        database.url(),
        '--schema',
        SCHEMA,
      ]);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain('rollout app-2.0: paused (operator: checking canary logs)');
      expect(status.stdout).toMatch(/canary: 2\/2 settled \(succeeded 2\)/);
      expect(status.stdout).toMatch(/wave 2: 5\/10 settled \(pending 5, succeeded 5\)/);
    });

    it('status --watch on a paused rollout follows it until SIGINT, then exits 0', async () => {
      const watching = startCli(
        ['rollout', 'status', 'app-2.0', ...db, '--watch', '--json', '--interval', '0.2'],
        {
          env: env(),
        },
      );
      const first = JSON.parse(await watching.line(/"state"/)) as RolloutSnapshot;
      expect(first.state).toBe('paused');
      const stopped = await watching.stop('SIGINT');
      printed.push(stopped);
      expect(stopped.code, stopped.stderr).toBe(0);
    });

    it('resume, then status --watch --json: ends by itself once the rollout completed', async () => {
      const resumed = await cli(['rollout', 'resume', 'app-2.0', ...db, '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(JSON.parse(resumed.stdout)).toMatchObject({ id: 'app-2.0', state: 'running', reason: null });

      const watched = await cli([
        'rollout',
        'status',
        'app-2.0',
        ...db,
        '--watch',
        '--json',
        '--interval',
        '0.2',
      ]);
      expect(watched.code, watched.stderr).toBe(0);
      const lines = watched.stdout.trim().split('\n');
      const last = JSON.parse(lines.at(-1)!) as RolloutSnapshot;
      expect(last.state).toBe('completed');
      expect(last.totals.succeeded).toBe(12);
      expect(last.finishedAt).not.toBeNull();
      for (const line of lines) expect((JSON.parse(line) as RolloutSnapshot).id).toBe('app-2.0');
      // Every device updated exactly once.
      expect([...sim.installCounts('fa8884d2').values()]).toEqual(DEVICES.map(() => 1));
      expect(orders.filter((order) => order.rolloutId === 'app-2.0')).toHaveLength(12);
    });

    it('cancel: a second rollout is cancelled; the service skips its devices and orders none', async () => {
      const plan: RolloutPlanInput = {
        ...PLAN,
        id: 'app-3.0',
        manifest: { ...RELEASE, id: 'fb0000e3', version: '3.0.0' },
        startAt: new Date(Date.now() + 3_600_000).toISOString(),
      };
      const started = await cli([
        'rollout',
        'start',
        await writeJson(dir, 'plan-3.json', plan),
        ...db,
        '--json',
      ]);
      expect(started.code, started.stderr).toBe(0);
      expect(JSON.parse(started.stdout)).toMatchObject({ id: 'app-3.0', state: 'scheduled' });

      const cancelled = await cli([
        'rollout',
        'cancel',
        'app-3.0',
        ...db,
        '--message',
        'not tonight',
        '--json',
      ]);
      expect(cancelled.code, cancelled.stderr).toBe(0);
      expect(JSON.parse(cancelled.stdout)).toMatchObject({
        state: 'cancelled',
        reason: { kind: 'operator', message: 'not tonight' },
      });
      // The service skips its devices; the watch ends once none is left.
      const watched = await cli([
        'rollout',
        'status',
        'app-3.0',
        ...db,
        '--watch',
        '--json',
        '--interval',
        '0.2',
      ]);
      expect(watched.code, watched.stderr).toBe(0);
      const last = JSON.parse(watched.stdout.trim().split('\n').at(-1)!) as RolloutSnapshot;
      expect(last).toMatchObject({ state: 'cancelled', totals: { skipped: 12, succeeded: 0 } });
      expect(orders.filter((order) => order.rolloutId === 'app-3.0')).toEqual([]);
    });

    // The failures below change nothing (the rollouts have ended): they run at once, since each
    // CLI start-up dominates their time.
    describe.concurrent('failures', () => {
      it('refuses to pause or resume a rollout that has ended (exit 1, the state named)', async ({
        expect,
      }) => {
        const [pause, resume] = await Promise.all([
          cli(['rollout', 'pause', 'app-2.0', ...db]),
          cli(['rollout', 'resume', 'app-2.0', ...db]),
        ]);
        for (const [result, refusal] of [
          [pause, 'only a scheduled or running rollout can be paused'],
          [resume, 'only a paused rollout can be resumed'],
        ] as const) {
          expect(result.code, result.stderr).toBe(1);
          expect(result.stderr).toContain(`rollout app-2.0 is completed: ${refusal}`);
          expect(result.stdout).toBe('');
        }
        expect((await snapshot('app-2.0')).state).toBe('completed');
      });

      it('an unknown rollout id: exit 1 with a message', async ({ expect }) => {
        const result = await cli(['rollout', 'status', 'no-such-rollout', ...db]);
        expect(result.code, result.stderr).toBe(1);
        expect(result.stderr).toContain('no rollout has the id "no-such-rollout"');
        expect(result.stdout).toBe('');
      });

      it('an invalid plan: exit 1, the field path on stderr, nothing stored', async ({ expect }) => {
        const bad = { ...PLAN, id: 'bad-plan', waves: [{ count: 0 }, { percent: 100 }] };
        const invalid = await cli(['rollout', 'start', await writeJson(dir, 'bad.json', bad), ...db]);
        expect(invalid.code).toBe(1);
        expect(invalid.stderr).toContain('Invalid rollout plan');
        expect(invalid.stderr).toContain('waves[0].count: expected a whole number of devices, at least 1');
        expect(invalid.stdout).toBe('');
        expect(await orchestrator.snapshot('bad-plan')).toBeUndefined();
      });

      it('a plan file that does not exist: exit 2, its path and ENOENT', async ({ expect }) => {
        const missing = join(dir, 'missing-plan.json');
        const absent = await cli(['rollout', 'start', missing, ...db]);
        expect(absent.code).toBe(2);
        expect(absent.stderr).toContain(`rollout plan: cannot read ${missing} (ENOENT)`);
        expect(absent.stdout).toBe('');
      });

      it('--database and --database-env together, or neither, an unset variable, a bad schema: exit 2', async ({
        expect,
      }) => {
        const [both, neither, unset, schema] = await Promise.all([
          cli(['rollout', 'status', 'app-2.0', '--database', database.url(), '--database-env', 'DB_URL']),
          cli(['rollout', 'status', 'app-2.0']),
          cli(['rollout', 'status', 'app-2.0', '--database-env', 'OTAKIT_NO_SUCH_VARIABLE']),
          cli(['rollout', 'status', 'app-2.0', '--database-env', 'DB_URL', '--schema', 'Rollouts-1']),
        ]);
        for (const result of [both, neither]) {
          expect(result.code).toBe(2);
          expect(result.stderr).toContain('give one of --database <url> and --database-env <VAR>');
        }
        expect(unset.code).toBe(2);
        expect(unset.stderr).toContain('OTAKIT_NO_SUCH_VARIABLE is not set');
        expect(schema.code).toBe(2);
        expect(schema.stderr).toContain('--schema must be a lower-case identifier');
        expect(schema.stderr).toContain('not "Rollouts-1"');
      });

      it('a database that cannot be reached, or refuses the password: a clear error, no password', async ({
        expect,
      }) => {
        const [closedPort] = (await freePorts(1)) as [number];
        const wrongPort = database.url().replace(`:${database.port}/`, `:${closedPort}/`);
        const wrongPassword = database.url().replace(database.password, 'Not-the-Passw0rd');
        const [unreachable, refused] = await Promise.all([
          // The URL on the command line, password and all (--database): masked all the same.
          cli(['rollout', 'pause', 'app-2.0', '--database', wrongPort]),
          cli(['rollout', 'status', 'app-2.0', '--database-env', 'WRONG_URL'], { WRONG_URL: wrongPassword }),
        ]);
        expect(unreachable.code).toBe(1);
        expect(unreachable.stderr).toMatch(
          new RegExp(`Connecting to PostgreSQL failed: connect ECONNREFUSED 127\\.0\\.0\\.1:${closedPort}`),
        );
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain('password authentication failed for user "otakit"');
        expect(`${refused.stdout}${refused.stderr}`).not.toContain('Not-the-Passw0rd');
      });
    });

    it('never printed the database password', () => {
      expect(printed.length).toBeGreaterThanOrEqual(19);
      for (const { stdout, stderr } of printed) {
        expect(stdout).not.toContain(database.password);
        expect(stderr).not.toContain(database.password);
      }
    });
  },
);

/**
 * The store, with `onRound` told the state of the rollout each round (each `step`) reads: how the
 * test knows the service has seen a pause.
 */
function watchRounds(store: PostgresRolloutStore, onRound: (state: string) => void): RolloutStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'step') {
        const step: RolloutStore['step'] = (id, options, work) =>
          target.step(id, options, (record, context) => {
            if (id === 'app-2.0') onRound(record.state);
            return work(record, context);
          });
        return step;
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function semaphore(size: number) {
  let free = size;
  const waiting: Array<() => void> = [];
  return {
    async take() {
      if (free > 0) free--;
      else await new Promise<void>((resolve) => waiting.push(resolve));
    },
    give() {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}
