/**
 * The handlers of one MQTT client, in a tree of topic levels, so a message finds its handlers in
 * as many steps as its topic has levels: a gateway or a fleet simulator subscribes thousands of
 * filters on one connection (insigh.io devices each a wildcard, `…/<device>/#`), and trying every
 * filter for every message would cost thousands of matches for each.
 *
 * @module
 */
import { type MqttMessage, matchFilterOf } from '../transport/mqtt-connection.js';

export interface HandlerEntry {
  filter: string;
  handler: (message: MqttMessage) => void;
}

/** One level of the tree: handlers whose filter ends here, ends with `#` here, or goes on. */
class Level {
  readonly children = new Map<string, Level>();
  plus: Level | undefined;
  /** Filters ending at this level. */
  readonly here = new Set<HandlerEntry>();
  /** Filters ending with `#` after this level (they match this level and everything below). */
  readonly rest = new Set<HandlerEntry>();

  get empty(): boolean {
    return (
      this.children.size === 0 && this.plus === undefined && this.here.size === 0 && this.rest.size === 0
    );
  }
}

export class HandlerIndex {
  readonly #root = new Level();
  /** How many entries hold each filter (as subscribed, `$share/…` included). */
  readonly #filters = new Map<string, number>();

  add(entry: HandlerEntry): void {
    let level = this.#root;
    for (const name of matchFilterOf(entry.filter).split('/')) {
      if (name === '#') {
        level.rest.add(entry);
        this.#count(entry.filter, 1);
        return;
      }
      let next = name === '+' ? level.plus : level.children.get(name);
      if (next === undefined) {
        next = new Level();
        if (name === '+') level.plus = next;
        else level.children.set(name, next);
      }
      level = next;
    }
    level.here.add(entry);
    this.#count(entry.filter, 1);
  }

  /** Removes `entry`; `false` when it was not there. */
  delete(entry: HandlerEntry): boolean {
    const removed = this.#remove(this.#root, matchFilterOf(entry.filter).split('/'), 0, entry);
    if (removed) this.#count(entry.filter, -1);
    return removed;
  }

  /** Whether any handler still holds `filter` (exactly as subscribed). */
  holds(filter: string): boolean {
    return this.#filters.has(filter);
  }

  dispatch(message: MqttMessage): void {
    const matched: HandlerEntry[] = [];
    // Wildcards at the first level never match topics starting with `$` (MQTT 3.1.1 §4.7.2).
    this.#match(this.#root, message.topic.split('/'), 0, message.topic.startsWith('$'), matched);
    // Collected first: a handler may unsubscribe (itself or another) while the message is dispatched.
    for (const entry of matched) entry.handler(message);
  }

  clear(): void {
    this.#root.children.clear();
    this.#root.plus = undefined;
    this.#root.here.clear();
    this.#root.rest.clear();
    this.#filters.clear();
  }

  #match(level: Level, names: string[], index: number, system: boolean, into: HandlerEntry[]): void {
    const wildcardsAllowed = !(system && index === 0);
    if (wildcardsAllowed) for (const entry of level.rest) into.push(entry);
    if (index === names.length) {
      for (const entry of level.here) into.push(entry);
      return;
    }
    const child = level.children.get(names[index]!);
    if (child !== undefined) this.#match(child, names, index + 1, system, into);
    if (level.plus !== undefined && wildcardsAllowed) this.#match(level.plus, names, index + 1, system, into);
  }

  #remove(level: Level, names: string[], index: number, entry: HandlerEntry): boolean {
    const name = names[index];
    if (name === '#') return level.rest.delete(entry);
    if (name === undefined) return level.here.delete(entry);
    const next = name === '+' ? level.plus : level.children.get(name);
    if (next === undefined) return false;
    const removed = this.#remove(next, names, index + 1, entry);
    // Prune: a client that subscribes and unsubscribes many topics must not keep their levels.
    if (removed && next.empty) {
      if (name === '+') level.plus = undefined;
      else level.children.delete(name);
    }
    return removed;
  }

  #count(filter: string, change: 1 | -1): void {
    const left = (this.#filters.get(filter) ?? 0) + change;
    if (left <= 0) this.#filters.delete(filter);
    else this.#filters.set(filter, left);
  }
}
