// A simulated Juju unit for process-level tests: the charm's real `dispatch` runs as a
// subprocess in a hook context made by test/fakes/lib/run-in-context.sh, with the stand-in hook
// tools (test/fakes/hook-tools) and host programs (test/fakes/host-bin) on PATH. File formats
// and knobs: test/fakes/README.md.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { latestRevision, newSecretId, parseSecretUri, type Databag, type SimRelation, type SimSecret } from '../../src/ops/testing/juju-sim.js';
import { simSecrets } from '../../src/ops/testing/memory-backend.js';
import { ensureHookTools } from '../fakes/lib/build-hook-tools.js';
import { killUnitProcesses } from './unit-processes.js';
import { readIfPresent, readJsonLines } from './files.js';

const FAKES = path.resolve(import.meta.dirname, '../fakes');
export const HOOK_TOOLS_DIR = path.join(FAKES, 'hook-tools');
export const HOST_BIN_DIR = path.join(FAKES, 'host-bin');
export const RUN_IN_CONTEXT = path.join(FAKES, 'lib/run-in-context.sh');
/** The host programs that get a per-unit wrapper in `<host>/bin` (first on PATH after the tools). */
export const HOST_PROGRAMS = ['apt-get', 'dpkg-query', 'pipx', 'sudo', 'runuser', 'id', 'getent', 'systemctl', 'juju-exec'] as const;

export type { Databag };

export interface RelationSpec {
  readonly endpoint: string;
  readonly id: number;
  /** The remote application. */
  readonly app: string;
  /** Remote units (relation-list); each gets an empty databag unless remoteUnits says otherwise. */
  readonly units?: readonly string[];
  readonly localUnit?: Databag;
  readonly localApp?: Databag;
  readonly remoteUnits?: Readonly<Record<string, Databag>>;
  readonly remoteApp?: Databag;
}

/** One relation in state/relations.json, keyed "<endpoint>:<id>": the simulator's own shape. */
export type RelationState = SimRelation;

/**
 * A secret as the unit sees it (the shape of src/ops/testing's SecretState): a user secret
 * granted to the unit's application by default, or one the application or unit owns.
 */
export interface SecretSpec {
  /** `secret:<id>` (or `secret://<model-uuid>/<id>`); default a fresh id. */
  readonly id?: string;
  /** Content of each revision, oldest first; the last is the latest. */
  readonly revisions: readonly Databag[];
  /** Owned by the unit's application or the unit itself; absent: a user secret. */
  readonly owner?: 'app' | 'unit';
  /** A user secret: granted to the unit's application (default true). */
  readonly granted?: boolean;
  /** The revision the unit tracks (it read the secret before). */
  readonly tracked?: number;
  /** The unit's consumer label, or the owner's label of an owned secret. */
  readonly label?: string;
  readonly description?: string;
}

/** What the unit tracks of a secret it consumes. */
export interface SecretTracking {
  readonly revision: number;
  readonly label?: string;
}

export interface ProxySpec {
  readonly http?: string;
  readonly https?: string;
  readonly ftp?: string;
  readonly no?: string;
}

export interface CreateUnitOptions {
  /** The charm directory (with `dispatch`), used as JUJU_CHARM_DIR and the cwd of every hook. */
  readonly charmDir: string;
  readonly unitName?: string;
  readonly modelName?: string;
  /** What `config-get --format=json` prints. */
  readonly config?: Record<string, unknown>;
  readonly leader?: boolean;
  readonly relations?: readonly RelationSpec[];
  /** Extra variables for the unit's hook environment (unit.env). */
  readonly env?: Readonly<Record<string, string>>;
  /** The model's juju-*-proxy settings: JUJU_CHARM_*_PROXY (exported empty when not given). */
  readonly proxy?: ProxySpec;
  /** Packages dpkg-query reports installed. */
  readonly installedPackages?: readonly string[];
  readonly jujuVersion?: string;
  /** JUJU_MODEL_UUID (default: a random one). */
  readonly modelUuid?: string;
  /** Secrets in the model (state/secrets.json); see also addSecret, addUserSecret. */
  readonly secrets?: readonly SecretSpec[];
  /**
   * The system directories on the hook PATH, after the tools and host stand-ins; default
   * /usr/local/bin:/usr/bin:/bin plus the directory of the node running the tests.
   */
  readonly systemPath?: readonly string[];
}

export interface ToolCall {
  readonly tool: string;
  readonly argv: string[];
  /** What the tool read on stdin (`--file -`), else null. */
  readonly stdin: string | null;
  readonly context: string | null;
}

export interface HostCall {
  readonly prog: string;
  readonly argv: string[];
  readonly cwd: string;
  /** Only HOME, the proxy variables, JUJU_CONTEXT_ID, DEBIAN_FRONTEND, OS_CLIENT_CONFIG_FILE, PIPX_HOME, PIPX_BIN_DIR, when set. */
  readonly env: Record<string, string>;
  /** sudo and runuser: the user asked for. */
  readonly user?: string;
}

export interface LogEntry {
  readonly level: string;
  readonly message: string;
  readonly context: string;
  /** Set in relation hooks: Juju prefixes the message with "<relation>: " in the unit log. */
  readonly relation?: string;
}

export interface StatusEntry {
  readonly application: boolean;
  readonly status: string;
  readonly message: string;
  readonly context: string;
}

export interface StatusValue {
  readonly status: string;
  readonly message: string;
}

/** A build the builder stand-in finished (its `run`), as test/fakes/README.md describes it. */
export interface BuildRecord {
  readonly cloud: string;
  readonly image: string;
  readonly arch: string;
  readonly base: string;
  readonly keepRevisions: number;
  readonly prefix: string;
  readonly flavor: string;
  readonly network: string;
  readonly runnerVersion: string;
  readonly proxy: string;
  readonly scriptUrl: string;
  readonly uploadClouds: string;
  /** The names of the IMAGE_BUILDER_SECRET_* variables the app got (values: app-secrets.env). */
  readonly secrets: readonly string[];
  /** The first id printed, and all of them (one per upload cloud). */
  readonly id: string;
  readonly ids: readonly string[];
  /** The app's working directory. */
  readonly cwd: string;
}

/** A private key the builder stand-in wrote (init, or run when the keypair did not match). */
export interface KeyRecord {
  readonly by: 'init' | 'run';
  readonly path: string;
  readonly uid: number;
  readonly gid: number;
  readonly mode: string;
}

export type DispatchEvent =
  /** A hook name (`install`, `image-relation-joined`) or a dispatch path (`hooks/build_success`, `run`). */
  | string
  | { readonly action: string; readonly params?: Record<string, unknown>; readonly id?: string };

export interface DispatchOptions {
  /** Variables to set (after Juju's); `undefined` removes one. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Variables to remove from the hook environment. */
  readonly unsetEnv?: readonly string[];
  /** What to execute, absolute or relative to the charm dir; default `dispatch`. */
  readonly executable?: string;
  /** Relation hooks: which relation and units (default: the first relation on the endpoint, its first unit). */
  readonly relation?: { readonly endpoint?: string; readonly id?: number; readonly remoteUnit?: string; readonly departingUnit?: string };
  /**
   * Secret hooks (secret-changed, -rotate, -remove, -expired): which secret (JUJU_SECRET_ID), its
   * label (default: the unit's label for it) and, for remove and expired, the revision (default:
   * the latest).
   */
  readonly secret?: { readonly id: string; readonly label?: string; readonly revision?: number };
  /** Kill the whole process group after this long (default 300 s, for a loaded machine); the result then has code null. */
  readonly timeoutMs?: number;
  /** stdin for the process (default: empty). */
  readonly input?: string;
}

export interface DispatchResult {
  /** Exit code, or null when killed (signal says by what). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly contextId: string;
  /** Hook-tool calls made in this context, in order. */
  readonly calls: ToolCall[];
  /** Host-program calls recorded while this ran (by any process: also background ones). */
  readonly hostCalls: HostCall[];
  readonly statusHistory: StatusEntry[];
  readonly logs: LogEntry[];
  /** Actions: the results map (action-set), the action-log messages and the action-fail message. */
  readonly actionResults: Record<string, unknown> | undefined;
  readonly actionLogs: string[];
  readonly actionFailed: string | undefined;
}

export interface ExecResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

const RELATION_EVENT = /^(.+)-relation-(created|joined|changed|departed|broken)$/;
const SECRET_EVENT = /^secret-(changed|rotate|remove|expired)$/;

const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function readJson<T>(file: string, fallback: T): T {
  const text = readIfPresent(file);
  return text === undefined ? fallback : (JSON.parse(text) as T);
}

function writeJson(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(value));
}

/** Runs a program in its own process group; kills the group on timeout. Never rejects on exit codes. */
export function runProcess(file: string, args: readonly string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number }): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args as string[], { env: opts.env, cwd: opts.cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, opts.timeoutMs ?? 300_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // A background process may still hold our pipes: take what arrived, briefly, then stop.
      const done = () => {
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ code, signal, stdout, stderr });
      };
      const grace = setTimeout(done, 200);
      child.on('close', () => {
        clearTimeout(grace);
        done();
      });
    });
  });
}

export class SimUnit {
  /** The temp dir holding everything below. */
  readonly dir: string;
  /** FAKE_JUJU_DIR: the simulated unit agent's files. */
  readonly jujuDir: string;
  /** FAKE_HOST_DIR: the simulated host's records and knobs. */
  readonly hostDir: string;
  /** CHARM_HOST_ROOT: where the charm's production paths (/etc, /home/ubuntu, ...) live. */
  readonly hostRoot: string;
  /** Per-unit wrappers of the host stand-ins (they carry FAKE_HOST_DIR; the charm strips env). */
  readonly hostBin: string;
  readonly charmDir: string;
  readonly unitName: string;
  readonly appName: string;
  /** The hook environment written to unit.env (before per-event variables). */
  readonly env: Readonly<Record<string, string>>;
  private actionCounter = 0;

  constructor(opts: CreateUnitOptions) {
    // The stand-in hook tools run a bundle of Juju's rules (src/ops/testing/juju-sim.ts).
    ensureHookTools();
    this.dir = mkdtempSync(path.join(tmpdir(), 'sim-unit-'));
    this.jujuDir = path.join(this.dir, 'juju');
    this.hostDir = path.join(this.dir, 'host');
    this.hostRoot = path.join(this.hostDir, 'root');
    this.hostBin = path.join(this.hostDir, 'bin');
    this.charmDir = path.resolve(opts.charmDir);
    this.unitName = opts.unitName ?? 'github-runner-image-builder/0';
    this.appName = this.unitName.replace(/\/\d+$/, '');

    for (const d of [path.join(this.jujuDir, 'state'), path.join(this.hostDir, 'fail'), this.hostBin]) mkdirSync(d, { recursive: true });
    for (const d of ['home/ubuntu', 'etc/cron.d', 'etc/logrotate.d', 'etc/systemd/system', 'var/lib', 'var/log', 'opt', 'tmp', 'usr/bin']) mkdirSync(path.join(this.hostRoot, d), { recursive: true });
    chmodSync(path.join(this.hostRoot, 'tmp'), 0o1777);

    writeJson(this.statePath('config.json'), opts.config ?? {});
    writeFileSync(this.statePath('leader'), `${opts.leader ?? true}\n`);
    writeJson(this.statePath('relations.json'), {});
    for (const r of opts.relations ?? []) this.addRelation(r);
    writeJson(this.statePath('secrets.json'), {});
    for (const secret of opts.secrets ?? []) this.addSecret(secret);
    writeJson(this.statePath('unit-status.json'), { status: 'unknown', message: '' });
    writeJson(this.statePath('app-status.json'), { status: 'unknown', message: '' });
    writeFileSync(this.statePath('workload-version'), '');
    writeFileSync(path.join(this.hostDir, 'dpkg-installed'), (opts.installedPackages ?? []).map((p) => `${p}\n`).join(''));
    writeFileSync(path.join(this.hostDir, 'systemd-active'), 'cron\n');

    const baked = { FAKE_HOST_DIR: this.hostDir, FAKE_JUJU_DIR: this.jujuDir, CHARM_HOST_ROOT: this.hostRoot };
    for (const prog of HOST_PROGRAMS) {
      const defaults = Object.entries(baked).map(([k, v]) => `: "\${${k}:=${v}}"\n`).join('');
      writeFileSync(
        path.join(this.hostBin, prog),
        `#!/bin/sh\n# ${prog} on the simulated host of ${this.dir}\n${defaults}export ${Object.keys(baked).join(' ')}\nexec ${shQuote(path.join(HOST_BIN_DIR, prog))} "$@"\n`,
        { mode: 0o755 },
      );
    }

    const nodeDir = path.dirname(process.execPath);
    const basePath = ['/usr/local/bin', '/usr/bin', '/bin'];
    const systemPath = opts.systemPath ?? [...basePath, ...(basePath.includes(nodeDir) ? [] : [nodeDir])];
    const pathDirs = [HOOK_TOOLS_DIR, this.hostBin, ...systemPath];
    const tag = `unit-${this.unitName.replace('/', '-')}`;
    this.env = {
      JUJU_UNIT_NAME: this.unitName,
      JUJU_MODEL_NAME: opts.modelName ?? 'test-model',
      JUJU_MODEL_UUID: opts.modelUuid ?? randomUUID(),
      JUJU_CHARM_DIR: this.charmDir,
      CHARM_DIR: this.charmDir,
      JUJU_VERSION: opts.jujuVersion ?? '3.6.4',
      JUJU_MACHINE_ID: '0',
      JUJU_AGENT_SOCKET_ADDRESS: `@/var/lib/juju/agents/${tag}/agent.socket`,
      JUJU_AGENT_SOCKET_NETWORK: 'unix',
      JUJU_API_ADDRESSES: '10.0.0.2:17070',
      JUJU_PRINCIPAL_UNIT: '',
      JUJU_AVAILABILITY_ZONE: '',
      CLOUD_API_VERSION: '',
      JUJU_CHARM_HTTP_PROXY: opts.proxy?.http ?? '',
      JUJU_CHARM_HTTPS_PROXY: opts.proxy?.https ?? '',
      JUJU_CHARM_FTP_PROXY: opts.proxy?.ftp ?? '',
      JUJU_CHARM_NO_PROXY: opts.proxy?.no ?? '',
      APT_LISTCHANGES_FRONTEND: 'none',
      DEBIAN_FRONTEND: 'noninteractive',
      PATH: pathDirs.join(':'),
      ...baked,
      ...opts.env,
    };
    writeFileSync(
      path.join(this.jujuDir, 'unit.env'),
      Object.entries(this.env)
        .map(([k, v]) => `export ${k}=${shQuote(v)}\n`)
        .join(''),
    );
  }

  private statePath(name: string): string {
    return path.join(this.jujuDir, 'state', name);
  }

  /** The environment Juju would add for this event, after unit.env. */
  private eventEnv(event: DispatchEvent, opts: DispatchOptions): Record<string, string> {
    if (typeof event !== 'string') {
      const id = event.id ?? String(++this.actionCounter);
      return { JUJU_DISPATCH_PATH: `actions/${event.action}`, JUJU_HOOK_NAME: '', JUJU_ACTION_NAME: event.action, JUJU_ACTION_UUID: id, JUJU_ACTION_TAG: `action-${id}` };
    }
    // A dispatch path such as hooks/build_success arrives the way the charm fires it: through
    // juju-exec, whose context has no JUJU_HOOK_NAME.
    if (event.includes('/')) return { JUJU_DISPATCH_PATH: event };
    const env: Record<string, string> = { JUJU_DISPATCH_PATH: `hooks/${event}`, JUJU_HOOK_NAME: event };
    const m = RELATION_EVENT.exec(event);
    if (m) {
      const endpoint = opts.relation?.endpoint ?? m[1]!;
      const phase = m[2]!;
      const rels = Object.values(this.relations()).filter((r) => r.endpoint === endpoint && (opts.relation?.id === undefined || r.id === opts.relation.id));
      const rel = rels[0];
      if (!rel) throw new Error(`no relation on endpoint "${endpoint}"${opts.relation?.id !== undefined ? ` with id ${opts.relation.id}` : ''}: addRelation first`);
      const departing = phase === 'departed' ? (opts.relation?.departingUnit ?? opts.relation?.remoteUnit ?? rel.units[0] ?? '') : undefined;
      const remote = phase === 'created' || phase === 'broken' ? '' : (opts.relation?.remoteUnit ?? departing ?? rel.units[0] ?? '');
      Object.assign(env, { JUJU_RELATION: endpoint, JUJU_RELATION_ID: `${endpoint}:${rel.id}`, JUJU_REMOTE_APP: rel.app, JUJU_REMOTE_UNIT: remote });
      if (departing !== undefined) env.JUJU_DEPARTING_UNIT = departing;
    }
    const s = SECRET_EVENT.exec(event);
    if (s) {
      if (!opts.secret) throw new Error(`${event}: say which secret (dispatch(event, { secret: { id } }))`);
      const key = this.secretKey(opts.secret.id);
      const known = this.secrets()[key];
      const label = opts.secret.label ?? (known?.owner ? known.label : known?.consumers[this.unitName]?.label) ?? '';
      Object.assign(env, { JUJU_SECRET_ID: opts.secret.id, JUJU_SECRET_LABEL: label });
      if (s[1] === 'remove' || s[1] === 'expired') env.JUJU_SECRET_REVISION = String(opts.secret.revision ?? (known ? latestRevision(known) : 1));
    }
    return env;
  }

  /** Runs one event as Juju would: `<charmDir>/dispatch` in a fresh hook context. */
  async dispatch(event: DispatchEvent, opts: DispatchOptions = {}): Promise<DispatchResult> {
    const isAction = typeof event !== 'string';
    const eventName = typeof event === 'string' ? (event.includes('/') ? 'run-commands' : event) : event.action;
    const contextId = `${this.unitName}-${eventName}-${BigInt(`0x${randomBytes(8).toString('hex')}`)}`;
    if (isAction) writeJson(path.join(this.jujuDir, 'action/params.json'), event.params ?? {});

    const sets: Record<string, string> = { ...this.eventEnv(event, opts), JUJU_CONTEXT_ID: contextId };
    const unset = new Set(opts.unsetEnv ?? []);
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) {
        unset.add(k);
        delete sets[k];
      } else {
        sets[k] = v;
        unset.delete(k);
      }
    }
    for (const k of unset) delete sets[k];
    const args = [...Object.entries(sets).map(([k, v]) => `${k}=${v}`), ...[...unset].flatMap((k) => ['-u', k]), '--'];
    const exe = opts.executable ? path.resolve(this.charmDir, opts.executable) : path.join(this.charmDir, 'dispatch');

    const hostBefore = this.hostCalls().length;
    const res = await runProcess(RUN_IN_CONTEXT, [...args, exe], {
      env: { FAKE_JUJU_DIR: this.jujuDir, PATH: '/usr/local/bin:/usr/bin:/bin' },
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    const ours = <T extends { context: string | null }>(entries: T[]) => entries.filter((e) => e.context === contextId);
    const actionDir = path.join(this.jujuDir, 'action');
    return {
      ...res,
      contextId,
      calls: ours(this.allCalls()),
      hostCalls: this.hostCalls().slice(hostBefore),
      statusHistory: ours(readJsonLines<StatusEntry>(path.join(this.jujuDir, 'status-history.jsonl'))),
      logs: ours(readJsonLines<LogEntry>(path.join(this.jujuDir, 'juju-log.jsonl'))),
      actionResults: isAction ? readJson<Record<string, unknown>>(path.join(actionDir, 'results.json'), {}) : undefined,
      actionLogs: isAction ? ours(readJsonLines<{ message: string; context: string }>(path.join(actionDir, 'logs.jsonl'))).map((l) => l.message) : [],
      actionFailed: isAction ? readIfPresent(path.join(actionDir, 'failed')) : undefined,
    };
  }

  /**
   * Runs the unit's juju-exec stand-in as cron or the build script's report would: with only PATH,
   * FAKE_JUJU_DIR and `env` in its environment (never a hook context).
   */
  jujuExec(args: readonly string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ExecResult> {
    return runProcess(path.join(this.hostBin, 'juju-exec'), args, {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', FAKE_JUJU_DIR: this.jujuDir, ...opts.env },
      cwd: this.hostRoot,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
  }

  setConfig(partial: Record<string, unknown>): void {
    const cfg = readJson<Record<string, unknown>>(this.statePath('config.json'), {});
    for (const [k, v] of Object.entries(partial)) {
      if (v === undefined) delete cfg[k];
      else cfg[k] = v;
    }
    writeJson(this.statePath('config.json'), cfg);
  }

  config(): Record<string, unknown> {
    return readJson(this.statePath('config.json'), {});
  }

  /** Makes the unit the leader or not; no hook runs (Juju 3 has none for losing leadership). */
  setLeader(leader: boolean): void {
    writeFileSync(this.statePath('leader'), `${leader}\n`);
  }

  /**
   * The agent cannot tell whether the unit leads (it lost the controller): is-leader fails with
   * `ERROR leadership status unknown: <cause>` (exit 1) until setLeader; leader-only tools act
   * as for a non-leader.
   */
  setLeadershipUnknown(cause = 'connection is shut down'): void {
    writeFileSync(this.statePath('leader'), `unknown: ${cause}\n`);
  }

  /** Whether the unit leads (false while its leadership is unknown). */
  isLeader(): boolean {
    return /^\s*true\s*$/.test(readFileSync(this.statePath('leader'), 'utf8'));
  }

  addRelation(spec: RelationSpec): void {
    const rels = this.relations();
    const units = [...(spec.units ?? Object.keys(spec.remoteUnits ?? {}))];
    const remoteUnits: Record<string, Databag> = {};
    for (const u of units) remoteUnits[u] = { ...spec.remoteUnits?.[u] };
    for (const [u, bag] of Object.entries(spec.remoteUnits ?? {})) remoteUnits[u] = { ...bag };
    rels[`${spec.endpoint}:${spec.id}`] = {
      endpoint: spec.endpoint,
      id: spec.id,
      app: spec.app,
      units,
      'local-unit': { ...spec.localUnit },
      'local-app': { ...spec.localApp },
      'remote-units': remoteUnits,
      'remote-app': { ...spec.remoteApp },
    };
    writeJson(this.statePath('relations.json'), rels);
  }

  removeRelation(key: string): void {
    const rels = this.relations();
    delete rels[key];
    writeJson(this.statePath('relations.json'), rels);
  }

  // --- secrets (the controller's state/secrets.json; secret-get changes it at once) ------------
  private secretKey(id: string): string {
    const uri = parseSecretUri(id);
    if (!uri) throw new Error(`${JSON.stringify(id)} is not a secret URI`);
    return uri.id;
  }

  private writeSecrets(secrets: Record<string, SimSecret>): void {
    writeJson(this.statePath('secrets.json'), secrets);
  }

  private withSecret<T>(id: string, change: (s: SimSecret) => T): T {
    const all = this.secrets();
    const s = all[this.secretKey(id)];
    if (!s) throw new Error(`no secret ${id} in the model`);
    const result = change(s);
    this.writeSecrets(all);
    return result;
  }

  /** Adds a secret as the unit would see it (the shape of the in-memory State's secrets); returns its id. */
  addSecret(spec: SecretSpec): string {
    const id = spec.id ?? `secret:${newSecretId()}`;
    this.writeSecrets({ ...this.secrets(), ...simSecrets([{ ...spec, id }], this.unitName) });
    return id;
  }

  /**
   * `juju add-secret`: a user secret with one revision, readable by no application until
   * grantSecret (or `grant: true`); returns its id (`secret:<id>`).
   */
  addUserSecret(content: Databag, opts: { readonly grant?: boolean; readonly id?: string } = {}): string {
    const id = this.addSecret({ revisions: [content], granted: false, ...(opts.id !== undefined ? { id: opts.id } : {}) });
    if (opts.grant) this.grantSecret(id);
    return id;
  }

  /** `juju update-secret`: a new revision with this content; returns its number. Juju then fires secret-changed on the units that track the secret (dispatch it). */
  updateSecret(id: string, content: Databag): number {
    return this.withSecret(id, (s) => {
      const revision = latestRevision(s) + 1;
      s.revisions[String(revision)] = { ...content };
      return revision;
    });
  }

  /** `juju grant-secret <id> <app>` (default: this unit's application). Fires no hook. */
  grantSecret(id: string, app = this.appName): void {
    this.withSecret(id, (s) => {
      if (!s.grants.includes(app)) s.grants.push(app);
    });
  }

  /** `juju revoke-secret <id> <app>`: the application may no longer read it (secret-get: permission denied); what its units track is kept. */
  revokeSecret(id: string, app = this.appName): void {
    this.withSecret(id, (s) => {
      s.grants = s.grants.filter((a) => a !== app);
    });
  }

  /** `juju remove-secret`: gone with every revision and consumer record (secret-get: not found). */
  removeSecret(id: string): void {
    const all = this.secrets();
    delete all[this.secretKey(id)];
    this.writeSecrets(all);
  }

  /** The revision this unit tracks of a secret and its label for it; undefined when it never read it. */
  secretTracking(id: string): SecretTracking | undefined {
    const s = this.secrets()[this.secretKey(id)];
    const mine = s?.consumers[this.unitName];
    return mine ? { revision: mine.revision, ...(mine.label !== undefined ? { label: mine.label } : {}) } : undefined;
  }

  /** The model's secrets as the simulated controller holds them, keyed by id (content included). */
  secrets(): Record<string, SimSecret> {
    return readJson(this.statePath('secrets.json'), {});
  }

  /** The committed relation data, keyed "<endpoint>:<id>". */
  relations(): Record<string, RelationState> {
    return readJson(this.statePath('relations.json'), {});
  }

  unitStatus(): StatusValue {
    return readJson(this.statePath('unit-status.json'), { status: 'unknown', message: '' });
  }

  appStatus(): StatusValue {
    return readJson(this.statePath('app-status.json'), { status: 'unknown', message: '' });
  }

  workloadVersion(): string {
    return readIfPresent(this.statePath('workload-version')) ?? '';
  }

  /** Committed charm state (state-set), and opened ports ("80/tcp" → endpoints). */
  charmState(): Record<string, string> {
    return readJson(this.statePath('charm-state.json'), {});
  }

  openedPorts(): Record<string, string[]> {
    return readJson(this.statePath('opened-ports.json'), {});
  }

  /** Every hook-tool call of every context so far. */
  allCalls(): ToolCall[] {
    return readJsonLines(path.join(this.jujuDir, 'calls.jsonl'));
  }

  allLogs(): LogEntry[] {
    return readJsonLines(path.join(this.jujuDir, 'juju-log.jsonl'));
  }

  statusHistory(): StatusEntry[] {
    return readJsonLines(path.join(this.jujuDir, 'status-history.jsonl'));
  }

  /** Every host-program call so far. */
  hostCalls(): HostCall[] {
    return readJsonLines(path.join(this.hostDir, 'calls.jsonl'));
  }

  /** Builds the builder stand-in finished (builds.jsonl). */
  builds(): BuildRecord[] {
    return readJsonLines(path.join(this.hostDir, 'builds.jsonl'));
  }

  /** Private keys the builder stand-in wrote (keys.jsonl). */
  builderKeys(): KeyRecord[] {
    return readJsonLines(path.join(this.hostDir, 'keys.jsonl'));
  }

  /** Where a production path lives on the simulated host. */
  hostPath(prodPath: string): string {
    return path.join(this.hostRoot, prodPath);
  }

  /** A file at a production path (/etc/cron.d/x), or undefined when absent. */
  readHostFile(prodPath: string): string | undefined {
    return readIfPresent(this.hostPath(prodPath));
  }

  writeHostFile(prodPath: string, content: string, mode = 0o644): void {
    mkdirSync(path.dirname(this.hostPath(prodPath)), { recursive: true });
    writeFileSync(this.hostPath(prodPath), content, { mode });
    chmodSync(this.hostPath(prodPath), mode);
  }

  /**
   * Sets (or with undefined removes) a knob file in FAKE_HOST_DIR: `build-seconds`,
   * `next-image-id`, `latest-image-id`, `dpkg-installed`, `systemd-active`, `passwd`.
   */
  setHostKnob(name: 'build-seconds' | 'build-gate' | 'next-image-id' | 'latest-image-id' | 'dpkg-installed' | 'systemd-active' | 'passwd', value: string | undefined): void {
    const p = path.join(this.hostDir, name);
    if (value === undefined) rmSync(p, { force: true });
    else writeFileSync(p, value);
  }

  /** Installed packages as dpkg-query reports them. */
  installedPackages(): string[] {
    return readFileSync(path.join(this.hostDir, 'dpkg-installed'), 'utf8').split('\n').filter(Boolean);
  }

  /**
   * Makes a host program fail: `prog` is a program name (`apt-get`) or program plus first
   * non-option argument (`apt-get.install`, `github-runner-image-builder.run`). It prints
   * `stderr` and exits `code`; 'hang' makes it sleep until killed.
   */
  failHost(prog: string, code: number | 'hang', stderr = ''): void {
    writeFileSync(path.join(this.hostDir, 'fail', prog), `${code}\n${stderr}`);
  }

  clearFailures(): void {
    rmSync(path.join(this.hostDir, 'fail'), { recursive: true, force: true });
    mkdirSync(path.join(this.hostDir, 'fail'));
  }

  /** Ends what the unit still runs (a background build, a reported hook mid-commit), then removes its dirs. */
  cleanup(): void {
    killUnitProcesses(this);
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export function createUnit(opts: CreateUnitOptions): SimUnit {
  return new SimUnit(opts);
}
