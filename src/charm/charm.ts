// The github-runner-image-builder charm: reconciles its config into host state (packages, the
// builder application, clouds.yaml, the callback and the cron entry), starts builds, and
// publishes the newest image over the `image` relation.
import {
  ActiveStatus,
  BlockedStatus,
  CharmBase,
  MaintenanceStatus,
  type ActionEvent,
  type CustomEvent,
  type EventBase,
  type Framework,
  type HookEvent,
  type RelationEvent,
  type StoredState,
} from '../ops/index.js';
import {
  BUILD_LOG_PATH,
  BuilderSetupError,
  CALLBACK_SCRIPT_PATH,
  CRON_PATH,
  buildImmediate,
  configureCron,
  imageName,
  installCallbackScript,
  installCloudsYaml,
  renderCron,
  setupBuilder,
  type BuildConfig,
  type UnitContext,
} from './builder.js';
// config.js and cloud.js (YAML, the clouds.yaml validator, the OpenStack client) load only in
// the handlers that read the config: every hook is a fresh process and they cost ~10 ms.
import type { ImageInfo } from './cloud.js';
import type { CharmConfig } from './config.js';
import { Host } from './host.js';

export const IMAGE_ENDPOINT = 'image';
const IMAGE_ID = /^[A-Za-z0-9-]{1,64}$/;

type Stored = {
  /** The builder application is installed and initialised. */
  installed: boolean;
  /** The newest image this unit knows of; relations joined later get it even if the cloud is down. */
  image?: ImageInfo;
  lastFailure?: { at: string; reason: string };
  /**
   * sha256 of the cron entry this unit last scheduled, committed only when the hook succeeds.
   * A hook killed after writing a new cron entry but before starting the build it owes leaves
   * the old digest, so the retried hook still starts that build.
   */
  cronDigest?: string;
  /**
   * Set when build_success (which comes through juju-exec, never retried) published an image:
   * a kill between the state commit and Juju's commit of relation data would leave the
   * relations on the previous image, so the next config-changed checks them once.
   */
  publishUnconfirmed?: boolean;
};

async function digest(text: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(text).digest('hex');
}

/** The config is invalid; the message names the option, what is wrong and what is accepted. */
class InvalidConfig {
  constructor(readonly message: string) {}
}

/**
 * What to do about a failed cloud request, by the OpenStackError's kind (auth, TLS and config
 * errors already say it). Read off the error rather than imported: the client loads lazily.
 */
function cloudHint(err: unknown): string {
  switch ((err as { kind?: unknown }).kind) {
    case 'network':
    case 'timeout':
      return '; check that the cloud is up and reachable from this machine (and the model proxy settings), then run the action again';
    case 'http':
      return '; the cloud failed to answer: run the action again later, or ask its operators';
    case 'malformed':
    case 'catalog':
      return '; check auth_url, region_name and interface in openstack-clouds-yaml';
    default:
      return '';
  }
}

export class ImageBuilderCharm extends CharmBase {
  static readonly customEvents = {
    build_success: { env: ['OPENSTACK_IMAGE_ID'] },
    build_failed: { env: ['BUILD_EXIT_CODE', 'BUILD_FAILURE'] },
  };
  private readonly stored: StoredState<Stored>;

  constructor(framework: Framework) {
    super(framework);
    this.stored = framework.storedState<Stored>('image-builder', { installed: false });
    framework.observe('install', this.onInstall.bind(this));
    framework.observe('upgrade_charm', this.onInstall.bind(this));
    framework.observe('config_changed', this.onConfigChanged.bind(this));
    framework.observe('stop', this.onStop.bind(this));
    framework.observe('remove', this.onStop.bind(this));
    framework.observe('build_immediate_action', this.onBuildImmediate.bind(this));
    framework.observe('build_now_action', this.onBuildImmediate.bind(this));
    framework.observe('get_latest_action', this.onGetLatest.bind(this));
    framework.observe('build_success', this.onBuildSuccess.bind(this));
    framework.observe('build_failed', this.onBuildFailed.bind(this));
    framework.observe('image_relation_joined', this.onImageRelationJoined.bind(this));
  }

  private get unit(): UnitContext {
    const ctx = this.model.context;
    return { host: new Host(ctx.env), unitName: ctx.unitName, charmDir: ctx.charmDir, warn: (m) => this.log.warning(m) };
  }

  private buildConfig(cfg: CharmConfig): BuildConfig {
    return {
      arch: cfg.arch,
      base: cfg.base,
      cloudName: cfg.cloudName,
      numRevisions: cfg.revisionHistoryLimit,
      callbackScript: CALLBACK_SCRIPT_PATH,
      appName: this.model.appName,
    };
  }

  /** The checked config, or what is wrong with it. */
  private async config(): Promise<CharmConfig | InvalidConfig> {
    const { ConfigError, parseConfig } = await import('./config.js');
    try {
      return parseConfig(this.model.config());
    } catch (err) {
      if (err instanceof ConfigError) return new InvalidConfig(err.message);
      throw err;
    }
  }

  private blockedOn(err: InvalidConfig): void {
    this.log.warning(`invalid configuration: ${err.message}`);
    this.model.unit.setStatus(BlockedStatus(err.message));
  }

  /** Active status carrying the last outcome: the newest image, or the last failure. */
  private outcomeStatus(): void {
    const { image, lastFailure } = this.stored.data;
    const serving = image ? `image ${image.id} (${image.createdAt})` : undefined;
    if (lastFailure && (!image || lastFailure.at > image.createdAt)) {
      const msg = `Last build failed at ${lastFailure.at} (${lastFailure.reason}); see ${BUILD_LOG_PATH}`;
      this.model.unit.setStatus(ActiveStatus(serving ? `${msg}; serving ${serving}` : msg));
    } else {
      this.model.unit.setStatus(ActiveStatus(serving ? `Serving ${serving}` : 'Waiting for first image'));
    }
  }

  private async setup(cfg: CharmConfig): Promise<void> {
    this.model.unit.setStatus(MaintenanceStatus('Setting up the image builder'));
    const unit = this.unit;
    try {
      await setupBuilder(this.buildConfig(cfg), cfg.cloudsYaml, cfg.interval, unit);
    } catch (err) {
      if (err instanceof BuilderSetupError) {
        // Installs fail on networks and mirrors; Juju's retry of the hook is the remedy.
        this.model.unit.setStatus(BlockedStatus(`Setup failed, Juju will retry: ${err.message}`));
      }
      throw err;
    }
    this.stored.set({ installed: true, cronDigest: await digest(renderCron(this.buildConfig(cfg), cfg.interval, unit)) });
  }

  /**
   * Runs a step that changes the host. When it fails (disk full, read-only or immutable file,
   * a host program failing), the status says what failed and the error fails the hook: Juju
   * retries it, and every file is either as before or fully written.
   */
  private async applying<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof BuilderSetupError)) {
        this.model.unit.setStatus(BlockedStatus(`Could not apply the configuration, Juju will retry: ${(err as Error).message}`));
      }
      throw err;
    }
  }

  async onInstall(event: HookEvent): Promise<void> {
    const cfg = await this.config();
    if (cfg instanceof InvalidConfig) {
      this.blockedOn(cfg);
      event.defer(); // completes as soon as the config is fixed
      return;
    }
    await this.setup(cfg);
    const started = await this.applying(() => buildImmediate(this.buildConfig(cfg), this.unit));
    this.log.info(`${event.name}: builder set up; first build ${started}`);
    this.outcomeStatus();
  }

  async onConfigChanged(): Promise<void> {
    const cfg = await this.config();
    if (cfg instanceof InvalidConfig) return this.blockedOn(cfg);
    if (!this.stored.data.installed) {
      await this.setup(cfg);
      await this.applying(() => buildImmediate(this.buildConfig(cfg), this.unit));
      return this.outcomeStatus();
    }
    const unit = this.unit;
    const build = this.buildConfig(cfg);
    const cronDigest = await digest(renderCron(build, cfg.interval, unit));
    const { clouds, callback, cron } = await this.applying(async () => {
      const clouds = await installCloudsYaml(cfg.cloudsYaml, unit.host);
      const callback = installCallbackScript(unit);
      // Rewritten now, or by an earlier run of this hook that was killed before its build.
      const cron = (await configureCron(build, cfg.interval, unit)) || this.stored.data.cronDigest !== cronDigest;
      return { clouds, callback, cron };
    });
    if (cron) {
      const started = await this.applying(() => buildImmediate(build, unit));
      this.stored.set({ cronDigest });
      this.log.info(`schedule or build arguments changed: cron entry rewritten, build ${started}`);
    } else {
      this.log.info(clouds || callback ? `updated ${[clouds && 'clouds.yaml', callback && 'callback script'].filter(Boolean).join(' and ')}` : 'configuration unchanged; nothing to do');
    }
    this.republishIfStale();
    this.outcomeStatus();
  }

  /**
   * The stored image is committed by the framework as the hook ends, relation data by Juju after
   * it exited 0: a hook killed in between leaves the relations on the previous image. Juju runs
   * config-changed whenever the agent starts, so that is where it is repaired, once per image
   * published by build_success (a steady config-changed makes no relation calls).
   */
  private republishIfStale(): void {
    const image = this.stored.data.image;
    if (!image || !this.stored.data.publishUnconfirmed) return;
    this.stored.set({ publishUnconfirmed: undefined });
    for (const relation of this.model.relations(IMAGE_ENDPOINT)) {
      if (relation.localUnitData().id !== image.id) {
        this.log.warning(`relation ${relation.ref} was not on image ${image.id} (an interrupted hook?); publishing it again`);
        relation.updateLocalUnitData({ id: image.id, name: image.name, 'created-at': image.createdAt });
      }
    }
  }

  onStop(event: EventBase): void {
    const host = this.unit.host;
    const removed = [CRON_PATH, CALLBACK_SCRIPT_PATH].filter((p) => host.remove(p));
    this.log.info(`${event.name}: scheduled builds stopped${removed.length ? ` (removed ${removed.join(', ')})` : ''}`);
    this.model.unit.setStatus(MaintenanceStatus('Stopped: no scheduled builds'));
  }

  async onBuildImmediate(event: ActionEvent): Promise<void> {
    const cfg = await this.config();
    if (cfg instanceof InvalidConfig) return event.fail(`cannot build: ${cfg.message}`);
    if (!this.stored.data.installed) return event.fail('cannot build: the image builder is not set up yet (see `juju status` for why)');
    const status = await buildImmediate(this.buildConfig(cfg), this.unit);
    event.setResults({
      status,
      message: status === 'started' ? `build of ${imageName(this.buildConfig(cfg))} started; log: ${BUILD_LOG_PATH}` : 'a build is already running; not starting another',
    });
  }

  async onGetLatest(event: ActionEvent): Promise<void> {
    const cfg = await this.config();
    if (cfg instanceof InvalidConfig) return event.fail(`cannot query the cloud: ${cfg.message}`);
    const name = imageName(this.buildConfig(cfg));
    let image: ImageInfo | null;
    try {
      const { findLatestImage } = await import('./cloud.js');
      image = await findLatestImage(cfg.cloudsYaml, cfg.cloudName, name);
    } catch (err) {
      return event.fail(`could not get the latest image: ${(err as Error).message}${cloudHint(err)}`);
    }
    if (!image) return event.fail(`no active image named ${name} in cloud ${cfg.cloudName} yet; the first build takes a while (log: ${BUILD_LOG_PATH})`);
    event.setResults({ id: image.id, name: image.name, 'created-at': image.createdAt });
  }

  async onBuildSuccess(event: CustomEvent): Promise<void> {
    const id = event.data.OPENSTACK_IMAGE_ID ?? '';
    if (!IMAGE_ID.test(id)) return this.recordFailure('the builder reported a malformed image id');
    const cfg = await this.config();
    let image: ImageInfo = { id, name: cfg instanceof InvalidConfig ? '' : imageName(this.buildConfig(cfg)), createdAt: new Date().toISOString() };
    if (!(cfg instanceof InvalidConfig)) {
      try {
        const { findImage } = await import('./cloud.js');
        image = (await findImage(cfg.cloudsYaml, cfg.cloudName, id)) ?? image;
      } catch (err) {
        this.log.warning(`image ${id} built, but its details could not be read from the cloud (${(err as Error).message}); publishing the id`);
      }
    }
    this.stored.set({ image, publishUnconfirmed: true });
    this.publish(image);
    this.log.info(`new image ${id} published`);
    this.outcomeStatus();
  }

  onBuildFailed(event: CustomEvent): void {
    const { BUILD_EXIT_CODE: code, BUILD_FAILURE: failure } = event.data;
    this.recordFailure(failure === 'malformed-image-id' ? 'the builder reported a malformed image id' : `exit code ${code || 'unknown'}`);
  }

  private recordFailure(reason: string): void {
    this.stored.set({ lastFailure: { at: new Date().toISOString(), reason } });
    this.log.warning(`image build failed: ${reason}; see ${BUILD_LOG_PATH}`);
    this.outcomeStatus();
  }

  async onImageRelationJoined(event: RelationEvent): Promise<void> {
    let image = this.stored.data.image;
    if (!image) {
      const cfg = await this.config();
      if (cfg instanceof InvalidConfig) return this.blockedOn(cfg);
      try {
        const { findLatestImage } = await import('./cloud.js');
        image = (await findLatestImage(cfg.cloudsYaml, cfg.cloudName, imageName(this.buildConfig(cfg)))) ?? undefined;
      } catch (err) {
        this.log.warning(`${event.app} joined, but the cloud could not be asked for the latest image (${(err as Error).message}); it gets the next one built`);
      }
      if (!image) return;
      this.stored.set({ image });
    }
    this.publish(image);
  }

  /** Every image relation's unit databag gets the image. */
  private publish(image: ImageInfo): void {
    for (const relation of this.model.relations(IMAGE_ENDPOINT)) {
      relation.updateLocalUnitData({ id: image.id, name: image.name, 'created-at': image.createdAt });
    }
  }
}
