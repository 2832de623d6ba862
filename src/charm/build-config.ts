// What one image build is: base, arch, cloud, revisions to keep, and the image's name.
export const IMAGE_NAME_TMPL = '{IMAGE_BASE}-{APP_NAME}-{ARCH}';

export type Arch = 'x64' | 'arm64';
export type BaseImage = 'jammy' | 'noble';
/** Every base the charm builds, in the order relation data lists them. */
export const BASES: readonly BaseImage[] = ['jammy', 'noble'];
export const isBaseImage = (x: unknown): x is BaseImage => (BASES as readonly unknown[]).includes(x);
/** What the charm takes as an image id from the builder, the cloud or a peer. */
export const IMAGE_ID = /^[A-Za-z0-9-]{1,64}$/;

export interface BuildConfig {
  readonly arch: Arch;
  /** Built in this order, each as its own image; the first is the one `id` and `tags` publish. */
  readonly bases: readonly BaseImage[];
  readonly cloudName: string;
  readonly numRevisions: number;
  /** Production path of the callback script the builder calls with the new image id. */
  readonly callbackScript: string;
  /** The Juju application: images are named per application so two builders never collide. */
  readonly appName: string;
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
