/**
 * What checking a signed order costs a device, per order, against a baseline every order already
 * pays in the same run: validating the manifest (`parseManifest`). Measured: the canonical bytes
 * (`otakit-json-v1`), `verifyManifestSignature` with one and with two of three keys on WebCrypto
 * and on the pure-JS fallback (`@noble/ed25519`), and the machine's whole trust check
 * (`createTrustGate`: signature, expiry, floor, target). The manifest is a typical order: three
 * artifacts with SHA-256 digests, an expiry, a floor and a device type.
 *
 * Run alone: `npx tsx bench/signing.ts` (`BENCH_MS` per figure, default 1000).
 */
import { pathToFileURL } from 'node:url';
import { createTrustGate } from '../src/machine/trust-gate.js';
import { canonicalManifestBytes } from '../src/manifest/canonical.js';
import type { Ed25519Backend } from '../src/manifest/ed25519.js';
import { type Manifest, parseManifest } from '../src/manifest/schema.js';
import { signManifest, verifyManifestSignature } from '../src/manifest/trust.js';
import { parseTrustRoot } from '../src/manifest/trust-root.js';
import { semverCompare } from '../src/manifest/version-policy.js';
import { rootOf, testKeys } from '../test/security/keys.js';

const SHA = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

const ORDER = {
  id: 'gw-firmware-2.4.1',
  version: '2.4.1',
  minVersion: '2.0.0',
  expiresAt: '2031-01-01T00:00:00Z',
  compatibility: { deviceTypes: ['gw-2'] },
  artifacts: ['rootfs.img', 'app.tar.gz', 'config.json'].map((name, index) => ({
    url: `https://cdn.example.com/releases/2.4.1/${name}`,
    target: index === 0 ? ('firmware' as const) : ('file' as const),
    name,
    size: 1_048_576 * (index + 1),
    sha256: SHA,
  })),
};

export interface SigningFigure {
  figure: string;
  perSecond: number;
  /** Microseconds per order. */
  microseconds: number;
  /** How many baseline validations (`parseManifest`) one of these costs. */
  ratioToBaseline: number;
}

async function rate(durationMs: number, run: () => unknown): Promise<number> {
  // Warm up: JIT, WebCrypto key import caches, the lazy fallback chunk.
  for (let i = 0; i < 50; i++) await run();
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < durationMs) {
    for (let i = 0; i < 20; i++) await run();
    count += 20;
  }
  return count / ((performance.now() - started) / 1000);
}

export async function benchSigning(durationMs = 1_000): Promise<SigningFigure[]> {
  const keys = await testKeys(1, 2, 3);
  const one = await signManifest(ORDER, [keys[0]!.seed]);
  const two = await signManifest(ORDER, [keys[0]!.seed, keys[1]!.seed]);
  // Parsed once, as the trust gate does with its configured root.
  const rootOne = parseTrustRoot(rootOf(keys, 1));
  const rootTwo = parseTrustRoot(rootOf(keys, 2));
  const parsedTwo: Manifest = parseManifest(two);

  const rates: Array<[string, number]> = [];
  const baseline = await rate(durationMs, () => parseManifest(two));
  rates.push(['baseline: parseManifest (zod validation of the order)', baseline]);
  rates.push([
    'canonical bytes (otakit-json-v1)',
    await rate(durationMs, () => canonicalManifestBytes(parsedTwo)),
  ]);
  for (const backend of ['webcrypto', 'js'] as Ed25519Backend[]) {
    rates.push([
      `verify 1 of 3 keys, ${backend}`,
      await rate(durationMs, () => verifyManifestSignature(one, rootOne, { backend })),
    ]);
    rates.push([
      `verify 2 of 3 keys, ${backend}`,
      await rate(durationMs, () => verifyManifestSignature(two, rootTwo, { backend })),
    ]);
  }
  rates.push([
    'verify 1 of 3 keys, webcrypto, root validated on each call',
    await rate(durationMs, () => verifyManifestSignature(one, rootOf(keys, 1), { backend: 'webcrypto' })),
  ]);
  const gate = createTrustGate({ root: rootTwo, deviceType: 'gw-2', compareVersions: semverCompare });
  const context = { state: { floor: '2.0.0' }, current: '2.3.0', now: Date.now(), machineId: 'gw-7' };
  rates.push([
    'trust gate: signature 2 of 3, expiry, floor, target',
    await rate(durationMs, () => gate.check(parsedTwo, context as Parameters<typeof gate.check>[1])),
  ]);
  return rates.map(([figure, perSecond]) => ({
    figure,
    perSecond: Math.round(perSecond),
    microseconds: Math.round((1e6 / perSecond) * 10) / 10,
    ratioToBaseline: Math.round((baseline / perSecond) * 100) / 100,
  }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await benchSigning(Number(process.env.BENCH_MS ?? 1_000)));
}
