// The check Context.run makes before running, as Scenario's consistency checker does: a test
// whose state or event Juju could never produce for this charm is refused with every problem
// named, instead of exercising the charm in a situation that cannot happen.
import path from 'node:path';
import type { CharmClass } from '../charm.js';
import { eventNameFromDispatchPath, isSecretEvent, parseRelationEventName, SECRET_REVISION_EVENTS } from '../context.js';
import { LIFECYCLE_EVENTS } from '../events.js';
import type { CharmMeta } from '../meta.js';
import { SECRET_URI } from '../model.js';
import { parseSecretUri } from './juju-sim.js';
import type { SecretState, State } from './state.js';

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

/** Juju hooks a charm may get without declaring anything (besides the lifecycle and secret events). */
const OTHER_JUJU_EVENTS = ['collect_metrics', 'pre_series_upgrade', 'post_series_upgrade'];
const JUJU_STATUSES = ['active', 'blocked', 'maintenance', 'waiting', 'unknown', 'error'];
/** Juju's rule for secret content keys (juju-hook-contract.md §8). */
const SECRET_KEY = /^([a-z](?:-?[a-z0-9]){2,})$/;

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

  if (isSecretEvent(name)) {
    checkSecretEvent(name, shown, env, state, problems);
    return;
  }
  if ((LIFECYCLE_EVENTS as readonly string[]).includes(name) || OTHER_JUJU_EVENTS.includes(name)) return;
  if (charm.customEvents && Object.prototype.hasOwnProperty.call(charm.customEvents, name)) return;
  problems.push(
    `${shown} is not a Juju event, a relation event of an endpoint in metadata.yaml, an action in actions.yaml, or a custom event the charm declares (custom events: ${list(Object.keys(charm.customEvents ?? {}))})`,
  );
}

const sameSecret = (a: string, b: string): boolean => (parseSecretUri(a)?.id ?? a) === (parseSecretUri(b)?.id ?? b);

/** A secret event names a secret of the state, one Juju would send that event to this unit for. */
function checkSecretEvent(name: string, shown: string, env: Readonly<Record<string, string>>, state: State, problems: string[]): void {
  const id = env.JUJU_SECRET_ID;
  if (id === undefined) return; // readContext names the missing variable
  const secrets = state.secrets ?? [];
  const secret = secrets.find((s) => sameSecret(s.id, id));
  if (!secret) {
    problems.push(`${shown}: secret ${JSON.stringify(id)} is not in the state's secrets (${list(secrets.map((s) => s.id))})`);
    return;
  }
  const hook = name.replace(/_/g, '-');
  if (name === 'secret_changed') {
    if (secret.owner === 'unit' || (secret.owner === 'app' && state.leader)) {
      problems.push(`${shown}: secret ${id} is owned by this ${secret.owner === 'unit' ? 'unit' : 'application, whose leader this unit is'}; Juju sends secret-changed to its consumers (and to the other units of an owning application), not to the owner`);
    } else if (!secret.owner && secret.tracked === undefined) {
      problems.push(`${shown}: this unit never read secret ${id} (it has no tracked revision), so Juju would not tell it about a new revision`);
    }
  } else if (!secret.owner) {
    problems.push(`${shown}: secret ${id} is not owned by this charm (a user secret); Juju sends ${hook} only to the secret's owner`);
  }
  const revision = env.JUJU_SECRET_REVISION;
  if ((SECRET_REVISION_EVENTS as readonly string[]).includes(name) && revision !== undefined) {
    const n = Number(revision);
    if (!Number.isInteger(n) || n < 1 || n > secret.revisions.length) {
      problems.push(`${shown}: JUJU_SECRET_REVISION ${JSON.stringify(revision)} is not a revision of secret ${id} (1 to ${secret.revisions.length})`);
    }
  }
  const label = env.JUJU_SECRET_LABEL;
  if (label !== undefined && label !== (secret.label ?? '')) {
    problems.push(`${shown}: JUJU_SECRET_LABEL is ${JSON.stringify(label)} but this unit's label for secret ${id} is ${JSON.stringify(secret.label ?? '')}`);
  }
}

/** The secrets of a state are ones Juju could hold: valid ids and keys, revisions that exist, unique labels. Never shows content. */
function checkSecrets(secrets: readonly SecretState[], problems: string[]): void {
  const ids = new Map<string, string>();
  const labels = new Map<string, string>();
  for (const s of secrets) {
    const shown = `secret ${JSON.stringify(s.id)}`;
    const uri = typeof s.id === 'string' && s.id.startsWith('secret:') ? parseSecretUri(s.id) : undefined;
    if (!uri) {
      problems.push(`${shown} is not a secret URI: secret:<20 characters 0-9a-v> (as juju add-secret prints it) or secret://<model-uuid>/<id>`);
    } else {
      const seen = ids.get(uri.id);
      if (seen !== undefined) problems.push(`${shown} is the same secret as ${JSON.stringify(seen)}; each secret appears once`);
      ids.set(uri.id, s.id);
    }
    if (s.owner !== undefined && s.owner !== 'app' && s.owner !== 'unit') problems.push(`${shown}: owner ${JSON.stringify(s.owner)} is not "app" or "unit" (leave it out for a user secret)`);
    const revisions = Array.isArray(s.revisions) ? s.revisions : [];
    if (revisions.length === 0) problems.push(`${shown} has no revisions; a secret has at least one`);
    revisions.forEach((content, i) => {
      if (typeof content !== 'object' || content === null || Array.isArray(content) || Object.keys(content).length === 0) {
        problems.push(`${shown} revision ${i + 1} is not a non-empty map of keys to strings`);
        return;
      }
      for (const [k, v] of Object.entries(content)) {
        if (!SECRET_KEY.test(k)) problems.push(`${shown} revision ${i + 1}: key ${JSON.stringify(k)} is not a secret key Juju accepts (lowercase letters, digits and single hyphens, starting with a letter, at least 3 characters)`);
        if (typeof v !== 'string') problems.push(`${shown} revision ${i + 1}: the value of key ${JSON.stringify(k)} is ${describeValue(v)}; secret values are strings`);
      }
    });
    if (s.tracked !== undefined) {
      if (s.owner) problems.push(`${shown} is owned by this ${s.owner === 'app' ? 'application' : 'unit'}: an owner reads the latest revision and tracks none (leave tracked out)`);
      else if (!Number.isInteger(s.tracked) || s.tracked < 1 || s.tracked > revisions.length) problems.push(`${shown}: tracked revision ${s.tracked} is not one of its revisions (1 to ${revisions.length})`);
    }
    if (!s.owner && s.label !== undefined && s.tracked === undefined) {
      problems.push(`${shown} has a label but no tracked revision: Juju keeps a consumer's label with the revision it tracks, from its first secret-get`);
    }
    if (s.label !== undefined) {
      const other = labels.get(s.label);
      if (other !== undefined) problems.push(`${shown} and secret ${JSON.stringify(other)} have the same label ${JSON.stringify(s.label)}; a unit's secret labels are unique`);
      labels.set(s.label, s.id);
    }
  }
}

/** The unit a scenario runs as (Context's appName/unitId). */
export interface ScenarioUnit {
  readonly unitName: string;
  readonly appName: string;
}

const sameBag = (a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** Peer relations relate the application to itself, and only they do (docs/juju-hook-contract.md §7). */
function checkPeers(meta: CharmMeta, state: State, unit: ScenarioUnit, problems: string[]): void {
  const perEndpoint = new Map<string, string[]>();
  for (const r of state.relations) {
    const spec = meta.endpoints[r.endpoint];
    if (!spec) continue;
    const ref = `${r.endpoint}:${r.id}`;
    if (spec.role !== 'peers') {
      if (r.remoteApp === unit.appName) problems.push(`relation ${ref} on ${spec.role} endpoint ${JSON.stringify(r.endpoint)} is with this application (${JSON.stringify(unit.appName)}) itself; only a peers endpoint relates an application to itself`);
      continue;
    }
    perEndpoint.set(r.endpoint, [...(perEndpoint.get(r.endpoint) ?? []), ref]);
    if (r.remoteApp !== unit.appName) problems.push(`peer relation ${ref}: the remote application of a peer relation is this application (${JSON.stringify(unit.appName)}), not ${JSON.stringify(r.remoteApp)}`);
    if (r.remoteUnits.includes(unit.unitName)) problems.push(`peer relation ${ref}: remote units include this unit (${JSON.stringify(unit.unitName)}); its remote units are the application's other units`);
    if (Object.keys(r.remoteAppData).length > 0 && !sameBag(r.remoteAppData, r.localAppData)) {
      problems.push(`peer relation ${ref}: the application has one databag, kept in localAppData (every unit reads it, the leader writes it); leave remoteAppData empty`);
    }
  }
  for (const [endpoint, refs] of perEndpoint) {
    if (refs.length > 1) problems.push(`peers endpoint ${JSON.stringify(endpoint)} has ${refs.length} relations (${list(refs)}); Juju makes exactly one`);
  }
}

function checkState(meta: CharmMeta, state: State, problems: string[]): void {
  for (const [key, value] of Object.entries(state.config)) {
    if (!(key in meta.config)) problems.push(`config option ${JSON.stringify(key)} is not in config.yaml (options: ${list(Object.keys(meta.config))})`);
    else if (meta.config[key]!.type === 'secret' && !(typeof value === 'string' && (value === '' || SECRET_URI.test(value)))) {
      // Not the value itself: it may be a password put where a secret URI belongs.
      problems.push(`config option ${JSON.stringify(key)} is declared secret in config.yaml but the test gives ${typeof value === 'string' ? 'a string that is not a secret URI' : `a ${typeof value}`}; a secret option holds secret:<20 characters 0-9a-v> or secret://<model-uuid>/<id>`);
    }
  }
  checkSecrets(state.secrets ?? [], problems);

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

/**
 * Throws InconsistentScenarioError naming every way `state` and `event` do not fit the charm
 * (and, given the unit it runs as, its peer relations).
 */
export function checkConsistency(meta: CharmMeta, charm: CharmClass, event: CheckedEvent, state: State, unit?: ScenarioUnit): void {
  const problems: string[] = [];
  checkState(meta, state, problems);
  if (unit) checkPeers(meta, state, unit, problems);
  checkEvent(meta, charm, event, state, problems);
  if (problems.length > 0) throw new InconsistentScenarioError(problems);
}
