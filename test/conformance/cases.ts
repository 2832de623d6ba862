// The table both Juju simulations must agree on: each case is a starting state, a context, a
// sequence of hook-tool calls with Juju's answers (docs/juju-hook-contract.md §3-§6, §10), and what the
// unit shows afterwards. The framework's calls are spelled by src/ops/hookcmds.ts itself.
import { hookcmds } from '../../src/ops/hookcmds.js';
import type { RelationSpec } from '../support/juju.js';
import { framework as fw, MODEL_UUID, tool, type Case } from './harness.js';

const ok = (stdout = '', stderr = '') => ({ exitCode: 0, stdout, stderr });
const usage = (message: string) => ({ exitCode: 2, stdout: '', stderr: `ERROR ${message}\n` });
const runtime = (message: string) => ({ exitCode: 1, stdout: '', stderr: `ERROR ${message}\n` });

const DB: RelationSpec = {
  endpoint: 'db',
  id: 3,
  app: 'remote',
  units: ['remote/1', 'remote/0'],
  remoteUnits: { 'remote/0': { host: 'db0' } },
  remoteApp: { version: '14' },
  localUnit: { mine: '1' },
  localApp: { shared: 'y' },
};
/** The peer relation of unit tester/0: the application's other units, one application databag. */
const PEERS: RelationSpec = {
  endpoint: 'cluster',
  id: 7,
  app: 'tester',
  units: ['tester/2', 'tester/1'],
  remoteUnits: { 'tester/1': { addr: 'a1' } },
  localUnit: { addr: 'a0' },
  localApp: { token: 't' },
};
const WEB: RelationSpec = { endpoint: 'web', id: 5, app: 'browser', units: ['browser/0'] };
const DB12: RelationSpec = { endpoint: 'db', id: 12, app: 'other', units: ['other/0'] };
const ACTION = { kind: 'action', name: 'do-it', params: { count: 3, opts: { deep: 'x' }, name: 'n' } } as const;
const IN_DB_CHANGED = { kind: 'relation', endpoint: 'db', id: 3, phase: 'changed', remoteUnit: 'remote/0' } as const;
const NOT_IN_ACTION = 'not running an action';
// Secret ids as Juju makes them (xids: 20 base32hex characters, the last one 0 or g).
const S1 = 'secret:cq8gl6vmp25c77o6ej50';
const S2 = 'secret:copp9vfmp25c77di8nm0';
const S3 = 'secret:9m4e2mr0ui3e8a215n4g';
const NOWHERE = 'secret:d0a7rj6oig3c73bv1vog';
const json = (v: unknown) => `${JSON.stringify(v)}\n`;
const ONE = { password: 'hunter-one', user: 'admin' };
const TWO = { password: 'hunter-two', user: 'admin' };
const BAD_KEY = (k: string) => `key "${k}" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods`;

export const CASES: readonly Case[] = [
  // --- config-get --------------------------------------------------------------------------------
  {
    name: 'config-get: every option as JSON (sorted keys), one option, a missing one, smart and yaml',
    config: { b: 'x', a: 1, flag: true, ratio: 0.5 },
    steps: [
      fw(hookcmds.configGet(), ok('{"a":1,"b":"x","flag":true,"ratio":0.5}\n')),
      tool(['config-get', 'a', '--format=json'], ok('1\n')),
      tool(['config-get', 'missing', '--format=json'], ok('null\n')),
      tool(['config-get', 'missing'], ok('')),
      tool(['config-get', 'b'], ok('x\n')),
      tool(['config-get', 'flag'], ok('True\n')),
      tool(['config-get', '--format', 'yaml'], ok('a: 1\nb: x\nflag: true\nratio: 0.5\n')),
    ],
  },
  {
    name: "config-get: Go's JSON escapes <>& ; YAML quotes what would not read back as the string",
    config: { url: 'a<b>&c', yes: 'yes', num: '007', colon: 'a: b', empty: '' },
    steps: [
      tool(['config-get', 'url', '--format=json'], ok('"a\\u003cb\\u003e\\u0026c"\n')),
      tool(['config-get', '--format=yaml'], ok('colon: "a: b"\nempty: ""\nnum: "007"\nurl: a<b>&c\n"yes": "yes"\n')),
    ],
  },
  {
    name: 'config-get: usage errors exit 2',
    config: { a: 1 },
    steps: [
      tool(['config-get', '--all', 'a'], usage('cannot use argument --all together with key "a"')),
      tool(['config-get', '--bogus'], usage('flag provided but not defined: --bogus')),
      tool(['config-get', '-format=json'], usage('flag provided but not defined: -format')),
      tool(['config-get', 'a', 'b'], usage('unrecognized args: ["b"]')),
      tool(['config-get', '--format=xml'], usage('invalid value "xml" for option --format: unknown format "xml"')),
      tool(['config-get', '--format'], usage('flag needs an argument: --format')),
    ],
  },
  // --- is-leader ---------------------------------------------------------------------------------
  {
    name: 'is-leader: the leader',
    leader: true,
    steps: [fw(hookcmds.isLeader(), ok('true\n')), tool(['is-leader'], ok('True\n')), tool(['is-leader', '--format=yaml'], ok('true\n'))],
  },
  {
    name: 'is-leader: a non-leader; arguments are refused',
    leader: false,
    steps: [fw(hookcmds.isLeader(), ok('false\n')), tool(['is-leader'], ok('False\n')), tool(['is-leader', 'x'], usage('unrecognized args: ["x"]'))],
  },
  // --- status-set / status-get -------------------------------------------------------------------
  {
    name: 'status-set then status-get: the unit',
    steps: [
      fw(hookcmds.statusSet('maintenance', 'installing', false), ok()),
      fw(hookcmds.statusGet(false), ok('{"message":"installing","status":"maintenance","status-data":{}}\n')),
      tool(['status-get'], ok('maintenance\n')),
      tool(['status-set', 'active'], ok()),
      tool(['status-get', '--include-data'], ok('message: ""\nstatus: active\nstatus-data: {}\n')),
    ],
    after: {
      unitStatus: { status: 'active', message: '' },
      statusHistory: [
        { application: false, status: 'maintenance', message: 'installing' },
        { application: false, status: 'active', message: '' },
      ],
    },
  },
  {
    name: 'status-set and status-get of the application by the leader (units nested inside)',
    leader: true,
    unitStatus: { status: 'waiting', message: 'for db' },
    steps: [
      fw(hookcmds.statusSet('active', 'ready', true), ok()),
      fw(hookcmds.statusGet(true), ok('{"application-status":{"message":"ready","status":"active","status-data":{},"units":{"tester/0":{"message":"for db","status":"waiting","status-data":{}}}}}\n')),
      tool(['status-get', '--application'], ok('active\n')),
    ],
    after: { appStatus: { status: 'active', message: 'ready' }, unitStatus: { status: 'waiting', message: 'for db' } },
  },
  {
    name: 'application status by a non-leader: exit 1, nothing changes',
    leader: false,
    appStatus: { status: 'active', message: 'fine' },
    steps: [
      fw(hookcmds.statusSet('blocked', 'no', true), runtime('this unit is not the leader')),
      fw(hookcmds.statusGet(true), runtime('finding application status: this unit is not the leader')),
      fw(hookcmds.statusSet('blocked', 'unit only', false), ok()),
    ],
    after: { appStatus: { status: 'active', message: 'fine' }, unitStatus: { status: 'blocked', message: 'unit only' }, statusHistory: [{ application: false, status: 'blocked', message: 'unit only' }] },
  },
  {
    name: 'status-set: usage errors exit 2',
    steps: [
      tool(['status-set', 'bogus', '--', 'hi'], usage('invalid status "bogus", expected one of [maintenance blocked waiting active]')),
      tool(['status-set', 'error'], usage('invalid status "error", expected one of [maintenance blocked waiting active]')),
      tool(['status-set'], usage('invalid args, require <status> [message]')),
      tool(['status-set', 'active', 'a', 'b'], usage('unrecognized args: ["b"]')),
      tool(['status-set', '--format=json', 'active'], usage('flag provided but not defined: --format')),
      tool(['status-set', '--application=maybe', 'active'], usage('invalid value "maybe" for option --application: strconv.ParseBool: parsing "maybe": invalid syntax')),
    ],
    after: { statusHistory: [], unitStatus: { status: 'unknown', message: '' } },
  },
  {
    name: 'status is not rolled back by a failing hook',
    hookExit: 1,
    steps: [fw(hookcmds.statusSet('blocked', 'broken config', false), ok())],
    after: { unitStatus: { status: 'blocked', message: 'broken config' } },
  },
  // --- juju-log ----------------------------------------------------------------------------------
  {
    name: 'juju-log: the levels ops uses, --debug, -l, WARN, and free text after --',
    steps: [
      fw(hookcmds.jujuLog('INFO', 'hello'), ok()),
      fw(hookcmds.jujuLog('WARNING', 'careful\nsecond line'), ok()),
      tool(['juju-log', '--debug', 'a', 'b'], ok()),
      tool(['juju-log', '-l', 'warn', '--', '--not-a-flag'], ok()),
      tool(['juju-log', '--log-level=error', 'x'], ok()),
    ],
    after: {
      logs: [
        { level: 'INFO', message: 'hello' },
        { level: 'WARNING', message: 'careful\nsecond line' },
        { level: 'DEBUG', message: 'a b' },
        { level: 'WARNING', message: '--not-a-flag' },
        { level: 'ERROR', message: 'x' },
      ],
    },
  },
  {
    name: 'juju-log: an unknown level logs a warning and uses INFO; no message is a usage error; --format is deprecated',
    steps: [
      tool(['juju-log', '--log-level', 'LOUD', '--', 'hi'], ok()),
      tool(['juju-log'], usage('no message specified')),
      tool(['juju-log', '--format=json', '--', 'x'], ok('', '--format flag deprecated for command "juju-log"')),
    ],
    after: {
      logs: [
        { level: 'WARNING', message: 'Specified log level of "LOUD" is not valid' },
        { level: 'INFO', message: 'hi' },
        { level: 'INFO', message: 'x' },
      ],
    },
  },
  {
    name: 'juju-log in a relation hook carries the relation (Juju prefixes "db:3: ")',
    relations: [DB],
    context: IN_DB_CHANGED,
    steps: [fw(hookcmds.jujuLog('INFO', 'in relation'), ok())],
    after: { logs: [{ level: 'INFO', message: 'in relation', relation: 'db:3' }] },
  },
  // --- actions -----------------------------------------------------------------------------------
  {
    name: 'action-get: all params, one, a nested one, a missing one, yaml',
    context: ACTION,
    steps: [
      fw(hookcmds.actionGet(), ok('{"count":3,"name":"n","opts":{"deep":"x"}}\n')),
      tool(['action-get', 'count'], ok('3\n')),
      tool(['action-get', 'opts.deep'], ok('x\n')),
      tool(['action-get', 'missing', '--format=json'], ok('null\n')),
      tool(['action-get', 'opts.deep.deeper', '--format=json'], ok('null\n')),
      tool(['action-get', '--format=yaml'], ok('count: 3\nname: "n"\nopts:\n  deep: x\n')),
      tool(['action-get', 'a', 'b'], usage('unrecognized args: ["b"]')),
    ],
  },
  {
    name: 'action-set: dotted keys merge into nested results, later values win',
    context: ACTION,
    steps: [
      fw(hookcmds.actionSet({ 'a.b': '2', 'a.c': '1', id: 'img-1', '500': 'x' }), ok()),
      tool(['action-set', 'a.b=3', 'note=has = sign'], ok()),
    ],
    after: { action: { results: { a: { b: '3', c: '1' }, id: 'img-1', '500': 'x', note: 'has = sign' }, logs: [], failed: null } },
  },
  {
    name: "action-set: Juju's key rules, exit 2, nothing set",
    context: ACTION,
    steps: [
      tool(['action-set', 'stdout=x'], usage('cannot set reserved action key "stdout"')),
      tool(['action-set', 'a.stderr-encoding=x'], usage('cannot set reserved action key "stderr-encoding"')),
      tool(['action-set', 'Foo=1'], usage(BAD_KEY('Foo'))),
      tool(['action-set', 'foo_bar=1'], usage(BAD_KEY('foo_bar'))),
      tool(['action-set', '-foo=1'], usage('flag provided but not defined: -foo')),
      tool(['action-set', 'foo..bar=1'], usage(BAD_KEY(''))),
      tool(['action-set', 'ok=1', 'foo'], usage('argument "foo" must be of the form key...=value')),
    ],
    after: { action: { results: {}, logs: [], failed: null } },
  },
  {
    name: 'action-log and action-fail: messages, the default failure, the last failure wins',
    context: ACTION,
    steps: [
      fw(hookcmds.actionLog('step one'), ok()),
      tool(['action-fail'], ok()),
      fw(hookcmds.actionFail('no image yet'), ok()),
      tool(['action-log'], usage('no message specified')),
      tool(['action-fail', 'a', 'b'], usage('unrecognized args: ["b"]')),
    ],
    after: { action: { results: {}, logs: ['step one'], failed: 'no image yet' } },
  },
  {
    name: 'action-fail with no message: Juju gives the reason',
    context: ACTION,
    steps: [tool(['action-fail'], ok())],
    after: { action: { results: {}, logs: [], failed: 'action failed without reason given, check action for errors' } },
  },
  {
    name: 'action tools outside an action: not running an action (exit 1); bad keys are still usage errors',
    steps: [
      fw(hookcmds.actionGet(), runtime(NOT_IN_ACTION)),
      fw(hookcmds.actionSet({ x: '1' }), runtime(NOT_IN_ACTION)),
      fw(hookcmds.actionLog('x'), runtime(NOT_IN_ACTION)),
      fw(hookcmds.actionFail('x'), runtime(NOT_IN_ACTION)),
      tool(['action-set', 'Bad=1'], usage(BAD_KEY('Bad'))),
    ],
    after: { action: null },
  },
  {
    name: 'action results and logs stay when the action exits non-zero',
    context: ACTION,
    hookExit: 1,
    steps: [fw(hookcmds.actionSet({ partial: 'yes' }), ok()), fw(hookcmds.actionLog('half way'), ok())],
    after: { action: { results: { partial: 'yes' }, logs: ['half way'], failed: null } },
  },
  // --- relation-ids / relation-list --------------------------------------------------------------
  {
    name: 'relation-ids: sorted ids of an endpoint, none, and the usage errors',
    relations: [DB, WEB, DB12],
    steps: [
      fw(hookcmds.relationIds('db'), ok('["db:12","db:3"]\n')),
      fw(hookcmds.relationIds('web'), ok('["web:5"]\n')),
      fw(hookcmds.relationIds('nothing'), ok('[]\n')),
      tool(['relation-ids', 'db'], ok('db:12\ndb:3\n')),
      tool(['relation-ids', 'nothing'], ok('')),
      tool(['relation-ids', '--format=json'], usage('no endpoint name specified')),
      tool(['relation-ids', 'db', 'web'], usage('unrecognized args: ["web"]')),
    ],
  },
  {
    name: "relation-ids and relation-list default to the hook's relation",
    relations: [DB, WEB],
    context: IN_DB_CHANGED,
    steps: [tool(['relation-ids', '--format=json'], ok('["db:3"]\n')), tool(['relation-list', '--format=json'], ok('["remote/0","remote/1"]\n'))],
  },
  {
    name: 'relation-list: remote units (sorted), the remote app, -r spellings',
    relations: [DB],
    steps: [
      fw(hookcmds.relationList('db:3'), ok('["remote/0","remote/1"]\n')),
      fw(hookcmds.relationList('db:3', true), ok('"remote"\n')),
      tool(['relation-list', '-r', '3'], ok('remote/0\nremote/1\n')),
      tool(['relation-list', '--relation=db:3', '--app'], ok('remote\n')),
    ],
  },
  {
    name: 'relation-list: unknown and malformed relation ids, no relation outside a relation hook (exit 2)',
    relations: [DB],
    steps: [
      fw(hookcmds.relationList('db:9'), usage('invalid value "db:9" for option -r: relation not found')),
      tool(['relation-list', '-r', 'db:x'], usage('invalid value "db:x" for option -r: invalid relation id')),
      tool(['relation-list', '--relation', 'db:9'], usage('invalid value "db:9" for option --relation: relation not found')),
      tool(['relation-list', '--format=json'], usage('no relation id specified')),
      tool(['relation-list', '-rdb:3'], usage('flag provided but not defined: -rdb:3')),
      tool(['relation-list', '-r', 'db:3', 'extra'], usage('unrecognized args: ["extra"]')),
    ],
  },
  // --- relation-get ------------------------------------------------------------------------------
  {
    name: 'relation-get: remote unit and app bags, one key, a missing key, an empty bag, yaml',
    relations: [DB],
    steps: [
      fw(hookcmds.relationGet('db:3', 'remote/0', false), ok('{"host":"db0"}\n')),
      fw(hookcmds.relationGet('db:3', 'remote', true), ok('{"version":"14"}\n')),
      fw(hookcmds.relationGet('db:3', 'remote/0', true), ok('{"version":"14"}\n')),
      tool(['relation-get', '--format=json', '-r', 'db:3', 'host', 'remote/0'], ok('"db0"\n')),
      tool(['relation-get', '-r', 'db:3', 'host', 'remote/0'], ok('db0\n')),
      tool(['relation-get', '--format=json', '-r', 'db:3', 'port', 'remote/0'], ok('null\n')),
      tool(['relation-get', '--format=json', '-r', 'db:3', '-', 'remote/1'], ok('{}\n')),
      tool(['relation-get', '--format=yaml', '-r', 'db:3', '-', 'remote/0'], ok('host: db0\n')),
    ],
  },
  {
    name: "relation-get: the leader reads its own unit and app bags",
    leader: true,
    relations: [DB],
    steps: [fw(hookcmds.relationGet('db:3', 'tester/0', false), ok('{"mine":"1"}\n')), fw(hookcmds.relationGet('db:3', 'tester', true), ok('{"shared":"y"}\n'))],
  },
  {
    name: "relation-get: a non-leader cannot read its own app bag (permission denied, exit 1)",
    leader: false,
    relations: [DB],
    steps: [
      fw(hookcmds.relationGet('db:3', 'tester/0', false), ok('{"mine":"1"}\n')),
      fw(hookcmds.relationGet('db:3', 'tester/0', true), runtime('permission denied')),
      fw(hookcmds.relationGet('db:3', 'stranger', true), runtime('permission denied')),
    ],
  },
  {
    name: 'relation-get: unknown unit (exit 1), app name for a unit, bad unit name, no unit, unknown relation (exit 2)',
    relations: [DB],
    steps: [
      fw(hookcmds.relationGet('db:3', 'remote/7', false), runtime('cannot read settings for unit "remote/7" in relation "db:3": settings not found')),
      tool(['relation-get', '-r', 'db:3', '-', 'remote'], usage('expected unit name, got application name "remote"')),
      tool(['relation-get', '-r', 'db:3', '-', 'Remote/0'], usage('invalid unit name "Remote/0"')),
      tool(['relation-get', '-r', 'db:3'], usage('no unit or application specified')),
      tool(['relation-get', '-r', 'db:3', '--app'], usage('no unit or application specified')),
      fw(hookcmds.relationGet('db:9', 'remote/0', false), usage('invalid value "db:9" for option -r: relation not found')),
      tool(['relation-get', '-r', 'db:3', '-', 'remote/0', 'extra'], usage('unrecognized args: ["extra"]')),
      tool(['relation-get', '-', 'remote/0'], usage('no relation id specified')),
    ],
  },
  {
    name: 'relation-get in a relation hook: the remote unit by default, --app the remote app',
    relations: [DB],
    context: IN_DB_CHANGED,
    steps: [
      tool(['relation-get', '--format=json'], ok('{"host":"db0"}\n')),
      tool(['relation-get', '--format=json', '--app'], ok('{"version":"14"}\n')),
      tool(['relation-get', 'host'], ok('db0\n')),
    ],
  },
  // --- peer relations (juju-hook-contract.md §7) -------------------------------------------------
  {
    name: 'peer relation: a non-leader reads the application databag (by application or unit name), the other units and their bags; not its requires app bag',
    leader: false,
    relations: [PEERS, DB],
    steps: [
      fw(hookcmds.relationIds('cluster'), ok('["cluster:7"]\n')),
      fw(hookcmds.relationList('cluster:7'), ok('["tester/1","tester/2"]\n')),
      fw(hookcmds.relationList('cluster:7', true), ok('"tester"\n')),
      fw(hookcmds.relationGet('cluster:7', 'tester', true), ok('{"token":"t"}\n')),
      fw(hookcmds.relationGet('cluster:7', 'tester/0', true), ok('{"token":"t"}\n')),
      fw(hookcmds.relationGet('cluster:7', 'tester/1', true), ok('{"token":"t"}\n')),
      fw(hookcmds.relationGet('cluster:7', 'tester/1', false), ok('{"addr":"a1"}\n')),
      fw(hookcmds.relationGet('cluster:7', 'tester/2', false), ok('{}\n')),
      fw(hookcmds.relationGet('cluster:7', 'tester/0', false), ok('{"addr":"a0"}\n')),
      tool(['relation-get', '-r', 'cluster:7', 'token', 'tester'], usage('expected unit name, got application name "tester"')),
      tool(['relation-get', '-r', 'cluster:7', '--app', 'token', 'tester'], ok('t\n')),
      fw(hookcmds.relationGet('cluster:7', 'tester/3', false), runtime('cannot read settings for unit "tester/3" in relation "cluster:7": settings not found')),
      fw(hookcmds.relationGet('db:3', 'tester', true), runtime('permission denied')),
    ],
  },
  {
    name: 'peer relation: a non-leader writes its unit databag, not the application databag (cannot write relation settings, exit 1)',
    leader: false,
    relations: [PEERS],
    steps: [fw(hookcmds.relationSet('cluster:7', { addr: 'a0b' }, false), ok()), fw(hookcmds.relationSet('cluster:7', { token: 'x' }, true), runtime('cannot write relation settings'))],
    after: { relations: { 'cluster:7': { 'local-unit': { addr: 'a0b' }, 'local-app': { token: 't' } } } },
  },
  {
    name: 'peer relation: the leader writes the application databag and reads its own write',
    leader: true,
    relations: [PEERS],
    steps: [fw(hookcmds.relationSet('cluster:7', { token: '', epoch: '2' }, true), ok()), fw(hookcmds.relationGet('cluster:7', 'tester', true), ok('{"epoch":"2"}\n'))],
    after: { relations: { 'cluster:7': { 'local-unit': { addr: 'a0' }, 'local-app': { epoch: '2' } } } },
  },
  {
    name: 'peer relation: the application databag write of a failed hook is discarded',
    leader: true,
    relations: [PEERS],
    hookExit: 1,
    steps: [fw(hookcmds.relationSet('cluster:7', { epoch: '3' }, true), ok())],
    after: { relations: { 'cluster:7': { 'local-unit': { addr: 'a0' }, 'local-app': { token: 't' } } } },
  },
  {
    name: 'peer relation-changed with JUJU_REMOTE_UNIT empty (an application databag change): relation-get reads the application databag by default',
    leader: false,
    relations: [PEERS],
    context: { kind: 'relation', endpoint: 'cluster', id: 7, phase: 'changed', remoteUnit: '' },
    steps: [
      tool(['relation-get', '--format=json'], ok('{"token":"t"}\n')),
      tool(['relation-get', '--format=json', '--app'], ok('{"token":"t"}\n')),
      tool(['relation-get', 'token'], ok('t\n')),
      tool(['relation-list', '--format=json'], ok('["tester/1","tester/2"]\n')),
      tool(['relation-list', '--app'], ok('tester\n')),
      fw(hookcmds.jujuLog('INFO', 'app bag changed'), ok()),
    ],
    after: { logs: [{ level: 'INFO', message: 'app bag changed', relation: 'cluster:7' }] },
  },
  // --- relation-set ------------------------------------------------------------------------------
  {
    name: "relation-set: the framework's JSON on stdin; the writer sees its own write; committed on exit 0",
    relations: [DB],
    steps: [
      fw(hookcmds.relationSet('db:3', { image_id: 'img-1', 'created-at': '2030' }, false), ok()),
      fw(hookcmds.relationGet('db:3', 'tester/0', false), ok('{"created-at":"2030","image_id":"img-1","mine":"1"}\n')),
    ],
    after: { relations: { 'db:3': { 'local-unit': { mine: '1', image_id: 'img-1', 'created-at': '2030' }, 'local-app': { shared: 'y' } } } },
  },
  {
    name: 'relation-set --app by the leader',
    leader: true,
    relations: [DB],
    steps: [fw(hookcmds.relationSet('db:3', { endpoint: 'x' }, true), ok())],
    after: { relations: { 'db:3': { 'local-unit': { mine: '1' }, 'local-app': { shared: 'y', endpoint: 'x' } } } },
  },
  {
    name: 'relation-set --app by a non-leader: cannot write relation settings (exit 1)',
    leader: false,
    relations: [DB],
    steps: [fw(hookcmds.relationSet('db:3', { endpoint: 'x' }, true), runtime('cannot write relation settings'))],
    after: { relations: { 'db:3': { 'local-unit': { mine: '1' }, 'local-app': { shared: 'y' } } } },
  },
  {
    name: 'relation-set: key=value arguments (trimmed), an empty value deletes, arguments override --file',
    relations: [DB],
    steps: [
      tool(['relation-set', '-r', 'db:3', 'mine=', ' spaced = v ', 'new=v'], ok()),
      tool(['relation-set', '-r', 'db:3', '--file', '-', 'a=from-args'], ok(), '{"a": "from-file", "b": "file"}'),
    ],
    after: { relations: { 'db:3': { 'local-unit': { spaced: 'v', new: 'v', a: 'from-args', b: 'file' }, 'local-app': { shared: 'y' } } } },
  },
  {
    name: 'relation-set --file -: YAML too; null and "" delete; JSON numbers and booleans become strings',
    relations: [DB],
    steps: [
      tool(['relation-set', '-r', 'db:3', '--file', '-'], ok(), "a: 1\nb: 'it''s'\nc: \"q\\\"x\"\n# a comment\nmine:\n"),
      tool(['relation-set', '-r', 'db:3', '--file=-'], ok(), '{"n": 2, "t": true, "a": null}'),
    ],
    after: { relations: { 'db:3': { 'local-unit': { b: "it's", c: 'q"x', n: '2', t: 'true' }, 'local-app': { shared: 'y' } } } },
  },
  {
    name: 'relation-set: what Juju refuses (bad YAML, nested values, duplicate keys, no =, missing file, unknown relation)',
    relations: [DB],
    steps: [
      tool(['relation-set', '-r', 'db:3', '--file', '-'], runtime("yaml: line 1: could not find expected ':'"), 'not yaml'),
      tool(['relation-set', '-r', 'db:3', '--file', '-'], runtime('yaml: unmarshal errors:\n  cannot unmarshal !!map into string'), '{"n": {"x": 1}}'),
      tool(['relation-set', '-r', 'db:3', '--file', '-'], runtime('yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into map[string]string'), '[1, 2]'),
      tool(['relation-set', '-r', 'db:3', 'k=1', 'k=2'], usage('key "k" specified more than once')),
      tool(['relation-set', '-r', 'db:3', 'novalue'], usage('expected "key=value", got "novalue"')),
      tool(['relation-set', '-r', 'db:3', '=v'], usage('expected "key=value", got "=v"')),
      tool(['relation-set', '-r', 'db:3', '--file', '/nonexistent/settings.yaml'], runtime('open /nonexistent/settings.yaml: no such file or directory')),
      fw(hookcmds.relationSet('db:9', { a: 'b' }, false), usage('invalid value "db:9" for option -r: relation not found')),
      tool(['relation-set', 'a=b'], usage('no relation id specified')),
    ],
    after: { relations: { 'db:3': { 'local-unit': { mine: '1' }, 'local-app': { shared: 'y' } } } },
  },
  {
    name: 'relation-set: --format is deprecated but works',
    relations: [DB],
    steps: [tool(['relation-set', '--format=json', '-r', 'db:3', 'x=1'], ok('', '--format flag deprecated for command "relation-set"'))],
    after: { relations: { 'db:3': { 'local-unit': { mine: '1', x: '1' }, 'local-app': { shared: 'y' } } } },
  },
  {
    name: 'relation data is rolled back when the hook fails',
    relations: [DB],
    hookExit: 1,
    steps: [fw(hookcmds.relationSet('db:3', { lost: 'yes' }, false), ok()), fw(hookcmds.relationSet('db:3', { lost: 'too' }, true), ok())],
    after: { relations: { 'db:3': { 'local-unit': { mine: '1' }, 'local-app': { shared: 'y' } } } },
  },
  {
    name: "relation-set in a relation hook writes the hook's relation",
    relations: [DB, DB12],
    context: IN_DB_CHANGED,
    steps: [tool(['relation-set', 'seen=remote/0'], ok())],
    after: { relations: { 'db:3': { 'local-unit': { mine: '1', seen: 'remote/0' }, 'local-app': { shared: 'y' } }, 'db:12': { 'local-unit': {}, 'local-app': {} } } },
  },
  // --- application-version-set -------------------------------------------------------------------
  {
    name: 'application-version-set: takes effect at once, also when the hook fails',
    hookExit: 1,
    steps: [
      fw(hookcmds.applicationVersionSet('1.2.3'), ok()),
      tool(['application-version-set'], usage('no version specified')),
      tool(['application-version-set', 'a', 'b'], usage('unrecognized args: ["b"]')),
    ],
    after: { workloadVersion: '1.2.3' },
  },
  // --- state-get / state-set / state-delete ------------------------------------------------------
  {
    name: 'state-set, state-get and state-delete',
    steps: [
      tool(['state-set', 'a=1', 'b=2'], ok()),
      tool(['state-set', '--file', '-'], ok(), 'c: three\n'),
      tool(['state-get', '--format=json'], ok('{"a":"1","b":"2","c":"three"}\n')),
      tool(['state-get', 'a'], ok('1\n')),
      tool(['state-delete', 'b'], ok()),
      tool(['state-get', 'missing'], ok('')),
      tool(['state-get', '--strict', 'missing'], runtime('key "missing" not found')),
      tool(['state-delete'], usage('specify key')),
      tool(['state-set', `${'k'.repeat(257)}=v`], runtime('key too large: 257 bytes > 256')),
    ],
    after: { charmState: { a: '1', c: 'three' } },
  },
  {
    name: 'charm state is rolled back when the hook fails',
    charmState: { kept: 'yes' },
    hookExit: 1,
    steps: [tool(['state-set', 'lost=1'], ok()), tool(['state-get', 'lost'], ok('1\n'))],
    after: { charmState: { kept: 'yes' } },
  },
  // --- ports -------------------------------------------------------------------------------------
  {
    name: 'open-port and close-port; opened-ports shows what is committed',
    openedPorts: { '443/tcp': ['*'], '53/udp': ['db'] },
    steps: [
      tool(['open-port', '80'], ok()),
      tool(['open-port', '8000-8100/UDP', '--endpoints=web,db'], ok()),
      tool(['open-port', 'icmp'], ok()),
      tool(['close-port', '443/tcp'], ok()),
      tool(['close-port', '53/udp', '--endpoints', 'db'], ok()),
      tool(['opened-ports', '--format=json'], ok('["443/tcp","53/udp"]\n')),
      tool(['opened-ports', '--endpoints'], ok('443/tcp (*)\n53/udp (db)\n')),
    ],
    after: { openedPorts: { '80/tcp': ['*'], '8000-8100/udp': ['db', 'web'], icmp: ['*'] } },
  },
  {
    name: 'open-port: bad ranges and protocols (exit 2); ports are rolled back when the hook fails',
    hookExit: 1,
    steps: [
      tool(['open-port', '0'], usage('port range bounds must be between 1 and 65535, got "0"')),
      tool(['open-port', '90-80'], usage('port range bounds must be between 1 and 65535, got "90-80"')),
      tool(['open-port', '80/sctp'], usage('invalid protocol "sctp", expected "tcp", "udp", or "icmp"')),
      tool(['open-port', 'abc'], usage('invalid port range "abc"')),
      tool(['open-port'], usage('no port or range specified')),
      tool(['open-port', '80'], ok()),
    ],
    after: { openedPorts: {} },
  },
  // --- secret-get / secret-info-get ---------------------------------------------------------------
  {
    name: 'secret-get: the tracked revision by default, --peek the latest once, --refresh the latest from then on',
    secrets: [{ id: S1, revisions: [ONE, TWO], tracked: 1 }],
    steps: [
      fw(hookcmds.secretGet({ id: S1 }), ok(json(ONE))),
      fw(hookcmds.secretGet({ id: S1 }, 'peek'), ok(json(TWO))),
      fw(hookcmds.secretGet({ id: S1 }), ok(json(ONE))),
      fw(hookcmds.secretGet({ id: S1 }, 'refresh'), ok(json(TWO))),
      fw(hookcmds.secretGet({ id: S1 }), ok(json(TWO))),
      tool(['secret-get', S1], ok('password: hunter-two\nuser: admin\n')),
      tool(['secret-get', S1, 'password'], ok('hunter-two\n')),
      tool(['secret-get', S1, 'user#base64', '--format=json'], ok('"YWRtaW4="\n')),
      tool(['secret-get', S1, 'nope'], runtime('secret key value "nope" not found')),
    ],
    after: { secrets: { [S1]: { tracked: 2, label: null } } },
  },
  {
    name: 'secret-get: the first read tracks the latest revision, also with --peek',
    secrets: [{ id: S1, revisions: [ONE, TWO] }],
    steps: [fw(hookcmds.secretGet({ id: S1 }, 'peek'), ok(json(TWO))), fw(hookcmds.secretGet({ id: S1 }), ok(json(TWO)))],
    after: { secrets: { [S1]: { tracked: 2, label: null } } },
  },
  {
    name: 'secret-get across a new revision: the unit keeps its revision until it refreshes',
    secrets: [{ id: S1, revisions: [ONE] }],
    steps: [fw(hookcmds.secretGet({ id: S1 }), ok(json(ONE)))],
    then: [
      {
        change: [{ update: S1, content: TWO }],
        steps: [fw(hookcmds.secretGet({ id: S1 }), ok(json(ONE))), fw(hookcmds.secretGet({ id: S1 }, 'peek'), ok(json(TWO))), fw(hookcmds.secretGet({ id: S1 }), ok(json(ONE)))],
      },
      { change: [], steps: [fw(hookcmds.secretGet({ id: S1 }, 'refresh'), ok(json(TWO))), fw(hookcmds.secretGet({ id: S1 }), ok(json(TWO)))] },
    ],
    after: { secrets: { [S1]: { tracked: 2, label: null } } },
  },
  {
    name: "secret-get --label: an id with a label sets this unit's label, which then finds the secret; labels are unique per unit",
    secrets: [
      { id: S1, revisions: [ONE, TWO], tracked: 1 },
      { id: S2, revisions: [{ token: 'other-token' }], tracked: 1, label: 'other' },
    ],
    steps: [
      fw(hookcmds.secretGet({ label: 'db' }), runtime('consumer label "db" not found')),
      fw(hookcmds.secretGet({ id: S1, label: 'db' }), ok(json(ONE))),
      fw(hookcmds.secretGet({ label: 'db' }), ok(json(ONE))),
      fw(hookcmds.secretGet({ label: 'db' }, 'refresh'), ok(json(TWO))),
      fw(hookcmds.secretGet({ label: 'other' }), ok(json({ token: 'other-token' }))),
      fw(hookcmds.secretGet({ id: S1, label: 'other' }), runtime('getting latest secret revision: secret label "other" for consumer "unit-tester-0" already exists')),
    ],
    after: { secrets: { [S1]: { tracked: 2, label: 'db' }, [S2]: { tracked: 1, label: 'other' } } },
  },
  {
    name: 'secret-get: a secret that does not exist (by every spelling of its id) is not found',
    secrets: [{ id: S1, revisions: [ONE], tracked: 1 }],
    steps: [
      fw(hookcmds.secretGet({ id: NOWHERE }), runtime(`secret "${NOWHERE}" not found`)),
      tool(['secret-get', 'd0a7rj6oig3c73bv1vog', '--format=json'], runtime(`secret "${NOWHERE}" not found`)),
      fw(hookcmds.secretGet({ id: `secret://${MODEL_UUID}/d0a7rj6oig3c73bv1vog` }), runtime(`secret "secret://${MODEL_UUID}/d0a7rj6oig3c73bv1vog" not found`)),
      fw(hookcmds.secretGet({ id: `secret://${MODEL_UUID}/cq8gl6vmp25c77o6ej50` }), ok(json(ONE))),
      tool(['secret-get', 'cq8gl6vmp25c77o6ej50', '--format=json'], ok(json(ONE))),
    ],
  },
  {
    name: 'secret-get: a user secret not granted (or revoked) is permission denied, whatever the flags; the tracked revision stays',
    secrets: [{ id: S1, revisions: [ONE, TWO], tracked: 1, label: 'db', granted: false }],
    steps: [
      fw(hookcmds.secretGet({ id: S1 }), runtime('permission denied')),
      fw(hookcmds.secretGet({ id: S1 }, 'refresh'), runtime('permission denied')),
      fw(hookcmds.secretGet({ id: S1 }, 'peek'), runtime('permission denied')),
      fw(hookcmds.secretGet({ label: 'db' }), runtime('permission denied')),
    ],
    after: { secrets: { [S1]: { tracked: 1, label: 'db' } } },
  },
  {
    name: 'secret-get across a revoke and a re-grant: permission denied in between, then the revision tracked before',
    secrets: [{ id: S1, revisions: [ONE], granted: true }],
    steps: [fw(hookcmds.secretGet({ id: S1, label: 'db' }), ok(json(ONE)))],
    then: [
      { change: [{ revoke: S1 }, { update: S1, content: TWO }], steps: [fw(hookcmds.secretGet({ id: S1 }), runtime('permission denied'))] },
      { change: [{ grant: S1 }], steps: [fw(hookcmds.secretGet({ label: 'db' }), ok(json(ONE))), fw(hookcmds.secretGet({ label: 'db' }, 'refresh'), ok(json(TWO)))] },
      { change: [{ remove: S1 }], steps: [fw(hookcmds.secretGet({ id: S1 }), runtime(`secret "${S1}" not found`)), fw(hookcmds.secretGet({ label: 'db' }), runtime('consumer label "db" not found'))] },
    ],
    after: { secrets: { [S1]: { tracked: null, label: null } } },
  },
  {
    name: 'secret-get: what it tracks is kept when the hook fails (the controller records it at once)',
    secrets: [{ id: S1, revisions: [ONE, TWO], tracked: 1 }],
    hookExit: 1,
    steps: [fw(hookcmds.secretGet({ id: S1, label: 'db' }, 'refresh'), ok(json(TWO)))],
    after: { secrets: { [S1]: { tracked: 2, label: 'db' } } },
  },
  {
    name: "secret-get and secret-info-get of a secret the application owns: the latest revision, by id or the owner's label",
    leader: true,
    secrets: [
      { id: S3, revisions: [ONE, TWO], owner: 'app', label: 'mine' },
      { id: S1, revisions: [ONE], tracked: 1 },
    ],
    steps: [
      fw(hookcmds.secretGet({ id: S3 }), ok(json(TWO))),
      fw(hookcmds.secretGet({ label: 'mine' }), ok(json(TWO))),
      fw(hookcmds.secretInfoGet({ id: S3 }), ok('{"9m4e2mr0ui3e8a215n4g":{"revision":2,"label":"mine","owner":"application"}}\n')),
      fw(hookcmds.secretInfoGet({ label: 'mine' }), ok('{"9m4e2mr0ui3e8a215n4g":{"revision":2,"label":"mine","owner":"application"}}\n')),
      tool(['secret-info-get', S3], ok('9m4e2mr0ui3e8a215n4g:\n  revision: 2\n  label: mine\n  owner: application\n')),
      fw(hookcmds.secretInfoGet({ id: S1 }), runtime('secret "cq8gl6vmp25c77o6ej50" not found')),
      fw(hookcmds.secretInfoGet({ label: 'nope' }), runtime('secret "nope" not found')),
      fw(hookcmds.secretGet({ id: S3, label: 'renamed' }), ok(json(TWO))),
    ],
    after: { secrets: { [S3]: { tracked: null, label: 'renamed' }, [S1]: { tracked: 1, label: null } } },
  },
  {
    name: "secret-info-get: a non-leader does not see its application's secrets (it still reads them)",
    leader: false,
    secrets: [
      { id: S3, revisions: [ONE], owner: 'app', label: 'mine' },
      { id: S2, revisions: [TWO], owner: 'unit' },
    ],
    steps: [
      fw(hookcmds.secretInfoGet({ id: S3 }), runtime('secret "9m4e2mr0ui3e8a215n4g" not found')),
      fw(hookcmds.secretGet({ id: S3, label: 'not-mine-to-set' }), ok(json(ONE))),
      fw(hookcmds.secretInfoGet({ id: S2 }), ok('{"copp9vfmp25c77di8nm0":{"revision":1,"label":"","owner":"unit"}}\n')),
    ],
    after: { secrets: { [S3]: { tracked: null, label: 'mine' }, [S2]: { tracked: null, label: null } } },
  },
  {
    name: 'secret-get and secret-info-get: usage errors exit 2',
    secrets: [{ id: S1, revisions: [ONE], tracked: 1 }],
    steps: [
      tool(['secret-get'], usage('require either a secret URI or label')),
      tool(['secret-get', 'bogus'], usage('secret URI "bogus" not valid')),
      tool(['secret-get', 'http://cq8gl6vmp25c77o6ej50'], usage('secret URI "http://cq8gl6vmp25c77o6ej50" not valid')),
      tool(['secret-get', 'secret:cq8gl6vmp25c77o6ej5z'], usage('secret URI "secret:cq8gl6vmp25c77o6ej5z" not valid')),
      tool(['secret-get', S1, '--peek', '--refresh'], usage('specify one of --peek or --refresh but not both')),
      tool(['secret-get', S1, 'password', 'extra'], usage('unrecognized args: ["extra"]')),
      tool(['secret-get', S1, '--format=smart'], usage('invalid value "smart" for option --format: unknown format "smart"')),
      tool(['secret-get', S1, '--bogus'], usage('flag provided but not defined: --bogus')),
      tool(['secret-info-get'], usage('require either a secret URI or label')),
      tool(['secret-info-get', S1, '--label', 'x'], usage('specify either a secret URI or label but not both')),
    ],
    after: { secrets: { [S1]: { tracked: 1, label: null } } },
  },
];
