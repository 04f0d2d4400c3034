# shellcheck shell=bash
# Output helpers, env files read as data, running a scenario's commands, configuration
# (load_config, load_service), state dirs.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

die() {
  local code=$1
  shift
  printf '%s\n' "$*" >&2
  exit "$code"
}
say() { printf '%s\n' "$*"; }
# JSON output (json_str, json_num, json_obj, result, …) is lib/json.sh's.

# ---------------------------------------------------------------- env files, read as data

# Reads FILE as data into the associative array ENV_FILE: `KEY=value` lines as shellEnvFile
# (shared/shell.ts) writes them, each value bare or in single quotes with a quote as '\''.
# Nothing in the file is run or expanded (it is never sourced); anything else is an error (exit 2).
read_env_file() {
  local file=$1 LC_ALL=C i j n quoted=false key='' part line why=''
  local -a parts=() lines=() pieces=()
  declare -gA ENV_FILE=()
  [[ -f $file ]] || die 2 "missing $file: $RELEASE_DIR is not a complete stagecoach bundle; rebuild it"
  # Split at every quote: the parts alternate between text outside and inside quotes.
  IFS="'" read -r -d '' -a parts <"$file" || true
  n=${#parts[@]}
  for ((i = 0; i < n; i++)); do
    [[ -z $why ]] || break
    part=${parts[i]}
    if $quoted; then
      pieces+=("$part") quoted=false
      continue
    fi
    if [[ $part == "\\" && -n $key ]] && ((i + 1 < n)); then
      pieces+=("'") # '\'': a quote between two quoted pieces
      continue
    fi
    if [[ $part == *$'\n'* ]]; then mapfile -t lines <<<"$part"; else lines=("$part"); fi
    for ((j = 0; j < ${#lines[@]}; j++)); do
      line=${lines[j]}
      if ((j > 0)) && [[ -n $key ]]; then
        printf -v "ENV_FILE[$key]" '%s' "${pieces[@]}"
        key='' pieces=()
      fi
      if [[ -z $key ]]; then
        [[ -n $line ]] || continue
        if ! [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
          why='a line is not KEY=value'
          break
        fi
        key=${BASH_REMATCH[1]} line=${BASH_REMATCH[2]}
      fi
      [[ -n $line ]] || continue
      if [[ $line == *[!A-Za-z0-9_@%+:,./-]* ]]; then
        why="the value of $key has unquoted special characters"
        break
      fi
      pieces+=("$line")
    done
    if [[ -z $why ]] && ((i + 1 < n)); then
      if [[ -n $key ]]; then quoted=true; else why='a quote outside a value'; fi
    fi
  done
  if [[ -z $why ]] && $quoted; then why='a quote is not closed'; fi
  if [[ -z $why && -n $key ]]; then why='the last line has no newline'; fi
  [[ -z $why ]] || die 2 "$file is not a KEY=value file ($why); rebuild the bundle"
}

# True when name $1 may not reach a service or build command: bash, sh, the dynamic loader,
# glibc or a language runtime would run code from it. The same list as shared/env-names.ts
# (test/security/env-names.test.ts keeps them equal); the API refuses these names already.
denied_env_name() {
  case $1 in
    BASH_ENV | ENV | SHELLOPTS | BASHOPTS | POSIXLY_CORRECT | BASH_COMPAT | BASH_XTRACEFD | \
      BASH_LOADABLES_PATH | IFS | CDPATH | GLOBIGNORE | EXECIGNORE | PS0 | PS1 | PS2 | PS3 | PS4 | \
      PROMPT_COMMAND | HISTFILE | INPUTRC | GCONV_PATH | GETCONF_DIR | GLIBC_TUNABLES | LOCPATH | \
      NLSPATH | MALLOC_TRACE | NODE_OPTIONS | PERL5OPT | PERL5DB | PYTHONSTARTUP | RUBYOPT | \
      JAVA_TOOL_OPTIONS | _JAVA_OPTIONS | JDK_JAVA_OPTIONS | LD_* | BASH_FUNC_* | *%*)
      return 0
      ;;
  esac
  return 1
}

# Sets APP_ENV to the app env's KEY=value entries (config/app.env, read as data); refuses
# (exit 2) a file that sets any denied name, naming every one.
load_app_env() {
  local key file
  local -a denied=()
  APP_ENV=()
  # the app env of the bundle, then the secrets the worker wrote at deploy time (0600, never
  # in the bundle); both read as data
  for file in "$CONFIG_DIR/app.env" "$STATE/secrets.env"; do
    [[ -f $file ]] || continue
    read_env_file "$file"
    for key in "${!ENV_FILE[@]}"; do
      if denied_env_name "$key"; then denied+=("$key"); fi
      APP_ENV+=("$key=${ENV_FILE[$key]}")
    done
    if ((${#denied[@]})); then
      mapfile -t denied < <(printf '%s\n' "${denied[@]}" | sort)
      die 2 "${file#"$RELEASE_DIR"/} sets ${denied[*]}: names that make a shell or the dynamic loader run code; remove them from the manifest's env and secrets"
    fi
  done
}

# The variables of manage.sh's own environment that services and builds inherit; nothing else
# of it (the worker's or sshd's session) reaches them.
INHERITED_ENV=(PATH HOME LANG LC_ALL TZ USER LOGNAME SHELL TMPDIR)

# Runs command line $2 (a scenario's start or build) in the current directory, in a session of
# its own when $1 is `setsid` (else `-`): bash -p (which ignores BASH_ENV, SHELLOPTS and
# functions from the environment) under env -i with exactly the inherited variables, the app env
# (APP_ENV), then "${@:3}" (PORT, resource URLs: they win). Replaces the calling process; every
# value reaches the command as data, never as code.
exec_command() {
  local cmd=$2 name
  local -a launcher=() vars=()
  if [[ $1 == setsid ]]; then launcher=(setsid); fi
  shift 2
  declare -p APP_ENV &>/dev/null || load_app_env
  for name in "${INHERITED_ENV[@]}"; do
    if [[ -n ${!name+x} ]]; then vars+=("$name=${!name}"); fi
  done
  exec "${launcher[@]}" env -i -- "${vars[@]}" "${APP_ENV[@]}" "$@" bash -p -c "$cmd"
}

# ---------------------------------------------------------------- configuration

load_config() {
  local name reason
  [[ -n ${STAGECOACH_HOME:-} ]] ||
    die 2 "STAGECOACH_HOME is not set; run: STAGECOACH_HOME=<workdir> ./manage.sh <command>"
  [[ -f $CONFIG_DIR/stagecoach.env ]] ||
    die 2 "missing $CONFIG_DIR/stagecoach.env: $RELEASE_DIR is not an extracted stagecoach bundle"
  read_env_file "$CONFIG_DIR/stagecoach.env"
  STAGECOACH_SERVICES=${ENV_FILE[STAGECOACH_SERVICES]:-}
  STAGECOACH_RESOURCES=${ENV_FILE[STAGECOACH_RESOURCES]:-}
  STAGECOACH_SCENARIO=${ENV_FILE[STAGECOACH_SCENARIO]:-} # names the systemd units (systemd-services.sh)
  # shellcheck disable=SC2034 # cmd_health reads the timeout
  STAGECOACH_HEALTH_TIMEOUT=${ENV_FILE[STAGECOACH_HEALTH_TIMEOUT]:-60}
  [[ -d $STAGECOACH_HOME ]] || mkdir -p -- "$STAGECOACH_HOME"
  HOME_DIR=$(cd -- "$STAGECOACH_HOME" && pwd -P)
  if reason=$(system_dir_reason "$HOME_DIR"); then
    die 2 "STAGECOACH_HOME: $reason; stagecoach needs a workdir of its own (choose another target workdir)"
  fi
  STATE=$HOME_DIR/state RUN=$HOME_DIR/state/run LOGS=$HOME_DIR/state/logs
  RES=$HOME_DIR/state/resources
  read -r -a SERVICES <<<"$STAGECOACH_SERVICES"
  read -r -a RESOURCES <<<"$STAGECOACH_RESOURCES"
  for name in "${SERVICES[@]}"; do
    [[ $name =~ ^[a-z0-9][a-z0-9-]*$ ]] || die 2 "invalid service name '$name' in config/stagecoach.env"
  done
  for name in "${RESOURCES[@]}"; do
    [[ " ${KNOWN_RESOURCES[*]} " == *" $name "* ]] ||
      die 2 "unknown resource '$name' in config/stagecoach.env; supported: ${KNOWN_RESOURCES[*]}"
  done
}

# Sets SERVICE_* from config/services/<name>.env (read as data).
load_service() {
  local name=$1 file=$CONFIG_DIR/services/$1.env
  [[ -f $file ]] || die 2 "service $name: missing config/services/$name.env; rebuild the bundle"
  read_env_file "$file"
  # shellcheck disable=SC2034 # SERVICE_* are read by services.sh, health.sh and commands.sh
  SERVICE_NAME=$name SERVICE_PORT=${ENV_FILE[SERVICE_PORT]:-} \
    SERVICE_START=${ENV_FILE[SERVICE_START]:-} SERVICE_BUILD=${ENV_FILE[SERVICE_BUILD]:-} \
    SERVICE_HEALTH=${ENV_FILE[SERVICE_HEALTH]:-/health}
  if ! [[ $SERVICE_PORT =~ ^[1-9][0-9]{0,4}$ ]] || ((SERVICE_PORT > 65535)); then
    die 2 "service $name: SERVICE_PORT '$SERVICE_PORT' is not a port; set it in manifest.ports"
  fi
  [[ -n $SERVICE_START ]] || die 2 "service $name: SERVICE_START is empty; give it a start command"
}

# Creates a directory (and parents) and sets its mode.
ensure_dir() {
  mkdir -p -- "$2"
  chmod "$1" -- "$2"
}

# The same modes as ensure_dir each, in three commands instead of eight (every fork counts:
# start-resources and start run this on every deploy).
ensure_state_dirs() {
  mkdir -p -- "$RUN" "$LOGS" "$RES"
  chmod 711 -- "$STATE" "$RES"
  chmod 700 -- "$RUN" "$LOGS"
}

# Writes a file atomically with mode 0600 (for pid files and secrets alike).
write_private() {
  local file=$1 content=$2
  (umask 077 && printf '%s\n' "$content" >"$file.tmp.$$")
  mv -f -- "$file.tmp.$$" "$file"
}
