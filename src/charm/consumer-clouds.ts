// The consumers of the `image` relation as clouds (docs/consumer-copies.md): github-runner writes
// the `auth` map of its cloud into its own unit databag on image-relation-joined, and the images
// it boots must be in THAT project. Each relation is one of: a consumer cloud of its own (the six
// keys, valid), a consumer in the build cloud's project (none of the keys), or one waiting for
// credentials (some keys, or bad ones). Related units' data is input from another machine:
// bounded, checked, and no value (above all the password) ever reaches a message. Pure.
import { stringify } from 'yaml';
import { CLOUD_NAME_PATTERN } from '../openstack/cloud-name.js';

/** The keys of a clouds.yaml `auth` map github-runner sends, in the order clouds.yaml shows them. */
export const CONSUMER_AUTH_KEYS = ['auth_url', 'username', 'password', 'project_name', 'project_domain_name', 'user_domain_name'] as const;
export type ConsumerAuth = Readonly<Record<(typeof CONSUMER_AUTH_KEYS)[number], string>>;

/** The longest value of one key the charm reads (Keystone's own limits are 255 for names). */
const MAX_AUTH_VALUE = 1024;

/** What one `image` relation is to this charm. */
export type RelationConsumer =
  /** Its own project: images are copied into `cloud`, whose credentials are `auth`. */
  | { readonly kind: 'cloud'; readonly cloud: string; readonly auth: ConsumerAuth }
  /** It sent no credentials: it boots from the build cloud's project (the build cloud's ids). */
  | { readonly kind: 'build-project' }
  /** It sent some, or unusable ones: nothing is published to it until it sends all six. */
  | { readonly kind: 'waiting'; readonly problem: string };

/** The cloud name upstream gives a consumer: `<project_name>_<username>`. */
export const consumerCloudName = (auth: Pick<ConsumerAuth, 'project_name' | 'username'>): string => `${auth.project_name}_${auth.username}`;

/**
 * Who a consumer is in its cloud: the same identity with another password is a rotation (the
 * clouds file changes, nothing is copied), another identity is another project (copied into).
 */
export const consumerIdentity = (auth: ConsumerAuth): string =>
  [auth.auth_url, auth.project_domain_name, auth.project_name, auth.user_domain_name, auth.username].join('\n');

/**
 * One related unit's databag as a consumer; `where` names the relation and unit in messages.
 * The problem names the key and what is wrong, never a value.
 */
export function consumerOfUnit(bag: Readonly<Record<string, string>>, where: string): RelationConsumer {
  const present = CONSUMER_AUTH_KEYS.filter((k) => bag[k] !== undefined && bag[k] !== '');
  if (present.length === 0) return { kind: 'build-project' };
  const missing = CONSUMER_AUTH_KEYS.filter((k) => !present.includes(k));
  if (missing.length) return { kind: 'waiting', problem: `${where} sent OpenStack credentials without ${missing.join(', ')}` };
  const auth = Object.fromEntries(CONSUMER_AUTH_KEYS.map((k) => [k, bag[k]!])) as ConsumerAuth;
  for (const key of CONSUMER_AUTH_KEYS) {
    // eslint-disable-next-line no-control-regex
    if (auth[key].length > MAX_AUTH_VALUE || /[\u0000-\u001f\u007f]/.test(auth[key])) {
      return { kind: 'waiting', problem: `${where} sent an unusable ${key} (longer than ${MAX_AUTH_VALUE} characters, or with control characters)` };
    }
  }
  if (!isHttpUrl(auth.auth_url)) return { kind: 'waiting', problem: `${where} sent an auth_url that is not an http(s) URL` };
  const cloud = consumerCloudName(auth);
  if (!CLOUD_NAME_PATTERN.test(cloud) || cloud.length > 255) {
    return { kind: 'waiting', problem: `${where} sent a project_name or username that makes no usable cloud name (letters, digits, ".", "_" and "-" only)` };
  }
  return { kind: 'cloud', cloud, auth };
}

/**
 * A relation as a consumer, from its units' databags (unit name → bag): the first unit (by name)
 * that sent complete credentials decides; units of one consumer send the same ones. A relation
 * where no unit sent any key boots from the build cloud's project; one where units sent only
 * partial or bad credentials waits (the first problem is given).
 */
export function consumerOfRelation(bags: ReadonlyMap<string, Readonly<Record<string, string>>>, relationRef: string): RelationConsumer {
  const each = [...bags.keys()].sort().map((unit) => consumerOfUnit(bags.get(unit)!, `relation ${relationRef} (unit ${unit})`));
  return each.find((c) => c.kind === 'cloud') ?? each.find((c) => c.kind === 'waiting') ?? { kind: 'build-project' };
}

/**
 * Every relation's consumer, with two relations that give one cloud name for different
 * identities refused (both wait, each naming the other): which of them would own the name is
 * not this charm's to guess. Relations of one identity share the cloud (the highest relation
 * id's password is used: the newest relation).
 */
export function resolveConsumers(relations: ReadonlyMap<string, RelationConsumer>): Map<string, RelationConsumer> {
  const byCloud = new Map<string, string[]>();
  for (const [ref, c] of relations) if (c.kind === 'cloud') byCloud.set(c.cloud, [...(byCloud.get(c.cloud) ?? []), ref]);
  const out = new Map(relations);
  for (const [cloud, refs] of byCloud) {
    const identities = new Set(refs.map((ref) => consumerIdentity((relations.get(ref) as { auth: ConsumerAuth }).auth)));
    if (identities.size < 2) continue;
    for (const ref of refs) {
      out.set(ref, { kind: 'waiting', problem: `relations ${refs.join(' and ')} sent different credentials for one cloud name ${cloud} (project_name_username); neither is used until they agree` });
    }
  }
  return out;
}

/** The consumer clouds (name → auth) of resolved relations; a shared cloud takes the newest relation's password. */
export function consumerClouds(consumers: ReadonlyMap<string, RelationConsumer>): Map<string, ConsumerAuth> {
  const clouds = new Map<string, ConsumerAuth>();
  const byId = [...consumers].sort(([a], [b]) => relationNumber(a) - relationNumber(b));
  for (const [, c] of byId) if (c.kind === 'cloud') clouds.set(c.cloud, c.auth);
  return clouds;
}

/** The consumer clouds file (clouds.yaml format, root-only): `clouds: { <name>: { auth: {...} } }`, sorted by name. */
export function renderConsumerClouds(clouds: ReadonlyMap<string, ConsumerAuth>): string {
  const entries = [...clouds].sort(([a], [b]) => a.localeCompare(b)).map(([name, auth]) => [name, { auth: { ...auth } }]);
  return `# Written by the github-runner-image-builder charm: the clouds of the image relation's consumers.\n${stringify({ clouds: Object.fromEntries(entries) })}`;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

const relationNumber = (ref: string): number => Number(ref.split(':').pop()) || 0;

/** What the image relations amount to: the consumer clouds, who each one is, and what each relation boots from. */
export interface ConsumersPlan {
  readonly clouds: ReadonlyMap<string, ConsumerAuth>;
  /** Per cloud: consumerIdentity (no password). */
  readonly identities: Readonly<Record<string, string>>;
  /** Per relation ref: its consumer cloud, '' for the build cloud's project; absent while it waits. */
  readonly relations: Readonly<Record<string, string>>;
  /** Why each waiting relation waits (names relations and keys, never values). */
  readonly waiting: readonly string[];
}

/** The plan for every image relation (ref → its units' bags). */
export function planConsumers(relations: ReadonlyMap<string, ReadonlyMap<string, Readonly<Record<string, string>>>>): ConsumersPlan {
  const resolved = resolveConsumers(new Map([...relations].map(([ref, bags]) => [ref, consumerOfRelation(bags, ref)])));
  const clouds = consumerClouds(resolved);
  const byRelation: Record<string, string> = {};
  const waiting: string[] = [];
  for (const [ref, c] of resolved) {
    if (c.kind === 'waiting') waiting.push(`${c.problem}; no image is published to it until it sends all of ${CONSUMER_AUTH_KEYS.join(', ')}`);
    else byRelation[ref] = c.kind === 'cloud' ? c.cloud : '';
  }
  return { clouds, identities: Object.fromEntries([...clouds].map(([name, auth]) => [name, consumerIdentity(auth)])), relations: byRelation, waiting };
}
