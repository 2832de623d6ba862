// Peer relations through the framework, in memory (the Scenario-style Context over Juju's rules):
// a peers endpoint's relation, the other units and their databags, the application databag that
// every unit reads and only the leader writes, and relation-changed for an application-databag
// change (JUJU_REMOTE_UNIT empty), as docs/juju-hook-contract.md §7 says Juju does it.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCharmMeta, Model, ModelError, type CharmMeta } from '../../src/ops/index.js';
import { readContext } from '../../src/ops/context.js';
import { Context, InconsistentScenarioError, on, peerRelation, relation, state, type State } from '../../src/ops/testing/index.js';
import { PeerCharm, type Seen } from './fixtures/peer-charm/charm.js';
import { RecordingBackend, testMeta } from './harness.js';

let meta: CharmMeta;
let ctx: Context;
beforeAll(async () => {
  meta = await loadCharmMeta(path.join(import.meta.dirname, 'fixtures/peer-charm'));
  ctx = new Context(PeerCharm, meta, { unitId: 1 });
});

const seen = (s: State) => (s.stored.peers?.seen ?? []) as Seen[];
const cluster = (opts: Partial<Parameters<typeof peerRelation>[1]> = {}) =>
  peerRelation('cluster', { app: 'peer-app', id: 0, peers: ['peer-app/0', 'peer-app/2'], peersData: { 'peer-app/0': { value: 'zero' } }, appData: { token: 't1' }, ...opts });

describe('peer relations in memory', () => {
  it('relation-changed with no remote unit is an application-databag change: event.unit undefined, event.app the application', async () => {
    const rel = cluster();
    const out = await ctx.run(on.relationAppChanged(rel), state({ relations: [rel] }));
    expect(out.exitCode, out.stderr).toBe(0);
    const [entry] = seen(out.state);
    expect(entry).toMatchObject({ event: 'cluster_relation_changed', unit: '-', app: 'peer-app', leader: false });
    // a non-leader reads the peer application databag, its peers and their databags
    expect(entry!.view).toEqual({
      ref: 'cluster:0',
      app: 'peer-app',
      units: ['peer-app/0', 'peer-app/2'],
      unitData: { 'peer-app/0': { value: 'zero' }, 'peer-app/2': {} },
      appData: { token: 't1' },
      mine: {},
    });
    // the peer relation's app is known without relation-list --app
    expect(out.calls.filter((c) => c.tool === 'relation-list').map((c) => c.argv)).toEqual([['--format=json', '-r', 'cluster:0']]);
    // remoteAppData() and localAppData() read the same bag
    expect(out.calls.filter((c) => c.tool === 'relation-get' && c.argv.includes('--app')).map((c) => c.argv.at(-1))).toEqual(['peer-app', 'peer-app/1', 'peer-app/1']);
  });

  it('relation-changed naming a unit is that unit\'s databag change', async () => {
    const rel = cluster();
    const out = await ctx.run(on.relation('changed', rel, { remoteUnit: 'peer-app/2' }), state({ relations: [rel] }));
    expect(seen(out.state)[0]).toMatchObject({ event: 'cluster_relation_changed', unit: 'peer-app/2', app: 'peer-app' });
  });

  it('the leader writes the application databag; every unit writes its own databag', async () => {
    const rel = cluster();
    const out = await ctx.run(on.configChanged(), state({ leader: true, relations: [rel], config: { 'unit-value': 'one', 'app-value': 'shared' } }));
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.state.relations[0]).toMatchObject({ localUnitData: { value: 'one' }, localAppData: { token: 't1', value: 'shared' } });
  });

  it('a non-leader writing the peer application databag gets RelationDataAccessError (Juju: cannot write relation settings); nothing changes', async () => {
    const rel = cluster();
    const out = await ctx.run(on.action('write-app', { endpoint: 'cluster', value: 'x' }), state({ relations: [rel] }));
    expect(out.actionResults).toEqual({ written: 'no', error: expect.stringMatching(/^RelationDataAccessError: hook tool `relation-set -r cluster:0 --app --file -` exited with code 1: ERROR cannot write relation settings$/) });
    expect(out.state.relations[0]!.localAppData).toEqual({ token: 't1' });
    const leader = await ctx.run(on.action('write-app', { endpoint: 'cluster', value: 'x' }), state({ leader: true, relations: [rel] }));
    expect(leader.actionResults).toEqual({ written: 'yes' });
    expect(leader.state.relations[0]!.localAppData).toEqual({ token: 't1', value: 'x' });
  });

  it('a non-leader may read the peer application databag but not its own application databag of a requires relation', async () => {
    const rel = cluster();
    const db = relation('db', { id: 4, remoteApp: 'pg', localAppData: { mine: 'y' } });
    const peer = await ctx.run(on.action('read-app', { endpoint: 'cluster' }), state({ relations: [rel, db] }));
    expect(peer.actionResults).toEqual({ data: '{"token":"t1"}' });
    const other = await ctx.run(on.action('read-app', { endpoint: 'db' }), state({ relations: [rel, db] }));
    expect(other.actionResults).toEqual({ error: expect.stringMatching(/^RelationDataAccessError: .*relation-get --format=json -r db:4 --app - peer-app\/1` exited with code 1: ERROR permission denied$/) });
    const leader = await ctx.run(on.action('read-app', { endpoint: 'db' }), state({ leader: true, relations: [rel, db] }));
    expect(leader.actionResults).toEqual({ data: '{"mine":"y"}' });
  });

  it('a peer relation with one unit has no remote units', async () => {
    const rel = cluster({ peers: [], peersData: {} });
    const out = await ctx.run(on.relation('created', rel), state({ relations: [rel] }));
    expect(seen(out.state)[0]).toMatchObject({ event: 'cluster_relation_created', unit: '-', view: { units: [], unitData: {}, appData: { token: 't1' } } });
  });

  it('refuses peer relations Juju could not have', async () => {
    const bad = [
      state({ relations: [peerRelation('cluster', { app: 'other-app', id: 0, peers: ['other-app/0'] })] }),
      state({ relations: [cluster({ peers: ['peer-app/1'] })] }),
      state({ relations: [{ ...cluster(), remoteAppData: { other: 'bag' } }] }),
      state({ relations: [cluster(), cluster({ id: 7 })] }),
      state({ relations: [relation('db', { id: 4, remoteApp: 'peer-app' })] }),
    ];
    const problems = await Promise.all(bad.map((s) => ctx.run(on.updateStatus(), s).then(() => [], (e: InconsistentScenarioError) => e.problems)));
    expect(problems).toEqual([
      ['peer relation cluster:0: the remote application of a peer relation is this application ("peer-app"), not "other-app"'],
      ['peer relation cluster:0: remote units include this unit ("peer-app/1"); its remote units are the application\'s other units'],
      ['peer relation cluster:0: the application has one databag, kept in localAppData (every unit reads it, the leader writes it); leave remoteAppData empty'],
      ['peers endpoint "cluster" has 2 relations ("cluster:0", "cluster:7"); Juju makes exactly one'],
      ['relation db:4 on requires endpoint "db" is with this application ("peer-app") itself; only a peers endpoint relates an application to itself'],
    ]);
  });

  it('Model.getRelation gives undefined when the endpoint has no relation', async () => {
    const none = await ctx.run(on.configChanged(), state({}));
    expect(none.exitCode).toBe(0);
    expect(seen(none.state)[0]!.view).toBeNull();
  });

  it('Model.getRelation refuses to choose between several relations', () => {
    class TwoRelations extends RecordingBackend {
      override relationIds(endpoint: string): string[] {
        super.relationIds(endpoint);
        return ['db:1', 'db:2'];
      }
    }
    const context = readContext({ JUJU_UNIT_NAME: 'test-charm/0', JUJU_MODEL_NAME: 'm', JUJU_CHARM_DIR: '/c', JUJU_VERSION: '3.6.4', JUJU_DISPATCH_PATH: 'hooks/install' });
    const model = new Model(new TwoRelations(), testMeta, context, {});
    expect(() => model.getRelation('db')).toThrow(ModelError);
    expect(() => model.getRelation('db')).toThrow('endpoint "db" has 2 relations (db:1, db:2); say which by id: model.relation("db", id)');
    expect(model.relations('db').map((r) => [r.ref, r.isPeer])).toEqual([['db:1', false], ['db:2', false]]);
  });
});
