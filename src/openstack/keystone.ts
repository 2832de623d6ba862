// Keystone v3: one POST /v3/auth/tokens (password or application credential, project scope)
// gives the token (X-Subject-Token header) and the service catalog in the same answer.
import type { CloudConfig, EndpointInterface } from './clouds.js';
import { OpenStackError, redactUrl } from './errors.js';
import { requestJson, type HttpContext } from './http.js';

export interface CatalogEndpoint {
  readonly interface: string;
  readonly region: string | undefined;
  readonly url: string;
}

export interface CatalogService {
  readonly type: string;
  readonly name: string | undefined;
  readonly endpoints: readonly CatalogEndpoint[];
}

/** A project-scoped token and what came with it. Holds the token: never log this object. */
export interface KeystoneToken {
  readonly token: string;
  /** ISO 8601, as Keystone gives it. */
  readonly expiresAt: string;
  readonly projectId: string | undefined;
  readonly userId: string | undefined;
  readonly catalog: readonly CatalogService[];
  /** Where the token came from (POST target) and the answer's status, for error messages. */
  readonly tokensUrl: string;
  readonly status: number;
}

/** The JSON body of POST /v3/auth/tokens for this cloud. Contains the secret: never log it. */
export function authRequestBody(cloud: CloudConfig): unknown {
  const domain = (id: string | undefined, name: string | undefined) => (id ? { id } : name ? { name } : undefined);
  const user = cloud.userId
    ? { id: cloud.userId }
    : { name: cloud.username, domain: domain(cloud.userDomainId, cloud.userDomainName) };

  if (cloud.authType === 'application_credential') {
    const credential = cloud.applicationCredentialId
      ? { id: cloud.applicationCredentialId, secret: cloud.applicationCredentialSecret }
      : { name: cloud.applicationCredentialName, user, secret: cloud.applicationCredentialSecret };
    // An application credential is bound to its project: Keystone refuses an explicit scope.
    return { auth: { identity: { methods: ['application_credential'], application_credential: credential } } };
  }
  const project = cloud.projectId
    ? { id: cloud.projectId }
    : { name: cloud.projectName, domain: domain(cloud.projectDomainId, cloud.projectDomainName) };
  return {
    auth: {
      identity: { methods: ['password'], password: { user: { ...user, password: cloud.password } } },
      scope: { project },
    },
  };
}

export async function authenticate(cloud: CloudConfig, http: HttpContext): Promise<KeystoneToken> {
  const tokensUrl = `${cloud.authUrl}/auth/tokens`;
  const hint =
    cloud.authType === 'application_credential'
      ? 'check the application credential id/name and secret in clouds.yaml'
      : 'check the user, password, project and their domains in clouds.yaml';
  const res = await requestJson(http, {
    method: 'POST',
    url: tokensUrl,
    body: authRequestBody(cloud),
    authHint: `authentication failed; ${hint}`,
  });
  const malformed = (what: string) =>
    new OpenStackError({
      kind: 'malformed',
      cloud: cloud.name,
      url: tokensUrl,
      status: res.status,
      detail: `POST ${tokensUrl} returned HTTP ${res.status} but ${what}; is auth_url a Keystone v3 endpoint?`,
      secrets: http.secrets,
    });
  const token = res.headers.get('x-subject-token');
  if (!token) throw malformed('no X-Subject-Token header');
  http.secrets.push(token);
  const body = (res.json as { token?: RawToken } | undefined)?.token;
  if (!body || typeof body !== 'object') throw malformed('the body has no "token" object');
  return {
    token,
    expiresAt: typeof body.expires_at === 'string' ? body.expires_at : '',
    projectId: typeof body.project?.id === 'string' ? body.project.id : undefined,
    userId: typeof body.user?.id === 'string' ? body.user.id : undefined,
    catalog: parseCatalog(body.catalog),
    tokensUrl,
    status: res.status,
  };
}

interface RawToken {
  expires_at?: unknown;
  project?: { id?: unknown };
  user?: { id?: unknown };
  catalog?: unknown;
}

function parseCatalog(raw: unknown): CatalogService[] {
  if (!Array.isArray(raw)) return [];
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return raw
    .filter((s): s is Record<string, unknown> => s !== null && typeof s === 'object')
    .map((s) => ({
      type: str(s.type) ?? '',
      name: str(s.name),
      endpoints: (Array.isArray(s.endpoints) ? (s.endpoints as unknown[]) : [])
        .filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object')
        .map((e) => ({ interface: str(e.interface) ?? '', region: str(e.region_id) ?? str(e.region), url: str(e.url) ?? '' }))
        .filter((e) => e.url !== ''),
    }));
}

export interface EndpointQuery {
  readonly type: string;
  readonly interface: EndpointInterface;
  /** Any region when undefined (the first match in catalog order). */
  readonly region?: string | undefined;
}

/**
 * The URL of the endpoint of `query.type` for the interface and region, or an OpenStackError
 * ('catalog') saying what the catalog offers instead.
 */
export function findEndpoint(token: KeystoneToken, query: EndpointQuery, cloudName: string): string {
  const services = token.catalog.filter((s) => s.type === query.type);
  const endpoints = services.flatMap((s) => s.endpoints);
  const match = endpoints.find((e) => e.interface === query.interface && (query.region === undefined || e.region === query.region));
  if (match) {
    refuseDowngrade(token, query, match, cloudName);
    return match.url.replace(/\/+$/, '');
  }

  const where = query.region === undefined ? '' : ` in region ${query.region}`;
  const offers = endpoints.length
    ? `the catalog offers: ${endpoints.map((e) => `${e.interface}@${e.region ?? '(no region)'}`).join(', ')}`
    : `the catalog has no ${query.type} service (it has: ${token.catalog.map((s) => s.type).join(', ') || 'nothing'})`;
  throw new OpenStackError({
    kind: 'catalog',
    cloud: cloudName,
    url: token.tokensUrl,
    status: token.status,
    detail: `no ${query.type} endpoint for interface ${query.interface}${where}; ${offers} (catalog from POST ${redactUrl(token.tokensUrl)}, HTTP ${token.status})`,
  });
}

/**
 * Every request to an endpoint carries the token. When Keystone was reached over https, an http
 * endpoint would send that token in clear (a catalog typo, or a tampered catalog): refuse it.
 */
function refuseDowngrade(token: KeystoneToken, query: EndpointQuery, endpoint: CatalogEndpoint, cloudName: string): void {
  if (scheme(token.tokensUrl) !== 'https:' || scheme(endpoint.url) !== 'http:') return;
  const url = redactUrl(endpoint.url);
  throw new OpenStackError({
    kind: 'catalog',
    cloud: cloudName,
    url: endpoint.url,
    status: token.status,
    detail:
      `the catalog's ${query.type} endpoint ${url} (interface ${endpoint.interface}, region ${endpoint.region ?? '(none)'}) is http while auth_url is https; ` +
      `the token would travel in clear, so it is not used: fix the endpoint's URL in the catalog, or choose another interface/region ` +
      `(catalog from POST ${redactUrl(token.tokensUrl)}, HTTP ${token.status})`,
  });
}

function scheme(url: string): string | undefined {
  try {
    return new URL(url).protocol;
  } catch {
    return undefined;
  }
}
