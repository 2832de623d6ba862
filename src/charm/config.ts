// The charm's configuration, checked. Every problem becomes one sentence that names the option,
// what was wrong and what is accepted; invalid config never reaches the host.
import { checkCloudsYaml } from './cloud.js';
import type { Arch, BaseImage, CloudIdentity } from './build-config.js';

export interface CharmConfig {
  /** The builder app's name of the architecture (x64, arm64, s390x, ppc64le, arm). */
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
  /** The chosen cloud's auth_url, project and user: init runs again when they change. */
  readonly cloudIdentity: CloudIdentity;
  /** The builder VM's flavor and network, name or id (empty: the app chooses). */
  readonly buildFlavor: string;
  readonly buildNetwork: string;
  /** X.Y.Z, or empty for the latest runner. */
  readonly runnerVersion: string;
  /** https:// (http:// only to loopback), or empty. */
  readonly scriptUrl: string;
  /**
   * From the script-secret-id secret (set by the charm, which reads it): each key as the app's
   * environment variable IMAGE_BUILDER_SECRET_<key>. Never shown, never on a command line.
   */
  readonly scriptSecretEnv?: Readonly<Record<string, string>>;
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

const BASES: Record<string, BaseImage> = {
  focal: 'focal',
  '20.04': 'focal',
  jammy: 'jammy',
  '22.04': 'jammy',
  noble: 'noble',
  '24.04': 'noble',
  resolute: 'resolute',
  '26.04': 'resolute',
};

/** A value shown back to the operator: quoted, one line, and short. */
export function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}..."` : text;
}

/** The `architecture` option's values (Debian's names), as the builder app names them. */
const ARCHES: Record<string, Arch> = { amd64: 'x64', arm64: 'arm64', s390x: 's390x', ppc64le: 'ppc64le', armhf: 'arm' };
/** Node's process.arch of the machines the app supports (node says ppc64 for ppc64le). */
const NODE_ARCHES: Record<string, Arch> = { x64: 'x64', arm64: 'arm64', s390x: 's390x', ppc64: 'ppc64le', arm: 'arm' };
const ARCHES_ACCEPTED = 'use amd64, arm64, s390x, ppc64le or armhf, or leave it empty for this machine\'s';

function parseArch(raw: unknown, nodeArch: string, problems: string[]): Arch | undefined {
  const wanted = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
  if (wanted === '' || wanted === undefined) {
    const arch = NODE_ARCHES[nodeArch];
    if (!arch) problems.push(`architecture is empty and this machine's (${nodeArch}) is not one the builder supports; set architecture: ${ARCHES_ACCEPTED.replace(/, or leave.*/, '')}`);
    return arch;
  }
  const arch = typeof wanted === 'string' && Object.prototype.hasOwnProperty.call(ARCHES, wanted) ? ARCHES[wanted] : undefined;
  if (!arch) problems.push(`architecture ${shown(raw)} is not supported; ${ARCHES_ACCEPTED}`);
  return arch;
}

const BASES_ACCEPTED = 'use focal, jammy, noble, resolute, 20.04, 22.04, 24.04 or 26.04';

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
    const arch = parseArch(raw.architecture ?? '', nodeArch, p);
    if (arch) values.arch = arch;
  });

  check('base-image', (p) => {
    const bases = parseBases(raw['base-image'] ?? 'noble', p);
    if (p.length === 0) values.bases = bases;
  });

  // The armhf runner is built on an arm64 image with multiarch: noble and later only.
  check('architecture', (p) => {
    const tooOld = (values.bases ?? []).filter((b) => b === 'focal' || b === 'jammy');
    if (values.arch === 'arm' && tooOld.length) {
      p.push(`architecture armhf is built on noble or later only, but base-image has ${tooOld.join(' and ')}; use noble or resolute`);
      delete values.arch;
    }
  });

  check('build-flavor', (p) => (values.buildFlavor = parseResourceName('build-flavor', 'an OpenStack flavor name or id', raw['build-flavor'], p)));
  check('build-network', (p) => (values.buildNetwork = parseResourceName('build-network', 'an OpenStack network name or id', raw['build-network'], p)));
  check('runner-version', (p) => (values.runnerVersion = parseRunnerVersion(raw['runner-version'], p)));
  check('script-url', (p) => (values.scriptUrl = parseScriptUrl(raw['script-url'], p)));

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
    else Object.assign(values, { cloudsYaml, cloudName: checked.cloudName, cloudWarnings: checked.warnings, cloudIdentity: checked.identity });
  });

  return { values, problems };
}

/** Every option checked: the whole config, or a ConfigError listing every problem. */
export function parseConfig(raw: Readonly<Record<string, unknown>>, nodeArch: string = process.arch): CharmConfig {
  const { values, problems } = checkConfig(raw, nodeArch);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => p.text));
  return values as CharmConfig;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** build-flavor, build-network: empty, or a printable name or id with no whitespace at its ends, at most 255 characters. */
function parseResourceName(option: string, what: string, raw: unknown, problems: string[]): string {
  if (raw === undefined || raw === '') return '';
  const accepted = `set ${what} (printable, no spaces at the ends, at most 255 characters), or leave it empty for the builder's choice`;
  if (typeof raw !== 'string') problems.push(`${option} ${shown(raw)} is not a name; ${accepted}`);
  else if (CONTROL.test(raw)) problems.push(`${option} contains a control character (newline, tab...); ${accepted}`);
  else if (raw.trim() !== raw) problems.push(`${option} ${shown(raw)} has whitespace at its start or end; ${accepted}`);
  else if ([...raw].length > 255) problems.push(`${option} is ${[...raw].length} characters long; ${accepted}`);
  else return raw;
  return '';
}

/** runner-version: empty (the latest runner) or X.Y.Z. */
function parseRunnerVersion(raw: unknown, problems: string[]): string {
  if (raw === undefined || raw === '') return '';
  if (typeof raw === 'string' && /^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$/.test(raw)) return raw;
  problems.push(`runner-version ${shown(raw)} is not a version; use X.Y.Z as the GitHub Actions runner releases are numbered (e.g. 2.317.0), or leave it empty for the latest`);
  return '';
}

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** script-url: empty, or an https:// URL (http:// only to this machine), with no whitespace or control characters. */
function parseScriptUrl(raw: unknown, problems: string[]): string {
  if (raw === undefined || raw === '') return '';
  const accepted = 'use an https:// URL (http:// only to 127.0.0.1 or localhost) with no spaces, or leave it empty';
  if (typeof raw !== 'string') {
    problems.push(`script-url ${shown(raw)} is not a URL; ${accepted}`);
    return '';
  }
  if (CONTROL.test(raw) || /\s/.test(raw)) {
    problems.push(`script-url contains whitespace or a control character; ${accepted}`);
    return '';
  }
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    // not a URL
  }
  if (!url || !url.host || !/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]/.test(raw)) problems.push(`script-url ${shown(raw)} is not a URL; ${accepted}`);
  else if (url.protocol === 'http:' && !LOOPBACK_HOST.test(url.host.replace(/:\d+$/, ''))) problems.push(`script-url ${shown(raw)} uses plain http to another machine, where anyone on the way could change the script root runs on every image; ${accepted}`);
  else if (url.protocol !== 'https:' && url.protocol !== 'http:') problems.push(`script-url ${shown(raw)} is not http(s); ${accepted}`);
  else if (raw.length > 2048) problems.push(`script-url is ${raw.length} characters long (at most 2048); ${accepted}`);
  else return raw;
  return '';
}
