// A small forward proxy on 127.0.0.1 for the proxy suites: CONNECT tunnels (https targets) and
// absolute-URI requests (http targets), like squid. It records what it forwarded, can demand
// Basic credentials (407) or refuse everything with a status, and forwards only to loopback
// addresses (anything else gets 403: tests never reach beyond this machine). For the copy suite
// it can also hold plain requests (gate), hold the server's answer to one that went through
// whole (holdAnswer), say when an answer has been passed on (onAnswered), and cut a request's
// body off after N bytes, dropping both connections (cut).
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface Forwarded {
  /** CONNECT, or the method of a plain request. */
  readonly method: string;
  /** host:port for CONNECT, the absolute URL otherwise. */
  readonly target: string;
  /** The Proxy-Authorization header as received. */
  readonly proxyAuthorization: string | undefined;
  /** Whether the request (plain HTTP only) carried an X-Auth-Token. */
  readonly hadToken: boolean;
  /** That token (tests check that no error text contains one). */
  readonly token: string | undefined;
}

export interface LoopbackProxy {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Everything that reached the proxy, refused or not. */
  readonly seen: Forwarded[];
  /** The requests whose body was cut off (see options.cut). */
  readonly cuts: Forwarded[];
  close(): Promise<void>;
}

export interface LoopbackProxyOptions {
  /** "user:password": requests without these Basic credentials get 407. */
  readonly credentials?: string;
  /** Refuse every request with this status (e.g. 403, 502). */
  readonly refuse?: number;
  /** Awaited before a plain-HTTP request is forwarded: a test holds requests with it. */
  readonly gate?: (request: Forwarded) => Promise<void>;
  /** Awaited before the server's answer to a plain-HTTP request is passed on: the server has the whole request. */
  readonly holdAnswer?: (request: Forwarded) => Promise<void>;
  /** Called once the answer to a plain-HTTP request has been passed on whole. */
  readonly onAnswered?: (request: Forwarded) => void;
  /**
   * For the first `times` plain-HTTP requests `match` accepts: forward `afterBytes` bytes of the
   * body, then destroy both connections (a network failure mid-upload). `cuts` counts them.
   */
  readonly cut?: { readonly match: (request: Forwarded) => boolean; readonly afterBytes: number; readonly times: number };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export async function startLoopbackProxy(options: LoopbackProxyOptions = {}): Promise<LoopbackProxy> {
  const seen: Forwarded[] = [];
  const sockets = new Set<Socket>();
  const expected = options.credentials === undefined ? undefined : `Basic ${Buffer.from(options.credentials).toString('base64')}`;
  const verdict = (headers: IncomingHttpHeaders, host: string): number => {
    if (expected !== undefined && headers['proxy-authorization'] !== expected) return 407;
    if (options.refuse) return options.refuse;
    return LOOPBACK.has(host) ? 200 : 403;
  };
  const cuts: Forwarded[] = [];
  const record = (method: string, target: string, headers: IncomingHttpHeaders): Forwarded => {
    const token = headers['x-auth-token'];
    const fwd = { method, target, proxyAuthorization: headers['proxy-authorization'], hadToken: token !== undefined, token: typeof token === 'string' ? token : undefined };
    seen.push(fwd);
    return fwd;
  };

  const server = createServer((req, res) => {
    const fwd = record(req.method ?? 'GET', req.url ?? '', req.headers);
    void forward(req, res, fwd);
  });

  const forward = async (req: IncomingMessage, res: ServerResponse, fwd: Forwarded) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute URI expected');
      return;
    }
    const status = verdict(req.headers, target.hostname);
    if (status !== 200) {
      res.writeHead(status, status === 407 ? { 'proxy-authenticate': 'Basic realm="loopback"' } : {}).end(`refused by the loopback proxy (${status})`);
      return;
    }
    if (options.gate) {
      req.pause();
      await options.gate(fwd);
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = request(target, { method: req.method, headers }, async (up) => {
      if (options.holdAnswer) {
        up.pause();
        await options.holdAnswer(fwd);
      }
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      res.on('finish', () => options.onAnswered?.(fwd));
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end('upstream failed');
      else res.destroy();
    });
    const cut = options.cut;
    if (cut && cuts.length < cut.times && cut.match(fwd)) {
      cuts.push(fwd);
      let sent = 0;
      req.on('data', (chunk: Buffer) => {
        if (sent >= cut.afterBytes) return;
        const part = chunk.subarray(0, cut.afterBytes - sent);
        sent += part.length;
        upstream.write(part);
        if (sent >= cut.afterBytes) {
          // Both sides see the connection die mid-body: the client's upload fails, and the
          // server is left with a partial upload, as when a network link drops.
          upstream.destroy();
          req.socket.destroy();
        }
      });
      return;
    }
    req.pipe(upstream);
  };

  server.on('connect', (req, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    record('CONNECT', req.url ?? '', req.headers);
    const [host = '', port = '443'] = (req.url ?? '').split(/:(?=\d+$)/);
    const status = verdict(req.headers, host);
    if (status !== 200) {
      const extra = status === 407 ? 'Proxy-Authenticate: Basic realm="loopback"\r\n' : '';
      client.end(`HTTP/1.1 ${status} ${status === 407 ? 'Proxy Authentication Required' : 'Refused'}\r\n${extra}Content-Length: 0\r\n\r\n`);
      return;
    }
    const upstream = connect(Number(port), host.replace(/^\[|\]$/g, ''), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    cuts,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
