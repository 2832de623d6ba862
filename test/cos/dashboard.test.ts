// cos/grafana_dashboards: the COS conventions (datasource variables, topology variables, the
// charm tag), the panels asked for, and PromQL that Prometheus parses (promtool).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CHARM_NAME } from '../../src/charm/cos.js';
import { DASHBOARDS_DIR, METRIC_NAMES, cleanupTempDirs, guardPromtool, promtool, tempDir } from './support.js';

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets: Target[];
}
interface Dashboard {
  title: string;
  tags: string[];
  templating: { list: { name: string; type: string; datasource?: string; query: unknown }[] };
  panels: Panel[];
}

const files = readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json'));
const load = (f: string) => JSON.parse(readFileSync(path.join(DASHBOARDS_DIR, f), 'utf8')) as Dashboard;
const TOPOLOGY_VARS = ['juju_model', 'juju_model_uuid', 'juju_application', 'juju_unit'];
const BUILD_LOG = '/var/log/github-runner-image-builder/build.log';

const promTargets = (d: Dashboard) => d.panels.filter((p) => p.datasource.uid === '${prometheusds}').flatMap((p) => p.targets.map((t) => ({ panel: p, target: t })));

describe('dashboards', () => {
  it('is one dashboard, image-builder.json', () => {
    expect(files).toEqual(['image-builder.json']);
  });

  for (const file of files) {
    describe(file, () => {
      const d = load(file);

      it('carries the charm tag and no uid of its own (the generator sets it)', () => {
        expect(d.tags).toContain(`charm: ${CHARM_NAME}`);
        expect((d as unknown as { uid?: string }).uid).toBeUndefined();
      });

      it('defines the datasource and topology variables as COS does', () => {
        const vars = Object.fromEntries(d.templating.list.map((v) => [v.name, v]));
        expect(vars.prometheusds).toMatchObject({ type: 'datasource', query: 'prometheus' });
        expect(vars.lokids).toMatchObject({ type: 'datasource', query: 'loki' });
        for (const name of TOPOLOGY_VARS) expect(vars[name], name).toMatchObject({ type: 'query', datasource: '${prometheusds}' });
      });

      it('queries only through ${prometheusds} and ${lokids}, every panel placed apart', () => {
        const ids = new Set<number>();
        for (const p of d.panels) {
          expect(['${prometheusds}', '${lokids}'], p.title).toContain(p.datasource.uid);
          expect(p.targets.length, p.title).toBeGreaterThan(0);
          for (const t of p.targets) if (t.datasource) expect(t.datasource.uid).toBe(p.datasource.uid);
          expect(ids.has(p.id), `panel id ${p.id}`).toBe(false);
          ids.add(p.id);
        }
        const overlap = (a: Panel['gridPos'], b: Panel['gridPos']) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        for (const [i, a] of d.panels.entries()) for (const b of d.panels.slice(i + 1)) expect(overlap(a.gridPos, b.gridPos), `${a.title} / ${b.title}`).toBe(false);
      });

      it('filters every metric by the four topology variables and uses only the exporter metrics', () => {
        for (const { panel, target } of promTargets(d)) {
          const selectors = [...target.expr.matchAll(/\b(github_runner_image_builder_\w+)(\{[^}]*\})?/g)];
          expect(selectors.length, panel.title).toBeGreaterThan(0);
          for (const [, name, matchers] of selectors) {
            expect(METRIC_NAMES, `${panel.title}: ${name}`).toContain(name);
            for (const v of TOPOLOGY_VARS) expect(matchers ?? '', `${panel.title}: ${name}`).toContain(`${v}=~"$${v}"`);
          }
        }
      });

      it('shows build outcomes, durations, image age per base, the leader, and the build log beside the failures', () => {
        const exprs = (title: RegExp) => d.panels.filter((p) => title.test(p.title)).flatMap((p) => p.targets.map((t) => t.expr));
        const outcomes = exprs(/outcome/i).join('\n');
        for (const c of ['started', 'succeeded', 'failed']) expect(outcomes).toMatch(new RegExp(`increase\\(github_runner_image_builder_builds_${c}_total\\{`));
        expect(exprs(/duration/i).join()).toContain('github_runner_image_builder_last_build_duration_seconds');
        expect(exprs(/image age/i).join()).toMatch(/by \([^)]*base[^)]*\) \(github_runner_image_builder_image_age_seconds/);
        expect(exprs(/leader/i).join()).toMatch(/max by \(juju_unit\) \(github_runner_image_builder_leader/);

        const logs = d.panels.filter((p) => p.datasource.uid === '${lokids}');
        expect(logs).toHaveLength(1);
        const log = logs[0]!;
        expect(log.type).toBe('logs');
        expect(log.targets[0]!.expr).toContain(`filename="${BUILD_LOG}"`);
        // lines from /var/log carry the collector's application and unit, not the charm's
        expect(log.targets[0]!.expr).not.toMatch(/juju_application|juju_unit|%%/);
        const failures = d.panels.find((p) => /consecutive failures/i.test(p.title))!;
        expect(log.gridPos.y).toBe(failures.gridPos.y);
        expect(log.gridPos.x).toBe(failures.gridPos.x + failures.gridPos.w);
      });
    });
  }
});

if (guardPromtool('dashboard queries')) {
  describe('dashboard queries (promtool)', () => {
    afterAll(cleanupTempDirs);

    it('are PromQL that Prometheus parses (as recording rules, Grafana variables filled in)', () => {
      const rules = files.flatMap((f) =>
        promTargets(load(f)).map(({ panel, target }) => ({
          record: `dashboard:${path.basename(f, '.json').replace(/\W/g, '_')}:panel_${panel.id}_${target.refId}`,
          expr: target.expr.replace(/\$__(rate_)?interval|\$__range/g, '1h').replace(/\$\{?(\w+)\}?/g, '.*'),
        })),
      );
      const dir = tempDir();
      writeFileSync(path.join(dir, 'queries.rules'), stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = promtool(['check', 'rules', 'queries.rules'], dir);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toContain(`SUCCESS: ${rules.length} rules found`);
    });
  });
}
