// What the charm writes on the host, rendered from the checked config and a few host facts:
// pure functions (no file or process access), so the plan can be computed and tested alone.
// Every variable part is shell-quoted; nothing secret is put anywhere but build.env, clouds.yaml
// and script-secrets.env.
import { createHash } from 'node:crypto';
import { imageName, imageNames, type BaseImage, type BuildConfig } from './build-config.js';
import { APP_KEY_DIR, initInputs, PHASE_INIT, phaseBuilding, SUCCESS_HEADER } from './builder-app.js';
import {
  APP_LOG_PATH,
  BUILD_ENV_PATH,
  BUILD_LOCK_PATH,
  BUILD_LOG_PATH,
  BUILD_OUTPUT_PATH,
  BUILD_PHASE_PATH,
  BUILD_RUNNING_PATH,
  BUILD_SCRIPT_PATH,
  BUILD_TIMEOUT_EXIT,
  BUILD_TIMEOUT_SECONDS,
  BUILDER_BIN,
  BUILDER_HOME,
  BUILDER_SSH_DIR,
  BUILDER_WORK_DIR,
  INIT_MARKER_PATH,
  SCRIPT_SECRETS_ENV_PATH,
  CLOUDS_YAML_PATH,
  COPY_LOG_PATH,
  LOCK_BUSY_EXIT,
  LOCK_WAIT_SECONDS,
  EXPORTER_SOCKET,
  METRICS_DIR,
  METRICS_HOST,
  SKIPPED_RUNS_PATH,
  SYSTEM_PATH,
} from './paths.js';
import { escapeCronPercent, shQuote } from './shell.js';

/** Who the files are for, and the host facts rendering needs. */
export interface RenderContext {
  readonly unitName: string;
  readonly charmDir: string;
  readonly modelUuid: string;
  /** Absolute path of juju-exec on this machine. */
  readonly jujuExec: string;
  /** The real location of a production path (CHARM_HOST_ROOT in tests). */
  readonly path: (prodPath: string) => string;
  /** The model's proxy settings as environment variables (http_proxy, HTTP_PROXY, ...). */
  readonly proxyEnv: Readonly<Record<string, string>>;
  /** The node that runs the charm (the charm's own, in a packed charm): it runs the exporter too. */
  readonly node: string;
}

/**
 * The build's environment, sourced by the build script: root-only (0600), because proxy URLs
 * may carry credentials. Nothing of it is on a command line or in the world-readable cron file.
 */
export function renderBuildEnv(unit: RenderContext): string {
  const host = unit;
  const env: Record<string, string> = {
    PATH: SYSTEM_PATH,
    LANG: 'C.UTF-8',
    HOME: host.path(BUILDER_HOME),
    OS_CLIENT_CONFIG_FILE: host.path(CLOUDS_YAML_PATH),
    BUILD_TIMEOUT: String(BUILD_TIMEOUT_SECONDS),
    ...unit.proxyEnv,
  };
  return `# Written by the github-runner-image-builder charm; changes are overwritten.\n${Object.entries(env)
    .map(([k, v]) => `export ${k}=${shQuote(v)}\n`)
    .join('')}`;
}

/** The builder app's arguments for one base (`run`), after `--os-cloud <cloud>`: options only when set. */
export function runArguments(cfg: BuildConfig, base: BaseImage): string[] {
  const optional: [string, string][] = [
    ['--flavor', cfg.flavor],
    ['--network', cfg.network],
    ['--runner-version', cfg.runnerVersion],
    ['--script-url', cfg.scriptUrl],
    ['--proxy', cfg.vmProxy],
  ];
  return [
    'run', imageName({ ...cfg, base }), '--arch', cfg.arch, '--base-image', base, '--keep-revisions', String(cfg.numRevisions), '--prefix', cfg.appName,
    ...optional.filter(([, v]) => v !== '').flatMap(([k, v]) => [k, v]),
  ];
}

/** The builder app's `init` arguments, after `--os-cloud <cloud>`. */
export const initArguments = (cfg: BuildConfig): string[] => ['init', '--arch', cfg.arch, '--prefix', cfg.appName];

/**
 * One build run, as cron runs it (scheduled) and as build-immediate starts it (`--now`). It runs
 * in its own session (stop ends the whole session); a scheduled run first asks Juju whether
 * this unit leads (only the leader builds, and leadership can go without a hook); it takes the
 * build lock (a scheduled run that finds it taken counts a skipped run) and records itself in
 * build-running. Under the lock it runs the app's `init` when what init last ran with differs
 * (a failure fails the run, and the next run tries again), then `run` for every base in turn
 * under `timeout` (a failed base does not stop the others). The app runs as root in a private
 * mount namespace: /home is an empty tmpfs there and /home/ubuntu/.ssh, where the app writes its
 * key, is the root-only BUILDER_SSH_DIR, so nothing of the host's /home is read or written. Its
 * stdout and stderr go to the log; the exact success output reports the image id to the charm
 * (build_success through juju-exec), anything else a failure (build_failed).
 */
export function renderBuildScript(cfg: BuildConfig, unit: RenderContext): string {
  const host = unit;
  const q = (prodPath: string) => shQuote(host.path(prodPath));
  const names = imageNames(cfg);
  const init = initInputs(cfg);
  const dispatch = shQuote(`${unit.charmDir}/dispatch`);
  const words = (args: readonly string[]) => args.map(shQuote).join(' ');
  // The event's data travels as assignments in the one argument juju-exec runs with bash: only
  // [A-Za-z0-9.-] reaches them (ids and bases are checked, exit codes are numbers).
  const report = (assignments: string) => `${shQuote(unit.jujuExec)} ${shQuote(unit.unitName)} "JUJU_DISPATCH_PATH=hooks/${assignments} "${shQuote(dispatch)}`;
  return `#!/bin/sh
# Written by the github-runner-image-builder charm (${unit.unitName}); changes are overwritten.
# Builds ${names.join(', ')}: cron runs "$0" on schedule, build-immediate runs "$0 --now".
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
metrics=${q(METRICS_DIR)}
phase=${q(BUILD_PHASE_PATH)}
init_marker=${q(INIT_MARKER_PATH)}
work=${q(BUILDER_WORK_DIR)}
ssh_dir=${q(BUILDER_SSH_DIR)}
secrets=${q(SCRIPT_SECRETS_ENV_PATH)}
out=${q(BUILD_OUTPUT_PATH)}
trigger=scheduled
[ "\${1:-}" = --now ] && trigger=immediate
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
if [ "$trigger" = scheduled ]; then
  # Only the leader builds on schedule. Juju 3 runs no hook when a unit loses leadership, so
  # this asks at run time; a unit that cannot tell does not build.
  leader=$(${shQuote(unit.jujuExec)} ${shQuote(unit.unitName)} 'is-leader --format=json' 2>>"$log") || leader=unknown
  if [ "$leader" != true ]; then
    echo "$(stamp) scheduled build skipped: ${unit.unitName} is not the leader (is-leader: $leader)" >> "$log"
    exit 0
  fi
fi
# stop and remove delete this script (their hook may have run while is-leader waited for it).
stopped() { [ -f ${q(BUILD_SCRIPT_PATH)} ] && return 1; echo "$(stamp) build not started: the unit was stopped" >> "$log"; }
stopped && exit 0
exec 9>>${q(BUILD_LOCK_PATH)}
if ! flock -w ${LOCK_WAIT_SECONDS} 9; then
  if [ "$trigger" = scheduled ]; then
    n=$(cat "$skipped" 2>/dev/null) || n=0
    case $n in ''|*[!0-9]*) n=0 ;; esac
    echo $((n + 1)) > "$skipped.tmp" && mv -f "$skipped.tmp" "$skipped"
    echo "$(stamp) scheduled build skipped: another build holds the build lock" >> "$log"
  fi
  exit ${LOCK_BUSY_EXIT}
fi
stopped && exit 0
rm -f "$skipped"
# A build that cannot record itself (disk or inodes full) does not run: stop finds builds by the
# lock they hold, but the status and the metrics would not know of it.
if ! { echo "$$ $(date +%s) $trigger" > "$running.tmp" && mv -f "$running.tmp" "$running"; } 2>> "$log"; then
  rm -f "$running.tmp"
  echo "$(stamp) build not started: it cannot record itself in $running (is the disk, or are its inodes, full?)" >> "$log"
  ${report('build_failed BUILD_FAILURE=unrecorded')} 9>&- >> "$log" 2>&1 &
  exit 1
fi
trap 'rm -f "$running" "$metrics/running.json" "$phase" "$out"' EXIT
trap 'exit 143' TERM
failed=0
# The value of a number field of a metrics file (0 when absent).
field() { v=$(sed -n "s/.*\\"$2\\": *\\([0-9][0-9]*\\).*/\\1/p" "$1" 2>/dev/null); echo "\${v:-0}"; }
# Writes a metrics file for the exporter atomically: <file> <json>.
publish_metrics() { printf '%s\\n' "$2" > "$1.tmp" && chmod 644 "$1.tmp" && mv -f "$1.tmp" "$1"; }
# record <base> <started, unix s> <ok|failed>: the base's build metrics.
record() {
  m="$metrics/build-$1.json"
  started=$(field "$m" started); succeeded=$(field "$m" succeeded); failed_n=$(field "$m" failed)
  consecutive=$(field "$m" consecutive_failures); last_success=$(field "$m" last_success_timestamp)
  t1=$(date +%s)
  if [ "$3" = ok ]; then
    succeeded=$((succeeded + 1)); consecutive=0; last_success=$t1
  else
    failed_n=$((failed_n + 1)); consecutive=$((consecutive + 1))
  fi
  publish_metrics "$m" "{\\"started\\": $((started + 1)), \\"succeeded\\": $succeeded, \\"failed\\": $failed_n, \\"consecutive_failures\\": $consecutive, \\"last_duration_seconds\\": $((t1 - $2)), \\"last_success_timestamp\\": $last_success}"
}
set_phase() { printf '%s\\n' "$1" > "$phase.tmp" && mv -f "$phase.tmp" "$phase"; }
# Tells the charm a build failed: in the background, without the lock (juju-exec waits for the
# machine lock, which build-immediate's own hook may hold while it waits for this build to start).
report_failure() {
  ${report('build_failed $1')} 9>&- >> "$log" 2>&1 &
}
# The builder app, as root in a private mount namespace (see above), in its working directory,
# under timeout; its arguments after --os-cloud.
app() {
  timeout -k 60 "$BUILD_TIMEOUT" unshare --mount --propagation private -- sh -c '
    mount -t tmpfs -o mode=0755,nosuid,nodev,size=1m builder-home /home &&
    mkdir -p ${APP_KEY_DIR} && mount --bind "$1" ${APP_KEY_DIR} && cd "$2" && shift 2 && exec "$@"' \\
    builder-sandbox "$ssh_dir" "$work" ${q(BUILDER_BIN)} --os-cloud ${shQuote(cfg.cloudName)} "$@"
}
# init, when what it last ran with differs: the shared cloud resources, the base images, the key.
prepare() {
  [ "$(head -n 1 "$init_marker" 2>/dev/null)" = ${shQuote(init.digest)} ] && return 0
  set_phase ${shQuote(PHASE_INIT)}
  echo "$(stamp) preparing the builder (init: base images, keypair, security group)" >> "$log"
  rm -f "$init_marker"
  t0=$(date +%s)
  rc=0
  app ${words(initArguments(cfg))} >> "$log" 2>&1 || rc=$?
  # The base images are in the cloud now; the copies here are GBs.
  rm -f "$work"/*-server-cloudimg-*.img
  if [ $rc -eq 0 ]; then
    printf '%s\\n%s\\n' ${shQuote(init.digest)} ${shQuote(init.description)} > "$init_marker.tmp" && mv -f "$init_marker.tmp" "$init_marker"
    echo "$(stamp) the builder is prepared" >> "$log"
    return 0
  fi
  [ $rc -eq ${BUILD_TIMEOUT_EXIT} ] && echo "$(stamp) preparing the builder timed out after $BUILD_TIMEOUT s and was stopped" >> "$log"
  echo "$(stamp) preparing the builder (init) failed with exit code $rc; no image is built, the next build tries again" >> "$log"
${cfg.bases.map((base) => `  record ${shQuote(base)} "$t0" failed`).join('\n')}
  report_failure "BUILD_FAILURE=init BUILD_EXIT_CODE=$rc"
  return $rc
}
# build_base <base> <image name> <app arguments...>
build_base() {
  base=$1 image=$2
  shift 2
  t0=$(date +%s)
  set_phase "${phaseBuilding('$image')}"
  publish_metrics "$metrics/running.json" "{\\"base\\": \\"$base\\", \\"started\\": $t0}"
  echo "$(stamp) build of $image started ($trigger)" >> "$log"
  rc=0
  # The script secret's variables reach the app's environment only (a subshell sources them).
  ( if [ -f "$secrets" ]; then . "$secrets"; fi; app "$@" ) > "$out" 2>> "$log" || rc=$?
  cat "$out" >> "$log" && echo >> "$log"
  [ $rc -eq ${BUILD_TIMEOUT_EXIT} ] && echo "$(stamp) build of $image timed out after $BUILD_TIMEOUT s and was stopped" >> "$log"
  echo "$(stamp) build of $image ended with exit code $rc" >> "$log"
  id=
  if [ $rc -eq 0 ]; then
    # Exactly "${SUCCESS_HEADER}\\n<id>" (no final newline): one id, since no other cloud is uploaded to.
    text=$(cat "$out"; printf x) && text=\${text%x}
    case $text in "${SUCCESS_HEADER}
"*) id=\${text#"${SUCCESS_HEADER}
"} ;; esac
    case $id in ''|*[!A-Za-z0-9-]*) id= ;; esac
    [ \${#id} -le 64 ] || id=
    [ -n "$id" ] || echo "$(stamp) build of $image: the builder exited 0 but printed no image id" >> "$log"
  fi
  rm -f "$metrics/running.json"
  if [ -n "$id" ]; then
    record "$base" "$t0" ok
    ${report('build_success OPENSTACK_IMAGE_ID=$id IMAGE_BASE=$base')} 9>&- >> "$log" 2>&1
  else
    record "$base" "$t0" failed
    failed=\${rc#0}; failed=\${failed:-1}
    if [ $rc -eq 0 ]; then report_failure "BUILD_FAILURE=no-image-id IMAGE_BASE=$base"
    else report_failure "BUILD_EXIT_CODE=$rc IMAGE_BASE=$base"; fi
  fi
}
${cfg.vmProxyCredentialsDropped ? `echo "$(stamp) the model's proxy has credentials, which the builder VM's proxy cannot take (--proxy is host:port): the builder VM's proxy cannot authenticate; it gets ${cfg.vmProxy} without them" >> "$log"\n` : ''}prepare || exit $?
${cfg.bases.map((base) => `build_base ${shQuote(base)} ${words(runArguments(cfg, base).slice(1, 2))} ${words(runArguments(cfg, base))}`).join('\n')}
exit $failed
`;
}

/**
 * The minute of the hour the schedule fires: a stable hash of model and application, so the
 * builders of a controller do not all start at minute 0.
 */
export function scheduleMinute(modelUuid: string, appName: string): number {
  return createHash('sha256').update(`${modelUuid}/${appName}`).digest().readUInt32BE(0) % 60;
}

export function renderCron(cfg: BuildConfig, interval: number, unit: RenderContext): string {
  const minute = scheduleMinute(unit.modelUuid, cfg.appName);
  // The script's path is the only variable part; % would be a newline to cron.
  const script = escapeCronPercent(shQuote(unit.path(BUILD_SCRIPT_PATH)));
  return (
    `# Written by the github-runner-image-builder charm (${unit.unitName}); changes are overwritten.\n` +
    `# Builds ${imageNames(cfg).join(', ')} every ${interval} hour(s) at minute ${minute}, on the leader; log: ${BUILD_LOG_PATH}\n` +
    `${minute} */${interval} * * * root ${script}\n`
  );
}

export function renderLogrotate(): string {
  return `# Written by the github-runner-image-builder charm; changes are overwritten.
${BUILD_LOG_PATH} ${APP_LOG_PATH} ${COPY_LOG_PATH} {
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


/** Identifies the schedule and the build's arguments: a build is owed when it changes. */
export function scheduleDigest(cron: string, buildScript: string): string {
  return createHash('sha256').update(cron).update(buildScript).digest('hex');
}

/** The exporter's node flags: small V8 heaps keep it near 50 MB (the node binary alone maps ~40 MB). */
export const EXPORTER_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=32'] as const;
/** systemd's MemoryMax for the exporter, in MiB. */
export const EXPORTER_MEMORY_MAX_MIB = 128;

/** The exporter's two systemd units: the socket systemd holds, and the service it hands it to. */
export interface ExporterUnits {
  readonly socket: string;
  readonly service: string;
}

/**
 * The exporter's units. systemd binds 127.0.0.1:<port> (the .socket) and keeps it bound while the
 * service restarts, so no other local user can take the port meanwhile; the service is the
 * charm's own node running dist/exporter.js on that socket, as a dynamic (unprivileged) user that
 * can only read the metrics directory, restarted on a crash.
 */
export function renderExporterUnits(unit: RenderContext, port: number): ExporterUnits {
  const header = `# Written by the github-runner-image-builder charm (${unit.unitName}); changes are overwritten.`;
  const socket = `${header}
[Unit]
Description=Socket of the github-runner-image-builder exporter (build metrics)

[Socket]
ListenStream=${METRICS_HOST}:${port}

[Install]
WantedBy=sockets.target
`;
  const service = `${header}
[Unit]
Description=Prometheus exporter of the github-runner-image-builder charm (build metrics)
Requires=${EXPORTER_SOCKET}
After=${EXPORTER_SOCKET}

[Service]
ExecStart=${systemdCommandLine([unit.node, ...EXPORTER_NODE_FLAGS, `${unit.charmDir}/dist/exporter.js`, '--port', String(port), '--state-dir', unit.path(METRICS_DIR)])}
Restart=always
RestartSec=5
DynamicUser=yes
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
MemoryMax=${EXPORTER_MEMORY_MAX_MIB}M

[Install]
WantedBy=multi-user.target
`;
  return { socket, service };
}

/**
 * An ExecStart= command line: each word in double quotes (backslash and quote escaped, control
 * characters as \xNN) unless plain, `%` as `%%` (systemd resolves specifiers such as %n
 * everywhere), and `$` as `$$` in the arguments (systemd expands ${VAR} in them when it starts
 * the service; it runs the executable's path as written, so there `$` stays single).
 */
export function systemdCommandLine(argv: readonly [string, ...string[]]): string {
  return argv
    .map((arg, i) => {
      const escaped = arg.replace(i === 0 ? /%/g : /[%$]/g, '$&$&');
      if (/^[A-Za-z0-9_./:@=-]+$/.test(arg)) return escaped;
      // eslint-disable-next-line no-control-regex -- control characters are what it escapes
      return `"${escaped.replace(/[\\"]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
    })
    .join(' ');
}
