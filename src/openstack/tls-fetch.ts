// The client's transport: a small fetch over node:http / node:https. Node's global fetch
// (undici) costs a hook about 100 ms and 40 MB of RSS the first time a process uses it (two
// requests cost far less), and it cannot be given a CA bundle or told to skip verification per
// request (cacert, verify: false). Only what http.ts reads is implemented; failures have fetch's
// shape (TypeError "fetch failed" with the reason as cause), so both classify the same way.
// node:http or node:https is imported on the first request of its kind, never at start-up.
import { BodyTooLarge, MAX_BODY_BYTES, type FetchFn, type HttpResponse } from './http.js';

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

export function nodeFetch(tls: TlsOptions = { rejectUnauthorized: true }): FetchFn {
  return async (url, init) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    if (!secure && target.protocol !== 'http:') throw new TypeError('fetch failed', { cause: new Error(`unsupported protocol ${target.protocol}`) });
    const signal = init.signal ?? undefined;
    signal?.throwIfAborted();
    const headers = headerRecord(init.headers);
    const body = typeof init.body === 'string' ? init.body : undefined;
    if (init.body != null && body === undefined) throw new TypeError('nodeFetch sends string bodies only');
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const { request } = secure ? await import('node:https') : await import('node:http');

    return await new Promise<HttpResponse>((resolve, reject) => {
      const req = request(target, {
        method: init.method ?? 'GET',
        headers,
        ...(secure ? { ca: tls.ca, rejectUnauthorized: tls.rejectUnauthorized } : {}),
      });
      let settled = false;
      const settle = (err: unknown, res?: HttpResponse) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err === undefined) resolve(res!);
        else reject(err);
      };
      // Same shape as fetch's failures, so http.ts classifies both the same way.
      const failed = (err: unknown) => settle(new TypeError('fetch failed', { cause: err }));
      const onAbort = () => {
        settle(signal?.reason ?? new DOMException('aborted', 'AbortError'));
        req.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', failed);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (init.redirect === 'error' && REDIRECTS.has(status) && res.headers.location !== undefined) {
          failed(new Error('unexpected redirect'));
          req.destroy();
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
            headers: {
              get: (name: string) => {
                const v = res.headers[name.toLowerCase()];
                return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
              },
            },
            arrayBuffer: async () => buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer,
          });
        });
      });
      req.end(body);
    });
  };
}
