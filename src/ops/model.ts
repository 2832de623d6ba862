// The charm's typed view of its unit, application, config and relations. Every read goes
// through the Backend once per dispatch at most (config, leadership and relation lists are
// cached: a hook is a short-lived process and the values cannot change under it).
import type { Backend, ConfigValue, Databag, StatusValue } from './backend.js';
import { ModelError } from './errors.js';
import type { JujuContext } from './context.js';
import type { CharmMeta, ConfigType } from './meta.js';
import type { Status } from './status.js';

export type ConfigShape = Record<string, ConfigValue | undefined>;

/** Remembers the last status this unit set, so an unchanged status costs no status-set call. */
export interface StatusMemory {
  lastUnitStatus?: Status;
}

function checkType(name: string, type: ConfigType, value: unknown): void {
  const ok =
    type === 'int' ? Number.isInteger(value)
    : type === 'float' ? typeof value === 'number'
    : type === 'boolean' ? typeof value === 'boolean'
    : typeof value === 'string';
  if (!ok) throw new ModelError(`config option "${name}" is declared ${type} in config.yaml but Juju gave ${JSON.stringify(value)}`);
}

export class Relation {
  private unitsCache?: string[];
  private appCache?: string;

  constructor(
    private readonly backend: Backend,
    private readonly localUnit: string,
    readonly endpoint: string,
    readonly id: number,
    remoteApp?: string,
  ) {
    if (remoteApp) this.appCache = remoteApp;
  }

  /** The relation id as the tools take it: `image:3`. */
  get ref(): string {
    return `${this.endpoint}:${this.id}`;
  }
  /** The remote application's name. */
  get app(): string {
    return (this.appCache ??= this.backend.relationRemoteApp(this.ref));
  }
  /** The remote units currently in the relation. */
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
  localAppData(): Databag {
    return this.backend.relationGet(this.ref, this.localUnit, true);
  }
  updateLocalAppData(patch: Readonly<Databag>): void {
    this.backend.relationSet(this.ref, patch, true);
  }
  remoteUnitData(unit: string): Databag {
    return this.backend.relationGet(this.ref, unit, false);
  }
  remoteAppData(): Databag {
    return this.backend.relationGet(this.ref, this.app, true);
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
  /** The status this unit last set, from the unit state: no status-get call. */
  get lastStatus(): Status | undefined {
    return this.memory.lastUnitStatus;
  }
  setWorkloadVersion(version: string): void {
    this.backend.applicationVersionSet(version);
  }
}

export class Model<C extends object = ConfigShape> {
  readonly unit: Unit;
  private configCache?: Readonly<ConfigShape>;
  private readonly relationCache = new Map<string, Relation[]>();

  constructor(
    private readonly backend: Backend,
    private readonly meta: CharmMeta,
    readonly context: JujuContext,
    memory: StatusMemory,
  ) {
    this.unit = new Unit(backend, context.unitName, memory);
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

  /** Every established relation on an endpoint declared in metadata.yaml. */
  relations(endpoint: string): readonly Relation[] {
    if (!this.meta.endpoints[endpoint]) throw new ModelError(`endpoint "${endpoint}" is not declared in metadata.yaml`);
    let list = this.relationCache.get(endpoint);
    if (!list) {
      const current = this.context.relation;
      list = this.backend.relationIds(endpoint).map((ref) => {
        const id = Number(ref.split(':').pop());
        const remoteApp = current && current.endpoint === endpoint && current.id === id ? current.remoteApp : undefined;
        return new Relation(this.backend, this.context.unitName, endpoint, id, remoteApp);
      });
      this.relationCache.set(endpoint, list);
    }
    return list;
  }

  /** A relation by endpoint and id, e.g. the one a relation event is about. */
  relation(endpoint: string, id: number, remoteApp?: string): Relation {
    return (
      this.relationCache.get(endpoint)?.find((r) => r.id === id) ??
      new Relation(this.backend, this.context.unitName, endpoint, id, remoteApp)
    );
  }
}
