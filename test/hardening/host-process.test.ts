// The host ring of the hardening review (round two, items 8-10), through the real `dispatch`:
// the old layout's cleanup runs as ubuntu without the proxy's credentials, and once; no hook
// waits for the build lock (an upgrade during a build is owed, not a deadlock); stop ends the
// build that holds the lock even when it has no record.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_LOCK_PATH, BUILD_LOG_PATH, BUILD_RUNNING_PATH, BUILD_SCRIPT_PATH, CRON_PATH, INSTALLED_MARKER_PATH, LEGACY_BUILDER_BIN } from '../../src/charm/paths.js';
import { HOST_BIN_DIR } from '../support/juju.js';
import { charmUnits } from '../support/charm-units.js';
import { cloudsYaml } from '../support/clouds.js';
import { eventually } from '../support/eventually.js';
import type { SimUnit } from '../support/juju.js';

const unitOf = charmUnits({ beforeAll, afterAll });
const PROXY = 'http://user:pr0xy-pa55@127.0.0.1:3128';

function newUnit(opts: { proxy?: boolean } = {}): SimUnit {
  return unitOf({
    config: { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': cloudsYaml(), 'cloud-name': '', 'revision-history-limit': 5 },
    relations: [{ endpoint: 'image', id: 1, app: 'github-runner', units: ['github-runner/0'] }],
    ...(opts.proxy ? { proxy: { http: PROXY, https: PROXY } } : {}),
  });
}

/** Processes of a session (pgrep -s), none when it has ended. */
const sessionAlive = (session: number) => spawnSync('pgrep', ['-s', String(session)]).status === 0;
/** A session whose processes hold the unit's build lock, from /proc (what fuser would say). */
function lockHolderSession(u: SimUnit): number | undefined {
  const out = spawnSync('sh', ['-c', `for p in /proc/[0-9]*; do ls -l $p/fd 2>/dev/null | grep -qF -- ${JSON.stringify(u.hostPath(BUILD_LOCK_PATH))} && awk '{print $6}' $p/stat; done`], { encoding: 'utf8' }).stdout;
  const s = Number(out.trim().split('\n')[0]);
  return Number.isInteger(s) && s > 1 ? s : undefined;
}

async function installedWithLongBuild(u: SimUnit): Promise<number> {
  u.setHostKnob('build-seconds', '600');
  const install = await u.dispatch('install');
  expect(install.code, install.stderr).toBe(0);
  return eventually('the build to hold the lock', () => lockHolderSession(u));
}

describe('8. the old layout’s cleanup', () => {
  it('runs as ubuntu with no proxy in its environment, and never again after it succeeded', async () => {
    const u = newUnit({ proxy: true });
    u.setHostKnob('passwd', `root:x:0:0:root:${u.hostRoot}/root:/bin/bash\nubuntu:x:1000:1000:Ubuntu:${u.hostPath('/home/ubuntu')}:/bin/bash\n`);
    expect((await u.dispatch('install')).code).toBe(0);
    await eventually('the first build to end', () => !u.readHostFile(BUILD_RUNNING_PATH));
    u.writeHostFile(LEGACY_BUILDER_BIN, '#!/bin/sh\nenv > /tmp/stolen\n', 0o755);
    const first = await u.dispatch('upgrade-charm');
    expect(first.code, first.stderr).toBe(0);
    const asUbuntu = first.hostCalls.filter((c) => c.prog === 'runuser');
    expect(asUbuntu.map((c) => c.argv.slice(3))).toEqual([['pipx', 'uninstall', 'github-runner-image-builder']]);
    expect(JSON.stringify(asUbuntu), 'no proxy credentials reach what runs as ubuntu').not.toMatch(/pr0xy-pa55|_proxy|_PROXY/);
    u.writeHostFile(LEGACY_BUILDER_BIN, '#!/bin/sh\nenv > /tmp/stolen\n', 0o755);
    const again = await u.dispatch('upgrade-charm');
    expect(again.code, again.stderr).toBe(0);
    expect(again.hostCalls.filter((c) => c.prog === 'runuser')).toEqual([]);
  });
});

describe('9. no hook waits for the build lock', () => {
  it('upgrade-charm with a new builder pin during a build returns with the setup owed; update-status sets it up once the build has ended', async () => {
    const u = newUnit();
    const session = await installedWithLongBuild(u);
    u.writeHostFile(INSTALLED_MARKER_PATH, 'git+https://example/old-pin\n', 0o600);
    const upgrade = await u.dispatch('upgrade-charm');
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(upgrade.hostCalls.filter((c) => c.prog === 'pipx'), 'nothing reinstalled under the running build').toEqual([]);
    expect(sessionAlive(session), 'the hook returned while the build still runs: it did not wait').toBe(true);
    expect(u.unitStatus().message).toMatch(/the builder is set up \(upgraded\) once the running build has ended/);
    execFileSync('pkill', ['-KILL', '-s', String(session)]);
    await eventually('the build to end', () => !sessionAlive(session));
    const status = await u.dispatch('update-status');
    expect(status.code, status.stderr).toBe(0);
    expect(status.hostCalls.filter((c) => c.prog === 'pipx').map((c) => c.argv[0]), 'the previous builder goes, the pinned one comes').toEqual(['uninstall', 'install']);
    expect(u.unitStatus().message).not.toMatch(/once the running build has ended/);
  });
});

describe('10. stop finds the build by the lock it holds', () => {
  it('ends a build whose build-running record is gone', async () => {
    const u = newUnit();
    const session = await installedWithLongBuild(u);
    u.writeHostFile(BUILD_RUNNING_PATH, '', 0o600); // as if the record could not be written (inodes exhausted)
    const stop = await u.dispatch('stop');
    expect(stop.code, stop.stderr).toBe(0);
    await eventually('the build’s session to end', () => !sessionAlive(session));
  });
});

describe('10. a build that cannot go on does not', () => {
  it('a build that cannot record itself does not run, and the status says why', async () => {
    const u = newUnit();
    expect((await u.dispatch('install')).code).toBe(0);
    await eventually('the first build to end', () => !u.readHostFile(BUILD_RUNNING_PATH));
    const before = u.builds().length;
    mkdirSync(`${u.hostPath(BUILD_RUNNING_PATH)}.tmp`); // nothing can be written there, as on a full disk
    const action = await u.dispatch({ action: 'build-immediate' });
    expect(action.code, action.stderr).toBe(0);
    await eventually('the failure to be reported', () => /could not record itself and did not run/.test(u.unitStatus().message));
    expect(u.builds().length, 'no build ran').toBe(before);
  });

  it('a scheduled run that waited on the leader check while stop ran does not build', async () => {
    const u = newUnit();
    expect((await u.dispatch('install')).code).toBe(0);
    await eventually('the first build to end', () => !u.readHostFile(BUILD_RUNNING_PATH));
    const before = u.builds().length;
    const job = u.readHostFile(CRON_PATH)!.split('\n').find((l) => l && !l.startsWith('#'))!.replace(/^(\S+\s+){5}root\s+/, '');
    // A hook (stop, here) holds the machine lock: the scheduled run's is-leader waits for it.
    const hook = spawn('flock', [path.join(u.jujuDir, 'machine-lock'), 'sh', '-c', 'echo locked; read _ || :'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve) => hook.stdout!.once('data', resolve));
    const cron = spawn('/bin/sh', ['-c', job], { env: { PATH: `${HOST_BIN_DIR}:/usr/bin:/bin`, FAKE_JUJU_DIR: u.jujuDir, FAKE_HOST_DIR: u.hostDir, CHARM_HOST_ROOT: u.hostRoot }, stdio: 'ignore' });
    const cronDone = new Promise((resolve) => cron.once('exit', resolve));
    await eventually('the scheduled run to ask is-leader', () => u.hostCalls().some((c) => c.prog === 'juju-exec' && c.argv.some((a) => a.includes('is-leader'))));
    // What stop does to the schedule, meanwhile; then the hook ends and is-leader answers.
    execFileSync('rm', ['-f', u.hostPath(CRON_PATH), u.hostPath(BUILD_SCRIPT_PATH)]);
    hook.stdin!.end();
    await cronDone;
    expect(u.builds().length, 'no build ran').toBe(before);
    expect(u.readHostFile(BUILD_LOG_PATH)).toMatch(/build not started: the unit was stopped/);
  });
});
