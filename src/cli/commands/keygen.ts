/**
 * `otakit keygen --out <basename>`: a fresh Ed25519 signing key. Writes `<basename>.key` (the
 * private key, PKCS #8 PEM, mode 0600) and `<basename>.pub.json` (`{ keyId, publicKey }`, what
 * `root create --key` takes); prints the key id. Never prints the private key.
 *
 * @module
 */
import type { Command } from 'commander';
import { CliError } from '../exit-codes.js';
import { exists, jsonText, writeAtomically, writeSecretFile } from '../keys.js';
import { createOutput } from '../output.js';

/** The PEM text of a PKCS #8 key, as `openssl genpkey -algorithm ed25519` writes it. */
function pkcs8Pem(der: Uint8Array, encodeBase64: (bytes: Uint8Array) => string): string {
  const body = encodeBase64(der)
    .match(/.{1,64}/g)!
    .join('\n');
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('generate an Ed25519 signing key: <basename>.key (private, 0600) and <basename>.pub.json')
    .requiredOption('-o, --out <basename>', 'write <basename>.key and <basename>.pub.json')
    .option('--force', 'replace existing files')
    .option('--json', 'print { keyId, publicKey, privateKeyFile, publicKeyFile }')
    .action(async (options: { out: string; force?: boolean; json?: boolean }) => {
      const privateKeyFile = `${options.out}.key`;
      const publicKeyFile = `${options.out}.pub.json`;
      const force = options.force ?? false;
      if (!force) {
        for (const path of [privateKeyFile, publicKeyFile]) {
          if (await exists(path)) throw new CliError(`${path} exists; --force replaces it`);
        }
      }
      const { ed25519GenerateKeyPair, ed25519Pkcs8, ed25519PublicKey } = await import(
        '../../manifest/ed25519.js'
      );
      const { keyIdOf } = await import('../../manifest/trust-root.js');
      const { encodeBase64 } = await import('../../core/encoding.js');
      const { privateKey, publicKey } = await ed25519GenerateKeyPair();
      const pem = pkcs8Pem(ed25519Pkcs8(privateKey), encodeBase64);
      privateKey.fill(0);
      // The file must give back the key it was made from.
      const reread = await ed25519PublicKey(pem);
      if (encodeBase64(reread) !== encodeBase64(publicKey)) throw new CliError('the PKCS #8 encoding failed');
      const keyId = keyIdOf(publicKey);
      const publicKeyBase64 = encodeBase64(publicKey);
      await writeSecretFile(privateKeyFile, pem, force);
      await writeAtomically(publicKeyFile, jsonText({ keyId, publicKey: publicKeyBase64 }));
      const out = createOutput({ json: options.json ?? false });
      if (out.json) return out.result({ keyId, publicKey: publicKeyBase64, privateKeyFile, publicKeyFile });
      out.line(keyId);
      out.line(`  private key: ${privateKeyFile} (mode 0600: keep it secret, back it up offline)`);
      out.line(`  public key:  ${publicKeyFile}`);
    });
}
