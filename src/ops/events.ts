// Event objects handed to observers. Each can say how to snapshot itself, so a deferred event
// can be rebuilt in a later dispatch.
import type { Backend } from './backend.js';
import { ModelError } from './errors.js';
import { flattenActionResults, type ActionResultValue } from './action-results.js';
import type { Relation } from './model.js';
import type { RelationPhase } from './context.js';

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
export type LifecycleEventName = (typeof LIFECYCLE_EVENTS)[number];

/** Juju events that cannot wait for a later hook: the unit may be gone by then. */
const NOT_DEFERRABLE = new Set(['stop', 'remove']);

export abstract class EventBase {
  private deferredFlag = false;
  constructor(readonly name: string) {}

  /** Keeps the event and re-emits it to this handler at the start of the next dispatch. */
  defer(): void {
    if (NOT_DEFERRABLE.has(this.name)) throw new ModelError(`the ${this.name} event cannot be deferred`);
    this.deferredFlag = true;
  }
  get deferred(): boolean {
    return this.deferredFlag;
  }
  /** Resets the flag before each observer call, as ops does. */
  resetDeferred(): void {
    this.deferredFlag = false;
  }
  abstract snapshot(): Record<string, unknown>;
}

export class HookEvent extends EventBase {
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
    /** The remote unit (absent in created and broken). */
    readonly unit?: string,
    readonly departingUnit?: string,
  ) {
    super(name);
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

export class CustomEvent extends EventBase {
  constructor(
    name: string,
    /** Values captured when the event was emitted (from the environment when Juju dispatched it). */
    readonly data: Readonly<Record<string, string>>,
  ) {
    super(name);
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

export type EventFor<N extends string> = N extends `${string}_relation_${RelationPhase}`
  ? RelationEvent
  : N extends `${string}_action`
    ? ActionEvent
    : N extends LifecycleEventName
      ? HookEvent
      : CustomEvent;

export type AnyEvent = HookEvent | RelationEvent | ActionEvent | CustomEvent;
