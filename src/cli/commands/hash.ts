/**
 * `otakit hash <file>`: the MD5 and/or SHA-256 of a file, read as a stream (any size), in the
 * lower-case hex manifests carry.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type Command, Option } from 'commander';
import { CliError } from '../exit-codes.js';
import { createOutput } from '../output.js';

type Algorithm = 'md5' | 'sha256';

/** Digests of the file at `path`, one pass for all algorithms. */
export async function hashFile(path: string, algorithms: readonly Algorithm[]) {
  const hashes = algorithms.map((algorithm) => createHash(algorithm));
  let size = 0;
  try {
    for await (const chunk of createReadStream(path)) {
      size += (chunk as Buffer).length;
      for (const hash of hashes) hash.update(chunk as Buffer);
    }
  } catch (error) {
    throw new CliError(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const digests: Partial<Record<Algorithm, string>> = {};
  algorithms.forEach((algorithm, index) => {
    digests[algorithm] = hashes[index]!.digest('hex');
  });
  return { size, ...digests };
}

export function registerHash(program: Command): void {
  program
    .command('hash')
    .description('print the size, MD5 and/or SHA-256 of a file (streamed)')
    .argument('<file>', 'the file to hash')
    .addOption(
      new Option('-a, --algorithm <name>', 'which digest').choices(['md5', 'sha256', 'all']).default('all'),
    )
    .option('--json', 'print { file, size, md5?, sha256? }')
    .action(async (file: string, options: { algorithm: Algorithm | 'all'; json?: boolean }) => {
      const algorithms: Algorithm[] = options.algorithm === 'all' ? ['md5', 'sha256'] : [options.algorithm];
      const result = await hashFile(file, algorithms);
      const out = createOutput({ json: options.json ?? false });
      if (out.json) return out.result({ file, ...result });
      out.line(`size  ${result.size}  ${file}`);
      for (const algorithm of algorithms) out.line(`${algorithm}  ${result[algorithm]}  ${file}`);
    });
}
