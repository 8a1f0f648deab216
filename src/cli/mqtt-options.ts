/**
 * The MQTT options every broker-facing command takes (`--broker`, `--username`,
 * `--password-env`, `--client-id`) and the connection they open. The broker URL is printed
 * redacted; the password is read from the environment.
 *
 * @module
 */
import type { Command } from 'commander';
import type { MqttConnection } from '../transport/mqtt-connection.js';
import { secretFromEnv } from './options.js';

export interface MqttCliOptions {
  broker: string;
  username?: string;
  passwordEnv?: string;
  clientId?: string;
}

export function addMqttOptions(command: Command): Command {
  return command
    .requiredOption('--broker <url>', 'the MQTT broker, e.g. mqtt://127.0.0.1:1883 or mqtts://…')
    .option('--username <name>', 'MQTT user name')
    .option('--password-env <VAR>', 'the environment variable holding the MQTT password')
    .option('--client-id <id>', 'MQTT client id (default: otakit-<command>-<pid>)');
}

export async function connectBroker(options: MqttCliOptions, role: string): Promise<MqttConnection> {
  const { connectMqtt } = await import('../mqtt/connect.js');
  return connectMqtt(options.broker, {
    clientId: options.clientId ?? `otakit-${role}-${process.pid}`,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.passwordEnv === undefined
      ? {}
      : { password: secretFromEnv(options.passwordEnv, '--password-env') }),
  });
}
