// The check Context.run makes before running, as Scenario's consistency checker does: a test
// whose state or event Juju could never produce for this charm is refused with every problem
// named, instead of exercising the charm in a situation that cannot happen.
import path from 'node:path';
import type { CharmClass } from '../charm.js';
import { eventNameFromDispatchPath, parseRelationEventName } from '../context.js';
import { LIFECYCLE_EVENTS } from '../events.js';
import type { CharmMeta } from '../meta.js';
import type { State } from './state.js';

/** The state or event of a test is one Juju could not produce for this charm. */
export class InconsistentScenarioError extends Error {
  override name = 'InconsistentScenarioError';
  constructor(readonly problems: readonly string[]) {
    super(`inconsistent scenario: ${problems.length === 1 ? problems[0] : problems.map((p) => `\n  - ${p}`).join('')}`);
  }
}

/** The event part of a TestEvent (context.ts). */
export interface CheckedEvent {
  readonly dispatchPath: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly action?: { readonly params: Readonly<Record<string, unknown>> };
}

/** Juju hooks a charm may get without declaring anything (besides the framework's lifecycle events). */
const OTHER_JUJU_EVENTS = ['collect_metrics', 'pre_series_upgrade', 'post_series_upgrade', 'secret_changed', 'secret_expired', 'secret_remove', 'secret_rotate'];
const JUJU_STATUSES = ['active', 'blocked', 'maintenance', 'waiting', 'unknown', 'error'];

const list = (names: readonly string[]) => (names.length === 0 ? 'none' : names.map((n) => JSON.stringify(n)).join(', '));
const describeValue = (v: unknown) => (Array.isArray(v) ? 'an array' : v === null ? 'null' : `a ${typeof v}`);

function paramTypeMatches(type: string, value: unknown): boolean | undefined {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'null':
      return value === null;
    default:
      return undefined;
  }
}

function checkEvent(meta: CharmMeta, charm: CharmClass, event: CheckedEvent, state: State, problems: string[]): void {
  const env = event.env ?? {};
  const name = eventNameFromDispatchPath(event.dispatchPath);
  const dir = path.posix.basename(path.posix.dirname(event.dispatchPath));
  const shown = `event ${JSON.stringify(name)} (${event.dispatchPath})`;

  if (dir === 'actions') {
    const action = path.posix.basename(event.dispatchPath);
    const spec = meta.actions[action];
    if (!spec) {
      problems.push(`${shown}: action ${JSON.stringify(action)} is not in actions.yaml (actions: ${list(Object.keys(meta.actions))})`);
      return;
    }
    const declared = (spec.params ?? {}) as Record<string, unknown>;
    for (const [param, value] of Object.entries(event.action?.params ?? {})) {
      if (!(param in declared)) {
        problems.push(`action ${JSON.stringify(action)} has no parameter ${JSON.stringify(param)} in actions.yaml (parameters: ${list(Object.keys(declared))})`);
        continue;
      }
      const type = (declared[param] as { type?: unknown } | null)?.type;
      const types = (Array.isArray(type) ? type : [type]).filter((t): t is string => typeof t === 'string');
      const verdicts = types.map((t) => paramTypeMatches(t, value)).filter((v) => v !== undefined);
      if (verdicts.length > 0 && !verdicts.includes(true)) {
        problems.push(`action ${JSON.stringify(action)} parameter ${JSON.stringify(param)} is declared ${types.join(' or ')} in actions.yaml but the test gives ${describeValue(value)} (${JSON.stringify(value)})`);
      }
    }
    return;
  }

  const rel = parseRelationEventName(name);
  if (rel) {
    const endpoint = Object.keys(meta.endpoints).find((ep) => ep.replace(/-/g, '_') === rel.endpointKey);
    if (endpoint === undefined) {
      const guess = env.JUJU_RELATION ?? rel.endpointKey.replace(/_/g, '-');
      problems.push(`${shown}: endpoint ${JSON.stringify(guess)} is not in metadata.yaml (endpoints: ${list(Object.keys(meta.endpoints))})`);
      return;
    }
    if (env.JUJU_RELATION !== undefined && env.JUJU_RELATION !== endpoint) {
      problems.push(`${shown}: JUJU_RELATION is ${JSON.stringify(env.JUJU_RELATION)}, not the event's endpoint ${JSON.stringify(endpoint)}`);
      return;
    }
    const relId = env.JUJU_RELATION_ID;
    if (relId === undefined) return; // readContext names the missing variable
    const id = Number(relId.split(':').at(-1));
    const relation = state.relations.find((r) => r.endpoint === endpoint && r.id === id);
    if (!relation) {
      problems.push(`${shown}: relation ${JSON.stringify(relId)} is not in the state's relations (${list(state.relations.map((r) => `${r.endpoint}:${r.id}`))})`);
      return;
    }
    if (env.JUJU_REMOTE_APP && env.JUJU_REMOTE_APP !== relation.remoteApp) {
      problems.push(`${shown}: the remote application is ${JSON.stringify(env.JUJU_REMOTE_APP)} but relation ${relId} is with ${JSON.stringify(relation.remoteApp)}`);
    }
    const remote = env.JUJU_REMOTE_UNIT;
    if ((rel.phase === 'joined' || rel.phase === 'changed') && remote && !relation.remoteUnits.includes(remote)) {
      problems.push(`${shown}: remote unit ${JSON.stringify(remote)} is not one of relation ${relId}'s remote units (${list(relation.remoteUnits)})`);
    }
    return;
  }

  if ((LIFECYCLE_EVENTS as readonly string[]).includes(name) || OTHER_JUJU_EVENTS.includes(name)) return;
  if (charm.customEvents && Object.prototype.hasOwnProperty.call(charm.customEvents, name)) return;
  problems.push(
    `${shown} is not a Juju event, a relation event of an endpoint in metadata.yaml, an action in actions.yaml, or a custom event the charm declares (custom events: ${list(Object.keys(charm.customEvents ?? {}))})`,
  );
}

function checkState(meta: CharmMeta, state: State, problems: string[]): void {
  for (const key of Object.keys(state.config)) {
    if (!(key in meta.config)) problems.push(`config option ${JSON.stringify(key)} is not in config.yaml (options: ${list(Object.keys(meta.config))})`);
  }

  const ids = new Map<number, string>();
  for (const r of state.relations) {
    const ref = `${r.endpoint}:${r.id}`;
    if (!meta.endpoints[r.endpoint]) problems.push(`relation ${ref} is on endpoint ${JSON.stringify(r.endpoint)}, which is not in metadata.yaml (endpoints: ${list(Object.keys(meta.endpoints))})`);
    const seen = ids.get(r.id);
    if (seen !== undefined) problems.push(`relation id ${r.id} is used twice (${seen} and ${ref}); Juju's relation ids are unique in a model`);
    ids.set(r.id, ref);
    for (const u of r.remoteUnits) {
      if (!new RegExp(`^${r.remoteApp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\d+$`).test(u)) problems.push(`relation ${ref}: remote unit ${JSON.stringify(u)} is not a unit of the remote application ${JSON.stringify(r.remoteApp)}`);
    }
    for (const u of Object.keys(r.remoteUnitsData)) {
      if (!r.remoteUnits.includes(u)) problems.push(`relation ${ref}: remoteUnitsData has unit ${JSON.stringify(u)}, which is not in remoteUnits (${list(r.remoteUnits)})`);
    }
    const bags: [string, Readonly<Record<string, unknown>>][] = [
      ['localUnitData', r.localUnitData],
      ['localAppData', r.localAppData],
      ['remoteAppData', r.remoteAppData],
      ...Object.entries(r.remoteUnitsData).map(([u, bag]): [string, Readonly<Record<string, unknown>>] => [`remoteUnitsData[${JSON.stringify(u)}]`, bag]),
    ];
    for (const [bagName, bag] of bags) {
      for (const [k, v] of Object.entries(bag)) {
        if (typeof v !== 'string') problems.push(`relation ${ref}: ${bagName} key ${JSON.stringify(k)} is ${describeValue(v)}; databag values are strings`);
      }
    }
  }

  for (const [which, status] of [['unitStatus', state.unitStatus], ['appStatus', state.appStatus]] as const) {
    if (!JUJU_STATUSES.includes(status.status)) problems.push(`${which} ${JSON.stringify(status.status)} is not a Juju status (${list(JUJU_STATUSES)})`);
  }
}

/** Throws InconsistentScenarioError naming every way `state` and `event` do not fit the charm. */
export function checkConsistency(meta: CharmMeta, charm: CharmClass, event: CheckedEvent, state: State): void {
  const problems: string[] = [];
  checkState(meta, state, problems);
  checkEvent(meta, charm, event, state, problems);
  if (problems.length > 0) throw new InconsistentScenarioError(problems);
}
