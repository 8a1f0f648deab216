/**
 * The handlers of one MQTT client, indexed by filter, so a message finds its handlers without
 * trying every filter: a gateway or a fleet simulator subscribes thousands of exact topics on one
 * connection, and a linear scan per message would cost thousands of matches for each.
 *
 * @module
 */
import { type MqttMessage, matchFilterOf, topicMatches } from '../transport/mqtt-connection.js';

export interface HandlerEntry {
  filter: string;
  handler: (message: MqttMessage) => void;
}

const hasWildcard = (filter: string) => filter.includes('+') || filter.includes('#');

export class HandlerIndex {
  /** Filters without wildcards, by the topic they match. */
  readonly #exact = new Map<string, Set<HandlerEntry>>();
  readonly #wildcard = new Set<HandlerEntry>();
  /** How many entries hold each filter (as subscribed, `$share/…` included). */
  readonly #filters = new Map<string, number>();

  add(entry: HandlerEntry): void {
    const topic = matchFilterOf(entry.filter);
    if (hasWildcard(topic)) this.#wildcard.add(entry);
    else {
      let set = this.#exact.get(topic);
      if (set === undefined) {
        set = new Set();
        this.#exact.set(topic, set);
      }
      set.add(entry);
    }
    this.#filters.set(entry.filter, (this.#filters.get(entry.filter) ?? 0) + 1);
  }

  /** Removes `entry`; `false` when it was not there. */
  delete(entry: HandlerEntry): boolean {
    const topic = matchFilterOf(entry.filter);
    let removed: boolean;
    if (hasWildcard(topic)) removed = this.#wildcard.delete(entry);
    else {
      const set = this.#exact.get(topic);
      removed = set?.delete(entry) ?? false;
      if (set !== undefined && set.size === 0) this.#exact.delete(topic);
    }
    if (removed) {
      const left = (this.#filters.get(entry.filter) ?? 1) - 1;
      if (left === 0) this.#filters.delete(entry.filter);
      else this.#filters.set(entry.filter, left);
    }
    return removed;
  }

  /** Whether any handler still holds `filter` (exactly as subscribed). */
  holds(filter: string): boolean {
    return this.#filters.has(filter);
  }

  dispatch(message: MqttMessage): void {
    const exact = this.#exact.get(message.topic);
    // Copies: a handler may unsubscribe (itself or another) while the message is dispatched.
    if (exact !== undefined) for (const entry of [...exact]) entry.handler(message);
    if (this.#wildcard.size === 0) return;
    for (const entry of [...this.#wildcard]) {
      if (topicMatches(entry.filter, message.topic)) entry.handler(message);
    }
  }

  clear(): void {
    this.#exact.clear();
    this.#wildcard.clear();
    this.#filters.clear();
  }
}
