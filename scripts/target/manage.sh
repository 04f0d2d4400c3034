#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# stagecoach's target-side entry point. The contract is docs/target-layout.md.
#   cd releases/<sha> && STAGECOACH_HOME=<workdir> ./manage.sh <command> [args]
# Commands: setup, start-resources, build, start [--resume], health [timeout_s], promote,
# discard [--all], status, stop [--resources], edge-apply, prune [keep].
# Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 a port is held by another process.
# A command with structured output prints `STAGECOACH_RESULT <json>` as its last stdout line;
# on failure the last stderr line says what broke and how to fix it. Commands that change the
# target hold an exclusive flock on $STAGECOACH_HOME/.manage.lock while they run (lib/lock.sh).
set -euo pipefail
# set -e holds inside $(…) too: a command substitution that may fail says so (|| true, an if).
shopt -s inherit_errexit 2>/dev/null || {
  printf '%s\n' "manage.sh needs bash 4.4 or newer (this is bash $BASH_VERSION); install a current bash on the target" >&2
  exit 2
}

# dirname without its fork (every command pays it; a fork costs ms on a busy host)
case ${BASH_SOURCE[0]} in */*) RELEASE_DIR=${BASH_SOURCE[0]%/*} ;; *) RELEASE_DIR=. ;; esac
RELEASE_DIR=$(cd -- "${RELEASE_DIR:-/}" && pwd -P)
CONFIG_DIR=$RELEASE_DIR/config
KNOWN_RESOURCES=(postgres redis)
STOP_GRACE_S=10
# How long a mutating command waits for another one to release the per-target lock.
LOCK_WAIT_S=${STAGECOACH_LOCK_WAIT_S:-120}

# The functions live in lib/<topic>.sh next to this file; each only defines functions.
[[ -d $RELEASE_DIR/lib ]] || {
  printf '%s\n' "missing $RELEASE_DIR/lib: the release is incomplete; rebuild the bundle with this stagecoach version and deploy again" >&2
  exit 2
}
# shellcheck source=lib/system-dirs.sh
source "$RELEASE_DIR/lib/system-dirs.sh"
# shellcheck source=lib/json.sh
source "$RELEASE_DIR/lib/json.sh"
# shellcheck source=lib/common.sh
source "$RELEASE_DIR/lib/common.sh"
# shellcheck source=lib/processes.sh
source "$RELEASE_DIR/lib/processes.sh"
# shellcheck source=lib/ports.sh
source "$RELEASE_DIR/lib/ports.sh"
# shellcheck source=lib/services.sh
source "$RELEASE_DIR/lib/services.sh"
# shellcheck source=lib/supervision.sh
source "$RELEASE_DIR/lib/supervision.sh"
# shellcheck source=lib/health.sh
source "$RELEASE_DIR/lib/health.sh"
# shellcheck source=lib/resources.sh
source "$RELEASE_DIR/lib/resources.sh"
# shellcheck source=lib/pg-bin.sh
source "$RELEASE_DIR/lib/pg-bin.sh"
# shellcheck source=lib/resources-postgres.sh
source "$RELEASE_DIR/lib/resources-postgres.sh"
# shellcheck source=lib/resources-redis.sh
source "$RELEASE_DIR/lib/resources-redis.sh"
# shellcheck source=lib/lock.sh
source "$RELEASE_DIR/lib/lock.sh"
# shellcheck source=lib/edge.sh
source "$RELEASE_DIR/lib/edge.sh"
# shellcheck source=lib/edge-caddy.sh
source "$RELEASE_DIR/lib/edge-caddy.sh"
# shellcheck source=lib/edge-commands.sh
source "$RELEASE_DIR/lib/edge-commands.sh"
# shellcheck source=lib/prune.sh
source "$RELEASE_DIR/lib/prune.sh"
# shellcheck source=lib/slots.sh
source "$RELEASE_DIR/lib/slots.sh"
# shellcheck source=lib/commands.sh
source "$RELEASE_DIR/lib/commands.sh"
# shellcheck source=lib/systemd.sh
source "$RELEASE_DIR/lib/systemd.sh"
# shellcheck source=lib/systemd-services.sh
source "$RELEASE_DIR/lib/systemd-services.sh"
# shellcheck source=lib/systemd-resources.sh
source "$RELEASE_DIR/lib/systemd-resources.sh"
# shellcheck source=lib/release-commands.sh
source "$RELEASE_DIR/lib/release-commands.sh"

usage() {
  cat >&2 <<'EOF'
usage: STAGECOACH_HOME=<workdir> ./manage.sh <command> [args]
commands: setup | start-resources | build | start [--resume] | health [timeout_s] | promote
          | discard [--all] | status | stop [--resources] | edge-apply | prune [keep]
          | exec-service <record> | exec-resource <kind>   (run by systemd units)
EOF
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    setup | start-resources | build | start | health | promote | discard | status | stop | edge-apply | prune) ;;
    # what systemd units run (lib/systemd.sh); no lock: a command holding it may start them
    exec-service | exec-resource) ;;
    '' | -h | --help | help)
      usage
      exit 2
      ;;
    *)
      usage
      die 2 "unknown command '$cmd'; use one of: setup start-resources build start health promote discard status stop edge-apply prune exec-service exec-resource"
      ;;
  esac
  # What the commands write (state, logs, resource passwords, the builds' and services' files)
  # may hold secrets: private by default. Not for setup: the packages apt-get installs must
  # get their usual modes, and setup writes nothing secret (its directories get explicit modes).
  if [[ $cmd != setup ]]; then umask 077; fi
  load_config
  # A bad restart setting (lib/supervision.sh) fails `start` before it stops anything.
  if [[ $cmd == start ]]; then load_restart_settings; fi
  # Services and resources as systemd units where systemd_usable (lib/systemd-services.sh,
  # lib/systemd-resources.sh): asked once, here.
  case $cmd in start-resources | start | health | promote | discard | status | stop) systemd_mode_init ;; esac
  # Commands that change the target take the lock; status and health only look.
  case $cmd in setup | start-resources | build | start | promote | discard | stop | edge-apply | prune) take_lock "$cmd" ;; esac
  "cmd_${cmd//-/_}" "$@"
}

main "$@"
