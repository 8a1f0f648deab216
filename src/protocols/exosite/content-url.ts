/**
 * Where Exosite content (a `FILE` manifest's content ids) is downloaded from: the base URL that
 * `toCanonical` turns content ids into download URLs with. The rest of the provisioning API
 * (activation, content listing) is for a device agent and lives in `otakit/node`
 * (`exositeProvisioning`).
 *
 * @module
 */
import { deviceApiOrigin } from './http.js';

/**
 * The content API base, `…/provision/download?vendor=<pid>&model=<pid>`: give it to `resolvePayloadItem` /
 * `toCanonical` so content ids become download URLs (`&id=<id>` appended). Whether current IoT Connectors
 * still need `vendor`/`model` is not documented (docs/protocols/exosite.md, "HTTP device API").
 */
export function contentBaseUrl(productId: string, options: { domain?: string } = {}): string {
  const origin = deviceApiOrigin(productId, options);
  return `${origin}/provision/download?vendor=${productId}&model=${productId}`;
}
