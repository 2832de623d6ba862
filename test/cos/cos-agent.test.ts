// src/charm/cos.ts: the cos-agent `config` value, decoded as the collector decodes it (JSON, then
// each dashboard base64 + lzma.decompress in Python), and the topology the rules get.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHARM_NAME, alertRulesFor, cosAgentConfig, cosAgentData, topologyFromEnv, topologyIdentifier, type CosTopology } from '../../src/charm/cos.js';
import { DASHBOARDS, METRICS_ALERT_RULES } from '../../src/charm/generated/cos-assets.js';
import { DASHBOARDS_DIR, REPO, python } from './support.js';

const TOPOLOGY: CosTopology = { model: 'cos-test', modelUuid: 'd1a2b3c4-0000-4000-8000-000000000001', application: 'image-builder' };
const KEYS = ['metrics_alert_rules', 'log_alert_rules', 'dashboards', 'subordinate', 'metrics_scrape_jobs', 'log_slots', 'tracing_protocols'];

/** What the collector does with the value: json.loads, then LZMABase64.decompress each dashboard. */
const DECODE = `
import base64, hashlib, json, lzma, sys
config = json.loads(sys.stdin.read())
out = {
    "keys": list(config),
    "types": {k: type(v).__name__ for k, v in config.items()},
    "dashboards": [json.loads(lzma.decompress(base64.b64decode(d.encode("utf-8"))).decode()) for d in config["dashboards"]],
    "formats": [base64.b64decode(d)[:6].hex() for d in config["dashboards"]],
    "uids": [hashlib.shake_256((sys.argv[1] + "-" + p).encode("utf-8")).hexdigest(20) for p in sys.argv[2:]],
}
print(json.dumps(out))
`;

interface Decoded {
  keys: string[];
  types: Record<string, string>;
  dashboards: { uid: string; tags: string[]; title: string; panels: unknown[] }[];
  formats: string[];
  uids: string[];
}

const dashboardPaths = () =>
  readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => `cos/grafana_dashboards/${f}`);

describe('cos-agent config', () => {
  it('is what the collector accepts: all keys, the right types, dashboards that decode with uid and tag', () => {
    const value = cosAgentConfig({ metricsPort: 9110, topology: TOPOLOGY });
    const paths = dashboardPaths();
    expect(paths.length).toBeGreaterThan(0);
    const decoded = JSON.parse(python(DECODE, value, [CHARM_NAME, ...paths])) as Decoded;

    expect(decoded.keys).toEqual(KEYS);
    expect(decoded.types).toEqual({
      metrics_alert_rules: 'dict',
      log_alert_rules: 'dict',
      dashboards: 'list',
      subordinate: 'NoneType',
      metrics_scrape_jobs: 'list',
      log_slots: 'list',
      tracing_protocols: 'NoneType',
    });
    expect(decoded.dashboards).toHaveLength(paths.length);
    // xz container (FD 37 7A 58 5A 00), as lzma.compress makes it
    for (const f of decoded.formats) expect(f).toBe('fd377a585a00');
    decoded.dashboards.forEach((d, i) => {
      expect(d.uid).toMatch(/^[0-9a-f]{40}$/);
      expect(d.uid).toBe(decoded.uids[i]);
      expect(d.tags).toContain(`charm: ${CHARM_NAME}`);
      expect(d.tags.filter((t) => t.startsWith('charm: '))).toHaveLength(1);
      expect(typeof d.title).toBe('string');
      // the decoded dashboard is the file with only uid and tags set
      const source = JSON.parse(readFileSync(path.join(REPO, paths[i]!), 'utf8')) as Record<string, unknown>;
      expect({ ...d, uid: undefined, tags: undefined }).toEqual({ ...source, uid: undefined, tags: undefined });
    });
  });

  it('has the scrape job, no log slots, and the rules as the library sends them', () => {
    const data = JSON.parse(cosAgentConfig({ metricsPort: 9123, topology: TOPOLOGY })) as Record<string, unknown>;
    expect(data.metrics_scrape_jobs).toEqual([{ job_name: 'github_runner_image_builder', metrics_path: '/metrics', static_configs: [{ targets: ['127.0.0.1:9123'] }] }]);
    expect(data.log_slots).toEqual([]);
    expect(data.log_alert_rules).toEqual({});
    expect(data.dashboards).toEqual(DASHBOARDS);
    const rules = data.metrics_alert_rules as { groups: { name: string; rules: { alert: string; expr: string; labels: Record<string, string> }[] }[] };
    expect(rules.groups.map((g) => g.name)).toEqual(['cos_test_d1a2b3c4_image_builder_image_builder_alerts', 'cos_test_d1a2b3c4_image_builder_HostHealth_alerts']);
    // the library would not rename them again (Rules._is_already_modified)
    for (const g of rules.groups) expect(g.name).toMatch(/^.*?_[\da-f]{8}_.*?alerts$/);
    const alerts = rules.groups.flatMap((g) => g.rules);
    expect(alerts.map((r) => r.alert)).toEqual([
      'ImageBuilderNoSuccessfulBuild',
      'ImageBuilderConsecutiveFailures',
      'ImageBuilderImageTooOld',
      'ImageBuilderCopiesFailing',
      'ImageBuilderPublishedImageGone',
      'ImageBuilderExporterDown',
      'ImageBuilderMetricsAbsent',
      'HostDown',
      'HostMetricsMissing',
    ]);
    for (const r of alerts) {
      expect(r.labels).toMatchObject({
        juju_model: 'cos-test',
        juju_model_uuid: 'd1a2b3c4-0000-4000-8000-000000000001',
        juju_application: 'image-builder',
        juju_charm: 'github-runner-image-builder',
      });
      expect(r.labels.severity).toMatch(/^(warning|critical)$/);
      expect(r.expr).not.toContain('%%');
    }
    const host = Object.fromEntries(rules.groups[1]!.rules.map((r) => [r.alert, r.expr]));
    expect(host).toEqual({ HostDown: 'up < 1', HostMetricsMissing: 'absent(up)' });
  });

  it('applies the topology as the library does: labels kept when set, the placeholder removed, named groups left alone', () => {
    const rules = {
      groups: [
        { name: 'g', rules: [{ alert: 'A', expr: 'up{%%juju_topology%%, job="x"} == 0', labels: { juju_application: 'mine', severity: 'page' } }] },
        { name: 'cos_d1a2b3c4_other_g_alerts', rules: [{ alert: 'B', expr: 'absent(up{%%juju_topology%%})' }] },
      ],
    };
    const out = alertRulesFor(rules, { ...TOPOLOGY, model: 'a/b' });
    expect(out.groups!.map((g) => g.name)).toEqual(['a_b_d1a2b3c4_image_builder_g_alerts', 'cos_d1a2b3c4_other_g_alerts']);
    expect(out.groups![0]!.rules[0]).toEqual({
      alert: 'A',
      expr: 'up{ job="x"} == 0',
      labels: { juju_application: 'mine', severity: 'page', juju_model: 'a/b', juju_model_uuid: 'd1a2b3c4-0000-4000-8000-000000000001', juju_charm: CHARM_NAME },
    });
    expect(out.groups![1]!.rules[0]!.expr).toBe('absent(up{})');
    expect(alertRulesFor(rules, TOPOLOGY, 'logql').groups![1]!.rules[0]!.expr).toBe('absent(up{job=~".+"})');
    expect(alertRulesFor({}, TOPOLOGY)).toEqual({});
    expect(topologyIdentifier(TOPOLOGY)).toBe('cos-test_d1a2b3c4_image-builder');
    // the generated constants are not changed by it
    expect(METRICS_ALERT_RULES.groups!.map((g) => g.name)).toEqual(['image_builder', 'HostHealth']);
    for (const r of METRICS_ALERT_RULES.groups!.flatMap((g) => g.rules)) expect(Object.keys(r.labels ?? {})).toEqual(['severity']);
  });

  it('reads the topology from the hook environment when not given', () => {
    const env = { JUJU_MODEL_NAME: 'prod', JUJU_MODEL_UUID: 'd1a2b3c4-0000-4000-8000-000000000002', JUJU_UNIT_NAME: 'builder/3' };
    expect(topologyFromEnv(env)).toEqual({ model: 'prod', modelUuid: env.JUJU_MODEL_UUID, application: 'builder' });
    const data = cosAgentData({ metricsPort: 9110, env });
    expect(data.metrics_alert_rules.groups![0]!.name).toBe('prod_d1a2b3c4_builder_image_builder_alerts');
    expect(() => cosAgentConfig({ metricsPort: 9110, env: { JUJU_UNIT_NAME: 'builder/3' } })).toThrow(/JUJU_MODEL_NAME, JUJU_MODEL_UUID not set/);
  });

  it('refuses a port that is not one and a model UUID that is not one', () => {
    for (const port of [0, -1, 65536, 9110.5, Number.NaN]) {
      expect(() => cosAgentConfig({ metricsPort: port, topology: TOPOLOGY })).toThrow(/metrics port must be a whole number from 1 to 65535/);
    }
    expect(() => cosAgentConfig({ metricsPort: 9110, topology: { ...TOPOLOGY, modelUuid: 'not-a-uuid' } })).toThrow(/model UUID "not-a-uuid" is not a lowercase UUID/);
  });

  it('is the same text every time (no needless relation-changed)', () => {
    const a = cosAgentConfig({ metricsPort: 9110, topology: TOPOLOGY });
    expect(cosAgentConfig({ metricsPort: 9110, topology: TOPOLOGY })).toBe(a);
  });

  it('costs a hook no I/O: cos.ts imports only the generated module and the shared metrics constants, which import nothing', () => {
    const imports = (file: string) => [...readFileSync(path.join(REPO, file), 'utf8').matchAll(/^(?:import|export)\b[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
    expect(new Set(imports('src/charm/cos.ts'))).toEqual(new Set(['./generated/cos-assets.js', '../shared/metrics-files.js']));
    expect(imports('src/charm/generated/cos-assets.ts')).toEqual([]);
    expect(imports('src/shared/metrics-files.ts')).toEqual([]);
  });

  it('names the charm as metadata.yaml does', () => {
    expect((parse(readFileSync(path.join(REPO, 'metadata.yaml'), 'utf8')) as { name: string }).name).toBe(CHARM_NAME);
  });
});
