/**
 * Which device a protocol target stands for, when `ingestMessage` is not told. Only targets that
 * carry a public device identifier have one here: a ThingsBoard target's only identifier is its
 * access token, a credential that must never become a key, a log field or a dashboard label.
 *
 * @module
 */

/** Turns a protocol and a target into a device id, or `undefined` when it cannot tell. */
export type DeviceIdOf = (protocol: string, target: unknown) => string | undefined;

function stringField(target: unknown, key: string): string | undefined {
  if (typeof target !== 'object' || target === null) return undefined;
  const value = (target as Record<string, unknown>)[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * The default: Degu's `thingName`, Connhex's `initId`, insigh.io's `deviceId`, Exosite's
 * `identity`; `undefined` for ThingsBoard and micropython_ota (pass `deviceId`).
 */
export const defaultDeviceIdOf: DeviceIdOf = (protocol, target) => {
  switch (protocol) {
    case 'degu':
      return stringField(target, 'thingName');
    case 'connhex':
      return stringField(target, 'initId');
    case 'insighIo':
      return stringField(target, 'deviceId');
    case 'exosite':
      return stringField(target, 'identity');
    default:
      return undefined;
  }
};
