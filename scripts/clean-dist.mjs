#!/usr/bin/env node
/**
 * Empties dist/ before `tsup` runs (first step of `npm run build`). tsup.config.ts has several
 * configs that tsup runs in parallel, so none of them may `clean`: one would delete what another
 * has just written. Stale files must not survive either: with per-file ESM output, a source file
 * that was moved or deleted would otherwise stay in dist/ and in the tarball.
 */
import { rm } from 'node:fs/promises';

await rm(new URL('../dist', import.meta.url), { recursive: true, force: true });
