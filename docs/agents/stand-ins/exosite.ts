/**
 * The stand-in for Exosite Murano, for the quick start of docs/agents/exosite.md: otakit's Murano
 * emulation (`createExositeEmulator` of `otakit/testing`) on loopback, one device with its
 * product id, identity and token, and the connector content `app.txt` (2.0.0). `sendOrder()`
 * writes `config_otau` for 2.0.0 as ExoSense does. In production the agent talks to
 * `https://<productId>.m2.exosite.io` (no `apiOrigin`) with the token the device got at
 * activation, and ExoSense (or your back end) writes `config_otau`.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExositeEmulator } from 'otakit/testing';

export interface Murano {
  /** `http://127.0.0.1:<port>`: the device API, for the agent's `apiOrigin`. */
  origin: string;
  productId: string;
  identity: string;
  /** The device's token (what activation returns). */
  token: string;
  /** A fresh directory for the device's files and the agent's state. */
  deviceDirectory: string;
  /** Writes `config_otau`: version 2.0.0 of `app`, a `URL_LIST` of the content `app.txt`. */
  sendOrder(): Promise<void>;
  /** The `otau_in` statuses Murano received, in order: `INIT TEST … INSTALLED_VERSION`. */
  statuses(): string;
  close(): Promise<void>;
}

export async function startMurano(): Promise<Murano> {
  const murano = await createExositeEmulator({ content: { 'app.txt': 'hello from 2.0.0\n' } });
  return {
    origin: murano.origin,
    productId: murano.productId,
    identity: murano.identity,
    token: murano.token,
    deviceDirectory: await mkdtemp(join(tmpdir(), 'exosite-')),
    async sendOrder() {
      await murano.setConfig({ version: '2.0.0', name: 'app', type: 'URL_LIST', payload: ['app.txt'] });
    },
    statuses: () =>
      murano
        .statuses()
        .map((status) => status.status)
        .join(' '),
    close: () => murano.close(),
  };
}
