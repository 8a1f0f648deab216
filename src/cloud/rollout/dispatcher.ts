/**
 * How a rollout sends an order: any publisher of the cloud side, behind one small interface, so
 * one orchestrator drives Degu shadows, insigh.io retained orders, Exosite state writes… or a
 * mixed fleet (route by device id).
 *
 * @module
 */
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

/** What a {@link publisherDispatcher} needs of a publisher. */
export interface DispatchingPublisher<Target> {
  publish(target: Target, manifest: Manifest, options?: PublishOptions): Promise<unknown>;
  withdraw?(target: Target, options?: PublishOptions): Promise<unknown>;
}

/**
 * A dispatcher over an {@link UpdatePublisher} (or any publisher with `publish(target, manifest)`):
 * `targetOf` gives each device's target.
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
      await publisher.publish(await targetOf(deviceId), manifest, options(deviceId, signal));
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
