import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('npm run demo', () => {
  it('updates a mixed fleet (ThingsBoard, Degu, Exosite) and every device ends as expected', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../examples/demo.ts')],
      {
        timeout: 180_000, // only catches a hang
      },
    );
    expect(stdout).toContain('resumed in downloading');
    expect(stdout).toContain('installed -> rolling_back  (HEALTH_CHECK');
    expect(stdout).toContain('downloading -> download_failed  (INTEGRITY');
    expect(stdout).toMatch(/Range resume: bytes=\d+-/);
    expect(stdout).toContain('the exosite format cannot carry artifacts');
    expect(stdout).toContain('"fw_state":"UPDATED"');
    expect(stdout).not.toContain('cloud refused a report');
    expect(stdout).not.toContain('false');
  }, 180_000);
});
