// Observability end to end: the charm (real dispatch) tells the collector its scrape job over
// cos-agent; a real Prometheus scrapes the real exporter, serving on the socket the charm's .socket
// unit describes, with exactly that job; the metrics are
// what the real build script wrote for a successful build and then a failed one.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORTER_SOCKET_PATH, METRICS_DIR } from '../../src/charm/paths.js';
import { BUILD_FIELDS, buildFileName, parseBuildFile } from '../../src/shared/metrics-files.js';
import { buildExporter, startExporter, type RunningExporter } from '../exporter/exporter.js';
import { freePort, prometheusAvailable, startPrometheus, type Prometheus, type ScrapeJob } from '../exporter/prometheus.js';
import { buildImageBuilderCharmDir, copyCharmDir } from '../support/charm-dir.js';
import { cloudsYaml } from '../support/clouds.js';
import { eventually } from '../support/eventually.js';
import { createUnit, type SimUnit } from '../support/juju.js';

const available = prometheusAvailable();
const inCi = process.env.CI === 'true';

describe.runIf(!available && inCi)('observability (CI)', () => {
  it('has Prometheus installed (.ci/run installs Debian’s prometheus)', () => {
    expect.fail('prometheus is missing: CI must install it');
  });
});
if (!available && !inCi) console.log('NOT RUN: observability end to end (no /usr/bin/prometheus; apt-get install prometheus)');

describe.skipIf(!available)('the scrape job from the cos-agent databag, a real Prometheus, the real exporter and build script', () => {
  let built: string;
  let charmDir: string;
  let u: SimUnit;
  let exporter: RunningExporter | undefined;
  let prometheus: Prometheus | undefined;
  let exporterBuild: { file: string; dir: string };

  beforeAll(async () => {
    built = await buildImageBuilderCharmDir();
    exporterBuild = await buildExporter();
  });
  afterAll(async () => {
    await prometheus?.stop();
    await exporter?.stop();
    u?.cleanup();
    for (const d of [built, charmDir, exporterBuild?.dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('counts a successful build, then a failed one', async () => {
    const port = await freePort();
    charmDir = copyCharmDir(built);
    u = createUnit({
      charmDir,
      config: { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': cloudsYaml(), 'cloud-name': '', 'revision-history-limit': 5, 'metrics-port': port },
      relations: [{ endpoint: 'cos-agent', id: 3, app: 'grafana-agent', units: ['grafana-agent/0'] }],
    });
    u.setHostKnob('next-image-id', 'img-ok');
    expect((await u.dispatch('install')).code).toBe(0);
    await eventually('the first build', () => u.builds().length === 1 && !u.readHostFile('/var/lib/github-runner-image-builder/build-running'));
    expect((await u.dispatch('cos-agent-relation-joined')).code).toBe(0);
    // What the real build script wrote is what the exporter's parser reads, whole.
    const buildFile = JSON.parse(u.readHostFile(`${METRICS_DIR}/${buildFileName('noble')}`)!) as Record<string, unknown>;
    expect(parseBuildFile(buildFile)).toEqual({ value: expect.objectContaining({ started: 1, succeeded: 1, failed: 0 }), problems: [] });
    expect(Object.keys(buildFile).sort()).toEqual([...BUILD_FIELDS].sort());

    // What the collector would scrape: the job exactly as the databag gives it.
    const config = JSON.parse(u.relations()['cos-agent:3']!['local-unit'].config!) as { metrics_scrape_jobs: ScrapeJob[] };
    expect(config.metrics_scrape_jobs).toEqual([{ job_name: 'github_runner_image_builder', metrics_path: '/metrics', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }]);
    // systemd's part (a stand-in here): bind what the charm's .socket unit says and hand the
    // socket to the exporter as fd 3, as the .service's socket activation does.
    const listen = /^ListenStream=(127\.0\.0\.1):(\d+)$/m.exec(u.readHostFile(EXPORTER_SOCKET_PATH) ?? '');
    expect(listen?.slice(1)).toEqual(['127.0.0.1', String(port)]);
    const socket = net.createServer();
    await new Promise<void>((resolve, reject) => socket.once('error', reject).listen(port, listen![1], resolve));
    exporter = await startExporter(exporterBuild.file, u.hostPath(METRICS_DIR), ['--port', String(port)], { socket });
    socket.close();
    expect(exporter.stdout()).toContain('(socket from systemd)');
    expect(exporter.port).toBe(port);
    prometheus = await startPrometheus(config.metrics_scrape_jobs);

    const q = (name: string) => `github_runner_image_builder_${name}{job="github_runner_image_builder",base="noble"}`;
    await prometheus.waitFor('up{job="github_runner_image_builder"} == 1');
    await prometheus.waitFor(`${q('builds_succeeded_total')} == 1`);
    expect(await prometheus.value(q('builds_started_total'))).toBe(1);
    expect(await prometheus.value(q('builds_failed_total'))).toBe(0);
    expect(await prometheus.value('github_runner_image_builder_leader')).toBe(1);
    expect(await prometheus.value('github_runner_image_builder_interval_hours')).toBe(6);
    expect(await prometheus.value(q('last_success_timestamp_seconds'))).toBeGreaterThan(Date.now() / 1000 - 600);

    // A failed build (exit 3), as cron's run would fail.
    u.failHost('github-runner-image-builder.run', 3, 'boom');
    const action = await u.dispatch({ action: 'build-immediate' });
    expect(action.actionResults).toMatchObject({ status: 'started' });
    await eventually('the failed build to end', () => !u.readHostFile('/var/lib/github-runner-image-builder/build-running') && /Last build failed/.test(u.unitStatus().message));
    await prometheus.waitFor(`${q('builds_failed_total')} == 1`);
    expect(await prometheus.value(q('builds_started_total'))).toBe(2);
    expect(await prometheus.value(q('builds_succeeded_total'))).toBe(1);
    expect(await prometheus.value(q('consecutive_failures'))).toBe(1);

    // Every PromQL expression of the dashboard, as the collector decodes it from the databag,
    // is accepted by this Prometheus (Grafana's variables filled in).
    const dashboards = (JSON.parse(u.relations()['cos-agent:3']!['local-unit'].config!) as { dashboards: string[] }).dashboards;
    const exprs = dashboards.flatMap((d) => {
      const json = JSON.parse(execFileSync('xz', ['-dc'], { input: Buffer.from(d, 'base64') }).toString('utf8')) as { panels: { datasource: { uid: string }; targets?: { expr: string }[] }[] };
      return json.panels.filter((p) => p.datasource.uid === '${prometheusds}').flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    });
    expect(exprs.length).toBeGreaterThan(3);
    for (const expr of exprs) {
      const filled = expr.replace(/\$__(rate_)?interval|\$__range/g, '5m').replace(/\$\{?(\w+)\}?/g, '.*');
      await expect(prometheus.query(filled), expr).resolves.toBeDefined();
    }
  });
});
