// The github-runner-image-builder charm: reconciles its config into host state (packages, the
// builder application, clouds.yaml, the scripts and the cron entry), starts builds, and
// publishes the newest image over the `image` relation. Its host and cloud are given to it
// (the real ones by default), so the in-memory harness drives this very class.
import {
  BlockedStatus,
  CharmBase,
  ConfigInvalid,
  MaintenanceStatus,
  SecretNotFoundError,
  SecretPermissionError,
  type ActionEvent,
  type CollectStatusEvent,
  type CustomEvent,
  type Databag,
  type EventBase,
  type Framework,
  type HookEvent,
  type Relation,
  type RelationEvent,
  type StoredState,
} from '../ops/index.js';
import type { CharmConfigOptions, CharmEventName } from './generated/charm-types.js';
import { IMAGE_ID, buildConfigOf, imageName, imageNames, isBaseImage, type Arch, type BaseImage, type BuildConfig } from './build-config.js';
import { imageRelationData, mergeNewest, parseImages, sameImages, type ImagesByBase } from './images.js';
import {
  BuilderSetupError,
  GetLatestImageError,
  buildImmediate,
  buildPhase,
  getLatestImage,
  isBuilderInstalled,
  removeBuilder,
  runningBuild,
  skippedRuns,
  type UnitContext,
} from './builder.js';
import { openstackCloud, type CloudAccess, type CloudPort, type ImageInfo } from './cloud-port.js';
// config.js (YAML, the clouds.yaml validator) and reconcile.js (the renderers, node:crypto)
// load only in the handlers that need them: every hook is a fresh process.
import type { CharmConfig } from './config.js';
import { Host, type Env } from './host.js';
import { BUILD_LOG_PATH, BUILD_TIMEOUT_EXIT, BUILD_TIMEOUT_SECONDS, CLOUDS_YAML_PATH, METRICS_DIR } from './paths.js';
import { readScriptSecret, SCRIPT_SECRET_OPTION } from './script-secrets.js';
// credentials.js brings the YAML library: loaded only where the config is read or written.
import type { Credentials } from './credentials.js';
import { clientProxy, proxyEnv, proxyProblems } from './proxy.js';
// steady.js (node:crypto) loads only in config-changed and the reconcile.
import type { AppliedInputs, AppliedRecord } from './steady.js';
import { unitStatus } from './status.js';

export const IMAGE_ENDPOINT = 'image';
/** Units share the newest images, the leader's name and build requests here. */
export const PEER_ENDPOINT = 'builder-peers';
/** A COS collector (grafana-agent, opentelemetry-collector) on the machine. */
export const COS_AGENT_ENDPOINT = 'cos-agent';
/** Peer data keys: the app bag (written by the leader) and each unit's bag. */
const PEER = { images: 'images', leader: 'leader', served: 'served-requests', built: 'built-images', request: 'build-request' } as const;
/** Forwarded build requests remembered as served (the newest ones). */
const SERVED_KEPT = 50;

type Stored = {
  /** Why the config is invalid; the status is blocked on it until a valid config arrives. */
  configProblem?: string;
  /**
   * The credentials secret could not be read (not granted, missing, empty). Juju fires no hook
   * when access is granted, so update-status retries while this is set.
   */
  secretProblem?: boolean;
  /** The newest image of each base this unit knows of; relations joined later get them even if the cloud is down. */
  images?: ImagesByBase;
  /** Before several bases: the one newest image (read once, as the first base's). */
  image?: ImageInfo;
  /** What relation data is made of, from the last valid config: the bases in order, the arch. */
  publishAs?: { bases: BaseImage[]; arch: Arch };
  /** From the last valid config, for the metrics and the cos-agent scrape job. */
  intervalHours?: number;
  metricsPort?: number;
  /** When this unit's schedule was first set up (unix s): "never built since" counts from it. */
  scheduleStart?: number;
  /** sha256 of the cos-agent `config` last published. */
  cosAgentDigest?: string;
  /** The leader's unit name, as it published it in the peer data (no hook tool tells a non-leader). */
  leaderName?: string;
  lastFailure?: { at: string; reason: string };
  /** What is unsafe about the configured cloud, kept in the status until the config changes. */
  cloudWarnings?: string[];
  /**
   * The schedule digest (cron entry + build script) of the last build started for a schedule,
   * committed only when the hook succeeds: a hook killed after writing new files but before the
   * build it owes leaves the old digest, so the retried hook still starts that build.
   */
  scheduleDigest?: string;
  /**
   * Set when build_success (which comes through juju-exec, never retried) published an image:
   * a kill between the state commit and Juju's commit of relation data would leave the
   * relations on the previous image, so the next config-changed checks them once.
   */
  publishUnconfirmed?: boolean;
  /** stop or remove ran: no more scheduled builds. */
  stopped?: boolean;
  /** What the last full reconcile applied, so a config-changed with nothing to do can skip it (steady.ts). */
  applied?: AppliedRecord;
};

/** What the charm works on; tests give their own. */
export interface CharmDeps {
  /** The machine: files under CHARM_HOST_ROOT and host programs, for this hook's environment. */
  readonly host: (env: Env) => Host;
  readonly cloud: CloudPort;
}

export const REAL_DEPS: CharmDeps = { host: (env) => new Host(env), cloud: openstackCloud };

const CUSTOM_EVENTS = {
  build_success: { env: ['OPENSTACK_IMAGE_ID', 'IMAGE_BASE'] },
  build_failed: { env: ['BUILD_EXIT_CODE', 'BUILD_FAILURE', 'IMAGE_BASE'] },
} as const;
type Events = CharmEventName<keyof typeof CUSTOM_EVENTS>;

export class ImageBuilderCharm extends CharmBase<Events, CharmConfigOptions> {
  static readonly customEvents = CUSTOM_EVENTS;
  private readonly stored: StoredState<Stored>;
  private hostCache: Host | undefined;
  /** The secrets read with --refresh in this dispatch (once each). */
  private readonly secretsRefreshed = new Set<string>();

  constructor(
    framework: Framework<Events, CharmConfigOptions>,
    private readonly deps: CharmDeps = REAL_DEPS,
  ) {
    super(framework);
    this.stored = framework.storedState<Stored>('image-builder', {});
    framework.observe('install', this, this.onInstall);
    framework.observe('upgrade_charm', this, this.onUpgradeCharm);
    framework.observe('config_changed', this, this.onConfigChanged);
    framework.observe('stop', this, this.onStop);
    framework.observe('remove', this, this.onStop);
    framework.observe('build_immediate_action', this, this.onBuildImmediate);
    framework.observe('build_now_action', this, this.onBuildImmediate);
    framework.observe('get_latest_action', this, this.onGetLatest);
    framework.observe('build_success', this, this.onBuildSuccess);
    framework.observe('build_failed', this, this.onBuildFailed);
    framework.observe('image_relation_joined', this, this.onImageRelationJoined);
    framework.observe('secret_changed', this, this.onSecretChanged);
    framework.observe('leader_elected', this, this.onLeaderElected);
    framework.observe('cos_agent_relation_joined', this, this.onCosAgent);
    framework.observe('cos_agent_relation_changed', this, this.onCosAgent);
    framework.observe('builder_peers_relation_joined', this, this.onPeersChanged);
    framework.observe('builder_peers_relation_changed', this, this.onPeersChanged);
    framework.observe('builder_peers_relation_departed', this, this.onPeersChanged);
    framework.observe('update_status', this, this.onUpdateStatus);
    framework.observe('collect_unit_status', this, this.onCollectStatus);
  }

  private get host(): Host {
    return (this.hostCache ??= this.deps.host(this.model.context.env));
  }

  private get unit(): UnitContext {
    return { host: this.host, warn: (m) => this.log.warning(m) };
  }

  private buildConfig(cfg: CharmConfig): BuildConfig {
    return buildConfigOf(cfg, this.model.appName, this.model.context.env);
  }

  private cloudAccess(cfg: CharmConfig): CloudAccess {
    return { cloudsYaml: cfg.cloudsYaml, cloudName: cfg.cloudName, proxy: clientProxy(this.model.context.env) };
  }

  /**
   * The checked config (the charm's options, the credentials secret and the model's proxy
   * settings), or undefined when it is invalid: the framework then blocks on the problem, and
   * the unit remembers it so the status stays blocked in later hooks that do not read the config.
   */
  private checkedConfig(): Promise<CharmConfig | undefined> {
    return this.loadConfig(async (raw) => {
      const { ConfigError, parseConfig } = await import('./config.js');
      const { withCredentials } = await import('./credentials.js');
      const secret = await this.secretCredentials(raw['openstack-credentials-secret']);
      // issue 19: the script secret, read as the credentials secret is (script-secrets.ts).
      const script = readScriptSecret(raw[SCRIPT_SECRET_OPTION], this.model.appName, (uri) => this.latestSecret(uri));
      let cfg: CharmConfig | undefined;
      let configProblems: string[] = [];
      try {
        const cloudsYaml = raw['openstack-clouds-yaml'] ?? '';
        const merged = 'credentials' in secret ? withCredentials(cloudsYaml, (raw['cloud-name'] ?? '').trim(), secret.credentials) : cloudsYaml;
        cfg = { ...parseConfig({ ...raw, 'openstack-clouds-yaml': merged }), ...('env' in script ? { scriptSecretEnv: script.env } : {}) };
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        // A credential the unreadable secret would have given is not a second problem.
        const missingCredential = /: auth\.(password|application_credential_secret) is required/;
        configProblems = err.problems.filter((p) => !('problem' in secret && missingCredential.test(p)));
      }
      // The secret first (granting it is often all that is missing), then the options, then the model's proxies.
      const secretProblems = [secret, script].flatMap((s) => ('problem' in s ? [s.problem] : []));
      const problems = [...secretProblems, ...configProblems, ...proxyProblems(this.model.context.env)];
      this.stored.set({ configProblem: problems.length ? problems.join('; ') : undefined, secretProblem: secretProblems.length ? true : undefined });
      if (problems.length || !cfg) throw new ConfigInvalid(problems.join('; '));
      return cfg;
    });
  }

  /**
   * The credentials in the secret the option names (the latest revision, which the unit then
   * tracks), nothing when the option is empty, or what is wrong: each problem names the option,
   * the secret and the Juju command that fixes it. The content itself is never shown.
   */
  private async secretCredentials(uri: string | undefined): Promise<{ credentials: Credentials } | { problem: string } | { none: true }> {
    if (!uri) return { none: true };
    const { credentialsFrom, SECRET_KEYS } = await import('./credentials.js');
    const app = this.model.appName;
    const option = 'openstack-credentials-secret';
    let content: Record<string, string>;
    try {
      content = this.latestSecret(uri);
    } catch (err) {
      if (err instanceof SecretPermissionError) return { problem: `${option}: this application may not read secret ${uri}; grant it: juju grant-secret ${uri} ${app}` };
      if (err instanceof SecretNotFoundError) {
        return { problem: `${option}: secret ${uri} does not exist; create one (juju add-secret openstack-credentials ${SECRET_KEYS.password}=...), grant it (juju grant-secret openstack-credentials ${app}) and set its URI (juju config ${app} ${option}=<uri>)` };
      }
      throw err;
    }
    const credentials = credentialsFrom(content);
    if (!credentials) return { problem: `${option}: secret ${uri} has neither "${SECRET_KEYS.password}" nor "${SECRET_KEYS.applicationCredentialSecret}"; add one: juju update-secret ${uri} ${SECRET_KEYS.password}=...` };
    return { credentials };
  }

  /** The status, from what the unit knows, once at the end of every dispatch. */
  onCollectStatus(event: CollectStatusEvent): void {
    const { configProblem, stopped, lastFailure, cloudWarnings, leaderName } = this.stored.data;
    const host = this.host;
    const leader = this.model.unit.isLeader();
    const standingBy = leader ? undefined : { leader: leaderName };
    this.shareMetricsState(leader);
    event.addStatus(
      unitStatus({ configProblem, stopped, image: this.servedImage(), standingBy, lastFailure, cloudWarnings: cloudWarnings ?? [], running: runningBuild(host), phase: buildPhase(host), skippedRuns: skippedRuns(host), now: new Date() }),
    );
  }

  /** The collector learns what to scrape and which rules and dashboards to load. */
  async onCosAgent(): Promise<void> {
    await this.publishCosAgent(true);
  }

  /**
   * Every unit's cos-agent databag gets `config` (scrape job, alert rules, dashboards): on the
   * relation's hooks, and from config-changed or upgrade-charm when the port or the charm's
   * assets changed (a steady config-changed makes no relation calls).
   */
  private async publishCosAgent(always: boolean): Promise<void> {
    const port = this.stored.data.metricsPort;
    if (!port) return;
    const { cosAgentConfig } = await import('./cos.js'); // the rules and dashboards: only here
    const config = cosAgentConfig({ metricsPort: port, env: this.model.context.env });
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(config).digest('hex');
    if (!always && digest === this.stored.data.cosAgentDigest) return;
    for (const relation of this.model.relations(COS_AGENT_ENDPOINT)) relation.updateLocalUnitData({ config });
    this.stored.set({ cosAgentDigest: digest });
  }

  /**
   * What the exporter reports that only the charm knows (leadership, schedule, served images),
   * in a file it reads on every scrape; written only when it changes (no write in a steady hook).
   */
  private shareMetricsState(leader: boolean): void {
    const { publishAs, intervalHours, scheduleStart, stopped } = this.stored.data;
    if (!publishAs || stopped || !this.host.exists(METRICS_DIR)) return;
    const images = this.knownImages();
    const state = {
      arch: publishAs.arch,
      bases: publishAs.bases,
      leader,
      interval_hours: intervalHours ?? 0,
      schedule_start: scheduleStart ?? 0,
      images: Object.fromEntries(Object.entries(images).map(([base, i]) => [base, { id: i.id, created_at: i.createdAt }])),
    };
    try {
      this.host.writeIfChanged(`${METRICS_DIR}/unit.json`, `${JSON.stringify(state)}\n`, { mode: 0o644, uid: 0, gid: 0 });
    } catch (err) {
      this.log.warning(`the exporter's state was not updated (${(err as Error).message}); metrics may lag until the next hook`);
    }
  }

  /**
   * Brings the host to the config through the one plan: setup when the pinned builder is not
   * installed, the old layout removed, every file as the config says, the build a new schedule
   * or new build arguments owe.
   */
  private async reconcile(event: HookEvent): Promise<void> {
    const cfg = await this.checkedConfig();
    if (!cfg) {
      if (event.name === 'install') event.defer(); // completes as soon as the config is fixed
      return;
    }
    const { applyPlan, planReconcile, readHostFacts } = await import('./reconcile.js');
    const unit = this.unit;
    const ctx = this.model.context;
    const plan = planReconcile({
      config: cfg,
      build: this.buildConfig(cfg),
      render: {
        unitName: ctx.unitName,
        charmDir: ctx.charmDir,
        modelUuid: ctx.env.JUJU_MODEL_UUID ?? '',
        jujuExec: this.host.which('juju-exec') ?? '/usr/bin/juju-exec',
        path: (p) => this.host.path(p),
        proxyEnv: proxyEnv(ctx.env),
        node: process.execPath,
      },
      facts: readHostFacts(unit),
      lastScheduleDigest: this.stored.data.scheduleDigest,
      leader: this.model.unit.isLeader(),
      upgrading: event.name === 'upgrade_charm',
    });
    for (const w of cfg.cloudWarnings) this.log.warning(w);
    if (plan.setup) {
      this.model.unit.setStatus(MaintenanceStatus('Setting up the image builder'));
      this.framework.flushLogs(); // apt, pipx and init can take many minutes
    }
    let outcome;
    try {
      outcome = await applyPlan(plan, unit);
    } catch (err) {
      // Installs fail on networks and mirrors, writes on full or read-only disks: Juju's retry
      // of the hook is the remedy. The status says what failed; the error fails the hook.
      const why = err instanceof BuilderSetupError ? 'Setup failed, Juju will retry' : 'Could not apply the configuration, Juju will retry';
      this.model.unit.setStatus(BlockedStatus(`${why}: ${(err as Error).message}`));
      throw err;
    }
    // Said when the clouds.yaml is written (not on every steady config-changed: a juju-log call each).
    const raw = this.model.config();
    if (outcome.written.includes(CLOUDS_YAML_PATH) && !raw['openstack-credentials-secret'] && (await import('./credentials.js')).hasPlainCredentials(raw['openstack-clouds-yaml'] ?? '', (raw['cloud-name'] ?? '').trim())) {
      const app = this.model.appName;
      this.log.warning(
        `openstack-clouds-yaml holds the cloud's password in plain config, which anyone who can read the model sees; move it to a secret: juju add-secret openstack-credentials password=...; juju grant-secret openstack-credentials ${app}; juju config ${app} openstack-credentials-secret=<uri>; then remove it from openstack-clouds-yaml`,
      );
    }
    const publishAs = { bases: [...cfg.bases], arch: cfg.arch };
    const reshaped = JSON.stringify(publishAs) !== JSON.stringify(this.stored.data.publishAs);
    this.stored.set({ publishAs, intervalHours: cfg.interval, metricsPort: cfg.metricsPort, scheduleStart: this.stored.data.scheduleStart ?? Math.floor(Date.now() / 1000) });
    if (reshaped) this.publish(); // other bases (or their order): id, tags and images change
    this.stored.set({ scheduleDigest: plan.scheduleDigest, cloudWarnings: cfg.cloudWarnings.length ? [...cfg.cloudWarnings] : undefined, stopped: undefined });
    const written = outcome.written.length ? `wrote ${outcome.written.join(', ')}` : 'configuration unchanged';
    this.log.info(`${event.name}: ${written}${outcome.build ? `; build ${outcome.build} (the schedule or build arguments changed)` : ''}`);
    if (event.name === 'config_changed') this.republishIfStale();
    if (event.name === 'config_changed' || event.name === 'upgrade_charm') await this.publishCosAgent(false);
    const { appliedRecord } = await import('./steady.js');
    this.stored.set({ applied: appliedRecord(this.host, this.appliedInputs()) });
  }

  /**
   * The credentials secret's latest revision, which the unit then tracks: one secret-get with
   * --refresh per dispatch, the content the model cached for it afterwards.
   */
  private latestSecret(uri: string): Record<string, string> {
    const content = this.model.getSecret({ id: uri }).getContent({ refresh: !this.secretsRefreshed.has(uri) });
    this.secretsRefreshed.add(uri);
    return content;
  }

  /**
   * What a reconcile's outcome depends on, apart from the host (steady.ts): with a credentials
   * secret, its latest content too (an unreadable secret throws: the caller reconciles, which
   * reports it).
   */
  private appliedInputs(): AppliedInputs {
    const ctx = this.model.context;
    const config = this.model.config();
    const uri = config['openstack-credentials-secret'];
    const secret = uri ? this.latestSecret(uri) : undefined;
    const scriptUri = config[SCRIPT_SECRET_OPTION];
    const scriptSecret = scriptUri ? this.latestSecret(scriptUri) : undefined;
    return { config, secret, scriptSecret, proxy: proxyEnv(ctx.env), leader: this.model.unit.isLeader(), charmDir: ctx.charmDir, node: process.execPath, path: ctx.env.PATH ?? '' };
  }

  /** appliedInputs(), or undefined when the secret cannot be read. */
  private currentInputs(): AppliedInputs | undefined {
    try {
      return this.appliedInputs();
    } catch (err) {
      if (err instanceof SecretNotFoundError || err instanceof SecretPermissionError) return undefined;
      throw err;
    }
  }

  onInstall(event: HookEvent): Promise<void> {
    return this.reconcile(event);
  }

  onUpgradeCharm(event: HookEvent): Promise<void> {
    return this.reconcile(event);
  }

  /**
   * Reconciles, unless nothing changed since the last reconcile: the same options, proxies and
   * leadership, and the managed files as it left them (Juju also fires config-changed after
   * install and on every agent restart). A unit blocked on its config always re-checks it, and a
   * credentials secret is read again (Juju fires no hook when access to it is revoked).
   */
  async onConfigChanged(event: HookEvent): Promise<void> {
    const { configProblem, secretProblem, stopped, applied } = this.stored.data;
    const inputs = configProblem || secretProblem || stopped ? undefined : this.currentInputs();
    if (inputs && (await import('./steady.js')).isSteady(this.host, inputs, applied)) {
      this.republishIfStale();
      return;
    }
    await this.reconcile(event);
  }

  /** A new revision of the credentials secret: clouds.yaml follows (no rebuild: it is not a build argument). */
  onSecretChanged(event: HookEvent): Promise<void> {
    return this.reconcile(event);
  }

  /**
   * Retries the config while the credentials secret could not be read: granting access fires
   * no hook. Otherwise nothing (the status is collected at the end of every dispatch).
   */
  async onUpdateStatus(event: HookEvent): Promise<void> {
    if (this.stored.data.secretProblem) await this.reconcile(event);
  }

  /** The newest image per base this unit knows (stored state from before several bases included). */
  private knownImages(): ImagesByBase {
    const { images, image } = this.stored.data;
    if (images) return images;
    const base = image?.name.split('-')[0];
    return image && isBaseImage(base) ? { [base]: image } : {};
  }

  /** The image `id` publishes: the first configured base's that exists. */
  private servedImage(): ImageInfo | undefined {
    const images = this.knownImages();
    const base = (this.stored.data.publishAs?.bases ?? []).find((b) => images[b]);
    return base ? images[base] : undefined;
  }

  /**
   * The stored images are committed by the framework as the hook ends, relation data by Juju
   * after it exited 0: a hook killed in between leaves the relations on the previous image. Juju
   * runs config-changed whenever the agent starts, so that is where it is repaired, once per
   * image published by build_success (a steady config-changed makes no relation calls).
   */
  private republishIfStale(): void {
    if (!this.stored.data.publishUnconfirmed) return;
    this.stored.set({ publishUnconfirmed: undefined });
    const want = this.relationData();
    for (const relation of this.model.relations(IMAGE_ENDPOINT)) {
      if (want.id && relation.localUnitData().id !== want.id) {
        this.log.warning(`relation ${relation.ref} was not on image ${want.id} (an interrupted hook?); publishing it again`);
        relation.updateLocalUnitData(want);
      }
    }
  }

  private relationData(): Record<string, string> {
    const as = this.stored.data.publishAs;
    return as ? imageRelationData(this.knownImages(), as.bases, as.arch) : {};
  }

  /** Every image relation's unit databag gets `id`, `tags`, `images`, `name` and `created-at`. */
  private publish(): void {
    const data = this.relationData();
    if (!data.id) return;
    for (const relation of this.model.relations(IMAGE_ENDPOINT)) relation.updateLocalUnitData(data);
  }

  /** The peer relation (one per application), or undefined while there is none. */
  private peers() {
    return this.model.relations(PEER_ENDPOINT)[0];
  }

  /**
   * Takes in newer images: stores them, publishes them on the image relations, and shares them:
   * the leader in the peer app data (every unit reads it), another unit in its own peer data
   * (an image it built before it lost leadership reaches the leader that way).
   */
  private learnImages(images: ImagesByBase, why: string): void {
    const known = this.knownImages();
    const merged = mergeNewest(known, images);
    if (sameImages(known, merged) && this.stored.data.images) return;
    this.stored.set({ images: merged, image: undefined });
    this.publish();
    const peers = this.peers();
    if (peers) {
      if (this.model.unit.isLeader()) peers.updateLocalAppData({ [PEER.images]: JSON.stringify(merged), [PEER.leader]: this.model.context.unitName });
      else peers.updateLocalUnitData({ [PEER.built]: JSON.stringify(merged) });
    }
    this.log.info(`${why}: now serving ${JSON.stringify(Object.fromEntries(Object.entries(merged).map(([b, i]) => [b, i.id])))}`);
  }

  /**
   * Peer data changed (or a unit joined or left): take the leader's images and name; the leader
   * also takes what other units built and serves their forwarded build requests.
   */
  async onPeersChanged(): Promise<void> {
    const peers = this.peers();
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
    this.learnImages(images, 'peer data');
  }

  /** This unit leads now: it says so in the peer data, takes over what the last leader knew and serves waiting requests. */
  async onLeaderElected(): Promise<void> {
    this.stored.set({ leaderName: this.model.context.unitName });
    const peers = this.peers();
    if (!peers) return;
    peers.updateLocalAppData({ [PEER.leader]: this.model.context.unitName });
    await this.onPeersChanged();
  }

  /** The leader starts each build request a non-leader forwarded, once (the served ids live in the peer app data). */
  private async serveForwardedBuilds(peers: Relation, app: Readonly<Databag>, bags: ReadonlyMap<string, Readonly<Databag>>): Promise<void> {
    if (!isBuilderInstalled(this.host)) return;
    let served: string[] = [];
    try {
      const parsed: unknown = JSON.parse(app[PEER.served] ?? '[]');
      if (Array.isArray(parsed)) served = parsed.filter((x): x is string => typeof x === 'string');
    } catch {
      // junk: start over
    }
    const waiting = [...bags].map(([u, bag]) => [u, bag[PEER.request]] as const).filter((e): e is readonly [string, string] => !!e[1] && !served.includes(e[1]));
    if (waiting.length === 0) return;
    const status = await buildImmediate(this.unit);
    for (const [unit, request] of waiting) this.log.info(`build request ${request} from ${unit}: build ${status}`);
    served = [...served, ...waiting.map((w) => w[1])].slice(-SERVED_KEPT);
    peers.updateLocalAppData({ [PEER.served]: JSON.stringify(served) });
  }

  async onStop(event: EventBase): Promise<void> {
    const { removed, stopped } = await removeBuilder(this.unit);
    const ended = stopped ? `; ended the running build (session ${stopped.session}, started ${stopped.startedAt.toISOString()})` : '';
    this.log.info(`${event.name}: scheduled builds stopped${removed.length ? `; removed ${removed.join(', ')}` : ''}${ended}`);
    this.stored.set({ stopped: true });
  }

  /**
   * The leader builds now; another unit hands the request to the leader through the peer data
   * (the leader starts it once, on its next peer hook) and says so.
   */
  async onBuildImmediate(event: ActionEvent): Promise<void> {
    const cfg = await this.checkedConfig();
    if (!cfg) return event.fail(`cannot build: ${this.stored.data.configProblem}`);
    const names = imageNames(this.buildConfig(cfg)).join(', ');
    if (!this.model.unit.isLeader()) {
      const peers = this.peers();
      const leader = peers?.localAppData()[PEER.leader] ?? this.stored.data.leaderName;
      if (!peers || !leader) return event.fail('cannot build: this unit is not the leader and no leader has published itself yet; run the action on the leader unit (juju status shows it with a *)');
      const request = this.model.context.action?.id ?? `${Date.now()}`;
      peers.updateLocalUnitData({ [PEER.request]: request });
      return event.setResults({ status: 'forwarded', leader, message: `only the leader builds: forwarded to ${leader} (request ${request}); it builds ${names} next; log there: ${BUILD_LOG_PATH}` });
    }
    if (!isBuilderInstalled(this.host)) return event.fail('cannot build: the image builder is not set up yet (see `juju status` for why)');
    const status = await buildImmediate(this.unit);
    event.setResults({
      status,
      message: status === 'started' ? `build of ${names} started; log: ${BUILD_LOG_PATH}` : 'a build is already running; not starting another',
    });
  }

  /** The newest image of every base: `id`, `name`, `created-at` of the first, `images` (JSON) of all. */
  async onGetLatest(event: ActionEvent): Promise<void> {
    const cfg = await this.checkedConfig();
    if (!cfg) return event.fail(`cannot query the cloud: ${this.stored.data.configProblem}`);
    const names = imageNames(this.buildConfig(cfg));
    let latest: (ImageInfo | null)[];
    try {
      latest = await getLatestImage(this.deps.cloud, this.cloudAccess(cfg), names);
    } catch (err) {
      if (!(err instanceof GetLatestImageError)) throw err;
      return event.fail(err.message);
    }
    const found = cfg.bases.flatMap((base, i) => (latest[i] ? [{ base, image: latest[i]! }] : []));
    const first = found[0];
    if (!first) return event.fail(`no active image named ${names.join(' or ')} in cloud ${cfg.cloudName} yet; the first build takes a while (log: ${BUILD_LOG_PATH})`);
    event.setResults({
      id: first.image.id,
      name: first.image.name,
      'created-at': first.image.createdAt,
      images: JSON.stringify(found.map((f) => ({ base: f.base, id: f.image.id, name: f.image.name, 'created-at': f.image.createdAt }))),
    });
  }

  /** The base a build reported for (the callback passes it; older callbacks did not: the first base). */
  private reportedBase(event: CustomEvent, cfg: CharmConfig | undefined): BaseImage | undefined {
    const base = event.data.IMAGE_BASE;
    if (isBaseImage(base)) return base;
    return cfg?.bases[0] ?? this.stored.data.publishAs?.bases[0];
  }

  /**
   * Publishes the image the builder reported, once the cloud confirms it is active under the
   * image name of its base; an id the cloud does not have (or not as that image) is a failed
   * build. When the cloud cannot be asked, the id is published with a warning.
   */
  async onBuildSuccess(event: CustomEvent): Promise<void> {
    const id = event.data.OPENSTACK_IMAGE_ID ?? '';
    const cfg = await this.checkedConfig();
    const base = this.reportedBase(event, cfg);
    if (!IMAGE_ID.test(id) || !base) return this.recordFailure(this.ofBase(base, 'the builder reported a malformed image id'));
    const name = cfg ? imageName({ ...this.buildConfig(cfg), base }) : '';
    let image: ImageInfo = { id, name, createdAt: new Date().toISOString() };
    if (cfg) {
      let found;
      try {
        found = await this.deps.cloud.findImage(this.cloudAccess(cfg), id);
      } catch (err) {
        this.log.warning(`image ${id} built, but its details could not be read from the cloud (${(err as Error).message}); publishing the id`);
      }
      if (found === null) return this.recordFailure(`the builder reported image ${id}, but cloud ${cfg.cloudName} has no such image`);
      if (found && (found.status !== 'active' || found.name !== name)) {
        return this.recordFailure(`the builder reported image ${id}, but cloud ${cfg.cloudName} has it as ${JSON.stringify(found.name.slice(0, 80))} in status ${found.status}, not an active ${name}`);
      }
      if (found) image = { id: found.id, name: found.name, createdAt: found.createdAt };
    }
    this.stored.set({ publishUnconfirmed: true });
    this.learnImages({ [base]: image }, `new ${base} image ${id}`);
  }

  onBuildFailed(event: CustomEvent): void {
    const { BUILD_EXIT_CODE: code, BUILD_FAILURE: failure } = event.data;
    // A failed init (issue 19) is no base's: the whole build failed before any base.
    const base = failure === 'init' ? undefined : this.reportedBase(event, undefined);
    let reason = `exit code ${code || 'unknown'}`;
    if (failure === 'malformed-image-id') reason = 'the builder reported a malformed image id';
    else if (failure === 'no-image-id') reason = 'the builder printed no image id';
    else if (failure === 'init') reason = `preparing the builder (init) failed with exit code ${code || 'unknown'}; the next build tries again`;
    else if (code === String(BUILD_TIMEOUT_EXIT)) reason = `timed out after ${BUILD_TIMEOUT_SECONDS / 3600} h, exit code ${code}`;
    this.recordFailure(this.ofBase(base, reason));
  }

  /** A failure's reason, naming its base when several are built. */
  private ofBase(base: BaseImage | undefined, reason: string): string {
    return base && (this.stored.data.publishAs?.bases.length ?? 1) > 1 ? `${base}: ${reason}` : reason;
  }

  private recordFailure(reason: string): void {
    this.stored.set({ lastFailure: { at: new Date().toISOString(), reason } });
    this.log.warning(`image build failed: ${reason}; see ${BUILD_LOG_PATH}`);
  }

  /** A consumer joined: it gets the images this unit knows, or the cloud's newest when it knows none. */
  async onImageRelationJoined(event: RelationEvent): Promise<void> {
    if (!this.relationData().id) {
      const cfg = await this.checkedConfig();
      if (!cfg) return;
      let images: ImagesByBase = {};
      try {
        const latest = await this.deps.cloud.findLatestImages(this.cloudAccess(cfg), imageNames(this.buildConfig(cfg)));
        cfg.bases.forEach((base, i) => latest[i] && (images = { ...images, [base]: latest[i]! }));
      } catch (err) {
        this.log.warning(`${event.app} joined, but the cloud could not be asked for the latest image (${(err as Error).message}); it gets the next one built`);
      }
      if (Object.keys(images).length === 0) return;
      this.learnImages(images, `${event.app} joined`);
      return;
    }
    event.relation.updateLocalUnitData(this.relationData());
  }
}
