/**
 * What a dashboard or a redactor needs to know of micropython_ota, without its codecs.
 *
 * @module
 */
import type { ProtocolDescriptor } from '../contract.js';
import { secrets } from './secrets.js';
import { statusMapping } from './status.js';

export const descriptor = {
  name: 'micropythonOta',
  title: 'micropython_ota',
  integrity: 'none',
  secrets,
  statusMapping,
} as const satisfies ProtocolDescriptor;
