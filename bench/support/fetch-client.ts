// Baseline when curl is absent: plain fetch piped to a file, nothing else.
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const [url, output] = process.argv.slice(2) as [string, string];
const started = performance.now();
const response = await fetch(url);
await pipeline(Readable.fromWeb(response.body as never), createWriteStream(output));
console.log(
  JSON.stringify({
    seconds: (performance.now() - started) / 1000,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  }),
);
