/**
 * Bundles the dashboard for the browser with esbuild, in memory: `/` (the page, styles inline)
 * and `/app.js` (examples/dashboard/app.ts and, through it, the root `otakit` entry).
 *
 * The bundle is checked, not trusted: a Node built-in (`node:fs`, `crypto`…) imported anywhere in
 * the graph, or any module of otakit's Node-only entries (src/node, src/mqtt, src/pg, src/nats,
 * src/testing), fails the build with the chain that pulled it in.
 */
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';

const ROOT = join(import.meta.dirname, '../..');

export interface DashboardFile {
  contentType: string;
  body: string | Uint8Array;
}

/** Modules the browser bundle must never hold (paths relative to the repository root). */
const FORBIDDEN_DIRS = ['src/node/', 'src/mqtt/', 'src/pg/', 'src/nats/', 'src/testing/'];
const BUILTINS = new Set(builtinModules.filter((name) => !name.startsWith('_')));

/** Records every import of a Node built-in instead of letting esbuild guess. */
function nodeBuiltinGuard(found: { path: string; importer: string }[]): Plugin {
  return {
    name: 'no-node-builtins',
    setup(setup) {
      setup.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.replace(/^node:/, '').split('/')[0]!;
        if (args.path.startsWith('node:') || BUILTINS.has(bare)) {
          found.push({ path: args.path, importer: relative(ROOT, args.importer) });
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
}

/** What the bundle's metafile says it holds that a browser bundle must not. */
export function forbiddenInputs(metafile: Metafile): string[] {
  const bad: string[] = [];
  for (const input of Object.keys(metafile.inputs)) {
    if (input.startsWith('node:') || FORBIDDEN_DIRS.some((dir) => input.startsWith(dir))) bad.push(input);
  }
  for (const output of Object.values(metafile.outputs))
    for (const imported of output.imports)
      if (imported.path.startsWith('node:') || BUILTINS.has(imported.path)) bad.push(imported.path);
  return bad;
}

const STYLE = `
:root { font: 14px/1.4 system-ui, sans-serif; color: #1d2430; background: #f4f6f9; }
body { margin: 0; }
header { display: flex; gap: 1rem; align-items: baseline; padding: .75rem 1.25rem; background: #1d2430; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
header small { opacity: .75; }
#connection[data-live="true"] { color: #7ee2a8; }
main { display: grid; grid-template-columns: minmax(18rem, 26rem) 1fr; gap: 1rem; padding: 1rem 1.25rem; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
.card { background: #fff; border-radius: 6px; padding: .75rem 1rem; margin-bottom: 1rem; box-shadow: 0 1px 2px #0002; }
.card h3 { font-size: .95rem; margin: 0 0 .5rem; }
.card h3 small { font-weight: normal; color: #5b6575; }
textarea { width: 100%; box-sizing: border-box; height: 16rem; font: 12px/1.35 ui-monospace, monospace; }
#manifest-status { font-weight: 600; }
#manifest-status[data-valid="true"] { color: #16794a; }
#manifest-status[data-valid="false"] { color: #b3261e; }
#manifest-issues { color: #b3261e; padding-left: 1.2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .2rem .5rem .2rem 0; border-bottom: 1px solid #eef0f3; vertical-align: top; }
th { font-weight: 600; color: #5b6575; font-size: .85rem; }
tr.current td:first-child { font-weight: 600; }
.state { display: inline-block; padding: 0 .4rem; border-radius: 3px; background: #e7ebf0; font-size: .85rem; margin-right: .25rem; }
.state.ok { background: #d5f2e2; color: #16794a; }
.state.bad { background: #fbe0de; color: #b3261e; }
.state.busy { background: #fff1cc; color: #7a5200; }
.word, .outcome { color: #5b6575; font-size: .8rem; }
.progress { display: flex; gap: .5rem; align-items: center; font-size: .8rem; color: #5b6575; }
.progress progress { width: 8rem; }
.rollout-state { font-size: .8rem; padding: 0 .4rem; border-radius: 3px; background: #e7ebf0; }
.rollout-state.completed { background: #d5f2e2; color: #16794a; }
.rollout-state.paused, .rollout-state.aborted, .rollout-state.cancelled { background: #fbe0de; color: #b3261e; }
.reason, .error { color: #b3261e; }
.totals, .counts { color: #5b6575; }
`;

function page(script: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>otakit dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>${STYLE}</style>
<script type="module" src="${script}"></script></head>
<body>
<header><h1>otakit dashboard</h1><small id="connection">connecting…</small><small id="at"></small></header>
<main>
<section class="card" id="manifest"><h2>Manifest</h2>
<textarea id="manifest-input" spellcheck="false" aria-label="manifest JSON"></textarea>
<p id="manifest-status"></p><ul id="manifest-issues"></ul></section>
<div><h2>Rollouts</h2><div id="rollouts"></div><h2>Fleet</h2><div id="platforms"></div></div>
</main>
</body></html>
`;
}

/** The last build's metafile, for whoever wants to look (the test prints its sizes). */
export let lastMetafile: Metafile | undefined;

/**
 * Builds the page and its bundle in memory. Rejects when the bundle would hold a Node built-in
 * or a Node-only otakit module.
 */
export async function buildDashboard(): Promise<Map<string, DashboardFile>> {
  const builtins: { path: string; importer: string }[] = [];
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['examples/dashboard/app.ts'],
    outdir: 'dashboard-out',
    entryNames: 'app',
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    bundle: true,
    minify: true,
    sourcemap: false,
    write: false,
    metafile: true,
    logLevel: 'silent',
    alias: { otakit: './src/index.ts' },
    plugins: [nodeBuiltinGuard(builtins)],
  });
  lastMetafile = result.metafile;
  const forbidden = [
    ...builtins.map(({ path, importer }) => `${path} (imported by ${importer})`),
    ...forbiddenInputs(result.metafile),
  ];
  if (forbidden.length > 0)
    throw new Error(`the dashboard bundle must hold no Node-only module; it holds: ${forbidden.join(', ')}`);
  const files = new Map<string, DashboardFile>();
  for (const output of result.outputFiles) {
    const name = `/${relative(join(ROOT, 'dashboard-out'), output.path)}`;
    files.set(name, {
      contentType: name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'application/octet-stream',
      body: output.contents,
    });
  }
  if (!files.has('/app.js')) throw new Error('esbuild wrote no app.js');
  files.set('/', { contentType: 'text/html; charset=utf-8', body: page('/app.js') });
  return files;
}
