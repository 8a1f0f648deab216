/**
 * The credential-leak scanner of the attack suite: every string reachable from what a run
 * emitted (log lines, events, errors with their causes and stacks, outcomes, stored files), and
 * the forms a secret takes on the way out (raw, URL-encoded, base64, a Basic header).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Logger } from '../../src/core/logger.js';

/** Every string reachable from `value` (errors with message, stack and cause; maps, arrays). */
export function strings(value: unknown, out: string[] = [], seen = new Set<unknown>()): string[] {
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'number' || typeof value === 'boolean' || value == null) return out;
  else if (typeof value === 'object' || typeof value === 'function') {
    if (seen.has(value)) return out;
    seen.add(value);
    if (value instanceof Error) {
      out.push(value.message, value.stack ?? '', String(value));
      strings((value as { cause?: unknown }).cause, out, seen);
    }
    if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('latin1'));
    else if (value instanceof Map) for (const [k, v] of value) strings([k, v], out, seen);
    else if (typeof value === 'object') {
      for (const key of Object.getOwnPropertyNames(value)) {
        out.push(key);
        try {
          strings((value as Record<string, unknown>)[key], out, seen);
        } catch {}
      }
      try {
        out.push(JSON.stringify(value) ?? '');
      } catch {}
    }
  }
  return out;
}

export function forms(secret: string, user?: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    Buffer.from(secret).toString('base64'),
    ...(user === undefined ? [] : [Buffer.from(`${user}:${secret}`).toString('base64')]),
  ];
}

export function capturingLogger(lines: unknown[]): Logger {
  const log = (level: string) => (message: string, context?: Record<string, unknown>) =>
    lines.push({ level, message, context });
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** Records every event `emitter.emit` sends, whatever its name. */
export function recordEmits(emitter: { emit: (...args: never[]) => boolean }, into: unknown[]): void {
  const original = emitter.emit.bind(emitter) as (...args: unknown[]) => boolean;
  (emitter as { emit: (...args: unknown[]) => boolean }).emit = (...args: unknown[]) => {
    into.push(args);
    return original(...args);
  };
}

export async function filesUnder(directory: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (entry.isFile()) out.push((await readFile(join(entry.parentPath, entry.name))).toString('latin1'));
  }
  return out;
}

export function expectNoSecret(haystack: readonly string[], needles: readonly string[]): void {
  expect(haystack.length).toBeGreaterThan(0);
  for (const needle of needles) {
    const found = haystack.filter((text) => text.includes(needle));
    expect(found, `secret form ${JSON.stringify(needle)} leaked`).toEqual([]);
  }
}
