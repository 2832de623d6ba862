// Settings: the charm's options, the credentials secret and the model's proxy settings, checked
// per concern. A handler asks only for the concerns it uses (need), so a bad `interval` blocks
// the schedule's change but not verifying a built image, forwarding a build or get-latest; the
// status lists every problem, whichever handler found them.
import { ConfigInvalid, SecretNotFoundError, SecretPermissionError } from '../../ops/index.js';
import type { CharmConfig, ConfigProblem } from '../config.js';
import type { Credentials } from '../credentials.js';
import { proxyEnv, proxyProblems } from '../proxy.js';
import { readScriptSecret, SCRIPT_SECRET_OPTION } from '../script-secrets.js';
import type { AppliedInputs } from '../steady.js';
import { Component, type Parent } from './component.js';
import { checkedState, is } from './stored.js';

type Stored = {
  /** Every problem of the config (blocked on it until a valid config arrives). */
  configProblem?: string;
  /** A secret (credentials or the script's) could not be read: Juju fires no hook on a grant, so update-status retries. */
  secretProblem?: boolean;
  /** What is unsafe about the configured cloud, kept in the status until the config changes. */
  cloudWarnings?: string[];
};

/** The options each concern reads, and the checked values it gets. */
const CONCERNS = {
  images: { options: ['architecture', 'base-image'], fields: ['arch', 'bases'] },
  /** What the builder VM is made of: the app's options and the script's secrets. */
  vm: { options: ['build-flavor', 'build-network', 'runner-version', 'script-url', SCRIPT_SECRET_OPTION], fields: ['buildFlavor', 'buildNetwork', 'runnerVersion', 'scriptUrl', 'scriptSecretEnv'] },
  cloud: { options: ['openstack-clouds-yaml', 'cloud-name', 'openstack-credentials-secret', 'juju-proxy'], fields: ['cloudsYaml', 'cloudName', 'cloudWarnings', 'cloudIdentity'] },
  schedule: { options: ['interval'], fields: ['interval'] },
  retention: { options: ['revision-history-limit'], fields: ['revisionHistoryLimit'] },
  metrics: { options: ['metrics-port'], fields: ['metricsPort'] },
} as const;
export type Concern = keyof typeof CONCERNS;
/** The checked values of the concerns C. */
export type ConfigOf<C extends Concern> = Pick<CharmConfig, (typeof CONCERNS)[C]['fields'][number]>;

interface Checked {
  readonly values: Partial<CharmConfig>;
  readonly problems: readonly ConfigProblem[];
}

const SECRET_OPTION = 'openstack-credentials-secret';

export class Settings extends Component {
  readonly stored = checkedState<Stored>(this.framework, 'settings', { configProblem: is.string, secretProblem: is.true, cloudWarnings: is.strings });
  private checked: Promise<Checked> | undefined;
  /** The secrets read with --refresh in this dispatch (once each). */
  private readonly secretsRefreshed = new Set<string>();

  constructor(parent: Parent) {
    super(parent, 'settings');
  }

  /** The values of the given concerns, or their problems in one sentence. */
  async need<C extends Concern>(...concerns: C[]): Promise<{ cfg: ConfigOf<C> } | { problem: string }> {
    const { values, problems } = await this.check();
    const options = new Set<string>(concerns.flatMap((c) => CONCERNS[c].options));
    const relevant = problems.filter((p) => options.has(p.option));
    return relevant.length ? { problem: relevant.map((p) => p.text).join('; ') } : { cfg: values as ConfigOf<C> };
  }

  /**
   * The whole checked config, or undefined when anything is invalid: the framework then blocks
   * on every problem (ops' load_config). What reconciles the host needs all of it.
   */
  full(): Promise<CharmConfig | undefined> {
    return this.framework.loadConfig(async () => {
      const { values, problems } = await this.check();
      if (problems.length) throw new ConfigInvalid(problems.map((p) => p.text).join('; '));
      return values as CharmConfig;
    });
  }

  /** Checks once per dispatch; remembers the problems for the status of later hooks. */
  private check(): Promise<Checked> {
    return (this.checked ??= this.checkNow());
  }

  private async checkNow(): Promise<Checked> {
    const raw = this.model.config();
    const { checkConfig } = await import('../config.js');
    const { withCredentials } = await import('../credentials.js');
    const secret = await this.secretCredentials(raw[SECRET_OPTION]);
    const script = readScriptSecret(raw[SCRIPT_SECRET_OPTION], this.model.appName, (uri) => this.latestSecret(uri));
    const cloudsYaml = raw['openstack-clouds-yaml'] ?? '';
    const merged = 'credentials' in secret ? withCredentials(cloudsYaml, (raw['cloud-name'] ?? '').trim(), secret.credentials) : cloudsYaml;
    const checked = checkConfig({ ...raw, 'openstack-clouds-yaml': merged });
    const values: Partial<CharmConfig> = { ...checked.values, ...('env' in script ? { scriptSecretEnv: script.env } : {}) };
    const optionProblems = checked.problems;
    // A credential the unreadable secret would have given is not a second problem.
    const missingCredential = /: auth\.(password|application_credential_secret) is required/;
    const problems: ConfigProblem[] = [
      // The secret first (granting it is often all that is missing), then the options, then the model's proxies.
      ...('problem' in secret ? [{ option: SECRET_OPTION, text: secret.problem }] : []),
      ...('problem' in script ? [{ option: SCRIPT_SECRET_OPTION, text: script.problem }] : []),
      ...optionProblems.filter((p) => !('problem' in secret && missingCredential.test(p.text))),
      ...proxyProblems(this.model.context.env).map((text) => ({ option: 'juju-proxy', text })),
    ];
    this.stored.set({ configProblem: problems.length ? problems.map((p) => p.text).join('; ') : undefined, secretProblem: 'problem' in secret || 'problem' in script ? true : undefined });
    return { values, problems };
  }

  /** Remembered by the reconcile that applied them: shown in the status until the config changes. */
  rememberCloudWarnings(warnings: readonly string[]): void {
    this.stored.set({ cloudWarnings: warnings.length ? [...warnings] : undefined });
  }

  /**
   * The credentials in the secret the option names (the latest revision, which the unit then
   * tracks), nothing when the option is empty, or what is wrong: each problem names the option,
   * the secret and the Juju command that fixes it. The content itself is never shown.
   */
  private async secretCredentials(uri: string | undefined): Promise<{ credentials: Credentials } | { problem: string } | { none: true }> {
    if (!uri) return { none: true };
    const { credentialsFrom, SECRET_KEYS } = await import('../credentials.js');
    const app = this.model.appName;
    let content: Record<string, string>;
    try {
      content = this.latestSecret(uri);
    } catch (err) {
      if (err instanceof SecretPermissionError) return { problem: `${SECRET_OPTION}: this application may not read secret ${uri}; grant it: juju grant-secret ${uri} ${app}` };
      if (err instanceof SecretNotFoundError) {
        return { problem: `${SECRET_OPTION}: secret ${uri} does not exist; create one (juju add-secret openstack-credentials ${SECRET_KEYS.password}=...), grant it (juju grant-secret openstack-credentials ${app}) and set its URI (juju config ${app} ${SECRET_OPTION}=<uri>)` };
      }
      throw err;
    }
    const credentials = credentialsFrom(content);
    if (!credentials) return { problem: `${SECRET_OPTION}: secret ${uri} has neither "${SECRET_KEYS.password}" nor "${SECRET_KEYS.applicationCredentialSecret}"; add one: juju update-secret ${uri} ${SECRET_KEYS.password}=...` };
    return { credentials };
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
  appliedInputs(): AppliedInputs {
    const ctx = this.model.context;
    const config = this.model.config();
    const uri = config[SECRET_OPTION];
    const secret = uri ? this.latestSecret(uri) : undefined;
    const scriptUri = config[SCRIPT_SECRET_OPTION];
    const scriptSecret = scriptUri ? this.latestSecret(scriptUri) : undefined;
    return { config, secret, scriptSecret, proxy: proxyEnv(ctx.env), leader: this.model.unit.isLeader(), charmDir: ctx.charmDir, node: process.execPath, path: ctx.env.PATH ?? '' };
  }

  /** appliedInputs(), or undefined when the secret cannot be read. */
  currentInputs(): AppliedInputs | undefined {
    try {
      return this.appliedInputs();
    } catch (err) {
      if (err instanceof SecretNotFoundError || err instanceof SecretPermissionError) return undefined;
      throw err;
    }
  }
}
