// The charm's configuration, checked. Every problem becomes one sentence that names the option,
// what was wrong and what is accepted; invalid config never reaches the host.
import { checkCloudsYaml } from './cloud.js';
import type { Arch, BaseImage } from './build-config.js';

export interface CharmConfig {
  readonly arch: Arch;
  /** The bases to build, in the operator's order, duplicates folded; the first is `id`/`tags`'s. */
  readonly bases: readonly BaseImage[];
  readonly interval: number;
  /** The clouds.yaml text exactly as the operator gave it (written to the host verbatim). */
  readonly cloudsYaml: string;
  /** The cloud to use: cloud-name, or the first cloud of the clouds.yaml. */
  readonly cloudName: string;
  readonly revisionHistoryLimit: number;
  /** Where the exporter listens (127.0.0.1) and the cos-agent scrape job points. */
  readonly metricsPort: number;
  /** What is unsafe about the chosen cloud (verify: false, plain http); shown, not refused. */
  readonly cloudWarnings: readonly string[];
}

/** One problem with the config: the option it is about (or the model setting) and the sentence shown. */
export interface ConfigProblem {
  readonly option: string;
  readonly text: string;
}

/** The checked config: every valid value, and a sentence for each problem. */
export interface ConfigCheck {
  readonly values: Partial<CharmConfig>;
  readonly problems: readonly ConfigProblem[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

const BASES: Record<string, BaseImage> = { jammy: 'jammy', '22.04': 'jammy', noble: 'noble', '24.04': 'noble' };

/** A value shown back to the operator: quoted, one line, and short. */
export function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}..."` : text;
}

function machineArch(nodeArch: string = process.arch): Arch | undefined {
  return nodeArch === 'x64' ? 'x64' : nodeArch === 'arm64' ? 'arm64' : undefined;
}

const BASES_ACCEPTED = 'use jammy, noble, 22.04 or 24.04';

/** base-image: one base, or a comma-separated list of them; each problem names the entry. */
function parseBases(raw: unknown, problems: string[]): BaseImage[] {
  if (typeof raw !== 'string') {
    problems.push(`base-image ${shown(raw)} is not supported; ${BASES_ACCEPTED}`);
    return [];
  }
  const entries = raw.split(',');
  if (entries.length === 1) {
    const base = BASES[raw.trim().toLowerCase()];
    if (!base) problems.push(`base-image ${shown(raw)} is not supported; ${BASES_ACCEPTED}`);
    return base ? [base] : [];
  }
  const bases: BaseImage[] = [];
  if (entries.some((e) => e.trim() === '')) problems.push(`base-image ${shown(raw)} has an empty entry; separate bases with single commas, e.g. "jammy, noble"`);
  for (const entry of entries.filter((e) => e.trim() !== '')) {
    const base = BASES[entry.trim().toLowerCase()];
    if (!base) problems.push(`base-image entry ${shown(entry.trim())} is not supported; ${BASES_ACCEPTED}`);
    else if (!bases.includes(base)) bases.push(base);
  }
  return bases;
}

/**
 * Checks every option; each problem is tagged with its option, so a handler can ask only for
 * the options it uses (Settings.need) while the status still lists every problem.
 */
export function checkConfig(raw: Readonly<Record<string, unknown>>, nodeArch: string = process.arch): ConfigCheck {
  const problems: ConfigProblem[] = [];
  const values: { -readonly [K in keyof CharmConfig]?: CharmConfig[K] } = {};
  /** Runs one option's check: its problems are tagged with the option; a value only when it has none. */
  const check = (option: string, fn: (problems: string[]) => void): boolean => {
    const found: string[] = [];
    fn(found);
    problems.push(...found.map((text) => ({ option, text })));
    return found.length === 0;
  };

  check('architecture', (p) => {
    const arch = machineArch(nodeArch);
    if (!arch) p.push(`unsupported machine architecture ${nodeArch}; deploy on amd64 or arm64`);
    else values.arch = arch;
  });

  check('base-image', (p) => {
    const bases = parseBases(raw['base-image'] ?? 'noble', p);
    if (p.length === 0) values.bases = bases;
  });

  check('interval', (p) => {
    const interval = raw.interval ?? 6;
    if (!Number.isInteger(interval) || (interval as number) < 1 || (interval as number) > 24) p.push(`interval must be a whole number of hours from 1 to 24, got ${shown(interval)}`);
    else values.interval = interval as number;
  });

  check('revision-history-limit', (p) => {
    const limit = raw['revision-history-limit'] ?? 5;
    if (!Number.isInteger(limit) || (limit as number) < 2 || (limit as number) > 99) p.push(`revision-history-limit must be a whole number from 2 to 99, got ${shown(limit)}`);
    else values.revisionHistoryLimit = limit as number;
  });

  check('metrics-port', (p) => {
    const metricsPort = raw['metrics-port'] ?? 9110;
    if (!Number.isInteger(metricsPort) || (metricsPort as number) < 1024 || (metricsPort as number) > 65535) p.push(`metrics-port must be a whole number from 1024 to 65535, got ${shown(metricsPort)}`);
    else values.metricsPort = metricsPort as number;
  });

  check('openstack-clouds-yaml', (p) => {
    const cloudsYaml = typeof raw['openstack-clouds-yaml'] === 'string' ? raw['openstack-clouds-yaml'] : '';
    const wanted = typeof raw['cloud-name'] === 'string' ? raw['cloud-name'].trim() : '';
    if (cloudsYaml.trim() === '') {
      p.push('openstack-clouds-yaml is empty; set it to the contents of your clouds.yaml (juju config <app> openstack-clouds-yaml=@clouds.yaml)');
      return;
    }
    const checked = checkCloudsYaml(cloudsYaml, wanted);
    if ('problems' in checked) p.push(...checked.problems);
    else Object.assign(values, { cloudsYaml, cloudName: checked.cloudName, cloudWarnings: checked.warnings });
  });

  return { values, problems };
}

/** Every option checked: the whole config, or a ConfigError listing every problem. */
export function parseConfig(raw: Readonly<Record<string, unknown>>, nodeArch: string = process.arch): CharmConfig {
  const { values, problems } = checkConfig(raw, nodeArch);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => p.text));
  return values as CharmConfig;
}
