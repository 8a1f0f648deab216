/**
 * What a dashboard or a redactor needs to know of ThingsBoard, without its codecs.
 *
 * @module
 */
import type { ProtocolDescriptor } from '../contract.js';
import { secrets } from './secrets.js';
import { statusMapping } from './status.js';

export const descriptor = {
  name: 'thingsBoard',
  title: 'ThingsBoard',
  integrity: 'sha256',
  secrets,
  statusMapping,
} as const satisfies ProtocolDescriptor;
