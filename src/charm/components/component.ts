// What the charm's components share: its events (Juju's, its actions' and the build script's
// custom events) and config type, so each component observes and reads them typed.
import { FrameworkObject, type Framework } from '../../ops/index.js';
import type { CharmConfigOptions, CharmEventName } from '../generated/charm-types.js';

/** Custom events the build script and the copier fire through juju-exec, with the environment they carry. */
export const CUSTOM_EVENTS = {
  build_success: { env: ['OPENSTACK_IMAGE_ID', 'IMAGE_BASE'] },
  build_failed: { env: ['BUILD_EXIT_CODE', 'BUILD_FAILURE', 'IMAGE_BASE'] },
  /** The copier finished (its result is in COPY_RESULT_PATH, not in the event). */
  copies_done: { env: [] },
} as const;
export type Events = CharmEventName<keyof typeof CUSTOM_EVENTS>;
export type CharmFramework = Framework<Events, CharmConfigOptions>;

/** The charm or a component: what a component hangs under. */
export interface Parent {
  readonly framework: CharmFramework;
  readonly handle: string;
}

/** A component of this charm (ops' Object): its own handlers and stored state. */
export abstract class Component extends FrameworkObject<Events, CharmConfigOptions> {}
