// ImageRelation: publishes to every consumer on the `image` relation (docs/image-relation.md)
// the images it boots from (Consumers says which: the build cloud's, or the copies in its own
// project), gives a consumer in the build project that joins what this unit knows (or asks the
// cloud when it knows nothing), and repairs relation data a killed hook left behind.
import type { Relation, RelationEvent } from '../../ops/index.js';
import { imageNames } from '../build-config.js';
import { imageRelationData, type ImagesByBase } from '../images.js';
import { Component, type Parent } from './component.js';
import type { Consumers } from './consumers.js';
import type { Machine } from './machine.js';
import type { ServedImages } from './served-images.js';
import type { Settings } from './settings.js';
import { checkedState, is } from './stored.js';

export const IMAGE_ENDPOINT = 'image';
/** The keys this charm writes in its unit databag of an image relation (docs/image-relation.md). */
const RELATION_KEYS = ['id', 'tags', 'images', 'name', 'created-at'] as const;

type Stored = {
  /**
   * Set when build_success (which comes through juju-exec, never retried) published an image:
   * a kill between the state commit and Juju's commit of relation data would leave the
   * relations on the previous image, so the next config-changed checks them once.
   */
  publishUnconfirmed?: boolean;
};

export class ImageRelation extends Component {
  private readonly stored = checkedState<Stored>(this.framework, 'image-relation', { publishUnconfirmed: is.true });

  constructor(
    parent: Parent,
    private readonly images: ServedImages,
    private readonly settings: Settings,
    private readonly machine: Machine,
    private readonly consumers: Consumers,
  ) {
    super(parent, 'image-relation');
    this.framework.observe('image_relation_joined', this, this.onJoined);
    images.onChange(() => this.publish());
    consumers.onChange(() => this.publish());
  }

  /** What a relation's unit databag holds: its consumer's images (empty while it has none; undefined: leave it as it is). */
  private dataFor(relation: Relation): Record<string, string> | undefined {
    const shape = this.images.shape;
    const images = this.consumers.imagesFor(relation);
    if (!images) return undefined;
    return shape ? imageRelationData(images, shape.bases, shape.arch) : {};
  }

  /**
   * Every image relation's unit databag gets its consumer's images. A relation with none (it
   * waits for credentials, or its cloud has no image left) loses the keys it had: an id from
   * another project, or a gone one, would only mislead.
   */
  publish(): void {
    for (const relation of this.model.relations(IMAGE_ENDPOINT)) {
      const data = this.dataFor(relation);
      if (!data) continue;
      if (data.id) relation.updateLocalUnitData(data);
      else if (relation.localUnitData().id) {
        relation.updateLocalUnitData(Object.fromEntries(RELATION_KEYS.map((k) => [k, ''])));
      }
    }
  }

  /** build_success published: the next config-changed checks that the relations hold it. */
  markUnconfirmed(): void {
    this.stored.set({ publishUnconfirmed: true });
  }

  /**
   * The stored images are committed by the framework as the hook ends, relation data by Juju
   * after it exited 0: a hook killed in between leaves the relations on the previous image. Juju
   * runs config-changed whenever the agent starts, so that is where it is repaired, once per
   * image published by build_success (a steady config-changed makes no relation calls).
   */
  republishIfStale(): void {
    if (!this.stored.data.publishUnconfirmed) return;
    this.stored.set({ publishUnconfirmed: undefined });
    for (const relation of this.model.relations(IMAGE_ENDPOINT)) {
      const want = this.dataFor(relation);
      if (want?.id && relation.localUnitData().id !== want.id) {
        this.log.warning(`relation ${relation.ref} was not on image ${want.id} (an interrupted hook?); publishing it again`);
        relation.updateLocalUnitData(want);
      }
    }
  }

  /**
   * A consumer joined: it gets the images this unit knows for it, or, in the build project, the
   * build cloud's newest when this unit knows none (a consumer with its own project gets its
   * copies when they are made: Consumers asks for them).
   */
  async onJoined(event: RelationEvent): Promise<void> {
    const known = this.dataFor(event.relation);
    if (known?.id) return event.relation.updateLocalUnitData(known);
    if (this.consumers.cloudOf(event.relation) !== '') return;
    const need = await this.settings.need('images', 'cloud');
    if ('problem' in need) return;
    const { cfg } = need;
    let images: ImagesByBase = {};
    try {
      const access = this.machine.access(cfg.cloudsYaml, cfg.cloudName);
      const latest = await this.machine.cloud.findLatestImages(access, imageNames({ ...cfg, appName: this.model.appName }));
      cfg.bases.forEach((base, i) => latest[i] && (images = { ...images, [base]: latest[i]! }));
    } catch (err) {
      this.log.warning(`${event.app} joined, but the cloud could not be asked for the latest image (${(err as Error).message}); it gets the next one built`);
    }
    if (Object.keys(images).length) this.images.learn(images, `${event.app} joined`);
  }
}
