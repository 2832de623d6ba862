// One dispatch, start to end: read the context, build the charm, re-emit deferred events, emit
// this event, then commit stored state and flush logs. Exit codes follow Juju: non-zero marks a
// hook failed (Juju rolls back relation data and retries); an action reports failure with
// action-fail and exits 0.
import { ActionEvent, CustomEvent, HookEvent, RelationEvent, type EventBase } from './events.js';
import { ProcessBackend, type Backend } from './backend.js';
import type { CharmClass } from './charm.js';
import { ContextError } from './errors.js';
import { parseRelationEventName, readContext, type JujuContext } from './context.js';
import { Framework } from './framework.js';
import { Logger } from './log.js';
import { loadCharmMeta, type CharmMeta } from './meta.js';
import { Model } from './model.js';
import { ProcessToolRunner } from './runner.js';
import { UnitStateFile } from './storage.js';

export interface DispatchOptions {
  readonly charm: CharmClass;
  readonly env: Record<string, string | undefined>;
  /** The path this process was started as, for legacy `hooks/<name>` invocations. */
  readonly invokedAs?: string;
  /** Pre-parsed metadata (a packed charm embeds it); otherwise the YAML files are read. */
  readonly meta?: CharmMeta;
  /** Defaults to the real hook tools on PATH. */
  readonly backend?: Backend;
  readonly stderr?: (text: string) => void;
}

function buildEvent(ctx: JujuContext, model: Model, backend: Backend, charm: CharmClass): EventBase {
  const name = ctx.eventName;
  if (ctx.action) return new ActionEvent(name, ctx.action.name, ctx.action.id, backend);
  if (ctx.relation) {
    const r = ctx.relation;
    const phase = parseRelationEventName(name)!.phase;
    return new RelationEvent(name, phase, model.relation(r.endpoint, r.id, r.remoteApp), r.remoteApp, r.remoteUnit, r.departingUnit);
  }
  const custom = charm.customEvents?.[name];
  if (custom) {
    const data: Record<string, string> = {};
    for (const key of custom.env ?? []) data[key] = ctx.env[key] ?? '';
    return new CustomEvent(name, data);
  }
  return new HookEvent(name);
}

function rebuildEvent(model: Model, charm: CharmClass) {
  return (name: string, snap: Readonly<Record<string, unknown>>): EventBase | undefined => {
    const rel = parseRelationEventName(name);
    if (rel && typeof snap.endpoint === 'string' && typeof snap.relationId === 'number') {
      const app = String(snap.app ?? '');
      return new RelationEvent(
        name,
        rel.phase,
        model.relation(snap.endpoint, snap.relationId, app),
        app,
        typeof snap.unit === 'string' ? snap.unit : undefined,
        typeof snap.departingUnit === 'string' ? snap.departingUnit : undefined,
      );
    }
    if (name.endsWith('_action')) return undefined;
    if (charm.customEvents?.[name]) return new CustomEvent(name, (snap.data ?? {}) as Record<string, string>);
    return new HookEvent(name);
  };
}

/** Runs one dispatch and returns the process exit code. */
export async function dispatch(opts: DispatchOptions): Promise<number> {
  const stderr = opts.stderr ?? ((t: string) => process.stderr.write(t));
  if (opts.env.OPERATOR_DISPATCH) {
    stderr('Charm called itself (OPERATOR_DISPATCH is set); not dispatching again.\n');
    return 0;
  }
  let ctx: JujuContext;
  try {
    ctx = readContext(opts.env, opts.invokedAs ? { invokedAs: opts.invokedAs } : {});
  } catch (err) {
    if (err instanceof ContextError) {
      stderr(`ERROR ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const backend = opts.backend ?? new ProcessBackend(new ProcessToolRunner({ ...opts.env, OPERATOR_DISPATCH: '1' }));
  const log = new Logger(backend);
  const store = new UnitStateFile(ctx.charmDir);
  // An unusable state file is moved aside and reported, never a reason to fail the hook.
  const committed = store.load((message) => log.error(message));
  // Work on a copy: the committed state is what survives a failure.
  const state = structuredClone(committed);
  const meta = opts.meta ?? (await loadCharmMeta(ctx.charmDir));
  const model = new Model(backend, meta, ctx, state);
  let event: EventBase | undefined;

  try {
    const framework = new Framework(model, log, state, meta, opts.charm.customEvents ?? {}, rebuildEvent(model, opts.charm));
    new opts.charm(framework);
    if (!framework.knownEvents.has(ctx.eventName)) log.debug(`event ${ctx.eventName} is not defined by this charm; nothing to do`);
    await framework.reemitDeferred();
    if (framework.knownEvents.has(ctx.eventName)) {
      event = buildEvent(ctx, model, backend, opts.charm);
      await framework.emit(event);
    }
    store.save(state);
    log.flush();
    return 0;
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    log.error(`Uncaught ${e.name} in ${ctx.dispatchPath}: ${e.stack ?? e.message}`);
    // Status took effect in Juju at once, so its memory is kept; everything else rolls back.
    if (state.lastUnitStatus) committed.lastUnitStatus = state.lastUnitStatus;
    else delete committed.lastUnitStatus;
    try {
      store.save(committed);
    } catch (saveErr) {
      log.error(`could not save the unit state: ${(saveErr as Error).message}`);
    }
    log.flush();
    stderr(`${e.name}: ${e.message}\n`);
    if (event instanceof ActionEvent || ctx.action) {
      try {
        backend.actionFail(`${ctx.action?.name ?? 'action'} failed: ${e.message}`);
      } catch {
        return 1;
      }
      return 0;
    }
    return 1;
  }
}

/** The charm's process entry point: dispatch the event in process.env and set the exit code. */
export async function main(charm: CharmClass, meta?: CharmMeta): Promise<void> {
  process.exitCode = await dispatch({
    charm,
    env: process.env,
    // The dispatch script passes "$0": legacy Juju runs hooks/<name> without JUJU_DISPATCH_PATH.
    ...(process.argv[2] ? { invokedAs: process.argv[2] } : {}),
    ...(meta ? { meta } : {}),
  });
}
