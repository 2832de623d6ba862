// Actions: build-immediate (build-now) and get-latest. Each checks only the options it uses:
// a bad interval never stops a build request or a look at the cloud.
import type { ActionEvent } from '../../ops/index.js';
import { imageNames } from '../build-config.js';
import { GetLatestImageError, buildImmediate, getLatestImage, isBuilderInstalled } from '../builder.js';
import type { ImageInfo } from '../cloud-port.js';
import { BUILD_LOG_PATH } from '../paths.js';
import { Component, type Parent } from './component.js';
import type { Consumers } from './consumers.js';
import type { Machine } from './machine.js';
import type { Peers } from './peers.js';
import type { Settings } from './settings.js';

export class Actions extends Component {
  constructor(
    parent: Parent,
    private readonly settings: Settings,
    private readonly peers: Peers,
    private readonly consumers: Consumers,
    private readonly machine: Machine,
  ) {
    super(parent, 'actions');
    this.framework.observe('build_immediate_action', this, this.onBuildImmediate);
    this.framework.observe('build_now_action', this, this.onBuildImmediate);
    this.framework.observe('get_latest_action', this, this.onGetLatest);
  }

  /** The image names the configured bases build, or a phrase when the image options are invalid. */
  private async names(): Promise<string> {
    const need = await this.settings.need('images');
    return 'cfg' in need ? imageNames({ ...need.cfg, appName: this.model.appName }).join(', ') : 'the configured images';
  }

  /**
   * The leader builds now; another unit hands the request to the leader through the peer data
   * (the leader starts it once, on its next peer hook) and says so. Forwarding needs no option;
   * the leader's build needs what the build uses (the build cloud, the images, the revisions).
   */
  async onBuildImmediate(event: ActionEvent): Promise<void> {
    if (!this.model.unit.isLeader()) {
      const request = this.model.context.action?.id ?? `${Date.now()}`;
      const forwarded = this.peers.forwardBuild(request);
      if (!forwarded) return event.fail('cannot build: this unit is not the leader and no leader has published itself yet; run the action on the leader unit (juju status shows it with a *)');
      const { leader } = forwarded;
      return event.setResults({ status: 'forwarded', leader, message: `only the leader builds: forwarded to ${leader} (request ${request}); it builds ${await this.names()} next; log there: ${BUILD_LOG_PATH}` });
    }
    const need = await this.settings.need('images', 'cloud', 'retention', 'vm');
    if ('problem' in need) return event.fail(`cannot build: ${need.problem}`);
    if (!isBuilderInstalled(this.machine.host)) return event.fail('cannot build: the image builder is not set up yet (see `juju status` for why)');
    const status = await buildImmediate(this.machine.unit);
    event.setResults({
      status,
      message: status === 'started' ? `build of ${await this.names()} started; log: ${BUILD_LOG_PATH}` : 'a build is already running; not starting another',
    });
  }

  /**
   * The newest image of every base in every cloud: `id`, `name`, `created-at` of the build
   * cloud's first base, `images` (JSON) `{cloud, base, id, name, created-at}` per cloud and base;
   * a consumer cloud that cannot be asked is listed with its error, the others still answer.
   */
  async onGetLatest(event: ActionEvent): Promise<void> {
    const need = await this.settings.need('images', 'cloud');
    if ('problem' in need) return event.fail(`cannot query the cloud: ${need.problem}`);
    const { cfg } = need;
    const names = imageNames({ ...cfg, appName: this.model.appName });
    let latest: (ImageInfo | null)[];
    try {
      latest = await getLatestImage(this.machine.cloud, this.machine.access(cfg.cloudsYaml, cfg.cloudName), names);
    } catch (err) {
      if (!(err instanceof GetLatestImageError)) throw err;
      return event.fail(err.message);
    }
    const found = cfg.bases.flatMap((base, i) => (latest[i] ? [{ base, image: latest[i]! }] : []));
    const first = found[0];
    if (!first) return event.fail(`no active image named ${names.join(' or ')} in cloud ${cfg.cloudName} yet; the first build takes a while (log: ${BUILD_LOG_PATH})`);
    const entry = (cloud: string, base: string, image: ImageInfo) => ({ cloud, base, id: image.id, name: image.name, 'created-at': image.createdAt });
    const all: object[] = found.map((f) => entry(cfg.cloudName, f.base, f.image));
    const yaml = this.consumers.cloudsYaml();
    for (const cloud of yaml ? this.consumers.clouds : []) {
      try {
        const there = await this.machine.cloud.findLatestImages(this.machine.access(yaml!, cloud), names);
        cfg.bases.forEach((base, i) => there[i] && all.push(entry(cloud, base, there[i]!)));
      } catch (err) {
        all.push({ cloud, error: (err as Error).message });
      }
    }
    event.setResults({ id: first.image.id, name: first.image.name, 'created-at': first.image.createdAt, images: JSON.stringify(all) });
  }
}
