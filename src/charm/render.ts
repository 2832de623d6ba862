// What the charm writes on the host, rendered from the checked config and a few host facts:
// pure functions (no file or process access), so the plan can be computed and tested alone.
// Every variable part is shell-quoted; nothing secret is put anywhere but build.env and clouds.yaml.
import { createHash } from 'node:crypto';
import { imageNames, type BuildConfig } from './build-config.js';
import {
  BUILD_ENV_PATH,
  BUILD_LOCK_PATH,
  BUILD_LOG_PATH,
  BUILD_RUNNING_PATH,
  BUILD_SCRIPT_PATH,
  BUILD_TIMEOUT_EXIT,
  BUILD_TIMEOUT_SECONDS,
  BUILDER_BIN,
  BUILDER_HOME,
  CLOUDS_YAML_PATH,
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

/** The callback the builder runs after an upload, and the build script after a failed build. */
export function renderCallbackScript(unit: RenderContext): string {
  const jujuExec = unit.jujuExec;
  const dispatch = shQuote(`${unit.charmDir}/dispatch`);
  // juju-exec runs one argument verbatim with bash in a fresh hook context; it forwards no
  // environment, so the event's data travels as assignments. Only [A-Za-z0-9-] reaches them.
  return `#!/bin/sh
# Written by the github-runner-image-builder charm; changes are overwritten.
# The builder runs "$0 <image-id>" after a successful upload; the build script runs
# "$0 --failed <exit-code>" when a build fails. Each fires a hook on ${unit.unitName}; the
# base comes from IMAGE_BUILD_BASE, which the build script sets for each base it builds.
set -u
unit=${shQuote(unit.unitName)}
case "\${IMAGE_BUILD_BASE:-}" in ''|*[!a-z0-9.]*) base= ;; *) base=$IMAGE_BUILD_BASE ;; esac
if [ "\${1:-}" = --failed ]; then
  case "\${2:-}" in ''|*[!0-9]*) code=unknown ;; *) code=$2 ;; esac
  exec ${shQuote(jujuExec)} "$unit" "JUJU_DISPATCH_PATH=hooks/build_failed BUILD_EXIT_CODE=$code IMAGE_BASE=$base "${shQuote(dispatch)}
fi
case "\${1:-}" in
  ''|*[!A-Za-z0-9-]*)
    exec ${shQuote(jujuExec)} "$unit" "JUJU_DISPATCH_PATH=hooks/build_failed BUILD_FAILURE=malformed-image-id IMAGE_BASE=$base "${shQuote(dispatch)} ;;
esac
exec ${shQuote(jujuExec)} "$unit" "JUJU_DISPATCH_PATH=hooks/build_success OPENSTACK_IMAGE_ID=$1 IMAGE_BASE=$base "${shQuote(dispatch)}
`;
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

/**
 * One build run, as cron runs it (scheduled) and as build-immediate starts it (`--now`). It runs
 * in its own session (stop ends the whole session); a scheduled run first asks Juju whether
 * this unit leads (only the leader builds, and leadership can go without a hook); it takes the
 * build lock (a scheduled run that finds it taken counts a skipped run), records itself in
 * build-running, builds every base in turn under `timeout` (a failed base does not stop the
 * others), appends to the log, and tells the callback when a base fails.
 */
export function renderBuildScript(cfg: BuildConfig, unit: RenderContext): string {
  const host = unit;
  const q = (prodPath: string) => shQuote(host.path(prodPath));
  const names = imageNames(cfg);
  const run = [q(BUILDER_BIN), 'run', shQuote(cfg.cloudName), '"$2"', '--base-image', '"$1"', '--keep-revisions', shQuote(String(cfg.numRevisions)), '--callback-script', '"$callback"'].join(' ');
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
callback=${q(cfg.callbackScript)}
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
rm -f "$skipped"
echo "$$ $(date +%s) $trigger" > "$running.tmp" && mv -f "$running.tmp" "$running"
trap 'rm -f "$running" "$metrics/running.json"' EXIT
trap 'exit 143' TERM
failed=0
# The value of a number field of a metrics file (0 when absent).
field() { v=$(sed -n "s/.*\\"$2\\": *\\([0-9][0-9]*\\).*/\\1/p" "$1" 2>/dev/null); echo "\${v:-0}"; }
# Writes a metrics file for the exporter atomically: <file> <json>.
publish_metrics() { printf '%s\\n' "$2" > "$1.tmp" && chmod 644 "$1.tmp" && mv -f "$1.tmp" "$1"; }
# build_base <base> <image name>
build_base() {
  export IMAGE_BUILD_BASE="$1"
  m="$metrics/build-$1.json"
  started=$(field "$m" started); succeeded=$(field "$m" succeeded); failed_n=$(field "$m" failed)
  consecutive=$(field "$m" consecutive_failures); last_success=$(field "$m" last_success_timestamp)
  t0=$(date +%s)
  publish_metrics "$metrics/running.json" "{\\"base\\": \\"$1\\", \\"started\\": $t0}"
  echo "$(stamp) build of $2 started ($trigger)" >> "$log"
  rc=0
  timeout -k 60 "$BUILD_TIMEOUT" ${run} >> "$log" 2>&1 || rc=$?
  [ $rc -eq ${BUILD_TIMEOUT_EXIT} ] && echo "$(stamp) build of $2 timed out after $BUILD_TIMEOUT s and was stopped" >> "$log"
  echo "$(stamp) build of $2 ended with exit code $rc" >> "$log"
  t1=$(date +%s)
  if [ $rc -eq 0 ]; then
    succeeded=$((succeeded + 1)); consecutive=0; last_success=$t1
  else
    failed_n=$((failed_n + 1)); consecutive=$((consecutive + 1))
  fi
  publish_metrics "$m" "{\\"started\\": $((started + 1)), \\"succeeded\\": $succeeded, \\"failed\\": $failed_n, \\"consecutive_failures\\": $consecutive, \\"last_duration_seconds\\": $((t1 - t0)), \\"last_success_timestamp\\": $last_success}"
  rm -f "$metrics/running.json"
  if [ $rc -ne 0 ]; then
    failed=$rc
    # In the background, without the lock: the callback's juju-exec waits for the machine lock,
    # which build-immediate's own hook may hold while it waits for this build to take the lock.
    "$callback" --failed $rc 9>&- >> "$log" 2>&1 &
  fi
}
${cfg.bases.map((base, i) => `build_base ${shQuote(base)} ${shQuote(names[i]!)}`).join('\n')}
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
