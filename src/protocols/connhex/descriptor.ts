/**
 * What a dashboard or a redactor needs to know of Connhex Edge, without its codecs.
 *
 * @module
 */
import type { ProtocolDescriptor } from '../contract.js';
import { statusMapping } from './mapping.js';
import { secrets } from './secrets.js';

export const descriptor = {
  name: 'connhex',
  title: 'Connhex Edge',
  integrity: 'sha256',
  secrets,
  statusMapping,
} as const satisfies ProtocolDescriptor;
