// The build cloud, as the unit last applied it, and the one question the charm asks it about an
// image someone reported (the build script or a peer): is it an active image of its base's name?
// The cloud's own name and created-at are what the charm keeps, never the reporter's.
import { imageName, type BaseImage } from '../build-config.js';
import type { ImageInfo } from '../cloud-port.js';
import { CLOUDS_YAML_PATH } from '../paths.js';
import type { Machine } from './machine.js';
import type { ServedImages, Shape } from './served-images.js';
import type { Settings } from './settings.js';

export type Confirmation =
  | { readonly confirmed: ImageInfo }
  /** The cloud answered, and not with an active image of that name: never publish it. */
  | { readonly refused: string }
  /** The cloud could not be asked (or no cloud is set up): keep it pending, ask again later. */
  | { readonly unknown: string };

export class BuildCloud {
  constructor(
    private readonly appName: string,
    private readonly images: ServedImages,
    private readonly settings: Settings,
    private readonly machine: Machine,
  ) {}

  /**
   * Where builds go and what they are named: the applied build (its clouds.yaml on the host, as
   * the build script used it), else the configured one when its options are valid.
   */
  async target(): Promise<{ shape: Shape; cloudsYaml: string; cloudName: string } | undefined> {
    const shape = this.images.shape;
    const cloudsYaml = this.machine.host.readText(CLOUDS_YAML_PATH);
    if (shape?.cloudName && cloudsYaml !== undefined) return { shape, cloudsYaml, cloudName: shape.cloudName };
    const need = await this.settings.need('images', 'cloud');
    if ('problem' in need) return undefined;
    return { shape: { bases: [...need.cfg.bases], arch: need.cfg.arch }, cloudsYaml: need.cfg.cloudsYaml, cloudName: need.cfg.cloudName };
  }

  /** Asks the build cloud whether `id` is an active image of `base`'s name (its created-at is the cloud's). */
  async confirm(id: string, base: BaseImage): Promise<Confirmation> {
    const target = await this.target();
    if (!target) return { unknown: 'this unit has no valid build cloud to confirm it in' };
    const name = imageName({ arch: target.shape.arch, appName: this.appName, base });
    let found;
    try {
      found = await this.machine.cloud.findImage(this.machine.access(target.cloudsYaml, target.cloudName), id);
    } catch (err) {
      return { unknown: (err as Error).message }; // the client's errors name the cloud and what failed
    }
    if (found === null) return { refused: `cloud ${target.cloudName} has no such image` };
    if (found.status !== 'active' || found.name !== name) {
      return { refused: `cloud ${target.cloudName} has it as ${JSON.stringify(found.name.slice(0, 80))} in status ${found.status}, not an active ${name}` };
    }
    return { confirmed: { id: found.id, name: found.name, createdAt: found.createdAt } };
  }
}
