/**
 * The MQTT topics of one shadow, grouped the way a client uses them: where each operation is
 * published, and the `/accepted` and `/rejected` topics its answer comes back on. The names are
 * validated by the `degu` topic builders (a `/`, `+` or `#` in a name would reach other topics).
 *
 * @module
 */
import { type ShadowTopicKind, shadowTopics } from '../../protocols/degu/topics.js';
import type { ShadowAddress, ShadowOperation } from './types.js';

/** Where one operation is published, and where its answers arrive. */
export interface OperationTopics {
  request: string;
  accepted: string;
  rejected: string;
}

/** Every topic of one shadow, by kind, and per operation. */
export interface ShadowTopicSet {
  all: Record<ShadowTopicKind, string>;
  operations: Record<ShadowOperation, OperationTopics>;
}

/**
 * The topics of `address`.
 * @throws ManifestError naming `thingName` or `shadowName` when a name breaks the AWS rules.
 */
export function shadowTopicSet(address: ShadowAddress): ShadowTopicSet {
  const all = shadowTopics(address);
  const operation = (name: ShadowOperation): OperationTopics => ({
    request: all[name],
    accepted: all[`${name}/accepted`],
    rejected: all[`${name}/rejected`],
  });
  return {
    all,
    operations: { get: operation('get'), update: operation('update'), delete: operation('delete') },
  };
}

/**
 * The filters a shadow service subscribes to: the three request topics of every classic and
 * every named shadow. Narrower than `$aws/things/+/shadow/#`, so the service does not receive its
 * own answers back.
 */
export const SHADOW_REQUEST_FILTERS: readonly string[] = ['get', 'update', 'delete'].flatMap((operation) => [
  `$aws/things/+/shadow/${operation}`,
  `$aws/things/+/shadow/name/+/${operation}`,
]);
