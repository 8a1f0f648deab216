// Starts worker hashes, abandons one mid-stream, disposes another, finishes a third, then lets
// the event loop run dry: the process must exit by itself (test/node/hash.test.ts).
import { createWorkerHash } from '../../src/node/index.js';

const abandoned = createWorkerHash('sha256');
await abandoned.update(new Uint8Array(6 * 1024 * 1024)); // more than the ring: it waited on the worker
const disposed = createWorkerHash('md5');
await disposed.update(new Uint8Array(1024));
disposed.dispose?.();
const finished = createWorkerHash('md5');
await finished.update(new TextEncoder().encode('abc'));
console.log(await finished.digest());
