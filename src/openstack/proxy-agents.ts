// The proxy libraries, in one module that tls-fetch.ts imports dynamically: the bundle puts them
// (with agent-base and debug) into one chunk, loaded only by a hook whose request uses a proxy.
import type { Agent } from 'node:http';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import type { ProxyRoute } from './proxy.js';

/**
 * An agent for requests through `route`: a CONNECT tunnel for https targets (TLS to the cloud
 * inside it), absolute-URI requests for http ones. The credentials go as a header, never in the
 * URL the libraries hold (and log, under DEBUG).
 */
export function proxyAgent(route: ProxyRoute, secureTarget: boolean): Agent {
  const headers: Record<string, string> = route.authorization ? { 'Proxy-Authorization': route.authorization } : {};
  return secureTarget ? new HttpsProxyAgent(route.url, { headers }) : new HttpProxyAgent(route.url, { headers });
}

/**
 * The certificate check for an https target reached through a tunnel. https-proxy-agent drops the
 * host when it starts TLS inside the tunnel and sets no SNI name for an IP, so Node would check
 * the certificate of https://10.0.0.5 against "localhost": check it against the target instead.
 */
export function targetIdentityCheck(hostname: string): (host: string, cert: PeerCertificate) => Error | undefined {
  const target = hostname.replace(/^\[|\]$/g, '');
  return (_host, cert) => checkServerIdentity(target, cert);
}
