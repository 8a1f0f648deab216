/**
 * An MQTT chaos proxy: a real TCP listener on loopback that sits between MQTT clients and a real
 * broker and misbehaves on purpose, packet by packet. A device agent connects to `proxy.url`
 * instead of the broker's; each client connection gets its own upstream connection to the broker.
 *
 * Why a proxy and not a fault in the broker: the faults that wedge OTA updates live on the wire
 * (a broker's QoS 1 redelivery with `dup`, a retained order sent again after a reconnect, a
 * connection lost after the device's status left but before its PUBACK came back). Those need to
 * be placed at an exact packet, in a byte stream both sides really parse; a real broker never
 * does them on cue, and a mocked client would not parse them at all.
 *
 * Both byte streams are parsed with `mqtt-packet` (the parser mqtt.js and aedes themselves use)
 * and every packet is generated again on the way out, so a rule can act per packet:
 * - duplicate a broker-to-client PUBLISH (QoS 1: the same messageId with `dup` set, as a broker
 *   redelivers; QoS 0: simply twice), or keep one and re-deliver it after the next reconnect;
 * - cut the connection (both sockets) just before or just after a packet that matches, after N
 *   packets, or at once; take the broker away for a while (`upstreamDown`/`upstreamUp`);
 * - count everything that passed, per direction and packet type.
 *
 * Deterministic: rules fire on packet content and counts only (no randomness, no timers). The
 * extra PUBACKs a client sends for injected copies are swallowed, so the broker sees exactly the
 * acknowledgements it expects. QoS 2 copies are forwarded untouched (no agent here uses QoS 2 for
 * orders, and faking the PUBREC/PUBREL exchange would be a broker of its own).
 */
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { generate, type IPublishPacket, type Packet, parser } from 'mqtt-packet';

/** Which way a packet travels. */
export type Direction = 'toBroker' | 'toClient';

/** A packet on its way through the proxy. */
export interface Passing {
  direction: Direction;
  packet: Packet;
  /** The client connection it belongs to: 1 for the first the proxy accepted, then 2, 3… */
  connection: number;
}

export type Match = (passing: Passing) => boolean;

/** What the proxy did and saw; every counter only grows. */
export interface ChaosCounts {
  /** Client connections accepted and bridged to the broker (the first and every reconnect). */
  connections: number;
  /** Client connections refused while the upstream was down. */
  refused: number;
  /** Connections the proxy cut (rules, `cutNow`, `upstreamDown`). */
  cuts: number;
  /** Extra copies of a PUBLISH sent to a client on the same connection. */
  duplicated: number;
  /** PUBLISHes re-delivered on a later connection. */
  redelivered: number;
  /** PUBACKs from a client for injected copies, kept from the broker. */
  swallowedAcks: number;
  /** Packets forwarded, by direction and type. */
  passed: Record<Direction, Partial<Record<Packet['cmd'], number>>>;
}

/** A rule's handle: resolves the first time the rule fires, with the packet that fired it. */
export type Fired = Promise<Passing>;

export interface ChaosProxy {
  /** Where clients connect: `mqtt://127.0.0.1:<port>`. */
  readonly url: string;
  readonly counts: ChaosCounts;
  /** One short line per packet and event, in order (for failure messages). */
  readonly trace: string[];
  /** Resolves with the first packet that matches, which passes untouched. */
  observe(match: Match): Fired;
  /** The next `times` PUBLISHes to a client that match are sent `copies` more times each. */
  duplicate(match: Match, options?: { copies?: number; times?: number }): Fired;
  /**
   * The next `times` packets that match cut their connection: `when: 'after'` once the packet
   * was handed on (the receiver gets it, its answer is lost), `'before'` instead of handing it on.
   */
  cutWhen(match: Match, options?: { when?: 'before' | 'after'; times?: number }): Fired;
  /** Cuts the connection after `count` more packets passed (either way), the last one delivered. */
  cutAfterPackets(count: number): Fired;
  /** Keeps the next PUBLISH to a client that matches, and delivers it again after the next reconnect. */
  redeliverAfterReconnect(match: Match): Fired;
  /**
   * Delivers `packet` (a PUBLISH a rule saw earlier: a stale order) right after the CONNACK of the
   * next connection, as a broker re-delivering an old message would.
   */
  replayOnNextConnection(packet: IPublishPacket): void;
  /** Cuts every open connection now. */
  cutNow(): void;
  /** The broker becomes unreachable: open connections are cut, new ones refused until `upstreamUp`. */
  upstreamDown(): void;
  upstreamUp(): void;
  /** Stops listening and cuts everything; rules that never fired stay pending. */
  close(): Promise<void>;
}

/** A publish to a client, for rules: its topic and payload as text. */
export function isPublish(
  passing: Passing,
  direction: Direction = 'toClient',
): passing is Passing & {
  packet: IPublishPacket;
} {
  return passing.direction === direction && passing.packet.cmd === 'publish';
}

export const payloadOf = (packet: IPublishPacket): string => Buffer.from(packet.payload).toString();

/**
 * Waits for a rule to fire, failing with `what()` (say, the proxy's trace) instead of hanging when
 * it never does. The limit only catches a hang.
 */
export async function fired(rule: Fired, what: () => string, timeoutMs = 15_000): Promise<Passing> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`a proxy rule never fired: ${what()}`)), timeoutMs);
  });
  try {
    return await Promise.race([rule, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Delivers a stale copy of `passing` (a PUBLISH a rule saw) on a new connection: kept for the next
 * connection, then the current one is cut. Returns a predicate that holds once the copy was sent
 * and the client acknowledged it (QoS 1): by then the client has handed it to its application.
 */
export function replayStale(proxy: ChaosProxy, passing: Passing): () => boolean {
  if (passing.packet.cmd !== 'publish' || passing.packet.qos !== 1) {
    throw new Error('replayStale: give a QoS 1 PUBLISH');
  }
  const { redelivered, swallowedAcks } = proxy.counts;
  proxy.replayOnNextConnection(passing.packet);
  proxy.cutNow();
  return () => proxy.counts.redelivered > redelivered && proxy.counts.swallowedAcks > swallowedAcks;
}

interface Rule {
  kind: 'observe' | 'duplicate' | 'cut-before' | 'cut-after' | 'redeliver';
  match: Match;
  times: number;
  copies: number;
  fire: (passing: Passing) => void;
}

interface Link {
  index: number;
  client: Socket;
  upstream: Socket;
  /** Cut: nothing more is read or forwarded. */
  dead: boolean;
  /** The negotiated protocol version (from CONNECT), which the parsers and generator need. */
  settings: { protocolVersion: number };
  /** messageIds of injected QoS 1 copies whose PUBACK must not reach the broker, with counts. */
  swallow: Map<number, number>;
}

/** Starts a proxy that forwards to `upstreamPort` on loopback (the broker's port, which may change per call). */
export async function startMqttChaosProxy(upstreamPort: number | (() => number)): Promise<ChaosProxy> {
  const portOf = typeof upstreamPort === 'number' ? () => upstreamPort : upstreamPort;
  const counts: ChaosCounts = {
    connections: 0,
    refused: 0,
    cuts: 0,
    duplicated: 0,
    redelivered: 0,
    swallowedAcks: 0,
    passed: { toBroker: {}, toClient: {} },
  };
  const trace: string[] = [];
  const rules: Rule[] = [];
  const links = new Set<Link>();
  /** PUBLISHes kept for the next connection, sent right after its CONNACK. */
  const laterDeliveries: IPublishPacket[] = [];
  let upstreamIsDown = false;
  let accepted = 0;

  const note = (line: string) => {
    trace.push(line);
    if (trace.length > 2_000) trace.shift();
  };
  const describe = ({ direction, packet, connection }: Passing) => {
    const arrow = direction === 'toBroker' ? '>' : '<';
    const id = packet.messageId === undefined ? '' : ` id=${packet.messageId}`;
    const detail =
      packet.cmd === 'publish'
        ? ` ${packet.topic} q${packet.qos}${packet.dup ? ' dup' : ''}${packet.retain ? ' r' : ''} ${payloadOf(packet).slice(0, 80)}`
        : '';
    return `#${connection} ${arrow} ${packet.cmd}${id}${detail}`;
  };

  const rule = (kind: Rule['kind'], match: Match, times: number, copies = 0): Fired =>
    new Promise<Passing>((resolve) => {
      rules.push({ kind, match, times, copies, fire: resolve });
    });

  /** The rules of `kinds` that match, each counted down (and dropped once spent). */
  const firing = (passing: Passing, kinds: Rule['kind'][]): Rule[] => {
    const fired: Rule[] = [];
    for (const each of [...rules]) {
      if (!kinds.includes(each.kind) || !each.match(passing)) continue;
      each.times -= 1;
      if (each.times <= 0) rules.splice(rules.indexOf(each), 1);
      each.fire(passing);
      fired.push(each);
    }
    return fired;
  };

  /**
   * Ends a link. `flush` is the socket whose last write must still arrive (a cut "after" a
   * packet): it is ended (FIN after the bytes) rather than destroyed.
   */
  const cut = (link: Link, reason: string, flush?: Socket) => {
    if (link.dead) return;
    link.dead = true;
    counts.cuts += 1;
    note(`#${link.index} cut (${reason})`);
    for (const socket of [link.client, link.upstream]) {
      if (socket === flush) socket.end(() => socket.destroy());
      else socket.destroy();
    }
    links.delete(link);
  };

  const send = (link: Link, to: Socket, packet: Packet) => {
    to.write(generate(packet, link.settings));
  };

  /** A copy of a broker PUBLISH as a redelivery: `dup` for QoS 1, and its PUBACK kept from the broker. */
  const inject = (link: Link, original: IPublishPacket, messageId?: number) => {
    const copy: IPublishPacket = { ...original, dup: original.qos > 0 };
    if (messageId !== undefined) copy.messageId = messageId;
    if (copy.qos === 1 && copy.messageId !== undefined) {
      link.swallow.set(copy.messageId, (link.swallow.get(copy.messageId) ?? 0) + 1);
    }
    note(`${describe({ direction: 'toClient', packet: copy, connection: link.index })} (injected)`);
    send(link, link.client, copy);
  };

  /**
   * The messageIds of re-deliveries on a new connection, far from the low ids a broker starts
   * with. A clash would be harmless anyway: PUBACKs are swallowed by count per id.
   */
  let nextInjectedId = 60_000;

  const onPacket = (link: Link, direction: Direction, packet: Packet) => {
    if (link.dead) return;
    const passing: Passing = { direction, packet, connection: link.index };
    if (packet.cmd === 'connect' && packet.protocolVersion !== undefined) {
      link.settings.protocolVersion = packet.protocolVersion;
    }
    // An acknowledgement of a copy the broker never sent stays here.
    if (direction === 'toBroker' && packet.cmd === 'puback' && packet.messageId !== undefined) {
      const pending = link.swallow.get(packet.messageId) ?? 0;
      if (pending > 0) {
        link.swallow.set(packet.messageId, pending - 1);
        counts.swallowedAcks += 1;
        note(`${describe(passing)} (swallowed)`);
        return;
      }
    }
    firing(passing, ['observe']);
    if (firing(passing, ['cut-before']).length > 0) return cut(link, `before ${packet.cmd}`);
    const to = direction === 'toBroker' ? link.upstream : link.client;
    note(describe(passing));
    send(link, to, packet);
    counts.passed[direction][packet.cmd] = (counts.passed[direction][packet.cmd] ?? 0) + 1;

    if (direction === 'toClient' && packet.cmd === 'connack') {
      for (const kept of laterDeliveries.splice(0)) {
        counts.redelivered += 1;
        inject(link, kept, kept.qos > 0 ? nextInjectedId++ : undefined);
      }
    }
    if (isPublish(passing)) {
      const publish = passing.packet;
      for (const each of firing(passing, ['duplicate'])) {
        for (let copy = 0; copy < each.copies; copy++) {
          counts.duplicated += 1;
          inject(link, publish);
        }
      }
      if (firing(passing, ['redeliver']).length > 0) laterDeliveries.push(publish);
    }
    if (firing(passing, ['cut-after']).length > 0) cut(link, `after ${packet.cmd}`, to);
  };

  const bridge = (client: Socket) => {
    client.setNoDelay(true);
    if (upstreamIsDown) {
      counts.refused += 1;
      note('refused (upstream down)');
      client.destroy();
      return;
    }
    counts.connections += 1;
    const upstream = connect(portOf(), '127.0.0.1');
    upstream.setNoDelay(true);
    const link: Link = {
      index: ++accepted,
      client,
      upstream,
      dead: false,
      settings: { protocolVersion: 4 },
      swallow: new Map(),
    };
    links.add(link);
    note(`#${link.index} open`);
    const wire = (from: Socket, direction: Direction) => {
      // The parser reads its settings object on every packet: the version CONNECT names applies
      // to everything after it (MQTT 5 packets carry properties a 3.1.1 parser would misread).
      const reader = parser(link.settings);
      reader.on('packet', (packet: Packet) => onPacket(link, direction, packet));
      reader.on('error', (error: Error) => cut(link, `unparsable ${direction}: ${error.message}`));
      from.on('data', (chunk: Buffer) => {
        if (!link.dead) reader.parse(chunk);
      });
      // Either side going away takes the other with it, as a real broker's connection would.
      from.on('close', () => {
        if (link.dead) return;
        link.dead = true;
        links.delete(link);
        note(`#${link.index} closed by the ${direction === 'toBroker' ? 'client' : 'broker'}`);
        (from === client ? upstream : client).destroy();
      });
      from.on('error', () => {});
    };
    wire(client, 'toBroker');
    wire(upstream, 'toClient');
  };

  const server: Server = createServer(bridge);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  const cutNow = () => {
    for (const link of [...links]) cut(link, 'cutNow');
  };

  return {
    url: `mqtt://127.0.0.1:${port}`,
    counts,
    trace,
    observe: (match) => rule('observe', match, 1),
    duplicate: (match, { copies = 1, times = 1 } = {}) => rule('duplicate', match, times, copies),
    cutWhen: (match, { when = 'after', times = 1 } = {}) =>
      rule(when === 'after' ? 'cut-after' : 'cut-before', match, times),
    cutAfterPackets(count) {
      let left = count;
      return rule('cut-after', () => --left <= 0, 1);
    },
    redeliverAfterReconnect: (match) => rule('redeliver', match, 1),
    replayOnNextConnection(packet) {
      note(`kept for the next connection: ${packet.topic}`);
      laterDeliveries.push(packet);
    },
    cutNow,
    upstreamDown() {
      upstreamIsDown = true;
      note('upstream down');
      cutNow();
    },
    upstreamUp() {
      upstreamIsDown = false;
      note('upstream up');
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      cutNow();
      await closed;
    },
  };
}
