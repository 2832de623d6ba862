// Observability: the cos-agent relation (scrape job, alert rules, dashboards for a collector on
// the machine) and the state file the metrics exporter reads for what only the charm knows
// (leadership, schedule, served images).
import { METRICS_DIR } from '../paths.js';
import { UNIT_FILE, unitFileText, type UnitFile } from '../../shared/metrics-files.js';
import { Component, type Parent } from './component.js';
import type { Machine } from './machine.js';
import type { ServedImages } from './served-images.js';
import { checkedState, is } from './stored.js';

/** A COS collector (grafana-agent, opentelemetry-collector) on the machine. */
export const COS_AGENT_ENDPOINT = 'cos-agent';

type Stored = {
  /** From the last applied config, for the metrics and the cos-agent scrape job. */
  intervalHours?: number;
  metricsPort?: number;
  /** When this unit's schedule was first set up (unix s): "never built since" counts from it. */
  scheduleStart?: number;
  /** sha256 of the cos-agent `config` last published. */
  cosAgentDigest?: string;
  /** Another process holds the metrics port (checked on update-status). */
  portProblem?: string;
};

export class Observability extends Component {
  private readonly stored = checkedState<Stored>(this.framework, 'observability', {
    intervalHours: is.int,
    metricsPort: is.int,
    scheduleStart: is.int,
    cosAgentDigest: is.string,
    portProblem: is.string,
  });

  constructor(
    parent: Parent,
    private readonly images: ServedImages,
    private readonly machine: Machine,
  ) {
    super(parent, 'observability');
    this.framework.observe('cos_agent_relation_joined', this, this.onCosAgent);
    this.framework.observe('cos_agent_relation_changed', this, this.onCosAgent);
    this.framework.observe('update_status', this, this.onUpdateStatus);
  }

  /** What is wrong with the metrics port, for the status (undefined: nothing known to be). */
  get portProblem(): string | undefined {
    return this.stored.data.portProblem;
  }

  /**
   * Whether a process other than systemd holds the metrics port, so the collector would scrape
   * it in the exporter's place: read from the kernel's socket tables, every update-status.
   */
  async onUpdateStatus(): Promise<void> {
    const port = this.stored.data.metricsPort;
    if (!port) return;
    const { metricsPortProblem } = await import('../metrics-port.js');
    // host.path: the machine's /proc (a test's host root has none unless the test gives it one).
    this.stored.set({ portProblem: metricsPortProblem(port, { proc: this.machine.host.path('/proc') }) });
  }

  /** A reconcile applied a schedule and a metrics port. */
  applied(intervalHours: number, metricsPort: number): void {
    const portChanged = metricsPort !== this.stored.data.metricsPort;
    this.stored.set({ intervalHours, metricsPort, scheduleStart: this.stored.data.scheduleStart ?? Math.floor(Date.now() / 1000), ...(portChanged ? { portProblem: undefined } : {}) });
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
  async publishCosAgent(always: boolean): Promise<void> {
    const port = this.stored.data.metricsPort;
    if (!port) return;
    const { cosAgentConfig } = await import('../cos.js'); // the rules and dashboards: only here
    const config = cosAgentConfig({ metricsPort: port, env: this.model.context.env });
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(config).digest('hex');
    if (!always && digest === this.stored.data.cosAgentDigest) return;
    for (const relation of this.model.relations(COS_AGENT_ENDPOINT)) relation.updateLocalUnitData({ config });
    this.stored.set({ cosAgentDigest: digest });
  }

  /**
   * What the exporter reports that only the charm knows, in a file it reads on every scrape;
   * written only when it changes (no write in a steady hook).
   */
  shareMetricsState(leader: boolean, stopped: boolean): void {
    const shape = this.images.shape;
    const { intervalHours, scheduleStart } = this.stored.data;
    const host = this.machine.host;
    if (!shape || stopped || !host.exists(METRICS_DIR)) return;
    const state: UnitFile = {
      arch: shape.arch,
      bases: shape.bases,
      leader,
      interval_hours: intervalHours ?? 0,
      schedule_start: scheduleStart ?? 0,
      images: Object.fromEntries(Object.entries(this.images.known()).map(([base, i]) => [base, { id: i.id, created_at: i.createdAt }])),
    };
    try {
      host.writeIfChanged(`${METRICS_DIR}/${UNIT_FILE}`, unitFileText(state), { mode: 0o644, uid: 0, gid: 0 });
    } catch (err) {
      this.log.warning(`the exporter's state was not updated (${(err as Error).message}); metrics may lag until the next hook`);
    }
  }
}
