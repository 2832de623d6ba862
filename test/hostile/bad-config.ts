// Bad configuration, each applied AFTER a good one was in place (install and first build
// settled): blocked status naming the option and what is accepted, exit 0, the host root
// byte-identical (mtimes included), no host program run; then the good config again: active,
// the same image served, nothing rebuilt. Two values that look wrong are accepted ones.
// All of them run through the real charm in the in-memory harness; a sample also goes through
// the real dispatch with the stand-in tools.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { it, type ExpectStatic } from 'vitest';
import { snapshotTree } from '../support/host.js';
import { HOOK_TOOLS_DIR } from '../support/juju.js';
import { on, state, type RunResult } from '../../src/ops/testing/index.js';
import { CANARY } from '../support/clouds.js';
import { MemoryMachine, charmContext } from '../support/memory-unit.js';
import { IMAGE, checkLeaks, checkOutcome, checkUnchanged, cloudsYaml, goodConfig, settledUnit, type Hostile } from './support.js';
import { tally } from './tally.js';

export interface ConfigCase {
  readonly name: string;
  readonly patch: Record<string, unknown>;
  /** The blocked message, whole or in part. */
  readonly message: RegExp;
}

const TEN_MB = 10 * 1024 * 1024;
const Y = 'openstack-clouds-yaml';
const clouds = (text: string) => ({ [Y]: text });
const named = (name: string) => clouds(cloudsYaml(undefined, name));
const NAME_RULE = 'a cloud name must start with a letter or digit and contain only letters, digits, "\\.", "_" and "-"$';
const nameCase = (what: string, yamlKey: string, shown: string): ConfigCase => ({
  name: `cloud name with ${what}`,
  patch: named(yamlKey),
  message: new RegExp(`^${Y}: cloud ${escape(shown)}: ${NAME_RULE}`),
});
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Billion laughs: 9^6 "lol"s if expanded.
const BOMB = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
clouds:
  testcloud: *f
`;
const GOOD = cloudsYaml();
const without = (field: string) => GOOD.replace(new RegExp(` *${field}:.*\\n`), '');
const withValue = (field: string, value: string) => GOOD.replace(new RegExp(`${field}:.*\\n`), `${field}: ${value}\n`);

const interval = (v: number): ConfigCase => ({ name: `interval ${v}`, patch: { interval: v }, message: new RegExp(`^interval must be a whole number of hours from 1 to 24, got ${v}$`) });
const limit = (v: number): ConfigCase => ({ name: `revision-history-limit ${v}`, patch: { 'revision-history-limit': v }, message: new RegExp(`^revision-history-limit must be a whole number from 2 to 99, got ${v}$`) });
const base = (v: string, shown = JSON.stringify(v)): ConfigCase => ({
  name: `base-image ${shown.slice(0, 20)}`,
  patch: { 'base-image': v },
  message: new RegExp(`^base-image ${escape(shown)} is not supported; use focal, jammy, noble, resolute, 20\\.04, 22\\.04, 24\\.04 or 26\\.04$`),
});

export const BAD_CONFIGS: readonly ConfigCase[] = [
  // clouds.yaml that is not YAML, or YAML meant to hurt
  { name: 'invalid YAML', patch: clouds('clouds: [unclosed'), message: /^openstack-clouds-yaml: clouds\.yaml is not valid YAML at line 1, column \d+: \S/ },
  { name: 'tab indentation', patch: clouds('clouds:\n\ttestcloud: {}\n'), message: /^openstack-clouds-yaml: clouds\.yaml is not valid YAML at line 2, column 1: Tabs are not allowed/ },
  { name: 'a cloud defined twice', patch: clouds(GOOD + GOOD.replace('clouds:\n', '')), message: /^openstack-clouds-yaml: clouds\.yaml is not valid YAML at line \d+, column \d+: Map keys must be unique/ },
  { name: 'two YAML documents', patch: clouds(`${GOOD}---\nclouds: {}\n`), message: /^openstack-clouds-yaml: clouds\.yaml holds more than one YAML document \(a second starts at line 11\); give one document$/ },
  { name: 'alias bomb (billion laughs)', patch: clouds(BOMB), message: /^openstack-clouds-yaml: clouds\.yaml expands too many YAML aliases \(more than 100\); write the values out$/ },
  { name: 'a 10 MB clouds.yaml', patch: clouds(`${GOOD}#${'x'.repeat(TEN_MB)}\n`), message: /^openstack-clouds-yaml: clouds\.yaml is larger than 1 MiB \(104\d{5} bytes\); a clouds\.yaml is a few hundred bytes/ },
  // the wrong shape
  { name: 'a scalar', patch: clouds('just some text'), message: /^openstack-clouds-yaml: clouds\.yaml must be a mapping with a top-level "clouds:" key, not a string$/ },
  { name: 'a number', patch: clouds('42'), message: /^openstack-clouds-yaml: clouds\.yaml must be a mapping with a top-level "clouds:" key, not a number$/ },
  { name: 'a list', patch: clouds('- testcloud\n- other\n'), message: /^openstack-clouds-yaml: clouds\.yaml must be a mapping with a top-level "clouds:" key, not a list$/ },
  { name: '`clouds` missing', patch: clouds('cloud:\n  testcloud: {}\n'), message: /^openstack-clouds-yaml: clouds\.yaml: the top-level "clouds:" key is missing$/ },
  { name: '`clouds` null', patch: clouds('clouds:\n'), message: /^openstack-clouds-yaml: clouds\.yaml: "clouds" must be a mapping of cloud names to their settings, not null$/ },
  { name: '`clouds` a string', patch: clouds('clouds: testcloud\n'), message: /^openstack-clouds-yaml: clouds\.yaml: "clouds" must be a mapping of cloud names to their settings, not a string$/ },
  { name: '`clouds` a list', patch: clouds('clouds: [testcloud]\n'), message: /^openstack-clouds-yaml: clouds\.yaml: "clouds" must be a mapping of cloud names to their settings, not a list$/ },
  { name: '`clouds` empty', patch: clouds('clouds: {}\n'), message: /^openstack-clouds-yaml: clouds\.yaml: "clouds" is empty; define at least one cloud$/ },
  { name: 'empty', patch: clouds(''), message: /^openstack-clouds-yaml is empty; set it to the contents of your clouds\.yaml \(juju config <app> openstack-clouds-yaml=@clouds\.yaml\)$/ },
  { name: 'whitespace only', patch: clouds(' \n\t\n'), message: /^openstack-clouds-yaml is empty; set it to the contents of your clouds\.yaml/ },
  { name: 'only a comment', patch: clouds('# paste clouds.yaml here\n'), message: /^openstack-clouds-yaml: clouds\.yaml is empty; it needs a top-level "clouds:" mapping$/ },
  // cloud names that a shell, a status line or a file name would choke on
  nameCase('a space', '"my cloud"', '"my cloud"'),
  nameCase('a single quote', `"it's"`, `"it's"`),
  nameCase('double quotes', `'say "hi"'`, '"say \\"hi\\""'),
  nameCase('a semicolon', '"prod;reboot"', '"prod;reboot"'),
  nameCase('$(...)', '"$(touch /tmp/pwned)"', '"$(touch /tmp/pwned)"'),
  nameCase('backticks', '"`id`"', '"`id`"'),
  nameCase('a newline', '"prod\\nreboot"', '"prod\\nreboot"'),
  nameCase('non-ASCII letters', 'clöud', '"clöud"'),
  nameCase('CJK', '云', '"云"'),
  nameCase('a leading dash', '"-rf"', '"-rf"'),
  // clouds that cannot be used
  { name: 'a cloud without auth', patch: clouds('clouds:\n  testcloud:\n    region_name: RegionOne\n'), message: /^openstack-clouds-yaml: cloud "testcloud": auth is required$/ },
  { name: 'auth without auth_url', patch: clouds(without('auth_url')), message: /^openstack-clouds-yaml: cloud "testcloud": auth\.auth_url is required$/ },
  { name: 'auth_url a number', patch: clouds(withValue('auth_url', '5000')), message: /^openstack-clouds-yaml: cloud "testcloud": auth\.auth_url must be a string, not a number \(quote it/ },
  { name: 'auth_url not http(s)', patch: clouds(withValue('auth_url', 'ftp://keystone/v3')), message: /^openstack-clouds-yaml: cloud "testcloud": auth\.auth_url must be an http:\/\/ or https:\/\/ URL$/ },
  { name: 'auth_url of Keystone v2.0', patch: clouds(withValue('auth_url', 'http://keystone:5000/v2.0')), message: /^openstack-clouds-yaml: cloud "testcloud": auth\.auth_url points at the Keystone v2\.0 API; use the v3 URL \(ending in \/v3\)$/ },
  { name: 'password missing', patch: clouds(without('password')), message: /^openstack-clouds-yaml: cloud "testcloud": auth\.password is required/ },
  { name: 'password a number', patch: clouds(withValue('password', '123456')), message: /^openstack-clouds-yaml: cloud "testcloud": auth\.password must be a string, not a number \(quote it/ },
  { name: 'a cloud that is a string', patch: clouds('clouds:\n  testcloud: keystone.example\n'), message: /^openstack-clouds-yaml: cloud "testcloud": must be a mapping of settings, not a string$/ },
  // cloud-name
  { name: 'cloud-name not in clouds.yaml', patch: { 'cloud-name': 'staging' }, message: /^cloud-name "staging" is not in openstack-clouds-yaml; use one of: testcloud \(or leave it empty for the first\)$/ },
  { name: 'cloud-name with a semicolon', patch: { 'cloud-name': 'testcloud;id' }, message: /^cloud-name "testcloud;id" may contain only letters, digits, "\.", "_" and "-"; use one of: testcloud$/ },
  { name: 'cloud-name with a newline', patch: { 'cloud-name': 'test\ncloud' }, message: /^cloud-name "test\\ncloud" may contain only letters, digits/ },
  { name: 'a 10 MB cloud-name', patch: { 'cloud-name': 'c'.repeat(TEN_MB) }, message: /^cloud-name "c{50,70}\.\.\." is not in openstack-clouds-yaml; use one of: testcloud/ },
  // numbers out of range
  interval(0),
  interval(25),
  interval(-1),
  limit(1),
  limit(100),
  // bases
  base('bionic'),
  base(''),
  base('noble; reboot'),
  base('n'.repeat(TEN_MB), `"${'n'.repeat(36)}..."`),
  // the builder VM's options (issue 19)
  { name: 'architecture x86_64', patch: { architecture: 'x86_64' }, message: /^architecture "x86_64" is not supported; use amd64, arm64, s390x, ppc64le or armhf, or leave it empty for this machine's$/ },
  { name: 'architecture armhf with jammy', patch: { architecture: 'armhf', 'base-image': 'jammy' }, message: /^architecture armhf is built on noble or later only, but base-image has jammy; use noble or resolute$/ },
  { name: 'build-flavor with a newline', patch: { 'build-flavor': 'm1\n--network x' }, message: /^build-flavor contains a control character \(newline, tab\.\.\.\); set an OpenStack flavor name or id/ },
  { name: 'a 10 MB build-network', patch: { 'build-network': 'n'.repeat(TEN_MB) }, message: /^build-network is 10485760 characters long; set an OpenStack network name or id/ },
  { name: 'build-network with spaces at the end', patch: { 'build-network': 'net ' }, message: /^build-network "net " has whitespace at its start or end; / },
  { name: 'runner-version with shell', patch: { 'runner-version': '2.317.0;id' }, message: /^runner-version "2\.317\.0;id" is not a version; use X\.Y\.Z/ },
  { name: 'script-url over plain http', patch: { 'script-url': 'http://scripts.example/s.sh' }, message: /^script-url "http:\/\/scripts\.example\/s\.sh" uses plain http to another machine/ },
  { name: 'script-url with a space', patch: { 'script-url': 'https://x.example/a b' }, message: /^script-url contains whitespace or a control character; / },
  // several problems: all of them, in one line
  {
    name: 'interval 0 and revision-history-limit 1',
    patch: { interval: 0, 'revision-history-limit': 1 },
    message: /^interval must be a whole number of hours from 1 to 24, got 0; revision-history-limit must be a whole number from 2 to 99, got 1$/,
  },
];

/** Values that look wrong but are accepted (case and surrounding spaces are ignored). */
export const ACCEPTED: readonly { name: string; patch: Record<string, unknown> }[] = [
  { name: 'base-image "NOBLE "', patch: { 'base-image': 'NOBLE ' } },
  { name: 'base-image " 24.04"', patch: { 'base-image': ' 24.04' } },
  { name: 'architecture "AMD64"', patch: { architecture: 'AMD64' } },
];

/** One stand-in hook tool, run in a context made up for the purpose. */
function standInTool(h: Hostile, tool: string, args: string[]) {
  return spawnSync(path.join(HOOK_TOOLS_DIR, tool), args, {
    env: { PATH: '/usr/bin:/bin', FAKE_JUJU_DIR: h.u.jujuDir, JUJU_CONTEXT_ID: 'probe-context' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
}

/**
 * What the stand-in tools read with a 10 MB option set, so that only config-get pays for it:
 * config-get of one key answers that key; with the config file made unreadable (a directory
 * where state/config.json was), juju-log still logs while config-get fails, so juju-log never
 * opens the config. Returns the problems found.
 */
function standInReads(h: Hostile, big: Record<string, unknown>): string[] {
  const work = path.join(h.u.jujuDir, 'work');
  const configFile = path.join(h.u.jujuDir, 'state/config.json');
  mkdirSync(work, { recursive: true });
  writeFileSync(path.join(work, 'context-id'), 'probe-context\n');
  const problems: string[] = [];
  try {
    h.u.setConfig(big);
    const get = standInTool(h, 'config-get', ['--format=json', 'interval']);
    if (get.status !== 0 || get.stdout.trim() !== JSON.stringify(big.interval)) problems.push(`config-get interval with a 10 MB option: exit ${get.status}, ${JSON.stringify(get.stdout.slice(0, 200))} ${get.stderr.slice(0, 200)}`);

    renameSync(configFile, `${configFile}.aside`);
    mkdirSync(configFile);
    const log = standInTool(h, 'juju-log', ['--', 'probe: the config is unreadable']);
    if (log.status !== 0) problems.push(`juju-log read the config file: exit ${log.status}: ${log.stderr.slice(0, 300)}`);
    else if (!readFileSync(path.join(h.u.jujuDir, 'juju-log.jsonl'), 'utf8').includes('probe: the config is unreadable')) problems.push('juju-log exited 0 but logged nothing');
    const unreadable = standInTool(h, 'config-get', ['interval']);
    if (unreadable.status === 0) problems.push('config-get answered with the config file unreadable: the probe cannot tell whether a tool reads it');
  } finally {
    rmSync(configFile, { recursive: true, force: true });
    if (existsSync(`${configFile}.aside`)) renameSync(`${configFile}.aside`, configFile);
    rmSync(work, { recursive: true, force: true });
  }
  return problems;
}

/** A settled unit takes `cases` in sequence; failures are soft (each names its case). */
/** The process-level run of `cases` on one settled unit (counted by the in-memory run, not here). */
async function runChunk(expect: ExpectStatic, cases: readonly ConfigCase[], accepted: typeof ACCEPTED): Promise<void> {
  const h = await settledUnit();
  const u = h.u;
  const serving = u.unitStatus();
  expect(serving).toMatchObject({ status: 'active', message: expect.stringMatching(/^Serving image img-first \(/) });
  const builds = u.builds().length;

  for (const bad of cases) {
    const before = snapshotTree(u.hostRoot);
    u.setConfig(bad.patch);
    const r = await h.dispatch('config-changed');
    const status = u.unitStatus();
    expect.soft(checkOutcome(r, { code: 0 }, bad.name), bad.name).toEqual([]);
    expect.soft(status.status, bad.name).toBe('blocked');
    expect.soft(status.message, bad.name).toMatch(bad.message);
    expect.soft(status.message.length, `${bad.name}: a short status`).toBeLessThan(400);
    expect.soft(status.message, `${bad.name}: one line`).not.toContain('\n');
    expect.soft(r.hostCalls.map((c) => `${c.prog} ${c.argv.join(' ')}`), `${bad.name}: no host program`).toEqual([]);
    expect.soft(checkUnchanged(before, snapshotTree(u.hostRoot), bad.name)).toEqual([]);
    // The charm reads the config once and passes none of a big value on to another hook tool
    // (log, status): what it sends stays small whatever the option's size.
    expect.soft(r.calls.filter((c) => c.tool === 'config-get'), `${bad.name}: config-get calls`).toHaveLength(1);
    expect.soft(JSON.stringify(r.calls).length, `${bad.name}: bytes sent to hook tools`).toBeLessThan(64 * 1024);
    if (bad.name.includes('10 MB')) {
      // Only config-get reads the config: the other stand-in tools do not pay for its size.
      expect.soft(standInReads(h, { ...goodConfig(), ...bad.patch }), bad.name).toEqual([]);
    }

    u.setConfig(goodConfig());
    const back = await h.dispatch('config-changed');
    expect.soft(checkOutcome(back, { code: 0 }, `${bad.name}, then the good config`)).toEqual([]);
    expect.soft(u.unitStatus(), `${bad.name}, then the good config`).toEqual(serving);
    expect.soft(back.hostCalls, `${bad.name}, then the good config: nothing run`).toEqual([]);
    expect.soft(checkUnchanged(before, snapshotTree(u.hostRoot), `${bad.name}, then the good config`)).toEqual([]);
    expect.soft(checkLeaks(h, bad.name)).toEqual([]);
  }

  for (const ok of accepted) {
    const before = snapshotTree(u.hostRoot);
    u.setConfig(ok.patch);
    const r = await h.dispatch('config-changed');
    expect.soft(checkOutcome(r, { code: 0 }, ok.name)).toEqual([]);
    expect.soft(u.unitStatus(), `${ok.name} is accepted: same image, same build arguments`).toEqual(serving);
    expect.soft(r.hostCalls, `${ok.name}: nothing to rebuild`).toEqual([]);
    expect.soft(checkUnchanged(before, snapshotTree(u.hostRoot), ok.name)).toEqual([]);
    u.setConfig(goodConfig());
  }
  expect.soft(u.builds(), 'nothing was rebuilt').toHaveLength(builds);
}

/**
 * Every bad config through the real charm in the in-memory harness (milliseconds each): blocked
 * naming the option, exit 0, the host tree byte-identical, no program run, nothing leaked; then
 * the good config again: the same status, nothing rebuilt.
 */
async function runInMemory(expect: ExpectStatic, cases: readonly ConfigCase[], accepted: typeof ACCEPTED): Promise<void> {
  const m = new MemoryMachine();
  try {
    const ctx = charmContext(m);
    const installed = await ctx.run(on.install(), state({ leader: true, config: goodConfig() }));
    m.cloud.images.push({ id: 'img-first', name: IMAGE, createdAt: '2030-01-01T00:00:00Z', status: 'active' });
    const settled = (await ctx.run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-first' }), installed.state)).state;
    const serving = settled.unitStatus;
    expect(serving).toMatchObject({ status: 'active', message: expect.stringMatching(/^Serving image img-first \(/) });
    m.programs.calls.length = 0;
    const builds = m.programs.builds.length;
    const leaks = (what: string, r: RunResult) => (JSON.stringify([r.logs, r.unitStatusHistory, r.state.stored, r.actionResults, r.stderr, m.programs.calls]).includes(CANARY) ? [`${what}: the canary left clouds.yaml`] : []);

    for (const bad of cases) {
      const before = snapshotTree(m.root);
      const r = await ctx.run(on.configChanged(), { ...settled, config: { ...goodConfig(), ...bad.patch } });
      tally.badInputs++;
      expect.soft(r.exitCode, `${bad.name}: exit code (${r.stderr})`).toBe(0);
      expect.soft(r.state.unitStatus.status, bad.name).toBe('blocked');
      expect.soft(r.state.unitStatus.message, bad.name).toMatch(bad.message);
      expect.soft(r.state.unitStatus.message.length, `${bad.name}: a short status`).toBeLessThan(400);
      expect.soft(r.state.unitStatus.message, `${bad.name}: one line`).not.toContain('\n');
      expect.soft(m.programs.calls.map((c) => c.argv.join(' ')), `${bad.name}: no host program`).toEqual([]);
      expect.soft(checkUnchanged(before, snapshotTree(m.root), bad.name)).toEqual([]);
      const found = leaks(bad.name, r);
      tally.leaks.push(...found);
      expect.soft(found).toEqual([]);

      const back = await ctx.run(on.configChanged(), { ...r.state, config: goodConfig() });
      expect.soft(back.exitCode, `${bad.name}, then the good config`).toBe(0);
      expect.soft(back.state.unitStatus, `${bad.name}, then the good config`).toEqual(serving);
      expect.soft(m.programs.calls, `${bad.name}, then the good config: nothing run`).toEqual([]);
      expect.soft(checkUnchanged(before, snapshotTree(m.root), `${bad.name}, then the good config`)).toEqual([]);
    }

    for (const ok of accepted) {
      const before = snapshotTree(m.root);
      const r = await ctx.run(on.configChanged(), { ...settled, config: { ...goodConfig(), ...ok.patch } });
      tally.acceptedInputs++;
      expect.soft(r.exitCode, ok.name).toBe(0);
      expect.soft(r.state.unitStatus, `${ok.name} is accepted: same image, same build arguments`).toEqual(serving);
      expect.soft(m.programs.calls, `${ok.name}: nothing to rebuild`).toEqual([]);
      expect.soft(checkUnchanged(before, snapshotTree(m.root), ok.name)).toEqual([]);
    }
    expect.soft(m.programs.builds, 'nothing was rebuilt').toHaveLength(builds);
  } finally {
    m.cleanup();
  }
}

/** Cases that also go through the real dispatch and stand-in tools (the 10 MB ones probe what the tools read). */
const PROCESS_SAMPLES = ['invalid YAML', 'a 10 MB clouds.yaml', 'a 10 MB cloud-name', 'interval 0'];

/**
 * Every bad config in memory, and a sample of them (plus the accepted look-alikes) as Juju runs
 * the charm: a subprocess dispatch with the stand-in hook tools, on a settled unit.
 */
export function registerBadConfigs(): void {
  it(`${BAD_CONFIGS.length} invalid configs and ${ACCEPTED.length} accepted ones, each after a good config, in memory: blocked, exit 0, host untouched; then active again, nothing rebuilt`, async ({ expect }) => {
    await runInMemory(expect, BAD_CONFIGS, ACCEPTED);
  });
  it(`${PROCESS_SAMPLES.length} of them and the accepted ones through the real dispatch: the same, the charm reads the config once, and only config-get reads a 10 MB option`, async ({ expect }) => {
    const samples = BAD_CONFIGS.filter((c) => PROCESS_SAMPLES.includes(c.name));
    expect(samples).toHaveLength(PROCESS_SAMPLES.length);
    await runChunk(expect, samples, ACCEPTED);
  });
}
