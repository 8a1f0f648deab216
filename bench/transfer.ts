/**
 * Transfer benchmark: a 1 GiB artifact over loopback, otakit (download + MD5 + SHA-256 + atomic
 * install) against `curl -o` (or a bare fetch → file pipeline when curl is absent), side by side
 * in one run; plus hash throughput of otakit's hashers against node:crypto alone.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebHash, type IncrementalHash } from '../src/index.js';
import { createNodeHash } from '../src/node/index.js';

const here = import.meta.dirname;
const tsx = ['--import', 'tsx'];

async function writeArtifact(path: string, bytes: number): Promise<void> {
  const block = randomFillSync(new Uint8Array(1 << 20));
  const out = createWriteStream(path);
  for (let written = 0; written < bytes; written += block.length) {
    if (!out.write(block)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

function hasCurl(): boolean {
  return spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;
}

function timeCurl(url: string, output: string): { seconds: number; maxRssBytes: number } {
  const result = spawnSync('/usr/bin/time', ['-f', '%e %M', 'curl', '-s', '-o', output, url], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`curl failed: ${result.stderr}`);
  const [seconds, kb] = result.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number];
  return { seconds, maxRssBytes: kb * 1024 };
}

interface Run {
  seconds: number;
  maxRssBytes: number;
}

function runNode(script: string, args: string[]): Run {
  const loader = script.endsWith('.mjs') ? [] : tsx; // the otakit client runs plain node on dist/
  const out = execFileSync(process.execPath, [...loader, join(here, 'support', script), ...args], {
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Run;
}

/** The same work as otakit with shell tools: curl piped through md5sum and sha256sum in parallel. */
function timeShellPipeline(url: string, output: string): Run {
  const started = performance.now();
  const script =
    'set -o pipefail; curl -s "$0" | tee >(md5sum > "$1.md5") >(sha256sum > "$1.sha256") > "$1"; wait';
  const result = spawnSync('bash', ['-c', script, url, output], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`shell pipeline failed: ${result.stderr}`);
  return { seconds: (performance.now() - started) / 1000, maxRssBytes: 0 };
}

async function hashRate(make: () => IncrementalHash, megabytes: number): Promise<number> {
  const chunk = randomFillSync(new Uint8Array(64 * 1024));
  const hash = make();
  const started = performance.now();
  for (let done = 0; done < megabytes * 16; done++) await hash.update(chunk);
  await hash.digest();
  return megabytes / ((performance.now() - started) / 1000);
}

export async function benchTransfer(artifactBytes = 1024 ** 3, rounds = 2) {
  const directory = await mkdtemp(join(tmpdir(), 'otakit-bench-transfer-'));
  const artifact = join(directory, 'artifact.bin');
  await writeArtifact(artifact, artifactBytes);
  const server = spawn(process.execPath, [...tsx, join(here, 'support/static-server.ts'), artifact], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<string>((resolve) =>
      server.stdout.once('data', (data: Buffer) => resolve(data.toString().trim())),
    );
    const url = `http://127.0.0.1:${port}/artifact.bin`;
    const curl = hasCurl();
    const baseline: Run[] = [];
    const pipeline: Run[] = [];
    const otakit: Run[] = [];
    const otakitWorkers: Run[] = [];
    for (let round = 0; round < rounds; round++) {
      const output = join(directory, `baseline-${round}.bin`);
      baseline.push(curl ? timeCurl(url, output) : runNode('fetch-client.ts', [url, output]));
      await rm(output);
      if (curl) {
        pipeline.push(timeShellPipeline(url, output));
        await rm(output);
      }
      for (const [runs, hashing] of [
        [otakit, 'inline'],
        [otakitWorkers, 'worker'],
      ] as const) {
        const target = join(directory, `installed-${round}.bin`);
        const staged = join(directory, `staged-${round}.part`);
        runs.push(runNode('otakit-client.mjs', [url, staged, target, String(artifactBytes), hashing]));
        if ((await stat(target)).size !== artifactBytes)
          throw new Error('installed artifact has the wrong size');
        await rm(target);
      }
    }
    const best = (runs: { seconds: number }[]) => Math.min(...runs.map((run) => run.seconds));
    const mb = artifactBytes / 1e6;
    // Warm both up once, then measure: the first pass pays for page faults and JIT.
    const bareMd5 = (): IncrementalHash => {
      const hash = createHash('md5');
      return {
        update: (chunk) => {
          hash.update(chunk);
        },
        digest: () => hash.digest('hex'),
      };
    };
    await hashRate(bareMd5, 64);
    await hashRate(() => createNodeHash('md5'), 64);
    const nodeMd5 = await hashRate(bareMd5, 512);
    const otakitNodeMd5 = await hashRate(() => createNodeHash('md5'), 512);
    const browserMd5 = await hashRate(() => createWebHash('md5'), 128);
    const browserSha256 = await hashRate(() => createWebHash('sha256'), 128);
    const nodeSha256 = await hashRate(() => createNodeHash('sha256'), 512);
    return {
      artifactBytes,
      baseline: curl ? 'curl -o' : 'fetch → file',
      baselineMBps: Number((mb / best(baseline)).toFixed(1)),
      otakitMBps: Number((mb / best(otakit)).toFixed(1)),
      throughputRatio: Number((best(baseline) / best(otakit)).toFixed(3)),
      otakitPeakRssMB: Number((Math.max(...otakit.map((run) => run.maxRssBytes)) / 1e6).toFixed(1)),
      otakitWorkerHashMBps: Number((mb / best(otakitWorkers)).toFixed(1)),
      workerHashThroughputRatio: Number((best(baseline) / best(otakitWorkers)).toFixed(3)),
      otakitWorkerHashPeakRssMB: Number(
        (Math.max(...otakitWorkers.map((run) => run.maxRssBytes)) / 1e6).toFixed(1),
      ),
      shellPipelineMBps: pipeline.length > 0 ? Number((mb / best(pipeline)).toFixed(1)) : null,
      ratioToShellPipeline: pipeline.length > 0 ? Number((best(pipeline) / best(otakit)).toFixed(3)) : null,
      baselinePeakRssMB: Number((Math.max(...baseline.map((run) => run.maxRssBytes)) / 1e6).toFixed(1)),
      nodeCryptoMd5MBps: Number(nodeMd5.toFixed(0)),
      otakitNodeMd5MBps: Number(otakitNodeMd5.toFixed(0)),
      md5Ratio: Number((otakitNodeMd5 / nodeMd5).toFixed(3)),
      browserPathMd5MBps: Number(browserMd5.toFixed(0)),
      browserPathSha256MBps: Number(browserSha256.toFixed(0)),
      nodeCryptoSha256MBps: Number(nodeSha256.toFixed(0)),
      md5SingleCoreBoundMBps: Number(nodeMd5.toFixed(0)),
      rounds: { baseline, pipeline, otakit, otakitWorkers },
    };
  } finally {
    server.kill();
    await rm(directory, { recursive: true, force: true });
  }
}
