// Testing helpers for charm authors: Scenario-style state in, event, state out.
export { checkUncaught, Context, on, UncaughtCharmError, type RunOptions, type RunResult, type TestEvent } from './context.js';
export { checkConsistency, InconsistentScenarioError, type ScenarioUnit } from './consistency.js';
export { MemoryBackend, type RecordedCall } from './memory-backend.js';
export { peerRelation, relation, secret, state, type RelationState, type SecretState, type State } from './state.js';
