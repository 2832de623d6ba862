// Glance v2 image listing: filters and sorting are done by the server, so finding the newest
// image of a name is one small request however many images the project holds.
import { OpenStackError } from './errors.js';
import { requestJson, type HttpContext } from './http.js';

export interface Image {
  readonly id: string;
  /** '' when the image has no name. */
  readonly name: string;
  /** ISO 8601 (Glance: whole seconds, UTC). */
  readonly createdAt: string;
  /** queued, saving, uploading, importing, active, deactivated, killed, deleted, pending_delete */
  readonly status: string;
  readonly updatedAt?: string | undefined;
  readonly owner?: string | undefined;
  readonly visibility?: string | undefined;
}

/** One image with what a copy needs: its data's size and hashes, and every field and property. */
export interface ImageDetails extends Image {
  /** Bytes of data; undefined until data is uploaded. */
  readonly size: number | undefined;
  /** MD5 of the data (Glance's legacy checksum). */
  readonly checksum: string | undefined;
  /** e.g. sha512 (Glance's multihash). */
  readonly hashAlgo: string | undefined;
  readonly hashValue: string | undefined;
  /** The whole record as Glance sent it: base fields and extra properties alike. */
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface ImageFilters {
  /** Exact name. */
  readonly name?: string;
  readonly status?: string;
  /** Project id; Glance lists other projects' public/community/shared images too otherwise. */
  readonly owner?: string;
  /** public, private, shared, community or all (Glance's default leaves community out). */
  readonly visibility?: string;
  /** Glance's "sort" syntax, e.g. "created_at:desc" (default) or "name:asc,created_at:desc". */
  readonly sort?: string;
  /** Page size (Glance caps it, by default at 1000). */
  readonly limit?: number;
}

/** The Glance root from a catalog URL, which may or may not carry a version (/v2, /v2.1). */
export function glanceRoot(endpointUrl: string): string {
  return endpointUrl.replace(/\/+$/, '').replace(/\/v[12](\.\d+)?$/, '');
}

/** GET /v2/images with the filters as query parameters. */
export function imagesUrl(root: string, filters: ImageFilters): string {
  const q = new URLSearchParams();
  if (filters.name !== undefined) q.set('name', nameFilter(filters.name));
  if (filters.status !== undefined) q.set('status', filters.status);
  if (filters.owner !== undefined) q.set('owner', filters.owner);
  if (filters.visibility !== undefined) q.set('visibility', filters.visibility);
  q.set('sort', filters.sort ?? 'created_at:desc');
  if (filters.limit !== undefined) q.set('limit', String(filters.limit));
  return `${root}/v2/images?${q.toString()}`;
}

/**
 * Glance reads "op:value" in name filters (in:a,b / eq:x), splitting at the first colon; a name
 * with a colon in it must therefore be sent as "eq:<name>".
 */
function nameFilter(name: string): string {
  return name.includes(':') ? `eq:${name}` : name;
}

export interface ImagePage {
  readonly images: Image[];
  /** Absolute URL of the next page, when Glance says there is one. */
  readonly next: string | undefined;
}

export async function getImagesPage(http: HttpContext, root: string, token: string, url: string): Promise<ImagePage> {
  const res = await requestJson(http, { method: 'GET', url, token, authHint: 'the token was refused' });
  const body = res.json as { images?: unknown; next?: unknown } | undefined;
  if (!body || !Array.isArray(body.images)) throw malformed(http, url, res.status, 'the body has no "images" list');
  const images = body.images.map((raw) => toImage(raw) ?? badImage(http, url, res.status));
  const next = typeof body.next === 'string' && body.next ? resolveNext(root, body.next) : undefined;
  return { images, next };
}

/** The URL of one image (and, with `/file`, of its data). */
export const imageUrl = (root: string, id: string): string => `${root}/v2/images/${encodeURIComponent(id)}`;

/** One image by id; null when Glance says 404 (no such image, or not visible to us). */
export async function getImageById(http: HttpContext, root: string, token: string, id: string): Promise<ImageDetails | null> {
  const url = imageUrl(root, id);
  const res = await requestJson(http, { method: 'GET', url, token, accept: [404], authHint: 'the token was refused' });
  if (res.status === 404) return null;
  return toDetails(res.json) ?? badImage(http, url, res.status);
}

/** POST /v2/images: a new image record (status queued, no data) with these fields and properties. */
export async function createImage(http: HttpContext, root: string, token: string, fields: Record<string, unknown>): Promise<ImageDetails> {
  const url = `${root}/v2/images`;
  const res = await requestJson(http, { method: 'POST', url, token, body: fields, authHint: 'the token was refused' });
  return toDetails(res.json) ?? badImage(http, url, res.status, 'POST');
}

/** DELETE /v2/images/<id>: true when deleted, false when it was already gone. */
export async function deleteImage(http: HttpContext, root: string, token: string, id: string): Promise<boolean> {
  const res = await requestJson(http, { method: 'DELETE', url: imageUrl(root, id), token, accept: [404], authHint: 'the token was refused' });
  return res.status !== 404;
}

/**
 * Glance's "next" is a path from its own root ("/v2/images?marker=..."); keep any path prefix
 * the catalog URL has (e.g. https://cloud/image/v2/...), and never leave that host.
 */
function resolveNext(root: string, next: string): string {
  if (/^https?:\/\//i.test(next)) {
    const n = new URL(next);
    const r = new URL(root);
    return n.origin === r.origin ? next : `${root}${n.pathname}${n.search}`;
  }
  const path = next.startsWith('/') ? next : `/${next}`;
  const rootPath = new URL(root).pathname.replace(/\/+$/, '');
  return rootPath && path.startsWith(`${rootPath}/`) ? `${new URL(root).origin}${path}` : `${root}${path}`;
}

function toImage(raw: unknown): Image | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const id = str(r.id);
  const status = str(r.status);
  const createdAt = str(r.created_at);
  if (!id || !status || !createdAt) return undefined;
  return {
    id,
    name: str(r.name) ?? '',
    createdAt,
    status,
    updatedAt: str(r.updated_at),
    owner: str(r.owner),
    visibility: str(r.visibility),
  };
}

function toDetails(raw: unknown): ImageDetails | undefined {
  const image = toImage(raw);
  if (!image) return undefined;
  const r = raw as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    ...image,
    size: typeof r.size === 'number' && Number.isSafeInteger(r.size) && r.size >= 0 ? r.size : undefined,
    checksum: str(r.checksum),
    hashAlgo: str(r.os_hash_algo),
    hashValue: str(r.os_hash_value),
    fields: r,
  };
}

function badImage(http: HttpContext, url: string, status: number, method = 'GET'): never {
  throw malformed(http, url, status, 'an image lacks id, status or created_at', method);
}

function malformed(http: HttpContext, url: string, status: number, what: string, method = 'GET'): OpenStackError {
  return new OpenStackError({
    kind: 'malformed',
    cloud: http.cloud,
    url,
    status,
    detail: `${method} ${url} returned HTTP ${status} but ${what}; is the catalog's image endpoint a Glance v2 API?`,
    secrets: http.secrets,
  });
}
