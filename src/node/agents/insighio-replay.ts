/**
 * A retained order for the update the device already runs: the device's clear never reached the
 * broker (it died between reporting and clearing, or the broker lost the clear), or the console
 * published the same package again. The agent does not install it twice; it confirms it again
 * (`e` = 1, then the empty retained payload), so the order leaves the broker and the console
 * hears the outcome even if the first report was lost.
 *
 * @module
 */

import type { Clock } from '../../core/clock.js';
import { toOtaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { serialize } from '../../core/serialize.js';
import type { DeviceAgent } from '../../device/agent.js';
import { protocol } from '../../protocols/insighio/protocol.js';
import type { Target } from '../../protocols/insighio/target.js';
import { isOtaTopic } from '../../protocols/insighio/topics.js';
import type { Channel } from '../../transport/channel.js';

export function confirmReplayedOrders(
  agent: DeviceAgent<Target>,
  channel: Channel,
  clock: Clock,
  logger: Logger,
): void {
  // One confirmation at a time, in the order the replays came.
  const queue = serialize();
  agent.on('ignored', (event) => {
    const { update, address } = event;
    if (event.reason !== 'already_installed' || update === null || address === null) return;
    if (!isOtaTopic(address)) return;
    void queue(async () => {
      const messages = protocol.device.encodeStatus(
        {
          machineId: agent.id,
          updateId: update.id,
          version: update.version,
          state: 'committed',
          previous: 'installed',
          at: new Date(clock.now()).toISOString(),
        },
        { target: agent.target, current: agent.current },
      );
      try {
        for (const message of messages) await channel.send(message);
        logger.info('otakit insigh.io agent: replayed order confirmed and cleared', {
          agent: agent.id,
          update: update.id,
        });
      } catch (error) {
        const failure = toOtaError(error, 'REPORT', true);
        logger.warn('otakit insigh.io agent: could not clear a replayed order', {
          agent: agent.id,
          code: failure.code,
          message: failure.message,
        });
        if (agent.listenerCount('error') > 0) agent.emit('error', failure);
      }
    });
  });
}
