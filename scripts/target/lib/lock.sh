# shellcheck shell=bash
# The per-target lock: commands that change a target run one at a time.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.
#
# The lock is an flock on fd 9, held until manage.sh exits. Children inherit fd 9, and one
# that outlives us (a service, postgres, redis-server, a daemon started by apt) would hold the
# lock for ever: every command that may leave a process behind runs with `9>&-`.

# "pid 123 manage.sh, …" for the processes holding lock file $1, or '' when none is visible.
lock_holders() {
  local inode line pid comm text=''
  local -a f
  inode=$(stat -c %i -- "$1" 2>/dev/null) || return 0
  [[ -r /proc/locks ]] || return 0
  while read -r line; do
    read -r -a f <<<"$line"
    # Waiters show as "N: -> FLOCK ..."; holders as "N: FLOCK ADVISORY WRITE <pid> <dev>:<inode> ...".
    [[ ${f[1]} == FLOCK && ${f[5]##*:} == "$inode" ]] || continue
    pid=${f[4]} comm='?'
    read -r comm 2>/dev/null <"/proc/$pid/comm" || true
    text+="${text:+, }pid $pid $comm"
  done </proc/locks
  printf '%s' "$text"
}

# Takes the exclusive lock $HOME_DIR/.manage.lock for command $1, waiting up to LOCK_WAIT_S.
take_lock() {
  local cmd=$1 lock=$HOME_DIR/.manage.lock holders
  [[ $LOCK_WAIT_S =~ ^[0-9]+$ ]] ||
    die 2 "STAGECOACH_LOCK_WAIT_S '$LOCK_WAIT_S' is not a number of seconds"
  if ! command -v flock >/dev/null; then
    # setup is what installs it.
    [[ $cmd == setup ]] ||
      die 1 "$cmd: flock is not installed, so it cannot take the lock $lock; run ./manage.sh setup (Debian package: util-linux)"
    say "setup: flock is not installed; running without the lock $lock" >&2
    return 0
  fi
  exec 9>>"$lock" || die 1 "$cmd: cannot open the lock file $lock; check the permissions of $HOME_DIR"
  flock -n 9 && { record_lock_owner "$lock"; return 0; }
  take_over_lock "$cmd" "$lock"
  flock -n 9 && { record_lock_owner "$lock"; return 0; }
  holders=$(lock_holders "$lock")
  say "$cmd: waiting up to ${LOCK_WAIT_S}s for the lock $lock (held by ${holders:-a process not visible here}): another stagecoach command is running on this target" >&2
  flock -w "$LOCK_WAIT_S" 9 ||
    die 1 "$cmd: gave up after ${LOCK_WAIT_S}s waiting for the lock $lock: another stagecoach command is running on this target (${holders:-holder not visible}); let it finish, then retry"
  record_lock_owner "$lock"
}

# Writes "<lease> <process group>" of the lock's new holder to $1.owner.
record_lock_owner() {
  local pgid=$$
  # proc_stat (lib/processes.sh) reads /proc: no `ps` fork on every mutating command
  if proc_stat $$; then pgid=$PS_PGRP; fi
  printf '%s %s\n' "${STAGECOACH_LEASE:-none}" "$pgid" >"$1.owner" 2>/dev/null || true
}

# Only one stage of a deployment holds a live lease at a time, so a lock held under another
# lease belongs to a stage that was lost (its worker died or was fenced off): its commands are
# orphans. Kill their process group (TERM, then KILL) so this stage can take the lock.
take_over_lock() {
  local cmd=$1 lock=$2 owner lease pgid
  [[ -n ${STAGECOACH_LEASE:-} ]] || return 0
  read -r lease pgid <"$lock.owner" 2>/dev/null || return 0
  [[ $lease != "$STAGECOACH_LEASE" && $lease != none && $pgid =~ ^[0-9]+$ && $pgid -gt 1 ]] || return 0
  if proc_stat $$ && [[ $pgid == "$PS_PGRP" ]]; then return 0; fi
  owner="lease $lease, process group $pgid"
  say "$cmd: the lock $lock is held by a lost stage ($owner); stopping its commands" >&2
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    kill -0 -- "-$pgid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL -- "-$pgid" 2>/dev/null || true
}
