/**
 * micropython_ota for the registry-driven contract suite: an HTTP-pull device. The cloud's
 * messages are writes to the project's `version` file on the OTA server (PUT a tag, DELETE to
 * withdraw); what the device receives is the server's answer to its own poll of that file, so
 * `deliverOrder` plays the server. The device reports nothing over the wire: its only status is
 * its local `version` file, which `deliverStatus` hands over as a fleet tool reading it would.
 */
import { type InboundMessage, micropythonOta, type WireMessage } from '../../../src/index.js';
import type { ContractFixture } from './types.js';

/** The server after `messages`: file contents by URL (a DELETE removes the file). */
function serverAfter(messages: WireMessage[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const message of messages) {
    if (message.channel !== 'http') continue;
    if (message.method === 'DELETE') files.delete(message.address);
    else if (message.method === 'PUT') files.set(message.address, message.payload);
  }
  return files;
}

/** The answers to the device's polls: 200 with the file, or 404 when there is none. */
function deliverOrder(messages: WireMessage[], target: micropythonOta.Target): InboundMessage[] {
  const files = serverAfter(messages);
  return micropythonOta.protocol.device.orderSources(target).flatMap((source) => {
    if (source.channel !== 'http') return [];
    const { address } = source.request;
    const body = files.get(address);
    return [
      body === undefined
        ? { address, payload: 'Not Found', status: 404 }
        : { address, payload: body, status: 200 },
    ];
  });
}

/** The device's local files as written, read back by whoever collects them. */
function deliverStatus(messages: WireMessage[]): InboundMessage[] {
  return messages
    .filter((message) => message.channel === 'file')
    .map((message) => ({ address: message.address, payload: message.payload }));
}

const fixture: ContractFixture<micropythonOta.Target> = {
  // The documented example server and project, with the documented Basic auth credentials.
  target: {
    host: 'http://example.org',
    project: 'sample',
    filenames: ['main.py', 'library.py'],
    auth: { user: 'otauser', password: 'topsecret' },
  },
  machineId: 'esp32-sample-1',
  manifest: {
    id: 'sample@v1.0.1',
    version: 'v1.0.1',
    artifacts: [
      { url: 'http://example.org/sample/v1.0.1_main.py', target: 'script', name: 'main.py' },
      { url: 'http://example.org/sample/v1.0.1_library.py', target: 'script', name: 'library.py' },
    ],
  },
  deliverOrder,
  deliverStatus,
  // The password, and the Basic header value that encodes it.
  secrets: ['topsecret', 'b3RhdXNlcjp0b3BzZWNyZXQ='],
  reportsStatus: false,
  canWithdraw: true,
};

export default fixture;
