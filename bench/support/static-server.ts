// A plain static file server in its own process (so it never shares an event loop with the
// client being measured). Supports Range. Prints its port on stdout.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const file = process.argv[2]!;
const size = statSync(file).size;
const server = createServer((request, response) => {
  const match = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
  const start = match ? Number(match[1]) : 0;
  response.writeHead(match ? 206 : 200, {
    'content-length': String(size - start),
    'accept-ranges': 'bytes',
    etag: `"${size}"`,
    ...(match ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
  });
  createReadStream(file, { start, highWaterMark: 1 << 20 }).pipe(response);
});
server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
