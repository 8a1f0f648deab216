/**
 * What a dashboard or a redactor needs to know of insigh.io, without its codecs.
 *
 * @module
 */
import type { ProtocolDescriptor } from '../contract.js';
import { secrets } from './secrets.js';
import { statusMapping } from './status.js';

export const descriptor = {
  name: 'insighIo',
  title: 'insigh.io',
  integrity: 'none',
  secrets,
  statusMapping,
} as const satisfies ProtocolDescriptor;
