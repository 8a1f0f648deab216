/**
 * The cloud side of the micropython_ota protocol object. The server's `version` file is the
 * order: writing a tag there sends every device of the project to fetch its files under that
 * tag; deleting it withdraws the order (devices then read a 404, "no update"). Devices report
 * nothing, so there is no status source; a device's own `version` file, when a fleet tool reads
 * it, says which release it runs.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { type ManifestInput, ManifestSchema } from '../../manifest/schema.js';
import type { CloudCodec, StatusDecodeContext, WireMessage } from '../contract.js';
import { encodeStatement, signedOrder } from '../signed-statement.js';
import { completeStatus } from '../update-status.js';
import { fromCanonical } from './codec.js';
import { checkInbound } from './inbound.js';
import { checkVersionTag, LOCAL_VERSION_ADDRESSES } from './local-version.js';
import { parseTarget, type Target } from './target.js';
import { fileUrl, statementUrl, versionFileUrl } from './urls.js';
import { readLocalVersion } from './version-file.js';

const ORDER = 'micropython_ota order';
const STATUS = 'micropython_ota local version file';

/**
 * The release of `manifest`, checked against what the device of `target` will fetch: its own
 * file names, in its own order, under its host, project and layout. Anything else would have
 * the device fetch files the manifest does not name, or skip some it does.
 */
function releaseFor(manifest: ManifestInput, target: Target) {
  const conversion = fromCanonical(manifest);
  const { artifacts } = parseWith(ManifestSchema, manifest, 'manifest');
  const layout = target.layout ?? 'prefix';
  const { host, project } = target;
  const version = conversion.value.version;
  const fetched = target.filenames.map((filename) => fileUrl({ host, project, layout, version, filename }));
  const named = artifacts.map((artifact) => artifact.url);
  if (fetched.length !== named.length || fetched.some((url, index) => url !== named[index])) {
    throw new ManifestError(ORDER, [
      {
        path: 'artifacts',
        expected: `exactly the device's files (${target.filenames.join(', ')}), in that order, under its host and project in the ${layout} layout`,
      },
    ]);
  }
  return conversion;
}

/** Which update a device's `version` file names: the tracked one when the tags agree. */
function updateOf(tag: string, target: Target, context: StatusDecodeContext<Target>) {
  const known = context.previous?.update;
  if (known && known.version === tag) return { updateId: known.id, version: tag };
  return { updateId: `${target.project}@${tag}`, version: tag };
}

/** The cloud side: writes and deletes the server's `version` file; reads devices' own ones. */
export const cloud: CloudCodec<Target> = {
  /**
   * `PUT` of the project's `version` file with the tag. A signed manifest is first written
   * whole beside the release, `PUT <host>/<project>/<version>.otakit.json` (the signed
   * statement, JSON), which otakit devices fetch before any download and the reference ignores;
   * its id must be `<project>@<version>`.
   */
  encodeOrder(manifest, target) {
    const valid = parseTarget(target);
    const conversion = releaseFor(manifest, valid);
    const release = conversion.value;
    const { statement, lost } = signedOrder(
      parseWith(ManifestSchema, manifest, 'manifest'),
      conversion.lost,
      { what: 'signed manifest for micropython_ota' },
    );
    const companion: WireMessage[] =
      statement === null
        ? []
        : [
            {
              channel: 'http',
              address: statementUrl({ host: valid.host, project: valid.project, version: release.version }),
              method: 'PUT',
              payload: encodeStatement(statement)!,
              headers: { 'content-type': 'application/json' },
            },
          ];
    const order: WireMessage = {
      channel: 'http',
      address: versionFileUrl(valid),
      method: 'PUT',
      // A text file, one line; the device reads the first line and strips it.
      payload: `${release.version}\n`,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    };
    // The statement first: a device that reads the new tag finds it in place.
    return { value: [...companion, order], lost };
  },

  encodeWithdrawal(target) {
    return [{ channel: 'http', address: versionFileUrl(parseTarget(target)), method: 'DELETE', payload: '' }];
  },

  statusSources(target) {
    parseTarget(target);
    return [];
  },

  decodeStatus(message, context) {
    const target = parseTarget((context as Partial<StatusDecodeContext<Target>> | null)?.target);
    if (typeof context.machineId !== 'string' || context.machineId === '') {
      throw new ManifestError(STATUS, [{ path: 'machineId', expected: 'a non-empty string' }]);
    }
    const file = checkInbound(message, STATUS);
    if (!LOCAL_VERSION_ADDRESSES.has(file.address)) return null;
    if (file.status !== undefined && file.status !== 200) return null;
    const content = readLocalVersion(file.payload);
    // An empty file names no release (the reference reads a missing one as ''): nothing to report.
    if (content === '') return null;
    const tag = checkVersionTag(content, STATUS);
    return completeStatus({ state: 'committed', ...updateOf(tag, target, context) }, context);
  },
};
