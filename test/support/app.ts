// Several simulated units of one application, for process-level tests of leadership and peer
// relations: each unit is a SimUnit (test/support/juju.ts) with its own FAKE_JUJU_DIR, its own
// simulated host and its own copy of the charm dir, and the harness plays the controller
// between them (docs/juju-hook-contract.md §7):
//
// - the peer relation exists on every unit from the start, with one relation id; each unit's
//   remote units are the other units;
// - what a unit commits to its peer unit databag reaches the other units' view of that unit, and
//   what a leader commits to an application databag (peer or not) reaches every unit's view of
//   it: one bag per application, as the controller keeps it;
// - each such change owes a relation-changed to the other units: JUJU_REMOTE_UNIT = the unit
//   whose databag changed, or, for the peer application databag, JUJU_REMOTE_UNIT empty and
//   JUJU_REMOTE_APP = the application. Owed events wait in `pending` until `settle()` (or
//   `fire()`) runs them, one at a time in the order they were owed; a change owed twice to the
//   same unit before it ran is one event, as Juju coalesces them;
// - leadership moves with setLeader without a hook (Juju 3 tells no unit it lost it);
//   electLeader also runs leader-elected on the new leader.
//
// Changes are found by comparing each unit's committed state with what was last propagated, so
// a hook that a unit ran on its own (a build's report through its juju-exec stand-in) is
// picked up by the next dispatch, propagate() or settle(). The harness changes a unit's files
// only under that unit's machine lock, never in the middle of one of its hooks.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { newSecretId } from '../../src/ops/testing/juju-sim.js';
import {
  createUnit,
  type CreateUnitOptions,
  type Databag,
  type DispatchEvent,
  type DispatchOptions,
  type DispatchResult,
  type RelationSpec,
  type RelationState,
  type SimUnit,
} from './juju.js';

export interface CreateApplicationOptions extends Omit<CreateUnitOptions, 'charmDir' | 'unitName' | 'leader' | 'relations'> {
  /** The charm directory; each unit gets its own copy (the unit state file lives in it) unless copyCharm is false. */
  readonly charmDir: string;
  /** Default true. False: every unit runs in `charmDir` itself (only for charms that keep no state there). */
  readonly copyCharm?: boolean;
  /** Default `github-runner-image-builder`; the units are `<app>/0` ... `<app>/<units - 1>`. */
  readonly appName?: string;
  /** How many units (default 3). */
  readonly units?: number;
  /** The index of the leader (default 0); null: no unit leads. */
  readonly leader?: number | null;
  /** The endpoint under `peers:` in metadata.yaml; without it the units have no peer relation. */
  readonly peerEndpoint?: string;
  /** The peer relation's id (default: the lowest id the other relations do not use, from 0). */
  readonly peerRelationId?: number;
  /** The peer application databag at the start. */
  readonly peerAppData?: Databag;
  /**
   * Relations with other applications, the same on every unit (one relation, one id): e.g. the
   * image relation to github-runner with the consumer's units as remote units. Each unit has
   * its own local unit databag; the application databag is one (propagated from the leader).
   */
  readonly relations?: readonly RelationSpec[];
  /** Per-unit additions to the unit options (env, installedPackages, ...). */
  readonly unitOptions?: (index: number) => Partial<Omit<CreateUnitOptions, 'charmDir' | 'unitName' | 'leader' | 'relations'>>;
  /** How long to wait for a unit's machine lock (a hook of that unit running), default 120 s. */
  readonly lockTimeoutMs?: number;
}

/** A relation-changed the controller owes a unit. */
export interface OwedEvent {
  /** The index of the unit that gets it. */
  readonly unit: number;
  readonly unitName: string;
  /** `<endpoint>-relation-changed`. */
  readonly hook: string;
  readonly endpoint: string;
  readonly relationId: number;
  /** The unit whose databag changed, or '' when it is the application databag (JUJU_REMOTE_UNIT empty). */
  readonly remoteUnit: string;
  /** JUJU_REMOTE_APP. */
  readonly remoteApp: string;
}

export interface AppDispatchResult extends DispatchResult {
  /** The index of the unit it ran on. */
  readonly unit: number;
  readonly unitName: string;
  readonly event: DispatchEvent;
  /** The relation-changed events this run's commits (and any found with them) newly owe; also in `pending`. */
  readonly followUps: readonly OwedEvent[];
}

const sameBag = (a: Databag | undefined, b: Databag | undefined): boolean => {
  const x = a ?? {};
  const y = b ?? {};
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length && keys.every((k) => Object.prototype.hasOwnProperty.call(y, k) && y[k] === x[k]);
};

/** Runs `fn` holding the machine lock of a simulated unit (what run-in-context.sh takes), so no hook of it runs meanwhile. */
export async function withMachineLock<T>(jujuDir: string, fn: () => T, timeoutMs = 120_000): Promise<T> {
  const child = spawn('flock', ['-w', String(Math.ceil(timeoutMs / 1000)), path.join(jujuDir, 'machine-lock'), 'sh', '-c', 'echo locked; read _ || :'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('error', reject);
    void exited.then((code) => reject(new Error(`could not take the machine lock of ${jujuDir} within ${timeoutMs} ms (flock exited ${code}): ${stderr.trim()}`)));
  });
  try {
    return fn();
  } finally {
    child.stdin.end();
    await exited;
  }
}

export class SimApplication {
  readonly appName: string;
  readonly units: readonly SimUnit[];
  /** The peer relation's endpoint and id (when there is one) and its key, `<endpoint>:<id>`. */
  readonly peerEndpoint: string | undefined;
  readonly peerRelationId: number | undefined;
  readonly peerKey: string | undefined;
  private leaderIndex: number | null;
  private readonly charmDirs: string[] = [];
  private readonly owed: OwedEvent[] = [];
  /** What was last propagated: each unit's peer unit databag, and each relation's application databag. */
  private readonly knownUnitBags: (Databag | undefined)[];
  private readonly knownAppBags = new Map<string, Databag>();
  private readonly lockTimeoutMs: number;

  constructor(opts: CreateApplicationOptions) {
    const count = opts.units ?? 3;
    if (!Number.isInteger(count) || count < 1) throw new Error(`units must be a positive integer, not ${count}`);
    this.appName = opts.appName ?? 'github-runner-image-builder';
    this.leaderIndex = opts.leader === undefined ? 0 : opts.leader;
    if (this.leaderIndex !== null && (this.leaderIndex < 0 || this.leaderIndex >= count)) throw new Error(`leader ${this.leaderIndex} is not a unit index (0 to ${count - 1})`);
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 120_000;
    const relations = opts.relations ?? [];
    const used = new Set(relations.map((r) => r.id));
    this.peerEndpoint = opts.peerEndpoint;
    if (opts.peerEndpoint !== undefined) {
      let id = opts.peerRelationId ?? 0;
      if (opts.peerRelationId === undefined) while (used.has(id)) id++;
      else if (used.has(id)) throw new Error(`peer relation id ${id} is also the id of another relation`);
      this.peerRelationId = id;
      this.peerKey = `${opts.peerEndpoint}:${id}`;
    }
    for (const r of relations) {
      if (r.app === this.appName) throw new Error(`relation ${r.endpoint}:${r.id} is with the application itself; use peerEndpoint for its peer relation`);
    }

    // One model: the same UUID, and the same secret ids on every unit.
    const { charmDir, copyCharm, appName: _a, units: _u, leader: _l, peerEndpoint: _p, peerRelationId: _i, peerAppData, relations: _r, unitOptions, lockTimeoutMs: _t, secrets, ...common } = opts;
    const modelUuid = opts.modelUuid ?? randomUUID();
    const sharedSecrets = (secrets ?? []).map((s) => ({ ...s, id: s.id ?? `secret:${newSecretId()}` }));
    const names = Array.from({ length: count }, (_, i) => `${this.appName}/${i}`);
    this.units = names.map((unitName, i) => {
      let dir = path.resolve(charmDir);
      if (copyCharm !== false) {
        dir = mkdtempSync(path.join(tmpdir(), 'app-charm-'));
        cpSync(charmDir, dir, { recursive: true, verbatimSymlinks: true });
        this.charmDirs.push(dir);
      }
      const others = names.filter((n) => n !== unitName);
      const peer: RelationSpec[] =
        this.peerKey !== undefined
          ? [{ endpoint: this.peerEndpoint!, id: this.peerRelationId!, app: this.appName, units: others, remoteUnits: Object.fromEntries(others.map((n) => [n, {}])), localApp: { ...peerAppData } }]
          : [];
      return createUnit({
        ...common,
        modelUuid,
        secrets: sharedSecrets,
        ...unitOptions?.(i),
        charmDir: dir,
        unitName,
        leader: i === this.leaderIndex,
        relations: [...peer, ...relations],
      });
    });
    this.knownUnitBags = this.units.map(() => (this.peerKey !== undefined ? {} : undefined));
    if (this.peerKey !== undefined) this.knownAppBags.set(this.peerKey, { ...peerAppData });
    for (const r of relations) this.knownAppBags.set(`${r.endpoint}:${r.id}`, { ...r.localApp });
  }

  /** Unit `i` (a SimUnit: its files, calls, host, juju-exec). */
  unit(i: number): SimUnit {
    const u = this.units[i];
    if (!u) throw new Error(`no unit ${i} (the application has ${this.units.length})`);
    return u;
  }

  /** The index of the leader, or null. */
  get leader(): number | null {
    return this.leaderIndex;
  }

  /** The relation-changed events owed and not yet run, in the order they will run. */
  get pending(): readonly OwedEvent[] {
    return [...this.owed];
  }

  /**
   * Makes unit `i` the leader (null: none) and every other unit not, as the controller does when
   * a lease moves; no hook runs (is-leader answers the new truth at once, also through
   * juju-exec).
   */
  setLeader(i: number | null): void {
    if (i !== null) this.unit(i);
    this.leaderIndex = i;
    this.units.forEach((u, j) => u.setLeader(j === i));
  }

  /** setLeader(i), then leader-elected on unit i (propagating what it commits). */
  async electLeader(i: number, opts: DispatchOptions = {}): Promise<AppDispatchResult> {
    this.setLeader(i);
    return this.dispatch(i, 'leader-elected', opts);
  }

  /**
   * Runs one event on unit `i` (SimUnit.dispatch), then propagates what any unit committed:
   * the result says which relation-changed events that owes (also queued in `pending`).
   */
  async dispatch(i: number, event: DispatchEvent, opts: DispatchOptions = {}): Promise<AppDispatchResult> {
    const u = this.unit(i);
    const result = await u.dispatch(event, opts);
    const followUps = await this.propagate();
    return { ...result, unit: i, unitName: u.unitName, event, followUps };
  }

  /** Runs `event` on every unit in index order (each dispatch propagating), e.g. install or config-changed. */
  async dispatchAll(event: DispatchEvent, opts: DispatchOptions = {}): Promise<AppDispatchResult[]> {
    const results: AppDispatchResult[] = [];
    for (let i = 0; i < this.units.length; i++) results.push(await this.dispatch(i, event, opts));
    return results;
  }

  /**
   * Compares every unit's committed relation data with what was last propagated, and does what
   * the controller would: a changed peer unit databag reaches the other units' view of that
   * unit, a changed application databag (only a leader can have written it) reaches every
   * unit's view, and the relation-changed events that owes are queued. Returns the newly owed
   * ones (a change already owed to a unit that has not run it yet adds nothing).
   */
  async propagate(): Promise<OwedEvent[]> {
    const committed = this.units.map((u) => u.relations());
    const unitBagUpdates: { from: number; bag: Databag }[] = [];
    const appBagUpdates: { key: string; from: number; bag: Databag }[] = [];
    if (this.peerKey !== undefined) {
      committed.forEach((rels, i) => {
        const bag = rels[this.peerKey!]?.['local-unit'];
        if (bag && !sameBag(bag, this.knownUnitBags[i])) unitBagUpdates.push({ from: i, bag });
      });
    }
    for (const [key, known] of this.knownAppBags) {
      // Only a leader writes it; if several units differ (leadership moved between two looks),
      // the current leader's is the newest, else the lowest index's.
      const writers = committed.map((rels, i) => ({ i, bag: rels[key]?.['local-app'] })).filter((w) => w.bag !== undefined && !sameBag(w.bag, known));
      if (writers.length === 0) continue;
      const w = writers.find((x) => x.i === this.leaderIndex) ?? writers[0]!;
      appBagUpdates.push({ key, from: w.i, bag: w.bag! });
    }
    if (unitBagUpdates.length === 0 && appBagUpdates.length === 0) return [];

    // Write each other unit's view under its machine lock, from a fresh read: a bag that unit
    // itself changed meanwhile is left alone (the next propagate sees it).
    for (let j = 0; j < this.units.length; j++) {
      const mine = unitBagUpdates.filter((x) => x.from !== j);
      const apps = appBagUpdates.filter((x) => x.from !== j);
      if (mine.length === 0 && apps.length === 0) continue;
      const u = this.units[j]!;
      await withMachineLock(
        u.jujuDir,
        () => {
          const now = u.relations();
          let changed = false;
          for (const { from, bag } of mine) {
            const rel = now[this.peerKey!];
            if (!rel) continue;
            rel['remote-units'] = { ...rel['remote-units'], [this.units[from]!.unitName]: { ...bag } };
            changed = true;
          }
          for (const { key, bag } of apps) {
            const rel = now[key];
            if (!rel || !sameBag(rel['local-app'], committed[j]![key]?.['local-app'])) continue;
            if (sameBag(rel['local-app'], bag)) continue;
            rel['local-app'] = { ...bag };
            changed = true;
          }
          if (changed) writeRelations(u, now);
        },
        this.lockTimeoutMs,
      );
    }

    const newly: OwedEvent[] = [];
    const owe = (j: number, remoteUnit: string) => {
      const e: OwedEvent = {
        unit: j,
        unitName: this.units[j]!.unitName,
        hook: `${this.peerEndpoint}-relation-changed`,
        endpoint: this.peerEndpoint!,
        relationId: this.peerRelationId!,
        remoteUnit,
        remoteApp: this.appName,
      };
      if (this.owed.some((o) => o.unit === j && o.relationId === e.relationId && o.remoteUnit === remoteUnit)) return;
      this.owed.push(e);
      newly.push(e);
    };
    for (const { from, bag } of unitBagUpdates) {
      this.knownUnitBags[from] = { ...bag };
      for (let j = 0; j < this.units.length; j++) if (j !== from) owe(j, this.units[from]!.unitName);
    }
    for (const { key, from, bag } of appBagUpdates) {
      this.knownAppBags.set(key, { ...bag });
      if (key === this.peerKey) for (let j = 0; j < this.units.length; j++) if (j !== from) owe(j, '');
    }
    return newly;
  }

  /** Runs one owed relation-changed (removing it from `pending`), and propagates what it commits. */
  async fire(owed: OwedEvent): Promise<AppDispatchResult> {
    const at = this.owed.findIndex((o) => o.unit === owed.unit && o.relationId === owed.relationId && o.remoteUnit === owed.remoteUnit);
    if (at >= 0) this.owed.splice(at, 1);
    return this.dispatch(owed.unit, owed.hook, { relation: { endpoint: owed.endpoint, id: owed.relationId, remoteUnit: owed.remoteUnit } });
  }

  /**
   * Propagates what the units committed since the last look (also hooks they ran on their own,
   * through juju-exec), then runs the owed relation-changed events one at a time, first owed
   * first, each propagating in turn, until none is owed. Throws after `maxEvents` (default 50)
   * runs with events still owed (charms that keep changing their databags in reply to each
   * other). A run that fails is not retried here (Juju would retry it); it is in the results.
   */
  async settle(opts: { readonly maxEvents?: number } = {}): Promise<AppDispatchResult[]> {
    const max = opts.maxEvents ?? 50;
    const results: AppDispatchResult[] = [];
    await this.propagate();
    while (this.owed.length > 0) {
      if (results.length >= max) {
        throw new Error(
          `settle: ${this.owed.length} relation-changed event(s) still owed after ${max} runs (do the units keep changing their databags in reply to each other?): ` +
            this.owed.map((o) => `${o.unitName} ${o.hook} remote unit ${JSON.stringify(o.remoteUnit)}`).join('; '),
        );
      }
      results.push(await this.fire(this.owed[0]!));
    }
    return results;
  }

  /** Drops the owed events without running them. */
  forgetPending(): void {
    this.owed.length = 0;
  }

  // --- what the units see (committed) ----------------------------------------------------------
  /** Unit i's committed view of the peer relation: its own databag, the application databag, and the other units' databags. */
  peerView(i: number): { unit: Databag; app: Databag; peers: Record<string, Databag> } {
    if (this.peerKey === undefined) throw new Error('the application has no peer relation (peerEndpoint)');
    const rel = this.unit(i).relations()[this.peerKey]!;
    return { unit: rel['local-unit'], app: rel['local-app'], peers: rel['remote-units'] };
  }

  /** Each unit's committed local unit databag of a relation (`image:5`), by unit index. */
  localUnitData(key: string): Databag[] {
    return this.units.map((u) => u.relations()[key]?.['local-unit'] ?? {});
  }

  /**
   * The remote application of a relation changed a databag (its unit `unit`'s, or with
   * `unit` undefined its application databag): every unit's view changes, and each unit is owed
   * relation-changed for it (returned, and queued in `pending`).
   */
  async remoteChanged(key: string, change: { readonly unit?: string; readonly data: Databag }): Promise<OwedEvent[]> {
    const newly: OwedEvent[] = [];
    for (const [j, u] of this.units.entries()) {
      let rel: RelationState | undefined;
      await withMachineLock(
        u.jujuDir,
        () => {
          const now = u.relations();
          rel = now[key];
          if (!rel) throw new Error(`unit ${u.unitName} has no relation ${key}`);
          if (change.unit === undefined) rel['remote-app'] = { ...change.data };
          else {
            if (!rel.units.includes(change.unit)) throw new Error(`${change.unit} is not a remote unit of ${key} (${rel.units.join(', ')})`);
            rel['remote-units'] = { ...rel['remote-units'], [change.unit]: { ...change.data } };
          }
          writeRelations(u, now);
        },
        this.lockTimeoutMs,
      );
      const e: OwedEvent = { unit: j, unitName: u.unitName, hook: `${rel!.endpoint}-relation-changed`, endpoint: rel!.endpoint, relationId: rel!.id, remoteUnit: change.unit ?? '', remoteApp: rel!.app };
      if (!this.owed.some((o) => o.unit === j && o.relationId === e.relationId && o.remoteUnit === e.remoteUnit)) {
        this.owed.push(e);
        newly.push(e);
      }
    }
    return newly;
  }

  // --- the model's secrets (the same on every unit) ----------------------------------------------
  /** `juju add-secret` (granted with `grant`); returns its id. */
  addUserSecret(content: Databag, opts: { readonly grant?: boolean } = {}): string {
    const id = `secret:${newSecretId()}`;
    for (const u of this.units) u.addUserSecret(content, { ...opts, id });
    return id;
  }
  /** `juju update-secret`: a new revision on every unit's view; returns its number. */
  updateSecret(id: string, content: Databag): number {
    return this.units.map((u) => u.updateSecret(id, content))[0]!;
  }
  grantSecret(id: string): void {
    for (const u of this.units) u.grantSecret(id);
  }
  revokeSecret(id: string): void {
    for (const u of this.units) u.revokeSecret(id);
  }
  removeSecret(id: string): void {
    for (const u of this.units) u.removeSecret(id);
  }

  cleanup(): void {
    for (const u of this.units) u.cleanup();
    for (const d of this.charmDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

function writeRelations(u: SimUnit, rels: Record<string, RelationState>): void {
  const file = path.join(u.jujuDir, 'state', 'relations.json');
  writeFileSync(`${file}.harness`, JSON.stringify(rels));
  renameSync(`${file}.harness`, file);
}

/**
 * Several units of one application with a peer relation, each a SimUnit of its own:
 *
 *   const app = createApplication({ charmDir, units: 3, peerEndpoint: 'cluster', config, relations: [image] });
 *   const r = await app.dispatch(0, 'config-changed');   // r.followUps: relation-changed owed
 *   await app.settle();                                    // runs them on units 1 and 2
 */
export function createApplication(opts: CreateApplicationOptions): SimApplication {
  return new SimApplication(opts);
}
