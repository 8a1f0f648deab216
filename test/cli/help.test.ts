/** Every command answers `--help` (exit 0, its options listed); usage errors exit 2. */
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const COMMANDS: [string[], string[]][] = [
  [
    [],
    [
      'serve',
      'release',
      'shadow-service',
      'manifest',
      'hash',
      'publish',
      'watch',
      'rollout',
      'keygen',
      'root',
      'sign',
      'verify',
    ],
  ],
  [['serve'], ['--port', '--host', '--user', '--password-env']],
  [['release'], ['--project', '--files', '--layout', '--rollback', '--activate', '--list']],
  [['shadow-service'], ['--broker', '--store', '--password-env']],
  [['manifest'], ['validate', 'convert']],
  [
    ['manifest', 'validate'],
    ['--format', '--json'],
  ],
  [
    ['manifest', 'convert'],
    ['--to', '--target'],
  ],
  [['hash'], ['--algorithm', '--json']],
  [['publish'], ['--manifest', '--target', '--broker', '--timeout']],
  [['watch'], ['--target', '--broker', '--json']],
  [['rollout'], ['start', 'status', 'pause', 'resume', 'cancel']],
  [
    ['rollout', 'start'],
    ['--database', '--schema'],
  ],
  [
    ['rollout', 'status'],
    ['--watch', '--database'],
  ],
  [['rollout', 'pause'], ['--database']],
  [['rollout', 'resume'], ['--database']],
  [['rollout', 'cancel'], ['--database']],
  [['keygen'], ['--out', '--force', '--json']],
  [['root'], ['create', 'sign', 'rotate']],
  [
    ['root', 'create'],
    ['--key', '--threshold', '--version', '--expires', '--out'],
  ],
  [
    ['root', 'sign'],
    ['--key-file', '--key-env', '--out'],
  ],
  [
    ['root', 'rotate'],
    ['--current', '--new', '--now', '--out'],
  ],
  [['sign'], ['--key-file', '--key-env', '--out']],
  [['verify'], ['--root', '--now', '--device-type', '--device-id', '--floor', '--compare', '--json']],
];

describe('otakit --help', () => {
  it('every command prints its help and exits 0', async () => {
    const results = await Promise.all(COMMANDS.map(([command]) => runCli([...command, '--help'])));
    results.forEach((result, index) => {
      const [command, options] = COMMANDS[index]!;
      expect(result.code, `${command.join(' ')} --help`).toBe(0);
      expect(result.stdout).toContain('Usage: otakit');
      for (const option of options)
        expect(result.stdout, `${command.join(' ')}: ${option}`).toContain(option);
    });
  });

  it('usage errors exit 2: unknown command, unknown option, missing argument, bad choice, bad port', async () => {
    const cases = [
      ['frobnicate'],
      ['hash', '--nope', 'x'],
      ['hash'],
      ['hash', '--algorithm', 'crc32', 'package.json'],
      ['manifest', 'validate', 'x.json', '--format', 'nope'],
      ['serve', '.', '--port', 'eighty'],
      ['publish', 'connhex', '--manifest', 'm', '--target', '{}', '--broker', 'mqtt://127.0.0.1:1'],
      ['serve', '.', '--user', 'u'],
      ['root', 'create', '--key', 'a.pub.json', '--threshold', 'two'],
      ['verify', 'package.json', '--root', 'package.json', '--floor', '1.0.0'],
    ];
    const results = await Promise.all(cases.map((args) => runCli(args)));
    results.forEach((result, index) => {
      expect(result.code, cases[index]!.join(' ')).toBe(2);
      expect(result.stderr).not.toBe('');
    });
  });
});
