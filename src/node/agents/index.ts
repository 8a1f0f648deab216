/**
 * Ready device agents, one per platform: the generic `createDeviceAgent` with the platform's
 * channel, order handling and installers filled in. Each helper appends its own export line.
 *
 * @module
 */
export { type PresetBase, type PresetOptions, presetBase } from './common.js';
export * from './connhex.js';
export * from './degu.js';
export * from './exosite.js';
export * from './insighio.js';
export * from './micropython-ota.js';
export * from './micropython-ota-once.js';
export * from './thingsboard.js';
