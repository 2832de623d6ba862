// OpenStack credentials in a Juju user secret, as Juju runs the charm: the real `dispatch` with
// the stand-in hook tools (the simulator's secret rules: grants, revisions, what the unit
// tracks), and get-latest against the real Keystone + Glance with the password only in the secret.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BUILD_RUNNING_PATH, CLOUDS_YAML_PATH, CRON_PATH } from '../../src/charm/paths.js';
import { buildsDone, charmUnits } from '../support/charm-units.js';
import { CANARY, cloudsYaml } from '../support/clouds.js';
import { eventually } from '../support/eventually.js';
import { readIfPresent } from '../support/files.js';
import { diffTrees, snapshotTree } from '../support/host.js';
import { type SimUnit } from '../support/juju.js';
import { openstackSuite, suiteImagesFor } from '../support/openstack.js';
import { guardOpenStackSuite } from '../support/openstack-guard.js';

const APP = 'github-runner-image-builder';
const withoutPassword = (text: string) => text.replace(/ *password:.*\n/, '');

const unitOf = charmUnits({ beforeAll, afterAll });

function newUnit(config: Record<string, unknown>, unitName = `${APP}/0`): SimUnit {
  return unitOf({ unitName, config: { 'base-image': 'noble', interval: 6, 'cloud-name': '', 'revision-history-limit': 5, ...config } });
}

const cloudsAuth = (u: SimUnit) => (parse(u.readHostFile(CLOUDS_YAML_PATH)!) as { clouds: Record<string, { auth: Record<string, string> }> }).clouds.testcloud!.auth;

describe('credentials in a Juju secret, through the real dispatch', () => {
  it('deploys with the secret, follows a rotation without a rebuild, blocks on revoke with the grant command, recovers on update-status after the grant', async () => {
    const u = newUnit({ 'openstack-clouds-yaml': withoutPassword(cloudsYaml()) });
    const id = u.addUserSecret({ password: CANARY }, { grant: true });
    u.setConfig({ 'openstack-credentials-secret': id });
    // The build waits at the gate until its processes have been looked at (an event, not a time).
    u.setHostKnob('build-gate', '1');

    const install = await u.dispatch('install');
    expect(install.code, install.stderr).toBe(0);
    // The long-lived build's processes get no password in their environment.
    const session = await eventually('the build to run', () => u.readHostFile(BUILD_RUNNING_PATH)?.split(' ')[0]);
    const pids = spawnSync('pgrep', ['-s', session], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    // The gate's own `sleep 0.05` come and go: a process that ended since pgrep has no environment left to leak.
    const environs = pids.flatMap((pid) => {
      const environ = readIfPresent(`/proc/${pid}/environ`);
      return environ === undefined ? [] : [[pid, environ] as const];
    });
    expect(environs.length, 'the build session has processes').toBeGreaterThan(0);
    for (const [pid, environ] of environs) expect(environ, `environment of ${pid}`).not.toContain(CANARY);
    u.setHostKnob('build-gate', undefined);
    expect(cloudsAuth(u).password).toBe(CANARY);
    expect(statSync(u.hostPath(CLOUDS_YAML_PATH)).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(u.config()), 'the config store holds no password').not.toContain(CANARY);
    expect(u.secretTracking(id)).toMatchObject({ revision: 1 });
    await eventually('the first build', () => u.builds().length === 1);
    await buildsDone(u);

    // Rotation: a new revision and secret-changed.
    const rotated = `${CANARY}-rotated`;
    expect(u.updateSecret(id, { password: rotated })).toBe(2);
    const changed = await u.dispatch('secret-changed', { secret: { id } });
    expect(changed.code, changed.stderr).toBe(0);
    expect(cloudsAuth(u).password).toBe(rotated);
    expect(u.secretTracking(id)).toMatchObject({ revision: 2 });
    expect(changed.hostCalls.filter((c) => c.prog === 'github-runner-image-builder')).toEqual([]);
    expect(u.readHostFile(BUILD_RUNNING_PATH), 'no build started').toBeUndefined();

    // Revoked: blocked naming the grant command; the host is not touched, not even a pending change.
    u.revokeSecret(id);
    u.setConfig({ interval: 12 });
    const before = snapshotTree(u.hostRoot);
    const denied = await u.dispatch('config-changed');
    expect(denied.code).toBe(0);
    expect(u.unitStatus()).toEqual({ status: 'blocked', message: `openstack-credentials-secret: this application may not read secret ${id}; grant it: juju grant-secret ${id} ${APP}` });
    expect(denied.hostCalls).toEqual([]);
    expect(diffTrees(before, snapshotTree(u.hostRoot), { compareMtime: true })).toMatchObject({ added: [], removed: [], changed: [] });

    // Juju fires no hook on a grant: the next update-status recovers, and applies the pending change.
    u.grantSecret(id);
    const recovered = await u.dispatch('update-status');
    expect(recovered.code, recovered.stderr).toBe(0);
    expect(u.unitStatus().status).toBe('active');
    expect(u.readHostFile(CRON_PATH)).toMatch(/\*\/12 /);
    await buildsDone(u);
    const steady = await u.dispatch('update-status');
    expect(steady.calls.map((c) => c.tool), 'a steady update-status reads no secret').not.toContain('secret-get');

    // The canary: only in clouds.yaml, nowhere in logs, statuses, argv, the unit state or other files.
    const emitted = JSON.stringify([u.allCalls().map((c) => [c.tool, c.argv]), u.allLogs(), u.statusHistory(), u.hostCalls()]);
    expect(emitted).not.toContain(CANARY);
    const holders = execFileSync('grep', ['-rl', CANARY, u.hostRoot, u.charmDir], { encoding: 'utf8' }).trim().split('\n');
    expect(holders).toEqual([u.hostPath(CLOUDS_YAML_PATH)]);
    expect(readdirSync(u.charmDir).filter((f) => f.startsWith('.unit-state')).map((f) => readFileSync(`${u.charmDir}/${f}`, 'utf8')).join()).not.toContain('rotated');
  });

  it('application-credential secrets work too', async () => {
    const appCred = `clouds:\n  testcloud:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: http://127.0.0.1:1/v3\n      application_credential_id: 0123abcd\n    region_name: RegionOne\n`;
    const u = newUnit({ 'openstack-clouds-yaml': appCred });
    const id = u.addUserSecret({ 'application-credential-secret': 'acs-canary' }, { grant: true });
    u.setConfig({ 'openstack-credentials-secret': id });
    const r = await u.dispatch('install');
    expect(r.code, r.stderr).toBe(0);
    expect(cloudsAuth(u).application_credential_secret).toBe('acs-canary');
    await buildsDone(u);
  });
});

const suite = await openstackSuite();
if (guardOpenStackSuite(suite, 'get-latest with the password in a secret')) {
  describe('get-latest with the password only in a secret, against real Keystone + Glance', () => {
    const suiteImages = suiteImagesFor(suite, { beforeAll, afterAll });

    it('authenticates with the secret’s password', async () => {
      const app = `gribsecret-${Date.now().toString(36)}`;
      const IMAGE = `noble-${app}-x64`;
      const created = await suiteImages().createActive(IMAGE);
      const u = newUnit({ 'openstack-clouds-yaml': withoutPassword(suite.cloudsYaml), 'cloud-name': suite.cloudName }, `${app}/0`);
      expect(JSON.stringify(u.config())).not.toContain(suite.canaryPassword);
      const id = u.addUserSecret({ password: suite.canaryPassword }, { grant: true });
      u.setConfig({ 'openstack-credentials-secret': id });
      const r = await u.dispatch({ action: 'get-latest' });
      expect(r.actionResults, r.actionFailed).toMatchObject({ id: created.id, name: IMAGE });
      expect(JSON.stringify([u.allCalls().map((c) => c.argv), u.allLogs(), r.actionResults])).not.toContain(suite.canaryPassword);
    });
  });
}
