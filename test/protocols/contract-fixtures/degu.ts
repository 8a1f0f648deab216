/**
 * Degu for the registry-driven contract suite. Orders and statuses travel through the shadow
 * service model of `otakit/testing`, as they would through AWS IoT: the cloud's `/update` request
 * is applied to a shadow whose `reported` is the boot report of a sensor running something else
 * (vector D1), and the device receives the `/update/delta` AWS publishes (or, when there is no
 * delta, as after a withdrawal, the `/get/accepted` answer a device gets by asking). The device's
 * `/update` reports are applied to a shadow holding the last order delivered, and the cloud
 * receives the `/update/documents` message AWS publishes after it, from which it reads whether
 * the device now runs the order.
 */
import type { InboundMessage, WireMessage } from '../../../src/index.js';
import type { JsonObject, Target } from '../../../src/protocols/degu/index.js';
import * as degu from '../../../src/protocols/degu/index.js';
import { shadowModel } from '../../../src/testing/index.js';
import type { ContractFixture } from './types.js';

const THING = 'A1B2C3D4E5F60718';
const T = 1_591_057_529;
const MAIN_B_URL =
  'https://raw.githubusercontent.com/open-degu/degu-micropython-samples/master/basic/remote_update/main_B.py';
const MAIN_B_MD5 = '4f3e01b7dc12348ebbd1acfe11ef6328';

/** What the sensor of vector D1 reports: main.py = "print('hello')\n", no CONFIG, firmware c4ff…. */
const D1_REPORTED: JsonObject = {
  script_user_ver: '100e360cc768f15a35ed9ddf05e354ce',
  config_user_ver: 'none',
  firmware_system_ver: 'c4ff012243272695c13fa5b2f9a62b1e',
  firmware_ver: '1.0.0-rc1',
};

/** The order of vector D3: main_B.py, with its real MD5; id and version as Degu derives them. */
const manifest = {
  id: degu.orderId([{ item: 'script_user', md5: MAIN_B_MD5 }]),
  version: MAIN_B_MD5,
  artifacts: [{ url: MAIN_B_URL, md5: MAIN_B_MD5, target: 'script' as const, name: 'main.py' }],
};

function key(target: Target): string {
  return `${target.thingName}/${target.shadowName ?? ''}`;
}

function address(target: Target): degu.ShadowAddress {
  return target.shadowName === undefined
    ? { thingName: target.thingName }
    : { thingName: target.thingName, shadowName: target.shadowName };
}

/** The last order each target's cloud set in `desired`; starts with the fixture's own order. */
const desiredOf = new Map<string, JsonObject | undefined>();

function initialDesired(): JsonObject {
  return degu.fromCanonical(manifest).value.state.desired as JsonObject;
}

/** A shadow holding the target's current order and the D1 device's report. */
function shadowOf(target: Target): shadowModel.StoredShadow {
  const desired = desiredOf.has(key(target)) ? desiredOf.get(key(target)) : initialDesired();
  const created = shadowModel.applyUpdate(
    undefined,
    { state: { ...(desired === undefined ? {} : { desired }), reported: D1_REPORTED } },
    { timestamp: T },
  );
  if (!created.ok) throw new Error(`fixture shadow refused: ${created.error.message}`);
  return created.shadow;
}

function inbound(target: Target, kind: degu.ShadowTopicKind, document: unknown): InboundMessage {
  return { address: degu.shadowTopic(address(target), kind), payload: JSON.stringify(document) };
}

function isTopic(message: WireMessage, target: Target, kind: degu.ShadowTopicKind): boolean {
  return message.channel === 'mqtt' && message.address === degu.shadowTopic(address(target), kind);
}

const fixture: ContractFixture<Target> = {
  target: { thingName: THING },
  machineId: THING,
  manifest,
  deliverOrder(messages, target) {
    const received: InboundMessage[] = [];
    for (const message of messages) {
      const shadow = shadowOf(target);
      if (isTopic(message, target, 'get')) {
        const got = shadowModel.getShadow(shadow, address(target), { timestamp: T });
        received.push(
          got.ok ? inbound(target, 'get/accepted', got.accepted) : inbound(target, 'get/rejected', got.error),
        );
        continue;
      }
      if (!isTopic(message, target, 'update')) continue;
      const result = shadowModel.applyUpdate(shadow, message.payload, { timestamp: T + 1 });
      if (!result.ok) {
        received.push(inbound(target, 'update/rejected', result.error));
        continue;
      }
      // A withdrawal is delivered but not remembered: statuses are read against the last order.
      if (degu.desiredItems(result.shadow.state.desired as degu.DeguOrder).length > 0) {
        desiredOf.set(key(target), result.shadow.state.desired);
      }
      if (result.delta !== undefined) {
        received.push(inbound(target, 'update/delta', result.delta));
      } else {
        const got = shadowModel.getShadow(result.shadow, address(target), { timestamp: T + 1 });
        if (got.ok) received.push(inbound(target, 'get/accepted', got.accepted));
      }
    }
    return received;
  },
  deliverStatus(messages, target) {
    const received: InboundMessage[] = [];
    for (const message of messages) {
      // The device's /get is answered to the device; the cloud hears only accepted updates.
      if (!isTopic(message, target, 'update')) continue;
      const result = shadowModel.applyUpdate(shadowOf(target), message.payload, { timestamp: T + 2 });
      if (result.ok) received.push(inbound(target, 'update/documents', result.documents));
    }
    return received;
  },
  secrets: [],
  reportsStatus: true,
  canWithdraw: true,
};

export default fixture;
