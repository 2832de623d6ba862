// The cos-agent relation's data (docs/cos-agent.md): the one unit-databag key `config`, a JSON
// object as the Python cos_agent library (LIBPATCH 26, COSAgentProvider) writes it, so a
// collector (grafana-agent, opentelemetry-collector) takes it as it takes a Python charm's:
//
//   metrics_alert_rules  cos/prometheus_alert_rules, the library's generic host rules last
//   log_alert_rules      cos/loki_alert_rules ({} : none)
//   dashboards           cos/grafana_dashboards, base64(xz(JSON)), uid and charm tag set
//   subordinate          null (unused; the library still sends it)
//   metrics_scrape_jobs  the exporter on 127.0.0.1:<metrics-port>, job github_runner_image_builder
//                        (not localhost: where it resolves to ::1, any local user could bind that)
//   log_slots            [] (no snap; the build log is under /var/log, which collectors tail)
//   tracing_protocols    null (no tracing)
//
// The assets are compiled into ./generated/cos-assets.ts at build time (scripts/gen-cos-assets.mjs);
// here the rules get this deployment's topology as the library gives them, because nobody after
// the charm does it right: each group is named <model>_<uuid8>_<app>_<group>_alerts and each rule
// labelled juju_model, juju_model_uuid, juju_application and juju_charm where it is not. A
// collector keeps both (it labels and renames only what lacks them, with its own topology, which
// would scope the rules to the collector); Prometheus then adds matchers for the model, its uuid
// and the application to every selector of each rule, from those labels. The
// `%%juju_topology%%` placeholder is removed as the library removes it (the library's optional
// cos-tool injection is left to Prometheus).
//
// Nothing here reads a file or starts a process: a hook pays one JSON.stringify.
import { DASHBOARDS, LOG_ALERT_RULES, METRICS_ALERT_RULES, type AlertRule, type RuleFile, type RuleGroup } from './generated/cos-assets.js';
import { METRICS_HOST, METRICS_PATH } from '../shared/metrics-files.js';

export type { AlertRule, RuleFile, RuleGroup } from './generated/cos-assets.js';

/** The charm's name (metadata.yaml): the dashboards' uid salt and the rules' juju_charm label. */
export const CHARM_NAME = 'github-runner-image-builder';
/** The exporter's scrape job (collectors keep it as the `job` label; the alert rules match it). */
export const SCRAPE_JOB_NAME = 'github_runner_image_builder';
export { METRICS_PATH } from '../shared/metrics-files.js';

/** Where the rules come from: this unit's model and application (JujuTopology.from_charm). */
export interface CosTopology {
  readonly model: string;
  /** The model's UUID (Juju's are version-4 UUIDs; the library rejects anything else). */
  readonly modelUuid: string;
  readonly application: string;
  /** Defaults to CHARM_NAME. */
  readonly charmName?: string;
}

export interface ScrapeJob {
  readonly job_name: string;
  readonly metrics_path: string;
  readonly static_configs: readonly { readonly targets: readonly string[] }[];
}

/** The `config` object, keys in the library's order. */
export interface CosAgentData {
  readonly metrics_alert_rules: RuleFile;
  readonly log_alert_rules: RuleFile;
  readonly dashboards: readonly string[];
  readonly subordinate: null;
  readonly metrics_scrape_jobs: readonly ScrapeJob[];
  readonly log_slots: readonly string[];
  readonly tracing_protocols: null;
}

export interface CosAgentOptions {
  /** The exporter's port (the metrics-port option). */
  readonly metricsPort: number;
  /** This unit's model and application, or the hook's environment to read them from. */
  readonly topology?: CosTopology;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The topology of the unit a hook runs for: JUJU_MODEL_NAME, JUJU_MODEL_UUID, JUJU_UNIT_NAME. */
export function topologyFromEnv(env: Readonly<Record<string, string | undefined>>): CosTopology {
  const model = env.JUJU_MODEL_NAME;
  const modelUuid = env.JUJU_MODEL_UUID;
  const unit = env.JUJU_UNIT_NAME;
  const missing = [!model && 'JUJU_MODEL_NAME', !modelUuid && 'JUJU_MODEL_UUID', !unit && 'JUJU_UNIT_NAME'].filter(Boolean);
  if (missing.length) throw new Error(`cos-agent data needs the unit's topology: ${missing.join(', ')} not set (a hook's environment has them)`);
  return { model: model!, modelUuid: modelUuid!, application: unit!.split('/')[0]! };
}

function checkedTopology(t: CosTopology): Required<CosTopology> {
  if (!t.model || !t.application) throw new Error('cos-agent topology needs the model and application names');
  if (!UUID.test(t.modelUuid)) throw new Error(`cos-agent topology: model UUID ${JSON.stringify(t.modelUuid)} is not a lowercase UUID`);
  return { model: t.model, modelUuid: t.modelUuid, application: t.application, charmName: t.charmName || CHARM_NAME };
}

/** JujuTopology.identifier: `<model>_<uuid8>_<application>`, `/` as `_`. */
export function topologyIdentifier(t: CosTopology): string {
  return `${t.model}_${t.modelUuid.slice(0, 8)}_${t.application}`.replace(/\//g, '_');
}

/** A group name the library already gave a topology to (Rules._is_already_modified). */
const ALREADY_NAMED = /^.*?_[\da-f]{8}_.*?alerts$/;

/**
 * A rule file as the library's AlertRules gives it for this topology: groups renamed
 * `<identifier>_<group>_alerts` (then every character outside [a-zA-Z0-9_:] as `_`), the
 * topology labels added where a rule lacks them, `%%juju_topology%%` removed. `{}` stays `{}`.
 */
export function alertRulesFor(rules: RuleFile, topology: CosTopology, queryType: 'promql' | 'logql' = 'promql'): RuleFile {
  if (!rules.groups?.length) return {};
  const t = checkedTopology(topology);
  const id = topologyIdentifier(t);
  const topologyLabels: Record<string, string> = { juju_model: t.model, juju_model_uuid: t.modelUuid, juju_application: t.application, juju_charm: t.charmName };
  const placeholder = queryType === 'logql' ? 'job=~".+"' : '';
  const groups = rules.groups.map((g): RuleGroup => {
    const name = ALREADY_NAMED.test(g.name) ? g.name : [id, g.name, 'alerts'].filter(Boolean).join('_');
    return {
      name: name.replace(/[^a-zA-Z0-9_:]/g, '_'),
      rules: g.rules.map((r): AlertRule => {
        const labels: Record<string, string> = { ...r.labels };
        for (const [k, v] of Object.entries(topologyLabels)) if (!(k in labels)) labels[k] = v;
        return { ...r, expr: r.expr.replace(/%%juju_topology%%,?/g, placeholder), labels };
      }),
    };
  });
  return { groups };
}

/** The exporter's scrape job on this machine: the address systemd's socket for it listens on. */
export function scrapeJobs(metricsPort: number): ScrapeJob[] {
  if (!Number.isInteger(metricsPort) || metricsPort < 1 || metricsPort > 65535) {
    throw new RangeError(`metrics port must be a whole number from 1 to 65535, got ${String(metricsPort)}`);
  }
  return [{ job_name: SCRAPE_JOB_NAME, metrics_path: METRICS_PATH, static_configs: [{ targets: [`${METRICS_HOST}:${metricsPort}`] }] }];
}

/** The `config` object for this unit. */
export function cosAgentData(opts: CosAgentOptions): CosAgentData {
  const topology = opts.topology ?? topologyFromEnv(opts.env ?? {});
  const metrics_scrape_jobs = scrapeJobs(opts.metricsPort);
  return {
    metrics_alert_rules: alertRulesFor(METRICS_ALERT_RULES, topology, 'promql'),
    log_alert_rules: alertRulesFor(LOG_ALERT_RULES, topology, 'logql'),
    dashboards: DASHBOARDS,
    subordinate: null,
    metrics_scrape_jobs,
    log_slots: [],
    tracing_protocols: null,
  };
}

/**
 * The value of the `config` key of this unit's cos-agent databag (write it on cos-agent
 * relation-joined and -changed and on config-changed, as the library does). Throws when the
 * port is not a port or the topology cannot be had.
 */
export function cosAgentConfig(opts: CosAgentOptions): string {
  return JSON.stringify(cosAgentData(opts));
}
