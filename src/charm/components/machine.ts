// What every component works on: the machine (files under CHARM_HOST_ROOT and host programs,
// for this hook's environment) and the cloud. Not a component: it observes nothing and keeps
// nothing between hooks. Tests give their own host and cloud (CharmDeps).
import type { Framework } from '../../ops/index.js';
import type { UnitContext } from '../builder.js';
import { openstackCloud, type CloudAccess, type CloudPort } from '../cloud-port.js';
import { Host, type Env } from '../host.js';
import { clientProxy } from '../proxy.js';

/** What the charm works on; tests give their own. */
export interface CharmDeps {
  readonly host: (env: Env) => Host;
  readonly cloud: CloudPort;
}

export const REAL_DEPS: CharmDeps = { host: (env) => new Host(env), cloud: openstackCloud };

export class Machine {
  private hostCache: Host | undefined;

  constructor(
    private readonly framework: Pick<Framework, 'model' | 'log'>,
    private readonly deps: CharmDeps,
  ) {}

  /** Made on first use: hooks that touch no file or program never build it. */
  get host(): Host {
    return (this.hostCache ??= this.deps.host(this.framework.model.context.env));
  }

  /** The host, and where the builder module reports problems that do not stop a step. */
  get unit(): UnitContext {
    return { host: this.host, warn: (m) => this.framework.log.warning(m) };
  }

  get cloud(): CloudPort {
    return this.deps.cloud;
  }

  /** How to reach a cloud of a clouds.yaml: through the model's proxy settings. */
  access(cloudsYaml: string, cloudName: string): CloudAccess {
    return { cloudsYaml, cloudName, proxy: clientProxy(this.framework.model.context.env) };
  }
}
