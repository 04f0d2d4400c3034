#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# stagecoach's supervisor of one service instance (docs/target-layout.md, "Supervision").
#   STAGECOACH_HOME=<workdir> ./supervise.sh <record> <service> <port>
# launch_service (lib/services.sh) starts it with setsid, so it leads a process group of its own
# and the service, its child, is in that group: stop_service's TERM (then KILL) to the group
# reaches both. It restarts the service when it exits, with a backoff, until too many crashes
# within the window; it writes its state to state/run/<record>.sup (lib/supervision.sh).
set -euo pipefail
# set -e holds inside $(…) too (manage.sh, which starts this, has checked for bash 4.4).
shopt -s inherit_errexit

# dirname without its fork (every command pays it; a fork costs ms on a busy host)
case ${BASH_SOURCE[0]} in */*) RELEASE_DIR=${BASH_SOURCE[0]%/*} ;; *) RELEASE_DIR=. ;; esac
RELEASE_DIR=$(cd -- "${RELEASE_DIR:-/}" && pwd -P)
CONFIG_DIR=$RELEASE_DIR/config
# shellcheck disable=SC2034 # read by load_config (common.sh)
KNOWN_RESOURCES=(postgres redis)

# shellcheck source=lib/system-dirs.sh
source "$RELEASE_DIR/lib/system-dirs.sh"
# shellcheck source=lib/common.sh
source "$RELEASE_DIR/lib/common.sh"
# shellcheck source=lib/services.sh
source "$RELEASE_DIR/lib/services.sh"
# shellcheck source=lib/supervision.sh
source "$RELEASE_DIR/lib/supervision.sh"

STOPPING=false CHILD='' SLEEPER=''

# Sets NOW_MS and NOW_ISO (UTC) without forking where bash has EPOCHREALTIME (5.0+).
set_now() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    NOW_MS=$((${EPOCHREALTIME//[!0-9]/} / 1000))
  else
    NOW_MS=$(date +%s%3N)
  fi
  TZ=UTC printf -v NOW_ISO '%(%Y-%m-%dT%H:%M:%SZ)T' "$((NOW_MS / 1000))"
}

# Appends a line to the service log. Never fatal: a full disk must not kill the supervisor.
log_line() { printf '==== %s %s %s\n' "$NOW_ISO" "$RECORD" "$*" >>"$LOG" 2>/dev/null || true; }

# Writes the .sup line (state restarts last_exit last_exit_at since retry_in_ms crashes) with
# the settings and the child's pid, atomically (write_private: tmp + mv).
write_sup() {
  local -a f=("$@" "$RESTART_LIMIT" "$RESTART_WINDOW_MS" "${CHILD:--}")
  write_private "$RUN/$RECORD.sup" "${f[*]}" || true
}

# TERM, INT or HUP: stop restarting, pass TERM on to the service (the signal may have reached
# the supervisor alone, e.g. `kill <pid from the pid file>`; after stop_service's TERM to the
# group the service sees a second one), let it exit, then exit.
on_stop() {
  if $STOPPING; then return 0; fi
  STOPPING=true
  if [[ -n $CHILD ]]; then kill -TERM -- "$CHILD" 2>/dev/null || true; fi
  if [[ -n $SLEEPER ]]; then kill -TERM -- "$SLEEPER" 2>/dev/null || true; fi
}

# Starts the service as exec_command runs it (env -i, app env as data, bash -p), in scenario/.
start_child() {
  (
    cd -- "$RELEASE_DIR/scenario" || exit 1
    exec_command - "$SERVICE_START" "${RESOURCE_ENV[@]}" "PORT=$PORT" </dev/null >>"$LOG" 2>&1
  ) &
  CHILD=$!
}

# Waits until the child is gone and sets CHILD_RC to its status. A wait cut short by a trapped
# signal returns 128+signal, not the child's status: asking again once it is reaped does.
wait_child() {
  while :; do
    wait "$CHILD" 2>/dev/null || true
    kill -0 -- "$CHILD" 2>/dev/null || break
  done
  CHILD_RC=0
  wait "$CHILD" 2>/dev/null || CHILD_RC=$?
}

# Sleeps $1 ms in a way a TERM interrupts (bash runs a trap only between commands).
pause_ms() {
  sleep "$(ms_to_seconds "$1")" &
  SLEEPER=$!
  wait "$SLEEPER" 2>/dev/null || true
  kill -TERM -- "$SLEEPER" 2>/dev/null || true
  SLEEPER=''
}

# Leaves the crash times of the last window (and now's) in EXITS; sets CRASHES to their count.
count_crash() {
  local t
  local -a kept=()
  for t in "${EXITS[@]}"; do
    if ((NOW_MS - t < RESTART_WINDOW_MS)); then kept+=("$t"); fi
  done
  EXITS=("${kept[@]}" "$NOW_MS")
  CRASHES=${#EXITS[@]}
}

# The restart loop. Every exit counts as a crash (a service is meant to run), whatever its code.
# A run at least as long as the longest wait (STAGECOACH_RESTART_MAX_DELAY_S) was stable: the
# backoff starts again from the first delay. The crash count is a sliding window of its own.
supervise() {
  local delay=$RESTART_DELAY_MS restarts=0 started last_exit=- last_at=- what
  EXITS=()
  while ! $STOPPING; do
    start_child
    set_now
    started=$NOW_MS
    write_sup running "$restarts" "$last_exit" "$last_at" "$NOW_ISO" - "${#EXITS[@]}"
    wait_child
    CHILD=''
    set_now
    what=$(describe_exit "$CHILD_RC")
    if $STOPPING; then
      log_line "stopped; the service exited with $what"
      return 0
    fi
    last_exit=$CHILD_RC last_at=$NOW_ISO
    if ((NOW_MS - started >= RESTART_MAX_DELAY_MS)); then delay=$RESTART_DELAY_MS; fi
    count_crash
    if ((CRASHES >= RESTART_LIMIT)); then
      write_sup down "$restarts" "$last_exit" "$last_at" "$NOW_ISO" - "$CRASHES"
      log_line "exited with $what; down after $CRASHES crashes within $(ms_to_seconds "$RESTART_WINDOW_MS") s, not restarting it; fix it and run ./manage.sh start"
      return 0
    fi
    write_sup backoff "$restarts" "$last_exit" "$last_at" "$NOW_ISO" "$delay" "$CRASHES"
    log_line "exited with $what after $(ms_to_seconds "$((NOW_MS - started))") s; restarting in $(ms_to_seconds "$delay") s"
    pause_ms "$delay"
    if $STOPPING; then break; fi
    restarts=$((restarts + 1)) delay=$((delay * 2))
    if ((delay > RESTART_MAX_DELAY_MS)); then delay=$RESTART_MAX_DELAY_MS; fi
    set_now
    log_line "restarting (restart $restarts): $SERVICE_START"
  done
  set_now
  log_line "stopped before restarting"
}

main() {
  (($# == 3)) || die 2 "usage: STAGECOACH_HOME=<workdir> ./supervise.sh <record> <service> <port>"
  RECORD=$1 PORT=$3
  trap on_stop TERM INT HUP
  load_config
  load_restart_settings
  load_service "$2"
  load_app_env
  load_resource_env
  LOG=$LOGS/$SERVICE_NAME.log
  supervise
}

# Everything is in functions, so bash has read the whole file before it runs any of it: a
# release replaced underneath a running supervisor cannot change what it executes.
main "$@"
