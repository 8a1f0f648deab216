/**
 * What addresses one Connhex Edge device: its release endpoint (API root, init id, or the
 * firmware-artifact endpoint instead), the thing key it authenticates with, and the NATS subject
 * its OTA heartbeat reaches a service on. See docs/protocols/connhex.md.
 *
 * @module
 */
import * as z from 'zod';
import { isOtaError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { LIMITS } from './limits.js';
import { isValidSubject, OTA_STATUS_SUBJECT } from './subjects.js';
import { CONTROL_CHARACTER } from './text.js';
import { apiBase, artifactUrl, deviceReleaseUrl, type EndpointOptions } from './urls.js';

const id = z
  .string()
  .min(1)
  .max(256)
  .refine((value) => !CONTROL_CHARACTER.test(value), { error: 'an id without control characters' });

/**
 * One Connhex Edge device, validated. Exactly one of `domain` and `baseUrl` locates the API.
 * The key never appears in an error message: issues name the field and what was expected only.
 */
export const TargetSchema = z
  .strictObject({
    /** The device's init id: its release endpoint is `<api>/iot/ota/<initId>`. */
    initId: id,
    /** The Connhex domain; the API lives at `https://apis.<domain>`. */
    domain: z.string().max(253).optional(),
    /** The API root instead of `domain` (a proxy, a self-hosted release server). */
    baseUrl: z.string().max(2048).optional(),
    /** Allow a plain `http:` `baseUrl` (a local test server only). @default false */
    allowHttp: z.boolean().optional(),
    /**
     * Poll the firmware-artifact endpoint `<api>/iot/firmwares/<firmwareId>/artifact` instead of
     * the device endpoint (same headers; `204` when nothing is eligible).
     */
    firmwareId: id.optional(),
    /** The thing key (or an access token with `scheme: 'Bearer'`). A credential: never printed. */
    key: z
      .string()
      .max(4096)
      .regex(/^[\x21-\x7e]+$/, { error: 'non-empty printable ASCII without spaces (value not shown)' })
      .optional(),
    /** How the key is sent in `Authorization`. @default 'Thing' */
    scheme: z.enum(['Thing', 'Bearer']).optional(),
    /**
     * Where this device's OTA heartbeat reaches a service, when a NATS leaf node or account import
     * maps each edge's `heartbeat.ota.service` to a subject of its own.
     * @default 'heartbeat.ota.service'
     */
    statusSubject: z
      .string()
      .max(LIMITS.maxSubjectLength)
      .refine((subject) => isValidSubject(subject), { error: 'a literal NATS subject' })
      .optional(),
  })
  .superRefine((target, context) => {
    if ((target.domain === undefined) === (target.baseUrl === undefined)) {
      context.addIssue({ code: 'custom', path: ['domain'], message: 'exactly one of domain and baseUrl' });
      return;
    }
    try {
      apiBase(endpointOptions(target));
    } catch (error) {
      // apiBase names the field and the rule; its message (which quotes the URL) is not reused.
      if (!isOtaError(error, 'MANIFEST_INVALID')) throw error;
      for (const issue of error.issues)
        context.addIssue({ code: 'custom', path: [issue.path], message: issue.expected });
    }
  });

/** One Connhex Edge device (the input of every codec of `connhex.protocol`). */
export type Target = z.output<typeof TargetSchema>;

/** The URL-building fields of a target, without the ones it leaves out. */
function endpointOptions(target: Pick<Target, 'domain' | 'baseUrl' | 'allowHttp'>): EndpointOptions {
  const options: EndpointOptions = {};
  if (target.domain !== undefined) options.domain = target.domain;
  if (target.baseUrl !== undefined) options.baseUrl = target.baseUrl;
  if (target.allowHttp !== undefined) options.allowHttp = target.allowHttp;
  return options;
}

/** A validated target with what the codecs derive from it. */
export interface ResolvedTarget {
  target: Target;
  /** The URL the device sends `HEAD` and `GET` to. */
  releaseUrl: string;
  /** Which endpoint `releaseUrl` is. */
  endpoint: 'device' | 'artifact';
  /** The NATS subject a service receives this device's status on. */
  statusSubject: string;
}

/**
 * Validates a target, e.g. one read from a configuration file.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming the field; never quoting a value.
 *
 * @example
 * ```ts
 * const target = connhex.parseTarget({ domain: 'example.com', initId: 'dev-42', key: process.env.THING_KEY })
 * ```
 */
export function parseTarget(target: unknown): Target {
  return parseWith(TargetSchema, target, 'Connhex target');
}

/**
 * Validates `target` and derives its release URL and status subject.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming the field; never quoting a value.
 */
export function resolveTarget(target: unknown): ResolvedTarget {
  const valid = parseTarget(target);
  const endpoint = valid.firmwareId === undefined ? 'device' : 'artifact';
  const options = endpointOptions(valid);
  const releaseUrl =
    valid.firmwareId === undefined
      ? deviceReleaseUrl({ ...options, initId: valid.initId })
      : artifactUrl({ ...options, firmwareId: valid.firmwareId });
  return { target: valid, releaseUrl, endpoint, statusSubject: valid.statusSubject ?? OTA_STATUS_SUBJECT };
}
