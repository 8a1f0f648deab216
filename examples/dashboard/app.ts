/**
 * The dashboard, in the browser: plain DOM, the root `otakit` entry only (bundled by build.ts).
 *
 * - A manifest box: the pasted JSON checked with `safeParseManifest` (the root entry's zod
 *   schemas); every issue of the `ManifestError` shown as its path and what was expected there.
 * - The fleet and the rollouts, as the server streams them (`GET /events`, `event: snapshot`, one
 *   `DemoStreamPayload` each): per platform, each device's state (and the platform's own word for
 *   it, from `STATUS_MAPPINGS`), a progress bar with bytes/s while it downloads; per rollout, its
 *   state and reason, waves with sizes and counts by state, and failures per kind.
 */
import {
  type DeviceSnapshot,
  type FleetSnapshot,
  PROTOCOL_NAMES,
  type ProtocolName,
  type RolloutSnapshot,
  STATUS_MAPPINGS,
  safeParseManifest,
  type UpdateState,
} from '../../src/index.js';
import type { DemoPlatformSnapshot, DemoStreamPayload } from './payload.js';

type Child = Node | string | number | null | undefined | false;

/** Creates an element: `attrs` become attributes (`class`, `data-*`…), children are appended. */
function h(tag: string, attrs: Record<string, string | number | undefined> = {}, ...children: Child[]) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs))
    if (value !== undefined) element.setAttribute(name, String(value));
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'object' ? child : String(child));
  }
  return element;
}

function byId(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from the page`);
  return element;
}

const FAILED: ReadonlySet<UpdateState> = new Set([
  'check_failed',
  'download_failed',
  'verify_failed',
  'install_failed',
  'rolled_back',
  'canceled',
]);

/** `ok`, `bad` or `busy`, for the colour of a state. */
function tone(state: UpdateState): string {
  if (state === 'committed') return 'ok';
  if (FAILED.has(state)) return 'bad';
  return state === 'idle' ? 'idle' : 'busy';
}

function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KiB`;
  return `${(count / 1024 / 1024).toFixed(1)} MiB`;
}

/** The platform's own word for a canonical state, when it has one. */
function platformWord(platform: string, state: UpdateState): string | null {
  if (!(PROTOCOL_NAMES as readonly string[]).includes(platform)) return null;
  const word: unknown = STATUS_MAPPINGS[platform as ProtocolName].fromCanonical[state];
  return typeof word === 'string' || typeof word === 'number' ? String(word) : null;
}

// ——— the manifest box ———

const EXAMPLE_MANIFEST = {
  id: 'app-2.0.0',
  version: '2.0.0',
  artifacts: [{ url: 'https://updates.example.com/app-2.0.0.bin', target: 'firmware', size: 4096 }],
};

function checkManifest(text: string): void {
  const status = byId('manifest-status');
  const list = byId('manifest-issues');
  list.replaceChildren();
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    status.textContent = 'not JSON';
    status.dataset.valid = 'false';
    list.append(h('li', {}, (error as Error).message));
    return;
  }
  const result = safeParseManifest(input);
  if (result.success) {
    status.textContent = 'valid';
    status.dataset.valid = 'true';
    return;
  }
  const { issues } = result.error;
  status.textContent = `invalid: ${issues.length} issue${issues.length === 1 ? '' : 's'}`;
  status.dataset.valid = 'false';
  for (const issue of issues)
    list.append(
      h(
        'li',
        { 'data-path': issue.path },
        h('code', {}, issue.path || '(root)'),
        ': expected ',
        issue.expected,
      ),
    );
}

// ——— the fleet ———

function deviceRow(platform: string, device: DeviceSnapshot): HTMLElement {
  const word = platformWord(platform, device.state);
  const progress = device.state === 'downloading' ? device.progress : null;
  let bar: HTMLElement | null = null;
  if (progress !== null) {
    const share = progress.total ? Math.min(1, progress.bytes / progress.total) : null;
    bar = h(
      'div',
      { class: 'progress' },
      h('progress', share === null ? {} : { max: 1, value: share.toFixed(3) }),
      h(
        'span',
        {},
        `${bytes(progress.bytes)}${progress.total === null ? '' : ` of ${bytes(progress.total)}`}, ${bytes(
          Math.round(progress.bytesPerSecond),
        )}/s`,
      ),
    );
  }
  const update = device.update ?? device.current;
  // A device back at rest (`idle`) after an update: how that update ended.
  const outcome = device.state === 'idle' ? device.lastOutcome?.state : undefined;
  return h(
    'tr',
    { 'data-device': device.deviceId, 'data-state': device.state, 'data-outcome': outcome },
    h('td', {}, h('code', {}, device.deviceId)),
    h(
      'td',
      {},
      h('span', { class: `state ${tone(device.state)}` }, device.state),
      word === null
        ? null
        : h(
            'span',
            { class: 'word', 'data-word': word, title: `what ${platform} reports for it` },
            `(${word})`,
          ),
      outcome === undefined ? null : h('span', { class: 'outcome' }, `last update: ${outcome}`),
      bar,
    ),
    h('td', {}, update === null ? '—' : `${update.id}${update.version ? ` (${update.version})` : ''}`),
    h('td', { class: 'error' }, device.lastError?.message ?? ''),
  );
}

function platformCard({ platform, title, fleet }: DemoPlatformSnapshot): HTMLElement {
  return h(
    'section',
    { class: 'card', 'data-platform': platform },
    h('h3', {}, title, h('small', {}, ` ${fleet.total} device${fleet.total === 1 ? '' : 's'}`)),
    countsLine(fleet),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'device'), h('th', {}, 'state'), h('th', {}, 'update'), h('th')),
      ),
      h('tbody', {}, ...fleet.devices.map((device) => deviceRow(platform, device))),
    ),
  );
}

function countsLine(fleet: FleetSnapshot): HTMLElement {
  const entries = Object.entries(fleet.counts).filter(([, count]) => count > 0) as [UpdateState, number][];
  return h(
    'p',
    { class: 'counts' },
    ...entries.map(([state, count]) => h('span', { class: `state ${tone(state)}` }, `${state} ${count}`)),
  );
}

// ——— the rollouts ———

function counts(record: Record<string, number>): string {
  const shown = Object.entries(record).filter(([, count]) => count > 0);
  return shown.length === 0 ? '—' : shown.map(([state, count]) => `${state} ${count}`).join(', ');
}

function rolloutCard(rollout: RolloutSnapshot): HTMLElement {
  const reason = rollout.reason;
  return h(
    'section',
    { class: 'card', 'data-rollout': rollout.id, 'data-state': rollout.state },
    h(
      'h3',
      {},
      rollout.id,
      ' ',
      h('span', { class: `rollout-state ${rollout.state}` }, rollout.state),
      h(
        'small',
        {},
        ` ${rollout.update.id}${rollout.update.version ? ` ${rollout.update.version}` : ''} to ${rollout.deviceCount} devices`,
      ),
    ),
    reason === null
      ? null
      : h('p', { class: 'reason' }, `${reason.kind}: ${reason.message}`, reason.at ? ` (${reason.at})` : ''),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'wave'),
          h('th', {}, 'size'),
          h('th', {}, 'devices'),
          h('th', {}, 'failures'),
        ),
      ),
      h(
        'tbody',
        {},
        ...rollout.waves.map((wave, index) =>
          h(
            'tr',
            { 'data-wave': wave.name, class: index === rollout.wave.index ? 'current' : undefined },
            h('td', {}, wave.name),
            h('td', {}, wave.size),
            h('td', {}, counts(wave.counts)),
            h('td', {}, counts(wave.failures)),
          ),
        ),
      ),
    ),
    h(
      'p',
      { class: 'totals' },
      `totals: ${counts(rollout.totals)}; failures: ${counts(rollout.failures)}`,
      rollout.failureRate === null ? '' : ` (rate ${(rollout.failureRate * 100).toFixed(1)} %)`,
    ),
  );
}

function render(payload: DemoStreamPayload): void {
  byId('at').textContent = `${payload.done ? 'done, ' : ''}${payload.at}`;
  byId('rollouts').replaceChildren(
    ...(payload.rollouts.length === 0 ? [h('p', { class: 'none' }, 'no rollout')] : []),
    ...payload.rollouts.map(rolloutCard),
  );
  byId('platforms').replaceChildren(...payload.platforms.map(platformCard));
}

// ——— wiring ———

function main(): void {
  const input = byId('manifest-input') as HTMLTextAreaElement;
  input.value = JSON.stringify(EXAMPLE_MANIFEST, null, 2);
  input.addEventListener('input', () => checkManifest(input.value));
  checkManifest(input.value);

  const connection = byId('connection');
  const events = new EventSource('/events');
  events.addEventListener('open', () => {
    connection.textContent = 'live';
    connection.dataset.live = 'true';
  });
  events.addEventListener('error', () => {
    connection.textContent = 'reconnecting…';
    connection.dataset.live = 'false';
  });
  events.addEventListener('snapshot', (event) => {
    render(JSON.parse((event as MessageEvent<string>).data) as DemoStreamPayload);
  });
}

main();
