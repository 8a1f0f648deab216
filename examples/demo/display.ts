/**
 * Live progress: on a terminal, a `cli-progress` multibar with one bar per platform (devices
 * settled) and one per device (bytes downloaded, bytes/s, the machine's state); elsewhere (CI,
 * a pipe) plain lines, one per notable transition.
 */
import cliProgress from 'cli-progress';
import type { DeviceWatcher, PlatformName } from './common.js';
import { TITLES } from './common.js';

const FAILED = new Set([
  'check_failed',
  'download_failed',
  'verify_failed',
  'install_failed',
  'rolled_back',
  'canceled',
]);
const NOTABLE = new Set(['downloading', 'installing', 'committed', 'rolling_back', ...FAILED]);

export const kib = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(0)} KiB`);
export const rate = (bytesPerSecond: number) =>
  bytesPerSecond >= 1e6
    ? `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`
    : `${(bytesPerSecond / 1e3).toFixed(0)} kB/s`;

export interface Display {
  /** A watcher for one platform's devices. */
  platform(platform: PlatformName, devices: readonly string[]): DeviceWatcher;
  say(line: string): void;
  stop(): void;
}

interface DeviceView {
  state: string;
  bytes: number;
  total: number | null;
  bytesPerSecond: number;
  reportedDone: boolean;
}

export function createDisplay(tty: boolean): Display {
  return tty ? new BarDisplay() : new PlainDisplay();
}

class PlainDisplay implements Display {
  platform(platform: PlatformName): DeviceWatcher {
    const views = new Map<string, DeviceView>();
    const view = (id: string) => {
      let found = views.get(id);
      if (found === undefined) {
        found = { state: 'idle', bytes: 0, total: null, bytesPerSecond: 0, reportedDone: false };
        views.set(id, found);
      }
      return found;
    };
    return {
      state: (deviceId, state, detail) => {
        const device = view(deviceId);
        device.state = state;
        if (state === 'downloading') device.reportedDone = false;
        if (state === 'downloaded' && !device.reportedDone && device.bytes > 0) {
          device.reportedDone = true;
          this.say(
            `[${TITLES[platform]}] ${deviceId}: downloaded ${kib(device.bytes)} at ${rate(device.bytesPerSecond)}`,
          );
        }
        if (NOTABLE.has(state))
          this.say(`[${TITLES[platform]}] ${deviceId}: ${state}${detail ? `  (${detail})` : ''}`);
      },
      progress: (deviceId, bytes, total, bytesPerSecond) => {
        Object.assign(view(deviceId), { bytes, total, bytesPerSecond });
      },
    };
  }
  say(line: string): void {
    console.log(line);
  }
  stop(): void {}
}

class BarDisplay implements Display {
  readonly #multibar = new cliProgress.MultiBar(
    {
      format: '{name} {bar} {value}/{total} {unit} | {speed} | {state}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );

  platform(platform: PlatformName, devices: readonly string[]): DeviceWatcher {
    const title = TITLES[platform].padEnd(16);
    const head = this.#multibar.create(devices.length, 0, {
      name: title,
      unit: 'devices',
      speed: '',
      state: 'waiting',
    });
    const views = new Map<string, DeviceView>();
    const bars = new Map<string, cliProgress.SingleBar>();
    for (const id of devices) {
      views.set(id, { state: 'idle', bytes: 0, total: null, bytesPerSecond: 0, reportedDone: false });
      bars.set(
        id,
        this.#multibar.create(1, 0, { name: `  ${id}`.padEnd(16), unit: 'KiB', speed: '', state: 'idle' }),
      );
    }
    const refreshHead = () => {
      let committed = 0;
      let failed = 0;
      let busy = 0;
      for (const view of views.values()) {
        if (view.state === 'committed') committed += 1;
        else if (FAILED.has(view.state)) failed += 1;
        else if (view.state !== 'idle') busy += 1;
      }
      head.update(committed + failed, {
        state: `${committed} committed, ${failed} failed, ${busy} updating`,
      });
    };
    const draw = (id: string) => {
      const view = views.get(id)!;
      const bar = bars.get(id)!;
      const total = Math.max(1, Math.ceil((view.total ?? view.bytes) / 1024));
      bar.setTotal(total);
      const done = view.state === 'committed' || view.state === 'installed' || view.state === 'installing';
      bar.update(done && view.bytes > 0 ? total : Math.ceil(view.bytes / 1024), {
        speed: view.bytesPerSecond > 0 ? rate(view.bytesPerSecond) : '',
        state: view.state,
      });
    };
    return {
      state: (deviceId, state) => {
        const view = views.get(deviceId);
        if (view === undefined) return;
        view.state = state;
        draw(deviceId);
        refreshHead();
      },
      progress: (deviceId, bytes, total, bytesPerSecond) => {
        const view = views.get(deviceId);
        if (view === undefined) return;
        Object.assign(view, { bytes, total, bytesPerSecond });
        draw(deviceId);
      },
    };
  }

  say(line: string): void {
    this.#multibar.log(`${line}\n`);
  }

  // Called once the rollouts end and again on the way out (the `finally`): stopping twice would
  // print the cursor-restore escape a second time, after the summary table.
  #stopped = false;

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#multibar.stop();
  }
}
