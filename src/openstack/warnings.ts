// Settings that work but weaken the cloud's security: one line each, saying what to do. The
// charm logs them and shows them in its status. Pure: no I/O, nothing loaded.
import type { CloudConfig } from './clouds.js';
import { quoteCloudName } from './cloud-name.js';
import { redactUrl } from './errors.js';

/** One-line warnings about `cloud`'s settings; [] when there is nothing to say. */
export function cloudWarnings(cloud: CloudConfig): string[] {
  const name = quoteCloudName(cloud.name);
  const warnings: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(cloud.authUrl);
  } catch {
    url = undefined; // requests report a bad auth_url themselves
  }
  if (url?.protocol === 'http:' && !isLoopback(url.hostname)) {
    warnings.push(
      `cloud ${name} uses plain http (auth_url ${redactUrl(cloud.authUrl)}): the password and tokens cross the network unencrypted; use the cloud's https Keystone URL`,
    );
  }
  if (!cloud.verify) {
    warnings.push(
      `TLS verification is off for cloud ${name} (verify: false): anyone on the path can pose as the cloud and take the password; remove verify: false and set cacert to the CA that signed the cloud's certificate`,
    );
  }
  return warnings;
}

/** 127.0.0.0/8, ::1 (and IPv4-mapped 127.x), localhost and *.localhost: traffic that never leaves the machine. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true;
  // WHATWG URLs compress IPv6: ::1, and ::ffff:7f00:1 for ::ffff:127.0.0.1.
  return host === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(host) || /^::ffff:127\./.test(host);
}
