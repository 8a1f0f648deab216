/**
 * Fuzzing the device update machine with random sequences of operations (fast-check model-based
 * commands, FUZZ_RUNS sequences of at most 12 steps): orders offered and applied (the same update
 * again, other updates, an expired one), check/runOnce, resume, cancel, hook failures injected at
 * any phase (throwing, refusing, asking for a reboot, cancelling, or the power going right before
 * or right after a hook's effect), power lost right after any write, and restarts (a new machine
 * over the same durable store).
 *
 * The invariants (machine-harness.ts) are checked on every persisted write, every hook call, every
 * report and after every operation:
 *  - every persisted record parses, its state is a documented state, and each persisted change
 *    of state (and each `transition` event) is in the transition table;
 *  - within one update (leaving idle to returning there) the install hook completes at most once,
 *    except an idempotent install re-run after a restart; never an install of the update the
 *    device has committed; never an install before a verify that passed;
 *  - `committed` is never persisted, and success never reported, before the commit hook resolved;
 *    commit never runs without a completed install and a passed health check;
 *  - each hook runs only in its own persisted state (so no hook after a terminal state until a
 *    new order), only from the live machine (never a disposed one), for the update under way;
 *  - a report always names the state just persisted and validates as an UpdateStatus;
 *  - operations resolve a valid outcome and leave the machine idle, available or installed
 *    awaiting a reboot, or reject with an OtaError (STORE only after power loss) and change nothing;
 *  - once idle, the device runs the machine's committed update (unless a rollback failed).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  canTransition,
  createUpdateMachine,
  isOtaError,
  MemoryStore,
  UPDATE_STATES,
  type UpdateOutcome,
  UpdateSnapshotSchema,
} from '../../src/index.js';
import { MachineRecordSchema } from '../../src/machine/record.js';
import {
  FAULTS_OF,
  type Fault,
  HOOKS,
  type Hook,
  MACHINE_ID,
  MachineHarness,
  manifestOf,
  STORE_KEY,
  type UpdateId,
} from './machine-harness.js';
import { countCase, fuzzParameters, printCounts, RUNS_LABEL } from './runs.js';
import { describeError, describeValue, fromSeeds, mutatedJson, typedOutcome } from './support.js';

afterAll(() => printCounts('machine.fuzz.ts'));

type Model = Record<string, never>;
type Command = fc.AsyncCommand<Model, MachineHarness>;

const alive = (real: MachineHarness) => !real.dead;

class Offer implements Command {
  constructor(readonly id: UpdateId) {}
  check = () => true;
  async run(_model: Model, real: MachineHarness) {
    if (!alive(real)) return;
    await real.operate(`offer(${this.id})`, () => real.machine.offer(manifestOf(this.id)));
  }
  toString = () => `offer(${this.id})`;
}

class Apply implements Command {
  constructor(readonly id: UpdateId | undefined) {}
  check = () => true;
  async run(_model: Model, real: MachineHarness) {
    if (!alive(real)) return;
    const manifest = this.id === undefined ? undefined : manifestOf(this.id);
    await real.operate(`apply(${this.id ?? ''})`, () => real.machine.apply(manifest));
  }
  toString = () => `apply(${this.id ?? ''})`;
}

class RunOnce implements Command {
  constructor(
    readonly finds: UpdateId | null,
    readonly checkOnly: boolean,
  ) {}
  check = () => true;
  async run(_model: Model, real: MachineHarness) {
    if (!alive(real)) return;
    real.checkResult = this.finds;
    const name = `${this.checkOnly ? 'check' : 'runOnce'}(finds ${this.finds ?? 'nothing'})`;
    await real.operate(name, () => (this.checkOnly ? real.machine.check() : real.machine.runOnce()));
  }
  toString = () => `${this.checkOnly ? 'check' : 'runOnce'}(${this.finds})`;
}

class Resume implements Command {
  check = () => true;
  async run(_model: Model, real: MachineHarness) {
    if (!alive(real)) return;
    await real.operate('resume()', () => real.machine.resume());
  }
  toString = () => 'resume()';
}

class Cancel implements Command {
  check = () => true;
  async run(_model: Model, real: MachineHarness) {
    if (!alive(real)) return;
    await real.operate('cancel', () => real.machine.cancel('canceled by the fuzzer'));
  }
  toString = () => 'cancel()';
}

/** Power off and on: a new machine over the same store, resumed as an agent does at start-up. */
class Restart implements Command {
  constructor(readonly thenResume: boolean) {}
  check = () => true;
  async run(_model: Model, real: MachineHarness) {
    real.restart();
    if (this.thenResume) await real.operate('resume() after restart', () => real.machine.resume());
  }
  toString = () => `restart(${this.thenResume ? 'resume' : ''})`;
}

type Operation = { kind: 'offer' | 'apply'; id: UpdateId } | { kind: 'resume' | 'cancel' | 'runOnce' };

function start(real: MachineHarness, operation: Operation): [string, () => Promise<UpdateOutcome | boolean>] {
  switch (operation.kind) {
    case 'offer':
      return [`offer(${operation.id})`, () => real.machine.offer(manifestOf(operation.id))];
    case 'apply':
      return [`apply(${operation.id})`, () => real.machine.apply(manifestOf(operation.id))];
    case 'resume':
      return ['resume()', () => real.machine.resume()];
    case 'cancel':
      return ['cancel()', () => real.machine.cancel('canceled by the fuzzer')];
    case 'runOnce':
      return ['runOnce()', () => real.machine.runOnce()];
  }
}

/** Two operations started at once: a second order arriving while one runs, a cancel racing an apply. */
class Together implements Command {
  constructor(readonly operations: Operation[]) {}
  check = () => true;
  async run(_model: Model, real: MachineHarness) {
    if (!alive(real)) return;
    await real.operateTogether(this.operations.map((operation) => start(real, operation)));
  }
  toString = () => `together(${this.operations.map((operation) => JSON.stringify(operation)).join(', ')})`;
}

class InjectFault implements Command {
  constructor(
    readonly hook: Hook,
    readonly fault: Fault,
  ) {}
  check = () => true;
  async run(_model: Model, real: MachineHarness) {
    const queue = real.faults.get(this.hook) ?? [];
    queue.push(this.fault);
    real.faults.set(this.hook, queue);
    real.log.push(`(next ${this.hook}: ${this.fault})`);
  }
  toString = () => `fault(${this.hook}: ${this.fault})`;
}

class PowerLossAfterWrites implements Command {
  constructor(readonly writes: number) {}
  check = () => true;
  async run(_model: Model, real: MachineHarness) {
    real.crashAfterWrites = this.writes;
    real.log.push(`(power lost after ${this.writes} more writes)`);
  }
  toString = () => `powerLossAfter(${this.writes})`;
}

const updateId = fc.constantFrom<UpdateId>('a', 'a', 'b', 'b', 'c', 'expired');

const commands: fc.Arbitrary<Command>[] = [
  updateId.map((id) => new Offer(id)),
  fc.option(updateId, { nil: undefined }).map((id) => new Apply(id)),
  fc
    .tuple(fc.option(updateId, { nil: null }), fc.boolean())
    .map(([finds, checkOnly]) => new RunOnce(finds, checkOnly)),
  fc.constant(new Resume()),
  fc.constant(new Cancel()),
  fc.boolean().map((thenResume) => new Restart(thenResume)),
  fc
    .constantFrom(...HOOKS)
    .chain((hook) => fc.constantFrom(...FAULTS_OF[hook]).map((fault) => new InjectFault(hook, fault))),
  fc
    .constantFrom(...HOOKS)
    .chain((hook) => fc.constantFrom(...FAULTS_OF[hook]).map((fault) => new InjectFault(hook, fault))),
  fc.integer({ min: 1, max: 10 }).map((writes) => new PowerLossAfterWrites(writes)),
  fc
    .array(
      fc.oneof(
        fc.record({ kind: fc.constantFrom('offer' as const, 'apply' as const), id: updateId }),
        fc.record({ kind: fc.constantFrom('resume' as const, 'cancel' as const, 'runOnce' as const) }),
      ),
      { minLength: 2, maxLength: 3 },
    )
    .map((operations) => new Together(operations)),
];

describe('device machine: random operation sequences', () => {
  it(`keeps every invariant over ${RUNS_LABEL} sequences of up to 12 operations`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          installIsIdempotent: fc.boolean(),
          maxPersistedSteps: fc.constantFrom(28, 28, 8, 12),
          withCheck: fc.boolean(),
        }),
        fc.commands(commands, { maxCommands: 12, size: 'max' }),
        async (options, sequence) => {
          countCase('device machine sequences');
          const harness = new MachineHarness(options);
          try {
            await fc.asyncModelRun(() => ({ model: {} as Model, real: harness }), sequence);
            // Whatever happened, a restart and a resume bring the machine to rest with the invariants kept.
            // (The power may go again during it: faults still queued are used up within a few restarts.)
            for (let restarts = 0; restarts < 8 && (restarts === 0 || harness.dead); restarts++) {
              harness.restart();
              await harness.operate('final resume()', () => harness.machine.resume());
            }
            if (harness.dead) harness.violation('the power went at every one of 8 restarts');
            if (
              harness.machine.snapshot().state !== 'idle' &&
              harness.machine.snapshot().state !== 'available'
            ) {
              const snapshot = harness.machine.snapshot();
              if (!(snapshot.state === 'installed' && snapshot.awaitingReboot)) {
                harness.violation(`final resume() left ${snapshot.state}`);
              }
            }
          } finally {
            harness.machine.dispose();
          }
        },
      ),
      fuzzParameters(),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The persisted record read back from a store

/** Every record a few scripted updates write: happy, rebooting, failing, canceled. */
async function recordSeeds(): Promise<unknown[]> {
  const seeds: unknown[] = [];
  const scripts: { faults: [Hook, Fault][]; steps: (h: MachineHarness) => Promise<void> }[] = [
    { faults: [], steps: async (h) => void (await h.machine.apply(manifestOf('a'))) },
    {
      faults: [['install', 'reboot']],
      steps: async (h) => {
        await h.machine.apply(manifestOf('b'));
        h.restart();
        await h.machine.resume();
      },
    },
    { faults: [['healthCheck', 'false']], steps: async (h) => void (await h.machine.apply(manifestOf('c'))) },
    { faults: [['download', 'fatal']], steps: async (h) => void (await h.machine.apply(manifestOf('a'))) },
    { faults: [['verify', 'cancel']], steps: async (h) => void (await h.machine.apply(manifestOf('a'))) },
    {
      faults: [
        ['rollback', 'fatal'],
        ['install', 'fatal'],
      ],
      steps: async (h) => void (await h.machine.apply(manifestOf('a'))),
    },
  ];
  for (const script of scripts) {
    const harness = new MachineHarness({
      installIsIdempotent: false,
      maxPersistedSteps: 28,
      withCheck: true,
    });
    for (const [hook, fault] of script.faults)
      harness.faults.set(hook, [...(harness.faults.get(hook) ?? []), fault]);
    const put = harness.durable.put.bind(harness.durable);
    harness.durable.put = async (key, value) => {
      seeds.push(JSON.parse(JSON.stringify(value)));
      return put(key, value);
    };
    await script.steps(harness);
    harness.machine.dispose();
  }
  return seeds;
}

const RECORD_SEEDS = await recordSeeds();

describe('device machine: a persisted record read back', () => {
  it(`loads ${RUNS_LABEL} mutated records as valid state or refuses them with a STORE error, and resumes from what it loads`, async () => {
    expect(RECORD_SEEDS.length).toBeGreaterThan(20);
    await fc.assert(
      fc.asyncProperty(fromSeeds(RECORD_SEEDS, mutatedJson), async (stored) => {
        countCase('persisted record load + resume');
        const store = new MemoryStore();
        if (stored !== undefined) await store.put(STORE_KEY, stored as never);
        const machine = createUpdateMachine({
          id: MACHINE_ID,
          store,
          clock: { now: () => Date.UTC(2026, 11, 5), setTimeout: () => 0, clearTimeout: () => {} },
          retry: Object.fromEntries(HOOKS.map((hook) => [hook, { attempts: 1 }])),
          hooks: {
            download: async ({ manifest }) =>
              manifest.artifacts.map((artifact, index) => ({
                location: `/staged/${index}`,
                size: artifact.size ?? 0,
                ...(artifact.sha256 === undefined ? {} : { sha256: artifact.sha256 }),
                ...(artifact.md5 === undefined ? {} : { md5: artifact.md5 }),
              })),
            install: async () => {},
            rollback: async () => {},
          },
          allowUnverified: true,
        });
        try {
          const loaded = await typedOutcome(
            'machine.load',
            () => describeValue(stored),
            () => machine.load(),
          );
          if (!loaded.ok) {
            expect(isOtaError(loaded.error, 'STORE'), describeError(loaded.error)).toBe(true);
            return;
          }
          expect(UpdateSnapshotSchema.safeParse(loaded.value).success).toBe(true);
          // What loads is a state the machine can continue from: resume() ends it or refuses typed.
          const resumed = await typedOutcome(
            'machine.resume',
            () => describeValue(stored),
            () => machine.resume(),
          );
          const after = await store.get(STORE_KEY);
          expect(
            MachineRecordSchema.safeParse(after).success,
            `record after resume: ${describeValue(after)}`,
          ).toBe(true);
          if (resumed.ok) expect(['idle', 'installed', 'available']).toContain(machine.snapshot().state);
        } finally {
          machine.dispose();
        }
      }),
      fuzzParameters(),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The tracker role: statuses a device reports, in any order, read back after restarts

const trackerStatus = fc.record(
  {
    machineId: fc.constantFrom(MACHINE_ID, MACHINE_ID, MACHINE_ID, 'someone-else'),
    updateId: fc.constantFrom('a', 'a', 'b', null),
    version: fc.constantFrom('1.0.0', '2.0.0', null),
    state: fc.constantFrom(...UPDATE_STATES),
    previous: fc.option(fc.constantFrom(...UPDATE_STATES), { nil: null }),
    at: fc.constantFrom('2026-12-05T12:00:00.000Z', '2026-12-05T12:00:01.000Z'),
    error: fc.constantFrom(undefined, null, {
      name: 'OtaError',
      code: 'DOWNLOAD',
      message: 'reset',
      retryable: true,
    }),
    progress: fc.constantFrom(undefined, null, { bytes: 1, total: 4, bytesPerSecond: 1 }),
  },
  { requiredKeys: ['machineId', 'updateId', 'version', 'state', 'previous', 'at'] },
);

type TrackerStep = { kind: 'ingest'; status: unknown } | { kind: 'reset' } | { kind: 'restart' };

const trackerStep: fc.Arbitrary<TrackerStep> = fc.oneof(
  { weight: 8, arbitrary: trackerStatus.map((status) => ({ kind: 'ingest' as const, status })) },
  {
    weight: 2,
    arbitrary: trackerStatus.chain(mutatedJson).map((status) => ({ kind: 'ingest' as const, status })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

describe('tracker machine: random status sequences', () => {
  it(`never throws, refuses illegal statuses typed and keeps a legal, parseable history over ${RUNS_LABEL} sequences`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(trackerStep, { maxLength: 12 }), async (steps) => {
        countCase('tracker sequences');
        const store = new MemoryStore();
        const build = () => createUpdateMachine({ id: MACHINE_ID, role: 'tracker', store });
        let tracker = build();
        const stored = async () => {
          const value = await store.get(STORE_KEY);
          if (value === undefined) return undefined;
          const parsed = MachineRecordSchema.safeParse(value);
          expect(parsed.success, `tracker record does not parse: ${describeValue(value)}`).toBe(true);
          return parsed.data!;
        };
        for (const step of steps) {
          if (step.kind === 'restart') {
            tracker = build();
            continue;
          }
          const before = await stored();
          if (step.kind === 'reset') {
            await tracker.reset();
            expect((await stored())?.state ?? 'idle').toBe('idle');
            continue;
          }
          const outcome = await typedOutcome(
            'tracker.ingest',
            () => describeValue(step.status),
            () => tracker.ingest(step.status),
          );
          expect(outcome.ok, 'ingest() never throws').toBe(true);
          if (!outcome.ok) return;
          const result = outcome.value;
          const after = await stored();
          if (!result.accepted) {
            expect(isOtaError(result.error)).toBe(true);
            expect(after?.state).toBe(before?.state);
            continue;
          }
          expect(after?.state ?? 'idle').toBe(result.state);
          if (result.duplicate) continue;
          countCase('  (statuses accepted as a new state)');
          // The reported state, reached through the states it skipped, by the transition table.
          const chain = [before?.state ?? 'idle', ...result.skipped, result.state];
          for (let index = 1; index < chain.length; index++) {
            expect(canTransition(chain[index - 1]!, chain[index]!), `chain ${chain.join(' -> ')}`).toBe(true);
          }
          if (result.state === 'committed') expect(after?.current).toEqual(after?.update);
        }
        expect(UpdateSnapshotSchema.safeParse(tracker.snapshot()).success).toBe(true);
      }),
      fuzzParameters(),
    );
  });
});
