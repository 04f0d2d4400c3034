#!/usr/bin/env bash
# stagecoach's target-side entry point. The contract is docs/target-layout.md.
#   cd releases/<sha> && STAGECOACH_HOME=<workdir> ./manage.sh <command> [args]
# Commands: setup, start-resources, build, start, health [timeout_s], status, stop [--resources].
# Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 a port is held by another process.
# A command with structured output prints `STAGECOACH_RESULT <json>` as its last stdout line;
# on failure the last stderr line says what broke and how to fix it.
set -euo pipefail

RELEASE_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
CONFIG_DIR=$RELEASE_DIR/config
KNOWN_RESOURCES=(postgres redis)
STOP_GRACE_S=10

# ---------------------------------------------------------------- output helpers

die() {
  local code=$1
  shift
  printf '%s\n' "$*" >&2
  exit "$code"
}
say() { printf '%s\n' "$*"; }
result() { printf 'STAGECOACH_RESULT %s\n' "$1"; }
# Joins JSON fragments with commas.
join_json() {
  local IFS=,
  printf '%s' "$*"
}
# `null` for an empty value, the value itself (a number) otherwise.
num_or_null() { if [[ -n $1 ]]; then printf '%s' "$1"; else printf 'null'; fi; }

# ---------------------------------------------------------------- configuration

load_config() {
  [[ -n ${STAGECOACH_HOME:-} ]] ||
    die 2 "STAGECOACH_HOME is not set; run: STAGECOACH_HOME=<workdir> ./manage.sh <command>"
  [[ -f $CONFIG_DIR/stagecoach.env ]] ||
    die 2 "missing $CONFIG_DIR/stagecoach.env: $RELEASE_DIR is not an extracted stagecoach bundle"
  STAGECOACH_SERVICES='' STAGECOACH_RESOURCES='' STAGECOACH_HEALTH_TIMEOUT=60
  # shellcheck source=/dev/null
  source "$CONFIG_DIR/stagecoach.env"
  mkdir -p -- "$STAGECOACH_HOME"
  HOME_DIR=$(cd -- "$STAGECOACH_HOME" && pwd -P)
  STATE=$HOME_DIR/state RUN=$HOME_DIR/state/run LOGS=$HOME_DIR/state/logs
  RES=$HOME_DIR/state/resources
  read -r -a SERVICES <<<"$STAGECOACH_SERVICES"
  read -r -a RESOURCES <<<"$STAGECOACH_RESOURCES"
  local name
  for name in "${SERVICES[@]}"; do
    [[ $name =~ ^[a-z0-9][a-z0-9-]*$ ]] || die 2 "invalid service name '$name' in config/stagecoach.env"
  done
  for name in "${RESOURCES[@]}"; do
    [[ " ${KNOWN_RESOURCES[*]} " == *" $name "* ]] ||
      die 2 "unknown resource '$name' in config/stagecoach.env; supported: ${KNOWN_RESOURCES[*]}"
  done
}

# Sets SERVICE_* from config/services/<name>.env.
load_service() {
  local name=$1 file=$CONFIG_DIR/services/$1.env
  [[ -f $file ]] || die 2 "service $name: missing config/services/$name.env; rebuild the bundle"
  SERVICE_NAME=$name SERVICE_PORT='' SERVICE_START='' SERVICE_BUILD='' SERVICE_HEALTH=/health
  # shellcheck source=/dev/null
  source "$file"
  if ! [[ $SERVICE_PORT =~ ^[0-9]{1,5}$ ]] || ((SERVICE_PORT < 1 || SERVICE_PORT > 65535)); then
    die 2 "service $name: SERVICE_PORT '$SERVICE_PORT' is not a port; set it in manifest.ports"
  fi
  [[ -n $SERVICE_START ]] || die 2 "service $name: SERVICE_START is empty; give it a start command"
}

# Creates a directory (and parents) and sets its mode.
ensure_dir() {
  mkdir -p -- "$2"
  chmod "$1" -- "$2"
}

ensure_state_dirs() {
  ensure_dir 711 "$STATE"
  ensure_dir 700 "$RUN"
  ensure_dir 700 "$LOGS"
  ensure_dir 711 "$RES"
}

# Writes a file atomically with mode 0600 (for pid files and secrets alike).
write_private() {
  local file=$1 content=$2
  (umask 077 && printf '%s\n' "$content" >"$file.tmp.$$")
  mv -f -- "$file.tmp.$$" "$file"
}

# ---------------------------------------------------------------- processes and ports

# Sets PS_STATE, PS_PGRP, PS_START from /proc/<pid>/stat without forking; fails when gone.
proc_stat() {
  local line
  local -a f
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  read -r -a f <<<"${line##*) }"
  PS_STATE=${f[0]} PS_PGRP=${f[2]} PS_START=${f[19]}
}

# True when a live (non-zombie) process belongs to process group $1. Zombies count as gone:
# PID 1 of a container does not always reap them.
group_alive() {
  local pgid=$1 f
  for f in /proc/[0-9]*; do
    if proc_stat "${f#/proc/}" && [[ $PS_PGRP == "$pgid" && $PS_STATE != Z ]]; then
      return 0
    fi
  done
  return 1
}

# True when a TCP connection to 127.0.0.1:$1 succeeds within 2 s.
tcp_open() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# Prints the socket inodes listening on TCP port $1 (any address).
listen_inodes() {
  local hex f laddr st rest inode
  hex=$(printf '%04X' "$1")
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] || continue
    while read -r _ laddr _ st rest; do
      read -r _ _ _ _ _ inode _ <<<"$rest"
      if [[ $st == 0A && ${laddr##*:} == "$hex" ]]; then printf '%s\n' "$inode"; fi
    done <"$f"
  done
}

# True when anything listens on TCP port $1.
port_in_use() {
  [[ -n $(listen_inodes "$1") ]] || tcp_open "$1"
}

# Prints the pids of processes listening on TCP port $1 (only those this user may inspect).
port_holder_pids() {
  local inode
  local -a expr=()
  for inode in $(listen_inodes "$1"); do
    if ((${#expr[@]})); then expr+=(-o); fi
    expr+=(-lname "socket:\\[$inode\\]")
  done
  ((${#expr[@]})) || return 0
  { find /proc/[0-9]*/fd -maxdepth 1 \( "${expr[@]}" \) -print 2>/dev/null || true; } |
    cut -d/ -f3 | sort -un
}

# "pid 123 node, pid 456 nginx" for the holders of port $1, or a hint when none is visible.
describe_holders() {
  local pid comm text=''
  for pid in $(port_holder_pids "$1"); do
    comm='?'
    read -r comm 2>/dev/null <"/proc/$pid/comm" || true
    text+="${text:+, }pid $pid $comm"
  done
  printf '%s' "${text:-not visible to user $(id -un)}"
}

# ---------------------------------------------------------------- services

# Prints the pid of service $1's process group when it runs. The recorded start time guards
# against a reused pid; a dead leader with live group members still counts as running.
service_pid() {
  local name=$1 pid='' start='' port='' release=''
  read -r pid 2>/dev/null <"$RUN/$name.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  if [[ -f $RUN/$name.info ]]; then read -r start port release <"$RUN/$name.info" || true; fi
  if proc_stat "$pid" && [[ -n $start && $start != 0 && $PS_START != "$start" ]]; then
    return 1
  fi
  group_alive "$pid" || return 1
  printf '%s\n' "$pid"
}

# Field $2 (1 start time, 2 port, 3 release dir) of service $1's run info.
service_info() {
  local -a f=('' '' '')
  if [[ -f $RUN/$1.info ]]; then read -r 'f[0]' 'f[1]' 'f[2]' <"$RUN/$1.info" || true; fi
  printf '%s' "${f[$2 - 1]}"
}

# Stops service $1 (TERM to its process group, KILL after the grace period). True when it ran.
stop_service() {
  local name=$1 pid i
  if ! pid=$(service_pid "$name"); then
    rm -f -- "$RUN/$name.pid" "$RUN/$name.info"
    return 1
  fi
  say "service $name: stopping process group $pid"
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_GRACE_S * 10; i++)); do
    group_alive "$pid" || break
    sleep 0.1
  done
  if group_alive "$pid"; then
    say "service $name: still running after ${STOP_GRACE_S}s, sending KILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      group_alive "$pid" || break
      sleep 0.1
    done
    group_alive "$pid" && die 1 "service $name: process group $pid survived KILL; check it with: ps -g $pid"
  fi
  rm -f -- "$RUN/$name.pid" "$RUN/$name.info"
  return 0
}

# Names of the services that have a pid file (from any release).
recorded_services() {
  local f
  for f in "$RUN"/*.pid; do
    [[ -e $f ]] || continue
    f=${f##*/}
    printf '%s\n' "${f%.pid}"
  done
}

# Fails with exit 3 unless port $2 of service $1 is free or held by one of our services.
check_service_port() {
  local name=$1 port=$2 pid pgid other ours=false
  port_in_use "$port" || return 0
  local -a holders
  mapfile -t holders < <(port_holder_pids "$port")
  if ((${#holders[@]})); then
    ours=true
    for pid in "${holders[@]}"; do
      proc_stat "$pid" || continue
      pgid=$PS_PGRP
      local found=false
      for other in $(recorded_services); do
        if [[ $(service_pid "$other" || true) == "$pgid" ]]; then found=true; fi
      done
      $found || ours=false
    done
  else
    # The holder is invisible to us: trust our own records of who listens there.
    for other in $(recorded_services); do
      if service_pid "$other" >/dev/null && [[ $(service_info "$other" 2) == "$port" ]]; then
        ours=true
      fi
    done
  fi
  $ours && return 0
  die 3 "service $name: port $port is held by another process ($(describe_holders "$port")); free it or choose another port in manifest.ports"
}

# Sets RESOURCE_ENV to the assignments for the declared resources (DATABASE_URL, REDIS_URL).
load_resource_env() {
  local kind url var
  RESOURCE_ENV=()
  for kind in "${RESOURCES[@]}"; do
    case $kind in postgres) var=DATABASE_URL ;; redis) var=REDIS_URL ;; esac
    [[ -s $RES/$kind/url ]] ||
      die 1 "resource $kind has no connection URL yet ($RES/$kind/url); run ./manage.sh start-resources first"
    read -r url <"$RES/$kind/url"
    RESOURCE_ENV+=("$var=$url")
  done
}

# Starts service $SERVICE_NAME detached (own session and process group) with the app env,
# PORT and RESOURCE_ENV, and records its pid.
launch_service() {
  local name=$SERVICE_NAME log=$LOGS/$SERVICE_NAME.log pid
  local -a extra_env=("${RESOURCE_ENV[@]}" "PORT=$SERVICE_PORT")
  (umask 077 && touch -- "$log")
  printf '\n==== %s starting %s (release %s): %s\n' "$(date -u +%FT%TZ)" "$name" \
    "${RELEASE_DIR##*/}" "$SERVICE_START" >>"$log"
  (
    # Positional parameters survive sourcing the app env, which may define any name.
    set -- "$SERVICE_START" "$log" "${extra_env[@]}"
    cd -- "$RELEASE_DIR/scenario"
    set -a
    # shellcheck source=/dev/null
    if [[ -f $CONFIG_DIR/app.env ]]; then source "$CONFIG_DIR/app.env"; fi
    set +a
    export "${@:3}"
    exec setsid bash -c "$1" </dev/null >>"$2" 2>&1
  ) &
  pid=$!
  local start=0
  if proc_stat "$pid"; then start=$PS_START; fi
  write_private "$RUN/$name.pid" "$pid"
  write_private "$RUN/$name.info" "$start $SERVICE_PORT $RELEASE_DIR"
  LAUNCHED_PID=$pid
}

# Points $STAGECOACH_HOME/current at this release (atomically).
point_current() {
  local target=$RELEASE_DIR tmp=$HOME_DIR/.current.$$
  if [[ $RELEASE_DIR == "$HOME_DIR/releases/"* ]]; then target=releases/${RELEASE_DIR##*/}; fi
  ln -sfn -- "$target" "$tmp"
  mv -Tf -- "$tmp" "$HOME_DIR/current"
}

print_log_tail() {
  local log=$LOGS/$1.log
  if [[ -s $log ]]; then
    printf -- '---- last 20 lines of %s ----\n' "$log" >&2
    tail -n 20 -- "$log" >&2
    printf -- '---- end of %s ----\n' "$log" >&2
  else
    printf 'service %s: its log %s is empty\n' "$1" "$log" >&2
  fi
}

# ---------------------------------------------------------------- health checks

# Prints the HTTP status of GET $2 on 127.0.0.1:$1, or 0 when nothing answers within 5 s.
http_status() {
  local line=''
  # shellcheck disable=SC2016 # expanded by the inner bash
  line=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nUser-Agent: stagecoach-manage\r\nConnection: close\r\n\r\n" "$2" "$1" >&3
    IFS= read -r line <&3 || [[ -n $line ]] || exit 1
    printf "%s\n" "$line"' _ "$1" "$2" 2>/dev/null) || true
  if [[ $line =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]]; then
    printf '%s\n' "${BASH_REMATCH[1]}"
  else
    printf '0\n'
  fi
}

# Checks service $1 once; sets H_PROCESS H_PORT H_HTTP H_STATUS, and H_REASON when it fails
# (H_FATAL=true when waiting cannot help).
check_service() {
  load_service "$1"
  H_PROCESS=false H_PORT=false H_HTTP=false H_STATUS=0 H_REASON='' H_FATAL=false
  if ! service_pid "$1" >/dev/null; then
    H_REASON="its process is not running" H_FATAL=true
    return
  fi
  local release
  release=$(service_info "$1" 3)
  if [[ -n $release && $release != "$RELEASE_DIR" ]]; then
    H_REASON="the running process belongs to release ${release##*/}; run ./manage.sh start in this release"
    H_FATAL=true
    return
  fi
  H_PROCESS=true
  if ! tcp_open "$SERVICE_PORT"; then
    H_REASON="port $SERVICE_PORT does not accept TCP connections"
    return
  fi
  H_PORT=true
  H_STATUS=$(http_status "$SERVICE_PORT" "$SERVICE_HEALTH")
  if ((H_STATUS >= 200 && H_STATUS < 300)); then
    H_HTTP=true
  elif ((H_STATUS == 0)); then
    H_REASON="GET $SERVICE_HEALTH on port $SERVICE_PORT got no HTTP answer"
  else
    H_REASON="GET $SERVICE_HEALTH on port $SERVICE_PORT answered $H_STATUS"
  fi
}

# ---------------------------------------------------------------- resources
# Each resource kind implements <kind>_pid, <kind>_start PORT and <kind>_stop.

resource_pid() { "$1_pid"; }

# A random alnum password of 32 characters.
new_password() {
  local pw=''
  while ((${#pw} < 32)); do
    pw+=$(head -c 512 /dev/urandom | tr -dc 'A-Za-z0-9')
  done
  printf '%s' "${pw:0:32}"
}

# Prints the resource's password, generating and recording one on first use.
resource_password() {
  local file=$RES/$1/password pw
  if [[ ! -s $file ]]; then
    write_private "$file" "$(new_password)"
  fi
  read -r pw <"$file"
  printf '%s' "$pw"
}

# True when port $1 is one of this release's service ports.
is_service_port() {
  local name
  for name in "${SERVICES[@]}"; do
    load_service "$name"
    [[ $SERVICE_PORT == "$1" ]] && return 0
  done
  return 1
}

# A free port in 20000-29999 that no service of this release is configured to use.
pick_free_port() {
  local i port
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 10000))
    if ! port_in_use "$port" && ! is_service_port "$port"; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  die 1 "no free port found in 20000-29999; set one in manifest.ports"
}

# The port resource $1 should use: the conf's, else the recorded one (unless now held by
# something else), else a free one.
resource_port() {
  local kind=$1 recorded=''
  RESOURCE_PORT=''
  # shellcheck source=/dev/null
  if [[ -f $CONFIG_DIR/resources/$kind.conf ]]; then source "$CONFIG_DIR/resources/$kind.conf"; fi
  if [[ -n $RESOURCE_PORT ]]; then
    if ! [[ $RESOURCE_PORT =~ ^[0-9]{1,5}$ ]] || ((RESOURCE_PORT < 1 || RESOURCE_PORT > 65535)); then
      die 2 "resource $kind: RESOURCE_PORT '$RESOURCE_PORT' in config/resources/$kind.conf is not a port; fix manifest.ports.$kind"
    fi
    printf '%s\n' "$RESOURCE_PORT"
    return
  fi
  if [[ -s $RES/$kind/port ]]; then read -r recorded <"$RES/$kind/port"; fi
  if [[ -n $recorded ]] && { ! port_in_use "$recorded" || resource_pid "$kind" >/dev/null; }; then
    printf '%s\n' "$recorded"
    return
  fi
  [[ -z $recorded ]] || say "resource $kind: recorded port $recorded is now taken, picking another" >&2
  pick_free_port
}

# Starts resource $1 unless it runs; prints its JSON entry.
ensure_resource() {
  local kind=$1 port pid started=false running_port
  ensure_dir 711 "$RES/$kind"
  port=$(resource_port "$kind")
  if pid=$(resource_pid "$kind"); then
    running_port=$(cat -- "$RES/$kind/port" 2>/dev/null || true)
    if [[ $running_port == "$port" ]]; then
      say "resource $kind: already running (pid $pid, port $port)" >&2
      printf '{"kind":"%s","port":%s,"pid":%s,"started":false}' "$kind" "$port" "$pid"
      return
    fi
    say "resource $kind: moving from port $running_port to $port" >&2
    "${kind}_stop"
  fi
  if port_in_use "$port"; then
    die 3 "resource $kind: port $port is held by another process ($(describe_holders "$port")); free it or set manifest.ports.$kind to another port"
  fi
  write_private "$RES/$kind/port" "$port"
  "${kind}_start" "$port" >&2
  pid=$(resource_pid "$kind") || die 1 "resource $kind: it exited right after starting; see its log in $RES/$kind"
  started=true
  printf '{"kind":"%s","port":%s,"pid":%s,"started":%s}' "$kind" "$port" "$pid" "$started"
}

# ---- postgres

PG_DIR() { printf '%s' "$RES/postgres"; }

# Debian's server binaries: the data's major version, else pg_config's, else the newest.
pg_bindir() {
  local v dir
  local -a dirs
  if [[ -f $(PG_DIR)/data/PG_VERSION ]]; then
    read -r v <"$(PG_DIR)/data/PG_VERSION"
    if [[ -x /usr/lib/postgresql/$v/bin/postgres ]]; then
      printf '%s\n' "/usr/lib/postgresql/$v/bin"
      return
    fi
  fi
  if command -v pg_config >/dev/null && dir=$(pg_config --bindir 2>/dev/null) && [[ -x $dir/postgres ]]; then
    printf '%s\n' "$dir"
    return
  fi
  dirs=(/usr/lib/postgresql/*/bin)
  if [[ -x ${dirs[0]}/postgres ]]; then
    printf '%s\n' "${dirs[@]}" | sort -V | tail -n 1
    return
  fi
  if dir=$(command -v postgres); then
    dirname -- "$dir"
    return
  fi
  die 1 "resource postgres: no PostgreSQL server binaries found; run ./manage.sh setup (Debian package: postgresql)"
}

# Runs a command as the postgres user when we are root (initdb and postgres refuse root).
as_pg() {
  if ((EUID == 0)); then
    (cd -- "$(PG_DIR)" && runuser -u postgres -- "$@")
  else
    (cd -- "$(PG_DIR)" && "$@")
  fi
}

postgres_pid() {
  local data pid comm
  data=$(PG_DIR)/data
  read -r pid 2>/dev/null <"$data/postmaster.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  read -r comm 2>/dev/null <"/proc/$pid/comm" || return 1
  [[ $comm == postgres || $comm == postmaster ]] || return 1
  proc_stat "$pid" && [[ $PS_STATE != Z ]] || return 1
  printf '%s\n' "$pid"
}

# As root: hand the data to the postgres user and make sure it can reach it.
pg_prepare_owner() {
  local dir p
  dir=$(PG_DIR)
  ((EUID == 0)) || return 0
  chown postgres: -- "$dir/data" "$dir/postgres.log"
  chmod o+x -- "$HOME_DIR"
  if ! runuser -u postgres -- test -w "$dir/data"; then
    # Name the outermost directory the postgres user cannot enter.
    local part
    local -a parts
    IFS=/ read -r -a parts <<<"${dir#/}"
    p=''
    for part in "${parts[@]}"; do
      p+=/$part
      runuser -u postgres -- test -x "$p" || break
    done
    die 1 "resource postgres: the postgres user cannot reach $dir (blocked at $p, mode $(stat -c %a -- "$p")); run: chmod o+x $p, or use a workdir outside it"
  fi
}

# Settings that may change between starts live in an included file we own.
pg_write_settings() {
  local port=$1 data sock
  data=$(PG_DIR)/data sock=$(PG_DIR)/socket
  # A unix socket path is limited to ~107 bytes; without one, everything goes over TCP.
  if ((${#sock} > 90)); then sock=''; fi
  printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n" \
    "$port" "${sock//\'/\'\'}" >"$data/stagecoach.conf"
  if ((EUID == 0)); then chown postgres: -- "$data/stagecoach.conf"; fi
}

pg_init() {
  local bindir=$1 data pwfile
  data=$(PG_DIR)/data pwfile=$(PG_DIR)/initdb.pw
  say "resource postgres: initialising $data"
  (umask 077 && resource_password postgres >"$pwfile")
  if ((EUID == 0)); then chown postgres: -- "$pwfile"; fi
  if ! as_pg "$bindir/initdb" -D "$data" -A scram-sha-256 -U stagecoach --pwfile="$pwfile" \
    -E UTF8 --locale=C >"$(PG_DIR)/initdb.log" 2>&1; then
    rm -f -- "$pwfile"
    tail -n 20 -- "$(PG_DIR)/initdb.log" >&2
    die 1 "resource postgres: initdb failed (output above, in $(PG_DIR)/initdb.log); fix it, remove $data and retry"
  fi
  rm -f -- "$pwfile"
  printf "include_if_exists = 'stagecoach.conf'\n" >>"$data/postgresql.conf"
}

postgres_start() {
  local port=$1 dir bindir pw
  dir=$(PG_DIR)
  bindir=$(pg_bindir)
  ensure_dir 700 "$dir/data"
  ensure_dir 700 "$dir/socket"
  touch -- "$dir/postgres.log"
  if [[ -f $dir/data/PG_VERSION && ! -s $dir/password ]]; then
    die 1 "resource postgres: $dir/data exists but its password file is gone; restore $dir/password or remove the data dir (deletes the data)"
  fi
  pw=$(resource_password postgres)
  pg_prepare_owner
  if ((EUID == 0)); then chown postgres: -- "$dir/socket"; fi
  if [[ ! -f $dir/data/PG_VERSION ]]; then pg_init "$bindir"; fi
  pg_write_settings "$port"
  # A postmaster.pid left by a killed server would block the start; ours is known dead here.
  rm -f -- "$dir/data/postmaster.pid"
  say "resource postgres: starting on 127.0.0.1:$port"
  if ! as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null; then
    tail -n 20 -- "$dir/postgres.log" >&2
    die 1 "resource postgres: the server did not start (log above, in $dir/postgres.log)"
  fi
  pg_ensure_database "$bindir" "$port" "$pw"
  write_private "$dir/url" "postgresql://stagecoach:$pw@127.0.0.1:$port/app"
}

pg_ensure_database() {
  local bindir=$1 port=$2 pw=$3 psql exists
  psql=$bindir/psql
  [[ -x $psql ]] || psql=psql
  exists=$(PGPASSWORD=$pw "$psql" -h 127.0.0.1 -p "$port" -U stagecoach -d postgres -XtAq \
    -c "SELECT 1 FROM pg_database WHERE datname = 'app'") ||
    die 1 "resource postgres: cannot connect as stagecoach on port $port; see $(PG_DIR)/postgres.log"
  if [[ $exists != 1 ]]; then
    say "resource postgres: creating database app"
    PGPASSWORD=$pw "$psql" -h 127.0.0.1 -p "$port" -U stagecoach -d postgres -Xq \
      -c 'CREATE DATABASE app' || die 1 "resource postgres: could not create database app"
  fi
}

postgres_stop() {
  postgres_pid >/dev/null || return 1
  say "resource postgres: stopping"
  as_pg "$(pg_bindir)/pg_ctl" -D "$(PG_DIR)/data" -m fast -w -t 60 stop >/dev/null ||
    die 1 "resource postgres: pg_ctl stop failed; see $(PG_DIR)/postgres.log"
}

# ---- redis

redis_pid() {
  local pid comm
  read -r pid 2>/dev/null <"$RES/redis/redis.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  read -r comm 2>/dev/null <"/proc/$pid/comm" || return 1
  [[ $comm == redis-server* ]] || return 1
  proc_stat "$pid" && [[ $PS_STATE != Z ]] || return 1
  printf '%s\n' "$pid"
}

redis_start() {
  local port=$1 dir=$RES/redis pw server i
  server=$(command -v redis-server) ||
    die 1 "resource redis: redis-server is not installed; run ./manage.sh setup (Debian package: redis-server)"
  ensure_dir 700 "$dir/data"
  pw=$(resource_password redis)
  # The password goes in a 0600 file rather than argv, where `ps` would show it.
  write_private "$dir/redis.conf" "requirepass $pw"
  rm -f -- "$dir/redis.pid"
  say "resource redis: starting on 127.0.0.1:$port"
  "$server" "$dir/redis.conf" --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir/data" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" </dev/null >>"$dir/redis-start.log" 2>&1 || {
    cat -- "$dir/redis-start.log" >&2
    tail -n 20 -- "$dir/redis.log" >&2
    die 1 "resource redis: redis-server failed to start (log above, in $dir/redis.log)"
  }
  for ((i = 0; i < 100; i++)); do
    if redis_pid >/dev/null && tcp_open "$port"; then break; fi
    sleep 0.1
  done
  if ! redis_pid >/dev/null || ! tcp_open "$port"; then
    tail -n 20 -- "$dir/redis.log" >&2
    die 1 "resource redis: not answering on port $port after 10s (log above, in $dir/redis.log)"
  fi
  write_private "$dir/url" "redis://:$pw@127.0.0.1:$port/0"
}

redis_stop() {
  local pid i
  pid=$(redis_pid) || return 1
  say "resource redis: stopping"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_GRACE_S * 10; i++)); do
    redis_pid >/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- commands

cmd_setup() {
  ensure_state_dirs
  # setup.sh prints the STAGECOACH_RESULT line; nothing may be printed after it.
  bash "$RELEASE_DIR/setup.sh"
  touch -- "$RELEASE_DIR/.setup-ok"
}

cmd_start_resources() {
  ensure_state_dirs
  local kind
  local -a entries=()
  for kind in "${RESOURCES[@]}"; do
    entries+=("$(ensure_resource "$kind")")
  done
  result "{\"resources\":[$(join_json "${entries[@]}")]}"
}

cmd_build() {
  local name rc
  if [[ -f $RELEASE_DIR/.build-ok ]]; then
    say "build: already done for release ${RELEASE_DIR##*/}"
    result '{"skipped":true}'
    return
  fi
  for name in "${SERVICES[@]}"; do
    load_service "$name"
    [[ -n $SERVICE_BUILD ]] || continue
    say "service $name: building: $SERVICE_BUILD"
    rc=0
    (
      set -- "$SERVICE_BUILD"
      cd -- "$RELEASE_DIR/scenario"
      set -a
      # shellcheck source=/dev/null
      if [[ -f $CONFIG_DIR/app.env ]]; then source "$CONFIG_DIR/app.env"; fi
      set +a
      exec bash -c "$1" </dev/null
    ) || rc=$?
    ((rc == 0)) ||
      die 1 "service $name: build command failed with exit $rc: $SERVICE_BUILD; fix the build (output above) and deploy again"
  done
  touch -- "$RELEASE_DIR/.build-ok"
  result '{"skipped":false}'
}

cmd_start() {
  ensure_state_dirs
  local name
  local -a entries=()
  # Refuse before stopping anything, so a busy port costs no downtime.
  load_resource_env
  for name in "${SERVICES[@]}"; do
    load_service "$name"
    check_service_port "$name" "$SERVICE_PORT"
  done
  for name in $(recorded_services); do stop_service "$name" || true; done
  for name in "${SERVICES[@]}"; do
    load_service "$name"
    if port_in_use "$SERVICE_PORT"; then
      die 3 "service $name: port $SERVICE_PORT is held by another process ($(describe_holders "$SERVICE_PORT")); free it or choose another port in manifest.ports"
    fi
    launch_service
    say "service $name: started (pid $LAUNCHED_PID, port $SERVICE_PORT, log $LOGS/$name.log)"
    entries+=("$(printf '{"name":"%s","pid":%s,"port":%s}' "$name" "$LAUNCHED_PID" "$SERVICE_PORT")")
  done
  # Catch commands that die at once (not found, syntax error) here rather than in `health`.
  sleep 0.5
  for name in "${SERVICES[@]}"; do
    if ! service_pid "$name" >/dev/null; then
      print_log_tail "$name"
      die 1 "service $name: exited right after starting (log above, in $LOGS/$name.log); fix SERVICE_START or the app"
    fi
  done
  point_current
  result "{\"services\":[$(join_json "${entries[@]}")]}"
}

cmd_health() {
  local timeout=${1:-$STAGECOACH_HEALTH_TIMEOUT} deadline name ok fatal failing reason
  [[ $timeout =~ ^[0-9]+$ ]] || die 2 "health: timeout '$timeout' is not a number of seconds"
  deadline=$((SECONDS + timeout))
  local -a entries failed
  while :; do
    entries=() failed=() ok=true fatal=false reason=''
    for name in "${SERVICES[@]}"; do
      check_service "$name"
      entries+=("$(printf '{"name":"%s","process":%s,"port":%s,"http":%s,"http_status":%s}' \
        "$name" "$H_PROCESS" "$H_PORT" "$H_HTTP" "$H_STATUS")")
      if [[ -n $H_REASON ]]; then
        ok=false
        failed+=("$name")
        if [[ -z $reason ]]; then failing=$name reason=$H_REASON; fi
        if $H_FATAL; then fatal=true; fi
      fi
    done
    if $ok || $fatal || ((SECONDS >= deadline)); then break; fi
    sleep 1
  done
  if $ok; then
    say "health: all services healthy"
    result "{\"services\":[$(join_json "${entries[@]}")]}"
    return
  fi
  for name in "${failed[@]}"; do print_log_tail "$name"; done
  result "{\"services\":[$(join_json "${entries[@]}")]}"
  die 1 "service $failing: unhealthy after ${timeout}s: $reason; see $LOGS/$failing.log"
}

cmd_status() {
  local name kind pid running port
  local -a services=() resources=()
  for name in "${SERVICES[@]}"; do
    load_service "$name"
    pid='' running=false
    read -r pid 2>/dev/null <"$RUN/$name.pid" || true
    if service_pid "$name" >/dev/null; then running=true; fi
    say "service $name: running=$running pid=${pid:--} port=$SERVICE_PORT"
    services+=("$(printf '{"name":"%s","pid":%s,"running":%s,"port":%s}' \
      "$name" "$(num_or_null "$pid")" "$running" "$SERVICE_PORT")")
  done
  for kind in "${RESOURCES[@]}"; do
    port='' running=false
    read -r port 2>/dev/null <"$RES/$kind/port" || true
    if resource_pid "$kind" >/dev/null; then running=true; fi
    say "resource $kind: running=$running port=${port:--}"
    resources+=("$(printf '{"kind":"%s","port":%s,"running":%s}' \
      "$kind" "$(num_or_null "$port")" "$running")")
  done
  result "{\"services\":[$(join_json "${services[@]}")],\"resources\":[$(join_json "${resources[@]}")]}"
}

cmd_stop() {
  local with_resources=false name kind
  local -a stopped=()
  case ${1:-} in
    '') ;;
    --resources) with_resources=true ;;
    *) die 2 "stop: unknown option '$1'; usage: ./manage.sh stop [--resources]" ;;
  esac
  for name in $(recorded_services); do
    if stop_service "$name"; then stopped+=("\"$name\""); fi
  done
  if $with_resources; then
    # Every resource with state, not only this release's: `stop --resources` means all.
    for kind in "${KNOWN_RESOURCES[@]}"; do
      [[ -d $RES/$kind ]] || continue
      "${kind}_stop" || say "resource $kind: not running"
    done
  fi
  result "{\"stopped\":[$(join_json "${stopped[@]}")]}"
}

usage() {
  cat >&2 <<'EOF'
usage: STAGECOACH_HOME=<workdir> ./manage.sh <command> [args]
commands: setup | start-resources | build | start | health [timeout_s] | status | stop [--resources]
EOF
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    setup | start-resources | build | start | health | status | stop) ;;
    '' | -h | --help | help)
      usage
      exit 2
      ;;
    *)
      usage
      die 2 "unknown command '$cmd'; use one of: setup start-resources build start health status stop"
      ;;
  esac
  load_config
  "cmd_${cmd//-/_}" "$@"
}

main "$@"
