// HostSetup: the one reconcile path from config to host state (packages, the builder, clouds.yaml,
// the scripts, the schedule, the exporter) on install, upgrade-charm, config-changed,
// secret-changed and update-status while the secret is unreadable; stop and remove take it
// down. A config-changed with nothing to do is skipped (steady.ts).
import { BlockedStatus, MaintenanceStatus, type EventBase, type HookEvent } from '../../ops/index.js';
import { BuilderSetupError, BuildRunningError, removeBuilder } from '../builder.js';
import { buildConfigOf } from '../build-config.js';
import { CLOUDS_YAML_PATH } from '../paths.js';
import { proxyEnv } from '../proxy.js';
import { statusText } from '../status.js';
import type { AppliedRecord } from '../steady.js';
import { Component, type Parent } from './component.js';
import type { ImageRelation } from './image-relation.js';
import type { Machine } from './machine.js';
import type { Observability } from './observability.js';
import type { ServedImages } from './served-images.js';
import type { Settings } from './settings.js';
import { checkedState, is } from './stored.js';

type Stored = {
  /**
   * The schedule digest (cron entry + build script) of the last build started for a schedule,
   * committed only when the hook succeeds: a hook killed after writing new files but before the
   * build it owes leaves the old digest, so the retried hook still starts that build.
   */
  scheduleDigest?: string;
  /** What the last full reconcile applied, so a config-changed with nothing to do can skip it (steady.ts). */
  applied?: AppliedRecord;
  /** stop or remove ran: no more scheduled builds. */
  stopped?: boolean;
  /** The setup waits for a running build to end (no hook waits for the build lock); update-status retries. */
  setupOwed?: boolean;
};

export class HostSetup extends Component {
  private readonly stored = checkedState<Stored>(this.framework, 'host-setup', {
    scheduleDigest: is.string,
    applied: is.record({ digest: is.string, files: is.mapOf((v) => v === null || typeof v === 'string') }),
    stopped: is.true,
    setupOwed: is.true,
  });

  constructor(
    parent: Parent,
    private readonly settings: Settings,
    private readonly images: ServedImages,
    private readonly relation: ImageRelation,
    private readonly observability: Observability,
    private readonly machine: Machine,
  ) {
    super(parent, 'host-setup');
    this.framework.observe('install', this, this.reconcile);
    this.framework.observe('upgrade_charm', this, this.reconcile);
    this.framework.observe('config_changed', this, this.onConfigChanged);
    this.framework.observe('secret_changed', this, this.reconcile);
    this.framework.observe('update_status', this, this.onUpdateStatus);
    this.framework.observe('stop', this, this.onStop);
    this.framework.observe('remove', this, this.onStop);
  }

  get stopped(): boolean {
    return this.stored.data.stopped === true;
  }

  /** The builder's setup (an upgrade's reinstall) waits for the running build to end. */
  get setupOwed(): boolean {
    return this.stored.data.setupOwed === true;
  }

  /**
   * Reconciles, unless nothing changed since the last reconcile: the same options, proxies and
   * leadership, and the managed files as it left them (Juju also fires config-changed after
   * install and on every agent restart). A unit blocked on its config always re-checks it, and a
   * credentials secret is read again (Juju fires no hook when access to it is revoked).
   */
  async onConfigChanged(event: HookEvent): Promise<void> {
    const { configProblem, secretProblem } = this.settings.stored.data;
    const inputs = configProblem || secretProblem || this.stopped ? undefined : this.settings.currentInputs();
    if (inputs && (await import('../steady.js')).isSteady(this.machine.host, inputs, this.stored.data.applied)) {
      this.relation.republishIfStale();
      return;
    }
    await this.reconcile(event);
  }

  /**
   * Retries the config while the credentials secret could not be read (granting access fires no
   * hook), and the setup a running build made wait.
   */
  async onUpdateStatus(event: HookEvent): Promise<void> {
    if (this.settings.stored.data.secretProblem || (this.stored.data.setupOwed && !this.stopped)) await this.reconcile(event);
  }

  async onStop(event: EventBase): Promise<void> {
    const { removed, stopped } = await removeBuilder(this.machine.unit);
    // A copy ended mid-way leaves a queued or saving image in that consumer's project: Glance's own state, never published.
    const copies = await (await import('../copies.js')).stopCopies(this.machine.unit);
    const ended =
      (stopped ? `; ended the running build (session ${stopped.session}, started ${stopped.startedAt.toISOString()})` : '') +
      (copies.length ? `; ended the running copier (session ${copies.join(', ')})` : '');
    this.log.info(`${event.name}: scheduled builds stopped${removed.length ? `; removed ${removed.join(', ')}` : ''}${ended}`);
    this.stored.set({ stopped: true });
  }

  /**
   * Brings the host to the config through the one plan: setup when the pinned builder is not
   * installed, the old layout removed, every file as the config says, the build a new schedule
   * or new build arguments owe. Every option is needed: invalid config changes nothing.
   */
  async reconcile(event: HookEvent): Promise<void> {
    const cfg = await this.settings.full();
    if (!cfg) {
      if (event.name === 'install') event.defer(); // completes as soon as the config is fixed
      return;
    }
    const { applyPlan, planReconcile, readHostFacts } = await import('../reconcile.js');
    const unit = this.machine.unit;
    const host = this.machine.host;
    const ctx = this.model.context;
    const build = buildConfigOf(cfg, this.model.appName, ctx.env);
    const plan = planReconcile({
      config: cfg,
      build,
      render: {
        unitName: ctx.unitName,
        charmDir: ctx.charmDir,
        modelUuid: ctx.env.JUJU_MODEL_UUID ?? '',
        jujuExec: host.which('juju-exec') ?? '/usr/bin/juju-exec',
        path: (p) => host.path(p),
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
      this.framework.flushLogs(); // apt and pipx can take many minutes
    }
    let outcome;
    try {
      outcome = await applyPlan(plan, unit);
    } catch (err) {
      if (err instanceof BuildRunningError) {
        // Nothing else changes until the builder is set up: the new files may need the new builder.
        this.stored.set({ setupOwed: true });
        this.log.info(`${event.name}: ${err.message}`);
        return;
      }
      // Installs fail on networks and mirrors, writes on full or read-only disks: Juju's retry
      // of the hook is the remedy. The status says what failed; the error fails the hook.
      const why = err instanceof BuilderSetupError ? 'Setup failed, Juju will retry' : 'Could not apply the configuration, Juju will retry';
      this.model.unit.setStatus(BlockedStatus(statusText(`${why}: ${(err as Error).message}`)));
      throw err;
    }
    if (outcome.written.includes(CLOUDS_YAML_PATH)) await this.warnPlainPassword();
    if (this.images.applyShape({ bases: [...cfg.bases], arch: cfg.arch, cloudName: cfg.cloudName })) this.relation.publish(); // other bases (or their order): id, tags and images change
    this.observability.applied(cfg.interval, cfg.metricsPort);
    this.settings.rememberCloudWarnings(cfg.cloudWarnings);
    this.stored.set({ scheduleDigest: plan.scheduleDigest, stopped: undefined, setupOwed: undefined });
    const written = outcome.written.length ? `wrote ${outcome.written.join(', ')}` : 'configuration unchanged';
    this.log.info(`${event.name}: ${written}${outcome.build ? `; build ${outcome.build} (the schedule or build arguments changed)` : ''}`);
    if (event.name === 'config_changed') this.relation.republishIfStale();
    if (event.name === 'config_changed' || event.name === 'upgrade_charm') await this.observability.publishCosAgent(false);
    const { appliedRecord } = await import('../steady.js');
    this.stored.set({ applied: appliedRecord(host, this.settings.appliedInputs()) });
  }

  /** Said when the clouds.yaml is written (not on every steady config-changed: a juju-log call each). */
  private async warnPlainPassword(): Promise<void> {
    const raw = this.model.config();
    if (raw['openstack-credentials-secret']) return;
    if (!(await import('../credentials.js')).hasPlainCredentials(raw['openstack-clouds-yaml'] ?? '', (raw['cloud-name'] ?? '').trim())) return;
    const app = this.model.appName;
    this.log.warning(
      `openstack-clouds-yaml holds the cloud's password in plain config, which anyone who can read the model sees; move it to a secret: juju add-secret openstack-credentials password=...; juju grant-secret openstack-credentials ${app}; juju config ${app} openstack-credentials-secret=<uri>; then remove it from openstack-clouds-yaml`,
    );
  }
}
