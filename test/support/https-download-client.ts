// Runs one download in its own process, so NODE_EXTRA_CA_CERTS (read at start-up) can make
// Node's fetch trust the test certificate. Prints the outcome as JSON.
import { downloadArtifact, MemorySink } from '../../src/index.js';

const [url] = process.argv.slice(2) as [string];
try {
  const result = await downloadArtifact({ url, sink: new MemorySink(), retry: { attempts: 1 } });
  console.log(JSON.stringify({ ok: true, size: result.size }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error }));
}
