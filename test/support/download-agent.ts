// A device agent in its own process, for the kill-and-resume test: an update machine with a
// FileStore and the file download hook. Prints the outcome as JSON on its last line.
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { createUpdateMachine } from '../../src/index.js';
import { createFileDownloadHook, FileStore } from '../../src/node/index.js';

const [root, url, sha256, size] = process.argv.slice(2) as [string, string, string, string];
const machine = createUpdateMachine({
  id: 'agent',
  store: new FileStore(join(root, 'state')),
  hooks: {
    download: createFileDownloadHook({ directory: join(root, 'staging') }),
    install: async ({ staged }) => {
      await rename(staged[0]!.location, join(root, 'app.bin'));
    },
  },
});
machine.on('progress', ({ bytes }) => process.stdout.write(`progress ${bytes}\n`));
let outcome = await machine.resume();
if (outcome.state === 'idle' && machine.snapshot().lastOutcome === null) {
  outcome = await machine.apply({
    id: 'big-1',
    version: '1.0.0',
    artifacts: [{ url, size: Number(size), sha256, target: 'firmware' }],
  });
}
process.stdout.write(`${JSON.stringify(outcome)}\n`);
