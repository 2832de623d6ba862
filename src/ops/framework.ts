// Observers, emission, deferral and stored state: ops' Framework, trimmed to what a machine
// charm needs. Emission is awaited in order, so a custom event emitted inside a handler runs
// to completion before emit() returns, as in ops.
import { ModelError } from './errors.js';
import { CustomEvent, EventBase, LIFECYCLE_EVENTS, type EventFor } from './events.js';
import { RELATION_PHASES } from './context.js';
import type { Logger } from './log.js';
import type { CharmMeta } from './meta.js';
import type { Model } from './model.js';
import type { Notice, UnitState } from './storage.js';

export type Handler<E> = (event: E) => void | Promise<void>;

export interface CustomEventSpec {
  /** Environment variables captured into the event's data when Juju dispatches it. */
  readonly env?: readonly string[];
}

interface Observer {
  readonly key: string;
  readonly fn: Handler<never>;
}

/** Rebuilds an event from a deferred notice's snapshot. */
export type EventFactory = (name: string, snapshot: Readonly<Record<string, unknown>>) => EventBase | undefined;

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

export class Framework {
  private readonly observers = new Map<string, Observer[]>();
  readonly knownEvents: ReadonlySet<string>;

  constructor(
    readonly model: Model,
    readonly log: Logger,
    private readonly state: UnitState,
    meta: CharmMeta,
    readonly customEvents: Readonly<Record<string, CustomEventSpec>>,
    private readonly rebuild: EventFactory,
  ) {
    const known = new Set<string>(LIFECYCLE_EVENTS);
    for (const ep of Object.keys(meta.endpoints)) {
      for (const phase of RELATION_PHASES) known.add(`${ep.replace(/-/g, '_')}_relation_${phase}`);
    }
    for (const action of Object.keys(meta.actions)) known.add(`${action.replace(/-/g, '_')}_action`);
    for (const custom of Object.keys(customEvents)) {
      if (known.has(custom)) throw new ModelError(`custom event "${custom}" clashes with a Juju event of the same name`);
      known.add(custom);
    }
    this.knownEvents = known;
  }

  /** Registers a handler. The event must exist (Juju event, declared endpoint/action, or custom). */
  observe<N extends string>(event: N, handler: Handler<EventFor<N>>): void {
    if (!this.knownEvents.has(event)) {
      throw new ModelError(`cannot observe unknown event "${event}": not a Juju event, a relation event of an endpoint in metadata.yaml, an action in actions.yaml, or a declared custom event`);
    }
    const list = this.observers.get(event) ?? [];
    const key = handler.name.replace(/^bound /, '') || `${event}#${list.length}`;
    list.push({ key, fn: handler as Handler<never> });
    this.observers.set(event, list);
  }

  isObserved(event: string): boolean {
    return (this.observers.get(event)?.length ?? 0) > 0;
  }

  /** Typed persistent state under a name; `defaults` fill keys that were never set. */
  storedState<T extends Record<string, unknown>>(name: string, defaults: T): StoredState<T> {
    const bag = (this.state.stored[name] ??= {});
    for (const [k, v] of Object.entries(defaults)) if (!(k in bag)) bag[k] = v;
    return new StoredState<T>(bag);
  }

  /** Emits a custom event now; its handlers run before this returns. */
  async emitCustom(name: string, data: Record<string, string> = {}): Promise<void> {
    if (!(name in this.customEvents)) throw new ModelError(`"${name}" is not a declared custom event`);
    await this.emit(new CustomEvent(name, data));
  }

  /** Runs every observer of the event; a deferring observer gets a notice for the next dispatch. */
  async emit(event: EventBase): Promise<void> {
    const observers = this.observers.get(event.name) ?? [];
    if (observers.length === 0) {
      this.log.debug(`event ${event.name} has no observer; nothing to do`);
      return;
    }
    this.log.debug(`Emitting event ${event.name}.`);
    for (const obs of observers) {
      event.resetDeferred();
      await (obs.fn as Handler<EventBase>).call(undefined, event);
      if (event.deferred) this.addNotice(event, obs.key);
    }
  }

  private addNotice(event: EventBase, observer: string): void {
    const snapshot = event.snapshot();
    const same = JSON.stringify(snapshot);
    if (this.state.deferred.some((n) => n.event === event.name && n.observer === observer && JSON.stringify(n.snapshot) === same)) {
      this.log.debug(`event ${event.name} for ${observer} is already deferred; not queued twice`);
      return;
    }
    this.state.deferred.push({ seq: this.state.nextSeq++, event: event.name, observer, snapshot });
    this.log.debug(`Deferring event ${event.name} for ${observer}.`);
  }

  /** Re-emits deferred events in order, each to the handler that deferred it; drops handled ones. */
  async reemitDeferred(): Promise<void> {
    const queue = [...this.state.deferred];
    for (const notice of queue) {
      const keep = await this.reemit(notice);
      if (!keep) this.state.deferred = this.state.deferred.filter((n) => n.seq !== notice.seq);
    }
  }

  private async reemit(notice: Notice): Promise<boolean> {
    const obs = this.observers.get(notice.event)?.find((o) => o.key === notice.observer);
    const event = obs ? this.rebuild(notice.event, notice.snapshot) : undefined;
    if (!obs || !event) {
      this.log.warning(`dropping deferred event ${notice.event}: ${obs ? 'it cannot be rebuilt' : `no observer ${notice.observer}`}`);
      return false;
    }
    this.log.debug(`Re-emitting deferred event ${notice.event} to ${notice.observer}.`);
    await (obs.fn as Handler<EventBase>).call(undefined, event);
    return event.deferred;
  }
}
