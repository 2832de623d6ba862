// GoneImages: never advertise an image the cloud no longer has (github-runner issue #434: runners
// stuck for hours on a deleted image). On every update-status each unit checks every id it
// publishes, in the cloud it is published for (one Glance GET per id, one token per cloud); one
// that is gone or not active is replaced at once by the newest active image of that name in that
// cloud, or dropped (the relation loses `id` for that base). The leader then asks for fresh
// copies, or a build when the build cloud itself has nothing left. A cloud that cannot be asked
// changes nothing: a warning, no flapping of relation data.
import type { BaseImage } from '../build-config.js';
import { buildImmediate, isBuilderInstalled } from '../builder.js';
import type { CloudAccess, ImageInfo } from '../cloud-port.js';
import type { ImagesByBase } from '../images.js';
import type { BuildCloud } from './build-cloud.js';
import { Component, type Parent } from './component.js';
import type { Consumers } from './consumers.js';
import type { Machine } from './machine.js';
import type { ServedImages } from './served-images.js';
import { checkedState, is } from './stored.js';

type Stored = {
  /** Per cloud: bases whose published image was gone with nothing to take its place (for the status). */
  emptied?: Record<string, string[]>;
};

export class GoneImages extends Component {
  private readonly stored = checkedState<Stored>(this.framework, 'gone-images', { emptied: is.mapOf(is.strings) });

  constructor(
    parent: Parent,
    private readonly images: ServedImages,
    private readonly buildCloud: BuildCloud,
    private readonly consumers: Consumers,
    private readonly machine: Machine,
  ) {
    super(parent, 'gone-images');
    this.framework.observe('update_status', this, this.onUpdateStatus);
  }

  /** Clouds that lost a base's image with none left there. */
  statusNotes(): string[] {
    return Object.entries(this.stored.data.emptied ?? {}).map(([cloud, bases]) => `cloud ${cloud} no longer has the ${bases.join(', ')} image(s) it was published; none is published there until the copy (or build) the leader asked for lands`);
  }

  async onUpdateStatus(): Promise<void> {
    const emptied: Record<string, string[]> = {};
    let buildNeeded = false;
    let copyNeeded = false;
    const target = await this.buildCloud.target();
    if (target) {
      const { dropped, changed } = await this.check(this.machine.access(target.cloudsYaml, target.cloudName), this.images.known(), (base, image, why) => this.images.replace(base, image, why));
      if (dropped.length) emptied[target.cloudName] = dropped;
      buildNeeded = dropped.length > 0;
      copyNeeded ||= changed;
    }
    const yaml = this.consumers.cloudsYaml();
    for (const [cloud, copies] of Object.entries(this.consumers.copies)) {
      if (!yaml) break;
      const { dropped, changed } = await this.check(this.machine.access(yaml, cloud), copies, (base, image) => this.consumers.setCopy(cloud, base, image));
      if (dropped.length) emptied[cloud] = dropped;
      copyNeeded ||= changed;
    }
    this.stored.set({ emptied: Object.keys(emptied).length ? { ...this.stillEmpty(), ...emptied } : this.stillEmpty() });
    if (!this.model.unit.isLeader()) return;
    if (buildNeeded && isBuilderInstalled(this.machine.host)) {
      const how = await buildImmediate(this.machine.unit);
      this.log.warning(`the build cloud has no image left of a published base: ${how === 'started' ? 'a build started' : 'the running build makes one'}`);
    }
    if (copyNeeded) await this.consumers.requestCopies('a published image was gone');
  }

  /**
   * Checks one cloud's published images; replaces or drops each gone one through `apply`.
   * Says whether any was, and which bases were dropped (nothing left to publish). A cloud that
   * cannot be asked: a warning, no change.
   */
  private async check(access: CloudAccess, published: ImagesByBase, apply: (base: BaseImage, image: ImageInfo | undefined, why: string) => void): Promise<{ dropped: string[]; changed: boolean }> {
    const none = { dropped: [], changed: false };
    const entries = Object.entries(published) as [BaseImage, ImageInfo][];
    if (!entries.length) return none;
    let checks;
    try {
      checks = await this.machine.cloud.checkPublished(access, entries.map(([, i]) => ({ id: i.id, name: i.name })));
    } catch (err) {
      this.log.warning(`cloud ${access.cloudName} could not be asked whether its published images still exist (${(err as Error).message}); nothing changed`);
      return none;
    }
    const gone = entries.flatMap(([base, image], i) => (checks[i] && checks[i].found?.status !== 'active' ? [{ base, image, check: checks[i] }] : []));
    if (!gone.length) return none;
    // Loaded only when something was gone: a steady update-status does not pay for it.
    const { recordGoneImageReplaced } = await import('../copies.js');
    const dropped: string[] = [];
    for (const { base, image, check } of gone) {
      const state = check.found ? `is ${check.found.status}` : 'is gone';
      const replacement = check.latest && check.latest.id !== image.id ? check.latest : undefined;
      if (!replacement) dropped.push(base);
      recordGoneImageReplaced(this.machine.host, access.cloudName);
      apply(base, replacement, `published ${base} image ${image.id} ${state} in cloud ${access.cloudName}`);
    }
    return { dropped, changed: true };
  }

  /** Emptied bases that still have no image published (the others got one since). */
  private stillEmpty(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [cloud, bases] of Object.entries(this.stored.data.emptied ?? {})) {
      const now = cloud === this.images.shape?.cloudName ? this.images.known() : this.consumers.copies[cloud];
      const still = bases.filter((b) => !now?.[b as BaseImage]);
      if (still.length && (now || cloud === this.images.shape?.cloudName)) out[cloud] = still;
    }
    return out;
  }
}
