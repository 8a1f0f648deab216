/**
 * The zip-slip guard of the Node extractor: entry names become paths relative to the staging
 * directory, or are refused, by the one policy every otakit archive reader shares (see
 * `src/archive/entry-path.ts`). Whatever passes has no absolute prefix, no drive letter, no
 * backslash and no `..` component, so joining it under the staging directory stays under it.
 *
 * @module
 */
export { type EntryPath, normaliseEntryPath } from '../../archive/entry-path.js';
