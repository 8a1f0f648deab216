/**
 * The one structured value of micropython_ota: a release, i.e. what `ota_update(host, project,
 * filenames, use_version_prefix)` fetches once the server's `version` file names a tag. The
 * protocol itself has no JSON message; this is otakit's JSON form of those arguments, used to
 * convert to and from the canonical manifest and to configure agents and publishers.
 *
 * @module
 */
import * as z from 'zod';
import { LIMITS } from './limits.js';
import { FilenameSchema, HostSchema, ProjectSchema, VersionTagSchema } from './names.js';
import { LAYOUTS } from './urls.js';

export const LayoutSchema = z.enum(LAYOUTS);

export const ReleaseSchema = z.object({
  /** Server base URL, e.g. `https://ota.example.com`. No credentials: use Basic auth. */
  host: HostSchema,
  /** Project directory on the server, e.g. `sample`. */
  project: ProjectSchema,
  /** The tag the server's `version` file holds. */
  version: VersionTagSchema,
  /** Files to fetch and install, in order, relative to the device root. */
  filenames: z
    .array(FilenameSchema)
    .min(1, { error: 'at least one file name' })
    .max(LIMITS.files)
    .refine((names) => new Set(names).size === names.length, { error: 'distinct file names' }),
  /** `prefix` (`<version>_<file>`, the reference default) or `subdirectory` (`<version>/<file>`). */
  layout: LayoutSchema.default('prefix'),
});

/** A validated release. */
export type Release = z.output<typeof ReleaseSchema>;
/** A release before validation (`layout` may be omitted). */
export type ReleaseInput = z.input<typeof ReleaseSchema>;

/**
 * What `toCanonical` keeps in `manifest.extensions.micropython_ota`, so `fromCanonical` can
 * rebuild the release without guessing the host/project split from the URLs.
 */
export const ExtensionSchema = z.object({
  host: HostSchema,
  project: ProjectSchema,
  layout: LayoutSchema,
});
export type Extension = z.output<typeof ExtensionSchema>;

/** The key under `manifest.extensions` that this system uses. */
export const EXTENSION_KEY = 'micropython_ota';

/** JSON Schemas emitted at build time (`dist/schemas/micropython_ota.<name>.json`). */
export const jsonSchemas: Record<string, z.ZodType> = {
  release: ReleaseSchema,
  extension: ExtensionSchema,
};
