/**
 * A rollout plan: which devices get which update, in which waves, how fast, when to stop. Checked
 * with zod, so a bad plan fails at `start()` naming the field, before any device is ordered.
 *
 * @module
 */
import * as z from 'zod';
import { FAILURE_STATES } from '../../core/states.js';
import { parseWith } from '../../core/validate.js';
import { ManifestSchema } from '../../manifest/schema.js';

const positive = (what: string) => z.number().positive({ error: what });
const wholeAtLeast = (minimum: number, what: string) => z.number().int().min(minimum, { error: what });

/** One wave: a number of devices, or the share of the fleet ordered once it is done. */
export const RolloutWaveSchema = z
  .object({
    /** Shown on dashboards. @default `wave <n>` */
    name: z.string().min(1).max(100).optional(),
    /** Devices added by this wave. */
    count: wholeAtLeast(1, 'a whole number of devices, at least 1').optional(),
    /** Share of all devices ordered once this wave is done (cumulative: 5, then 25, then 100). */
    percent: z.number().gt(0, { error: 'a percentage above 0' }).max(100).optional(),
    /** Wait this long after the wave settled before the next one starts (bake time). @default 0 */
    soakMs: wholeAtLeast(0, 'milliseconds, 0 or more').optional(),
  })
  .refine((wave) => (wave.count === undefined) !== (wave.percent === undefined), {
    error: 'exactly one of count and percent',
  });

/** A fixed rate, or an exponential ramp as AWS IoT Jobs' `exponentialRate`. */
export const RolloutPaceSchema = z.union([
  z.object({ perMinute: positive('devices per minute, above 0') }),
  z.object({
    ramp: z.object({
      /** The rate to start at. */
      basePerMinute: positive('devices per minute, above 0'),
      /** The rate is multiplied by this each time `every` more devices succeeded (or were ordered). */
      factor: z.number().gt(1, { error: 'a factor above 1' }).max(5),
      every: wholeAtLeast(1, 'a whole number of devices, at least 1'),
      /** Count succeeded devices (the safe choice) or devices ordered. @default 'succeeded' */
      of: z.enum(['succeeded', 'notified']).optional(),
      /** The rate never goes above this. */
      maxPerMinute: positive('devices per minute, above 0'),
    }),
  }),
]);

export const FailureKindSchema = z.enum([...FAILURE_STATES, 'timed_out', 'dispatch_failed']);

/** When to stop: a failure rate reached on a minimum sample of settled devices. */
export const RolloutThresholdSchema = z.object({
  /** Failed share of the settled devices (0–1) at or above which the threshold trips. */
  failureRate: z.number().min(0).max(1, { error: 'a rate between 0 and 1' }),
  /** Settled devices needed before the rate means anything. @default 10 */
  minSample: wholeAtLeast(1, 'a whole number of devices, at least 1').optional(),
  /** Count only these kinds of failure. @default every kind */
  kinds: z.array(FailureKindSchema).min(1).optional(),
  /** Over the whole rollout, or over the current wave. @default 'rollout' */
  scope: z.enum(['rollout', 'wave']).optional(),
  /** @default 'pause' */
  action: z.enum(['pause', 'abort']).optional(),
  /** With `abort`: order the plan's `rollback` manifest to every device that succeeded. @default false */
  rollback: z.boolean().optional(),
});

function knownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Hours (in a time zone) in which new orders may go out; devices already ordered go on. */
export const MaintenanceWindowSchema = z.object({
  /** Days of the week, 0 = Sunday. @default every day */
  days: z.array(z.number().int().min(0).max(6)).min(1).optional(),
  /** `HH:MM`, 24 h. A window whose end is before its start runs past midnight. */
  start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'HH:MM (24 h)' }),
  end: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, { error: 'HH:MM (24 h)' }),
  /** IANA time zone (`Europe/Rome`). @default 'UTC' */
  timeZone: z
    .string()
    .min(1)
    .refine(knownTimeZone, { error: 'an IANA time zone such as Europe/Rome' })
    .optional(),
});

export const RolloutRetrySchema = z.object({
  /** Orders sent to a device in all, the first included. @default 1 (no retry) */
  attempts: wholeAtLeast(1, 'a whole number, at least 1').max(100),
  /** Wait before the first retry. @default 60 000 */
  backoffMs: wholeAtLeast(0, 'milliseconds, 0 or more').optional(),
  /** Each further wait is this many times longer. @default 2 */
  factor: z.number().min(1).max(10).optional(),
  /** @default 3 600 000 */
  maxBackoffMs: wholeAtLeast(0, 'milliseconds, 0 or more').optional(),
});

const UpdateIdentitySchema = z.object({
  updateId: z.string().min(1).optional(),
  version: z.string().min(1).optional(),
});

export const RolloutPlanSchema = z
  .object({
    /** Names the rollout; one rollout per id. */
    id: z.string().min(1).max(200),
    /** The update to roll out. */
    manifest: ManifestSchema,
    /** The devices, in the order waves take them (put canaries first). Ids must be unique. */
    devices: z
      .array(z.string().min(1).max(256))
      .min(1, { error: 'at least one device' })
      .refine((ids) => new Set(ids).size === ids.length, { error: 'unique device ids' }),
    /** @default one wave of every device */
    waves: z.array(RolloutWaveSchema).min(1).max(100).optional(),
    /** @default as fast as the devices answer */
    pace: RolloutPaceSchema.optional(),
    /** Devices ordered and not yet settled, at most. @default no limit */
    maxInFlight: wholeAtLeast(1, 'a whole number, at least 1').optional(),
    thresholds: z.array(RolloutThresholdSchema).max(20).optional(),
    /** A device that reports nothing final this long after its order counts as `timed_out`. @default 1 800 000 */
    deviceTimeoutMs: wholeAtLeast(1, 'milliseconds, at least 1').optional(),
    retry: RolloutRetrySchema.optional(),
    /** New orders go out only inside these windows. @default always */
    windows: z.array(MaintenanceWindowSchema).max(50).optional(),
    /** What a `rollback` threshold orders to devices that succeeded. */
    rollback: ManifestSchema.optional(),
    /**
     * How devices report this update, when their platform renames it (Degu reports
     * `degu:<key>=<md5>`, insigh.io the file id). @default the manifest's id, or its version
     */
    reportedAs: UpdateIdentitySchema.optional(),
    /** ISO 8601: no order goes out before. @default now */
    startAt: z.iso.datetime({ offset: true, error: 'an ISO 8601 date-time' }).optional(),
  })
  .refine(
    (plan) => plan.rollback !== undefined || !plan.thresholds?.some((threshold) => threshold.rollback),
    {
      error: 'a rollback manifest, since a threshold rolls back',
      path: ['rollback'],
    },
  );

/** A plan as `orchestrator.start()` takes it. */
export type RolloutPlanInput = z.input<typeof RolloutPlanSchema>;
export type RolloutWave = z.output<typeof RolloutWaveSchema>;
export type RolloutPace = z.output<typeof RolloutPaceSchema>;
export type RolloutThreshold = z.output<typeof RolloutThresholdSchema>;
export type MaintenanceWindow = z.output<typeof MaintenanceWindowSchema>;
type Manifest = z.output<typeof ManifestSchema>;

/** A checked plan with every default filled in and the device list replaced by wave sizes. */
export interface NormalizedRolloutPlan {
  id: string;
  manifest: Manifest;
  deviceCount: number;
  waves: Array<{ name: string; size: number; soakMs: number }>;
  pace: RolloutPace | null;
  maxInFlight: number | null;
  thresholds: Array<{
    failureRate: number;
    minSample: number;
    kinds: Array<z.output<typeof FailureKindSchema>> | null;
    scope: 'rollout' | 'wave';
    action: 'pause' | 'abort';
    rollback: boolean;
  }>;
  deviceTimeoutMs: number;
  retry: { attempts: number; backoffMs: number; factor: number; maxBackoffMs: number };
  windows: MaintenanceWindow[];
  rollback: Manifest | null;
  reportedAs: { updateId: string | null; version: string | null };
  startAt: number | null;
}

/** Devices per wave: counts as given, percentages as cumulative shares; the rest forms a last wave. */
function waveSizes(
  waves: readonly RolloutWave[],
  total: number,
): Array<{ name: string; size: number; soakMs: number }> {
  const sized: Array<{ name: string; size: number; soakMs: number }> = [];
  let ordered = 0;
  for (const [index, wave] of waves.entries()) {
    const reach =
      wave.count !== undefined ? ordered + wave.count : Math.ceil((total * (wave.percent ?? 100)) / 100);
    const size = Math.max(0, Math.min(total, reach) - ordered);
    ordered += size;
    sized.push({ name: wave.name ?? `wave ${index + 1}`, size, soakMs: wave.soakMs ?? 0 });
  }
  if (ordered < total) sized.push({ name: 'rest', size: total - ordered, soakMs: 0 });
  // A percentage already reached by the waves before it adds nobody: such a wave is dropped.
  return sized.filter((wave) => wave.size > 0);
}

/**
 * Checks a plan and fills in its defaults.
 * @throws ManifestError naming each field that is wrong (nothing is stored or ordered).
 */
export function normalizePlan(input: unknown): { plan: NormalizedRolloutPlan; devices: string[] } {
  const plan = parseWith(RolloutPlanSchema, input, 'rollout plan');
  const retry = plan.retry;
  return {
    devices: plan.devices,
    plan: {
      id: plan.id,
      manifest: plan.manifest,
      deviceCount: plan.devices.length,
      waves: waveSizes(plan.waves ?? [{ percent: 100 }], plan.devices.length),
      pace: plan.pace ?? null,
      maxInFlight: plan.maxInFlight ?? null,
      thresholds: (plan.thresholds ?? []).map((threshold) => ({
        failureRate: threshold.failureRate,
        minSample: threshold.minSample ?? 10,
        kinds: threshold.kinds ?? null,
        scope: threshold.scope ?? 'rollout',
        action: threshold.action ?? 'pause',
        rollback: threshold.rollback ?? false,
      })),
      deviceTimeoutMs: plan.deviceTimeoutMs ?? 1_800_000,
      retry: {
        attempts: retry?.attempts ?? 1,
        backoffMs: retry?.backoffMs ?? 60_000,
        factor: retry?.factor ?? 2,
        maxBackoffMs: retry?.maxBackoffMs ?? 3_600_000,
      },
      windows: plan.windows ?? [],
      rollback: plan.rollback ?? null,
      reportedAs: { updateId: plan.reportedAs?.updateId ?? null, version: plan.reportedAs?.version ?? null },
      startAt: plan.startAt === undefined ? null : Date.parse(plan.startAt),
    },
  };
}
