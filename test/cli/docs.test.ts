/**
 * docs/cli.md documents the command as built: every command of the commander program has its
 * section, and every option it takes (but `--help` and `--json`, documented once) is named in
 * the page. A new option without docs, or docs of a removed one, fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createProgram } from '../../src/cli/program.js';

const PAGE = readFileSync(join(import.meta.dirname, '../../docs/cli.md'), 'utf8');

/** Every runnable command (leaves), with its full name, e.g. `rollout status`. */
function leaves(command: Command, prefix: string[] = []): { name: string; command: Command }[] {
  return command.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    return sub.commands.length === 0 ? [{ name: path.join(' '), command: sub }] : leaves(sub, path);
  });
}

const COMMANDS = leaves(createProgram());
const GENERIC = new Set(['--help', '--json']);

describe('docs/cli.md', () => {
  it('has a section for every command', () => {
    expect(COMMANDS.length).toBeGreaterThanOrEqual(13);
    const headings = PAGE.split('\n').filter((line) => line.startsWith('## '));
    const missing = COMMANDS.filter(({ name }) => {
      const [group, verb] = name.split(' ');
      return !headings.some(
        (heading) =>
          heading.includes(`otakit ${name}`) ||
          (verb !== undefined && heading.includes(`otakit ${group} `) && heading.includes(verb)),
      );
    }).map(({ name }) => name);
    expect(missing).toEqual([]);
  });

  it('names every option of every command', () => {
    const missing = COMMANDS.flatMap(({ name, command }) =>
      command.options
        .map((option) => option.long!)
        .filter((flag) => !GENERIC.has(flag) && !PAGE.includes(`${flag}`))
        .map((flag) => `${name} ${flag}`),
    );
    expect(missing).toEqual([]);
  });

  it('shows no option the command does not take', () => {
    const known = new Set(COMMANDS.flatMap(({ command }) => command.options.map((option) => option.long!)));
    const written = [...PAGE.matchAll(/`[^`]*?(--[a-z][a-z-]*)/g)].map((match) => match[1]!);
    expect(written.filter((flag) => !known.has(flag) && flag !== '--help')).toEqual([]);
  });
});
