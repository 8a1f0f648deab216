/**
 * `otakit shadow-service --broker <url>`: the self-hosted AWS IoT Device Shadow service on an
 * MQTT broker, shadows kept in memory or (`--store <dir>`) in files that survive a restart.
 * Runs until SIGINT/SIGTERM.
 *
 * @module
 */
import type { Command } from 'commander';
import { addMqttOptions, connectBroker, type MqttCliOptions } from '../mqtt-options.js';
import { createOutput, redact, redactedUrl } from '../output.js';
import { untilSignalled } from '../signals.js';

interface ShadowServiceOptions extends MqttCliOptions {
  store?: string;
  log?: boolean;
  json?: boolean;
}

export function registerShadowService(program: Command): void {
  addMqttOptions(
    program
      .command('shadow-service')
      .description('run the self-hosted AWS IoT shadow service on an MQTT broker until SIGINT/SIGTERM'),
  )
    .option('--store <dir>', 'keep shadows in files under <dir> (default: in memory)')
    .option('--log', 'print one line per request handled')
    .option('--json', 'print lines as JSON')
    .action(async (options: ShadowServiceOptions) => {
      const out = createOutput({ json: options.json ?? false });
      const { createShadowService } = await import('../../cloud/shadow-service/service.js');
      const { createFileShadowStore } = await import('../../node/cloud/file-shadow-store.js');
      const connection = await connectBroker(options, 'shadow-service');
      try {
        const service = createShadowService({
          connection,
          ...(options.store === undefined ? {} : { store: createFileShadowStore(options.store) }),
          onError: (error) => out.error(`otakit: shadow service: ${redact(error.message)}`),
          ...(options.log
            ? {
                onRequest: (request) => {
                  if (out.json) out.event({ event: 'request', ...request });
                  else
                    out.line(
                      `${request.operation} ${request.address.thingName}${
                        request.address.shadowName ? `/${request.address.shadowName}` : ''
                      }${request.rejected ? ` rejected ${request.rejected}` : ''}`,
                    );
                },
              }
            : {}),
        });
        await service.start();
        // Listening before the started line: a supervisor may signal as soon as it reads it.
        const signalled = untilSignalled();
        const store = options.store ?? 'memory';
        if (out.json) out.event({ event: 'started', broker: redactedUrl(options.broker), store });
        else out.line(`otakit: shadow service on ${redactedUrl(options.broker)} (store: ${store})`);
        await signalled;
        await service.stop();
      } finally {
        await connection.close();
      }
    });
}
