// The Scenario-style harness driving the recorder charm through the real dispatcher.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCharmMeta, type CharmMeta } from '../../src/ops/index.js';
import { Context, on, relation, state, UncaughtCharmError } from '../../src/ops/testing/index.js';
import { RecorderCharm } from '../charms/recorder/charm.js';

let meta: CharmMeta;
let ctx: Context;
const baseConfig = { 'defer-config-changed': false, 'fail-on': '', greeting: 'hello', count: 1 };

beforeAll(async () => {
  meta = await loadCharmMeta(path.join(import.meta.dirname, '../charms/recorder'));
  ctx = new Context(RecorderCharm, meta);
});

const seen = (s: { stored: Record<string, Record<string, unknown>> }) => s.stored.recorder?.seen;

describe('Scenario-style Context', () => {
  it('runs install, and a custom event emitted inside the handler completes before emit returns', async () => {
    const out = await ctx.run(on.install(), state({ config: baseConfig }));
    expect(out.exitCode).toBe(0);
    expect(seen(out.state)).toEqual(['install', 'ping:from-install', 'install-after-ping']);
  });

  it('does not mutate the input state', async () => {
    const input = state({ config: baseConfig });
    const before = JSON.stringify(input);
    await ctx.run(on.install(), input);
    expect(JSON.stringify(input)).toBe(before);
  });

  it('defers an event and re-emits it first on the next run, then drops it', async () => {
    const first = await ctx.run(on.configChanged(), state({ config: { ...baseConfig, 'defer-config-changed': true } }));
    expect(first.state.deferred.map((n) => [n.event, n.observer])).toEqual([['config_changed', 'RecorderCharm/onConfigChanged']]);

    const second = await ctx.run(on.updateStatus(), { ...first.state, config: { ...baseConfig, greeting: 'again' } });
    expect(seen(second.state)).toEqual(['config_changed:hello:1', 'config_changed:again:1', 'update_status']);
    expect(second.state.deferred).toEqual([]);
  });

  it('does not queue the same deferred event twice', async () => {
    const cfg = { ...baseConfig, 'defer-config-changed': true };
    const first = await ctx.run(on.configChanged(), state({ config: cfg }));
    const second = await ctx.run(on.configChanged(), { ...first.state, config: cfg });
    expect(second.state.deferred).toHaveLength(1);
  });

  it('reports an error the charm does not catch as UncaughtCharmError, unless the test expects one', async () => {
    const input = state({ config: { ...baseConfig, 'fail-on': 'update_status' } });
    const err = await ctx.run(on.updateStatus(), input).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UncaughtCharmError);
    const crash = err as UncaughtCharmError;
    expect(crash.message).toBe('the charm raised Error in hooks/update-status: handler asked to fail on update_status');
    expect(crash.cause.message).toBe('handler asked to fail on update_status');
    expect([crash.result.exitCode, crash.result.state.stored]).toEqual([1, input.stored]);
    // An action that crashes fails the action (exit 0), and is still a crash.
    await expect(ctx.run(on.action('try-defer'), state())).rejects.toThrow(UncaughtCharmError);
    // Expecting a crash that does not happen fails too.
    await expect(ctx.run(on.updateStatus(), state({ config: baseConfig }), { expectUncaughtError: true })).rejects.toThrow(
      'expected the charm to raise an uncaught error in hooks/update-status, but it did not',
    );
  });

  it('rolls back stored state, deferrals and relation data when a handler throws', async () => {
    const db = relation('db', { remoteApp: 'pg', remoteUnitsData: { 'pg/0': { hello: 'world' } } });
    const input = state({ config: { ...baseConfig, 'fail-on': 'db_relation_joined' }, relations: [db], stored: { recorder: { seen: ['old'], configCount: 0 } } });
    const out = await ctx.run(on.relation('joined', db), input, { expectUncaughtError: true });
    expect(out.exitCode).toBe(1);
    expect(out.uncaughtError?.message).toBe('handler asked to fail on db_relation_joined');
    expect(out.state.stored).toEqual(input.stored);
    expect(out.state.deferred).toEqual([]);
    expect(out.state.relations[0]!.localUnitData).toEqual({});
    expect(out.logs.some((l) => l.level === 'ERROR' && l.message.includes('handler asked to fail on db_relation_joined'))).toBe(true);
  });

  it('passes relation context to relation handlers and commits databag writes', async () => {
    const db = relation('db', { id: 7, remoteApp: 'pg', remoteUnitsData: { 'pg/0': { hello: 'world' } } });
    const out = await ctx.run(on.relation('joined', db), state({ config: baseConfig, relations: [db] }));
    expect(out.exitCode).toBe(0);
    expect(seen(out.state)).toEqual(['db_relation_joined:db:7:pg:pg/0:-']);
    expect(out.state.relations[0]!.localUnitData).toEqual({ seen: 'yes', 'remote-said': 'world' });
  });

  it('records action results, logs and failure', async () => {
    const ok = await ctx.run(on.action('set-results', { results: JSON.stringify({ id: 'abc', nested: { 'created-at': '2024' } }) }), state());
    expect(ok.actionResults).toEqual({ id: 'abc', nested: { 'created-at': '2024' } });
    expect(ok.actionLogs).toEqual(['setting results']);
    const failed = await ctx.run(on.action('fail', { message: 'no image yet' }), state());
    expect(failed.exitCode).toBe(0);
    expect(failed.actionFailure).toBe('no image yet');
  });

  it('refuses invalid action-set keys before the tool is called', async () => {
    const out = await ctx.run(on.action('set-results', { results: JSON.stringify({ Bad_Key: 'x' }) }), state(), { expectUncaughtError: true });
    expect(out.actionResults).toEqual({});
    expect(out.actionFailure).toMatch(/invalid action result key "Bad_Key"/);
  });

  it('refuses to defer an action', async () => {
    const out = await ctx.run(on.action('try-defer'), state(), { expectUncaughtError: true });
    expect(out.actionFailure).toMatch(/cannot be deferred/);
    expect(out.state.deferred).toEqual([]);
  });

  it('treats an unobserved event as a successful no-op, and refuses an undeclared one before running', async () => {
    const web = relation('web-api');
    const out = await ctx.run(on.relation('joined', web), state({ relations: [web] }));
    expect(out.exitCode).toBe(0);
    expect(out.unitStatusHistory).toEqual([]);
    // Juju never dispatches an event the charm does not declare (the consistency check).
    await expect(ctx.run(on.custom('nobody_knows_me'), state())).rejects.toThrow(/event "nobody_knows_me" \(hooks\/nobody_knows_me\) is not a Juju event/);
  });

  it('skips status-set when the status is what this unit last set', async () => {
    const first = await ctx.run(on.configChanged(), state({ config: baseConfig }));
    expect(first.unitStatusHistory).toEqual([{ status: 'active', message: 'greeting hello' }]);
    const again = await ctx.run(on.configChanged(), first.state);
    expect(again.unitStatusHistory).toEqual([]);
  });

  it('keeps the memory of a status set by a hook that then failed (Juju does not roll status back)', async () => {
    const failing = await ctx.run(on.configChanged(), state({ config: { ...baseConfig, greeting: 'hi', 'fail-on': 'x' } }));
    expect(failing.exitCode).toBe(0);
    const crash = await ctx.run(on.configChanged(), { ...failing.state, config: { ...baseConfig, greeting: 'boom', 'fail-on': 'config_changed' } }, { expectUncaughtError: true });
    expect(crash.exitCode).toBe(1);
    expect(crash.unitStatusHistory).toEqual([{ status: 'active', message: 'greeting boom' }]);
    const after = await ctx.run(on.configChanged(), { ...crash.state, config: { ...baseConfig, greeting: 'boom' } });
    expect(after.unitStatusHistory).toEqual([]);
  });

  it('refuses config values whose type does not match config.yaml', async () => {
    const out = await ctx.run(on.configChanged(), state({ config: { ...baseConfig, count: 'three' as unknown as number } }), { expectUncaughtError: true });
    expect(out.exitCode).toBe(1);
    expect(out.logs.find((l) => l.level === 'ERROR')?.message).toMatch(/config option "count" is declared int in config.yaml but Juju gave "three"/);
  });
});
