/**
 * How cheaply the wire decoders refuse a 10 MB message: the median time of each refusal against
 * a baseline measured in the same run, `JSON.parse` of the same 10 MB text (what a decoder that
 * parsed before checking the size would pay at the very least). The tests assert the refusal
 * deterministically (the text never reaches `JSON.parse`, a regular expression or `TextDecoder`);
 * this records what that is worth in time.
 */
import * as connhex from '../src/protocols/connhex/index.js';
import * as degu from '../src/protocols/degu/index.js';
import * as exosite from '../src/protocols/exosite/index.js';
import * as insighIo from '../src/protocols/insighio/index.js';
import * as micropythonOta from '../src/protocols/micropython-ota/index.js';
import * as thingsBoard from '../src/protocols/thingsboard/index.js';

const TEN_MB = 10 * 1024 * 1024;

export interface LimitMeasurement {
  decoder: string;
  /** Median milliseconds to refuse the 10 MB text. */
  refuseMs: number;
  /** Median milliseconds of `JSON.parse` over the same text, in the same run. */
  parseMs: number;
  /** refuseMs / parseMs: far below 1 means the size is checked before any parsing. */
  ratio: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timeOf(run: () => unknown, rounds: number): number {
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    try {
      run();
    } catch {
      // The refusal is the point.
    }
    samples.push(performance.now() - started);
  }
  return median(samples);
}

export function benchLimits(rounds = 7): LimitMeasurement[] {
  // Valid JSON, so only a size check can stop a decoder early.
  const huge = `{"version":"1","name":"n","type":"JSON","payload":{"x":"${'a'.repeat(TEN_MB)}"}}`;
  const decoders: [string, (text: string) => unknown][] = [
    ['connhex.decodeStatusMessage', (text) => connhex.decodeStatusMessage(text)],
    ['degu.decodeShadowMessage(update/delta)', (text) => degu.decodeShadowMessage('update/delta', text)],
    ['exosite.decodeManifest', (text) => exosite.decodeManifest(text)],
    ['insighIo.decodeMessage', (text) => insighIo.decodeMessage(text)],
    ['micropythonOta.decodeRelease', (text) => micropythonOta.decodeRelease(text)],
    ['thingsBoard.decodeAttributes', (text) => thingsBoard.decodeAttributes(text)],
  ];
  const parseMs = timeOf(() => JSON.parse(huge), rounds);
  return decoders.map(([decoder, decode]) => {
    const refuseMs = timeOf(() => decode(huge), rounds);
    return {
      decoder,
      refuseMs: Number(refuseMs.toFixed(4)),
      parseMs: Number(parseMs.toFixed(2)),
      ratio: Number((refuseMs / parseMs).toFixed(5)),
    };
  });
}
