#!/usr/bin/env node
/**
 * Type-checks and runs every ```ts code block of README.md and docs/**\/*.md against the PACKED
 * package, the way a user meets it:
 *
 *  1. `npm pack` the built package (run `npm run build` first), or take a tarball given as the
 *     first argument;
 *  2. install it with its peers (zod, mqtt, @nats-io/transport-node, pg), aedes (the in-process
 *     broker agent quick starts run against), TypeScript and @types/node into a fresh temp project
 *     outside the repository (ESM: `"type": "module"`; `strict`, `module`/`moduleResolution`
 *     `nodenext`), so nothing resolves from the repository's own sources or node_modules;
 *  3. write each block to its own module and type-check them all in one `tsc` run, which also
 *     emits JavaScript;
 *  4. run each emitted block with node, with a timeout, a few at a time.
 *
 * Stand-ins: a quick start that needs a cloud to talk to (a broker and the platform's service)
 * imports it from `./stand-ins/<name>.js`; those modules live in `docs/<section>/stand-ins/*.ts`
 * (one name space for all sections), are copied next to the blocks, and are type-checked with them.
 * The page says so, so a reader knows what to replace with the real endpoint.
 *
 * Fences: ```ts (type-checked and run), ```ts no-run (type-checked only: code that needs a real
 * broker, device or network), ```ts no-check (neither: say why next to it; use sparingly).
 * Blocks must run without network access (loopback servers such as `otakit/testing`'s
 * createFaultServer are fine) and quickly.
 *
 * Fails listing `file:line` of every broken block. Usage:
 *   node scripts/check-doc-examples.mjs [otakit-x.y.z.tgz] [--filter <substring of file:line>]
 * KEEP_TMP=1 keeps the temp project; VERBOSE=1 prints what each block printed; BLOCK_TIMEOUT_MS changes the per-block timeout (60 s).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const TIMEOUT_MS = Number(process.env.BLOCK_TIMEOUT_MS ?? 60_000);
const CONCURRENCY = Math.max(2, Math.min(4, availableParallelism()));

const args = process.argv.slice(2);
let tarballArgument;
let filter;
for (let index = 0; index < args.length; index++) {
  if (args[index] === '--filter') filter = args[++index];
  else tarballArgument = resolve(args[index]);
}

/** The version of a package installed in the repository, so the consumer uses the same tools. */
function installedVersion(name) {
  return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
}

function run(command, commandArgs, cwd) {
  const result = spawnSync(command, commandArgs, { cwd, encoding: 'utf8', env: process.env });
  if (result.error) throw new Error(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(
      `\`${command} ${commandArgs.join(' ')}\` exited with ${result.status}\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}

/** README.md and every docs/**\/*.md except the generated API reference (docs/api/). */
function markdownFiles() {
  const files = [join(root, 'README.md')];
  const walk = (directory) => {
    if (!existsSync(directory)) return;
    for (const entry of readdirSync(directory, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) {
        if (relative(root, path) !== join('docs', 'api')) walk(path);
      } else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  walk(join(root, 'docs'));
  return files;
}

/** The stand-in modules quick starts import (`docs/<section>/stand-ins/*.ts`). */
function standInFiles() {
  const found = [];
  const walk = (directory) => {
    if (!existsSync(directory)) return;
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && relative(root, directory).split(sep).at(-1) === 'stand-ins')
        found.push(path);
    }
  };
  walk(join(root, 'docs'));
  return found;
}

/**
 * Every ```ts / ```typescript block: `{ source, line, mode, code }`, where `line` is the line of
 * the opening fence and `mode` is `run`, `no-run` or `no-check`.
 */
function extractBlocks(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks = [];
  for (let index = 0; index < lines.length; index++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(\S*)\s*(.*)$/.exec(lines[index]);
    if (!open) continue;
    const [, indent, fence, language, info] = open;
    const body = [];
    let end = index + 1;
    for (; end < lines.length; end++) {
      const trimmed = lines[end].trimStart();
      if (trimmed.startsWith(fence) && trimmed.slice(fence.length).trim() === '') break;
      body.push(lines[end].startsWith(indent) ? lines[end].slice(indent.length) : lines[end]);
    }
    if (language === 'ts' || language === 'typescript') {
      const words = info.split(/\s+/);
      const mode = words.includes('no-check') ? 'no-check' : words.includes('no-run') ? 'no-run' : 'run';
      blocks.push({
        source: `${relative(root, file)}:${index + 1}`,
        line: index + 1,
        mode,
        code: body.join('\n'),
      });
    }
    index = end;
  }
  return blocks;
}

/** Runs `node file` with a timeout; resolves `{ ok, output, ms }`. */
function runBlock(file, cwd) {
  return new Promise((resolvePromise) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--no-warnings', file], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const append = (chunk) => {
      if (output.length < 20_000) output += chunk;
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Math.round(performance.now() - started);
      if (timedOut) resolvePromise({ ok: false, output: `${output}\ntimed out after ${TIMEOUT_MS} ms`, ms });
      else
        resolvePromise({
          ok: code === 0,
          output: code === 0 ? output : `${output}\nexit ${code ?? signal}`,
          ms,
        });
    });
  });
}

const started = performance.now();
const blocks = markdownFiles()
  .flatMap(extractBlocks)
  .filter((block) => !filter || block.source.includes(filter));
const checked = blocks.filter((block) => block.mode !== 'no-check');
const runnable = blocks.filter((block) => block.mode === 'run');
console.log(
  `doc examples: ${blocks.length} ts blocks (${runnable.length} run, ${checked.length - runnable.length} ` +
    `type-check only, ${blocks.length - checked.length} no-check)`,
);

const projectDir = await mkdtemp(join(tmpdir(), 'otakit-docs-'));
const packDir = join(projectDir, '.pack');
const failures = new Map();
const fail = (block, message) => {
  failures.set(block.source, [...(failures.get(block.source) ?? []), message.trimEnd()]);
};

try {
  let tarball = tarballArgument;
  if (!tarball) {
    if (!existsSync(join(root, 'dist'))) throw new Error('dist/ is missing: run `npm run build` first');
    await mkdir(packDir);
    const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', packDir], root));
    tarball = join(packDir, info.filename);
  }
  console.log(`package: ${tarball}`);

  await writeFile(
    join(projectDir, 'package.json'),
    `${JSON.stringify({ name: 'otakit-doc-examples', version: '0.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  await writeFile(
    join(projectDir, 'tsconfig.json'),
    `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          moduleDetection: 'force', // every block is a module of its own, even without imports
          resolveJsonModule: true,
          strict: true,
          types: ['node'],
          skipLibCheck: true,
          noEmitOnError: false,
          outDir: 'out',
          rootDir: 'blocks',
        },
        include: ['blocks'],
      },
      null,
      2,
    )}\n`,
  );
  // --prefer-offline: these are the repository's own dev dependencies, usually in the npm cache.
  run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      tarball,
      `zod@${installedVersion('zod')}`,
      `mqtt@${installedVersion('mqtt')}`,
      // The other optional peers, and the in-process broker quick starts run against.
      `@nats-io/transport-node@${installedVersion('@nats-io/transport-node')}`,
      `pg@${installedVersion('pg')}`,
      `aedes@${installedVersion('aedes')}`,
      `typescript@${installedVersion('typescript')}`,
      `@types/node@${installedVersion('@types/node')}`,
    ],
    projectDir,
  );
  console.log(`installed in ${projectDir} (${((performance.now() - started) / 1000).toFixed(1)} s)`);

  // One module per block: blocks/<page>_L<line>.ts.
  await mkdir(join(projectDir, 'blocks'));
  const byFile = new Map();
  for (const block of checked) {
    const name = `${block.source.replace(/\.md:/, '_L').replace(/[^A-Za-z0-9_]+/g, '_')}`;
    block.file = `${name}.ts`;
    byFile.set(block.file, block);
    await writeFile(join(projectDir, 'blocks', block.file), `${block.code}\n`);
  }
  for (const standIn of standInFiles()) {
    await mkdir(join(projectDir, 'blocks', 'stand-ins'), { recursive: true });
    await writeFile(join(projectDir, 'blocks', 'stand-ins', basename(standIn)), readFileSync(standIn));
  }

  // Type-check (and emit) everything in one run; map each diagnostic back to file:line.
  if (checked.length > 0) {
    const tsc = spawnSync(
      process.execPath,
      [join(projectDir, 'node_modules/typescript/bin/tsc'), '-p', '.', '--pretty', 'false'],
      { cwd: projectDir, encoding: 'utf8' },
    );
    const diagnostics = `${tsc.stdout}${tsc.stderr}`;
    for (const line of diagnostics.split('\n')) {
      const match = /^blocks\/([^()]+)\((\d+),(\d+)\): (.*)$/.exec(line);
      if (!match) {
        if (line.trim() && tsc.status !== 0 && !line.startsWith(' ')) console.log(`tsc: ${line}`);
        continue;
      }
      const block = byFile.get(match[1]);
      if (block === undefined) {
        // A stand-in module (or anything else that is not a block): report it by its own path.
        const source = `stand-in ${match[1]}`;
        failures.set(source, [
          ...(failures.get(source) ?? []),
          `type error at ${match[1]}:${match[2]}: ${match[4]}`,
        ]);
        continue;
      }
      const docLine = block.line + Number(match[2]);
      fail(block, `type error at ${block.source.split(':')[0]}:${docLine}: ${match[4]}`);
    }
    if (tsc.status !== 0 && failures.size === 0) throw new Error(`tsc failed:\n${diagnostics}`);
  }

  // Run the runnable blocks that type-checked, a few at a time.
  const queue = runnable.filter((block) => !failures.has(block.source));
  const timings = [];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let block = queue.shift(); block; block = queue.shift()) {
        const result = await runBlock(
          join(projectDir, 'out', block.file.replace(/\.ts$/, '.js')),
          projectDir,
        );
        timings.push([block.source, result.ms]);
        if (!result.ok) fail(block, `run failed:\n${result.output.replace(/^/gm, '    ')}`);
        else if (process.env.VERBOSE) console.log(`--- ${block.source}\n${result.output.trimEnd()}`);
      }
    }),
  );
  const slowest = timings.sort((a, b) => b[1] - a[1]).slice(0, 3);
  if (slowest.length > 0)
    console.log(`slowest: ${slowest.map(([source, ms]) => `${source} ${ms} ms`).join(', ')}`);
} catch (error) {
  console.log(`doc examples: could not check: ${error.message}`);
  process.exitCode = 1;
} finally {
  if (process.env.KEEP_TMP) console.log(`kept ${projectDir}`);
  else await rm(projectDir, { recursive: true, force: true });
}

const ordered = [...failures].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
for (const [source, messages] of ordered) {
  console.log(`\n✖ ${source}`);
  for (const message of messages) console.log(`  ${message}`);
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (failures.size > 0) {
  console.log(`\ndoc examples: ${failures.size} of ${checked.length} checked blocks FAILED (${seconds} s):`);
  for (const [source] of ordered) console.log(`  ${source}`);
  process.exitCode = 1;
} else if (process.exitCode !== 1) {
  console.log(
    `\ndoc examples: all ${checked.length} checked blocks type-check, all ${runnable.length} run (${seconds} s)`,
  );
}
