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
  SecretChangedEvent,
  SecretEvent,
  SecretExpiredEvent,
  SecretRemoveEvent,
  SecretRotateEvent,
  STATUS_PRIORITY,
  type EventFor,
  type EventSource,
  type EventType,
  type FrameworkEventName,
  type HookEventName,
  type LifecycleEventName,
  type Snapshot,
} from './events.js';
export { SECRET_EVENTS, type RelationPhase, type SecretEventName } from './context.js';
export { Model, Relation, Secret, SECRET_URI, Unit, type ConfigShape, type SecretInfo } from './model.js';
export { ActiveStatus, BlockedStatus, MaintenanceStatus, WaitingStatus, type Status } from './status.js';
export {
  ConfigInvalid,
  ContextError,
  HookToolError,
  ModelError,
  ProcessError,
  RelationDataAccessError,
  RelationNotFoundError,
  SecretNotFoundError,
  SecretPermissionError,
  escapeCommand,
  type ProcessErrorOptions,
} from './errors.js';
export { ProcessBackend, type Backend, type ConfigValue, type Databag, type SecretMetadataValue } from './backend.js';
export { ProcessToolRunner, type ToolRunner, type ToolResult, type ToolRunnerOptions } from './runner.js';
export { hookcmds, type ToolCall, type LogLevel, type SecretRef, type StatusName } from './hookcmds.js';
export { charmMetaFrom, loadCharmMeta, type CharmMeta } from './meta.js';
export { dispatch, main, type DispatchOptions } from './main.js';
export { removeStaleTemps, writeFileAtomic, type WriteOptions } from './atomic-write.js';
export type { Logger } from './log.js';
