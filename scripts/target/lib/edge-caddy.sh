# shellcheck shell=bash
# The edge's Caddy: the edge-dir lock, config files kept with a `.prev` copy for rollback, the
# user and dir the managed Caddy runs with, validate/reload (through its admin socket), and the
# managed Caddy process (start, pid, stop).
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

# As root: sets EDGE_CADDY_USER to CADDY_USER (created when missing) and EDGE_AS to the setpriv
# prefix that runs a command as it, with CAP_NET_BIND_SERVICE (ports < 1024) as its only
# capability. Where that cannot work (no useradd or setpriv, a kernel without ambient
# capabilities) Caddy runs as root, with a warning. Without root Caddy runs as the caller.
# shellcheck disable=SC2034 # EDGE_CADDY_UID/GID are read by caddy_dirs
edge_caddy_user() {
  EDGE_CADDY_USER='' EDGE_AS=() EDGE_CADDY_UID='' EDGE_CADDY_GID=''
  ((EUID == 0)) || return 0
  if ! id -u "$CADDY_USER" >/dev/null 2>&1 && command -v useradd >/dev/null; then
    # A concurrent edge-apply (another edge dir) may create it first: checked below.
    useradd --system --user-group --no-create-home --home-dir "$CADDY_USER_HOME" \
      --shell "$(command -v nologin || printf /bin/false)" --comment "stagecoach's managed Caddy" \
      "$CADDY_USER" >/dev/null 2>&1 </dev/null || true
  fi
  local uid gid
  if uid=$(id -u "$CADDY_USER" 2>/dev/null) && gid=$(id -g "$CADDY_USER" 2>/dev/null) &&
    command -v setpriv >/dev/null; then
    # shellcheck disable=SC2054 # setpriv's capability lists are comma-separated
    EDGE_AS=(setpriv "--reuid=$uid" "--regid=$gid" --clear-groups
      --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service
      --bounding-set=-all,+net_bind_service --no-new-privs --)
    if "${EDGE_AS[@]}" true >/dev/null 2>&1 </dev/null; then
      EDGE_CADDY_USER=$CADDY_USER EDGE_CADDY_UID=$uid EDGE_CADDY_GID=$gid
      return 0
    fi
    EDGE_AS=()
  fi
  say "edge: warning: cannot run Caddy as the unprivileged user $CADDY_USER here (it needs useradd, and setpriv with ambient capabilities: util-linux >= 2.31, Linux >= 4.3); Caddy runs as root, its admin API only on $EDGE_SOCK"
}

# Creates Caddy's own dir EDGE_RUN with data/, config/ and admin/ (0700, Caddy's user's). As
# root EDGE_RUN itself stays root's (group Caddy's user, 0750): Caddy reads caddy.json there but
# cannot plant links where root writes.
caddy_dirs() {
  local d
  if [[ $EDGE_RUN != "$EDGE_DIR" ]]; then
    ensure_dir 755 "$CADDY_USER_HOME"
    ensure_dir 750 "$EDGE_RUN"
    chown -- "0:${EDGE_CADDY_GID:-0}" "$EDGE_RUN"
    printf '%s\n' "$EDGE_DIR" >"$EDGE_RUN/edge.dir"
    # Keeps the certificates and local CA of a Caddy an older stagecoach ran from the edge dir.
    if [[ ! -e $EDGE_RUN/data && -d $EDGE_DIR/data ]]; then cp -a -- "$EDGE_DIR/data" "$EDGE_RUN/data"; fi
  fi
  for d in data config admin; do
    ensure_dir 700 "$EDGE_RUN/$d"
    # Only a tree root still owns (copied, or from a Caddy run as root): no links of Caddy's user.
    if [[ -n $EDGE_CADDY_UID && $(stat -c %u -- "$EDGE_RUN/$d") == 0 ]]; then
      chown -R -- "$EDGE_CADDY_UID:$EDGE_CADDY_GID" "$EDGE_RUN/$d"
    fi
  done
}

# Replaces this (sub)shell by caddy, run as Caddy's user (EDGE_AS) from its own dir with its own
# data and config dirs, stdin closed, no locks inherited. With --session first, in a new session.
edge_caddy_exec() {
  local -a prefix=("${EDGE_AS[@]}")
  if [[ $1 == --session ]]; then
    prefix=(setsid "${prefix[@]}")
    shift
  fi
  cd -- "$EDGE_RUN" || exit 1
  export XDG_DATA_HOME=$EDGE_RUN/data XDG_CONFIG_HOME=$EDGE_RUN/config
  if [[ -n $EDGE_CADDY_USER ]]; then export HOME=$EDGE_RUN; fi
  exec "${prefix[@]}" caddy "$@" </dev/null 8>&- 9>&-
}

# Adapts the Caddyfile and the sites it imports to EDGE_RUN/caddy.json, the config the managed
# Caddy is given (as root, Caddy's user cannot read the edge dir); sets CADDY_OUT on failure.
caddy_adapt() {
  local tmp=$EDGE_RUN/caddy.json.tmp.$$
  CADDY_OUT=$(caddy adapt --config "$EDGE_CADDYFILE" --adapter caddyfile 2>&1 >"$tmp" </dev/null 8>&- 9>&-) || {
    rm -f -- "$tmp"
    return 1
  }
  chmod 644 -- "$tmp"
  mv -f -- "$tmp" "$EDGE_RUN/caddy.json"
}

# Validates the whole Caddy config as the user Caddy runs as (validating provisions its storage);
# sets CADDY_OUT to Caddy's output.
caddy_validate() {
  if [[ $EDGE_MODE == system ]]; then
    CADDY_OUT=$(edge_caddy_exec validate --config "$EDGE_CADDYFILE" --adapter caddyfile 2>&1)
    return
  fi
  caddy_adapt || return 1
  CADDY_OUT=$(edge_caddy_exec validate --config "$EDGE_RUN/caddy.json" 2>&1)
}

# Makes the running Caddy load the config on disk through its admin socket; sets CADDY_OUT to
# the output.
caddy_reload() {
  if [[ $EDGE_MODE == system ]]; then
    CADDY_OUT=$(systemctl reload caddy 2>&1 </dev/null 8>&- 9>&-) || {
      CADDY_OUT+=$'\n'$(journalctl -u caddy -n 5 --no-pager 2>/dev/null || true)
      return 1
    }
    return 0
  fi
  if caddy_legacy; then
    # An older stagecoach's Caddy (admin API on TCP) serves until edge-apply replaces it.
    local port=''
    read -r port 2>/dev/null <"$EDGE_DIR/admin.port" || true
    CADDY_OUT=$(caddy reload --config "$EDGE_CADDYFILE" --adapter caddyfile \
      --address "127.0.0.1:$port" 2>&1 </dev/null 8>&- 9>&-)
    return
  fi
  caddy_adapt || return 1
  CADDY_OUT=$(caddy reload --config "$EDGE_RUN/caddy.json" --address "unix/$EDGE_SOCK" \
    2>&1 </dev/null 8>&- 9>&-)
}

# Prints the pid of the managed Caddy of this edge dir when it runs.
caddy_pid() {
  local pid='' cmdline
  read -r pid 2>/dev/null <"$EDGE_DIR/caddy.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] && proc_stat "$pid" && [[ $PS_STATE != Z ]] || return 1
  # A reused pid is not our Caddy: its command line names this edge's config (the Caddyfile for
  # one an older stagecoach started).
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmdline == *"caddy run --config $EDGE_RUN/caddy.json "* ||
    $cmdline == *"caddy run --config $EDGE_DIR/Caddyfile "* ]] || return 1
  printf '%s\n' "$pid"
}

# True when this edge's Caddy was started by an older stagecoach: as the caller (root, often),
# with its admin API on TCP 127.0.0.1:<admin.port>, open to every local user.
caddy_legacy() {
  local pid cmdline
  [[ $EDGE_MODE == managed ]] && pid=$(caddy_pid) || return 1
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmdline == *"caddy run --config $EDGE_DIR/Caddyfile "* ]]
}

# Stops an older stagecoach's Caddy (caddy_legacy) so that this version's can start. True when
# there was one.
caddy_retire_legacy() {
  caddy_legacy || return 1
  say "edge: replacing the Caddy an older stagecoach started (admin API on TCP)"
  caddy_stop || true
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
# pipes open) and waits until it serves its config; sets CADDY_OUT to the log tail on failure.
caddy_start() {
  local log=$EDGE_DIR/caddy.log pid i size
  caddy_adapt || return 1
  (umask 077 && touch -- "$log")
  size=$(stat -c %s -- "$log")
  printf '\n==== %s starting caddy for %s\n' "$(date -u +%FT%TZ)" "$EDGE_DIR" >>"$log"
  # A socket left by a killed Caddy, and an older stagecoach's admin port, are out of date.
  rm -f -- "$EDGE_SOCK" "$EDGE_DIR/admin.port"
  (edge_caddy_exec --session run --config "$EDGE_RUN/caddy.json" >>"$log" 2>&1) &
  pid=$!
  write_private "$EDGE_DIR/caddy.pid" "$pid"
  for ((i = 0; i < 150; i++)); do
    if ! proc_stat "$pid" || [[ $PS_STATE == Z ]]; then break; fi
    # Logged once the config is loaded: its listeners are up.
    if [[ -S $EDGE_SOCK && $(tail -c "+$((size + 1))" -- "$log") == *'serving initial configuration'* ]]; then
      return 0
    fi
    sleep 0.1
  done
  CADDY_OUT=$(tail -c "+$((size + 1))" -- "$log" | tail -n 20)
  kill -KILL "$pid" 2>/dev/null || true
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
  rm -f -- "$EDGE_DIR/caddy.pid" "$EDGE_DIR/admin.port"
}
