// The maintained builder app (issue 19), driven as Juju runs the charm: the real `dispatch`, the
// build script run for real (flock, timeout, setsid, the private mount namespace), and the app's
// stand-in that speaks its CLI (test/fakes/builder-app-help). What an operator would see: which
// app commands run and when, their exact arguments, where the key and the script secret end up.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILDER_SOURCE } from '../../src/charm/builder.js';
import { CHROOT_BUILDER_SOURCE } from '../../src/charm/builder-app.js';
import { BUILD_LOG_PATH, BUILD_PHASE_PATH, BUILD_RUNNING_PATH, BUILDER_BIN, BUILDER_HOME, BUILDER_SSH_DIR, BUILDER_WORK_DIR, INIT_MARKER_PATH, INSTALLED_MARKER_PATH, LEGACY_CALLBACK_SCRIPT_PATH, SCRIPT_SECRETS_ENV_PATH } from '../../src/charm/paths.js';
import { buildsDone, charmUnits } from '../support/charm-units.js';
import { cloudsYaml } from '../support/clouds.js';
import { eventually } from '../support/eventually.js';
import { diffTrees, snapshotTree } from '../support/host.js';
import type { HostCall, SimUnit } from '../support/juju.js';

const APP = 'github-runner-image-builder';
const unitOf = charmUnits({ beforeAll, afterAll });

function newUnit(config: Record<string, unknown> = {}, proxy?: { http?: string; https?: string }): SimUnit {
  return unitOf({
    config: { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': cloudsYaml(), 'cloud-name': '', 'revision-history-limit': 5, ...config },
    relations: [{ endpoint: 'image', id: 1, app: 'github-runner', units: ['github-runner/0'] }],
    ...(proxy ? { proxy } : {}),
  });
}

/** The builder app's calls: its argv after the program. */
const appCalls = (calls: readonly HostCall[]) => calls.filter((c) => c.prog === APP).map((c) => c.argv);
const imageId = (u: SimUnit) => u.relations()['image:1']?.['local-unit'].id;
const init = (arch: string) => ['--os-cloud', 'testcloud', 'init', '--arch', arch, '--prefix', APP];
const run = (base: string, arch: string, extra: string[] = []) => ['--os-cloud', 'testcloud', 'run', `${base}-${APP}-${arch}`, '--arch', arch, '--base-image', base, '--keep-revisions', '5', '--prefix', APP, ...extra];

// Each test runs several builds of real processes on a shared 2-core machine.
describe('the builder app through dispatch', { timeout: 240_000 }, () => {
  it('runs init in the first build, not in a hook; run per base in order; a second build skips init; a new architecture runs it again', async () => {
    const u = newUnit({ 'base-image': 'jammy, noble' });
    const realHome = snapshotTree('/home');
    u.setHostKnob('next-image-id', 'img-1');
    const install = await u.dispatch('install');
    expect(install.code, install.stderr).toBe(0);
    // The hook itself runs no app command (the in-memory handlers test shows it without a build
    // beside it); the build it starts does, in the app's work dir.
    expect(appCalls(install.hostCalls.filter((c) => c.cwd !== u.hostPath(BUILDER_WORK_DIR)))).toEqual([]);
    await eventually('the first image', () => imageId(u) === 'img-1');
    await buildsDone(u);
    expect(appCalls(u.hostCalls())).toEqual([init('x64'), run('jammy', 'x64'), run('noble', 'x64')]);
    // init ran in the private work dir; its downloads are gone (they are in the cloud now).
    expect(u.builds().map((b) => b.cwd)).toEqual([u.hostPath(BUILDER_WORK_DIR), u.hostPath(BUILDER_WORK_DIR)]);
    expect(execFileSync('ls', ['-A', u.hostPath(BUILDER_WORK_DIR)], { encoding: 'utf8' })).toBe('');
    // What init ran with is recorded (no secret in it).
    const [digest, description] = readFileSync(u.hostPath(INIT_MARKER_PATH), 'utf8').split('\n');
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(description!)).toEqual({ source: BUILDER_SOURCE, arch: 'x64', cloud: 'testcloud', authUrl: expect.stringMatching(/^http/), project: expect.any(String), user: expect.any(String), prefix: APP });
    // The key: where the app believes /home/ubuntu/.ssh is, the unit's root-only dir; the real /home untouched.
    expect(u.builderKeys()).toEqual([{ by: 'init', path: '/home/ubuntu/.ssh/builder_key', uid: 1000, gid: 1000, mode: '0400' }]);
    const key = statSync(path.join(u.hostPath(BUILDER_SSH_DIR), 'builder_key'));
    expect([key.uid, key.mode & 0o777]).toEqual([1000, 0o400]);
    const dir = statSync(u.hostPath(BUILDER_SSH_DIR));
    expect([dir.uid, dir.mode & 0o777]).toEqual([0, 0o700]);
    expect(diffTrees(realHome, snapshotTree('/home'), { compareMtime: true })).toMatchObject({ added: [], removed: [], changed: [] });

    // config-changed with nothing new: no app call; a second build: run only, the key kept.
    const same = await u.dispatch('config-changed');
    expect(appCalls(same.hostCalls)).toEqual([]);
    const before = u.hostCalls().length;
    u.setHostKnob('next-image-id', 'img-2');
    expect((await u.dispatch({ action: 'build-immediate' })).actionResults).toMatchObject({ status: 'started' });
    await eventually('the second image', () => imageId(u) === 'img-2');
    await buildsDone(u);
    expect(appCalls(u.hostCalls().slice(before))).toEqual([run('jammy', 'x64'), run('noble', 'x64')]);
    expect(u.builderKeys()).toHaveLength(1);

    // Another architecture: config-changed runs no app command; the build it starts runs init again.
    u.setConfig({ architecture: 'ARM64' });
    const mark = u.hostCalls().length;
    const changed = await u.dispatch('config-changed');
    expect(changed.code, changed.stderr).toBe(0);
    expect(appCalls(changed.hostCalls.filter((c) => c.cwd !== u.hostPath(BUILDER_WORK_DIR)))).toEqual([]);
    await eventually('the arm64 builds', () => u.builds().length === 6);
    await buildsDone(u);
    expect(appCalls(u.hostCalls().slice(mark))).toEqual([init('arm64'), run('jammy', 'arm64'), run('noble', 'arm64')]);
    expect(u.relations()['image:1']!['local-unit'].tags).toBe('arm64,jammy');
    expect(diffTrees(realHome, snapshotTree('/home'), { compareMtime: true })).toMatchObject({ added: [], removed: [], changed: [] });
  });

  it('passes every option to the app exactly; the VM proxy without credentials', async () => {
    const config = {
      architecture: 'armhf',
      'base-image': 'noble, 26.04',
      'build-flavor': "m1.large 'gpu'",
      'build-network': 'net-1;$(id)',
      'runner-version': '2.317.0',
      'script-url': 'https://scripts.example/setup.sh?x=1&y=$(id)',
      'revision-history-limit': 7,
    };
    const u = newUnit(config, { https: 'http://user:pw@squid.internal:3128' });
    expect((await u.dispatch('install')).code).toBe(0);
    await eventually('both builds', () => u.builds().length === 2);
    await buildsDone(u);
    const extra = ['--flavor', "m1.large 'gpu'", '--network', 'net-1;$(id)', '--runner-version', '2.317.0', '--script-url', 'https://scripts.example/setup.sh?x=1&y=$(id)', '--proxy', 'squid.internal:3128'];
    const runs = (base: string) => run(base, 'arm', extra).map((a) => (a === '5' ? '7' : a));
    expect(appCalls(u.hostCalls())).toEqual([init('arm'), runs('noble'), runs('resolute')]);
    expect(u.readHostFile(BUILD_LOG_PATH)).toContain("the builder VM's proxy cannot authenticate; it gets squid.internal:3128 without them");
    // The credentials stay in the proxy variables of the root-only build.env (the app's own requests use them).
    expect(JSON.stringify([u.hostCalls().map((c) => c.argv), u.allLogs(), u.statusHistory(), u.readHostFile(BUILD_LOG_PATH)])).not.toContain('user:pw');
  });

  it('blocks on a bad option naming it, and changes nothing on the host', async () => {
    const u = newUnit();
    expect((await u.dispatch('install')).code).toBe(0);
    await buildsDone(u);
    const before = snapshotTree(u.hostRoot);
    u.setConfig({ 'runner-version': 'latest', 'script-url': 'http://scripts.example/s.sh' });
    const r = await u.dispatch('config-changed');
    expect(r.code).toBe(0);
    expect(u.unitStatus().status).toBe('blocked');
    expect(u.unitStatus().message).toMatch(/^runner-version "latest" is not a version; .*; script-url "http:\/\/scripts.example\/s.sh" uses plain http to another machine/);
    expect(appCalls(r.hostCalls)).toEqual([]);
    expect(diffTrees(before, snapshotTree(u.hostRoot), { compareMtime: true })).toMatchObject({ added: [], removed: [], changed: [] });
  });

  it('a script secret reaches only the app environment and root-only files; blocked until granted, like the credentials secret', async () => {
    const canary = 'script-canary-Zq9x-do-not-leak';
    const u = newUnit();
    const id = u.addUserSecret({ 'api-key': canary, token: 'second-value' });
    u.setConfig({ 'script-secret-id': id });
    const blocked = await u.dispatch('install');
    expect(blocked.code).toBe(0);
    expect(u.unitStatus()).toEqual({ status: 'blocked', message: `script-secret-id: this application may not read secret ${id}; grant it: juju grant-secret ${id} ${APP}` });
    expect(blocked.hostCalls).toEqual([]);
    // Juju fires no hook on a grant: update-status retries, and the deferred install completes.
    u.grantSecret(id);
    u.setHostKnob('build-seconds', '2');
    expect((await u.dispatch('update-status')).code).toBe(0);
    const session = await eventually('the build to run', () => u.readHostFile(BUILD_RUNNING_PATH)?.split(' ')[0]);
    const app = await eventually('the app running', () => appProcess(session));
    // The app has the variables; every process that holds the value is root's.
    expect(readFileSync(`/proc/${app}/environ`, 'latin1')).toContain(`IMAGE_BUILDER_SECRET_api_key=${canary}`);
    for (const pid of sessionPids(session)) {
      const environ = readEnviron(pid);
      if (environ?.includes(canary)) expect(statSync(`/proc/${pid}`).uid, `process ${pid}`).toBe(0);
    }
    u.setHostKnob('build-seconds', undefined);
    await eventually('the image', () => imageId(u));
    await buildsDone(u);
    expect(u.builds()[0]!.secrets).toEqual(['IMAGE_BUILDER_SECRET_api_key', 'IMAGE_BUILDER_SECRET_token']);
    expect(readFileSync(path.join(u.hostDir, 'app-secrets.env'), 'utf8')).toBe(`IMAGE_BUILDER_SECRET_api_key=${canary}\nIMAGE_BUILDER_SECRET_token=second-value\n`);

    // Where the value is: the model's secret store, the root-only env file, what the app got. Nowhere else.
    await u.dispatch({ action: 'get-latest' });
    const found = execFileSync('grep', ['-rlF', canary, u.dir], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(found).toEqual([path.join(u.hostDir, 'app-secrets.env'), u.hostPath(SCRIPT_SECRETS_ENV_PATH), path.join(u.jujuDir, 'state/secrets.json')].sort());
    for (const f of [u.hostPath(SCRIPT_SECRETS_ENV_PATH), path.join(u.hostDir, 'app-secrets.env')]) expect([statSync(f).uid, statSync(f).mode & 0o777], f).toEqual([0, 0o600]);
    expect(JSON.stringify([u.allCalls(), u.allLogs(), u.statusHistory(), u.hostCalls(), u.relations(), u.charmState()])).not.toContain(canary);
  });

  it('a build whose app exits 0 without the success output is a failed build', async () => {
    const u = newUnit();
    u.failHost(`${APP}.run`, 0, 'Traceback? no: the app printed nothing on stdout\n');
    expect((await u.dispatch('install')).code).toBe(0);
    const status = await eventually('the failure in the status', () => (/^Last build failed/.test(u.unitStatus().message) ? u.unitStatus() : undefined));
    expect(status.message).toMatch(/^Last build failed at \S+ \(the builder printed no image id\); see \/var\/log\/github-runner-image-builder\/build\.log$/);
    expect(imageId(u)).toBeUndefined();
    expect(u.readHostFile(BUILD_LOG_PATH)).toContain('the builder exited 0 but printed no image id');
    const metrics = JSON.parse(u.readHostFile('/var/lib/github-runner-image-builder-metrics/build-noble.json')!) as Record<string, number>;
    expect(metrics).toMatchObject({ started: 1, succeeded: 0, failed: 1 });
  });

  it('a failed init is a failed build, reported and retried by the next build; the status says the builder is being prepared meanwhile', async () => {
    const u = newUnit();
    u.failHost(`${APP}.init`, 'hang');
    expect((await u.dispatch('install')).code).toBe(0);
    await eventually('init to run', () => u.readHostFile(BUILD_PHASE_PATH));
    expect((await u.dispatch('update-status')).code).toBe(0);
    expect(u.unitStatus()).toEqual({ status: 'active', message: 'Waiting for first image (preparing the builder: downloading base images)' });
    // The stop hook ends the hung build; a failing init is next.
    expect((await u.dispatch('stop')).code).toBe(0);
    await buildsDone(u);
    const u2 = newUnit();
    u2.failHost(`${APP}.init`, 1, 'Traceback (most recent call last):\nrequests.exceptions.ConnectionError: cloud-images.ubuntu.com\n');
    expect((await u2.dispatch('install')).code).toBe(0);
    const status = await eventually('the failure in the status', () => (/^Last build failed/.test(u2.unitStatus().message) ? u2.unitStatus() : undefined));
    expect(status.message).toMatch(/\(preparing the builder \(init\) failed with exit code 1; the next build tries again\)/);
    await buildsDone(u2);
    expect(appCalls(u2.hostCalls()).map((a) => a[2])).toEqual(['init']);
    expect(u2.readHostFile(INIT_MARKER_PATH)).toBeUndefined();
    u2.clearFailures();
    u2.setHostKnob('next-image-id', 'img-after-init');
    expect((await u2.dispatch({ action: 'build-immediate' })).actionResults).toMatchObject({ status: 'started' });
    await eventually('the image', () => imageId(u2) === 'img-after-init');
    expect(appCalls(u2.hostCalls()).map((a) => a[2])).toEqual(['init', 'init', 'run']);
  });

  it('upgrade-charm from the chroot builder: its virtualenv and callback go, the new app is installed, the next build runs init', async () => {
    const u = newUnit();
    expect((await u.dispatch('install')).code).toBe(0);
    await eventually('the first image', () => imageId(u));
    await buildsDone(u);
    // What a unit of the chroot builder has: its marker, its callback, its scratch files in HOME,
    // and no record of an init of this app.
    writeFileSync(u.hostPath(INSTALLED_MARKER_PATH), `${CHROOT_BUILDER_SOURCE}\n`);
    rmSync(u.hostPath(INIT_MARKER_PATH));
    writeFileSync(u.hostPath(LEGACY_CALLBACK_SCRIPT_PATH), '#!/bin/sh\n', { mode: 0o700 });
    mkdirSync(u.hostPath(`${BUILDER_HOME}/scratch`), { recursive: true });
    writeFileSync(u.hostPath(`${BUILDER_HOME}/scratch/jammy.img`), 'GBs');
    const mark = u.hostCalls().length;
    const r = await u.dispatch('upgrade-charm');
    expect(r.code, r.stderr).toBe(0);
    const pipx = u.hostCalls().slice(mark).filter((c) => c.prog === 'pipx').map((c) => c.argv);
    expect(pipx).toEqual([['uninstall', APP], ['install', '--force', BUILDER_SOURCE]]);
    expect(u.readHostFile(INSTALLED_MARKER_PATH)).toBe(`${BUILDER_SOURCE}\n`);
    expect(existsSync(u.hostPath(LEGACY_CALLBACK_SCRIPT_PATH))).toBe(false);
    expect(existsSync(u.hostPath(`${BUILDER_HOME}/scratch`))).toBe(false);
    expect(existsSync(u.hostPath(BUILDER_BIN))).toBe(true);
    expect(r.logs.map((l) => l.message)).toContainEqual(expect.stringContaining(`removed the previous builder (${CHROOT_BUILDER_SOURCE})`));
    const before = u.hostCalls().length;
    expect((await u.dispatch({ action: 'build-immediate' })).actionResults).toMatchObject({ status: 'started' });
    await eventually('the build', () => u.builds().length === 2);
    await buildsDone(u);
    expect(appCalls(u.hostCalls().slice(before)).map((a) => a[2])).toEqual(['init', 'run']);
  });
});

/** Processes of a session, by pgrep. */
function sessionPids(session: string): string[] {
  return spawnSync('pgrep', ['-s', session], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
}
function readEnviron(pid: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return undefined;
  }
}
/** The app stand-in's pid in the build's session, once it runs `run`. */
function appProcess(session: string): string | undefined {
  return sessionPids(session).find((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return cmd.some((a) => a.endsWith('github-runner-image-builder.stub')) && cmd.includes('run');
    } catch {
      return false;
    }
  });
}
