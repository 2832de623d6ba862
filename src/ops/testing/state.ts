// The declarative state a charm test starts from and gets back (Scenario's State).
import type { ConfigValue, Databag, StatusValue } from '../backend.js';
import type { Notice } from '../storage.js';

export interface RelationState {
  readonly endpoint: string;
  readonly id: number;
  readonly remoteApp: string;
  readonly remoteUnits: readonly string[];
  localUnitData: Databag;
  localAppData: Databag;
  remoteUnitsData: Record<string, Databag>;
  remoteAppData: Databag;
}

export interface State {
  readonly config: Readonly<Record<string, ConfigValue>>;
  readonly leader: boolean;
  readonly relations: readonly RelationState[];
  /** Stored state by name, as the charm's storedState(name, ...) sees it. */
  readonly stored: Readonly<Record<string, Record<string, unknown>>>;
  readonly deferred: readonly Notice[];
  readonly unitStatus: StatusValue;
  readonly appStatus: StatusValue;
  readonly workloadVersion: string;
  /** What state-set stored (committed). */
  readonly charmState?: Readonly<Record<string, string>>;
  /** Opened ports, "80/tcp" -> endpoints ("*" for all), as opened-ports shows them. */
  readonly openedPorts?: Readonly<Record<string, readonly string[]>>;
}

/** A state with Juju's defaults, overridden by `partial`. Never mutated by a run. */
export function state(partial: Partial<State> = {}): State {
  return {
    config: {},
    leader: false,
    relations: [],
    stored: {},
    deferred: [],
    unitStatus: { status: 'unknown', message: '' },
    appStatus: { status: 'unknown', message: '' },
    workloadVersion: '',
    charmState: {},
    openedPorts: {},
    ...structuredClone(partial),
  };
}

let nextRelationId = 1;
/** A relation with one remote unit by default. */
export function relation(endpoint: string, opts: Partial<Omit<RelationState, 'endpoint'>> = {}): RelationState {
  const remoteApp = opts.remoteApp ?? 'remote';
  const remoteUnits = opts.remoteUnits ?? [`${remoteApp}/0`];
  return {
    endpoint,
    id: opts.id ?? nextRelationId++,
    remoteApp,
    remoteUnits,
    localUnitData: opts.localUnitData ?? {},
    localAppData: opts.localAppData ?? {},
    remoteUnitsData: opts.remoteUnitsData ?? Object.fromEntries(remoteUnits.map((u) => [u, {}])),
    remoteAppData: opts.remoteAppData ?? {},
  };
}
