/**
 * A seed corpus taken from the protocols' own tests: every string literal (single, double or
 * backtick quoted, without interpolation) in test/protocols/**. The documented vectors of
 * PROTOCOLS.md live there (vectors.test.ts), as do the edge cases found before, so mutating them
 * starts the fuzzer next to every known-good and known-bad input. New vectors join with no edit.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../protocols');

function files(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return files(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const LITERAL = /'((?:[^'\\\n]|\\.){4,2000})'|"((?:[^"\\\n]|\\.){4,2000})"|`((?:[^`\\$]|\\.){4,4000})`/g;

function unquote(body: string): string | undefined {
  try {
    return JSON.parse(
      `"${body.replace(/\\'/g, "'").replace(/\\`/g, '`').replace(/\n/g, '\\n').replace(/"/g, '\\"').replace(/\\\\"/g, '\\"')}"`,
    ) as string;
  } catch {
    return undefined;
  }
}

function literals(): string[] {
  const found = new Set<string>();
  for (const path of files(ROOT)) {
    const text = readFileSync(path, 'utf8');
    for (const match of text.matchAll(LITERAL)) {
      const value = unquote(match[1] ?? match[2] ?? match[3] ?? '');
      // Import specifiers and test titles are not inputs.
      if (value === undefined || value.startsWith('../') || value.startsWith('./')) continue;
      // A backtick pair matched across code (two template literals and what lies between).
      if (/\);\n|expect\(|=> /.test(value)) continue;
      found.add(value);
    }
  }
  return [...found].sort();
}

/** The corpus, deduplicated and sorted (so a seed replays the same cases). */
export const TEST_LITERALS: readonly string[] = literals();
