// Consumers: the `image` relation's consumers as clouds, and the images copied into them
// (docs/consumer-copies.md). Every unit writes the consumer clouds file from the related units'
// credentials (any unit may lead); the leader asks the copier for copies whenever the build
// cloud's images or the set of consumer projects change, takes in what the copier reports
// (copies_done) and shares it through the peer relation; other units confirm shared copies with
// the consumer's cloud before they publish them. What each relation is published comes from here.
import type { Relation } from '../../ops/index.js';
import { BASES } from '../build-config.js';
import type { ImageInfo } from '../cloud-port.js';
import type { CopyRequest } from '../copies.js';
import { installFiles } from '../builder.js';
import type { ImagesByBase } from '../images.js';
import { CONSUMER_CLOUDS_PATH } from '../paths.js';
import type { BuildCloud } from './build-cloud.js';
import { Component, type Parent } from './component.js';
import { IMAGE_ENDPOINT } from './image-relation.js';
import type { Machine } from './machine.js';
import { PEER_ENDPOINT } from './peers.js';
import type { ServedImages } from './served-images.js';
import { PEER_COPIES, confirmSharedCopies } from './shared-copies.js';
import type { Settings } from './settings.js';
import { checkedState, is } from './stored.js';


type Stored = {
  /** Per relation (`image:<id>`): the consumer cloud it boots from, '' for the build cloud's project; absent while it waits. */
  relations?: Record<string, string>;
  /** Per consumer cloud: who the consumer is there (auth URL, domains, project, user; never the password). */
  identities?: Record<string, string>;
  /** Per consumer cloud: the verified copy of each base that is published there. */
  copies?: Record<string, ImagesByBase>;
  /** Per consumer cloud: why its last copy failed (cleared by a good one). */
  failures?: Record<string, string>;
  /** Relations waiting for complete credentials (for the status). */
  waiting?: number;
};

const isImage = is.record({ id: is.string, name: is.string, createdAt: is.string });
const isCopies = is.mapOf(is.mapOf(isImage, BASES));

export class Consumers extends Component {
  readonly stored = checkedState<Stored>(this.framework, 'consumers', {
    relations: is.mapOf(is.string),
    identities: is.mapOf(is.string),
    copies: isCopies,
    failures: is.mapOf(is.string),
    waiting: is.int,
  });
  private readonly listeners: (() => void)[] = [];

  constructor(
    parent: Parent,
    private readonly images: ServedImages,
    private readonly buildCloud: BuildCloud,
    private readonly settings: Settings,
    private readonly machine: Machine,
  ) {
    super(parent, 'consumers');
    this.framework.observe('image_relation_joined', this, this.onRelationChanged);
    this.framework.observe('image_relation_changed', this, this.onRelationChanged);
    this.framework.observe('image_relation_departed', this, this.onRelationChanged);
    this.framework.observe('image_relation_broken', this, this.onRelationChanged);
    this.framework.observe('copies_done', this, this.onCopiesDone);
    this.framework.observe('builder_peers_relation_changed', this, this.onPeersChanged);
    this.framework.observe('upgrade_charm', this, this.onRelationChanged);
    this.framework.observe('leader_elected', this, this.onLeaderElected);
  }

  /** Called when what a relation is published changes. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * The images a relation is published: the build cloud's for a consumer in the build project,
   * its cloud's verified copies for one with its own project, nothing for one that waits (or
   * moved to another project). Undefined while a cloud that is new here has no copies yet: the
   * relation keeps what it has (nothing for a new consumer; after an upgrade, the id it booted
   * before, until the copier reports).
   */
  imagesFor(relation: Relation): ImagesByBase | undefined {
    const cloud = this.cloudOf(relation);
    if (cloud === undefined) return {};
    return cloud === '' ? this.images.known() : this.stored.data.copies?.[cloud];
  }

  /**
   * The consumer cloud a relation boots from: '' for the build cloud's project, undefined while
   * it waits for credentials. Before this unit first read its relations (state of an older
   * charm), every relation is in the build project, as it was then.
   */
  cloudOf(relation: Relation): string | undefined {
    const relations = this.stored.data.relations;
    return relations ? relations[relation.ref] : '';
  }

  /** The consumer clouds this unit knows (from the relations' credentials). */
  get clouds(): string[] {
    return Object.keys(this.stored.data.identities ?? {});
  }

  /** Consumer cloud names with their published copies (for get-latest and the gone-image check). */
  get copies(): Readonly<Record<string, ImagesByBase>> {
    return this.stored.data.copies ?? {};
  }

  /** The consumer clouds file's text (root-only), or undefined when there is none. */
  cloudsYaml(): string | undefined {
    return this.machine.host.readText(CONSUMER_CLOUDS_PATH);
  }

  /** Takes a copy the cloud showed gone, or its replacement, into what is published (leader, update-status). */
  setCopy(cloud: string, base: string, image: ImageInfo | undefined): void {
    const copies = { ...this.copies, [cloud]: { ...this.copies[cloud], [base]: image } };
    if (!image) delete copies[cloud]![base as keyof ImagesByBase];
    this.stored.set({ copies });
    this.shareAndPublish();
  }

  /** Status notes: relations waiting for credentials, and clouds whose copy failed. */
  statusNotes(): string[] {
    const notes: string[] = [];
    const waiting = this.stored.data.waiting ?? 0;
    if (waiting) notes.push(`${waiting} related application(s) wait for complete OpenStack credentials (see the log)`);
    for (const [cloud, why] of Object.entries(this.stored.data.failures ?? {})) notes.push(`copy into cloud ${cloud} failed: ${why}`);
    return notes;
  }

  /**
   * A consumer joined, changed its data, lost a unit or left: the consumer clouds and the
   * relation map are rebuilt from every relation, the file rewritten when it changed (a rotated
   * password only rewrites it), and the leader asks for copies into clouds that are new.
   */
  async onRelationChanged(event: { name: string; relation?: Relation }): Promise<void> {
    const leaving = event.name === 'image_relation_broken' ? event.relation?.ref : undefined;
    // Loaded by the hooks that need them (yaml's writer among them), not by every hook.
    const { planConsumers, renderConsumerClouds } = await import('../consumer-clouds.js');
    const bags = new Map(
      this.model
        .relations(IMAGE_ENDPOINT)
        .filter((relation) => relation.ref !== leaving)
        .map((relation) => [relation.ref, new Map(relation.units.map((unit) => [unit, relation.remoteUnitData(unit)] as const))] as const),
    );
    const { clouds, identities, relations, waiting } = planConsumers(bags);
    const host = this.machine.host;
    if (clouds.size) installFiles([{ path: CONSUMER_CLOUDS_PATH, content: renderConsumerClouds(clouds), mode: 0o600 }], host);
    else host.remove(CONSUMER_CLOUDS_PATH);
    for (const problem of waiting) this.log.warning(problem);
    const before = this.stored.data.identities ?? {};
    const fresh = Object.keys(identities).filter((name) => before[name] !== identities[name]);
    // A cloud that left, or is now another project, has no copies here any more; one that moved
    // publishes nothing until its copy is made (the old project's id would only mislead).
    const keep = (name: string) => name in identities && !fresh.includes(name);
    const copies: Record<string, ImagesByBase> = Object.fromEntries(Object.entries(this.copies).filter(([name]) => keep(name)));
    for (const name of fresh) if (name in before) copies[name] = {};
    const was = this.stored.data.relations;
    for (const [ref, cloud] of Object.entries(relations)) if (cloud && was?.[ref] !== undefined && was[ref] !== cloud) copies[cloud] ??= {};
    const failures = Object.fromEntries(Object.entries(this.stored.data.failures ?? {}).filter(([name]) => keep(name)));
    this.stored.set({ relations: { ...relations }, identities: { ...identities }, copies, failures: Object.keys(failures).length ? failures : undefined, waiting: waiting.length || undefined });
    for (const name of Object.keys(before).filter((n) => !(n in identities))) this.log.info(`consumer cloud ${name} is gone: its credentials were removed from this unit`);
    this.notify();
    if (fresh.length) await this.requestCopies(`new consumer cloud(s) ${fresh.join(', ')}`);
  }

  /**
   * The leader asks the copier for the build cloud's newest image of each base in every
   * consumer cloud (the copier reuses what a cloud already has, so this is always the whole
   * set). Nothing to do without consumer clouds or images; when the build cloud has none yet,
   * the next build covers the consumers.
   */
  async requestCopies(why: string): Promise<void> {
    const clouds = this.clouds;
    if (!clouds.length || !this.model.unit.isLeader()) return;
    const target = await this.buildCloud.target();
    const known = this.images.known();
    const images = (target?.shape.bases ?? []).flatMap((base) => (known[base] ? [{ base, id: known[base]!.id, name: known[base]!.name }] : []));
    if (!target || !images.length) return;
    // The copier prunes each consumer cloud to the revisions kept: without a valid limit, no copy.
    const retention = await this.settings.need('retention');
    if ('problem' in retention) return this.log.warning(`copies into ${clouds.join(', ')} wait: ${retention.problem}`);
    const request: CopyRequest = {
      sourceCloud: target.cloudName,
      images,
      clouds,
      keep: retention.cfg.revisionHistoryLimit,
      published: Object.fromEntries(Object.entries(this.copies).map(([cloud, byBase]) => [cloud, Object.values(byBase).map((i) => i!.id)])),
    };
    const host = this.machine.host;
    const ctx = this.model.context;
    const { startCopies } = await import('../copies.js');
    const how = await startCopies(this.machine.unit, request, { node: process.execPath, charmDir: ctx.charmDir, unitName: ctx.unitName, jujuExec: host.which('juju-exec') ?? '/usr/bin/juju-exec' });
    this.log.info(`copies into ${clouds.join(', ')} ${how === 'started' ? 'started' : 'queued behind the running copier'} (${why})`);
  }

  /** A new leader makes sure every consumer cloud has the newest images (the copier reuses what is there). */
  async onLeaderElected(): Promise<void> {
    await this.requestCopies('this unit leads now');
  }

  /** The copier finished: its verified copies are published, its failures shown until a copy succeeds. */
  async onCopiesDone(): Promise<void> {
    const result = (await import('../copies.js')).readCopyResult(this.machine.host);
    if (!result) return this.log.warning('copies_done, but the copier left no readable result');
    const copies = { ...this.copies };
    const failures = { ...this.stored.data.failures };
    for (const o of result.outcomes) {
      if (!this.clouds.includes(o.cloud) || !BASES.includes(o.base as never)) continue;
      if (o.image) {
        copies[o.cloud] = { ...copies[o.cloud], [o.base]: o.image };
        delete failures[o.cloud];
        this.log.info(`cloud ${o.cloud} has ${o.base} image ${o.image.id}${o.reused ? ' (already there)' : ` (copied from ${o.sourceId})`}`);
      } else {
        failures[o.cloud] = `${o.base}: ${o.error ?? 'unknown error'}`;
        this.log.warning(`copy of ${o.sourceId} into cloud ${o.cloud} failed: ${o.error ?? 'unknown error'}`);
      }
    }
    this.stored.set({ copies, failures: Object.keys(failures).length ? failures : undefined });
    this.shareAndPublish();
  }

  /**
   * Another unit: the leader's copies, each confirmed in the consumer's cloud (this unit has
   * its credentials too) before it is published; one the cloud cannot confirm is not taken.
   */
  async onPeersChanged(): Promise<void> {
    const text = this.model.relations(PEER_ENDPOINT)[0]?.localAppData()[PEER_COPIES];
    const yaml = this.cloudsYaml();
    if (this.model.unit.isLeader() || !text || !yaml) return;
    const copies = await confirmSharedCopies(this.machine, yaml, this.clouds, text, this.copies, (m) => this.log.warning(m));
    this.stored.set({ copies });
    this.notify();
  }

  private shareAndPublish(): void {
    const peers = this.model.relations(PEER_ENDPOINT)[0];
    if (peers && this.model.unit.isLeader()) peers.updateLocalAppData({ [PEER_COPIES]: JSON.stringify(this.copies) });
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}
