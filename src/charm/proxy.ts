// Juju's model proxy settings (juju-http-proxy etc. arrive as JUJU_CHARM_*_PROXY), turned into
// the variables apt, pipx, pip and the builder read. Both spellings, since tools disagree.
import type { Env } from './host.js';

/** The model settings behind each variable, as operators set them (`juju model-config`). */
const MODEL_SETTINGS = {
  JUJU_CHARM_HTTP_PROXY: 'juju-http-proxy',
  JUJU_CHARM_HTTPS_PROXY: 'juju-https-proxy',
  JUJU_CHARM_NO_PROXY: 'juju-no-proxy',
} as const;

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

/**
 * The proxy settings as the OpenStack client takes them (empty ones left out). Only call after
 * proxyProblems found nothing.
 */
export function clientProxy(env: Env): { http?: string; https?: string; noProxy?: string } {
  return {
    ...(env.JUJU_CHARM_HTTP_PROXY ? { http: env.JUJU_CHARM_HTTP_PROXY } : {}),
    ...(env.JUJU_CHARM_HTTPS_PROXY ? { https: env.JUJU_CHARM_HTTPS_PROXY } : {}),
    ...(env.JUJU_CHARM_NO_PROXY ? { noProxy: env.JUJU_CHARM_NO_PROXY } : {}),
  };
}

/**
 * A proxy value with a control character (a newline could add lines to files the build reads)
 * is refused like invalid config. The value itself is never shown: it may hold credentials.
 */
export function proxyProblems(env: Env): string[] {
  const problems: string[] = [];
  for (const [variable, setting] of Object.entries(MODEL_SETTINGS)) {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(env[variable] ?? '')) {
      const example = setting === 'juju-no-proxy' ? '127.0.0.1,localhost,.internal' : 'http://proxy.example:3128';
      problems.push(`the model's ${setting} contains a control character (newline, tab...); set it without one, e.g. juju model-config ${setting}=${example}`);
    }
  }
  return problems;
}

/**
 * The builder VM's proxy as the app's `--proxy` takes it: `host:port`, no scheme, no
 * credentials (aproxy in the VM forwards to it), from juju-https-proxy, else juju-http-proxy. A
 * URL without a port gets its scheme's (80 for http, 443 for https). Credentials cannot be
 * passed: they are left out and `credentialsDropped` says so (the value is never shown).
 * Empty when the model has no proxy or its value is not a URL.
 */
export function builderVmProxy(env: Env): { proxy: string; credentialsDropped: boolean } {
  const raw = (env.JUJU_CHARM_HTTPS_PROXY || env.JUJU_CHARM_HTTP_PROXY || '').trim();
  // [scheme://][credentials@]host[:port][/...]: the credentials end at the last "@" (they may hold
  // anything a URL parser would refuse); the host is a DNS name, an IPv4 or a bracketed IPv6.
  const m = /^(?:([A-Za-z][A-Za-z0-9+.-]*):\/\/)?(?:([^]*)@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(?:[/?#][^]*)?$/.exec(raw);
  if (!m) return { proxy: '', credentialsDropped: false };
  const [, scheme, credentials, hostname, port] = m;
  return { proxy: `${hostname}:${port ?? (scheme?.toLowerCase() === 'https' ? '443' : '80')}`, credentialsDropped: credentials !== undefined };
}
