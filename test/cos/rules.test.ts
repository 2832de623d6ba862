// cos/prometheus_alert_rules: valid for promtool as written and as the charm sends them, each
// alert firing and not firing on synthetic series (rules.test.yaml), with the texts it should
// have (annotations.test.yaml), and scoped to one deployment once Prometheus has injected the
// topology (deployed.test.yaml).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { cosAgentData, type RuleFile } from '../../src/charm/cos.js';
import { METRICS_ALERT_RULES } from '../../src/charm/generated/cos-assets.js';
import { METRIC_NAMES, RULES_DIR, cleanupTempDirs, guardPromtool, injectTopology, promtool, ruleFiles, stage, withoutAnnotations } from './support.js';

const DEPLOYED = { model: 'cos', modelUuid: '22222222-2222-4222-8222-222222222222', application: 'image-builder' };

/** The rules Prometheus evaluates for that deployment: the charm's output, topology injected. */
function deployedRules(): RuleFile {
  const sent = cosAgentData({ metricsPort: 9110, topology: DEPLOYED }).metrics_alert_rules;
  return {
    groups: sent.groups!.map((g) => ({ ...g, rules: g.rules.map((r) => ({ ...r, expr: injectTopology(r.expr, { ...r.labels }) })) })),
  };
}

const sources = () => Object.fromEntries(ruleFiles().map((f) => [f, readFileSync(path.join(RULES_DIR, f), 'utf8')]));

describe('alert rules (no promtool needed)', () => {
  const alerts = METRICS_ALERT_RULES.groups!.flatMap((g) => g.rules);

  it('each say what happened and what to do, once per name', () => {
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
    for (const a of alerts) {
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description, a.alert).toBeTruthy();
      expect(a.labels?.severity, a.alert).toMatch(/^(warning|critical)$/);
    }
  });

  it('use only the exporter metrics and up, and no %%juju_topology%% placeholder', () => {
    for (const a of alerts) {
      expect(a.expr).not.toContain('%%');
      for (const m of a.expr.matchAll(/\bgithub_runner_image_builder_\w+/g)) expect(METRIC_NAMES, `${a.alert}: ${m[0]}`).toContain(m[0]);
    }
  });

  it('document the 7-day bound of the image age', () => {
    const old = alerts.find((a) => a.alert === 'ImageBuilderImageTooOld')!;
    expect(old.expr).toMatch(/> 604800$/);
    expect(old.annotations!.description).toContain('7 days (604800 s)');
  });

  it('get matchers on every selector from the injection stand-in', () => {
    const m = 'juju_model="cos",juju_model_uuid="22222222-2222-4222-8222-222222222222",juju_application="image-builder"';
    const labels = { juju_model: 'cos', juju_model_uuid: '22222222-2222-4222-8222-222222222222', juju_application: 'image-builder' };
    expect(injectTopology('up < 1', labels)).toBe(`up{${m}} < 1`);
    expect(injectTopology('absent(up)', labels)).toBe(`absent(up{${m}})`);
    expect(injectTopology('up{job=~".*github.runner.image.builder.*"} == 0', labels)).toBe(`up{${m},job=~".*github.runner.image.builder.*"} == 0`);
    expect(injectTopology('max by (juju_unit) (github_runner_image_builder_leader{})', labels)).toBe(`max by (juju_unit) (github_runner_image_builder_leader{${m}})`);
  });
});

if (guardPromtool('alert rules')) {
  describe('alert rules (promtool)', () => {
    afterAll(cleanupTempDirs);

    it('pass promtool check rules as written', () => {
      const r = promtool(['check', 'rules', ...ruleFiles().map((f) => path.join(RULES_DIR, f))]);
      expect(r.out).not.toMatch(/FAILED|error/i);
      expect(r.status, r.out).toBe(0);
    });

    it('pass promtool check rules as the charm sends them and as Prometheus evaluates them', () => {
      const sent = cosAgentData({ metricsPort: 9110, topology: DEPLOYED }).metrics_alert_rules;
      const dir = stage('deployed.test.yaml', { 'sent.rules': stringify(sent), 'deployed.rules': stringify(deployedRules()) });
      const r = promtool(['check', 'rules', 'sent.rules', 'deployed.rules'], dir);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toContain('SUCCESS: 9 rules found');
    });

    it('fire and stay quiet as rules.test.yaml says (two bases, a non-leader, a leadership change, another application, exporter down)', () => {
      const stripped = Object.fromEntries(Object.entries(sources()).map(([f, text]) => [f, withoutAnnotations(text)]));
      const dir = stage('rules.test.yaml', stripped);
      const r = promtool(['test', 'rules', 'rules.test.yaml'], dir);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toContain('SUCCESS');
    });

    it('fire and stay quiet for copies as copies.test.yaml says (per application and consumer cloud, a counter reset, an hour after)', () => {
      const dir = stage('copies.test.yaml', { 'image_builder.rules': withoutAnnotations(sources()['image_builder.rules']!) });
      const r = promtool(['test', 'rules', 'copies.test.yaml'], dir);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toContain('SUCCESS');
    });

    it('render their texts with the labels and the value (annotations.test.yaml)', () => {
      const dir = stage('annotations.test.yaml', sources());
      const r = promtool(['test', 'rules', 'annotations.test.yaml'], dir);
      expect(r.status, r.out).toBe(0);
    });

    it('keep to their own application once Prometheus adds the topology (deployed.test.yaml)', () => {
      const deployed = deployedRules();
      const dir = stage('deployed.test.yaml', { 'deployed.rules': withoutAnnotations(stringify(deployed)) });
      const r = promtool(['test', 'rules', 'deployed.test.yaml'], dir);
      expect(r.status, r.out).toBe(0);
    });

    it('catch a wrong expectation (the unit tests do compare)', () => {
      const stripped = Object.fromEntries(Object.entries(sources()).map(([f, text]) => [f, withoutAnnotations(text)]));
      const dir = stage('rules.test.yaml', stripped);
      const test = parse(readFileSync(path.join(dir, 'rules.test.yaml'), 'utf8')) as { tests: { alert_rule_test: { exp_alerts: unknown[] }[] }[] };
      // the first firing expectation (noble never built, at 3h) now says nothing fires
      test.tests[0]!.alert_rule_test[1]!.exp_alerts = [];
      writeFileSync(path.join(dir, 'wrong.test.yaml'), stringify(test));
      const r = promtool(['test', 'rules', 'wrong.test.yaml'], dir);
      expect(r.status).not.toBe(0);
      expect(r.out).toContain('ImageBuilderNoSuccessfulBuild');
    });
  });
}
