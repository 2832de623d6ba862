// The declarative state a charm test starts from and gets back (Scenario's State).
import type { ConfigValue, Databag, StatusValue } from '../backend.js';
import type { Notice } from '../storage.js';
import { newSecretId } from './juju-sim.js';

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

/**
 * A secret as this unit sees it: a user secret (`juju add-secret`, the default) or one its
 * application or the unit itself owns. What the unit tracks and its label change when the
 * charm reads it (secret-get takes effect at once, also in a hook that fails).
 */
export interface SecretState {
  /** `secret:<20 characters 0-9a-v>` (or `secret://<model-uuid>/<id>`). */
  readonly id: string;
  /** Content of each revision, oldest first: revision n is `revisions[n - 1]`; the last is the latest. */
  readonly revisions: readonly Readonly<Databag>[];
  /** Owned by this unit's application (`app`) or this unit (`unit`); absent: a user secret. */
  readonly owner?: 'app' | 'unit';
  /** A user secret: whether this unit's application may read it (juju grant-secret); default true. */
  readonly granted?: boolean;
  /** The revision this unit tracks (it read the secret before); absent: it never read it. */
  readonly tracked?: number;
  /** This unit's label for the secret: its consumer label, or the owner's label of an owned secret. */
  readonly label?: string;
  readonly description?: string;
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
  /** Secrets the unit may read or owns (see SecretState). */
  readonly secrets?: readonly SecretState[];
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

/**
 * A peer relation (an endpoint under `peers:` in metadata.yaml) as unit `<app>/N` sees it: the
 * remote application is its own (`app`), the remote units are the application's other units
 * (`peers`, with their databags in `peersData`), and `appData` is the application's one databag,
 * which every unit reads and only the leader writes (kept in localAppData; remoteAppData stays
 * empty).
 *
 *   peerRelation('cluster', { app: 'my-app', peers: ['my-app/1', 'my-app/2'], appData: { token: 'x' } })
 */
export function peerRelation(
  endpoint: string,
  opts: { app: string; id?: number; peers?: readonly string[]; peersData?: Readonly<Record<string, Databag>>; localUnitData?: Databag; appData?: Databag },
): RelationState {
  const peers = opts.peers ?? Object.keys(opts.peersData ?? {});
  return relation(endpoint, {
    ...(opts.id !== undefined ? { id: opts.id } : {}),
    remoteApp: opts.app,
    remoteUnits: [...peers],
    localUnitData: { ...opts.localUnitData },
    localAppData: { ...opts.appData },
    remoteUnitsData: Object.fromEntries(peers.map((u) => [u, { ...opts.peersData?.[u] }])),
    remoteAppData: {},
  });
}

/**
 * A secret for a State: a user secret granted to the unit's application by default, with one
 * revision (`content`) or several (`revisions`, oldest first), and a fresh id unless given.
 *
 *   secret({ content: { password: 'x' }, tracked: 1, label: 'db' })
 */
export function secret(opts: Partial<Omit<SecretState, 'revisions'>> & ({ content: Readonly<Databag>; revisions?: never } | { revisions: readonly Readonly<Databag>[]; content?: never })): SecretState {
  const { content, revisions, id, ...rest } = opts;
  return {
    id: id ?? `secret:${newSecretId()}`,
    revisions: structuredClone(revisions ?? [content!]),
    ...rest,
  };
}
