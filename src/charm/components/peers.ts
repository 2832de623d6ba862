// Peers: what units of this application share through the peer relation. The leader
// publishes itself and the newest images in the app bag; another unit shares images it built
// (before it lost leadership) and forwards build requests in its own bag; the leader serves
// forwarded requests, coalesced into at most one owed build.
//
// Peer data comes from another machine (possibly a compromised one): every value is size-
// bounded and checked against its real shape, and an image a peer reports is served only once
// the build cloud confirms it is an active image of that name (with the cloud's created-at).
import type { Databag, Relation } from '../../ops/index.js';
import { BASES, type BaseImage } from '../build-config.js';
import { buildImmediate, isBuilderInstalled } from '../builder.js';
import type { ImageInfo } from '../cloud-port.js';
import { MAX_PEER_VALUE, parseImages, type ImagesByBase } from '../images.js';
import type { BuildCloud } from './build-cloud.js';
import { Component, type Parent } from './component.js';
import type { Machine } from './machine.js';
import type { ServedImages } from './served-images.js';
import { checkedState, is } from './stored.js';

/** Units share the newest images, the leader's name and build requests here. */
export const PEER_ENDPOINT = 'builder-peers';
/** Peer data keys: the app bag (written by the leader) and each unit's bag. */
const PEER = { images: 'images', leader: 'leader', served: 'served-requests', built: 'built-images', request: 'build-request' } as const;
/** A Juju unit name (application names are at most 63 characters). */
const UNIT_NAME = /^[a-z][a-z0-9-]{0,62}\/\d{1,9}$/;
/** A forwarded build request: the action's id (a number, or a UUID in older Juju). */
const REQUEST_ID = /^[A-Za-z0-9-]{1,64}$/;
/** Candidates per base the cloud is asked about in one hook (a flood of claims costs at most this). */
const CONFIRMS_PER_BASE = 3;

type Stored = {
  /** The leader's unit name, as it published it in the peer data (no hook tool tells a non-leader). */
  leaderName?: string;
  /** Images peers reported that the cloud could not be asked about yet (retried on update-status). */
  pending?: ImagesByBase;
  /** The leader owes one build: requests came while a build ran (all of them are served by it). */
  buildOwed?: boolean;
};

const isImage = is.record({ id: is.string, name: is.string, createdAt: is.string });

/** The leader's name from peer data, if it has the shape of a unit name. */
export const unitNameOf = (v: string | undefined): string | undefined => (v !== undefined && UNIT_NAME.test(v) ? v : undefined);

export class Peers extends Component {
  private readonly stored = checkedState<Stored>(this.framework, 'peers', { leaderName: (v) => typeof v === 'string' && UNIT_NAME.test(v), pending: is.mapOf(isImage, BASES), buildOwed: is.true });

  constructor(
    parent: Parent,
    private readonly images: ServedImages,
    private readonly cloud: BuildCloud,
    private readonly machine: Machine,
  ) {
    super(parent, 'peers');
    this.framework.observe('builder_peers_relation_joined', this, this.onPeersChanged);
    this.framework.observe('builder_peers_relation_changed', this, this.onPeersChanged);
    this.framework.observe('builder_peers_relation_departed', this, this.onPeersChanged);
    this.framework.observe('leader_elected', this, this.onLeaderElected);
    this.framework.observe('update_status', this, this.onUpdateStatus);
    images.onChange((merged) => this.share(merged));
  }

  /** The peer relation (one per application), or undefined while there is none. */
  private relation(): Relation | undefined {
    return this.model.relations(PEER_ENDPOINT)[0];
  }

  /** The leader's cached name, without a hook-tool call (for the status). */
  get knownLeader(): string | undefined {
    return this.stored.data.leaderName;
  }

  /** The leader in the peer app data (every unit reads it), another unit in its own bag. */
  private share(merged: ImagesByBase): void {
    const peers = this.relation();
    if (!peers) return;
    if (this.model.unit.isLeader()) peers.updateLocalAppData({ [PEER.images]: JSON.stringify(merged), [PEER.leader]: this.model.context.unitName });
    else peers.updateLocalUnitData({ [PEER.built]: JSON.stringify(merged) });
  }

  /** A non-leader hands a build request to the leader; undefined when there is no leader to hand it to. */
  forwardBuild(request: string): { leader: string } | undefined {
    const peers = this.relation();
    const leader = unitNameOf(peers?.localAppData()[PEER.leader]) ?? this.stored.data.leaderName;
    if (!peers || !leader) return undefined;
    peers.updateLocalUnitData({ [PEER.request]: request });
    return { leader };
  }

  /**
   * Peer data changed (or a unit joined or left): take the leader's name and the images peers
   * report, once the cloud confirms them; the leader also serves forwarded build requests.
   */
  async onPeersChanged(): Promise<void> {
    const peers = this.relation();
    if (!peers) return;
    const app = peers.localAppData();
    const leader = unitNameOf(app[PEER.leader]);
    if (leader && leader !== this.stored.data.leaderName) this.stored.set({ leaderName: leader });
    const claims: ImagesByBase[] = [parseImages(app[PEER.images])];
    if (this.model.unit.isLeader()) {
      // Each bag is one relation-get: read once, for the images and the forwarded requests.
      const bags = new Map(peers.units.map((unit) => [unit, peers.remoteUnitData(unit)] as const));
      for (const bag of bags.values()) claims.push(parseImages(bag[PEER.built]));
      await this.serveForwardedBuilds(peers, app, bags);
    }
    await this.takeIn([this.stored.data.pending ?? {}, ...claims]);
  }

  /** This unit leads now: it says so in the peer data, takes over what the last leader knew and serves waiting requests. */
  async onLeaderElected(): Promise<void> {
    this.stored.set({ leaderName: this.model.context.unitName });
    const peers = this.relation();
    if (!peers) return;
    peers.updateLocalAppData({ [PEER.leader]: this.model.context.unitName });
    await this.onPeersChanged();
  }

  /** Asks the cloud again about pending images, and starts the build the leader owes once none runs. */
  async onUpdateStatus(): Promise<void> {
    if (this.stored.data.pending) await this.takeIn([this.stored.data.pending]);
    if (this.stored.data.buildOwed && this.model.unit.isLeader() && isBuilderInstalled(this.machine.host)) {
      const status = await buildImmediate(this.machine.unit);
      if (status === 'started') {
        this.stored.set({ buildOwed: undefined });
        this.log.info('started the build owed to forwarded build requests');
      }
    }
  }

  /**
   * The images peers claim are newer than what this unit serves, each confirmed with the build
   * cloud (newest claim first, a few per base): confirmed ones are served with the cloud's
   * details, refused ones dropped, and ones the cloud could not be asked about kept pending.
   */
  private async takeIn(claims: readonly ImagesByBase[]): Promise<void> {
    const known = this.images.known();
    const confirmed: ImagesByBase = {};
    const pending: ImagesByBase = {};
    for (const base of BASES) {
      const candidates = unique(claims.map((c) => c[base]).filter((i): i is ImageInfo => !!i && i.id !== known[base]?.id && i.createdAt > (known[base]?.createdAt ?? '')));
      for (const claim of candidates.slice(0, CONFIRMS_PER_BASE)) {
        const answer = await this.cloud.confirm(claim.id, base as BaseImage);
        if ('confirmed' in answer) {
          confirmed[base] = answer.confirmed;
          break;
        }
        if ('unknown' in answer) {
          pending[base] ??= claim;
          this.log.warning(`a peer reported ${base} image ${claim.id}; not served until the cloud confirms it: ${answer.unknown}`);
        } else this.log.warning(`a peer reported ${base} image ${claim.id}, which is not served: ${answer.refused}`);
      }
    }
    this.stored.set({ pending: Object.keys(pending).length ? pending : undefined });
    this.images.learn(confirmed, 'peer data');
  }

  /**
   * The leader serves each unit's newest forwarded request once. Requests pending when a build
   * starts are all served by it; requests that come while a build runs are served by one owed
   * build, started when that one has ended (update-status). The served request of each unit
   * lives in the app data, so a new leader does not build them again.
   */
  private async serveForwardedBuilds(peers: Relation, app: Readonly<Databag>, bags: ReadonlyMap<string, Readonly<Databag>>): Promise<void> {
    if (!isBuilderInstalled(this.machine.host)) return;
    const served = servedRequests(app[PEER.served]);
    const waiting = [...bags].flatMap(([unit, bag]) => validRequest(bag).filter((request) => !served.has(`${unit} ${request}`) && !served.has(request)).map((request) => [unit, request] as const));
    if (waiting.length === 0) return;
    const status = await buildImmediate(this.machine.unit);
    const how = status === 'started' ? 'served by the build started now' : 'served by one build after the running one';
    this.stored.set({ buildOwed: status === 'started' ? undefined : true });
    this.log.info(`${waiting.length} forwarded build request(s) from ${waiting.map(([unit]) => unit).join(', ')}: ${how}`);
    // Only the units still related, each with its newest request: bounded by the application's size.
    const kept = Object.fromEntries([...bags].flatMap(([unit, bag]) => validRequest(bag).map((request) => [unit, request] as const)));
    peers.updateLocalAppData({ [PEER.served]: JSON.stringify(kept) });
  }
}

/** A unit's forwarded build request, when it has one of the right shape. */
function validRequest(bag: Readonly<Databag>): string[] {
  const request = bag[PEER.request];
  return request !== undefined && REQUEST_ID.test(request) ? [request] : [];
}

/** One entry per id, newest claim first. */
function unique(images: readonly ImageInfo[]): ImageInfo[] {
  const seen = new Set<string>();
  return [...images].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).filter((i) => !seen.has(i.id) && seen.add(i.id));
}

/**
 * The served requests in the app data: `{ "<unit>": "<request>" }` (entries kept as "<unit>
 * <request>"); the list of ids an older charm kept is read as ids served for any unit.
 */
function servedRequests(text: string | undefined): Set<string> {
  if (text === undefined || text.length > MAX_PEER_VALUE * 4) return new Set();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return new Set();
  }
  if (Array.isArray(parsed)) return new Set(parsed.filter((x): x is string => typeof x === 'string' && REQUEST_ID.test(x)));
  if (!parsed || typeof parsed !== 'object') return new Set();
  return new Set(Object.entries(parsed).flatMap(([unit, request]) => (typeof request === 'string' ? [`${unit} ${request}`] : [])));
}
