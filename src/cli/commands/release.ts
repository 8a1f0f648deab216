/**
 * `otakit release <dir> [version]`: publish a micropython_ota release into a root atomically
 * (files first, the `version` file last), roll back to or activate a tag published earlier, list
 * a project's releases.
 *
 * @module
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { type Command, Option } from 'commander';
import type { ManifestInput } from '../../manifest/schema.js';
import type { Layout } from '../../protocols/micropython-ota/urls.js';
import { usageError } from '../exit-codes.js';
import { readJsonFile } from '../options.js';
import { createOutput } from '../output.js';

interface ReleaseOptions {
  project: string;
  files?: string;
  layout: Layout;
  rollback?: string;
  activate?: boolean;
  inactive?: boolean;
  list?: boolean;
  manifest?: string;
  json?: boolean;
}

/** Every regular file under `dir`, by its `/`-separated path relative to `dir` (dot files skipped). */
async function filesOf(dir: string): Promise<Record<string, string>> {
  const found = await stat(dir).catch(() => null);
  if (found === null || !found.isDirectory()) throw usageError(`--files ${dir} is not a directory`);
  const files: Record<string, string> = {};
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) files[relative(dir, path).split(sep).join('/')] = path;
    }
  };
  await walk(dir);
  if (Object.keys(files).length === 0) throw usageError(`--files ${dir} holds no file`);
  return files;
}

/** The files of the live release, to publish again under a new tag. */
async function liveFiles(
  root: string,
  project: string,
): Promise<{ files: Record<string, string>; layout: Layout }> {
  const { listReleases } = await import('../../node/cloud/micropython-ota-publish.js');
  const { releaseFilePath } = await import('../../node/cloud/micropython-ota-release-paths.js');
  const { live, releases } = await listReleases({ root, project });
  const current = releases.filter((release) => release.version === live).at(-1);
  if (live === null || current === undefined) {
    throw usageError(`project ${project} has no live release with a file list: give --files <dir>`);
  }
  const files: Record<string, string> = {};
  for (const name of current.files) {
    files[name] = releaseFilePath(root, project, current.version, name, current.layout);
  }
  return { files, layout: current.layout };
}

export function registerRelease(program: Command): void {
  program
    .command('release')
    .description('publish, activate, roll back or list micropython_ota releases in a root')
    .argument('<dir>', 'the release root (what `otakit serve` serves)')
    .argument('[version]', 'the tag to publish (or to activate with --activate)')
    .requiredOption('--project <path>', 'the project, e.g. sample or fleet/sample')
    .option('--files <dir>', 'the files of the release (default: those of the live release)')
    .addOption(
      new Option('--layout <layout>', 'how files are laid out')
        .choices(['prefix', 'subdirectory'])
        .default('prefix'),
    )
    .option('--inactive', 'lay the release out without offering it (activate it later)')
    .option('--activate', 'offer <version>, published earlier (files checked first)')
    .option('--rollback <version>', 'offer an older tag again (same as <version> --activate)')
    .option('--list', "list the project's releases and the live one")
    .option(
      '--manifest <signed.json>',
      "the release's signed manifest (id <project>@<version>), served beside it as <version>.otakit.json",
    )
    .option('--json', 'print the result as JSON')
    .action(async (root: string, version: string | undefined, options: ReleaseOptions) => {
      const out = createOutput({ json: options.json ?? false });
      const { project } = options;
      const { activateRelease, listReleases, publishRelease } = await import(
        '../../node/cloud/micropython-ota-publish.js'
      );
      const modes = [options.list, options.rollback !== undefined, options.activate].filter(Boolean).length;
      if (modes > 1) throw usageError('give one of --list, --rollback, --activate');
      if (modes > 0 && options.manifest !== undefined) {
        throw usageError(
          '--manifest signs a release being published: not with --list, --rollback, --activate',
        );
      }
      if (options.list) {
        if (version !== undefined) throw usageError('--list takes no version');
        const { live, releases } = await listReleases({ root, project });
        if (out.json) return out.result({ project, live, releases });
        if (releases.length === 0) out.line(`${project}: no releases`);
        for (const release of releases) {
          const mark = release.version === live ? '*' : ' ';
          out.line(
            `${mark} ${release.version}  ${release.layout}  ${release.files.length} file(s)  ${release.publishedAt.toISOString()}`,
          );
        }
        if (live !== null && !releases.some((release) => release.version === live)) {
          out.line(`* ${live}  (live, no file list)`);
        }
        return;
      }
      const activate = options.rollback ?? (options.activate ? version : undefined);
      if (options.activate && version === undefined) throw usageError('--activate needs <version>');
      if (options.rollback !== undefined && version !== undefined) {
        throw usageError('--rollback <version> takes no other version');
      }
      if (activate !== undefined) {
        const activated = await activateRelease({ root, project, version: activate });
        if (out.json) return out.result(activated);
        out.line(
          `${project}: ${activated.version} is live (${activated.layout}, ${activated.files.length} file(s))`,
        );
        return;
      }
      if (version === undefined) throw usageError('give <version>, or --list, --rollback <version>');
      const source =
        options.files === undefined
          ? await liveFiles(root, project)
          : { files: await filesOf(options.files), layout: options.layout };
      // Read before anything is written; publishRelease refuses one that is not this release's
      // (unsigned, another version or id) with a ManifestError naming the field, before a file moves.
      const manifest =
        options.manifest === undefined ? undefined : await readJsonFile(options.manifest, 'manifest');
      const published = await publishRelease({
        root,
        project,
        version,
        files: source.files,
        layout: options.files === undefined ? source.layout : options.layout,
        activate: !options.inactive,
        ...(manifest === undefined ? {} : { manifest: manifest as ManifestInput }),
      });
      const signed = manifest !== undefined;
      if (out.json) return out.result({ ...published, signed });
      out.line(
        `${project}: published ${published.version} (${published.layout}, ${published.files.length} file(s))${
          signed ? `, signed statement ${published.version}.otakit.json` : ''
        }${published.live ? ', live' : ', not offered yet'}`,
      );
    });
}
