// Port of the upstream charm's builder module (docs/upstream-charm.md): set the host up to
// build images, schedule builds with cron, start one now, and find the newest image. What
// upstream meant, with its defects fixed: the builder is installed root-owned and run by root
// from root-only files (README "Security model"), values are shell-quoted, builds share one
// lock and time out, failures are reported, and stopping ends a running build.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Host, HostCommandError, HostFileError, type Env } from './host.js';
import {
  APP_DIR,
  BUILD_ENV_PATH,
  BUILD_LOCK_PATH,
  BUILD_LOG_PATH,
  BUILD_RUNNING_PATH,
  BUILD_SCRIPT_PATH,
  BUILD_TIMEOUT_EXIT,
  BUILD_TIMEOUT_SECONDS,
  BUILDER_BIN,
  BUILDER_HOME,
  CALLBACK_SCRIPT_PATH,
  CLOUDS_YAML_PATH,
  CONFIG_DIR,
  CRON_PATH,
  INSTALLED_MARKER_PATH,
  LEGACY_BUILDER_BIN,
  LEGACY_CLOUDS_YAML_PATH,
  LEGACY_HOME,
  LOCK_BUSY_EXIT,
  LOG_DIR,
  LOGROTATE_PATH,
  PIPX_BIN_DIR,
  PIPX_HOME,
  SKIPPED_RUNS_PATH,
  STATE_DIR,
  UBUNTU_USER,
} from './paths.js';
import { proxyEnv } from './proxy.js';
import { shQuote } from './shell.js';

export { UBUNTU_USER } from './paths.js';
export const APT_DEPENDENCIES = ['pipx', 'python3-dev', 'gcc'] as const;
export const IMAGE_NAME_TMPL = '{IMAGE_BASE}-{APP_NAME}-{ARCH}';
/**
 * The builder application, pinned: upstream installed a moving branch (@feat/app). This is
 * the merge of that branch (2024-06-19), the first commit whose `run --callback-script` takes
 * an absolute path, with the init / run / latest-build-id CLI the charm drives.
 */
export const BUILDER_SOURCE = 'git+https://github.com/canonical/github-runner-image-builder@f9f1c74';

/** A build waits this long for the lock, so a momentary `isBuildRunning` probe never stops it. */
const LOCK_WAIT_SECONDS = 5;
/** How long stop gives a build to end after SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type Arch = 'x64' | 'arm64';
export type BaseImage = 'jammy' | 'noble';

export interface BuildConfig {
  readonly arch: Arch;
  readonly base: BaseImage;
  readonly cloudName: string;
  readonly numRevisions: number;
  /** Production path of the callback script the builder calls with the new image id. */
  readonly callbackScript: string;
  /** The Juju application: images are named per application so two builders never collide. */
  readonly appName: string;
}

/** Where the charm runs: the host, and the unit the callback must dispatch to. */
export interface UnitContext {
  readonly host: Host;
  readonly unitName: string;
  readonly charmDir: string;
  /** The model's UUID: with the application it spreads the schedule's minute (see scheduleMinute). */
  readonly modelUuid: string;
  /** Told about problems that do not stop the setup (e.g. cron could not be reloaded). */
  readonly warn: (message: string) => void;
}

export class BuilderSetupError extends Error {
  override name = 'BuilderSetupError';
}

export class GetLatestImageError extends Error {
  override name = 'GetLatestImageError';
}

export function imageName(cfg: Pick<BuildConfig, 'arch' | 'base' | 'appName'>): string {
  return IMAGE_NAME_TMPL.replace('{IMAGE_BASE}', cfg.base).replace('{APP_NAME}', cfg.appName).replace('{ARCH}', cfg.arch);
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
export function ensureLayout(host: Host): void {
  host.ensureDir(CONFIG_DIR, 0o700);
  host.ensureDir(STATE_DIR, 0o700);
  host.ensureDir(BUILDER_HOME, 0o700);
  host.ensureDir(APP_DIR, 0o755);
  host.ensureDir(LOG_DIR, 0o750);
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
 * running build. It waits for the build at most the build timeout (plus `timeout`'s kill grace).
 */
function underBuildLock(host: Host, command: readonly string[]): [string, ...string[]] {
  return ['flock', '-w', String(BUILD_TIMEOUT_SECONDS + 120), host.path(BUILD_LOCK_PATH), ...command];
}

/** Installs (or reinstalls) the pinned builder application, root-owned, in APP_DIR. */
async function installBuilderApp(host: Host): Promise<void> {
  await host.runChecked(underBuildLock(host, ['pipx', 'install', '--force', BUILDER_SOURCE]), {
    env: builderEnv(host),
    cwd: host.path(BUILDER_HOME),
    timeoutMs: BUILD_TIMEOUT_SECONDS * 1000 + 10 * 60_000,
  });
}

async function initializeBuilder(host: Host): Promise<void> {
  await host.runChecked(underBuildLock(host, [host.path(BUILDER_BIN), 'init']), {
    env: builderEnv(host),
    cwd: host.path(BUILDER_HOME),
    timeoutMs: BUILD_TIMEOUT_SECONDS * 1000 + 30 * 60_000,
  });
}

/** Whether the pinned builder is installed and initialised (a host fact: survives a lost unit state). */
export function isBuilderInstalled(host: Host): boolean {
  return host.readText(INSTALLED_MARKER_PATH)?.trim() === BUILDER_SOURCE;
}

/** Runs one setup step; a failure becomes a BuilderSetupError that names the step. */
async function step(what: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const detail = err instanceof HostCommandError || err instanceof HostFileError || err instanceof BuilderSetupError ? err.message : `${(err as Error).name}: ${(err as Error).message}`;
    throw new BuilderSetupError(`${what} failed: ${detail}`);
  }
}

/**
 * Installs what builds need: the apt dependencies, the root-owned builder application and its
 * init (skipped when the pinned version is already set up), then removes what the pre-hardening
 * layout left in the ubuntu user's home. Files that follow the config are `writeBuildFiles`'.
 */
export async function setupBuilder(unit: UnitContext): Promise<void> {
  const host = unit.host;
  if (!isBuilderInstalled(host)) {
    await step('installing apt packages', () => installAptDependencies(host));
    await step('creating the directories', () => ensureLayout(host));
    await step('preparing the build lock', () => ensureBuildLock(host));
    await step('installing the builder application with pipx', () => installBuilderApp(host));
    await step('initialising the builder (github-runner-image-builder init)', () => initializeBuilder(host));
    await step('recording the installed version', () => host.writeIfChanged(INSTALLED_MARKER_PATH, `${BUILDER_SOURCE}\n`, { mode: 0o600, uid: 0, gid: 0 }));
  }
  await removeLegacyLayout(unit);
}

/**
 * Units deployed before the hardening kept clouds.yaml (with the password) and the builder in
 * /home/ubuntu. The clouds.yaml is removed and the old virtualenv uninstalled as the ubuntu user,
 * so root never follows a path that user controls. The old build log stays where it was.
 */
async function removeLegacyLayout(unit: UnitContext): Promise<void> {
  const host = unit.host;
  if (!host.exists(LEGACY_CLOUDS_YAML_PATH) && !host.exists(LEGACY_BUILDER_BIN)) return;
  const asUbuntu = (command: readonly string[]): [string, ...string[]] => ['runuser', '-u', UBUNTU_USER, '--', ...command];
  const env = programEnv(host, { HOME: host.path(LEGACY_HOME) });
  const attempts: [string, [string, ...string[]]][] = [
    [LEGACY_CLOUDS_YAML_PATH, asUbuntu(['rm', '-f', '--', host.path(LEGACY_CLOUDS_YAML_PATH)])],
    [LEGACY_BUILDER_BIN, asUbuntu(['pipx', 'uninstall', 'github-runner-image-builder'])],
  ];
  for (const [what, command] of attempts) {
    if (!host.exists(what)) continue;
    const res = await host.run(command, { env, cwd: host.path('/'), timeoutMs: 5 * 60_000 }).catch((e: Error) => ({ exitCode: -1, stderr: e.message }));
    if (res.exitCode === 0) unit.warn(`moved to the root-only layout: removed ${what} (the old build log ${LEGACY_HOME}/github-runner-image-builder.log is left as it was)`);
    else unit.warn(`could not remove ${what} of the old layout (\`${command.join(' ')}\` exited ${res.exitCode}: ${res.stderr.trim().slice(-300)}); remove it by hand`);
  }
}

function ensureBuildLock(host: Host): void {
  host.writeIfChanged(BUILD_LOCK_PATH, '', { mode: 0o600, uid: 0, gid: 0 });
}

/** What the build files are made from: the checked config, the cloud and the model's proxies. */
export interface BuildFilesSpec {
  readonly build: BuildConfig;
  readonly interval: number;
  readonly cloudsYaml: string;
}

export interface BuildFilesChange {
  /** The host paths that were (re)written. */
  readonly written: string[];
  /** sha256 of the cron entry and the build script: a build is owed when it changes. */
  readonly scheduleDigest: string;
}

/**
 * Writes the files that follow the config, each only when its text differs: clouds.yaml and the
 * build environment (root-only), the build and callback scripts, the logrotate policy and the
 * cron entry. Reloads cron when its entry changed.
 */
export async function writeBuildFiles(spec: BuildFilesSpec, unit: UnitContext): Promise<BuildFilesChange> {
  const host = unit.host;
  ensureLayout(host);
  ensureBuildLock(host);
  const root = { uid: 0, gid: 0 };
  const cron = await renderCron(spec.build, spec.interval, unit);
  const script = renderBuildScript(spec.build, unit);
  const files: [string, string, number][] = [
    [CLOUDS_YAML_PATH, spec.cloudsYaml, 0o600],
    [BUILD_ENV_PATH, renderBuildEnv(unit), 0o600],
    [BUILD_SCRIPT_PATH, script, 0o700],
    [CALLBACK_SCRIPT_PATH, renderCallbackScript(unit), 0o700],
    [LOGROTATE_PATH, renderLogrotate(), 0o644],
    [CRON_PATH, cron, 0o644],
  ];
  const written = files.filter(([p, text, mode]) => host.writeIfChanged(p, text, { mode, ...root })).map(([p]) => p);
  if (written.includes(CRON_PATH)) await reloadCron(unit);
  const { createHash } = await import('node:crypto');
  return { written, scheduleDigest: createHash('sha256').update(cron).update(script).digest('hex') };
}

async function reloadCron(unit: UnitContext): Promise<void> {
  // cron notices /etc/cron.d changes by itself within a minute; the reload only hurries it, so
  // a machine without systemd still gets its schedule. A wedged systemd must not hold the hook.
  const res = await unit.host
    .run(['systemctl', 'reload-or-restart', 'cron'], { env: programEnv(unit.host), timeoutMs: 60_000 })
    .catch((e: Error) => ({ exitCode: -1, stderr: e.message }));
  if (res.exitCode !== 0) {
    unit.warn(`cron was not reloaded (systemctl reload-or-restart cron exited ${res.exitCode}: ${res.stderr.trim().slice(-300)}); cron reads ${CRON_PATH} by itself within a minute`);
  }
}

/** The callback the builder runs after an upload, and the build script after a failed build. */
export function renderCallbackScript(unit: UnitContext): string {
  const jujuExec = unit.host.which('juju-exec') ?? '/usr/bin/juju-exec';
  const dispatch = shQuote(`${unit.charmDir}/dispatch`);
  // juju-exec runs one argument verbatim with bash in a fresh hook context; it forwards no
  // environment, so the event's data travels as assignments. Only [A-Za-z0-9-] reaches them.
  return `#!/bin/sh
# Written by the github-runner-image-builder charm; changes are overwritten.
# The builder runs "$0 <image-id>" after a successful upload; the build script runs
# "$0 --failed <exit-code>" when a build fails. Each fires a hook on ${unit.unitName}.
set -u
unit=${shQuote(unit.unitName)}
if [ "\${1:-}" = --failed ]; then
  case "\${2:-}" in ''|*[!0-9]*) code=unknown ;; *) code=$2 ;; esac
  exec ${shQuote(jujuExec)} "$unit" "JUJU_DISPATCH_PATH=hooks/build_failed BUILD_EXIT_CODE=$code "${shQuote(dispatch)}
fi
case "\${1:-}" in
  ''|*[!A-Za-z0-9-]*)
    exec ${shQuote(jujuExec)} "$unit" "JUJU_DISPATCH_PATH=hooks/build_failed BUILD_FAILURE=malformed-image-id "${shQuote(dispatch)} ;;
esac
exec ${shQuote(jujuExec)} "$unit" "JUJU_DISPATCH_PATH=hooks/build_success OPENSTACK_IMAGE_ID=$1 "${shQuote(dispatch)}
`;
}

/**
 * The build's environment, sourced by the build script: root-only (0600), because proxy URLs
 * may carry credentials. Nothing of it is on a command line or in the world-readable cron file.
 */
export function renderBuildEnv(unit: UnitContext): string {
  const host = unit.host;
  const env: Record<string, string> = {
    PATH: SYSTEM_PATH,
    LANG: 'C.UTF-8',
    HOME: host.path(BUILDER_HOME),
    OS_CLIENT_CONFIG_FILE: host.path(CLOUDS_YAML_PATH),
    BUILD_TIMEOUT: String(BUILD_TIMEOUT_SECONDS),
    ...proxyEnv(host.env),
  };
  return `# Written by the github-runner-image-builder charm; changes are overwritten.\n${Object.entries(env)
    .map(([k, v]) => `export ${k}=${shQuote(v)}\n`)
    .join('')}`;
}

/**
 * One build, as cron runs it (scheduled) and as build-immediate starts it (`--now`). It runs in
 * its own session (stop ends the whole session), takes the build lock (a scheduled run that
 * finds it taken counts a skipped run), records itself in build-running, runs the builder under
 * `timeout`, appends to the log, and tells the callback when the build fails.
 */
export function renderBuildScript(cfg: BuildConfig, unit: UnitContext): string {
  const host = unit.host;
  const q = (prodPath: string) => shQuote(host.path(prodPath));
  const image = imageName(cfg);
  const run = [q(BUILDER_BIN), 'run', shQuote(cfg.cloudName), shQuote(image), '--base-image', shQuote(cfg.base), '--keep-revisions', shQuote(String(cfg.numRevisions)), '--callback-script', q(cfg.callbackScript)].join(' ');
  return `#!/bin/sh
# Written by the github-runner-image-builder charm (${unit.unitName}); changes are overwritten.
# Builds ${image}: cron runs "$0" on schedule, build-immediate runs "$0 --now".
set -u
umask 027
if [ -z "\${IMAGE_BUILD_SESSION:-}" ]; then
  # A session of its own: stop ends every process of the build (timeout puts the builder in a
  # process group of its own, but not in another session).
  export IMAGE_BUILD_SESSION=1
  exec setsid -w "$0" "$@"
fi
. ${q(BUILD_ENV_PATH)}
log=${q(BUILD_LOG_PATH)}
running=${q(BUILD_RUNNING_PATH)}
skipped=${q(SKIPPED_RUNS_PATH)}
callback=${q(cfg.callbackScript)}
trigger=scheduled
[ "\${1:-}" = --now ] && trigger=immediate
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
exec 9>>${q(BUILD_LOCK_PATH)}
if ! flock -w ${LOCK_WAIT_SECONDS} 9; then
  if [ "$trigger" = scheduled ]; then
    n=$(cat "$skipped" 2>/dev/null) || n=0
    case $n in ''|*[!0-9]*) n=0 ;; esac
    echo $((n + 1)) > "$skipped.tmp" && mv -f "$skipped.tmp" "$skipped"
    echo "$(stamp) scheduled build of ${image} skipped: another build holds the build lock" >> "$log"
  fi
  exit ${LOCK_BUSY_EXIT}
fi
rm -f "$skipped"
echo "$$ $(date +%s) $trigger" > "$running.tmp" && mv -f "$running.tmp" "$running"
trap 'rm -f "$running"' EXIT
trap 'exit 143' TERM
echo "$(stamp) build of ${image} started ($trigger)" >> "$log"
rc=0
timeout -k 60 "$BUILD_TIMEOUT" ${run} >> "$log" 2>&1 || rc=$?
[ $rc -eq ${BUILD_TIMEOUT_EXIT} ] && echo "$(stamp) build timed out after $BUILD_TIMEOUT s and was stopped" >> "$log"
echo "$(stamp) build of ${image} ended with exit code $rc" >> "$log"
if [ $rc -ne 0 ]; then
  # In the background, without the lock: the callback's juju-exec waits for the machine lock,
  # which build-immediate's own hook may hold while it waits for this build to take the lock.
  "$callback" --failed $rc 9>&- >> "$log" 2>&1 &
fi
exit $rc
`;
}

/**
 * The minute of the hour the schedule fires: a stable hash of model and application, so the
 * builders of a controller do not all start at minute 0.
 */
export async function scheduleMinute(modelUuid: string, appName: string): Promise<number> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(`${modelUuid}/${appName}`).digest().readUInt32BE(0) % 60;
}

export async function renderCron(cfg: BuildConfig, interval: number, unit: UnitContext): Promise<string> {
  const minute = await scheduleMinute(unit.modelUuid, cfg.appName);
  // The script's path is the only variable part; % would be a newline to cron.
  const script = shQuote(unit.host.path(BUILD_SCRIPT_PATH)).replace(/%/g, '\\%');
  return (
    `# Written by the github-runner-image-builder charm (${unit.unitName}); changes are overwritten.\n` +
    `# Builds the ${imageName(cfg)} image every ${interval} hour(s) at minute ${minute}; log: ${BUILD_LOG_PATH}\n` +
    `${minute} */${interval} * * * root ${script}\n`
  );
}

export function renderLogrotate(): string {
  return `# Written by the github-runner-image-builder charm; changes are overwritten.
${BUILD_LOG_PATH} {
  weekly
  rotate 8
  maxsize 100M
  compress
  delaycompress
  missingok
  notifempty
  create 0640 root root
}
`;
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
  const script = host.path(BUILD_SCRIPT_PATH);
  const child = spawn(script, ['--now'], { detached: true, stdio: 'ignore', env, cwd: host.path('/') });
  let exitCode: number | null | undefined;
  child.on('exit', (code) => (exitCode = code));
  const spawnError = new Promise<Error>((resolve) => child.on('error', resolve));
  for (let waited = 0; waited < 30_000; waited += 20) {
    if (exitCode !== undefined) return exitCode === LOCK_BUSY_EXIT ? 'already-running' : 'started';
    if (await isBuildRunning(host)) break;
    const failed = await Promise.race([spawnError, sleep(20).then(() => undefined)]);
    if (failed) throw new HostCommandError([BUILD_SCRIPT_PATH, '--now'], undefined, '', `could not be started (${failed.message})`);
  }
  child.unref();
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

/** Scheduled runs skipped in a row because the lock was taken. */
export function skippedRuns(host: Host): number {
  const n = Number((host.readText(SKIPPED_RUNS_PATH) ?? '0').trim());
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * Ends a running build: SIGTERM to every process of its session, SIGKILL to what is left after
 * a grace period. Only a build that holds the lock is touched (a stale record names no one).
 */
export async function stopRunningBuild(unit: UnitContext): Promise<RunningBuild | undefined> {
  const host = unit.host;
  const build = runningBuild(host);
  if (!build || !(await isBuildRunning(host))) return undefined;
  const env = programEnv(host);
  const signal = (sig: string) => host.run(['pkill', `-${sig}`, '-s', String(build.session)], { env });
  await signal('TERM');
  for (let waited = 0; waited < STOP_GRACE_MS; waited += 100) {
    if ((await host.run(['pgrep', '-s', String(build.session)], { env })).exitCode !== 0) return build;
    await sleep(100);
  }
  await signal('KILL');
  return build;
}

/**
 * What stop and remove clear: the schedule, a running build, and every file that holds a
 * credential or that root would run. The log, the builder's virtualenv and the logrotate
 * policy stay. Returns the paths removed.
 */
export async function removeBuilder(unit: UnitContext): Promise<{ removed: string[]; stopped?: RunningBuild }> {
  const host = unit.host;
  const removed = [CRON_PATH].filter((p) => host.remove(p));
  const stopped = await stopRunningBuild(unit);
  for (const p of [BUILD_SCRIPT_PATH, CALLBACK_SCRIPT_PATH, BUILD_RUNNING_PATH, SKIPPED_RUNS_PATH, INSTALLED_MARKER_PATH]) {
    if (host.remove(p)) removed.push(p);
  }
  if (host.remove(CONFIG_DIR, { recursive: true })) removed.push(CONFIG_DIR);
  return stopped ? { removed, stopped } : { removed };
}
