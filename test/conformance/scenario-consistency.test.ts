// Context.run refuses, before running anything, a state or event Juju could not produce for the
// charm (as Scenario's consistency checker does), naming what is wrong.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCharmMeta, type CharmMeta } from '../../src/ops/index.js';
import { Context, InconsistentScenarioError, on, relation, secret, state, type TestEvent } from '../../src/ops/testing/index.js';
import { RecorderCharm } from '../charms/recorder/charm.js';
import { SecretConsumerCharm } from '../ops/fixtures/secret-charm/charm.js';

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
    const consumed = secret({ content: { password: 'x' }, tracked: 1 });
    expect(await problems(on.secretChanged(consumed), state({ ...ok, secrets: [consumed] }))).toEqual([]);
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

  describe('secrets', () => {
    const S1 = 'secret:cq8gl6vmp25c77o6ej50';
    const S2 = 'secret:copp9vfmp25c77di8nm0';
    let secretCtx: Context;
    beforeAll(async () => {
      secretCtx = new Context(SecretConsumerCharm, await loadCharmMeta(path.join(import.meta.dirname, '../ops/fixtures/secret-charm')));
    });
    const secretProblems = async (event: TestEvent, s = state()): Promise<readonly string[]> => {
      try {
        await secretCtx.run(event, s);
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(InconsistentScenarioError);
        return (err as InconsistentScenarioError).problems;
      }
    };

    it('accepts secret events Juju could send: changed to a consumer that read it, the others to the owner', async () => {
      const consumed = secret({ id: S1, revisions: [{ password: 'a' }, { password: 'b' }], tracked: 1, label: 'db' });
      const owned = secret({ id: S2, content: { token: 'x' }, owner: 'app', label: 'mine' });
      const s = state({ leader: true, secrets: [consumed, owned], config: { 'db-secret': S1 } });
      expect(await secretProblems(on.secretChanged(consumed), s)).toEqual([]);
      expect(await secretProblems(on.secretRotate(owned), s)).toEqual([]);
      expect(await secretProblems(on.secretRemove(owned, 1), s)).toEqual([]);
      expect(await secretProblems(on.secretExpired(owned, 1), s)).toEqual([]);
      // another unit of the owning application hears of new revisions too
      expect(await secretProblems(on.secretChanged(owned), state({ leader: false, secrets: [owned] }))).toEqual([]);
    });

    it('refuses a secret event for a secret not in the state, or one Juju would not send to this unit', async () => {
      const consumed = secret({ id: S1, content: { password: 'a' }, tracked: 1 });
      const unread = secret({ id: S2, content: { password: 'a' } });
      expect(await secretProblems(on.secretChanged(consumed), state())).toEqual([
        `event "secret_changed" (hooks/secret-changed): secret "${S1}" is not in the state's secrets (none)`,
      ]);
      expect(await secretProblems(on.secretChanged(unread), state({ secrets: [unread] }))).toEqual([
        `event "secret_changed" (hooks/secret-changed): this unit never read secret ${S2} (it has no tracked revision), so Juju would not tell it about a new revision`,
      ]);
      expect(await secretProblems(on.secretRemove(consumed, 1), state({ secrets: [consumed] }))).toEqual([
        `event "secret_remove" (hooks/secret-remove): secret ${S1} is not owned by this charm (a user secret); Juju sends secret-remove only to the secret's owner`,
      ]);
      const owned = secret({ id: S2, content: { token: 'x' }, owner: 'unit' });
      expect(await secretProblems(on.secretChanged(owned), state({ secrets: [owned] }))).toEqual([
        `event "secret_changed" (hooks/secret-changed): secret ${S2} is owned by this unit; Juju sends secret-changed to its consumers (and to the other units of an owning application), not to the owner`,
      ]);
      expect(await secretProblems(on.secretExpired(owned, 2), state({ secrets: [owned] }))).toEqual([
        `event "secret_expired" (hooks/secret-expired): JUJU_SECRET_REVISION "2" is not a revision of secret ${S2} (1 to 1)`,
      ]);
      expect(await secretProblems(on.secret('changed', consumed, { label: 'other' }), state({ secrets: [consumed] }))).toEqual([
        `event "secret_changed" (hooks/secret-changed): JUJU_SECRET_LABEL is "other" but this unit's label for secret ${S1} is ""`,
      ]);
    });

    it('refuses secrets Juju could not hold, without showing their content', async () => {
      const bad = [
        { id: 'cq8gl6vmp25c77o6ej50', revisions: [{ password: 'hunter2' }] },
        { id: S1, revisions: [] },
        { id: S2, revisions: [{ Bad_Key: 'hunter2', ok1: 7 as unknown as string }], tracked: 2, label: 'x' },
        { id: 'secret:copp9vfmp25c77di8nm0', revisions: [{ password: 'hunter2' }], label: 'x' },
        { id: 'secret:9m4e2mr0ui3e8a215n4g', revisions: [{ password: 'hunter2' }], owner: 'app' as const, tracked: 1 },
      ];
      const found = await secretProblems(on.updateStatus(), state({ secrets: bad, config: { 'db-secret': 'hunter2' } }));
      expect(found).toEqual([
        'config option "db-secret" is declared secret in config.yaml but the test gives a string that is not a secret URI; a secret option holds secret:<20 characters 0-9a-v> or secret://<model-uuid>/<id>',
        'secret "cq8gl6vmp25c77o6ej50" is not a secret URI: secret:<20 characters 0-9a-v> (as juju add-secret prints it) or secret://<model-uuid>/<id>',
        `secret "${S1}" has no revisions; a secret has at least one`,
        `secret "${S2}" revision 1: key "Bad_Key" is not a secret key Juju accepts (lowercase letters, digits and single hyphens, starting with a letter, at least 3 characters)`,
        `secret "${S2}" revision 1: the value of key "ok1" is a number; secret values are strings`,
        `secret "${S2}": tracked revision 2 is not one of its revisions (1 to 1)`,
        `secret "${S2}" is the same secret as "${S2}"; each secret appears once`,
        `secret "${S2}" has a label but no tracked revision: Juju keeps a consumer's label with the revision it tracks, from its first secret-get`,
        `secret "${S2}" and secret "${S2}" have the same label "x"; a unit's secret labels are unique`,
        'secret "secret:9m4e2mr0ui3e8a215n4g" is owned by this application: an owner reads the latest revision and tracks none (leave tracked out)',
      ]);
      expect(found.join('\n')).not.toContain('hunter2');
    });
  });
});
