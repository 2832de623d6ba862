// The HTTP side of the exporter: GET (or HEAD) /metrics renders the state files read at that
// moment; any other path is 404, any other method on /metrics 405. Nothing is cached: a scrape
// costs a few small file reads.
//
// Any local user can connect, so no client can hold the exporter: every connection's time is
// bounded (headers, request, keep-alive), and past LIMITS.maxConnections a new connection pushes
// out an idle one (one that never finished a request first, the oldest first) instead of being
// refused, so idle connections never keep the scraper out.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { CONTENT_TYPE } from './exposition.js';
import { renderMetrics } from './metrics.js';
import { readState, type StateError } from './state.js';

export interface ExporterOptions {
  readonly stateDir: string;
  /** Where problems go (stderr, so the journal, in production). */
  readonly log?: (line: string) => void;
  /** The clock, in unix seconds (tests). */
  readonly now?: () => number;
}

/** Bounds on what a client can make the server hold: it serves one scraper on loopback. */
export const LIMITS = {
  maxHeaderSize: 8 * 1024,
  /** From a request's first byte to the end of its headers. */
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  /** A connection silent this long is closed (node's headers timeout only counts once a byte came). */
  silentTimeoutMs: 10_000,
  keepAliveTimeoutMs: 65_000, // longer than a 1-minute scrape interval, so the scraper's connection is reused
  /** How often the timeouts above are checked (node's default, 30 s, would stretch them). */
  checkIntervalMs: 1_000,
  /** Open connections; the next one pushes out an idle one. */
  maxConnections: 32,
};

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}, head = false) {
  const data = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(data.length), ...headers });
  res.end(head ? undefined : data);
}

export function createExporterServer(opts: ExporterOptions): Server {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = opts.now ?? (() => Date.now() / 1000);
  // The problems of the last scrape: logged when they change, not on every scrape.
  let lastProblems = '';
  const reportProblems = (errors: readonly StateError[]) => {
    const text = errors.map((e) => `${e.file}: ${e.reason}`).join('\n');
    if (text === lastProblems) return;
    lastProblems = text;
    if (text) for (const e of errors) log(`state file ${e.file} in ${opts.stateDir}: ${e.reason}`);
    else log(`state files in ${opts.stateDir} all read again`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const pathname = q < 0 ? url : url.slice(0, q);
      const head = req.method === 'HEAD';
      if (pathname !== '/metrics') return send(res, 404, 'Not found: the metrics are at /metrics\n', {}, head);
      if (req.method !== 'GET' && !head) return send(res, 405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
      const state = readState(opts.stateDir);
      reportProblems(state.errors);
      send(res, 200, renderMetrics(state, now()), { 'Content-Type': CONTENT_TYPE, 'Cache-Control': 'no-store' }, head);
    } catch (err) {
      log(`error serving ${req.method} ${String(req.url).slice(0, 200)}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (!res.headersSent) send(res, 500, 'Internal error\n');
      else res.destroy();
    }
  };

  const limits = LIMITS;
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderSize,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
    handle,
  );
  // Node sets each new connection's socket timeout to this, and keepAliveTimeout between requests.
  server.timeout = limits.silentTimeoutMs;
  boundConnections(server, limits.maxConnections);
  return server;
}

/**
 * At most `max` open connections. node's own maxConnections refuses the newest, so idle
 * connections would lock the scraper out; here the newest pushes out an idle one instead: first
 * the oldest that never finished a request, then the one idle the longest (the scraper's kept-alive
 * connection is the last to go). A connection with a request in flight is never pushed out.
 */
function boundConnections(server: Server, max: number): void {
  // In order of arrival, or of their last finished request (Map keeps insertion order).
  const fresh = new Map<Socket, { busy: boolean }>();
  const served = new Map<Socket, { busy: boolean }>();
  const forget = (socket: Socket) => fresh.delete(socket) || served.delete(socket);
  server.on('connection', (socket: Socket) => {
    if (fresh.size + served.size >= max) {
      const idle = [...fresh, ...served].find(([, c]) => !c.busy)?.[0];
      if (!idle) return socket.destroy(); // every one is being answered (each bounded by requestTimeout)
      forget(idle);
      idle.destroy();
    }
    fresh.set(socket, { busy: false });
    socket.once('close', () => forget(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const conn = fresh.get(socket) ?? served.get(socket);
    if (!conn) return;
    conn.busy = true;
    res.once('close', () => {
      conn.busy = false;
      if (forget(socket) && !socket.destroyed) served.set(socket, conn);
    });
  });
}
