// Request building, endpoint choice, paging and error handling against a fake fetch: no
// services needed. The real services are exercised in real-services.test.ts.
import { allText, rejection } from '../support/error-text.js';
import { describe, expect, it } from 'vitest';
import {
  OpenStackClient,
  OpenStackError,
  authRequestBody,
  getLatestImage,
  glanceRoot,
  parseCloudsYaml,
  resolveCloud,
  type CloudConfig,
  type FetchFn,
} from '../../src/openstack/index.js';

const PASSWORD = 'canary-Pa55w0rd-do-not-leak';
const APP_SECRET = 'app-cred-S3CRET-canary';
const TOKEN = 'gAAAAA-fake-token-canary-0123456789';
const PROJECT = 'proj-1234';

function cloudFrom(yaml: string, name?: string): CloudConfig {
  return resolveCloud(parseCloudsYaml(yaml), name);
}

const PASSWORD_CLOUD = cloudFrom(`
clouds:
  fake:
    auth:
      auth_url: http://keystone.test:5000
      username: demo
      password: ${PASSWORD}
      project_name: demo
      user_domain_name: Default
      project_domain_id: default
    region_name: RegionOne
`);

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

type Endpoint = { interface: string; region_id?: string; url: string };

/** A fake Keystone + Glance. `routes` answer Glance requests; every request is recorded. */
function fakeCloud(
  opts: {
    catalog?: { type: string; endpoints: Endpoint[] }[];
    glance?: (url: URL, seen: Seen) => Response | Promise<Response>;
    keystone?: (seen: Seen) => Response | Promise<Response>;
  } = {},
) {
  const seen: Seen[] = [];
  const catalog = opts.catalog ?? [
    { type: 'identity', endpoints: [{ interface: 'public', region_id: 'RegionOne', url: 'http://keystone.test:5000/v3' }] },
    {
      type: 'image',
      endpoints: [
        { interface: 'public', region_id: 'RegionOne', url: 'http://glance.test:9292' },
        { interface: 'admin', region_id: 'RegionOne', url: 'http://glance-admin.test:9292' },
      ],
    },
  ];
  const fetch: FetchFn = async (url, init) => {
    const s: Seen = {
      method: init.method ?? 'GET',
      url,
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    seen.push(s);
    const u = new URL(url);
    if (u.pathname.endsWith('/v3/auth/tokens')) {
      if (opts.keystone) return opts.keystone(s);
      return Response.json(
        { token: { expires_at: new Date(Date.now() + 3600_000).toISOString(), project: { id: PROJECT }, user: { id: 'user-1' }, catalog } },
        { status: 201, headers: { 'x-subject-token': TOKEN } },
      );
    }
    if (opts.glance) return opts.glance(u, s);
    return Response.json({ images: [] });
  };
  return { fetch, seen };
}

const image = (id: string, name: string, createdAt: string, status = 'active') => ({ id, name, created_at: createdAt, status, owner: PROJECT, visibility: 'shared' });

describe('Keystone request bodies', () => {
  it('password auth, scoped to a project by name and domain', () => {
    expect(authRequestBody(PASSWORD_CLOUD)).toEqual({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'demo', domain: { name: 'Default' }, password: PASSWORD } } },
        scope: { project: { name: 'demo', domain: { id: 'default' } } },
      },
    });
  });

  it('password auth by user id and project id', () => {
    const c = cloudFrom('clouds:\n  c:\n    auth: {auth_url: http://k, user_id: u1, password: pw, project_id: p1}\n');
    expect(authRequestBody(c)).toEqual({
      auth: { identity: { methods: ['password'], password: { user: { id: 'u1', password: 'pw' } } }, scope: { project: { id: 'p1' } } },
    });
  });

  it('application credential by id, without a scope', () => {
    const c = cloudFrom(`clouds:\n  c:\n    auth_type: v3applicationcredential\n    auth: {auth_url: http://k, application_credential_id: ac1, application_credential_secret: ${APP_SECRET}, project_name: ignored}\n`);
    expect(authRequestBody(c)).toEqual({
      auth: { identity: { methods: ['application_credential'], application_credential: { id: 'ac1', secret: APP_SECRET } } },
    });
  });

  it('application credential by name, with its user', () => {
    const c = cloudFrom(
      `clouds:\n  c:\n    auth_type: v3applicationcredential\n    auth: {auth_url: http://k, application_credential_name: ci, application_credential_secret: x, username: demo, user_domain_id: default}\n`,
    );
    expect(authRequestBody(c)).toEqual({
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { name: 'ci', user: { name: 'demo', domain: { id: 'default' } }, secret: 'x' },
        },
      },
    });
  });
});

describe('getLatestImage', () => {
  it('makes exactly two requests: auth, then one filtered, sorted list with limit=1', async () => {
    const { fetch, seen } = fakeCloud({ glance: () => Response.json({ images: [image('i2', 'noble-x64', '2024-06-02T00:00:00Z')] }) });
    const latest = await getLatestImage(PASSWORD_CLOUD, 'noble-x64', { fetch });
    expect(latest).toEqual({ id: 'i2', name: 'noble-x64', createdAt: '2024-06-02T00:00:00Z', status: 'active' });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ method: 'POST', url: 'http://keystone.test:5000/v3/auth/tokens' });
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    const list = new URL(seen[1]!.url);
    expect(`${list.origin}${list.pathname}`).toBe('http://glance.test:9292/v2/images');
    expect(Object.fromEntries(list.searchParams)).toEqual({
      name: 'noble-x64',
      status: 'active',
      owner: PROJECT,
      sort: 'created_at:desc,id:desc',
      limit: '1',
    });
    expect(seen[1]!.headers['x-auth-token']).toBe(TOKEN);
  });

  it('returns null when there is no such image', async () => {
    const { fetch } = fakeCloud();
    expect(await getLatestImage(PASSWORD_CLOUD, 'none', { fetch })).toBeNull();
  });

  it('anyOwner drops the owner filter', async () => {
    const { fetch, seen } = fakeCloud();
    await getLatestImage(PASSWORD_CLOUD, 'x', { fetch, anyOwner: true });
    expect(new URL(seen[1]!.url).searchParams.has('owner')).toBe(false);
  });

  it('sends names with a colon as eq:<name> (Glance reads "op:value")', async () => {
    const { fetch, seen } = fakeCloud();
    await getLatestImage(PASSWORD_CLOUD, 'in:weird:name', { fetch });
    expect(new URL(seen[1]!.url).searchParams.get('name')).toBe('eq:in:weird:name');
  });

  it('reuses the token: a second call on one client is one request', async () => {
    const { fetch, seen } = fakeCloud();
    const client = new OpenStackClient(PASSWORD_CLOUD, { fetch });
    await Promise.all([client.getLatestImage('a'), client.getLatestImage('b')]);
    await client.getLatestImage('c');
    expect(seen.filter((s) => s.url.endsWith('/auth/tokens'))).toHaveLength(1);
    expect(seen).toHaveLength(4);
  });

  it('refuses an answer that ignored the filters', async () => {
    const { fetch } = fakeCloud({ glance: () => Response.json({ images: [image('i9', 'other', '2024-01-01T00:00:00Z', 'queued')] }) });
    await expect(getLatestImage(PASSWORD_CLOUD, 'mine', { fetch })).rejects.toMatchObject({ kind: 'malformed' });
  });

  it('uses the catalog interface and region from clouds.yaml', async () => {
    const catalog = [
      {
        type: 'image',
        endpoints: [
          { interface: 'public', region_id: 'RegionOne', url: 'http://one-public:9292' },
          { interface: 'internal', region_id: 'RegionOne', url: 'http://one-internal:9292' },
          { interface: 'internal', region_id: 'RegionTwo', url: 'http://two-internal:9292/v2/' },
        ],
      },
    ];
    const c = cloudFrom(`clouds:\n  c:\n    auth: {auth_url: http://k, user_id: u, password: p, project_id: x}\n    region_name: RegionTwo\n    interface: internalURL\n`);
    const { fetch, seen } = fakeCloud({ catalog });
    await getLatestImage(c, 'x', { fetch });
    expect(seen[1]!.url).toMatch(/^http:\/\/two-internal:9292\/v2\/images\?/);
  });
});

describe('catalog errors', () => {
  it('says which interfaces and regions the catalog offers', async () => {
    const c = cloudFrom(`clouds:\n  prod:\n    auth: {auth_url: http://keystone.test:5000/v3, user_id: u, password: p, project_id: x}\n    region_name: RegionTwo\n    interface: internal\n`);
    const { fetch } = fakeCloud();
    const err = (await getLatestImage(c, 'x', { fetch }).catch((e: unknown) => e)) as OpenStackError;
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err.kind).toBe('catalog');
    expect(err.cloud).toBe('prod');
    expect(err.message).toBe(
      'cloud "prod": no image endpoint for interface internal in region RegionTwo; the catalog offers: public@RegionOne, admin@RegionOne' +
        ' (catalog from POST http://keystone.test:5000/v3/auth/tokens, HTTP 201)',
    );
  });

  it('says when there is no image service at all', async () => {
    const { fetch } = fakeCloud({ catalog: [{ type: 'identity', endpoints: [{ interface: 'public', url: 'http://k/v3' }] }] });
    await expect(getLatestImage(PASSWORD_CLOUD, 'x', { fetch })).rejects.toThrow(
      /no image endpoint for interface public in region RegionOne; the catalog has no image service \(it has: identity\)/,
    );
  });
});

describe('listing and single images', () => {
  it('follows next links, keeping a path prefix from the catalog', async () => {
    const catalog = [{ type: 'image', endpoints: [{ interface: 'public', region_id: 'RegionOne', url: 'https://cloud.test/image/v2' }] }];
    const pages: Record<string, unknown> = {
      '': { images: [image('a', 'n', '2024-01-03T00:00:00Z')], next: '/v2/images?marker=a&limit=1' },
      a: { images: [image('b', 'n', '2024-01-02T00:00:00Z')], next: '/image/v2/images?marker=b&limit=1' },
      b: { images: [image('c', 'n', '2024-01-01T00:00:00Z')] },
    };
    const { fetch, seen } = fakeCloud({ catalog, glance: (u) => Response.json(pages[u.searchParams.get('marker') ?? '']) });
    const images = await new OpenStackClient(PASSWORD_CLOUD, { fetch }).listImages({ name: 'n', limit: 1 });
    expect(images.map((i) => i.id)).toEqual(['a', 'b', 'c']);
    expect(seen.slice(1).map((s) => s.url)).toEqual([
      'https://cloud.test/image/v2/images?name=n&sort=created_at%3Adesc&limit=1',
      'https://cloud.test/image/v2/images?marker=a&limit=1',
      'https://cloud.test/image/v2/images?marker=b&limit=1',
    ]);
  });

  it('stops on next links that loop', async () => {
    const { fetch } = fakeCloud({ glance: () => Response.json({ images: [], next: '/v2/images?marker=same' }) });
    await expect(new OpenStackClient(PASSWORD_CLOUD, { fetch }).listImages()).rejects.toThrow(/"next" links do not end/);
  });

  it('getImage: the image, or null for 404', async () => {
    const { fetch } = fakeCloud({
      glance: (u) => (u.pathname.endsWith('/known') ? Response.json(image('known', 'n', '2024-01-01T00:00:00Z')) : new Response('<html>404 Not Found</html>', { status: 404 })),
    });
    const client = new OpenStackClient(PASSWORD_CLOUD, { fetch });
    expect(await client.getImage('known')).toMatchObject({ id: 'known', name: 'n', status: 'active' });
    expect(await client.getImage('unknown')).toBeNull();
  });

  it('glanceRoot strips a version from the catalog URL', () => {
    expect(glanceRoot('http://g:9292')).toBe('http://g:9292');
    expect(glanceRoot('http://g:9292/')).toBe('http://g:9292');
    expect(glanceRoot('http://g:9292/v2')).toBe('http://g:9292');
    expect(glanceRoot('https://c/image/v2.1/')).toBe('https://c/image');
  });
});



function expectNoSecrets(err: unknown) {
  const text = allText(err);
  for (const secret of [PASSWORD, APP_SECRET, TOKEN, encodeURIComponent(PASSWORD)]) expect(text).not.toContain(secret);
}

describe('errors', () => {
  const fail = async (opts: Parameters<typeof fakeCloud>[0], cloud: CloudConfig = PASSWORD_CLOUD, timeoutMs?: number): Promise<OpenStackError> => {
    const { fetch } = fakeCloud(opts);
    const err = await getLatestImage(cloud, 'x', { fetch, ...(timeoutMs ? { timeoutMs } : {}) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenStackError);
    expectNoSecrets(err);
    return err as OpenStackError;
  };

  it('wrong credentials: kind auth, status 401, URL and hint; an echoed password is scrubbed', async () => {
    const err = await fail({
      keystone: () => Response.json({ error: { code: 401, title: 'Unauthorized', message: `bad password ${PASSWORD} for demo` } }, { status: 401 }),
    });
    expect(err).toMatchObject({ kind: 'auth', status: 401, cloud: 'fake', url: 'http://keystone.test:5000/v3/auth/tokens' });
    expect(err.message).toBe(
      'cloud "fake": POST http://keystone.test:5000/v3/auth/tokens returned HTTP 401 (bad password *** for demo); ' +
        'authentication failed; check the user, password, project and their domains in clouds.yaml',
    );
  });

  it('application-credential secret is scrubbed too', async () => {
    const c = cloudFrom(`clouds:\n  ac:\n    auth_type: v3applicationcredential\n    auth: {auth_url: http://k, application_credential_id: id1, application_credential_secret: ${APP_SECRET}}\n`);
    const err = await fail({ keystone: (s) => new Response(`nope: ${JSON.stringify(s.body)}`, { status: 401 }) }, c);
    expect(err.kind).toBe('auth');
    expect(err.message).toMatch(/check the application credential id\/name and secret/);
  });

  it('a token echoed by Glance is scrubbed', async () => {
    const err = await fail({ glance: () => new Response(`<html><title>401 Unauthorized</title><body>token ${TOKEN} expired</body></html>`, { status: 401 }) });
    expect(err).toMatchObject({ kind: 'auth', status: 401 });
    expect(err.message).toContain('token *** expired');
  });

  it('HTTP 5xx: kind http with the status', async () => {
    const err = await fail({ glance: () => new Response('Internal error', { status: 503 }) });
    expect(err).toMatchObject({ kind: 'http', status: 503 });
    expect(err.message).toMatch(/^cloud "fake": GET http:\/\/glance\.test:9292\/v2\/images\?\S+ returned HTTP 503 \(Internal error\)$/);
  });

  it('malformed JSON: kind malformed, and the body is not quoted', async () => {
    const err = await fail({ glance: () => new Response(`{"images": [ ${PASSWORD}`, { status: 200 }) });
    expect(err).toMatchObject({ kind: 'malformed', status: 200 });
    expect(err.message).toMatch(/returned HTTP 200 with a body that is not JSON/);
  });

  it('Keystone answer without X-Subject-Token: kind malformed', async () => {
    const err = await fail({ keystone: () => Response.json({ token: {} }, { status: 201 }) });
    expect(err.kind).toBe('malformed');
    expect(err.message).toMatch(/no X-Subject-Token header; is auth_url a Keystone v3 endpoint\?/);
  });

  it('timeout: kind timeout, naming the limit', async () => {
    const hang = (s: Seen, signal?: AbortSignal) =>
      new Promise<Response>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
    const fetch: FetchFn = (url, init) => hang({ method: 'POST', url, headers: {}, body: undefined }, init.signal ?? undefined);
    const err = await rejection(getLatestImage(PASSWORD_CLOUD, 'x', { fetch, timeoutMs: 50 }));
    expect(err).toMatchObject({ kind: 'timeout', status: undefined });
    expect(err.message).toBe('cloud "fake": POST http://keystone.test:5000/v3/auth/tokens: no answer within 50 ms');
    expectNoSecrets(err);
  });

  it('connection refused and TLS failures, with a cause that carries only code and scrubbed text', async () => {
    const refused = Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:5000 ${PASSWORD}`), { code: 'ECONNREFUSED' });
    const net = await rejection(getLatestImage(PASSWORD_CLOUD, 'x', { fetch: () => Promise.reject(new TypeError('fetch failed', { cause: refused })) }));
    expect(net).toMatchObject({ kind: 'network' });
    expect(net.message).toBe('cloud "fake": POST http://keystone.test:5000/v3/auth/tokens: cannot connect (ECONNREFUSED)');
    expect((net.cause as Error).message).toBe('fetch failed');
    expect(((net.cause as Error).cause as Error).message).toBe('ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5000 ***');
    expect(((net.cause as Error).cause as { code?: string }).code).toBe('ECONNREFUSED');
    expectNoSecrets(net);

    const cert = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const tls = await rejection(getLatestImage(PASSWORD_CLOUD, 'x', { fetch: () => Promise.reject(new TypeError('fetch failed', { cause: cert })) }));
    expect(tls.kind).toBe('tls');
    expect(tls.message).toMatch(/TLS failure \(SELF_SIGNED_CERT_IN_CHAIN\); set cacert/);
  });

  it('redirects are not followed (the credentials would go along): kind http', async () => {
    const { fetch: base } = fakeCloud();
    const fetch: FetchFn = (url, init) => {
      expect(init.redirect).toBe('error');
      return base(url, init);
    };
    await getLatestImage(PASSWORD_CLOUD, 'x', { fetch });
    const err = await rejection(
      getLatestImage(PASSWORD_CLOUD, 'x', { fetch: () => Promise.reject(new TypeError('fetch failed', { cause: new Error('unexpected redirect') })) }),
    );
    expect(err.kind).toBe('http');
    expect(err.message).toMatch(/answered with a redirect, which is not followed/);
  });

  it('a password in auth_url userinfo never shows in messages or url', async () => {
    const c = cloudFrom(`clouds:\n  u:\n    auth: {auth_url: "http://demo:${PASSWORD}@keystone.test:5000/v3", user_id: u, password: ${PASSWORD}, project_id: p}\n`);
    const err = await rejection(getLatestImage(c, 'x', { fetch: () => Promise.resolve(new Response('down', { status: 502 })) }));
    expect(err.kind).toBe('http');
    expect(err.url).toBe('http://keystone.test:5000/v3/auth/tokens');
    expectNoSecrets(err);
  });

  it('cacert that cannot be read: kind config (never silently ignored)', async () => {
    const c = cloudFrom(`clouds:\n  t:\n    auth: {auth_url: https://k, user_id: u, password: p, project_id: x}\n    cacert: /nonexistent/ca.pem\n`);
    await expect(getLatestImage(c, 'x')).rejects.toMatchObject({ kind: 'config', message: 'cloud "t": cannot read cacert /nonexistent/ca.pem' });
  });
});
