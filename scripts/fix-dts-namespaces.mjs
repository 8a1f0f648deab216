#!/usr/bin/env node
/**
 * Repairs the `export * as <ns>` namespaces of the declaration bundles (a step of `npm run build`,
 * after tsup).
 *
 * tsup's declaration bundler (rollup-plugin-dts) writes a namespace member that comes from another
 * chunk as `declare const ns_X: typeof X;`. That keeps the value of `X` and drops its type, so
 * `degu.Target` (a type) or `degu.DeguBootReport` fail to compile in a consumer ("refers to a
 * value, but is being used as a type") while `import { Target } from 'otakit/protocols/degu'`
 * works. Which members break depends on how the chunks fall, so any new shared import can break
 * one. The fix: import the member under the namespace's local name (`import { T as Target, T as
 * ns_Target }`), which carries the value, the type and any type parameters, and drop the `declare
 * const`. Declarations of the same file (`typeof` a local const or function) are left as they are.
 *
 * scripts/check-package.mjs type-checks namespace members in a consumer, so a regression shows.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist', import.meta.url));

const DECLARE_ALIAS = /^declare const ([A-Za-z_$][\w$]*): typeof ([A-Za-z_$][\w$]*);\n/gm;
const NAMED_IMPORT = /^import \{([^}]*)\} from ('[^']+'|"[^"]+");$/gm;

/** Repairs one declaration file's text; returns it with the number of members repaired. */
export function repairNamespaces(text) {
  // Local name → { statement index, original name } for every named import of the file.
  const imports = [];
  for (const match of text.matchAll(NAMED_IMPORT)) {
    const specifiers = match[1]
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean);
    imports.push({ statement: match[0], from: match[2], specifiers });
  }
  const importedAs = new Map();
  for (const entry of imports) {
    for (const specifier of entry.specifiers) {
      const [original, local = original] = specifier.replace(/^type\s+/, '').split(/\s+as\s+/);
      importedAs.set(local, { entry, original });
    }
  }
  let repaired = 0;
  const output = text.replace(DECLARE_ALIAS, (line, alias, name) => {
    const imported = importedAs.get(name);
    if (imported === undefined) return line;
    imported.entry.specifiers.push(`${imported.original} as ${alias}`);
    repaired += 1;
    return '';
  });
  let result = output;
  for (const entry of imports) {
    const statement = `import { ${entry.specifiers.join(', ')} } from ${entry.from};`;
    result = result.replace(entry.statement, statement);
  }
  return { text: result, repaired };
}

async function declarationFiles(directory) {
  const entries = await readdir(directory, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) return declarationFiles(path);
      return /\.d\.c?ts$/.test(entry.name) ? [path] : [];
    }),
  );
  return nested.flat();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let total = 0;
  for (const file of await declarationFiles(dist)) {
    const before = await readFile(file, 'utf8');
    const { text, repaired } = repairNamespaces(before);
    if (repaired > 0) {
      await writeFile(file, text);
      total += repaired;
    }
  }
  console.log(`fix-dts-namespaces: ${total} namespace members now keep their types`);
}
