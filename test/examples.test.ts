/**
 * Every runnable example under examples/agents/ and examples/cloud/ runs to the end, as a user
 * runs it (`npx tsx examples/…`), on loopback and in-process components only. Each runs as
 * plain node from an esbuild bundle of it (test/support/bundle.ts, the transform tsx applies),
 * which saves about a second of CPU per example. The README and the
 * guides point at these files, so a broken one is a broken promise.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bundled } from './support/bundle.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', 'examples');

function examples(folder: string): string[] {
  try {
    return readdirSync(join(root, folder))
      .filter((name) => name.endsWith('.ts'))
      .sort()
      .map((name) => join(folder, name));
  } catch {
    return [];
  }
}

async function runExample(file: string): Promise<string> {
  const { stdout } = await run(process.execPath, [await bundled(join(root, file))], {
    timeout: 120_000, // only catches a hang
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

describe('examples/agents: one runnable device agent per platform', () => {
  const files = examples('agents');
  it('has one per platform', () => {
    expect(files.map((file) => file.replace(/^agents\/|\.ts$/g, ''))).toEqual(
      expect.arrayContaining(['connhex', 'degu', 'exosite', 'insighio', 'micropython-ota', 'thingsboard']),
    );
  });
  it.each(files)(
    '%s updates its device to committed',
    async (file) => {
      expect(await runExample(file)).toContain('committed');
    },
    150_000,
  );
});

// Services (examples/cloud/) print what they published and what the devices reported.
const services = examples('cloud');
if (services.length > 0) {
  describe('examples/cloud: runnable services', () => {
    it.each(services)(
      '%s runs to the end',
      async (file) => {
        expect((await runExample(file)).trim()).not.toBe('');
      },
      150_000,
    );
  });
}
