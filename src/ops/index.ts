// Public API of the framework.
export { CharmBase, FrameworkObject, type CharmClass } from './charm.js';
export { Framework, StoredState, type CustomEventSpec, type Handler, type ObserveOptions, type Owner } from './framework.js';
export {
  ActionEvent,
  CollectStatusEvent,
  CustomEvent,
  EventBase,
  HookEvent,
  RelationEvent,
  STATUS_PRIORITY,
  type EventFor,
  type EventSource,
  type EventType,
  type FrameworkEventName,
  type LifecycleEventName,
  type Snapshot,
} from './events.js';
export type { RelationPhase } from './context.js';
export { Model, Relation, Unit, type ConfigShape } from './model.js';
export { ActiveStatus, BlockedStatus, MaintenanceStatus, WaitingStatus, type Status } from './status.js';
export { ConfigInvalid, ContextError, HookToolError, ModelError, ProcessError, RelationNotFoundError, escapeCommand, type ProcessErrorOptions } from './errors.js';
export { ProcessBackend, type Backend, type ConfigValue, type Databag } from './backend.js';
export { ProcessToolRunner, type ToolRunner, type ToolResult, type ToolRunnerOptions } from './runner.js';
export { hookcmds, type ToolCall, type LogLevel, type StatusName } from './hookcmds.js';
export { charmMetaFrom, loadCharmMeta, type CharmMeta } from './meta.js';
export { dispatch, main, type DispatchOptions } from './main.js';
export { removeStaleTemps, writeFileAtomic, type WriteOptions } from './atomic-write.js';
export type { Logger } from './log.js';
