/**
 * The platform names the command line takes (`insighio`, `micropython-ota`…) and the protocol
 * object of each, from the registry.
 *
 * @module
 */
import type { ProtocolName } from '../protocols/descriptors.js';
import type { AnyProtocol } from '../protocols/registry.js';

export const PLATFORMS = {
  degu: 'degu',
  'micropython-ota': 'micropythonOta',
  insighio: 'insighIo',
  connhex: 'connhex',
  exosite: 'exosite',
  thingsboard: 'thingsBoard',
} as const satisfies Record<string, ProtocolName>;

export type PlatformName = keyof typeof PLATFORMS;

export const PLATFORM_NAMES = Object.keys(PLATFORMS) as PlatformName[];

/** The protocol object (loaded on demand: the registry pulls in every codec and zod). */
export async function protocolOf(platform: PlatformName): Promise<AnyProtocol> {
  const { PROTOCOLS } = await import('../protocols/registry.js');
  return PROTOCOLS[PLATFORMS[platform]];
}
