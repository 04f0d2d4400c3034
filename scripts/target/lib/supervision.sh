# shellcheck shell=bash
# Supervision: the restart settings, the state file the supervisor (supervise.sh) keeps per
# record, and what manage.sh reads from it (record_crashed, supervision_json).
# Sourced by manage.sh and supervise.sh (see docs/target-layout.md); defines functions only.
#
# A record is a key under state/run: a service name, or another instance of a service (the
# edge service's spare slot `<name>.b`, lib/slots.sh). Its files: <record>.pid (the supervisor's pid, which
# leads the process group), <record>.info, <record>.sup (below).
#
# <record>.sup is one line of space-separated fields, written atomically by the supervisor:
#   state restarts last_exit last_exit_at since retry_in_ms crashes limit window_ms child_pid
# state is running | backoff | down; `-` marks an empty field; times are UTC ISO 8601.

# Sets variable $1 to the milliseconds of the seconds value $3 (digits, up to 3 decimals) of
# setting $2; dies (exit 2) on anything else. No floating point in bash: supervise.sh counts ms.
seconds_to_ms() {
  local name=$2 value=$3 int frac
  [[ $value =~ ^([0-9]{1,7})(\.([0-9]{1,3}))?$ ]] ||
    die 2 "$name '$value' is not a number of seconds (e.g. 1 or 0.1, at most 3 decimals)"
  int=${BASH_REMATCH[1]} frac=${BASH_REMATCH[3]}000
  printf -v "$1" '%d' "$((10#$int * 1000 + 10#${frac:0:3}))"
}

# Sets RESTART_DELAY_MS, RESTART_MAX_DELAY_MS, RESTART_LIMIT and RESTART_WINDOW_MS from
# STAGECOACH_RESTART_{DELAY_S,MAX_DELAY_S,LIMIT,WINDOW_S} (defaults 1, 60, 5, 300); a bad
# value dies with exit 2 naming it. manage.sh checks them before `start` stops anything.
load_restart_settings() {
  local delay=${STAGECOACH_RESTART_DELAY_S:-1} max=${STAGECOACH_RESTART_MAX_DELAY_S:-60}
  local limit=${STAGECOACH_RESTART_LIMIT:-5} window=${STAGECOACH_RESTART_WINDOW_S:-300}
  seconds_to_ms RESTART_DELAY_MS STAGECOACH_RESTART_DELAY_S "$delay"
  seconds_to_ms RESTART_MAX_DELAY_MS STAGECOACH_RESTART_MAX_DELAY_S "$max"
  seconds_to_ms RESTART_WINDOW_MS STAGECOACH_RESTART_WINDOW_S "$window"
  ((RESTART_DELAY_MS > 0)) || die 2 "STAGECOACH_RESTART_DELAY_S '$delay' must be more than 0"
  ((RESTART_MAX_DELAY_MS >= RESTART_DELAY_MS)) ||
    die 2 "STAGECOACH_RESTART_MAX_DELAY_S '$max' is less than STAGECOACH_RESTART_DELAY_S '$delay'"
  ((RESTART_WINDOW_MS > 0)) || die 2 "STAGECOACH_RESTART_WINDOW_S '$window' must be more than 0"
  [[ $limit =~ ^[1-9][0-9]{0,5}$ ]] ||
    die 2 "STAGECOACH_RESTART_LIMIT '$limit' is not a whole number of crashes (1 or more)"
  # shellcheck disable=SC2034 # read by supervise.sh
  RESTART_LIMIT=$limit
}

# Seconds of $1 milliseconds for people and for sleep(1): 1500 → 1.5, 2000 → 2.
ms_to_seconds() {
  local frac
  printf -v frac '%03d' "$(($1 % 1000))"
  while [[ $frac == *0 ]]; do frac=${frac%0}; done
  printf '%s%s' "$(($1 / 1000))" "${frac:+.$frac}"
}

# Sets SUP_STATE SUP_RESTARTS SUP_LAST_EXIT SUP_LAST_EXIT_AT SUP_SINCE SUP_RETRY_MS SUP_CRASHES
# SUP_LIMIT SUP_WINDOW_MS SUP_CHILD from record $1's .sup file (`-` → empty); fails without one.
read_sup() {
  local -a f=()
  read -r -a f 2>/dev/null <"$RUN/$1.sup" || ((${#f[@]})) || return 1
  ((${#f[@]} >= 10)) || return 1
  f=("${f[@]/#-/}")
  # numbers go into JSON as they are: a damaged file counts as none
  [[ ${f[0]} =~ ^(running|backoff|down)$ && ${f[1]} =~ ^[0-9]+$ && ${f[2]} =~ ^[0-9]*$ ]] || return 1
  [[ ${f[5]} =~ ^[0-9]*$ && ${f[6]} =~ ^[0-9]+$ && ${f[8]} =~ ^[0-9]+$ ]] || return 1
  # shellcheck disable=SC2034 # SUP_* are read by the callers
  SUP_STATE=${f[0]} SUP_RESTARTS=${f[1]} SUP_LAST_EXIT=${f[2]} SUP_LAST_EXIT_AT=${f[3]} \
    SUP_SINCE=${f[4]} SUP_RETRY_MS=${f[5]} SUP_CRASHES=${f[6]} SUP_LIMIT=${f[7]} \
    SUP_WINDOW_MS=${f[8]} SUP_CHILD=${f[9]}
}

# "code 1", or "SIGKILL (code 137)" for a status above 128: a shell reports death by signal N
# as 128+N, which an exit(137) cannot be told apart from.
describe_exit() {
  local code=$1 sig
  if ((code > 128)) && sig=$(kill -l "$((code - 128))" 2>/dev/null); then
    printf 'SIG%s (code %s)' "${sig#SIG}" "$code"
  else
    printf 'code %s' "$code"
  fi
}

# `1 restart` / `2 restarts`.
restarts_text() { if (($1 == 1)); then printf '1 restart'; else printf '%s restarts' "$1"; fi; }

# True when record $1's service exited at least once since its supervisor started, or its
# supervisor gave up or is gone; prints why in one line. False (silent) for a record with no
# supervision state (not started, stopped, or started by an older stagecoach).
record_crashed() {
  local record=$1
  if unit_record "$record"; then unit_crashed; return; fi
  read_sup "$record" || return 1
  local last='it never exited'
  if [[ -n $SUP_LAST_EXIT ]]; then last="last exit $(describe_exit "$SUP_LAST_EXIT")"; fi
  if [[ $SUP_STATE == down ]]; then
    printf 'down after %s crashes within %s s; %s\n' "$SUP_CRASHES" \
      "$(ms_to_seconds "${SUP_WINDOW_MS:-0}")" "$last"
    return 0
  fi
  if ! service_pid "$record" >/dev/null; then
    printf 'its supervisor is gone (last state %s, %s); run ./manage.sh start\n' "$SUP_STATE" "$last"
    return 0
  fi
  [[ -n $SUP_LAST_EXIT ]] || return 1
  if [[ $SUP_STATE == backoff ]]; then
    printf 'exited with %s (restarting in %s s, %s)\n' "$(describe_exit "$SUP_LAST_EXIT")" \
      "$(ms_to_seconds "${SUP_RETRY_MS:-0}")" "$(restarts_text "$SUP_RESTARTS")"
  else
    printf 'exited with %s at %s and was restarted (%s)\n' "$(describe_exit "$SUP_LAST_EXIT")" \
      "$SUP_LAST_EXIT_AT" "$(restarts_text "$SUP_RESTARTS")"
  fi
}

# Sets SUP_STATE and the rest from record $1 as status reports it: a record whose supervisor
# is gone (killed, or the target rebooted) is `down`; one with no .sup has an empty state.
load_supervision() {
  if unit_record "$1"; then load_unit_supervision; return 0; fi
  if ! read_sup "$1"; then
    SUP_STATE='' SUP_RESTARTS=0 SUP_LAST_EXIT='' SUP_LAST_EXIT_AT='' SUP_SINCE=''
    return 0
  fi
  if [[ $SUP_STATE != down ]] && ! service_pid "$1" >/dev/null; then SUP_STATE=down; fi
}

# A JSON string of $1 (json_str, lib/json.sh), or null when it is empty.
str_or_null() { if [[ -n $1 ]]; then json_str "$1"; else printf 'null'; fi; }

# Sets variable $1 to record $2's supervision as JSON members (no braces) for status, and SUP_*
# as load_supervision does, from one read of the .sup (a second read could see another state):
# "state":"running","restarts":0,"last_exit":null,"last_exit_at":null,"since":"…Z".
# state is running | backoff | down, or null when the record has no supervision state.
supervision_json_to() {
  load_supervision "$2"
  local __sj
  __sj=$(json_obj state "$(str_or_null "$SUP_STATE")" restarts "$(json_num "${SUP_RESTARTS:-0}")" \
    last_exit "$(json_num "$SUP_LAST_EXIT")" last_exit_at "$(str_or_null "$SUP_LAST_EXIT_AT")" \
    since "$(str_or_null "$SUP_SINCE")")
  __sj=${__sj#\{}
  printf -v "$1" '%s' "${__sj%\}}"
}

# Prints record $1's supervision as JSON members (supervision_json_to).
supervision_json() {
  local members
  supervision_json_to members "$1"
  printf '%s' "$members"
}
