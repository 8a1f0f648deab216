/**
 * For the Connhex cloud tests: a real nats-server laid out as a Connhex back end meets its edges.
 * Each edge is an account of its own whose `heartbeat.ota.service` (the subject every OTA addon
 * publishes on) is imported by the cloud account as `edges.<initId>.heartbeat.ota.service`, the
 * way a leaf node or an account import gives each edge a subject of its own; the cloud then
 * watches every edge with one subscription, `edges.*.heartbeat.ota.service`.
 */
import { NatsServer } from '../nats/nats-server.js';

export const EDGE_SUBJECTS = 'edges.*.heartbeat.ota.service';
export const edgeSubject = (initId: string) => `edges.${initId}.heartbeat.ota.service`;

/** The NATS login of an edge or of the cloud service. */
export interface NatsLogin {
  user: string;
  pass: string;
}

/** nats-server with one account per edge, the cloud account importing each edge's heartbeats. */
export class EdgeAccountsNats {
  private constructor(
    private readonly server: NatsServer,
    readonly edges: readonly string[],
  ) {}

  get url(): string {
    return this.server.url;
  }

  /** The login of edge `initId` (one of those the server was started with). */
  edge(initId: string): NatsLogin {
    if (!this.edges.includes(initId)) throw new Error(`no NATS account for ${initId}`);
    return { user: initId, pass: `pw-${initId}` };
  }

  get cloud(): NatsLogin {
    return { user: 'cloud', pass: 'pw-cloud' };
  }

  static async start(directory: string, edges: readonly string[]): Promise<EdgeAccountsNats> {
    const server = await NatsServer.start({ directory, config: (port) => edgeAccountsConfig(port, edges) });
    return new EdgeAccountsNats(server, edges);
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

function edgeAccountsConfig(port: number, edges: readonly string[]): string {
  const accounts = edges.map(
    (edge) =>
      `  "EDGE_${edge}" { users: [{ user: "${edge}", password: "pw-${edge}" }], exports: [{ stream: "heartbeat.ota.service" }] }`,
  );
  const imports = edges.map(
    (edge) =>
      `    { stream: { account: "EDGE_${edge}", subject: "heartbeat.ota.service" }, to: "${edgeSubject(edge)}" }`,
  );
  return [
    `listen: "127.0.0.1:${port}"`,
    'accounts {',
    ...accounts,
    '  CLOUD {',
    '    users: [{ user: "cloud", password: "pw-cloud" }]',
    '    imports: [',
    ...imports,
    '    ]',
    '  }',
    '}',
    '',
  ].join('\n');
}
