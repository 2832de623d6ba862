// Shared machinery of the hostile suite: simulated units running the packed-style charm dir's
// `dispatch`, a record of everything each dispatch emitted, and the checks every case ends
// with (exit code as the fault table says, host files unchanged, no temp files, no canary
// anywhere but clouds.yaml). Every check records what it found in the tally before asserting.
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildImageBuilderCharmDir, copyCharmDir } from '../support/charm-dir.js';
import { CANARY, cloudsYaml } from '../support/clouds.js';
import { diffTrees, snapshotTree, type TreeSnapshot } from '../support/host.js';
import { HOST_BIN_DIR, createUnit, runProcess, type DispatchEvent, type DispatchOptions, type DispatchResult, type ExecResult, type SimUnit } from '../support/juju.js';
import { tally } from './tally.js';

export { CANARY, cloudsYaml };
import { BUILD_LOG_PATH, BUILD_SCRIPT_PATH, CLOUDS_YAML_PATH, CRON_PATH } from '../../src/charm/paths.js';
export { eventually } from '../support/eventually.js';
import { eventually } from '../support/eventually.js';
import { unitProcesses, waitIdle } from '../support/unit-processes.js';
export const CRON = CRON_PATH;
export const CLOUDS = CLOUDS_YAML_PATH;
export const BUILD_SCRIPT = BUILD_SCRIPT_PATH;
export const BUILD_LOG = BUILD_LOG_PATH;
export const STATE_FILE = '.unit-state.json';
export const IMAGE = 'noble-github-runner-image-builder-x64';

export const goodConfig = (clouds: string = cloudsYaml()) => ({
  'base-image': 'noble',
  interval: 6,
  'openstack-clouds-yaml': clouds,
  'cloud-name': '',
  'revision-history-limit': 5,
});

// --- the charm dir and units --------------------------------------------------------------------

// Units and charm dirs live under a temp root of their own (os.tmpdir() reads TMPDIR on every
// call): other runs on a shared machine sweep /tmp/sim-unit-* and /tmp/charm-*.
const TMP_ROOT = mkdtempSync(path.join(tmpdir(), 'hostile-'));
process.env.TMPDIR = TMP_ROOT;

let built: Promise<string> | undefined;
const cleanups: (() => void | Promise<void>)[] = [];

/** Registers something to undo when the file's tests are done (latest first). */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.unshift(fn);
}

export async function cleanupAll(): Promise<void> {
  for (const fn of cleanups.splice(0)) {
    try {
      await fn();
    } catch (err) {
      console.error(`hostile suite cleanup: ${(err as Error).message}`);
    }
  }
  if (built) rmSync(await built, { recursive: true, force: true });
  built = undefined;
  rmSync(TMP_ROOT, { recursive: true, force: true });
}

/** A simulated unit and every dispatch result it produced (for the leak scan). */
export class Hostile {
  readonly results: DispatchResult[] = [];
  constructor(readonly u: SimUnit) {}

  async dispatch(event: DispatchEvent, opts: DispatchOptions = {}): Promise<DispatchResult> {
    const r = await this.u.dispatch(event, opts);
    this.results.push(r);
    return r;
  }

  imageId(): string | undefined {
    return this.u.relations()['image:1']?.['local-unit'].id;
  }

  stateText(): string | undefined {
    try {
      return readFileSync(path.join(this.u.charmDir, STATE_FILE), 'utf8');
    } catch {
      return undefined;
    }
  }
}

export async function newUnit(config: Record<string, unknown> = goodConfig()): Promise<Hostile> {
  built ??= buildImageBuilderCharmDir();
  const charmDir = copyCharmDir(await built);
  const u = createUnit({ charmDir, config, relations: [{ endpoint: 'image', id: 1, app: 'github-runner', units: ['github-runner/0'] }] });
  onCleanup(() => {
    u.cleanup();
    rmSync(charmDir, { recursive: true, force: true });
  });
  return new Hostile(u);
}

/** A unit after install and its first build: serving an image, nothing running. */
export async function settledUnit(config: Record<string, unknown> = goodConfig()): Promise<Hostile> {
  const h = await newUnit(config);
  h.u.setHostKnob('next-image-id', 'img-first');
  const r = await h.dispatch('install');
  if (r.code !== 0) throw new Error(`install failed (${r.code}): ${r.stderr}`);
  await eventually('the first image to be served', () => h.u.builds().length === 1 && h.imageId() === 'img-first' && /^Serving image img-first /.test(h.u.unitStatus().message));
  await waitIdle(h.u);
  h.u.setHostKnob('next-image-id', undefined);
  return h;
}


/** The command of the cron entry, as cron gives it to sh (\\% is a literal %). */
export function cronCommand(u: SimUnit): string {
  const job = u.readHostFile(CRON)!.split('\n').find((l) => l && !l.startsWith('#'))!;
  return job.replace(/^(\S+\s+){5}root\s+/, '').replace(/\\%/g, '%');
}

/** Runs the cron entry's command with sh, as cron would: no machine lock, no hook context. */
export function runCron(u: SimUnit, timeoutMs = 120_000): Promise<ExecResult> {
  return runProcess('/bin/sh', ['-c', cronCommand(u)], {
    env: { PATH: `${HOST_BIN_DIR}:/usr/bin:/bin`, FAKE_JUJU_DIR: u.jujuDir, FAKE_HOST_DIR: u.hostDir, CHARM_HOST_ROOT: u.hostRoot },
    cwd: '/',
    timeoutMs,
  });
}

// --- processes ------------------------------------------------------------------------------------

export { unitProcesses, waitIdle };

function processGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/**
 * Waits until the stand-in `prog` hangs (failHost(prog, 'hang')) inside a dispatch of this
 * unit, then SIGKILLs that dispatch's whole process group: the context runner, the charm and
 * the hanging program, as a machine crash or an OOM kill of the hook would.
 */
export async function killWhenHanging(u: SimUnit, prog: string): Promise<void> {
  const hanging = await eventually(`${prog} to hang`, () =>
    unitProcesses(u).find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\x002147483647\x00' && u.hostCalls().some((c) => c.prog === prog);
      } catch {
        return false;
      }
    }),
  );
  const group = processGroup(hanging);
  if (!(group > 1) || group === processGroup(process.pid)) throw new Error(`refusing to kill process group ${group}`);
  process.kill(-group, 'SIGKILL');
}

// --- host faults --------------------------------------------------------------------------------

const isRoot = process.getuid?.() === 0;

/**
 * Makes a host directory refuse new files, in a way that works as root (tests run as root,
 * where chmod stops nothing): chattr +i. Unprivileged, chmod 0555 does it. Returns the undo.
 */
export function makeImmutable(dir: string): () => void {
  let done = false;
  const mode = lstatSync(dir).mode & 0o7777;
  execFileSync(isRoot ? 'chattr' : 'chmod', isRoot ? ['+i', dir] : ['0555', dir]);
  const undo = () => {
    if (done) return;
    done = true;
    execFileSync(isRoot ? 'chattr' : 'chmod', isRoot ? ['-i', dir] : [mode.toString(8), dir]);
  };
  onCleanup(undo);
  return undo;
}

// --- checks ---------------------------------------------------------------------------------------

export interface Expected {
  /** The exit code the fault table gives (null: killed by us). */
  readonly code: number | null;
  /** Uncaught error names allowed in the log (decided hook failures). */
  readonly uncaught?: readonly string[];
}

/** Records a crash when the dispatch ended otherwise than decided; returns the problems. */
export function checkOutcome(r: DispatchResult, expected: Expected, what: string): string[] {
  const problems: string[] = [];
  if (r.code !== expected.code) problems.push(`${what}: exit ${r.code} (signal ${r.signal}), expected ${expected.code}; stderr: ${r.stderr.slice(-500)}`);
  for (const log of r.logs) {
    const m = /^Uncaught (\w+)/.exec(log.message);
    if (m && !(expected.uncaught ?? []).includes(m[1]!)) problems.push(`${what}: uncaught ${m[1]}: ${log.message.slice(0, 500)}`);
  }
  tally.crashes.push(...problems);
  return problems;
}

/** Host paths that differ between two snapshots (content, mode, owner, size, mtime). */
export function changedPaths(before: TreeSnapshot, after: TreeSnapshot): string[] {
  const d = diffTrees(before, after, { compareMtime: true });
  return [...d.added.map((p) => `+${p}`), ...d.removed.map((p) => `-${p}`), ...d.changed.map((c) => `~${c.path} (${c.fields.join(',')})`)];
}

/** Records host files that changed although they had to stay byte-identical (but `mayChange`, production paths). */
export function checkUnchanged(before: TreeSnapshot, after: TreeSnapshot, what: string, mayChange: readonly string[] = []): string[] {
  const keep = (snap: TreeSnapshot) => Object.fromEntries(Object.entries(snap).filter(([p]) => !mayChange.includes(`/${p}`)));
  const changed = changedPaths(keep(before), keep(after)).map((p) => `${what}: ${p}`);
  tally.changedFiles.push(...changed);
  return changed;
}

/** Temp files of writeFileAtomic (`.<name>.tmp-<pid>-<rand>`) under a directory. */
export function tempFiles(dir: string): string[] {
  return Object.keys(snapshotTree(dir)).filter((p) => /(^|\/)\.[^/]+\.tmp-\d+-[a-z0-9]+$/.test(p));
}

/**
 * Records as crashes the uncaught errors in the juju-log records of hooks these tests did not
 * dispatch themselves (those a build's report fired), except the names in `allowed`.
 */
export function checkNoUncaught(h: Hostile, what: string, allowed: readonly string[] = []): string[] {
  const checked = new Set(h.results.map((r) => r.contextId)); // checkOutcome saw those
  const problems = h.u
    .allLogs()
    .filter((l) => !checked.has(l.context))
    .map((l) => /^Uncaught (\w+) in (\S+)/.exec(l.message))
    .filter((m): m is RegExpExecArray => m !== null && !allowed.includes(m[1]!))
    .map((m) => `${what}: uncaught ${m[1]} in ${m[2]}`);
  tally.crashes.push(...problems);
  return problems;
}

/** Records (as changed files) temp files left on the host. */
export function checkNoTempFiles(h: Hostile, what: string): string[] {
  const found = tempFiles(h.u.hostRoot).map((p) => `${what}: temp file left: ${p}`);
  tally.changedFiles.push(...found);
  return found;
}

function walkFiles(dir: string, out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const p = path.join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) walkFiles(p, out);
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/**
 * Everything the charm emitted, searched for the canary password: every hook-tool argv and
 * stdin, juju-log, statuses, action results/logs/failures, each dispatch's stdout and stderr,
 * the host programs' argv, env and cwd, relation data, charm state, and every file of the
 * simulated unit, host and charm dir. Allowed: clouds.yaml (mode 0600) and Juju's own copy of
 * the config (the operator's input). Records and returns where it was found.
 */
export function checkLeaks(h: Hostile, what: string): string[] {
  const u = h.u;
  const found: string[] = [];
  const look = (where: string, value: unknown) => {
    const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
    if (text.includes(CANARY)) found.push(`${what}: ${where}`);
  };
  look('hook-tool calls (argv, stdin)', u.allCalls());
  look('juju-log', u.allLogs());
  look('status history', u.statusHistory());
  look('host program calls (argv, env, cwd)', u.hostCalls());
  look('relation data', u.relations());
  look('charm state', u.charmState());
  for (const r of h.results) {
    look(`stdout of ${r.contextId}`, r.stdout);
    look(`stderr of ${r.contextId}`, r.stderr);
    look(`action results of ${r.contextId}`, [r.actionResults, r.actionLogs, r.actionFailed]);
  }
  const allowed = new Map([
    [u.hostPath(CLOUDS), 0o600],
    [path.join(u.jujuDir, 'state/config.json'), -1],
    // Juju's own store of user secrets (the controller's, in a real deployment).
    [path.join(u.jujuDir, 'state/secrets.json'), -1],
  ]);
  for (const file of [...walkFiles(u.dir), ...walkFiles(u.charmDir)]) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    if (!text.includes(CANARY)) continue;
    const mode = allowed.get(file);
    if (mode === undefined) found.push(`${what}: file ${path.relative(u.dir, file)}`);
    else if (mode !== -1 && (lstatSync(file).mode & 0o7777) !== mode) found.push(`${what}: ${path.relative(u.dir, file)} has mode ${(lstatSync(file).mode & 0o7777).toString(8)}`);
  }
  tally.leaks.push(...found);
  return found;
}
