# shellcheck shell=bash
# Services: pid files, start/stop of a service's process group, port checks, current.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

# Prints the pid of service $1's process group when it runs. The recorded start time guards
# against a reused pid; a dead leader with live group members still counts as running.
service_pid() {
  local name=$1 pid='' start=''
  read -r pid 2>/dev/null <"$RUN/$name.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  if [[ -f $RUN/$name.info ]]; then read -r start _ <"$RUN/$name.info" || true; fi
  if proc_stat "$pid" && [[ -n $start && $start != 0 && $PS_START != "$start" ]]; then
    return 1
  fi
  group_alive "$pid" || return 1
  printf '%s\n' "$pid"
}

# Field $2 (1 start time, 2 port, 3 release dir) of service $1's run info.
service_info() {
  local __out
  service_info_to __out "$1" "$2"
  printf '%s' "$__out"
}

# Sets variable $1 to field $3 of record $2's run info (service_info, without a subshell).
service_info_to() {
  local -a __f=('' '' '')
  if [[ -f $RUN/$2.info ]]; then read -r '__f[0]' '__f[1]' '__f[2]' <"$RUN/$2.info" || true; fi
  printf -v "$1" '%s' "${__f[$3 - 1]}"
}

# Stops service $1 (TERM to its process group, KILL after the grace period). True when it ran.
stop_service() {
  local name=$1 pid i ran=false
  # systemd mode: its unit first (stopped and disabled), so that nothing restarts it
  if [[ ${SYSTEMD_MODE:-} == true ]] && systemd_stop_record "$name"; then ran=true; fi
  if ! pid=$(service_pid "$name"); then
    rm -f -- "$RUN/$name.pid" "$RUN/$name.info" "$RUN/$name.sup" "$RUN/$name.unit" "$RUN/$name.release"
    if $ran; then return 0; fi
    return 1
  fi
  say "service $name: stopping process group $pid"
  kill -TERM -- "-$pid" 2>/dev/null || true
  # most services exit within tens of ms of TERM: look often at first (0.02 s for 0.3 s)
  for ((i = 0; i < 15; i++)); do
    group_alive "$pid" || break
    sleep 0.02
  done
  for ((i = 3; i < STOP_GRACE_S * 10; i++)); do
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
  rm -f -- "$RUN/$name.pid" "$RUN/$name.info" "$RUN/$name.sup" "$RUN/$name.unit" "$RUN/$name.release"
  return 0
}

# Names of the services that have a pid file (from any release), and in systemd mode the units
# launched that have none yet (unit_records_without_pid).
recorded_services() {
  local f
  for f in "$RUN"/*.pid; do
    [[ -e $f ]] || continue
    f=${f##*/}
    printf '%s\n' "${f%.pid}"
  done
  if [[ ${SYSTEMD_MODE:-} == true ]]; then unit_records_without_pid; fi
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

# ---------------------------------------------------------------- service logs

# Rotated copies kept of each service log: <name>.log.1 (newest) … .3.
LOG_KEEP=3

# Rotates service $1's log when it is larger than STAGECOACH_LOG_MAX_BYTES (default 10 MiB):
# .2 → .3 (dropping the old .3), .1 → .2, the live log copied to .1, then truncated in place.
# Copy-truncate, because the service keeps its descriptor: launch_service opens the log with
# O_APPEND (>>), so it goes on writing at the new end. Nothing sits between the service and the
# file, so nothing can die and take the service with it; the price is that output written
# between the copy and the truncation is lost. Rotation runs only when manage.sh runs (start,
# health, status): between two runs a log can outgrow the limit. A flock on logs/.rotate.lock
# keeps a concurrent status and health from rotating the same log twice. A log that is not a
# regular file (a symlink) is left alone. Failures are reported, never fatal (return 1).
rotate_service_log() {
  local name=$1 log=$LOGS/$1.log max=${STAGECOACH_LOG_MAX_BYTES:-10485760}
  [[ $max =~ ^[1-9][0-9]{0,15}$ ]] ||
    die 2 "STAGECOACH_LOG_MAX_BYTES '$max' is not a positive number of bytes"
  [[ -f $log && ! -L $log ]] || return 0
  # the usual case, a log under the limit, costs one stat and no lock (checked again under it)
  local size
  size=$(stat -c %s -- "$log") || size=$((max + 1))
  ((size > max)) || return 0
  (
    exec 8>>"$LOGS/.rotate.lock" && flock -w 10 8 || exit 1
    local size i tmp
    size=$(stat -c %s -- "$log") || exit 1
    ((size > max)) || exit 0
    for ((i = LOG_KEEP - 1; i >= 1; i--)); do
      if [[ -e $log.$i || -L $log.$i ]]; then mv -fT -- "$log.$i" "$log.$((i + 1))" || exit 1; fi
    done
    # mktemp: a fresh 0600 file (cp onto a planted symlink would write through it).
    tmp=$(mktemp -- "$log.1.XXXXXX") || exit 1
    if ! cp -- "$log" "$tmp" || ! mv -fT -- "$tmp" "$log.1"; then
      rm -f -- "$tmp"
      exit 1
    fi
    truncate -s 0 -- "$log" || exit 1
    printf '==== %s log rotated at %s bytes (limit %s); earlier output in %s.1\n' \
      "$(date -u +%FT%TZ)" "$size" "$max" "${log##*/}" >>"$log"
    say "service $name: log rotated ($size bytes > $max): $log.1"
  ) || {
    say "service $name: warning: could not rotate $log (see above); it keeps growing"
    return 1
  }
}

# Rotates the logs of services $@ (rotate_service_log); never fails.
rotate_service_logs() {
  local name
  for name in "$@"; do rotate_service_log "$name" || true; done
}

# Starts record $1 (an instance of the service load_service loaded; lib/slots.sh) on port $2,
# detached under its supervisor: `setsid supervise.sh` leads a session and process group of its
# own and runs the service as its child in that group, as exec_command does (app env as data,
# PORT=$2), restarting it when it exits (docs/target-layout.md, "Supervision"). Records the
# supervisor's pid, which the group is named after; sets LAUNCHED_PID to it. In systemd mode the
# record's unit runs it instead (systemd_launch_record; exec-service writes the log's header).
launch_service() {
  local rec=$1 port=$2 name=$SERVICE_NAME log=$LOGS/$SERVICE_NAME.log pid
  load_restart_settings
  # created private (no fork when it exists: a fork costs ms on a busy host, start runs this)
  if [[ ! -e $log ]]; then (umask 077 && : >>"$log"); fi
  rotate_service_log "$name" || true
  if [[ ${SYSTEMD_MODE:-} == true ]]; then
    systemd_launch_record "$rec" "$port"
    return
  fi
  local now
  TZ=UTC printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  printf '\n==== %s starting %s (release %s, port %s): %s\n' "$now" "$rec" \
    "${RELEASE_DIR##*/}" "$port" "$SERVICE_START" >>"$log"
  # An earlier run's state must not speak for this one (record_crashed reads it).
  rm -f -- "$RUN/$rec.sup"
  # The supervisor lives as long as the service: it gets the variables a service inherits and
  # its own settings, nothing else of manage.sh's caller (BASH_ENV, the worker's or sshd's env).
  local var
  local -a vars=("STAGECOACH_HOME=$STAGECOACH_HOME")
  for var in "${INHERITED_ENV[@]}" STAGECOACH_RESTART_DELAY_S STAGECOACH_RESTART_MAX_DELAY_S \
    STAGECOACH_RESTART_LIMIT STAGECOACH_RESTART_WINDOW_S STAGECOACH_LOG_MAX_BYTES; do
    if [[ -n ${!var+x} ]]; then vars+=("$var=${!var}"); fi
  done
  # 9>&-: neither the supervisor nor the service may hold the lock (lib/lock.sh).
  setsid env -i -- "${vars[@]}" "$RELEASE_DIR/supervise.sh" "$rec" "$name" "$port" \
    </dev/null >>"$log" 2>&1 9>&- &
  pid=$!
  local start=0
  if proc_stat "$pid"; then start=$PS_START; fi
  write_private "$RUN/$rec.pid" "$pid"
  write_private "$RUN/$rec.info" "$start $port $RELEASE_DIR"
  # shellcheck disable=SC2034 # read by cmd_start (release-commands.sh)
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
