// The proxy settings without any network: NO_PROXY matching, which proxy a URL takes, settings
// that cannot be used, and the forms of the credentials that errors scrub.
import { describe, expect, it } from 'vitest';
import { OpenStackError, bypassesProxy, getLatestImage, parseCloudsYaml, parseNoProxy, proxyRouter, resolveCloud } from '../../src/openstack/index.js';
import { allText } from '../support/error-text.js';

describe('NO_PROXY matching', () => {
  const cases: [noProxy: string, url: string, direct: boolean][] = [
    ['', 'http://127.0.0.1:5000/v3', false],
    ['*', 'https://anything.example:443/', true],
    [' * ', 'http://x/', true],
    // host names: the host and its subdomains, with or without a leading dot or "*."
    ['example.com', 'https://example.com/', true],
    ['example.com', 'https://keystone.example.com:5000/v3', true],
    ['example.com', 'https://notexample.com/', false],
    ['example.com', 'https://example.com.evil.test/', false],
    ['.example.com', 'https://example.com/', true],
    ['.example.com', 'https://a.b.example.com/', true],
    ['*.example.com', 'https://glance.example.com/', true],
    ['EXAMPLE.COM.', 'https://Glance.Example.Com./', true],
    ['localhost', 'http://localhost:9292/', true],
    ['localhost', 'http://127.0.0.1:9292/', false], // nothing is resolved
    // host:port: that port only (scheme defaults count)
    ['example.com:5000', 'https://k.example.com:5000/', true],
    ['example.com:5000', 'https://k.example.com:9292/', false],
    ['example.com:443', 'https://k.example.com/', true],
    ['example.com:80', 'http://k.example.com/', true],
    ['example.com:80', 'https://k.example.com/', false],
    // IP literals and ranges
    ['127.0.0.1', 'http://127.0.0.1:5000/', true],
    ['127.0.0.1', 'http://127.0.0.2:5000/', false],
    ['127.0.0.1:9292', 'http://127.0.0.1:5000/', false],
    ['127.0.0.1:9292', 'http://127.0.0.1:9292/', true],
    ['127.0.0.0/8', 'http://127.1.2.3/', true],
    ['10.0.0.0/8', 'http://11.0.0.1/', false],
    ['10.20.0.0/16', 'https://10.20.30.40:5000/', true],
    ['10.20.0.0/16', 'https://10.21.0.1:5000/', false],
    ['::1', 'http://[::1]:5000/', true],
    ['[::1]', 'http://[::1]:5000/', true],
    ['[::1]:5000', 'http://[::1]:5000/', true],
    ['[::1]:5000', 'http://[::1]:9292/', false],
    ['0:0:0:0:0:0:0:1', 'http://[::1]/', true],
    ['fd00::/8', 'http://[fd12:3456::1]/', true],
    ['fd00::/8', 'http://[fe80::1]/', false],
    ['10.0.0.1', 'http://ten.example/', false], // a name never matches an IP rule
    // lists: commas and/or spaces; junk entries match nothing
    ['foo.test, bar.test 127.0.0.1', 'http://127.0.0.1/', true],
    ['foo.test,,bar.test', 'http://x.bar.test/', true],
    ['10.0.0.0/99,bad:port,/', 'http://10.0.0.1/', false],
    // Juju's default juju-no-proxy
    ['127.0.0.1,localhost,::1', 'http://127.0.0.1:5000/v3', true],
    ['127.0.0.1,localhost,::1', 'http://keystone.example:5000/v3', false],
  ];
  for (const [noProxy, url, direct] of cases) {
    it(`${JSON.stringify(noProxy)} ${direct ? 'bypasses' : 'does not bypass'} ${url}`, () => {
      expect(bypassesProxy(url, noProxy)).toBe(direct);
      expect(bypassesProxy(new URL(url), parseNoProxy(noProxy))).toBe(direct);
    });
  }
});

describe('proxyRouter', () => {
  const u = (s: string) => new URL(s);

  it('no proxy set (undefined, empty or blank values): no router, requests go direct', () => {
    expect(proxyRouter(undefined, 'c')).toBeUndefined();
    expect(proxyRouter({}, 'c')).toBeUndefined();
    expect(proxyRouter({ http: '', https: '  ', noProxy: 'x' }, 'c')).toBeUndefined();
  });

  it('https URLs take the https proxy, http URLs the http one; no fallback between them', () => {
    const both = proxyRouter({ http: 'http://plain.proxy:3128', https: 'http://tunnel.proxy:3129' }, 'c')!;
    expect(both.route(u('https://keystone.example/v3'))?.shown).toBe('http://tunnel.proxy:3129');
    expect(both.route(u('https://keystone.example/v3'))?.setting).toBe('juju-https-proxy');
    expect(both.route(u('http://keystone.example/v3'))?.shown).toBe('http://plain.proxy:3128');
    expect(both.route(u('http://keystone.example/v3'))?.setting).toBe('juju-http-proxy');
    const httpsOnly = proxyRouter({ https: 'http://tunnel.proxy:3129' }, 'c')!;
    expect(httpsOnly.route(u('http://keystone.example/v3'))).toBeUndefined();
  });

  it('noProxy sends matching hosts direct', () => {
    const r = proxyRouter({ http: 'http://p:3128', https: 'http://p:3128', noProxy: '.internal,10.0.0.0/8' }, 'c')!;
    expect(r.route(u('https://keystone.internal:5000/v3'))).toBeUndefined();
    expect(r.route(u('http://10.1.2.3:9292/'))).toBeUndefined();
    expect(r.route(u('https://keystone.example:5000/v3'))?.url.href).toBe('http://p:3128/');
  });

  it('a schemeless setting is http:// (as curl reads it)', () => {
    expect(proxyRouter({ https: 'squid.internal:3128' }, 'c')!.route(u('https://k/'))?.url.href).toBe('http://squid.internal:3128/');
  });

  it('credentials: kept out of the URL and the name shown, sent as Proxy-Authorization, every form listed as a secret', () => {
    const r = proxyRouter({ https: 'http://bob:s3cr%40t-canary@proxy.example:3128' }, 'c')!;
    const route = r.route(u('https://k/'))!;
    expect(route.url.href).toBe('http://proxy.example:3128/');
    expect(route.shown).toBe('http://proxy.example:3128');
    expect(route.authorization).toBe(`Basic ${Buffer.from('bob:s3cr@t-canary').toString('base64')}`);
    expect(r.secrets).toEqual(
      expect.arrayContaining(['s3cr%40t-canary', 's3cr@t-canary', 'bob:s3cr%40t-canary', 'bob:s3cr@t-canary', Buffer.from('bob:s3cr@t-canary').toString('base64')]),
    );
    // A user part alone is the secret itself.
    expect(proxyRouter({ http: 'http://tok3n-canary@p:1' }, 'c')!.secrets).toContain('tok3n-canary');
  });

  it('an unusable setting fails the requests that need it (kind proxy), never quoting the value', () => {
    const r = proxyRouter({ http: 'http://ok.proxy:3128', https: 'socks5://user:pw-canary@p:1080' }, 'c')!;
    expect(r.route(u('http://k/'))?.shown).toBe('http://ok.proxy:3128'); // the other one still works
    let err: unknown;
    try {
      r.route(u('https://k/'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err).toMatchObject({ kind: 'proxy', cloud: 'c' });
    expect((err as Error).message).toBe(
      "cloud \"c\": the model's juju-https-proxy setting uses socks5://, which is not supported; use an http:// or https:// proxy; " +
        "check the model's proxy settings (juju-https-proxy, juju-no-proxy)",
    );
    expect(allText(err)).not.toContain('pw-canary');
    // Going direct, an unusable setting does not matter.
    expect(proxyRouter({ https: 'socks5://p:1080', noProxy: 'k' }, 'c')!.route(u('https://k/'))).toBeUndefined();

    const bad = proxyRouter({ https: 'http://user:pw-canary@[bad' }, 'c')!;
    expect(() => bad.route(u('https://k/'))).toThrow(/juju-https-proxy setting is not a valid URL \(expected http:\/\/host:port\)/);
  });
});

describe('the client with an unusable proxy setting', () => {
  it('fails before connecting anywhere, kind proxy, without the credentials', async () => {
    const cloud = resolveCloud(parseCloudsYaml('clouds:\n  c:\n    auth: {auth_url: "https://keystone.invalid:5000", user_id: u, password: pw, project_id: p}\n'));
    const err = await getLatestImage(cloud, 'n', { proxy: { https: 'socks5://ops:pw-canary@proxy.invalid:1080' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err).toMatchObject({ kind: 'proxy', cloud: 'c' });
    expect((err as Error).message).toMatch(/^cloud "c": the model's juju-https-proxy setting uses socks5:\/\/, which is not supported/);
    expect(allText(err)).not.toContain('pw-canary');
  });
});
