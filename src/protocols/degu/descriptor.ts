/**
 * What a dashboard or a redactor needs to know of Degu on AWS IoT Device Shadow, without its codecs.
 *
 * @module
 */
import type { ProtocolDescriptor } from '../contract.js';
import { secrets } from './secrets.js';
import { statusMapping } from './status.js';

export const descriptor = {
  name: 'degu',
  title: 'Degu on AWS IoT Device Shadow',
  integrity: 'md5',
  secrets,
  statusMapping,
} as const satisfies ProtocolDescriptor;
