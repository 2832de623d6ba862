// The stand-in hook tools and the context runner, driven directly: transactions, Juju's exact
// error texts and exit codes, faithful call records, the machine lock, and dispatch's env.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { waitsForLock } from '../support/locks.js';
import { cleanupUnits, testUnit } from './helpers.js';

afterAll(cleanupUnits);

describe('transactions', () => {
  it('commits relation data and charm state on exit 0, discards them otherwise; status sticks either way', async () => {
    const u = testUnit();
    const failed = await u.sh(`relation-set -r image:1 --file - <<'EOF'
{"image_id": "img-1", "n": 2}
EOF
state-set k=v
relation-get --format=json -r image:1 - github-runner-image-builder/0
status-set --application=False maintenance -- 'building'
exit 1`);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('{"image_id":"img-1","n":"2"}\n'); // own changes visible in the same context
    expect(u.relations()['image:1']!['local-unit']).toEqual({});
    expect(u.charmState()).toEqual({});
    expect(u.unitStatus()).toEqual({ status: 'maintenance', message: 'building' });

    const ok = await u.sh(`printf '{"image_id":"img-2"}' | relation-set -r 1 --file - && relation-set -r image:1 --app extra=1 && state-set k=v`);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(u.relations()['image:1']).toMatchObject({ 'local-unit': { image_id: 'img-2' }, 'local-app': { extra: '1' } });
    expect(u.charmState()).toEqual({ k: 'v' });

    // stdin from Node is a socket, which cannot be reopened as /dev/stdin
    const fromNode = await u.sh('relation-set -r image:1 --file -', [], '{"from":"node"}');
    expect(fromNode).toMatchObject({ code: 0, stderr: '' });
    expect(u.relations()['image:1']!['local-unit']).toEqual({ image_id: 'img-2', from: 'node' });
    expect(u.allCalls().at(-1)).toMatchObject({ tool: 'relation-set', stdin: '{"from":"node"}' });

    const del = await u.sh(`relation-set -r image:1 image_id= from= other=x`);
    expect(del.code).toBe(0);
    expect(u.relations()['image:1']!['local-unit']).toEqual({ other: 'x' });
  });

  it('reads relations, config and leadership in the formats ops uses', async () => {
    const u = testUnit();
    const r = await u.sh(`relation-ids image --format=json; relation-list --format=json -r image:1; relation-list --format=json --app -r image:1
relation-get --format=json -r image:1 - github-runner/0; relation-get --format=json -r image:1 --app - github-runner/0
config-get --format=json; is-leader --format=json; is-leader; status-get --include-data --format=json --application=false`);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([
      '["image:1"]',
      '["github-runner/0"]',
      '"github-runner"',
      '{"hello":"remote"}',
      '{}',
      '{"base-image":"noble","interval":6}',
      'true',
      'True',
      '{"message":"","status":"unknown","status-data":{}}',
      '',
    ]);
  });
});

describe("Juju's errors", () => {
  it('exits 2 for usage errors and 1 for run-time errors, with ERROR <message> on stderr', async () => {
    const u = testUnit({ leader: false });
    const r = await u.sh(`
relation-get --format=json -r image:9 - github-runner/0; echo "rc=$?"
relation-list -r db:x; echo "rc=$?"
status-set bogus -- hi; echo "rc=$?"
status-set --application=True active -- hi; echo "rc=$?"
echo '{"k":"v"}' | relation-set -r image:1 --app --file -; echo "rc=$?"
action-get --format=json; echo "rc=$?"
config-get --bogus; echo "rc=$?"
relation-set -r image:1 novalue; echo "rc=$?"`);
    expect(r.stdout).toBe(['rc=2', 'rc=2', 'rc=2', 'rc=1', 'rc=1', 'rc=1', 'rc=2', 'rc=2', ''].join('\n'));
    expect(r.stderr.split('\n')).toEqual([
      'ERROR invalid value "image:9" for option -r: relation not found',
      'ERROR invalid value "db:x" for option -r: invalid relation id',
      'ERROR invalid status "bogus", expected one of [maintenance blocked waiting active]',
      'ERROR this unit is not the leader',
      'ERROR cannot write relation settings',
      'ERROR not running an action',
      'ERROR flag provided but not defined: --bogus',
      'ERROR expected "key=value", got "novalue"',
      '',
    ]);
  });

  it('validates action-set keys like Juju and merges dotted keys into nested results', async () => {
    const u = testUnit();
    const r = await u.sh(
      `action-set stdout=x; echo "rc=$?"; action-set Foo=1; echo "rc=$?"; action-set foo; echo "rc=$?"; action-set foo..bar=1; echo "rc=$?"
action-set foo.bar=2 foo.baz=1 5-o-0=x && action-set foo.bar=3 && action-log -- "step one" && action-fail -- "nope"`,
      ['JUJU_ACTION_NAME=get-latest', 'JUJU_ACTION_UUID=7'],
    );
    expect(r.stdout).toBe('rc=2\nrc=2\nrc=2\nrc=2\n');
    expect(r.stderr.split('\n').slice(0, 4)).toEqual([
      'ERROR cannot set reserved action key "stdout"',
      'ERROR key "Foo" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods',
      'ERROR argument "foo" must be of the form key...=value',
      'ERROR key "" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods',
    ]);
    const action = path.join(u.jujuDir, 'action');
    expect(JSON.parse(readFileSync(path.join(action, 'results.json'), 'utf8'))).toEqual({ foo: { bar: '3', baz: '1' }, '5-o-0': 'x' });
    expect(readFileSync(path.join(action, 'failed'), 'utf8')).toBe('nope');
    expect(readFileSync(path.join(action, 'logs.jsonl'), 'utf8')).toContain('"message":"step one"');
  });

  it('writes -o FILE relative to the cwd; a NODE_OPTIONS preload in the hook env does not reach the tools', async () => {
    const u = testUnit();
    const out = path.join(u.dir, 'cfg.json');
    const r = await u.sh(`config-get --format=json -o '${out}' && is-leader`, ['NODE_OPTIONS=--require=/nonexistent/preload.cjs']);
    expect(r).toMatchObject({ code: 0, stdout: 'True\n', stderr: '' });
    expect(readFileSync(out, 'utf8')).toBe('{"base-image":"noble","interval":6}\n');
  });

  it('refuses a tool call from outside the running context', async () => {
    const u = testUnit();
    const r = await u.sh(`JUJU_CONTEXT_ID=stale is-leader; echo "rc=$?"`);
    expect(r.stdout).toBe('rc=1\n');
    expect(r.stderr).toMatch(/^ERROR bad request: expected context id ".*-run-commands-\d+", got "stale"\n$/);
  });
});

describe('calls.jsonl', () => {
  it('records argv and stdin exactly: spaces, quotes, newlines, $(...) and a leading dash', async () => {
    const u = testUnit();
    const tricky = `it's "quoted" $(rm -rf /) \`x\` \\ end\nsecond line`;
    const r = await u.sh(`status-set --application=False active -- "$MSG"; printf %s "$MSG" | relation-set -r image:1 --file -; juju-log --log-level WARNING -- "-$MSG"`, [`MSG=${tricky}`]);
    expect(r.stderr).toMatch(/^ERROR yaml: /); // the text is not a YAML map: relation-set fails, the others succeed
    const calls = u.allCalls();
    expect(calls.map((c) => [c.tool, c.argv, c.stdin])).toEqual([
      ['status-set', ['--application=False', 'active', '--', tricky], null],
      ['relation-set', ['-r', 'image:1', '--file', '-'], tricky],
      ['juju-log', ['--log-level', 'WARNING', '--', `-${tricky}`], null],
    ]);
    expect(new Set(calls.map((c) => c.context)).size).toBe(1);
    expect(u.unitStatus().message).toBe(tricky);
    expect(u.allLogs()).toEqual([{ level: 'WARNING', message: `-${tricky}`, context: calls[0]!.context }]);
  });
});

describe('the machine lock', () => {
  it('runs one context at a time', async () => {
    const u = testUnit();
    const log = path.join(u.dir, 'lock.log');
    const release = path.join(u.dir, 'release');
    // Each context holds the lock until the test releases it, once the other waits for the lock.
    const body = (n: number) => `echo "start ${n}" >> '${log}'; while [ ! -e '${release}' ]; do sleep 0.05; done; echo "end ${n}" >> '${log}'`;
    const both = Promise.all([u.sh(body(1)), u.sh(body(2))]);
    await eventually('one context to run and the other to wait for the machine lock', () => existsSync(log) && waitsForLock(path.join(u.jujuDir, 'machine-lock')));
    expect(readFileSync(log, 'utf8').trim().split('\n'), 'one context at a time').toHaveLength(1);
    writeFileSync(release, '');
    const [a, b] = await both;
    expect([a.code, b.code]).toEqual([0, 0]);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['start', 'end', 'start', 'end']);
    expect(lines[0]!.split(' ')[1]).toBe(lines[1]!.split(' ')[1]);
  });
});

describe('SimUnit.dispatch', () => {
  it('sets the env Juju sets for a relation hook, with the unit env and a fresh context', async () => {
    const u = testUnit({ proxy: { http: 'http://squid:3128' } });
    const r = await u.dispatch('image-relation-joined');
    expect(r.code).toBe(0);
    const env = u.lastEnv();
    expect(env).toMatchObject({
      JUJU_DISPATCH_PATH: 'hooks/image-relation-joined',
      JUJU_HOOK_NAME: 'image-relation-joined',
      JUJU_RELATION: 'image',
      JUJU_RELATION_ID: 'image:1',
      JUJU_REMOTE_APP: 'github-runner',
      JUJU_REMOTE_UNIT: 'github-runner/0',
      JUJU_UNIT_NAME: 'github-runner-image-builder/0',
      JUJU_MODEL_NAME: 'test-model',
      JUJU_CHARM_DIR: u.charmDir,
      JUJU_CHARM_HTTP_PROXY: 'http://squid:3128',
      JUJU_CHARM_NO_PROXY: '',
      JUJU_CONTEXT_ID: r.contextId,
      FAKE_HOST_DIR: u.hostDir,
    });
    expect(env.JUJU_DEPARTING_UNIT).toBeUndefined();
    expect(env.PWD).toBe(u.charmDir);
    expect(env.PATH!.split(':').slice(0, 2)).toEqual([path.resolve(import.meta.dirname, '../fakes/hook-tools'), u.hostBin]);
  });

  it('runs actions with params and reports results; runs a legacy hook without JUJU_DISPATCH_PATH', async () => {
    const u = testUnit();
    const act = await u.dispatch({ action: 'get-latest', params: { x: 1 } });
    expect(u.lastEnv()).toMatchObject({ JUJU_DISPATCH_PATH: 'actions/get-latest', JUJU_HOOK_NAME: '', JUJU_ACTION_NAME: 'get-latest', JUJU_ACTION_UUID: '1', JUJU_ACTION_TAG: 'action-1' });
    expect(act).toMatchObject({ code: 0, actionResults: {}, actionLogs: [], actionFailed: undefined });
    expect(JSON.parse(readFileSync(path.join(u.jujuDir, 'action/params.json'), 'utf8'))).toEqual({ x: 1 });

    const legacy = await u.dispatch('install', { executable: 'dispatch', unsetEnv: ['JUJU_DISPATCH_PATH'], env: { EXIT_WITH: '3' } });
    expect(legacy.code).toBe(3);
    expect(u.lastEnv().JUJU_DISPATCH_PATH).toBeUndefined();
    expect(u.lastEnv().EXIT_WITH).toBe('3');
  });
});

describe('secrets', () => {
  it('SimUnit adds, updates, grants, revokes and removes user secrets, and the stand-in secret-get follows them', async () => {
    const u = testUnit();
    const id = u.addUserSecret({ password: 'one' });
    const key = id.replace('secret:', '');
    expect(id).toMatch(/^secret:[0-9a-v]{19}[0g]$/);
    expect(u.secrets()[key]).toEqual({ revisions: { '1': { password: 'one' } }, grants: [], consumers: {} });
    expect(await u.sh(`secret-get ${id} --format=json`)).toMatchObject({ code: 1, stdout: '', stderr: 'ERROR permission denied\n' });
    expect(u.secretTracking(id)).toBeUndefined();

    u.grantSecret(id);
    expect(await u.sh(`secret-get ${id} --label db --format=json && secret-get ${id} password && secret-get --label db --format=json`)).toMatchObject({
      code: 0,
      stdout: '{"password":"one"}\none\n{"password":"one"}\n',
      stderr: '',
    });
    // as in Juju, the first argument is always the URI: a key needs one
    expect((await u.sh('secret-get --label db password')).stderr).toBe('ERROR secret URI "password" not valid\n');
    expect(u.secretTracking(id)).toEqual({ revision: 1, label: 'db' });

    expect(u.updateSecret(id, { password: 'two' })).toBe(2);
    const r = await u.sh(`secret-get --label db; secret-get ${id} --peek; secret-get ${id}; secret-get ${id} --refresh; exit 3`);
    expect(r).toMatchObject({ code: 3, stdout: 'password: one\npassword: two\npassword: one\npassword: two\n', stderr: '' });
    // tracking is the controller's, taken at once: a failed context does not roll it back
    expect(u.secretTracking(id)).toEqual({ revision: 2, label: 'db' });

    u.revokeSecret(id);
    expect(u.secrets()[key]!.grants).toEqual([]);
    expect((await u.sh('secret-get --label db')).stderr).toBe('ERROR permission denied\n');
    u.removeSecret(id);
    expect(await u.sh(`secret-get ${id}`)).toMatchObject({ code: 1, stderr: `ERROR secret "${id}" not found\n` });
    expect(u.secrets()).toEqual({});
    expect(() => u.updateSecret(id, { password: 'x' })).toThrow(`no secret ${id} in the model`);
  });

  it('addSecret takes the in-memory State shape: owned secrets, tracked revisions, labels, grants', async () => {
    const u = testUnit({ secrets: [{ id: 'secret:cq8gl6vmp25c77o6ej50', revisions: [{ token: 'a1' }, { token: 'a2' }], owner: 'app', label: 'mine' }] });
    const consumed = u.addSecret({ revisions: [{ token: 'b1' }, { token: 'b2' }], tracked: 1, label: 'theirs' });
    expect(u.secrets()).toEqual({
      cq8gl6vmp25c77o6ej50: { owner: { kind: 'application', name: 'github-runner-image-builder' }, revisions: { '1': { token: 'a1' }, '2': { token: 'a2' } }, grants: ['github-runner-image-builder'], consumers: {}, label: 'mine' },
      [consumed.replace('secret:', '')]: { revisions: { '1': { token: 'b1' }, '2': { token: 'b2' } }, grants: ['github-runner-image-builder'], consumers: { 'github-runner-image-builder/0': { revision: 1, label: 'theirs' } } },
    });
    const r = await u.sh(`secret-get --label mine --format=json && secret-get ${consumed} token && secret-info-get --label mine --format=json`);
    expect(r).toMatchObject({ code: 0, stdout: '{"token":"a2"}\nb1\n{"cq8gl6vmp25c77o6ej50":{"revision":2,"label":"mine","owner":"application"}}\n', stderr: '' });
  });

  it('dispatch sets JUJU_SECRET_ID, JUJU_SECRET_LABEL (the unit\'s label) and, for remove and expired, JUJU_SECRET_REVISION', async () => {
    const u = testUnit();
    const id = u.addSecret({ revisions: [{ token: 'a' }, { token: 'b' }], tracked: 1, label: 'db' });
    const pick = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('JUJU_SECRET_') || k === 'JUJU_DISPATCH_PATH'));
    expect((await u.dispatch('secret-changed', { secret: { id } })).code).toBe(0);
    expect(pick(u.lastEnv())).toEqual({ JUJU_DISPATCH_PATH: 'hooks/secret-changed', JUJU_SECRET_ID: id, JUJU_SECRET_LABEL: 'db' });
    const owned = u.addSecret({ revisions: [{ token: 'a' }, { token: 'b' }, { token: 'c' }], owner: 'unit' });
    await u.dispatch('secret-remove', { secret: { id: owned, revision: 1 } });
    expect(pick(u.lastEnv())).toEqual({ JUJU_DISPATCH_PATH: 'hooks/secret-remove', JUJU_SECRET_ID: owned, JUJU_SECRET_LABEL: '', JUJU_SECRET_REVISION: '1' });
    await u.dispatch('secret-expired', { secret: { id: owned } });
    expect(pick(u.lastEnv())).toMatchObject({ JUJU_SECRET_REVISION: '3' });
    await expect(u.dispatch('secret-rotate')).rejects.toThrow(/say which secret/);
  });
});
