/**
 * Debian's Chromium for the browser test and the browser benchmark: where it is, how it is
 * launched on this machine kind, and the page bundle both serve.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '../..');

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM_PATH);

/** Headless, and without the background networking a closed network refuses. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** An empty page that loads `script` as a module. */
export function pageHtml(title: string, script: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,">
<script type="module" src="${script}"></script></head><body></body></html>`;
}

/** Bundles `entry` (relative to the repository root) the way a browser app would. */
export async function bundleForBrowser(entry: string): Promise<string> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    bundle: true,
    write: false,
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild wrote no output for ${entry}`);
  return output.text;
}
