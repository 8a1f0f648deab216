/**
 * ThingsBoard for the registry-driven contract suite: an MQTT device. ThingsBoard delivers an
 * attribute update and a telemetry message unchanged within the device's session, so both
 * deliveries keep topic and payload.
 */
import type { InboundMessage, thingsBoard, WireMessage } from '../../../src/index.js';
import type { ContractFixture } from './types.js';

const SHA256 = '17ae291d08837890026d562e5b666f88d6389fe71d1183d6ed7eeee7505cc209';

function deliver(messages: WireMessage[]): InboundMessage[] {
  return messages.map((message) => ({ address: message.address, payload: message.payload }));
}

const fixture: ContractFixture<thingsBoard.Target> = {
  target: { accessToken: 'A1_TEST_TOKEN_0123' },
  machineId: 'tb-device-1',
  manifest: {
    id: 'fw:f@1.2',
    version: '1.2',
    artifacts: [
      {
        url: 'https://files.example.com/f-1.2.bin',
        size: 421320,
        sha256: SHA256,
        target: 'firmware',
        name: 'f',
      },
    ],
  },
  deliverOrder: (messages) => deliver(messages),
  deliverStatus: (messages) => deliver(messages),
  secrets: ['A1_TEST_TOKEN_0123'],
  reportsStatus: true,
  canWithdraw: true,
};

export default fixture;
