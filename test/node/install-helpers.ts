// Helpers for the installer tests: build and snapshot file trees, list leftovers, run the crash child.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

/** path → file content (hex-free: Buffer), or `-> target` for a symlink, or `/` for a directory. */
export type Tree = Record<string, Buffer | string>;

export async function writeTree(root: string, tree: Tree): Promise<void> {
  await mkdir(root, { recursive: true });
  for (const [path, content] of Object.entries(tree)) {
    const full = join(root, path);
    if (content === '/') {
      await mkdir(full, { recursive: true });
      continue;
    }
    await mkdir(join(full, '..'), { recursive: true });
    if (typeof content === 'string' && content.startsWith('-> ')) await symlink(content.slice(3), full);
    else await writeFile(full, content);
  }
}

/** The tree under `root`, or `null` when `root` does not exist. */
export async function readTree(root: string): Promise<Tree | null> {
  try {
    await lstat(root);
  } catch {
    return null;
  }
  const tree: Tree = {};
  const walk = async (directory: string, prefix: string): Promise<void> => {
    for (const name of (await readdir(directory)).sort()) {
      const full = join(directory, name);
      const path = prefix === '' ? name : `${prefix}/${name}`;
      const stats = await lstat(full);
      if (stats.isDirectory()) {
        tree[path] = '/';
        await walk(full, path);
      } else if (stats.isSymbolicLink()) tree[path] = `-> ${await readlink(full)}`;
      else tree[path] = await readFile(full);
    }
  };
  await walk(root, '');
  return tree;
}

/** File content, or `null` when it does not exist. */
export async function readOrNull(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch {
    return null;
  }
}

export async function listDirectory(path: string): Promise<string[]> {
  return (await readdir(path)).sort();
}

/** Deterministic pseudo-random bytes (a different stream per seed), so a mix of versions shows. */
export function bytes(size: number, seed: number): Buffer {
  const buffer = Buffer.alloc(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    buffer[index] = state & 0xff;
  }
  return buffer;
}

export type ChildOperation = { name: 'install'; staged: string } | { name: 'commit' | 'rollback' };

export interface ChildRun {
  /** The steps the child passed, as `<operation>:<step>`, and `done` if it finished. */
  steps: string[];
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

let childBundle: Promise<string> | undefined;

/**
 * The crash child bundled once per test process (esbuild, Node ESM), so each of the many children
 * starts as plain `node` instead of compiling TypeScript through tsx: about five times quicker to
 * start, which is what made the crash matrix slow on a busy machine.
 */
function crashChild(): Promise<string> {
  childBundle ??= (async () => {
    const directory = mkdtempSync(join(tmpdir(), 'otakit-crash-child-'));
    process.once('exit', () => rmSync(directory, { recursive: true, force: true }));
    const outfile = join(directory, 'install-crash-child.mjs');
    await build({
      entryPoints: [join(import.meta.dirname, 'install-crash-child.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      logLevel: 'error',
    });
    return outfile;
  })();
  return childBundle;
}

/** Runs the crash child with `crashAt` (`<operation>:<step>`, or '' to run to the end). */
export async function runChild(
  config: { kind: 'file' | 'directory'; target: string; operations: ChildOperation[] },
  crashAt: string,
): Promise<ChildRun> {
  const child = spawn(process.execPath, [await crashChild(), JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OTAKIT_CRASH_AT: crashAt },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ steps: stdout.split('\n').filter((line) => line !== ''), signal, code, stderr });
    });
  });
}
