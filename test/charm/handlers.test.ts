// Every handler of the real ImageBuilderCharm in the in-memory harness: state in, event, state
// out, on a real file tree with scripted host programs and an in-memory cloud (see
// test/support/memory-unit.ts). Process-level behaviour (cron, the build script, juju-exec,
// kills) stays in lifecycle.test.ts, the hostile and hardening suites.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUILDER_SOURCE } from '../../src/charm/builder.js';
import {
  BUILD_ENV_PATH,
  BUILD_SCRIPT_PATH,
  BUILDER_SSH_DIR,
  BUILDER_WORK_DIR,
  BUILD_PHASE_PATH,
  SCRIPT_SECRETS_ENV_PATH,
  CLOUDS_YAML_PATH,
  CONFIG_DIR,
  CRON_PATH,
  INSTALLED_MARKER_PATH,
  LEGACY_BUILDER_BIN,
  LEGACY_CLOUDS_YAML_PATH,
  LOGROTATE_PATH,
  EXPORTER_SOCKET_PATH,
  EXPORTER_UNIT_PATH,
  PIPX_BIN_DIR,
  PIPX_HOME,
  SKIPPED_RUNS_PATH,
} from '../../src/charm/paths.js';
import { on, relation, secret, state, type RunResult, type SecretState, type State } from '../../src/ops/testing/index.js';
import { parse } from 'yaml';
import { CANARY, cloudsYaml } from '../support/clouds.js';
import { diffTrees, snapshotTree } from '../support/host.js';
import { MemoryMachine, charmContext, testMachine } from '../support/memory-unit.js';

const IMAGE = 'noble-github-runner-image-builder-x64';
const config = { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': cloudsYaml(), 'cloud-name': '', 'revision-history-limit': 5 };
/** The unit leads unless a test says otherwise (a single unit always does). */
const unitState = (partial: Partial<State> = {}) => state({ leader: true, ...partial });
const imageRelation = () => relation('image', { id: 1, remoteApp: 'github-runner' });

const machine = testMachine;

/** Every component's stored fields in one record (each component keeps its own bag). */
const stored = (s: State) => Object.assign({}, ...Object.values(s.stored)) as Record<string, unknown>;
const statuses = (r: RunResult) => r.unitStatusHistory.map((s) => `${s.status}: ${s.message}`);

/** A machine after a successful install, and the state Juju would hand the next hook. */
async function installed(extra: Partial<State> = {}): Promise<{ m: MemoryMachine; s: State }> {
  const m = machine();
  const r = await charmContext(m).run(on.install(), unitState({ config, relations: [imageRelation()], ...extra }));
  expect(r.exitCode, r.stderr).toBe(0);
  m.programs.calls.length = 0;
  m.programs.builds.length = 0;
  return { m, s: r.state };
}

describe('install', () => {
  it('sets the builder up root-owned, writes every file with its mode, and starts the first build', async () => {
    const m = machine();
    const r = await charmContext(m).run(on.install(), unitState({ config }));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(statuses(r)).toEqual(['maintenance: Setting up the image builder', 'active: Waiting for first image']);
    const pipx = m.programs.called('pipx')[0]!;
    expect(pipx.argv).toEqual(['pipx', 'install', '--force', BUILDER_SOURCE]);
    expect(pipx.env).toMatchObject({ PIPX_HOME: m.hostPath(PIPX_HOME), PIPX_BIN_DIR: m.hostPath(PIPX_BIN_DIR) });
    expect(m.programs.called('apt-get').map((c) => c.argv.join(' '))).toEqual(['apt-get update', 'apt-get install -y --no-install-recommends pipx python3-dev gcc git']);
    // init (GBs of downloads) is the build's, never a hook's.
    expect(m.programs.calls.some((c) => c.argv.includes('init'))).toBe(false);
    const modes = Object.fromEntries([CLOUDS_YAML_PATH, BUILD_ENV_PATH, BUILD_SCRIPT_PATH, SCRIPT_SECRETS_ENV_PATH, LOGROTATE_PATH, CRON_PATH, CONFIG_DIR, BUILDER_SSH_DIR, BUILDER_WORK_DIR].map((p) => [p, (statSync(m.hostPath(p)).mode & 0o777).toString(8)]));
    expect(modes).toEqual({ [CLOUDS_YAML_PATH]: '600', [BUILD_ENV_PATH]: '600', [BUILD_SCRIPT_PATH]: '700', [SCRIPT_SECRETS_ENV_PATH]: '600', [LOGROTATE_PATH]: '644', [CRON_PATH]: '644', [CONFIG_DIR]: '700', [BUILDER_SSH_DIR]: '700', [BUILDER_WORK_DIR]: '700' });
    expect(readFileSync(m.hostPath(INSTALLED_MARKER_PATH), 'utf8')).toBe(`${BUILDER_SOURCE}\n`);
    expect(m.programs.builds).toEqual([[m.hostPath(BUILD_SCRIPT_PATH), '--now']]);
    expect(stored(r.state).scheduleDigest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('on invalid config: blocked naming the option, deferred, nothing on the host; the fixed config completes it', async () => {
    const m = machine();
    const ctx = charmContext(m);
    const before = snapshotTree(m.root);
    const r = await ctx.run(on.install(), unitState({ config: { ...config, interval: 0 } }));
    expect(r.exitCode).toBe(0);
    expect(r.state.unitStatus).toEqual({ status: 'blocked', message: 'interval must be a whole number of hours from 1 to 24, got 0' });
    expect(r.state.deferred.map((n) => n.event)).toEqual(['install']);
    expect(m.programs.calls).toEqual([]);
    expect(diffTrees(before, snapshotTree(m.root))).toMatchObject({ added: [], removed: [], changed: [] });

    const fixed = await ctx.run(on.configChanged(), { ...r.state, config });
    expect(fixed.exitCode).toBe(0);
    expect(fixed.state.deferred).toEqual([]);
    expect(fixed.state.unitStatus).toEqual({ status: 'active', message: 'Waiting for first image' });
    expect(m.programs.builds).toHaveLength(1);
  });

  it('fails the hook when apt fails (Juju retries), with a status naming the step and the command', async () => {
    const m = machine();
    m.programs.fail(['apt-get', 'update'], { exitCode: 100, stdout: '', stderr: 'E: Could not get lock /var/lib/apt/lists/lock' });
    const r = await charmContext(m).run(on.install(), unitState({ config }), { expectUncaughtError: true });
    expect(r.exitCode).toBe(1);
    expect(r.state.unitStatus).toEqual({ status: 'blocked', message: 'Setup failed, Juju will retry: installing apt packages failed: `apt-get update` exited with code 100: E: Could not get lock /var/lib/apt/lists/lock' });
    expect(existsSync(m.hostPath(CRON_PATH))).toBe(false);
  });

  it('refuses a model proxy with a newline like bad config, without showing its value', async () => {
    const m = machine();
    const r = await charmContext(m, { env: { JUJU_CHARM_HTTPS_PROXY: 'http://u:secret@p:3128\n* * * * * root id' } }).run(on.install(), unitState({ config }));
    expect(r.state.unitStatus.status).toBe('blocked');
    expect(r.state.unitStatus.message).toMatch(/^the model's juju-https-proxy contains a control character/);
    expect(JSON.stringify(r)).not.toContain('secret');
    expect(m.programs.calls).toEqual([]);
  });
});

describe('config-changed', () => {
  it('changes nothing and runs nothing when the config is unchanged', async () => {
    const { m, s } = await installed();
    const before = snapshotTree(m.root);
    const r = await charmContext(m).run(on.configChanged(), s);
    expect(r.exitCode).toBe(0);
    expect(m.programs.calls).toEqual([]);
    expect(m.programs.builds).toEqual([]);
    expect(diffTrees(before, snapshotTree(m.root), { compareMtime: true })).toMatchObject({ added: [], removed: [], changed: [] });
    expect(r.unitStatusHistory, 'no status-set for an unchanged status').toEqual([]);
  });

  it('repairs a managed file someone changed or removed, though the config is the same', async () => {
    const { m, s } = await installed();
    const cron = readFileSync(m.hostPath(CRON_PATH), 'utf8');
    rmSync(m.hostPath(CRON_PATH));
    writeFileSync(m.hostPath(BUILD_ENV_PATH), 'HTTPS_PROXY=http://evil:3128\n', { mode: 0o600 });
    const r = await charmContext(m).run(on.configChanged(), s);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(m.hostPath(CRON_PATH), 'utf8')).toBe(cron);
    expect(readFileSync(m.hostPath(BUILD_ENV_PATH), 'utf8')).not.toContain('evil');
    expect(m.programs.called('systemctl').map((c) => c.argv.join(' '))).toEqual(['systemctl reload-or-restart cron']);
  });

  it('keeps no password in what it remembers, and a retried hook whose unit state was lost still starts the build it owes', async () => {
    const { m, s } = await installed();
    expect(JSON.stringify(s.stored), 'the password is not in the unit state').not.toContain(CANARY);
    const changed = { ...config, interval: 12 };
    const first = await charmContext(m).run(on.configChanged(), { ...s, config: changed });
    expect(first.exitCode).toBe(0);
    expect(m.programs.builds).toHaveLength(1);
    // Juju retries a hook killed before its unit state was saved: the same config on the old state.
    const retried = await charmContext(m).run(on.configChanged(), { ...s, config: changed });
    expect(retried.exitCode).toBe(0);
    expect(m.programs.builds, 'the retry starts the build the old state still owes').toHaveLength(2);
    // And once that state is saved, the same config again is steady.
    const before = snapshotTree(m.root);
    await charmContext(m).run(on.configChanged(), retried.state);
    expect(m.programs.builds).toHaveLength(2);
    expect(diffTrees(before, snapshotTree(m.root), { compareMtime: true })).toMatchObject({ added: [], removed: [], changed: [] });
  });

  it('unblocks when a bad config is reverted to the one already applied', async () => {
    const { m, s } = await installed();
    const bad = await charmContext(m).run(on.configChanged(), { ...s, config: { ...config, interval: 0 } });
    expect(bad.state.unitStatus.status).toBe('blocked');
    const reverted = await charmContext(m).run(on.configChanged(), { ...bad.state, config });
    expect(reverted.state.unitStatus).toEqual({ status: 'active', message: 'Waiting for first image' });
    expect(m.programs.builds).toEqual([]);
  });

  it('rewrites the cron entry, reloads cron and starts one build when the interval changes', async () => {
    const { m, s } = await installed();
    const r = await charmContext(m).run(on.configChanged(), { ...s, config: { ...config, interval: 12 } });
    expect(readFileSync(m.hostPath(CRON_PATH), 'utf8')).toMatch(/^\d{1,2} \*\/12 \* \* \* root /m);
    expect(m.programs.called('systemctl').map((c) => c.argv.join(' '))).toEqual(['systemctl reload-or-restart cron']);
    expect(readFileSync(m.hostPath(EXPORTER_UNIT_PATH), 'utf8')).toContain(' --port 9110 ');
    expect(m.programs.builds).toHaveLength(1);
    expect(r.logs.map((l) => l.message)).toContainEqual(expect.stringMatching(/build started \(the schedule or build arguments changed\)/));
  });

  it('rewrites clouds.yaml for new credentials without a build', async () => {
    const { m, s } = await installed();
    const rotated = cloudsYaml().replace(CANARY, `${CANARY}-2`);
    await charmContext(m).run(on.configChanged(), { ...s, config: { ...config, 'openstack-clouds-yaml': rotated } });
    expect(readFileSync(m.hostPath(CLOUDS_YAML_PATH), 'utf8')).toBe(rotated);
    expect(m.programs.builds).toEqual([]);
  });

  it('blocks on a bad config and leaves the host as it was', async () => {
    const { m, s } = await installed();
    const before = snapshotTree(m.root);
    const r = await charmContext(m).run(on.configChanged(), { ...s, config: { ...config, 'base-image': 'bionic' } });
    expect(r.state.unitStatus).toEqual({ status: 'blocked', message: 'base-image "bionic" is not supported; use focal, jammy, noble, resolute, 20.04, 22.04, 24.04 or 26.04' });
    expect(diffTrees(before, snapshotTree(m.root), { compareMtime: true })).toMatchObject({ added: [], removed: [], changed: [] });
    // The blocked status stands through update-status until a valid config arrives.
    const later = await charmContext(m).run(on.updateStatus(), r.state);
    expect(later.state.unitStatus.status).toBe('blocked');
  });

  it('warns in the log and the status about verify: false and plain http to a remote Keystone', async () => {
    const insecure = cloudsYaml('http://keystone.example:5000/v3').replace('    region_name: RegionOne\n', '    region_name: RegionOne\n    verify: false\n');
    const m = machine();
    const r = await charmContext(m).run(on.install(), unitState({ config: { ...config, 'openstack-clouds-yaml': insecure } }));
    expect(r.state.unitStatus.message).toMatch(/^Waiting for first image; warning: cloud "testcloud" uses plain http .*; warning: TLS verification is off for cloud "testcloud"/);
    expect(r.logs.filter((l) => l.level === 'WARNING').map((l) => l.message).join('\n')).toMatch(/verify: false/);
  });
});

describe('upgrade-charm', () => {
  it('reinstalls nothing and builds nothing when the builder pin is unchanged; restarts the exporter (its code may be new)', async () => {
    const { m, s } = await installed();
    const r = await charmContext(m).run(on.upgradeCharm(), s);
    expect(r.exitCode).toBe(0);
    // Only the service restarts: systemd keeps its socket, so the port is never free meanwhile.
    expect(m.programs.calls.map((c) => c.argv.join(' '))).toEqual([
      'systemctl enable github-runner-image-builder-exporter.socket github-runner-image-builder-exporter.service',
      'systemctl restart github-runner-image-builder-exporter.service',
    ]);
    expect(m.programs.builds).toEqual([]);
  });

  it('reinstalls a changed builder under the build lock and clears the old layout as the ubuntu user', async () => {
    const { m, s } = await installed();
    writeFileSync(m.hostPath(INSTALLED_MARKER_PATH), 'git+https://example/old\n');
    for (const p of [LEGACY_CLOUDS_YAML_PATH, LEGACY_BUILDER_BIN]) {
      await import('node:fs').then((fs) => fs.mkdirSync(m.hostPath(p).replace(/\/[^/]+$/, ''), { recursive: true }));
      writeFileSync(m.hostPath(p), 'old\n');
    }
    const r = await charmContext(m).run(on.upgradeCharm(), s);
    expect(r.exitCode, r.stderr).toBe(0);
    // The other builder's virtualenv goes first (root's pipx, under the build lock), then the pinned one.
    expect(m.programs.called('pipx').map((c) => c.argv.slice(1))).toEqual([['uninstall', 'github-runner-image-builder'], ['install', '--force', BUILDER_SOURCE]]);
    expect(r.logs.map((l) => l.message)).toContainEqual(expect.stringContaining('removed the previous builder (git+https://example/old); the new one builds on a VM in the cloud'));
    expect(m.programs.called('runuser').map((c) => c.argv.slice(4))).toEqual([['rm', '-f', '--', m.hostPath(LEGACY_CLOUDS_YAML_PATH)], ['pipx', 'uninstall', 'github-runner-image-builder']]);
  });

  it('runs the old layout’s cleanup as ubuntu without the model proxy, and only once', async () => {
    const proxy = { JUJU_CHARM_HTTP_PROXY: 'http://user:pr0xy-pa55@proxy.example:3128', JUJU_CHARM_HTTPS_PROXY: 'http://user:pr0xy-pa55@proxy.example:3128' };
    const m = machine();
    const first = await charmContext(m, { env: proxy }).run(on.install(), unitState({ config, relations: [imageRelation()] }));
    expect(first.exitCode, first.stderr).toBe(0);
    const plant = () => {
      mkdirSync(m.hostPath(LEGACY_BUILDER_BIN).replace(/\/[^/]+$/, ''), { recursive: true });
      writeFileSync(m.hostPath(LEGACY_BUILDER_BIN), '#!/bin/sh\nenv > /tmp/stolen\n');
    };
    plant();
    m.programs.calls.length = 0;
    const r = await charmContext(m, { env: proxy }).run(on.upgradeCharm(), first.state);
    expect(r.exitCode, r.stderr).toBe(0);
    const asUbuntu = m.programs.called('runuser');
    expect(asUbuntu.map((c) => c.argv.slice(4))).toEqual([['pipx', 'uninstall', 'github-runner-image-builder']]);
    expect(JSON.stringify(asUbuntu.map((c) => c.env)), 'no proxy (it may carry credentials) in what runs as ubuntu').not.toMatch(/pr0xy-pa55|proxy/i);
    // The ubuntu user plants the launcher again: root's hooks never run it again.
    plant();
    m.programs.calls.length = 0;
    const again = await charmContext(m, { env: proxy }).run(on.upgradeCharm(), r.state);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(m.programs.called('runuser')).toEqual([]);
  });

  it('never waits for the build lock: a new builder pin during a build is owed, and update-status installs it once the build has ended', async () => {
    const { m, s } = await installed();
    writeFileSync(m.hostPath(INSTALLED_MARKER_PATH), 'git+https://example/old\n');
    m.programs.lockHeld = true;
    const during = await charmContext(m).run(on.upgradeCharm(), s);
    expect(during.exitCode, during.stderr).toBe(0);
    expect(m.programs.called('pipx'), 'nothing installed under a running build').toEqual([]);
    expect(during.state.unitStatus.message).toMatch(/the builder is set up \(upgraded\) once the running build has ended/);
    const stillRunning = await charmContext(m).run(on.updateStatus(), during.state);
    expect(m.programs.called('pipx')).toEqual([]);
    m.programs.lockHeld = false;
    const after = await charmContext(m).run(on.updateStatus(), stillRunning.state);
    expect(after.exitCode, after.stderr).toBe(0);
    expect(m.programs.called('pipx').map((c) => c.argv[1])).toEqual(['uninstall', 'install']); // the previous builder goes, the pinned one comes
    expect(m.programs.called('pipx').at(-1)!.argv.slice(1)).toEqual(['install', '--force', BUILDER_SOURCE]);
    expect(after.state.unitStatus.message).not.toMatch(/once the running build has ended/);
  });
});

describe('update-status', () => {
  it('reports a lock held past the build timeout and skipped scheduled runs, then clears them', async () => {
    const { m, s } = await installed();
    m.holdLock(new Date(Date.now() - 4 * 3600_000), 777);
    writeFileSync(m.hostPath(SKIPPED_RUNS_PATH), '3\n');
    const r = await charmContext(m).run(on.updateStatus(), s);
    expect(r.state.unitStatus.message).toMatch(/^Waiting for first image; a build has held the build lock since \S+, past the 3 h build timeout: check its processes \(ps -s 777\) and end them \(kill -- -777\); the last 3 scheduled builds were skipped/);
    m.programs.lockHeld = false;
    await import('node:fs').then((fs) => fs.rmSync(m.hostPath(SKIPPED_RUNS_PATH)));
    const cleared = await charmContext(m).run(on.updateStatus(), r.state);
    expect(cleared.state.unitStatus.message).toMatch(/^Waiting for first image; a build has held/); // the record stays until a build removes it
  });
});

describe('stop and remove', () => {
  it('end a running build and remove the schedule, the scripts and every credential', async () => {
    const { m, s } = await installed();
    m.holdLock(new Date(), 9999);
    const r = await charmContext(m).run(on.stop(), s);
    expect(r.exitCode).toBe(0);
    expect(m.programs.called('pkill').map((c) => c.argv.join(' '))).toEqual(['pkill -TERM -s 9999']);
    for (const p of [CRON_PATH, BUILD_SCRIPT_PATH, SCRIPT_SECRETS_ENV_PATH, BUILDER_SSH_DIR, CONFIG_DIR]) expect(existsSync(m.hostPath(p)), p).toBe(false);
    expect(r.state.unitStatus).toEqual({ status: 'maintenance', message: 'Stopped: no scheduled builds' });
    expect((await charmContext(m).run(on.remove(), r.state)).exitCode).toBe(0);
  });
});

describe('actions', () => {
  it('build-immediate starts the build script, or says a build already runs', async () => {
    const { m, s } = await installed();
    const r = await charmContext(m).run(on.action('build-immediate'), s);
    expect(r.actionResults).toEqual({ status: 'started', message: `build of ${IMAGE} started; log: /var/log/github-runner-image-builder/build.log` });
    m.programs.lockHeld = true;
    const busy = await charmContext(m).run(on.action('build-now'), s);
    expect(busy.actionResults).toEqual({ status: 'already-running', message: 'a build is already running; not starting another' });
    expect(m.programs.builds).toHaveLength(1);
  });

  it('build-immediate fails clearly before setup and on bad config', async () => {
    const m = machine();
    const r = await charmContext(m).run(on.action('build-immediate'), unitState({ config }));
    expect(r.actionFailure).toBe('cannot build: the image builder is not set up yet (see `juju status` for why)');
    const bad = await charmContext(m).run(on.action('build-immediate'), unitState({ config: { ...config, 'openstack-clouds-yaml': '' } }));
    expect(bad.actionFailure).toMatch(/^cannot build: openstack-clouds-yaml is empty/);
  });

  it('get-latest reports the newest active image, or why there is none', async () => {
    const { m, s } = await installed();
    const none = await charmContext(m).run(on.action('get-latest'), s);
    expect(none.actionFailure).toBe(`no active image named ${IMAGE} in cloud testcloud yet; the first build takes a while (log: /var/log/github-runner-image-builder/build.log)`);
    m.cloud.images.push({ id: 'old', name: IMAGE, createdAt: '2030-01-01T00:00:00Z', status: 'active' }, { id: 'new', name: IMAGE, createdAt: '2030-01-02T00:00:00Z', status: 'active' });
    const r = await charmContext(m).run(on.action('get-latest'), s);
    expect(r.actionResults).toEqual({ id: 'new', name: IMAGE, 'created-at': '2030-01-02T00:00:00Z', images: JSON.stringify([{ cloud: 'testcloud', base: 'noble', id: 'new', name: IMAGE, 'created-at': '2030-01-02T00:00:00Z' }]) });
    m.cloud.fail = Object.assign(new Error('cloud "testcloud": POST http://k/v3/auth/tokens: cannot connect (ECONNREFUSED)'), { kind: 'network' });
    const down = await charmContext(m).run(on.action('get-latest'), s);
    expect(down.actionFailure).toBe('could not get the latest image: cloud "testcloud": POST http://k/v3/auth/tokens: cannot connect (ECONNREFUSED); check that the cloud is up and reachable from this machine (and the model proxy settings), then run the action again');
    expect(down.exitCode).toBe(0);
  });
});

describe('build_success, build_failed and the image relation', () => {
  it('publishes an image the cloud confirms, and keeps it for relations that join later', async () => {
    const { m, s } = await installed();
    m.cloud.images.push({ id: 'img-1', name: IMAGE, createdAt: '2030-01-01T00:00:00Z', status: 'active' });
    const r = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-1' }), s);
    expect(r.state.relations[0]!.localUnitData).toEqual({ id: 'img-1', tags: 'x64,noble', images: '[{"id":"img-1","tags":"x64,noble"}]', name: IMAGE, 'created-at': '2030-01-01T00:00:00Z' });
    expect(r.state.unitStatus).toEqual({ status: 'active', message: 'Serving image img-1 (2030-01-01T00:00:00Z)' });
    const late = relation('image', { id: 2, remoteApp: 'other-runner' });
    m.cloud.fail = new Error('cloud down');
    const joined = await charmContext(m).run(on.relation('joined', late), { ...r.state, relations: [...r.state.relations, late] });
    expect(joined.state.relations[1]!.localUnitData.id).toBe('img-1');
  });

  it('does not publish an id the cloud does not have, or has as another image', async () => {
    const { m, s } = await installed();
    const ghost = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-ghost' }), s);
    expect(ghost.state.relations[0]!.localUnitData).toEqual({});
    expect(ghost.state.unitStatus.message).toMatch(/^Last build failed at \S+ \(the builder reported image img-ghost, but cloud testcloud has no such image\)/);
    m.cloud.images.push({ id: 'img-q', name: IMAGE, createdAt: '2030-01-01T00:00:00Z', status: 'queued' });
    const queued = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-q' }), s);
    expect(queued.state.unitStatus.message).toMatch(/has it as "noble-github-runner-image-builder-x64" in status queued, not an active/);
  });

  it('publishes the id with a warning when the cloud cannot be asked', async () => {
    const { m, s } = await installed();
    m.cloud.fail = new Error('cloud "testcloud": GET http://g/v2/images/img-2 returned HTTP 500');
    const r = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-2' }), s);
    expect(r.state.relations[0]!.localUnitData.id).toBe('img-2');
    expect(r.logs.map((l) => l.message)).toContainEqual(expect.stringMatching(/^image img-2 built, but its details could not be read from the cloud/));
  });

  it('publishes the id the cloud cannot be asked about even when the cloud clock runs ahead of the unit', async () => {
    const { m, s } = await installed();
    // The served image carries Glance's created-at, three minutes ahead of this machine's clock.
    const ahead = new Date(Date.now() + 3 * 60_000).toISOString();
    m.cloud.images.push({ id: 'img-1', name: IMAGE, createdAt: ahead, status: 'active' });
    const first = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-1' }), s);
    m.cloud.fail = new Error('cloud "testcloud": GET http://g/v2/images/img-2 returned HTTP 500');
    const r = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-2' }), first.state);
    expect(r.state.relations[0]!.localUnitData.id).toBe('img-2');
    expect(Date.parse(r.state.relations[0]!.localUnitData['created-at']!)).toBeGreaterThan(Date.parse(ahead));
  });

  it('records failures: a malformed id, an exit code, a timeout', async () => {
    const { m, s } = await installed();
    const ctx = charmContext(m);
    const malformed = await ctx.run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'a;b' }), s);
    expect(malformed.state.unitStatus.message).toMatch(/\(the builder reported a malformed image id\)/);
    const failed = await ctx.run(on.custom('build_failed', { BUILD_EXIT_CODE: '3' }), s);
    expect(failed.state.unitStatus.message).toMatch(/^Last build failed at \S+ \(exit code 3\); see \/var\/log\/github-runner-image-builder\/build\.log$/);
    const timedOut = await ctx.run(on.custom('build_failed', { BUILD_EXIT_CODE: '124' }), s);
    expect(timedOut.state.unitStatus.message).toMatch(/\(timed out after 3 h, exit code 124\)/);
    const noId = await ctx.run(on.custom('build_failed', { BUILD_FAILURE: 'no-image-id', IMAGE_BASE: 'noble' }), s);
    expect(noId.state.unitStatus.message).toMatch(/^Last build failed at \S+ \(the builder printed no image id\); see /);
    const init = await ctx.run(on.custom('build_failed', { BUILD_FAILURE: 'init', BUILD_EXIT_CODE: '1' }), s);
    expect(init.state.unitStatus.message).toMatch(/^Last build failed at \S+ \(preparing the builder \(init\) failed with exit code 1; the next build tries again\); see /);
  });

  it('says what the first build does while it runs, from the phase the build script records', async () => {
    const { m, s } = await installed();
    m.holdLock(new Date(), 4242);
    writeFileSync(m.hostPath(BUILD_PHASE_PATH), 'preparing the builder: downloading base images\n');
    const r = await charmContext(m).run(on.updateStatus(), s);
    expect(r.state.unitStatus).toEqual({ status: 'active', message: 'Waiting for first image (preparing the builder: downloading base images)' });
    writeFileSync(m.hostPath(BUILD_PHASE_PATH), 'building noble-github-runner-image-builder-x64\n');
    expect((await charmContext(m).run(on.updateStatus(), s)).state.unitStatus.message).toBe('Waiting for first image (building noble-github-runner-image-builder-x64)');
  });

  it('a relation joining before any image asks the cloud, and a cloud failure is only a warning', async () => {
    const { m, s } = await installed();
    m.cloud.images.push({ id: 'img-cloud', name: IMAGE, createdAt: '2030-01-01T00:00:00Z', status: 'active' });
    const r = await charmContext(m).run(on.relation('joined', s.relations[0]!), s);
    expect(r.state.relations[0]!.localUnitData.id).toBe('img-cloud');
    m.cloud.fail = new Error('boom');
    const down = await charmContext(m).run(on.relation('joined', s.relations[0]!), s);
    expect(down.exitCode).toBe(0);
    expect(down.logs.map((l) => l.message)).toContainEqual(expect.stringMatching(/^github-runner joined, but the cloud could not be asked/));
  });
});

describe('the script secret (script-secret-id)', () => {
  const withScript = (s: SecretState) => ({ ...config, 'script-secret-id': s.id });
  const envFile = (m: MemoryMachine) => readFileSync(m.hostPath(SCRIPT_SECRETS_ENV_PATH), 'utf8');

  it('writes each key as IMAGE_BUILDER_SECRET_<key, - as _> into the root-only env file, and nowhere else', async () => {
    const m = machine();
    const s = secret({ content: { 'api-key': CANARY, token: "it's" } });
    const r = await charmContext(m).run(on.install(), unitState({ config: withScript(s), secrets: [s] }));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(envFile(m)).toContain(`export IMAGE_BUILDER_SECRET_api_key='${CANARY}'\nexport IMAGE_BUILDER_SECRET_token='it'\\''s'\n`);
    expect(statSync(m.hostPath(SCRIPT_SECRETS_ENV_PATH)).mode & 0o777).toBe(0o600);
    expect(JSON.stringify([r.logs, r.unitStatusHistory, r.state.stored, r.state.relations, m.programs.calls])).not.toContain(CANARY);
    expect(readFileSync(m.hostPath(BUILD_SCRIPT_PATH), 'utf8')).not.toContain(CANARY);
  });

  it('follows a new revision on secret-changed, and empties the file when the option is cleared', async () => {
    const m = machine();
    const s = secret({ content: { token: 'first' } });
    const installed = await charmContext(m).run(on.install(), unitState({ config: withScript(s), secrets: [s] }));
    const rotated: SecretState = { ...installed.state.secrets![0]!, revisions: [{ token: 'first' }, { token: 'second' }] };
    const r = await charmContext(m).run(on.secretChanged(rotated), { ...installed.state, secrets: [rotated] });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(envFile(m)).toContain("export IMAGE_BUILDER_SECRET_token='second'\n");
    const cleared = await charmContext(m).run(on.configChanged(), { ...r.state, config });
    expect(cleared.exitCode).toBe(0);
    expect(envFile(m)).not.toContain('second');
  });

  it('not granted or missing: blocked naming the option, the secret and the fix; granting, then update-status, recovers', async () => {
    const m = machine();
    const denied = secret({ content: { token: 't' }, granted: false });
    const r = await charmContext(m).run(on.install(), unitState({ config: withScript(denied), secrets: [denied] }));
    expect(r.state.unitStatus).toEqual({ status: 'blocked', message: `script-secret-id: this application may not read secret ${denied.id}; grant it: juju grant-secret ${denied.id} github-runner-image-builder` });
    expect(m.programs.calls).toEqual([]);
    const granted = await charmContext(m).run(on.updateStatus(), { ...r.state, secrets: [{ ...denied, granted: true }] });
    expect(granted.exitCode, granted.stderr).toBe(0);
    expect(granted.state.unitStatus).toEqual({ status: 'active', message: 'Waiting for first image' });
    expect(envFile(m)).toContain("IMAGE_BUILDER_SECRET_token='t'");

    const m2 = machine();
    const missing = 'secret:cvh7kruupa1s46bqvuig';
    const r2 = await charmContext(m2).run(on.install(), unitState({ config: { ...config, 'script-secret-id': missing }, secrets: [] }));
    expect(r2.state.unitStatus.message).toBe(
      `script-secret-id: secret ${missing} does not exist; create one with the values your script needs (juju add-secret image-builder-script api-key=...), grant it (juju grant-secret image-builder-script github-runner-image-builder) and set its URI (juju config github-runner-image-builder script-secret-id=<uri>)`,
    );
    expect(m2.programs.calls).toEqual([]);
  });

  it('both secrets unreadable: both problems, the credentials first', async () => {
    const m = machine();
    const a = secret({ content: { password: 'p' }, granted: false });
    const b = secret({ content: { token: 't' }, granted: false });
    const r = await charmContext(m).run(on.install(), unitState({ config: { ...config, 'openstack-credentials-secret': a.id, 'script-secret-id': b.id }, secrets: [a, b] }));
    expect(r.state.unitStatus.message).toMatch(new RegExp(`^openstack-credentials-secret: .*${a.id}.*; script-secret-id: .*${b.id}`));
  });
});

describe('credentials in a Juju secret (openstack-credentials-secret)', () => {
  const noPassword = cloudsYaml().replace(/ *password:.*\n/, '');
  const withSecret = (s: SecretState) => ({ ...config, 'openstack-clouds-yaml': noPassword, 'openstack-credentials-secret': s.id });
  const cloudsAuth = (m: MemoryMachine) => (parse(readFileSync(m.hostPath(CLOUDS_YAML_PATH), 'utf8')) as { clouds: { testcloud: { auth: Record<string, string> } } }).clouds.testcloud.auth;

  it('writes the secret’s password into the root-only clouds.yaml; the config holds none', async () => {
    const m = machine();
    const s = secret({ content: { password: CANARY } });
    const r = await charmContext(m).run(on.install(), unitState({ config: withSecret(s), secrets: [s] }));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(cloudsAuth(m).password).toBe(CANARY);
    expect(JSON.stringify(r.state.config)).not.toContain(CANARY);
    expect(JSON.stringify([r.logs, r.unitStatusHistory, r.state.stored, m.programs.calls])).not.toContain(CANARY);
    expect(r.state.secrets![0]!.tracked, 'the unit tracks the latest revision').toBe(1);
  });

  it('follows a new revision on secret-changed without a rebuild', async () => {
    const m = machine();
    const s = secret({ content: { password: 'first' } });
    const installed = await charmContext(m).run(on.install(), unitState({ config: withSecret(s), secrets: [s] }));
    const rotated: SecretState = { ...installed.state.secrets![0]!, revisions: [{ password: 'first' }, { password: 'second' }] };
    m.programs.builds.length = 0;
    const r = await charmContext(m).run(on.secretChanged(rotated), { ...installed.state, secrets: [rotated] });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(cloudsAuth(m).password).toBe('second');
    expect(r.state.secrets![0]!.tracked).toBe(2);
    expect(m.programs.builds).toEqual([]);
  });

  it('application-credential secrets work too', async () => {
    const m = machine();
    const appCred = `clouds:\n  testcloud:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: http://127.0.0.1:1/v3\n      application_credential_id: 0123abcd\n    region_name: RegionOne\n`;
    const s = secret({ content: { 'application-credential-secret': 'acs-canary' } });
    const r = await charmContext(m).run(on.install(), unitState({ config: { ...config, 'openstack-clouds-yaml': appCred, 'openstack-credentials-secret': s.id }, secrets: [s] }));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(cloudsAuth(m).application_credential_secret).toBe('acs-canary');
  });

  it('not granted: blocked with the grant command, nothing touched; granting, then update-status, recovers', async () => {
    const { m, s: installedState } = await installed();
    const s = secret({ content: { password: 'p' }, granted: false });
    const before = snapshotTree(m.root);
    const denied = await charmContext(m).run(on.configChanged(), { ...installedState, config: { ...withSecret(s), interval: 12 }, secrets: [s] });
    expect(denied.exitCode).toBe(0);
    expect(denied.state.unitStatus).toEqual({ status: 'blocked', message: `openstack-credentials-secret: this application may not read secret ${s.id}; grant it: juju grant-secret ${s.id} github-runner-image-builder` });
    expect(m.programs.calls).toEqual([]);
    expect(diffTrees(before, snapshotTree(m.root), { compareMtime: true }).changed.map((c) => c.path)).toEqual([]);

    // Still not granted: a steady update-status retries (one secret-get) and stays blocked.
    const still = await charmContext(m).run(on.updateStatus(), denied.state);
    expect(still.state.unitStatus.status).toBe('blocked');

    const granted = await charmContext(m).run(on.updateStatus(), { ...still.state, secrets: [{ ...s, granted: true }] });
    expect(granted.exitCode, granted.stderr).toBe(0);
    expect(granted.state.unitStatus).toEqual({ status: 'active', message: 'Waiting for first image' });
    expect(readFileSync(m.hostPath(CRON_PATH), 'utf8'), 'the pending interval change is applied too').toMatch(/\*\/12 /);
    expect(cloudsAuth(m).password).toBe('p');
    // Recovered: update-status no longer reads anything.
    const steady = await charmContext(m).run(on.updateStatus(), granted.state);
    expect(steady.unitStatusHistory).toEqual([]);
    expect(steady.logs.map((l) => l.message).join('\n')).not.toMatch(/secret/);
  });

  it('a missing secret or one without the keys: blocked naming the option, the secret and the fix', async () => {
    const m = machine();
    const missing = 'secret:cvh7kruupa1s46bqvuig';
    const r = await charmContext(m).run(on.install(), unitState({ config: { ...config, 'openstack-credentials-secret': missing }, secrets: [] }));
    expect(r.state.unitStatus.message).toBe(
      `openstack-credentials-secret: secret ${missing} does not exist; create one (juju add-secret openstack-credentials password=...), grant it (juju grant-secret openstack-credentials github-runner-image-builder) and set its URI (juju config github-runner-image-builder openstack-credentials-secret=<uri>)`,
    );
    const empty = secret({ content: { user: 'x' } });
    const r2 = await charmContext(m).run(on.install(), unitState({ config: withSecret(empty), secrets: [empty] }));
    expect(r2.state.unitStatus.message).toMatch(new RegExp(`^openstack-credentials-secret: secret ${empty.id} has neither "password" nor "application-credential-secret"; add one: juju update-secret ${empty.id} password=\\.\\.\\.`));
    expect(m.programs.calls).toEqual([]);
  });

  it('the secret wins over a password in plain config; a plain password alone gets a warning that says how to move it', async () => {
    const m = machine();
    const s = secret({ content: { password: 'from-secret' } });
    const r = await charmContext(m).run(on.install(), unitState({ config: { ...config, 'openstack-credentials-secret': s.id }, secrets: [s] }));
    expect(cloudsAuth(m).password).toBe('from-secret');
    expect(r.logs.map((l) => l.message).join('\n')).not.toMatch(/plain config/);
    const plain = await charmContext(machine()).run(on.install(), unitState({ config }));
    expect(plain.logs.filter((l) => l.level === 'WARNING').map((l) => l.message).join('\n')).toMatch(/holds the cloud's password in plain config.*juju add-secret openstack-credentials password=\.\.\.; juju grant-secret openstack-credentials github-runner-image-builder; juju config github-runner-image-builder openstack-credentials-secret=<uri>/);
  });
});

describe('several bases and several units', () => {
  const APP = 'github-runner-image-builder';
  const peers = (opts: Partial<Parameters<typeof relation>[1]> = {}) => relation('builder-peers', { id: 9, remoteApp: APP, remoteUnits: [`${APP}/1`, `${APP}/2`], ...opts });
  const img = (id: string, base: string, day: number) => ({ id, name: `${base}-${APP}-x64`, createdAt: `2020-01-0${day}T00:00:00Z`, status: 'active' });
  const bag = (s: State, endpoint: string) => s.relations.find((r) => r.endpoint === endpoint)!;

  it('two bases: each report is attributed to its base; id and tags are the first base’s, images lists both', async () => {
    const { m, s } = await installed({ config: { ...config, 'base-image': 'noble, jammy' }, relations: [imageRelation(), peers()] });
    m.cloud.images.push(img('img-jammy', 'jammy', 2), img('img-noble', 'noble', 1));
    const jammy = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-jammy', IMAGE_BASE: 'jammy' }), s);
    expect(bag(jammy.state, 'image').localUnitData).toMatchObject({ id: 'img-jammy', tags: 'x64,jammy' }); // noble has none yet
    const both = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-noble', IMAGE_BASE: 'noble' }), jammy.state);
    expect(bag(both.state, 'image').localUnitData).toMatchObject({
      id: 'img-noble',
      tags: 'x64,noble',
      images: JSON.stringify([{ id: 'img-noble', tags: 'x64,noble' }, { id: 'img-jammy', tags: 'x64,jammy' }]),
    });
    // The leader shares them, and its name, with the other units.
    expect(JSON.parse(bag(both.state, 'builder-peers').localAppData.images!)).toMatchObject({ noble: { id: 'img-noble' }, jammy: { id: 'img-jammy' } });
    expect(bag(both.state, 'builder-peers').localAppData.leader).toBe(`${APP}/0`);
    const failed = await charmContext(m).run(on.custom('build_failed', { BUILD_EXIT_CODE: '3', IMAGE_BASE: 'jammy' }), both.state);
    expect(failed.state.unitStatus.message).toMatch(/\(jammy: exit code 3\)/);
  });

  it('a non-leader publishes what the leader shares, and says it stands by', async () => {
    const m = machine();
    const shared = { noble: { id: 'img-l', name: `noble-${APP}-x64`, createdAt: '2020-01-01T00:00:00Z' } };
    m.cloud.images.push({ ...shared.noble, status: 'active' }); // peers' images are served once the cloud confirms them
    const start = unitState({ leader: false, config, relations: [imageRelation(), peers({ localAppData: { images: JSON.stringify(shared), leader: `${APP}/1` } })] });
    const installedRun = await charmContext(m).run(on.install(), start);
    const r = await charmContext(m).run(on.relation('changed', bag(installedRun.state, 'builder-peers')), installedRun.state);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(bag(r.state, 'image').localUnitData).toMatchObject({ id: 'img-l', tags: 'x64,noble' });
    expect(r.state.unitStatus).toEqual({ status: 'active', message: `Standing by: ${APP}/1 (the leader) builds; serving image img-l (2020-01-01T00:00:00Z)` });
  });

  it('build-immediate on a non-leader is forwarded to the leader, which builds once, even across a leader change', async () => {
    const m = machine();
    const follower = await charmContext(m).run(on.install(), unitState({ leader: false, config, relations: [peers({ localAppData: { leader: `${APP}/1` } })] }));
    m.programs.builds.length = 0;
    const forwarded = await charmContext(m).run(on.action('build-immediate'), follower.state);
    expect(forwarded.actionResults).toMatchObject({ status: 'forwarded', leader: `${APP}/1` });
    expect(forwarded.actionResults.message).toMatch(/^only the leader builds: forwarded to github-runner-image-builder\/1 \(request 1\)/);
    expect(bag(forwarded.state, 'builder-peers').localUnitData['build-request']).toBe('1');
    expect(m.programs.builds, 'never builds locally').toEqual([]);

    // The leader sees the request in the peer data.
    const leaderM = machine();
    const leader = await charmContext(leaderM).run(on.install(), unitState({ config, relations: [peers({ remoteUnitsData: { [`${APP}/1`]: { 'build-request': '1' }, [`${APP}/2`]: {} } })] }));
    leaderM.programs.builds.length = 0;
    const changed = await charmContext(leaderM).run(on.relation('changed', bag(leader.state, 'builder-peers'), { remoteUnit: `${APP}/1` }), leader.state);
    expect(leaderM.programs.builds).toHaveLength(1);
    expect(JSON.parse(bag(changed.state, 'builder-peers').localAppData['served-requests']!)).toEqual({ [`${APP}/1`]: '1' });
    await charmContext(leaderM).run(on.relation('changed', bag(changed.state, 'builder-peers'), { remoteUnit: `${APP}/2` }), changed.state);
    expect(leaderM.programs.builds, 'served once').toHaveLength(1);
    // A new leader reads the served list from the app data: no second build.
    const newLeaderM = machine();
    const next = await charmContext(newLeaderM).run(on.install(), unitState({ config, relations: [bag(changed.state, 'builder-peers')] }));
    newLeaderM.programs.builds.length = 0;
    await charmContext(newLeaderM).run(on.leaderElected(), next.state);
    expect(newLeaderM.programs.builds).toEqual([]);
  });

  it('an image built by a unit that lost leadership meanwhile reaches the leader, who shares it', async () => {
    const m = machine();
    const deposed = await charmContext(m).run(on.install(), unitState({ leader: false, config, relations: [imageRelation(), peers({ localAppData: { leader: `${APP}/1` } })] }));
    m.cloud.images.push(img('img-late', 'noble', 5));
    const built = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: 'img-late', IMAGE_BASE: 'noble' }), deposed.state);
    expect(JSON.parse(bag(built.state, 'builder-peers').localUnitData['built-images']!)).toMatchObject({ noble: { id: 'img-late' } });
    expect(bag(built.state, 'image').localUnitData.id).toBe('img-late');

    const leaderM = machine();
    const old = { noble: { id: 'img-old', name: `noble-${APP}-x64`, createdAt: '2019-01-01T00:00:00Z' } };
    leaderM.cloud.images.push({ ...old.noble, status: 'active' }, img('img-late', 'noble', 5));
    const leader = await charmContext(leaderM).run(
      on.install(),
      unitState({ config, relations: [imageRelation(), peers({ localAppData: { images: JSON.stringify(old) }, remoteUnitsData: { [`${APP}/1`]: { 'built-images': bag(built.state, 'builder-peers').localUnitData['built-images']! }, [`${APP}/2`]: {} } })] }),
    );
    const merged = await charmContext(leaderM).run(on.relation('changed', bag(leader.state, 'builder-peers'), { remoteUnit: `${APP}/1` }), leader.state);
    expect(JSON.parse(bag(merged.state, 'builder-peers').localAppData.images!).noble.id).toBe('img-late');
    expect(bag(merged.state, 'image').localUnitData.id).toBe('img-late');
  });
});

describe('cos-agent', () => {
  const cosRelation = () => relation('cos-agent', { id: 7, remoteApp: 'grafana-agent', remoteUnits: ['grafana-agent/0'] });
  const sent = (s: State) => JSON.parse(s.relations.find((r) => r.endpoint === 'cos-agent')!.localUnitData.config!) as Record<string, unknown>;

  it('tells the collector the scrape job, the rules and the dashboard; the job follows metrics-port', async () => {
    const { m, s } = await installed({ relations: [imageRelation(), cosRelation()] });
    const joined = await charmContext(m).run(on.relation('joined', cosRelation()), s);
    const cos = sent(joined.state);
    expect(Object.keys(cos)).toEqual(expect.arrayContaining(['metrics_alert_rules', 'log_alert_rules', 'dashboards', 'metrics_scrape_jobs', 'log_slots']));
    expect(cos.metrics_scrape_jobs).toEqual([{ job_name: 'github_runner_image_builder', metrics_path: '/metrics', static_configs: [{ targets: ['127.0.0.1:9110'] }] }]);
    expect((cos.dashboards as string[])[0]).toMatch(/^\/Td6WFoA/); // an xz container, base64

    const moved = await charmContext(m).run(on.configChanged(), { ...joined.state, config: { ...config, 'metrics-port': 9555 } });
    expect((sent(moved.state).metrics_scrape_jobs as { static_configs: { targets: string[] }[] }[])[0]!.static_configs[0]!.targets).toEqual(['127.0.0.1:9555']);
    expect(readFileSync(m.hostPath(EXPORTER_UNIT_PATH), 'utf8')).toContain(' --port 9555 ');
    expect(readFileSync(m.hostPath(EXPORTER_SOCKET_PATH), 'utf8')).toMatch(/^ListenStream=127\.0\.0\.1:9555$/m);
    // A new port: the socket is rebound, and the service (which Requires= it) restarts with it.
    expect(m.programs.called('systemctl').map((c) => c.argv.slice(1).join(' '))).toEqual([
      'daemon-reload',
      'enable github-runner-image-builder-exporter.socket github-runner-image-builder-exporter.service',
      'restart github-runner-image-builder-exporter.socket github-runner-image-builder-exporter.service',
    ]);

    m.programs.calls.length = 0;
    const steady = await charmContext(m).run(on.configChanged(), moved.state);
    expect(steady.state.relations.find((r) => r.endpoint === 'cos-agent')!.localUnitData).toEqual(moved.state.relations.find((r) => r.endpoint === 'cos-agent')!.localUnitData);
    expect(m.programs.calls).toEqual([]);
  });
});
