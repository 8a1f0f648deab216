/**
 * A rollout orchestrator for control only (start, pause, resume, cancel, status from the command
 * line): the PostgreSQL rollout store that the running service instances share, a clock whose
 * timers never fire (so this process never runs a round: it never calls `run()`'s rounds nor
 * dispatches), and a dispatcher that refuses, should anything try. The service instances pick
 * the changes up at their next poll.
 *
 * @module
 */
import { Fleet } from '../cloud/fleet/fleet.js';
import { createRolloutOrchestrator, type RolloutOrchestrator } from '../cloud/rollout/orchestrator.js';
import type { Clock } from '../core/clock.js';
import { OtaError } from '../core/errors.js';
import { PostgresRolloutStore } from '../pg/postgres-rollout-store.js';
import { usageError } from './exit-codes.js';
import { secretFromEnv } from './options.js';

export interface DatabaseOptions {
  database?: string;
  databaseEnv?: string;
  schema?: string;
}

/** A clock that tells the time and schedules nothing: no round ever runs in the CLI. */
const controlClock: Clock = {
  now: () => Date.now(),
  setTimeout: () => undefined,
  clearTimeout: () => {},
};

export interface RolloutControl {
  orchestrator: RolloutOrchestrator;
  close(): Promise<void>;
}

export function connectionStringOf(options: DatabaseOptions): string {
  if ((options.database === undefined) === (options.databaseEnv === undefined)) {
    throw usageError('give one of --database <url> and --database-env <VAR>');
  }
  return options.database ?? secretFromEnv(options.databaseEnv!, '--database-env');
}

export async function openRolloutControl(options: DatabaseOptions): Promise<RolloutControl> {
  const store = await PostgresRolloutStore.open({
    connectionString: connectionStringOf(options),
    maxConnections: 2,
    ...(options.schema === undefined ? {} : { schema: options.schema }),
  });
  const orchestrator = createRolloutOrchestrator({
    store,
    // Only `run()`'s rounds read the fleet; the CLI never runs one.
    fleet: new Fleet(),
    dispatcher: {
      dispatch: () =>
        Promise.reject(new OtaError('CONFIG', 'the otakit CLI sends no orders: a service instance does')),
    },
    clock: controlClock,
    instanceId: `otakit-cli-${process.pid}`,
  });
  return {
    orchestrator,
    async close() {
      await orchestrator.close();
      await store.close();
    },
  };
}
