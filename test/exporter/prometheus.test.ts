// The exporter as a real Prometheus sees it: the bundled dist/exporter.js in its own process, the
// state files the build script writes after a successful and then a failed build, and Debian's
// prometheus scraping it every second through the scrape job the charm gives the collector.
// Without /usr/bin/prometheus the suite is NOT RUN (skipped, with a message), except under CI=true,
// where that fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExporter, removeState, startExporter, stopAllExporters, tempDir, writeState, type RunningExporter } from './exporter.js';
import { PROMETHEUS_BIN, prometheusAvailable, promtool, startPrometheus, type Prometheus, type ScrapeJob } from './prometheus.js';
import { rmSync } from 'node:fs';
import { scrapeJobs } from '../../src/charm/cos.js';

const available = prometheusAvailable();
const inCi = process.env.CI === 'true';
if (!available && !inCi) console.warn(`NOT RUN: test/exporter/prometheus.test.ts needs ${PROMETHEUS_BIN} (apt-get install -y --no-install-recommends prometheus)`);

const JOB = 'github_runner_image_builder';
const M = 'github_runner_image_builder';
const T0 = Math.floor(Date.now() / 1000);
const IMAGE_CREATED = T0 - 2 * 3600;

describe.runIf(!available && inCi)('prometheus (CI)', () => {
  it('is installed', () => {
    expect.fail(`${PROMETHEUS_BIN} is missing under CI=true: .ci/run installs Debian's prometheus package`);
  });
});

describe.skipIf(!available)('a real Prometheus scraping the exporter', () => {
  let stateDir: string;
  let buildDir: string;
  let exporter: RunningExporter;
  let prom: Prometheus;
  let job: ScrapeJob;

  beforeAll(async () => {
    stateDir = tempDir('exporter-state');
    const built = await buildExporter();
    buildDir = built.dir;
    writeState(stateDir, 'unit.json', {
      arch: 'x64',
      bases: ['noble', 'jammy'],
      leader: true,
      interval_hours: 6,
      schedule_start: T0 - 600,
      images: { noble: { id: '7f3c-noble', created_at: new Date(IMAGE_CREATED * 1000).toISOString() } },
    });
    exporter = await startExporter(built.file, stateDir);
    // The scrape job the charm puts in the cos-agent databag.
    job = { ...scrapeJobs(exporter.port)[0]! };
    expect(job).toEqual({ job_name: JOB, metrics_path: '/metrics', static_configs: [{ targets: [`127.0.0.1:${exporter.port}`] }] });
    prom = await startPrometheus([job], { evaluationInterval: '1s' });
  });

  afterAll(async () => {
    await prom?.stop();
    await stopAllExporters();
    for (const d of [stateDir, buildDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  const series = (name: string, base?: string) => `${M}_${name}{job="${JOB}"${base ? `,base="${base}"` : ''}}`;

  it('scrapes the exporter on 127.0.0.1: up == 1, the target healthy, no state errors', async () => {
    await prom.waitFor(`up{job="${JOB}"} == 1`);
    const [target] = await prom.targets();
    expect(target).toMatchObject({ health: 'up', lastError: '', scrapePool: JOB });
    expect(target!.scrapeUrl).toBe(`http://127.0.0.1:${exporter.port}/metrics`);
    expect(await prom.value(series('state_errors'))).toBe(0);
  });

  it('before any build: zero counters for both configured bases, leader, interval, schedule start, image age', async () => {
    await prom.waitFor(series('builds_started_total'), (r) => r.length === 2);
    for (const base of ['noble', 'jammy']) {
      for (const name of ['builds_started_total', 'builds_succeeded_total', 'builds_failed_total', 'consecutive_failures', 'last_success_timestamp_seconds', 'build_running']) {
        expect([base, name, await prom.value(series(name, base))]).toEqual([base, name, 0]);
      }
    }
    const [started] = await prom.query(series('builds_started_total', 'noble'));
    expect(started!.metric).toEqual({ __name__: `${M}_builds_started_total`, base: 'noble', arch: 'x64', job: JOB, instance: `127.0.0.1:${exporter.port}` });
    expect(await prom.value(`${M}_leader{arch="x64"}`)).toBe(1);
    expect(await prom.value(`${M}_interval_hours{arch="x64"}`)).toBe(6);
    expect(await prom.value(`${M}_schedule_start_timestamp_seconds{arch="x64"}`)).toBe(T0 - 600);
    const age = await prom.value(series('image_age_seconds', 'noble'));
    expect(age).toBeGreaterThan(0);
    expect(age).toBeGreaterThanOrEqual(2 * 3600);
    // The image was made 2 h before T0; the scrape came some time after T0, however long that took.
    expect(age).toBeLessThanOrEqual(2 * 3600 + (Math.ceil(Date.now() / 1000) - T0));
    expect(await prom.query(series('image_age_seconds', 'jammy'))).toEqual([]); // no image yet
  });

  it('a running build of noble: build_running 1 for noble, 0 for jammy', async () => {
    writeState(stateDir, 'running.json', { base: 'noble', started: T0 });
    await prom.waitFor(`${series('build_running', 'noble')} == 1`);
    expect(await prom.value(series('build_running', 'jammy'))).toBe(0);
  });

  it('after a successful build: started 1, succeeded 1, failed 0, its duration and success time', async () => {
    writeState(stateDir, 'build-noble.json', {
      started: 1,
      succeeded: 1,
      failed: 0,
      consecutive_failures: 0,
      last_duration_seconds: 1830,
      last_success_timestamp: T0 + 1830,
    });
    removeState(stateDir, 'running.json');
    await prom.waitFor(`${series('builds_succeeded_total', 'noble')} == 1 and ${series('build_running', 'noble')} == 0`);
    expect(await prom.value(series('builds_started_total', 'noble'))).toBe(1);
    expect(await prom.value(series('builds_failed_total', 'noble'))).toBe(0);
    expect(await prom.value(series('consecutive_failures', 'noble'))).toBe(0);
    expect(await prom.value(series('last_build_duration_seconds', 'noble'))).toBe(1830);
    expect(await prom.value(series('last_success_timestamp_seconds', 'noble'))).toBe(T0 + 1830);
    expect(await prom.value(series('builds_started_total', 'jammy'))).toBe(0);
    expect(await prom.value(`up{job="${JOB}"}`)).toBe(1);
  });

  it('after a failed build: started 2, succeeded 1, failed 1, one consecutive failure, the success time kept', async () => {
    writeState(stateDir, 'build-noble.json', {
      started: 2,
      succeeded: 1,
      failed: 1,
      consecutive_failures: 1,
      last_duration_seconds: 95,
      last_success_timestamp: T0 + 1830,
    });
    await prom.waitFor(`${series('builds_failed_total', 'noble')} == 1`);
    expect(await prom.value(series('builds_started_total', 'noble'))).toBe(2);
    expect(await prom.value(series('builds_succeeded_total', 'noble'))).toBe(1);
    expect(await prom.value(series('consecutive_failures', 'noble'))).toBe(1);
    expect(await prom.value(series('last_build_duration_seconds', 'noble'))).toBe(95);
    expect(await prom.value(series('last_success_timestamp_seconds', 'noble'))).toBe(T0 + 1830);
    // What an alert on failures would use: the counter went up over the last minute.
    expect(await prom.value(`increase(${series('builds_failed_total', 'noble')}[1m]) > 0`)).toBeGreaterThan(0);
    expect(await prom.value(`${M}_leader`)).toBe(1);
    expect(await prom.value(series('image_age_seconds', 'noble'))).toBeGreaterThan(0);
    expect(await prom.value(`up{job="${JOB}"}`)).toBe(1);
    expect(await prom.value(series('state_errors'))).toBe(0);
  });

  it('a garbage build file: its series go stale (no fake counter reset), state_errors 1, up stays 1', async () => {
    writeState(stateDir, 'build-noble.json', '{"started": 3, "succeeded": ');
    await prom.waitFor(`${series('state_errors')} == 1`);
    expect(await prom.query(series('builds_started_total', 'noble'))).toEqual([]);
    expect(await prom.value(series('builds_started_total', 'jammy'))).toBe(0);
    expect(await prom.value(`up{job="${JOB}"}`)).toBe(1);
    expect(exporter.stderr()).toContain('state file build-noble.json');
  });

  it('a non-leader unit: leader 0', async () => {
    writeState(stateDir, 'unit.json', { arch: 'x64', bases: ['noble', 'jammy'], leader: false, interval_hours: 6, schedule_start: T0 - 600, images: {} });
    await prom.waitFor(`${M}_leader == 0`);
    expect(await prom.query(series('image_age_seconds'))).toEqual([]);
  });

  it("passes promtool's exposition lint, but for the name interval_hours (not in seconds)", async () => {
    const { body } = await exporter.get();
    const r = promtool(['check', 'metrics'], body);
    const problems = r.output.split('\n').filter((l) => l.trim() !== '');
    expect(problems).toEqual([`${M}_interval_hours use base unit "seconds" instead of "hours"`]);
  });
});
