# shellcheck shell=bash
# Processes: /proc/<pid>/stat fields and process-group liveness.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

# Sets PS_STATE, PS_PGRP, PS_START from /proc/<pid>/stat without forking; fails when gone.
proc_stat() {
  local line
  local -a f
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  read -r -a f <<<"${line##*) }"
  # shellcheck disable=SC2034 # PS_* are read by the callers, in other lib files too
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
