// Generates src/charm/generated/cos-assets.ts from the observability assets under cos/, so a
// hook that writes the cos-agent relation data (src/charm/cos.ts) reads no file, parses no YAML
// and compresses nothing. `npm run build` runs it; test/cos/generated.test.ts checks the
// committed file is what this script produces today.
//
//   node scripts/gen-cos-assets.mjs            write src/charm/generated/cos-assets.ts
//   node scripts/gen-cos-assets.mjs --check    exit 1 when it is out of date
//   node scripts/gen-cos-assets.mjs --stdout   print instead of writing
//   ... --out F                                write or check F instead (relative to the repo)
//
// What it reads, as the Python cos_agent library (COSAgentProvider) reads a charm's src/ dirs:
// - cos/prometheus_alert_rules/*.{rule,rules,yml,yaml}: Prometheus rule files ({groups: [...]}),
//   sorted by name, their groups merged into one rule file; host.rules (the generic HostHealth
//   group the library adds to every charm) goes last, where the library puts it.
// - cos/loki_alert_rules/*: the same for LogQL rules (none yet: {}).
// - cos/grafana_dashboards/*.json: each dashboard with `uid` set to
//   shake_256("<charm name>-<path relative to the charm root>") as 20 bytes in hex and the tag
//   `charm: <charm name>` added unless a tag starts with `charm: `, then base64(xz(JSON)) as
//   Python's lzma.compress makes it (xz container, CRC64, preset 6). Debian's `xz` compresses at
//   build time, single-threaded: the same input gives the same bytes.
// The charm applies its Juju topology (group names, rule labels) at run time: src/charm/cos.ts.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { readCharmYaml } from './charm-yaml.mjs';
import { xz as runXz } from './runtime.mjs';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = 'src/charm/generated/cos-assets.ts';
const METRICS_RULES_DIR = 'cos/prometheus_alert_rules';
const LOG_RULES_DIR = 'cos/loki_alert_rules';
const DASHBOARDS_DIR = 'cos/grafana_dashboards';
/** The library's generic rules (cosl generic_alert_groups.application_rules), sent after the charm's. */
const GENERIC_RULES_FILE = 'host.rules';
const RULE_SUFFIXES = ['.rule', '.rules', '.yml', '.yaml'];
/** The options of Python's lzma.compress(): FORMAT_XZ, CHECK_CRC64, preset 6; one thread. */
const XZ_ARGS = ['--format=xz', '--check=crc64', '-6', '--threads=1', '-c'];

function charmName() {
  const meta = readCharmYaml(repo, 'metadata.yaml');
  if (!meta || typeof meta.name !== 'string' || !meta.name) throw new Error('metadata.yaml has no name');
  return meta.name;
}

/** The library's dashboard uid: shake_256("<charm>-<relative path>").hexdigest(20). */
export function dashboardUid(charm, relPath) {
  return createHash('shake256', { outputLength: 20 }).update(`${charm}-${relPath}`, 'utf8').digest('hex');
}

/** xz (scripts/runtime.mjs: without the user's XZ_DEFAULTS and XZ_OPT, so the bytes are ours alone). */
function xz(args, input) {
  const r = runXz(args, { input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error?.code === 'ENOENT') throw new Error("xz not found: the dashboards are compressed with Debian's xz at build time; install it: apt-get install xz-utils", { cause: r.error });
  if (r.error || r.status !== 0) throw new Error(`xz ${args.join(' ')} failed: ${String(r.stderr ?? r.error?.message).trim()}`, { cause: r.error });
  return r.stdout;
}

const isStringMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

/** One rule file's groups, checked: official format, each rule an alert with a PromQL/LogQL expr. */
function readRuleFile(rel) {
  let doc;
  try {
    doc = parse(readFileSync(path.join(repo, rel), 'utf8'));
  } catch (err) {
    throw new Error(`${rel}: not YAML: ${err.message}`, { cause: err });
  }
  if (!doc || !Array.isArray(doc.groups)) throw new Error(`${rel}: not a Prometheus rule file (a mapping with a "groups" list)`);
  return doc.groups.map((g, i) => {
    if (!g || typeof g.name !== 'string' || !g.name || !Array.isArray(g.rules) || !g.rules.length) {
      throw new Error(`${rel}: group ${i + 1} needs a name and a non-empty list of rules`);
    }
    const rules = g.rules.map((r, j) => {
      const where = `${rel}: group ${g.name}, rule ${j + 1}`;
      if (!r || typeof r.alert !== 'string' || !r.alert || typeof r.expr !== 'string' || !r.expr.trim()) {
        throw new Error(`${where}: an alerting rule needs "alert" and "expr" (recording rules are not sent over cos-agent)`);
      }
      for (const k of Object.keys(r)) {
        if (!['alert', 'expr', 'for', 'labels', 'annotations'].includes(k)) throw new Error(`${where} (${r.alert}): unknown field "${k}"`);
      }
      if (r.for !== undefined && typeof r.for !== 'string') throw new Error(`${where} (${r.alert}): "for" must be a duration such as 5m`);
      for (const k of ['labels', 'annotations']) {
        if (r[k] !== undefined && !isStringMap(r[k])) throw new Error(`${where} (${r.alert}): ${k} must map names to strings`);
      }
      return { ...r, expr: r.expr.trimEnd() };
    });
    return { name: g.name, rules };
  });
}

/** The rule files of `dir` as one rule file: {groups} in the library's order, or {} when none. */
function readRules(dir) {
  const abs = path.join(repo, dir);
  if (!existsSync(abs)) return {};
  const files = readdirSync(abs, { withFileTypes: true })
    .filter((e) => e.isFile() && RULE_SUFFIXES.includes(path.extname(e.name)))
    .map((e) => e.name)
    .sort();
  const ordered = [...files.filter((f) => f !== GENERIC_RULES_FILE), ...files.filter((f) => f === GENERIC_RULES_FILE)];
  const groups = ordered.flatMap((f) => readRuleFile(`${dir}/${f}`));
  const seen = new Set();
  for (const g of groups) {
    if (seen.has(g.name)) throw new Error(`${dir}: two groups are named ${g.name}; group names must be unique across the files`);
    seen.add(g.name);
  }
  return groups.length ? { groups } : {};
}

/** The dashboards of DASHBOARDS_DIR: [{ rel, json }] with uid and tag set, as the library sends them. */
function readDashboards(charm) {
  const abs = path.join(repo, DASHBOARDS_DIR);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.json'))
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const rel = `${DASHBOARDS_DIR}/${name}`;
      let dashboard;
      try {
        dashboard = JSON.parse(readFileSync(path.join(repo, rel), 'utf8'));
      } catch (err) {
        throw new Error(`${rel}: not JSON: ${err.message}`, { cause: err });
      }
      if (!dashboard || typeof dashboard !== 'object' || Array.isArray(dashboard)) throw new Error(`${rel}: a dashboard is a JSON object`);
      dashboard.uid = dashboardUid(charm, rel);
      const tags = Array.isArray(dashboard.tags) ? dashboard.tags : [];
      if (!tags.some((t) => typeof t === 'string' && t.startsWith('charm: '))) tags.push(`charm: ${charm}`);
      dashboard.tags = tags;
      return { rel, json: JSON.stringify(dashboard) };
    });
}

/** base64(xz(text)): what LZMABase64.compress gives. */
const encode = (text) => xz(XZ_ARGS, Buffer.from(text, 'utf8')).toString('base64');
/** The inverse, for --check. */
const decode = (b64) => xz(['--decompress', '--stdout'], Buffer.from(b64, 'base64')).toString('utf8');

function render({ metrics, logs, dashboards }) {
  const sources = dashboards.map((d) => d.rel);
  const list = dashboards.length ? `[\n${dashboards.map((d) => `  ${JSON.stringify(d.encoded)},`).join('\n')}\n]` : '[]';
  return `// GENERATED by scripts/gen-cos-assets.mjs from ${METRICS_RULES_DIR}, ${LOG_RULES_DIR} and ${DASHBOARDS_DIR}.
// Do not edit: change the files under cos/ and run \`node scripts/gen-cos-assets.mjs\` (npm run build does).

/** An alerting rule of a Prometheus (PromQL) or Loki (LogQL) rule file. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

/** A rule file: \`{groups}\`, or \`{}\` when there are no rules (as the library sends it). */
export interface RuleFile {
  readonly groups?: readonly RuleGroup[];
}

/**
 * The PromQL rules of ${METRICS_RULES_DIR}/, one rule file, ${GENERIC_RULES_FILE} (the library's
 * generic host rules) last; group names and labels as written (src/charm/cos.ts adds the topology).
 */
export const METRICS_ALERT_RULES: RuleFile = ${JSON.stringify(metrics, null, 2)};

/** The LogQL rules of ${LOG_RULES_DIR}/, likewise. */
export const LOG_ALERT_RULES: RuleFile = ${JSON.stringify(logs, null, 2)};

/**
 * The dashboards, each base64(xz(JSON)) with uid and charm tag set as the library sets them:
 * ${sources.length ? sources.join(', ') : 'none'}.
 */
export const DASHBOARDS: readonly string[] = ${list};
`;
}

/** The module's text; `encoded` reuses already compressed dashboards (by position) instead of running xz. */
export function generate({ encoded } = {}) {
  const charm = charmName();
  const dashboards = readDashboards(charm).map((d, i) => ({ ...d, encoded: encoded?.[i] ?? encode(d.json) }));
  return { text: render({ metrics: readRules(METRICS_RULES_DIR), logs: readRules(LOG_RULES_DIR), dashboards }), dashboards };
}

/** The DASHBOARDS strings of a generated module's text (undefined when it has none). */
function committedDashboards(text) {
  const m = /^export const DASHBOARDS: readonly string\[\] = (\[[\s\S]*?\]);$/m.exec(text);
  if (!m) return undefined;
  try {
    return JSON.parse(m[1].replace(/,\n\]$/, '\n]'));
  } catch {
    return undefined;
  }
}

/**
 * Whether `current` is what the script makes today. Another xz version may compress the same
 * JSON to other bytes: a committed dashboard counts as current when it decompresses to exactly
 * the JSON made today and the rest of the file is the same.
 */
function upToDate(current) {
  const fresh = generate();
  if (current === fresh.text) return true;
  const committed = committedDashboards(current ?? '');
  if (!committed || committed.length !== fresh.dashboards.length) return false;
  for (const [i, d] of fresh.dashboards.entries()) {
    let json;
    try {
      json = decode(committed[i]);
    } catch {
      return false;
    }
    if (json !== d.json) return false;
  }
  return generate({ encoded: committed }).text === current;
}

function arg(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = path.resolve(repo, arg('--out') ?? OUT);
  const shown = path.relative(repo, out);
  try {
    if (process.argv.includes('--stdout')) {
      process.stdout.write(generate().text);
    } else if (process.argv.includes('--check')) {
      const current = existsSync(out) ? readFileSync(out, 'utf8') : undefined;
      if (!upToDate(current)) {
        console.error(`out of date: ${shown}; run node scripts/gen-cos-assets.mjs`);
        process.exit(1);
      }
    } else {
      mkdirSync(path.dirname(out), { recursive: true });
      writeFileSync(out, generate().text);
      console.log(`wrote ${shown}`);
    }
  } catch (err) {
    console.error(`gen-cos-assets: ${err.message}`);
    process.exit(1);
  }
}
