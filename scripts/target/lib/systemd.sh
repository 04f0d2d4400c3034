# shellcheck shell=bash
# shellcheck disable=SC2153 # SERVICES, RESOURCES, RUN, RES, LOGS are set by load_config (common.sh)
# systemd mode (docs/target-layout.md, "systemd mode"): the foreground commands the generated
# units run (exec-service, exec-resource), and the functions that install and drive the units.
# The unit files themselves come from the bundle (config/systemd/, shared/bundle/systemd-units.ts).
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

SYSTEMD_UNIT_DIR=/etc/systemd/system
# The systemd that knows RestartSteps= and RestartMaxDelaySec= (the backoff drop-in's keys).
SYSTEMD_BACKOFF_VERSION=254

# ---------------------------------------------------------------- what the units run

# manage.sh exec-service <record>: runs record $1 (a service, or `<service>.b`; lib/slots.sh) in
# the foreground, replacing this process, as the non-systemd path runs it: in scenario/, env -i
# with the app env and secrets read as data, PORT and the resource URLs (exec_command). The port
# and release come from state/run/<record>.info ("<start> <port> <release dir>"), which must name
# this release (the unit reaches it through the state/run/<record>.release link). Records this
# process as the record's pid (systemd makes it a session and process group leader), so
# service_pid and the health checks see it; output is appended to state/logs/<service>.log.
cmd_exec_service() {
  local record=${1:-} name port='' release='' start=0 log
  [[ $# == 1 && $record =~ ^[a-z0-9][a-z0-9-]*(\.b)?$ ]] ||
    die 2 "usage: ./manage.sh exec-service <record> (a service name, or <service>.b)"
  name=${record%.b}
  [[ " ${SERVICES[*]} " == *" $name "* ]] || die 2 "exec-service: this release has no service $name"
  [[ -f $RUN/$record.info ]] ||
    die 2 "service $record: $RUN/$record.info is missing; start it with ./manage.sh start"
  read -r _ port release <"$RUN/$record.info" || true
  [[ $release == "$RELEASE_DIR" ]] ||
    die 2 "service $record: $RUN/$record.info names release '${release##*/}', not this one (${RELEASE_DIR##*/}); start it with ./manage.sh start"
  if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((port < 1 || port > 65535)); then
    die 2 "service $record: $RUN/$record.info has no port; start it with ./manage.sh start"
  fi
  load_service "$name"
  load_app_env
  load_resource_env
  ensure_state_dirs
  if proc_stat "$$"; then start=$PS_START; fi
  write_private "$RUN/$record.pid" "$$"
  write_private "$RUN/$record.info" "$start $port $RELEASE_DIR"
  log=$LOGS/$name.log
  (umask 077 && touch -- "$log")
  printf '\n==== %s starting %s under systemd (release %s, port %s): %s\n' "$(date -u +%FT%TZ)" \
    "$record" "${RELEASE_DIR##*/}" "$port" "$SERVICE_START" >>"$log"
  cd -- "$RELEASE_DIR/scenario" || die 1 "service $record: cannot enter $RELEASE_DIR/scenario"
  exec_command - "$SERVICE_START" "${RESOURCE_ENV[@]}" "PORT=$port" </dev/null >>"$log" 2>&1
}

# manage.sh exec-resource <kind>: runs resource $1's server in the foreground (replacing this
# process) on the port start-resources recorded, with the data start-resources initialised.
cmd_exec_resource() {
  local kind=${1:-} port=''
  [[ $# == 1 && " ${RESOURCES[*]} " == *" $kind "* ]] ||
    die 2 "usage: ./manage.sh exec-resource <kind> (one of this release's resources: ${RESOURCES[*]})"
  read -r port 2>/dev/null <"$RES/$kind/port" || true
  if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((port < 1 || port > 65535)); then
    die 2 "resource $kind: no port recorded in $RES/$kind/port; run ./manage.sh start-resources"
  fi
  "systemd_exec_$kind" "$port"
}

# Runs postgres on port $1 in the foreground (as the postgres user when root, like as_pg). It
# tells systemd when it accepts connections (Type=notify). A live postmaster started outside
# this unit is refused: two on one data dir would corrupt it.
systemd_exec_postgres() {
  local port=$1 dir bindir pid
  dir=$(PG_DIR)
  [[ -f $dir/data/PG_VERSION ]] ||
    die 2 "resource postgres: $dir/data is not initialised; run ./manage.sh start-resources"
  if pid=$(postgres_pid); then
    die 1 "resource postgres: already running outside this unit (pid $pid); stop it with ./manage.sh stop --resources"
  fi
  bindir=$(pg_bindir)
  pg_write_settings "$port"
  # not a live postmaster's (checked above): a crashed server's, which would block the start
  rm -f -- "$dir/data/postmaster.pid"
  cd -- "$dir" || die 1 "resource postgres: cannot enter $dir"
  if ((EUID == 0)); then
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- \
      "$bindir/postgres" -D "$dir/data" </dev/null >>"$dir/postgres.log" 2>&1
  fi
  exec "$bindir/postgres" -D "$dir/data" </dev/null >>"$dir/postgres.log" 2>&1
}

# Runs redis-server on port $1 in the foreground, telling systemd when it is ready.
systemd_exec_redis() {
  local port=$1 dir=$RES/redis server pid
  server=$(command -v redis-server) ||
    die 1 "resource redis: redis-server is not installed; run ./manage.sh setup (Debian package: redis-server)"
  [[ -s $dir/password ]] ||
    die 2 "resource redis: no password in $dir; run ./manage.sh start-resources"
  if pid=$(redis_pid); then
    die 1 "resource redis: already running outside this unit (pid $pid); stop it with ./manage.sh stop --resources"
  fi
  ensure_dir 700 "$dir/data"
  # the password in a 0600 file rather than argv, where `ps` would show it
  write_private "$dir/redis.conf" "requirepass $(resource_password redis)"
  rm -f -- "$dir/redis.pid"
  exec "$server" "$dir/redis.conf" --port "$port" --bind 127.0.0.1 --daemonize no \
    --supervised systemd --dir "$dir/data" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    </dev/null
}

# ---------------------------------------------------------------- installing and driving units

# Runs "$@" as root: directly when we are root, else through passwordless sudo.
systemd_as_root() {
  if ((EUID == 0)); then "$@"; else sudo -n -- "$@"; fi
}

# True when systemd manages this machine, we may drive it (root or passwordless sudo), and the
# bundle's units would run as the calling user: their User= line names it, or they have none and
# we are root. Also false for a workdir systemd-escape would mangle into an unreadable unit name.
systemd_usable() {
  local user='' unit
  [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null &&
    command -v systemd-escape >/dev/null || return 1
  [[ $HOME_DIR =~ ^/[A-Za-z0-9._/-]+$ ]] || return 1
  ((EUID == 0)) || sudo -n true 2>/dev/null || return 1
  for unit in "$CONFIG_DIR"/systemd/*@.service; do
    [[ -f $unit ]] || return 1
    user=$(sed -n 's/^User=//p' -- "$unit")
    break
  done
  if [[ -n $user ]]; then [[ $user == "$(id -un)" ]]; else ((EUID == 0)); fi
}

# The instance of this workdir's units: `systemd-escape --path <workdir>` (systemd_mode_init's
# SYSTEMD_INSTANCE once it ran: no fork).
systemd_instance() {
  if [[ -n ${SYSTEMD_INSTANCE:-} ]]; then
    printf '%s\n' "$SYSTEMD_INSTANCE"
  else
    systemd-escape --path -- "$HOME_DIR"
  fi
}

# The unit of template $1 (`name@.service`) for this workdir; systemd allows 255 characters.
systemd_unit() {
  local unit
  unit=${1%@.service}@$(systemd_instance).service
  ((${#unit} <= 255)) || die 2 "systemd unit name ${unit:0:60}… is longer than 255 characters; use a shorter workdir"
  printf '%s\n' "$unit"
}

# The running systemd's version (the number after "systemd ").
systemd_version() {
  local first
  first=$(systemctl --version | head -n 1)
  [[ $first =~ ^systemd\ ([0-9]+) ]] || return 1
  printf '%s\n' "${BASH_REMATCH[1]}"
}

# Installs templates $@ (names under config/systemd/) into /etc/systemd/system, mode 0644,
# each replaced atomically (a temp file, then mv), with their restart-backoff drop-in where
# systemd is new enough for it; runs daemon-reload once, and only when a file changed.
systemd_install() {
  local template src changed=false version
  version=$(systemd_version) || version=0
  for template in "$@"; do
    [[ $template =~ ^stagecoach-[a-z0-9_.-]+@\.service$ && -f $CONFIG_DIR/systemd/$template ]] ||
      die 2 "systemd: no unit template $template in config/systemd; rebuild the bundle"
    if systemd_install_file "$CONFIG_DIR/systemd/$template" "$SYSTEMD_UNIT_DIR/$template"; then
      changed=true
    fi
    src=$CONFIG_DIR/systemd/$template.d/restart-backoff.conf
    if [[ -f $src ]] && ((version >= SYSTEMD_BACKOFF_VERSION)); then
      systemd_as_root mkdir -p -m 0755 -- "$SYSTEMD_UNIT_DIR/$template.d"
      if systemd_install_file "$src" "$SYSTEMD_UNIT_DIR/$template.d/restart-backoff.conf"; then
        changed=true
      fi
    fi
  done
  if $changed; then systemd_as_root systemctl daemon-reload; fi
}

# Copies $1 to $2 (0644, atomically) unless $2 has the same content; true when it copied.
systemd_install_file() {
  local src=$1 dst=$2
  if systemd_as_root cmp -s -- "$src" "$dst"; then return 1; fi
  systemd_as_root install -m 0644 -- "$src" "$dst.stagecoach-tmp"
  systemd_as_root mv -f -- "$dst.stagecoach-tmp" "$dst"
}

# Points state/run/<record>.release (what record $1's unit runs) at this release.
systemd_link_record() { systemd_link "$HOME_DIR/state/run/$1.release"; }

# Points state/resources/<kind>/release (what resource $1's unit runs) at this release.
systemd_link_resource() { systemd_link "$RES/$1/release"; }

systemd_link() {
  ln -sfn -- "$RELEASE_DIR" "$1.tmp.$$"
  mv -Tf -- "$1.tmp.$$" "$1"
}

# Starts unit $1, clearing an earlier failure first (a unit left down by its start limit would
# refuse the start, and a deploy's start is a fresh chance).
systemd_start() {
  systemd_as_root systemctl reset-failed -- "$1" 2>/dev/null || true
  systemd_as_root systemctl start -- "$1"
}

# Restarts unit $1 (starts it when stopped), clearing an earlier failure first.
systemd_restart() {
  systemd_as_root systemctl reset-failed -- "$1" 2>/dev/null || true
  systemd_as_root systemctl restart -- "$1"
}

# Stops unit $1 (systemd sends SIGTERM to its processes, SIGKILL after TimeoutStopSec).
systemd_stop() { systemd_as_root systemctl stop -- "$1"; }

# Enables unit $1 (started at boot) / disables it; neither starts nor stops it.
systemd_enable() { systemd_as_root systemctl enable --quiet -- "$1"; }
systemd_disable() { systemd_as_root systemctl disable --quiet -- "$1"; }

# True when unit $1 is active (running, or starting).
systemd_is_active() { systemctl is-active --quiet -- "$1"; }

