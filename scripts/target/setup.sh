#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Checks the tools stagecoach itself needs (its own, the resources', Caddy for an edge) and the
# Debian packages the scenario declares (scenario.json `packages`, STAGECOACH_PACKAGES in
# config/stagecoach.env), and installs the missing ones with apt-get when it can (root or
# passwordless sudo). Nothing else is installed: the scenario's commands are never read to
# guess packages. Called by `manage.sh setup`; see docs/target-layout.md. Prints
# `STAGECOACH_RESULT {"tools":{"<name>":"<path>"},"packages":{"<name>":"<state>"}}` last.
set -euo pipefail
# set -e holds inside $(…) too (manage.sh, which runs this, needs bash 4.4 for it already).
shopt -s inherit_errexit

RELEASE_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
CONFIG_DIR=$RELEASE_DIR/config
# A Debian package name (Debian Policy 5.6.1), as shared/scenario.ts checks it.
PACKAGE_RE='^[a-z0-9][a-z0-9+.-]+$'

# shellcheck source=lib/json.sh
source "$RELEASE_DIR/lib/json.sh"
# shellcheck source=lib/common.sh
source "$RELEASE_DIR/lib/common.sh"
# shellcheck source=lib/pg-bin.sh
source "$RELEASE_DIR/lib/pg-bin.sh"

declare -a REQUIRED=()   # tool names, in check order
declare -A PACKAGE_OF=() # tool -> Debian package
declare -A WHO_NEEDS=()  # tool -> what needs it (for messages)
declare -A PATH_OF=()    # tool -> resolved path
declare -a MISSING=()    # tools not found by the last find_missing
declare -a DECLARED=()   # the scenario's packages
declare -A DPKG_STATE=() # installed package (or one an installed package provides) -> state
declare -a MISSING_PKGS=() # declared packages not installed, by the last find_missing_packages

# The Debian package that provides stagecoach's tool $1.
package_for() {
  case $1 in
    setsid | runuser | flock) echo util-linux ;;
    timeout) echo coreutils ;;
    postgres | initdb | pg_ctl) echo postgresql ;;
    psql) echo postgresql-client ;;
    *) echo "$1" ;; # bash, tar, gzip, redis-server, caddy
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
  local kind tool name
  read_env_file "$CONFIG_DIR/stagecoach.env"
  read -r -a DECLARED <<<"${ENV_FILE[STAGECOACH_PACKAGES]:-}"
  for name in "${DECLARED[@]}"; do
    [[ $name =~ $PACKAGE_RE ]] ||
      die 2 "setup: '$name' in STAGECOACH_PACKAGES (config/stagecoach.env) is not a Debian package name; fix packages in scenario.json"
  done
  for tool in bash tar gzip setsid timeout flock; do require "$tool" stagecoach; done
  for kind in ${ENV_FILE[STAGECOACH_RESOURCES]:-}; do
    case $kind in
      postgres)
        for tool in postgres initdb pg_ctl psql; do require "$tool" "resource postgres"; done
        if ((EUID == 0)); then require runuser "resource postgres (runs it as user postgres)"; fi
        ;;
      redis) require redis-server "resource redis" ;;
      *) die 1 "unknown resource '$kind' in config/stagecoach.env; supported: postgres redis" ;;
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

# Fills DPKG_STATE from dpkg's database: each installed package (its version) and each name an
# installed package provides ("provided by <package>"). Fails without dpkg-query.
read_dpkg_state() {
  local status pkg version provides word
  local -a words
  DPKG_STATE=()
  command -v dpkg-query >/dev/null || return 1
  while IFS=$'\t' read -r status pkg version provides; do
    [[ $status == ?i* ]] || continue
    DPKG_STATE[$pkg]=$version
    read -r -a words <<<"${provides//,/ }"
    for word in "${words[@]}"; do
      [[ $word == \(* || $word == *\) ]] && continue # a version: "(= 1.2)"
      word=${word%%:*}
      if [[ -z ${DPKG_STATE[$word]+x} ]]; then DPKG_STATE[$word]="provided by $pkg"; fi
    done
  done < <(dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Provides}\n' 2>/dev/null)
}

# Fills MISSING_PKGS with the declared packages dpkg does not know as installed; without dpkg
# every one is "unchecked".
find_missing_packages() {
  local name
  MISSING_PKGS=()
  ((${#DECLARED[@]})) || return 0
  if ! read_dpkg_state; then
    for name in "${DECLARED[@]}"; do DPKG_STATE[$name]=unchecked; done
    say "setup: no dpkg-query here, so packages ${DECLARED[*]} are not checked; make sure they are installed"
    return 0
  fi
  for name in "${DECLARED[@]}"; do
    if [[ -z ${DPKG_STATE[$name]+x} ]]; then MISSING_PKGS+=("$name"); fi
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

# Fails naming every tool and package still missing.
fail_missing() {
  local tool details=''
  for tool in "${MISSING[@]}"; do
    details+="${details:+; }$tool (needed by ${WHO_NEEDS[$tool]}, Debian package ${PACKAGE_OF[$tool]})"
  done
  if ((${#MISSING_PKGS[@]})); then
    details+="${details:+; }Debian packages ${MISSING_PKGS[*]} (declared in scenario.json packages)"
  fi
  die 1 "setup: missing $details; install them, or run setup as root (or with passwordless sudo) on a machine with apt-get"
}

main() {
  [[ -f $CONFIG_DIR/stagecoach.env ]] || die 1 "missing $CONFIG_DIR/stagecoach.env: not an extracted stagecoach bundle"
  collect_requirements
  local -a packages
  local tool name
  local -a tools=() states=()
  find_missing
  find_missing_packages
  if ((${#MISSING[@]} + ${#MISSING_PKGS[@]})); then
    mapfile -t packages < <({
      for tool in "${MISSING[@]}"; do printf '%s\n' "${PACKAGE_OF[$tool]}"; done
      for name in "${MISSING_PKGS[@]}"; do printf '%s\n' "$name"; done
    } | sort -u)
    say "setup: missing ${MISSING[*]} ${MISSING_PKGS[*]} (Debian packages: ${packages[*]})"
    if install_packages "${packages[@]}"; then
      find_missing
      find_missing_packages
    fi
  fi
  if ((${#MISSING[@]} + ${#MISSING_PKGS[@]})); then fail_missing; fi
  for tool in "${REQUIRED[@]}"; do
    say "tool $tool: ${PATH_OF[$tool]}"
    tools+=("$tool" "$(json_str "${PATH_OF[$tool]}")")
  done
  for name in "${DECLARED[@]}"; do
    say "package $name: ${DPKG_STATE[$name]}"
    states+=("$name" "$(json_str "${DPKG_STATE[$name]}")")
  done
  result "$(json_obj tools "$(json_obj "${tools[@]}")" packages "$(json_obj "${states[@]}")")"
}

main "$@"
