// The Juju context of one process: what Juju put in the environment, checked, and which event
// the dispatch path names. Mirrors ops' JujuContext and _Dispatcher.
import path from 'node:path';
import { ContextError } from './errors.js';

export interface JujuContext {
  readonly unitName: string;
  readonly appName: string;
  readonly modelName: string;
  readonly modelUuid: string;
  readonly charmDir: string;
  readonly version: string;
  /** e.g. `hooks/config-changed`, `actions/get-latest`, `hooks/build_success`. */
  readonly dispatchPath: string;
  /** ops-style event name: `config_changed`, `image_relation_joined`, `get_latest_action`. */
  readonly eventName: string;
  readonly relation?: {
    readonly endpoint: string;
    readonly id: number;
    readonly remoteApp: string;
    /** Absent in created and broken, and in changed when the remote application's databag changed. */
    readonly remoteUnit?: string;
    readonly departingUnit?: string;
  };
  readonly action?: { readonly name: string; readonly id: string };
  /** Secret events: JUJU_SECRET_ID, JUJU_SECRET_LABEL (when not empty), JUJU_SECRET_REVISION (remove, expired). */
  readonly secret?: { readonly id: string; readonly label?: string; readonly revision?: number };
  readonly env: Readonly<Record<string, string | undefined>>;
}

export const RELATION_PHASES = ['created', 'joined', 'changed', 'departed', 'broken'] as const;

/** Juju's secret hooks, which any charm may get; the last two carry JUJU_SECRET_REVISION. */
export const SECRET_EVENTS = ['secret_changed', 'secret_rotate', 'secret_remove', 'secret_expired'] as const;
export type SecretEventName = (typeof SECRET_EVENTS)[number];
export const isSecretEvent = (name: string): name is SecretEventName => (SECRET_EVENTS as readonly string[]).includes(name);
/** The secret events whose environment names a revision. */
export const SECRET_REVISION_EVENTS: readonly SecretEventName[] = ['secret_remove', 'secret_expired'];
export type RelationPhase = (typeof RELATION_PHASES)[number];

/** `hooks/config-changed` -> `config_changed`; `actions/get-latest` -> `get_latest_action`. */
export function eventNameFromDispatchPath(dispatchPath: string): string {
  const base = path.posix.basename(dispatchPath).replace(/-/g, '_');
  const parent = path.posix.basename(path.posix.dirname(dispatchPath));
  return parent === 'actions' ? `${base}_action` : base;
}

/** Splits `image_relation_joined` into endpoint `image` and phase `joined`. */
export function parseRelationEventName(eventName: string): { endpointKey: string; phase: RelationPhase } | undefined {
  const m = /^(.+)_relation_(created|joined|changed|departed|broken)$/.exec(eventName);
  return m ? { endpointKey: m[1]!, phase: m[2] as RelationPhase } : undefined;
}

function required(env: Record<string, string | undefined>, name: string, why: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ContextError(
      `environment variable ${name} is not set (${why}); this program is a Juju charm entry point: ` +
        `Juju runs it with the hook context in the environment`,
    );
  }
  return value;
}

/**
 * Reads the context from the environment. `invokedAs` is the path this process was started
 * as (legacy Juju runs `hooks/<name>` without JUJU_DISPATCH_PATH); `relationEndpoints` lets a
 * relation event whose endpoint contains `_relation_`-like text be split correctly.
 */
export function readContext(
  env: Record<string, string | undefined>,
  opts: { invokedAs?: string; charmDir?: string } = {},
): JujuContext {
  const unitName = required(env, 'JUJU_UNIT_NAME', 'the unit this hook runs for');
  if (!/^[a-z][a-z0-9-]*\/\d+$/.test(unitName)) {
    throw new ContextError(`JUJU_UNIT_NAME ${JSON.stringify(unitName)} is not a unit name like "app/0"`);
  }
  const modelName = required(env, 'JUJU_MODEL_NAME', 'the model this unit is in');
  const charmDir = opts.charmDir ?? env.JUJU_CHARM_DIR ?? env.CHARM_DIR;
  if (!charmDir) required(env, 'JUJU_CHARM_DIR', 'the charm directory');
  const version = required(env, 'JUJU_VERSION', 'the Juju agent version');

  let dispatchPath = env.JUJU_DISPATCH_PATH ?? '';
  if (!dispatchPath && opts.invokedAs) {
    // Legacy hooks/<name> invocation: the last two components name the event.
    const abs = path.resolve(charmDir!, opts.invokedAs);
    const rel = path.relative(charmDir!, abs);
    dispatchPath = rel.startsWith('..') ? path.basename(abs) : rel.split(path.sep).join('/');
  }
  if (!dispatchPath) {
    throw new ContextError(
      'environment variable JUJU_DISPATCH_PATH is not set and the program was not invoked as hooks/<name>: ' +
        'cannot tell which event to run',
    );
  }
  const eventName = eventNameFromDispatchPath(dispatchPath);
  const dir = path.posix.basename(path.posix.dirname(dispatchPath));

  let relation: JujuContext['relation'];
  const rel = dir === 'actions' ? undefined : parseRelationEventName(eventName);
  if (rel) {
    const endpoint = required(env, 'JUJU_RELATION', `relation event ${eventName}`);
    const relId = required(env, 'JUJU_RELATION_ID', `relation event ${eventName}`);
    const m = /^(?:([^:]+):)?(\d+)$/.exec(relId);
    if (!m) throw new ContextError(`JUJU_RELATION_ID ${JSON.stringify(relId)} is not of the form "<endpoint>:<id>"`);
    const remoteApp = env.JUJU_REMOTE_APP || (env.JUJU_REMOTE_UNIT ?? '').split('/')[0] || '';
    if (!remoteApp) required(env, 'JUJU_REMOTE_APP', `relation event ${eventName}`);
    // relation-changed with JUJU_REMOTE_UNIT empty is a change of the remote application's
    // databag (on a peer relation: this application's, written by the leader); joined and
    // departed always name a unit (docs/juju-hook-contract.md §2, §7).
    if ((rel.phase === 'joined' || rel.phase === 'departed') && !env.JUJU_REMOTE_UNIT) {
      required(env, 'JUJU_REMOTE_UNIT', `relation event ${eventName}`);
    }
    if (rel.phase === 'departed') required(env, 'JUJU_DEPARTING_UNIT', `relation event ${eventName}`);
    relation = {
      endpoint,
      id: Number(m[2]),
      remoteApp,
      ...(env.JUJU_REMOTE_UNIT ? { remoteUnit: env.JUJU_REMOTE_UNIT } : {}),
      ...(env.JUJU_DEPARTING_UNIT ? { departingUnit: env.JUJU_DEPARTING_UNIT } : {}),
    };
  }

  let action: JujuContext['action'];
  if (dir === 'actions') {
    const id = required(env, 'JUJU_ACTION_UUID', `action ${path.posix.basename(dispatchPath)}`);
    action = { name: env.JUJU_ACTION_NAME || path.posix.basename(dispatchPath), id };
  }

  let secret: JujuContext['secret'];
  if (dir !== 'actions' && isSecretEvent(eventName)) {
    const id = required(env, 'JUJU_SECRET_ID', `secret event ${eventName}`);
    let revision: number | undefined;
    if (SECRET_REVISION_EVENTS.includes(eventName)) {
      const raw = required(env, 'JUJU_SECRET_REVISION', `secret event ${eventName}`);
      if (!/^[1-9][0-9]*$/.test(raw)) throw new ContextError(`JUJU_SECRET_REVISION ${JSON.stringify(raw)} is not a revision number`);
      revision = Number(raw);
    }
    secret = { id, ...(env.JUJU_SECRET_LABEL ? { label: env.JUJU_SECRET_LABEL } : {}), ...(revision !== undefined ? { revision } : {}) };
  }

  return {
    unitName,
    appName: unitName.split('/')[0]!,
    modelName,
    modelUuid: env.JUJU_MODEL_UUID ?? '',
    charmDir: charmDir!,
    version,
    dispatchPath,
    eventName,
    ...(relation ? { relation } : {}),
    ...(action ? { action } : {}),
    ...(secret ? { secret } : {}),
    env,
  };
}
