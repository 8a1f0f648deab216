import { describe, expect, it } from 'vitest';
import { deadlineSignal, raceAbort, sleep } from '../src/core/abort.js';
import { backoffDelay } from '../src/core/retry.js';
import { DEFAULT_RETRY, systemClock } from '../src/index.js';
import { ManualClock } from '../src/testing/index.js';

describe('backoff', () => {
  it('grows exponentially up to the cap, without jitter', () => {
    const policy = { ...DEFAULT_RETRY, jitter: 'none' as const, baseDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5, 6].map((retry) => backoffDelay(policy, retry))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it('spreads retries uniformly below the exponential delay with full jitter', () => {
    const policy = { ...DEFAULT_RETRY, baseDelayMs: 1_000 };
    expect(backoffDelay(policy, 3, () => 0)).toBe(0);
    expect(backoffDelay(policy, 3, () => 0.5)).toBe(2_000);
    expect(backoffDelay(policy, 3, () => 0.999)).toBe(3_996);
  });
});

describe('clock-driven helpers', () => {
  it('sleep waits on the injected clock and can be aborted', async () => {
    const clock = new ManualClock();
    let done = false;
    const slept = sleep(1_000, clock).then(() => {
      done = true;
    });
    await clock.advance(999);
    expect(done).toBe(false);
    await clock.advance(1);
    await slept;
    expect(done).toBe(true);

    const controller = new AbortController();
    const aborted = sleep(1_000, clock, controller.signal);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(clock.pendingTimers).toBe(0);
  });

  it('a deadline aborts with a TimeoutError, and disposing clears its timer', async () => {
    const clock = new ManualClock();
    const parent = new AbortController();
    const deadline = deadlineSignal(parent.signal, 500, clock, 'install hook');
    const raced = expect(raceAbort(new Promise(() => {}), deadline.signal)).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: 'install hook timed out after 500 ms',
    });
    await clock.advance(500);
    await raced;
    deadline.dispose();
    const second = deadlineSignal(parent.signal, 500, clock, 'x');
    expect(clock.pendingTimers).toBe(1);
    second.dispose();
    expect(clock.pendingTimers).toBe(0);
  });

  it('a deadline follows its parent signal', () => {
    const parent = new AbortController();
    const deadline = deadlineSignal(parent.signal, undefined, systemClock, 'x');
    parent.abort(new Error('parent gone'));
    expect(deadline.signal.aborted).toBe(true);
    expect((deadline.signal.reason as Error).message).toBe('parent gone');
  });

  it('ManualClock fires timers in time order, including ones scheduled while advancing', async () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@20'), 20);
    clock.setTimeout(() => {
      fired.push('a@10');
      clock.setTimeout(() => fired.push('c@15'), 5);
    }, 10);
    await clock.advance(30);
    expect(fired).toEqual(['a@10', 'c@15', 'b@20']);
    expect(clock.now()).toBe(30);
  });
});
