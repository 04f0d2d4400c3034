# shellcheck shell=bash
# Processes: /proc/<pid>/stat fields and process-group liveness.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.
# No forks and no here-strings: on a busy host each costs milliseconds, and these run in loops.

# Sets PS_STATE, PS_PGRP, PS_START from /proc/<pid>/stat without forking; fails when gone.
proc_stat() {
  local line IFS=' '
  local -a f
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  # After the last ") " (a command name may hold any bytes) come numbers and the state letter:
  # nothing a split could glob.
  # shellcheck disable=SC2206 # split on purpose
  f=(${line##*) })
  # shellcheck disable=SC2034 # PS_* are read by the callers, in other lib files too
  PS_STATE=${f[0]} PS_PGRP=${f[2]} PS_START=${f[19]}
}

# True when a live (non-zombie) process belongs to process group $1. Zombies count as gone:
# PID 1 of a container does not always reap them.
group_alive() {
  local pgid=$1 f line
  # Usually the leader itself still runs: one read instead of a walk of /proc.
  if proc_stat "$pgid" && [[ $PS_PGRP == "$pgid" && $PS_STATE != Z ]]; then return 0; fi
  # kill -0 fails for root only when no process (zombies included) is in the group.
  if ((EUID == 0)) && [[ $pgid =~ ^[0-9]+$ && $pgid -gt 1 ]] && ! kill -0 -- "-$pgid" 2>/dev/null; then
    return 1
  fi
  for f in /proc/[0-9]*; do
    # a member's stat line holds " <pgid> " (its pgrp field): skip the others unparsed
    read -r line 2>/dev/null <"$f/stat" || continue
    [[ $line == *" $pgid "* ]] || continue
    if proc_stat "${f#/proc/}" && [[ $PS_PGRP == "$pgid" && $PS_STATE != Z ]]; then
      return 0
    fi
  done
  return 1
}
