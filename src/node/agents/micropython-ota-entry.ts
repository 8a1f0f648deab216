/**
 * `otakit/agents/micropython-ota`: the micropython_ota agent and the library's two functions,
 * without the other platforms' code (`otakit/node` loads every preset).
 *
 * @module
 */
export * from './micropython-ota.js';
export * from './micropython-ota-once.js';
