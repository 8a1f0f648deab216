/**
 * Exosite for the registry-driven contract suite. The cloud writes `config_otau` through
 * Murano's device state API; the device long-polls it (this fixture's target uses the HTTP
 * transport, so the device token is a secret to keep out of every message printed). Murano sits
 * between the two: these functions play its part.
 */
import type { InboundMessage, WireMessage } from '../../../src/index.js';
import { exosite } from '../../../src/index.js';
import type { ContractFixture } from './types.js';

const TOKEN = 'f3b2c1d0e9a8f7b6c5d4e3f2a1b0c9d8e7f6a5b4';

const target: exosite.Target = {
  productId: 'd1zzd6dflnt50000',
  identity: 'sensor-0042',
  transport: 'http',
  token: TOKEN,
};

/** The microsecond clock Murano stamps changes with; fixed, so runs are repeatable. */
const CHANGED_AT_US = 1_526_046_488_000_000;

/** The resource values a cloud write (`PATCH …/state`, JSON alias → string) sets. */
function writtenValues(message: WireMessage): Record<string, string> {
  return JSON.parse(message.payload) as Record<string, string>;
}

/** What the device's long poll (HTTP) or subscription (MQTT) receives when `config_otau` changes. */
function changeOf(value: string, to: exosite.Target): InboundMessage {
  if (to.transport === 'mqtt') {
    return { address: exosite.resourceChangeTopic(exosite.CONFIG_OTAU, CHANGED_AT_US), payload: value };
  }
  const poll = exosite.longPollRequest({ token: to.token!, timeoutMs: 30_000 });
  return {
    address: `${exosite.deviceApiOrigin(to.productId)}${poll.path}`,
    status: 200,
    payload: exosite.encodeForm({ [exosite.CONFIG_OTAU]: value }),
    headers: { 'last-modified': 'Fri, 11 May 2018 13:48:08 GMT' },
  };
}

/** The `otau_in` value a device message (MQTT publish or HTTP form write) carries. */
function reportedValue(message: WireMessage): string | undefined {
  if (message.channel === 'mqtt') {
    return message.address === exosite.resourceTopic(exosite.OTAU_IN) ? message.payload : undefined;
  }
  return exosite.decodeForm(message.payload)[exosite.OTAU_IN];
}

const fixture: ContractFixture<exosite.Target> = {
  target,
  machineId: target.identity,
  manifest: {
    id: '1.0.2',
    version: '1.0.2',
    artifacts: [
      { url: 'https://mycontentserver.com/file1', target: 'firmware' },
      { url: 'https://mycontentserver.com/file2', target: 'firmware' },
    ],
  },
  deliverOrder(messages, to) {
    return messages.flatMap((message) => {
      const value = writtenValues(message)[exosite.CONFIG_OTAU];
      return value === undefined ? [] : [changeOf(value, to)];
    });
  },
  deliverStatus(messages, to) {
    // The service polls the device's state: each write shows up as `otau_in.reported`.
    return messages.flatMap((message, index) => {
      const reported = reportedValue(message);
      if (reported === undefined) return [];
      const state = { [exosite.OTAU_IN]: { reported, timestamp: CHANGED_AT_US + index } };
      return [
        {
          address: exosite.identityStatePath(to.productId, to.identity),
          status: 200,
          payload: JSON.stringify(state),
        },
      ];
    });
  },
  secrets: [TOKEN],
  reportsStatus: true,
  canWithdraw: true,
};

export default fixture;
