// Child process for the kill test: writes ever-growing values to one key and prints each
// sequence number once its put() resolved (i.e. once it is durable).
import { FileStore } from '../../src/node/index.js';

const directory = process.argv[2]!;
const store = new FileStore(directory);
for (let sequence = 1; ; sequence++) {
  await store.put('otakit/machine/dev', { sequence, padding: 'x'.repeat(20_000 + (sequence % 7) * 1_000) });
  process.stdout.write(`${sequence}\n`);
}
