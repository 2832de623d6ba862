// A tiny OpenStack on 127.0.0.1 for fault cases (and `npm start` when no cloud runs): Keystone v3 (POST /v3/auth/tokens, with a
// catalog whose image endpoint points back here) and Glance v2 (GET /image/v2/images[/<id>]).
// Each service can be switched to fail: HTTP 401/500, hang (accept and never answer), or, for
// Glance, answer 200 with a body that is not JSON. Error bodies echo the request, password
// included, the way a careless proxy or debug-mode service might: nothing may repeat it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type KeystoneMode = 'ok' | '401' | '500' | 'hang';
export type GlanceMode = 'ok' | '500' | 'hang' | 'malformed';

export interface FakeImage {
  readonly id: string;
  readonly name: string;
  readonly created_at: string;
  readonly status: string;
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
  close(): Promise<void>;
}

const PROJECT_ID = 'f00dfeedf00dfeedf00dfeedf00dfeed';

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => resolve(body));
    req.on('error', () => resolve(body));
  });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startFakeCloud(init: { keystone?: KeystoneMode; glance?: GlanceMode; images?: FakeImage[]; uploadedName?: string; beforeRequest?: () => void } = {}): Promise<FakeCloud> {
  const requests: FakeCloud['requests'] = [];
  let base = '';
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      cloud.beforeRequest?.();
      const url = new URL(req.url ?? '/', base);
      if (req.method === 'POST' && url.pathname === '/v3/auth/tokens') {
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
              const image = cloud.images.find((i) => i.id === id) ?? (cloud.uploadedName ? { id, name: cloud.uploadedName, status: 'active', created_at: new Date().toISOString() } : undefined);
              return image ? json(res, 200, image) : json(res, 404, { message: 'not found' });
            }
            const name = url.searchParams.get('name');
            const images = cloud.images
              .filter((i) => (name === null || i.name === name) && i.status === 'active')
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return cloud;
}
