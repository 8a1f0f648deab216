/**
 * Every Degu and AWS shadow schema with a JSON representation, for `dist/schemas/degu.<name>.json`.
 * Degu-profile documents first (what a Degu deployment validates), then the generic shadow ones.
 *
 * @module
 */
import type * as z from 'zod';
import {
  DeguBootRequestSchema,
  DeguDesiredPatchSchema,
  DeguDesiredSchema,
  DeguReportedSchema,
  deguSchemas,
} from './schemas.js';
import { ShadowErrorSchema, shadowSchemas } from './shadow-schemas.js';

export const jsonSchemas: Record<string, z.ZodType> = {
  desired: DeguDesiredSchema,
  desiredPatch: DeguDesiredPatchSchema,
  reported: DeguReportedSchema,
  bootReport: DeguBootRequestSchema,
  request: deguSchemas.request,
  getAccepted: deguSchemas['get/accepted'],
  updateAccepted: deguSchemas['update/accepted'],
  updateDelta: deguSchemas['update/delta'],
  updateDocuments: deguSchemas['update/documents'],
  deleteAccepted: deguSchemas['delete/accepted'],
  error: ShadowErrorSchema,
  shadowRequest: shadowSchemas.request,
  shadowGetAccepted: shadowSchemas['get/accepted'],
  shadowUpdateAccepted: shadowSchemas['update/accepted'],
  shadowUpdateDelta: shadowSchemas['update/delta'],
  shadowUpdateDocuments: shadowSchemas['update/documents'],
};
