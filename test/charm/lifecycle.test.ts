// The charm as Juju runs it: the real `dispatch` as a subprocess with stand-in hook tools and
// host programs (apt-get, pipx, the builder...), through a whole lifecycle, asserting on what an
// operator would see: statuses, files on the host, relation data, action results.
// Per-handler behaviour is tested in memory (handlers.test.ts); this suite keeps what needs
// real processes: cron running the build script, the build's report through juju-exec, the lock.
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILDER_SOURCE } from '../../src/charm/builder.js';
import { BUILD_ENV_PATH, BUILD_LOG_PATH, BUILD_SCRIPT_PATH, BUILDER_SSH_DIR, BUILDER_WORK_DIR, CLOUDS_YAML_PATH, CONFIG_DIR, CRON_PATH, PIPX_BIN_DIR, PIPX_HOME, SCRIPT_SECRETS_ENV_PATH } from '../../src/charm/paths.js';
import { FIRST_IMAGE_STATUS, buildsDone, charmUnits } from '../support/charm-units.js';
import { diffTrees, snapshotTree } from '../support/host.js';
import { HOST_BIN_DIR, type SimUnit } from '../support/juju.js';
import { CANARY, cloudsYaml } from '../support/clouds.js';
import { newerSecondThan, openstackSuite, suiteImagesFor } from '../support/openstack.js';
import { guardOpenStackSuite } from '../support/openstack-guard.js';
import { startLoopbackProxy } from '../openstack/loopback-proxy.js';
import { eventually } from '../support/eventually.js';

const CRON = CRON_PATH;
const CLOUDS = CLOUDS_YAML_PATH;
const IMAGE = 'noble-github-runner-image-builder-x64';

const unitOf = charmUnits({ beforeAll, afterAll });

function newUnit(opts: { config?: Record<string, unknown>; env?: Record<string, string>; proxy?: { http?: string; no?: string }; unitName?: string } = {}): SimUnit {
  return unitOf({
    config: { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': cloudsYaml(), 'cloud-name': '', 'revision-history-limit': 5, ...opts.config },
    relations: [{ endpoint: 'image', id: 1, app: 'github-runner', units: ['github-runner/0'] }],
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.proxy ? { proxy: opts.proxy } : {}),
    ...(opts.unitName ? { unitName: opts.unitName } : {}),
  });
}

/** The command of the cron entry, as cron would give it to sh (\% is a literal %). */
function cronCommand(u: SimUnit): string {
  const job = u.readHostFile(CRON)!.split('\n').find((l) => l && !l.startsWith('#'))!;
  return job.replace(/^(\S+\s+){5}root\s+/, '').replace(/\\%/g, '%');
}

/** Runs the cron entry's command with sh, as cron would (with the stand-ins' knobs). */
function runCron(u: SimUnit) {
  return spawnSync('sh', ['-c', cronCommand(u)], {
    encoding: 'utf8',
    env: { PATH: `${HOST_BIN_DIR}:/usr/bin:/bin`, FAKE_JUJU_DIR: u.jujuDir, FAKE_HOST_DIR: u.hostDir, CHARM_HOST_ROOT: u.hostRoot },
  });
}

const imageData = (u: SimUnit) => u.relations()['image:1']!['local-unit'];

describe('charm lifecycle through dispatch', () => {
  it('installs, reconciles, builds now and on schedule, and publishes each image on the relation', async () => {
    const u = newUnit();
    u.setHostKnob('next-image-id', 'img-first');
    const install = await u.dispatch('install');
    expect(install.code, install.stderr).toBe(0);
    // The build the install started runs beside the hook: by the time the status is set it may be
    // preparing the builder or already building (on a fast machine), or not have said yet.
    expect(install.statusHistory.map((s) => [s.status, s.message])).toEqual([
      ['maintenance', 'Setting up the image builder'],
      ['active', expect.stringMatching(FIRST_IMAGE_STATUS)],
    ]);
    const progs = install.hostCalls.map((c) => [c.prog, ...c.argv].join(' '));
    expect(progs).toContain('apt-get install -y --no-install-recommends pipx python3-dev gcc git');
    // The builder is installed by root into root-owned directories, never as a user.
    const pipx = install.hostCalls.find((c) => c.prog === 'pipx')!;
    expect(pipx.argv).toEqual(['install', '--force', BUILDER_SOURCE]);
    expect(pipx.env).toMatchObject({ PIPX_HOME: u.hostPath(PIPX_HOME), PIPX_BIN_DIR: u.hostPath(PIPX_BIN_DIR) });
    expect(install.hostCalls.some((c) => c.prog === 'runuser')).toBe(false);
    // init downloads GBs: the build runs it, never a hook.
    // (The hook's own calls: the build it starts runs the app in its work dir meanwhile.)
    expect(install.hostCalls.filter((c) => c.prog === 'github-runner-image-builder' && c.cwd !== u.hostPath(BUILDER_WORK_DIR))).toEqual([]);
    expect(u.readHostFile(CLOUDS)).toBe(cloudsYaml());
    expect(statSync(u.hostPath(CLOUDS)).mode & 0o777).toBe(0o600);
    expect(statSync(u.hostPath(CONFIG_DIR)).mode & 0o777).toBe(0o700);
    expect(statSync(u.hostPath(BUILD_SCRIPT_PATH)).mode & 0o777).toBe(0o700);
    expect(statSync(u.hostPath(CRON)).mode & 0o777).toBe(0o644);
    expect(u.readHostFile(CRON)).toMatch(/^\d{1,2} \*\/6 \* \* \* root /m);

    // The first build runs in the background and reports back through juju-exec.
    await eventually('the first image on the relation', () => imageData(u).id === 'img-first');
    expect(imageData(u)).toMatchObject({ id: 'img-first', name: IMAGE });
    expect(u.unitStatus().message).toMatch(/^Serving image img-first \(/);
    await buildsDone(u);

    // Unchanged config: nothing on the host moves, no host program runs.
    const before = snapshotTree(u.hostRoot);
    const same = await u.dispatch('config-changed');
    expect(same.code).toBe(0);
    expect(same.hostCalls).toEqual([]);
    expect(diffTrees(before, snapshotTree(u.hostRoot), { compareMtime: true })).toMatchObject({ added: [], removed: [], changed: [] });

    // build-immediate starts the cron job's command now.
    u.setHostKnob('next-image-id', 'img-second');
    const action = await u.dispatch({ action: 'build-immediate' });
    expect(action.code).toBe(0);
    expect(action.actionResults).toMatchObject({ status: 'started' });
    await eventually('the second image', () => imageData(u).id === 'img-second');

    // The cron entry, run by sh as cron would: its build reports back the same way.
    u.setHostKnob('next-image-id', 'img-cron');
    const cron = runCron(u);
    expect(cron.status, cron.stderr).toBe(0);
    await eventually('the cron-built image', () => imageData(u).id === 'img-cron');
    const builds = u.builds();
    expect(builds.map((b) => b.id)).toEqual(['img-first', 'img-second', 'img-cron']);
    expect(builds[2]).toMatchObject({ cloud: 'testcloud', image: IMAGE, arch: 'x64', base: 'noble', keepRevisions: 5, prefix: 'github-runner-image-builder' });
    // init ran once, before the first build; the later builds found it done.
    expect(u.hostCalls().filter((c) => c.prog === 'github-runner-image-builder').map((c) => c.argv[2])).toEqual(['init', 'run', 'run', 'run']);
  });

  it('rewrites cron and starts one build when the schedule changes', async () => {
    const u = newUnit();
    await u.dispatch('install');
    await eventually('first build', () => u.builds().length === 1 && imageData(u).id);
    u.setConfig({ interval: 12 });
    const r = await u.dispatch('config-changed');
    expect(r.code).toBe(0);
    expect(u.readHostFile(CRON)).toMatch(/^\d{1,2} \*\/12 \* \* \* root /m);
    expect(r.hostCalls.map((c) => [c.prog, ...c.argv].join(' '))).toContain('systemctl reload-or-restart cron');
    await eventually('a rebuild', () => u.builds().length === 2);
  });

  it('reports already-running for a second build-immediate while a build runs, and starts nothing', async () => {
    const u = newUnit();
    u.setHostKnob('build-seconds', '3');
    await u.dispatch('install');
    const second = await u.dispatch({ action: 'build-now' });
    expect(second.actionResults).toMatchObject({ status: 'already-running' });
    u.setHostKnob('build-seconds', undefined);
    await eventually('the running build to finish', () => u.builds().length === 1);
    // Every build records its `run` when it starts: only one ever started.
    expect(u.hostCalls().filter((c) => c.prog === 'github-runner-image-builder' && c.argv[2] === 'run')).toHaveLength(1);
  });

  it('passes a proxy value with shell metacharacters to the build unchanged, and only through the root-only environment file', async () => {
    const proxy = "http://user:p'w;$(touch /tmp/pwned)`id`@squid:3128";
    const u = newUnit({ proxy: { http: proxy } });
    await u.dispatch('install');
    await eventually('first build', () => imageData(u).id);
    const run = u.hostCalls().find((c) => c.prog === 'github-runner-image-builder' && c.argv[2] === 'run')!;
    expect(run.env.http_proxy).toBe(proxy);
    // The builder VM gets host:port only: the app's --proxy takes no credentials (the log says so).
    expect(run.argv).toEqual(['--os-cloud', 'testcloud', 'run', IMAGE, '--arch', 'x64', '--base-image', 'noble', '--keep-revisions', '5', '--prefix', 'github-runner-image-builder', '--proxy', 'squid:3128']);
    expect(u.readHostFile(BUILD_LOG_PATH)).toContain("the builder VM's proxy cannot authenticate; it gets squid:3128 without them");
    expect(statSync(u.hostPath(BUILD_ENV_PATH)).mode & 0o777).toBe(0o600);
    expect(u.readHostFile(CRON)).not.toContain('squid');
    for (const part of ["p'w", 'pwned', 'user:']) expect(u.readHostFile(BUILD_SCRIPT_PATH)).not.toContain(part);
  });

  it('stops building on stop: cron entry, scripts and every credential removed', async () => {
    const u = newUnit();
    await u.dispatch('install');
    await eventually('first build', () => imageData(u).id);
    expect((await u.dispatch('stop')).code).toBe(0);
    for (const p of [CRON, SCRIPT_SECRETS_ENV_PATH, BUILDER_SSH_DIR, BUILD_SCRIPT_PATH, CLOUDS, BUILD_ENV_PATH]) expect(u.readHostFile(p), p).toBeUndefined();
    expect(u.unitStatus()).toEqual({ status: 'maintenance', message: 'Stopped: no scheduled builds' });
  });

  it('records a failed build in the status with the time and the log path', async () => {
    const u = newUnit();
    u.failHost('github-runner-image-builder.run', 3, 'boom');
    await u.dispatch('install');
    const status = await eventually('the failure in the status', () => (/Last build failed/.test(u.unitStatus().message) ? u.unitStatus() : undefined));
    expect(status.status).toBe('active');
    expect(status.message).toMatch(/^Last build failed at \d{4}-\d\d-\d\dT[\d:.]+Z \(exit code 3\); see \/var\/log\/github-runner-image-builder\/build.log$/);
  });

  it('never lets the clouds.yaml password out of clouds.yaml', async () => {
    const u = newUnit();
    await u.dispatch('install');
    await eventually('first build', () => imageData(u).id);
    await u.dispatch({ action: 'get-latest' });
    await u.dispatch({ action: 'build-immediate' });
    const emitted = JSON.stringify([u.allCalls(), u.allLogs(), u.statusHistory(), u.hostCalls()]);
    expect(emitted).not.toContain(CANARY);
    expect(u.readHostFile(CRON)).not.toContain(CANARY);
    expect(u.readHostFile(SCRIPT_SECRETS_ENV_PATH)).not.toContain(CANARY);
    expect(u.readHostFile(BUILD_LOG_PATH)).not.toContain(CANARY);
    const files = execFileSync('grep', ['-rl', CANARY, u.hostRoot], { encoding: 'utf8' }).trim().split('\n');
    expect(files).toEqual([u.hostPath(CLOUDS)]);
  });
});

const suite = await openstackSuite();
if (guardOpenStackSuite(suite, 'charm get-latest against real Glance')) {
  describe('get-latest against real Keystone + Glance', () => {
    const suiteImages = suiteImagesFor(suite, { beforeAll, afterAll });

    it('returns the newest active image of the unit’s image name', async () => {
      // An application name of its own, so images other runs left in the cloud do not count.
      const app = `gribo-${Date.now().toString(36)}`;
      const IMAGE = `noble-${app}-x64`;
      const u = newUnit({ config: { 'openstack-clouds-yaml': suite.cloudsYaml, 'cloud-name': suite.cloudName }, unitName: `${app}/0` });
      const none = await u.dispatch({ action: 'get-latest' });
      expect(none.actionFailed).toMatch(new RegExp(`no active image named ${IMAGE} in cloud ${suite.cloudName} yet`));
      await newerSecondThan(await suiteImages().createActive(IMAGE));
      const newest = await suiteImages().createActive(IMAGE);
      await suiteImages().createQueued(IMAGE);
      const r = await u.dispatch({ action: 'get-latest' });
      expect(r.code).toBe(0);
      expect(r.actionResults).toMatchObject({ id: newest.id, name: IMAGE });
      expect(JSON.stringify(u.allCalls())).not.toContain(suite.canaryPassword);
    });

    it('goes through the model proxy (juju-http-proxy), and past it for juju-no-proxy hosts', async () => {
      const app = `griboproxy-${Date.now().toString(36)}`;
      const IMAGE = `noble-${app}-x64`;
      const created = await suiteImages().createActive(IMAGE);
      const proxy = await startLoopbackProxy({ credentials: 'user:proxy-canary' });
      try {
        const config = { 'openstack-clouds-yaml': suite.cloudsYaml, 'cloud-name': suite.cloudName };
        const via = newUnit({ config, unitName: `${app}/0`, proxy: { http: `http://user:proxy-canary@127.0.0.1:${proxy.port}`, no: '' } });
        const r = await via.dispatch({ action: 'get-latest' });
        expect(r.actionResults, r.actionFailed).toMatchObject({ id: created.id, name: IMAGE });
        expect(proxy.seen.map((f) => f.method)).toEqual(['POST', 'GET']);
        expect(JSON.stringify([via.allCalls(), via.allLogs()])).not.toContain('proxy-canary');

        const past = newUnit({ config, unitName: `${app}/1`, proxy: { http: proxy.url, no: '127.0.0.1,localhost' } });
        const direct = await past.dispatch({ action: 'get-latest' });
        expect(direct.actionResults).toMatchObject({ id: created.id });
        expect(proxy.seen, 'no_proxy hosts skip the proxy').toHaveLength(2);
      } finally {
        await proxy.close();
      }
    });
  });
}
