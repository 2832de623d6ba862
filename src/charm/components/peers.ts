// Peers: what units of this application share through the peer relation. The leader
// publishes itself and the newest images in the app bag; another unit shares images it built
// (before it lost leadership) and forwards build requests in its own bag; the leader serves
// each forwarded request once.
import type { Databag, Relation } from '../../ops/index.js';
import { buildImmediate, isBuilderInstalled } from '../builder.js';
import { mergeNewest, parseImages, type ImagesByBase } from '../images.js';
import { Component, type Parent } from './component.js';
import type { Machine } from './machine.js';
import type { ServedImages } from './served-images.js';
import { checkedState, is } from './stored.js';

/** Units share the newest images, the leader's name and build requests here. */
export const PEER_ENDPOINT = 'builder-peers';
/** Peer data keys: the app bag (written by the leader) and each unit's bag. */
const PEER = { images: 'images', leader: 'leader', served: 'served-requests', built: 'built-images', request: 'build-request' } as const;
/** Forwarded build requests remembered as served (the newest ones). */
const SERVED_KEPT = 50;

type Stored = {
  /** The leader's unit name, as it published it in the peer data (no hook tool tells a non-leader). */
  leaderName?: string;
};

export class Peers extends Component {
  private readonly stored = checkedState<Stored>(this.framework, 'peers', { leaderName: is.string });

  constructor(
    parent: Parent,
    private readonly images: ServedImages,
    private readonly machine: Machine,
  ) {
    super(parent, 'peers');
    this.framework.observe('builder_peers_relation_joined', this, this.onPeersChanged);
    this.framework.observe('builder_peers_relation_changed', this, this.onPeersChanged);
    this.framework.observe('builder_peers_relation_departed', this, this.onPeersChanged);
    this.framework.observe('leader_elected', this, this.onLeaderElected);
    images.onChange((merged) => this.share(merged));
  }

  /** The peer relation (one per application), or undefined while there is none. */
  private relation(): Relation | undefined {
    return this.model.relations(PEER_ENDPOINT)[0];
  }

  /** The leader's unit name as this unit last learnt it. */
  leaderName(): string | undefined {
    return this.relation()?.localAppData()[PEER.leader] ?? this.stored.data.leaderName;
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

  /** A non-leader hands a build request to the leader; false when there is no leader to hand it to. */
  forwardBuild(request: string): { leader: string } | undefined {
    const peers = this.relation();
    const leader = this.leaderName();
    if (!peers || !leader) return undefined;
    peers.updateLocalUnitData({ [PEER.request]: request });
    return { leader };
  }

  /**
   * Peer data changed (or a unit joined or left): take the leader's images and name; the leader
   * also takes what other units built and serves their forwarded build requests.
   */
  async onPeersChanged(): Promise<void> {
    const peers = this.relation();
    if (!peers) return;
    const app = peers.localAppData();
    if (app[PEER.leader] && app[PEER.leader] !== this.stored.data.leaderName) this.stored.set({ leaderName: app[PEER.leader] });
    let images = parseImages(app[PEER.images]);
    if (this.model.unit.isLeader()) {
      // Each bag is one relation-get: read once, for the images and the forwarded requests.
      const bags = new Map(peers.units.map((unit) => [unit, peers.remoteUnitData(unit)] as const));
      for (const bag of bags.values()) images = mergeNewest(images, parseImages(bag[PEER.built]));
      await this.serveForwardedBuilds(peers, app, bags);
    }
    this.images.learn(images, 'peer data');
  }

  /** This unit leads now: it says so in the peer data, takes over what the last leader knew and serves waiting requests. */
  async onLeaderElected(): Promise<void> {
    this.stored.set({ leaderName: this.model.context.unitName });
    const peers = this.relation();
    if (!peers) return;
    peers.updateLocalAppData({ [PEER.leader]: this.model.context.unitName });
    await this.onPeersChanged();
  }

  /** The leader starts each build request a non-leader forwarded, once (the served ids live in the peer app data). */
  private async serveForwardedBuilds(peers: Relation, app: Readonly<Databag>, bags: ReadonlyMap<string, Readonly<Databag>>): Promise<void> {
    if (!isBuilderInstalled(this.machine.host)) return;
    let served: string[] = [];
    try {
      const parsed: unknown = JSON.parse(app[PEER.served] ?? '[]');
      if (Array.isArray(parsed)) served = parsed.filter((x): x is string => typeof x === 'string');
    } catch {
      // junk: start over
    }
    const waiting = [...bags].map(([u, bag]) => [u, bag[PEER.request]] as const).filter((e): e is readonly [string, string] => !!e[1] && !served.includes(e[1]));
    if (waiting.length === 0) return;
    const status = await buildImmediate(this.machine.unit);
    for (const [unit, request] of waiting) this.log.info(`build request ${request} from ${unit}: build ${status}`);
    served = [...served, ...waiting.map((w) => w[1])].slice(-SERVED_KEPT);
    peers.updateLocalAppData({ [PEER.served]: JSON.stringify(served) });
  }
}
