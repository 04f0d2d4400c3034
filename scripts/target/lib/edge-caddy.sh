# shellcheck shell=bash
# The edge's Caddy: the edge-dir lock, config files kept with a `.prev` copy for rollback,
# validate/reload, and the managed Caddy process (start, pid, stop).
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.
# EDGE_* are set by load_edge and edge_paths (lib/edge.sh).

# One edge dir may serve several workdirs (each with its own per-target lock): the edge dir
# has a lock of its own, on fd 8. Caddy must not inherit it (nor fd 9, lib/lock.sh).
take_edge_lock() {
  local cmd=$1 lock=$EDGE_LOCK
  command -v flock >/dev/null || return 0
  exec 8>>"$lock" || die 1 "$cmd: cannot open the edge lock file $lock; check the permissions of ${lock%/*}"
  flock -n 8 && return 0
  say "$cmd: waiting up to ${LOCK_WAIT_S}s for the edge lock $lock: another stagecoach command is changing this edge" >&2
  flock -w "$LOCK_WAIT_S" 8 ||
    die 1 "$cmd: gave up after ${LOCK_WAIT_S}s waiting for the edge lock $lock: another stagecoach command is changing this edge; let it finish, then retry"
}

# Files written by this run: restored from `.prev` (or removed when new) by edge_restore.
EDGE_PREV_FILES=() EDGE_NEW_FILES=()

# Writes $2 (plus a newline) to file $1 unless it already holds that; the old version stays
# as $1.prev. True when the file changed.
edge_install() {
  local file=$1 content=$2 old
  if [[ -f $file ]]; then
    old=$(<"$file")
    [[ $old != "$content" ]] || return 1
    cp -p -- "$file" "$file.prev"
    EDGE_PREV_FILES+=("$file")
  else
    EDGE_NEW_FILES+=("$file")
  fi
  (umask 022 && printf '%s\n' "$content" >"$file.tmp.$$")
  mv -f -- "$file.tmp.$$" "$file"
}

# Removes file $1, keeping it as $1.prev. True when it existed.
edge_remove() {
  [[ -f $1 ]] || return 1
  mv -f -- "$1" "$1.prev"
  EDGE_PREV_FILES+=("$1")
}

# Puts back what edge_install and edge_remove changed in this run.
edge_restore() {
  local file
  for file in "${EDGE_PREV_FILES[@]}"; do cp -p -- "$file.prev" "$file"; done
  for file in "${EDGE_NEW_FILES[@]}"; do rm -f -- "$file"; done
  EDGE_PREV_FILES=() EDGE_NEW_FILES=()
}

# The last line of Caddy output $1 that reports an error (else its last line), on one line.
caddy_error() {
  local line last='' err=''
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    last=$line
    if [[ $line == Error:* || $line == *'"level":"error"'* ]]; then err=$line; fi
  done <<<"$1"
  printf '%s' "${err:-$last}"
}

# Runs caddy with the managed edge's data and config dirs (stdin closed, no locks inherited).
edge_caddy() {
  XDG_DATA_HOME=$EDGE_DIR/data XDG_CONFIG_HOME=$EDGE_DIR/config caddy "$@" </dev/null 8>&- 9>&-
}

# Validates the whole Caddy config; sets CADDY_OUT to Caddy's output.
caddy_validate() {
  CADDY_OUT=$(edge_caddy validate --config "$EDGE_CADDYFILE" --adapter caddyfile 2>&1)
}

# Makes the running Caddy load the config on disk; sets CADDY_OUT to the output.
caddy_reload() {
  if [[ $EDGE_MODE == system ]]; then
    CADDY_OUT=$(systemctl reload caddy 2>&1 </dev/null 8>&- 9>&-) || {
      CADDY_OUT+=$'\n'$(journalctl -u caddy -n 5 --no-pager 2>/dev/null || true)
      return 1
    }
    return 0
  fi
  CADDY_OUT=$(edge_caddy reload --config "$EDGE_CADDYFILE" --adapter caddyfile \
    --address "127.0.0.1:$EDGE_ADMIN_PORT" 2>&1)
}

# Prints the pid of the managed Caddy of this edge dir when it runs.
caddy_pid() {
  local pid='' cmdline
  read -r pid 2>/dev/null <"$EDGE_DIR/caddy.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] && proc_stat "$pid" && [[ $PS_STATE != Z ]] || return 1
  # A reused pid is not our Caddy: its command line names our Caddyfile.
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmdline == *"caddy run --config $EDGE_DIR/Caddyfile "* ]] || return 1
  printf '%s\n' "$pid"
}

# True when Caddy serves this edge (managed: our process; system: the caddy unit).
caddy_running() {
  if [[ $EDGE_MODE == system ]]; then
    systemctl is-active --quiet caddy 2>/dev/null
  else
    caddy_pid >/dev/null
  fi
}

# Starts the managed Caddy detached (`caddy run`, not `caddy start`, which keeps the caller's
# pipes open) and waits until it listens on port $1; sets CADDY_OUT to the log tail on failure.
caddy_start() {
  local port=$1 log=$EDGE_DIR/caddy.log pid i size
  (umask 077 && touch -- "$log")
  size=$(stat -c %s -- "$log")
  printf '\n==== %s starting caddy for %s\n' "$(date -u +%FT%TZ)" "$EDGE_DIR" >>"$log"
  (
    cd -- "$EDGE_DIR" || exit 1
    export XDG_DATA_HOME=$EDGE_DIR/data XDG_CONFIG_HOME=$EDGE_DIR/config
    exec setsid caddy run --config "$EDGE_DIR/Caddyfile" --adapter caddyfile \
      </dev/null >>"$log" 2>&1 8>&- 9>&-
  ) &
  pid=$!
  write_private "$EDGE_DIR/caddy.pid" "$pid"
  for ((i = 0; i < 150; i++)); do
    if ! caddy_pid >/dev/null; then break; fi
    if tcp_open "$port" && tcp_open "$EDGE_ADMIN_PORT"; then return 0; fi
    sleep 0.1
  done
  CADDY_OUT=$(tail -c "+$((size + 1))" -- "$log" | tail -n 20)
  caddy_pid >/dev/null && kill -KILL "$pid" 2>/dev/null
  rm -f -- "$EDGE_DIR/caddy.pid"
  return 1
}

# Stops the managed Caddy (TERM, KILL after the grace period). True when it ran.
caddy_stop() {
  local pid i
  pid=$(caddy_pid) || return 1
  say "edge: stopping caddy (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_GRACE_S * 10; i++)); do
    caddy_pid >/dev/null || break
    sleep 0.1
  done
  if caddy_pid >/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f -- "$EDGE_DIR/caddy.pid"
}
