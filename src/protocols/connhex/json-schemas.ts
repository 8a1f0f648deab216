/**
 * Every Connhex schema with a JSON form, for `dist/schemas/connhex.<name>.json`
 * (`z.toJSONSchema(schema, { io: 'input' })`).
 *
 * @module
 */
import type * as z from 'zod';
import {
  AgentConfigSchema,
  OtaSectionSchema,
  ReleaseMetadataSchema,
  ReleaseSchema,
  StatusMessageSchema,
} from './schemas.js';
import { TargetSchema } from './target.js';

/** The Connhex wire and configuration schemas, and the target, by name. */
export const jsonSchemas: Record<string, z.ZodType> = {
  statusMessage: StatusMessageSchema,
  agentConfig: AgentConfigSchema,
  otaSection: OtaSectionSchema,
  releaseMetadata: ReleaseMetadataSchema,
  release: ReleaseSchema,
  target: TargetSchema,
};
