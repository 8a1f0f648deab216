/**
 * The bytes-off-the-wire half of nodeFetch: the response-head parser, the body framing decoder
 * (Content-Length, chunked, close-delimited) and the ring buffer that holds body bytes. Examples
 * pin the behaviour and every rejection; properties check that any bytes, split anywhere, give the
 * same answer and never a foreign error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyDecoder, type BodyFraming, bodyFraming } from '../../src/node/http1/body-decoder.js';
import { ByteQueue } from '../../src/node/http1/byte-queue.js';
import {
  HttpProtocolError,
  MAX_HEAD_BYTES,
  parseResponseHead,
  type ResponseHead,
} from '../../src/node/http1/response-head.js';

const MAX_CHUNK_LINE = 4096;

/** Latin-1 bytes of `text` (one byte per char code, as on the wire). */
function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** `data` cut at the given points (taken modulo its length + 1); empty pieces included. */
function split(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (data.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(data.subarray(from, point));
    from = point;
  }
  pieces.push(data.subarray(from));
  return pieces;
}

/** Runs `run` and returns what it threw, asserting it threw an HttpProtocolError saying `message`. */
function protocolError(run: () => unknown, message: RegExp): HttpProtocolError {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(HttpProtocolError);
  expect((thrown as Error).message).toMatch(message);
  return thrown as HttpProtocolError;
}

function head(text: string): ResponseHead {
  const parsed = parseResponseHead(bytes(text));
  if (parsed === undefined) throw new Error(`test head is incomplete: ${JSON.stringify(text)}`);
  return parsed;
}

interface Decoded {
  decoder: BodyDecoder;
  /** Copies of what was emitted, in order. */
  parts: Uint8Array[];
  body: Uint8Array;
}

/** Feeds `pieces` to a new decoder and gathers the body. */
function decode(framing: BodyFraming, pieces: readonly (Uint8Array | string)[]): Decoded {
  const decoder = new BodyDecoder(framing);
  const parts: Uint8Array[] = [];
  for (const piece of pieces) {
    decoder.push(typeof piece === 'string' ? bytes(piece) : piece, (part) => parts.push(part.slice()));
  }
  return { decoder, parts, body: concat(...parts) };
}

const text = (data: Uint8Array) => String.fromCharCode(...data);

/** A chunked encoding of `body` in chunks of `sizes` (cycled), with the given decorations. */
function encodeChunked(
  body: Uint8Array,
  sizes: readonly number[],
  options: { upper?: boolean; extension?: string; trailers?: readonly string[]; eol?: string } = {},
): Uint8Array {
  const { upper = false, extension = '', trailers = [], eol = '\r\n' } = options;
  const hex = (size: number) => (upper ? size.toString(16).toUpperCase() : size.toString(16));
  const parts: Uint8Array[] = [];
  for (let at = 0, index = 0; at < body.length; index += 1) {
    const size = Math.min(sizes[index % sizes.length]!, body.length - at);
    parts.push(bytes(`${hex(size)}${extension}${eol}`), body.subarray(at, at + size), bytes(eol));
    at += size;
  }
  parts.push(bytes(`0${extension}${eol}${trailers.map((field) => `${field}${eol}`).join('')}${eol}`));
  return concat(...parts);
}

describe('parseResponseHead', () => {
  it('parses a head: status, reason, lowercased names, repeated fields, trimmed OWS, exact length', () => {
    const raw = bytes(
      'HTTP/1.1 200 All Good\r\n' +
        'Content-Type: \t text/plain; charset=utf-8 \t\r\n' +
        'Set-Cookie: a=1\r\n' +
        'SET-COOKIE:b=2\r\n' +
        'X-Empty:\r\n' +
        'X-Obs-Text: caf\xe9\r\n' +
        '\r\n' +
        'HTTP/1.1 body bytes\r\n\r\n',
    );
    const before = raw.slice();
    const parsed = parseResponseHead(raw);
    expect(parsed).toEqual({
      status: 200,
      statusText: 'All Good',
      headers: [
        ['content-type', 'text/plain; charset=utf-8'],
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
        ['x-empty', ''],
        ['x-obs-text', 'caf\xe9'],
      ],
      length: text(raw).indexOf('\r\n\r\n') + 4,
    });
    expect(text(raw.subarray(parsed!.length))).toBe('HTTP/1.1 body bytes\r\n\r\n');
    expect(raw).toEqual(before);
  });

  it('accepts bare LF line endings, alone or mixed with CRLF', () => {
    const raw = bytes('HTTP/1.1 404 Not Found\nServer: x\nVia: 1.1 proxy\r\n\nrest');
    expect(parseResponseHead(raw)).toEqual({
      status: 404,
      statusText: 'Not Found',
      headers: [
        ['server', 'x'],
        ['via', '1.1 proxy'],
      ],
      length: raw.length - 4,
    });
    expect(parseResponseHead(bytes('HTTP/1.1 200 OK\n\n'))).toMatchObject({ status: 200, length: 17 });
  });

  it('accepts a status line without a reason phrase, an empty reason, and HTTP/1.0', () => {
    expect(parseResponseHead(bytes('HTTP/1.1 204\r\n\r\n'))).toEqual({
      status: 204,
      statusText: '',
      headers: [],
      length: 16,
    });
    expect(parseResponseHead(bytes('HTTP/1.1 302 \r\nLocation: /x\r\n\r\n'))).toMatchObject({
      status: 302,
      statusText: '',
      headers: [['location', '/x']],
    });
    expect(parseResponseHead(bytes('HTTP/1.0 100 Continue\r\n\r\n'))).toMatchObject({
      status: 100,
      statusText: 'Continue',
    });
  });

  it('returns undefined at every split point of a valid head, then the head once it is whole', () => {
    for (const raw of [
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\n',
      'HTTP/1.1 200 OK\nContent-Length: 5\nX: y\n\n',
      'HTTP/1.1 204\r\n\r\n',
    ]) {
      const full = bytes(raw);
      for (let cut = 0; cut < full.length; cut += 1) {
        expect(parseResponseHead(full.subarray(0, cut)), `cut at ${cut} of ${JSON.stringify(raw)}`).toBe(
          undefined,
        );
      }
      expect(parseResponseHead(full)?.length).toBe(full.length);
      expect(parseResponseHead(concat(full, bytes('hello')))?.length).toBe(full.length);
    }
  });

  it('rejects a malformed status line', () => {
    for (const line of [
      'HTTP/2 200 OK',
      'HTTP/2.0 200 OK',
      'HTTP/1.1 20 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/1.1 099 Low',
      'HTTP/1.1 200OK',
      'http/1.1 200 OK',
      'HTTP/1.1  200 OK',
      'HTTP/1.1 2x0 OK',
      'garbage',
      '',
      'HTTP/1.1 200 O\x00K',
    ]) {
      protocolError(() => parseResponseHead(bytes(`${line}\r\nA: b\r\n\r\n`)), /malformed status line/);
    }
  });

  it('names itself HttpProtocolError', () => {
    const error = protocolError(() => parseResponseHead(bytes('SPDY\r\n\r\n')), /status line/);
    expect(error.name).toBe('HttpProtocolError');
    expect(error).toBeInstanceOf(Error);
  });

  it('rejects obsolete line folding', () => {
    for (const fold of [' continued', '\tcontinued']) {
      protocolError(
        () => parseResponseHead(bytes(`HTTP/1.1 200 OK\r\nA: b\r\n${fold}\r\n\r\n`)),
        /obsolete line folding/,
      );
    }
  });

  it('rejects a header field name that is empty, has a space, or is not a token', () => {
    for (const field of [': empty', 'Bad Name: x', 'Name : x', 'no colon at all', 'Na(me): x', 'N\xe9: x']) {
      protocolError(
        () => parseResponseHead(bytes(`HTTP/1.1 200 OK\r\n${field}\r\n\r\n`)),
        /malformed header field name/,
      );
    }
  });

  it('rejects a control character in a field value', () => {
    for (const control of ['\x00', '\x01', '\x1f', '\x7f', '\r', '\x0b']) {
      protocolError(
        () => parseResponseHead(bytes(`HTTP/1.1 200 OK\r\nX-Bad: a${control}b\r\n\r\n`)),
        /header field X-Bad: value has a control character/,
      );
    }
  });

  it('throws on a head over MAX_HEAD_BYTES without a terminator instead of waiting forever', () => {
    const line = bytes('X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n');
    const stream = concat(
      bytes('HTTP/1.1 200 OK\r\n'),
      ...Array(Math.ceil((2 * MAX_HEAD_BYTES) / line.length)).fill(line),
    );
    let thrownAt: number | undefined;
    for (let received = 0; received <= stream.length; received += 997) {
      try {
        expect(parseResponseHead(stream.subarray(0, received))).toBe(undefined);
      } catch (error) {
        expect(error).toBeInstanceOf(HttpProtocolError);
        expect((error as Error).message).toMatch(`response head larger than ${MAX_HEAD_BYTES} bytes`);
        thrownAt = received;
        break;
      }
    }
    expect(thrownAt).toBeDefined();
    expect(thrownAt).toBeGreaterThan(MAX_HEAD_BYTES - 997);
    expect(thrownAt).toBeLessThanOrEqual(MAX_HEAD_BYTES + 997);
    protocolError(() => parseResponseHead(new Uint8Array(MAX_HEAD_BYTES + 1)), /larger than/);
    protocolError(() => parseResponseHead(new Uint8Array(10 * MAX_HEAD_BYTES)), /larger than/);
  });

  it('holds the head budget exactly, however the bytes arrive', () => {
    const headOf = (total: number, eol: string) => {
      const start = `HTTP/1.1 200 OK${eol}X-Pad: `;
      const end = `${eol}${eol}`;
      const raw = bytes(start + 'a'.repeat(total - start.length - end.length) + end);
      expect(raw.length).toBe(total);
      return raw;
    };
    // Without its end: still waiting one byte short of the budget, rejected at it.
    const open = headOf(MAX_HEAD_BYTES + 4, '\r\n');
    expect(parseResponseHead(open.subarray(0, MAX_HEAD_BYTES - 1))).toBe(undefined);
    protocolError(() => parseResponseHead(open.subarray(0, MAX_HEAD_BYTES)), /larger than/);
    for (const eol of ['\r\n', '\n']) {
      expect(parseResponseHead(headOf(MAX_HEAD_BYTES, eol))?.length).toBe(MAX_HEAD_BYTES);
      expect(parseResponseHead(headOf(MAX_HEAD_BYTES - 1, eol))?.length).toBe(MAX_HEAD_BYTES - 1);
      for (let over = 1; over <= 4; over += 1) {
        const raw = headOf(MAX_HEAD_BYTES + over, eol);
        // Whole, or with the last byte still in flight: the same answer.
        protocolError(() => parseResponseHead(raw), /larger than/);
        protocolError(() => parseResponseHead(raw.subarray(0, raw.length - 1)), /larger than/);
      }
    }
  });
});

describe('bodyFraming', () => {
  const framingOf = (fields: string, method = 'GET', status = 200) =>
    bodyFraming(head(`HTTP/1.1 ${status} X\r\n${fields}\r\n`), method);

  it('has no body for HEAD, 1xx, 204 and 304, whatever the fields say', () => {
    expect(framingOf('Content-Length: 5\r\n', 'HEAD')).toEqual({ kind: 'none' });
    expect(framingOf('Transfer-Encoding: chunked\r\n', 'HEAD')).toEqual({ kind: 'none' });
    for (const status of [100, 103, 199, 204, 304]) {
      expect(framingOf('Content-Length: 5\r\n', 'GET', status)).toEqual({ kind: 'none' });
      expect(framingOf('Transfer-Encoding: gzip\r\n', 'GET', status)).toEqual({ kind: 'none' });
    }
    expect(framingOf('Content-Length: 5\r\n', 'GET', 200)).toEqual({ kind: 'length', length: 5 });
    expect(framingOf('Content-Length: 5\r\n', 'GET', 205)).toEqual({ kind: 'length', length: 5 });
  });

  it('frames a chunked body', () => {
    expect(framingOf('Transfer-Encoding: chunked\r\n')).toEqual({ kind: 'chunked' });
    expect(framingOf('Transfer-Encoding: Chunked\r\n')).toEqual({ kind: 'chunked' });
    expect(framingOf('Transfer-Encoding: chunked, \r\n')).toEqual({ kind: 'chunked' });
  });

  it('rejects any transfer coding other than a lone chunked', () => {
    for (const fields of [
      'Transfer-Encoding: gzip, chunked\r\n',
      'Transfer-Encoding: gzip\r\n',
      'Transfer-Encoding: chunked, gzip\r\n',
      'Transfer-Encoding: identity\r\n',
      'Transfer-Encoding: chunked, chunked\r\n',
      'Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n',
    ]) {
      protocolError(() => framingOf(fields), /unsupported transfer-encoding .*expected "chunked"/);
    }
    protocolError(() => framingOf('Transfer-Encoding: gzip, chunked\r\n'), /"gzip, chunked"/);
  });

  it('lets Transfer-Encoding win over Content-Length', () => {
    expect(framingOf('Content-Length: 10\r\nTransfer-Encoding: chunked\r\n')).toEqual({ kind: 'chunked' });
    expect(framingOf('Transfer-Encoding: chunked\r\nContent-Length: nonsense\r\n')).toEqual({
      kind: 'chunked',
    });
    protocolError(() => framingOf('Content-Length: 10\r\nTransfer-Encoding: gzip\r\n'), /transfer-encoding/);
  });

  it('accepts equal duplicate Content-Length values and rejects differing or non-numeric ones', () => {
    expect(framingOf('Content-Length: 5, 5\r\n')).toEqual({ kind: 'length', length: 5 });
    expect(framingOf('Content-Length: 5\r\nContent-Length: 5\r\n')).toEqual({ kind: 'length', length: 5 });
    expect(framingOf('Content-Length: 0\r\n')).toEqual({ kind: 'length', length: 0 });
    expect(framingOf('Content-Length: 999999999999999\r\n')).toEqual({
      kind: 'length',
      length: 999_999_999_999_999,
    });
    for (const fields of [
      'Content-Length: 5, 6\r\n',
      'Content-Length: 5\r\nContent-Length: 6\r\n',
      'Content-Length: abc\r\n',
      'Content-Length: -1\r\n',
      'Content-Length: +5\r\n',
      'Content-Length: 0x10\r\n',
      'Content-Length: 1.5\r\n',
      'Content-Length: 5 5\r\n',
      'Content-Length:\r\n',
      'Content-Length: 5,\r\n',
      'Content-Length: 1000000000000000\r\n',
    ]) {
      protocolError(() => framingOf(fields), /content-length: expected one decimal byte count/);
    }
  });

  it('is close-delimited without a length', () => {
    expect(framingOf('')).toEqual({ kind: 'close' });
    expect(framingOf('Content-Type: text/plain\r\n')).toEqual({ kind: 'close' });
  });
});

describe('BodyDecoder: Content-Length', () => {
  it('stops exactly at the length and ignores the bytes after it', () => {
    const input = bytes('hel');
    const { decoder, parts, body } = decode({ kind: 'length', length: 5 }, [input]);
    expect(decoder.done).toBe(false);
    const rest = bytes('lo, and then some');
    const emitted: Uint8Array[] = [];
    decoder.push(rest, (part) => emitted.push(part));
    decoder.push(bytes('more'), (part) => emitted.push(part));
    expect(decoder.done).toBe(true);
    expect(text(concat(body, ...emitted))).toBe('hello');
    expect(parts).toHaveLength(1);
    // Views of the input, not copies.
    expect(emitted).toHaveLength(1);
    expect(emitted[0]!.buffer).toBe(rest.buffer);
    expect(emitted[0]!.byteOffset).toBe(rest.byteOffset);
  });

  it('says how many bytes are missing when the connection closes early', () => {
    const { decoder } = decode({ kind: 'length', length: 10 }, ['abcd']);
    protocolError(() => decoder.end(), /connection closed with 6 of 10 body bytes missing/);
    protocolError(() => decode({ kind: 'length', length: 3 }, []).decoder.end(), /3 of 3 body bytes missing/);
  });

  it('ends quietly when complete', () => {
    const { decoder, body } = decode({ kind: 'length', length: 4 }, ['ab', 'cd']);
    expect(decoder.done).toBe(true);
    expect(() => decoder.end()).not.toThrow();
    expect(text(body)).toBe('abcd');
    const empty = decode({ kind: 'length', length: 0 }, ['ignored']);
    expect(empty.decoder.done).toBe(true);
    expect(empty.parts).toEqual([]);
    expect(() => empty.decoder.end()).not.toThrow();
  });
});

describe('BodyDecoder: close-delimited and none', () => {
  it('emits everything until the connection closes', () => {
    const { decoder, body } = decode({ kind: 'close' }, ['0\r\n\r\n', '', 'any bytes at all']);
    expect(text(body)).toBe('0\r\n\r\nany bytes at all');
    expect(decoder.done).toBe(false);
    decoder.end();
    expect(decoder.done).toBe(true);
    const after: Uint8Array[] = [];
    decoder.push(bytes('late'), (part) => after.push(part));
    expect(after).toEqual([]);
  });

  it('has nothing to decode without a body', () => {
    const { decoder, parts } = decode({ kind: 'none' }, ['HTTP/1.1 200 OK\r\n']);
    expect(decoder.done).toBe(true);
    expect(parts).toEqual([]);
    expect(() => decoder.end()).not.toThrow();
  });
});

describe('BodyDecoder: chunked', () => {
  const chunked = (...pieces: (Uint8Array | string)[]) => decode({ kind: 'chunked' }, pieces);

  it('decodes chunks and stops after the last one', () => {
    const { decoder, body } = chunked('5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n');
    expect(text(body)).toBe('hello world');
    expect(decoder.done).toBe(true);
    expect(() => decoder.end()).not.toThrow();
  });

  it('decodes byte by byte', () => {
    const wire = '5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nA: b\r\n\r\n';
    const { decoder, body } = chunked(...wire);
    expect(text(body)).toBe('hello world');
    expect(decoder.done).toBe(true);
  });

  it('ignores chunk extensions', () => {
    const { decoder, body } = chunked(
      '5;name=value;flag\r\nhello\r\n1 ;q="quoted;value"\r\n!\r\n3\t;x\r\nabc\r\n0;last=1\r\n\r\n',
    );
    expect(text(body)).toBe('hello!abc');
    expect(decoder.done).toBe(true);
  });

  it('ignores trailer fields', () => {
    const { decoder, body } = chunked('3\r\nabc\r\n0\r\nExpires: never\r\nX-Checksum: 0\r\n\r\ntail');
    expect(text(body)).toBe('abc');
    expect(decoder.done).toBe(true);
    // Only an empty line ends the trailer section.
    const blank = chunked('0\r\n \r\n\t\r\n');
    expect(blank.decoder.done).toBe(false);
    blank.decoder.push(bytes('\r\n'), () => {});
    expect(blank.decoder.done).toBe(true);
  });

  it('reads uppercase and mixed-case hex sizes', () => {
    const body = 'x'.repeat(0x1f + 0xab);
    const { decoder, body: decoded } = chunked(
      `1F\r\n${body.slice(0, 0x1f)}\r\naB\r\n${body.slice(0x1f)}\r\n0\r\n\r\n`,
    );
    expect(text(decoded)).toBe(body);
    expect(decoder.done).toBe(true);
    expect(text(chunked('A\r\n0123456789\r\n0\r\n\r\n').body)).toBe('0123456789');
    expect(text(chunked('00000a\r\n0123456789\r\n000\r\n\r\n').body)).toBe('0123456789');
  });

  it('decodes a zero-length body', () => {
    const { decoder, parts } = chunked('0\r\n\r\n');
    expect(parts).toEqual([]);
    expect(decoder.done).toBe(true);
    expect(chunked('0\r\n', '\r').decoder.done).toBe(false);
  });

  it('accepts bare LF line endings', () => {
    const { decoder, body } = chunked('5\nhello\n0\nX: y\n\n');
    expect(text(body)).toBe('hello');
    expect(decoder.done).toBe(true);
  });

  it('rejects chunk data not followed by CRLF', () => {
    for (const wire of ['5\r\nhelloX\r\n0\r\n\r\n', '5\r\nhello0\r\n\r\n', '5\r\nhello \r\n0\r\n\r\n']) {
      protocolError(() => chunked(wire), /expected CRLF after the chunk data/);
      protocolError(() => chunked(...wire), /expected CRLF after the chunk data/);
    }
  });

  it('rejects a malformed chunk-size line', () => {
    for (const line of [
      'zz',
      '',
      ' 5',
      '-1',
      '+5',
      '0x5',
      '5 x',
      '5,ext',
      'ffffffffffffff', // 14 hex digits: past 2^53
      'hello',
    ]) {
      protocolError(
        () => chunked(`${line}\r\nhello\r\n0\r\n\r\n`),
        /malformed chunk size: expected hex digits/,
      );
    }
  });

  it('rejects a chunk-size line longer than 4096 bytes, whole or in pieces', () => {
    const line = (length: number) => `5;${'e'.repeat(length - 2)}`;
    for (const length of [MAX_CHUNK_LINE + 1, MAX_CHUNK_LINE + 2, 3 * MAX_CHUNK_LINE]) {
      const wire = `${line(length)}\r\nhello\r\n0\r\n\r\n`;
      protocolError(() => chunked(wire), /a line longer than 4096 bytes/);
      protocolError(() => chunked(...split(bytes(wire), [1000, 2000, 3000, 4096])), /longer than 4096/);
      protocolError(() => chunked(...wire.slice(0, length + 3)), /longer than 4096/);
    }
    // A line without an end rejected once it is over: the decoder does not wait for the LF.
    protocolError(() => chunked('1'.repeat(MAX_CHUNK_LINE + 1)), /longer than 4096/);
    protocolError(() => chunked(...'1'.repeat(MAX_CHUNK_LINE + 1)), /longer than 4096/);
    protocolError(() => chunked(`${'1'.repeat(MAX_CHUNK_LINE)}\rx`), /longer than 4096/);
    protocolError(() => chunked(`${'1'.repeat(MAX_CHUNK_LINE)}\r`, 'x'), /longer than 4096/);
    // A CR counts as the line's end only right before the LF.
    protocolError(() => chunked(`5;${'e'.repeat(MAX_CHUNK_LINE - 2)}\r\r\n`), /longer than 4096/);
    // A megabyte without a line feed: rejected, not copied (nor a RangeError from the copy).
    protocolError(() => chunked(new Uint8Array(1 << 20).fill(0x31)), /longer than 4096/);
    protocolError(() => chunked('0\r\n', new Uint8Array(1 << 20).fill(0x41)), /longer than 4096/);
  });

  it('accepts a chunk-size line of exactly 4096 bytes, whole or in pieces, CRLF or LF', () => {
    for (const eol of ['\r\n', '\n']) {
      const wire = `5;${'e'.repeat(MAX_CHUNK_LINE - 2)}${eol}hello${eol}0${eol}${eol}`;
      for (const pieces of [[wire], [...wire], split(bytes(wire), [MAX_CHUNK_LINE, MAX_CHUNK_LINE + 1])]) {
        const { decoder, body } = chunked(...pieces);
        expect(text(body)).toBe('hello');
        expect(decoder.done).toBe(true);
      }
    }
  });

  it('rejects trailer fields over 64 KiB', () => {
    const field = `X-Trailer: ${'t'.repeat(4000)}\r\n`;
    const fields = field.repeat(Math.ceil((MAX_HEAD_BYTES + 1) / field.length));
    protocolError(() => chunked(`0\r\n${fields}\r\n`), /trailer fields over 65536 bytes/);
    protocolError(() => chunked(...split(bytes(`0\r\n${fields}`), [7, 9000, 30_001])), /trailer fields/);
    // Rejected as soon as the budget is spent, without waiting for the end of the trailer section.
    protocolError(() => chunked(`3\r\nabc\r\n0\r\n${fields}`), /trailer fields over/);
  });

  it('holds the trailer budget the same however the bytes arrive', () => {
    const field = `X-Trailer: ${'t'.repeat(1000)}\r\n`;
    const fields = field.repeat(Math.floor((MAX_HEAD_BYTES * 0.75) / field.length));
    const wire = bytes(`3\r\nabc\r\n0\r\n${fields}\r\n`);
    for (const pieces of [[wire], split(wire, [...Array(wire.length).keys()]), split(wire, [10, 20_000])]) {
      const { decoder, body } = chunked(...pieces);
      expect(text(body)).toBe('abc');
      expect(decoder.done).toBe(true);
    }
  });

  it('throws when the connection closes inside a chunked body', () => {
    const wire = '5\r\nhello\r\n0\r\nX: y\r\n\r\n';
    for (let cut = 0; cut < wire.length; cut += 1) {
      const { decoder } = chunked(wire.slice(0, cut));
      expect(decoder.done).toBe(false);
      protocolError(() => decoder.end(), /connection closed inside a chunked body/);
    }
    const { decoder } = chunked(wire);
    expect(decoder.done).toBe(true);
    expect(() => decoder.end()).not.toThrow();
  });
});

describe('properties', () => {
  const cuts = fc.array(fc.nat(), { maxLength: 16 });

  it('decodes any body, in any chunks, split anywhere, back to itself (chunked)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 1500 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 12 }),
        fc.record({
          upper: fc.boolean(),
          extension: fc.constantFrom('', ';a=b', ';x', ' ;q="1;2"', '\t;'),
          trailers: fc.array(fc.constantFrom('X-A: 1', 'ETag: "x"', 'Z:', 'Server-Timing: a;dur=1'), {
            maxLength: 3,
          }),
          eol: fc.constantFrom('\r\n', '\n'),
        }),
        fc.uint8Array({ maxLength: 20 }),
        cuts,
        (body, sizes, options, tail, cutAt) => {
          const encoded = encodeChunked(body, sizes, options);
          const decoder = new BodyDecoder({ kind: 'chunked' });
          const parts: Uint8Array[] = [];
          let fed = 0;
          for (const piece of split(concat(encoded, tail), cutAt)) {
            decoder.push(piece, (part) => parts.push(part.slice()));
            fed += piece.length;
            expect(decoder.done).toBe(fed >= encoded.length);
          }
          expect(concat(...parts)).toEqual(body);
          expect(decoder.done).toBe(true);
          decoder.end();
        },
      ),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });

  it('decodes any body, split anywhere, back to itself (Content-Length)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 1500 }),
        fc.uint8Array({ maxLength: 40 }),
        cuts,
        (body, tail, at) => {
          const decoder = new BodyDecoder({ kind: 'length', length: body.length });
          const parts: Uint8Array[] = [];
          let fed = 0;
          for (const piece of split(concat(body, tail), at)) {
            decoder.push(piece, (part) => parts.push(part.slice()));
            fed += piece.length;
            expect(decoder.done).toBe(fed >= body.length);
          }
          expect(concat(...parts)).toEqual(body);
          expect(decoder.done).toBe(true);
          decoder.end();
        },
      ),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });

  /** Parses `raw`; an HttpProtocolError is the only failure allowed. Checks what a head promises. */
  function parseOrReject(raw: Uint8Array): ResponseHead | undefined | HttpProtocolError {
    let parsed: ResponseHead | undefined;
    try {
      parsed = parseResponseHead(raw);
    } catch (error) {
      expect(error).toBeInstanceOf(HttpProtocolError);
      return error as HttpProtocolError;
    }
    if (parsed === undefined) {
      expect(raw.length).toBeLessThanOrEqual(MAX_HEAD_BYTES);
      return undefined;
    }
    expect(parsed.status).toBeGreaterThanOrEqual(100);
    expect(parsed.status).toBeLessThanOrEqual(999);
    expect(parsed.length).toBeGreaterThan(0);
    expect(parsed.length).toBeLessThanOrEqual(Math.min(raw.length, MAX_HEAD_BYTES));
    expect(raw[parsed.length - 1]).toBe(0x0a);
    for (const [name, value] of parsed.headers) {
      expect(name).toMatch(/^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
      expect(value).toMatch(/^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/);
    }
    expect(parsed.statusText).toMatch(/^[\t\x20-\x7e\x80-\xff]*$/);
    return parsed;
  }

  it('parses arbitrary bytes into a head, undefined or an HttpProtocolError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (raw) => {
        parseOrReject(raw);
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
    const alphabet = [...bytes('HTTP/1.1 200 OK:abcXZ \t\r\n\r\n\n\x00\x7f\xe9')];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 400 }), (codes) => {
        parseOrReject(Uint8Array.from(codes));
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });

  it('parses mutated heads consistently: never a foreign error, undefined before the end, same with more bytes', () => {
    const valid = [
      'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\n',
      'HTTP/1.1 206 Partial Content\nContent-Range: bytes 0-9/100\nETag: "abc"\n\n',
      'HTTP/1.0 301\r\nLocation: https://example.com/\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n',
    ].map(bytes);
    const mutation = fc.record({
      op: fc.constantFrom('set', 'insert', 'delete'),
      at: fc.nat(),
      byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x0a, 0x0d, 0x20, 0x09, 0x3a)),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(mutation, { maxLength: 6 }),
        fc.uint8Array({ maxLength: 16 }),
        (base, mutations, tail) => {
          const mutated = [...base];
          for (const { op, at, byte } of mutations) {
            const index = at % (mutated.length + 1);
            if (op === 'insert') mutated.splice(index, 0, byte);
            else if (index < mutated.length) mutated.splice(index, 1, ...(op === 'set' ? [byte] : []));
          }
          const raw = Uint8Array.from(mutated);
          const result = parseOrReject(raw);
          if (result === undefined || result instanceof HttpProtocolError) {
            // More bytes never turn an error into a head.
            if (result instanceof HttpProtocolError) {
              expect(parseOrReject(concat(raw, tail))).toBeInstanceOf(HttpProtocolError);
            }
            return;
          }
          for (let cut = 0; cut < result.length; cut += 1) {
            expect(parseResponseHead(raw.subarray(0, cut))).toBe(undefined);
          }
          expect(parseResponseHead(concat(raw, tail))).toEqual(result);
        },
      ),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });

  /** Decodes `pieces` as chunked, then ends: what came out, or the HttpProtocolError that stopped it. */
  function decodeAnything(pieces: readonly Uint8Array[]) {
    const decoder = new BodyDecoder({ kind: 'chunked' });
    const parts: Uint8Array[] = [];
    let error: string | undefined;
    try {
      for (const piece of pieces) decoder.push(piece, (part) => parts.push(part.slice()));
      decoder.end();
    } catch (thrown) {
      expect(thrown).toBeInstanceOf(HttpProtocolError);
      error = (thrown as Error).message;
    }
    return { body: concat(...parts), done: decoder.done, error };
  }

  it('decodes arbitrary bytes as chunked with only HttpProtocolErrors, the same however split', () => {
    const check = (input: Uint8Array, at: number[]) => {
      const whole = decodeAnything([input]);
      expect(whole.body.length).toBeLessThanOrEqual(input.length);
      expect(decodeAnything(split(input, at))).toEqual(whole);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), cuts, check), {
      numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000),
    });
    const alphabet = [...bytes('0123456789abcdefABCDEFxyz;= \t\r\n\r\n\n')];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...alphabet), { maxLength: 300 }).map((codes) => Uint8Array.from(codes)),
        cuts,
        check,
      ),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });

  it('decodes chunk lines around the 4096-byte limit the same however split', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MAX_CHUNK_LINE - 3, max: MAX_CHUNK_LINE + 3 }),
        fc.constantFrom('\r\n', '\n', '\r\r\n', ''),
        fc.boolean(),
        fc.array(fc.integer({ min: 0, max: MAX_CHUNK_LINE + 16 }), { maxLength: 6 }),
        (length, eol, trailer, at) => {
          const line = trailer ? `0\r\nX: ${'t'.repeat(length - 3)}` : `5;${'e'.repeat(length - 2)}`;
          // eol '': the line never ends.
          const input = bytes(eol === '' ? line : `${line}${eol}${trailer ? '' : 'hello\r\n0\r\n'}\r\n`);
          const whole = decodeAnything([input]);
          // A CR before the CRLF stays in the line: fine in a trailer field, not in a chunk size.
          const content = length + (eol === '\r\r\n' ? 1 : 0);
          const ok = content <= MAX_CHUNK_LINE && eol !== '' && (trailer || eol !== '\r\r\n');
          const error =
            content > MAX_CHUNK_LINE
              ? /longer than 4096/
              : eol === ''
                ? /inside a chunked body/
                : /malformed chunk size/;
          expect(whole).toEqual({
            body: bytes(ok && !trailer ? 'hello' : ''),
            done: ok,
            error: ok ? undefined : expect.stringMatching(error),
          });
          expect(decodeAnything(split(input, at))).toEqual(whole);
        },
      ),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300) },
    );
  });

  it('keeps ByteQueue in FIFO order like an array, within its capacity', () => {
    const op = fc.oneof(
      fc.record({ push: fc.uint8Array({ maxLength: 80 }) }),
      fc.record({ shift: fc.integer({ min: 0, max: 80 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 48 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        const queue = new ByteQueue(capacity);
        const model: number[] = [];
        for (const step of ops) {
          if ('push' in step) {
            const free = capacity - model.length;
            const pushed = queue.push(step.push);
            expect(pushed).toBe(Math.min(step.push.length, free));
            model.push(...step.push.subarray(0, pushed));
          } else {
            const target = new Uint8Array(step.shift + 4).fill(0xee);
            const view = target.subarray(2, 2 + step.shift);
            const shifted = queue.shift(view);
            expect(shifted).toBe(Math.min(step.shift, model.length));
            expect([...view.subarray(0, shifted)]).toEqual(model.splice(0, shifted));
            // Nothing written outside what it reported.
            expect([...target.subarray(0, 2)]).toEqual([0xee, 0xee]);
            expect(target.subarray(2 + shifted).every((byte) => byte === 0xee)).toBe(true);
          }
          expect(queue.length).toBe(model.length);
          expect(queue.length + queue.free).toBe(capacity);
        }
        const rest = new Uint8Array(capacity);
        expect([...rest.subarray(0, queue.shift(rest))]).toEqual(model);
        expect(queue.length).toBe(0);
        expect(queue.free).toBe(capacity);
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });
});
