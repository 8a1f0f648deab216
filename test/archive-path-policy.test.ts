/**
 * One entry-name policy for every archive reader: the browser-safe insigh.io tar reader
 * (`insighIoPackage.readTar`) and the Node extractor (`extractArchive`) are given the same bytes with
 * the same hostile names, and must agree: the same normalised path, or a refusal with the same
 * reason. Backslashes are refused by both (see src/archive/entry-path.ts for why).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseEntryPath } from '../src/archive/entry-path.js';
import { isArchiveError } from '../src/archive/errors.js';
import { extractArchive } from '../src/node/archive/index.js';
import { readTar } from '../src/protocols/insighio/package.js';
import { file, paxEntry, sandbox, tar, zip } from './support/archives.js';

type Outcome = { path: string } | { refused: string };

let box: Awaited<ReturnType<typeof sandbox>>;
let run = 0;
beforeAll(async () => {
  box = await sandbox();
});
afterAll(async () => {
  await box.remove();
});

function outcomeOf(error: unknown): Outcome {
  if (isArchiveError(error)) return { refused: error.reason };
  throw error;
}

/** What the browser-safe reader makes of `bytes`: the one entry's path, or the refusal reason. */
function browserReader(bytes: Uint8Array): Outcome {
  try {
    const entries = readTar(bytes);
    return { path: entries.map((entry) => entry.path).join(',') };
  } catch (error) {
    return outcomeOf(error);
  }
}

/** What otakit/node's extractor makes of `bytes`. */
async function nodeReader(bytes: Uint8Array): Promise<Outcome> {
  const archive = join(box.root, `archive-${run}`);
  const out = join(box.root, `out-${run++}`);
  await writeFile(archive, bytes);
  try {
    const result = await extractArchive(archive, out);
    return { path: result.entries.map((entry) => entry.path).join(',') };
  } catch (error) {
    return outcomeOf(error);
  }
}

/** A tar whose one file is named `name` (through a pax `path`, so NUL and long names fit). */
const tarNamed = (name: string) => tar([paxEntry({ path: name }), file('placeholder', 'x')]);

const CASES: Array<[string, Outcome]> = [
  ['apps/main.py', { path: 'apps/main.py' }],
  ['./a//b/./c.txt', { path: 'a/b/c.txt' }],
  ['dir/c:b', { path: 'dir/c:b' }],
  ['..a/b..', { path: '..a/b..' }],
  ['../etc/x', { refused: 'path-traversal' }],
  ['apps/../../x', { refused: 'path-traversal' }],
  ['a/..', { refused: 'path-traversal' }],
  ['/boot.py', { refused: 'path-traversal' }],
  ['C:/x', { refused: 'path-traversal' }],
  ['..\\boot.py', { refused: 'path-traversal' }],
  ['a\\..\\..\\b', { refused: 'path-traversal' }],
  ['\\boot.py', { refused: 'path-traversal' }],
  ['C:\\x', { refused: 'path-traversal' }],
  ['\\\\server\\share', { refused: 'path-traversal' }],
  ['a\\b', { refused: 'invalid-name' }],
  ['dir\\sub\\file.txt', { refused: 'invalid-name' }],
  ['a\u0000../../evil', { refused: 'invalid-name' }],
  ['x'.repeat(256), { refused: 'invalid-name' }],
  [`${'d'.repeat(200)}/`.repeat(21), { refused: 'invalid-name' }],
];

describe('one entry-name policy for both archive readers', () => {
  it.each(CASES)(
    '%j → %j in the policy, insighIoPackage.readTar and extractArchive',
    async (name, expected) => {
      let policy: Outcome;
      try {
        policy = { path: normaliseEntryPath(name).path };
      } catch (error) {
        policy = outcomeOf(error);
      }
      expect(policy).toEqual(expected);
      const bytes = tarNamed(name);
      expect(browserReader(bytes)).toEqual(expected);
      expect(await nodeReader(bytes)).toEqual(expected);
    },
  );

  it('refuses a backslash in a zip entry name too (the zip format requires "/")', async () => {
    expect(await nodeReader(zip([{ name: 'dir\\sub\\file.txt', data: 'w' }]))).toEqual({
      refused: 'invalid-name',
    });
    expect(await nodeReader(zip([{ name: '..\\evil', data: 'w' }]))).toEqual({ refused: 'path-traversal' });
  });

  it('both readers agree on names built from the pieces of traversal attacks (property)', async () => {
    const hostileName = fc
      .array(fc.constantFrom('a', 'b', '..', '.', '', 'C:', '\\', '/', 'ü', 'a/b', '../x', '\0', 'c\\d'), {
        minLength: 1,
        maxLength: 5,
      })
      .map((parts) => parts.join('/'))
      // A trailing "/" on a regular-file entry is a question of entry types, not of names: the
      // insigh.io reader takes it as an old-style directory, as the device firmware does.
      .filter((name) => name.length > 0 && !name.endsWith('/'));
    await fc.assert(
      fc.asyncProperty(hostileName, async (name) => {
        const bytes = tarNamed(name);
        const browser = browserReader(bytes);
        expect(await nodeReader(bytes), name).toEqual(browser);
        if ('path' in browser) expect(name.includes('\\')).toBe(false);
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 120) },
    );
  });
});
