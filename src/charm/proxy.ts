// Juju's model proxy settings (juju-http-proxy etc. arrive as JUJU_CHARM_*_PROXY), turned into
// the variables apt, pipx, pip and the builder read. Both spellings, since tools disagree.
import type { Env } from './host.js';

export function proxyEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  const set = (name: string, value: string | undefined) => {
    if (value) {
      out[name] = value;
      out[name.toUpperCase()] = value;
    }
  };
  set('http_proxy', env.JUJU_CHARM_HTTP_PROXY);
  set('https_proxy', env.JUJU_CHARM_HTTPS_PROXY);
  set('no_proxy', env.JUJU_CHARM_NO_PROXY);
  return out;
}
