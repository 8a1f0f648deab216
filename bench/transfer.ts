/**
 * Transfer benchmark: a 1 GiB artifact over loopback, otakit (download + MD5 + SHA-256 + atomic
 * install) against `curl -o` (or a bare fetch → file pipeline when curl is absent), side by side
 * in one run; plus hash throughput of otakit's hashers against node:crypto alone.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebHash, type IncrementalHash } from '../src/index.js';
import { createNodeHash } from '../src/node/index.js';

const here = import.meta.dirname;
const tsx = ['--import', 'tsx'];

/** Writes the artifact; returns its MD5, to check every measured download against. */
async function writeArtifact(path: string, bytes: number): Promise<string> {
  const block = randomFillSync(new Uint8Array(1 << 20));
  const md5 = createHash('md5');
  const out = createWriteStream(path);
  for (let written = 0; written < bytes; written += block.length) {
    md5.update(block);
    if (!out.write(block)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return md5.digest('hex');
}

function has(command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Writes dirty pages out, so no run pays for the previous run's writeback. */
function settleDisk(): void {
  spawnSync('sync');
}

interface Run {
  seconds: number;
  maxRssBytes: number;
}

/** `command` under /usr/bin/time: wall seconds and the peak RSS of the measured process. */
function timed(command: string, args: string[]): Run {
  const result = spawnSync('/usr/bin/time', ['-f', '%e %M', command, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  const [seconds, kb] = result.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number];
  return { seconds, maxRssBytes: kb * 1024 };
}

function wallClock(run: () => void): Run {
  const started = performance.now();
  run();
  return { seconds: (performance.now() - started) / 1000, maxRssBytes: 0 };
}

function bash(script: string, ...args: string[]): void {
  const result = spawnSync('bash', ['-c', `set -o pipefail; ${script}`, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`shell failed: ${result.stderr}`);
}

function runNode(script: string, args: string[]): Run {
  const loader = script.endsWith('.mjs') ? [] : tsx; // the otakit client runs plain node on dist/
  const out = execFileSync(process.execPath, [...loader, join(here, 'support', script), ...args], {
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Run;
}

async function hashRate(make: () => IncrementalHash, megabytes: number): Promise<number> {
  const chunk = randomFillSync(new Uint8Array(64 * 1024));
  const hash = make();
  const started = performance.now();
  for (let done = 0; done < megabytes * 16; done++) await hash.update(chunk);
  await hash.digest();
  return megabytes / ((performance.now() - started) / 1000);
}

const mbps = (bytes: number, seconds: number) => Number((bytes / 1e6 / seconds).toFixed(1));
const ratio = (baseline: number, measured: number) => Number((baseline / measured).toFixed(3));
const best = (runs: Run[]) => Math.min(...runs.map((run) => run.seconds));
const peakMB = (runs: Run[]) => Number((Math.max(...runs.map((run) => run.maxRssBytes)) / 1e6).toFixed(1));

export async function benchTransfer(artifactBytes = 1024 ** 3, rounds = 3) {
  const directory = await mkdtemp(join(tmpdir(), 'otakit-bench-transfer-'));
  const artifact = join(directory, 'artifact.bin');
  const artifactMd5 = await writeArtifact(artifact, artifactBytes);
  const server = spawn(process.execPath, [...tsx, join(here, 'support/static-server.ts'), artifact], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<string>((resolve) =>
      server.stdout.once('data', (data: Buffer) => resolve(data.toString().trim())),
    );
    const url = `http://127.0.0.1:${port}/artifact.bin`;
    const curl = has('curl') && has('/usr/bin/time');
    const output = join(directory, 'out.bin');
    const runs: Record<string, Run[]> = {
      baseline: [],
      baselineDurable: [],
      shellPipeline: [],
      otakit: [],
      otakitMd5Worker: [],
      durableDiskWrite: [],
    };
    // Every run starts with the disk settled, and the kinds take turns, so none inherits another's
    // dirty pages or a quieter moment of the machine.
    const measure = (name: string, run: () => Run) => {
      settleDisk();
      runs[name]!.push(run());
      spawnSync('rm', ['-f', output, `${output}.md5`, `${output}.sha256`]);
    };
    for (let round = 0; round < rounds; round++) {
      if (curl) {
        measure('baseline', () => timed('curl', ['-s', '-o', output, url]));
        // What a shell install that survives a power cut does: the same bytes, made durable.
        measure('baselineDurable', () =>
          wallClock(() => bash('curl -s -o "$1" "$0" && sync "$1"', url, output)),
        );
        measure('shellPipeline', () =>
          wallClock(() =>
            bash(
              'curl -s "$0" | tee >(md5sum > "$1.md5") >(sha256sum > "$1.sha256") > "$1"; wait; sync "$1"',
              url,
              output,
            ),
          ),
        );
        measure('durableDiskWrite', () =>
          wallClock(() =>
            bash(
              `dd if=/dev/zero of="$0" bs=1M count=${artifactBytes / 2 ** 20} conv=fsync status=none`,
              output,
            ),
          ),
        );
      } else {
        measure('baseline', () => runNode('fetch-client.ts', [url, output]));
      }
      for (const [name, hashing] of [
        ['otakit', 'inline'],
        ['otakitMd5Worker', 'md5-worker'],
      ] as const) {
        const staged = join(directory, 'staged.part');
        measure(name, () => {
          const run = runNode('otakit-client.mjs', [url, staged, output, String(artifactBytes), hashing]);
          // A fast wrong answer is no result: every measured install must have the artifact's MD5.
          if ((run as Run & { md5?: string }).md5 !== artifactMd5) throw new Error(`${name}: wrong MD5`);
          return run;
        });
      }
    }
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
    const fastest = Math.min(best(runs.otakit!), best(runs.otakitMd5Worker!));
    const durable = runs.baselineDurable!.length > 0;
    return {
      artifactBytes,
      baseline: curl ? 'curl -o' : 'fetch → file',
      baselineMBps: mbps(artifactBytes, best(runs.baseline!)),
      otakitMBps: mbps(artifactBytes, best(runs.otakit!)),
      otakitMd5WorkerMBps: mbps(artifactBytes, best(runs.otakitMd5Worker!)),
      throughputRatio: ratio(best(runs.baseline!), fastest),
      otakitPeakRssMB: peakMB(runs.otakit!),
      otakitMd5WorkerPeakRssMB: peakMB(runs.otakitMd5Worker!),
      baselinePeakRssMB: peakMB(runs.baseline!),
      baselineDurableMBps: durable ? mbps(artifactBytes, best(runs.baselineDurable!)) : null,
      ratioToDurableBaseline: durable ? ratio(best(runs.baselineDurable!), fastest) : null,
      shellPipelineMBps: durable ? mbps(artifactBytes, best(runs.shellPipeline!)) : null,
      ratioToShellPipeline: durable ? ratio(best(runs.shellPipeline!), fastest) : null,
      durableDiskWriteMBps: durable ? mbps(artifactBytes, best(runs.durableDiskWrite!)) : null,
      nodeCryptoMd5MBps: Number(nodeMd5.toFixed(0)),
      otakitNodeMd5MBps: Number(otakitNodeMd5.toFixed(0)),
      md5Ratio: Number((otakitNodeMd5 / nodeMd5).toFixed(3)),
      nodeCryptoSha256MBps: Number(nodeSha256.toFixed(0)),
      browserPathMd5MBps: Number(browserMd5.toFixed(0)),
      browserPathSha256MBps: Number(browserSha256.toFixed(0)),
      rounds: runs,
    };
  } finally {
    server.kill();
    await rm(directory, { recursive: true, force: true });
  }
}
