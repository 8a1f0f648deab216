// Child process for the installer crash tests. Runs a sequence of installer operations and
// SIGKILLs itself right after the step named by OTAKIT_CRASH_AT (`<operation>:<step>`), like a
// power cut at that point. Prints `<operation>:<step>` for every step it passes; pipes are
// synchronous on Linux, so the parent sees each line before the kill.
import {
  createDirectoryInstaller,
  createFileInstaller,
  type InstallStep,
} from '../../src/node/install/index.js';

interface ChildConfig {
  kind: 'file' | 'directory';
  target: string;
  operations: Array<{ name: 'install'; staged: string } | { name: 'commit' | 'rollback' }>;
}

const config = JSON.parse(process.argv[2]!) as ChildConfig;
const crashAt = process.env.OTAKIT_CRASH_AT ?? '';
let operation = '';
const onStep = (step: InstallStep): void => {
  const point = `${operation}:${step}`;
  process.stdout.write(`${point}\n`);
  if (point === crashAt) process.kill(process.pid, 'SIGKILL');
};
const installer =
  config.kind === 'file'
    ? createFileInstaller({ target: config.target, onStep })
    : createDirectoryInstaller({ target: config.target, onStep });
for (const next of config.operations) {
  operation = next.name;
  if (next.name === 'install') await installer.install(next.staged);
  else await installer[next.name]();
}
process.stdout.write('done\n');
