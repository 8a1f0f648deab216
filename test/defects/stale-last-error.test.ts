// A new update must not carry the error of the one before it: the machine kept `lastError` when
// it left idle for the next update, so that update's `committed` outcome (and its committed
// status, which protocols encode) still held the previous failure (seen with the ThingsBoard
// agent: a committed 1.2 whose outcome named the checksum mismatch of an earlier 1.2 attempt).
import { describe, expect, it } from 'vitest';
import type { UpdateStatus } from '../../src/index.js';
import { manifestFor } from '../../src/testing/index.js';
import { ARTIFACT_URL, CONTENT, rig } from '../support/fixtures.js';

describe('defect: lastError of a previous update', () => {
  it('is not in the outcome nor the statuses of the next update', async () => {
    const { build } = rig();
    const statuses: UpdateStatus[] = [];
    const machine = build(undefined, {
      hooks: {
        ...rig().device.hooks,
        report: async ({ status }) => void statuses.push(status),
      },
    });
    const good = await manifestFor('u2', '2.0.0', CONTENT);
    const bad = {
      ...good,
      id: 'u1',
      version: '1.0.0',
      artifacts: [{ ...good.artifacts[0]!, sha256: 'ab'.repeat(32) }],
    };
    expect(bad.artifacts[0]!.url).toBe(ARTIFACT_URL);
    const failed = await machine.apply(bad);
    expect(failed.state).not.toBe('committed');
    expect(failed.error).not.toBeNull();
    statuses.length = 0;
    const committed = await machine.apply(good);
    expect(committed).toMatchObject({ state: 'committed', error: null });
    expect(statuses.map((status) => [status.state, status.error])).toEqual(
      statuses.map((status) => [status.state, null]),
    );
  });
});
