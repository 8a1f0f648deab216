/**
 * What a dashboard or a redactor needs to know of Exosite Murano, without its codecs.
 *
 * @module
 */
import type { ProtocolDescriptor } from '../contract.js';
import { secrets } from './secrets.js';
import { statusMapping } from './status.js';

export const descriptor = {
  name: 'exosite',
  title: 'Exosite Murano',
  integrity: 'none',
  secrets,
  statusMapping,
} as const satisfies ProtocolDescriptor;
