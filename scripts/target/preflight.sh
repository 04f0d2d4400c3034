#!/usr/bin/env bash
# stagecoach preflight: checks a target before anything on it changes. Runs before the bundle
# is there, so the worker sends this file's text: bash -c "$(cat preflight.sh)" preflight ARGS.
#   preflight WORKDIR MIN_DISK_MB MIN_MEMORY_MB HTTP_PORT|- HTTPS_PORT|- NEED_CADDY(0|1) [SHA256]
# Prints one line per check, then `STAGECOACH_RESULT {"os":…,"arch":…,"checks":[…],"target":…}`;
# with SHA256, `target` says what the workdir already holds: {"release_ready": releases/SHA256
# finished setup, "store": the file store exists} (the worker skips or shortens setup with it).
# Exit 1 when a check fails; the last stderr line names the check and how to fix it. A check
# that cannot find out fails itself (never the script): its commands say so (|| true).
# It runs on every setup: no subshell where a variable does (each fork costs about a millisecond).
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || {
  printf '%s\n' "preflight check bash failed: bash $BASH_VERSION is older than 4.4; fix: install a current bash on the server" >&2
  exit 1
}

WORKDIR=$1 MIN_DISK_MB=$2 MIN_MEM_MB=$3 HTTP_PORT=$4 HTTPS_PORT=$5 NEED_CADDY=$6 SHA=${7:-}
BASE_TOOLS=(bash tar gzip sha256sum flock setsid timeout mkdir mv rm)
CHECKS=()
FAILED=''
WORKDIR_OK=true

# record ID OK DETAIL FIX — one check's outcome (DETAIL/FIX are plain text), encoded with
# json_str_to (no subshell).
record() {
  local id=$1 ok=$2 detail=$3 fix=${4:-} jid jdetail jfix
  case $ok in
    true | false) ;;
    *) json_bug "record: '$ok' is not true or false" ;;
  esac
  json_str_to jid "$id"
  json_str_to jdetail "$detail"
  json_str_to jfix "$fix"
  CHECKS+=("{\"id\":$jid,\"ok\":$ok,\"detail\":$jdetail,\"fix\":$jfix}")
  if [[ $ok == true ]]; then
    printf 'preflight %s: ok (%s)\n' "$id" "$detail"
  else
    printf 'preflight %s: FAILED (%s)\n' "$id" "$detail"
    [[ -n $FAILED ]] || FAILED="preflight check $id failed: $detail; fix: $fix"
  fi
}

# Root, or passwordless sudo: the two ways this script may install packages.
can_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  [[ $(id -u) == 0 ]] && return 0
  command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1
}

check_os() {
  local sm
  sm=$(uname -sm)
  OS=${sm% *} ARCH=${sm##* }
  if [[ $OS == Linux ]]; then
    record os true "$OS $ARCH"
  else
    record os false "$OS $ARCH is not supported" "use a Linux server"
  fi
}

# system_dir_reason (lib/system-dirs.sh) and the JSON encoder (lib/json.sh): the worker sends
# them ahead of this script; run from a checkout, they are beside this file.
if ! declare -F system_dir_reason >/dev/null; then
  # shellcheck source=lib/system-dirs.sh
  source "$(dirname -- "${BASH_SOURCE[0]}")/lib/system-dirs.sh"
fi
if ! declare -F json_obj >/dev/null; then
  # shellcheck source=lib/json.sh
  source "$(dirname -- "${BASH_SOURCE[0]}")/lib/json.sh"
fi

# The workdir as given and with symlinks resolved: neither may be a system directory. The
# reason is only captured (a subshell) when there is one.
check_workdir() {
  local resolved=$WORKDIR here=$PWD reason
  if cd -P -- "$WORKDIR" 2>/dev/null; then
    resolved=$PWD
    cd -- "$here"
  fi
  if system_dir_reason "$WORKDIR" >/dev/null || system_dir_reason "$resolved" >/dev/null; then
    reason=$(system_dir_reason "$WORKDIR") || reason=$(system_dir_reason "$resolved") || true
    WORKDIR_OK=false
    record workdir false "$reason" "choose a workdir of its own for the target, like /srv/stagecoach or ~/stagecoach"
  else
    record workdir true "$resolved"
  fi
}

check_disk() {
  # never create anything in a refused workdir
  $WORKDIR_OK || return 0
  [[ -d $WORKDIR ]] || mkdir -p -- "$WORKDIR" 2>/dev/null || true
  local out avail_kb=''
  out=$(df -Pk -- "$WORKDIR" 2>/dev/null) || true
  # the second line's fourth field (df -P: one line per file system)
  if [[ $out == *$'\n'* ]]; then
    read -r _ _ _ avail_kb _ <<<"${out#*$'\n'}"
  fi
  [[ $avail_kb =~ ^[0-9]+$ ]] || avail_kb=''
  if [[ -z $avail_kb ]]; then
    record disk false "cannot read free space of $WORKDIR" "check that the workdir's parent exists and is writable"
  elif ((avail_kb / 1024 >= MIN_DISK_MB)); then
    record disk true "$((avail_kb / 1024)) MB free in $WORKDIR (need $MIN_DISK_MB)"
  else
    record disk false "$((avail_kb / 1024)) MB free in $WORKDIR, need $MIN_DISK_MB" "free disk space or lower PREFLIGHT_MIN_DISK_MB"
  fi
}

check_memory() {
  local key value avail_kb=''
  if [[ -r /proc/meminfo ]]; then
    while read -r key value _; do
      if [[ $key == MemAvailable: ]]; then
        avail_kb=$value
        break
      fi
    done </proc/meminfo
  fi
  [[ $avail_kb =~ ^[0-9]+$ ]] || avail_kb=''
  if [[ -z $avail_kb ]]; then
    record memory false "cannot read /proc/meminfo" "use a Linux server"
  elif ((avail_kb / 1024 >= MIN_MEM_MB)); then
    record memory true "$((avail_kb / 1024)) MB available (need $MIN_MEM_MB)"
  else
    record memory false "$((avail_kb / 1024)) MB available, need $MIN_MEM_MB" "free memory or lower PREFLIGHT_MIN_MEMORY_MB"
  fi
}

# Who listens on a TCP port: a process name, "" when free, "?" when busy but unknown.
port_owner() {
  local port=$1 line
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    printf ''
    return
  fi
  if command -v ss >/dev/null 2>&1; then
    line=$(ss -Hltnp "sport = :$port" 2>/dev/null | head -1 || true)
    if [[ $line =~ \(\(\"([^\"]+)\" ]]; then
      printf '%s' "${BASH_REMATCH[1]}"
      return
    fi
  fi
  printf '?'
}

check_port() {
  local id=$1 port=$2 owner
  [[ $port == - ]] && return
  owner=$(port_owner "$port")
  case $owner in
    '') record "$id" true "port $port is free" ;;
    caddy) record "$id" true "port $port is already Caddy's" ;;
    '?') if pgrep -x caddy >/dev/null 2>&1; then
        record "$id" true "port $port is in use and Caddy runs (assumed Caddy's)"
      else
        record "$id" false "port $port is held by another process" "free port $port or set edge.${id} in the manifest"
      fi ;;
    *) record "$id" false "port $port is held by $owner" "stop $owner or set edge.${id} in the manifest" ;;
  esac
}

check_tools() {
  local tools=("${BASE_TOOLS[@]}") missing=() t
  [[ $NEED_CADDY == 1 ]] && tools+=(caddy)
  for t in "${tools[@]}"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  if ((${#missing[@]} == 0)); then
    record tools true "found ${tools[*]}"
  elif can_install; then
    record tools true "missing ${missing[*]}; setup will install them with apt-get"
  else
    record tools false "missing ${missing[*]} and no root or passwordless sudo to install them" \
      "install ${missing[*]} on the server, or give the user passwordless sudo"
  fi
}

# With a bundle's SHA256: what the workdir holds of it (facts, not checks). Nothing when the
# workdir was refused.
target_facts() {
  local ready=false store=false
  [[ -n $SHA ]] || return 0
  [[ $SHA =~ ^[0-9a-f]{64}$ ]] || json_bug "preflight: '$SHA' is not a bundle sha256"
  if $WORKDIR_OK; then
    [[ -f $WORKDIR/releases/$SHA/.setup-ok ]] && ready=true
    [[ -d $WORKDIR/store ]] && store=true
  fi
  printf -v TARGET ',"target":{"release_ready":%s,"store":%s}' "$ready" "$store"
}

# CHECKS joined with commas into CHECKS_JSON (join_json without its subshell).
join_checks() {
  local IFS=,
  CHECKS_JSON="${CHECKS[*]}"
}

check_os
check_workdir
check_disk
check_memory
check_port http_port "$HTTP_PORT"
check_port https_port "$HTTPS_PORT"
check_tools
TARGET=''
target_facts
json_str_to OS_JSON "$OS"
json_str_to ARCH_JSON "$ARCH"
join_checks
result "{\"os\":$OS_JSON,\"arch\":$ARCH_JSON,\"checks\":[$CHECKS_JSON]$TARGET}"
if [[ -n $FAILED ]]; then
  printf '%s\n' "$FAILED" >&2
  exit 1
fi
