/**
 * `otakit publish <platform>`: send a canonical manifest to one device as the platform's order,
 * then follow its statuses (a fleet of one) with a progress bar until it commits (exit 0), fails
 * (exit 1) or `--timeout` passes (exit 1).
 *
 * @module
 */
import { Argument, type Command, Option } from 'commander';
import { CliError } from '../exit-codes.js';
import { addMqttOptions, type MqttCliOptions } from '../mqtt-options.js';
import { parseJsonOption, parseSeconds, readJsonFile } from '../options.js';
import { createOutput, redact, redactedUrl } from '../output.js';
import { createProgress } from '../progress.js';
import { MQTT_PLATFORMS, type MqttPlatform, openPlatform } from '../publisher.js';
import { untilSignalled } from '../signals.js';

interface PublishOptions extends MqttCliOptions {
  manifest: string;
  target: string;
  timeout: number;
  deviceId?: string;
  json?: boolean;
}

export function registerPublish(program: Command): void {
  addMqttOptions(
    program
      .command('publish')
      .description('order one device to install a manifest and follow it until it commits or fails')
      .addArgument(new Argument('<platform>', `one of ${MQTT_PLATFORMS.join(', ')}`).choices(MQTT_PLATFORMS)),
  )
    .requiredOption('--manifest <file>', 'the canonical manifest (JSON)')
    .requiredOption('--target <json>', "the device's target, JSON or @file.json")
    .addOption(
      new Option('--timeout <seconds>', 'give up after this long (exit 1)')
        .argParser((value) => parseSeconds(value, '--timeout'))
        // Kept in ms (what parseSeconds returns); the help shows it in the option's unit.
        .default(600_000, '600'),
    )
    .option('--device-id <id>', 'the device id, where the target does not name one')
    .addOption(new Option('--json', 'print events and the outcome as JSON lines'))
    .action(async (platform: MqttPlatform, options: PublishOptions) => {
      const out = createOutput({ json: options.json ?? false });
      const { isFailureState } = await import('../../core/states.js');
      const { parseManifest } = await import('../../manifest/schema.js');
      const manifest = parseManifest(await readJsonFile(options.manifest, '--manifest'));
      const target = await parseJsonOption(options.target, '--target');
      const session = await openPlatform(platform, options, 'publish');
      const progress = createProgress({ silent: out.json });
      const bar = progress.bar(manifest.version, 1);
      const lifetime = new AbortController();
      try {
        const outcome = new Promise<{ state: string; error?: string }>((resolve) => {
          session.fleet.on('progress', (event) => {
            if (out.json) out.event({ event: 'progress', ...event });
            const total = event.total ?? Math.max(event.bytes, 1);
            bar.update(event.bytes, total, 'downloading');
          });
          session.fleet.on('transition', (event) => {
            if (out.json)
              out.event({ event: 'transition', deviceId: event.deviceId, from: event.from, to: event.to });
            else if (!process.stdout.isTTY) out.line(`${event.deviceId}: ${event.from} -> ${event.to}`);
            if (event.to === 'committed') resolve({ state: event.to });
            else if (isFailureState(event.to)) {
              const state = event.to;
              void session.fleet.device(event.deviceId).then(
                (snapshot) =>
                  resolve({
                    state,
                    ...(snapshot?.lastError ? { error: redact(snapshot.lastError.message) } : {}),
                  }),
                // The outcome stands without its message: the store could not be read.
                () => resolve({ state }),
              );
            }
          });
        });
        const deviceOption = options.deviceId === undefined ? {} : { deviceId: options.deviceId };
        await session.publisher.watch(target, deviceOption);
        const sent = await session.publisher.publish(target, manifest, deviceOption);
        const messages = sent.messages.map((message) => ({
          channel: message.channel,
          address: redactedUrl(message.address),
        }));
        // Listening before the published line: whoever reads it may signal at once.
        const signalled = untilSignalled(lifetime.signal);
        if (out.json) out.event({ event: 'published', messages, lost: sent.lost });
        else {
          out.line(
            `published ${manifest.id}@${manifest.version} on ${redactedUrl(options.broker)} (${platform})`,
          );
          for (const loss of sent.lost) out.line(`  lost: ${loss.field}: ${loss.reason}`);
        }
        const timer = setTimeout(() => lifetime.abort(), options.timeout);
        const result = await Promise.race([
          outcome,
          signalled.then((why) => ({
            state: why === 'abort' ? 'timed_out' : 'interrupted',
          })),
        ]);
        clearTimeout(timer);
        bar.update(result.state === 'committed' ? 1 : 0, 1, result.state);
        progress.stop();
        if (out.json) out.event({ event: 'outcome', ...result });
        else
          out.line(
            `outcome: ${result.state}${'error' in result && result.error ? ` (${result.error})` : ''}`,
          );
        if (result.state !== 'committed') throw new CliError(`the update did not commit: ${result.state}`);
      } finally {
        progress.stop();
        await session.close();
      }
    });
}
