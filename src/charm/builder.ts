// Port of the upstream charm's builder module (docs/upstream-charm.md): set the host up to
// build images, schedule builds with cron, start one now, and find the newest image. What
// upstream meant, with its defects fixed: the builder is installed root-owned and run by root
// from root-only files (README "Security model"), values are shell-quoted, builds share one
// lock and time out, failures are reported, and stopping ends a running build.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CloudAccess, CloudPort, ImageInfo } from './cloud-port.js';
import { ProcessError } from '../ops/errors.js';
import { HostFileError, type Env, type Host, type RunOptions } from './host.js';
import {
  APP_DIR,
  BUILD_LOCK_PATH,
  BUILD_RUNNING_PATH,
  BUILD_SCRIPT_PATH,
  BUILD_OUTPUT_PATH,
  BUILD_PHASE_PATH,
  BUILDER_HOME,
  BUILDER_SSH_DIR,
  BUILDER_WORK_DIR,
  INIT_MARKER_PATH,
  LEGACY_CALLBACK_SCRIPT_PATH,
  CLOUDS_YAML_PATH,
  CONFIG_DIR,
  CRON_PATH,
  INSTALLED_MARKER_PATH,
  LEGACY_BUILDER_BIN,
  LEGACY_CLEANED_PATH,
  LEGACY_CLOUDS_YAML_PATH,
  LEGACY_BUILD_LOG_PATH,
  LEGACY_HOME,
  LOCK_BUSY_EXIT,
  LOG_DIR,
  METRICS_DIR,
  EXPORTER_SERVICE,
  EXPORTER_SOCKET,
  EXPORTER_SOCKET_PATH,
  EXPORTER_UNIT_PATH,
  PIPX_BIN_DIR,
  PIPX_HOME,
  SKIPPED_RUNS_PATH,
  STATE_DIR,
  SYSTEM_PATH,
  UBUNTU_USER,
} from './paths.js';
import { proxyEnv } from './proxy.js';
import type { ExporterUnits } from './render.js';
import { BUILDER_PACKAGE, BUILDER_SOURCE } from './builder-app.js';

export { UBUNTU_USER } from './paths.js';
export { BUILDER_SOURCE } from './builder-app.js';
export { IMAGE_NAME_TMPL, imageName, type Arch, type BaseImage, type BuildConfig } from './build-config.js';
/** pipx and what pip needs to build the app's wheels; git for pip's VCS install of the pinned commit. */
export const APT_DEPENDENCIES = ['pipx', 'python3-dev', 'gcc', 'git'] as const;

/** How long stop gives a build to end after SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;
/** After SIGKILL, how long stop waits for the processes to be gone (they cannot refuse; only a stuck kernel call delays them). */
const KILL_WAIT_MS = 5_000;

/** The host the builder runs on, and where to report problems that do not stop a step. */
export interface UnitContext {
  readonly host: Host;
  /** Told about problems that do not stop the setup (e.g. cron could not be reloaded). */
  readonly warn: (message: string) => void;
}

export class BuilderSetupError extends Error {
  override name = 'BuilderSetupError';
}

/** get-latest could not answer: the message says why and what to do. */
export class GetLatestImageError extends Error {
  override name = 'GetLatestImageError';
}

/** The environment host programs run with: PATH, locale, proxies and what the caller adds. */
function programEnv(host: Host, extra: Env = {}): Env {
  return { PATH: host.env.PATH ?? SYSTEM_PATH, LANG: 'C.UTF-8', ...proxyEnv(host.env), ...extra };
}

/** The environment of root's builder commands (pipx, init): root-owned HOME and pipx dirs. */
function builderEnv(host: Host): Env {
  return programEnv(host, { HOME: host.path(BUILDER_HOME), PIPX_HOME: host.path(PIPX_HOME), PIPX_BIN_DIR: host.path(PIPX_BIN_DIR) });
}

/** The root-only directories of the layout, created or corrected (mode, owner root). */
function ensureLayout(host: Host): void {
  host.ensureDir(CONFIG_DIR, 0o700);
  host.ensureDir(STATE_DIR, 0o700);
  host.ensureDir(BUILDER_HOME, 0o700);
  host.ensureDir(BUILDER_WORK_DIR, 0o700);
  host.ensureDir(BUILDER_SSH_DIR, 0o700);
  host.ensureDir(APP_DIR, 0o755);
  host.ensureDir(LOG_DIR, 0o750);
  host.ensureDir(METRICS_DIR, 0o755);
}

/** Installs the apt packages the builder needs; apt is skipped when all are present. */
async function installAptDependencies(host: Host): Promise<void> {
  const env = programEnv(host, { DEBIAN_FRONTEND: 'noninteractive' });
  const query = await host.run(['dpkg-query', '-W', '-f=${Package} ${Status}\\n', ...APT_DEPENDENCIES], { env });
  const installed = new Set(
    query.stdout
      .split('\n')
      .filter((l) => l.endsWith(' install ok installed'))
      .map((l) => l.split(' ')[0]),
  );
  const missing = APT_DEPENDENCIES.filter((p) => !installed.has(p));
  if (missing.length === 0) return;
  await host.runChecked(['apt-get', 'update'], { env, timeoutMs: 10 * 60_000 });
  await host.runChecked(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], { env, timeoutMs: 20 * 60_000 });
}

/**
 * A command run while holding the build lock, so an upgrade never replaces the builder under a
 * running build. It never waits for the lock: a hook that waited would hold Juju's machine lock,
 * which the build's report to the charm (juju-exec) needs, for up to the build timeout. When a
 * build holds it, flock exits LOCK_BUSY_EXIT and the setup is owed (BuildRunningError).
 */
function underBuildLock(host: Host, command: readonly string[]): [string, ...string[]] {
  return ['flock', '-n', '-E', String(LOCK_BUSY_EXIT), host.path(BUILD_LOCK_PATH), ...command];
}

/** The setup needs the build lock, and a build holds it: the setup is owed to a later hook. */
export class BuildRunningError extends Error {
  override name = 'BuildRunningError';
}

const BUILD_RUNNING_MESSAGE = 'a build is running; the builder is set up once it has ended (update-status checks every few minutes)';

/** Runs a command under the build lock; BuildRunningError when a build holds it. */
async function runUnderBuildLock(host: Host, command: readonly string[], opts: RunOptions): Promise<void> {
  try {
    await host.runChecked(underBuildLock(host, command), opts);
  } catch (err) {
    if (err instanceof ProcessError && err.exitCode === LOCK_BUSY_EXIT) throw new BuildRunningError(BUILD_RUNNING_MESSAGE);
    throw err;
  }
}

/** Installs (or reinstalls) the pinned builder application, root-owned, in APP_DIR. */
async function installBuilderApp(host: Host): Promise<void> {
  await runUnderBuildLock(host, ['pipx', 'install', '--force', BUILDER_SOURCE], {
    env: builderEnv(host),
    cwd: host.path(BUILDER_HOME),
    timeoutMs: 20 * 60_000,
  });
}

/** Whether the pinned builder is installed (a host fact: survives a lost unit state). Its init is the build's. */
export function isBuilderInstalled(host: Host): boolean {
  return host.readText(INSTALLED_MARKER_PATH)?.trim() === BUILDER_SOURCE;
}

/**
 * Another builder is installed (the chroot builder of earlier revisions, or another pin): its
 * virtualenv goes (pipx uninstall, under the build lock), and with the chroot builder its
 * callback script and its working files in the builder's HOME (GBs of scratch images). A failed
 * uninstall is a warning: `pipx install --force` replaces the virtualenv anyway.
 */
async function removeOtherBuilder(unit: UnitContext): Promise<void> {
  const host = unit.host;
  const installed = host.readText(INSTALLED_MARKER_PATH)?.trim();
  if (!installed || installed === BUILDER_SOURCE) return;
  // Nothing of the previous builder goes while a build uses it; the setup is owed instead.
  if (await isBuildRunning(host)) throw new BuildRunningError(BUILD_RUNNING_MESSAGE);
  const failure = await runOrExplain(host, underBuildLock(host, ['pipx', 'uninstall', BUILDER_PACKAGE]), { env: builderEnv(host), cwd: host.path(BUILDER_HOME), timeoutMs: 10 * 60_000 });
  if (failure) unit.warn(`could not uninstall the previous builder (${installed}) with pipx (${failure}); installing the new one over it`);
  else unit.warn(`removed the previous builder (${installed}); the new one builds on a VM in the cloud`);
  if (host.remove(LEGACY_CALLBACK_SCRIPT_PATH)) unit.warn(`removed the previous builder's callback script ${LEGACY_CALLBACK_SCRIPT_PATH}`);
  host.remove(BUILDER_HOME, { recursive: true });
  // The init marker stays: its digest names the pin, so the next build runs init for the new app.
}

/** Runs one setup step; a failure becomes a BuilderSetupError that names the step. */
async function step(what: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof BuildRunningError) throw err;
    const detail = err instanceof ProcessError || err instanceof HostFileError || err instanceof BuilderSetupError ? err.message : `${(err as Error).name}: ${(err as Error).message}`;
    throw new BuilderSetupError(`${what} failed: ${detail}`);
  }
}

/**
 * Installs what builds need: the apt dependencies and the root-owned builder application, under
 * the build lock (an upgrade never replaces the builder under a running build); a previous
 * builder goes first. The app's `init` (GBs of downloads) is not run here: the build runs it.
 */
export async function setupBuilder(unit: UnitContext): Promise<void> {
  const host = unit.host;
  await step('installing apt packages', () => installAptDependencies(host));
  await step('preparing the build lock', () => {
    host.ensureDir(STATE_DIR, 0o700);
    ensureBuildLock(host);
  });
  await step('removing the previous builder', () => removeOtherBuilder(unit));
  await step('creating the directories', () => ensureLayout(host));
  await step('installing the builder application with pipx', () => installBuilderApp(host));
  await step('recording the installed version', () => host.writeIfChanged(INSTALLED_MARKER_PATH, `${BUILDER_SOURCE}\n`, { mode: 0o600, uid: 0, gid: 0 }));
}

/** Whether a unit deployed before the hardening left clouds.yaml or the builder in /home/ubuntu. */
export function hasLegacyLayout(host: Host): boolean {
  if (host.exists(LEGACY_CLEANED_PATH)) return false;
  return host.exists(LEGACY_CLOUDS_YAML_PATH) || host.exists(LEGACY_BUILDER_BIN);
}

/**
 * Removes what the pre-hardening layout left in /home/ubuntu: the clouds.yaml (with the
 * password) and the old virtualenv, acting as the ubuntu user, so root never follows a path that
 * user controls. The old build log stays where it was. Failures are warnings.
 */
/**
 * Runs a program whose failure is worth a warning, not a failed hook: undefined when it exited
 * 0, otherwise `exited N: <stderr tail>` (N is -1 when it could not run or timed out).
 */
async function runOrExplain(host: Host, command: readonly [string, ...string[]], opts: RunOptions): Promise<string | undefined> {
  const res = await host.run(command, opts).catch((e: Error) => ({ exitCode: -1, stderr: e.message }));
  return res.exitCode === 0 ? undefined : `exited ${res.exitCode}: ${res.stderr.trim().slice(-300)}`;
}

/** systemctl's options: the program environment and a minute at most (a wedged systemd must not hold a hook). */
const systemctlOptions = (host: Host): RunOptions => ({ env: programEnv(host), timeoutMs: 60_000 });

export async function removeLegacyLayout(unit: UnitContext): Promise<void> {
  const host = unit.host;
  const asUbuntu = (command: readonly string[]): [string, ...string[]] => ['runuser', '-u', UBUNTU_USER, '--', ...command];
  // What runs as ubuntu (a program that user may have planted) gets no proxy: proxy URLs can
  // carry credentials. rm needs none, and pipx uninstall downloads nothing.
  const env: Env = { PATH: host.env.PATH ?? SYSTEM_PATH, LANG: 'C.UTF-8', HOME: host.path(LEGACY_HOME) };
  const attempts: [string, [string, ...string[]]][] = [
    [LEGACY_CLOUDS_YAML_PATH, asUbuntu(['rm', '-f', '--', host.path(LEGACY_CLOUDS_YAML_PATH)])],
    [LEGACY_BUILDER_BIN, asUbuntu(['pipx', 'uninstall', 'github-runner-image-builder'])],
  ];
  let failed = false;
  for (const [what, command] of attempts) {
    if (!host.exists(what)) continue;
    const failure = await runOrExplain(host, command, { env, cwd: host.path('/'), timeoutMs: 5 * 60_000 });
    if (!failure) unit.warn(`moved to the root-only layout: removed ${what} (the old build log ${LEGACY_BUILD_LOG_PATH} is left as it was)`);
    else {
      unit.warn(`could not remove ${what} of the old layout (\`${command.join(' ')}\` ${failure}); remove it by hand`);
      failed = true;
    }
  }
  // Once: what the ubuntu user puts in its home later is its own business, never run by root's hooks again.
  if (!failed) host.writeIfChanged(LEGACY_CLEANED_PATH, 'the layout before 0.2 was removed from /home/ubuntu\n', { mode: 0o600, uid: 0, gid: 0 });
}

function ensureBuildLock(host: Host): void {
  host.writeIfChanged(BUILD_LOCK_PATH, '', { mode: 0o600, uid: 0, gid: 0 });
}

/** A file the charm keeps on the host: its production path, text and mode (owner root). */
export interface HostFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

/**
 * Writes each file whose text (or mode) differs, in the root-only layout; returns the paths
 * written. clouds.yaml, the cron entry and the scripts all go through here.
 */
export function installFiles(files: readonly HostFile[], host: Host): string[] {
  ensureLayout(host);
  ensureBuildLock(host);
  return files.filter((f) => host.writeIfChanged(f.path, f.content, { mode: f.mode, uid: 0, gid: 0 })).map((f) => f.path);
}

/** Installs clouds.yaml for the builder (root-only); returns whether it changed. */
export function installCloudsYaml(cloudConfig: string, host: Host): boolean {
  return installFiles([{ path: CLOUDS_YAML_PATH, content: cloudConfig, mode: 0o600 }], host).length > 0;
}

/** Writes the cron entry when its text changed and has cron reload it; returns whether it did. */
export async function configureCron(cronText: string, unit: UnitContext): Promise<boolean> {
  const changed = installFiles([{ path: CRON_PATH, content: cronText, mode: 0o644 }], unit.host).length > 0;
  if (changed) await reloadCron(unit);
  return changed;
}

/**
 * Installs the exporter's systemd units (socket and service) and keeps them running: changed
 * units are reloaded, enabled and restarted (the service also on `restart`, after an upgrade
 * brought new exporter code). Only a changed socket (a new port) is restarted: otherwise systemd
 * keeps the port bound while the service restarts. Returns the unit files written. A failing
 * systemctl fails the hook (Juju retries), except the socket's restart: a port another process
 * holds is for the status to report (metricsPortProblem), not a hook to retry.
 */
export async function configureExporter(units: ExporterUnits, restart: boolean, unit: UnitContext): Promise<string[]> {
  const host = unit.host;
  const written = installFiles(
    [
      { path: EXPORTER_SOCKET_PATH, content: units.socket, mode: 0o644 },
      { path: EXPORTER_UNIT_PATH, content: units.service, mode: 0o644 },
    ],
    host,
  );
  if (!written.length && !restart) return written;
  const run = (...args: string[]) => host.runChecked(['systemctl', ...args], systemctlOptions(host));
  if (written.length) await run('daemon-reload');
  await run('enable', EXPORTER_SOCKET, EXPORTER_SERVICE);
  if (written.includes(EXPORTER_SOCKET_PATH)) {
    // The service Requires= the socket, so it restarts with it, on the new port.
    const failure = await runOrExplain(host, ['systemctl', 'restart', EXPORTER_SOCKET, EXPORTER_SERVICE], systemctlOptions(host));
    if (failure) unit.warn(`the exporter's socket ${EXPORTER_SOCKET} did not start (systemctl restart ${failure}); is another process using the metrics-port?`);
  } else await run('restart', EXPORTER_SERVICE);
  return written;
}

/** Stops and removes the exporter (remove, stop); failures are warnings: the unit is going away. */
async function removeExporter(unit: UnitContext): Promise<string[]> {
  const host = unit.host;
  const files = [EXPORTER_UNIT_PATH, EXPORTER_SOCKET_PATH].filter((p) => host.exists(p));
  if (!files.length) return [];
  const failure = await runOrExplain(host, ['systemctl', 'disable', '--now', EXPORTER_SOCKET, EXPORTER_SERVICE], systemctlOptions(host));
  if (failure) unit.warn(`could not stop ${EXPORTER_SERVICE} and ${EXPORTER_SOCKET} (systemctl ${failure})`);
  for (const p of files) host.remove(p);
  await runOrExplain(host, ['systemctl', 'daemon-reload'], systemctlOptions(host));
  return files;
}

async function reloadCron(unit: UnitContext): Promise<void> {
  // cron notices /etc/cron.d changes by itself within a minute; the reload only hurries it, so
  // a machine without systemd still gets its schedule. A wedged systemd must not hold the hook.
  const failure = await runOrExplain(unit.host, ['systemctl', 'reload-or-restart', 'cron'], systemctlOptions(unit.host));
  if (failure) unit.warn(`cron was not reloaded (systemctl reload-or-restart cron ${failure}); cron reads ${CRON_PATH} by itself within a minute`);
}

/** Whether a build (cron's or an immediate one) holds the build lock. */
export async function isBuildRunning(host: Host): Promise<boolean> {
  if (!host.exists(BUILD_LOCK_PATH)) return false;
  const res = await host.run(['flock', '-n', '-E', String(LOCK_BUSY_EXIT), host.path(BUILD_LOCK_PATH), 'true'], { env: programEnv(host) });
  return res.exitCode === LOCK_BUSY_EXIT;
}

export type BuildStart = 'started' | 'already-running';

/**
 * Starts the build script now, detached: the builder's callback fires another hook through
 * juju-exec, which waits for this one to end. Reports `started` only once the new build holds
 * the lock (or has already finished), so a second request cannot start another.
 */
export async function buildImmediate(unit: UnitContext): Promise<BuildStart> {
  const host = unit.host;
  if (await isBuildRunning(host)) return 'already-running';
  // The child outlives the hook: it holds neither Juju's pipes nor its hook context (a
  // juju-exec from inside a context is refused). Its environment comes from build.env.
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(host.env)) {
    if (value !== undefined && !/^(JUJU_|OPERATOR_DISPATCH$|CHARM_DIR$)/.test(key)) env[key] = value;
  }
  const child = host.spawnDetached(host.path(BUILD_SCRIPT_PATH), ['--now'], { env, cwd: host.path('/') });
  for (let waited = 0; waited < 30_000; waited += 20) {
    const code = child.exitCode();
    if (code !== undefined) return code === LOCK_BUSY_EXIT ? 'already-running' : 'started';
    if (await isBuildRunning(host)) break;
    const failed = child.startError();
    if (failed) throw new ProcessError({ command: [BUILD_SCRIPT_PATH, '--now'], spawnError: (failed as NodeJS.ErrnoException).code ?? failed.message, cause: failed });
    await sleep(20);
  }
  child.release();
  return 'started';
}

/** The build that holds the lock, as the build script recorded it. */
export interface RunningBuild {
  /** The build's session id (its script's pid). */
  readonly session: number;
  /** When it took the lock. */
  readonly startedAt: Date;
  readonly trigger: string;
}

export function runningBuild(host: Host): RunningBuild | undefined {
  const [pid, started, trigger] = (host.readText(BUILD_RUNNING_PATH) ?? '').trim().split(' ');
  const session = Number(pid);
  const at = Number(started);
  if (!Number.isInteger(session) || session <= 1 || !Number.isFinite(at)) return undefined;
  return { session, startedAt: new Date(at * 1000), trigger: trigger ?? '' };
}

/**
 * What the running build is doing, as the build script records it ("preparing the builder:
 * downloading base images", "building noble-app-x64"), or undefined when no build runs. The
 * status shows it while the first image is awaited.
 */
export function buildPhase(host: Host): string | undefined {
  if (!runningBuild(host)) return undefined;
  const line = (host.readText(BUILD_PHASE_PATH) ?? '').split('\n')[0]!.trim();
  // Written by root's build script from names the charm checked; bounded all the same.
  return /^[\x20-\x7e]{1,120}$/.test(line) ? line : undefined;
}

/** Scheduled runs skipped in a row because the lock was taken. */
export function skippedRuns(host: Host): number {
  const n = Number((host.readText(SKIPPED_RUNS_PATH) ?? '0').trim());
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * Ends a running build: SIGTERM to every process of its session, SIGKILL to what is left after
 * a grace period. The build is what holds the lock: the sessions of the processes holding it
 * (found in /proc, so a build that could not write its record is found too), and the recorded
 * session while the lock is taken. A stale record names no one.
 */
async function stopRunningBuild(unit: UnitContext): Promise<RunningBuild | undefined> {
  const host = unit.host;
  const record = runningBuild(host);
  const holders = host.exists(BUILD_LOCK_PATH) ? host.sessionsHolding(BUILD_LOCK_PATH) : [];
  const sessions = new Set(holders);
  if (record && (holders.includes(record.session) || (await isBuildRunning(host)))) sessions.add(record.session);
  if (sessions.size === 0) return undefined;
  await endSessions(host, [...sessions]);
  return record && sessions.has(record.session) ? record : { session: [...sessions][0]!, startedAt: new Date(0), trigger: 'unrecorded' };
}

/** Ends every process of these sessions: SIGTERM, then SIGKILL to what is left after a grace period; returns once they are gone. */
export async function endSessions(host: Host, sessions: readonly number[]): Promise<void> {
  if (!sessions.length) return;
  const env = programEnv(host);
  const signal = (sig: string) => Promise.all(sessions.map((s) => host.run(['pkill', `-${sig}`, '-s', String(s)], { env })));
  const alive = async () => (await Promise.all(sessions.map((s) => host.run(['pgrep', '-s', String(s)], { env })))).some((r) => r.exitCode === 0);
  const goneWithin = async (ms: number) => {
    for (let waited = 0; waited < ms; waited += 100) {
      if (!(await alive())) return true;
      await sleep(100);
    }
    return false;
  };
  await signal('TERM');
  if (await goneWithin(STOP_GRACE_MS)) return;
  await signal('KILL');
  // SIGKILL is not instant either: wait until they are gone, so that what the hook removes next
  // (the request, the scripts) is written by none of them afterwards.
  await goneWithin(KILL_WAIT_MS);
}

/**
 * What stop and remove clear: the schedule, a running build, and every file that holds a
 * credential or that root would run, and the exporter. The log, the builder's virtualenv, the
 * metrics and the logrotate policy stay. Returns the paths removed.
 */
export async function removeBuilder(unit: UnitContext): Promise<{ removed: string[]; stopped?: RunningBuild }> {
  const host = unit.host;
  const removed = [CRON_PATH].filter((p) => host.remove(p));
  removed.push(...(await removeExporter(unit)));
  const stopped = await stopRunningBuild(unit);
  for (const p of [BUILD_SCRIPT_PATH, LEGACY_CALLBACK_SCRIPT_PATH, BUILD_RUNNING_PATH, BUILD_PHASE_PATH, BUILD_OUTPUT_PATH, SKIPPED_RUNS_PATH, INSTALLED_MARKER_PATH, INIT_MARKER_PATH]) {
    if (host.remove(p)) removed.push(p);
  }
  // The builder's SSH key is a credential (it logs into the builder VMs); the work dir may hold GBs.
  for (const d of [CONFIG_DIR, BUILDER_SSH_DIR, BUILDER_WORK_DIR]) if (host.remove(d, { recursive: true })) removed.push(d);
  return stopped ? { removed, stopped } : { removed };
}

/**
 * The newest active image of each name in the cloud (null where there is none yet). A failure
 * is a GetLatestImageError that says what to do (the cloud's own errors scrub secrets; see
 * src/openstack/errors.ts).
 */
export async function getLatestImage(cloud: CloudPort, access: CloudAccess, names: readonly string[]): Promise<(ImageInfo | null)[]> {
  try {
    return await cloud.findLatestImages(access, names);
  } catch (err) {
    throw new GetLatestImageError(`could not get the latest image: ${(err as Error).message}${cloudHint(err)}`, { cause: err });
  }
}

/**
 * What to do about a failed cloud request, by the OpenStackError's kind (auth, TLS, proxy and
 * config errors already say it). Read off the error: the client loads lazily.
 */
function cloudHint(err: unknown): string {
  switch ((err as { kind?: unknown }).kind) {
    case 'network':
    case 'timeout':
      return '; check that the cloud is up and reachable from this machine (and the model proxy settings), then run the action again';
    case 'http':
      return '; the cloud failed to answer: run the action again later, or ask its operators';
    case 'malformed':
    case 'catalog':
      return '; check auth_url, region_name and interface in openstack-clouds-yaml';
    default:
      return '';
  }
}
