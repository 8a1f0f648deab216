/**
 * A fixed-size ring buffer that keeps the last bytes of a process's output. A script that prints
 * gigabytes costs the agent exactly `capacity` bytes of memory, and the end of the output (where
 * the error usually is) is what survives.
 *
 * @module
 */

export class OutputTail {
  readonly capacity: number;
  readonly #buffer: Buffer;
  /** Where the next byte goes. */
  #end = 0;
  #size = 0;
  #total = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new RangeError(`Output capacity must be a non-negative integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#buffer = Buffer.alloc(capacity);
  }

  /** Every byte ever pushed, kept or not. */
  get totalBytes(): number {
    return this.#total;
  }

  /** Whether older output was dropped. */
  get truncated(): boolean {
    return this.#total > this.#size;
  }

  push(chunk: Uint8Array): void {
    this.#total += chunk.length;
    const capacity = this.capacity;
    if (capacity === 0) return;
    if (chunk.length >= capacity) {
      this.#buffer.set(chunk.subarray(chunk.length - capacity));
      this.#end = 0;
      this.#size = capacity;
      return;
    }
    const first = Math.min(chunk.length, capacity - this.#end);
    this.#buffer.set(chunk.subarray(0, first), this.#end);
    this.#buffer.set(chunk.subarray(first), 0);
    this.#end = (this.#end + chunk.length) % capacity;
    this.#size = Math.min(capacity, this.#size + chunk.length);
  }

  /** The kept bytes, oldest first. */
  bytes(): Buffer {
    if (this.#size < this.capacity)
      return Buffer.from(this.#buffer.subarray(this.#end - this.#size, this.#end));
    return Buffer.concat([this.#buffer.subarray(this.#end), this.#buffer.subarray(0, this.#end)]);
  }

  /**
   * The kept output as UTF-8. When older output was dropped, the cut may fall inside a
   * multi-byte character: its orphaned continuation bytes are skipped rather than shown as U+FFFD.
   */
  text(): string {
    let bytes = this.bytes();
    if (this.truncated) {
      let start = 0;
      while (start < 3 && start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
      bytes = bytes.subarray(start);
    }
    return new TextDecoder('utf-8').decode(bytes);
  }

  /** The last `count` non-empty lines, for an error message. */
  lastLines(count: number): string[] {
    if (count <= 0) return [];
    const lines = this.text()
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '');
    return lines.slice(-count);
  }
}
