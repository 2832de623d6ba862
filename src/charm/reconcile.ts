// The one way config reaches the host. `planReconcile` is pure: from the checked config, what
// the unit remembers and what is on the host, it computes the desired host state (every file
// with its text and mode) and what is owed (setup, removing the old layout, a build).
// `applyPlan` carries a plan out with the builder module's vocabulary. install, upgrade-charm,
// config-changed, secret-changed (and update-status while blocked on the secret) all go
// through both.
import type { BuildConfig } from './build-config.js';
import { buildImmediate, configureCron, configureExporter, hasLegacyLayout, installCloudsYaml, installFiles, isBuilderInstalled, removeLegacyLayout, setupBuilder, type BuildStart, type HostFile, type UnitContext } from './builder.js';
import type { CharmConfig } from './config.js';
import { BUILD_ENV_PATH, BUILD_SCRIPT_PATH, CLOUDS_YAML_PATH, CRON_PATH, LOGROTATE_PATH, SCRIPT_SECRETS_ENV_PATH } from './paths.js';
import { renderBuildEnv, renderBuildScript, renderCron, renderExporterUnits, renderLogrotate, scheduleDigest, type ExporterUnits, type RenderContext } from './render.js';
import { renderScriptSecretsEnv } from './script-secrets.js';

/** What the plan needs to know about the host (read once, before planning). */
export interface HostFacts {
  /** The pinned builder is installed (its init is the build's). */
  readonly builderInstalled: boolean;
  /** The pre-hardening layout left files in /home/ubuntu. */
  readonly legacyLayout: boolean;
}

export interface PlanInput {
  readonly config: CharmConfig;
  readonly build: BuildConfig;
  readonly render: RenderContext;
  readonly facts: HostFacts;
  /** The schedule digest of the last build this unit started for a schedule (unit state). */
  readonly lastScheduleDigest: string | undefined;
  /** Only the leader builds; another unit just keeps its files ready to lead. */
  readonly leader: boolean;
  /** upgrade-charm: the exporter's code may be new, so it restarts. */
  readonly upgrading: boolean;
}

export interface Plan {
  /** Install packages and the builder (a previous builder goes first). */
  readonly setup: boolean;
  readonly removeLegacyLayout: boolean;
  /** clouds.yaml as it must be (with the secret's credentials, if any). */
  readonly cloudsYaml: string;
  /** The build script, the build environment, the script secret's variables and the logrotate policy, as they must be. */
  readonly files: readonly HostFile[];
  /** The cron entry, written last: cron never runs a build script that is not written yet. */
  readonly cron: string;
  /** The exporter's systemd units, and whether it restarts even when they are unchanged. */
  readonly exporterUnits: ExporterUnits;
  readonly restartExporter: boolean;
  /** Identifies the schedule and build arguments; a build is owed when it changes. */
  readonly scheduleDigest: string;
  readonly buildOwed: boolean;
}

export function planReconcile(input: PlanInput): Plan {
  const { config, build, render } = input;
  const cron = renderCron(build, config.interval, render);
  const script = renderBuildScript(build, render);
  const files: HostFile[] = [
    { path: BUILD_ENV_PATH, content: renderBuildEnv(render), mode: 0o600 },
    // Root-only: the values reach the builder app's environment and nothing else.
    { path: SCRIPT_SECRETS_ENV_PATH, content: renderScriptSecretsEnv(config.scriptSecretEnv ?? {}), mode: 0o600 },
    { path: BUILD_SCRIPT_PATH, content: script, mode: 0o700 },
    { path: LOGROTATE_PATH, content: renderLogrotate(), mode: 0o644 },
  ];
  const digest = scheduleDigest(cron, script);
  return {
    setup: !input.facts.builderInstalled,
    removeLegacyLayout: input.facts.legacyLayout,
    cloudsYaml: config.cloudsYaml,
    files,
    cron,
    exporterUnits: renderExporterUnits(render, config.metricsPort),
    restartExporter: input.upgrading,
    scheduleDigest: digest,
    // Also when an earlier run of the hook wrote the files but was killed before the build.
    buildOwed: input.leader && input.lastScheduleDigest !== digest,
  };
}

export function readHostFacts(unit: UnitContext): HostFacts {
  return { builderInstalled: isBuilderInstalled(unit.host), legacyLayout: hasLegacyLayout(unit.host) };
}

export interface Outcome {
  /** The host paths (re)written. */
  readonly written: readonly string[];
  /** The build the plan owed, if it owed one. */
  readonly build?: BuildStart;
}

/**
 * Carries the plan out in the builder module's words (setupBuilder, installCloudsYaml,
 * configureCron, buildImmediate): setup, the old layout, the files (each only when it
 * differs), the cron entry (reloaded when it changed), the owed build. Errors are the builder module's
 * (BuilderSetupError for setup steps, HostFileError / ProcessError otherwise).
 */
export async function applyPlan(plan: Plan, unit: UnitContext): Promise<Outcome> {
  if (plan.setup) await setupBuilder(unit);
  if (plan.removeLegacyLayout) await removeLegacyLayout(unit);
  const written = [
    ...(installCloudsYaml(plan.cloudsYaml, unit.host) ? [CLOUDS_YAML_PATH] : []),
    ...installFiles(plan.files, unit.host),
    ...((await configureCron(plan.cron, unit)) ? [CRON_PATH] : []),
    ...(await configureExporter(plan.exporterUnits, plan.restartExporter, unit)),
  ];
  if (!plan.buildOwed) return { written };
  return { written, build: await buildImmediate(unit) };
}
