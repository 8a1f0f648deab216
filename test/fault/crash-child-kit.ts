/**
 * What every crash-campaign child (agent-crash-child.ts, agent-crash-thingsboard-child.ts) does
 * around its agent: one JSON line per persisted transition, download chunk and installer step
 * (and, when asked, per status report), each written synchronously so a line the parent reads
 * happened; a SIGKILL of itself right after the n-th transition or installer step; exit 0 at the
 * first outcome or once an order check finds nothing to do (settled), 3 when `start()` rejects,
 * printing the error's code.
 */
import { writeSync } from 'node:fs';
import { isOtaError } from '../../src/core/errors.js';
import type { UpdateStatus } from '../../src/core/status.js';
import type { DeviceAgent } from '../../src/device/agent.js';
import type { InstallStep } from '../../src/node/install/types.js';

export interface KillConfig {
  /** SIGKILL right after the n-th (1-based) transition of this process. */
  killAtTransition?: number;
  /** SIGKILL right after the n-th (1-based) installer step of this process. */
  killAtStep?: number;
}

const print = (line: Record<string, unknown>) => writeSync(1, `${JSON.stringify(line)}\n`);
const die = () => process.kill(process.pid, 'SIGKILL');

/** The instrumentation of one child: `onStep` for the installer, then `run(agent)`. */
export function crashChild(
  config: KillConfig,
  options: {
    /** Print each delivered or failed status report, with these fields of the agent's own. */
    report?: (status: UpdateStatus) => Record<string, unknown>;
  } = {},
) {
  let transitions = 0;
  let steps = 0;
  return {
    onStep(step: InstallStep): void {
      steps += 1;
      print({ event: 'step', step, n: steps });
      if (steps === config.killAtStep) die();
    },
    async run<Target>(agent: DeviceAgent<Target>): Promise<void> {
      agent.on('transition', ({ from, to, resumed }) => {
        transitions += 1;
        print({ event: 'transition', from, to, resumed, n: transitions });
        if (transitions === config.killAtTransition) die();
      });
      agent.on('progress', ({ bytes }) => print({ event: 'progress', bytes }));
      const { report } = options;
      if (report !== undefined)
        agent.on('report', ({ status, delivered }) =>
          print({ event: 'report', state: status.state, delivered, ...report(status) }),
        );
      agent.on('error', (error) => print({ event: 'error', code: error.code, message: error.message }));
      agent.on('outcome', (outcome) => {
        print({ event: 'outcome', state: outcome.state, update: outcome.update?.id ?? null });
        process.exit(0);
      });
      agent.on('ignored', ({ reason }) => {
        print({ event: 'ignored', reason });
        if (reason === 'already_installed' || reason === 'no_order') {
          print({ event: 'settled' });
          process.exit(0);
        }
      });
      try {
        await agent.start();
        print({ event: 'started' });
      } catch (error) {
        print({ event: 'fatal', code: isOtaError(error) ? error.code : null, message: String(error) });
        process.exit(3);
      }
    },
  };
}
