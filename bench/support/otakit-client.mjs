// The measured client, run with plain node on the built package (dist/), as a user would:
// downloadArtifact (over otakit/node's nodeFetch, imported from otakit/node alone, as a Node agent
// does) into a FileSink with MD5 + SHA-256 (inline, or MD5 in a worker thread), then an atomic
// install (fsync, rename over the target, fsync the directory). Prints JSON: seconds, peak RSS, digests.
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  createNodeHash,
  downloadArtifact,
  FileSink,
  hashInWorkers,
  nodeFetch,
} from '../../dist/node/index.js';

const [url, staged, target, size, hashing] = process.argv.slice(2);
const started = performance.now();
const result = await downloadArtifact({
  url,
  sink: new FileSink(staged),
  expected: { size: Number(size) },
  hashes: ['md5', 'sha256'],
  hashFactory: hashing === 'md5-worker' ? hashInWorkers(['md5']) : createNodeHash,
  resume: false,
  fetch: nodeFetch, // what createFileDownloadHook uses
});
await rename(staged, target);
const directory = await open(dirname(target), 'r');
await directory.sync();
await directory.close();
const seconds = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    md5: result.md5,
    sha256: result.sha256,
  }),
);
process.exit(0);
