// Context.run refuses, before running anything, a state or event Juju could not produce for the
// charm (as Scenario's consistency checker does), naming what is wrong.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCharmMeta, type CharmMeta } from '../../src/ops/index.js';
import { Context, InconsistentScenarioError, on, relation, state, type TestEvent } from '../../src/ops/testing/index.js';
import { RecorderCharm } from '../charms/recorder/charm.js';

let ctx: Context;
let meta: CharmMeta;

beforeAll(async () => {
  meta = await loadCharmMeta(path.join(import.meta.dirname, '../charms/recorder'));
  ctx = new Context(RecorderCharm, meta);
});

/** The problems Context.run names for this event and state (none: it ran). */
async function problems(event: TestEvent, s = state()): Promise<readonly string[]> {
  try {
    await ctx.run(event, s);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(InconsistentScenarioError);
    return (err as InconsistentScenarioError).problems;
  }
}

describe('Context.run consistency check', () => {
  it('accepts what Juju could send: lifecycle, other Juju hooks, declared endpoints, actions and custom events', async () => {
    const db = relation('db', { remoteApp: 'pg', remoteUnits: ['pg/0', 'pg/1'] });
    const ok = state({ config: { greeting: 'hi', count: 2 }, relations: [db], unitStatus: { status: 'active', message: '' } });
    expect(await problems(on.install(), ok)).toEqual([]);
    expect(await problems(on.hook('secret-changed'), ok)).toEqual([]);
    expect(await problems(on.relation('changed', db, { remoteUnit: 'pg/1' }), ok)).toEqual([]);
    expect(await problems(on.relation('broken', db), ok)).toEqual([]);
    expect(await problems(on.action('set-results', { results: '{}' }), ok)).toEqual([]);
    expect(await problems(on.custom('ping', { PING_DATA: 'x' }), ok)).toEqual([]);
  });

  it('refuses a config option that is not in config.yaml', async () => {
    expect(await problems(on.configChanged(), state({ config: { greting: 'typo' } }))).toEqual([
      'config option "greting" is not in config.yaml (options: "defer-config-changed", "fail-on", "greeting", "count")',
    ]);
  });

  it('refuses a relation on an endpoint metadata.yaml does not declare, and a relation id used twice', async () => {
    const cache = relation('cache', { id: 40, remoteApp: 'redis' });
    const db = relation('db', { id: 40, remoteApp: 'pg' });
    expect(await problems(on.install(), state({ relations: [cache, db] }))).toEqual([
      'relation cache:40 is on endpoint "cache", which is not in metadata.yaml (endpoints: "web-api", "db")',
      "relation id 40 is used twice (cache:40 and db:40); Juju's relation ids are unique in a model",
    ]);
  });

  it('refuses relation data Juju could not hold: non-string values, data of a unit not in the relation, units of another app', async () => {
    const db = relation('db', {
      id: 41,
      remoteApp: 'pg',
      remoteUnits: ['pg/0', 'mysql/0'],
      localUnitData: { port: 5432 as unknown as string },
      remoteUnitsData: { 'pg/0': {}, 'pg/9': { x: 'y' } },
    });
    expect(await problems(on.install(), state({ relations: [db] }))).toEqual([
      'relation db:41: remote unit "mysql/0" is not a unit of the remote application "pg"',
      'relation db:41: remoteUnitsData has unit "pg/9", which is not in remoteUnits ("pg/0", "mysql/0")',
      'relation db:41: localUnitData key "port" is a number; databag values are strings',
    ]);
  });

  it('refuses an event that is not a Juju event, a declared endpoint event, an action or a declared custom event', async () => {
    expect(await problems(on.custom('nobody_knows_me'))).toEqual([
      'event "nobody_knows_me" (hooks/nobody_knows_me) is not a Juju event, a relation event of an endpoint in metadata.yaml, an action in actions.yaml, or a custom event the charm declares (custom events: "ping")',
    ]);
    expect(await problems(on.hook('update-stats'))).toHaveLength(1);
    const err = await ctx.run(on.hook('cache-relation-joined'), state()).catch((e: Error) => e);
    expect(String(err)).toMatch(/InconsistentScenarioError: inconsistent scenario: event "cache_relation_joined" \(hooks\/cache-relation-joined\): endpoint "cache" is not in metadata.yaml \(endpoints: "web-api", "db"\)/);
  });

  it('refuses a relation event whose relation is not in the state, or whose remote unit is not in the relation', async () => {
    const db = relation('db', { id: 42, remoteApp: 'pg' });
    expect(await problems(on.relation('joined', db), state())).toEqual([
      'event "db_relation_joined" (hooks/db-relation-joined): relation "db:42" is not in the state\'s relations (none)',
    ]);
    expect(await problems(on.relation('joined', db, { remoteUnit: 'pg/7' }), state({ relations: [db] }))).toEqual([
      'event "db_relation_joined" (hooks/db-relation-joined): remote unit "pg/7" is not one of relation db:42\'s remote units ("pg/0")',
    ]);
    const mislabelled: TestEvent = { ...on.relation('changed', db), env: { ...on.relation('changed', db).env, JUJU_REMOTE_APP: 'mysql' } };
    expect(await problems(mislabelled, state({ relations: [db] }))).toEqual([
      'event "db_relation_changed" (hooks/db-relation-changed): the remote application is "mysql" but relation db:42 is with "pg"',
    ]);
  });

  it('refuses an action not in actions.yaml, an undeclared parameter and a parameter of the wrong type', async () => {
    expect(await problems(on.action('get-latest'))).toEqual([
      'event "get_latest_action" (actions/get-latest): action "get-latest" is not in actions.yaml (actions: "set-results", "fail", "try-defer")',
    ]);
    expect(await problems(on.action('fail', { message: 'x', reason: 'y' }))).toEqual([
      'action "fail" has no parameter "reason" in actions.yaml (parameters: "message")',
    ]);
    expect(await problems(on.action('fail', { message: 42 }))).toEqual([
      'action "fail" parameter "message" is declared string in actions.yaml but the test gives a number (42)',
    ]);
  });

  it('refuses a status Juju does not have, and lists every problem at once', async () => {
    const err = (await ctx.run(on.custom('nope'), state({ config: { colour: 'red' }, unitStatus: { status: 'happy' as 'active', message: '' } })).catch((e: unknown) => e)) as InconsistentScenarioError;
    expect(err.problems).toEqual([
      'config option "colour" is not in config.yaml (options: "defer-config-changed", "fail-on", "greeting", "count")',
      'unitStatus "happy" is not a Juju status ("active", "blocked", "maintenance", "waiting", "unknown", "error")',
      expect.stringMatching(/^event "nope" \(hooks\/nope\) is not a Juju event/),
    ]);
    expect(err.message).toMatch(/^inconsistent scenario: \n {2}- config option "colour"/);
  });

  it('checks before running: nothing is dispatched for an inconsistent scenario', async () => {
    const input = state({ config: { bogus: 1 } });
    await expect(ctx.run(on.install(), input)).rejects.toThrow(InconsistentScenarioError);
    // the consistent version runs and records the install
    const out = await ctx.run(on.install(), state());
    expect(out.exitCode).toBe(0);
    expect(out.state.stored.recorder?.seen).toContain('install');
  });
});
