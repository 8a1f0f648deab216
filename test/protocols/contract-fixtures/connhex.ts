/**
 * Connhex Edge for the registry-driven contract suite. The device polls its release endpoint
 * with `HEAD`; the cloud publishes a release there (`PUT`, the release as JSON) or removes it
 * (`DELETE`). Delivering an order is what a release server answers to the device's `HEAD`
 * afterwards: `200` with the release headers, or `404` (device endpoint) / `204` (artifact
 * endpoint) once withdrawn. Statuses travel on NATS unchanged.
 */
import { connhex, type InboundMessage, type WireMessage } from '../../../src/index.js';
import type { ContractFixture } from './types.js';

const THING_KEY = 'thing-key-7f3a9c';
const target: connhex.Target = { domain: 'example.com', initId: 'dev-42', key: THING_KEY };

/** The response a release server gives to the device's HEAD after the cloud sent `message`. */
function headResponse(message: WireMessage, target: connhex.Target): InboundMessage {
  if (message.channel !== 'http')
    throw new Error(`a Connhex order travels over HTTP, not ${message.channel}`);
  if (message.method === 'DELETE') {
    return { address: message.address, payload: '', status: target.firmwareId === undefined ? 404 : 204 };
  }
  const release = connhex.ReleaseSchema.parse(JSON.parse(message.payload));
  const headers = Object.fromEntries(
    Object.entries(connhex.releaseHeaders(release)).map(([name, value]) => [name.toLowerCase(), value]),
  );
  return { address: message.address, payload: '', status: 200, headers };
}

const fixture: ContractFixture<connhex.Target> = {
  target,
  machineId: 'dev-42',
  manifest: {
    id: '0.0.3',
    version: '0.0.3',
    artifacts: [
      {
        // A Connhex device downloads from its own release endpoint.
        url: 'https://apis.example.com/iot/ota/dev-42',
        target: 'package',
        size: 4096,
        sha256: '5f8f04f6a3a892aaabbddb6cf273894493773960d4a325b105fee46eef4304f1',
      },
    ],
  },
  deliverOrder: (messages, target) => messages.map((message) => headResponse(message, target)),
  deliverStatus: (messages) => messages.map(({ address, payload }) => ({ address, payload })),
  secrets: [THING_KEY],
  reportsStatus: true,
  canWithdraw: true,
};

export default fixture;
