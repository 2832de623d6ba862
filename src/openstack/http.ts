// The one place that sends requests: a timeout on each, JSON in and out, and every failure
// turned into an OpenStackError whose text is safe to show (see errors.ts).
import { OpenStackError, errorCode, redactUrl, scrub, type OpenStackErrorKind } from './errors.js';
import { ProxyFailure, proxyHint, type ProxyRoute } from './proxy.js';
import type { Readable } from 'node:stream';
import type { NodeRequestFn, NodeResponse } from './tls-fetch.js';

/** The part of a fetch Response the client reads: the global fetch's fits, and so does tls-fetch.ts's. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** What the client needs from `fetch`; the global one fits, and so does a counting wrapper. */
export type FetchFn = (url: string, init: RequestInit) => Promise<HttpResponse>;

export const DEFAULT_TIMEOUT_MS = 10_000;
/** Bigger answers are refused: nothing this client asks for comes near it. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Everything a request needs besides its own method, URL and body. */
export interface HttpContext {
  readonly cloud: string;
  readonly fetch: FetchFn;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Removed from every error: the password, the application-credential secret, the token, the proxy's credentials. */
  readonly secrets: (string | undefined)[];
  /** The proxy a URL goes through (messages name it by `shown`: no credentials); undefined: direct. */
  readonly proxyFor?: ((url: string) => ProxyRoute | undefined) | undefined;
  /** The transport for image data (streamed both ways); absent when `fetch` was replaced. */
  readonly stream?: NodeRequestFn | undefined;
}

export interface JsonRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly url: string;
  readonly token?: string | undefined;
  readonly body?: unknown;
  /** Non-2xx statuses the caller handles itself (e.g. 404 for "no such image"). */
  readonly accept?: readonly number[];
  /** Says what a 401/403 means here, e.g. "check the user, password and project". */
  readonly authHint?: string;
}

export interface JsonResponse {
  readonly status: number;
  readonly headers: HttpResponse['headers'];
  /** The parsed body; undefined for an empty body or an accepted non-2xx status. */
  readonly json: unknown;
}

export async function requestJson(ctx: HttpContext, req: JsonRequest): Promise<JsonResponse> {
  const { proxy, where, fail } = describe(ctx, req.method, req.url);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  if (req.token !== undefined) headers['x-auth-token'] = req.token;
  const timeout = AbortSignal.timeout(ctx.timeoutMs);
  const signal = ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout;

  let res: HttpResponse;
  let text: string;
  try {
    res = await ctx.fetch(req.url, {
      method: req.method,
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal,
      redirect: 'error',
    });
    text = await readLimited(res);
  } catch (err) {
    throw classifyFailure(err, where, ctx.timeoutMs, timeout.aborted, fail);
  }

  const status = res.status;
  if (status < 200 || status > 299) {
    if (req.accept?.includes(status)) return { status, headers: res.headers, json: undefined };
    throw statusError(ctx, proxy, where, fail, status, text, req.authHint);
  }
  if (text.trim() === '') return { status, headers: res.headers, json: undefined };
  try {
    return { status, headers: res.headers, json: JSON.parse(text) as unknown };
  } catch {
    // The body itself is not quoted: it could be anything, including an echo of our request.
    throw fail('malformed', `${where} returned HTTP ${status} with a body that is not JSON (${text.length} characters)`, status);
  }
}

/** An image-data request: GET a file (its body streamed back) or PUT one (its body streamed in). */
export interface DataRequest {
  readonly method: 'GET' | 'PUT';
  readonly url: string;
  readonly token: string;
  /** PUT: the bytes, read with backpressure. */
  readonly body?: Readable;
  /** PUT: the number of bytes `body` holds (sent as content-length). */
  readonly size?: number | undefined;
  /** The connection may be silent this long; transfers have no overall deadline. */
  readonly idleTimeoutMs: number;
  /** Bytes moved so far, for saying where a broken transfer stopped. */
  readonly progress?: () => number;
  /** Ends this transfer when aborted (the client's own signal ends it too). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * GET: the answer once its headers arrive, body unread (the caller consumes it); PUT: the answer
 * once the server has taken the whole body. Non-2xx answers and failures are OpenStackErrors.
 */
export async function requestData(ctx: HttpContext, req: DataRequest): Promise<NodeResponse> {
  const { proxy, where, fail } = describe(ctx, req.method, req.url);
  if (!ctx.stream) throw fail('config', `${where}: image data needs the client's own transport (the fetch option replaces it)`);
  const headers: Record<string, string> = { 'x-auth-token': req.token };
  if (req.method === 'PUT') headers['content-type'] = 'application/octet-stream';
  if (req.size !== undefined) headers['content-length'] = String(req.size);
  let res: NodeResponse;
  try {
    res = await ctx.stream(req.url, {
      method: req.method,
      headers,
      body: req.body,
      signal: ctx.signal && req.signal ? AbortSignal.any([ctx.signal, req.signal]) : (req.signal ?? ctx.signal),
      redirect: 'error',
      streamResponse: req.method === 'GET',
      idleTimeoutMs: req.idleTimeoutMs,
    });
  } catch (err) {
    const moved = req.progress?.() ?? 0;
    const classified = classifyFailure(err, where, req.idleTimeoutMs, false, fail);
    if (moved === 0 || (classified.kind !== 'network' && classified.kind !== 'timeout')) throw classified;
    const code = errorCode(err instanceof Error && err.cause !== undefined ? err.cause : err) ?? classified.kind;
    throw fail(classified.kind, `${where}: the transfer broke off after ${moved} bytes (${code})`, undefined, err);
  }
  if (res.status >= 200 && res.status <= 299) return res;
  // An error page: a little of it for the message, the rest dropped.
  let text = '';
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length > 4096) break;
    }
    res.body.destroy();
  } else text = new TextDecoder().decode(await res.arrayBuffer());
  throw statusError(ctx, proxy, where, fail, res.status, text, 'the token was refused');
}

type Fail = (kind: OpenStackErrorKind, detail: string, status?: number, cause?: unknown) => OpenStackError;

/** "GET <url> via the proxy X", and the error maker for this request. */
function describe(ctx: HttpContext, method: string, url: string): { proxy: ProxyRoute | undefined; where: string; fail: Fail } {
  const proxy = ctx.proxyFor?.(url);
  const where = `${method} ${redactUrl(url)}${proxy ? ` via the proxy ${proxy.shown}` : ''}`;
  const fail: Fail = (kind, detail, status, cause) => new OpenStackError({ kind, cloud: ctx.cloud, url, status, detail, secrets: ctx.secrets, cause });
  return { proxy, where, fail };
}

/** The error for a non-2xx answer: 'auth' for 401/403, else 'http', with a scrubbed excerpt of the body. */
function statusError(ctx: HttpContext, proxy: ProxyRoute | undefined, where: string, fail: Fail, status: number, text: string, authHint?: string): OpenStackError {
  const excerpt = bodyExcerpt(text, ctx.secrets);
  const said = excerpt ? ` (${excerpt})` : '';
  if (status === 401 || status === 403) {
    return fail('auth', `${where} returned HTTP ${status}${said}${authHint ? `; ${authHint}` : ''}`, status);
  }
  // A gateway error through a proxy is as likely the proxy's as the cloud's.
  const gateway = proxy && status >= 502 && status <= 504 ? `; if the proxy cannot reach the cloud, ${proxyHint(proxy.setting)}` : '';
  return fail('http', `${where} returned HTTP ${status}${said}${gateway}`, status);
}

/** The body as text, refusing bodies that are absurdly large for a JSON API answer. */
async function readLimited(res: HttpResponse): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw new BodyTooLarge();
  const buf = await res.arrayBuffer();
  if (buf.byteLength > MAX_BODY_BYTES) throw new BodyTooLarge();
  return new TextDecoder().decode(buf);
}

export class BodyTooLarge extends Error {
  override name = 'BodyTooLarge';
}

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|EPROTO|HOSTNAME_MISMATCH/;
const TIMEOUT_CODE = /TIMEOUT|ETIMEDOUT/;

/** Says what went wrong when no HTTP answer arrived (or reading it failed). */
function classifyFailure(err: unknown, where: string, timeoutMs: number, timedOut: boolean, fail: Fail): OpenStackError {
  if (err instanceof OpenStackError) return err;
  if (err instanceof ProxyFailure) return fail('proxy', `${where}: ${err.what}; ${proxyHint(err.route.setting)}`, err.status, err.cause);
  if (err instanceof BodyTooLarge) return fail('malformed', `${where}: the answer is larger than ${MAX_BODY_BYTES} bytes`);
  const name = err instanceof Error ? err.name : '';
  if (timedOut || name === 'TimeoutError') {
    return fail('timeout', `${where}: no answer within ${timeoutMs} ms`, undefined, err);
  }
  if (name === 'AbortError') return fail('network', `${where}: the request was cancelled`, undefined, err);
  // undici reports everything as TypeError("fetch failed") with the real reason as its cause.
  const root = err instanceof Error && err.cause !== undefined ? err.cause : err;
  const code = errorCode(root) ?? errorCode(err);
  const reason = root instanceof Error ? root.message : String(root);
  if (code === 'ERR_INVALID_URL') return fail('config', `${where}: not a valid URL`, undefined, err);
  // Redirects are refused (a POST would be re-sent, credentials and all, wherever it points).
  if (/redirect/i.test(reason)) {
    return fail('http', `${where}: the server answered with a redirect, which is not followed; use the URL it redirects to`, undefined, err);
  }
  if ((code && TLS_CODE.test(code)) || /certificate|ssl|tls/i.test(reason)) {
    return fail('tls', `${where}: TLS failure (${code ?? reason}); set cacert to the CA that signed the server's certificate`, undefined, err);
  }
  if (code && TIMEOUT_CODE.test(code)) return fail('timeout', `${where}: connection timed out (${code})`, undefined, err);
  return fail('network', `${where}: cannot connect (${code ?? reason})`, undefined, err);
}

/**
 * A short, single-line, scrubbed excerpt of an error body: Keystone's JSON `error.message`,
 * Glance's HTML error page stripped to text, or plain text.
 */
function bodyExcerpt(text: string, secrets: readonly (string | undefined)[]): string {
  let said = '';
  try {
    const parsed = JSON.parse(text) as unknown;
    const error = (parsed as { error?: { message?: unknown } } | null)?.error;
    if (typeof error?.message === 'string') said = error.message;
    else if (typeof (parsed as { message?: unknown } | null)?.message === 'string') said = (parsed as { message: string }).message;
  } catch {
    said = text.replace(/<title>[^<]*<\/title>/gi, ' ').replace(/<[^>]*>/g, ' ');
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what goes
  said = said.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  // Glance repeats the status line ("401 Unauthorized") before the useful sentence.
  said = said.replace(/^\d{3} [A-Za-z ]+?(?= [A-Z])/, '').trim();
  said = scrub(said, secrets);
  return said.length > 200 ? `${said.slice(0, 197)}...` : said;
}
