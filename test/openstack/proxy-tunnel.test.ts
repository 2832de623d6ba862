// The real transport through a loopback proxy to an HTTPS fake cloud (self-signed certificate
// made with openssl): CONNECT tunnels with the cloud's cacert applied inside them, the proxy's
// refusals (407 with credentials that must not leak, 403) and an unreachable proxy. Also the
// downgrade refusal end to end: an https Keystone whose catalog lists an http Glance. No
// OpenStack services needed; real-services proxying is in proxy-real-services.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getLatestImage, parseCloudsYaml, resolveCloud, type CloudConfig, type ProxySettings } from '../../src/openstack/index.js';
import { allText, rejection, haveOpenssl, selfSignedLoopbackCert } from '../support/error-text.js';
import { startLoopbackProxy, type LoopbackProxy } from './loopback-proxy.js';

const PASSWORD = 'tunnel-Pa55w0rd-canary';
const TOKEN = 'tunnel-token-canary-0123456789';
const PROXY_PASSWORD = 'proxy-Pa55-canary';


function expectClean(err: unknown) {
  const text = allText(err);
  for (const secret of [PASSWORD, TOKEN, PROXY_PASSWORD, encodeURIComponent(PROXY_PASSWORD), Buffer.from(`bob:${PROXY_PASSWORD}`).toString('base64')]) {
    expect(text).not.toContain(secret);
  }
}

describe.skipIf(!haveOpenssl())('through a proxy to an HTTPS cloud', () => {
  let dir: string;
  let server: Server;
  let plainGlance: HttpServer;
  let base: string;
  let plainBase: string;
  /** The image endpoint the fake Keystone's catalog gives. */
  let imageUrl: string;
  const cloudRequests: string[] = [];
  const plainRequests: string[] = [];
  let proxy: LoopbackProxy | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'os-proxy-'));
    selfSignedLoopbackCert(dir);
    server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.pem')) }, (req, res) => {
      cloudRequests.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        if (req.url === '/v3/auth/tokens' && req.method === 'POST') {
          res.writeHead(201, { 'content-type': 'application/json', 'x-subject-token': TOKEN });
          res.end(JSON.stringify({ token: { project: { id: 'p' }, catalog: [{ type: 'image', endpoints: [{ interface: 'public', region_id: 'R', url: imageUrl }] }] } }));
        } else if (req.url?.startsWith('/v2/images?') && req.headers['x-auth-token'] === TOKEN) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ images: [{ id: 'tunnelled-image', name: 'n', status: 'active', created_at: '2024-01-01T00:00:00Z' }] }));
        } else {
          res.writeHead(404).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    plainGlance = createHttpServer((req, res) => {
      plainRequests.push(`${req.method} ${req.url} token=${req.headers['x-auth-token'] ?? ''}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"images": []}');
    });
    await new Promise<void>((resolve) => plainGlance.listen(0, '127.0.0.1', resolve));
    plainBase = `http://127.0.0.1:${(plainGlance.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    imageUrl = base;
    cloudRequests.length = 0;
    plainRequests.length = 0;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await new Promise((resolve) => plainGlance?.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cloud = (extra = `    cacert: ${join(dir, 'ca.pem')}\n`): CloudConfig =>
    resolveCloud(parseCloudsYaml(`clouds:\n  tls:\n    auth: {auth_url: "${base}", user_id: u, password: ${PASSWORD}, project_id: x}\n${extra}`));
  const via = (url: string, noProxy = ''): ProxySettings => ({ http: url, https: url, noProxy });

  it('CONNECT tunnels carry both requests; the cacert applies inside the tunnel; the proxy never sees the token', async () => {
    imageUrl = base;
    proxy = await startLoopbackProxy();
    const latest = await getLatestImage(cloud(), 'n', { proxy: via(proxy.url) });
    expect(latest?.id).toBe('tunnelled-image');
    const hostPort = base.slice('https://'.length);
    expect(proxy.seen).toEqual([
      { method: 'CONNECT', target: hostPort, proxyAuthorization: undefined, hadToken: false },
      { method: 'CONNECT', target: hostPort, proxyAuthorization: undefined, hadToken: false },
    ]);
    expect(cloudRequests).toHaveLength(2);
  });

  it('without the cacert the certificate is still checked through the tunnel: kind tls, not proxy', async () => {
    proxy = await startLoopbackProxy();
    const err = await rejection(getLatestImage(cloud(''), 'n', { proxy: via(proxy.url) }));
    expect(err.kind).toBe('tls');
    expect(err.message).toMatch(new RegExp(`^cloud "tls": POST ${base}/v3/auth/tokens via the proxy ${proxy.url}: TLS failure \\(\\w+\\); set cacert`));
    expect(proxy.seen).toHaveLength(1);
    expect(cloudRequests).toHaveLength(0);
  });

  it('the certificate is checked against the target, not "localhost" (which https-proxy-agent would use for an IP)', async () => {
    // A certificate for the name localhost only, served on 127.0.0.1: asked for https://127.0.0.1
    // it must be refused, through the tunnel as directly.
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'lh-key.pem'), '-out', join(dir, 'lh.pem')],
      { stdio: 'ignore' },
    );
    const other = createServer({ key: readFileSync(join(dir, 'lh-key.pem')), cert: readFileSync(join(dir, 'lh.pem')) }, (_req, res) => {
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const port = (other.address() as AddressInfo).port;
    const c = (host: string) =>
      resolveCloud(parseCloudsYaml(`clouds:\n  lh:\n    auth: {auth_url: "https://${host}:${port}", user_id: u, password: p, project_id: x}\n    cacert: ${join(dir, 'lh.pem')}\n`));
    try {
      proxy = await startLoopbackProxy();
      for (const settings of [via(proxy.url), undefined]) {
        const err = await rejection(getLatestImage(c('127.0.0.1'), 'n', { proxy: settings }));
        expect(err.kind).toBe('tls');
        expect(err.message).toContain('TLS failure (ERR_TLS_CERT_ALTNAME_INVALID)');
      }
      // By its name it is accepted (and answers 500): the check is the usual one, not a blanket refusal.
      const named = await rejection(getLatestImage(c('localhost'), 'n', { proxy: via(proxy.url) }));
      expect(named).toMatchObject({ kind: 'http', status: 500 });
      expect(proxy.seen.map((s) => s.target)).toEqual([`127.0.0.1:${port}`, `localhost:${port}`]);
    } finally {
      other.closeAllConnections();
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('proxy credentials go as Proxy-Authorization; right ones pass', async () => {
    proxy = await startLoopbackProxy({ credentials: `bob:${PROXY_PASSWORD}` });
    const url = `http://bob:${encodeURIComponent(PROXY_PASSWORD)}@127.0.0.1:${proxy.port}`;
    expect((await getLatestImage(cloud(), 'n', { proxy: via(url) }))?.id).toBe('tunnelled-image');
    expect(proxy.seen.map((s) => s.proxyAuthorization)).toEqual([
      `Basic ${Buffer.from(`bob:${PROXY_PASSWORD}`).toString('base64')}`,
      `Basic ${Buffer.from(`bob:${PROXY_PASSWORD}`).toString('base64')}`,
    ]);
  });

  it('407 on CONNECT (wrong credentials): kind proxy, names the proxy without credentials and the settings; no password anywhere', async () => {
    proxy = await startLoopbackProxy({ credentials: 'bob:the-right-one' });
    const url = `http://bob:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`;
    const err = await rejection(getLatestImage(cloud(), 'n', { proxy: via(url) }));
    expect(err).toMatchObject({ kind: 'proxy', status: 407, cloud: 'tls', url: `${base}/v3/auth/tokens` });
    expect(err.message).toBe(
      `cloud "tls": POST ${base}/v3/auth/tokens via the proxy http://127.0.0.1:${proxy.port}: the proxy wants credentials, or refused the ones in the setting: ` +
        `it answered CONNECT ${base.slice('https://'.length)} with HTTP 407 (Proxy Authentication Required); ` +
        "check the model's proxy settings (juju-https-proxy, juju-no-proxy)",
    );
    expectClean(err);
    expect(cloudRequests).toHaveLength(0);
  });

  it('a proxy that refuses the tunnel (403): kind proxy, and the cloud never saw the request', async () => {
    proxy = await startLoopbackProxy({ refuse: 403 });
    const err = await rejection(getLatestImage(cloud(), 'n', { proxy: via(proxy.url) }));
    expect(err).toMatchObject({ kind: 'proxy', status: 403 });
    expect(err.message).toMatch(/via the proxy http:\/\/127\.0\.0\.1:\d+: the proxy refused CONNECT 127\.0\.0\.1:\d+ with HTTP 403 \(Refused\); check the model's proxy settings \(juju-https-proxy, juju-no-proxy\)$/);
    expect(cloudRequests).toHaveLength(0);
  });

  it('a proxy that cannot be reached: kind proxy, "cannot connect to the proxy"', async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await rejection(getLatestImage(cloud(), 'n', { proxy: via(`http://bob:${PROXY_PASSWORD}@127.0.0.1:${port}`) }));
    expect(err).toMatchObject({ kind: 'proxy', status: undefined });
    expect(err.message).toBe(
      `cloud "tls": POST ${base}/v3/auth/tokens via the proxy http://127.0.0.1:${port}: cannot connect to the proxy (ECONNREFUSED); ` +
        "check the model's proxy settings (juju-https-proxy, juju-no-proxy)",
    );
    expectClean(err);
  });

  it('noProxy 127.0.0.1: direct, the proxy sees nothing', async () => {
    proxy = await startLoopbackProxy();
    expect((await getLatestImage(cloud(), 'n', { proxy: via(proxy.url, '127.0.0.1') }))?.id).toBe('tunnelled-image');
    expect(proxy.seen).toEqual([]);
  });

  it('https Keystone, http Glance in the catalog: refused; the http Glance receives nothing, through the proxy or not', async () => {
    imageUrl = plainBase;
    for (const noProxy of ['', '*']) {
      proxy = await startLoopbackProxy();
      const err = await rejection(getLatestImage(cloud(), 'n', { proxy: via(proxy.url, noProxy) }));
      expect(err.kind).toBe('catalog');
      expect(err.message).toContain(`the catalog's image endpoint ${plainBase} (interface public, region R) is http while auth_url is https`);
      expectClean(err);
      expect(proxy.seen.map((s) => s.method)).toEqual(noProxy ? [] : ['CONNECT']);
      await proxy.close();
      proxy = undefined;
    }
    expect(cloudRequests).toEqual(['POST /v3/auth/tokens', 'POST /v3/auth/tokens']);
    expect(plainRequests).toEqual([]);
  });
});
