// No scheme downgrade: with an https auth_url, an http endpoint from the catalog is refused
// before any request carries the token there. Checked where the endpoint is chosen, and at the
// request level with a fetch that records every URL.
import { describe, expect, it } from 'vitest';
import {
  OpenStackClient,
  OpenStackError,
  findEndpoint,
  getLatestImage,
  parseCloudsYaml,
  resolveCloud,
  type FetchFn,
  type KeystoneToken,
} from '../../src/openstack/index.js';
import { allText } from '../support/error-text.js';

const TOKEN = 'gAAAAA-downgrade-token-canary';
const PASSWORD = 'downgrade-Pa55-canary';

function token(tokensUrl: string, endpoints: { interface: string; region_id: string; url: string }[]): KeystoneToken {
  return {
    token: TOKEN,
    expiresAt: '',
    projectId: 'p',
    userId: 'u',
    catalog: [{ type: 'image', name: 'glance', endpoints: endpoints.map((e) => ({ interface: e.interface, region: e.region_id, url: e.url })) }],
    tokensUrl,
    status: 201,
  };
}

const query = { type: 'image', interface: 'public' as const, region: 'RegionOne' };

describe('findEndpoint refuses an http endpoint when Keystone is https', () => {
  it('https auth, http endpoint: kind catalog, naming the cloud, the endpoint and the fix', () => {
    const t = token('https://keystone.example:5000/v3/auth/tokens', [{ interface: 'public', region_id: 'RegionOne', url: 'http://glance.example:9292/' }]);
    let err: unknown;
    try {
      findEndpoint(t, query, 'prod');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err).toMatchObject({ kind: 'catalog', cloud: 'prod', url: 'http://glance.example:9292/', status: 201 });
    expect((err as Error).message).toBe(
      'cloud "prod": the catalog\'s image endpoint http://glance.example:9292/ (interface public, region RegionOne) is http while auth_url is https; ' +
        "the token would travel in clear, so it is not used: fix the endpoint's URL in the catalog, or choose another interface/region " +
        '(catalog from POST https://keystone.example:5000/v3/auth/tokens, HTTP 201)',
    );
    expect(allText(err)).not.toContain(TOKEN);
  });

  it('userinfo in the endpoint URL is not shown', () => {
    const t = token('https://k/v3/auth/tokens', [{ interface: 'public', region_id: 'RegionOne', url: `HTTP://glance:${PASSWORD}@glance.example:9292` }]);
    expect(() => findEndpoint(t, query, 'prod')).toThrow(/image endpoint http:\/\/glance\.example:9292\/ \(interface public/);
    try {
      findEndpoint(t, query, 'prod');
    } catch (e) {
      expect(allText(e)).not.toContain(PASSWORD);
    }
  });

  it('https to https, http to http and http to https are fine; only the chosen endpoint matters', () => {
    expect(findEndpoint(token('https://k/v3/auth/tokens', [{ interface: 'public', region_id: 'RegionOne', url: 'https://g:9292/' }]), query, 'c')).toBe('https://g:9292');
    expect(findEndpoint(token('http://k/v3/auth/tokens', [{ interface: 'public', region_id: 'RegionOne', url: 'http://g:9292' }]), query, 'c')).toBe('http://g:9292');
    expect(findEndpoint(token('http://k/v3/auth/tokens', [{ interface: 'public', region_id: 'RegionOne', url: 'https://g:9292' }]), query, 'c')).toBe('https://g:9292');
    const mixed = token('https://k/v3/auth/tokens', [
      { interface: 'internal', region_id: 'RegionOne', url: 'http://g-internal:9292' },
      { interface: 'public', region_id: 'RegionOne', url: 'https://g:9292' },
    ]);
    expect(findEndpoint(mixed, query, 'c')).toBe('https://g:9292');
    expect(() => findEndpoint(mixed, { ...query, interface: 'internal' }, 'c')).toThrow(/image endpoint http:\/\/g-internal:9292 \(interface internal, region RegionOne\) is http/);
  });
});

describe('no request with the token goes to the http endpoint', () => {
  const cloud = resolveCloud(
    parseCloudsYaml(`clouds:\n  prod:\n    auth: {auth_url: "https://keystone.example:5000", user_id: u, password: ${PASSWORD}, project_id: p}\n    region_name: RegionOne\n`),
  );

  /** Keystone over https whose catalog lists an http Glance; records every request. */
  function recorder() {
    const seen: { url: string; token: string | undefined }[] = [];
    const fetch: FetchFn = async (url, init) => {
      const headers = new Headers(init.headers);
      seen.push({ url, token: headers.get('x-auth-token') ?? undefined });
      if (url === 'https://keystone.example:5000/v3/auth/tokens') {
        return Response.json(
          {
            token: {
              expires_at: new Date(Date.now() + 3600_000).toISOString(),
              project: { id: 'p' },
              catalog: [{ type: 'image', endpoints: [{ interface: 'public', region_id: 'RegionOne', url: 'http://glance.example:9292' }] }],
            },
          },
          { status: 201, headers: { 'x-subject-token': TOKEN } },
        );
      }
      return Response.json({ images: [] });
    };
    return { fetch, seen };
  }

  it('getLatestImage, getImage and listImages all stop after authenticating', async () => {
    const { fetch, seen } = recorder();
    const client = new OpenStackClient(cloud, { fetch });
    for (const call of [() => getLatestImage(cloud, 'n', { fetch }), () => client.getImage('x'), () => client.listImages(), () => client.getLatestImage('n')]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OpenStackError);
      expect(err).toMatchObject({ kind: 'catalog', cloud: 'prod' });
      expect((err as Error).message).toMatch(/image endpoint http:\/\/glance\.example:9292 \(interface public, region RegionOne\) is http while auth_url is https/);
      expect(allText(err)).not.toContain(TOKEN);
      expect(allText(err)).not.toContain(PASSWORD);
    }
    expect(seen.every((s) => s.url.startsWith('https://keystone.example:5000/'))).toBe(true);
    expect(seen.filter((s) => s.url.startsWith('http:'))).toEqual([]);
    expect(seen.filter((s) => s.token !== undefined)).toEqual([]);
  });
});
