// Public API of the framework.
export { CharmBase, type CharmClass } from './charm.js';
export { Framework, StoredState, type CustomEventSpec, type Handler } from './framework.js';
export { ActionEvent, CustomEvent, EventBase, HookEvent, RelationEvent, type EventFor } from './events.js';
export { Model, Relation, Unit } from './model.js';
export { ActiveStatus, BlockedStatus, MaintenanceStatus, WaitingStatus, type Status } from './status.js';
export { ContextError, HookToolError, ModelError, RelationNotFoundError } from './errors.js';
export { ProcessBackend, type Backend, type ConfigValue, type Databag } from './backend.js';
export { ProcessToolRunner, type ToolRunner, type ToolResult } from './runner.js';
export { hookcmds, type ToolCall, type LogLevel, type StatusName } from './hookcmds.js';
export { charmMetaFrom, loadCharmMeta, type CharmMeta } from './meta.js';
export { dispatch, main, type DispatchOptions } from './main.js';
export { removeStaleTemps, writeFileAtomic, type WriteOptions } from './atomic-write.js';
export type { Logger } from './log.js';
