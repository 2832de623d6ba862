// The hardening audit's findings, each through the real `dispatch` on a simulated unit whose
// `ubuntu` user is a second uid that attacks what root does (README "Security model").
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { scheduleMinute } from '../../src/charm/render.js';
import {
  APP_DIR,
  BUILD_ENV_PATH,
  BUILD_LOCK_PATH,
  BUILD_LOG_PATH,
  BUILD_RUNNING_PATH,
  BUILD_SCRIPT_PATH,
  BUILDER_BIN,
  BUILDER_SSH_DIR,
  BUILDER_WORK_DIR,
  SCRIPT_SECRETS_ENV_PATH,
  CLOUDS_YAML_PATH,
  CONFIG_DIR,
  CRON_PATH,
  INSTALLED_MARKER_PATH,
  LEGACY_BUILD_LOG_PATH,
  LEGACY_BUILDER_BIN,
  LEGACY_CLOUDS_YAML_PATH,
  LOG_DIR,
  LOGROTATE_PATH,
  SKIPPED_RUNS_PATH,
  STATE_DIR,
} from '../../src/charm/paths.js';
import { CANARY, cloudsYaml } from '../support/clouds.js';
import { diffTrees, snapshotTree } from '../support/host.js';
import type { SimUnit } from '../support/juju.js';
import { startFakeCloud } from '../support/fake-cloud.js';
import { USER_UID, asUser, attackSnippet, buildsDone, canSwitchUid, cleanupAll, eventually, goodConfig, imageId, newUnit, settledUnit } from './support.js';

afterAll(cleanupAll);

/** Runs the build script as cron does (scheduled) or as build-immediate does (--now), as root. */
function runBuild(u: SimUnit, ...args: string[]) {
  return spawnSync(u.hostPath(BUILD_SCRIPT_PATH), args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, timeout: 150_000 });
}

/** Every path root runs or reads for a build, and each directory above it up to the host root. */
function rootChain(u: SimUnit): string[] {
  const files = [CRON_PATH, BUILD_SCRIPT_PATH, BUILD_ENV_PATH, CLOUDS_YAML_PATH, SCRIPT_SECRETS_ENV_PATH, BUILDER_SSH_DIR, BUILDER_WORK_DIR, BUILDER_BIN, BUILD_LOCK_PATH, BUILD_LOG_PATH, LOGROTATE_PATH, INSTALLED_MARKER_PATH];
  const all = new Set<string>();
  for (const f of files) for (let p = f; p !== '/'; p = path.dirname(p)) all.add(p);
  return [...all].map((p) => u.hostPath(p));
}

/** The paths of the chain that the second uid could write to or replace. */
function userWritable(paths: readonly string[]): string[] {
  return paths.filter((p) => {
    const st = lstatSync(p);
    if (st.uid === USER_UID) return true;
    if (st.mode & 0o002) return true;
    const dir = lstatSync(path.dirname(p));
    return dir.uid === USER_UID || (dir.mode & 0o002) !== 0;
  });
}

describe.skipIf(!canSwitchUid)('hardening: a local user cannot become root (needs root to switch to a second uid)', { concurrent: true }, () => {
  it('finding 1: root runs nothing the ubuntu user can change; a rewritten launcher in its home is never run', async () => {
    const u = await settledUnit();
    expect(userWritable(rootChain(u))).toEqual([]);
    for (const p of [CONFIG_DIR, STATE_DIR]) expect(statSync(u.hostPath(p)).mode & 0o777, p).toBe(0o700);
    expect(statSync(u.hostPath(APP_DIR)).uid).toBe(0);
    const pwned = path.join(u.dir, 'pwned');
    const payload = `#!/bin/sh\nid > ${pwned}\n`;
    // The attack that used to work: rewrite the launcher pipx put in the home, then wait for root.
    const targets = [BUILDER_BIN, BUILD_SCRIPT_PATH, SCRIPT_SECRETS_ENV_PATH, BUILD_ENV_PATH, CRON_PATH].map((p) => u.hostPath(p));
    expect(asUser<string[]>(attackSnippet(targets, payload))).toEqual([]);
    mkdirSync(path.dirname(u.hostPath(LEGACY_BUILDER_BIN)), { recursive: true });
    execFileSync('chown', ['-R', `${USER_UID}:${USER_UID}`, u.hostPath('/home/ubuntu')]);
    expect(asUser<string[]>(attackSnippet([u.hostPath(LEGACY_BUILDER_BIN)], payload)), 'the user owns its home').toHaveLength(1);
    u.setHostKnob('next-image-id', 'img-after-attack');
    const r = await u.dispatch({ action: 'build-immediate' });
    expect(r.actionResults).toMatchObject({ status: 'started' });
    await eventually('the build', () => imageId(u) === 'img-after-attack');
    await buildsDone(u);
    expect(existsSync(pwned), 'root ran the user’s code').toBe(false);
  });

  it('the builder app’s SSH key, its work dir and its environment are out of reach of the ubuntu user and of any other uid', async () => {
    const u = await newUnit();
    u.setHostKnob('build-seconds', '8');
    u.setConfig({ 'script-secret-id': u.addUserSecret({ token: 'script-canary' }, { grant: true }) });
    expect((await u.dispatch('install')).code).toBe(0);
    const session = await eventually('the build to run', () => u.readHostFile(BUILD_RUNNING_PATH)?.split(' ')[0]);
    const app = await eventually('the app running `run`', () =>
      spawnSync('pgrep', ['-s', session], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).find((pid) => {
        const argv = (() => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); } catch { return []; } })();
        return argv.some((a) => a.endsWith('github-runner-image-builder.stub')) && argv.includes('run');
      }),
    );
    const key = path.join(u.hostPath(BUILDER_SSH_DIR), 'builder_key');
    // As the app leaves it: the ubuntu user's (here the second uid), 0400, but behind root's 0700 directory.
    expect([statSync(key).uid, statSync(key).mode & 0o777]).toEqual([USER_UID, 0o400]);
    expect(readFileSync(`/proc/${app}/environ`, 'latin1')).toContain('IMAGE_BUILDER_SECRET_token=script-canary');
    const targets = { key, work: u.hostPath(BUILDER_WORK_DIR), ssh: u.hostPath(BUILDER_SSH_DIR), environ: `/proc/${app}/environ` };
    const program = `const fs = require('node:fs'); const t = ${JSON.stringify(targets)}; const out = {};
      for (const [k, p] of Object.entries(t)) { try { out[k] = fs.statSync(p).isDirectory() ? fs.readdirSync(p) : fs.readFileSync(p, 'latin1'); } catch (e) { out[k] = e.code; } }
      process.stdout.write(JSON.stringify(out));`;
    // The second uid is the ubuntu user here; 1000 is another account (the stand-in's default ubuntu).
    for (const uid of [USER_UID, 1000]) {
      const res = spawnSync(process.execPath, ['-e', program], { uid, gid: uid, encoding: 'utf8', cwd: '/', env: { PATH: '/usr/bin:/bin' } });
      expect(JSON.parse(res.stdout), `uid ${uid}`).toEqual({ key: 'EACCES', work: 'EACCES', ssh: 'EACCES', environ: 'EACCES' });
    }
    u.setHostKnob('build-seconds', undefined);
    await buildsDone(u);
  });

  it('finding 2: nothing root writes is in the user’s home; a symlinked old log and a FIFO at the old clouds.yaml path change nothing and block nothing', async () => {
    const u = await settledUnit();
    const home = u.hostPath('/home/ubuntu');
    const owners = execFileSync('find', [home, '!', '-uid', String(USER_UID)], { encoding: 'utf8' }).trim();
    expect(owners, 'files in the home not owned by the user').toBe('');
    // What the user plants where root used to write.
    const target = path.join(u.dir, 'root-only-target');
    asUser(`
      fs.symlinkSync(${JSON.stringify(target)}, ${JSON.stringify(u.hostPath(LEGACY_BUILD_LOG_PATH))});
      fs.mkdirSync(${JSON.stringify(path.dirname(u.hostPath(LEGACY_CLOUDS_YAML_PATH)))}, { recursive: true });
      return null;`);
    execFileSync('chown', ['-R', `${USER_UID}:${USER_UID}`, home]);
    spawnSync('runuser', ['-u', 'nobody', '--', 'mkfifo', u.hostPath(LEGACY_CLOUDS_YAML_PATH)]);
    expect(lstatSync(u.hostPath(LEGACY_CLOUDS_YAML_PATH)).isFIFO()).toBe(true);
    // The log directory is root's: the user cannot plant anything there.
    expect(asUser<string[]>(attackSnippet([u.hostPath(BUILD_LOG_PATH), u.hostPath(`${LOG_DIR}/planted.log`)], 'x'))).toEqual([]);

    u.setConfig({ 'openstack-clouds-yaml': cloudsYaml().replace(CANARY, `${CANARY}-rotated`) });
    const changed = await u.dispatch('config-changed');
    expect(changed.code, 'config-changed finished (a FIFO did not block it)').toBe(0);
    const upgraded = await u.dispatch('upgrade-charm');
    expect(upgraded.code, upgraded.stderr).toBe(0);
    u.setHostKnob('next-image-id', 'img-2');
    await u.dispatch({ action: 'build-immediate' });
    await eventually('the build', () => imageId(u) === 'img-2');
    await buildsDone(u);
    expect(existsSync(target), 'root wrote through the symlink').toBe(false);
    expect(readFileSync(u.hostPath(BUILD_LOG_PATH), 'utf8')).toContain('Image build success:\nimg-2');
    expect(statSync(u.hostPath(BUILD_LOG_PATH)).mode & 0o777).toBe(0o640);
    expect(execFileSync('find', [home, '!', '-uid', String(USER_UID)], { encoding: 'utf8' }).trim()).toBe('');
  });

  it('finding 3: the build lock is root-only; a hung build is stopped by the timeout and reported', async () => {
    const u = await settledUnit();
    expect(statSync(u.hostPath(BUILD_LOCK_PATH)).mode & 0o777).toBe(0o600);
    expect(asUser<string>(`try { fs.openSync(${JSON.stringify(u.hostPath(BUILD_LOCK_PATH))}, 'r'); return 'opened'; } catch (e) { return e.code; }`)).toBe('EACCES');
    // A build that hangs: with the timeout at 2 s (the operator's edit of the root-only build.env), it is killed.
    writeFileSync(u.hostPath(BUILD_ENV_PATH), readFileSync(u.hostPath(BUILD_ENV_PATH), 'utf8').replace(/BUILD_TIMEOUT='\d+'/, "BUILD_TIMEOUT='2'"));
    u.failHost('github-runner-image-builder.run', 'hang');
    // The builder hangs until killed: exit 124 and the log line come only from the build timeout.
    const run = runBuild(u, '--now');
    expect(run.status).toBe(124);
    expect(readFileSync(u.hostPath(BUILD_LOG_PATH), 'utf8')).toMatch(/build of \S+ timed out after 2 s and was stopped/);
    await eventually('the failure in the status', () => /timed out after 3 h, exit code 124/.test(u.unitStatus().message));
    expect(spawnSync('pgrep', ['-f', `${u.hostDir}.*sleep`]).status, 'nothing of the build is left').not.toBe(0);
  });

  it('finding 3: a lock held past the timeout, and scheduled runs that find it taken, show in the status', async () => {
    const u = await settledUnit();
    // Something holds the lock (as root: nobody else can) and has held it for 4 hours.
    // In a process group of its own, so that ending it ends its sleep too (flock -o leaves it running).
    const holder = spawn('flock', ['-o', u.hostPath(BUILD_LOCK_PATH), 'sleep', '3600'], { stdio: 'ignore', detached: true });
    onTestFinished(() => {
      try {
        process.kill(-holder.pid!, 'SIGKILL');
      } catch {
        // already ended below
      }
    });
    await eventually('the lock to be held', () => spawnSync('flock', ['-n', u.hostPath(BUILD_LOCK_PATH), 'true']).status === 1);
    writeFileSync(u.hostPath(BUILD_RUNNING_PATH), `${holder.pid} ${Math.floor(Date.now() / 1000) - 4 * 3600} scheduled\n`);
    writeFileSync(u.hostPath(SKIPPED_RUNS_PATH), '2\n');
    const skipped = runBuild(u);
    expect(skipped.status).toBe(75);
    expect(readFileSync(u.hostPath(SKIPPED_RUNS_PATH), 'utf8').trim()).toBe('3');
    expect(u.builds()).toHaveLength(1);
    const r = await u.dispatch('update-status');
    expect(r.code).toBe(0);
    expect(u.unitStatus().status).toBe('active');
    expect(u.unitStatus().message).toMatch(/^Serving image img-first \(.*\); a build has held the build lock since \S+, past the 3 h build timeout: check its processes \(ps -s \d+\) and end them \(kill -- -\d+\); the last 3 scheduled builds were skipped because the build lock was taken/);
    process.kill(-holder.pid!, 'SIGTERM');
    // A build that gets the lock clears the count; the status follows on the next update-status.
    await eventually('the lock to be free', () => spawnSync('flock', ['-n', u.hostPath(BUILD_LOCK_PATH), 'true']).status === 0);
    u.setHostKnob('next-image-id', 'img-2');
    expect(runBuild(u).status).toBe(0);
    await eventually('the build', () => imageId(u) === 'img-2');
    await buildsDone(u);
    await u.dispatch('update-status');
    expect(u.unitStatus().message).toMatch(/^Serving image img-2 \([^)]*\)$/);
  });

  it('finding 4: proxy credentials never reach the cron file, a command line or a world-readable file; a newline in a proxy is refused', async () => {
    const secret = 'proxy-Pa55-canary';
    const proxy = { http: `http://user:${secret}@squid.internal:3128`, https: `http://user:${secret}@squid.internal:3128`, no: '127.0.0.1,localhost' };
    const u = await newUnit({ proxy });
    u.setHostKnob('build-seconds', '2');
    expect((await u.dispatch('install')).code).toBe(0);
    const build = await eventually('the build to run', () => u.readHostFile(BUILD_RUNNING_PATH)?.split(' ')[0]);
    const argv = spawnSync('ps', ['-s', build!, '-o', 'args='], { encoding: 'utf8' }).stdout;
    expect(argv).toContain('github-runner-image-builder');
    expect(argv).not.toContain(secret);
    await eventually('the build', () => imageId(u));
    await buildsDone(u);
    const run = u.hostCalls().find((c) => c.prog === 'github-runner-image-builder' && c.argv[2] === 'run')!;
    expect(run.env.https_proxy, 'the build still gets the proxy').toBe(proxy.https);
    const holders = execFileSync('grep', ['-rl', secret, u.hostRoot], { encoding: 'utf8' }).trim().split('\n');
    expect(holders).toEqual([u.hostPath(BUILD_ENV_PATH)]);
    expect(statSync(u.hostPath(BUILD_ENV_PATH)).mode & 0o777).toBe(0o600);
    expect(JSON.stringify([u.allLogs(), u.statusHistory()])).not.toContain(secret);

    // A newline would add lines to what the build reads: refused like bad config, naming the setting.
    const fresh = await newUnit({ proxy: { http: 'http://squid:3128\n* * * * * root id' } });
    const before = snapshotTree(fresh.hostRoot);
    const r = await fresh.dispatch('install');
    expect(r.code).toBe(0);
    expect(fresh.unitStatus()).toEqual({ status: 'blocked', message: "the model's juju-http-proxy contains a control character (newline, tab...); set it without one, e.g. juju model-config juju-http-proxy=http://proxy.example:3128" });
    expect(r.hostCalls).toEqual([]);
    expect(diffTrees(before, snapshotTree(fresh.hostRoot), { compareMtime: true })).toMatchObject({ added: [], removed: [], changed: [] });
  });

  it('finding 5: stop ends a running build and removes every credential and script; the log and the virtualenv stay', async () => {
    const u = await settledUnit({ proxy: { http: 'http://user:pw@squid:3128' } });
    u.setHostKnob('build-seconds', '60');
    await u.dispatch({ action: 'build-immediate' });
    const session = await eventually('the build to run', () => u.readHostFile(BUILD_RUNNING_PATH)?.split(' ')[0]);
    expect(spawnSync('pgrep', ['-s', session!]).status).toBe(0);
    const r = await u.dispatch('stop');
    expect(r.code).toBe(0);
    expect(spawnSync('pgrep', ['-s', session!]).status, 'processes of the build are left').not.toBe(0);
    for (const p of [CRON_PATH, BUILD_SCRIPT_PATH, SCRIPT_SECRETS_ENV_PATH, BUILDER_SSH_DIR, CLOUDS_YAML_PATH, BUILD_ENV_PATH, CONFIG_DIR]) expect(existsSync(u.hostPath(p)), p).toBe(false);
    for (const p of [BUILD_LOG_PATH, BUILDER_BIN, LOGROTATE_PATH]) expect(existsSync(u.hostPath(p)), p).toBe(true);
    const holders = spawnSync('grep', ['-rl', '-e', CANARY, '-e', 'user:pw', u.hostRoot], { encoding: 'utf8' }).stdout;
    expect(holders.split('\n').filter(Boolean), 'files still holding a credential').toEqual([]);
    expect(r.logs.map((l) => l.message)).toContainEqual(expect.stringMatching(new RegExp(`^stop: scheduled builds stopped; removed .*; ended the running build \\(session ${session}, started `)));
    expect((await u.dispatch('remove')).code).toBe(0);
  });
});

describe('hardening: the unit converges by itself', { concurrent: true }, () => {
  it('finding 6: a corrupt unit state file is moved aside; hooks and actions work and the unit does not claim to be unset', async () => {
    const u = await settledUnit();
    const stateFile = path.join(u.charmDir, '.unit-state.json');
    writeFileSync(stateFile, '{"version": 1, "deferred": 7', { mode: 0o600 });
    const r = await u.dispatch('config-changed');
    expect(r.code, r.stderr).toBe(0);
    expect(r.logs.some((l) => l.level === 'ERROR' && l.message.includes('moved it aside'))).toBe(true);
    expect(readdirSync(u.charmDir).filter((f) => f.startsWith('.unit-state.json.corrupt-'))).toHaveLength(1);
    const action = await u.dispatch({ action: 'build-immediate' });
    expect(action.code).toBe(0);
    expect(action.actionFailed).toBeUndefined();
    expect(action.actionResults).toMatchObject({ status: expect.stringMatching(/^(started|already-running)$/) });
    await buildsDone(u);
    for (const hook of ['update-status', 'stop', 'remove']) expect((await u.dispatch(hook)).code, hook).toBe(0);
  });

  it('finding 7: a reported image the cloud does not have (404) is not published; the previous one stays', async () => {
    const cloud = await startFakeCloud({ uploadedName: 'noble-github-runner-image-builder-x64' });
    try {
      const u = await settledUnit({ config: goodConfig(cloudsYaml(cloud.authUrl)) });
      cloud.uploadedName = undefined; // the cloud now answers 404 for ids it does not list
      const r = await u.dispatch('hooks/build_success', { env: { OPENSTACK_IMAGE_ID: 'img-ghost' } });
      expect(r.code).toBe(0);
      expect(imageId(u)).toBe('img-first');
      expect(u.unitStatus().message).toMatch(/^Last build failed at \S+ \(the builder reported image img-ghost, but cloud testcloud has no such image\); see \/var\/log\/github-runner-image-builder\/build\.log; serving image img-first /);
      cloud.images.push({ id: 'img-other', name: 'someone-elses-image', status: 'active', created_at: '2030-01-01T00:00:00Z' });
      await u.dispatch('hooks/build_success', { env: { OPENSTACK_IMAGE_ID: 'img-other' } });
      expect(imageId(u)).toBe('img-first');
      expect(u.unitStatus().message).toMatch(/has it as "someone-elses-image" in status active, not an active noble-github-runner-image-builder-x64/);
    } finally {
      await cloud.close();
    }
  });

  it('finding 7: plain http to a remote Keystone and verify: false are warned of in the log and the status', async () => {
    const insecure = cloudsYaml('http://keystone.example:5000/v3').replace('    region_name: RegionOne\n', '    region_name: RegionOne\n    verify: false\n');
    const u = await newUnit({ config: goodConfig(insecure) });
    const r = await u.dispatch('install');
    expect(r.code).toBe(0);
    // One juju-log call carries consecutive records of a level, a line each.
    const warnings = r.logs.filter((l) => l.level === 'WARNING').flatMap((l) => l.message.split('\n'));
    expect(warnings).toContainEqual(expect.stringMatching(/^TLS verification is off for cloud "testcloud" \(verify: false\)/));
    expect(warnings).toContainEqual(expect.stringMatching(/^cloud "testcloud" uses plain http \(auth_url http:\/\/keystone\.example:5000\/v3\)/));
    await eventually('the warnings in the status', () => /; warning: cloud "testcloud" uses plain http .*; warning: TLS verification is off /.test(u.unitStatus().message));
    expect(u.unitStatus().status).toBe('active');
    await buildsDone(u);
  });

  it('finding 7: upgrade-charm never replaces the builder under a running build, and never waits for it (round two, item 9): update-status does it once the build released the lock', async () => {
    const u = await settledUnit();
    const [release, released] = [path.join(u.dir, 'release'), path.join(u.dir, 'released')];
    // A build holds the lock until the test releases it; the upgrade brings a new builder version.
    const holder = spawn('flock', [u.hostPath(BUILD_LOCK_PATH), 'sh', '-c', `while [ ! -e '${release}' ]; do sleep 0.05; done; touch '${released}'`], { stdio: 'ignore' });
    await eventually('the lock to be held', () => spawnSync('flock', ['-n', u.hostPath(BUILD_LOCK_PATH), 'true']).status === 1);
    writeFileSync(u.hostPath(INSTALLED_MARKER_PATH), 'git+https://github.com/canonical/github-runner-image-builder@0ld\n');
    const pipxRuns = () => u.hostCalls().filter((c) => c.prog === 'pipx').length;
    const before = pipxRuns();
    const upgrade = await u.dispatch('upgrade-charm');
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(pipxRuns(), 'pipx does not run while the build holds the lock').toBe(before);
    expect(existsSync(released), 'the hook returned while the build still held the lock').toBe(false);
    writeFileSync(release, '');
    await eventually('the build to release the lock', () => existsSync(released));
    const r = await u.dispatch('update-status');
    expect(r.code, r.stderr).toBe(0);
    expect(r.hostCalls.some((c) => c.prog === 'pipx' && c.argv[0] === 'install')).toBe(true);
    expect(statSync(u.hostPath(BUILDER_BIN)).mtimeMs, 'the builder was replaced after the build released the lock').toBeGreaterThanOrEqual(statSync(released).mtimeMs);
    holder.kill();
  });

  it('finding 7: every unit of every model does not fire at minute 0: the minute is a stable hash of model and application', async () => {
    const minutes: number[] = [];
    for (const uuid of ['0b6a3a49-0000-4000-8000-000000000001', '0b6a3a49-0000-4000-8000-000000000002']) {
      const u = await settledUnit({ env: { JUJU_MODEL_UUID: uuid } });
      const minute = Number(u.readHostFile(CRON_PATH)!.split('\n').find((l) => /^\d/.test(l))!.split(' ')[0]);
      expect(minute).toBe(scheduleMinute(uuid, u.appName));
      minutes.push(minute);
    }
    expect(new Set(minutes).size).toBe(2);
  });

  it('migration: upgrade-charm from the old layout removes the old clouds.yaml (as the ubuntu user) and the old virtualenv, keeps the old log', async () => {
    const u = await settledUnit();
    // What a unit of the previous release left in the home.
    u.writeHostFile(LEGACY_CLOUDS_YAML_PATH, cloudsYaml(), 0o600);
    u.writeHostFile(LEGACY_BUILDER_BIN, '#!/bin/sh\n', 0o755);
    u.writeHostFile(LEGACY_BUILD_LOG_PATH, 'old build log\n', 0o644);
    const r = await u.dispatch('upgrade-charm');
    expect(r.code, r.stderr).toBe(0);
    expect(u.readHostFile(LEGACY_CLOUDS_YAML_PATH)).toBeUndefined();
    expect(u.readHostFile(LEGACY_BUILDER_BIN)).toBeUndefined();
    expect(u.readHostFile(LEGACY_BUILD_LOG_PATH)).toBe('old build log\n');
    const asUbuntu = r.hostCalls.filter((c) => c.prog === 'runuser');
    expect(asUbuntu.map((c) => [c.user, c.argv.slice(3)])).toEqual([
      ['ubuntu', ['rm', '-f', '--', u.hostPath(LEGACY_CLOUDS_YAML_PATH)]],
      ['ubuntu', ['pipx', 'uninstall', 'github-runner-image-builder']],
    ]);
    expect(u.readHostFile(CLOUDS_YAML_PATH)).toBe(cloudsYaml());
  });
});
