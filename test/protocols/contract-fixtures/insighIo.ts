/**
 * insigh.io for the registry-driven contract suite. Orders and statuses both travel on the
 * device's OTA topic over MQTT, so delivering a message is handing over its topic and payload
 * unchanged (a device that subscribes later gets the retained order the same way). The target is
 * the documented reference device; its key is a device-side credential that must never show.
 */
import type { InboundMessage, insighIo, WireMessage } from '../../../src/index.js';
import type { ContractFixture } from './types.js';

const DEVICE_ID = '06c80d38-07a0-4f3a-87ed-ee17232cd7e7';
const DEVICE_KEY = '6bb7163b-6edd-42b3-8546-c76693bc2f18';
const CONTROL_CHANNEL_ID = '6979beea-6c10-4ab2-a684-11989451d7e6';

const target: insighIo.Target = {
  controlChannelId: CONTROL_CHANNEL_ID,
  deviceId: DEVICE_ID,
  deviceKey: DEVICE_KEY,
};

/** What a subscriber to the topic receives for `messages`: the same topic and payload. */
function overMqtt(messages: WireMessage[]): InboundMessage[] {
  return messages.map((message) => {
    if (message.channel !== 'mqtt') throw new Error(`insigh.io speaks MQTT, not ${message.channel}`);
    return { address: message.address, payload: message.payload };
  });
}

const fixture: ContractFixture<insighIo.Target> = {
  target,
  machineId: DEVICE_ID,
  manifest: {
    // The order names the package by its file id, which is also the update id the device reports.
    id: 'fa8884d2',
    // insigh.io orders carry no version: this one shows up in `lost`.
    version: '2.3.0',
    artifacts: [
      {
        // The device's own download URL, without its key (added on the wire by downloadAuth).
        url: `https://console.insigh.io/mf-rproxy/packages/download?fuid=fa8884d2&did=${DEVICE_ID}&cid=${CONTROL_CHANNEL_ID}`,
        target: 'package',
        size: 3987,
        name: 'fa8884d2.tar.gz',
      },
    ],
  },
  deliverOrder: overMqtt,
  deliverStatus: overMqtt,
  secrets: [DEVICE_KEY],
  reportsStatus: true,
  canWithdraw: true,
};

export default fixture;
