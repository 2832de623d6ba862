// Node's global fetch cannot be given a CA bundle or told to skip verification per request, so
// clouds with `cacert` or `verify: false` go through this small fetch over node:https instead.
// It is loaded only for such clouds, and node:https only on the first https request (a
// bundler would otherwise hoist the import to start-up); plain http:// URLs still use fetch.
import type { FetchFn } from './http.js';

export interface TlsOptions {
  /** PEM text of the CA certificate(s) to trust instead of the system's. */
  readonly ca?: string | undefined;
  /** false for `verify: false`: any certificate is accepted. */
  readonly rejectUnauthorized: boolean;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

export function tlsFetch(tls: TlsOptions, plain: FetchFn = globalThis.fetch): FetchFn {
  return async (url, init) => {
    const target = new URL(url);
    if (target.protocol !== 'https:') return plain(url, init);
    const signal = init.signal ?? undefined;
    signal?.throwIfAborted();
    const headers = new Headers(init.headers);
    const body = typeof init.body === 'string' ? init.body : undefined;
    if (init.body != null && body === undefined) throw new TypeError('tlsFetch sends string bodies only');
    if (body !== undefined) headers.set('content-length', String(Buffer.byteLength(body)));
    const { request } = await import('node:https');

    return await new Promise<Response>((resolve, reject) => {
      const req = request(target, {
        method: init.method ?? 'GET',
        headers: Object.fromEntries(headers.entries()),
        ca: tls.ca,
        rejectUnauthorized: tls.rejectUnauthorized,
      });
      // Same shape as fetch's failures, so http.ts classifies both the same way.
      const failed = (err: unknown) => reject(new TypeError('fetch failed', { cause: err }));
      const onAbort = () => {
        req.destroy();
        reject(signal?.reason ?? new DOMException('aborted', 'AbortError'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', failed);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) req.destroy(new Error('response body too large'));
          else chunks.push(chunk);
        });
        res.on('error', failed);
        res.on('end', () => {
          signal?.removeEventListener('abort', onAbort);
          const out = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (Array.isArray(value)) for (const v of value) out.append(name, v);
            else if (value !== undefined) out.set(name, value);
          }
          const status = res.statusCode ?? 0;
          const noBody = status === 204 || status === 304;
          try {
            resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers: out }));
          } catch (err) {
            failed(err); // a status Response refuses, e.g. 1xx
          }
        });
      });
      req.end(body);
    });
  };
}
