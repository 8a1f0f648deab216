import { MemoryRolloutStore } from '../../src/cloud/rollout/memory-store.js';
import { rolloutStoreConformance } from './rollout-store-conformance.js';

// A second "instance" of a memory store is the same store: one process, one memory.
rolloutStoreConformance('MemoryRolloutStore', {
  fresh: async () => {
    const store = new MemoryRolloutStore();
    return { store, another: async () => store };
  },
});
