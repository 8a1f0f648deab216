/**
 * Reads a chunked byte stream in the sizes a parser wants (a 512-byte tar header, up to N bytes
 * of an entry body) without ever joining more than one request's worth of chunks.
 *
 * @module
 */
import { ArchiveError } from '../../archive/errors.js';

/** Gives the next chunk, or `null` at the end. */
export type Pull = () => Promise<Uint8Array | null>;

const EMPTY = new Uint8Array(0);

export class ByteReader {
  readonly #pull: Pull;
  #chunk: Uint8Array = EMPTY;
  #offset = 0;
  #ended = false;

  constructor(pull: Pull) {
    this.#pull = pull;
  }

  /** Makes at least one byte available; false at the end. */
  async #fill(): Promise<boolean> {
    while (this.#offset >= this.#chunk.length) {
      if (this.#ended) return false;
      const next = await this.#pull();
      if (next === null) {
        this.#ended = true;
        return false;
      }
      this.#chunk = next;
      this.#offset = 0;
    }
    return true;
  }

  /** Up to `length` bytes from the current position, without consuming them. */
  async peek(length: number): Promise<Uint8Array> {
    while (this.#chunk.length - this.#offset < length && !this.#ended) {
      const next = await this.#pull();
      if (next === null) {
        this.#ended = true;
        break;
      }
      const joined = new Uint8Array(this.#chunk.length - this.#offset + next.length);
      joined.set(this.#chunk.subarray(this.#offset));
      joined.set(next, this.#chunk.length - this.#offset);
      this.#chunk = joined;
      this.#offset = 0;
    }
    return this.#chunk.subarray(this.#offset, this.#offset + length);
  }

  /** Between 1 and `max` bytes, or `null` at the end. The result may share memory with the source. */
  async read(max: number): Promise<Uint8Array | null> {
    if (!(await this.#fill())) return null;
    const end = Math.min(this.#chunk.length, this.#offset + max);
    const out = this.#chunk.subarray(this.#offset, end);
    this.#offset = end;
    return out;
  }

  /**
   * Exactly `length` bytes (copied), or `null` if the stream ended right here.
   *
   * @throws {ArchiveError} `corrupt` if it ends part way.
   */
  async readExact(length: number, entry?: string): Promise<Uint8Array | null> {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const part = await this.read(length - filled);
      if (part === null) {
        if (filled === 0) return null;
        throw new ArchiveError('corrupt', 'Archive is truncated', entry === undefined ? {} : { entry });
      }
      out.set(part, filled);
      filled += part.length;
    }
    return out;
  }

  /**
   * Discards exactly `length` bytes.
   *
   * @throws {ArchiveError} `corrupt` if the stream ends first.
   */
  async skip(length: number, entry?: string): Promise<void> {
    let left = length;
    while (left > 0) {
      const part = await this.read(Math.min(left, 1 << 20));
      if (part === null) {
        throw new ArchiveError('corrupt', 'Archive is truncated', entry === undefined ? {} : { entry });
      }
      left -= part.length;
    }
  }

  /** The remaining bytes, chunk by chunk. */
  async *rest(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const part = await this.read(Number.POSITIVE_INFINITY);
      if (part === null) return;
      yield part;
    }
  }
}
