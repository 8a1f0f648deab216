/**
 * Every protocol's status table pinned to the words its platform documents, written out by hand
 * from the mapping tables of docs/protocols/<name>.md. The other mapping tests check that the
 * tables are consistent (round trips, notes for the gaps); only this one can tell that a table
 * says the wrong thing, e.g. DOWNLOADING and DOWNLOADED swapped in both directions.
 */
import { describe, expect, it } from 'vitest';
import {
  connhex,
  degu,
  exosite,
  insighIo,
  micropythonOta,
  STATUS_MAPPINGS,
  thingsBoard,
  UPDATE_STATES,
  type UpdateState,
} from '../../src/index.js';

type Wire = string | number;
interface Documented {
  /** Every wire word and the canonical state it is read as. */
  toCanonical: ReadonlyArray<readonly [Wire, UpdateState]>;
  /** Every canonical state and the word it is sent as (`null`: none). */
  fromCanonical: Readonly<Record<UpdateState, Wire | null>>;
}

const NOTHING = {
  idle: null,
  checking: null,
  available: null,
  downloading: null,
  downloaded: null,
  verifying: null,
  installing: null,
  installed: null,
  committed: null,
  rolling_back: null,
  check_failed: null,
  download_failed: null,
  verify_failed: null,
  install_failed: null,
  rolled_back: null,
  canceled: null,
} as const satisfies Record<UpdateState, null>;

const DOCUMENTED = {
  // docs/protocols/degu.md, "Status vocabulary": the device only reports its MD5s at boot.
  degu: {
    toCanonical: [
      ['in_sync', 'committed'],
      ['out_of_sync', 'available'],
    ],
    fromCanonical: { ...NOTHING, idle: 'in_sync', available: 'out_of_sync', committed: 'in_sync' },
  },
  // docs/protocols/micropythonOta.md: the library's local phases.
  micropythonOta: {
    toCanonical: [
      ['current', 'idle'],
      ['checking', 'checking'],
      ['changed', 'available'],
      ['downloading', 'downloading'],
      ['staged', 'downloaded'],
      ['copying', 'installing'],
      ['version_written', 'committed'],
      ['check_failed', 'check_failed'],
      ['download_failed', 'download_failed'],
      ['copy_failed', 'install_failed'],
    ],
    fromCanonical: {
      ...NOTHING,
      idle: 'current',
      checking: 'checking',
      available: 'changed',
      downloading: 'downloading',
      downloaded: 'staged',
      installing: 'copying',
      installed: 'version_written',
      committed: 'version_written',
      check_failed: 'check_failed',
      download_failed: 'download_failed',
      install_failed: 'copy_failed',
    },
  },
  // docs/protocols/insighIo.md: the SenML event `e` (0 is the console's order).
  insighIo: {
    toCanonical: [
      [0, 'available'],
      [1, 'committed'],
      [2, 'install_failed'],
      [3, 'canceled'],
    ],
    fromCanonical: {
      ...NOTHING,
      available: 0,
      committed: 1,
      check_failed: 2,
      download_failed: 2,
      verify_failed: 2,
      install_failed: 2,
      rolled_back: 2,
      canceled: 3,
    },
  },
  // docs/protocols/connhex.md, "The nine words and the canonical states".
  connhex: {
    toCanonical: [
      ['checking', 'checking'],
      ['check_failed', 'check_failed'],
      ['update_available', 'available'],
      ['downloading', 'downloading'],
      ['download_failed', 'download_failed'],
      ['update_ready', 'downloaded'],
      ['updating', 'installing'],
      ['update_failed', 'install_failed'],
      ['updated', 'committed'],
    ],
    fromCanonical: {
      ...NOTHING,
      checking: 'checking',
      available: 'update_available',
      downloading: 'downloading',
      downloaded: 'update_ready',
      installing: 'updating',
      committed: 'updated',
      check_failed: 'check_failed',
      download_failed: 'download_failed',
      verify_failed: 'download_failed',
      install_failed: 'update_failed',
      rolled_back: 'update_failed',
    },
  },
  // docs/protocols/exosite.md, "Status": the 15 `status` words of `otau_in`.
  exosite: {
    toCanonical: [
      ['INIT', 'available'],
      ['TEST', 'available'],
      ['TEST_STEP', 'available'],
      ['TEST_SUCCESS', 'available'],
      ['TEST_ERROR', 'check_failed'],
      ['DOWNLOAD', 'downloading'],
      ['DOWNLOAD_STEP', 'downloading'],
      ['DOWNLOAD_SUCCESS', 'downloaded'],
      ['DOWNLOAD_ERROR', 'download_failed'],
      ['INSTALL', 'installing'],
      ['INSTALL_STEP', 'installing'],
      ['INSTALL_SUCCESS', 'installed'],
      ['INSTALL_ERROR', 'install_failed'],
      ['INSTALL_ABORTED', 'canceled'],
      ['INSTALLED_VERSION', 'committed'],
    ],
    fromCanonical: {
      ...NOTHING,
      idle: 'INSTALLED_VERSION',
      available: 'INIT',
      downloading: 'DOWNLOAD',
      downloaded: 'DOWNLOAD_SUCCESS',
      installing: 'INSTALL',
      installed: 'INSTALL_SUCCESS',
      committed: 'INSTALLED_VERSION',
      check_failed: 'TEST_ERROR',
      download_failed: 'DOWNLOAD_ERROR',
      verify_failed: 'DOWNLOAD_ERROR',
      install_failed: 'INSTALL_ERROR',
      rolled_back: 'INSTALL_ERROR',
      canceled: 'INSTALL_ABORTED',
    },
  },
  // docs/protocols/thingsBoard.md, "Mapping to canonical states": `fw_state`.
  thingsBoard: {
    toCanonical: [
      ['QUEUED', 'available'],
      ['INITIATED', 'available'],
      ['DOWNLOADING', 'downloading'],
      ['DOWNLOADED', 'downloaded'],
      ['VERIFIED', 'downloaded'],
      ['UPDATING', 'installing'],
      ['UPDATED', 'committed'],
      ['FAILED', 'install_failed'],
    ],
    fromCanonical: {
      ...NOTHING,
      available: 'INITIATED',
      downloading: 'DOWNLOADING',
      downloaded: 'DOWNLOADED',
      installing: 'UPDATING',
      committed: 'UPDATED',
      check_failed: 'FAILED',
      download_failed: 'FAILED',
      verify_failed: 'FAILED',
      install_failed: 'FAILED',
      rolled_back: 'FAILED',
      canceled: 'FAILED',
    },
  },
} as const satisfies Record<keyof typeof STATUS_MAPPINGS, Documented>;

/** The mapping each namespace exports, and the one its protocol object carries. */
const EXPORTED = {
  degu: [degu.statusMapping, degu.protocol.statusMapping],
  micropythonOta: [micropythonOta.statusMapping, micropythonOta.protocol.statusMapping],
  insighIo: [insighIo.statusMapping, insighIo.protocol.statusMapping],
  connhex: [connhex.statusMapping, connhex.protocol.statusMapping],
  exosite: [exosite.statusMapping, exosite.protocol.statusMapping],
  thingsBoard: [thingsBoard.statusMapping, thingsBoard.protocol.statusMapping],
} as const;

describe('status tables match the documented words (docs/protocols/<name>.md)', () => {
  it('pins every registered protocol', () => {
    expect(Object.keys(DOCUMENTED).sort()).toEqual(Object.keys(STATUS_MAPPINGS).sort());
  });

  for (const [name, documented] of Object.entries(DOCUMENTED) as Array<
    [keyof typeof DOCUMENTED, Documented]
  >) {
    describe(name, () => {
      const mappings = [STATUS_MAPPINGS[name], ...EXPORTED[name]];

      it.each(documented.toCanonical.map(([wire, state]) => [wire, state] as const))(
        'wire %j is read as %s',
        (wire, state) => {
          for (const mapping of mappings) {
            expect((mapping.toCanonical as Record<string, UpdateState>)[String(wire)]).toBe(state);
          }
        },
      );

      it.each(UPDATE_STATES.map((state) => [state, documented.fromCanonical[state]] as const))(
        '%s is sent as %j',
        (state, wire) => {
          for (const mapping of mappings) {
            expect((mapping.fromCanonical as Record<UpdateState, Wire | null>)[state]).toBe(wire);
          }
        },
      );

      it('has no wire word the documentation does not list', () => {
        const words = documented.toCanonical.map(([wire]) => String(wire)).sort();
        for (const mapping of mappings) expect(Object.keys(mapping.toCanonical).sort()).toEqual(words);
      });
    });
  }
});
