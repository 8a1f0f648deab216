/**
 * The stand-in for a fleet of Connhex Edge devices and the NATS that links them to the back end,
 * for the quick start of docs/cloud/connhex.md: real Connhex agents (`createConnhexAgent` of
 * `otakit/node`, each in a temp directory, `auto_install` on, running 1.0.0), and an in-process
 * bus in place of `nats-server`, so the quick start runs anywhere. What the bus does is what your
 * NATS topology does: each edge publishes on its own `heartbeat.ota.service`, and the back end
 * receives it as `edges.<initId>.heartbeat.ota.service` (a leaf node or an account import per
 * edge). In production `nats` is `natsChannel(await connectNats(…))` of `otakit/nats`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Channel, connhex, type InboundMessage, type WireMessage, type WireSource } from 'otakit';
import { type ConnhexAgent, createConnhexAgent } from 'otakit/node';

export interface Edges {
  /** The back end's NATS channel: every edge's heartbeat, as `edges.<initId>.heartbeat.ota.service`. */
  nats: Channel;
  /** Starts the agents: each checks its release endpoint at once. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startEdges(options: { baseUrl: string; keys: Record<string, string> }): Promise<Edges> {
  const listeners = new Set<{ subject: string; onMessage: (message: InboundMessage) => void }>();
  const deliver = (subject: string, payload: string) => {
    for (const listener of listeners) {
      if (connhex.subjectMatches(listener.subject, subject)) {
        // Later, as a network delivers it: never inside the publisher's call.
        setTimeout(() => listener.onMessage({ address: subject, payload }), 0);
      }
    }
  };
  const nats: Channel = {
    kind: 'nats',
    async send(message: WireMessage) {
      deliver(message.address, message.payload);
      return undefined;
    },
    async listen(source: WireSource, onMessage: (message: InboundMessage) => void) {
      if (source.channel !== 'nats') throw new Error('the stand-in bus carries NATS subjects only');
      const listener = { subject: source.subject, onMessage };
      listeners.add(listener);
      return async () => void listeners.delete(listener);
    },
  };
  const root = await mkdtemp(join(tmpdir(), 'otakit-connhex-edges-'));
  const agents: ConnhexAgent[] = Object.entries(options.keys).map(([initId, key]) =>
    createConnhexAgent({
      target: { baseUrl: options.baseUrl, allowHttp: true, initId, key },
      // The edge's own bus: what it publishes on heartbeat.ota.service reaches the back end
      // on edges.<initId>.heartbeat.ota.service.
      nats: {
        kind: 'nats',
        async send(message: WireMessage) {
          deliver(`edges.${initId}.${message.address}`, message.payload);
          return undefined;
        },
      },
      config: { autoInstall: true },
      installDirectory: join(root, initId, 'edge'),
      stateDirectory: join(root, initId, 'state'),
      currentVersion: '1.0.0',
      runUpdateScript: true,
    }),
  );
  return {
    nats,
    async start() {
      await Promise.all(agents.map((agent) => agent.start()));
    },
    async close() {
      await Promise.all(agents.map((agent) => agent.stop()));
      await rm(root, { recursive: true, force: true });
    },
  };
}
