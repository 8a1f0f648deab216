import { describe, expectTypeOf, it } from 'vitest';
import {
  createUpdateMachine,
  type DeviceUpdateMachine,
  type HookContext,
  isOtaError,
  type ManifestError,
  type NextState,
  type OtaError,
  type ProgressEvent,
  type ReportEvent,
  type StagedArtifactInput,
  type TrackerUpdateMachine,
  type TransitionEvent,
  type UpdateHooks,
  type UpdateMachineEvents,
  type UpdateOutcome,
  type UpdateSnapshot,
  type UpdateState,
} from '../src/index.js';

describe('types', () => {
  it('maps every event to its payload', () => {
    expectTypeOf<Parameters<UpdateMachineEvents['transition']>[0]>().toEqualTypeOf<TransitionEvent>();
    expectTypeOf<Parameters<UpdateMachineEvents['progress']>[0]>().toEqualTypeOf<ProgressEvent>();
    expectTypeOf<Parameters<UpdateMachineEvents['error']>[0]>().toEqualTypeOf<OtaError>();
    expectTypeOf<Parameters<UpdateMachineEvents['report']>[0]>().toEqualTypeOf<ReportEvent>();
    expectTypeOf<TransitionEvent['to']>().toEqualTypeOf<UpdateState>();
  });

  it('types listeners by event name', () => {
    const machine = createUpdateMachine({
      id: 'x',
      hooks: { download: async () => [], install: async () => {} },
    });
    machine.on('progress', (event) => {
      expectTypeOf(event.bytesPerSecond).toEqualTypeOf<number>();
      expectTypeOf(event.total).toEqualTypeOf<number | null>();
    });
    // @ts-expect-error: no such event
    machine.on('progres', () => {});
  });

  it('picks the role from the options', () => {
    const device = createUpdateMachine({
      id: 'd',
      hooks: { download: async () => [], install: async () => {} },
    });
    const tracker = createUpdateMachine({ id: 't', role: 'tracker' });
    expectTypeOf(device).toEqualTypeOf<DeviceUpdateMachine>();
    expectTypeOf(tracker).toEqualTypeOf<TrackerUpdateMachine>();
    expectTypeOf(device.apply).returns.resolves.toEqualTypeOf<UpdateOutcome>();
    expectTypeOf(tracker.snapshot()).toEqualTypeOf<UpdateSnapshot>();
    // @ts-expect-error: a device machine needs its download and install hooks
    createUpdateMachine({ id: 'd', hooks: { install: async () => {} } });
  });

  it('gives every hook a signal and the right result type', () => {
    expectTypeOf<Parameters<NonNullable<UpdateHooks['check']>>[0]>().toExtend<HookContext>();
    expectTypeOf<Parameters<UpdateHooks['download']>[0]['signal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<ReturnType<UpdateHooks['download']>>().toEqualTypeOf<Promise<StagedArtifactInput[]>>();
    expectTypeOf<Parameters<NonNullable<UpdateHooks['rollback']>>[0]['reason']>().toExtend<{
      code: string;
    } | null>();
  });

  it('narrows errors by code and knows the transition table', () => {
    const value: unknown = null;
    if (isOtaError(value, 'MANIFEST_INVALID')) expectTypeOf(value).toEqualTypeOf<ManifestError>();
    expectTypeOf<NextState<'installing'>>().toEqualTypeOf<'installed' | 'rolling_back' | 'install_failed'>();
    expectTypeOf<NextState<'committed'>>().toEqualTypeOf<'idle'>();
  });
});
