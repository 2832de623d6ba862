// Test helpers for the exporter: builds dist/exporter.js the way `npm run build` and the pack do
// (scripts/bundle.mjs), into a temporary directory, runs it as systemd does (a subprocess of this
// node, `--port 0` so it picks a free loopback port and prints it), and writes state files.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleExporter } from '../../scripts/bundle.mjs';
import { HANG_MS } from '../support/eventually.js';

export const REPO = path.resolve(import.meta.dirname, '../..');

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `${prefix}-`));
}

/** Bundles src/exporter/main.ts to <temp>/dist/exporter.js (bundleExporter writes the packed charm's dist/package.json with it). */
export async function buildExporter(): Promise<{ file: string; dir: string }> {
  const dir = tempDir('exporter-build');
  const file = path.join(dir, 'dist/exporter.js');
  await bundleExporter({ entry: path.join(REPO, 'src/exporter/main.ts'), outfile: file });
  return { file, dir };
}

export interface RunningExporter {
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  readonly proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Waits (at most 5 s) until stderr contains `text` (it arrives through a pipe, after the response). */
  waitForStderr(text: string): Promise<void>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** GET a path (default /metrics): status, headers and body. */
  get(pathname?: string, init?: { method?: string }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>;
  /** VmRSS, RssAnon and RssFile from /proc, in KiB. */
  memory(): { vmRss: number; rssAnon: number; rssFile: number };
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code and signal. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<RunningExporter>();

/**
 * As systemd starts a socket-activated service: LISTEN_FDS=1 and LISTEN_PID set to the program's
 * own pid (sh's $$, kept by exec), the listening socket on fd 3. Arguments: the program and its own.
 */
export const SOCKET_ACTIVATE = ['/bin/sh', '-c', 'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@"', 'sh'] as const;

/** The file descriptor of a listening server, to hand to a child in its stdio (node duplicates it there). */
export function listeningFd(server: Server): number {
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the server is not listening');
  return fd;
}

/**
 * Starts `node <file> --port 0 --state-dir <dir> [args]` and waits until it listens (HANG_MS at most);
 * with `socket`, hands it that listening socket as systemd's socket activation does.
 */
export async function startExporter(file: string, stateDir: string, args: string[] = [], opts: { socket?: Server } = {}): Promise<RunningExporter> {
  const argv = [process.execPath, file, '--port', '0', '--state-dir', stateDir, ...args];
  const [cmd, ...cmdArgs] = opts.socket ? [...SOCKET_ACTIVATE, ...argv] : argv;
  const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', ...(opts.socket ? [listeningFd(opts.socket)] : [])];
  const proc = spawn(cmd!, cmdArgs, { stdio, env: { PATH: process.env.PATH ?? '' } });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d.length + err.length > 1 << 20 ? '' : d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the exporter did not listen within ${HANG_MS} ms: ${out}${err}`)), HANG_MS);
    const check = () => {
      const m = /listening on http:\/\/[^\s]+:(\d+)\/metrics/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`the exporter exited (${e.code ?? e.signal}) before listening: ${out}${err}`));
    });
  });
  const host = args.includes('--host') ? args[args.indexOf('--host') + 1]! : '127.0.0.1';
  const exporter: RunningExporter = {
    port,
    pid: proc.pid!,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    proc,
    stdout: () => out,
    stderr: () => err,
    waitForStderr: async (text) => {
      const end = Date.now() + HANG_MS;
      while (!err.includes(text)) {
        if (Date.now() > end) throw new Error(`the exporter's stderr has no ${JSON.stringify(text)}: ${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    alive: () => !done && proc.exitCode === null && proc.signalCode === null,
    get: (pathname = '/metrics', init = {}) =>
      new Promise((resolve, reject) => {
        const req = http.request({ host, port, path: pathname, method: init.method ?? 'GET', agent: false, timeout: HANG_MS }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`GET ${pathname} timed out`)));
        req.on('error', reject);
        req.end();
      }),
    memory: () => {
      const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
      const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      return { vmRss: kib('VmRSS'), rssAnon: kib('RssAnon'), rssFile: kib('RssFile') };
    },
    stop: async () => {
      running.delete(exporter);
      if (!done) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        const r = await exited;
        clearTimeout(timer);
        return r;
      }
      return exited;
    },
  };
  running.add(exporter);
  return exporter;
}

/** Stops every exporter still running (afterAll). */
export async function stopAllExporters(): Promise<void> {
  await Promise.all([...running].map((e) => e.stop()));
}

/** Writes a state file as the charm and the build script do: temp file, then rename. */
export function writeState(dir: string, name: string, value: unknown): void {
  const tmp = path.join(dir, `.${name}.tmp`);
  writeFileSync(tmp, typeof value === 'string' ? value : `${JSON.stringify(value)}\n`);
  renameSync(tmp, path.join(dir, name));
}

export function removeState(dir: string, name: string): void {
  rmSync(path.join(dir, name), { force: true, recursive: true });
}

/** One sample of the exposition text: `name{labels}` -> value (labels in the order written). */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}
