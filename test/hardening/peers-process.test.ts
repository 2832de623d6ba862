// Peer data is input from another machine (issue: hardening round two, items 1-4), through the
// real `dispatch` with the stand-in hook tools: a peer's image is served only once the cloud
// confirms it (with the cloud's created-at), oversized or hostile values never reach a hook
// tool's command line, and forwarded build requests are bounded and coalesced. Each case on a
// leader and, where a non-leader reads the value, on a non-leader.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_RUNNING_PATH } from '../../src/charm/paths.js';
import { charmUnits } from '../support/charm-units.js';
import { cloudsYaml } from '../support/clouds.js';
import { eventually } from '../support/eventually.js';
import { startFakeCloud, type FakeCloud } from '../support/fake-cloud.js';
import type { Databag, RelationState, SimUnit } from '../support/juju.js';

const APP = 'github-runner-image-builder';
const IMAGE = `noble-${APP}-x64`;
const PEER_KEY = 'builder-peers:5';
const PAST = '2026-01-01T00:00:00Z';
const unitOf = charmUnits({ beforeAll, afterAll });

let cloud: FakeCloud;
beforeAll(async () => {
  cloud = await startFakeCloud({ images: [{ id: 'img-real', name: IMAGE, created_at: PAST, status: 'active' }] });
});
afterAll(() => cloud?.close());

async function peerUnit(opts: { leader: boolean; peers?: string[]; remoteUnits?: Record<string, Databag>; localApp?: Databag }): Promise<SimUnit> {
  const units = opts.peers ?? [`${APP}/1`];
  const u = unitOf({
    unitName: `${APP}/0`,
    leader: opts.leader,
    config: { 'base-image': 'noble', interval: 6, 'openstack-clouds-yaml': cloudsYaml(cloud.authUrl), 'cloud-name': '', 'revision-history-limit': 5 },
    relations: [
      { endpoint: 'image', id: 1, app: 'github-runner', units: ['github-runner/0'] },
      { endpoint: 'builder-peers', id: 5, app: APP, units, remoteUnits: opts.remoteUnits ?? {}, localApp: opts.localApp ?? {} },
    ],
  });
  const install = await u.dispatch('install');
  expect(install.code, install.stderr).toBe(0);
  await eventually('the first build to end', () => !u.readHostFile(BUILD_RUNNING_PATH));
  return u;
}

/** Changes the peer relation as another unit (or the leader, for the app bag) would. */
function editPeers(u: SimUnit, edit: (r: RelationState) => void): void {
  const rels = u.relations();
  edit(rels[PEER_KEY]!);
  writeFileSync(path.join(u.jujuDir, 'state', 'relations.json'), JSON.stringify(rels));
}

const peerChanged = (u: SimUnit, remoteUnit = `${APP}/1`) => u.dispatch('builder-peers-relation-changed', { relation: { endpoint: 'builder-peers', id: 5, remoteUnit } });
const claim = (id: string, createdAt: string, name = IMAGE) => JSON.stringify({ noble: { id, name, createdAt } });
const served = (u: SimUnit) => u.relations()['image:1']!['local-unit'].id;
/** Nothing a hook set or logged carries a control character or more than 1 KiB of status. */
function printableEverywhere(u: SimUnit): void {
  for (const s of u.statusHistory()) {
    expect(s.message.length).toBeLessThanOrEqual(1024);
    // eslint-disable-next-line no-control-regex -- the point: no control character in a status
    expect(s.message).not.toMatch(/[\u0000-\u001f\u007f]/);
  }
  // eslint-disable-next-line no-control-regex -- the point: no terminal escape in a log line
  for (const l of u.allLogs()) expect(l.message).not.toMatch(/\u001b|\n.*injected/);
}

describe('1. a peer’s image is served only once the cloud confirms it', () => {
  it('leader: a year-9999 claim and an id the cloud lacks are refused; a real one is served with the cloud’s created-at; unreachable means pending', async () => {
    const u = await peerUnit({ leader: true });
    editPeers(u, (r) => (r['remote-units'][`${APP}/1`] = { 'built-images': claim('img-real', '9999-01-01T00:00:00Z') }));
    let r = await peerChanged(u);
    expect(r.code, r.stderr).toBe(0);
    expect(served(u), 'a future created-at is not read at all').toBeUndefined();

    editPeers(u, (r) => (r['remote-units'][`${APP}/1`] = { 'built-images': claim('img-ghost', '2026-06-01T00:00:00Z') }));
    expect((await peerChanged(u)).code).toBe(0);
    expect(served(u), 'the cloud has no img-ghost').toBeUndefined();
    expect(u.allLogs().map((l) => l.message)).toContainEqual(expect.stringMatching(/a peer reported noble image img-ghost, which is not served: cloud testcloud has no such image/));

    cloud.glance = '500';
    editPeers(u, (r) => (r['remote-units'][`${APP}/1`] = { 'built-images': claim('img-real', '2026-06-01T00:00:00Z') }));
    r = await peerChanged(u);
    expect(r.code, r.stderr).toBe(0);
    expect(served(u), 'pending while the cloud cannot be asked').toBeUndefined();
    cloud.glance = 'ok';
    r = await u.dispatch('update-status');
    expect(r.code, r.stderr).toBe(0);
    expect(served(u)).toBe('img-real');
    expect(u.relations()['image:1']!['local-unit']['created-at'], 'the cloud’s time, not the peer’s').toBe(PAST);
    expect(JSON.parse(u.relations()[PEER_KEY]!['local-app'].images!).noble.createdAt).toBe(PAST);
  });

  it('non-leader: the app bag’s images are confirmed too', async () => {
    const u = await peerUnit({ leader: false, localApp: { leader: `${APP}/1`, images: claim('img-ghost', '2026-06-01T00:00:00Z') } });
    const r = await peerChanged(u);
    expect(r.code, r.stderr).toBe(0);
    expect(served(u)).toBeUndefined();
    editPeers(u, (r) => (r['local-app'].images = claim('img-real', '2026-06-01T00:00:00Z')));
    expect((await peerChanged(u)).code).toBe(0);
    expect(served(u)).toBe('img-real');
  });
});

describe('2 and 4. oversized and hostile peer values never reach a hook tool’s command line', () => {
  const huge = 'x'.repeat(200 * 1024);
  const hostile = `${APP}/1\n\u001b[31minjected`;

  it('non-leader: a 200 KiB or control-character leader name leaves relation-changed and build-immediate working', async () => {
    const u = await peerUnit({ leader: false, localApp: { leader: huge } });
    let r = await peerChanged(u);
    expect(r.code, r.stderr).toBe(0);
    editPeers(u, (r) => (r['local-app'] = { leader: hostile, images: claim('img-real', huge) }));
    r = await peerChanged(u);
    expect(r.code, r.stderr).toBe(0);
    const action = await u.dispatch({ action: 'build-immediate' });
    expect(action.code, action.stderr).toBe(0);
    expect(JSON.stringify(action.actionResults ?? {}) + (action.actionFailed ?? '')).not.toMatch(/injected|xxxxxxxx/);
    printableEverywhere(u);
    expect(u.unitStatus().message).toMatch(/^Standing by: the leader builds/);
  });

  it('leader: a 200 KiB created-at or name in a unit’s bag is ignored', async () => {
    const u = await peerUnit({ leader: true });
    editPeers(u, (r) => (r['remote-units'][`${APP}/1`] = { 'built-images': claim('img-real', huge), 'build-request': huge }));
    let r = await peerChanged(u);
    expect(r.code, r.stderr).toBe(0);
    editPeers(u, (r) => (r['remote-units'][`${APP}/1`] = { 'built-images': claim('img-real', PAST, `${IMAGE}\n\u001b[2J`) }));
    r = await peerChanged(u);
    expect(r.code, r.stderr).toBe(0);
    expect(served(u)).toBeUndefined();
    expect(u.relations()[PEER_KEY]!['local-app']['served-requests'] ?? '').not.toMatch(/xxxx/);
    printableEverywhere(u);
  });
});

describe('3. forwarded build requests are bounded and coalesced', () => {
  it('60 units’ requests start one build; requests during a build owe exactly one more; a served request is never built again', async () => {
    const units = Array.from({ length: 60 }, (_, i) => `${APP}/${i + 1}`);
    const u = await peerUnit({ leader: true, peers: units, remoteUnits: Object.fromEntries(units.map((n, i) => [n, { 'build-request': String(100 + i) }])) });
    const before = u.builds().length;
    u.setHostKnob('build-seconds', '30');
    let r = await peerChanged(u);
    expect(r.code, r.stderr).toBe(0);
    await eventually('the build to take the lock', () => !!u.readHostFile(BUILD_RUNNING_PATH));
    // While it runs, every unit sends a new request: coalesced into one owed build.
    editPeers(u, (rel) => units.forEach((n, i) => (rel['remote-units'][n] = { 'build-request': String(200 + i) })));
    for (const n of units.slice(0, 5)) {
      r = await peerChanged(u, n);
      expect(r.code, r.stderr).toBe(0);
    }
    u.setHostKnob('build-seconds', undefined);
    await eventually('the first build to end', () => !u.readHostFile(BUILD_RUNNING_PATH), 300_000);
    r = await u.dispatch('update-status'); // starts the owed build
    expect(r.code, r.stderr).toBe(0);
    await eventually('the owed build to end', () => u.builds().length === before + 2 && !u.readHostFile(BUILD_RUNNING_PATH), 300_000);
    expect((await u.dispatch('update-status')).code).toBe(0);
    expect((await peerChanged(u)).code).toBe(0);
    await eventually('no build running', () => !u.readHostFile(BUILD_RUNNING_PATH));
    expect(u.builds().length - before, 'one build for the first wave, one owed for the second, none after').toBe(2);
    const servedMap = JSON.parse(u.relations()[PEER_KEY]!['local-app']['served-requests']!);
    expect(Object.keys(servedMap)).toHaveLength(60);
    expect(servedMap[`${APP}/1`]).toBe('200');
  });
});
