# shellcheck shell=bash
# Output helpers and configuration: die/say/result, load_config, load_service, state dirs.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

die() {
  local code=$1
  shift
  printf '%s\n' "$*" >&2
  exit "$code"
}
say() { printf '%s\n' "$*"; }
result() { printf 'STAGECOACH_RESULT %s\n' "$1"; }
# Joins JSON fragments with commas.
join_json() {
  local IFS=,
  printf '%s' "$*"
}
# `null` for an empty value, the value itself (a number) otherwise.
num_or_null() { if [[ -n $1 ]]; then printf '%s' "$1"; else printf 'null'; fi; }

# ---------------------------------------------------------------- configuration

load_config() {
  [[ -n ${STAGECOACH_HOME:-} ]] ||
    die 2 "STAGECOACH_HOME is not set; run: STAGECOACH_HOME=<workdir> ./manage.sh <command>"
  [[ -f $CONFIG_DIR/stagecoach.env ]] ||
    die 2 "missing $CONFIG_DIR/stagecoach.env: $RELEASE_DIR is not an extracted stagecoach bundle"
  # shellcheck disable=SC2034 # defaults for stagecoach.env; cmd_health reads the timeout
  STAGECOACH_SERVICES='' STAGECOACH_RESOURCES='' STAGECOACH_HEALTH_TIMEOUT=60
  # shellcheck source=/dev/null
  source "$CONFIG_DIR/stagecoach.env"
  mkdir -p -- "$STAGECOACH_HOME"
  HOME_DIR=$(cd -- "$STAGECOACH_HOME" && pwd -P)
  STATE=$HOME_DIR/state RUN=$HOME_DIR/state/run LOGS=$HOME_DIR/state/logs
  RES=$HOME_DIR/state/resources
  read -r -a SERVICES <<<"$STAGECOACH_SERVICES"
  read -r -a RESOURCES <<<"$STAGECOACH_RESOURCES"
  local name
  for name in "${SERVICES[@]}"; do
    [[ $name =~ ^[a-z0-9][a-z0-9-]*$ ]] || die 2 "invalid service name '$name' in config/stagecoach.env"
  done
  for name in "${RESOURCES[@]}"; do
    [[ " ${KNOWN_RESOURCES[*]} " == *" $name "* ]] ||
      die 2 "unknown resource '$name' in config/stagecoach.env; supported: ${KNOWN_RESOURCES[*]}"
  done
}

# Sets SERVICE_* from config/services/<name>.env.
load_service() {
  local name=$1 file=$CONFIG_DIR/services/$1.env
  [[ -f $file ]] || die 2 "service $name: missing config/services/$name.env; rebuild the bundle"
  # shellcheck disable=SC2034 # SERVICE_* are read by services.sh, health.sh and commands.sh
  SERVICE_NAME=$name SERVICE_PORT='' SERVICE_START='' SERVICE_BUILD='' SERVICE_HEALTH=/health
  # shellcheck source=/dev/null
  source "$file"
  if ! [[ $SERVICE_PORT =~ ^[0-9]{1,5}$ ]] || ((SERVICE_PORT < 1 || SERVICE_PORT > 65535)); then
    die 2 "service $name: SERVICE_PORT '$SERVICE_PORT' is not a port; set it in manifest.ports"
  fi
  [[ -n $SERVICE_START ]] || die 2 "service $name: SERVICE_START is empty; give it a start command"
}

# Creates a directory (and parents) and sets its mode.
ensure_dir() {
  mkdir -p -- "$2"
  chmod "$1" -- "$2"
}

ensure_state_dirs() {
  ensure_dir 711 "$STATE"
  ensure_dir 700 "$RUN"
  ensure_dir 700 "$LOGS"
  ensure_dir 711 "$RES"
}

# Writes a file atomically with mode 0600 (for pid files and secrets alike).
write_private() {
  local file=$1 content=$2
  (umask 077 && printf '%s\n' "$content" >"$file.tmp.$$")
  mv -f -- "$file.tmp.$$" "$file"
}
