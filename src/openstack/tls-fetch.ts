// The client's transport: a small fetch over node:http / node:https. Node's global fetch
// (undici) costs a fresh process ~95 ms and ~15 MB of peak RSS on its first request (one GET on
// loopback, by hand: 136 vs 40 ms, 57 vs 42 MB with node:http), and it cannot be given a CA bundle or told to skip verification per
// request (cacert, verify: false). Only what http.ts reads is implemented; failures have fetch's
// shape (TypeError "fetch failed" with the reason as cause), so both classify the same way.
// node:http or node:https is imported on the first request of its kind, never at start-up; the
// proxy agents (proxy-agents.ts) on the first request that goes through a proxy, so hooks without
// one load nothing more.
import type { Agent, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { errorCode } from './errors.js';
import { BodyTooLarge, MAX_BODY_BYTES, type FetchFn, type HttpResponse } from './http.js';
import { ProxyFailure, type ProxyRoute, type ProxyRouter } from './proxy.js';

type ProxyAgents = typeof import('./proxy-agents.js');

export interface TlsOptions {
  /** PEM text of the CA certificate(s) to trust instead of the system's. */
  readonly ca?: string | undefined;
  /** false for `verify: false`: any certificate is accepted. */
  readonly rejectUnauthorized: boolean;
}

/** The statuses fetch treats as redirects (when a Location comes with them). */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function headerRecord(headers: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  if (Array.isArray(headers)) for (const [k, v] of headers) out[k!.toLowerCase()] = v!;
  else if (typeof (headers as Headers).forEach === 'function') (headers as Headers).forEach((v, k) => (out[k] = v));
  else for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

/** What https-proxy-agent (status of the CONNECT answer) and http-proxy-agent (none) report. */
interface ProxyConnect {
  readonly statusCode?: number;
  readonly statusText?: string;
}

/** A request as nodeRequest takes it: fetch's fields, plus streaming both ways. */
export interface NodeRequestInit {
  readonly method?: string | undefined;
  readonly headers?: RequestInit['headers'];
  readonly signal?: AbortSignal | null | undefined;
  readonly redirect?: RequestInit['redirect'];
  /** A string, or a stream piped into the request with backpressure (give content-length in headers). */
  readonly body?: string | Readable | null | undefined;
  /**
   * Resolve as soon as the headers arrive, with the body unread in `body`, instead of reading it
   * whole (which is capped at MAX_BODY_BYTES). The caller must consume or destroy it.
   */
  readonly streamResponse?: boolean | undefined;
  /** Fail when the connection carries nothing this long (for transfers of any length, instead of a deadline). */
  readonly idleTimeoutMs?: number | undefined;
}

/** An answer; `body` only with streamResponse (then arrayBuffer() throws). */
export interface NodeResponse extends HttpResponse {
  readonly body: Readable | undefined;
}

export type NodeRequestFn = (url: string, init: NodeRequestInit) => Promise<NodeResponse>;

/** `proxy` routes each request (direct when it gives no route); tls applies to the cloud, tunnelled or not. */
export function nodeFetch(tls: TlsOptions = { rejectUnauthorized: true }, proxy?: ProxyRouter): FetchFn {
  return fetchOver(nodeRequest(tls, proxy));
}

/** A fetch (string bodies, whole answers) over a nodeRequest transport, sharing its connections and proxy agents. */
export function fetchOver(send: NodeRequestFn): FetchFn {
  return async (url, init) => {
    if (init.body != null && typeof init.body !== 'string') throw new TypeError('nodeFetch sends string bodies only');
    return send(url, { method: init.method, headers: init.headers, signal: init.signal, redirect: init.redirect, body: init.body });
  };
}

/** The transport under nodeFetch, which can also stream a request body and a response body. */
export function nodeRequest(tls: TlsOptions = { rejectUnauthorized: true }, proxy?: ProxyRouter): NodeRequestFn {
  const agents = new Map<string, Agent>();
  const agentFor = (lib: ProxyAgents, route: ProxyRoute, secure: boolean): Agent => {
    const key = `${secure}|${route.url.href}|${route.authorization ?? ''}`;
    let agent = agents.get(key);
    if (!agent) {
      agent = lib.proxyAgent(route, secure);
      agents.set(key, agent);
    }
    return agent;
  };

  return async (url, init) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    if (!secure && target.protocol !== 'http:') throw new TypeError('fetch failed', { cause: new Error(`unsupported protocol ${target.protocol}`) });
    const signal = init.signal ?? undefined;
    signal?.throwIfAborted();
    const headers = headerRecord(init.headers);
    const body = init.body ?? undefined;
    if (typeof body === 'string') headers['content-length'] = String(Buffer.byteLength(body));
    const route = proxy?.route(target);
    const lib = route ? await import('./proxy-agents.js') : undefined;
    const agent = lib && route ? agentFor(lib, route, secure) : undefined;
    const { request } = secure ? await import('node:https') : await import('node:http');
    const pipeline = body !== undefined && typeof body !== 'string' ? (await import('node:stream/promises')).pipeline : undefined;

    return await new Promise<NodeResponse>((resolve, reject) => {
      const req = request(target, {
        method: init.method ?? 'GET',
        headers,
        ...(agent ? { agent } : {}),
        // Through a CONNECT tunnel too: https-proxy-agent hands these to its TLS connection.
        ...(secure ? { ca: tls.ca, rejectUnauthorized: tls.rejectUnauthorized } : {}),
        ...(secure && lib ? { checkServerIdentity: lib.targetIdentityCheck(target.hostname) } : {}),
      });
      let settled = false;
      let streamed: IncomingMessage | undefined;
      const settle = (err: unknown, res?: NodeResponse) => {
        if (settled) return;
        settled = true;
        // A streamed body stays cancellable until it ends.
        if (!streamed) signal?.removeEventListener('abort', onAbort);
        if (err === undefined) resolve(res!);
        else reject(err);
      };
      // Same shape as fetch's failures, so http.ts classifies both the same way.
      const failed = (err: unknown) => settle(new TypeError('fetch failed', { cause: err }));
      const onAbort = () => {
        const reason = signal?.reason ?? new DOMException('aborted', 'AbortError');
        settle(reason);
        streamed?.destroy(reason instanceof Error ? reason : undefined);
        req.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (init.idleTimeoutMs !== undefined) {
        const ms = init.idleTimeoutMs;
        req.setTimeout(ms, () => req.destroy(Object.assign(new Error(`the connection was idle for ${ms} ms`), { code: 'ETIMEDOUT' })));
      }
      // Until the proxy has answered (CONNECT) or accepted the connection (plain HTTP), a failure
      // is the proxy's, not the cloud's.
      let reachedProxy = false;
      const proxyFailed = (what: string, status?: number, cause?: unknown) => {
        settle(new ProxyFailure(what, route!, status, cause === undefined ? undefined : { cause }));
        req.destroy();
      };
      if (route) {
        req.on('proxyConnect', (connect: ProxyConnect) => {
          const status = connect.statusCode;
          if (status === undefined || status === 200) reachedProxy = true;
          // https-proxy-agent would replay this answer as if the cloud had given it.
          else proxyFailed(proxyRefusal(status, connect.statusText, `CONNECT ${target.hostname}:${target.port || 443}`), status);
        });
      }
      req.on('error', (err) => {
        if (route && !reachedProxy) proxyFailed(`cannot connect to the proxy (${errorCode(err) ?? shortText(err)})`, undefined, err);
        else failed(err);
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (route && status === 407) {
          proxyFailed(proxyRefusal(status, res.statusMessage, `${init.method ?? 'GET'} ${target.host}`), status);
          return;
        }
        if (init.redirect === 'error' && REDIRECTS.has(status) && res.headers.location !== undefined) {
          failed(new Error('unexpected redirect'));
          req.destroy();
          return;
        }
        const get = (name: string) => {
          const v = res.headers[name.toLowerCase()];
          return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
        };
        if (init.streamResponse) {
          streamed = res;
          res.once('close', () => signal?.removeEventListener('abort', onAbort));
          settle(undefined, {
            status,
            headers: { get },
            body: res,
            arrayBuffer: () => Promise.reject(new TypeError('the body is streamed: read `body`')),
          });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_BODY_BYTES) chunks.push(chunk);
          else {
            settle(new BodyTooLarge());
            req.destroy();
          }
        });
        res.on('error', failed);
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          settle(undefined, {
            status,
            headers: { get },
            body: undefined,
            arrayBuffer: async () => buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer,
          });
        });
      });
      if (body === undefined || typeof body === 'string' || !pipeline) req.end(body);
      // With backpressure: the source is read only as fast as the connection takes it. A failed
      // source aborts the request (its error is the request's); a failed request stops the source.
      else pipeline(body, req).catch((err: unknown) => req.destroy(err instanceof Error ? err : new Error(String(err))));
    });
  };
}

/** "the proxy refused CONNECT host:443 with HTTP 403 (Forbidden)", 407 saying what it means. */
function proxyRefusal(status: number, statusText: string | undefined, what: string): string {
  // eslint-disable-next-line no-control-regex -- the proxy's reason phrase is shown: no control characters
  const reason = (statusText ?? '').replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, 60);
  const answer = `HTTP ${status}${reason ? ` (${reason})` : ''}`;
  if (status === 407) return `the proxy wants credentials, or refused the ones in the setting: it answered ${what} with ${answer}`;
  return `the proxy refused ${what} with ${answer}`;
}

function shortText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
