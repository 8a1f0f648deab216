/**
 * The device side of the Degu protocol object: where orders arrive (the shadow's `/update/delta`
 * and the answer to `/get`), what they mean as a canonical manifest, and what the device puts
 * back into `reported` (docs/protocols/degu.md, "How an order reaches the device" and "The boot
 * report").
 *
 * A Degu says one thing only: the MD5s of the files it runs. So the device speaks when an update
 * took effect (`committed`: the MD5s of the items it installed) and at boot; every other state,
 * failures included, is silent, as on the reference sensor.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import type { UpdateRef, UpdateStatus } from '../../core/status.js';
import { UpdateStatusSchema } from '../../core/status.js';
import { parseWith } from '../../core/validate.js';
import type { Manifest } from '../../manifest/schema.js';
import type {
  DeviceCodec,
  OrderContext,
  OrderDecoding,
  StatusContext,
  WireMessage,
  WireSource,
} from '../contract.js';
import type { Conversion } from '../conversion.js';
import { applyStatement, decodeStatement, STATEMENT_KEY } from '../signed-statement.js';
import type { DeguCurrent, DeguOrder } from './check.js';
import { toCanonical } from './codec.js';
import { decodeMessage } from './decode.js';
import { checkInbound } from './inbound.js';
import { memoryJson, mergeDelta, orderState, readMemory, reportedState } from './memory.js';
import { itemsOfOrderId, reportedOfUpdate } from './order-ref.js';
import { encodeItemsReport } from './report.js';
import { DEGU_ITEMS, type DeguReported, verKey } from './schemas.js';
import { isSameShadow, parseTarget, type Target } from './target.js';
import { type ShadowAddress, shadowTopic } from './topics.js';

/** The topics an order arrives on: the delta after an update, and the answer to the boot `/get`. */
const ORDER_TOPICS = ['update/delta', 'get/accepted', 'get/rejected'] as const;

function mqttMessage(address: string, payload: string): WireMessage {
  return { channel: 'mqtt', address, payload, qos: 1 };
}

/** Only the `*_ver` keys of a `reported` section: the rest (`firmware_ver`, other apps' keys) says nothing of an order. */
function degusReported(reported: DeguReported | undefined): DeguCurrent {
  const out: { [key: string]: string } = {};
  for (const item of DEGU_ITEMS) {
    const md5 = reported?.[verKey(item)];
    if (md5 !== undefined) out[verKey(item)] = md5;
  }
  return out as DeguCurrent;
}

/**
 * The order with the signed statement of `desired` (`otakit_manifest`, JSON text) applied. The
 * statement is matched against every item `desired` orders, matching MD5s included (AWS's delta
 * and the device's decision leave those out, but the signature covers them all): a signed Degu
 * order installs every item it names.
 */
function withStatement(
  decoded: Conversion<Manifest | null>,
  desired: DeguOrder | null | undefined,
): Conversion<Manifest | null> {
  const statement = (desired as { [key: string]: unknown } | null | undefined)?.[STATEMENT_KEY];
  if (decoded.value === null || statement === undefined || statement === null) return decoded;
  const whole = toCanonical({ desired }).value;
  if (whole === null) return decoded;
  // A Degu order's id is made of its items' MD5s, so a statement with another id belongs to an
  // earlier order: the cloud writes unsigned orders without touching `otakit_manifest` (the
  // shadow's wire stays byte for byte the platform's), so an earlier signed order's statement
  // stays in `desired` and rides in every delta. It is ignored, and the order is the unsigned
  // one it is: a device that requires signatures still refuses it (`unsigned`), so ignoring it
  // opens nothing. A statement with this order's id must match it item for item.
  const stale = staleStatementId(statement, whole.id);
  if (stale !== undefined) {
    return {
      ...decoded,
      lost: [
        ...decoded.lost,
        {
          field: STATEMENT_KEY,
          reason: `the statement of an earlier order (${stale}), not of ${whole.id}: ignored, the order is unsigned`,
        },
      ],
    };
  }
  const applied = applyStatement({ value: whole, lost: [] }, statement, { wireVersion: false });
  return { ...decoded, value: applied.value };
}

/** The statement's id when it is another order's; `undefined` when it is this order's (or unreadable: then applying it names the fault). */
function staleStatementId(statement: unknown, orderId: string): string | undefined {
  let id: string;
  try {
    id = decodeStatement(statement).id;
  } catch {
    return undefined;
  }
  return id === orderId ? undefined : id;
}

function decodeOrder(message: unknown, context: OrderContext<Target>): OrderDecoding {
  const address = parseTarget(context?.target);
  const { payload, topic } = checkInbound(message, 'Degu order message');
  const kind = topic !== undefined && isSameShadow(address, topic) ? topic.kind : undefined;
  // What the device itself knows it runs wins over the shadow's `reported`, which may predate
  // the device's last boot report.
  const current = reportedOfUpdate(context?.current);
  switch (kind) {
    case 'update/delta': {
      const delta = decodeMessage('update/delta', payload);
      const { memory: remembered, lost } = readMemory(context?.memory);
      // QoS 1 redelivers and MQTT does not order across reconnects: a delta that is not newer
      // than the last document read describes a state the shadow has already left.
      if (remembered !== undefined && delta.version <= remembered.version) {
        return {
          value: null,
          lost: [
            {
              field: 'version',
              reason: `stale delta: version ${delta.version} is not newer than ${remembered.version}, the last one read`,
            },
          ],
        };
      }
      const desired = mergeDelta(remembered?.desired, orderState(delta.state));
      const reported = remembered?.reported ?? {};
      const decoded = withStatement(toCanonical({ desired, reported: { ...reported, ...current } }), desired);
      return {
        value: decoded.value,
        lost: [...lost, ...decoded.lost],
        memory: memoryJson({ version: delta.version, desired, reported }),
      };
    }
    case 'get/accepted': {
      // The whole shadow: it replaces what was remembered, whatever its version (a shadow deleted
      // and created again starts counting anew).
      const { state, version } = decodeMessage('get/accepted', payload);
      const { lost } = readMemory(context?.memory);
      const decoded = withStatement(
        toCanonical({
          desired: state.desired,
          reported: { ...degusReported(state.reported), ...current },
        }),
        state.desired,
      );
      return {
        value: decoded.value,
        lost: [...lost, ...decoded.lost],
        memory: memoryJson({
          version,
          desired: orderState(state.desired),
          reported: reportedState(state.reported),
        }),
      };
    }
    case 'get/rejected': {
      const { code } = decodeMessage('rejected', payload);
      // 404: the shadow does not exist (any more), so nothing is ordered and nothing to remember.
      if (code === 404) return { value: null, lost: [], memory: null };
      throw new ManifestError('Degu order message', [
        {
          path: 'code',
          expected: `404 (no shadow yet) on get/rejected; the service refused the /get with ${code}`,
        },
      ]);
    }
    default:
      throw new ManifestError('Degu order message', [
        { path: 'address', expected: `one of ${orderTopics(address).join(', ')}` },
      ]);
  }
}

function orderTopics(address: ShadowAddress): string[] {
  return ORDER_TOPICS.map((kind) => shadowTopic(address, kind));
}

function encodeStatus(status: UpdateStatus, context: StatusContext<Target>): WireMessage[] {
  const address = parseTarget(context?.target);
  const { state, updateId } = parseWith(UpdateStatusSchema, status, 'update status');
  // Only a success changes what the device runs, so only a success has something new to report;
  // an update id that is not a Degu order names no MD5s to report.
  const items = state === 'committed' ? itemsOfOrderId(updateId) : undefined;
  if (items === undefined) return [];
  return [mqttMessage(shadowTopic(address, 'update'), JSON.stringify(encodeItemsReport(items)))];
}

function bootReport(current: UpdateRef | null, context: StatusContext<Target>): WireMessage[] {
  const address = parseTarget(context?.target);
  const messages: WireMessage[] = [];
  const items = itemsOfOrderId(current?.id);
  if (items !== undefined) {
    messages.push(mqttMessage(shadowTopic(address, 'update'), JSON.stringify(encodeItemsReport(items))));
  }
  // AWS publishes a delta only when an update is accepted: a device that boots while an order
  // already waits learns of it only by asking.
  messages.push(mqttMessage(shadowTopic(address, 'get'), ''));
  return messages;
}

/**
 * The device side: subscribe to {@link DeviceCodec.orderSources}, publish
 * {@link DeviceCodec.bootReport} once subscribed, feed every message into
 * {@link DeviceCodec.decodeOrder}.
 */
export const device: DeviceCodec<Target> = {
  orderSources(target): WireSource[] {
    return orderTopics(parseTarget(target)).map((filter) => ({ channel: 'mqtt', filter, qos: 1 }));
  },
  decodeOrder,
  encodeStatus,
  bootReport,
};
