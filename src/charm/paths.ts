// Every place on the machine the charm reads, writes or runs, defined once: the charm, its
// tests, `npm start` and the benchmarks import these. The layout is the privilege boundary
// (README "Security model"): everything root runs, reads or writes lives in directories only
// root can change, and nothing of it is under a user's home.

import { APP } from '../shared/metrics-files.js';

/** What the exporter shares with the charm lives in src/shared (the exporter imports nothing from here). */
export { APP, METRICS_DIR, METRICS_HOST } from '../shared/metrics-files.js';

/** Root-only (0700): the clouds.yaml (with the OpenStack password) and the build environment (proxies). */
export const CONFIG_DIR = `/etc/${APP}`;
export const CLOUDS_YAML_PATH = `${CONFIG_DIR}/clouds.yaml`;
export const BUILD_ENV_PATH = `${CONFIG_DIR}/build.env`;
/** The script secret's IMAGE_BUILDER_SECRET_* variables, sourced by the build script for `run` only. */
export const SCRIPT_SECRETS_ENV_PATH = `${CONFIG_DIR}/script-secrets.env`;
/** The consumer clouds (clouds.yaml format, root 0600): where the copier puts each consumer's copy. */
export const CONSUMER_CLOUDS_PATH = `${CONFIG_DIR}/consumer-clouds.yaml`;

/** Root-only (0700): the scripts root runs, the build lock and the build's bookkeeping. */
export const STATE_DIR = `/var/lib/${APP}`;
export const BUILD_SCRIPT_PATH = `${STATE_DIR}/build`;
/** The chroot builder's callback script (before the builder VM): upgrade-charm removes it. */
export const LEGACY_CALLBACK_SCRIPT_PATH = `${STATE_DIR}/build-callback`;
export const BUILD_LOCK_PATH = `${STATE_DIR}/build.lock`;
/** "<pid> <started, unix s> <scheduled|immediate>" while a build holds the lock; pid is its session id. */
export const BUILD_RUNNING_PATH = `${STATE_DIR}/build-running`;
/** How many scheduled runs in a row found the lock taken (removed when a build starts). */
export const SKIPPED_RUNS_PATH = `${STATE_DIR}/skipped-runs`;
/** The builder source that was installed and initialised; setup is owed while it differs. */
export const INSTALLED_MARKER_PATH = `${STATE_DIR}/installed`;
/** Written once the pre-0.2 layout was removed from /home/ubuntu: root's hooks never act there again. */
export const LEGACY_CLEANED_PATH = `${STATE_DIR}/legacy-layout-removed`;
/** HOME of the builder (root's, not a user's). */
export const BUILDER_HOME = `${STATE_DIR}/home`;
/** The builder app's working directory: init downloads the base images here (GBs, removed after init). */
export const BUILDER_WORK_DIR = `${STATE_DIR}/work`;
/**
 * Bound onto /home/ubuntu/.ssh in the app's private mount namespace, where the app writes its
 * SSH private key (builder_key): root-owned 0700, so no other user reaches the key, which
 * survives between builds (a new one makes the app recreate the cloud's keypair).
 */
export const BUILDER_SSH_DIR = `${STATE_DIR}/ssh`;
/** The inputs of the last successful `init` (a digest, then what it was, as JSON): init runs again when they change. */
export const INIT_MARKER_PATH = `${STATE_DIR}/builder-init`;
/** What a running build is doing (one line), for the status. */
export const BUILD_PHASE_PATH = `${STATE_DIR}/build-phase`;
/** The app's stdout of the current `run` (the success line and the image id). */
export const BUILD_OUTPUT_PATH = `${STATE_DIR}/build-output`;
/** What the charm asks the copier for (root 0600; src/charm/copies.ts). */
export const COPY_REQUEST_PATH = `${STATE_DIR}/copy-request.json`;
/** The request text the copier last served whole: the copier runs again while the request differs. */
export const COPY_SERVED_PATH = `${STATE_DIR}/copy-request.served`;
/** What the copier's last run did (root 0600, no secrets). */
export const COPY_RESULT_PATH = `${STATE_DIR}/copy-result.json`;
/** The copier's own lock (never the build lock: copies and builds run side by side). */
export const COPY_LOCK_PATH = `${STATE_DIR}/copy.lock`;

/** Root-owned (0755): the builder application's virtualenv, installed by pipx as root. */
export const APP_DIR = `/opt/${APP}`;
export const PIPX_HOME = `${APP_DIR}/pipx`;
export const PIPX_BIN_DIR = `${APP_DIR}/bin`;
export const BUILDER_BIN = `${PIPX_BIN_DIR}/${APP}`;

/** Root-owned (0750); collectors tail /var/log/**\/*log. */
export const LOG_DIR = `/var/log/${APP}`;
export const BUILD_LOG_PATH = `${LOG_DIR}/build.log`;
/** The builder app's own log (hard-coded in the app: logging.py). */
export const APP_LOG_PATH = `${LOG_DIR}/info.log`;
/** The copier's log. */
export const COPY_LOG_PATH = `${LOG_DIR}/copy.log`;
export const LOGROTATE_PATH = `/etc/logrotate.d/${APP}`;

export const CRON_PATH = '/etc/cron.d/build-runner-image';

/** What units deployed before the hardening left in the ubuntu user's home (upgrade-charm clears it). */
export const UBUNTU_USER = 'ubuntu';
export const LEGACY_HOME = '/home/ubuntu';
export const LEGACY_CLOUDS_YAML_PATH = `${LEGACY_HOME}/.config/openstack/clouds.yaml`;
export const LEGACY_BUILD_LOG_PATH = `${LEGACY_HOME}/${APP}.log`;
export const LEGACY_BUILDER_BIN = `${LEGACY_HOME}/.local/bin/${APP}`;

/** A build is killed (its whole process group) after this long; `timeout`'s exit code is 124. */
export const BUILD_TIMEOUT_SECONDS = 3 * 60 * 60;
export const BUILD_TIMEOUT_EXIT = 124;
/** flock's exit code when another build holds the lock. */
export const LOCK_BUSY_EXIT = 75;
/** Scheduled runs skipped in a row before the status says so. */
export const SKIPPED_RUNS_WARNING = 3;
/** A build waits this long for the lock, so a momentary `isBuildRunning` probe never stops it. */
export const LOCK_WAIT_SECONDS = 5;
/** The PATH of builds and of host programs when the hook gives none. */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The exporter, run by systemd as a dynamic user from the charm's own node. */
export const EXPORTER_SERVICE = `${APP}-exporter.service`;
export const EXPORTER_UNIT_PATH = `/etc/systemd/system/${EXPORTER_SERVICE}`;
/** systemd's socket for it (127.0.0.1:<metrics-port>): held while the exporter restarts. */
export const EXPORTER_SOCKET = `${APP}-exporter.socket`;
export const EXPORTER_SOCKET_PATH = `/etc/systemd/system/${EXPORTER_SOCKET}`;
