// Peer relations through the real dispatch: the peer test charm (fixtures/peer-charm) bundled
// like the packed charm, run as a subprocess in a hook context with the stand-in hook tools.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCharmDir, copyCharmDir } from '../support/charm-dir.js';
import { createApplication } from '../support/app.js';
import { createUnit, type SimUnit } from '../support/juju.js';
import type { Seen } from './fixtures/peer-charm/charm.js';

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/peer-charm');
let built: string;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  built = await buildCharmDir({ entry: 'test/ops/fixtures/peer-charm/main.ts', yamlDir: FIXTURE });
});
afterAll(() => {
  for (const c of cleanups) c();
  rmSync(built, { recursive: true, force: true });
});

function unit(leader: boolean): { u: SimUnit; seen: () => Seen[] } {
  const charmDir = copyCharmDir(built);
  const u = createUnit({
    charmDir,
    unitName: 'peer-app/1',
    leader,
    config: { 'unit-value': '', 'app-value': '' },
    relations: [
      { endpoint: 'cluster', id: 0, app: 'peer-app', units: ['peer-app/0', 'peer-app/2'], remoteUnits: { 'peer-app/0': { value: 'zero' } }, localApp: { token: 't1' } },
      { endpoint: 'db', id: 4, app: 'pg', units: ['pg/0'], localApp: { mine: 'y' } },
    ],
  });
  cleanups.push(() => {
    u.cleanup();
    rmSync(charmDir, { recursive: true, force: true });
  });
  return { u, seen: () => (JSON.parse(readFileSync(path.join(charmDir, '.unit-state.json'), 'utf8')) as { stored: { peers: { seen: Seen[] } } }).stored.peers.seen };
}

describe('peer relations through the real dispatch', () => {
  it('accepts relation-changed with JUJU_REMOTE_UNIT empty (an application-databag change): no remote unit, the application as remote app', async () => {
    const { u, seen } = unit(false);
    const r = await u.dispatch('cluster-relation-changed', { relation: { remoteUnit: '' } });
    expect(r.code, r.stderr).toBe(0);
    expect(seen()).toEqual([
      {
        event: 'cluster_relation_changed',
        unit: '-',
        app: 'peer-app',
        leader: false,
        view: { ref: 'cluster:0', app: 'peer-app', units: ['peer-app/0', 'peer-app/2'], unitData: { 'peer-app/0': { value: 'zero' }, 'peer-app/2': {} }, appData: { token: 't1' }, mine: {} },
      },
    ]);
    expect(r.calls.map((c) => [c.tool, ...c.argv].join(' '))).toEqual([
      'relation-get --format=json -r cluster:0 --app - peer-app',
      'relation-get --format=json -r cluster:0 --app - peer-app/1',
      'is-leader --format=json',
      'relation-ids cluster --format=json',
      'relation-list --format=json -r cluster:0',
      'relation-get --format=json -r cluster:0 - peer-app/0',
      'relation-get --format=json -r cluster:0 - peer-app/2',
      'relation-get --format=json -r cluster:0 --app - peer-app/1',
      'relation-get --format=json -r cluster:0 - peer-app/1',
      'juju-log --log-level DEBUG -- ' + r.calls.at(-1)!.argv.at(-1),
    ]);
  });

  it('a unit-databag change names the unit', async () => {
    const { u, seen } = unit(false);
    const r = await u.dispatch('cluster-relation-changed', { relation: { remoteUnit: 'peer-app/2' } });
    expect(r.code, r.stderr).toBe(0);
    expect(seen()[0]).toMatchObject({ unit: 'peer-app/2', app: 'peer-app' });
  });

  it('only the leader writes the peer application databag; a non-leader reads it but not its requires relation\'s', async () => {
    const follower = unit(false);
    const w = await follower.u.dispatch({ action: 'write-app', params: { endpoint: 'cluster', value: 'x' } });
    expect(w.actionResults).toEqual({ written: 'no', error: 'RelationDataAccessError: hook tool `relation-set -r cluster:0 --app --file -` exited with code 1: ERROR cannot write relation settings' });
    expect(follower.u.relations()['cluster:0']!['local-app']).toEqual({ token: 't1' });
    expect((await follower.u.dispatch({ action: 'read-app', params: { endpoint: 'cluster' } })).actionResults).toEqual({ data: '{"token":"t1"}' });
    expect((await follower.u.dispatch({ action: 'read-app', params: { endpoint: 'db' } })).actionResults).toEqual({
      error: 'RelationDataAccessError: hook tool `relation-get --format=json -r db:4 --app - peer-app/1` exited with code 1: ERROR permission denied',
    });

    const leader = unit(true);
    const c = await leader.u.dispatch('config-changed', {});
    expect(c.code).toBe(0);
    leader.u.setConfig({ 'unit-value': 'one', 'app-value': 'shared' });
    expect((await leader.u.dispatch('config-changed')).code).toBe(0);
    expect(leader.u.relations()['cluster:0']).toMatchObject({ 'local-unit': { value: 'one' }, 'local-app': { token: 't1', value: 'shared' } });
  });

  it('three units of the framework charm: the leader\'s application databag and a unit\'s databag reach the others with the relation-changed Juju would fire', async () => {
    const app = createApplication({ charmDir: built, appName: 'peer-app', units: 3, peerEndpoint: 'cluster', config: { 'unit-value': '', 'app-value': '' }, relations: [{ endpoint: 'db', id: 4, app: 'pg', units: ['pg/0'] }] });
    cleanups.push(() => app.cleanup());
    const seenBy = (i: number) => (JSON.parse(readFileSync(path.join(app.unit(i).charmDir, '.unit-state.json'), 'utf8')) as { stored: { peers: { seen: Seen[] } } }).stored.peers.seen;

    app.unit(0).setConfig({ 'app-value': 'v1' });
    const r = await app.dispatch(0, 'config-changed');
    expect(r.code, r.stderr).toBe(0);
    // config-changed writes {value: ""} to the unit bag (nothing: an empty value deletes) and the app bag
    expect(r.followUps.map((e) => [e.unit, e.remoteUnit])).toEqual([
      [1, ''],
      [2, ''],
    ]);
    await app.settle();
    for (const i of [1, 2]) {
      expect(seenBy(i)).toEqual([
        expect.objectContaining({ event: 'cluster_relation_changed', unit: '-', app: 'peer-app', leader: false, view: expect.objectContaining({ appData: { value: 'v1' } }) }),
      ]);
    }

    app.unit(2).setConfig({ 'unit-value': 'two' });
    const w = await app.dispatch(2, 'config-changed');
    expect(w.followUps.map((e) => [e.unit, e.remoteUnit])).toEqual([
      [0, 'peer-app/2'],
      [1, 'peer-app/2'],
    ]);
    await app.settle();
    expect(seenBy(0).at(-1)).toMatchObject({ event: 'cluster_relation_changed', unit: 'peer-app/2', leader: true, view: { units: ['peer-app/1', 'peer-app/2'], unitData: { 'peer-app/1': {}, 'peer-app/2': { value: 'two' } }, appData: { value: 'v1' } } });
  });
});
