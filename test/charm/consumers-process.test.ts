// Issue 20 through the real `dispatch`, three units: consumers with their own project, one with
// partial credentials and one with none. The leader's copier is started for real (its detached
// sh loop, its lock, the juju-exec report of copies_done); only the copy itself is the stand-in
// test/fakes/copier/copier.stub.cjs (the real copier runs against real Glance in
// test/openstack/). Every unit writes the consumer clouds and publishes each relation's own ids.
import { copyFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_RUNNING_PATH, CONSUMER_CLOUDS_PATH, COPY_REQUEST_PATH, COPY_RESULT_PATH } from '../../src/charm/paths.js';
import { createApplication, type SimApplication } from '../support/app.js';
import { buildImageBuilderCharmDir } from '../support/charm-dir.js';
import { cloudsYaml } from '../support/clouds.js';
import { eventually } from '../support/eventually.js';
import { startFakeCloud, type FakeCloud } from '../support/fake-cloud.js';

const APP = 'github-runner-image-builder';
const IMAGE = `noble-${APP}-x64`;
const CANARY = 'canary-consumer-pw-3c9e1';
const ADDRESSES = { 'private-address': '10.1.0.10', 'ingress-address': '10.1.0.10', 'egress-subnets': '10.1.0.10/32' };

let built: string;
let cloud: FakeCloud;
let app: SimApplication;

beforeAll(async () => {
  built = await buildImageBuilderCharmDir();
  copyFileSync(path.resolve(import.meta.dirname, '../fakes/copier/copier.stub.cjs'), path.join(built, 'dist/copier.js'));
  cloud = await startFakeCloud();
  // The builder stand-in's images and the stand-in copier's copies are active images of the build's name.
  cloud.uploadedName = IMAGE;
});
afterAll(async () => {
  app?.cleanup();
  rmSync(built, { recursive: true, force: true });
  await cloud?.close();
});

const creds = (project: string, user: string) => ({
  ...ADDRESSES,
  auth_url: cloud.authUrl,
  username: user,
  password: CANARY,
  project_name: project,
  project_domain_name: 'Default',
  user_domain_name: 'Default',
});

describe('three units and three consumers: own project, partial credentials, none', () => {
  it('every unit keeps the consumer cloud; the leader copies; each relation gets its own ids on every unit; the password goes nowhere', async () => {
    const { password: _p, ...partial } = creds('runners-b', 'runner-b');
    app = createApplication({
      charmDir: built,
      appName: APP,
      units: 3,
      leader: 0,
      peerEndpoint: 'builder-peers',
      config: { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': cloudsYaml(cloud.authUrl), 'cloud-name': '', 'revision-history-limit': 5 },
      relations: [
        { endpoint: 'image', id: 1, app: 'runner-a', remoteUnits: { 'runner-a/0': creds('runners-a', 'runner-a') }, localUnit: ADDRESSES },
        { endpoint: 'image', id: 2, app: 'runner-b', remoteUnits: { 'runner-b/0': partial }, localUnit: ADDRESSES },
        { endpoint: 'image', id: 3, app: 'runner-c', remoteUnits: { 'runner-c/0': ADDRESSES }, localUnit: ADDRESSES },
      ],
    });
    for (const r of await app.dispatchAll('install')) expect(r.code, r.stderr).toBe(0);
    await app.electLeader(0);
    await app.settle();
    for (let i = 0; i < 3; i++) {
      for (const id of [1, 2, 3]) {
        const r = await app.dispatch(i, 'image-relation-changed', { relation: { id } });
        expect(r.code, r.stderr).toBe(0);
      }
    }
    const leader = app.unit(0);
    // The install build lands (build_success through juju-exec), then the copies (copies_done through juju-exec).
    await eventually('the install build to report', () => leader.builds().length === 1 && !leader.readHostFile(BUILD_RUNNING_PATH) && leader.allLogs().some((l) => /new noble image/.test(l.message)));
    const buildId = leader.builds()[0]!.id;
    await eventually('the copies to be published on the leader', () => leader.relations()['image:1']!['local-unit'].id === 'copy-0-noble');
    await app.settle();

    for (const u of app.units) {
      const bags = u.relations();
      expect(bags['image:1']!['local-unit'].id, `${u.unitName}: its own project's copy`).toBe('copy-0-noble');
      expect(JSON.parse(bags['image:1']!['local-unit'].images!)).toEqual([{ id: 'copy-0-noble', tags: 'x64,noble' }]);
      expect(bags['image:2']!['local-unit'].id, `${u.unitName}: partial credentials get no id`).toBeUndefined();
      expect(bags['image:3']!['local-unit'].id, `${u.unitName}: no credentials, the build project's id`).toBe(buildId);
      expect(statSync(u.hostPath(CONSUMER_CLOUDS_PATH)).mode & 0o777).toBe(0o600);
      expect(u.readHostFile(CONSUMER_CLOUDS_PATH)).toMatch(/^ {2}runners-a_runner-a:$/m);
      expect(u.readHostFile(CONSUMER_CLOUDS_PATH)).not.toMatch(/runners-b/);
      expect(u.unitStatus().message).toMatch(/1 related application\(s\) wait for complete OpenStack credentials/);
      expect(u.allLogs().map((l) => l.message)).toContainEqual(expect.stringMatching(/relation image:2 \(unit runner-b\/0\) sent OpenStack credentials without password/));
      const seen = JSON.stringify([u.allLogs(), u.allCalls().map((c) => c.argv), u.statusHistory(), u.charmState(), u.readHostFile(COPY_REQUEST_PATH) ?? '', u.readHostFile(COPY_RESULT_PATH) ?? '']);
      expect(seen, `${u.unitName}: the consumer password`).not.toContain(CANARY);
    }
    expect(app.units.map((u) => u.readHostFile(COPY_RESULT_PATH) !== undefined), 'only the leader copies').toEqual([true, false, false]);

    // The consumer leaves: every unit forgets its cloud and its password.
    for (let i = 0; i < 3; i++) {
      const r = await app.dispatch(i, 'image-relation-broken', { relation: { id: 1 } });
      expect(r.code, r.stderr).toBe(0);
      expect(app.unit(i).readHostFile(CONSUMER_CLOUDS_PATH), `${app.unit(i).unitName}: no consumer cloud left`).toBeUndefined();
    }
  });
});
