/**
 * `otakit watch <platform>`: print every status one device reports (as the fleet takes it) until
 * SIGINT/SIGTERM.
 *
 * @module
 */
import { Argument, type Command } from 'commander';
import { addMqttOptions, type MqttCliOptions } from '../mqtt-options.js';
import { parseJsonOption } from '../options.js';
import { createOutput, redact, redactedUrl } from '../output.js';
import { MQTT_PLATFORMS, type MqttPlatform, openPlatform } from '../publisher.js';
import { untilSignalled } from '../signals.js';

interface WatchOptions extends MqttCliOptions {
  target: string;
  deviceId?: string;
  json?: boolean;
}

export function registerWatch(program: Command): void {
  addMqttOptions(
    program
      .command('watch')
      .description("print one device's statuses until SIGINT/SIGTERM")
      .addArgument(new Argument('<platform>', `one of ${MQTT_PLATFORMS.join(', ')}`).choices(MQTT_PLATFORMS)),
  )
    .requiredOption('--target <json>', "the device's target, JSON or @file.json")
    .option('--device-id <id>', 'the device id, where the target does not name one')
    .option('--json', 'print one JSON line per status')
    .action(async (platform: MqttPlatform, options: WatchOptions) => {
      const out = createOutput({ json: options.json ?? false });
      const target = await parseJsonOption(options.target, '--target');
      const session = await openPlatform(platform, options, 'watch');
      try {
        session.fleet.on('transition', (event) => {
          if (out.json)
            out.event({
              event: 'transition',
              deviceId: event.deviceId,
              from: event.from,
              to: event.to,
              update: event.update,
            });
          else
            out.line(
              `${event.deviceId}: ${event.from} -> ${event.to}${event.update ? ` (${event.update.id}@${event.update.version})` : ''}`,
            );
        });
        session.fleet.on('progress', (event) => {
          if (out.json) out.event({ event: 'progress', ...event });
          else
            out.line(
              `${event.deviceId}: ${event.bytes}${event.total === null ? '' : `/${event.total}`} bytes`,
            );
        });
        session.fleet.on('anomaly', (anomaly) => {
          if (out.json) out.event({ event: 'anomaly', ...anomaly });
          else out.line(`${anomaly.deviceId}: refused (${anomaly.kind}): ${redact(anomaly.error.message)}`);
        });
        await session.publisher.watch(
          target,
          options.deviceId === undefined ? {} : { deviceId: options.deviceId },
        );
        // Listening before the watching line: a supervisor may signal as soon as it reads it.
        const signalled = untilSignalled();
        if (out.json) out.event({ event: 'watching', platform, broker: redactedUrl(options.broker) });
        else out.line(`otakit: watching ${platform} on ${redactedUrl(options.broker)}`);
        await signalled;
      } finally {
        await session.close();
      }
    });
}
