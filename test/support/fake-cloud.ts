// A tiny OpenStack on 127.0.0.1 for fault cases (and `npm start` when no cloud runs): Keystone v3 (POST /v3/auth/tokens, with a
// catalog whose image endpoint points back here) and Glance v2 (GET /image/v2/images[/<id>]).
// Each service can be switched to fail: HTTP 401/500, hang (accept and never answer), or, for
// Glance, answer 200 with a body that is not JSON. Error bodies echo the request, password
// included, the way a careless proxy or debug-mode service might: nothing may repeat it.
// Projects besides demo (addProject: a github-runner consumer's) get tokens of their own, and
// each project sees only its own images; images can be created, given data (sha512 + MD5, as
// Glance computes them), downloaded and deleted, which is what the charm's copier needs.
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type KeystoneMode = 'ok' | '401' | '500' | 'hang';
export type GlanceMode = 'ok' | '500' | 'hang' | 'malformed';

export interface FakeImage {
  readonly id: string;
  readonly name: string;
  readonly created_at: string;
  readonly status: string;
  /** The project it belongs to; absent: demo's. */
  readonly owner?: string;
  /** Set once it has data (putData, or an upload). */
  readonly size?: number;
  readonly checksum?: string;
  readonly os_hash_algo?: string;
  readonly os_hash_value?: string;
  /** Other fields and properties given when it was created (disk_format, architecture...). */
  readonly [property: string]: unknown;
}

/** A project besides demo, with its one user (password auth, domain Default). */
export interface FakeProject {
  readonly id: string;
  readonly name: string;
  readonly user: string;
  readonly password: string;
}

export interface FakeCloud {
  /** auth_url for clouds.yaml. */
  readonly authUrl: string;
  keystone: KeystoneMode;
  glance: GlanceMode;
  images: FakeImage[];
  /**
   * When set, an id not in `images` is an active image of this name (what the builder stand-in
   * uploaded: it cannot reach this cloud itself); otherwise such an id is 404.
   */
  uploadedName: string | undefined;
  /** Runs before each request is answered (e.g. to let images land that were built meanwhile). */
  beforeRequest: (() => void) | undefined;
  /** Every request: method, path and query, body. */
  readonly requests: { method: string; url: string; body: string }[];
  /** A project of its own for `user` (a consumer's): its tokens see only its images. */
  addProject(name: string, user: string, password: string): FakeProject;
  /** Gives an image data, as an upload would: size, MD5, sha512, status active. */
  putData(id: string, data: Buffer): void;
  close(): Promise<void>;
}

/** The demo project: every token that names no added project is scoped to it. */
export const FAKE_PROJECT_ID = 'f00dfeedf00dfeedf00dfeedf00dfeed';
const PROJECT_ID = FAKE_PROJECT_ID;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.concat(chunks)));
  });
}

/** The user and project a password auth request names (undefined parts when it names none). */
function authOf(body: string): { user?: string; password?: string; project?: string } {
  try {
    const auth = (JSON.parse(body) as { auth?: { identity?: { password?: { user?: { name?: string; password?: string } } }; scope?: { project?: { name?: string } } } }).auth;
    return { user: auth?.identity?.password?.user?.name, password: auth?.identity?.password?.user?.password, project: auth?.scope?.project?.name };
  } catch {
    return {};
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startFakeCloud(init: { keystone?: KeystoneMode; glance?: GlanceMode; images?: FakeImage[]; uploadedName?: string; beforeRequest?: () => void } = {}): Promise<FakeCloud> {
  const requests: FakeCloud['requests'] = [];
  const projects: FakeProject[] = [];
  /** Which project each token of an added project is scoped to (others: demo). */
  const tokens = new Map<string, FakeProject>();
  const data = new Map<string, Buffer>();
  let base = '';
  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const body = raw.toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      cloud.beforeRequest?.();
      const url = new URL(req.url ?? '/', base);
      if (req.method === 'POST' && url.pathname === '/v3/auth/tokens') {
        const asked = authOf(body);
        const project = projects.find((p) => p.name === asked.project);
        if (project && cloud.keystone === 'ok') {
          if (asked.user !== project.user || asked.password !== project.password) {
            return json(res, 401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
          }
          const token = `gAAAAfake-token-${randomUUID()}`;
          tokens.set(token, project);
          return json(
            res,
            201,
            {
              token: {
                expires_at: new Date(Date.now() + 3600_000).toISOString(),
                project: { id: project.id, name: project.name },
                user: { id: `u-${project.user}`, name: project.user },
                catalog: [{ type: 'image', name: 'glance', endpoints: [{ interface: 'public', region_id: 'RegionOne', region: 'RegionOne', url: `${base}/image` }] }],
              },
            },
            { 'x-subject-token': token },
          );
        }
        switch (cloud.keystone) {
          case 'hang':
            return;
          case '401':
            return json(res, 401, { error: { code: 401, title: 'Unauthorized', message: `The request you have made requires authentication. Request was: ${body}` } });
          case '500':
            res.writeHead(500, { 'content-type': 'text/html' });
            return res.end(`<html><head><title>500 Internal Server Error</title></head><body>Traceback: KeyError while handling ${body}</body></html>`);
          default:
            return json(
              res,
              201,
              {
                token: {
                  expires_at: new Date(Date.now() + 3600_000).toISOString(),
                  project: { id: PROJECT_ID, name: 'demo' },
                  user: { id: 'u1', name: 'demo' },
                  catalog: [{ type: 'image', name: 'glance', endpoints: [{ interface: 'public', region_id: 'RegionOne', region: 'RegionOne', url: `${base}/image` }] }],
                },
              },
              { 'x-subject-token': `gAAAAfake-token-${Math.random().toString(36).slice(2)}` },
            );
        }
      }
      const owner = tokens.get(String(req.headers['x-auth-token'] ?? ''))?.id ?? PROJECT_ID;
      const mine = (i: FakeImage) => (i.owner ?? PROJECT_ID) === owner;
      const fileOf = /^\/image\/v2\/images\/([^/]+)\/file$/.exec(url.pathname);
      if (cloud.glance === 'ok' && fileOf) {
        const image = cloud.images.find((i) => i.id === decodeURIComponent(fileOf[1]!) && mine(i));
        if (!image) return json(res, 404, { message: 'not found' });
        if (req.method === 'PUT') {
          cloud.putData(image.id, raw);
          res.writeHead(204);
          return res.end();
        }
        const bytes = data.get(image.id);
        if (req.method === 'GET' && bytes) {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) });
          return res.end(bytes);
        }
        res.writeHead(204); // no data yet, as Glance answers
        return res.end();
      }
      if (cloud.glance === 'ok' && req.method === 'POST' && url.pathname === '/image/v2/images') {
        const fields = JSON.parse(body || '{}') as Record<string, unknown>;
        const image: FakeImage = { ...fields, id: randomUUID(), name: String(fields.name ?? ''), status: 'queued', created_at: new Date().toISOString(), owner };
        cloud.images.push(image);
        return json(res, 201, image);
      }
      if (cloud.glance === 'ok' && req.method === 'DELETE' && url.pathname.startsWith('/image/v2/images/')) {
        const i = cloud.images.findIndex((im) => im.id === decodeURIComponent(url.pathname.slice('/image/v2/images/'.length)) && mine(im));
        if (i < 0) return json(res, 404, { message: 'not found' });
        data.delete(cloud.images[i]!.id);
        cloud.images.splice(i, 1);
        res.writeHead(204);
        return res.end();
      }
      if (req.method === 'GET' && url.pathname.startsWith('/image/v2/images')) {
        switch (cloud.glance) {
          case 'hang':
            return;
          case '500':
            res.writeHead(500, { 'content-type': 'text/plain' });
            return res.end(`500 Internal Server Error\n\nThe server has either erred or is incapable of performing the requested operation. (${req.headers['x-auth-token'] ?? ''})`);
          case 'malformed':
            res.writeHead(200, { 'content-type': 'application/json' });
            return res.end('{"images": [{"id": "x", "name": ');
          default: {
            const id = decodeURIComponent(url.pathname.slice('/image/v2/images/'.length));
            if (url.pathname.startsWith('/image/v2/images/')) {
              const image = cloud.images.find((i) => i.id === id && mine(i)) ?? (cloud.uploadedName && owner === PROJECT_ID ? { id, name: cloud.uploadedName, status: 'active', created_at: new Date().toISOString() } : undefined);
              return image ? json(res, 200, image) : json(res, 404, { message: 'not found' });
            }
            const name = url.searchParams.get('name');
            const images = cloud.images
              .filter((i) => (name === null || i.name === name) && i.status === 'active' && mine(i))
              .sort((a, b) => b.created_at.localeCompare(a.created_at))
              .slice(0, Number(url.searchParams.get('limit') ?? '25'));
            return json(res, 200, { images, schema: '/v2/schemas/images', first: '/v2/images' });
          }
        }
      }
      json(res, 404, { message: `no route for ${req.method} ${url.pathname}` });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cloud: FakeCloud = {
    authUrl: `${base}/v3`,
    keystone: init.keystone ?? 'ok',
    glance: init.glance ?? 'ok',
    images: init.images ?? [],
    uploadedName: init.uploadedName,
    beforeRequest: init.beforeRequest,
    requests,
    addProject: (name, user, password) => {
      const project: FakeProject = { id: createHash('md5').update(`project ${name}`).digest('hex'), name, user, password };
      projects.push(project);
      return project;
    },
    putData: (id, bytes) => {
      const i = cloud.images.findIndex((im) => im.id === id);
      if (i < 0) throw new Error(`no image ${id} in the fake cloud`);
      data.set(id, bytes);
      cloud.images[i] = {
        ...cloud.images[i]!,
        status: 'active',
        size: bytes.length,
        checksum: createHash('md5').update(bytes).digest('hex'),
        os_hash_algo: 'sha512',
        os_hash_value: createHash('sha512').update(bytes).digest('hex'),
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return cloud;
}
