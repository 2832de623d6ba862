// ProcessBackend builds exactly the argv Juju's tools take (docs/juju-hook-contract.md §4)
// and turns tool failures into errors that name the tool, its arguments, exit code and stderr.
import { describe, expect, it } from 'vitest';
import { HookToolError, ProcessBackend, RelationDataAccessError, RelationNotFoundError, SecretNotFoundError, SecretPermissionError, type ToolCall, type ToolResult, type ToolRunner } from '../../src/ops/index.js';

class TableRunner implements ToolRunner {
  calls: { argv: string[]; input?: string }[] = [];
  constructor(private readonly answer: (call: ToolCall) => Partial<ToolResult> = () => ({})) {}
  run(call: ToolCall): ToolResult {
    this.calls.push({ argv: [call.tool, ...call.args], ...(call.input !== undefined ? { input: call.input } : {}) });
    return { code: 0, stdout: '', stderr: '', ...this.answer(call) };
  }
}

const stdoutFor: Record<string, string> = {
  'config-get': '{"interval":6}',
  'status-get': '{"message":"m","status":"active","status-data":{}}',
  'is-leader': 'true',
  'action-get': '{"a":"b"}',
  'relation-ids': '["image:1","image:2"]',
  'relation-list': '["runner/0"]',
  'relation-get': '{"id":"x"}',
  'secret-get': '{"password":"p"}',
  'secret-info-get': '{"cq8gl6vmp25c77o6ej50":{"revision":2,"label":"db","owner":"application"}}',
};
const SID = 'secret:cq8gl6vmp25c77o6ej50';

const table: [string, (b: ProcessBackend) => unknown, string[], string?][] = [
  ['config-get', (b) => b.configGet(), ['config-get', '--format=json']],
  ['status-set unit', (b) => b.statusSet('blocked', 'fix -x', false), ['status-set', '--application=False', 'blocked', '--', 'fix -x']],
  ['status-set app, empty message', (b) => b.statusSet('active', '', true), ['status-set', '--application=True', 'active', '--', '']],
  ['status-get', (b) => b.statusGet(false), ['status-get', '--include-data', '--format=json', '--application=false']],
  ['juju-log', (b) => b.jujuLog('WARNING', '-starts with dash'), ['juju-log', '--log-level', 'WARNING', '--', '-starts with dash']],
  ['is-leader', (b) => b.isLeader(), ['is-leader', '--format=json']],
  ['action-get', (b) => b.actionGet(), ['action-get', '--format=json']],
  ['action-set', (b) => b.actionSet({ id: 'i-1', 'image.created-at': 'now' }), ['action-set', 'id=i-1', 'image.created-at=now']],
  ['action-log', (b) => b.actionLog('working'), ['action-log', '--', 'working']],
  ['action-fail', (b) => b.actionFail('no image'), ['action-fail', '--', 'no image']],
  ['relation-ids', (b) => b.relationIds('image'), ['relation-ids', 'image', '--format=json']],
  ['relation-list', (b) => b.relationList('image:1'), ['relation-list', '--format=json', '-r', 'image:1']],
  ['relation-list --app', (b) => b.relationRemoteApp('image:1'), ['relation-list', '--format=json', '--app', '-r', 'image:1']],
  ['relation-get unit', (b) => b.relationGet('image:1', 'runner/0', false), ['relation-get', '--format=json', '-r', 'image:1', '-', 'runner/0']],
  ['relation-get app', (b) => b.relationGet('image:1', 'runner/0', true), ['relation-get', '--format=json', '-r', 'image:1', '--app', '-', 'runner/0']],
  ['relation-set unit', (b) => b.relationSet('image:1', { id: 'x' }, false), ['relation-set', '-r', 'image:1', '--file', '-'], '{"id":"x"}'],
  ['relation-set app', (b) => b.relationSet('image:1', { k: 'v' }, true), ['relation-set', '-r', 'image:1', '--app', '--file', '-'], '{"k":"v"}'],
  ['application-version-set', (b) => b.applicationVersionSet('1.2'), ['application-version-set', '--', '1.2']],
  ['secret-get by id', (b) => b.secretGet({ id: SID }), ['secret-get', SID, '--format=json']],
  ['secret-get by id, setting the label', (b) => b.secretGet({ id: SID, label: 'db' }), ['secret-get', SID, '--label', 'db', '--format=json']],
  ['secret-get by label', (b) => b.secretGet({ label: 'db' }), ['secret-get', '--label', 'db', '--format=json']],
  ['secret-get --peek', (b) => b.secretGet({ id: SID, label: 'db' }, 'peek'), ['secret-get', SID, '--label', 'db', '--peek', '--format=json']],
  ['secret-get --refresh', (b) => b.secretGet({ id: SID }, 'refresh'), ['secret-get', SID, '--refresh', '--format=json']],
  ['secret-info-get by id', (b) => b.secretInfoGet({ id: SID, label: 'ignored when there is an id' }), ['secret-info-get', SID, '--format=json']],
  ['secret-info-get by label', (b) => b.secretInfoGet({ label: 'db' }), ['secret-info-get', '--label', 'db', '--format=json']],
];

describe('ProcessBackend argv', () => {
  it.each(table)('%s', (_name, call, argv, input) => {
    const runner = new TableRunner((c) => ({ stdout: stdoutFor[c.tool] ?? '' }));
    call(new ProcessBackend(runner));
    expect(runner.calls).toEqual([{ argv, input: input ?? undefined }].map((c) => (c.input === undefined ? { argv: c.argv } : c)));
  });

  it('parses tool output', () => {
    const b = new ProcessBackend(new TableRunner((c) => ({ stdout: stdoutFor[c.tool] ?? '' })));
    expect(b.configGet()).toEqual({ interval: 6 });
    expect(b.isLeader()).toBe(true);
    expect(b.statusGet(false)).toEqual({ status: 'active', message: 'm' });
    expect(b.relationIds('image')).toEqual(['image:1', 'image:2']);
    expect(b.relationGet('image:1', 'runner/0', false)).toEqual({ id: 'x' });
    expect(b.secretGet({ id: SID })).toEqual({ password: 'p' });
    expect(b.secretInfoGet({ id: SID })).toEqual({ id: 'cq8gl6vmp25c77o6ej50', revision: 2, label: 'db', owner: 'application' });
  });

  it('does not call action-set with no results', () => {
    const runner = new TableRunner();
    new ProcessBackend(runner).actionSet({});
    expect(runner.calls).toEqual([]);
  });
});

describe('ProcessBackend errors', () => {
  it('maps "relation not found" to RelationNotFoundError naming tool, args, code and stderr', () => {
    const runner = new TableRunner(() => ({ code: 2, stderr: 'ERROR invalid value "image:9" for option -r: relation not found\n' }));
    const err = (() => {
      try {
        new ProcessBackend(runner).relationList('image:9');
      } catch (e) {
        return e as RelationNotFoundError;
      }
    })();
    expect(err).toBeInstanceOf(RelationNotFoundError);
    expect(err!.message).toBe('hook tool `relation-list --format=json -r image:9` exited with code 2: ERROR invalid value "image:9" for option -r: relation not found');
    expect(err!.exitCode).toBe(2);
  });

  it('reports other failures as HookToolError', () => {
    const runner = new TableRunner(() => ({ code: 1, stderr: 'ERROR this unit is not the leader\n' }));
    expect(() => new ProcessBackend(runner).statusSet('active', 'x', true)).toThrow(
      /^hook tool `status-set --application=True active -- x` exited with code 1: ERROR this unit is not the leader$/,
    );
    expect(() => new ProcessBackend(runner).statusSet('active', 'x', true)).not.toThrow(RelationNotFoundError);
  });

  it('never puts relation data (stdin) in the error', () => {
    const runner = new TableRunner(() => ({ code: 1, stderr: 'ERROR cannot write relation settings\n' }));
    try {
      new ProcessBackend(runner).relationSet('image:1', { password: 'canary-secret' }, true);
      expect.unreachable();
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('canary-secret');
      expect(e).toBeInstanceOf(HookToolError);
    }
  });

  it('says when a tool cannot be started at all', () => {
    const runner = new TableRunner(() => ({ code: null, spawnError: 'ENOENT' }));
    expect(() => new ProcessBackend(runner).isLeader()).toThrow(/`is-leader --format=json` could not be started \(ENOENT\)/);
  });

  it('says when a tool prints something that is not JSON', () => {
    const runner = new TableRunner(() => ({ stdout: 'True' }));
    expect(() => new ProcessBackend(runner).isLeader()).toThrow(/printed output that is not JSON/);
  });
});

describe('ProcessBackend secret errors', () => {
  const CANARY = 'canary-7f3a9c-do-not-leak';
  const failing = (code: number | null, stderr: string, stdout = '') => new ProcessBackend(new TableRunner(() => ({ code, stderr, stdout })));
  const caught = (fn: () => unknown): Error => {
    try {
      fn();
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected a throw');
  };

  it('maps "not found" from a secret tool to SecretNotFoundError naming the id', () => {
    const err = caught(() => failing(1, `ERROR secret "${SID}" not found\n`).secretGet({ id: SID }));
    expect(err).toBeInstanceOf(SecretNotFoundError);
    expect(err).toBeInstanceOf(HookToolError);
    expect(err.message).toBe(`hook tool \`secret-get ${SID} --format=json\` exited with code 1: ERROR secret "${SID}" not found`);
    expect(caught(() => failing(1, 'ERROR consumer label "db" not found\n').secretGet({ label: 'db' }))).toBeInstanceOf(SecretNotFoundError);
    expect(caught(() => failing(1, 'ERROR secret key value "x" not found\n').secretGet({ id: SID }))).toBeInstanceOf(SecretNotFoundError);
    expect(caught(() => failing(1, 'ERROR secret "cq8gl6vmp25c77o6ej50" not found\n').secretInfoGet({ id: SID }))).toBeInstanceOf(SecretNotFoundError);
  });

  it('maps "permission denied" from a secret tool to SecretPermissionError', () => {
    const err = caught(() => failing(1, 'ERROR permission denied\n').secretGet({ id: SID, label: 'db' }, 'refresh'));
    expect(err).toBeInstanceOf(SecretPermissionError);
    expect(err.message).toBe(`hook tool \`secret-get ${SID} --label db --refresh --format=json\` exited with code 1: ERROR permission denied`);
    // relation-get's "permission denied" (the app bag by a non-leader) is a RelationDataAccessError, not a secret error
    const rel = caught(() => failing(1, 'ERROR permission denied\n').relationGet('image:1', 'me/0', true));
    expect(rel.constructor).toBe(RelationDataAccessError);
  });

  it('maps relation-set\'s "cannot write relation settings" and relation-get\'s "permission denied" to RelationDataAccessError', () => {
    const set = caught(() => failing(1, 'ERROR cannot write relation settings\n').relationSet('cluster:0', { a: 'b' }, true));
    expect(set).toBeInstanceOf(RelationDataAccessError);
    expect(set).toBeInstanceOf(HookToolError);
    expect(set.message).toBe('hook tool `relation-set -r cluster:0 --app --file -` exited with code 1: ERROR cannot write relation settings');
    expect(caught(() => failing(1, 'ERROR permission denied\n').relationList('image:1')).constructor).toBe(HookToolError);
  });

  it('keeps other secret-get failures HookToolErrors (usage, a tool that cannot start)', () => {
    expect(caught(() => failing(2, 'ERROR secret URI "x" not valid\n').secretGet({ id: 'x' })).constructor).toBe(HookToolError);
    expect(caught(() => new ProcessBackend(new TableRunner(() => ({ code: null, spawnError: 'ENOENT' }))).secretGet({ id: SID })).constructor).toBe(HookToolError);
  });

  it("never puts secret-get's stdout (the content) in an error", () => {
    const errors = [
      // exits non-zero after printing
      caught(() => failing(1, 'ERROR something went wrong\n', `{"password":"${CANARY}"}`).secretGet({ id: SID })),
      // not JSON
      caught(() => failing(0, '', `password: ${CANARY}`).secretGet({ id: SID })),
      // JSON, but not an object of strings
      caught(() => failing(0, '', `["${CANARY}"]`).secretGet({ id: SID })),
      caught(() => failing(0, '', `{"password":{"nested":"${CANARY}"}}`).secretGet({ id: SID })),
    ];
    expect(errors.slice(1).map((e) => e.message)).toEqual([
      `hook tool \`secret-get ${SID} --format=json\` printed output that is not a JSON object of strings (${`password: ${CANARY}`.length} bytes)`,
      expect.stringMatching(/printed output that is not a JSON object of strings \(\d+ bytes\)$/),
      expect.stringMatching(/printed output that is not a JSON object of strings \(\d+ bytes\)$/),
    ]);
    for (const e of errors) {
      expect(e).toBeInstanceOf(HookToolError);
      expect(e.message).not.toContain(CANARY);
      expect(String(e.stack)).not.toContain(CANARY);
      expect(JSON.stringify(e)).not.toContain(CANARY);
      expect(e.cause).toBeUndefined();
    }
  });
});
