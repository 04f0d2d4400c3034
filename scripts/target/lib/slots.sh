# shellcheck shell=bash
# Slots: where a service's instances run. A "record" names one instance under state/run
# (<record>.pid, .info). Every service has the record `<name>` on its manifest port. The service
# behind the edge also has `<name>.b` on EDGE_SPARE_PORT, so a new release starts beside the one
# serving, is health-checked on its own port, and Caddy is switched to it (zero downtime).
#   state/run/<name>.serving  the record the edge routes to (absent: `<name>`)
#   state/run/<name>.pending  the record `start` launched and `promote` has not switched to yet
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

# Sets ZD_SERVICE (the edge's service when it has a spare port, else empty), ZD_SPARE_PORT and
# ZD_DRAIN_S. Keeps the caller's SERVICE_* (load_edge loads the edge's service).
load_slots() {
  ZD_SERVICE='' ZD_SPARE_PORT='' ZD_DRAIN_S=10
  has_edge || return 0
  local -a saved=("${SERVICE_NAME:-}" "${SERVICE_PORT:-}" "${SERVICE_START:-}" "${SERVICE_BUILD:-}" "${SERVICE_HEALTH:-}")
  load_edge
  SERVICE_NAME=${saved[0]} SERVICE_PORT=${saved[1]} SERVICE_START=${saved[2]}
  SERVICE_BUILD=${saved[3]} SERVICE_HEALTH=${saved[4]}
  ZD_DRAIN_S=$EDGE_DRAIN_S
  if [[ -n $EDGE_SPARE_PORT ]]; then ZD_SERVICE=$EDGE_SERVICE ZD_SPARE_PORT=$EDGE_SPARE_PORT; fi
}

# The record of service $1 that serves (the one the edge routes to).
serving_record() {
  local __out
  serving_record_to __out "$1"
  printf '%s' "$__out"
}

# Sets variable $1 to serving_record $2, without the subshell a $(…) costs (health polls it).
# (Each of these names its locals apart: printf -v would set a local of the same name.)
serving_record_to() {
  local __sr=''
  read -r __sr 2>/dev/null <"$RUN/$2.serving" || true
  if [[ $2 != "$ZD_SERVICE" || $__sr != "$2.b" ]]; then __sr=$2; fi
  printf -v "$1" '%s' "$__sr"
}

# The record a check of service $1 looks at: the one `start` launched, else the serving one.
live_record() {
  local __out
  live_record_to __out "$1"
  printf '%s' "$__out"
}

# Sets variable $1 to live_record $2 (no subshell).
live_record_to() {
  local __lr=''
  read -r __lr 2>/dev/null <"$RUN/$2.pending" || true
  if [[ $__lr == "$2" || ($2 == "$ZD_SERVICE" && $__lr == "$2.b") ]]; then
    printf -v "$1" '%s' "$__lr"
  else
    serving_record_to "$1" "$2"
  fi
}

# The other slot of the edge's service $1 than record $2.
other_slot() { if [[ $2 == "$1" ]]; then printf '%s' "$1.b"; else printf '%s' "$1"; fi; }

# The port of record $1, whose service is loaded (load_service).
slot_port() { if [[ $1 == *.b ]]; then printf '%s' "$ZD_SPARE_PORT"; else printf '%s' "$SERVICE_PORT"; fi; }

# The port service $1's live record listens on: what it was launched with, else its slot's.
live_port() {
  local rec port
  rec=$(live_record "$1")
  port=$(service_info "$rec" 2)
  if [[ -z $port ]]; then
    load_service "$1"
    port=$(slot_port "$rec")
  fi
  printf '%s' "$port"
}

# True when record $1 runs a process of this release.
record_runs_here() {
  service_pid "$1" >/dev/null && [[ $(service_info "$1" 3) == "$RELEASE_DIR" ]]
}

# True when $1 is one of the remaining arguments.
in_list() {
  local x=$1 y
  shift
  for y in "$@"; do [[ $x == "$y" ]] && return 0; done
  return 1
}

# Drains record $1 (port $2) once the edge no longer routes to it: waits up to ZD_DRAIN_S for
# its open connections to end, then stops it (TERM, KILL after ZD_DRAIN_S more).
drain_record() {
  local rec=$1 port=$2 deadline
  deadline=$((SECONDS + ZD_DRAIN_S))
  # established connections to its port: requests still in flight (read_tcp_inodes, ports.sh)
  while ((SECONDS < deadline)); do
    read_tcp_inodes 01 "$port"
    ((${#TCP_INODES[@]})) || break
    sleep 0.1
  done
  # shellcheck disable=SC2034 # read by stop_service (services.sh)
  local STOP_GRACE_S=$ZD_DRAIN_S
  stop_service "$rec" || true
}
