// The client the charm uses: authenticate once per client (the token is kept privately and
// reused until shortly before it expires), find the image endpoint, ask Glance.
import type { CloudConfig } from './clouds.js';
import { OpenStackError } from './errors.js';
import type { Readable } from 'node:stream';
import {
  createImage,
  deleteImage,
  getImageById,
  getImagesPage,
  glanceRoot,
  imageUrl,
  imagesUrl,
  type Image,
  type ImageDetails,
  type ImageFilters,
} from './glance.js';
import { DEFAULT_TIMEOUT_MS, requestData, type FetchFn, type HttpContext } from './http.js';
import { authenticate, findEndpoint, type KeystoneToken } from './keystone.js';
import { proxyRouter, type ProxySettings } from './proxy.js';
import { fetchOver, nodeRequest, type NodeRequestFn } from './tls-fetch.js';

export interface ClientOptions {
  /**
   * Replaces the transport of API requests (tests count requests with it). Used as is, even with
   * cacert. Image data cannot go through it: downloadImage/uploadImage then fail ('config').
   */
  readonly fetch?: FetchFn;
  /** Per API request, connection to last byte (default 10 s). */
  readonly timeoutMs?: number;
  /** Image data transfers have no deadline; they fail when the connection is idle this long (default 60 s). */
  readonly idleTimeoutMs?: number;
  /** Cancels every request of this client. */
  readonly signal?: AbortSignal;
  /**
   * The model's proxy (the charm passes JUJU_CHARM_HTTP_PROXY, _HTTPS_PROXY, _NO_PROXY); the
   * environment is never read here. Not used with `fetch`.
   */
  readonly proxy?: ProxySettings | undefined;
}

/** What getLatestImage returns. */
export interface LatestImage {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly status: string;
}

export interface LatestImageOptions {
  /**
   * Also consider images of other projects that this project can see (public, shared with it).
   * Off by default: the newest image must be one this project built, not one anybody else
   * named the same way.
   */
  readonly anyOwner?: boolean;
}

/** An image's data as it arrives: read it (or destroy it) promptly. */
export interface ImageDownload {
  readonly body: Readable;
  /** The content-length Glance announced, if any. */
  readonly size: number | undefined;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** Re-authenticate when the token has less than this left. */
const TOKEN_MARGIN_MS = 60_000;
/** A listing stops after this many pages rather than follow `next` links forever. */
const MAX_PAGES = 1000;

export class OpenStackClient {
  readonly cloudName: string;
  readonly #cloud: CloudConfig;
  readonly #options: ClientOptions;
  #http: Promise<HttpContext> | undefined;
  #token: KeystoneToken | undefined;
  #pendingAuth: Promise<KeystoneToken> | undefined;

  constructor(cloud: CloudConfig, options: ClientOptions = {}) {
    this.cloudName = cloud.name;
    this.#cloud = cloud;
    this.#options = options;
  }

  /** Authenticates (or reuses the token) and says who we are; the token itself stays inside. */
  async whoami(): Promise<{ projectId: string | undefined; userId: string | undefined; expiresAt: string }> {
    const t = await this.#auth();
    return { projectId: t.projectId, userId: t.userId, expiresAt: t.expiresAt };
  }

  /** The image (Glance) endpoint for the cloud's interface and region. */
  async imageEndpoint(): Promise<string> {
    return findEndpoint(await this.#auth(), { type: 'image', interface: this.#cloud.interface, region: this.#cloud.regionName }, this.cloudName);
  }

  /**
   * The newest active image called `name` (of this project, unless anyOwner), or null.
   * Two HTTP requests at most (auth, then one filtered, sorted list with limit=1); one when
   * the client already holds a token.
   */
  async getLatestImage(name: string, options: LatestImageOptions = {}): Promise<LatestImage | null> {
    const token = await this.#auth();
    const filters: ImageFilters = {
      name,
      status: 'active',
      sort: 'created_at:desc,id:desc',
      limit: 1,
      ...(options.anyOwner ? {} : { owner: this.#requireProject(token) }),
    };
    const root = await this.#root();
    const url = imagesUrl(root, filters);
    const page = await getImagesPage(await this.#ctx(), root, token.token, url);
    const image = page.images[0];
    if (!image) return null;
    // Trust, but check: a server ignoring a filter must not make us pick the wrong image.
    if (image.name !== name || image.status !== 'active') {
      throw new OpenStackError({ kind: 'malformed', cloud: this.cloudName, detail: `Glance ignored the name/status filters of GET ${url} (HTTP 200)`, url, status: 200 });
    }
    return { id: image.id, name: image.name, createdAt: image.createdAt, status: image.status };
  }

  /** Every image matching the filters, following Glance's `next` links page by page. */
  async listImages(filters: ImageFilters = {}): Promise<Image[]> {
    const token = await this.#auth();
    const root = await this.#root();
    const http = await this.#ctx();
    const out: Image[] = [];
    const seen = new Set<string>();
    let url: string | undefined = imagesUrl(root, filters);
    for (let page = 0; url !== undefined; page++) {
      if (page >= MAX_PAGES || seen.has(url)) {
        throw new OpenStackError({ kind: 'malformed', cloud: this.cloudName, url, detail: `GET ${url}: Glance's "next" links do not end (stopped after ${page} pages)` });
      }
      seen.add(url);
      const result: Awaited<ReturnType<typeof getImagesPage>> = await getImagesPage(http, root, token.token, url);
      out.push(...result.images);
      url = result.next;
    }
    return out;
  }

  /** One image by id (status, size, hashes, properties), or null when it does not exist (or this project cannot see it). */
  async getImage(id: string): Promise<ImageDetails | null> {
    const token = await this.#auth();
    return getImageById(await this.#ctx(), await this.#root(), token.token, id);
  }

  /** The active images called `name` of this project, newest first. One list request per page. */
  async activeImages(name: string): Promise<Image[]> {
    const owner = this.#requireProject(await this.#auth());
    return (await this.listImages({ name, status: 'active', owner, sort: 'created_at:desc,id:desc' })).filter((i) => i.name === name && i.status === 'active');
  }

  /** A new image record in this project (status queued, no data yet). */
  async createImage(fields: Record<string, unknown>): Promise<ImageDetails> {
    const token = await this.#auth();
    return createImage(await this.#ctx(), await this.#root(), token.token, fields);
  }

  /** Deletes an image: true when it was deleted, false when it was already gone. */
  async deleteImage(id: string): Promise<boolean> {
    const token = await this.#auth();
    return deleteImage(await this.#ctx(), await this.#root(), token.token, id);
  }

  /** Starts reading an image's data (GET /v2/images/<id>/file); nothing is buffered beyond the stream's own window. */
  async downloadImage(id: string, progress?: () => number): Promise<ImageDownload> {
    const token = await this.#auth();
    const url = `${imageUrl(await this.#root(), id)}/file`;
    const res = await requestData(await this.#ctx(), { method: 'GET', url, token: token.token, idleTimeoutMs: this.#idleMs(), progress });
    const length = Number(res.headers.get('content-length') ?? NaN);
    return { body: res.body!, size: Number.isSafeInteger(length) && length >= 0 ? length : undefined };
  }

  /**
   * Uploads an image's data (PUT /v2/images/<id>/file) from `body`, read as fast as Glance takes
   * it; resolves when Glance has answered. `size` (when known) goes as content-length. An abort
   * of `signal` ends the request, also once the body has gone whole and the answer is awaited.
   */
  async uploadImage(id: string, body: Readable, size: number | undefined, progress?: () => number, signal?: AbortSignal): Promise<void> {
    const token = await this.#auth();
    const url = `${imageUrl(await this.#root(), id)}/file`;
    await requestData(await this.#ctx(), { method: 'PUT', url, token: token.token, body, size, idleTimeoutMs: this.#idleMs(), progress, signal });
  }

  #idleMs(): number {
    return this.#options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  }

  async #root(): Promise<string> {
    return glanceRoot(await this.imageEndpoint());
  }

  #requireProject(token: KeystoneToken): string {
    if (token.projectId) return token.projectId;
    throw new OpenStackError({
      kind: 'malformed',
      cloud: this.cloudName,
      url: token.tokensUrl,
      status: token.status,
      detail: `POST ${token.tokensUrl} returned HTTP ${token.status} with a token that is not scoped to a project`,
    });
  }

  async #auth(): Promise<KeystoneToken> {
    const t = this.#token;
    if (t && (!t.expiresAt || Date.parse(t.expiresAt) - Date.now() > TOKEN_MARGIN_MS)) return t;
    // Concurrent callers share one authentication.
    this.#pendingAuth ??= (async () => {
      try {
        this.#token = await authenticate(this.#cloud, await this.#ctx());
        return this.#token;
      } finally {
        this.#pendingAuth = undefined;
      }
    })();
    return this.#pendingAuth;
  }

  #ctx(): Promise<HttpContext> {
    this.#http ??= makeContext(this.#cloud, this.#options);
    return this.#http;
  }
}

/** The newest active image called `name` in the cloud's project, or null. At most 2 requests. */
export async function getLatestImage(cloud: CloudConfig, name: string, options: ClientOptions & LatestImageOptions = {}): Promise<LatestImage | null> {
  return new OpenStackClient(cloud, options).getLatestImage(name, options);
}

async function makeContext(cloud: CloudConfig, options: ClientOptions): Promise<HttpContext> {
  const secrets: (string | undefined)[] = [cloud.password, cloud.applicationCredentialSecret];
  if (options.fetch) {
    return { cloud: cloud.name, fetch: options.fetch, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: options.signal, secrets };
  }
  const proxy = proxyRouter(options.proxy, cloud.name);
  secrets.push(...(proxy?.secrets ?? []));
  const send = await transportFor(cloud, secrets, proxy);
  return {
    cloud: cloud.name,
    fetch: fetchOver(send),
    stream: send,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    signal: options.signal,
    secrets,
    proxyFor: proxy
      ? (url) => {
          try {
            return proxy.route(new URL(url));
          } catch {
            return undefined; // the transport raises the error itself
          }
        }
      : undefined,
  };
}

/** Requests over node:http(s) (tls-fetch.ts says why not the global fetch), with the cloud's CA or verify: false, and the proxy. */
async function transportFor(cloud: CloudConfig, secrets: (string | undefined)[], proxy: ReturnType<typeof proxyRouter>): Promise<NodeRequestFn> {
  let ca: string | undefined;
  if (cloud.cacert !== undefined) {
    const { readFile } = await import('node:fs/promises');
    try {
      ca = await readFile(cloud.cacert, 'utf8');
    } catch (err) {
      throw new OpenStackError({ kind: 'config', cloud: cloud.name, detail: `cannot read cacert ${cloud.cacert}`, secrets, cause: err });
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new OpenStackError({ kind: 'config', cloud: cloud.name, detail: `cacert ${cloud.cacert} holds no PEM certificate` });
    }
  }
  return nodeRequest({ ca, rejectUnauthorized: cloud.verify }, proxy);
}
