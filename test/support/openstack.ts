// For suites that need the real Keystone + Glance of scripts/openstack/start.sh: find out
// whether they are up (and say so loudly when they are not), and make/remove images through
// plain REST, independently of the client under test.
//
//   const suite = await openstackSuite();
//   if (guardOpenStackSuite(suite, 'getLatestImage')) { describe(...) }  // guardOpenStackSuite: ./openstack-guard.ts
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CANARY_PASSWORD = 'canary-Pa55w0rd-do-not-leak';
export const HOW_TO_START =
  'start them with `bash scripts/openstack/start.sh` (after `bash scripts/openstack/install.sh`), ' +
  'or run the tests through `npm run test:openstack` (the OpenStack tier) or `npm run test:all` (every tier)';

export interface OpenStackSuite {
  /** Both services answer and the state files are there. */
  readonly up: boolean;
  /** Why not up ('' when up). */
  readonly reason: string;
  readonly stateDir: string;
  readonly cloudsYamlPath: string;
  /** The clouds.yaml text ('' when not up). */
  readonly cloudsYaml: string;
  /** The cloud in clouds.yaml: user demo, project demo, password auth. */
  readonly cloudName: string;
  /** demo's password: no error text may ever contain it. */
  readonly canaryPassword: string;
  readonly keystoneUrl: string;
  readonly glanceUrl: string;
  readonly demo: { readonly userId: string; readonly projectId: string };
  readonly admin: { readonly username: string; readonly projectName: string; readonly password: string };
  /** Two more projects, each with its own member user: github-runner deployments (consumers). */
  readonly consumers: readonly SuiteConsumer[];
}

/** A consumer project and its user; its password is a canary as well. */
export interface SuiteConsumer {
  /** `<project_name>_<username>`, as the charm names a consumer's cloud. */
  readonly cloudName: string;
  readonly username: string;
  readonly projectName: string;
  readonly password: string;
  readonly projectId: string;
  readonly userId: string;
}

interface SuiteJson {
  keystoneUrl: string;
  glanceUrl: string;
  cloudName: string;
  canaryPassword: string;
  demo: { userId: string; projectId: string };
  admin: { username: string; projectName: string; password: string };
  consumers?: SuiteConsumer[];
}

const PROBE_TIMEOUT_MS = 15_000;

export function openstackStateDir(): string {
  return resolve(process.env.OPENSTACK_SUITE_DIR ?? join(REPO, '.tmp', 'openstack'));
}

/**
 * Reads the state dir and probes both services: about 10 ms when up, at once when nothing
 * listens. Keystone answers one request at a time, so while other suites keep it busy on a
 * loaded machine an answer can take seconds: a slow answer is not a reason to skip the suite.
 */
export async function openstackSuite(): Promise<OpenStackSuite> {
  const stateDir = openstackStateDir();
  const cloudsYamlPath = join(stateDir, 'clouds.yaml');
  const down = (reason: string): OpenStackSuite => ({
    up: false,
    reason,
    stateDir,
    cloudsYamlPath,
    cloudsYaml: '',
    cloudName: 'loopback',
    canaryPassword: CANARY_PASSWORD,
    keystoneUrl: 'http://127.0.0.1:5000/v3',
    glanceUrl: 'http://127.0.0.1:9292',
    demo: { userId: '', projectId: '' },
    admin: { username: 'admin', projectName: 'admin', password: '' },
    consumers: [],
  });
  const suitePath = join(stateDir, 'suite.json');
  if (!existsSync(suitePath) || !existsSync(cloudsYamlPath)) {
    return down(`Keystone + Glance are not running (no ${suitePath}); ${HOW_TO_START}`);
  }
  let info: SuiteJson;
  try {
    info = JSON.parse(readFileSync(suitePath, 'utf8')) as SuiteJson;
  } catch (err) {
    return down(`cannot read ${suitePath} (${String(err)}); ${HOW_TO_START}`);
  }
  for (const [name, url] of [
    ['Keystone', info.keystoneUrl],
    ['Glance', `${info.glanceUrl}/healthcheck`],
  ] as const) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      await res.arrayBuffer();
      if (!res.ok) return down(`${name} at ${url} answered HTTP ${res.status}; ${HOW_TO_START}`);
    } catch {
      return down(`${name} is not answering at ${url}; ${HOW_TO_START}`);
    }
  }
  return {
    up: true,
    reason: '',
    stateDir,
    cloudsYamlPath,
    cloudsYaml: readFileSync(cloudsYamlPath, 'utf8'),
    cloudName: info.cloudName,
    canaryPassword: info.canaryPassword,
    keystoneUrl: info.keystoneUrl,
    glanceUrl: info.glanceUrl,
    demo: info.demo,
    admin: info.admin,
    consumers: info.consumers ?? [],
  };
}

/**
 * A clouds.yaml with one cloud per consumer (named `<project>_<user>`), as the charm writes
 * them from the credentials github-runner units send.
 */
export function consumerCloudsYaml(suite: OpenStackSuite, consumers: readonly SuiteConsumer[] = suite.consumers): string {
  const clouds = consumers.map(
    (c) => `  ${c.cloudName}:
    auth:
      auth_url: ${suite.keystoneUrl}
      username: ${c.username}
      password: ${c.password}
      project_name: ${c.projectName}
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
`,
  );
  return `clouds:\n${clouds.join('')}`;
}


// ---------------------------------------------------------------------------------------------
// Plain REST helpers (not the client under test).

export type Who = 'demo' | 'admin' | SuiteConsumer;

async function call(method: string, url: string, init: { token?: string; json?: unknown; body?: Uint8Array; expect?: number[] } = {}) {
  const headers: Record<string, string> = {};
  if (init.token) headers['x-auth-token'] = init.token;
  let body: string | Uint8Array | undefined;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (init.body) {
    headers['content-type'] = 'application/octet-stream';
    body = init.body;
  }
  const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  const ok = init.expect ? init.expect.includes(res.status) : res.ok;
  if (!ok) throw new Error(`${method} ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  // Error pages (a 404 the caller expects) are HTML: only a 2xx body is JSON.
  return { res, json: text && res.ok ? (JSON.parse(text) as unknown) : undefined };
}

/** A project-scoped token for demo (the clouds.yaml user), the bootstrap admin or a consumer. */
export async function suiteToken(suite: OpenStackSuite, who: Who = 'demo'): Promise<string> {
  const [user, project] =
    who === 'demo'
      ? [{ name: 'demo', password: suite.canaryPassword }, 'demo']
      : who === 'admin'
        ? [{ name: suite.admin.username, password: suite.admin.password }, suite.admin.projectName]
        : [{ name: who.username, password: who.password }, who.projectName];
  const { res } = await call('POST', `${suite.keystoneUrl}/auth/tokens`, {
    json: {
      auth: {
        identity: { methods: ['password'], password: { user: { ...user, domain: { id: 'default' } } } },
        scope: { project: { name: project, domain: { id: 'default' } } },
      },
    },
  });
  const token = res.headers.get('x-subject-token');
  if (!token) throw new Error('Keystone gave no X-Subject-Token');
  return token;
}

/**
 * Glance's created_at has 1 s resolution: before making an image meant to be newer than
 * `image`, wait until this machine's clock (Glance's, on loopback) has left `image`'s second.
 */
export function newerSecondThan(image: { readonly createdAt: string }): Promise<true> {
  return eventually(`the clock to pass ${image.createdAt}`, () => Date.now() >= Date.parse(image.createdAt) + 1000);
}

export interface CreatedImage {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
}

/** Runs `fn` over `items` with at most `limit` at a time; results in input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Image records in the demo project (or admin's), made and removed through Glance's REST API.
 * Every image it creates is remembered; `cleanup()` deletes them all.
 */
export class SuiteImages {
  readonly created = new Set<string>();

  private constructor(
    readonly suite: OpenStackSuite,
    private readonly token: string,
  ) {}

  static async open(suite: OpenStackSuite, who: Who = 'demo'): Promise<SuiteImages> {
    return new SuiteImages(suite, await suiteToken(suite, who));
  }

  /** A metadata-only image: status `queued` until data is uploaded. */
  async createQueued(name: string, extra: Record<string, unknown> = {}): Promise<CreatedImage> {
    const { json } = await call('POST', `${this.suite.glanceUrl}/v2/images`, {
      token: this.token,
      json: { name, disk_format: 'raw', container_format: 'bare', ...extra },
      expect: [201],
    });
    const image = json as { id: string; name: string; created_at: string };
    this.created.add(image.id);
    return { id: image.id, name: image.name, createdAt: image.created_at };
  }

  /** An image with a few bytes of data: status `active`. */
  async createActive(name: string, extra: Record<string, unknown> = {}): Promise<CreatedImage> {
    const image = await this.createQueued(name, extra);
    await this.upload(image.id);
    return image;
  }

  async upload(id: string, data: Uint8Array = new TextEncoder().encode(`image ${id}\n`)): Promise<void> {
    await call('PUT', `${this.suite.glanceUrl}/v2/images/${id}/file`, { token: this.token, body: data, expect: [204] });
  }

  /** active -> deactivated (Glance lets a project member do it to its own images). */
  async deactivate(id: string): Promise<void> {
    await call('POST', `${this.suite.glanceUrl}/v2/images/${id}/actions/deactivate`, { token: this.token, expect: [204] });
  }

  async status(id: string): Promise<string> {
    return (await this.details(id)).status as string;
  }

  /** The image as Glance shows it to this user (all its fields and properties). */
  async details(id: string): Promise<Record<string, unknown>> {
    const { json } = await call('GET', `${this.suite.glanceUrl}/v2/images/${id}`, { token: this.token });
    return json as Record<string, unknown>;
  }

  /** The images called `name` this user can see, any status (queued and saving included). */
  async named(name: string): Promise<{ id: string; status: string; owner: string }[]> {
    const { json } = await call('GET', `${this.suite.glanceUrl}/v2/images?name=${encodeURIComponent(name)}&limit=1000`, { token: this.token });
    return (json as { images: { id: string; status: string; owner: string }[] }).images.map(({ id, status, owner }) => ({ id, status, owner }));
  }

  /** Many metadata-only images at once (bounded parallel POSTs). */
  async createManyQueued(names: readonly string[], concurrency = 8): Promise<CreatedImage[]> {
    return mapBounded(names, concurrency, (name) => this.createQueued(name));
  }

  async delete(id: string): Promise<void> {
    await call('DELETE', `${this.suite.glanceUrl}/v2/images/${id}`, { token: this.token, expect: [204, 404] });
    this.created.delete(id);
  }

  /** Deletes every image this object created (bounded parallel DELETEs). */
  async cleanup(concurrency = 8): Promise<void> {
    await mapBounded([...this.created], concurrency, (id) => this.delete(id));
  }

  /** Ids of the images called `name` that this user can see. */
  async idsNamed(name: string): Promise<string[]> {
    return (await this.named(name)).map((i) => i.id);
  }
}

export interface ApplicationCredential {
  readonly id: string;
  readonly name: string;
  readonly secret: string;
  /** Deletes it again. */
  readonly remove: () => Promise<void>;
}

/** An application credential of the demo user (for its project), made through Keystone. */
export async function createApplicationCredential(suite: OpenStackSuite, name: string): Promise<ApplicationCredential> {
  const token = await suiteToken(suite, 'demo');
  const base = `${suite.keystoneUrl}/users/${suite.demo.userId}/application_credentials`;
  const { json } = await call('POST', base, { token, json: { application_credential: { name } }, expect: [201] });
  const cred = (json as { application_credential: { id: string; name: string; secret: string } }).application_credential;
  return {
    id: cred.id,
    name: cred.name,
    secret: cred.secret,
    remove: async () => {
      await call('DELETE', `${base}/${cred.id}`, { token, expect: [204, 404] });
    },
  };
}

/**
 * For a describe block that creates images: opens SuiteImages before its tests and deletes what
 * they created after. Returns a getter for the open SuiteImages.
 */
export function suiteImagesFor(suite: OpenStackSuite, hooks: { beforeAll: (fn: () => Promise<void>) => void; afterAll: (fn: () => Promise<void>) => void }): () => SuiteImages {
  let images: SuiteImages | undefined;
  hooks.beforeAll(async () => {
    images = await SuiteImages.open(suite);
  });
  hooks.afterAll(async () => images?.cleanup());
  return () => images!;
}
