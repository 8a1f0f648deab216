/**
 * The valid messages every registered protocol produces, built from its contract fixture
 * (test/protocols/contract-fixtures/<name>.ts): the seeds the protocol fuzzers mutate. A protocol
 * added to the registry (with its fixture, which the contract suite requires) is seeded here with
 * no edit.
 */
import * as otakit from '../../src/index.js';
import {
  type InboundMessage,
  PROTOCOL_NAMES,
  UPDATE_STATES,
  type UpdateState,
  type UpdateStatus,
} from '../../src/index.js';
import type { Protocol } from '../../src/protocols/contract.js';
import { PROTOCOLS } from '../../src/protocols/registry.js';
import type { ContractFixture } from '../protocols/contract-fixtures/types.js';

const fixtures = Object.fromEntries(
  await Promise.all(
    PROTOCOL_NAMES.map(async (name) => {
      const module = (await import(`../protocols/contract-fixtures/${name}.ts`)) as {
        default: ContractFixture;
      };
      return [name, module.default] as const;
    }),
  ),
) as Record<string, ContractFixture>;

/** Every canonical state (the library's own list, so a new state is fuzzed with no edit). */
export const STATES: readonly UpdateState[] = UPDATE_STATES;

function statusAt(
  machineId: string,
  state: UpdateState,
  update: { id: string; version: string },
): UpdateStatus {
  const status: UpdateStatus = {
    machineId,
    updateId: state === 'idle' ? null : update.id,
    version: state === 'idle' ? null : update.version,
    state,
    previous: null,
    at: new Date(Date.UTC(2026, 11, 4, 12)).toISOString(),
  };
  if (state.endsWith('_failed') || state === 'rolled_back' || state === 'canceled') {
    status.error = { name: 'OtaError', code: 'DOWNLOAD', message: 'connection reset', retryable: true };
  }
  if (state === 'downloading') status.progress = { bytes: 10, total: 100, bytesPerSecond: 5 };
  return status;
}

export interface Seeds {
  protocol: Protocol;
  fixture: ContractFixture;
  orders: InboundMessage[];
  statuses: InboundMessage[];
  memories: unknown[];
}

/** The valid messages each protocol's fixture yields: orders, withdrawals, statuses, boot reports. */
function seedsOf(name: string): Seeds {
  const protocol = PROTOCOLS[name as keyof typeof PROTOCOLS] as unknown as Protocol;
  const fixture = fixtures[name]!;
  const { target } = fixture;
  const manifest = otakit.parseManifest(fixture.manifest);
  const update = { id: manifest.id, version: manifest.version };
  const orders = [
    ...fixture.deliverOrder(protocol.cloud.encodeOrder(fixture.manifest, target).value, target),
    ...fixture.deliverOrder(protocol.cloud.encodeWithdrawal(target), target),
    // Delivered again after the withdrawal, so stateful fixtures hold the order again.
    ...fixture.deliverOrder(protocol.cloud.encodeOrder(fixture.manifest, target).value, target),
  ];
  const statuses = [
    ...STATES.flatMap((state) =>
      fixture.deliverStatus(
        protocol.device.encodeStatus(statusAt(fixture.machineId, state, update), { target }),
        target,
      ),
    ),
    ...fixture.deliverStatus(protocol.device.bootReport(update, { target, current: update }), target),
    ...fixture.deliverStatus(protocol.device.bootReport(null, { target }), target),
  ];
  const memories: unknown[] = [];
  for (const message of orders) {
    const decoded = protocol.device.decodeOrder(message, { target });
    if (decoded.memory !== undefined) memories.push(decoded.memory);
  }
  return { protocol, fixture, orders, statuses, memories };
}

export const SEEDS = PROTOCOL_NAMES.map((name) => [name, seedsOf(name)] as const);
