/**
 * What addresses one insigh.io device: the control channel and device ids its OTA topic is made
 * of, its device key (the MQTT password and the download credential, device side only), and the
 * package service it downloads from.
 *
 * @module
 */
import * as z from 'zod';
import { parseWith } from '../../core/validate.js';
import { ChannelIdSchema, DeviceIdSchema, DeviceKeySchema } from './ids.js';
import { LIMITS } from './limits.js';

/**
 * Why a base URL is unusable, or `undefined` when it is fine. The same rules as the download URL
 * builder, checked up front so a bad target fails when it is validated, naming the field, rather
 * than at the first order. Never repeats the URL: it might carry credentials.
 */
function baseUrlProblem(raw: string, allowInsecureHttp: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'an absolute URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowInsecureHttp)) {
    return allowInsecureHttp ? 'an https: or http: URL' : 'an https: URL (set allowInsecureHttp for http:)';
  }
  if (url.username !== '' || url.password !== '') return 'a URL without user info';
  if (url.search !== '' || url.hash !== '') return 'a URL without query or fragment';
  return undefined;
}

/** One insigh.io device. See {@link Target}. */
export const TargetSchema = z
  .strictObject({
    /** The Mainflux control channel that carries the device's OTA topic. */
    controlChannelId: ChannelIdSchema,
    /** The Mainflux thing id of the device (its MQTT user name, `did` in the download URL). */
    deviceId: DeviceIdSchema,
    /**
     * The device (thing) key: the device's MQTT password and the `dk` of its downloads. A
     * secret, needed on the device side only; a cloud service leaves it out. Never part of a
     * manifest, a wire message or an error message.
     */
    deviceKey: DeviceKeySchema.optional(),
    /**
     * The package service; `/packages/download` is appended.
     * @default 'https://console.insigh.io/mf-rproxy'
     */
    baseUrl: z
      .string()
      .max(LIMITS.maxUrlLength, { error: `a URL of at most ${LIMITS.maxUrlLength} characters` })
      .optional(),
    /**
     * Accept an `http:` base URL (the reference firmware's `esp32wroom` boards): the device key
     * and the package then travel in clear.
     * @default false
     */
    allowInsecureHttp: z.boolean().optional(),
  })
  .superRefine((target, context) => {
    if (target.baseUrl === undefined) return;
    const problem = baseUrlProblem(target.baseUrl, target.allowInsecureHttp === true);
    if (problem !== undefined) context.addIssue({ code: 'custom', path: ['baseUrl'], message: problem });
  });

/**
 * One insigh.io device, as both sides address it.
 *
 * @example
 * ```ts
 * const target: insighIo.Target = {
 *   controlChannelId: '6979beea-6c10-4ab2-a684-11989451d7e6',
 *   deviceId: '06c80d38-07a0-4f3a-87ed-ee17232cd7e7',
 *   deviceKey: '6bb7163b-6edd-42b3-8546-c76693bc2f18', // device side only
 * }
 * ```
 */
export type Target = z.output<typeof TargetSchema>;

/**
 * `target` validated, so every codec function fails the same way on a bad one.
 * @throws ManifestError (`MANIFEST_INVALID`) naming the field and the rule, never its value.
 */
export function parseTarget(target: unknown): Target {
  return parseWith(TargetSchema, target, 'insigh.io target');
}
