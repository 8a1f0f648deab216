/**
 * The stand-in for the insigh.io console, for the quick start of docs/agents/insighio.md: an
 * in-process MQTT broker (aedes) on loopback in place of `console.insigh.io:1884`, a loopback server
 * in place of its package service (`<baseUrl>/packages/download`), and the console's order for
 * package `fa8884d2`, already published retained on the device's OTA topic, as the console does
 * so that a sleeping device finds it when it next subscribes. In production the device connects to
 * `mqtt://console.insigh.io:1884` with its own device id and key, leaves `baseUrl` at the
 * console's default (https), and the console publishes the order when you start an OTA.
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { insighIo } from 'otakit';
import { connectMqtt } from 'otakit/mqtt';
import { createFaultServer } from 'otakit/testing';

export interface InsighioConsole {
  /** `mqtt://127.0.0.1:<port>`: the broker, standing in for `mqtt://console.insigh.io:1884`. */
  url: string;
  /** The package service's base URL (plain http on loopback, hence `allowInsecureHttp`). */
  baseUrl: string;
  /** The console's ids of the device: its control channel and its device id. */
  ids: { controlChannelId: string; deviceId: string };
  /** The device key: the MQTT password and the package service's credential. */
  deviceKey: string;
  /** A fresh directory for the device's files and the agent's state. */
  deviceDirectory: string;
  close(): Promise<void>;
}

export async function startInsighioConsole(): Promise<InsighioConsole> {
  const ids = { controlChannelId: 'ctrl-1', deviceId: 'dev-1' };
  // A microfreezer .tar.gz: apps/demo_console/demo_scenario.py, package_md5sum.py.
  const pkg = Buffer.from(
    'H4sIAAAAAAB4Xu3Xy2qDQBgFYNd9CnHVbnSuGheBLrvsG4SpDkVaHVED6dvXSUgvf2hLIAqN59uYzKhZ6Dk/iZM4uX80uwdrStsFk2AHPx0Zk+rzs1/nTHARhDt6oyls+8F048/T9YUQq7AeqtqueZZrpVcy4zEXuVK5uqHnwvUxbdsndPHCfKgzrWnuv2Wea8n4mHvNpM//+CoGoaY3msIx/51zA9376q/9fypG/6P/af9LOfZ/iv5fgH3/l7Z2m8I1vXu1EwwDH+rz+l8KLtH/c0D/o//R/8t12v/7L31hG9NVLm7f6BXn86FO1UfG6ZExIUj/pzJNg3CWTC68/9uuaobb6Pi8ozukflEw/zH/Mf+XqzXFi3m2m7rU/ba+yLg/4UP96/zniv7/85WA+T+Dw3NfR+apiOgeAAAAAAAAXI933HHEDtcc3Fw=',
    'base64',
  );
  const web = await createFaultServer();
  web.route('/mf-rproxy/packages/download', { body: pkg }); // the console's package service

  const broker = await Aedes.createBroker(); // the console's MQTT broker
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;

  // The console's order, retained: it waits on the broker for the device.
  const cloud = await connectMqtt(url);
  const order = insighIo.orderPublication(ids, { fileId: 'fa8884d2', fileType: '.tar.gz', size: pkg.length });
  await cloud.publish(order.topic, order.payload, order.options);

  return {
    url,
    baseUrl: `${web.url}/mf-rproxy`,
    ids,
    deviceKey: 'key-1',
    deviceDirectory: await mkdtemp(join(tmpdir(), 'insighio-')),
    async close() {
      await cloud.close();
      await web.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
