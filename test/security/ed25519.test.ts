import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeBase64, fromHex, toHex } from '../../src/core/encoding.js';
import { isOtaError } from '../../src/core/errors.js';
import {
  ed25519BackendInUse,
  ed25519GenerateKeyPair,
  ed25519PublicKey,
  ed25519Seed,
  ed25519Sign,
  ed25519Verify,
} from '../../src/manifest/ed25519.js';

/** RFC 8032 §7.1: TEST 1, 2, 3 and SHA(abc). */
const RFC8032 = [
  {
    name: 'TEST 1 (empty message)',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2 (one byte)',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3 (two bytes)',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST SHA(abc) (64 bytes)',
    secret: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    public: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

// The group order L, little-endian: S + L is the same point equation but a non-canonical S.
const L = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');

function addL(signature: Uint8Array): Uint8Array {
  const out = signature.slice();
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const sum = out[32 + i]! + L[i]! + carry;
    out[32 + i] = sum & 0xff;
    carry = sum >> 8;
  }
  return out;
}

const PKCS8_PREFIX = '302e020100300506032b657004220420';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('Ed25519 backends agree with RFC 8032', () => {
  it('uses WebCrypto in Node 20 when left to choose', async () => {
    expect(await ed25519BackendInUse()).toBe('webcrypto');
    expect(await ed25519BackendInUse({ backend: 'js' })).toBe('js');
  });

  for (const backend of ['webcrypto', 'js', 'auto'] as const) {
    for (const vector of RFC8032) {
      it(`${vector.name}: public key, signature and verification (${backend})`, async () => {
        const seed = fromHex(vector.secret);
        const message = fromHex(vector.message);
        expect(toHex(await ed25519PublicKey(seed, { backend }))).toBe(vector.public);
        expect(toHex(await ed25519Sign(seed, message, { backend }))).toBe(vector.signature);
        const signature = fromHex(vector.signature);
        const publicKey = fromHex(vector.public);
        expect(await ed25519Verify(publicKey, message, signature, { backend })).toBe(true);
        // Any flipped bit of message, signature or key is refused.
        const flipped = signature.slice();
        flipped[7]! ^= 0x01;
        expect(await ed25519Verify(publicKey, message, flipped, { backend })).toBe(false);
        expect(await ed25519Verify(publicKey, new Uint8Array([...message, 0]), signature, { backend })).toBe(
          false,
        );
        const otherKey = publicKey.slice();
        otherKey[0]! ^= 0x02;
        expect(await ed25519Verify(otherKey, message, signature, { backend })).toBe(false);
      });
    }

    it(`refuses malformed input without throwing (${backend})`, async () => {
      const vector = RFC8032[1]!;
      const message = fromHex(vector.message);
      const signature = fromHex(vector.signature);
      const publicKey = fromHex(vector.public);
      expect(await ed25519Verify(publicKey.slice(1), message, signature, { backend })).toBe(false);
      expect(await ed25519Verify(publicKey, message, signature.slice(1), { backend })).toBe(false);
      // A non-canonical S (S + L) is the classic malleability: RFC 8032 says refuse, both do.
      expect(await ed25519Verify(publicKey, message, addL(signature), { backend })).toBe(false);
      // A y coordinate that is not on the curve.
      expect(await ed25519Verify(new Uint8Array(32).fill(0xff), message, signature, { backend })).toBe(false);
    });
  }

  it('accepts a PKCS #8 private key as DER bytes, base64 or PEM, and refuses anything else as CONFIG', async () => {
    const vector = RFC8032[2]!;
    const der = fromHex(PKCS8_PREFIX + vector.secret);
    const pem = `-----BEGIN PRIVATE KEY-----\n${encodeBase64(der)}\n-----END PRIVATE KEY-----\n`;
    for (const key of [der, encodeBase64(der), pem, encodeBase64(fromHex(vector.secret))]) {
      expect(toHex(ed25519Seed(key))).toBe(vector.secret);
      expect(toHex(await ed25519Sign(key, fromHex(vector.message)))).toBe(vector.signature);
    }
    for (const bad of [
      new Uint8Array(31),
      'not base64!',
      fromHex(`302e020100300506032b657104220420${vector.secret}`),
    ]) {
      let thrown: unknown;
      try {
        ed25519Seed(bad);
      } catch (error) {
        thrown = error;
      }
      expect(isOtaError(thrown, 'CONFIG')).toBe(true);
      expect((thrown as Error).message).not.toContain(vector.secret);
    }
  });

  it('generates key pairs that sign and verify', async () => {
    const { privateKey, publicKey } = await ed25519GenerateKeyPair();
    expect(privateKey).toHaveLength(32);
    expect(toHex(await ed25519PublicKey(privateKey, { backend: 'js' }))).toBe(toHex(publicKey));
    const message = new TextEncoder().encode('hello');
    const signature = await ed25519Sign(privateKey, message, { backend: 'js' });
    expect(await ed25519Verify(publicKey, message, signature, { backend: 'webcrypto' })).toBe(true);
  });
});

describe('Ed25519 without WebCrypto Ed25519 (a runtime like an older browser)', () => {
  function withoutEd25519() {
    const real = globalThis.crypto;
    const subtle = {
      importKey: async () => {
        throw new DOMException('Unrecognized algorithm name', 'NotSupportedError');
      },
      verify: async () => {
        throw new Error('must not be called');
      },
      sign: async () => {
        throw new Error('must not be called');
      },
    };
    vi.stubGlobal('crypto', { subtle, getRandomValues: (array: Uint8Array) => real.getRandomValues(array) });
  }

  it('auto falls back to the pure-JS library and gives the same answers', async () => {
    withoutEd25519();
    expect(await ed25519BackendInUse()).toBe('js');
    for (const vector of RFC8032) {
      const seed = fromHex(vector.secret);
      expect(toHex(await ed25519Sign(seed, fromHex(vector.message)))).toBe(vector.signature);
      expect(
        await ed25519Verify(fromHex(vector.public), fromHex(vector.message), fromHex(vector.signature)),
      ).toBe(true);
    }
    const { publicKey } = await ed25519GenerateKeyPair();
    expect(publicKey).toHaveLength(32);
  });

  it('falls back when there is no crypto.subtle at all (an insecure browser context)', async () => {
    vi.stubGlobal('crypto', {});
    const vector = RFC8032[3]!;
    expect(await ed25519BackendInUse()).toBe('js');
    expect(
      await ed25519Verify(fromHex(vector.public), fromHex(vector.message), fromHex(vector.signature)),
    ).toBe(true);
  });

  it('imports each public key once per WebCrypto, keeps no refused key, and stays bounded', async () => {
    const real = globalThis.crypto;
    const others = await Promise.all(
      Array.from({ length: 70 }, async () => (await ed25519GenerateKeyPair()).publicKey),
    );
    const imports: string[] = [];
    const subtle = {
      importKey: (...args: Parameters<SubtleCrypto['importKey']>) => {
        imports.push(toHex(new Uint8Array(args[1] as ArrayBuffer)));
        return (real.subtle.importKey as (...a: unknown[]) => Promise<CryptoKey>)(...args);
      },
      verify: real.subtle.verify.bind(real.subtle),
      sign: real.subtle.sign.bind(real.subtle),
    };
    vi.stubGlobal('crypto', { subtle, getRandomValues: (array: Uint8Array) => real.getRandomValues(array) });
    const vector = RFC8032[1]!;
    const [publicKey, message, signature] = [vector.public, vector.message, vector.signature].map(fromHex);
    for (let i = 0; i < 3; i++) expect(await ed25519Verify(publicKey!, message!, signature!)).toBe(true);
    // One import for the probe (RFC 8032 TEST 1's key), one for this key, whatever the count.
    expect(imports.filter((key) => key === vector.public)).toHaveLength(1);
    // The cached key still checks each signature: a tampered one fails.
    expect(await ed25519Verify(publicKey!, message!, addL(signature!))).toBe(false);
    // A key WebCrypto refuses (not on the curve) is asked again, never remembered as good.
    const offCurve = new Uint8Array(32).fill(0xff);
    for (let i = 0; i < 2; i++) expect(await ed25519Verify(offCurve, message!, signature!)).toBe(false);
    // Seventy other keys: the first ones are dropped, so this key is imported a second time.
    for (const other of others) expect(await ed25519Verify(other, message!, signature!)).toBe(false);
    expect(await ed25519Verify(publicKey!, message!, signature!)).toBe(true);
    expect(imports.filter((key) => key === vector.public)).toHaveLength(2);
  });

  it('backend "webcrypto" refuses with a CONFIG error instead of falling back', async () => {
    withoutEd25519();
    const vector = RFC8032[0]!;
    await expect(
      ed25519Verify(fromHex(vector.public), new Uint8Array(0), fromHex(vector.signature), {
        backend: 'webcrypto',
      }),
    ).rejects.toMatchObject({ code: 'CONFIG' });
  });
});
