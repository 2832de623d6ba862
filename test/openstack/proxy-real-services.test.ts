// get-latest through the model's proxy against the real Keystone + Glance (scripts/openstack/
// start.sh), with a loopback forward proxy that records what it forwarded. The services are
// plain http on 127.0.0.1, so requests go as absolute-URI requests; CONNECT tunnels are covered
// against an HTTPS fake in proxy-tunnel.test.ts. Outside CI, without the services, this file
// reports NOT RUN; in CI it fails.
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getLatestImage, parseCloudsYaml, resolveCloud, type CloudConfig, type ProxySettings } from '../../src/openstack/index.js';
import { allText, rejection } from '../support/error-text.js';
import { SuiteImages, openstackSuite, type CreatedImage } from '../support/openstack.js';
import { guardOpenStackSuite } from '../support/openstack-guard.js';
import { startLoopbackProxy, type LoopbackProxy } from './loopback-proxy.js';

const suite = await openstackSuite();
const PROXY_PASSWORD = 'proxy-Pa55w0rd-canary';


if (guardOpenStackSuite(suite, 'get-latest through a proxy')) {
  describe('get-latest through a proxy, against real Keystone + Glance', () => {
    const run = `p${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const name = `${run}-noble-runner-x64`;
    let images: SuiteImages;
    let cloud: CloudConfig;
    let expected: CreatedImage;
    let proxy: LoopbackProxy | undefined;
    const via = (url: string, noProxy = ''): ProxySettings => ({ http: url, https: url, noProxy });
    const keystone = new URL(suite.keystoneUrl);
    const glance = new URL(suite.glanceUrl);

    beforeAll(async () => {
      images = await SuiteImages.open(suite, 'demo');
      cloud = resolveCloud(parseCloudsYaml(suite.cloudsYaml), suite.cloudName);
      expected = await images.createActive(name);
    });

    afterEach(async () => {
      await proxy?.close();
      proxy = undefined;
    });

    afterAll(async () => {
      await images?.cleanup();
    });

    it('noProxy empty: both requests go through the proxy, and the image is found', async () => {
      proxy = await startLoopbackProxy();
      const latest = await getLatestImage(cloud, name, { proxy: via(proxy.url) });
      expect(latest).toMatchObject({ id: expected.id, name, status: 'active' });
      expect(proxy.seen).toHaveLength(2);
      expect(proxy.seen[0]).toMatchObject({ method: 'POST', target: `${suite.keystoneUrl}/auth/tokens`, hadToken: false });
      expect(proxy.seen[1]!.method).toBe('GET');
      expect(proxy.seen[1]!.target).toMatch(new RegExp(`^${glance.origin.replace(/\./g, '\\.')}/v2/images\\?`));
      expect(new URL(proxy.seen[1]!.target).searchParams.get('name')).toBe(name);
      expect(proxy.seen[1]!.hadToken).toBe(true);
    });

    for (const noProxy of ['127.0.0.1', '127.0.0.1,localhost,::1', '127.0.0.0/8', `127.0.0.1:${keystone.port},127.0.0.1:${glance.port}`, '*']) {
      it(`noProxy ${JSON.stringify(noProxy)}: direct, the proxy sees nothing`, async () => {
        proxy = await startLoopbackProxy();
        expect((await getLatestImage(cloud, name, { proxy: via(proxy.url, noProxy) }))?.id).toBe(expected.id);
        expect(proxy.seen).toEqual([]);
      });
    }

    it('noProxy "localhost" matches by name: Keystone at localhost goes direct, Glance (127.0.0.1 in the catalog) through the proxy', async () => {
      const local = resolveCloud(parseCloudsYaml(suite.cloudsYaml.replace(suite.keystoneUrl, suite.keystoneUrl.replace('127.0.0.1', 'localhost'))), suite.cloudName);
      expect(local.authUrl).toContain('//localhost:');
      proxy = await startLoopbackProxy();
      expect((await getLatestImage(local, name, { proxy: via(proxy.url, 'localhost') }))?.id).toBe(expected.id);
      expect(proxy.seen.map((s) => s.method)).toEqual(['GET']);
      proxy.seen.length = 0;
      expect((await getLatestImage(local, name, { proxy: via(proxy.url, 'localhost,127.0.0.1') }))?.id).toBe(expected.id);
      expect(proxy.seen).toEqual([]);
    });

    it('proxy credentials: the right ones pass as Proxy-Authorization', async () => {
      proxy = await startLoopbackProxy({ credentials: `ops:${PROXY_PASSWORD}` });
      const url = `http://ops:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`;
      expect((await getLatestImage(cloud, name, { proxy: via(url) }))?.id).toBe(expected.id);
      expect(proxy.seen.map((s) => s.proxyAuthorization)).toEqual(Array(2).fill(`Basic ${Buffer.from(`ops:${PROXY_PASSWORD}`).toString('base64')}`));
    });

    it('a proxy that refuses the credentials (407): kind proxy, names the proxy without them, no password anywhere', async () => {
      proxy = await startLoopbackProxy({ credentials: 'ops:the-right-one' });
      const url = `http://ops:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`;
      const err = await rejection(getLatestImage(cloud, name, { proxy: via(url) }));
      expect(err).toMatchObject({ kind: 'proxy', status: 407, cloud: suite.cloudName, url: `${suite.keystoneUrl}/auth/tokens` });
      expect(err.message).toBe(
        `cloud "${suite.cloudName}": POST ${suite.keystoneUrl}/auth/tokens via the proxy http://127.0.0.1:${proxy.port}: ` +
          `the proxy wants credentials, or refused the ones in the setting: it answered POST ${keystone.host} with HTTP 407 (Proxy Authentication Required); ` +
          "check the model's proxy settings (juju-http-proxy, juju-no-proxy)",
      );
      const text = allText(err);
      for (const secret of [PROXY_PASSWORD, `ops:${PROXY_PASSWORD}`, Buffer.from(`ops:${PROXY_PASSWORD}`).toString('base64'), suite.canaryPassword]) {
        expect(text).not.toContain(secret);
      }
      expect(proxy.seen).toHaveLength(1);
    });

    it('a proxy that cannot be reached: kind proxy, says so and where to look', async () => {
      const srv = createServer();
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      const port = (srv.address() as AddressInfo).port;
      await new Promise((resolve) => srv.close(resolve));
      const err = await rejection(getLatestImage(cloud, name, { proxy: via(`http://ops:${PROXY_PASSWORD}@127.0.0.1:${port}`) }));
      expect(err).toMatchObject({ kind: 'proxy' });
      expect(err.message).toBe(
        `cloud "${suite.cloudName}": POST ${suite.keystoneUrl}/auth/tokens via the proxy http://127.0.0.1:${port}: cannot connect to the proxy (ECONNREFUSED); ` +
          "check the model's proxy settings (juju-http-proxy, juju-no-proxy)",
      );
      expect(allText(err)).not.toContain(PROXY_PASSWORD);
    });

    it('a proxy that cannot reach the cloud (502): kind http, with the proxy named and the settings to check', async () => {
      proxy = await startLoopbackProxy({ refuse: 502 });
      const err = await rejection(getLatestImage(cloud, name, { proxy: via(proxy.url) }));
      expect(err).toMatchObject({ kind: 'http', status: 502 });
      expect(err.message).toBe(
        `cloud "${suite.cloudName}": POST ${suite.keystoneUrl}/auth/tokens via the proxy ${proxy.url} returned HTTP 502 (refused by the loopback proxy (502)); ` +
          "if the proxy cannot reach the cloud, check the model's proxy settings (juju-http-proxy, juju-no-proxy)",
      );
    });
  });
}
