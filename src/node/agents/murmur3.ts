/**
 * MurmurHash3 (x86 32-bit and x64 128-bit, seed 0), incremental, printed the way ThingsBoard
 * prints them: Guava's `Hashing.murmur3_32()` / `murmur3_128()` `.hashBytes(…).toString()`, the
 * hash code's bytes in little-endian order as lowercase hex. Pure TypeScript; the 128-bit variant
 * uses BigInt, so it hashes tens of MB per second, plenty for firmware images.
 *
 * @module
 */

/** A hash fed chunk by chunk; `digest()` ends it. */
export interface StreamingChecksum {
  update(chunk: Uint8Array): void;
  digest(): string;
}

function hexLittleEndian(value: number): string {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value >>> 0, true);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Feeds whole blocks of `size` bytes to `block`, keeping the remainder for the next chunk. */
class Blocks {
  readonly #size: number;
  readonly #tail: Uint8Array;
  #tailLength = 0;
  length = 0;

  constructor(size: number) {
    this.#size = size;
    this.#tail = new Uint8Array(size);
  }

  feed(chunk: Uint8Array, block: (view: DataView, offset: number) => void): void {
    this.length += chunk.length;
    let index = 0;
    if (this.#tailLength > 0) {
      const take = Math.min(this.#size - this.#tailLength, chunk.length);
      this.#tail.set(chunk.subarray(0, take), this.#tailLength);
      this.#tailLength += take;
      index = take;
      if (this.#tailLength < this.#size) return;
      block(new DataView(this.#tail.buffer), 0);
      this.#tailLength = 0;
    }
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (; index + this.#size <= chunk.length; index += this.#size) block(view, index);
    this.#tail.set(chunk.subarray(index), 0);
    this.#tailLength = chunk.length - index;
  }

  /** The bytes left over (fewer than one block). */
  rest(): Uint8Array {
    return this.#tail.subarray(0, this.#tailLength);
  }
}

const rotl32 = (value: number, bits: number) => (value << bits) | (value >>> (32 - bits));

/** MurmurHash3 x86_32, seed 0: Guava's `murmur3_32`. */
export function murmur3x86_32(): StreamingChecksum {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const blocks = new Blocks(4);
  let h = 0;
  const mixK = (k: number) => Math.imul(rotl32(Math.imul(k, c1), 15), c2);
  return {
    update(chunk) {
      blocks.feed(chunk, (view, offset) => {
        h ^= mixK(view.getUint32(offset, true));
        h = (Math.imul(rotl32(h, 13), 5) + 0xe6546b64) | 0;
      });
    },
    digest() {
      const rest = blocks.rest();
      if (rest.length > 0) {
        let k = 0;
        for (let index = rest.length - 1; index >= 0; index--) k = (k << 8) | (rest[index] as number);
        h ^= mixK(k);
      }
      h ^= blocks.length | 0;
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      return hexLittleEndian(h);
    },
  };
}

const MASK64 = (1n << 64n) - 1n;
const C1 = 0x87c37b91114253d5n;
const C2 = 0x4cf5ad432745937fn;
const rotl64 = (value: bigint, bits: bigint) => ((value << bits) | (value >> (64n - bits))) & MASK64;
const mul64 = (a: bigint, b: bigint) => (a * b) & MASK64;

function fmix64(value: bigint): bigint {
  let k = value;
  k ^= k >> 33n;
  k = mul64(k, 0xff51afd7ed558ccdn);
  k ^= k >> 33n;
  k = mul64(k, 0xc4ceb9fe1a85ec53n);
  k ^= k >> 33n;
  return k;
}

/** MurmurHash3 x64_128, seed 0: Guava's `murmur3_128` (h1 then h2, each little-endian). */
export function murmur3x64_128(): StreamingChecksum {
  const blocks = new Blocks(16);
  let h1 = 0n;
  let h2 = 0n;
  const mixK1 = (k: bigint) => mul64(rotl64(mul64(k, C1), 31n), C2);
  const mixK2 = (k: bigint) => mul64(rotl64(mul64(k, C2), 33n), C1);
  return {
    update(chunk) {
      blocks.feed(chunk, (view, offset) => {
        h1 ^= mixK1(view.getBigUint64(offset, true));
        h1 = (mul64(rotl64(h1, 27n) + h2, 5n) + 0x52dce729n) & MASK64;
        h2 ^= mixK2(view.getBigUint64(offset + 8, true));
        h2 = (mul64(rotl64(h2, 31n) + h1, 5n) + 0x38495ab5n) & MASK64;
      });
    },
    digest() {
      const rest = blocks.rest();
      let k1 = 0n;
      let k2 = 0n;
      for (let index = rest.length - 1; index >= 0; index--) {
        const byte = BigInt(rest[index] as number);
        if (index >= 8) k2 |= byte << BigInt((index - 8) * 8);
        else k1 |= byte << BigInt(index * 8);
      }
      if (rest.length > 8) h2 ^= mixK2(k2);
      if (rest.length > 0) h1 ^= mixK1(k1);
      const length = BigInt(blocks.length);
      h1 ^= length;
      h2 ^= length;
      h1 = (h1 + h2) & MASK64;
      h2 = (h2 + h1) & MASK64;
      h1 = fmix64(h1);
      h2 = fmix64(h2);
      h1 = (h1 + h2) & MASK64;
      h2 = (h2 + h1) & MASK64;
      const out = new Uint8Array(16);
      const view = new DataView(out.buffer);
      view.setBigUint64(0, h1, true);
      view.setBigUint64(8, h2, true);
      return Array.from(out, (byte) => byte.toString(16).padStart(2, '0')).join('');
    },
  };
}

/** Guava's `crc32()` over node's zlib CRC-32: the value's bytes little-endian (`d800ca65`). */
export function crc32LittleEndian(crc32: (data: Uint8Array, value?: number) => number): StreamingChecksum {
  let value = 0;
  return {
    update(chunk) {
      value = crc32(chunk, value);
    },
    digest: () => hexLittleEndian(value),
  };
}
