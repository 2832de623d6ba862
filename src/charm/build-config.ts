// What one image build is: base, arch, cloud, revisions to keep, the builder VM's options, and
// the image's name. The arch and base names are the builder app's (`--arch`, `--base-image`).
import type { CharmConfig } from './config.js';
import type { Env } from './host.js';
import { builderVmProxy } from './proxy.js';

export const IMAGE_NAME_TMPL = '{IMAGE_BASE}-{APP_NAME}-{ARCH}';

/** The builder app's architectures; `arm` is the armhf runner on an arm64 image. */
export type Arch = 'x64' | 'arm64' | 's390x' | 'ppc64le' | 'arm';
export type BaseImage = 'focal' | 'jammy' | 'noble' | 'resolute';
/** Every base the charm builds, oldest first: the order relation data and peers list them in. */
export const BASES: readonly BaseImage[] = ['focal', 'jammy', 'noble', 'resolute'];
export const isBaseImage = (x: unknown): x is BaseImage => (BASES as readonly unknown[]).includes(x);
/** What the charm takes as an image id from the builder, the cloud or a peer. */
export const IMAGE_ID = /^[A-Za-z0-9-]{1,64}$/;

/** What `init` depends on besides the arch, prefix and app pin: a change means init again. */
export interface CloudIdentity {
  readonly authUrl: string;
  /** project name or id, with its domain when given. */
  readonly project: string;
  /** user name or id (or the application credential), with its domain when given. */
  readonly user: string;
}

export interface BuildConfig {
  readonly arch: Arch;
  /** Built in this order, each as its own image; the first is the one `id` and `tags` publish. */
  readonly bases: readonly BaseImage[];
  readonly cloudName: string;
  /** The build cloud as init sees it (no secret in it). */
  readonly cloudIdentity: CloudIdentity;
  readonly numRevisions: number;
  /** The Juju application: images are named per application so two builders never collide; also the app's `--prefix`. */
  readonly appName: string;
  /** The builder VM's flavor and network (empty: the app chooses). */
  readonly flavor: string;
  readonly network: string;
  /** The GitHub Actions runner version (empty: the latest). */
  readonly runnerVersion: string;
  /** A script the builder VM runs as root after the default setup (empty: none). */
  readonly scriptUrl: string;
  /** The builder VM's proxy, `host:port` (empty: none), and whether credentials were left out of it. */
  readonly vmProxy: string;
  readonly vmProxyCredentialsDropped: boolean;
}

export function imageName(cfg: Pick<BuildConfig, 'arch' | 'appName'> & { readonly base: BaseImage }): string {
  return IMAGE_NAME_TMPL.replace('{IMAGE_BASE}', cfg.base).replace('{APP_NAME}', cfg.appName).replace('{ARCH}', cfg.arch);
}

/** The image name of each base, in the config's order. */
export function imageNames(cfg: Pick<BuildConfig, 'arch' | 'appName' | 'bases'>): string[] {
  return cfg.bases.map((base) => imageName({ ...cfg, base }));
}

/** The consumer's runner labels for an image: `<arch>,<base>` (e.g. `x64,noble`). */
export function imageTags(arch: Arch, base: BaseImage): string {
  return `${arch},${base}`;
}

/** The build of a checked config, for this application and the model's proxy settings. */
export function buildConfigOf(cfg: CharmConfig, appName: string, env: Env): BuildConfig {
  const vm = builderVmProxy(env);
  return {
    arch: cfg.arch,
    bases: cfg.bases,
    cloudName: cfg.cloudName,
    cloudIdentity: cfg.cloudIdentity,
    numRevisions: cfg.revisionHistoryLimit,
    appName,
    flavor: cfg.buildFlavor,
    network: cfg.buildNetwork,
    runnerVersion: cfg.runnerVersion,
    scriptUrl: cfg.scriptUrl,
    vmProxy: vm.proxy,
    vmProxyCredentialsDropped: vm.credentialsDropped,
  };
}
