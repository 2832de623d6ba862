// NO_PROXY matching, the way curl reads it (and Juju's juju-no-proxy is written for it). Entries
// are separated by commas or white space; case and a trailing dot are ignored:
//
//   *                    every host bypasses the proxy
//   example.com          that host and all its subdomains; ".example.com" and "*.example.com"
//                        mean the same (curl drops the leading dot)
//   example.com:5000     the same, on that port only (the URL's port, or 80/443 by its scheme)
//   10.1.2.3, ::1        that IP address, given literally in the URL (also [::1]:5000)
//   10.0.0.0/8, fd00::/8 IP addresses in that range
//
// Nothing is resolved: a host name never matches an IP rule, nor an IP a name rule. Loopback is
// not bypassed unless listed (Juju's default no-proxy lists 127.0.0.1, localhost and ::1).
// Entries that are none of the above (e.g. "10.0.0.0/99") match nothing.
import { BlockList, isIP } from 'node:net';

export interface NoProxyRules {
  /** `*` was given: nothing goes through a proxy. */
  readonly all: boolean;
  /** Domain rules, lower case, without leading dot or trailing dot. */
  readonly domains: readonly { readonly domain: string; readonly port: number | undefined }[];
  /** IP and CIDR rules, with their port (undefined: any). */
  readonly ips: readonly { readonly list: BlockList; readonly port: number | undefined }[];
}

/** The rules of a NO_PROXY value; '' or undefined gives no rules. */
export function parseNoProxy(value: string | undefined): NoProxyRules {
  const rules = { all: false, domains: [] as { domain: string; port: number | undefined }[], ips: [] as { list: BlockList; port: number | undefined }[] };
  for (const raw of (value ?? '').split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') {
      rules.all = true;
      continue;
    }
    const { host, port } = splitPort(entry);
    if (port === null || host === '') continue;
    const ip = ipRule(host);
    if (ip) rules.ips.push({ list: ip, port });
    else if (!host.includes('/')) {
      const domain = host.replace(/^\*?\.?/, '').replace(/\.$/, '');
      if (domain) rules.domains.push({ domain, port });
    }
  }
  return rules;
}

/** True when `url`'s host is covered by the NO_PROXY rules (or value), i.e. it goes direct. */
export function bypassesProxy(url: URL | string, noProxy: NoProxyRules | string | undefined): boolean {
  const rules = typeof noProxy === 'string' || noProxy === undefined ? parseNoProxy(noProxy) : noProxy;
  if (rules.all) return true;
  const target = typeof url === 'string' ? new URL(url) : url;
  const host = target.hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  const port = target.port ? Number(target.port) : target.protocol === 'https:' ? 443 : 80;
  const portOk = (p: number | undefined) => p === undefined || p === port;
  const family = isIP(host);
  if (family) return rules.ips.some((r) => portOk(r.port) && r.list.check(host, family === 6 ? 'ipv6' : 'ipv4'));
  return rules.domains.some((r) => portOk(r.port) && (host === r.domain || host.endsWith(`.${r.domain}`)));
}

/** "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address; port null when invalid. */
function splitPort(entry: string): { host: string; port: number | undefined | null } {
  const bracketed = /^\[([^\]]*)\](?::(\d+))?(\/\d+)?$/.exec(entry);
  if (bracketed) return { host: `${bracketed[1]}${bracketed[3] ?? ''}`, port: toPort(bracketed[2]) };
  const colons = entry.split(':').length - 1;
  if (colons === 1) {
    const [host = '', port] = entry.split(':');
    return { host, port: toPort(port) };
  }
  return { host: entry, port: undefined };
}

function toPort(text: string | undefined): number | undefined | null {
  if (text === undefined) return undefined;
  const port = Number(text);
  return /^\d{1,5}$/.test(text) && port > 0 && port < 65536 ? port : null;
}

/** A BlockList holding the address or subnet, or undefined when `host` is neither. */
function ipRule(host: string): BlockList | undefined {
  const [addr = '', bits, ...rest] = host.split('/');
  const family = isIP(addr);
  if (!family || rest.length) return undefined;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  const list = new BlockList();
  if (bits === undefined) {
    list.addAddress(addr, type);
    return list;
  }
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > (family === 6 ? 128 : 32)) return undefined;
  list.addSubnet(addr, prefix, type);
  return list;
}
