import { describe, expect, it } from 'vitest';
import { HandlerIndex } from '../../src/mqtt/handler-index.js';
import { matchFilterOf, topicMatches } from '../../src/transport/mqtt-connection.js';

const message = (topic: string) => ({ topic, payload: new Uint8Array(), retain: false });

describe('MQTT handler index', () => {
  it('reads a shared subscription as the filter it shares', () => {
    expect(matchFilterOf('$share/orchestrators/insighio/+/status')).toBe('insighio/+/status');
    expect(matchFilterOf('a/b')).toBe('a/b');
    expect(topicMatches('$share/g/fleet/+/status', 'fleet/d1/status')).toBe(true);
    expect(topicMatches('$share/g/fleet/+/status', 'fleet/d1/order')).toBe(false);
    expect(topicMatches('$share/g/fleet/d1', 'fleet/d1')).toBe(true);
  });

  it('dispatches exact, wildcard and shared filters, and forgets removed handlers', () => {
    const index = new HandlerIndex();
    const seen: string[] = [];
    const exact = { filter: 'a/b', handler: () => seen.push('exact') };
    const wildcard = { filter: 'a/+', handler: () => seen.push('wildcard') };
    const shared = { filter: '$share/g/a/b', handler: () => seen.push('shared') };
    for (const entry of [exact, wildcard, shared]) index.add(entry);
    index.dispatch(message('a/b'));
    expect(seen.sort()).toEqual(['exact', 'shared', 'wildcard']);
    expect(index.holds('$share/g/a/b')).toBe(true);
    expect(index.delete(shared)).toBe(true);
    expect(index.delete(shared)).toBe(false);
    expect(index.holds('$share/g/a/b')).toBe(false);
    seen.length = 0;
    index.dispatch(message('a/c'));
    expect(seen).toEqual(['wildcard']);
  });

  it('counts one filter held by two handlers until both are gone', () => {
    const index = new HandlerIndex();
    const first = { filter: 'x', handler: () => {} };
    const second = { filter: 'x', handler: () => {} };
    index.add(first);
    index.add(second);
    index.delete(first);
    expect(index.holds('x')).toBe(true);
    index.delete(second);
    expect(index.holds('x')).toBe(false);
  });
});

describe('MQTT handler index: the tree against topicMatches', () => {
  const filters = [
    'a/b',
    'a/+',
    'a/#',
    '#',
    '+/b',
    'a/+/c',
    '+',
    '$SYS/#',
    '$share/g/a/b',
    'a/b/#',
    'x/+/+/#',
  ];
  const topics = ['a', 'a/b', 'a/c', 'a/b/c', 'b', 'c/b', '$SYS/x', '$SYS', 'x/1/2', 'x/1/2/3/4', 'a//c'];

  it('dispatches to exactly the filters topicMatches accepts', () => {
    const index = new HandlerIndex();
    const seen: string[] = [];
    for (const filter of filters) index.add({ filter, handler: () => seen.push(filter) });
    for (const topic of topics) {
      seen.length = 0;
      index.dispatch(message(topic));
      expect(seen.sort(), topic).toEqual(filters.filter((filter) => topicMatches(filter, topic)).sort());
    }
  });

  it('prunes what is unsubscribed', () => {
    const index = new HandlerIndex();
    const entries = filters.map((filter) => ({ filter, handler: () => {} }));
    for (const entry of entries) index.add(entry);
    for (const entry of entries) expect(index.delete(entry)).toBe(true);
    const seen: string[] = [];
    index.add({ filter: 'a/b', handler: () => seen.push('again') });
    index.dispatch(message('a/b'));
    expect(seen).toEqual(['again']);
  });
});
