// Faults: host programs that fail, host writes that fail (for real, as root), a build report that
// cannot reach the agent or gets a bad image id, and clouds that refuse, fail, hang or answer
// garbage. Each case checks: the status or action failure says what failed and what to do; the
// exit code is the one the fault table in the suite's report gives (non-zero only where
// Juju's retry of the hook helps); no temp file or half-written file; the previous cron entry
// and clouds.yaml byte-identical unless writing them was the point; no canary anywhere.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, rmdirSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it, type ExpectStatic } from 'vitest';
import { BUILDER_SOURCE } from '../../src/charm/builder.js';
import { BUILDER_BIN, BUILD_SCRIPT_PATH, CONFIG_DIR, INIT_MARKER_PATH, INSTALLED_MARKER_PATH, METRICS_DIR } from '../../src/charm/paths.js';
import { snapshotTree } from '../support/host.js';
import { startFakeCloud, type FakeCloud, type GlanceMode, type KeystoneMode } from '../support/fake-cloud.js';
import {
  BUILD_LOG,
  CANARY,
  CLOUDS,
  CRON,
  IMAGE,
  checkLeaks,
  checkNoTempFiles,
  checkNoUncaught,
  checkOutcome,
  checkUnchanged,
  cloudsYaml,
  eventually,
  goodConfig,
  makeImmutable,
  newUnit,
  onCleanup,
  runCron,
  settledUnit,
  waitIdle,
  type Hostile,
} from './support.js';
import { tally } from './tally.js';

const SETUP_UNCAUGHT = ['BuilderSetupError'];
const APPLY_UNCAUGHT = ['HostFileError', 'ProcessError', 'BuilderSetupError'];

/** The end of every fault case: no temp file, no leak, no unexpected uncaught error. */
function finish(expect: ExpectStatic, h: Hostile, what: string, allowedUncaught: readonly string[] = []): void {
  tally.faults++;
  expect.soft(checkNoTempFiles(h, what), `${what}: temp files`).toEqual([]);
  expect.soft(checkNoUncaught(h, what, allowedUncaught), `${what}: uncaught errors`).toEqual([]);
  expect.soft(checkLeaks(h, what), `${what}: leaks`).toEqual([]);
}

/** The previous cron entry still builds and publishes: run it as cron would. */
async function cronStillWorks(expect: ExpectStatic, h: Hostile, id: string): Promise<void> {
  h.u.setHostKnob('next-image-id', id);
  const run = await runCron(h.u);
  expect(run.code, run.stderr).toBe(0);
  await eventually(`the cron build to publish ${id}`, () => h.imageId() === id);
  await waitIdle(h.u);
  h.u.setHostKnob('next-image-id', undefined);
}

async function fakeCloud(init: { keystone?: KeystoneMode; glance?: GlanceMode } = {}): Promise<FakeCloud> {
  const cloud = await startFakeCloud({ ...init, uploadedName: IMAGE });
  onCleanup(() => cloud.close());
  return cloud;
}

/** Whether this machine lets the suite mount a tmpfs (root in a privileged enough container). */
function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const dir = mkdtempSync(path.join(tmpdir(), 'hostile-mount-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir]);
    return true;
  } catch {
    return false;
  } finally {
    rmdirSync(dir);
  }
}

export function registerFaults(): void {
  it('apt-get fails at install: blocked with apt’s error, exit 1 so Juju retries; the retry installs', async ({ expect }) => {
    const h = await newUnit();
    const u = h.u;
    u.failHost('apt-get.update', 100, 'E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)');
    const before = snapshotTree(u.hostRoot);
    const r = await h.dispatch('install');
    expect.soft(checkOutcome(r, { code: 1, uncaught: SETUP_UNCAUGHT }, 'apt-get fails')).toEqual([]);
    expect.soft(u.unitStatus()).toEqual({
      status: 'blocked',
      message: 'Setup failed, Juju will retry: installing apt packages failed: `apt-get update` exited with code 100: E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)',
    });
    expect.soft(r.hostCalls.map((c) => c.prog)).not.toContain('pipx');
    expect.soft(checkUnchanged(before, snapshotTree(u.hostRoot), 'apt-get fails')).toEqual([]);
    finish(expect, h, 'apt-get fails', SETUP_UNCAUGHT);

    u.clearFailures();
    const retry = await h.dispatch('install');
    expect(retry.code).toBe(0);
    await eventually('the first image after the retry', () => h.imageId());
    expect(u.unitStatus().status).toBe('active');
  });

  for (const [step, prog, stderr, message] of [
    [
      'pipx',
      'pipx',
      'Fatal error from pip prevented installation. Could not fetch URL https://github.com: connection error',
      // The spec has a "#": the command is shown with it quoted.
      new RegExp(`^Setup failed, Juju will retry: installing the builder application with pipx failed: \`flock -n -E 75 /\\S+/var/lib/github-runner-image-builder/build\\.lock pipx install --force "${BUILDER_SOURCE.replace(/[.+]/g, '\\$&')}"\` exited with code 1: Fatal error from pip prevented installation\\. Could not fetch URL https://github\\.com: connection error$`),
    ],
  ] as const) {
    it(`${step} fails at upgrade-charm: blocked, exit 1 so Juju retries; cron and clouds.yaml untouched and still working`, async ({ expect }) => {
      const h = await settledUnit();
      const u = h.u;
      u.failHost(prog, 1, stderr);
      // An upgrade that brings another builder version reinstalls it (the marker says which is installed).
      u.writeHostFile(INSTALLED_MARKER_PATH, 'git+https://github.com/canonical/github-runner-image-builder@0ld\n', 0o600);
      const before = snapshotTree(u.hostRoot);
      const r = await h.dispatch('upgrade-charm');
      expect.soft(checkOutcome(r, { code: 1, uncaught: SETUP_UNCAUGHT }, `${step} fails`)).toEqual([]);
      expect.soft(u.unitStatus().status).toBe('blocked');
      expect.soft(u.unitStatus().message).toMatch(message);
      // upgrade-charm reinstalls the pinned builder first (same content, new mtime): that write is the point.
      expect.soft(checkUnchanged(before, snapshotTree(u.hostRoot), `${step} fails`, [BUILDER_BIN])).toEqual([]);
      finish(expect, h, `${step} fails`, SETUP_UNCAUGHT);

      u.clearFailures();
      await cronStillWorks(expect, h, 'img-cron');
      const retry = await h.dispatch('upgrade-charm');
      expect(retry.code, retry.stderr).toBe(0);
      await waitIdle(u);
      expect(u.unitStatus().status).toBe('active');
    });
  }

  it('systemctl fails when the cron entry changes: a warning only (cron reads /etc/cron.d itself), exit 0, build started', async ({ expect }) => {
    const h = await settledUnit();
    const u = h.u;
    u.failHost('systemctl', 1, 'Failed to reload-or-restart cron.service: Transport endpoint is not connected');
    u.setConfig({ interval: 12 });
    const r = await h.dispatch('config-changed');
    expect.soft(checkOutcome(r, { code: 0 }, 'systemctl fails')).toEqual([]);
    // One juju-log call carries consecutive records of a level, a line each.
    expect.soft(r.logs.filter((l) => l.level === 'WARNING').flatMap((l) => l.message.split('\n'))).toContain(
      'cron was not reloaded (systemctl reload-or-restart cron exited 1: Failed to reload-or-restart cron.service: Transport endpoint is not connected); cron reads /etc/cron.d/build-runner-image by itself within a minute',
    );
    expect.soft(u.readHostFile(CRON)).toMatch(/^\d{1,2} \*\/12 \* \* \* root /m);
    expect.soft(u.unitStatus().status).toBe('active');
    await eventually('the rebuild', () => u.builds().length === 2);
    await waitIdle(u);
    finish(expect, h, 'systemctl fails');
  });

  it('the cron dir refuses writes (immutable, EPERM): blocked naming the file, exit 1, old entry byte-identical and working; the retry applies', async ({ expect }) => {
    const h = await settledUnit();
    const u = h.u;
    const undo = makeImmutable(u.hostPath('/etc/cron.d'));
    const before = snapshotTree(u.hostRoot);
    u.setConfig({ interval: 12 });
    const r = await h.dispatch('config-changed');
    expect.soft(checkOutcome(r, { code: 1, uncaught: APPLY_UNCAUGHT }, 'cron dir immutable')).toEqual([]);
    expect.soft(u.unitStatus()).toEqual({
      status: 'blocked',
      message: expect.stringMatching(/^Could not apply the configuration, Juju will retry: cannot write \/etc\/cron\.d\/build-runner-image \((EPERM: operation not permitted|EACCES: permission denied)\)$/),
    });
    expect.soft(r.hostCalls.filter((c) => c.prog === 'github-runner-image-builder')).toEqual([]);
    expect.soft(checkUnchanged(before, snapshotTree(u.hostRoot), 'cron dir immutable')).toEqual([]);
    finish(expect, h, 'cron dir immutable', APPLY_UNCAUGHT);
    await cronStillWorks(expect, h, 'img-old-cron');

    undo();
    const retry = await h.dispatch('config-changed');
    expect(retry.code, retry.stderr).toBe(0);
    expect(u.readHostFile(CRON)).toMatch(/^\d{1,2} \*\/12 \* \* \* root /m);
    await eventually('the rebuild the new schedule owes', () => u.builds().length === 3);
    await waitIdle(u);
    expect(u.unitStatus().status).toBe('active');
  });

  it('the clouds.yaml dir refuses writes during a password rotation: blocked, exit 1, old clouds.yaml byte-identical; the retry writes it 0600', async ({ expect }) => {
    const h = await settledUnit();
    const u = h.u;
    const rotated = cloudsYaml().replace(CANARY, `${CANARY}-rotated`);
    const undo = makeImmutable(u.hostPath(CONFIG_DIR));
    const before = snapshotTree(u.hostRoot);
    u.setConfig({ 'openstack-clouds-yaml': rotated });
    const r = await h.dispatch('config-changed');
    expect.soft(checkOutcome(r, { code: 1, uncaught: APPLY_UNCAUGHT }, 'clouds.yaml dir immutable')).toEqual([]);
    expect.soft(u.unitStatus().message).toMatch(
      /^Could not apply the configuration, Juju will retry: cannot write \/etc\/github-runner-image-builder\/clouds\.yaml \((EPERM: operation not permitted|EACCES: permission denied)\)$/,
    );
    expect.soft(checkUnchanged(before, snapshotTree(u.hostRoot), 'clouds.yaml dir immutable')).toEqual([]);
    finish(expect, h, 'clouds.yaml dir immutable', APPLY_UNCAUGHT);

    undo();
    const retry = await h.dispatch('config-changed');
    expect(retry.code, retry.stderr).toBe(0);
    expect(u.readHostFile(CLOUDS)).toBe(rotated);
    expect(statSync(u.hostPath(CLOUDS)).mode & 0o777).toBe(0o600);
    expect(u.builds(), 'new credentials alone rebuild nothing').toHaveLength(1);
    expect(u.unitStatus().message).toMatch(/^Serving image img-first /);
    expect(checkLeaks(h, 'after the rotation')).toEqual([]);
  });

  it('a file where a directory must be (ENOTDIR) at install: blocked naming the path, exit 1, nothing half-written; the retry installs', async ({ expect }) => {
    const h = await newUnit();
    const u = h.u;
    u.writeHostFile(CONFIG_DIR, 'not a directory\n');
    const r = await h.dispatch('install');
    expect.soft(checkOutcome(r, { code: 1, uncaught: SETUP_UNCAUGHT }, 'ENOTDIR')).toEqual([]);
    expect.soft(u.unitStatus()).toEqual({
      status: 'blocked',
      message: 'Setup failed, Juju will retry: creating the directories failed: cannot create the directory /etc/github-runner-image-builder (ENOTDIR: a file is in the way)',
    });
    expect.soft([u.readHostFile(CRON), u.readHostFile(BUILD_SCRIPT_PATH)]).toEqual([undefined, undefined]);
    finish(expect, h, 'ENOTDIR', SETUP_UNCAUGHT);

    unlinkSync(u.hostPath(CONFIG_DIR));
    const retry = await h.dispatch('install');
    expect(retry.code, retry.stderr).toBe(0);
    expect(u.readHostFile(CLOUDS)).toBe(cloudsYaml());
    await eventually('the first image after the retry', () => h.imageId());
    await waitIdle(u);
  });

  it.skipIf(!canMountTmpfs())('the disk is full (ENOSPC, a full tmpfs) when the cron entry changes: blocked, exit 1, old entry byte-identical; the retry applies', async ({ expect }) => {
    const h = await settledUnit();
    const u = h.u;
    const dir = u.hostPath('/etc/cron.d');
    const cron = u.hostPath(CRON);
    const saved = readFileSync(cron);
    const st = statSync(cron);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k,mode=755', 'tmpfs', dir]);
    onCleanup(() => {
      execFileSync('umount', ['-l', dir]);
    });
    writeFileSync(cron, saved, { mode: 0o644 });
    utimesSync(cron, st.atime, st.mtime);
    try {
      writeFileSync(path.join(dir, 'filler'), Buffer.alloc(64 * 1024));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    const before = snapshotTree(u.hostRoot);
    u.setConfig({ interval: 3 });
    const r = await h.dispatch('config-changed');
    expect.soft(checkOutcome(r, { code: 1, uncaught: APPLY_UNCAUGHT }, 'disk full')).toEqual([]);
    expect.soft(u.unitStatus().message).toBe('Could not apply the configuration, Juju will retry: cannot write /etc/cron.d/build-runner-image (ENOSPC: no space left on device)');
    expect.soft(checkUnchanged(before, snapshotTree(u.hostRoot), 'disk full')).toEqual([]);
    finish(expect, h, 'disk full', APPLY_UNCAUGHT);

    rmSync(path.join(dir, 'filler'));
    const retry = await h.dispatch('config-changed');
    expect(retry.code, retry.stderr).toBe(0);
    expect(u.readHostFile(CRON)).toMatch(/^\d{1,2} \*\/3 \* \* \* root /m);
    await eventually('the rebuild', () => u.builds().length === 2);
    await waitIdle(u);
  });

  /** The fault cleared, build-immediate builds and serves `id`. */
  async function nextBuildServes(expect: ExpectStatic, h: Hostile, id: string): Promise<void> {
    h.u.clearFailures();
    h.u.setHostKnob('next-image-id', id);
    expect((await h.dispatch({ action: 'build-immediate' })).actionResults).toMatchObject({ status: 'started' });
    await eventually(`image ${id}`, () => h.imageId() === id);
    await waitIdle(h.u);
  }

  it('the builder’s init fails in the build after an upgrade to another builder: the status says so, the previous image stays, the next build runs init again', async ({ expect }) => {
    const h = await settledUnit();
    const u = h.u;
    // A unit of the chroot builder: its marker, and no record of an init of this app.
    u.writeHostFile(INSTALLED_MARKER_PATH, 'git+https://github.com/canonical/github-runner-image-builder@0ld\n', 0o600);
    rmSync(u.hostPath(INIT_MARKER_PATH));
    const upgraded = await h.dispatch('upgrade-charm');
    expect.soft(checkOutcome(upgraded, { code: 0 }, 'upgrade to another builder')).toEqual([]);
    u.failHost('github-runner-image-builder.init', 1, 'Traceback (most recent call last):\ngithub_runner_image_builder.errors.BaseImageDownloadError');
    u.setHostKnob('next-image-id', 'img-not-built');
    const r = await h.dispatch({ action: 'build-immediate' });
    expect.soft(checkOutcome(r, { code: 0 }, 'init fails')).toEqual([]);
    const status = await eventually('the failure in the status', () => (/^Last build failed/.test(u.unitStatus().message) ? u.unitStatus() : undefined));
    await waitIdle(u);
    expect.soft(status.message).toMatch(/^Last build failed at \S+ \(preparing the builder \(init\) failed with exit code 1; the next build tries again\); see \/var\/log\/github-runner-image-builder\/build\.log; serving image img-first \(/);
    expect.soft(u.readHostFile(BUILD_LOG)).toContain('github_runner_image_builder.errors.BaseImageDownloadError');
    expect.soft(h.imageId()).toBe('img-first');
    finish(expect, h, 'init fails');

    await nextBuildServes(expect, h, 'img-after-init');
  });

  it('juju-exec fails when the build reports its image: the build log says why, the unit keeps serving the previous image; the next build reports', async ({ expect }) => {
    const h = await settledUnit();
    const u = h.u;
    const agentDown = 'ERROR cannot connect to the unit agent: dial unix /var/lib/juju/agents/unit-github-runner-image-builder-0/run.socket: connect: connection refused';
    u.failHost('juju-exec', 1, agentDown);
    u.setHostKnob('next-image-id', 'img-unreported');
    const r = await h.dispatch({ action: 'build-immediate' });
    expect.soft(checkOutcome(r, { code: 0 }, 'juju-exec fails')).toEqual([]);
    expect.soft(r.actionResults).toMatchObject({ status: 'started' });
    await eventually('the build to end', () => u.builds().length === 2);
    await waitIdle(u);
    expect.soft(u.builds()[1]).toMatchObject({ id: 'img-unreported' });
    expect.soft(u.readHostFile(BUILD_LOG)).toContain(agentDown);
    expect.soft(h.imageId()).toBe('img-first');
    expect.soft(u.unitStatus().message).toMatch(/^Serving image img-first /);
    finish(expect, h, 'juju-exec fails');

    await nextBuildServes(expect, h, 'img-next');
  });

  for (const [what, id] of [
    ['empty', ''],
    ['shell syntax in the', 'img;touch "$CHARM_HOST_ROOT/pwned"'],
    ['a 65-character', `img-${'a'.repeat(61)}`],
  ] as const) {
    it(`the builder prints ${what} image id: active status says the last build failed and why, the previous image stays`, async ({ expect }) => {
      const h = await settledUnit();
      const u = h.u;
      u.setHostKnob('next-image-id', id);
      const r = await h.dispatch({ action: 'build-immediate' });
      expect.soft(checkOutcome(r, { code: 0 }, `${what} image id`)).toEqual([]);
      const status = await eventually('the failure in the status', () => (/^Last build failed/.test(u.unitStatus().message) ? u.unitStatus() : undefined));
      await waitIdle(u);
      expect.soft(status.status).toBe('active');
      expect.soft(status.message).toMatch(
        /^Last build failed at \d{4}-\d\d-\d\dT[\d:.]+Z \(the builder printed no image id\); see \/var\/log\/github-runner-image-builder\/build\.log; serving image img-first \(/,
      );
      expect.soft(u.statusHistory().some((e) => /the builder printed no image id/.test(e.message)), 'the build_failed hook ran').toBe(true);
      expect.soft(h.imageId()).toBe('img-first');
      expect.soft(existsSync(u.hostPath('/pwned'))).toBe(false);
      finish(expect, h, `${what} image id`);
    });
  }

  it('a build fails at 3 a.m. (cron run, exit 3): the status says when and where to look; the next cron run recovers', async ({ expect }) => {
    const h = await settledUnit();
    const u = h.u;
    u.failHost('github-runner-image-builder.run', 3, 'Error: cloud-init did not finish within 20 minutes');
    const before = snapshotTree(u.hostRoot);
    const run = await runCron(u);
    expect.soft(run.code).toBe(3);
    await eventually('the failure in the status', () => /^Last build failed/.test(u.unitStatus().message));
    await waitIdle(u);
    expect.soft(u.unitStatus().message).toMatch(
      /^Last build failed at \S+ \(exit code 3\); see \/var\/log\/github-runner-image-builder\/build\.log; serving image img-first \(/,
    );
    expect.soft(u.readHostFile(BUILD_LOG)).toContain('Error: cloud-init did not finish within 20 minutes');
    // The log and the build's metrics (the exporter's counters) are what a failed build changes.
    expect.soft(checkUnchanged(before, snapshotTree(u.hostRoot), 'build fails', [BUILD_LOG, `${METRICS_DIR}/build-noble.json`])).toEqual([]);
    finish(expect, h, 'build fails');

    u.clearFailures();
    await cronStillWorks(expect, h, 'img-recovered');
    expect(u.unitStatus().message).toMatch(/^Serving image img-recovered /);
  });

  it('cloud faults during get-latest: Keystone 401/500, Glance 500/not JSON; the action fails saying what and what to do, exit 0', async ({ expect }) => {
    const cloud = await fakeCloud();
    const h = await settledUnit(goodConfig(cloudsYaml(cloud.authUrl)));
    const u = h.u;
    const before = snapshotTree(u.hostRoot);
    const tokens = `POST ${cloud.authUrl}/auth/tokens`;
    const images = /GET http:\/\/127\.0\.0\.1:\d+\/image\/v2\/images\?name=noble-github-runner-image-builder-x64&status=active&owner=\w+&sort=created_at%3Adesc%2Cid%3Adesc&limit=1/.source;
    const cases: [string, KeystoneMode, GlanceMode, RegExp][] = [
      [
        'Keystone 401',
        '401',
        'ok',
        new RegExp(
          `^could not get the latest image: cloud "testcloud": ${tokens.replace(/[.?]/g, '\\$&')} returned HTTP 401 \\(The request you have made requires authentication\\. Request was: .*\\); authentication failed; check the user, password, project and their domains in clouds\\.yaml$`,
        ),
      ],
      ['Keystone 500', '500', 'ok', new RegExp(`^could not get the latest image: cloud "testcloud": ${tokens.replace(/[.?]/g, '\\$&')} returned HTTP 500 \\(.*\\); the cloud failed to answer: run the action again later, or ask its operators$`)],
      ['Glance 500', 'ok', '500', new RegExp(`^could not get the latest image: cloud "testcloud": ${images} returned HTTP 500 \\(.*\\); the cloud failed to answer: run the action again later, or ask its operators$`)],
      [
        'Glance answers malformed JSON',
        'ok',
        'malformed',
        new RegExp(`^could not get the latest image: cloud "testcloud": ${images} returned HTTP 200 with a body that is not JSON \\(\\d+ characters\\); check auth_url, region_name and interface in openstack-clouds-yaml$`),
      ],
    ];
    for (const [what, keystone, glance, message] of cases) {
      cloud.keystone = keystone;
      cloud.glance = glance;
      const r = await h.dispatch({ action: 'get-latest' });
      expect.soft(checkOutcome(r, { code: 0 }, what)).toEqual([]);
      expect.soft(r.actionFailed, what).toMatch(message);
      expect.soft(r.actionFailed, `${what}: the token is not shown`).not.toMatch(/gAAAAfake-token/);
      finish(expect, h, what);
    }
    expect.soft(cloud.requests.some((q) => q.body.includes(CANARY)), 'the fake Keystone saw the password').toBe(true);
    expect.soft(checkUnchanged(before, snapshotTree(u.hostRoot), 'get-latest faults')).toEqual([]);
    expect.soft(u.unitStatus().message, 'get-latest failures leave the status alone').toMatch(/^Serving image img-first /);

    cloud.keystone = 'ok';
    cloud.glance = 'ok';
    cloud.images.push({ id: 'img-in-glance', name: IMAGE, status: 'active', created_at: '2030-01-01T00:00:00Z' });
    const ok = await h.dispatch({ action: 'get-latest' });
    expect(ok.actionResults).toMatchObject({ id: 'img-in-glance', name: IMAGE, 'created-at': '2030-01-01T00:00:00Z' });
  });

  it('Keystone or Glance hangs during get-latest: the action fails after the request timeout, saying so, exit 0', async ({ expect }) => {
    await Promise.all(
      (['Keystone', 'Glance'] as const).map(async (service) => {
        const cloud = await fakeCloud(service === 'Keystone' ? { keystone: 'hang' } : { glance: 'hang' });
        const h = await newUnit(goodConfig(cloudsYaml(cloud.authUrl)));
        // The service never answers: the action ends (exit 0, the message below) only through the request timeout.
        const r = await h.dispatch({ action: 'get-latest' });
        expect.soft(checkOutcome(r, { code: 0 }, `${service} hangs`)).toEqual([]);
        expect.soft(r.actionFailed, service).toMatch(
          new RegExp(
            `^could not get the latest image: cloud "testcloud": ${service === 'Keystone' ? 'POST \\S+/v3/auth/tokens' : 'GET \\S+/image/v2/images\\?\\S+'}: no answer within 10000 ms; check that the cloud is up and reachable from this machine \\(and the model proxy settings\\), then run the action again$`,
          ),
        );
        finish(expect, h, `${service} hangs`);
      }),
    );
  });

  it('the cloud is unreachable (a closed port, as a stopped Keystone): the action fails saying it cannot connect, exit 0', async ({ expect }) => {
    const h = await newUnit(goodConfig(cloudsYaml('http://127.0.0.1:1/v3')));
    const r = await h.dispatch({ action: 'get-latest' });
    expect.soft(checkOutcome(r, { code: 0 }, 'closed port')).toEqual([]);
    expect.soft(r.actionFailed).toBe(
      'could not get the latest image: cloud "testcloud": POST http://127.0.0.1:1/v3/auth/tokens: cannot connect (ECONNREFUSED); check that the cloud is up and reachable from this machine (and the model proxy settings), then run the action again',
    );
    finish(expect, h, 'closed port');
  });

  it('Glance fails when a build reports back: the new image is published by id anyway, with a warning', async ({ expect }) => {
    const cloud = await fakeCloud();
    const h = await settledUnit(goodConfig(cloudsYaml(cloud.authUrl)));
    const u = h.u;
    cloud.glance = '500';
    u.setHostKnob('next-image-id', 'img-2');
    const r = await h.dispatch({ action: 'build-immediate' });
    expect.soft(checkOutcome(r, { code: 0 }, 'Glance down at build_success')).toEqual([]);
    await eventually('img-2 on the relation', () => h.imageId() === 'img-2');
    await waitIdle(u);
    expect.soft(u.unitStatus().message).toMatch(/^Serving image img-2 /);
    expect.soft(u.allLogs().find((l) => l.level === 'WARNING' && l.message.startsWith('image img-2 built'))?.message).toMatch(
      /^image img-2 built, but its details could not be read from the cloud \(cloud "testcloud": GET \S+ returned HTTP 500 .*\); publishing the id$/,
    );
    finish(expect, h, 'Glance down at build_success');
  });

  it('a relation joins while Keystone fails and no image is known yet: a warning, exit 0, the relation gets the next image', async ({ expect }) => {
    const cloud = await fakeCloud({ keystone: '500' });
    const h = await newUnit(goodConfig(cloudsYaml(cloud.authUrl)));
    const r = await h.dispatch('image-relation-joined');
    expect.soft(checkOutcome(r, { code: 0 }, 'relation joined, cloud down')).toEqual([]);
    expect.soft(r.logs.map((l) => l.message)).toContainEqual(
      expect.stringMatching(/^github-runner joined, but the cloud could not be asked for the latest image \(cloud "testcloud": POST \S+ returned HTTP 500 .*\); it gets the next one built$/),
    );
    expect.soft(h.u.relations()['image:1']!['local-unit']).toEqual({});
    finish(expect, h, 'relation joined, cloud down');
  });
}
