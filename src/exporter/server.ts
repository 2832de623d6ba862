// The HTTP side of the exporter: GET (or HEAD) /metrics renders the state files read at that
// moment; any other path is 404, any other method on /metrics 405. Nothing is cached and no timer
// runs: a scrape costs a few small file reads.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 65_000, // longer than a 1-minute scrape interval, so the scraper's connection is reused
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

  const server = createServer(
    { maxHeaderSize: LIMITS.maxHeaderSize, headersTimeout: LIMITS.headersTimeoutMs, requestTimeout: LIMITS.requestTimeoutMs, keepAliveTimeout: LIMITS.keepAliveTimeoutMs },
    handle,
  );
  server.maxConnections = LIMITS.maxConnections;
  return server;
}
