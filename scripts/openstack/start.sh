#!/usr/bin/env bash
# Starts real Keystone (uwsgi, :5000) and Glance (glance-api, :9292) on 127.0.0.1 from one state
# directory, for the OpenStack integration suite. Nothing under /etc is read or written.
#
#   OPENSTACK_SUITE_DIR   state directory (default <repo>/.tmp/openstack); wiped on each start
#   OPENSTACK_SUITE_SEED  where a snapshot of the freshly set-up state is kept (default
#                         <state dir>.seed); OPENSTACK_SUITE_SEED=off disables it
#   OPENSTACK_SUITE_KEYSTONE_PORT, OPENSTACK_SUITE_GLANCE_PORT
#                         the ports (default 5000, 9292): another checkout's suite can run
#                         beside this one on other ports (tests read the URLs from suite.json)
#
# A full setup (four keystone-manage runs, glance db_sync, REST registration) takes ~11 s. Its
# result (databases, keys, configs) is snapshotted once and restored on later starts (~2-3 s);
# the snapshot is keyed on this script, register.mjs, the state path and the package versions.
#
# Leaves in the state directory: clouds.yaml (cloud "loopback", user demo in project demo;
# suite.json also lists two consumer projects, runners-a and runners-b, each with its own user),
# env (OS_* variables for the same user), admin.env (0600, the bootstrap admin), suite.json
# (0600, what test/support/openstack.ts reads), logs/, run/*.pid.
# "Gotcha N" refers to shared/reference/openstack-on-loopback.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${OPENSTACK_SUITE_DIR:-$repo/.tmp/openstack}"
dir="$(realpath -m "$dir")"
seed="${OPENSTACK_SUITE_SEED:-$dir.seed}"
marker="$dir/.openstack-suite-state"

KS_PORT="${OPENSTACK_SUITE_KEYSTONE_PORT:-5000}"
GL_PORT="${OPENSTACK_SUITE_GLANCE_PORT:-9292}"
for port in "$KS_PORT" "$GL_PORT"; do
  [[ "$port" =~ ^[1-9][0-9]{0,4}$ ]] && [ "$port" -le 65535 ] || {
    echo "openstack/start: a port must be a number from 1 to 65535" >&2; exit 2; }
done
KS_URL="http://127.0.0.1:$KS_PORT/v3"
GL_URL="http://127.0.0.1:$GL_PORT"
CANARY_PASSWORD="canary-Pa55w0rd-do-not-leak"

# Gotcha 8: Debian's tools need Debian's python3, not one earlier on PATH (pyenv etc.).
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV

t0=$(date +%s.%N)
say() { echo "openstack/start: $*" >&2; }
die() { say "$*"; exit 1; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop_all() { OPENSTACK_SUITE_DIR="$dir" bash "$here/stop.sh" >/dev/null 2>&1 || true; }

for bin in uwsgi keystone-manage glance-api glance-manage keystone-wsgi-public curl node; do
  command -v "$bin" >/dev/null || die "$bin not found; run: bash scripts/openstack/install.sh"
done
[ -f /usr/lib/uwsgi/plugins/python3_plugin.so ] ||
  die "uwsgi python3 plugin missing; run: bash scripts/openstack/install.sh"

# Already running from this state dir (our PIDs alive, both answering): nothing to do.
if alive "$dir/run/keystone.pid" && alive "$dir/run/glance.pid" &&
  curl -fsS -m 2 -o /dev/null "$KS_URL" 2>/dev/null &&
  curl -fsS -m 2 -o /dev/null "$GL_URL/healthcheck" 2>/dev/null; then
  say "already running from $dir"
  exit 0
fi
# Half-running (one died): stop what is left by its recorded PID, then start afresh.
[ -d "$dir/run" ] && stop_all

# Gotcha 5: something else (the packaged services, another checkout's suite) may hold the ports.
for port in $KS_PORT $GL_PORT; do
  if listening "$port"; then
    die "127.0.0.1:$port is already in use by a process not started from $dir; stop it first," \
      "or choose free ports with OPENSTACK_SUITE_KEYSTONE_PORT / OPENSTACK_SUITE_GLANCE_PORT"
  fi
done

# Fresh state on every start; refuse to wipe a directory this script did not create.
if [ -e "$dir" ] && [ ! -e "$marker" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
  die "$dir exists, is not empty and was not made by this script; refusing to wipe it"
fi
rm -rf "$dir"
mkdir -p "$dir"
chmod 0700 "$dir"

ks_conf="$dir/keystone/keystone.conf"
gl_conf="$dir/glance/glance-api.conf"

# Runs one setup command with its output in a log; shows the log only when it fails (gotcha 7:
# keystone-manage prints a harmless eventlet traceback at exit).
run_logged() {
  local log="$1"; shift
  if ! "$@" >>"$log" 2>&1; then
    say "failed: $*"; tail -n 40 "$log" >&2; return 1
  fi
}
# Gotcha 1: Keystone leaves a read lock after each token issue; WAL lets writers through.
wal() {
  /usr/bin/python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1]); c.execute("PRAGMA journal_mode=WAL"); c.close()' "$1"
}
# A consistent copy of a live sqlite database (backup API), still in WAL mode.
backup() {
  /usr/bin/python3 -c 'import sqlite3,sys
s=sqlite3.connect(sys.argv[1]); d=sqlite3.connect(sys.argv[2]); s.backup(d)
d.execute("PRAGMA journal_mode=WAL"); d.close(); s.close()' "$1" "$2"
}

# Writes configs, migrates both databases and bootstraps Keystone (everything before the
# services run). Sets admin_password / glance_password for the registration step.
full_setup() {
  mkdir -p "$dir"/{keystone/fernet-keys,keystone/credential-keys,glance/images,glance/staging}
  mkdir -p "$dir"/{glance/tasks,glance/locks,logs,run}
  touch "$marker"
  admin_password="admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  glance_password="glance-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

  (umask 077; cat >"$ks_conf" <<EOF
[DEFAULT]
log_dir = $dir/logs
log_file = keystone.log
use_stderr = false

[database]
connection = sqlite:///$dir/keystone/keystone.db

[token]
provider = fernet

[fernet_tokens]
key_repository = $dir/keystone/fernet-keys

[fernet_receipts]
# Gotcha 4: otherwise fernet_setup also writes /etc/keystone/fernet-keys.
key_repository = $dir/keystone/fernet-keys

[credential]
key_repository = $dir/keystone/credential-keys

[identity]
# Gotcha 6: bcrypt 12 makes each password auth ~0.3 s; must be set before bootstrap.
password_hash_rounds = 4

[cache]
# Gotcha 6: in-process cache; safe because there is exactly one worker.
enabled = true
backend = dogpile.cache.memory
EOF
  cat >"$gl_conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $GL_PORT
workers = 0
log_dir = $dir/logs
log_file = glance-api.log
use_stderr = false
enabled_backends = fs:file

[database]
connection = sqlite:///$dir/glance/glance.db

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = $dir/glance/images

[os_glance_staging_store]
filesystem_store_datadir = $dir/glance/staging

[os_glance_tasks_store]
filesystem_store_datadir = $dir/glance/tasks

[keystone_authtoken]
www_authenticate_uri = $KS_URL
auth_url = $KS_URL
auth_type = password
user_domain_name = Default
project_domain_name = Default
project_name = service
username = glance
password = $glance_password
region_name = RegionOne

[paste_deploy]
flavor = keystone
config_file = /usr/share/glance-common/glance-api-paste.ini

[oslo_concurrency]
lock_path = $dir/glance/locks
EOF
  )

  # Glance's schema does not depend on Keystone: migrate it while Keystone is being set up.
  (
    run_logged "$dir/logs/glance-manage.log" glance-manage --config-file "$gl_conf" db_sync &&
      wal "$dir/glance/glance.db"
  ) &
  local glance_sync_pid=$!

  local ks_log="$dir/logs/keystone-manage.log" me grp
  me="$(id -un)"
  grp="$(id -gn)"
  export OS_KEYSTONE_CONFIG_FILES="$ks_conf"
  run_logged "$ks_log" keystone-manage --config-file "$ks_conf" db_sync
  wal "$dir/keystone/keystone.db"
  run_logged "$ks_log" keystone-manage --config-file "$ks_conf" fernet_setup \
    --keystone-user "$me" --keystone-group "$grp"
  run_logged "$ks_log" keystone-manage --config-file "$ks_conf" credential_setup \
    --keystone-user "$me" --keystone-group "$grp"
  run_logged "$ks_log" keystone-manage --config-file "$ks_conf" bootstrap \
    --bootstrap-password "$admin_password" --bootstrap-username admin \
    --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "$KS_URL" --bootstrap-internal-url "$KS_URL" --bootstrap-public-url "$KS_URL"
  wait "$glance_sync_pid" || die "glance-manage db_sync failed"
}

# Registers users/projects/catalog by REST (needs Keystone up) and writes the client files.
register_and_write_files() {
  if ! node "$here/register.mjs" "$dir" "$KS_URL" "$GL_URL" "$admin_password" "$glance_password" \
    "$CANARY_PASSWORD" >"$dir/logs/register.log" 2>&1; then
    say "registration failed:"; tail -n 40 "$dir/logs/register.log" >&2
    stop_all
    exit 1
  fi
  cat >"$dir/clouds.yaml" <<EOF
# Written by scripts/openstack/start.sh for the OpenStack integration suite.
clouds:
  loopback:
    auth_type: password
    auth:
      auth_url: $KS_URL
      username: demo
      password: $CANARY_PASSWORD
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
EOF
  cat >"$dir/env" <<EOF
export OS_AUTH_URL=$KS_URL
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=demo
export OS_PASSWORD=$CANARY_PASSWORD
export OS_PROJECT_NAME=demo
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
EOF
  (umask 077; cat >"$dir/admin.env" <<EOF
export OS_AUTH_URL=$KS_URL
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin
export OS_PASSWORD=$admin_password
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
EOF
  )
}

# Snapshot for the next start: consistent online copies of both databases, plus keys, configs
# and client files; no logs, pids or image data.
save_seed() {
  rm -rf "$seed.new"
  mkdir -p "$seed.new/state"
  chmod 0700 "$seed.new"
  (cd "$dir" && cp -a .openstack-suite-state keystone glance clouds.yaml env admin.env suite.json \
    "$seed.new/state/")
  rm -rf "$seed.new/state/glance/"{images,staging,tasks,locks}
  mkdir -p "$seed.new/state/glance/"{images,staging,tasks,locks} "$seed.new/state/"{logs,run}
  rm -f "$seed.new/state/keystone/keystone.db"* "$seed.new/state/glance/glance.db"*
  backup "$dir/keystone/keystone.db" "$seed.new/state/keystone/keystone.db"
  backup "$dir/glance/glance.db" "$seed.new/state/glance/glance.db"
  echo "$seed_key" >"$seed.new/key"
  rm -rf "$seed"
  mv "$seed.new" "$seed"
}

seed_key="$(
  {
    cat "$here/start.sh" "$here/register.mjs"
    echo "$dir $KS_PORT $GL_PORT"
    dpkg-query -W keystone glance-api uwsgi-plugin-python3 python3-keystonemiddleware 2>/dev/null || true
  } | sha256sum | cut -d' ' -f1
)"
from_seed=false
if [ "$seed" != off ] && [ -f "$seed/key" ] && [ "$(cat "$seed/key")" = "$seed_key" ]; then
  cp -a "$seed/state/." "$dir/"
  from_seed=true
else
  full_setup
fi

# Keystone: 1 process, 1 thread (gotcha 3); "Connection: close" (gotcha 2). setsid so that a
# Ctrl-C in the calling shell does not reach the services; stop.sh ends them by PID.
setsid uwsgi --plugin python3 --http-socket "127.0.0.1:$KS_PORT" \
  --wsgi-file /usr/bin/keystone-wsgi-public --processes 1 --threads 1 \
  --add-header 'Connection: close' --buffer-size 65535 --need-app --die-on-term \
  --env "OS_KEYSTONE_CONFIG_FILES=$ks_conf" --logto "$dir/logs/uwsgi-keystone.log" \
  </dev/null >/dev/null 2>&1 &
echo $! >"$dir/run/keystone.pid"

setsid glance-api --config-file "$gl_conf" </dev/null >>"$dir/logs/glance-api.stderr.log" 2>&1 &
echo $! >"$dir/run/glance.pid"

# Polls a URL until it answers 2xx; on death or timeout shows the service's log tail and exits.
wait_for() {
  local name="$1" url="$2" pidfile="$3" log="$4" deadline=$((SECONDS + 60))
  while ! curl -fsS -m 2 -o /dev/null "$url" 2>/dev/null; do
    if ! alive "$pidfile"; then
      say "$name exited during start-up; last lines of $log:"; tail -n 40 "$log" >&2
      stop_all
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$name did not answer $url within 60 s; last lines of $log:"; tail -n 40 "$log" >&2
      stop_all
      exit 1
    fi
    sleep 0.1
  done
}
wait_for keystone "$KS_URL" "$dir/run/keystone.pid" "$dir/logs/uwsgi-keystone.log"
$from_seed || register_and_write_files
wait_for glance "$GL_URL/healthcheck" "$dir/run/glance.pid" "$dir/logs/glance-api.log"
if ! $from_seed && [ "$seed" != off ]; then
  save_seed
fi

how="set up"
$from_seed && how="restored from $seed"
say "up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s ($how):" \
  "keystone $KS_URL (pid $(cat "$dir/run/keystone.pid")), glance $GL_URL (pid $(cat "$dir/run/glance.pid"));" \
  "clouds.yaml: $dir/clouds.yaml"
