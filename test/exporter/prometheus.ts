// A real Prometheus (Debian's `prometheus` package, /usr/bin/prometheus, or PROMETHEUS_BIN) for
// tests: its own process on 127.0.0.1, a temporary config and TSDB, scraping every second, with
// the HTTP API's queries. For reuse:
//
//   const prom = await startPrometheus([scrapeJob], { evaluationInterval: '1s', ruleFiles: [...] });
//   try {
//     await prom.waitFor('up{job="github_runner_image_builder"}', (r) => r[0]?.value === 1);
//     expect(await prom.value('github_runner_image_builder_leader')).toBe(1);
//   } finally {
//     await prom.stop();
//   }
//
// Scrape jobs are Prometheus `scrape_configs` entries as objects (e.g. the one the cos-agent
// relation carries); the config is written as JSON, which Prometheus reads as YAML.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN || path.join(path.dirname(PROMETHEUS_BIN), 'promtool');

/** Whether the prometheus binary is there (the tests that need it report NOT RUN without it, and fail under CI). */
export const prometheusAvailable = (): boolean => existsSync(PROMETHEUS_BIN);

export interface ScrapeJob {
  job_name: string;
  [key: string]: unknown;
}

export interface PrometheusOptions {
  /** Rule evaluation interval, a Prometheus duration ('1s' unless given). */
  evaluationInterval?: string;
  /** The global scrape interval ('1s' unless given); a job's own scrape_interval wins. */
  scrapeInterval?: string;
  /** Rule files (with `groups:`): paths used as they are, or { name, content } written to the temp dir. */
  ruleFiles?: (string | { name: string; content: string })[];
  /** How long to wait for /-/ready (20 s unless given). */
  readyTimeoutMs?: number;
}

/** One element of an instant vector (or a scalar, with no labels). */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface Prometheus {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** The temporary directory: prometheus.yml, rule files, data/. Removed by stop(). */
  readonly dir: string;
  /** The config as written. */
  readonly config: Record<string, unknown>;
  /** An instant query (at `time`, unix seconds, else now) through /api/v1/query. */
  query(promql: string, time?: number): Promise<PromSample[]>;
  /** The single value of a query, undefined when it returns nothing; throws when it returns several. */
  value(promql: string): Promise<number | undefined>;
  /** Polls `query` every 250 ms until `until` holds (default: non-empty), at most timeoutMs (60 s); throws with the last result. */
  waitFor(promql: string, until?: (r: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  /** /api/v1/targets' active targets. */
  targets(): Promise<{ labels: Record<string, string>; scrapeUrl: string; health: string; lastError: string; scrapePool: string }[]>;
  /** /api/v1/rules' groups. */
  rules(): Promise<{ name: string; file: string; rules: { name: string; type: string; health: string; lastError?: string; state?: string }[] }[]>;
  /** /api/v1/alerts' alerts (pending and firing). */
  alerts(): Promise<{ labels: Record<string, string>; annotations: Record<string, string>; state: string; value: string }[]>;
  /** Any API path, e.g. '/api/v1/status/config'; returns `data`. */
  api<T = unknown>(apiPath: string): Promise<T>;
  /** What prometheus printed (the last 64 KiB). */
  log(): string;
  /** SIGTERM (SIGKILL after 10 s), then removes the temporary directory. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound and released: another process may take it; startPrometheus retries). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** `promtool <args>` with `input` on stdin: exit status and output. */
export function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL_BIN, args, { input, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  const body = (await res.json()) as { status: string; data?: unknown; error?: string; errorType?: string };
  if (body.status !== 'success') throw new Error(`${url}: ${res.status} ${body.errorType ?? ''} ${body.error ?? ''}`);
  return body.data;
}

/** Starts Prometheus on a free 127.0.0.1 port with these scrape jobs; resolves once it is ready. */
export async function startPrometheus(scrapeJobs: ScrapeJob[], opts: PrometheusOptions = {}): Promise<Prometheus> {
  if (!prometheusAvailable()) throw new Error(`${PROMETHEUS_BIN} is missing (apt-get install -y --no-install-recommends prometheus)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'prometheus-'));
  try {
    const ruleFiles = (opts.ruleFiles ?? []).map((f, i) => {
      if (typeof f === 'string') return path.resolve(f);
      const file = path.join(dir, 'rules', `${i}-${path.basename(f.name)}`);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, f.content);
      return file;
    });
    const config: Record<string, unknown> = {
      global: { scrape_interval: opts.scrapeInterval ?? '1s', scrape_timeout: '1s', evaluation_interval: opts.evaluationInterval ?? '1s' },
      ...(ruleFiles.length ? { rule_files: ruleFiles } : {}),
      scrape_configs: scrapeJobs,
    };
    const configFile = path.join(dir, 'prometheus.yml');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const check = promtool(['check', 'config', configFile]);
    if (check.status !== 0) throw new Error(`promtool check config failed:\n${check.output}\n${JSON.stringify(config, null, 2)}`);

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const started = await launch(dir, configFile, port, config, opts.readyTimeoutMs ?? 60_000);
      if (started.ok) return started.prometheus;
      // Another process took the port between freePort() and prometheus' bind: once more.
      if (!/address already in use/.test(started.log) || attempt === 3) throw new Error(`prometheus did not start: ${started.reason}\n${started.log}`);
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

type Launch = { ok: true; prometheus: Prometheus } | { ok: false; reason: string; log: string };

async function launch(dir: string, configFile: string, port: number, config: Record<string, unknown>, readyTimeoutMs: number): Promise<Launch> {
  const data = path.join(dir, 'data');
  rmSync(data, { recursive: true, force: true });
  const url = `http://127.0.0.1:${port}`;
  const proc: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${data}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=${url}/`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
  );
  let log = '';
  const append = (d: string) => {
    log += d;
    if (log.length > 65536) log = log.slice(-65536);
  };
  proc.stdout!.setEncoding('utf8').on('data', append);
  proc.stderr!.setEncoding('utf8').on('data', append);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) =>
    proc.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  proc.on('error', (err) => append(`spawn error: ${err.message}\n`));

  const stop = async () => {
    if (!exit) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exit) return { ok: false, reason: `exited (${exit.code ?? exit.signal})`, log };
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.text();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      return { ok: false, reason: `not ready within ${readyTimeoutMs} ms`, log };
    }
    await sleep(200);
  }

  const api = async <T>(apiPath: string) => (await getJson(`${url}${apiPath}`)) as T;
  const query = async (promql: string, time?: number): Promise<PromSample[]> => {
    const params = new URLSearchParams({ query: promql });
    if (time !== undefined) params.set('time', String(time));
    const data = await api<{ resultType: string; result: unknown }>(`/api/v1/query?${params}`);
    if (data.resultType === 'vector') {
      return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    }
    if (data.resultType === 'scalar') return [{ metric: {}, value: Number((data.result as [number, string])[1]) }];
    throw new Error(`${promql}: a ${data.resultType}, not an instant vector or scalar`);
  };
  const prometheus: Prometheus = {
    url,
    port,
    dir,
    config,
    query,
    value: async (promql) => {
      const r = await query(promql);
      if (r.length > 1) throw new Error(`${promql} returned ${r.length} series: ${JSON.stringify(r)}`);
      return r[0]?.value;
    },
    waitFor: async (promql, until = (r) => r.length > 0, timeoutMs = 60_000) => {
      const end = Date.now() + timeoutMs;
      let last: PromSample[] | string;
      for (;;) {
        try {
          last = await query(promql);
          if (until(last)) return last;
        } catch (err) {
          last = String(err);
        }
        if (Date.now() > end) throw new Error(`${promql}: not as expected within ${timeoutMs} ms; last result ${JSON.stringify(last)}`);
        await sleep(250);
      }
    },
    targets: async () => (await api<{ activeTargets: Awaited<ReturnType<Prometheus['targets']>> }>('/api/v1/targets')).activeTargets,
    rules: async () => (await api<{ groups: Awaited<ReturnType<Prometheus['rules']>> }>('/api/v1/rules')).groups,
    alerts: async () => (await api<{ alerts: Awaited<ReturnType<Prometheus['alerts']>> }>('/api/v1/alerts')).alerts,
    api,
    log: () => log,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return { ok: true, prometheus };
}
