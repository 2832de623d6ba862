// The client against real Keystone + Glance (scripts/openstack/start.sh). Outside CI, when the
// services are not running, this file reports "NOT RUN" (a skipped test saying so); in CI it fails.
import { createServer } from 'node:net';
import { allText, rejection } from '../support/error-text.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CloudsYamlError,
  OpenStackClient,
  getLatestImage,
  parseCloudsYaml,
  resolveCloud,
  type CloudConfig,
  type FetchFn,
} from '../../src/openstack/index.js';
import {
  SuiteImages,
  createApplicationCredential,
  newerSecondThan,
  openstackSuite,
  type CreatedImage,
} from '../support/openstack.js';
import { guardOpenStackSuite } from '../support/openstack-guard.js';

const suite = await openstackSuite();


/** A fetch that counts requests and remembers every token Keystone hands out. */
function countingFetch() {
  const calls: string[] = [];
  const tokens: string[] = [];
  const fetch: FetchFn = async (url, init) => {
    calls.push(`${init.method ?? 'GET'} ${url}`);
    const res = await globalThis.fetch(url, init);
    const token = res.headers.get('x-subject-token');
    if (token) tokens.push(token);
    return res;
  };
  return { fetch, calls, tokens };
}



/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** The suite's clouds.yaml with the loopback cloud's settings changed. */
function variant(edit: (yaml: string) => string, name = suite.cloudName): CloudConfig {
  return resolveCloud(parseCloudsYaml(edit(suite.cloudsYaml)), name);
}

if (guardOpenStackSuite(suite, 'real Keystone + Glance')) {
  describe('OpenStack client against real Keystone + Glance', () => {
    const run = `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const name = `${run}-noble-runner-x64`;
    let images: SuiteImages;
    let adminImages: SuiteImages;
    let cloud: CloudConfig;
    let expected: CreatedImage;

    beforeAll(async () => {
      images = await SuiteImages.open(suite, 'demo');
      adminImages = await SuiteImages.open(suite, 'admin');
      cloud = resolveCloud(parseCloudsYaml(suite.cloudsYaml), suite.cloudName);
    });

    // Over a thousand DELETEs against Glance on SQLite: minutes when other suites load the machine.
    afterAll(async () => {
      await images?.cleanup();
      await adminImages?.cleanup();
    }, 600_000);

    it('getLatestImage: null before any image of that name exists', async () => {
      expect(await getLatestImage(cloud, name)).toBeNull();
    });

    it('getLatestImage: the newest ACTIVE image of the name; queued, deactivated, other names and other projects are ignored', async () => {
      const oldest = await images.createActive(name);
      await newerSecondThan(oldest);
      // Private instead of Glance's default "shared": the owner must see both.
      expected = await images.createActive(name, { visibility: 'private' });
      await newerSecondThan(expected);
      const deactivated = await images.createActive(name);
      await images.deactivate(deactivated.id);
      await newerSecondThan(deactivated);
      const queued = await images.createQueued(name);
      const otherName = await images.createActive(`${name}-arm64`);
      // Another project's public image with the same name, newest of all.
      const foreign = await adminImages.createActive(name, { visibility: 'public' });

      expect(await images.status(deactivated.id)).toBe('deactivated');
      expect(await images.status(queued.id)).toBe('queued');
      expect(expected.createdAt > oldest.createdAt).toBe(true);
      expect(foreign.createdAt >= queued.createdAt && queued.createdAt > expected.createdAt).toBe(true);
      expect(otherName.id).not.toBe(expected.id);

      const { fetch, calls } = countingFetch();
      const latest = await getLatestImage(cloud, name, { fetch });
      expect(latest).toEqual({ id: expected.id, name, createdAt: expected.createdAt, status: 'active' });
      expect(calls).toHaveLength(2);

      // Asked to, it does consider other projects' images (the public one is newest).
      expect((await getLatestImage(cloud, name, { anyOwner: true }))?.id).toBe(foreign.id);
    });

    it('with 1,000 images of other names present, still exactly two requests', async () => {
      const fillers = Array.from({ length: 1000 }, (_, i) => `${run}-filler-${String(i).padStart(4, '0')}`);
      await images.createManyQueued(fillers, 4);

      const { fetch, calls } = countingFetch();
      const latest = await getLatestImage(cloud, name, { fetch });
      expect(latest?.id).toBe(expected.id);
      expect(calls).toHaveLength(2);
      expect(calls[0]).toBe(`POST ${suite.keystoneUrl}/auth/tokens`);
      expect(calls[1]!.startsWith(`GET ${suite.glanceUrl}/v2/images?`)).toBe(true);
      const query = new URL(calls[1]!.slice(4)).searchParams;
      expect(query.get('limit')).toBe('1');
      expect(query.get('status')).toBe('active');
      expect(query.get('name')).toBe(name);

      // listImages follows Glance's next links across pages.
      const client = new OpenStackClient(cloud, { fetch });
      const mine = await client.listImages({ owner: (await client.whoami()).projectId!, limit: 300 });
      expect(mine.filter((i) => i.name.startsWith(`${run}-filler-`))).toHaveLength(1000);
      expect(calls.length).toBeGreaterThanOrEqual(2 + 4); // one more auth is not needed: 4+ pages
    });

    it('getImage: by id, and null for an unknown id', async () => {
      const client = new OpenStackClient(cloud);
      expect(await client.getImage(expected.id)).toMatchObject({ id: expected.id, name, status: 'active', visibility: 'private' });
      expect(await client.getImage('00000000-0000-0000-0000-000000000000')).toBeNull();
    });

    it('names with a colon are matched exactly', async () => {
      const odd = await images.createActive(`in:${run}:x`);
      expect((await getLatestImage(cloud, `in:${run}:x`))?.id).toBe(odd.id);
    });

    it('application-credential auth (by id, and by name with the user)', async () => {
      const cred = await createApplicationCredential(suite, `${run}-ci`);
      try {
        const byId = resolveCloud(
          parseCloudsYaml(`clouds:
  ac:
    auth_type: v3applicationcredential
    auth:
      auth_url: ${suite.keystoneUrl}
      application_credential_id: ${cred.id}
      application_credential_secret: ${cred.secret}
    region_name: RegionOne
`),
        );
        const { fetch, calls } = countingFetch();
        expect((await getLatestImage(byId, name, { fetch }))?.id).toBe(expected.id);
        expect(calls).toHaveLength(2);

        const byName = resolveCloud(
          parseCloudsYaml(`clouds:
  ac:
    auth_type: v3applicationcredential
    auth:
      auth_url: ${suite.keystoneUrl}
      application_credential_name: ${cred.name}
      application_credential_secret: ${cred.secret}
      username: demo
      user_domain_name: Default
`),
        );
        expect((await getLatestImage(byName, name))?.id).toBe(expected.id);

        // A wrong secret: auth error, and neither secret appears anywhere. (Changed near the
        // start: Keystone hashes secrets with bcrypt, which ignores bytes after the 72nd.)
        const wrongSecret = `WRONG${cred.secret.slice(5)}`;
        const wrong = resolveCloud(parseCloudsYaml(`clouds:
  ac:
    auth_type: v3applicationcredential
    auth: {auth_url: "${suite.keystoneUrl}", application_credential_id: "${cred.id}", application_credential_secret: "${wrongSecret}"}
`));
        const err = await rejection(getLatestImage(wrong, name));
        expect(err).toMatchObject({ kind: 'auth', status: 401, cloud: 'ac' });
        expect(allText(err)).not.toContain(wrongSecret);
        expect(allText(err)).not.toContain(cred.secret.slice(5));
      } finally {
        await cred.remove();
      }
    });

    describe('errors are clear and leak nothing', () => {
      const canary = () => suite.canaryPassword;

      function expectClean(err: unknown, tokens: readonly string[] = []) {
        const text = allText(err);
        expect(text).not.toContain(canary());
        expect(text).not.toContain(encodeURIComponent(canary()));
        for (const t of tokens) expect(text).not.toContain(t);
      }

      it('wrong password: kind auth, HTTP 401, names cloud and URL', async () => {
        const c = variant((y) => y.replace(`password: ${canary()}`, `password: ${canary()}-wrong`));
        const err = await rejection(getLatestImage(c, name));
        expect(err).toMatchObject({ kind: 'auth', status: 401, cloud: 'loopback', url: `${suite.keystoneUrl}/auth/tokens` });
        expect(err.message).toMatch(
          new RegExp(`^cloud "loopback": POST ${suite.keystoneUrl.replace(/\./g, '\\.')}/auth/tokens returned HTTP 401 .*check the user, password, project`),
        );
        expectClean(err);
      });

      it('wrong project: kind auth', async () => {
        const err = await rejection(getLatestImage(variant((y) => y.replace('project_name: demo', 'project_name: nosuchproject')), name));
        expect(err).toMatchObject({ kind: 'auth', status: 401 });
        expectClean(err);
      });

      it('unknown cloud name: lists the clouds', () => {
        expect(() => resolveCloud(parseCloudsYaml(suite.cloudsYaml), 'nosuchcloud')).toThrow(
          new CloudsYamlError(['cloud "nosuchcloud" is not in clouds.yaml; it defines: loopback']),
        );
      });

      it('closed port: kind network, names the URL', async () => {
        const port = await closedPort();
        const c = variant((y) => y.replace(suite.keystoneUrl, `http://127.0.0.1:${port}/v3`));
        const err = await rejection(getLatestImage(c, name));
        expect(err).toMatchObject({ kind: 'network', status: undefined, url: `http://127.0.0.1:${port}/v3/auth/tokens` });
        expect(err.message).toBe(`cloud "loopback": POST http://127.0.0.1:${port}/v3/auth/tokens: cannot connect (ECONNREFUSED)`);
        expectClean(err);

        // Port 1 is one that fetch refuses to use at all.
        const one = await rejection(getLatestImage(variant((y) => y.replace(suite.keystoneUrl, 'http://127.0.0.1:1/v3')), name));
        expect(one.kind).toBe('network');
        expect(one.message).toMatch(/^cloud "loopback": POST http:\/\/127\.0\.0\.1:1\/v3\/auth\/tokens: cannot connect \(/);
        expectClean(one);
      });

      it('a region with no image endpoint: says what the catalog offers', async () => {
        const { fetch, tokens } = countingFetch();
        const c = variant((y) => y.replace('region_name: RegionOne', 'region_name: RegionThree'));
        const err = await rejection(getLatestImage(c, name, { fetch }));
        expect(err).toMatchObject({ kind: 'catalog', cloud: 'loopback' });
        expect(err.message).toBe(
          'cloud "loopback": no image endpoint for interface public in region RegionThree; ' +
            'the catalog offers: public@RegionOne, internal@RegionOne, admin@RegionOne, public@RegionTwo ' +
            `(catalog from POST ${suite.keystoneUrl}/auth/tokens, HTTP 201)`,
        );
        expect(tokens).toHaveLength(1);
        expectClean(err, tokens);
      });

      it('an interface the region lacks: same, and the other interfaces work', async () => {
        const { fetch, tokens } = countingFetch();
        const c = variant((y) => y.replace('region_name: RegionOne', 'region_name: RegionTwo').replace('interface: public', 'interface: internal'));
        const err = await rejection(getLatestImage(c, name, { fetch }));
        expect(err.kind).toBe('catalog');
        expect(err.message).toMatch(/^cloud "loopback": no image endpoint for interface internal in region RegionTwo; the catalog offers: public@RegionOne, /);
        expectClean(err, tokens);
        for (const iface of ['internal', 'admin', 'internalURL']) {
          const ok = variant((y) => y.replace('interface: public', `interface: ${iface}`));
          expect((await getLatestImage(ok, name))?.id).toBe(expected.id);
        }
      });

      it('a revoked token seen by Glance: kind auth, token not in the text', async () => {
        const { fetch, tokens } = countingFetch();
        const client = new OpenStackClient(cloud, { fetch });
        await client.whoami();
        const token = tokens[0]!;
        // Revoke the client's token behind its back (DELETE /v3/auth/tokens with itself).
        const res = await globalThis.fetch(`${suite.keystoneUrl}/auth/tokens`, {
          method: 'DELETE',
          headers: { 'x-auth-token': token, 'x-subject-token': token },
        });
        expect(res.status).toBe(204);
        const err = await rejection(client.getLatestImage(name));
        expect(err).toMatchObject({ kind: 'auth', status: 401 });
        expect(err.message.startsWith(`cloud "loopback": GET ${suite.glanceUrl}/v2/images?`)).toBe(true);
        expect(err.message).toMatch(/^cloud "loopback": GET \S+ returned HTTP 401/);
        expectClean(err, tokens);
      });

      it('a timeout: kind timeout', async () => {
        const err = await rejection(getLatestImage(cloud, name, { timeoutMs: 1 }));
        expect(err.kind).toBe('timeout');
        expect(err.message).toBe(`cloud "loopback": POST ${suite.keystoneUrl}/auth/tokens: no answer within 1 ms`);
        expectClean(err);
      });
    });
  });
}
