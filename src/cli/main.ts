#!/usr/bin/env node
/**
 * The `otakit` command: serve and publish micropython_ota releases, run the self-hosted shadow
 * service, validate and convert manifests, hash files, publish updates and watch devices, drive
 * rollouts in PostgreSQL. See docs/cli.md.
 *
 * @example
 * ```sh
 * otakit manifest validate manifest.json --json
 * ```
 *
 * @module
 */
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2));
