// Builds: what the build script reports through juju-exec. A reported image is published only
// once the cloud it was built in confirms it is an active image of its base's name; a failure
// is remembered for the status. Neither needs the options a build does not use: verifying an
// image reads the applied build cloud and names, not the schedule.
import type { CustomEvent } from '../../ops/index.js';
import { IMAGE_ID, imageName, isBaseImage, type BaseImage } from '../build-config.js';
import type { ImageInfo } from '../cloud-port.js';
import { BUILD_LOG_PATH, BUILD_TIMEOUT_EXIT, BUILD_TIMEOUT_SECONDS, CLOUDS_YAML_PATH } from '../paths.js';
import { Component, type Parent } from './component.js';
import type { ImageRelation } from './image-relation.js';
import type { Machine } from './machine.js';
import type { ServedImages, Shape } from './served-images.js';
import type { Settings } from './settings.js';
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
    private readonly settings: Settings,
    private readonly machine: Machine,
  ) {
    super(parent, 'builds');
    this.framework.observe('build_success', this, this.onBuildSuccess);
    this.framework.observe('build_failed', this, this.onBuildFailed);
  }

  get lastFailure(): { readonly at: string; readonly reason: string } | undefined {
    return this.stored.data.lastFailure;
  }

  /**
   * Where builds go and what they are named: the applied build (its clouds.yaml on the host, as
   * the build script used it), else the configured one when its options are valid.
   */
  private async buildTarget(): Promise<{ shape: Shape; cloudsYaml: string; cloudName: string } | undefined> {
    const shape = this.images.shape;
    const cloudsYaml = this.machine.host.readText(CLOUDS_YAML_PATH);
    if (shape?.cloudName && cloudsYaml !== undefined) return { shape, cloudsYaml, cloudName: shape.cloudName };
    const need = await this.settings.need('images', 'cloud');
    if ('problem' in need) return undefined;
    return { shape: { bases: [...need.cfg.bases], arch: need.cfg.arch }, cloudsYaml: need.cfg.cloudsYaml, cloudName: need.cfg.cloudName };
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
    const target = await this.buildTarget();
    const base = this.reportedBase(event, target?.shape ?? this.images.shape);
    if (!IMAGE_ID.test(id) || !base) return this.recordFailure(this.ofBase(base, 'the builder reported a malformed image id'));
    if (!target) return this.recordFailure(this.ofBase(base, `the builder reported image ${id}, but this unit has no valid build cloud to confirm it in`));
    const name = imageName({ arch: target.shape.arch, appName: this.model.appName, base });
    let image: ImageInfo = { id, name, createdAt: new Date().toISOString() };
    let found;
    try {
      found = await this.machine.cloud.findImage(this.machine.access(target.cloudsYaml, target.cloudName), id);
    } catch (err) {
      this.log.warning(`image ${id} built, but its details could not be read from the cloud (${(err as Error).message}); publishing the id`);
    }
    if (found === null) return this.recordFailure(`the builder reported image ${id}, but cloud ${target.cloudName} has no such image`);
    if (found && (found.status !== 'active' || found.name !== name)) {
      return this.recordFailure(`the builder reported image ${id}, but cloud ${target.cloudName} has it as ${JSON.stringify(found.name.slice(0, 80))} in status ${found.status}, not an active ${name}`);
    }
    if (found) image = { id: found.id, name: found.name, createdAt: found.createdAt };
    this.relation.markUnconfirmed();
    this.images.learn({ [base]: image }, `new ${base} image ${id}`);
  }

  onBuildFailed(event: CustomEvent): void {
    const { BUILD_EXIT_CODE: code, BUILD_FAILURE: failure } = event.data;
    const base = this.reportedBase(event, this.images.shape);
    let reason = `exit code ${code || 'unknown'}`;
    if (failure === 'malformed-image-id') reason = 'the builder reported a malformed image id';
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
