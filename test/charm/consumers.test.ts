// Issue 20 in memory: the image relation's consumers as clouds, the copies the charm asks for
// and publishes per relation, and gone images replaced on update-status. Through the real
// ImageBuilderCharm (test/support/memory-unit.ts); the copier itself is a separate process
// (test/openstack/copier-real-services.test.ts), here its result file stands in for it.
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { writeCopyResult, type CopyOutcome } from '../../src/charm/copies.js';
import { CONSUMER_CLOUDS_PATH, COPY_REQUEST_PATH, METRICS_DIR } from '../../src/charm/paths.js';
import { on, relation, state, type RelationState, type State } from '../../src/ops/testing/index.js';
import { cloudsYaml } from '../support/clouds.js';
import { testMachine, charmContext, type MemoryMachine } from '../support/memory-unit.js';
import { Host } from '../../src/charm/host.js';

const APP = 'github-runner-image-builder';
const IMAGE = `noble-${APP}-x64`;
const BUILD_CLOUD = 'testcloud';
const config = { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': cloudsYaml(), 'cloud-name': '', 'revision-history-limit': 5 };
const CANARY = 'canary-consumer-password-7f3a';
const creds = (project: string, user: string, password = CANARY) => ({
  auth_url: 'http://keystone.example:5000/v3',
  username: user,
  password,
  project_name: project,
  project_domain_name: 'Default',
  user_domain_name: 'Default',
});
const consumerRel = (id: number, data: Record<string, string>, app = `runner-${String.fromCharCode(96 + id)}`): RelationState =>
  relation('image', { id, remoteApp: app, remoteUnits: [`${app}/0`], remoteUnitsData: { [`${app}/0`]: data } });
const buildImage = { id: 'img-build-1', name: IMAGE, createdAt: '2030-01-01T00:00:00Z', status: 'active', cloud: BUILD_CLOUD };

/** A leader that was installed and serves build image img-build-1. */
async function servingLeader(relations: RelationState[], m: MemoryMachine = testMachine()): Promise<{ m: MemoryMachine; s: State }> {
  m.cloud.images.push(buildImage);
  let s = (await charmContext(m).run(on.install(), state({ leader: true, config, relations }))).state;
  // Juju runs relation-changed after each consumer joined: that is where its credentials are read.
  for (const rel of relations) {
    const r = await charmContext(m).run(on.relation('changed', rel), s);
    expect(r.exitCode, r.stderr).toBe(0);
    s = r.state;
  }
  const built = await charmContext(m).run(on.custom('build_success', { OPENSTACK_IMAGE_ID: buildImage.id, IMAGE_BASE: 'noble' }), s);
  expect(built.exitCode, built.stderr).toBe(0);
  return { m, s: built.state };
}

/** The copier's report: its result file, then copies_done. */
async function copiesDone(m: MemoryMachine, s: State, outcomes: CopyOutcome[]) {
  writeCopyResult(new Host({ CHARM_HOST_ROOT: m.root }), { finishedAt: new Date().toISOString(), outcomes });
  const r = await charmContext(m).run(on.custom('copies_done'), s);
  expect(r.exitCode, r.stderr).toBe(0);
  return r;
}

const copiers = (m: MemoryMachine) => m.programs.builds.filter((argv) => argv.some((a) => a.endsWith('dist/copier.js')));
const everything = (r: { logs: { message: string }[]; state: State }) => JSON.stringify([r.logs, r.state.unitStatus, r.state.stored]);

describe('consumer clouds from the image relation', () => {
  it('a consumer with its own project: a root-only cloud <project>_<user>, a copy asked for, and no id until the copy is verified', async () => {
    const { m, s } = await servingLeader([consumerRel(1, {})]);
    const joined = await charmContext(m).run(on.relation('changed', s.relations[0]!), { ...s, relations: [consumerRel(1, creds('runners-a', 'runner-a'))] });
    expect(joined.exitCode, joined.stderr).toBe(0);
    const file = m.hostPath(CONSUMER_CLOUDS_PATH);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/runners-a_runner-a:\n\s+auth:\n\s+auth_url: http:\/\/keystone.example:5000\/v3/);
    expect(joined.state.relations[0]!.localUnitData.id, 'the build project id would only mislead it').toBeUndefined();
    expect(copiers(m)).toHaveLength(1);
    const request = JSON.parse(readFileSync(m.hostPath(COPY_REQUEST_PATH), 'utf8'));
    expect(request).toMatchObject({ sourceCloud: BUILD_CLOUD, clouds: ['runners-a_runner-a'], images: [{ base: 'noble', id: 'img-build-1', name: IMAGE }], keep: 5 });
    expect(everything(joined) + JSON.stringify(copiers(m)) + JSON.stringify(request)).not.toContain(CANARY);

    const done = await copiesDone(m, joined.state, [{ cloud: 'runners-a_runner-a', base: 'noble', sourceId: 'img-build-1', image: { id: 'img-copy-a', name: IMAGE, createdAt: '2030-01-01T00:05:00Z' }, durationMs: 10 }]);
    expect(done.state.relations[0]!.localUnitData).toMatchObject({ id: 'img-copy-a', tags: 'x64,noble' });
    expect(JSON.parse(done.state.relations[0]!.localUnitData.images ?? "null")).toEqual([{ id: 'img-copy-a', tags: 'x64,noble' }]);
  });

  it('a consumer that sends no credentials boots from the build project: it gets the build cloud ids, no warning', async () => {
    const { m, s } = await servingLeader([consumerRel(1, {})]);
    const r = await charmContext(m).run(on.relation('changed', s.relations[0]!), s);
    expect(r.state.relations[0]!.localUnitData.id).toBe('img-build-1');
    expect(r.logs.filter((l) => l.level === 'WARNING')).toEqual([]);
    expect(copiers(m)).toHaveLength(0);
  });

  it('partial or bad credentials: skipped, the log names the relation and the key (never a value), no id, and the status counts it', async () => {
    const { password: _p, ...noPassword } = creds('runners-a', 'runner-a');
    for (const data of [noPassword, { ...creds('runners-a', 'runner-a'), auth_url: `ftp://${CANARY}` }]) {
      const { m, s } = await servingLeader([consumerRel(1, {})]);
      const r = await charmContext(m).run(on.relation('changed', s.relations[0]!), { ...s, relations: [consumerRel(1, data)] });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.logs.map((l) => l.message)).toContainEqual(expect.stringMatching(/relation image:1 \(unit runner-a\/0\) sent (OpenStack credentials without password|an auth_url that is not an http\(s\) URL)/));
      expect(r.state.relations[0]!.localUnitData.id).toBeUndefined();
      expect(r.state.unitStatus.message).toMatch(/1 related application\(s\) wait for complete OpenStack credentials/);
      expect(everything(r)).not.toContain(CANARY);
    }
  });

  it('two different credential sets with one cloud name are refused, naming both relations', async () => {
    const other = { ...creds('runners-a', 'runner-a'), auth_url: 'https://other.example:5000/v3' };
    const { m, s } = await servingLeader([consumerRel(1, creds('runners-a', 'runner-a')), consumerRel(2, other)]);
    const r = await charmContext(m).run(on.relation('changed', s.relations[1]!), s);
    expect(r.logs.map((l) => l.message)).toContainEqual(expect.stringMatching(/relations image:1 and image:2 sent different credentials for one cloud name runners-a_runner-a/));
    expect(r.state.unitStatus.message).toMatch(/2 related application\(s\) wait/);
  });

  it('a rotated password rewrites the file and copies nothing; another project is copied into at once; relation-broken removes the cloud', async () => {
    const { m, s } = await servingLeader([consumerRel(1, creds('runners-a', 'runner-a'))]);
    const first = copiers(m).length;
    const rotated = await charmContext(m).run(on.relation('changed', s.relations[0]!), { ...s, relations: [consumerRel(1, creds('runners-a', 'runner-a', 'rotated-pw'))] });
    expect(readFileSync(m.hostPath(CONSUMER_CLOUDS_PATH), 'utf8')).toContain('rotated-pw');
    expect(copiers(m)).toHaveLength(first);
    const moved = await charmContext(m).run(on.relation('changed', rotated.state.relations[0]!), { ...rotated.state, relations: [consumerRel(1, creds('runners-b', 'runner-b'))] });
    expect(copiers(m)).toHaveLength(first + 1);
    expect(readFileSync(m.hostPath(CONSUMER_CLOUDS_PATH), 'utf8')).not.toContain('runners-a');
    const broken = await charmContext(m).run(on.relation('broken', moved.state.relations[0]!), moved.state);
    expect(broken.exitCode, broken.stderr).toBe(0);
    expect(() => statSync(m.hostPath(CONSUMER_CLOUDS_PATH)), 'no consumer cloud, no file').toThrow();
  });

  it('an upgrade from a charm that ignored credentials keeps the id the consumer boots until the copier reports (it reuses an identical image)', async () => {
    const m = testMachine();
    m.cloud.images.push(buildImage);
    const before = { id: 'img-build-1', tags: 'x64,noble', images: JSON.stringify([{ id: 'img-build-1', tags: 'x64,noble' }]), name: IMAGE, 'created-at': buildImage.createdAt };
    const old = await servingLeader([consumerRel(1, {})], m);
    // As the charm before consumers left it: the relation on the build id, no consumers bag.
    const rel = { ...consumerRel(1, creds('runners-a', 'runner-a')), localUnitData: before };
    const { consumers: _gone, ...stored } = old.s.stored;
    const up = await charmContext(m).run(on.upgradeCharm(), { ...old.s, stored, relations: [rel] });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.state.relations[0]!.localUnitData.id, 'no gap for a consumer that booted fine').toBe('img-build-1');
    expect(copiers(m)).toHaveLength(1);
    const done = await copiesDone(m, up.state, [{ cloud: 'runners-a_runner-a', base: 'noble', sourceId: 'img-build-1', image: { id: 'img-build-1', name: IMAGE, createdAt: buildImage.createdAt }, reused: true, durationMs: 1 }]);
    expect(done.state.relations[0]!.localUnitData.id).toBe('img-build-1');
  });

  it('a consumer that moves to another project loses the old project’s id until its new copy is made', async () => {
    const { m, s } = await servingLeader([consumerRel(1, creds('runners-a', 'runner-a'))]);
    const copied = await copiesDone(m, s, [{ cloud: 'runners-a_runner-a', base: 'noble', sourceId: 'img-build-1', image: { id: 'img-copy-a', name: IMAGE, createdAt: '2030-01-01T00:05:00Z' }, durationMs: 1 }]);
    expect(copied.state.relations[0]!.localUnitData.id).toBe('img-copy-a');
    const moved = await charmContext(m).run(on.relation('changed', copied.state.relations[0]!), { ...copied.state, relations: [{ ...consumerRel(1, creds('runners-b', 'runner-b')), localUnitData: copied.state.relations[0]!.localUnitData }] });
    expect(moved.state.relations[0]!.localUnitData.id).toBeUndefined();
    const done = await copiesDone(m, moved.state, [{ cloud: 'runners-b_runner-b', base: 'noble', sourceId: 'img-build-1', image: { id: 'img-copy-b', name: IMAGE, createdAt: '2030-01-01T00:06:00Z' }, durationMs: 1 }]);
    expect(done.state.relations[0]!.localUnitData.id).toBe('img-copy-b');
  });

  it('a failed copy is in the status until a copy into that cloud succeeds; the other clouds are published', async () => {
    const { m, s } = await servingLeader([consumerRel(1, creds('runners-a', 'runner-a')), consumerRel(2, creds('runners-b', 'runner-b'))]);
    const r = await copiesDone(m, s, [
      { cloud: 'runners-a_runner-a', base: 'noble', sourceId: 'img-build-1', error: 'cloud runners-a_runner-a: copy failed 3 times', durationMs: 5 },
      { cloud: 'runners-b_runner-b', base: 'noble', sourceId: 'img-build-1', image: { id: 'img-copy-b', name: IMAGE, createdAt: '2030-01-01T00:05:00Z' }, durationMs: 5 },
    ]);
    expect(r.state.unitStatus.message).toMatch(/copy into cloud runners-a_runner-a failed: noble: cloud runners-a_runner-a: copy failed 3 times/);
    expect(r.state.relations.map((rel) => rel.localUnitData.id)).toEqual([undefined, 'img-copy-b']);
    const peersShared = await copiesDone(m, r.state, [{ cloud: 'runners-a_runner-a', base: 'noble', sourceId: 'img-build-1', image: { id: 'img-copy-a', name: IMAGE, createdAt: '2030-01-01T00:06:00Z' }, durationMs: 5 }]);
    expect(peersShared.state.unitStatus.message).not.toMatch(/copy into/);
    expect(peersShared.state.relations.map((rel) => rel.localUnitData.id)).toEqual(['img-copy-a', 'img-copy-b']);
  });
});

describe('never a dead id (update-status)', () => {
  const copyA = { id: 'img-copy-a', name: IMAGE, createdAt: '2030-01-01T00:05:00Z', status: 'active', cloud: 'runners-a_runner-a' };

  async function servingCopy() {
    const { m, s } = await servingLeader([consumerRel(1, creds('runners-a', 'runner-a'))]);
    m.cloud.images.push(copyA);
    const r = await copiesDone(m, s, [{ cloud: copyA.cloud, base: 'noble', sourceId: 'img-build-1', image: copyA, durationMs: 5 }]);
    return { m, s: r.state };
  }

  it('a copy deleted behind the charm is replaced by the newest active one of its name there, counted, and copied again once', async () => {
    const { m, s } = await servingCopy();
    m.cloud.images.push({ ...copyA, id: 'img-copy-older', createdAt: '2029-12-01T00:00:00Z' });
    m.cloud.images.splice(m.cloud.images.indexOf(copyA), 1);
    const before = copiers(m).length;
    const r = await charmContext(m).run(on.updateStatus(), s);
    expect(r.state.relations[0]!.localUnitData.id).toBe('img-copy-older');
    expect(copiers(m)).toHaveLength(before + 1);
    expect(JSON.parse(readFileSync(m.hostPath(`${METRICS_DIR}/gone-runners-a_runner-a.json`), 'utf8'))).toMatchObject({ gone_replaced: 1 });
    const again = await charmContext(m).run(on.updateStatus(), r.state);
    expect(copiers(m), 'nothing gone: nothing asked').toHaveLength(before + 1);
    expect(again.state.relations[0]!.localUnitData.id).toBe('img-copy-older');
  });

  it('with no image of that name left, the relation loses its id and the status names the cloud', async () => {
    const { m, s } = await servingCopy();
    m.cloud.images.splice(m.cloud.images.indexOf(copyA), 1);
    const r = await charmContext(m).run(on.updateStatus(), s);
    expect(r.state.relations[0]!.localUnitData.id).toBeUndefined();
    expect(r.state.unitStatus.message).toMatch(/cloud runners-a_runner-a no longer has the noble image/);
  });

  it('a build cloud image gone with nothing left: consumers in the build project lose the id and a build starts', async () => {
    const { m, s } = await servingLeader([consumerRel(1, {})]);
    const r0 = await charmContext(m).run(on.relation('changed', s.relations[0]!), s);
    m.cloud.images.length = 0;
    const builds = m.programs.builds.length;
    const r = await charmContext(m).run(on.updateStatus(), r0.state);
    expect(r.state.relations[0]!.localUnitData.id).toBeUndefined();
    expect(m.programs.builds.length).toBe(builds + 1);
  });

  it('a cloud that cannot be asked changes nothing: a warning, the same relation data', async () => {
    const { m, s } = await servingCopy();
    m.cloud.fail = new Error('cloud runners-a_runner-a: Keystone did not answer');
    const r = await charmContext(m).run(on.updateStatus(), s);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.state.relations[0]!.localUnitData.id).toBe('img-copy-a');
    expect(r.logs.map((l) => l.message)).toContainEqual(expect.stringMatching(/could not be asked whether its published images still exist/));
  });
});

describe('get-latest and other units', () => {
  it('get-latest lists every cloud and base', async () => {
    const { m, s } = await servingLeader([consumerRel(1, creds('runners-a', 'runner-a'))]);
    m.cloud.images.push({ id: 'img-copy-a', name: IMAGE, createdAt: '2030-01-01T00:05:00Z', status: 'active', cloud: 'runners-a_runner-a' });
    const r = await charmContext(m).run(on.action('get-latest'), s);
    expect(r.actionResults.id).toBe('img-build-1');
    expect(JSON.parse(String(r.actionResults.images))).toEqual([
      { cloud: BUILD_CLOUD, base: 'noble', id: 'img-build-1', name: IMAGE, 'created-at': '2030-01-01T00:00:00Z' },
      { cloud: 'runners-a_runner-a', base: 'noble', id: 'img-copy-a', name: IMAGE, 'created-at': '2030-01-01T00:05:00Z' },
    ]);
    expect(JSON.stringify(r.actionResults)).not.toContain(CANARY);
  });

  it('a non-leader publishes the leader’s copies once the consumer cloud confirms them', async () => {
    const m = testMachine();
    // Peer data's created-at must not lie in the future (images.ts, timeProblem): a time in the past on any machine's clock.
    m.cloud.images.push(buildImage, { id: 'img-copy-a', name: IMAGE, createdAt: '2020-01-01T00:05:00Z', status: 'active', cloud: 'runners-a_runner-a' });
    const shared = JSON.stringify({ 'runners-a_runner-a': { noble: { id: 'img-copy-a', name: IMAGE, createdAt: '2020-01-01T00:05:00Z' } } });
    const ghost = JSON.stringify({ 'runners-a_runner-a': { noble: { id: 'img-ghost', name: IMAGE, createdAt: '2020-01-01T00:05:00Z' } } });
    const peers = (copies: string) => relation('builder-peers', { id: 9, remoteApp: APP, remoteUnits: [`${APP}/1`], localAppData: { leader: `${APP}/1`, 'consumer-copies': copies } });
    const installed = await charmContext(m).run(on.install(), state({ leader: false, config, relations: [consumerRel(1, creds('runners-a', 'runner-a')), peers(ghost)] }));
    const joined = await charmContext(m).run(on.relation('changed', installed.state.relations[0]!), installed.state);
    const refused = await charmContext(m).run(on.relation('changed', joined.state.relations[1]!), joined.state);
    expect(refused.state.relations[0]!.localUnitData.id, 'an id the consumer cloud does not have').toBeUndefined();
    const r = await charmContext(m).run(on.relation('changed', refused.state.relations[1]!), { ...refused.state, relations: [refused.state.relations[0]!, peers(shared)] });
    expect(r.state.relations[0]!.localUnitData.id).toBe('img-copy-a');
    expect(copiers(m), 'only the leader copies').toHaveLength(0);
  });
});
