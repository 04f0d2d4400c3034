#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Checks the tools this release needs and installs missing ones with apt-get when it can
# (root or passwordless sudo). Called by `manage.sh setup`; see docs/target-layout.md.
# Prints `STAGECOACH_RESULT {"tools":{"<name>":"<path>"}}` as its last stdout line.
set -euo pipefail

RELEASE_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
CONFIG_DIR=$RELEASE_DIR/config

declare -a REQUIRED=()      # tool names, in check order
declare -A PACKAGE_OF=()    # tool -> Debian package
declare -A WHO_NEEDS=()     # tool -> what needs it (for messages)
declare -A PATH_OF=()       # tool -> resolved path
declare -a MISSING=()       # tools not found by the last find_missing

die() {
  printf '%s\n' "$*" >&2
  exit 1
}
say() { printf '%s\n' "$*"; }

# A JSON string literal for $1.
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  printf '"%s"' "$s"
}

# The Debian package that provides tool $1.
package_for() {
  case $1 in
    node | nodejs) echo nodejs ;;
    npm | npx) echo npm ;;
    yarn) echo yarnpkg ;;
    python | python3) echo python3 ;;
    pip | pip3) echo python3-pip ;;
    setsid | runuser | flock) echo util-linux ;;
    timeout | env | nohup) echo coreutils ;;
    postgres | initdb | pg_ctl) echo postgresql ;;
    psql) echo postgresql-client ;;
    redis-server) echo redis-server ;;
    go) echo golang-go ;;
    *) echo "$1" ;;
  esac
}

# Records that $2 needs tool $1.
require() {
  local tool=$1 who=$2
  if [[ -z ${WHO_NEEDS[$tool]+x} ]]; then
    REQUIRED+=("$tool")
    PACKAGE_OF[$tool]=$(package_for "$tool")
    WHO_NEEDS[$tool]=$who
  fi
}

# The program a command line runs: its first word, past `VAR=value` prefixes and `exec`/`env`.
program_of() {
  local -a words
  local w
  read -r -a words <<<"$1"
  for w in "${words[@]}"; do
    w=${w//[\"\']/}
    if [[ $w =~ ^[A-Za-z_][A-Za-z0-9_]*= || $w == exec || $w == env ]]; then continue; fi
    printf '%s\n' "$w"
    return
  done
}

# Adds the program of command $1 (from $2) unless it is a shell builtin or a path into the
# scenario (which may only exist after the build).
require_program() {
  local prog
  prog=$(program_of "$1")
  [[ -n $prog && $prog != */* ]] || return 0
  case $(type -t -- "$prog" || true) in builtin | keyword) return 0 ;; esac
  require "$prog" "$2"
}

# shellcheck source=lib/pg-bin.sh
source "$RELEASE_DIR/lib/pg-bin.sh"

# Resolves tool $1 to a path (postgres tools live in the PostgreSQL bindir).
locate() {
  local tool=$1 dir
  case $tool in
    postgres | initdb | pg_ctl)
      dir=$(pg_installed_bindir || true)
      if [[ -n $dir && -x $dir/$tool ]]; then printf '%s\n' "$dir/$tool"; else return 1; fi
      ;;
    *) type -P -- "$tool" ;;
  esac
}

collect_requirements() {
  local name kind tool services='' resources=''
  # shellcheck source=/dev/null
  source "$CONFIG_DIR/stagecoach.env"
  services=${STAGECOACH_SERVICES:-} resources=${STAGECOACH_RESOURCES:-}
  for tool in bash tar gzip setsid timeout flock; do require "$tool" stagecoach; done
  for name in $services; do
    SERVICE_START='' SERVICE_BUILD=''
    [[ -f $CONFIG_DIR/services/$name.env ]] || die "service $name: missing config/services/$name.env; rebuild the bundle"
    # shellcheck source=/dev/null
    source "$CONFIG_DIR/services/$name.env"
    require_program "$SERVICE_START" "service $name (start)"
    if [[ -n $SERVICE_BUILD ]]; then require_program "$SERVICE_BUILD" "service $name (build)"; fi
  done
  for kind in $resources; do
    case $kind in
      postgres)
        for tool in postgres initdb pg_ctl psql; do require "$tool" "resource postgres"; done
        if ((EUID == 0)); then require runuser "resource postgres (runs it as user postgres)"; fi
        ;;
      redis) require redis-server "resource redis" ;;
      *) die "unknown resource '$kind' in config/stagecoach.env; supported: postgres redis" ;;
    esac
  done
  if [[ -f $CONFIG_DIR/edge.env ]]; then require caddy "the edge (config/edge.env)"; fi
}

# Fills PATH_OF, and MISSING with the tools not found.
find_missing() {
  local tool path
  MISSING=()
  for tool in "${REQUIRED[@]}"; do
    if path=$(locate "$tool"); then PATH_OF[$tool]=$path; else MISSING+=("$tool"); fi
  done
}

# Installs Debian packages $@ with apt-get; fails when we may not (not root, no sudo).
install_packages() {
  local -a apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends)
  command -v apt-get >/dev/null || return 1
  if ((EUID != 0)); then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null || return 1
    apt=(sudo -n "${apt[@]}")
  fi
  say "setup: installing $* with apt-get"
  # A fresh machine may have no package lists yet: update once and retry.
  "${apt[@]}" install "$@" || { "${apt[@]}" update && "${apt[@]}" install "$@"; }
}

main() {
  [[ -f $CONFIG_DIR/stagecoach.env ]] || die "missing $CONFIG_DIR/stagecoach.env: not an extracted stagecoach bundle"
  collect_requirements
  local -a packages
  local tool entries='' details=''
  find_missing
  if ((${#MISSING[@]})); then
    mapfile -t packages < <(for tool in "${MISSING[@]}"; do printf '%s\n' "${PACKAGE_OF[$tool]}"; done | sort -u)
    say "setup: missing ${MISSING[*]} (Debian packages: ${packages[*]})"
    if install_packages "${packages[@]}"; then find_missing; fi
  fi
  if ((${#MISSING[@]})); then
    for tool in "${MISSING[@]}"; do
      details+="${details:+; }$tool (needed by ${WHO_NEEDS[$tool]}, Debian package ${PACKAGE_OF[$tool]})"
    done
    die "setup: missing tools: $details; install them, or run setup as root (or with passwordless sudo) on a machine with apt-get"
  fi
  for tool in "${REQUIRED[@]}"; do
    say "tool $tool: ${PATH_OF[$tool]}"
    entries+="${entries:+,}$(json_str "$tool"):$(json_str "${PATH_OF[$tool]}")"
  done
  printf 'STAGECOACH_RESULT {"tools":{%s}}\n' "$entries"
}

main "$@"
