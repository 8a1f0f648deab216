/**
 * ky, loaded on first use. Importing ky reads `globalThis.Request`, and in Node that getter loads
 * the whole built-in fetch implementation (undici, ~4 MB of heap): an idle device agent, which may
 * not make a request for days, should not carry it (bench/agent-footprint.ts measures this).
 *
 * @module
 */
import type { KyInstance } from 'ky';

let loading: Promise<KyInstance> | undefined;

export function loadKy(): Promise<KyInstance> {
  loading ??= import('ky').then((module) => module.default);
  return loading;
}
