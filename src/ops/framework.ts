// Observers, emission, deferral, collect-status and stored state: ops' Framework, trimmed to
// what a machine charm needs. Emission is awaited in order, so a custom event emitted inside a
// handler runs to completion before emit() returns, as in ops.
//
// An observer is an owner (the charm, or a component: anything with a unique `handle` path)
// and a method; its key, `<handle>/<method>` (e.g. `MyCharm/onConfig`,
// `MyCharm/relations/onConfig`), is what a deferred notice records, so the re-emitted event
// reaches the very observer that deferred it.
import type { Backend } from './backend.js';
import { ConfigInvalid, ModelError } from './errors.js';
import {
  ActionEvent,
  COLLECT_UNIT_STATUS,
  CollectStatusEvent,
  CustomEvent,
  EventBase,
  HookEvent,
  LIFECYCLE_EVENTS,
  RelationEvent,
  SecretEvent,
  STATUS_PRIORITY,
  type CustomEventSpec,
  type EventFor,
  type EventSource,
  type EventType,
  type FrameworkEventName,
} from './events.js';
import { RELATION_PHASES, SECRET_EVENTS } from './context.js';
import type { Logger } from './log.js';
import type { CharmMeta } from './meta.js';
import type { ConfigShape, Model } from './model.js';
import { BlockedStatus, type Status } from './status.js';
import type { Notice, UnitState } from './storage.js';

export type { CustomEventSpec } from './events.js';

export type Handler<E> = (event: E) => void | Promise<void>;

/** Something that observes events: the charm, or a component (FrameworkObject). */
export interface Owner {
  /** Unique among the owners of a charm, e.g. `MyCharm` or `MyCharm/relations`. */
  readonly handle: string;
}

export interface ObserveOptions {
  /**
   * The observer's name under its owner, instead of the method's name; needed for a method
   * with no name (an arrow function). The observer's key is `<owner handle>/<key>`.
   */
  readonly key?: string;
}

interface Observer {
  /** `<owner handle>/<method>`: what a deferred notice records. */
  readonly key: string;
  /** The method part, to match notices written before keys had owners. */
  readonly method: string;
  readonly call: (event: EventBase) => void | Promise<void>;
}

/** Persistent, typed charm state; changes are saved only if the dispatch succeeds. */
export class StoredState<T extends Record<string, unknown>> {
  constructor(private readonly bag: Record<string, unknown>) {}
  get data(): Readonly<T> {
    return this.bag as T;
  }
  set(patch: Partial<T>): void {
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete this.bag[k];
      else this.bag[k] = JSON.parse(JSON.stringify(v)); // only JSON survives a round trip to disk
    }
  }
}

const methodName = (fn: { name: string }): string => fn.name.replace(/^bound /, '');

/**
 * The framework of one dispatch. `E` is the charm's event names (e.g. the generated
 * `CharmEventName<'build_success'>`), `C` its config type (e.g. `CharmConfigOptions`); with
 * them, observing a misspelt event or reading a misspelt option does not compile.
 */
export class Framework<E extends string = string, C extends object = ConfigShape> {
  private readonly observers = new Map<string, Observer[]>();
  private readonly handles = new Set<string>();
  private charmHandle: string | undefined;
  private readonly eventTypes = new Map<string, EventType>();
  private readonly unitStatuses: Status[] = [];
  private readonly source: EventSource;
  /** Every event a charm may observe: Juju's for this charm, custom ones, the framework's. */
  readonly knownEvents: ReadonlySet<string>;

  constructor(
    readonly model: Model<C>,
    readonly log: Logger,
    private readonly state: UnitState,
    meta: CharmMeta,
    readonly customEvents: Readonly<Record<string, CustomEventSpec>>,
    backend: Backend,
  ) {
    const types = this.eventTypes;
    for (const name of LIFECYCLE_EVENTS) types.set(name, HookEvent);
    for (const name of SECRET_EVENTS) types.set(name, SecretEvent);
    for (const ep of Object.keys(meta.endpoints)) {
      for (const phase of RELATION_PHASES) types.set(`${ep.replace(/-/g, '_')}_relation_${phase}`, RelationEvent);
    }
    for (const action of Object.keys(meta.actions)) types.set(`${action.replace(/-/g, '_')}_action`, ActionEvent);
    for (const custom of Object.keys(customEvents)) {
      if (types.has(custom) || custom === COLLECT_UNIT_STATUS) throw new ModelError(`custom event "${custom}" clashes with a Juju or framework event of the same name`);
      types.set(custom, CustomEvent);
    }
    this.knownEvents = new Set([...types.keys(), COLLECT_UNIT_STATUS]);
    this.source = { context: model.context, model, backend, customEvents };
  }

  /**
   * Claims a handle path for an owner; a second owner with the same path is an error. The
   * first `root` handle (the charm's) owns observers registered without an owner.
   */
  registerHandle(handle: string, root = false): string {
    if (handle === '' || handle.startsWith('/') || handle.endsWith('/') || handle.includes('//')) {
      throw new ModelError(`invalid handle path ${JSON.stringify(handle)}: non-empty names joined by "/"`);
    }
    if (this.handles.has(handle)) throw new ModelError(`two objects have the handle ${JSON.stringify(handle)}: give each component a unique key under its parent`);
    this.handles.add(handle);
    if (root) this.charmHandle ??= handle;
    return handle;
  }

  /**
   * Registers `owner.method` as an observer of `event`: it is called with `this` = owner, and
   * if it defers the event, the next dispatch re-emits it to this observer only. The key
   * `<owner.handle>/<method name>` must be unique per event (else this throws). The event must
   * exist: a Juju event (lifecycle or secret), a relation event of an endpoint in metadata.yaml, an action in
   * actions.yaml, a declared custom event, or `collect_unit_status`.
   *
   *   framework.observe('config_changed', this, this.onConfigChanged);
   */
  observe<N extends E | FrameworkEventName, O extends Owner>(
    event: N,
    owner: O,
    method: (this: O, event: EventFor<N>) => void | Promise<void>,
    opts?: ObserveOptions,
  ): void;
  /**
   * @deprecated Use `observe(event, owner, method)`. The observer's key is the charm's handle
   * and the function's name (`MyCharm/onConfig` for `this.onConfig.bind(this)`); a component's
   * method with the same name as another observer's is an error rather than a misrouted
   * deferral.
   */
  observe<N extends E | FrameworkEventName>(event: N, handler: Handler<EventFor<N>>): void;
  observe(event: string, ownerOrHandler: Owner | Handler<never>, method?: Handler<never>, opts?: ObserveOptions): void {
    if (!this.knownEvents.has(event)) {
      throw new ModelError(`cannot observe unknown event "${event}": not a Juju event, a relation event of an endpoint in metadata.yaml, an action in actions.yaml, a declared custom event or ${COLLECT_UNIT_STATUS}`);
    }
    let handle: string | undefined;
    let name: string;
    let call: Observer['call'];
    if (typeof ownerOrHandler === 'function') {
      const fn = ownerOrHandler as Handler<EventBase>;
      handle = this.charmHandle;
      name = methodName(fn);
      if (!name) throw new ModelError(`observe("${event}", handler): the handler has no name; use observe(event, owner, method, { key })`);
      call = (e) => fn.call(undefined, e);
    } else {
      const owner = ownerOrHandler;
      const fn = method as Handler<EventBase> | undefined;
      if (typeof fn !== 'function') throw new ModelError(`observe("${event}", owner, method): method is not a function`);
      handle = owner?.handle;
      name = opts?.key ?? methodName(fn);
      if (!name) throw new ModelError(`observe("${event}", ${handle}, method): the method has no name; give one with { key }`);
      call = (e) => fn.call(owner, e);
    }
    if (typeof handle !== 'string' || handle === '') throw new ModelError(`observe("${event}", ...): the observer's owner has no handle`);
    if (name.includes('/')) throw new ModelError(`observer name ${JSON.stringify(name)} contains "/"`);
    const key = `${handle}/${name}`;
    const list = this.observers.get(event) ?? [];
    if (list.some((o) => o.key === key)) {
      throw new ModelError(`${key} already observes ${event}: each observer of an event needs its own owner handle and method name (a deferred event is re-emitted by that key)`);
    }
    list.push({ key, method: name, call });
    this.observers.set(event, list);
  }

  isObserved(event: string): boolean {
    return (this.observers.get(event)?.length ?? 0) > 0;
  }

  /** The event Juju dispatched, built by its class from the context; undefined if not one of this charm's. */
  eventFromContext(name: string): EventBase | undefined {
    return this.eventTypes.get(name)?.fromContext(name, this.source);
  }

  /** Typed persistent state under a name; `defaults` fill keys that were never set. */
  storedState<T extends Record<string, unknown>>(name: string, defaults: T): StoredState<T> {
    const bag = (this.state.stored[name] ??= {});
    for (const [k, v] of Object.entries(defaults)) if (!(k in bag)) bag[k] = v;
    return new StoredState<T>(bag);
  }

  /** Whether stored state under `name` exists (without creating it). */
  hasStoredState(name: string): boolean {
    return Object.hasOwn(this.state.stored, name);
  }

  /** Drops the stored state under `name` (a layout a charm migrated away from); saved with the dispatch. */
  dropStoredState(name: string): void {
    delete this.state.stored[name];
  }

  /** Emits a custom event now; its handlers run before this returns. */
  async emitCustom(name: E, data: Record<string, string> = {}): Promise<void> {
    if (!(name in this.customEvents)) throw new ModelError(`"${name}" is not a declared custom event`);
    await this.emit(new CustomEvent(name, data));
  }

  /**
   * Sends the buffered log records to juju-log now. Call it before a long step (a package
   * install, a build): what was logged is then in Juju's log while the step runs, and a
   * dispatch killed during it loses only what was logged after.
   */
  flushLogs(): void {
    this.log.flush();
  }

  /**
   * Adds a candidate unit status for this dispatch (as CollectStatusEvent.addStatus does). At
   * the end of a successful dispatch the one of highest priority is set, once.
   */
  addUnitStatus(status: Status): void {
    this.unitStatuses.push(status);
  }

  /**
   * ops' `load_config(errors='blocked')`: `parse(config)`, or, when the parser throws
   * ConfigInvalid, a warning in the log, a blocked candidate status with its message (set at
   * the end of the dispatch, see addUnitStatus) and undefined. Other errors propagate.
   */
  loadConfig<T>(parse: (config: Readonly<C>) => Promise<T>): Promise<T | undefined>;
  loadConfig<T>(parse: (config: Readonly<C>) => T): T | undefined;
  loadConfig<T>(parse: (config: Readonly<C>) => T | Promise<T>): T | undefined | Promise<T | undefined> {
    const invalid = (err: unknown): undefined => {
      if (!(err instanceof ConfigInvalid)) throw err;
      const message = err.message.trim() || 'the configuration is invalid';
      this.log.warning(`invalid configuration: ${message}`);
      this.addUnitStatus(BlockedStatus(message));
      return undefined;
    };
    let result: T | Promise<T>;
    try {
      result = parse(this.model.config());
    } catch (err) {
      return invalid(err);
    }
    return result instanceof Promise ? result.then((v) => v, invalid) : result;
  }

  /**
   * The end of a successful dispatch: emits collect_unit_status (when observed), then sets the
   * highest-priority status collected, if any: error > blocked > maintenance > waiting >
   * active > unknown, the first added winning a tie. Unit.setStatus makes no call when it is
   * the status the unit last set.
   */
  async collectStatus(): Promise<void> {
    if (this.isObserved(COLLECT_UNIT_STATUS)) await this.emit(new CollectStatusEvent(COLLECT_UNIT_STATUS, (s) => this.addUnitStatus(s)));
    let best: Status | undefined;
    for (const s of this.unitStatuses) if (!best || STATUS_PRIORITY[s.status] > STATUS_PRIORITY[best.status]) best = s;
    this.unitStatuses.length = 0;
    if (best) this.model.unit.setStatus(best);
  }

  /** Runs every observer of the event; a deferring observer gets a notice for the next dispatch. */
  async emit(event: EventBase): Promise<void> {
    const observers = this.observers.get(event.name) ?? [];
    if (observers.length === 0) {
      this.log.debug(`event ${event.name} has no observer; nothing to do`);
      return;
    }
    // collect_unit_status ends every dispatch: a line for it would cost a juju-log call of its own.
    if (event.name !== COLLECT_UNIT_STATUS) this.log.debug(`Emitting event ${event.name}.`);
    for (const obs of observers) {
      event.resetDeferred();
      await obs.call(event);
      if (event.deferred) this.addNotice(event, obs.key);
    }
  }

  private addNotice(event: EventBase, observer: string): void {
    const snapshot = event.snapshot();
    if (this.findNotice(event.name, observer, snapshot)) {
      this.log.debug(`event ${event.name} for ${observer} is already deferred; not queued twice`);
      return;
    }
    this.state.deferred.push({ seq: this.state.nextSeq++, event: event.name, observer, snapshot });
    this.log.debug(`Deferring event ${event.name} for ${observer}.`);
  }

  private findNotice(event: string, observer: string, snapshot: Readonly<Record<string, unknown>>, except?: number): Notice | undefined {
    const same = JSON.stringify(snapshot);
    return this.state.deferred.find((n) => n.seq !== except && n.event === event && n.observer === observer && JSON.stringify(n.snapshot) === same);
  }

  /** Re-emits deferred events in order, each to the observer that deferred it; drops handled ones. */
  async reemitDeferred(): Promise<void> {
    const queue = [...this.state.deferred];
    for (const notice of queue) {
      const keepAs = await this.reemit(notice);
      this.state.deferred = this.state.deferred.flatMap((n) => {
        if (n.seq !== notice.seq) return [n];
        // A notice from before observer keys had owners is kept under its observer's new key.
        if (keepAs === undefined || this.findNotice(n.event, keepAs, n.snapshot, n.seq)) return [];
        return [keepAs === n.observer ? n : { ...n, observer: keepAs }];
      });
    }
  }

  /** Finds the observer a notice names; a notice without an owner part matches by method name. */
  private observerOf(notice: Notice): Observer | string {
    const list = this.observers.get(notice.event) ?? [];
    if (notice.observer.includes('/')) return list.find((o) => o.key === notice.observer) ?? `no observer ${notice.observer}`;
    const matches = list.filter((o) => o.method === notice.observer);
    if (matches.length === 1) return matches[0]!;
    const why = matches.length === 0 ? 'no observer has that method name' : `it is ambiguous between ${matches.map((o) => o.key).join(', ')}`;
    return `it was deferred by "${notice.observer}" (a notice written before observers had owner handles) and ${why}`;
  }

  /** Re-emits one notice; returns the observer key to keep it under when deferred again. */
  private async reemit(notice: Notice): Promise<string | undefined> {
    const obs = this.observerOf(notice);
    if (typeof obs === 'string') {
      this.log.warning(`dropping deferred event ${notice.event}: ${obs}`);
      return undefined;
    }
    const type = this.eventTypes.get(notice.event);
    const event = type?.restore(notice.event, notice.snapshot, this.source);
    if (!event) {
      this.log.warning(`dropping deferred event ${notice.event} for ${obs.key}: it cannot be rebuilt`);
      return undefined;
    }
    this.log.debug(`Re-emitting deferred event ${notice.event} to ${obs.key}.`);
    await obs.call(event);
    return event.deferred ? obs.key : undefined;
  }
}
