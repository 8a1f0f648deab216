/**
 * A fixed-size FIFO of bytes (a ring buffer): the body bytes that arrived before anyone asked for
 * them wait here, copied once, in memory allocated once per connection.
 *
 * @module
 */
export class ByteQueue {
  readonly #bytes: Uint8Array;
  #start = 0;
  #length = 0;

  constructor(capacity: number) {
    this.#bytes = new Uint8Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  get free(): number {
    return this.#bytes.length - this.#length;
  }

  /** Copies in as much of `source` as fits; returns how much that was. */
  push(source: Uint8Array): number {
    const capacity = this.#bytes.length;
    const count = Math.min(source.length, this.free);
    const end = (this.#start + this.#length) % capacity;
    const first = Math.min(count, capacity - end);
    this.#bytes.set(source.subarray(0, first), end);
    if (count > first) this.#bytes.set(source.subarray(first, count), 0);
    this.#length += count;
    return count;
  }

  /** Moves up to `target.length` bytes into `target`; returns how many. */
  shift(target: Uint8Array): number {
    const capacity = this.#bytes.length;
    const count = Math.min(target.length, this.#length);
    const first = Math.min(count, capacity - this.#start);
    target.set(this.#bytes.subarray(this.#start, this.#start + first), 0);
    if (count > first) target.set(this.#bytes.subarray(0, count - first), first);
    this.#start = (this.#start + count) % capacity;
    this.#length -= count;
    return count;
  }
}
