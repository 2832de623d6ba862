// Copies of the build cloud's images into each consumer's own cloud (issue 20), as the charm sees
// them: it writes a request and starts the copier (src/copier/main.ts, dist/copier.js) detached,
// never copying in a hook; the copier writes the result and tells the charm through juju-exec
// (the copies_done event), and the charm reads the result here. The copier has its own lock, so
// copies and builds run side by side, and only one copier runs at a time.
//
// The copier runs inside a small sh loop (COPIER_SCRIPT): flock -n on COPY_LOCK_PATH, the copier,
// then, with the lock released, a last look at the request: a request written while the lock was
// going (its startCopies saw the lock held and said 'queued') is served by another turn. Then the
// report, in the background and without the lock: the copies_done hook may start copies itself.
import { setTimeout as sleep } from 'node:timers/promises';
import { isValidCloudName } from '../openstack/cloud-name.js';
import { COPY_NODE_FLAGS } from '../openstack/copy.js';
import { ProcessError } from '../ops/errors.js';
import { BASE_NAME, COPIER_FIELDS, COPY_CLOUD_NAME, GONE_FIELDS, copiesFileName, goneFileName, parseCopiesFile, parseGoneFile } from '../shared/metrics-files.js';
import { IMAGE_ID } from './build-config.js';
import { endSessions, type UnitContext } from './builder.js';
import type { Host } from './host.js';
import { COPY_LOCK_PATH, COPY_LOG_PATH, COPY_REQUEST_PATH, COPY_RESULT_PATH, COPY_SERVED_PATH, LOCK_BUSY_EXIT, METRICS_DIR, SYSTEM_PATH } from './paths.js';
import { shQuote } from './shell.js';

export interface CopyRequest {
  /** The build cloud's name in CLOUDS_YAML_PATH: where the source images are. */
  readonly sourceCloud: string;
  /** The build cloud's newest image of each base: what every consumer cloud must have. */
  readonly images: readonly { readonly base: string; readonly id: string; readonly name: string }[];
  /** Consumer cloud names in CONSUMER_CLOUDS_PATH to copy into. */
  readonly clouds: readonly string[];
  /** revision-history-limit: images of that name kept per consumer cloud after a copy. */
  readonly keep: number;
  /** Per cloud, ids the charm publishes now: a prune never deletes them. */
  readonly published: Readonly<Record<string, readonly string[]>>;
}

export interface CopyOutcome {
  readonly cloud: string;
  readonly base: string;
  /** The build cloud's id that was copied. */
  readonly sourceId: string;
  /** The verified copy (or the already-present identical image that was reused). */
  readonly image?: { readonly id: string; readonly name: string; readonly createdAt: string };
  /** Why it failed (safe to show: no secret), when it did. */
  readonly error?: string;
  readonly bytes?: number;
  readonly durationMs: number;
  /** true when an identical image (same name, same os_hash_value/checksum, owned by that project) was already there: no data moved. */
  readonly reused?: boolean;
}

export interface CopyResult {
  /** ISO 8601. */
  readonly finishedAt: string;
  readonly outcomes: readonly CopyOutcome[];
}

/** What the copier needs that is not secret: all of it goes on its command line. */
export interface CopierContext {
  /** The node that runs the charm (process.execPath). */
  readonly node: string;
  readonly charmDir: string;
  readonly unitName: string;
  /** Absolute path of juju-exec on this machine. */
  readonly jujuExec: string;
}

/** The request and the result are refused above this size. */
export const MAX_COPY_FILE_BYTES = 256 * 1024;
/** Bounds of a request (a deployment has a few bases and a few consumers). */
const MAX_IMAGES = 64;
const MAX_CLOUDS = 256;
const MAX_PUBLISHED_PER_CLOUD = 64;
const MAX_KEEP = 100;
/** Glance's limit on an image name. */
const MAX_IMAGE_NAME = 255;
/** An error as the result keeps it. */
const MAX_ERROR_CHARS = 2000;
/** How long startCopies follows the copier's start before it lets the hook go on. */
const START_WAIT_MS = 30_000;

// ---- request and result files ----

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
// eslint-disable-next-line no-control-regex -- what it refuses
const printable = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max && !/[\u0000-\u001f\u007f]/.test(v);
const consumerCloud = (v: unknown): v is string => typeof v === 'string' && COPY_CLOUD_NAME.test(v);

/** The request's problems (empty when it is valid); the copier refuses one with any. */
export function copyRequestProblems(value: unknown): string[] {
  if (!isObject(value)) return ['the request is not a JSON object'];
  const problems: string[] = [];
  const { sourceCloud, images, clouds, keep, published } = value;
  if (typeof sourceCloud !== 'string' || !isValidCloudName(sourceCloud) || sourceCloud.length > 200) problems.push('sourceCloud is not a cloud name');
  if (!Array.isArray(images) || images.length > MAX_IMAGES) problems.push(`images is not a list of at most ${MAX_IMAGES}`);
  else {
    const bases = new Set<string>();
    images.forEach((image, i) => {
      if (!isObject(image) || typeof image.base !== 'string' || !BASE_NAME.test(image.base) || typeof image.id !== 'string' || !IMAGE_ID.test(image.id) || !printable(image.name, MAX_IMAGE_NAME)) {
        problems.push(`images[${i}] is not {base, id, name}`);
      } else if (bases.has(image.base)) problems.push(`images[${i}]: base ${image.base} is there twice`);
      else bases.add(image.base);
    });
  }
  if (!Array.isArray(clouds) || clouds.length > MAX_CLOUDS || !clouds.every(consumerCloud) || new Set(clouds).size !== clouds.length) {
    problems.push(`clouds is not a list of at most ${MAX_CLOUDS} different cloud names`);
  }
  if (typeof keep !== 'number' || !Number.isInteger(keep) || keep < 1 || keep > MAX_KEEP) problems.push(`keep is not a whole number from 1 to ${MAX_KEEP}`);
  if (!isObject(published) || Object.keys(published).length > MAX_CLOUDS) problems.push('published is not an object of cloud names');
  else {
    for (const [cloud, ids] of Object.entries(published)) {
      if (!consumerCloud(cloud) || !Array.isArray(ids) || ids.length > MAX_PUBLISHED_PER_CLOUD || !ids.every((id) => typeof id === 'string' && IMAGE_ID.test(id))) {
        problems.push(`published.${cloud.slice(0, 64)} is not a list of image ids`);
      }
    }
  }
  return problems;
}

/** The request's text: what startCopies writes, the copier reads and compares. */
export function copyRequestText(request: CopyRequest): string {
  const problems = copyRequestProblems(request);
  if (problems.length) throw new RangeError(`invalid copy request: ${problems.join('; ')}`);
  return `${JSON.stringify(request)}\n`;
}

/** A request's text parsed and checked: the request, or why not (bounded, nothing of the text itself). */
export function parseCopyRequest(text: string): CopyRequest | { readonly problems: readonly string[] } {
  if (Buffer.byteLength(text) > MAX_COPY_FILE_BYTES) return { problems: [`the request is larger than ${MAX_COPY_FILE_BYTES} bytes`] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problems: ['the request is not JSON'] };
  }
  const problems = copyRequestProblems(value);
  return problems.length ? { problems } : (value as CopyRequest);
}

const isDuration = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function validOutcome(o: unknown): o is CopyOutcome {
  if (!isObject(o) || !consumerCloud(o.cloud) || typeof o.base !== 'string' || !BASE_NAME.test(o.base) || typeof o.sourceId !== 'string' || !IMAGE_ID.test(o.sourceId)) return false;
  if (!isDuration(o.durationMs)) return false;
  if (o.bytes !== undefined && !(isDuration(o.bytes) && Number.isInteger(o.bytes))) return false;
  if (o.reused !== undefined && typeof o.reused !== 'boolean') return false;
  if (o.error !== undefined && !(typeof o.error === 'string' && o.error.length <= MAX_ERROR_CHARS)) return false;
  if (o.image !== undefined) {
    const i = o.image;
    if (!isObject(i) || typeof i.id !== 'string' || !IMAGE_ID.test(i.id) || !printable(i.name, MAX_IMAGE_NAME) || typeof i.createdAt !== 'string' || !Number.isFinite(Date.parse(i.createdAt))) return false;
  }
  return (o.image === undefined) !== (o.error === undefined);
}

/** A result's text parsed and checked; undefined when malformed or too large. */
export function parseCopyResult(text: string): CopyResult | undefined {
  if (Buffer.byteLength(text) > MAX_COPY_FILE_BYTES) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(value) || typeof value.finishedAt !== 'string' || !Number.isFinite(Date.parse(value.finishedAt))) return undefined;
  if (!Array.isArray(value.outcomes) || !value.outcomes.every(validOutcome)) return undefined;
  return value as unknown as CopyResult;
}

/** An error as the result keeps it: bounded. */
export const outcomeError = (message: string): string => (message.length > MAX_ERROR_CHARS ? `${message.slice(0, MAX_ERROR_CHARS - 3)}...` : message);

/** The copier's last result: validated, at most 256 KiB; undefined when absent or malformed. */
export function readCopyResult(host: Host): CopyResult | undefined {
  const text = host.readText(COPY_RESULT_PATH, MAX_COPY_FILE_BYTES);
  return text === undefined ? undefined : parseCopyResult(text);
}

/** Writes the result (atomic, root 0600): the copier, at the end of each run. */
export function writeCopyResult(host: Host, result: CopyResult): void {
  host.writeIfChanged(COPY_RESULT_PATH, `${JSON.stringify(result)}\n`, { mode: 0o600, uid: 0, gid: 0 });
}

// ---- the copier's start ----

/**
 * The sh loop the copier runs in (see the top of this file). Its arguments, in order: the lock,
 * the request, the served request, the report's log, juju-exec, the unit, the report's command,
 * then the copier's command line. Exits LOCK_BUSY_EXIT when the first flock finds another copier.
 */
export const COPIER_SCRIPT = `set -u
lock=$1 request=$2 served=$3 log=$4 juju_exec=$5 unit=$6 report=$7
shift 7
turn=0
while :; do
  turn=$((turn + 1))
  rc=0
  flock -n -E ${LOCK_BUSY_EXIT} "$lock" "$@" || rc=$?
  if [ $rc -eq ${LOCK_BUSY_EXIT} ]; then
    # Another copier holds the lock: it serves the request (and reports).
    [ $turn -eq 1 ] && exit ${LOCK_BUSY_EXIT}
    exit 0
  fi
  # Asked again while the lock was going: another turn. A copier that failed is not rerun.
  if [ $rc -eq 0 ] && ! cmp -s "$request" "$served"; then continue; fi
  break
done
"$juju_exec" "$unit" "$report" >> "$log" 2>&1 &
exit $rc
`;

/** The copier's environment: the hook's, without Juju's context (juju-exec refuses one), proxy settings kept. */
function copierEnv(host: Host): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(host.env)) {
    if (value === undefined) continue;
    if (/^(JUJU_|OPERATOR_DISPATCH$|CHARM_DIR$)/.test(key) && !/^JUJU_CHARM_(HTTP|HTTPS|NO)_PROXY$/.test(key)) continue;
    env[key] = value;
  }
  env.PATH ??= SYSTEM_PATH;
  return env;
}

/** The copier's process: sh, the loop, its arguments (nothing secret: paths and the unit's name). */
export function copierArgv(host: Host, ctx: CopierContext): [string, ...string[]] {
  const report = `JUJU_DISPATCH_PATH=hooks/copies_done ${shQuote(`${ctx.charmDir}/dispatch`)}`;
  return [
    '/bin/sh',
    '-c',
    COPIER_SCRIPT,
    'copier',
    host.path(COPY_LOCK_PATH),
    host.path(COPY_REQUEST_PATH),
    host.path(COPY_SERVED_PATH),
    host.path(COPY_LOG_PATH),
    ctx.jujuExec,
    ctx.unitName,
    report,
    ctx.node,
    ...COPY_NODE_FLAGS,
    `${ctx.charmDir}/dist/copier.js`,
  ];
}

/** Whether a copier holds the copy lock (read from /proc: a probe that took the lock could make a start find it busy). */
export async function isCopyRunning(host: Host): Promise<boolean> {
  return host.exists(COPY_LOCK_PATH) && host.sessionsHolding(COPY_LOCK_PATH).length > 0;
}

/**
 * Writes the request (atomic, root 0600) and starts the copier detached (own session, like
 * buildImmediate in builder.ts) under `flock -n -E 75 COPY_LOCK_PATH`. When a copier is already
 * running, it returns 'queued': that copier runs again for the new request once it is done, so
 * the newest request is always served and a second copier is never started.
 */
export async function startCopies(unit: UnitContext, request: CopyRequest, ctx: CopierContext): Promise<'started' | 'queued'> {
  const host = unit.host;
  host.writeIfChanged(COPY_REQUEST_PATH, copyRequestText(request), { mode: 0o600, uid: 0, gid: 0 });
  // Created once, never replaced: a copier holding the old file would not exclude a new one.
  if (!host.exists(COPY_LOCK_PATH)) host.writeIfChanged(COPY_LOCK_PATH, '', { mode: 0o600, uid: 0, gid: 0 });
  if (await isCopyRunning(host)) return 'queued';
  const [file, ...args] = copierArgv(host, ctx);
  const child = host.spawnDetached(file, args, { env: copierEnv(host), cwd: host.path('/') });
  for (let waited = 0; waited < START_WAIT_MS; waited += 20) {
    const code = child.exitCode();
    if (code !== undefined) return code === LOCK_BUSY_EXIT ? 'queued' : 'started';
    const failed = child.startError();
    if (failed) throw new ProcessError({ command: [file, '-c', '<copier loop>'], spawnError: (failed as NodeJS.ErrnoException).code ?? failed.message, cause: failed });
    if (await isCopyRunning(host)) break;
    await sleep(20);
  }
  child.release();
  return 'started';
}

/**
 * Ends a running copier (stop, remove): every process of the sessions holding the copy lock (the
 * loop, flock, the copier), SIGTERM then SIGKILL after a grace period. A copy cut off leaves its
 * queued image in the consumer's cloud (the next copier's prune does not touch it: not active).
 * The request goes too, so a loop between turns has nothing left to serve. Returns the sessions.
 */
export async function stopCopies(unit: UnitContext): Promise<number[]> {
  const host = unit.host;
  const sessions = host.exists(COPY_LOCK_PATH) ? host.sessionsHolding(COPY_LOCK_PATH) : [];
  host.remove(COPY_REQUEST_PATH);
  await endSessions(host, sessions);
  return sessions;
}

// ---- metrics: copies-<cloud>.json (the copier's) and gone-<cloud>.json (the charm's) ----

/**
 * Changes one cloud's numbers in a metrics file that only this process kind writes (fields
 * created at zero); a cloud name unfit for a file name is skipped.
 */
function updateCloudFile<F extends string>(
  host: Host,
  file: string,
  fields: readonly F[],
  parse: (obj: Record<string, unknown>) => { value: Partial<Record<string, number>> },
  change: (stats: Record<F, number>) => void,
): boolean {
  const stats = Object.fromEntries(fields.map((f) => [f, 0])) as Record<F, number>;
  const text = host.readText(file, MAX_COPY_FILE_BYTES);
  if (text !== undefined) {
    try {
      const obj: unknown = JSON.parse(text);
      const { value } = isObject(obj) ? parse(obj) : { value: {} };
      for (const f of fields) stats[f] = value[f] ?? 0;
    } catch {
      // An unreadable file starts again from zero (the exporter showed it as an error meanwhile).
    }
  }
  change(stats);
  return host.writeIfChanged(file, `${JSON.stringify(stats)}\n`, { mode: 0o644, uid: 0, gid: 0 });
}

/** The copier changes a cloud's copies file. */
export function updateCopiesFile(host: Host, cloud: string, change: (stats: Record<(typeof COPIER_FIELDS)[number], number>) => void): boolean {
  if (!COPY_CLOUD_NAME.test(cloud)) return false;
  return updateCloudFile(host, `${METRICS_DIR}/${copiesFileName(cloud)}`, COPIER_FIELDS, parseCopiesFile, change);
}

/** The charm found an image it published in `cloud` gone and replaced it: counted for the alert. */
export function recordGoneImageReplaced(host: Host, cloud: string): void {
  if (!COPY_CLOUD_NAME.test(cloud)) return;
  updateCloudFile(host, `${METRICS_DIR}/${goneFileName(cloud)}`, GONE_FIELDS, parseGoneFile, (s) => {
    s.gone_replaced += 1;
  });
}
