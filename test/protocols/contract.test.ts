/**
 * The registry-driven contract suite: every protocol in the registry, device side and cloud side,
 * through the one contract. A protocol added to the registry is picked up here with no edit; it
 * only needs its fixture, `contract-fixtures/<name>.ts` (see types.ts there).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createUpdateMachine,
  isOtaError,
  KNOWN_SECRETS,
  manifestIntegrity,
  PROTOCOL_DESCRIPTORS,
  PROTOCOL_NAMES,
  type Protocol,
  parseManifest,
  redactHeaders,
  redactText,
  redactUrl,
  STATUS_MAPPINGS,
  type UpdateState,
  type UpdateStatus,
  type WireSource,
} from '../../src/index.js';
import { PROTOCOLS } from '../../src/protocols/registry.js';
import type { ContractFixture } from './contract-fixtures/types.js';

const fixtures = Object.fromEntries(
  await Promise.all(
    PROTOCOL_NAMES.map(async (name) => {
      const module = (await import(`./contract-fixtures/${name}.ts`)) as { default: ContractFixture };
      return [name, module.default] as const;
    }),
  ),
) as Record<string, ContractFixture>;

const RUNS = Number(process.env.OTAKIT_PROPERTY_RUNS ?? 200);

/** The states a device passes through in a clean update, as its machine reports them. */
const HAPPY_PATH: UpdateState[] = [
  'available',
  'downloading',
  'downloaded',
  'verifying',
  'installing',
  'installed',
  'committed',
];

function statusAt(
  machineId: string,
  state: UpdateState,
  previous: UpdateState | null,
  update: { id: string; version: string },
): UpdateStatus {
  const status: UpdateStatus = {
    machineId,
    updateId: state === 'idle' ? null : update.id,
    version: state === 'idle' ? null : update.version,
    state,
    previous,
    at: new Date(Date.UTC(2026, 11, 4, 12)).toISOString(),
  };
  if (state.endsWith('_failed')) {
    status.error = { name: 'OtaError', code: 'DOWNLOAD', message: 'connection reset', retryable: true };
  }
  return status;
}

/** A concrete address a message from `source` could arrive on (wildcards filled in). */
function addressOf(source: WireSource | undefined): string {
  if (source === undefined) return '';
  if (source.channel === 'mqtt') return source.filter.replaceAll('+', 'x').replace('#', 'x');
  return source.channel === 'nats' ? source.subject : source.request.address;
}

function expectTypedRefusal(thrown: unknown): void {
  expect(isOtaError(thrown), String(thrown)).toBe(true);
  expect((thrown as { code: string }).code).toBe('MANIFEST_INVALID');
}

describe('protocol registry', () => {
  it('lists the same protocols in the light and the full half, with the same identity', () => {
    expect(Object.keys(PROTOCOLS)).toEqual(PROTOCOL_NAMES);
    for (const name of PROTOCOL_NAMES) {
      const protocol = PROTOCOLS[name];
      const descriptor = PROTOCOL_DESCRIPTORS[name];
      expect(protocol.name).toBe(name);
      expect(protocol.title).toBe(descriptor.title);
      expect(protocol.integrity).toBe(descriptor.integrity);
      expect(protocol.secrets).toBe(descriptor.secrets);
      expect(protocol.statusMapping).toBe(descriptor.statusMapping);
      expect(STATUS_MAPPINGS[name]).toBe(descriptor.statusMapping);
    }
  });

  it("derives the known secrets from every protocol's declaration", () => {
    for (const name of PROTOCOL_NAMES) {
      const { secrets } = PROTOCOL_DESCRIPTORS[name];
      for (const parameter of secrets.queryParameters)
        expect(KNOWN_SECRETS.queryParameters).toContain(parameter);
      for (const header of secrets.headers) expect(KNOWN_SECRETS.headers).toContain(header);
      for (const path of secrets.paths) expect(KNOWN_SECRETS.paths).toContain(path);
    }
  });

  it('registers every protocol folder everywhere it must be: registries, root namespace, package subpath', async () => {
    const root = join(import.meta.dirname, '../..');
    const folders = readdirSync(join(root, 'src/protocols'), { withFileTypes: true })
      .filter(
        (entry) => entry.isDirectory() && existsSync(join(root, 'src/protocols', entry.name, 'protocol.ts')),
      )
      .map((entry) => entry.name);
    const index = readFileSync(join(root, 'src/index.ts'), 'utf8');
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      typesVersions: Record<string, Record<string, unknown>>;
    };
    const tsup = readFileSync(join(root, 'tsup.config.ts'), 'utf8');
    const names: string[] = [];
    for (const folder of folders) {
      const { descriptor } = (await import(`../../src/protocols/${folder}/descriptor.ts`)) as {
        descriptor: { name: string };
      };
      names.push(descriptor.name);
      expect(index, `src/index.ts namespace of ${folder}`).toContain(
        `export * as ${descriptor.name} from './protocols/${folder}/index.js';`,
      );
      expect(manifest.exports, `package.json exports of ${folder}`).toHaveProperty([`./protocols/${folder}`]);
      expect(manifest.typesVersions['*'], `typesVersions of ${folder}`).toHaveProperty([
        `protocols/${folder}`,
      ]);
      expect(tsup, `tsup entry of ${folder}`).toContain(
        `'protocols/${folder}/index': 'src/protocols/${folder}/index.ts'`,
      );
    }
    expect(names.sort()).toEqual([...PROTOCOL_NAMES].sort());
  });

  it('has a contract fixture for every registered protocol', () => {
    expect(Object.keys(fixtures).sort()).toEqual([...PROTOCOL_NAMES].sort());
  });
});

describe.each(PROTOCOL_NAMES)('%s through the contract', (name) => {
  // Driven through the generic contract type, as an agent written once for all protocols would.
  const protocol: Protocol = PROTOCOLS[name];
  const fixture = fixtures[name]!;
  const target = fixture.target;
  const manifest = parseManifest(fixture.manifest);

  it('accepts its fixture target and refuses an empty one with a typed error', () => {
    expect(() => protocol.targetSchema.parse(fixture.target)).not.toThrow();
    expect(protocol.targetSchema.safeParse({}).success).toBe(false);
  });

  it('has JSON-representable wire schemas', () => {
    expect(Object.keys(protocol.jsonSchemas).length).toBeGreaterThan(0);
  });

  it('delivers an order from the cloud side to the device side', () => {
    const { value: messages } = protocol.cloud.encodeOrder(manifest, target);
    expect(messages.length).toBeGreaterThan(0);
    const inbound = fixture.deliverOrder(messages, fixture.target);
    const decoded = inbound.map((message) => protocol.device.decodeOrder(message, { target }).value);
    const order = decoded.find((value) => value !== null);
    expect(order, 'the device found no order in what the cloud sent').toBeDefined();
    expect(
      order!.artifacts.map((artifact) => new URL(artifact.url, 'http://base.invalid/').pathname),
    ).toEqual(manifest.artifacts.map((artifact) => new URL(artifact.url, 'http://base.invalid/').pathname));
  });

  it('carries exactly the integrity its descriptor declares', () => {
    const { value: messages } = protocol.cloud.encodeOrder(manifest, target);
    const order = fixture
      .deliverOrder(messages, fixture.target)
      .map((message) => protocol.device.decodeOrder(message, { target }).value)
      .find((value) => value !== null)!;
    expect(manifestIntegrity(order)).toBe(protocol.integrity);
  });

  it('withdraws an order so that the device sees none', () => {
    const messages = protocol.cloud.encodeWithdrawal(target);
    if (!fixture.canWithdraw) return;
    expect(messages.length).toBeGreaterThan(0);
    for (const message of fixture.deliverOrder(messages, fixture.target)) {
      expect(protocol.device.decodeOrder(message, { target }).value).toBeNull();
    }
  });

  it('reports a whole update so that a tracker follows it to committed', async () => {
    const tracker = createUpdateMachine({ id: fixture.machineId, role: 'tracker' });
    const update = { id: manifest.id, version: manifest.version };
    let previous: UpdateState | null = 'idle';
    let delivered = 0;
    for (const state of HAPPY_PATH) {
      const messages = protocol.device.encodeStatus(statusAt(fixture.machineId, state, previous, update), {
        target,
      });
      previous = state;
      if (!fixture.reportsStatus) continue;
      for (const message of fixture.deliverStatus(messages, fixture.target)) {
        const snapshot = tracker.snapshot();
        const status = protocol.cloud.decodeStatus(message, {
          target,
          machineId: fixture.machineId,
          previous: { state: snapshot.state, update: snapshot.update },
        });
        if (status === null) continue;
        const result = await tracker.ingest(status);
        expect(result.accepted, result.accepted ? '' : result.error.message).toBe(true);
        delivered += 1;
      }
    }
    if (!fixture.reportsStatus) {
      expect(protocol.cloud.statusSources(target)).toEqual([]);
      return;
    }
    expect(delivered).toBeGreaterThan(0);
    expect(tracker.state).toBe('committed');
  });

  it('reports a failed download so that a tracker ends in a failure state', async () => {
    if (!fixture.reportsStatus) return;
    if (protocol.statusMapping.fromCanonical.download_failed === null) {
      // The platform has no word for it (Degu): the device must then say nothing at all.
      const status = statusAt(fixture.machineId, 'download_failed', 'downloading', {
        id: manifest.id,
        version: manifest.version,
      });
      expect(protocol.device.encodeStatus(status, { target })).toEqual([]);
      return;
    }
    const tracker = createUpdateMachine({ id: fixture.machineId, role: 'tracker' });
    const update = { id: manifest.id, version: manifest.version };
    const path: Array<[UpdateState, UpdateState | null]> = [
      ['available', 'idle'],
      ['downloading', 'available'],
      ['download_failed', 'downloading'],
    ];
    for (const [state, previous] of path) {
      const messages = protocol.device.encodeStatus(statusAt(fixture.machineId, state, previous, update), {
        target,
      });
      for (const message of fixture.deliverStatus(messages, fixture.target)) {
        const snapshot = tracker.snapshot();
        const status = protocol.cloud.decodeStatus(message, {
          target,
          machineId: fixture.machineId,
          previous: { state: snapshot.state, update: snapshot.update },
        });
        if (status !== null) await tracker.ingest(status);
      }
    }
    expect(['download_failed', 'install_failed', 'check_failed', 'verify_failed']).toContain(tracker.state);
  });

  it('refuses any malformed order with a typed error, never a raw exception', () => {
    const address = addressOf(protocol.device.orderSources(target)[0]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.uint8Array({ maxLength: 256 }),
          fc.json().map((json) => json),
          fc.constantFrom('{', '[]', 'null', '"__proto__"', '{"__proto__":{}}', '\u0000', '1e999'),
        ),
        (payload) => {
          try {
            protocol.device.decodeOrder({ address, payload }, { target });
          } catch (thrown) {
            expectTypedRefusal(thrown);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('refuses any malformed status with a typed error, never a raw exception', () => {
    if (!fixture.reportsStatus) return;
    const address = addressOf(protocol.cloud.statusSources(target)[0]);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array({ maxLength: 256 }), fc.json()), (payload) => {
        try {
          protocol.cloud.decodeStatus({ address, payload }, { target, machineId: fixture.machineId });
        } catch (thrown) {
          expectTypedRefusal(thrown);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('shows no credential of the target once its messages are redacted', () => {
    const update = { id: manifest.id, version: manifest.version };
    const messages = [
      ...protocol.cloud.encodeOrder(manifest, target).value,
      ...protocol.cloud.encodeWithdrawal(target),
      ...protocol.device.encodeStatus(statusAt(fixture.machineId, 'downloading', 'available', update), {
        target,
      }),
      ...protocol.device.bootReport(update, { target }),
    ];
    for (const message of messages) {
      const printed = `${redactUrl(message.address)} ${redactText(message.payload)} ${JSON.stringify(redactHeaders({ ...message.headers }))}`;
      for (const secret of fixture.secrets) expect(printed).not.toContain(secret);
    }
  });
});
