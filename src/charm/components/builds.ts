// Builds: what the build script reports through juju-exec. A reported image is published only
// once the cloud it was built in confirms it is an active image of its base's name (then copied
// into the consumers' clouds); a failure is remembered for the status. Neither needs the options a build does not use: verifying an
// image reads the applied build cloud and names, not the schedule.
import type { CustomEvent } from '../../ops/index.js';
import { IMAGE_ID, imageName, isBaseImage, type BaseImage } from '../build-config.js';
import type { ImageInfo } from '../cloud-port.js';
import { BUILD_LOG_PATH, BUILD_TIMEOUT_EXIT, BUILD_TIMEOUT_SECONDS } from '../paths.js';
import type { BuildCloud } from './build-cloud.js';
import { Component, type Parent } from './component.js';
import type { Consumers } from './consumers.js';
import type { ImageRelation } from './image-relation.js';
import type { ServedImages, Shape } from './served-images.js';
import { checkedState, is } from './stored.js';

type Stored = {
  lastFailure?: { at: string; reason: string };
};

export class Builds extends Component {
  private readonly stored = checkedState<Stored>(this.framework, 'builds', { lastFailure: is.record({ at: is.string, reason: is.string }) });

  constructor(
    parent: Parent,
    private readonly images: ServedImages,
    private readonly relation: ImageRelation,
    private readonly cloud: BuildCloud,
    private readonly consumers: Consumers,
  ) {
    super(parent, 'builds');
    this.framework.observe('build_success', this, this.onBuildSuccess);
    this.framework.observe('build_failed', this, this.onBuildFailed);
  }

  get lastFailure(): { readonly at: string; readonly reason: string } | undefined {
    return this.stored.data.lastFailure;
  }

  /** The base a build reported for (the script passes it; older callbacks did not: the first base). */
  private reportedBase(event: CustomEvent, shape: Shape | undefined): BaseImage | undefined {
    const base = event.data.IMAGE_BASE;
    if (isBaseImage(base)) return base;
    return shape?.bases[0];
  }

  /**
   * Publishes the image the builder reported, once the cloud confirms it is active under the
   * image name of its base; an id the cloud does not have (or not as that image) is a failed
   * build. When the cloud cannot be asked, the id is published with a warning.
   */
  async onBuildSuccess(event: CustomEvent): Promise<void> {
    const id = event.data.OPENSTACK_IMAGE_ID ?? '';
    // The applied shape; the configured one only when nothing was applied (target() reads clouds.yaml and the config).
    const shape = this.images.shape ?? (await this.cloud.target())?.shape;
    const base = this.reportedBase(event, shape);
    if (!IMAGE_ID.test(id) || !base) return this.recordFailure(this.ofBase(base, 'the builder reported a malformed image id'));
    const answer = await this.cloud.confirm(id, base);
    if ('refused' in answer) return this.recordFailure(`the builder reported image ${id}, but ${answer.refused}`);
    let image: ImageInfo;
    if ('confirmed' in answer) image = answer.confirmed;
    else {
      // Our own build script reported it: served with a warning rather than lost (a peer's report would wait).
      this.log.warning(`image ${id} built, but its details could not be read from the cloud (${answer.unknown}); publishing the id`);
      if (!shape) return this.recordFailure(`the builder reported image ${id}, but ${answer.unknown}`);
      image = { id, name: imageName({ arch: shape.arch, appName: this.model.appName, base }), createdAt: this.builtAt(base) };
    }
    this.relation.markUnconfirmed();
    this.images.learn({ [base]: image }, `new ${base} image ${id}`);
    await this.consumers.requestCopies(`new ${base} image ${id}`);
  }

  /**
   * A time for an image just built whose created-at the cloud could not tell: now, or just after
   * the served image when that one is dated later. The served one carries the cloud's clock,
   * which may run ahead of this machine's, and the image just built is newer than it whatever
   * the clocks say.
   */
  private builtAt(base: BaseImage): string {
    const served = Date.parse(this.images.known()[base]?.createdAt ?? '');
    return new Date(Number.isNaN(served) ? Date.now() : Math.max(Date.now(), served + 1000)).toISOString();
  }

  onBuildFailed(event: CustomEvent): void {
    const { BUILD_EXIT_CODE: code, BUILD_FAILURE: failure } = event.data;
    // A failed init is no base's: the whole build failed before any base.
    const base = failure === 'init' ? undefined : this.reportedBase(event, this.images.shape);
    let reason = `exit code ${code || 'unknown'}`;
    if (failure === 'malformed-image-id') reason = 'the builder reported a malformed image id';
    else if (failure === 'no-image-id') reason = 'the builder printed no image id';
    else if (failure === 'unrecorded') reason = 'the build could not record itself and did not run (is the disk, or are its inodes, full?)';
    else if (failure === 'init') reason = `preparing the builder (init) failed with exit code ${code || 'unknown'}; the next build tries again`;
    else if (code === String(BUILD_TIMEOUT_EXIT)) reason = `timed out after ${BUILD_TIMEOUT_SECONDS / 3600} h, exit code ${code}`;
    this.recordFailure(this.ofBase(base, reason));
  }

  /** A failure's reason, naming its base when several are built. */
  private ofBase(base: BaseImage | undefined, reason: string): string {
    return base && (this.images.shape?.bases.length ?? 1) > 1 ? `${base}: ${reason}` : reason;
  }

  private recordFailure(reason: string): void {
    this.stored.set({ lastFailure: { at: new Date().toISOString(), reason } });
    this.log.warning(`image build failed: ${reason}; see ${BUILD_LOG_PATH}`);
  }
}
