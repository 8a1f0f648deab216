/**
 * How a rollout sends an order: any publisher of the cloud side, behind one small interface, so
 * one orchestrator drives Degu shadows, insigh.io retained orders, Exosite state writes… or a
 * mixed fleet (route by device id).
 *
 * @module
 */
import { TransportError } from '../../core/errors.js';
import type { Manifest } from '../../manifest/schema.js';
import type { PublishOptions, UpdatePublisher } from '../publisher.js';

export interface DispatchOptions {
  rolloutId: string;
  signal?: AbortSignal;
}

/** Sends one device its order (or withdraws it). */
export interface RolloutDispatcher {
  /** Resolves once the order is sent (acknowledged by the broker or answered by the server). */
  dispatch(deviceId: string, manifest: Manifest, options: DispatchOptions): Promise<void>;
  /** Withdraws a device's order (a cancelled rollout with `withdraw`). */
  withdraw?(deviceId: string, options: DispatchOptions): Promise<void>;
}

function refused(result: unknown): boolean {
  return typeof result === 'object' && result !== null && 'ok' in result && result.ok === false;
}

/** What a {@link publisherDispatcher} needs of a publisher. */
export interface DispatchingPublisher<Target> {
  publish(target: Target, manifest: Manifest, options?: PublishOptions): Promise<unknown>;
  withdraw?(target: Target, options?: PublishOptions): Promise<unknown>;
}

/**
 * A dispatcher over an {@link UpdatePublisher} (or any publisher with `publish(target, manifest)`:
 * the Degu, Exosite and ThingsBoard publishers too): `targetOf` gives each device's target. A
 * result `{ ok: false }` counts as a refusal (`dispatch_failed`). Publishers that take something
 * else than a manifest (the insigh.io publisher takes a release of files) need a dispatcher of
 * their own: `{ dispatch: (deviceId, manifest) => … }`.
 *
 * @example
 * ```ts
 * const dispatcher = publisherDispatcher(publisher, (deviceId) => ({ controlChannel: `ctrl/${deviceId}`, deviceId }))
 * ```
 */
export function publisherDispatcher<Target>(
  publisher: DispatchingPublisher<Target> | UpdatePublisher<Target>,
  targetOf: (deviceId: string) => Target | Promise<Target>,
): RolloutDispatcher {
  const options = (deviceId: string, signal: AbortSignal | undefined): PublishOptions =>
    signal === undefined ? { deviceId } : { deviceId, signal };
  const withdraw = publisher.withdraw?.bind(publisher);
  return {
    async dispatch(deviceId, manifest, { signal }) {
      const result = await publisher.publish(await targetOf(deviceId), manifest, options(deviceId, signal));
      // Publishers that answer rather than throw (the Degu publisher's `{ ok: false }` for a refused
      // shadow write) must not count as sent: the device would only time out.
      if (refused(result)) {
        throw new TransportError(`The platform refused the order for device "${deviceId}"`, {
          retryable: true,
        });
      }
    },
    ...(withdraw === undefined
      ? {}
      : {
          async withdraw(deviceId: string, { signal }: DispatchOptions) {
            await withdraw(await targetOf(deviceId), options(deviceId, signal));
          },
        }),
  };
}
