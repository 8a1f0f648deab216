/**
 * Every public decoder of every protocol namespace, found by name in the namespaces the root
 * entry and `otakit/node` export, so a new decoder is covered with no edit. Shared by the
 * property test (test/protocols/public-decoders.test.ts) and the fuzz suite
 * (test/fuzz/public-decoders.fuzz.ts).
 */
import * as otakit from '../../src/index.js';
import * as otakitNode from '../../src/node/index.js';

export const NAMESPACES = [
  'degu',
  'micropythonOta',
  'insighIo',
  'connhex',
  'exosite',
  'thingsBoard',
] as const;
/** Protocol code that lives in `otakit/node` (device-agent only: agent.toml, provisioning, packages). */
export const NODE_NAMESPACES = ['connhexAgent', 'exositeProvisioning', 'insighIoPackage'] as const;
const DECODER_NAME = /^(decode|parse|read|safeDecode|safeParse|unpack|resolve|evaluate|classify|detect)/;

/** Names found on Object.prototype: a lookup table indexed with them finds a function. */
export const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  'prototype',
] as const;

export type AnyFunction = (...args: unknown[]) => unknown;

export interface Decoder {
  label: string;
  fn: AnyFunction;
  arity: number;
  safe: boolean;
}

/** The decoders of the protocol namespaces, sorted by name within each namespace. */
export function namespaceDecoders(): Decoder[] {
  const found: Decoder[] = [];
  const sources = [
    ...NAMESPACES.map((namespace) => [namespace, otakit] as const),
    ...NODE_NAMESPACES.map((namespace) => [namespace, otakitNode] as const),
  ];
  for (const [namespace, entry] of sources) {
    const exported = (entry as unknown as Record<string, Record<string, unknown>>)[namespace];
    if (exported === undefined) throw new Error(`no namespace ${namespace} is exported`);
    for (const name of Object.keys(exported).sort()) {
      const value = exported[name];
      if (typeof value !== 'function' || !DECODER_NAME.test(name)) continue;
      // A class is a schema-like constructor, not a decoder.
      if (/^class\s/.test(Function.prototype.toString.call(value))) continue;
      found.push({
        label: `${namespace}.${name}`,
        fn: value as AnyFunction,
        arity: Math.max(1, (value as AnyFunction).length),
        safe: name.startsWith('safe'),
      });
    }
  }
  return found;
}
