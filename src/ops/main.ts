// One dispatch, start to end: read the context, build the charm, re-emit deferred events, emit
// this event, collect the unit status, then commit stored state and flush logs. Exit codes follow Juju: non-zero marks a
// hook failed (Juju rolls back relation data and retries); an action reports failure with
// action-fail and exits 0.
import { ProcessBackend, type Backend } from './backend.js';
import type { CharmClass } from './charm.js';
import { ContextError } from './errors.js';
import { readContext, type JujuContext } from './context.js';
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
  /**
   * On these signals, send the buffered log records (and a line saying so) to juju-log, then
   * die by the signal as before. `main` passes SIGTERM, SIGINT and SIGHUP; tests running
   * dispatch in-process pass none.
   */
  readonly flushOnSignals?: readonly NodeJS.Signals[];
  /**
   * Told of an error the charm did not catch (after it was logged and the state rolled back):
   * the testing Context turns it into UncaughtCharmError, so a test cannot pass over a crash.
   */
  readonly onUncaughtError?: (err: Error) => void;
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
  // A dispatch killed by a signal loses at most what was logged since the last flush; one
  // stopped by a catchable signal loses nothing.
  const onSignal = (signal: NodeJS.Signals) => {
    log.error(`${ctx.dispatchPath} interrupted by ${signal}; Juju will see the hook fail`);
    log.flush();
    process.kill(process.pid, signal);
  };
  for (const sig of opts.flushOnSignals ?? []) process.once(sig, onSignal);

  try {
    const framework = new Framework(model, log, state, meta, opts.charm.customEvents ?? {}, backend);
    // The charm class is typed with its own events and config; the framework serves any.
    new opts.charm(framework as never);
    const event = framework.eventFromContext(ctx.eventName);
    if (!event) log.debug(`event ${ctx.eventName} is not defined by this charm; nothing to do`);
    await framework.reemitDeferred();
    if (event) await framework.emit(event);
    await framework.collectStatus();
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
    opts.onUncaughtError?.(e);
    if (ctx.action) {
      try {
        backend.actionFail(`${ctx.action.name} failed: ${e.message}`);
      } catch {
        return 1;
      }
      return 0;
    }
    return 1;
  } finally {
    for (const sig of opts.flushOnSignals ?? []) process.removeListener(sig, onSignal);
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
    flushOnSignals: ['SIGTERM', 'SIGINT', 'SIGHUP'],
  });
}
