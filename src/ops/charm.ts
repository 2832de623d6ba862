// The base class charms extend. A charm is built fresh for every dispatch, registers its
// observers in the constructor, and keeps nothing between hooks except stored state.
import type { CustomEventSpec, Framework } from './framework.js';
import type { Logger } from './log.js';
import type { Model } from './model.js';

export abstract class CharmBase {
  constructor(readonly framework: Framework) {}
  get model(): Model {
    return this.framework.model;
  }
  get log(): Logger {
    return this.framework.log;
  }
}

export interface CharmClass {
  new (framework: Framework): CharmBase;
  /** Custom events this charm declares, e.g. `{ build_success: { env: ['OPENSTACK_IMAGE_ID'] } }`. */
  readonly customEvents?: Readonly<Record<string, CustomEventSpec>>;
}
