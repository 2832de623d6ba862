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
  BuilderSetupError,
  buildImmediate,
  imageName,
  isBuilderInstalled,
  removeBuilder,
  runningBuild,
  setupBuilder,
  skippedRuns,
  writeBuildFiles,
  type BuildConfig,
  type UnitContext,
} from './builder.js';
import { BUILD_LOG_PATH, BUILD_TIMEOUT_EXIT, BUILD_TIMEOUT_SECONDS, CALLBACK_SCRIPT_PATH, SKIPPED_RUNS_WARNING } from './paths.js';
import { clientProxy, proxyProblems } from './proxy.js';
// config.js and cloud.js (YAML, the clouds.yaml validator, the OpenStack client) load only in
// the handlers that read the config: every hook is a fresh process and they cost ~10 ms.
import type { CloudAccess, ImageInfo } from './cloud.js';
import type { CharmConfig } from './config.js';
import { Host } from './host.js';

export const IMAGE_ENDPOINT = 'image';
const IMAGE_ID = /^[A-Za-z0-9-]{1,64}$/;

type Stored = {
  /** The newest image this unit knows of; relations joined later get it even if the cloud is down. */
  image?: ImageInfo;
  lastFailure?: { at: string; reason: string };
  /** What is unsafe about the configured cloud, kept in the status until the config changes. */
  cloudWarnings?: string[];
  /**
   * sha256 of the cron entry and build script this unit last scheduled, committed only when the
   * hook succeeds. A hook killed after writing them but before starting the build it owes
   * leaves the old digest, so the retried hook still starts that build.
   */
  scheduleDigest?: string;
  /**
   * Set when build_success (which comes through juju-exec, never retried) published an image:
   * a kill between the state commit and Juju's commit of relation data would leave the
   * relations on the previous image, so the next config-changed checks them once.
   */
  publishUnconfirmed?: boolean;
};

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
    this.stored = framework.storedState<Stored>('image-builder', {});
    framework.observe('install', this.onInstall.bind(this));
    framework.observe('upgrade_charm', this.onInstall.bind(this));
    framework.observe('config_changed', this.onConfigChanged.bind(this));
    framework.observe('update_status', this.onUpdateStatus.bind(this));
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
    return {
      host: new Host(ctx.env),
      unitName: ctx.unitName,
      charmDir: ctx.charmDir,
      modelUuid: ctx.env.JUJU_MODEL_UUID ?? '',
      warn: (m) => this.log.warning(m),
    };
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

  /** The checked config (the charm's options and the model's proxy settings), or what is wrong. */
  private async config(): Promise<CharmConfig | InvalidConfig> {
    const { ConfigError, parseConfig } = await import('./config.js');
    const proxy = proxyProblems(this.model.context.env);
    try {
      const cfg = parseConfig(this.model.config());
      return proxy.length ? new InvalidConfig(proxy.join('; ')) : cfg;
    } catch (err) {
      if (err instanceof ConfigError) return new InvalidConfig([...err.problems, ...proxy].join('; '));
      throw err;
    }
  }

  private cloudAccess(cfg: CharmConfig): CloudAccess {
    return { cloudsYaml: cfg.cloudsYaml, cloudName: cfg.cloudName, proxy: clientProxy(this.model.context.env) };
  }

  private blockedOn(err: InvalidConfig): void {
    this.log.warning(`invalid configuration: ${err.message}`);
    this.model.unit.setStatus(BlockedStatus(err.message));
  }

  /**
   * Active status carrying the last outcome (the newest image, or the last failure) and what
   * the build bookkeeping says is wrong (a build past its timeout, scheduled runs skipped).
   */
  private outcomeStatus(): void {
    const { image, lastFailure } = this.stored.data;
    const serving = image ? `image ${image.id} (${image.createdAt})` : undefined;
    let msg: string;
    if (lastFailure && (!image || lastFailure.at > image.createdAt)) {
      msg = `Last build failed at ${lastFailure.at} (${lastFailure.reason}); see ${BUILD_LOG_PATH}`;
      if (serving) msg += `; serving ${serving}`;
    } else {
      msg = serving ? `Serving ${serving}` : 'Waiting for first image';
    }
    const warnings = (this.stored.data.cloudWarnings ?? []).map((w) => `warning: ${w}`);
    this.model.unit.setStatus(ActiveStatus([msg, ...this.buildProblems(), ...warnings].join('; ')));
  }

  /** A build holding the lock past its timeout, or scheduled runs that found the lock taken. */
  private buildProblems(): string[] {
    const host = this.unit.host;
    const problems: string[] = [];
    const running = runningBuild(host);
    // timeout kills a build after BUILD_TIMEOUT_SECONDS (+60 s); one still there is wedged.
    if (running && Date.now() - running.startedAt.getTime() > (BUILD_TIMEOUT_SECONDS + 300) * 1000) {
      problems.push(`a build has held the build lock since ${running.startedAt.toISOString()}, past the ${BUILD_TIMEOUT_SECONDS / 3600} h build timeout: check its processes (ps -s ${running.session}) and end them (kill -- -${running.session})`);
    }
    const skipped = skippedRuns(host);
    if (skipped >= SKIPPED_RUNS_WARNING) {
      problems.push(`the last ${skipped} scheduled builds were skipped because the build lock was taken${running ? ` (by the build started ${running.startedAt.toISOString()})` : ''}; see ${BUILD_LOG_PATH}`);
    }
    return problems;
  }

  /**
   * Brings the host to the config: setup (skipped when the pinned builder is already installed),
   * the build files, and the build a new schedule or new build arguments owe.
   */
  private async reconcile(cfg: CharmConfig, why: string): Promise<void> {
    const unit = this.unit;
    for (const w of cfg.cloudWarnings) this.log.warning(w);
    this.stored.set({ cloudWarnings: cfg.cloudWarnings.length ? [...cfg.cloudWarnings] : undefined });
    if (!isBuilderInstalled(unit.host)) {
      this.model.unit.setStatus(MaintenanceStatus('Setting up the image builder'));
      try {
        await setupBuilder(unit);
      } catch (err) {
        // Installs fail on networks and mirrors; Juju's retry of the hook is the remedy.
        if (err instanceof BuilderSetupError) this.model.unit.setStatus(BlockedStatus(`Setup failed, Juju will retry: ${err.message}`));
        throw err;
      }
    } else if (why !== 'config_changed') {
      await this.applying(() => setupBuilder(unit)); // upgrade-charm: the old layout's leftovers
    }
    const change = await this.applying(() => writeBuildFiles({ build: this.buildConfig(cfg), interval: cfg.interval, cloudsYaml: cfg.cloudsYaml }, unit));
    if (this.stored.data.scheduleDigest !== change.scheduleDigest) {
      // Rewritten now, or by an earlier run of this hook that was killed before its build.
      const started = await this.applying(() => buildImmediate(unit));
      this.stored.set({ scheduleDigest: change.scheduleDigest });
      this.log.info(`${why}: schedule or build arguments changed (${change.written.join(', ') || 'written by an interrupted hook'}); build ${started}`);
    } else {
      this.log.info(change.written.length ? `${why}: updated ${change.written.join(', ')}` : `${why}: configuration unchanged; nothing to do`);
    }
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
      const message = err instanceof BuilderSetupError ? `Setup failed, Juju will retry: ${err.message}` : `Could not apply the configuration, Juju will retry: ${(err as Error).message}`;
      this.model.unit.setStatus(BlockedStatus(message));
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
    await this.reconcile(cfg, event.name);
    this.outcomeStatus();
  }

  async onConfigChanged(event: HookEvent): Promise<void> {
    const cfg = await this.config();
    if (cfg instanceof InvalidConfig) return this.blockedOn(cfg);
    await this.reconcile(cfg, event.name);
    this.republishIfStale();
    this.outcomeStatus();
  }

  /** Keeps the build problems in the status current (they come from files the build writes). */
  onUpdateStatus(): void {
    if (this.model.unit.lastStatus?.status !== 'active') return; // blocked or setting up: that status stands
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

  async onStop(event: EventBase): Promise<void> {
    const { removed, stopped } = await removeBuilder(this.unit);
    const ended = stopped ? `; ended the running build (session ${stopped.session}, started ${stopped.startedAt.toISOString()})` : '';
    this.log.info(`${event.name}: scheduled builds stopped${removed.length ? `; removed ${removed.join(', ')}` : ''}${ended}`);
    this.model.unit.setStatus(MaintenanceStatus('Stopped: no scheduled builds'));
  }

  async onBuildImmediate(event: ActionEvent): Promise<void> {
    const cfg = await this.config();
    if (cfg instanceof InvalidConfig) return event.fail(`cannot build: ${cfg.message}`);
    if (!isBuilderInstalled(this.unit.host)) return event.fail('cannot build: the image builder is not set up yet (see `juju status` for why)');
    const status = await buildImmediate(this.unit);
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
      image = await findLatestImage(this.cloudAccess(cfg), name);
    } catch (err) {
      return event.fail(`could not get the latest image: ${(err as Error).message}${cloudHint(err)}`);
    }
    if (!image) return event.fail(`no active image named ${name} in cloud ${cfg.cloudName} yet; the first build takes a while (log: ${BUILD_LOG_PATH})`);
    event.setResults({ id: image.id, name: image.name, 'created-at': image.createdAt });
  }

  /**
   * Publishes the image the builder reported, once the cloud confirms it is active under this
   * unit's image name; an id the cloud does not have (or not as that image) is a failed build.
   * When the cloud cannot be asked, the id is published with a warning.
   */
  async onBuildSuccess(event: CustomEvent): Promise<void> {
    const id = event.data.OPENSTACK_IMAGE_ID ?? '';
    if (!IMAGE_ID.test(id)) return this.recordFailure('the builder reported a malformed image id');
    const cfg = await this.config();
    const name = cfg instanceof InvalidConfig ? '' : imageName(this.buildConfig(cfg));
    let image: ImageInfo = { id, name, createdAt: new Date().toISOString() };
    if (!(cfg instanceof InvalidConfig)) {
      let found;
      try {
        const { findImage } = await import('./cloud.js');
        found = await findImage(this.cloudAccess(cfg), id);
      } catch (err) {
        this.log.warning(`image ${id} built, but its details could not be read from the cloud (${(err as Error).message}); publishing the id`);
      }
      if (found === null) return this.recordFailure(`the builder reported image ${id}, but cloud ${cfg.cloudName} has no such image`);
      if (found && (found.status !== 'active' || found.name !== name)) {
        return this.recordFailure(`the builder reported image ${id}, but cloud ${cfg.cloudName} has it as ${JSON.stringify(found.name.slice(0, 80))} in status ${found.status}, not an active ${name}`);
      }
      if (found) image = { id: found.id, name: found.name, createdAt: found.createdAt };
    }
    this.stored.set({ image, publishUnconfirmed: true });
    this.publish(image);
    this.log.info(`new image ${id} published`);
    this.outcomeStatus();
  }

  onBuildFailed(event: CustomEvent): void {
    const { BUILD_EXIT_CODE: code, BUILD_FAILURE: failure } = event.data;
    let reason = `exit code ${code || 'unknown'}`;
    if (failure === 'malformed-image-id') reason = 'the builder reported a malformed image id';
    else if (code === String(BUILD_TIMEOUT_EXIT)) reason = `timed out after ${BUILD_TIMEOUT_SECONDS / 3600} h, exit code ${code}`;
    this.recordFailure(reason);
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
        image = (await findLatestImage(this.cloudAccess(cfg), imageName(this.buildConfig(cfg)))) ?? undefined;
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
