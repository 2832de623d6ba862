// Scenario-style testing: run(event, stateIn) -> result with stateOut, on a fresh charm
// instance, through the real dispatcher, with an in-memory Juju. Nothing is shared between
// runs; the input state is never mutated.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CharmClass } from '../charm.js';
import { dispatch } from '../main.js';
import type { CharmMeta } from '../meta.js';
import { isStatusName } from '../hookcmds.js';
import { UNIT_STATE_FILE, UnitStateFile, type Notice } from '../storage.js';
import { checkConsistency } from './consistency.js';
import { MemoryBackend, type Recorded } from './memory-backend.js';
import type { RelationState, SecretState, State } from './state.js';

export interface TestEvent {
  readonly dispatchPath: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly action?: { readonly params: Readonly<Record<string, unknown>> };
}

/** Event constructors mirroring what Juju puts in the environment. */
export const on = {
  hook: (name: string): TestEvent => ({ dispatchPath: `hooks/${name}`, env: { JUJU_HOOK_NAME: name } }),
  install: () => on.hook('install'),
  start: () => on.hook('start'),
  stop: () => on.hook('stop'),
  remove: () => on.hook('remove'),
  configChanged: () => on.hook('config-changed'),
  upgradeCharm: () => on.hook('upgrade-charm'),
  updateStatus: () => on.hook('update-status'),
  leaderElected: () => on.hook('leader-elected'),
  /**
   * A relation hook. `remoteUnit` defaults to the relation's first remote unit (none in created
   * and broken); `remoteUnit: null` in changed is a change of the remote application's databag,
   * as Juju reports it: JUJU_REMOTE_UNIT empty, JUJU_REMOTE_APP set (on a peer relation, this
   * application's databag, written by the leader). See also `on.relationAppChanged`.
   */
  relation: (
    phase: 'created' | 'joined' | 'changed' | 'departed' | 'broken',
    rel: RelationState,
    opts: { remoteUnit?: string | null; departingUnit?: string } = {},
  ): TestEvent => {
    const hook = `${rel.endpoint}-relation-${phase}`;
    const remoteUnit = opts.remoteUnit === null ? '' : (opts.remoteUnit ?? (phase === 'created' || phase === 'broken' ? undefined : rel.remoteUnits[0]));
    return {
      dispatchPath: `hooks/${hook}`,
      env: {
        JUJU_HOOK_NAME: hook,
        JUJU_RELATION: rel.endpoint,
        JUJU_RELATION_ID: `${rel.endpoint}:${rel.id}`,
        JUJU_REMOTE_APP: rel.remoteApp,
        ...(remoteUnit !== undefined ? { JUJU_REMOTE_UNIT: remoteUnit } : {}),
        ...(phase === 'departed' ? { JUJU_DEPARTING_UNIT: opts.departingUnit ?? remoteUnit ?? '' } : {}),
      },
    };
  },
  /** relation-changed for a change of the remote application's databag (JUJU_REMOTE_UNIT empty). */
  relationAppChanged: (rel: RelationState): TestEvent => on.relation('changed', rel, { remoteUnit: null }),
  action: (name: string, params: Record<string, unknown> = {}): TestEvent => ({
    dispatchPath: `actions/${name}`,
    env: { JUJU_HOOK_NAME: '', JUJU_ACTION_NAME: name, JUJU_ACTION_UUID: '1', JUJU_ACTION_TAG: 'action-1' },
    action: { params },
  }),
  /**
   * A secret hook as Juju fires it: JUJU_SECRET_ID, JUJU_SECRET_LABEL (this unit's label for the
   * secret, or empty) and, for remove and expired, JUJU_SECRET_REVISION (default: the latest).
   */
  secret: (kind: 'changed' | 'rotate' | 'remove' | 'expired', secret: SecretState, opts: { revision?: number; label?: string } = {}): TestEvent => {
    const hook = `secret-${kind}`;
    const withRevision = kind === 'remove' || kind === 'expired';
    return {
      dispatchPath: `hooks/${hook}`,
      env: {
        JUJU_HOOK_NAME: hook,
        JUJU_SECRET_ID: secret.id,
        JUJU_SECRET_LABEL: opts.label ?? secret.label ?? '',
        ...(withRevision ? { JUJU_SECRET_REVISION: String(opts.revision ?? secret.revisions.length) } : {}),
      },
    };
  },
  /** secret-changed: a secret this unit consumes (and has read) has a new revision. */
  secretChanged: (secret: SecretState): TestEvent => on.secret('changed', secret),
  /** secret-rotate: a secret this charm owns is due for rotation. */
  secretRotate: (secret: SecretState): TestEvent => on.secret('rotate', secret),
  /** secret-remove: revision `revision` of a secret this charm owns is tracked by nobody any more. */
  secretRemove: (secret: SecretState, revision: number): TestEvent => on.secret('remove', secret, { revision }),
  /** secret-expired: revision `revision` of a secret this charm owns expired. */
  secretExpired: (secret: SecretState, revision: number): TestEvent => on.secret('expired', secret, { revision }),
  /** A charm-declared event fired the way juju-exec does it: JUJU_DISPATCH_PATH=hooks/<name>. */
  custom: (name: string, env: Record<string, string> = {}): TestEvent => ({ dispatchPath: `hooks/${name}`, env }),
};

export interface RunResult extends Omit<Recorded, 'workloadVersionHistory'> {
  readonly state: State;
  readonly exitCode: number;
  readonly stderr: string;
  readonly workloadVersionHistory: readonly string[];
  /** What the charm raised and did not catch; only with `expectUncaughtError` (else run throws). */
  readonly uncaughtError?: Error;
}

export interface RunOptions {
  /**
   * The test expects the charm to raise (a hook failing so that Juju retries it): run returns
   * the result, with `uncaughtError`, instead of throwing UncaughtCharmError, and throws if the
   * charm did not raise.
   */
  readonly expectUncaughtError?: boolean;
}

/**
 * The charm raised an error it did not catch (as Scenario's UncaughtCharmError): a crash is a
 * test failure unless the test says it expects one (`expectUncaughtError`). `cause` is the
 * charm's error; `result` what the run left (rolled-back state, logs, exit code).
 */
export class UncaughtCharmError<R = RunResult> extends Error {
  constructor(
    readonly dispatchPath: string,
    override readonly cause: Error,
    readonly result: R,
  ) {
    super(`the charm raised ${cause.name} in ${dispatchPath}: ${cause.message}`, { cause });
    this.name = 'UncaughtCharmError';
  }
}

/**
 * Settles a run by what the test expects: throws UncaughtCharmError for an unexpected crash,
 * and an Error when an expected crash did not happen.
 */
export function checkUncaught<R>(dispatchPath: string, uncaught: Error | undefined, result: R, opts: RunOptions): R {
  if (uncaught && !opts.expectUncaughtError) throw new UncaughtCharmError(dispatchPath, uncaught, result);
  if (!uncaught && opts.expectUncaughtError) throw new Error(`expected the charm to raise an uncaught error in ${dispatchPath}, but it did not`);
  return result;
}

export class Context {
  constructor(
    private readonly charm: CharmClass,
    private readonly meta: CharmMeta,
    private readonly opts: {
      appName?: string;
      unitId?: number;
      env?: Record<string, string>;
      /** A charm directory kept across runs (as a real unit's is); default: a fresh temp dir per run. */
      charmDir?: string;
    } = {},
  ) {}

  /**
   * Runs `event` on a fresh charm instance against `stateIn`. First checks that Juju could
   * produce this state and event for this charm (InconsistentScenarioError otherwise). An
   * error the charm does not catch throws UncaughtCharmError, unless `opts.expectUncaughtError`.
   */
  async run(event: TestEvent, stateIn: State, opts: RunOptions = {}): Promise<RunResult> {
    const appName = this.opts.appName ?? (this.meta.name || 'charm');
    const unitName = `${appName}/${this.opts.unitId ?? 0}`;
    checkConsistency(this.meta, this.charm, event, stateIn, { unitName, appName });
    const charmDir = this.opts.charmDir ?? mkdtempSync(path.join(tmpdir(), 'ops-testing-'));
    try {
      // The unit's memory of the status it last set is, in a real unit, the status Juju shows.
      const settable = isStatusName(stateIn.unitStatus.status);
      const seeded = {
        version: 1,
        nextSeq: Math.max(0, ...stateIn.deferred.map((n) => n.seq)) + 1,
        deferred: stateIn.deferred,
        stored: stateIn.stored,
        ...(settable ? { lastUnitStatus: stateIn.unitStatus } : {}),
      };
      writeFileSync(path.join(charmDir, UNIT_STATE_FILE), JSON.stringify(seeded));
      const env: Record<string, string> = {
        JUJU_UNIT_NAME: unitName,
        JUJU_MODEL_NAME: 'test-model',
        JUJU_MODEL_UUID: '00000000-0000-4000-8000-000000000000',
        JUJU_CHARM_DIR: charmDir,
        JUJU_VERSION: '3.6.4',
        JUJU_DISPATCH_PATH: event.dispatchPath,
        ...this.opts.env,
        ...event.env,
      };
      const backend = new MemoryBackend(stateIn, unitName, event.action ? { params: { ...event.action.params } } : undefined, env);
      let stderr = '';
      let uncaught: Error | undefined;
      const exitCode = await dispatch({ charm: this.charm, meta: this.meta, backend, stderr: (t) => (stderr += t), env, onUncaughtError: (e) => (uncaught = e) });
      // Juju commits relation data (and ops its state file) only when the hook exits 0.
      const ok = exitCode === 0;
      const saved = new UnitStateFile(charmDir).load();
      const stateOut: State = {
        ...backend.outputState(ok),
        stored: ok ? saved.stored : structuredClone(stateIn.stored),
        deferred: ok ? (saved.deferred as Notice[]) : structuredClone(stateIn.deferred),
      };
      const result: RunResult = { ...backend.recorded, state: stateOut, exitCode, stderr, ...(uncaught ? { uncaughtError: uncaught } : {}) };
      return checkUncaught(event.dispatchPath, uncaught, result, opts);
    } finally {
      if (!this.opts.charmDir) rmSync(charmDir, { recursive: true, force: true });
    }
  }
}
