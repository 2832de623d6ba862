// The framework as Juju runs it: the real `dispatch` executable as a subprocess, in a charm
// directory laid out like the packed charm, with stand-in hook tools that follow Juju's
// contract. Assertions are on the wire: tool argv, exit codes, committed relation data.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRecorderCharmDir } from '../support/charm-dir.js';
import { charmUnits } from '../support/charm-units.js';
import type { SimUnit } from '../support/juju.js';

const newUnit = charmUnits({ beforeAll, afterAll }, buildRecorderCharmDir);
let charmDir: string;

const config = { 'defer-config-changed': false, 'fail-on': '', greeting: 'hello', count: 1 };
/** A fresh unit with its own copy of the charm dir (the unit state file lives there). */
function unit(): SimUnit {
  const u = newUnit({ config });
  charmDir = u.charmDir;
  return u;
}
const seen = (dir: string): string[] => JSON.parse(readFileSync(path.join(dir, '.unit-state.json'), 'utf8')).stored.recorder.seen;

describe('dispatch as a subprocess', () => {
  it('routes install to its handler, runs the nested custom event, and batches juju-log', async () => {
    const u = unit();
    const r = await u.dispatch('install');
    expect(r.code).toBe(0);
    expect(seen(charmDir)).toEqual(['install', 'ping:from-install', 'install-after-ping']);
    // config-get once (from the handler's failure check), logs in one juju-log call per level.
    expect(r.calls.map((c) => c.tool)).toEqual(['config-get', 'juju-log']);
    expect(r.calls.find((c) => c.tool === 'juju-log')!.argv.slice(0, 3)).toEqual(['--log-level', 'DEBUG', '--']);
  });

  it('sets status with the exact argv and reads config once', async () => {
    const u = unit();
    const r = await u.dispatch('config-changed');
    expect(r.code).toBe(0);
    expect(r.calls.filter((c) => c.tool === 'config-get').map((c) => c.argv)).toEqual([['--format=json']]);
    expect(r.calls.filter((c) => c.tool === 'status-set').map((c) => c.argv)).toEqual([['--application=False', 'active', '--', 'greeting hello']]);
    expect(u.unitStatus()).toEqual({ status: 'active', message: 'greeting hello' });
  });

  it('re-emits a deferred event first in the next dispatch, then drops it', async () => {
    const u = unit();
    u.setConfig({ 'defer-config-changed': true });
    expect((await u.dispatch('config-changed')).code).toBe(0);
    // Keyed by the charm class's and the method's own names, though the bundle is minified: a
    // notice written by one build of the charm is found by the next.
    expect(JSON.parse(readFileSync(path.join(charmDir, '.unit-state.json'), 'utf8')).deferred.map((n: { observer: string }) => n.observer)).toEqual(['RecorderCharm/onConfigChanged']);
    u.setConfig({ 'defer-config-changed': false, greeting: 'later' });
    expect((await u.dispatch('update-status')).code).toBe(0);
    expect(seen(charmDir).slice(-3)).toEqual(['config_changed:hello:1', 'config_changed:later:1', 'update_status']);
    expect(JSON.parse(readFileSync(path.join(charmDir, '.unit-state.json'), 'utf8')).deferred).toEqual([]);
  });

  it('rolls back stored state, deferral and relation data when a handler throws, and exits non-zero', async () => {
    const u = unit();
    u.addRelation({ endpoint: 'db', id: 4, app: 'pg', units: ['pg/0'] });
    expect((await u.dispatch('install')).code).toBe(0);
    const before = readFileSync(path.join(charmDir, '.unit-state.json'), 'utf8');
    u.setConfig({ 'fail-on': 'db_relation_joined' });
    const r = await u.dispatch('db-relation-joined', { relation: { endpoint: 'db', id: 4, remoteUnit: 'pg/0' } });
    expect(r.code).toBe(1);
    expect(readFileSync(path.join(charmDir, '.unit-state.json'), 'utf8')).toBe(before);
    expect(u.relations()['db:4']!['local-unit']).toEqual({});
    const error = r.logs.find((l) => l.level === 'ERROR');
    expect(error?.message).toMatch(/handler asked to fail on db_relation_joined/);
    expect(error?.message).toMatch(/\n\s+at /); // with the stack
  });

  it('gives relation handlers the relation, remote app and unit, and commits databag writes', async () => {
    const u = unit();
    u.addRelation({ endpoint: 'db', id: 9, app: 'pg', units: ['pg/0'] });
    const r = await u.dispatch('db-relation-joined', { relation: { endpoint: 'db', id: 9, remoteUnit: 'pg/0' } });
    expect(r.code).toBe(0);
    expect(seen(charmDir).at(-1)).toBe('db_relation_joined:db:9:pg:pg/0:-');
    // Juju deletes a key set to the empty string.
    expect(u.relations()['db:9']!['local-unit']).toEqual({ seen: 'yes' });
    expect(r.calls.find((c) => c.tool === 'relation-set')).toMatchObject({ argv: ['-r', 'db:9', '--file', '-'], stdin: '{"seen":"yes","remote-said":""}' });
  });

  it('reports action results, and refuses invalid keys before action-set is called', async () => {
    const u = unit();
    const ok = await u.dispatch({ action: 'set-results', params: { results: JSON.stringify({ id: 'i-1', 'created-at': 'now' }) } });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('');
    expect(ok.actionResults).toEqual({ id: 'i-1', 'created-at': 'now' });
    const bad = await u.dispatch({ action: 'set-results', params: { results: JSON.stringify({ stdout: 'x' }) } });
    expect(bad.code).toBe(0);
    expect(bad.calls.some((c) => c.tool === 'action-set')).toBe(false);
    expect(bad.actionFailed).toMatch(/reserved by Juju/);
  });

  it('reports a failed action with action-fail and exits 0', async () => {
    const u = unit();
    const r = await u.dispatch({ action: 'fail', params: { message: 'nothing to do' } });
    expect(r.code).toBe(0);
    expect(r.calls.find((c) => c.tool === 'action-fail')?.argv).toEqual(['--', 'nothing to do']);
  });

  it('treats an event the charm does not observe as a successful no-op', async () => {
    const u = unit();
    const r = await u.dispatch('leader-settings-changed');
    expect(r.code).toBe(0);
    expect(r.calls.filter((c) => c.tool !== 'juju-log')).toEqual([]);
  });

  it('runs a legacy hooks/<name> invocation without JUJU_DISPATCH_PATH', async () => {
    const u = unit();
    const r = await u.dispatch('install', { executable: 'hooks/install', unsetEnv: ['JUJU_DISPATCH_PATH'] });
    expect(r.code).toBe(0);
    expect(seen(charmDir).at(-3)).toBe('install');
  });

  it('fires a custom event from hooks/<name> with its data from the environment', async () => {
    const u = unit();
    const r = await u.dispatch('hooks/ping', { env: { PING_DATA: 'exec' } });
    expect(r.code).toBe(0);
    expect(seen(charmDir).at(-1)).toBe('ping:exec');
  });

  it('gives a clear error when a required variable is missing', async () => {
    const u = unit();
    const r = await u.dispatch('install', { unsetEnv: ['JUJU_UNIT_NAME'] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/environment variable JUJU_UNIT_NAME is not set/);
  });

  it('does not dispatch itself recursively', async () => {
    const u = unit();
    const r = await u.dispatch('install', { env: { OPERATOR_DISPATCH: '1' } });
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([]);
    expect(r.stderr).toMatch(/Charm called itself/);
  });
});
