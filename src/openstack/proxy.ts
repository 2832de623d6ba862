// The model's HTTP(S) proxy, given explicitly (the charm passes Juju's JUJU_CHARM_*_PROXY values;
// this module never reads the environment): which proxy a URL goes through, if any, and the
// failure type the transport reports when the proxy itself is the problem. The proxy libraries
// are loaded by tls-fetch.ts only when a request actually goes through a proxy.
import { OpenStackError } from './errors.js';
import { bypassesProxy, parseNoProxy, type NoProxyRules } from './no-proxy.js';

export interface ProxySettings {
  /** Proxy for http:// URLs, e.g. http://squid.internal:3128 (Juju: juju-http-proxy). '' means none. */
  readonly http?: string | undefined;
  /** Proxy for https:// URLs, reached with CONNECT (Juju: juju-https-proxy). '' means none. */
  readonly https?: string | undefined;
  /** Hosts that go direct, comma-separated: see no-proxy.ts for the rules (Juju: juju-no-proxy). */
  readonly noProxy?: string | undefined;
}

/** Where a request goes: through this proxy. */
export interface ProxyRoute {
  /** The proxy's URL without userinfo. */
  readonly url: URL;
  /** The Proxy-Authorization header value, from the userinfo of the setting. */
  readonly authorization: string | undefined;
  /** The proxy as error messages name it (no credentials). */
  readonly shown: string;
  /** The setting it came from, for "check juju-https-proxy". */
  readonly setting: 'juju-http-proxy' | 'juju-https-proxy';
}

export interface ProxyRouter {
  /** The proxy for this URL, or undefined when it goes direct; throws OpenStackError ('proxy') for an unusable setting. */
  route(url: URL): ProxyRoute | undefined;
  /** The credentials in the settings, in every form they could take in a text: scrubbed from errors. */
  readonly secrets: readonly string[];
}

export const proxyHint = (setting: string): string => `check the model's proxy settings (${setting}, juju-no-proxy)`;

/** The router for these settings; undefined when neither proxy is set (requests go direct). */
export function proxyRouter(settings: ProxySettings | undefined, cloud: string): ProxyRouter | undefined {
  const http = settings?.http?.trim() ? parseSetting(settings.http.trim(), 'juju-http-proxy', cloud) : undefined;
  const https = settings?.https?.trim() ? parseSetting(settings.https.trim(), 'juju-https-proxy', cloud) : undefined;
  if (!http && !https) return undefined;
  const rules: NoProxyRules = parseNoProxy(settings?.noProxy);
  const secrets = [http, https].flatMap((p) => (p && !(p instanceof OpenStackError) ? p.secrets : []));
  return {
    route(url: URL) {
      const parsed = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
      if (!parsed || bypassesProxy(url, rules)) return undefined;
      if (parsed instanceof OpenStackError) throw parsed;
      return parsed.route;
    },
    secrets,
  };
}

/**
 * A proxy setting as a route (and its credentials' forms), or the error to raise when a request
 * needs it. Schemeless values ("squid:3128") are http://, as curl takes them. The value itself is
 * never quoted: it may hold a password, and a malformed one cannot be redacted reliably.
 */
function parseSetting(value: string, setting: ProxyRoute['setting'], cloud: string): { route: ProxyRoute; secrets: string[] } | OpenStackError {
  const bad = (what: string) => new OpenStackError({ kind: 'proxy', cloud, detail: `the model's ${setting} setting ${what}; ${proxyHint(setting)}` });
  let raw: URL;
  try {
    raw = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    return bad('is not a valid URL (expected http://host:port)');
  }
  if (raw.protocol !== 'http:' && raw.protocol !== 'https:') {
    return bad(`uses ${raw.protocol.slice(0, 20)}//, which is not supported; use an http:// or https:// proxy`);
  }
  // The libraries get the URL without userinfo and the header instead, so nothing they log or
  // throw can carry the password.
  const url = new URL(raw.href);
  url.username = '';
  url.password = '';
  url.hash = '';
  const route = { url, authorization: undefined as string | undefined, shown: url.href.replace(/\/$/, ''), setting };
  if (!raw.username && !raw.password) return { route, secrets: [] };
  const user = safeDecode(raw.username);
  const password = safeDecode(raw.password);
  const basic = Buffer.from(`${user}:${password}`).toString('base64');
  route.authorization = `Basic ${basic}`;
  // A user part alone (http://TOKEN@proxy) is the secret itself.
  const alone = raw.password ? [] : [raw.username, user];
  return { route, secrets: [raw.password, password, `${raw.username}:${raw.password}`, `${user}:${password}`, basic, ...alone] };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The proxy, not the cloud, failed the request: it could not be reached, or it refused (HTTP 407
 * wants credentials, 403 forbids the host, 502 could not reach it). http.ts turns it into an
 * OpenStackError of kind 'proxy'.
 */
export class ProxyFailure extends Error {
  override readonly name = 'ProxyFailure';

  constructor(
    /** The sentence after "via the proxy X: ", e.g. "cannot connect to the proxy (ECONNREFUSED)". */
    readonly what: string,
    readonly route: ProxyRoute,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(what, options);
  }
}
