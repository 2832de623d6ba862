// Port of the upstream charm's builder module (seed-builder-module.md): set the host up to
// build images, schedule builds with cron, start one now, and find the newest image. What
// upstream meant, with its defects fixed: values are shell-quoted, the cron entry is compared
// as rendered text, clouds.yaml is 0600, builds share one lock, failures are reported.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Host, HostCommandError, HostFileError, type Env } from './host.js';
import { proxyEnv } from './proxy.js';
import { escapeCronPercent, shQuote } from './shell.js';

export const UBUNTU_USER = 'ubuntu';
export const APT_DEPENDENCIES = ['pipx', 'python3-dev', 'gcc'] as const;
export const IMAGE_NAME_TMPL = '{IMAGE_BASE}-{APP_NAME}-{ARCH}';
/**
 * The builder application, pinned: upstream installed a moving branch (@feat/app). This is
 * the merge of that branch (2024-06-19), the first commit whose `run --callback-script` takes
 * an absolute path, with the init / run / latest-build-id CLI the charm drives.
 */
export const BUILDER_SOURCE = 'git+https://github.com/canonical/github-runner-image-builder@f9f1c74';

export const UBUNTU_HOME = '/home/ubuntu';
export const BUILDER_BIN = `${UBUNTU_HOME}/.local/bin/github-runner-image-builder`;
export const CLOUDS_YAML_PATH = `${UBUNTU_HOME}/.config/openstack/clouds.yaml`;
export const BUILD_LOG_PATH = `${UBUNTU_HOME}/github-runner-image-builder.log`;
export const CRON_PATH = '/etc/cron.d/build-runner-image';
/** Root-owned: the callback runs as root, so the ubuntu user must not be able to replace it. */
export const STATE_DIR = '/var/lib/github-runner-image-builder';
export const CALLBACK_SCRIPT_PATH = `${STATE_DIR}/build-callback`;
export const BUILD_LOCK_PATH = `${STATE_DIR}/build.lock`;
/** flock's exit code when another build holds the lock (`flock -E`). */
export const LOCK_BUSY_EXIT = 75;
/** A build waits this long for the lock, so a momentary `isBuildRunning` probe never stops it. */
const LOCK_WAIT_SECONDS = 5;

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
  return { PATH: host.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...proxyEnv(host.env), ...extra };
}

interface Account {
  readonly uid: number;
  readonly gid: number;
}

async function ubuntuAccount(host: Host): Promise<Account> {
  const res = await host.run(['getent', 'passwd', UBUNTU_USER], { env: programEnv(host) });
  const fields = res.stdout.trim().split(':');
  if (res.exitCode !== 0 || fields.length < 7) {
    throw new BuilderSetupError(`user "${UBUNTU_USER}" does not exist on this machine (getent passwd exited ${res.exitCode}); deploy on an Ubuntu cloud image`);
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
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

/** Installs (or reinstalls, on upgrade) the pinned builder application for the ubuntu user. */
async function installBuilderApp(host: Host): Promise<void> {
  await host.runChecked(['runuser', '-u', UBUNTU_USER, '--', 'pipx', 'install', '--force', BUILDER_SOURCE], {
    env: programEnv(host, { HOME: host.path(UBUNTU_HOME) }),
    cwd: host.path(UBUNTU_HOME),
    timeoutMs: 10 * 60_000,
  });
}

async function initializeBuilder(host: Host): Promise<void> {
  await host.runChecked([host.path(BUILDER_BIN), 'init'], {
    env: programEnv(host, { HOME: host.path(UBUNTU_HOME) }),
    cwd: host.path(UBUNTU_HOME),
    timeoutMs: 30 * 60_000,
  });
}

/**
 * Configures the host to build images: apt dependencies, the builder application and its
 * init, clouds.yaml, the callback script and the cron entry.
 */
export async function setupBuilder(buildConfig: BuildConfig, cloudConfig: string, interval: number, unit: UnitContext): Promise<void> {
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      const detail = err instanceof HostCommandError || err instanceof HostFileError || err instanceof BuilderSetupError ? err.message : `${(err as Error).name}: ${(err as Error).message}`;
      throw new BuilderSetupError(`${what} failed: ${detail}`);
    }
  };
  await step('installing apt packages', () => installAptDependencies(unit.host));
  await step('installing the builder application with pipx', () => installBuilderApp(unit.host));
  await step('initialising the builder (github-runner-image-builder init)', () => initializeBuilder(unit.host));
  await step('writing clouds.yaml', () => installCloudsYaml(cloudConfig, unit.host));
  await step('writing the build callback script', async () => installCallbackScript(unit));
  await step('configuring cron', () => configureCron(buildConfig, interval, unit));
}

/** Writes clouds.yaml for the builder, 0600 and owned by ubuntu, when its text changed. */
export async function installCloudsYaml(cloudConfig: string, host: Host): Promise<boolean> {
  if (host.readText(CLOUDS_YAML_PATH) === cloudConfig) return false;
  const owner = await ubuntuAccount(host);
  for (const dir of [`${UBUNTU_HOME}/.config`, `${UBUNTU_HOME}/.config/openstack`]) host.ensureDir(dir, 0o700);
  return host.writeIfChanged(CLOUDS_YAML_PATH, cloudConfig, { mode: 0o600, ...owner });
}

/** The callback the builder runs after an upload, and the cron job after a failed build. */
export function renderCallbackScript(unit: UnitContext): string {
  const jujuExec = unit.host.which('juju-exec') ?? '/usr/bin/juju-exec';
  const dispatch = shQuote(`${unit.charmDir}/dispatch`);
  // juju-exec runs one argument verbatim with bash in a fresh hook context; it forwards no
  // environment, so the event's data travels as assignments. Only [A-Za-z0-9-] reaches them.
  return `#!/bin/sh
# Written by the github-runner-image-builder charm; changes are overwritten.
# The builder runs "$0 <image-id>" after a successful upload; the build cron job runs
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

export function installCallbackScript(unit: UnitContext): boolean {
  unit.host.ensureDir(STATE_DIR, 0o755);
  return unit.host.writeIfChanged(CALLBACK_SCRIPT_PATH, renderCallbackScript(unit), { mode: 0o755, uid: 0, gid: 0 });
}

/**
 * The build command, as cron runs it and as build-immediate starts it: one lock shared by
 * both, output appended to the log, and the callback told when the build fails.
 */
export function renderBuildCommand(cfg: BuildConfig, unit: UnitContext): string {
  const host = unit.host;
  const q = (prodPath: string) => shQuote(host.path(prodPath));
  const env = {
    HOME: host.path(UBUNTU_HOME),
    OS_CLIENT_CONFIG_FILE: host.path(CLOUDS_YAML_PATH),
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...proxyEnv(host.env),
  };
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${shQuote(v)}`).join(' ');
  const flock = host.which('flock') ?? '/usr/bin/flock';
  const log = q(BUILD_LOG_PATH);
  const callback = q(cfg.callbackScript);
  const run = [
    q(BUILDER_BIN),
    'run',
    shQuote(cfg.cloudName),
    shQuote(imageName(cfg)),
    '--base-image',
    shQuote(cfg.base),
    '--keep-revisions',
    shQuote(String(cfg.numRevisions)),
    '--callback-script',
    callback,
  ].join(' ');
  return (
    `cd ${q(UBUNTU_HOME)} && ${assignments} ${shQuote(flock)} -w ${LOCK_WAIT_SECONDS} -E ${LOCK_BUSY_EXIT} ${q(BUILD_LOCK_PATH)} ${run} >> ${log} 2>&1` +
    // On failure the callback runs in the background and the command exits at once with the
    // build's code (75: another build holds the lock): the callback's juju-exec waits for the
    // machine lock, which build-immediate's own hook holds while it waits for this command.
    ` || { rc=$?; [ $rc -eq ${LOCK_BUSY_EXIT} ] || { ${callback} --failed $rc >> ${log} 2>&1 & }; exit $rc; }`
  );
}

export function renderCron(cfg: BuildConfig, interval: number, unit: UnitContext): string {
  return (
    `# Written by the github-runner-image-builder charm (${unit.unitName}); changes are overwritten.\n` +
    `# Builds the ${imageName(cfg)} image every ${interval} hour(s); log: ${BUILD_LOG_PATH}\n` +
    `0 */${interval} * * * root ${escapeCronPercent(renderBuildCommand(cfg, unit))}\n`
  );
}

/** Writes the cron entry when its rendered text changed; returns whether it did. */
export async function configureCron(buildConfig: BuildConfig, interval: number, unit: UnitContext): Promise<boolean> {
  unit.host.ensureDir(STATE_DIR, 0o755);
  const changed = unit.host.writeIfChanged(CRON_PATH, renderCron(buildConfig, interval, unit), { mode: 0o644, uid: 0, gid: 0 });
  if (changed) {
    // cron notices /etc/cron.d changes by itself within a minute; the reload only hurries it,
    // so a machine without systemd still gets its schedule.
    // A wedged systemd must not hold the hook (and the machine lock) forever.
    const res = await unit.host
      .run(['systemctl', 'reload-or-restart', 'cron'], { env: programEnv(unit.host), timeoutMs: 60_000 })
      .catch((e: Error) => ({ exitCode: -1, stderr: e.message }));
    if (res.exitCode !== 0) {
      unit.warn(`cron was not reloaded (systemctl reload-or-restart cron exited ${res.exitCode}: ${res.stderr.trim().slice(-300)}); cron reads ${CRON_PATH} by itself within a minute`);
    }
  }
  return changed;
}

/** Whether a build (cron's or an immediate one) holds the build lock. */
export async function isBuildRunning(host: Host): Promise<boolean> {
  host.ensureDir(STATE_DIR, 0o755);
  const res = await host.run(['flock', '-n', '-E', String(LOCK_BUSY_EXIT), host.path(BUILD_LOCK_PATH), 'true'], { env: programEnv(host) });
  return res.exitCode === LOCK_BUSY_EXIT;
}

export type BuildStart = 'started' | 'already-running';

/**
 * Starts the cron job's command now, detached: the builder's callback fires another hook
 * through juju-exec, which waits for this one to end. Reports `started` only once the new
 * build holds the lock (or has already finished), so a second request cannot start another.
 */
export async function buildImmediate(config: BuildConfig, unit: UnitContext): Promise<BuildStart> {
  const host = unit.host;
  if (await isBuildRunning(host)) return 'already-running';
  // The child outlives the hook: it must hold neither Juju's pipes nor its hook context (a
  // juju-exec from inside a context is refused). What the build needs is in the command.
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(host.env)) {
    if (value !== undefined && !/^(JUJU_|OPERATOR_DISPATCH$|CHARM_DIR$)/.test(key)) env[key] = value;
  }
  const child = spawn('sh', ['-c', renderBuildCommand(config, unit)], { detached: true, stdio: 'ignore', env, cwd: host.path('/') });
  let exitCode: number | null | undefined;
  child.on('exit', (code) => (exitCode = code));
  const spawnError = new Promise<Error>((resolve) => child.on('error', resolve));
  for (let waited = 0; waited < 30_000; waited += 20) {
    if (exitCode !== undefined) return exitCode === LOCK_BUSY_EXIT ? 'already-running' : 'started';
    if (await isBuildRunning(host)) break;
    const failed = await Promise.race([spawnError, sleep(20).then(() => undefined)]);
    if (failed) throw new HostCommandError(['sh', '-c', '<build command>'], undefined, '', `could not be started (${failed.message})`);
  }
  child.unref();
  return 'started';
}
