// Helpers for the observability tests: find promtool (Debian's prometheus package) and python3,
// say loudly when promtool is missing, run it, and stand in for what Prometheus does to a
// charm's rules (inject topology matchers from the rule labels, as cos-tool does).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'vitest';
import { parse, stringify } from 'yaml';

export const REPO = path.resolve(import.meta.dirname, '..', '..');
export const RULES_DIR = path.join(REPO, 'cos', 'prometheus_alert_rules');
export const DASHBOARDS_DIR = path.join(REPO, 'cos', 'grafana_dashboards');

/** The exporter's metric names (src/exporter/metrics.ts); rules and dashboards use only these. */
export const METRIC_NAMES = [
  'builds_started_total',
  'builds_succeeded_total',
  'builds_failed_total',
  'consecutive_failures',
  'last_build_duration_seconds',
  'last_success_timestamp_seconds',
  'schedule_start_timestamp_seconds',
  'image_age_seconds',
  'build_running',
  'interval_hours',
  'leader',
  'state_errors',
  'copies_succeeded_total',
  'copies_failed_total',
  'last_copy_duration_seconds',
  'last_copy_bytes',
  'gone_images_replaced_total',
].map((n) => `github_runner_image_builder_${n}`);

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir || '.', cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export const PROMTOOL = which('promtool');
export const PYTHON3 = which('python3');
const HOW_TO_INSTALL = 'install it: apt-get install -y --no-install-recommends prometheus (it ships promtool; .ci/run does this)';

/**
 * Call at the top level of a test file. True when promtool is there. When not: under CI
 * (process.env.CI set) registers a failing test; elsewhere warns on stderr and registers a
 * skipped test whose name says the promtool checks were NOT RUN. False then.
 */
export function guardPromtool(what: string): boolean {
  if (PROMTOOL) return true;
  if (process.env.CI) {
    describe(`promtool (${what})`, () => {
      it('needs promtool', () => {
        throw new Error(`promtool is not on PATH; ${HOW_TO_INSTALL}`);
      });
    });
  } else {
    console.warn(`\n*** promtool checks NOT RUN (${what}): promtool is not on PATH; ${HOW_TO_INSTALL}\n`);
    describe(`promtool (${what})`, () => {
      it.skip(`NOT RUN: promtool is not on PATH; ${HOW_TO_INSTALL}`, () => {});
    });
  }
  return false;
}

export interface Run {
  status: number | null;
  out: string;
}

/** Runs promtool with `args` in `cwd`; `out` is stdout and stderr together. */
export function promtool(args: string[], cwd = REPO): Run {
  if (!PROMTOOL) throw new Error(`promtool is not on PATH; ${HOW_TO_INSTALL}`);
  const r = spawnSync(PROMTOOL, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Runs a Python program (the collector's side is Python); fails clearly without python3. */
export function python(program: string, input: string, args: string[] = []): string {
  if (!PYTHON3) {
    throw new Error('python3 is not on PATH: the dashboards are decoded as the collector decodes them (Python base64 + lzma.decompress); install python3');
  }
  const r = spawnSync(PYTHON3, ['-c', program, ...args], { input, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const dirs: string[] = [];
export function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'cos-test-'));
  dirs.push(d);
  return d;
}
export function cleanupTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The rule files of cos/prometheus_alert_rules (names). */
export function ruleFiles(): string[] {
  return readdirSync(RULES_DIR)
    .filter((f) => /\.(rules?|ya?ml)$/.test(f))
    .sort();
}

interface RuleDoc {
  groups: { name: string; rules: { alert: string; expr: string; annotations?: Record<string, string> }[] }[];
}

/** A rule file's text without annotations: promtool's unit tests then compare labels only. */
export function withoutAnnotations(text: string): string {
  const doc = parse(text) as RuleDoc;
  for (const g of doc.groups) for (const r of g.rules) delete r.annotations;
  return stringify(doc);
}

/** Copies the test file `test/cos/<testFile>` and `rules` (name -> text) into a fresh dir. */
export function stage(testFile: string, rules: Record<string, string>): string {
  const dir = tempDir();
  writeFileSync(path.join(dir, path.basename(testFile)), readFileSync(path.join(REPO, 'test', 'cos', testFile), 'utf8'));
  for (const [name, text] of Object.entries(rules)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const TOPOLOGY_MATCHERS = ['juju_model', 'juju_model_uuid', 'juju_application'] as const;

/**
 * What Prometheus (the prometheus_remote_write provider, through cos-tool) does to each rule it
 * receives: adds `juju_model`, `juju_model_uuid` and `juju_application` matchers, from the rule's
 * labels, to every vector selector. A stand-in for cos-tool good for these rules: it knows the
 * selectors by name (the exporter's metrics and `up`) and skips string literals.
 */
export function injectTopology(expr: string, labels: Record<string, string>): string {
  const matchers = TOPOLOGY_MATCHERS.filter((k) => labels[k] !== undefined).map((k) => `${k}="${labels[k]}"`);
  if (!matchers.length) return expr;
  const names = new Set([...METRIC_NAMES, 'up']);
  let out = '';
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      const end = expr.indexOf(c, i + 1);
      out += expr.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
    if (!m) {
      out += c;
      i++;
      continue;
    }
    const word = m[0];
    i += word.length;
    out += word;
    if (!names.has(word)) continue;
    const rest = /^\s*\{/.exec(expr.slice(i));
    if (rest) {
      out += rest[0];
      i += rest[0].length;
      const empty = /^\s*\}/.test(expr.slice(i));
      out += matchers.join(',') + (empty ? '' : ',');
    } else {
      out += `{${matchers.join(',')}}`;
    }
  }
  return out;
}
