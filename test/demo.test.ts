import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bundled } from './support/bundle.js';

const run = promisify(execFile);
// Bundled once (test/support/bundle.ts): each run starts as plain node, not through tsx.
const demo = async (...args: string[]) =>
  run(process.execPath, [await bundled(join(import.meta.dirname, '../examples/demo.ts')), ...args], {
    timeout: 120_000, // only catches a hang
  });

describe('npm run demo', () => {
  // --device-timeout 90 s (under the 120 s hang timeout): the demo's 15 s default timed healthy devices out on a busy two-core
  // machine; here it only catches a device that never reports (the injected failure reports).
  it('rolls out over all six platforms: every healthy device committed, the injected failure pauses its rollout, which resumes', async () => {
    const { stdout } = await demo('--device-timeout', '90000');
    for (const title of ['Degu', 'micropython_ota', 'insigh.io', 'Connhex', 'Exosite', 'ThingsBoard'])
      expect(stdout).toContain(`'${title}'`);
    expect(stdout).toContain('rollout PAUSED by its threshold');
    expect(stdout).toContain('rollout RESUMED');
    expect(stdout).toMatch(/All 23 healthy devices committed/);
    expect(stdout).not.toContain('NOT COMMITTED');
  }, 150_000);

  it('--help lists the options', async () => {
    const { stdout } = await demo('--help');
    for (const option of ['--devices', '--platforms', '--fail', '--failure-rate', '--serve'])
      expect(stdout).toContain(option);
  });

  it('runs a subset of platforms and fleet size', async () => {
    const { stdout } = await demo(
      '--platforms',
      'insighio,degu',
      '--devices',
      '3',
      '--device-timeout',
      '90000',
    );
    expect(stdout).toContain("'insigh.io'");
    expect(stdout).toContain("'Degu'");
    expect(stdout).not.toContain("'ThingsBoard'");
    expect(stdout).toMatch(/All 5 healthy devices committed/);
  }, 150_000);
});
