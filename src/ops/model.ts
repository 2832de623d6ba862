// The charm's typed view of its unit, application, config and relations. Every read goes
// through the Backend once per dispatch at most (config, leadership and relation lists are
// cached: a hook is a short-lived process and the values cannot change under it).
import type { Backend, ConfigValue, Databag, StatusValue } from './backend.js';
import { ModelError } from './errors.js';
import type { SecretRef } from './hookcmds.js';
import type { JujuContext } from './context.js';
import type { CharmMeta, ConfigType } from './meta.js';
import type { Status } from './status.js';

export type ConfigShape = Record<string, ConfigValue | undefined>;

/** Remembers the last status this unit set, so an unchanged status costs no status-set call. */
export interface StatusMemory {
  lastUnitStatus?: Status;
}

/** A secret URI as Juju hands them to charms (config options of type secret, JUJU_SECRET_ID). */
export const SECRET_URI = /^secret:(?:\/\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/)?[0-9a-v]{20}$/;

function checkType(name: string, type: ConfigType, value: unknown): void {
  if (type === 'secret') {
    // Never echo the value: an operator who put a password where a secret URI belongs must not
    // find it in the log or the status.
    if (typeof value !== 'string') throw new ModelError(`config option "${name}" is declared secret in config.yaml but Juju gave a ${typeof value}, not a secret URI`);
    // An empty string is an option that is not set (a `default: ""`).
    if (value !== '' && !SECRET_URI.test(value)) {
      throw new ModelError(
        `config option "${name}" is declared secret in config.yaml but Juju gave a string that is not a secret URI (${value.length} characters); ` +
          'a secret option holds secret:<20 characters 0-9a-v> or secret://<model-uuid>/<id>, e.g. what juju add-secret printed',
      );
    }
    return;
  }
  const ok =
    type === 'int' ? Number.isInteger(value)
    : type === 'float' ? typeof value === 'number'
    : type === 'boolean' ? typeof value === 'boolean'
    : typeof value === 'string';
  if (!ok) throw new ModelError(`config option "${name}" is declared ${type} in config.yaml but Juju gave ${JSON.stringify(value)}`);
}

/**
 * One relation of this unit. On a peer relation (`peers:` in metadata.yaml) the remote
 * application is this one, `units` are the application's other units, and the application
 * databag is one bag that every unit reads (`localAppData()`, the same as `remoteAppData()`) and
 * only the leader writes (docs/juju-hook-contract.md §7).
 */
export class Relation {
  private unitsCache?: string[];
  private appCache?: string;

  constructor(
    private readonly backend: Backend,
    private readonly localUnit: string,
    readonly endpoint: string,
    readonly id: number,
    remoteApp?: string,
    /** A peer relation: its endpoint is under `peers:` in metadata.yaml. */
    readonly isPeer = false,
  ) {
    // A peer relation's remote application is this unit's own: no relation-list --app call.
    if (isPeer) this.appCache = localUnit.replace(/\/\d+$/, '');
    else if (remoteApp) this.appCache = remoteApp;
  }

  /** The relation id as the tools take it: `image:3`. */
  get ref(): string {
    return `${this.endpoint}:${this.id}`;
  }
  /** The remote application's name (on a peer relation, this unit's own application). */
  get app(): string {
    return (this.appCache ??= this.backend.relationRemoteApp(this.ref));
  }
  /** The remote units currently in the relation (on a peer relation, the application's other units). */
  get units(): readonly string[] {
    return (this.unitsCache ??= this.backend.relationList(this.ref));
  }
  localUnitData(): Databag {
    return this.backend.relationGet(this.ref, this.localUnit, false);
  }
  /** Sets keys of this unit's databag (an empty string deletes a key). One relation-set call. */
  updateLocalUnitData(patch: Readonly<Databag>): void {
    this.backend.relationSet(this.ref, patch, false);
  }
  /**
   * This application's databag. Juju lets only the leader read it on a provides/requires
   * relation, and every unit on a peer relation; otherwise RelationDataAccessError.
   */
  localAppData(): Databag {
    return this.backend.relationGet(this.ref, this.localUnit, true);
  }
  /**
   * Sets keys of this application's databag (an empty string deletes a key). Only the leader
   * may: Juju refuses anyone else (`cannot write relation settings`), a RelationDataAccessError.
   */
  updateLocalAppData(patch: Readonly<Databag>): void {
    this.backend.relationSet(this.ref, patch, true);
  }
  remoteUnitData(unit: string): Databag {
    return this.backend.relationGet(this.ref, unit, false);
  }
  /** The remote application's databag (on a peer relation, this application's: localAppData). */
  remoteAppData(): Databag {
    return this.backend.relationGet(this.ref, this.app, true);
  }
}

/** The metadata of a secret the unit (or, for the leader, its application) owns: secret-info-get. */
export interface SecretInfo {
  /** The canonical id, as Model.getSecret canonicalizes ids. */
  readonly id: string;
  readonly label: string;
  /** The latest revision. */
  readonly revision: number;
  /** `application` or `unit`. */
  readonly owner: string;
  readonly description?: string;
  readonly rotation?: string;
  readonly expires?: Date;
  readonly rotates?: Date;
}

/** What a Secret needs of its model: the calls, and the per-dispatch content cache. */
interface SecretAccess {
  get(ref: SecretRef, mode?: 'refresh' | 'peek'): Databag;
  info(ref: SecretRef): SecretInfo;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * A Juju secret as ops' Secret: found by id, by this unit's label, or both. Reading the content
 * is one secret-get call per dispatch (the content is cached for the rest of it); with both an
 * id and a label, the first read also sets the label for this unit (`secret-get <id> --label L`),
 * which Juju then puts in JUJU_SECRET_LABEL of the secret's events.
 *
 * The content is never logged, never in an error message, and not in what JSON.stringify,
 * String() or console.log show of a Secret (only its id and label).
 */
export class Secret {
  constructor(
    private readonly access: SecretAccess,
    private idValue: string | undefined,
    private labelValue: string | undefined,
  ) {}

  /** The canonical id (`secret:<id>` or `secret://<model-uuid>/<id>`); undefined when found by label only (until getInfo). */
  get id(): string | undefined {
    return this.idValue;
  }
  /** This unit's label for the secret, when it has one. */
  get label(): string | undefined {
    return this.labelValue;
  }
  /** The 20-character id without `secret:` or the model UUID. */
  get uniqueIdentifier(): string | undefined {
    return this.idValue?.split(/[:/]/).at(-1);
  }

  /**
   * The content: of the revision this unit tracks (Juju pins the latest on the first read);
   * `refresh` reads the latest and tracks it from now on; `peek` reads the latest once without
   * tracking it. Throws SecretNotFoundError (no such secret, or label) or SecretPermissionError
   * (not granted to this application), whose messages never hold content.
   */
  getContent(opts: { readonly refresh?: boolean; readonly peek?: boolean } = {}): Record<string, string> {
    if (opts.refresh && opts.peek) throw new ModelError('getContent: refresh and peek cannot be combined (refresh tracks the latest revision, peek only reads it)');
    return { ...this.access.get(this.ref(), opts.refresh ? 'refresh' : opts.peek ? 'peek' : undefined) };
  }
  /** The latest revision's content, once, without tracking it (`secret-get --peek`). */
  peekContent(): Record<string, string> {
    return this.getContent({ peek: true });
  }
  /** The owner's view of the secret (secret-info-get); SecretNotFoundError when this unit does not own it. */
  getInfo(): SecretInfo {
    const info = this.access.info(this.ref());
    this.idValue ??= info.id;
    return info;
  }

  private ref(): SecretRef {
    return { ...(this.idValue !== undefined ? { id: this.idValue } : {}), ...(this.labelValue !== undefined ? { label: this.labelValue } : {}) };
  }
  toJSON(): { id?: string; label?: string } {
    return this.ref();
  }
  toString(): string {
    return `Secret(${[this.idValue && `id=${this.idValue}`, this.labelValue && `label=${this.labelValue}`].filter(Boolean).join(' ')})`;
  }
  [INSPECT](): string {
    return this.toString();
  }
}

export class Unit {
  private leader?: boolean;

  constructor(
    private readonly backend: Backend,
    readonly name: string,
    private readonly memory: StatusMemory,
  ) {}

  isLeader(): boolean {
    return (this.leader ??= this.backend.isLeader());
  }
  /** Sets the unit's workload status; skipped when it equals the status this unit last set. */
  setStatus(status: Status): void {
    const last = this.memory.lastUnitStatus;
    if (last && last.status === status.status && last.message === status.message) return;
    this.backend.statusSet(status.status, status.message, false);
    this.memory.lastUnitStatus = { status: status.status, message: status.message };
  }
  getStatus(): StatusValue {
    return this.backend.statusGet(false);
  }
  setWorkloadVersion(version: string): void {
    this.backend.applicationVersionSet(version);
  }
}

export class Model<C extends object = ConfigShape> {
  readonly unit: Unit;
  private configCache?: Readonly<ConfigShape>;
  private readonly relationCache = new Map<string, Relation[]>();
  /** Secret content read in this dispatch, by the reference (id, label) it was read with. Never written anywhere. */
  private readonly secretContent = new Map<string, Databag>();
  private readonly secretAccess: SecretAccess;

  constructor(
    private readonly backend: Backend,
    private readonly meta: CharmMeta,
    readonly context: JujuContext,
    memory: StatusMemory,
  ) {
    this.unit = new Unit(backend, context.unitName, memory);
    this.secretAccess = {
      get: (ref, mode) => this.readSecret(ref, mode),
      info: (ref) => {
        const raw = this.backend.secretInfoGet(ref);
        return {
          id: this.canonicalSecretId(raw.id),
          label: raw.label,
          revision: raw.revision,
          owner: raw.owner,
          ...(raw.description !== undefined ? { description: raw.description } : {}),
          ...(raw.rotation !== undefined ? { rotation: raw.rotation } : {}),
          ...(raw.expiry !== undefined ? { expires: new Date(raw.expiry) } : {}),
          ...(raw.rotates !== undefined ? { rotates: new Date(raw.rotates) } : {}),
        };
      },
    };
  }

  /**
   * ops' canonical secret id: `secret:<id>` stays, a bare `<id>` becomes
   * `secret://<model-uuid>/<id>` (or `secret:<id>` when the model UUID is unknown).
   */
  canonicalSecretId(id: string): string {
    const trimmed = id.trim();
    if (trimmed.startsWith('secret:')) return trimmed;
    return this.context.modelUuid ? `secret://${this.context.modelUuid}/${trimmed}` : `secret:${trimmed}`;
  }

  /**
   * A secret by id, by this unit's label for it, or both (ops' Model.get_secret). No hook tool
   * runs until its content is read; with both, that read sets the label for this unit.
   *
   *   const s = this.model.getSecret({ id: config['db-password'] });
   *   const { password } = s.getContent();
   */
  getSecret(ref: { readonly id?: string | undefined; readonly label?: string | undefined }): Secret {
    const id = ref.id !== undefined && ref.id.trim() !== '' ? this.canonicalSecretId(ref.id) : undefined;
    const label = ref.label !== undefined && ref.label !== '' ? ref.label : undefined;
    if (id === undefined && label === undefined) throw new ModelError('getSecret needs the secret\'s id, this unit\'s label for it, or both');
    return new Secret(this.secretAccess, id, label);
  }

  /**
   * secret-get once per secret reference and dispatch. A refresh reads again and forgets every
   * other cached read (a label may name the same secret as an id, and Juju now gives the new
   * tracked revision for both); a peek is never cached.
   */
  private readSecret(ref: SecretRef, mode: 'refresh' | 'peek' | undefined): Databag {
    const key = JSON.stringify([ref.id ?? null, ref.label ?? null]);
    if (mode === undefined) {
      const hit = this.secretContent.get(key);
      if (hit) return hit;
    }
    const content = this.backend.secretGet(ref, mode);
    if (mode === 'peek') return content;
    if (mode === 'refresh') this.secretContent.clear();
    this.secretContent.set(key, content);
    return content;
  }

  get appName(): string {
    return this.context.appName;
  }

  /**
   * The charm's config, read once (config-get) and checked against config.yaml's types: typed
   * as the charm's config type (`CharmBase<Events, CharmConfigOptions>`), or as `T` when given,
   * e.g. the CharmConfigOptions that scripts/gen-charm-types.mjs generates from config.yaml.
   */
  config<T extends object = C>(): Readonly<T> {
    if (!this.configCache) {
      const raw = this.backend.configGet();
      for (const [name, value] of Object.entries(raw)) {
        const spec = this.meta.config[name];
        if (spec && value !== null && value !== undefined) checkType(name, spec.type, value);
      }
      this.configCache = Object.freeze({ ...(raw as ConfigShape) });
    }
    return this.configCache as unknown as Readonly<T>;
  }

  /** Sets the application status; only the leader may (Juju refuses otherwise). */
  setAppStatus(status: Status): void {
    if (!this.unit.isLeader()) throw new ModelError('only the leader unit can set the application status');
    this.backend.statusSet(status.status, status.message, true);
  }

  /** Every established relation on an endpoint declared in metadata.yaml (a peers endpoint has one, from deploy). */
  relations(endpoint: string): readonly Relation[] {
    if (!this.meta.endpoints[endpoint]) throw new ModelError(`endpoint "${endpoint}" is not declared in metadata.yaml`);
    let list = this.relationCache.get(endpoint);
    if (!list) {
      const current = this.context.relation;
      list = this.backend.relationIds(endpoint).map((ref) => {
        const id = Number(ref.split(':').pop());
        const remoteApp = current && current.endpoint === endpoint && current.id === id ? current.remoteApp : undefined;
        return new Relation(this.backend, this.context.unitName, endpoint, id, remoteApp, this.isPeerEndpoint(endpoint));
      });
      this.relationCache.set(endpoint, list);
    }
    return list;
  }

  /**
   * The one relation on an endpoint (ops' get_relation without an id), or undefined when there
   * is none; a ModelError when there are several. The usual way to reach a peer relation:
   *
   *   const peers = this.model.getRelation('cluster');
   */
  getRelation(endpoint: string): Relation | undefined {
    const list = this.relations(endpoint);
    if (list.length > 1) throw new ModelError(`endpoint "${endpoint}" has ${list.length} relations (${list.map((r) => r.ref).join(', ')}); say which by id: model.relation("${endpoint}", id)`);
    return list[0];
  }

  /** A relation by endpoint and id, e.g. the one a relation event is about. */
  relation(endpoint: string, id: number, remoteApp?: string): Relation {
    return (
      this.relationCache.get(endpoint)?.find((r) => r.id === id) ??
      new Relation(this.backend, this.context.unitName, endpoint, id, remoteApp, this.isPeerEndpoint(endpoint))
    );
  }

  private isPeerEndpoint(endpoint: string): boolean {
    return this.meta.endpoints[endpoint]?.role === 'peers';
  }
}
