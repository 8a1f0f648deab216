/**
 * `otakit sign <manifest.json>`: validates a canonical manifest and adds Ed25519 signatures to
 * its envelope (`signManifest`), keeping the signatures already there, so k holders of keys can
 * each sign in turn. Private keys come from files or environment variables, never the command
 * line; nothing prints them.
 *
 * @module
 */
import type { Command } from 'commander';
import { collect, jsonText, keyIdsOf, loadPrivateKeys, writeAtomically } from '../keys.js';
import { readJsonFile } from '../options.js';
import { createOutput } from '../output.js';

interface SignOptions {
  keyFile?: string[];
  keyEnv?: string[];
  out?: string;
  json?: boolean;
}

export function registerSign(program: Command): void {
  program
    .command('sign')
    .description('sign a manifest with one or more private keys (keeps the signatures already on it)')
    .argument('<manifest.json>', 'the canonical manifest')
    .option('--key-file <file>', 'a private key file (mode 0600); repeat for several', collect)
    .option('--key-env <VAR>', 'an environment variable holding a private key; repeat for several', collect)
    .option('-o, --out <file>', 'write the signed manifest here (default: stdout); may be the input')
    .option('--json', 'with --out, print { file, id, version, keyIds, added }')
    .action(async (file: string, options: SignOptions) => {
      const input = await readJsonFile(file, 'manifest');
      const { parseManifest } = await import('../../manifest/schema.js');
      // Invalid: a ManifestError, printed with every field path (exit 1), before a key is read.
      const manifest = parseManifest(input);
      const privateKeys = await loadPrivateKeys(options.keyFile, options.keyEnv);
      const added = await keyIdsOf(privateKeys);
      const { signManifest } = await import('../../manifest/trust.js');
      const signed = await signManifest(
        manifest,
        privateKeys.map((key) => key.value),
      );
      const out = createOutput({ json: options.json ?? false });
      const { signingWarnings } = await import('../sign-warnings.js');
      for (const warning of signingWarnings(input, signed, Date.now()))
        out.error(`otakit: warning: ${warning}`);
      if (options.out === undefined) return void process.stdout.write(jsonText(signed));
      await writeAtomically(options.out, jsonText(signed));
      const keyIds = signed.signature!.signatures.map((signature) => signature.keyId);
      if (out.json) {
        return out.result({ file: options.out, id: signed.id, version: signed.version, keyIds, added });
      }
      out.line(
        `${options.out}: manifest ${signed.id} ${signed.version} with ${keyIds.length} signature(s), added by:`,
      );
      for (const keyId of added) out.line(`  ${keyId}`);
    });
}
