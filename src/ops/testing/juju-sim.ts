// Juju's rules for the hook tools, written once (docs/juju-hook-contract.md §3, §4, §6, §10): given
// a unit's state and one tool call (name, argv, stdin), what the tool prints, its exit code and
// what it changes. The in-memory backend (memory-backend.ts) runs it in process; the stand-in
// hook tools of the process-level tests (test/fakes/hook-tools/jujuc) run it on the simulated
// unit's files. Transactions are not here: whoever runs the context commits the transactional
// parts (relations, charm state, opened ports) only when the hook exits 0.
import {
  atMost,
  B,
  DEPRECATED_FORMAT,
  FORMAT,
  goStruct,
  hasOwn,
  noArgs,
  parseFlags,
  put,
  q,
  qlist,
  render,
  runtimeError,
  S,
  ToolFailure,
  usage,
  type Parsed,
} from './juju-format.js';

export type Databag = Record<string, string>;

/**
 * One relation as the unit sees it (the stand-in's state/relations.json entry). A peer relation
 * is one whose `app` is the unit's own application: `units` are the other units, `local-app` is
 * the application's one databag (`remote-app` is not used).
 */
export interface SimRelation {
  endpoint: string;
  id: number;
  /** The remote application (a peer relation: the unit's own). */
  app: string;
  /** The remote units (relation-list); a peer relation: the application's other units. */
  units: string[];
  'local-unit': Databag;
  'local-app': Databag;
  'remote-units': Record<string, Databag>;
  'remote-app': Databag;
  /** A broken relation is left out of relation-ids. */
  broken?: boolean;
}

/**
 * A secret as the controller holds it (juju-hook-contract.md §8): its content per revision, who
 * owns it, which applications may read it, and per consumer unit the revision it tracks and its
 * label. Keyed by the secret's id (the 20 characters of `secret:<id>`) in SimState.secrets.
 */
export interface SimSecret {
  /** The owning application or unit (a charm's secret-add); absent: a user secret (juju add-secret), owned by the model. */
  owner?: { kind: 'application' | 'unit'; name: string };
  /** Content of each revision, by revision number ("1", "2", ...); the highest is the latest. */
  revisions: Record<string, Databag>;
  /** Applications that may read it (juju grant-secret / secret-grant). */
  grants: string[];
  /** Per consumer unit ("app/0"): the revision it tracks and its label for the secret. */
  consumers: Record<string, { revision: number; label?: string }>;
  /** The owner's label (owned secrets). */
  label?: string;
  description?: string;
}

/** A secret URI: `secret:<id>`, a bare `<id>`, `secret://<model-uuid>/<id>` or `secret:<model-uuid>/<id>`. */
export interface SecretUri {
  /** The 20 characters (xid, base32hex) naming the secret. */
  readonly id: string;
  /** The model it lives in, when the URI names one. */
  readonly source?: string;
}

const SECRET_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SECRET_ID_PART = /^(?:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/)?([0-9a-z]{20})$/;
/** rs/xid's alphabet (base32hex, lowercase): Juju's regexp takes [0-9a-z], the xid decoder only these. */
const XID = /^[0-9a-v]{20}$/;

/**
 * Juju's secrets.ParseURI (core/secrets): undefined where Juju says `secret URI "..." not valid`.
 * Juju's xid decoder (rs/xid >= 1.5) also wants the last character to be 0 or g; that is not
 * checked here (ids made by newSecretId and by Juju always end so).
 */
export function parseSecretUri(text: string): SecretUri | undefined {
  // Go's url.Parse: the fragment, then the query, then scheme ":" opaque-or-//host/path.
  let rest = text.split('#')[0]!.split('?')[0]!;
  let host = '';
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(rest);
  if (scheme) {
    if (scheme[1]!.toLowerCase() !== 'secret') return undefined;
    rest = rest.slice(scheme[0].length);
    if (rest.startsWith('//')) {
      const slash = rest.indexOf('/', 2);
      host = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
      rest = slash < 0 ? '' : rest.slice(slash);
    }
  } else if (/^[^/]*:/.test(rest)) {
    return undefined; // "first path segment in URL cannot contain colon"
  }
  if (host !== '' && !SECRET_UUID.test(host)) return undefined;
  const m = SECRET_ID_PART.exec(rest.replace(/^\/+/, ''));
  if (!m || !XID.test(m[2]!)) return undefined;
  const source = m[1] ?? host;
  return { id: m[2]!, ...(source !== '' ? { source } : {}) };
}

/** The URI as Juju prints it (URI.String): `secret:<id>`, or `secret://<model-uuid>/<id>`. */
const secretUriString = (u: SecretUri): string => (u.source ? `secret://${u.source}/${u.id}` : `secret:${u.id}`);

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';
/** A fresh secret id as Juju makes them (an xid: 20 base32hex characters, the last one 0 or g). */
export function newSecretId(random: (n: number) => number = (n) => Math.floor(Math.random() * n)): string {
  let id = '';
  for (let i = 0; i < 19; i++) id += BASE32HEX[random(32)];
  return id + (random(2) === 0 ? '0' : 'g');
}

/** The latest revision of a secret (0 when it has none). */
export const latestRevision = (s: SimSecret): number => Math.max(0, ...Object.keys(s.revisions).map(Number));

export interface SimStatus {
  status?: string;
  message?: string;
  data?: Record<string, unknown>;
}

/**
 * What the tools read. Transactional parts (relations, charmState, openedPorts) are the running
 * context's own view, with its uncommitted writes; committedPorts is what opened-ports shows.
 */
export interface SimState {
  readonly config: Readonly<Record<string, unknown>>;
  readonly leader: boolean;
  /**
   * Set when the agent cannot tell whether the unit leads (it lost the controller): is-leader
   * then fails with `leadership status unknown: <this cause>` (exit 1); `leader` is false.
   */
  readonly leadershipUnknown?: string;
  /** Keyed "<endpoint>:<id>". */
  readonly relations: Readonly<Record<string, SimRelation>>;
  readonly charmState: Readonly<Record<string, string>>;
  /** "80/tcp" -> endpoints ("*" for all). */
  readonly openedPorts: Readonly<Record<string, readonly string[]>>;
  readonly committedPorts: Readonly<Record<string, readonly string[]>>;
  readonly unitStatus: SimStatus;
  readonly appStatus: SimStatus;
  readonly actionParams: Readonly<Record<string, unknown>>;
  /** The results set so far in this action (nested map). */
  readonly actionResults: Readonly<Record<string, unknown>>;
  /** The model's secrets this unit may know of, keyed by id (not transactional: secret-get's tracking takes effect at once). */
  readonly secrets: Readonly<Record<string, SimSecret>>;
}

/** The calling process: its environment, and the id of the context the agent is running. */
export interface SimContext {
  /** JUJU_UNIT_NAME, JUJU_CONTEXT_ID, JUJU_RELATION, JUJU_RELATION_ID, JUJU_REMOTE_UNIT, JUJU_REMOTE_APP, JUJU_ACTION_NAME. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The running context's id; '' when no context runs (the tools then refuse every call). */
  readonly running: string;
}

export interface SimCall {
  readonly tool: string;
  readonly args: readonly string[];
  /** What is on the tool's stdin (read only for `--file -`). */
  readonly stdin?: string | null;
}

/** Files a tool may read (`--file PATH`); undefined when missing or not a regular file. */
export interface SimFiles {
  readFile(path: string): string | undefined;
}

/** What a successful call changes, in the order the tool makes the changes. */
export type SimEffect =
  | { readonly kind: 'relations'; readonly relations: Record<string, SimRelation> }
  | { readonly kind: 'charm-state'; readonly state: Record<string, string> }
  | { readonly kind: 'opened-ports'; readonly ports: Record<string, string[]> }
  | { readonly kind: 'status'; readonly application: boolean; readonly status: string; readonly message: string }
  | { readonly kind: 'log'; readonly level: string; readonly message: string; readonly relation?: string }
  | { readonly kind: 'action-results'; readonly results: Record<string, unknown> }
  | { readonly kind: 'action-log'; readonly message: string }
  | { readonly kind: 'action-fail'; readonly message: string }
  | { readonly kind: 'workload-version'; readonly version: string }
  /** A consumer unit now tracks `revision` of secret `id` (and has `label` for it); no content. */
  | { readonly kind: 'secret-consumer'; readonly id: string; readonly unit: string; readonly revision: number; readonly label?: string }
  /** The owner's label of secret `id` changed. */
  | { readonly kind: 'secret-owner-label'; readonly id: string; readonly label: string };

export interface SimOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
  /** `-o FILE`: stdout goes to this file (relative to the caller's cwd) instead. */
  readonly outputFile?: string;
  /** Empty unless exitCode is 0. */
  readonly effects: readonly SimEffect[];
}

const TOOL_NAMES = [
  'config-get',
  'juju-log',
  'is-leader',
  'status-set',
  'status-get',
  'action-get',
  'action-set',
  'action-log',
  'action-fail',
  'relation-ids',
  'relation-list',
  'relation-get',
  'relation-set',
  'application-version-set',
  'state-get',
  'state-set',
  'state-delete',
  'opened-ports',
  'open-port',
  'close-port',
  'secret-get',
  'secret-info-get',
] as const;
export type ToolName = (typeof TOOL_NAMES)[number];
export const isToolName = (name: string): name is ToolName => (TOOL_NAMES as readonly string[]).includes(name);

/**
 * The `--file` argument of relation-set and state-set, found the way the stand-in always has:
 * before `--`, `--file X` or `--file=X`. `-` means stdin, which is then read and recorded.
 */
export function fileArgument(tool: string, args: readonly string[]): string | undefined {
  if (tool !== 'relation-set' && tool !== 'state-set') return undefined;
  let file: string | undefined;
  let want = false;
  for (const a of args) {
    if (want) {
      file = a;
      want = false;
      continue;
    }
    if (a === '--') break;
    if (a === '--file') want = true;
    else if (a.startsWith('--file=')) file = a.slice('--file='.length);
  }
  return file;
}

// --- the unit ------------------------------------------------------------------------------------
const VALID_UNIT = /^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*\/[0-9]+$/;
const VALID_APP = /^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*$/;
const ACTION_KEY = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const RESERVED_ACTION_KEYS = ['stdout', 'stdout-encoding', 'stderr', 'stderr-encoding'];
const STATUSES = ['maintenance', 'blocked', 'waiting', 'active'];
const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'];

interface Run {
  readonly s: SimState;
  env(name: string): string;
  readonly stdin: string | null | undefined;
  readonly files: SimFiles;
}

interface Answer {
  out?: string;
  outputFile?: string;
  err?: string;
  effects?: SimEffect[];
}

const unitName = (r: Run) => r.env('JUJU_UNIT_NAME');
const localApp = (r: Run) => unitName(r).replace(/\/[0-9]+$/, '');
/**
 * A peer relation (`peers:` in metadata.yaml) is the only kind whose remote application is the
 * unit's own: its units are the application's other units, and its application databag is the
 * one bag of `local-app`, which every unit reads and only the leader writes.
 */
const isPeerRelation = (rel: Pick<SimRelation, 'app'>, unit: string): boolean => rel.app === unit.replace(/\/[0-9]+$/, '');
const isPeer = (r: Run, rel: SimRelation) => isPeerRelation(rel, unitName(r));
const needAction = (r: Run) => {
  if (r.env('JUJU_ACTION_NAME') === '') runtimeError('not running an action');
};
const str = (p: Parsed, k: string): string | undefined => (typeof p.o[k] === 'string' ? (p.o[k] as string) : undefined);
const flag = (p: Parsed, k: string): boolean => p.o[k] === true;
const fmt = (p: Parsed): string => str(p, 'format') ?? 'smart';
const out = (p: Parsed, value: unknown): Answer => {
  const file = str(p, 'output');
  return { out: render(value, fmt(p)), ...(file !== undefined ? { outputFile: file } : {}) };
};
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The relation key ("image:1") a -r value names, or the hook's relation, or undefined. */
function relationKey(r: Run, p: Parsed): string | undefined {
  const rels = r.s.relations;
  const given = str(p, 'relation');
  if (given !== undefined) {
    const n = given.split(':').at(-1)!;
    if (!/^[0-9]+$/.test(n)) usage(`invalid value ${q(given)} for option ${p.as.relation}: invalid relation id`);
    const key = Object.keys(rels).find((k) => rels[k]!.id === Number(n));
    if (key === undefined) usage(`invalid value ${q(given)} for option ${p.as.relation}: relation not found`);
    return key;
  }
  const hook = r.env('JUJU_RELATION_ID');
  if (hook === '') return undefined;
  const id = hook.split(':').at(-1)!;
  return Object.keys(rels).find((k) => k === hook || String(rels[k]!.id) === id);
}
function needRelation(r: Run, p: Parsed): string {
  return relationKey(r, p) ?? usage('no relation id specified');
}

/** key=value arguments, as juju/utils keyvalues.Parse(args, allowEmptyValues=true). */
function keyValues(args: readonly string[]): Databag {
  const kv: Databag = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) usage(`expected "key=value", got ${q(arg)}`);
    const k = arg.slice(0, eq).trim();
    const v = arg.slice(eq + 1).trim();
    if (k === '') usage(`expected "key=value", got ${q(`${k}=${v}`)}`);
    if (hasOwn(kv, k)) usage(`key ${q(k)} specified more than once`);
    put(kv, k, v);
  }
  return kv;
}

const typeName = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

/** The YAML the text parses to: JSON, or `key: value` lines (a small subset of YAML). */
function parseSettingsText(text: string): unknown {
  if (/^[[{"]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return runtimeError('yaml: line 1: did not find expected node content');
    }
  }
  const map: Record<string, string | null> = {};
  for (const line of text.split('\n')) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    const m = /^(?<k>[^:#]+?)\s*:(\s+(?<v>.*))?$/.exec(line);
    if (!m) runtimeError("yaml: line 1: could not find expected ':'");
    const key = m.groups!.k!.replace(/^["']|["']$/g, '');
    const raw = m.groups!.v ?? '';
    let value: string | null;
    if (/^".*"$/.test(raw)) {
      try {
        value = String(JSON.parse(raw));
      } catch {
        return runtimeError('yaml: found unknown escape character while parsing a quoted scalar');
      }
    } else if (/^'.*'$/.test(raw)) value = raw.slice(1, -1).replace(/''/g, "'");
    else if (['', '~', 'null'].includes(raw)) value = null;
    else value = raw;
    put(map, key, value);
  }
  return map;
}

/** The --file map of relation-set and state-set (a YAML map of strings; JSON is YAML). */
function settingsFile(r: Run, p: Parsed): Databag {
  const file = str(p, 'file');
  if (file === undefined) return {};
  const data = file === '-' ? (r.stdin ?? '') : r.files.readFile(file);
  if (data === undefined) runtimeError(`open ${file}: no such file or directory`);
  const text = data.trim();
  if (text === '') return {};
  const m = parseSettingsText(text);
  if (typeName(m) !== 'object') {
    runtimeError(`yaml: unmarshal errors:\n  line 1: cannot unmarshal !!${Array.isArray(m) ? 'seq' : 'str'} into map[string]string`);
  }
  const bag: Databag = {};
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
    if (typeof v === 'object' && v !== null) {
      runtimeError(`yaml: unmarshal errors:\n  cannot unmarshal !!${Array.isArray(v) ? 'seq' : 'map'} into string`);
    }
    put(bag, k, v === null ? '' : String(v));
  }
  return bag;
}

const utf8Length = (s: string) => {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
};

function setDeep(obj: Record<string, unknown>, keys: readonly string[], value: string): void {
  const [head, ...rest] = keys as [string, ...string[]];
  if (rest.length === 0) {
    put(obj, head, value);
    return;
  }
  const child = hasOwn(obj, head) && typeName(obj[head]) === 'object' ? (obj[head] as Record<string, unknown>) : {};
  setDeep(child, rest, value);
  put(obj, head, child);
}

function portSpec(spec: string): string {
  if (spec.toLowerCase() === 'icmp') return 'icmp';
  const m = /^(?<from>[0-9]+)(-(?<to>[0-9]+))?(\/(?<proto>[A-Za-z]+))?$/.exec(spec);
  if (!m) usage(`invalid port range ${q(spec)}`);
  const from = Number(m.groups!.from);
  const to = Number(m.groups!.to ?? m.groups!.from);
  const proto = (m.groups!.proto ?? 'tcp').toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp') usage(`invalid protocol ${q(proto)}, expected "tcp", "udp", or "icmp"`);
  if (from < 1 || to > 65535 || from > to) usage(`port range bounds must be between 1 and 65535, got ${q(spec)}`);
  return from === to ? `${from}/${proto}` : `${from}-${to}/${proto}`;
}

// --- the tools -----------------------------------------------------------------------------------
type Tool = (r: Run, argv: readonly string[]) => Answer;

function openClose(open: boolean): Tool {
  return (r, argv) => {
    const p = parseFlags(argv, { endpoints: S('endpoints'), ...DEPRECATED_FORMAT });
    if (p.args.length < 1) usage('no port or range specified');
    atMost(p, 1);
    const spec = portSpec(p.args[0]!);
    const endpoints = (str(p, 'endpoints') ?? '').split(',').filter((e) => e !== '');
    const ports: Record<string, string[]> = clone(r.s.openedPorts) as Record<string, string[]>;
    const now = hasOwn(ports, spec) ? ports[spec]! : [];
    if (open) {
      put(ports, spec, [...new Set([...now, ...(endpoints.length === 0 ? ['*'] : endpoints)])].sort());
    } else if (endpoints.length === 0) {
      delete ports[spec];
    } else {
      const left = now.filter((e) => !endpoints.includes(e));
      if (left.length === 0) delete ports[spec];
      else put(ports, spec, left);
    }
    return { effects: [{ kind: 'opened-ports', ports }] };
  };
}

const TOOLS: Readonly<Record<ToolName, Tool>> = {
  'config-get': (r, argv) => {
    const p = parseFlags(argv, { ...FORMAT, a: B('all'), all: B('all') });
    atMost(p, 1);
    const key = p.args[0];
    if (key !== undefined && flag(p, 'all')) usage(`cannot use argument --all together with key ${q(key)}`);
    const cfg = r.s.config;
    return out(p, key === undefined ? cfg : hasOwn(cfg, key) ? cfg[key] : null);
  },

  'juju-log': (r, argv) => {
    const p = parseFlags(argv, { debug: B('debug'), l: S('level'), 'log-level': S('level'), ...DEPRECATED_FORMAT });
    if (p.args.length === 0) usage('no message specified');
    const given = str(p, 'level');
    const upper = (given ?? 'INFO').toUpperCase();
    const level = flag(p, 'debug') ? 'DEBUG' : upper === 'WARN' ? 'WARNING' : LOG_LEVELS.includes(upper) ? upper : undefined;
    const rel = r.env('JUJU_RELATION_ID');
    const relation = rel !== '' && hasOwn(r.s.relations, rel) ? { relation: rel } : {};
    const effects: SimEffect[] = [];
    if (level === undefined) effects.push({ kind: 'log', level: 'WARNING', message: `Specified log level of ${q(given ?? '')} is not valid` });
    effects.push({ kind: 'log', level: level ?? 'INFO', message: p.args.join(' '), ...relation });
    return { effects, ...(str(p, 'fmtflag') !== undefined ? { err: '--format flag deprecated for command "juju-log"' } : {}) };
  },

  'is-leader': (r, argv) => {
    const p = parseFlags(argv, FORMAT);
    noArgs(p);
    if (r.s.leadershipUnknown !== undefined) runtimeError(`leadership status unknown: ${r.s.leadershipUnknown}`);
    return out(p, r.s.leader);
  },

  'status-set': (r, argv) => {
    const p = parseFlags(argv, { application: B('application') });
    if (p.args.length < 1) usage('invalid args, require <status> [message]');
    const status = p.args[0]!;
    if (!STATUSES.includes(status)) usage(`invalid status ${q(status)}, expected one of [${STATUSES.join(' ')}]`);
    atMost(p, 2);
    const application = flag(p, 'application');
    if (application && !r.s.leader) runtimeError('this unit is not the leader');
    return { effects: [{ kind: 'status', application, status, message: p.args[1] ?? '' }] };
  },

  'status-get': (r, argv) => {
    const p = parseFlags(argv, { ...FORMAT, 'include-data': B('data'), application: B('application') });
    noArgs(p);
    const data = flag(p, 'data');
    const details = (s: SimStatus) => ({ status: s.status ?? 'unknown', ...(data ? { message: s.message ?? '', 'status-data': s.data ?? {} } : {}) });
    if (flag(p, 'application')) {
      if (!r.s.leader) runtimeError('finding application status: this unit is not the leader');
      if (!data && fmt(p) === 'smart') return out(p, r.s.appStatus.status ?? 'unknown');
      return out(p, { 'application-status': { ...details(r.s.appStatus), units: { [unitName(r)]: details(r.s.unitStatus) } } });
    }
    if (!data && fmt(p) === 'smart') return out(p, r.s.unitStatus.status ?? 'unknown');
    return out(p, details(r.s.unitStatus));
  },

  'action-get': (r, argv) => {
    const p = parseFlags(argv, FORMAT);
    atMost(p, 1);
    needAction(r);
    const params = r.s.actionParams;
    if (p.args.length === 0) return out(p, params);
    let node: unknown = params;
    for (const k of p.args[0]!.split('.')) {
      node = typeName(node) === 'object' && hasOwn(node as object, k) ? (node as Record<string, unknown>)[k] : null;
    }
    return out(p, node);
  },

  'action-set': (r, argv) => {
    const p = parseFlags(argv, {});
    const sets = p.args.map((arg) => {
      const eq = arg.indexOf('=');
      if (eq < 0) usage(`argument ${q(arg)} must be of the form key...=value`);
      const keys = arg.slice(0, eq).split('.');
      for (const k of keys) {
        if (!ACTION_KEY.test(k)) usage(`key ${q(k)} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods`);
        if (RESERVED_ACTION_KEYS.includes(k)) usage(`cannot set reserved action key ${q(k)}`);
      }
      return { keys, value: arg.slice(eq + 1) };
    });
    needAction(r);
    const results = clone(r.s.actionResults) as Record<string, unknown>;
    for (const s of sets) setDeep(results, s.keys, s.value);
    return { effects: [{ kind: 'action-results', results }] };
  },

  'action-log': (r, argv) => {
    const p = parseFlags(argv, {});
    if (p.args.length === 0) usage('no message specified');
    needAction(r);
    return { effects: [{ kind: 'action-log', message: p.args.join(' ') }] };
  },

  'action-fail': (r, argv) => {
    const p = parseFlags(argv, {});
    atMost(p, 1);
    needAction(r);
    return { effects: [{ kind: 'action-fail', message: p.args[0] ?? 'action failed without reason given, check action for errors' }] };
  },

  'relation-ids': (r, argv) => {
    const p = parseFlags(argv, FORMAT);
    const endpoint = p.args.length > 0 ? p.args[0]! : r.env('JUJU_RELATION');
    if (endpoint === '') usage('no endpoint name specified');
    atMost(p, 1);
    const rels = r.s.relations;
    return out(p, Object.keys(rels).filter((k) => rels[k]!.endpoint === endpoint && rels[k]!.broken !== true).sort());
  },

  'relation-list': (r, argv) => {
    const p = parseFlags(argv, { ...FORMAT, r: S('relation'), relation: S('relation'), app: B('app') });
    const key = needRelation(r, p);
    noArgs(p);
    const rel = r.s.relations[key]!;
    return out(p, flag(p, 'app') ? rel.app : [...(rel.units ?? [])].sort());
  },

  'relation-get': (r, argv) => {
    const p = parseFlags(argv, { ...FORMAT, r: S('relation'), relation: S('relation'), app: B('app') });
    const key = needRelation(r, p);
    const attr = p.args[0] === undefined || p.args[0] === '-' ? '' : p.args[0];
    const rest = p.args.slice(1);
    const app = flag(p, 'app');
    let target: { app: boolean; name: string };
    if (rest.length > 0) {
      const who = rest[0]!;
      if (app) target = { app: true, name: !VALID_APP.test(who) && VALID_UNIT.test(who) ? who.replace(/\/[0-9]+$/, '') : who };
      else if (VALID_UNIT.test(who)) target = { app: false, name: who };
      else if (VALID_APP.test(who)) usage(`expected unit name, got application name ${q(who)}`);
      else usage(`invalid unit name ${q(who)}`);
    } else if (app) {
      const remoteApp = r.env('JUJU_REMOTE_APP');
      if (remoteApp === '') usage('no unit or application specified');
      target = { app: true, name: remoteApp };
    } else if (r.env('JUJU_REMOTE_UNIT') !== '') target = { app: false, name: r.env('JUJU_REMOTE_UNIT') };
    else if (r.env('JUJU_REMOTE_APP') !== '') target = { app: true, name: r.env('JUJU_REMOTE_APP') };
    else usage('no unit or application specified');
    if (rest.length > 1) usage(`unrecognized args: ${qlist(rest.slice(1))}`);
    const rel = r.s.relations[key]!;
    let data: Databag;
    if (target.app) {
      // This application's databag: the leader's to read on a provides/requires relation; on a
      // peer relation (the remote application is this one) every unit reads it (§6, §7).
      if (target.name === localApp(r)) data = r.s.leader || isPeer(r, rel) ? (rel['local-app'] ?? {}) : runtimeError('permission denied');
      else if (target.name === rel.app) data = rel['remote-app'] ?? {};
      else runtimeError('permission denied');
    } else if (target.name === unitName(r)) data = rel['local-unit'] ?? {};
    else if (hasOwn(rel['remote-units'] ?? {}, target.name)) data = rel['remote-units'][target.name]!;
    else runtimeError(`cannot read settings for unit ${q(target.name)} in relation ${q(key)}: settings not found`);
    return out(p, attr === '' ? data : hasOwn(data, attr) ? data[attr] : null);
  },

  'relation-set': (r, argv) => {
    const p = parseFlags(argv, { r: S('relation'), relation: S('relation'), app: B('app'), file: S('file'), ...DEPRECATED_FORMAT });
    const key = needRelation(r, p);
    const over = keyValues(p.args);
    const settings = { ...settingsFile(r, p) };
    for (const [k, v] of Object.entries(over)) put(settings, k, v);
    const app = flag(p, 'app');
    if (app && !r.s.leader) runtimeError('cannot write relation settings');
    const relations = clone(r.s.relations) as Record<string, SimRelation>;
    const rel = relations[key]!;
    const bagName = app ? 'local-app' : 'local-unit';
    const bag: Databag = rel[bagName] ?? {};
    for (const [k, v] of Object.entries(settings)) {
      if (v === '') delete bag[k];
      else put(bag, k, v);
    }
    rel[bagName] = bag;
    return {
      effects: [{ kind: 'relations', relations }],
      ...(str(p, 'fmtflag') !== undefined ? { err: '--format flag deprecated for command "relation-set"' } : {}),
    };
  },

  'application-version-set': (_r, argv) => {
    const p = parseFlags(argv, {});
    if (p.args.length < 1) usage('no version specified');
    atMost(p, 1);
    return { effects: [{ kind: 'workload-version', version: p.args[0]! }] };
  },

  'state-get': (r, argv) => {
    const p = parseFlags(argv, { ...FORMAT, strict: B('strict') });
    atMost(p, 1);
    const key = p.args[0] === undefined || p.args[0] === '-' ? '' : p.args[0];
    const s = r.s.charmState;
    if (key === '') return out(p, s);
    if (hasOwn(s, key)) return out(p, s[key]);
    if (flag(p, 'strict')) runtimeError(`key ${q(key)} not found`);
    return {};
  },

  'state-set': (r, argv) => {
    const p = parseFlags(argv, { file: S('file') });
    const over = keyValues(p.args);
    const kv = { ...settingsFile(r, p) };
    for (const [k, v] of Object.entries(over)) put(kv, k, v);
    for (const k of Object.keys(kv)) {
      if (utf8Length(k) > 256) runtimeError(`key too large: ${utf8Length(k)} bytes > 256`);
    }
    for (const [k, v] of Object.entries(kv)) {
      if (utf8Length(v) > 65536) runtimeError(`value for key ${q(k)} too large: ${utf8Length(v)} bytes > 65536`);
    }
    const state = { ...r.s.charmState };
    for (const [k, v] of Object.entries(kv)) put(state, k, v);
    return { effects: [{ kind: 'charm-state', state }] };
  },

  'state-delete': (r, argv) => {
    const p = parseFlags(argv, {});
    if (p.args.length < 1) usage('specify key');
    atMost(p, 1);
    const state = { ...r.s.charmState };
    delete state[p.args[0]!];
    return { effects: [{ kind: 'charm-state', state }] };
  },

  'opened-ports': (r, argv) => {
    const p = parseFlags(argv, { ...FORMAT, endpoints: B('endpoints') });
    noArgs(p);
    const ports = r.s.committedPorts;
    return out(p, Object.keys(ports).map((k) => (flag(p, 'endpoints') ? `${k} (${ports[k]!.join(',')})` : k)).sort());
  },

  'open-port': openClose(true),
  'close-port': openClose(false),

  'secret-get': (r, argv) => {
    const p = parseFlags(argv, { ...FORMAT, label: S('label'), peek: B('peek'), refresh: B('refresh') });
    yamlOrJson(p);
    const args = [...p.args];
    const given = args.length > 0 ? args.shift()! : undefined;
    const uri = given === undefined ? undefined : (parseSecretUri(given) ?? usage(`secret URI ${q(given)} not valid`));
    const label = str(p, 'label') ?? '';
    if (uri === undefined && label === '') usage('require either a secret URI or label');
    const peek = flag(p, 'peek');
    if (peek && flag(p, 'refresh')) usage('specify one of --peek or --refresh but not both');
    const key = args.shift();
    if (args.length > 0) usage(`unrecognized args: ${qlist(args)}`);
    const { content, effects } = secretContent(r, uri, label, flag(p, 'refresh'), peek);
    if (key === undefined) return { ...out(p, content), effects };
    const b64 = key.endsWith('#base64');
    const name = b64 ? key.slice(0, -'#base64'.length) : key;
    if (!hasOwn(content, name)) runtimeError(`secret key value ${q(name)} not found`);
    return { ...out(p, b64 ? Buffer.from(content[name]!, 'utf8').toString('base64') : content[name]), effects };
  },

  'secret-info-get': (r, argv) => {
    const p = parseFlags(argv, { ...FORMAT, label: S('label') });
    yamlOrJson(p);
    const args = [...p.args];
    const given = args.length > 0 ? args.shift()! : undefined;
    const uri = given === undefined ? undefined : (parseSecretUri(given) ?? usage(`secret URI ${q(given)} not valid`));
    const label = str(p, 'label') ?? '';
    if (uri === undefined && label === '') usage('require either a secret URI or label');
    if (uri !== undefined && label !== '') usage('specify either a secret URI or label but not both');
    if (args.length > 0) usage(`unrecognized args: ${qlist(args)}`);
    // The unit sees the metadata of the secrets it owns, and the leader its application's.
    const visible = Object.entries(r.s.secrets).filter(([, s]) => (s.owner?.kind === 'unit' && s.owner.name === unitName(r)) || (s.owner?.kind === 'application' && s.owner.name === localApp(r) && r.s.leader));
    const want = uri !== undefined ? uri.id : label;
    const found = visible.find(([id, s]) => (uri !== undefined ? id === uri.id : s.label === label));
    if (!found) runtimeError(`secret ${q(want)} not found`);
    const [id, s] = found;
    return out(p, { [id]: goStruct({ revision: latestRevision(s), label: s.label ?? '', owner: s.owner!.kind, ...(s.description ? { description: s.description } : {}) }) });
  },
};

/** secret-get and secret-info-get print only yaml (their default) or json. */
function yamlOrJson(p: Parsed): void {
  const format = str(p, 'format');
  if (format !== undefined && format !== 'json' && format !== 'yaml') usage(`invalid value ${q(format)} for option ${p.as.format}: unknown format ${q(format)}`);
  if (format === undefined) (p.o as Record<string, string | boolean>).format = 'yaml';
}

const unitTag = (unit: string) => `unit-${unit.replace('/', '-')}`;

/**
 * What the controller answers secret-get (apiserver secretsmanager getSecretContent): an owned
 * secret's latest revision; for a consumer, the revision it tracks (the latest on the first
 * read, and with --refresh, which also tracks it; --peek reads the latest once), after the
 * existence and grant checks. A label with a URI becomes the consumer's label for the secret.
 */
function secretContent(r: Run, uri: SecretUri | undefined, label: string, refreshFlag: boolean, peek: boolean): { content: Databag; effects: SimEffect[] } {
  const unit = unitName(r);
  const app = localApp(r);
  const secrets = r.s.secrets;
  const owns = (s: SimSecret) => (s.owner?.kind === 'unit' && s.owner.name === unit) || (s.owner?.kind === 'application' && s.owner.name === app);
  const local = uri === undefined || uri.source === undefined || uri.source === r.env('JUJU_MODEL_UUID');
  const latestOf = (s: SimSecret) => s.revisions[String(latestRevision(s))] ?? {};

  if (local) {
    // The owner (and its application's units) read the latest revision, by URI or owner label.
    const owned = Object.entries(secrets).find(([id, s]) => owns(s) && (uri !== undefined ? id === uri.id : s.label === label));
    if (owned) {
      const [id, s] = owned;
      const mayLabel = s.owner!.kind === 'unit' || r.s.leader;
      const effects: SimEffect[] = uri !== undefined && label !== '' && mayLabel && s.label !== label ? [{ kind: 'secret-owner-label', id, label }] : [];
      return { content: { ...latestOf(s) }, effects };
    }
  }
  let target = uri;
  if (target === undefined) {
    const byLabel = Object.keys(secrets).find((id) => secrets[id]!.consumers[unit]?.label === label);
    if (byLabel === undefined) runtimeError(`consumer label ${q(label)} not found`);
    target = { id: byLabel };
  }
  const shown = secretUriString(target);
  if (!local || !hasOwn(secrets, target.id)) runtimeError(`secret ${q(shown)} not found`);
  const s = secrets[target.id]!;
  if (!s.grants.includes(app)) runtimeError('permission denied');

  const mine = hasOwn(s.consumers, unit) ? s.consumers[unit] : undefined;
  const refresh = refreshFlag || mine === undefined;
  const latest = latestRevision(s);
  const want = refresh || peek ? latest : mine!.revision;
  const effects: SimEffect[] = [];
  const updateLabel = label !== '' && uri !== undefined;
  if (refresh || updateLabel) {
    if (label !== '' && label !== mine?.label) {
      const others = Object.entries(secrets).filter(([id]) => id !== target.id);
      const clash = (why: string) => runtimeError(`getting latest secret revision: secret label ${q(label)} for ${why}${q(unitTag(unit))} already exists`);
      if (others.some(([, o]) => o.owner?.kind === 'application' && o.owner.name === app && o.label === label)) clash('');
      if (others.some(([, o]) => o.owner?.kind === 'unit' && o.owner.name === unit && o.label === label)) clash('owner ');
      if (others.some(([, o]) => o.consumers[unit]?.label === label)) clash('consumer ');
    }
    const newLabel = label !== '' ? label : mine?.label;
    effects.push({ kind: 'secret-consumer', id: target.id, unit, revision: refresh ? latest : mine!.revision, ...(newLabel !== undefined ? { label: newLabel } : {}) });
  }
  const content = s.revisions[String(want)];
  if (content === undefined) runtimeError(`secret ${q(shown)} not found`);
  return { content: { ...content }, effects };
}

const NO_FILES: SimFiles = { readFile: () => undefined };

/**
 * Runs one hook-tool call against `state` as Juju's agent would. Nothing is changed here: the
 * outcome lists the effects, which the caller applies (applyEffects, or the stand-in's files).
 */
export function runTool(state: SimState, ctx: SimContext, call: SimCall, files: SimFiles = NO_FILES): SimOutcome {
  const env = (name: string) => ctx.env[name] ?? '';
  try {
    if (!isToolName(call.tool)) return { stdout: '', stderr: `ERROR unknown command: ${call.tool}\n`, exitCode: 1, effects: [] };
    if (ctx.running === '') runtimeError(`bad request: no hook context is running (JUJU_CONTEXT_ID ${q(env('JUJU_CONTEXT_ID'))})`);
    if (env('JUJU_CONTEXT_ID') !== ctx.running) runtimeError(`bad request: expected context id ${q(ctx.running)}, got ${q(env('JUJU_CONTEXT_ID'))}`);
    const answer = TOOLS[call.tool]({ s: state, env, stdin: call.stdin, files }, call.args);
    return {
      stdout: answer.out ?? '',
      stderr: answer.err ?? '',
      exitCode: 0,
      ...(answer.outputFile !== undefined ? { outputFile: answer.outputFile } : {}),
      effects: answer.effects ?? [],
    };
  } catch (err) {
    if (err instanceof ToolFailure) return { stdout: '', stderr: `ERROR ${err.message}\n`, exitCode: err.code, effects: [] };
    return { stdout: '', stderr: `ERROR stand-in hook tool failed: ${err instanceof Error ? err.message : String(err)}\n`, exitCode: 1, effects: [] };
  }
}

/** A unit's state that a context changes in place (the in-memory backend's). */
export interface MutableSimState extends SimState {
  config: Record<string, unknown>;
  leader: boolean;
  relations: Record<string, SimRelation>;
  charmState: Record<string, string>;
  openedPorts: Record<string, string[]>;
  committedPorts: Record<string, string[]>;
  unitStatus: SimStatus;
  appStatus: SimStatus;
  actionParams: Record<string, unknown>;
  actionResults: Record<string, unknown>;
  secrets: Record<string, SimSecret>;
  workloadVersion: string;
}

/** Applies a successful call's effects to an in-memory state. */
export function applyEffects(state: MutableSimState, effects: readonly SimEffect[]): void {
  for (const e of effects) {
    switch (e.kind) {
      case 'relations':
        state.relations = e.relations;
        break;
      case 'charm-state':
        state.charmState = e.state;
        break;
      case 'opened-ports':
        state.openedPorts = e.ports;
        break;
      case 'status':
        state[e.application ? 'appStatus' : 'unitStatus'] = { status: e.status, message: e.message };
        break;
      case 'action-results':
        state.actionResults = e.results;
        break;
      case 'workload-version':
        state.workloadVersion = e.version;
        break;
      case 'secret-consumer':
      case 'secret-owner-label':
        state.secrets = applySecretEffect(state.secrets, e);
        break;
      case 'log':
      case 'action-log': // a context's record (MemoryBackend.recorded), not unit state
      case 'action-fail':
        break;
    }
  }
}

/** The secrets after a secret effect (a new map; the input is not changed). */
export function applySecretEffect(
  secrets: Readonly<Record<string, SimSecret>>,
  e: Extract<SimEffect, { kind: 'secret-consumer' | 'secret-owner-label' }>,
): Record<string, SimSecret> {
  const next = clone(secrets) as Record<string, SimSecret>;
  const s = next[e.id];
  if (!s) return next;
  if (e.kind === 'secret-owner-label') s.label = e.label;
  else put(s.consumers, e.unit, { revision: e.revision, ...(e.label !== undefined ? { label: e.label } : {}) });
  return next;
}
