/**
 * The reviewed record of the public API: every name each package entry exports, with its kind and
 * type, written to `api/<entry>.api.md`. `npm run api` rewrites the files; `npm run api:check`
 * (run by `npm test`) fails when the surface changed and the record was not updated in the same
 * commit, so a change of public API always shows in a diff.
 *
 * Generated with the TypeScript compiler API from `src/`, so it needs no build.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..');

/** Package entry → source file. */
export const ENTRIES: Record<string, string> = {
  otakit: 'src/index.ts',
  'otakit-node': 'src/node/index.ts',
  'otakit-cloud': 'src/cloud/index.ts',
  'otakit-mqtt': 'src/mqtt/index.ts',
  'otakit-nats': 'src/nats/index.ts',
  'otakit-pg': 'src/pg/index.ts',
  'otakit-testing': 'src/testing/index.ts',
};

// Named types stay named (aliases are not expanded) and long types are cut the checker's own
// deterministic way, so the record stays short enough to review.
const FORMAT =
  ts.TypeFormatFlags.WriteArrowStyleSignature | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope;

function kindOf(symbol: ts.Symbol): string {
  const flags = symbol.flags;
  if (flags & ts.SymbolFlags.Class) return 'class';
  if (flags & ts.SymbolFlags.Function) return 'function';
  if (flags & ts.SymbolFlags.Interface) return 'interface';
  if (flags & ts.SymbolFlags.TypeAlias) return 'type';
  if (flags & ts.SymbolFlags.Enum) return 'enum';
  if (flags & ts.SymbolFlags.ValueModule || flags & ts.SymbolFlags.NamespaceModule) return 'namespace';
  if (flags & ts.SymbolFlags.Variable) return 'const';
  return 'other';
}

/** Drops the module qualifiers (absolute paths) the checker prints, so the record is portable. */
function clean(text: string): string {
  return text.replace(/import\("[^"]*"\)\./g, '').replace(/\s+/g, ' ');
}

function describeSymbol(checker: ts.TypeChecker, symbol: ts.Symbol, depth: number): string[] {
  const resolved = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  const kind = kindOf(resolved);
  const name = symbol.getName();
  const indent = '  '.repeat(depth);
  if (kind === 'namespace') {
    const members = checker
      .getExportsOfModule(resolved)
      .sort((a, b) => a.getName().localeCompare(b.getName()));
    return [
      `${indent}- namespace \`${name}\``,
      ...members.flatMap((member) => describeSymbol(checker, member, depth + 1)),
    ];
  }
  const declaration = resolved.declarations?.[0];
  let signature = '';
  if (kind === 'interface' || kind === 'type') {
    const type = checker.getDeclaredTypeOfSymbol(resolved);
    signature = checker.typeToString(type, undefined, FORMAT | ts.TypeFormatFlags.InTypeAlias);
    if (kind === 'interface') {
      const properties = type
        .getProperties()
        .map((property) => {
          const optional = property.flags & ts.SymbolFlags.Optional ? '?' : '';
          const propertyType = checker.getTypeOfSymbol(property);
          return `${property.getName()}${optional}: ${checker.typeToString(propertyType, undefined, FORMAT)}`;
        })
        .join('; ');
      signature = `{ ${properties} }`;
    }
  } else if (kind === 'class') {
    const instance = checker.getDeclaredTypeOfSymbol(resolved);
    const members = instance
      .getProperties()
      .filter((property) => !property.getName().startsWith('#'))
      .filter((property) => {
        const modifiers = ts.getCombinedModifierFlags(property.declarations?.[0] as ts.Declaration);
        return !(modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected));
      })
      .map(
        (property) =>
          `${property.getName()}: ${checker.typeToString(checker.getTypeOfSymbol(property), undefined, FORMAT)}`,
      )
      .sort();
    signature = `{ ${members.join('; ')} }`;
  } else if (declaration !== undefined) {
    signature = checker.typeToString(
      checker.getTypeOfSymbolAtLocation(resolved, declaration),
      undefined,
      FORMAT,
    );
  }
  return [`${indent}- ${kind} \`${name}\`: \`${clean(signature)}\``];
}

/** The report of every entry, by entry name. */
export function buildReports(): Record<string, string> {
  const configPath = join(ROOT, 'tsconfig.json');
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  if (config === undefined) throw new Error('cannot read tsconfig.json');
  const program = ts.createProgram(
    Object.values(ENTRIES).map((file) => join(ROOT, file)),
    config.options,
  );
  const checker = program.getTypeChecker();
  const reports: Record<string, string> = {};
  for (const [entry, file] of Object.entries(ENTRIES)) {
    const source = program.getSourceFile(join(ROOT, file));
    const module = source && checker.getSymbolAtLocation(source);
    if (module === undefined) throw new Error(`cannot resolve ${file}`);
    const exports = checker.getExportsOfModule(module).sort((a, b) => a.getName().localeCompare(b.getName()));
    const importName = entry === 'otakit' ? 'otakit' : `otakit/${entry.slice('otakit-'.length)}`;
    reports[entry] = [
      `# API report: \`${importName}\``,
      '',
      '<!-- Generated by `npm run api` from src/. Do not edit: a change here is a change of public API. -->',
      '',
      ...exports.flatMap((symbol) => describeSymbol(checker, symbol, 0)),
      '',
    ].join('\n');
  }
  return reports;
}

/** Entries whose committed report differs from the source. */
export function staleReports(): string[] {
  const reports = buildReports();
  return Object.entries(reports)
    .filter(([entry, text]) => {
      try {
        return readFileSync(join(ROOT, 'api', `${entry}.api.md`), 'utf8') !== text;
      } catch {
        return true;
      }
    })
    .map(([entry]) => entry);
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  if (process.argv.includes('--check')) {
    const stale = staleReports();
    if (stale.length > 0) {
      console.error(
        `The public API changed (${stale.join(', ')}): review it, then run \`npm run api\` and commit api/.`,
      );
      process.exit(1);
    }
    console.log('api/: the public API record matches src/');
  } else {
    for (const [entry, text] of Object.entries(buildReports()))
      writeFileSync(join(ROOT, 'api', `${entry}.api.md`), text);
    console.log('api/: written');
  }
}
