// What the charm relies on of the builder application: `app/` of
// canonical/github-runner-image-builder-operator, pinned. It builds each image on a short-lived
// VM in the build cloud (no chroot, nbd or qemu on the unit); see README "How an image is built".
import { createHash } from 'node:crypto';
import type { BuildConfig } from './build-config.js';

/** A full 40-hex commit: pip cannot resolve a short one reliably. v0.14.1 of the app. */
export const BUILDER_SOURCE = 'git+https://github.com/canonical/github-runner-image-builder-operator@fb250b2fa6f91e4c5b3e0417022afe464dc4559c#subdirectory=app';
/** The chroot builder the charm ran before (its installed marker holds this). */
export const CHROOT_BUILDER_SOURCE = 'git+https://github.com/canonical/github-runner-image-builder@f9f1c74';
/** The pipx package name of both. */
export const BUILDER_PACKAGE = 'github-runner-image-builder';

/** Where the app writes its private key (hard-coded in openstack_builder.py; it does not mkdir). */
export const APP_KEY_DIR = '/home/ubuntu/.ssh';
/** What `run` prints on stdout on success, before the image id(s), with no final newline. */
export const SUCCESS_HEADER = 'Image build success:';

/** The build script's phases, shown in the status while the first image is awaited. */
export const PHASE_INIT = 'preparing the builder: downloading base images';
export const phaseBuilding = (image: string) => `building ${image}`;

/**
 * What `init` ran with (the app pin, arch, cloud and who the builder is in it, the resource
 * prefix), and its digest: the build script runs init again when the digest changes.
 */
export function initInputs(cfg: BuildConfig): { digest: string; description: string } {
  const inputs = { source: BUILDER_SOURCE, arch: cfg.arch, cloud: cfg.cloudName, ...cfg.cloudIdentity, prefix: cfg.appName };
  const description = JSON.stringify(inputs);
  return { digest: createHash('sha256').update(description).digest('hex'), description };
}
