// Event objects handed to observers. Each class says how it is built from the Juju context
// (`fromContext`), how it is saved when deferred (`snapshot`) and rebuilt from that in a later
// dispatch (`restore`), so the dispatcher needs no per-kind switch.
import type { Backend } from './backend.js';
import { ModelError } from './errors.js';
import { flattenActionResults, type ActionResultValue } from './action-results.js';
import type { Model, Relation, Secret } from './model.js';
import { parseRelationEventName, SECRET_REVISION_EVENTS, type JujuContext, type RelationPhase, type SecretEventName } from './context.js';
import type { Status } from './status.js';

export const LIFECYCLE_EVENTS = [
  'install',
  'start',
  'stop',
  'remove',
  'config_changed',
  'upgrade_charm',
  'update_status',
  'leader_elected',
  'leader_settings_changed',
] as const;
/** Juju's hooks without a payload (install, config_changed, ...): HookEvent. */
export type HookEventName = (typeof LIFECYCLE_EVENTS)[number];
/**
 * Every event Juju may dispatch to any charm whatever it declares: the lifecycle hooks and the
 * secret hooks (secret_changed, secret_rotate, secret_remove, secret_expired). The generated
 * CharmEventName (scripts/gen-charm-types.mjs) includes these.
 */
export type LifecycleEventName = HookEventName | SecretEventName;

/** Emitted by the framework at the end of every successful dispatch (see CollectStatusEvent). */
export const COLLECT_UNIT_STATUS = 'collect_unit_status';
/** Events the framework itself emits; a charm observes them like Juju's. */
export type FrameworkEventName = typeof COLLECT_UNIT_STATUS;

export interface CustomEventSpec {
  /** Environment variables captured into the event's data when Juju dispatches it. */
  readonly env?: readonly string[];
}

/** What an event class may need to build or rebuild an event. */
export interface EventSource {
  readonly context: JujuContext;
  readonly model: Model;
  readonly backend: Backend;
  readonly customEvents: Readonly<Record<string, CustomEventSpec>>;
}

export type Snapshot = Readonly<Record<string, unknown>>;

/** The static side of an event class. */
export interface EventType {
  /** The event Juju dispatched, from the context (environment) of this process. */
  fromContext(name: string, source: EventSource): EventBase;
  /** A deferred event, from its snapshot; undefined when it cannot be rebuilt (then it is dropped). */
  restore(name: string, snapshot: Snapshot, source: EventSource): EventBase | undefined;
}

/**
 * Events that cannot wait for a later dispatch, and why (ops refuses the same): the unit may be
 * gone (stop, remove), Juju fires them again until the owner acts (secret rotate and expired),
 * or they only make sense in this dispatch (collect-status).
 */
const REFIRED = ': Juju fires it again until the secret gets a new revision';
const NOT_DEFERRABLE: ReadonlyMap<string, string> = new Map([
  ['stop', ''],
  ['remove', ''],
  ['secret_rotate', REFIRED],
  ['secret_expired', REFIRED],
  [COLLECT_UNIT_STATUS, ''],
]);

export abstract class EventBase {
  private deferredFlag = false;
  constructor(readonly name: string) {}

  /** Keeps the event and re-emits it to this observer at the start of the next dispatch. */
  defer(): void {
    const why = NOT_DEFERRABLE.get(this.name);
    if (why !== undefined) throw new ModelError(`the ${this.name} event cannot be deferred${why}`);
    this.deferredFlag = true;
  }
  get deferred(): boolean {
    return this.deferredFlag;
  }
  /** Resets the flag before each observer call, as ops does. */
  resetDeferred(): void {
    this.deferredFlag = false;
  }
  /** What `restore` needs to rebuild this event in a later dispatch (JSON only). */
  abstract snapshot(): Record<string, unknown>;
}

/** A Juju lifecycle event (install, config_changed, ...): nothing beyond its name. */
export class HookEvent extends EventBase {
  static fromContext(name: string, _source: EventSource): HookEvent {
    return new HookEvent(name);
  }
  static restore(name: string, _snapshot: Snapshot, _source: EventSource): HookEvent | undefined {
    return new HookEvent(name);
  }
  snapshot(): Record<string, unknown> {
    return {};
  }
}

export class RelationEvent extends HookEvent {
  constructor(
    name: string,
    readonly phase: RelationPhase,
    readonly relation: Relation,
    /** The remote application. */
    readonly app: string,
    /**
     * The remote unit: absent in created and broken, and in changed when it is the remote
     * application's databag that changed (JUJU_REMOTE_UNIT empty; on a peer relation the remote
     * application is this one, and the leader wrote its databag).
     */
    readonly unit?: string,
    readonly departingUnit?: string,
  ) {
    super(name);
  }

  static override fromContext(name: string, source: EventSource): RelationEvent {
    const r = source.context.relation;
    const rel = parseRelationEventName(name);
    if (!r || !rel) throw new ModelError(`${name} is not a relation event of this context`);
    return new RelationEvent(name, rel.phase, source.model.relation(r.endpoint, r.id, r.remoteApp), r.remoteApp, r.remoteUnit, r.departingUnit);
  }

  static override restore(name: string, snap: Snapshot, source: EventSource): RelationEvent | undefined {
    const rel = parseRelationEventName(name);
    if (!rel || typeof snap.endpoint !== 'string' || typeof snap.relationId !== 'number') return undefined;
    const app = typeof snap.app === 'string' ? snap.app : '';
    return new RelationEvent(
      name,
      rel.phase,
      source.model.relation(snap.endpoint, snap.relationId, app),
      app,
      typeof snap.unit === 'string' ? snap.unit : undefined,
      typeof snap.departingUnit === 'string' ? snap.departingUnit : undefined,
    );
  }

  override snapshot(): Record<string, unknown> {
    return {
      endpoint: this.relation.endpoint,
      relationId: this.relation.id,
      app: this.app,
      ...(this.unit ? { unit: this.unit } : {}),
      ...(this.departingUnit ? { departingUnit: this.departingUnit } : {}),
    };
  }
}

/** An event the charm declares (`customEvents`), emitted by it or dispatched through juju-exec. */
export class CustomEvent extends EventBase {
  constructor(
    name: string,
    /** Values captured when the event was emitted (from the environment when Juju dispatched it). */
    readonly data: Readonly<Record<string, string>>,
  ) {
    super(name);
  }

  static fromContext(name: string, source: EventSource): CustomEvent {
    const data: Record<string, string> = {};
    for (const key of source.customEvents[name]?.env ?? []) data[key] = source.context.env[key] ?? '';
    return new CustomEvent(name, data);
  }

  static restore(name: string, snap: Snapshot, _source: EventSource): CustomEvent | undefined {
    const data = snap.data ?? {};
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
    if (!Object.values(data).every((v) => typeof v === 'string')) return undefined;
    return new CustomEvent(name, data as Record<string, string>);
  }

  snapshot(): Record<string, unknown> {
    return { data: { ...this.data } };
  }
}

export class ActionEvent extends EventBase {
  private paramsCache?: Readonly<Record<string, unknown>>;
  private failedWith?: string;

  constructor(
    name: string,
    /** The action's name as in actions.yaml, e.g. `get-latest`. */
    readonly actionName: string,
    readonly id: string,
    private readonly backend: Backend,
  ) {
    super(name);
  }

  static fromContext(name: string, source: EventSource): ActionEvent {
    const a = source.context.action;
    if (!a) throw new ModelError(`${name} is not the action of this context`);
    return new ActionEvent(name, a.name, a.id, source.backend);
  }
  /** Actions are never deferred, so there is nothing to restore. */
  static restore(): undefined {
    return undefined;
  }

  override defer(): void {
    throw new ModelError(`action ${this.actionName} cannot be deferred: actions run once, when the operator asks`);
  }
  /** Parameters from action-get, with actions.yaml defaults filled in by Juju. */
  get params(): Readonly<Record<string, unknown>> {
    return (this.paramsCache ??= Object.freeze(this.backend.actionGet()));
  }
  /** Adds results; keys are validated against Juju's rules before action-set runs. */
  setResults(results: Readonly<Record<string, ActionResultValue>>): void {
    this.backend.actionSet(flattenActionResults(results));
  }
  /** A progress message shown to the operator while the action runs. */
  log(message: string): void {
    this.backend.actionLog(message);
  }
  /** Marks the action failed; the process still exits 0 and results set so far are kept. */
  fail(message: string): void {
    this.failedWith = message;
    this.backend.actionFail(message);
  }
  get failure(): string | undefined {
    return this.failedWith;
  }
  snapshot(): Record<string, unknown> {
    return {};
  }
}

/**
 * A secret hook (ops' SecretEvent): `secret` is the secret Juju names in JUJU_SECRET_ID, with
 * this unit's label for it (JUJU_SECRET_LABEL) when it has one; reading its content is a
 * secret-get call. A deferred secret event keeps only the id, label and revision.
 */
export abstract class SecretEvent extends EventBase {
  private secretObject?: Secret;

  constructor(
    name: string,
    private readonly secretId: string,
    private readonly secretLabel: string | undefined,
    private readonly model: Model,
  ) {
    super(name);
  }

  /** The secret this event is about (no hook tool runs until its content is read). */
  get secret(): Secret {
    return (this.secretObject ??= this.model.getSecret({ id: this.secretId, label: this.secretLabel }));
  }

  static fromContext(name: string, source: EventSource): SecretEvent {
    const s = source.context.secret;
    if (!s) throw new ModelError(`${name} is not the secret event of this context`);
    return SecretEvent.make(name, s.id, s.label, s.revision, source.model)!;
  }

  static restore(name: string, snap: Snapshot, source: EventSource): SecretEvent | undefined {
    if (typeof snap.id !== 'string' || snap.id === '' || (snap.label !== undefined && typeof snap.label !== 'string')) return undefined;
    const revision = snap.revision;
    if (revision !== undefined && !(Number.isInteger(revision) && (revision as number) > 0)) return undefined;
    return SecretEvent.make(name, snap.id, snap.label as string | undefined, revision as number | undefined, source.model);
  }

  private static make(name: string, id: string, label: string | undefined, revision: number | undefined, model: Model): SecretEvent | undefined {
    if ((SECRET_REVISION_EVENTS as readonly string[]).includes(name) && revision === undefined) return undefined;
    switch (name) {
      case 'secret_changed':
        return new SecretChangedEvent(name, id, label, model);
      case 'secret_rotate':
        return new SecretRotateEvent(name, id, label, model);
      case 'secret_remove':
        return new SecretRemoveEvent(name, id, label, model, revision!);
      case 'secret_expired':
        return new SecretExpiredEvent(name, id, label, model, revision!);
      default:
        return undefined;
    }
  }

  snapshot(): Record<string, unknown> {
    return { id: this.secretId, ...(this.secretLabel !== undefined ? { label: this.secretLabel } : {}) };
  }
}

/** A secret this unit consumes has a new revision (it still reads the one it tracks until it refreshes). */
export class SecretChangedEvent extends SecretEvent {}

/** A secret this charm owns is due for rotation. Not deferrable: Juju fires it again until a new revision is made. */
export class SecretRotateEvent extends SecretEvent {}

/** An owner's event about one revision of its secret (JUJU_SECRET_REVISION), which the snapshot keeps. */
export abstract class SecretRevisionEvent extends SecretEvent {
  constructor(
    name: string,
    id: string,
    label: string | undefined,
    model: Model,
    /** JUJU_SECRET_REVISION: the revision the event is about. */
    readonly revision: number,
  ) {
    super(name, id, label, model);
  }
  override snapshot(): Record<string, unknown> {
    return { ...super.snapshot(), revision: this.revision };
  }
}

/** A revision of a secret this charm owns is no longer tracked by any consumer and may be removed. */
export class SecretRemoveEvent extends SecretRevisionEvent {}

/** A revision of a secret this charm owns has expired. Not deferrable: Juju fires it again until a new revision is made. */
export class SecretExpiredEvent extends SecretRevisionEvent {}

/**
 * ops' collect_unit_status: emitted once at the end of every successful dispatch. Observers
 * add the statuses they would set; the framework sets the one of highest priority
 * (STATUS_PRIORITY), and makes no status-set call when it is what the unit last set.
 */
export class CollectStatusEvent extends EventBase {
  constructor(
    name: string,
    private readonly add: (status: Status) => void,
  ) {
    super(name);
  }
  /** Adds a candidate status for this dispatch. */
  addStatus(status: Status): void {
    this.add(status);
  }
  snapshot(): Record<string, unknown> {
    return {};
  }
}

/** ops' priorities: the highest of the collected statuses is the one set. */
export const STATUS_PRIORITY: Readonly<Record<Status['status'] | 'error' | 'unknown', number>> = {
  error: 5,
  blocked: 4,
  maintenance: 3,
  waiting: 2,
  active: 1,
  unknown: 0,
};

/** The event class an observer of `N` receives. */
export type EventFor<N extends string> = N extends FrameworkEventName
  ? CollectStatusEvent
  : N extends 'secret_changed'
    ? SecretChangedEvent
    : N extends 'secret_rotate'
      ? SecretRotateEvent
      : N extends 'secret_remove'
        ? SecretRemoveEvent
        : N extends 'secret_expired'
          ? SecretExpiredEvent
          : N extends `${string}_relation_${RelationPhase}`
    ? RelationEvent
    : N extends `${string}_action`
      ? ActionEvent
      : N extends LifecycleEventName
        ? HookEvent
        : CustomEvent;
