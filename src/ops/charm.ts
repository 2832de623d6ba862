// The base class charms extend, and the one components extend. A charm is built fresh for every
// dispatch, registers its observers in the constructor, and keeps nothing between hooks except
// stored state.
import { ModelError } from './errors.js';
import type { CustomEventSpec, Framework, Owner } from './framework.js';
import type { Logger } from './log.js';
import type { ConfigShape, Model } from './model.js';

/**
 * A charm. `E` and `C` type its events and config (see Framework), e.g.
 * `CharmBase<CharmEventName<keyof typeof customEvents>, CharmConfigOptions>` with the types
 * scripts/gen-charm-types.mjs generates from the charm's YAML files.
 *
 * Its handle, the root of every observer key, is its class name (`MyCharm`).
 */
export abstract class CharmBase<E extends string = string, C extends object = ConfigShape> implements Owner {
  readonly handle: string;

  constructor(readonly framework: Framework<E, C>) {
    this.handle = framework.registerHandle(new.target.name || 'charm', true);
  }
  get model(): Model<C> {
    return this.framework.model;
  }
  get log(): Logger {
    return this.framework.log;
  }

  /**
   * The config parsed by `parse`, or undefined when it throws ConfigInvalid: then the unit is
   * blocked with the error's message at the end of the dispatch (Framework.loadConfig).
   */
  loadConfig<T>(parse: (config: Readonly<C>) => Promise<T>): Promise<T | undefined>;
  loadConfig<T>(parse: (config: Readonly<C>) => T): T | undefined;
  loadConfig<T>(parse: (config: Readonly<C>) => T | Promise<T>): T | undefined | Promise<T | undefined> {
    return this.framework.loadConfig(parse);
  }
}

/**
 * A component of a charm that observes events itself (ops' Object): its handle is its
 * parent's plus `/<key>`, e.g. `MyCharm/relations`, and must be unique.
 *
 *   class Relations extends FrameworkObject {
 *     constructor(parent: CharmBase) {
 *       super(parent, 'relations');
 *       this.framework.observe('config_changed', this, this.onConfig);
 *     }
 *   }
 */
export class FrameworkObject<E extends string = string, C extends object = ConfigShape> implements Owner {
  readonly framework: Framework<E, C>;
  readonly handle: string;

  constructor(parent: { readonly framework: Framework<E, C>; readonly handle: string }, key: string) {
    if (!/^[^/]+$/.test(key)) throw new ModelError(`component key ${JSON.stringify(key)} must be non-empty and without "/"`);
    this.framework = parent.framework;
    this.handle = parent.framework.registerHandle(`${parent.handle}/${key}`);
  }
  get model(): Model<C> {
    return this.framework.model;
  }
  get log(): Logger {
    return this.framework.log;
  }
}

/**
 * A charm class. Without type arguments it is any charm class, typed or not: what `main`,
 * `dispatch` and the testing Context take.
 */
export interface CharmClass<E extends string = never, C extends object = never> {
  new (framework: Framework<E, C>): object;
  /** Custom events this charm declares, e.g. `{ build_success: { env: ['OPENSTACK_IMAGE_ID'] } }`. */
  readonly customEvents?: Readonly<Record<string, CustomEventSpec>>;
}
