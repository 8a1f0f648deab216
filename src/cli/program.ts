/**
 * The commander program: global settings (name, version, usage errors as exceptions) and one
 * `register` call per command, each in its own file under `commands/`.
 *
 * @module
 */
import { Command } from 'commander';
import { registerHash } from './commands/hash.js';
import { registerKeygen } from './commands/keygen.js';
import { registerManifest } from './commands/manifest.js';
import { registerPublish } from './commands/publish.js';
import { registerRelease } from './commands/release.js';
import { registerRollout } from './commands/rollout.js';
import { registerRoot } from './commands/root.js';
import { registerServe } from './commands/serve.js';
import { registerShadowService } from './commands/shadow-service.js';
import { registerSign } from './commands/sign.js';
import { registerVerify } from './commands/verify.js';
import { registerWatch } from './commands/watch.js';

export function createProgram(): Command {
  const program = new Command('otakit')
    .description('Over-the-air updates for IoT devices: servers, manifests, publishing, rollouts')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .allowExcessArguments(false);
  registerServe(program);
  registerRelease(program);
  registerShadowService(program);
  registerManifest(program);
  registerHash(program);
  registerPublish(program);
  registerWatch(program);
  registerRollout(program);
  registerKeygen(program);
  registerRoot(program);
  registerSign(program);
  registerVerify(program);
  return program;
}
