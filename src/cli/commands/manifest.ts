/**
 * `otakit manifest validate|convert`: check a canonical manifest or a platform's own document
 * with the same zod schemas the library uses (every issue with its field path), and turn a
 * canonical manifest into a platform's order with the protocol's `cloud.encodeOrder`.
 *
 * @module
 */
import { type Command, Option } from 'commander';
import type * as z from 'zod';
import type { ValidationIssue } from '../../core/errors.js';
import type { WireMessage } from '../../protocols/contract.js';
import { EXIT } from '../exit-codes.js';
import { parseJsonOption, readJsonFile } from '../options.js';
import { createOutput, redact, redactedUrl } from '../output.js';
import { PLATFORM_NAMES, type PlatformName, protocolOf } from '../platforms.js';

/** The document `validate --format <platform>` checks: the key of the protocol's `jsonSchemas`. */
const PLATFORM_DOCUMENT: Record<PlatformName, string> = {
  degu: 'desired',
  'micropython-ota': 'release',
  insighio: 'order',
  connhex: 'release',
  exosite: 'manifest',
  thingsboard: 'sharedAttributes',
};

type Format = 'canonical' | PlatformName;

/** The issues of `input` read as `format` (`[]` when valid). */
export async function validateDocument(input: unknown, format: Format): Promise<ValidationIssue[]> {
  const { ManifestError } = await import('../../core/errors.js');
  try {
    if (format === 'canonical') {
      const { parseManifest } = await import('../../manifest/schema.js');
      parseManifest(input);
    } else {
      const { parseWith } = await import('../../core/validate.js');
      const protocol = await protocolOf(format);
      const schemas = protocol.jsonSchemas as Record<string, z.ZodType>;
      const schema = schemas[PLATFORM_DOCUMENT[format]]!;
      parseWith(schema, input, `${protocol.name} ${PLATFORM_DOCUMENT[format]}`);
    }
    return [];
  } catch (error) {
    if (error instanceof ManifestError) return [...error.issues];
    throw error;
  }
}

/** A wire message as it may be printed: URLs and headers without credentials. */
function printable(message: WireMessage): WireMessage {
  const shown: WireMessage = {
    ...message,
    address: redactedUrl(message.address),
    payload: redact(message.payload),
  };
  if (message.headers !== undefined) {
    shown.headers = Object.fromEntries(
      Object.entries(message.headers).map(([name, value]) => [
        name,
        /^(authorization|proxy-authorization|cookie|x-api-key)$/i.test(name) ? '***' : redact(value),
      ]),
    );
  }
  return shown;
}

export function registerManifest(program: Command): void {
  const manifest = program.command('manifest').description('validate and convert manifests');

  manifest
    .command('validate')
    .description('check a manifest (canonical, or a platform document) and show every wrong field')
    .argument('<file>', 'the JSON file')
    .addOption(
      new Option('-f, --format <format>', 'what the file is')
        .choices(['canonical', ...PLATFORM_NAMES])
        .default('canonical'),
    )
    .option('--json', 'print { valid, issues }')
    .action(async (file: string, options: { format: Format; json?: boolean }) => {
      const input = await readJsonFile(file, 'manifest');
      const issues = await validateDocument(input, options.format);
      const out = createOutput({ json: options.json ?? false });
      if (out.json) out.result({ valid: issues.length === 0, format: options.format, issues });
      else if (issues.length === 0) out.line(`${file}: valid ${options.format} manifest`);
      else {
        out.line(`${file}: invalid ${options.format} manifest (${issues.length} issue(s))`);
        for (const issue of issues) out.line(`  ${issue.path || '(root)'}: expected ${issue.expected}`);
      }
      if (issues.length > 0) process.exitCode = EXIT.failed;
    });

  manifest
    .command('convert')
    .description("turn a canonical manifest into a platform's order messages")
    .argument('<file>', 'the canonical manifest (JSON)')
    .addOption(new Option('--to <platform>', 'the platform').choices(PLATFORM_NAMES).makeOptionMandatory())
    .requiredOption('--target <json>', "the device's target, JSON or @file.json (e.g. insighio's ids)")
    .option('--json', 'print { messages, lost }')
    .action(async (file: string, options: { to: PlatformName; target: string; json?: boolean }) => {
      const input = await readJsonFile(file, 'manifest');
      const target = await parseJsonOption(options.target, '--target');
      const { parseManifest } = await import('../../manifest/schema.js');
      const parsed = parseManifest(input);
      const protocol = await protocolOf(options.to);
      const { value, lost } = protocol.cloud.encodeOrder(parsed, target as never);
      const messages = value.map(printable);
      const out = createOutput({ json: options.json ?? false });
      if (out.json) return out.result({ platform: options.to, messages, lost });
      for (const message of messages) {
        const flags = [message.method, message.retain ? 'retained' : undefined].filter(Boolean).join(' ');
        out.line(`${message.channel} ${message.address}${flags === '' ? '' : ` (${flags})`}`);
        out.line(`  ${message.payload}`);
      }
      if (lost.length === 0) out.line('lost: nothing');
      else for (const loss of lost) out.line(`lost: ${loss.field}: ${loss.reason}`);
    });
}
