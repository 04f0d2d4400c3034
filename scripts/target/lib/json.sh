# shellcheck shell=bash
# The one JSON encoder of the target scripts: every value a result carries goes through
# json_str, json_num or json_bool; json_obj, json_strs and join_json put them together.
# Sourced by manage.sh and setup.sh, and sent by the worker ahead of preflight.sh (which runs
# before the bundle is on the target); defines functions only.

# A caller passed a value its encoder cannot take: exit 1 (preflight.sh has no `die`). Called in
# $(…), the fragment is cut short, so the result line does not parse and the worker fails the step.
json_bug() {
  printf '%s\n' "$1" >&2
  exit 1
}

# Sets variable $1 to the JSON string literal (RFC 8259) of $2: quotes and backslashes escaped,
# control characters as \n, \r, \t or \u00XX; everything else, UTF-8 included, as it is.
json_str_to() {
  local __js=$2 __jc __jh __ji
  __js=${__js//\\/\\\\}
  __js=${__js//\"/\\\"}
  if [[ $__js == *[[:cntrl:]]* ]]; then
    __js=${__js//$'\n'/'\n'}
    __js=${__js//$'\r'/'\r'}
    __js=${__js//$'\t'/'\t'}
    for ((__ji = 1; __ji < 32; __ji++)); do
      printf -v __jh '%02x' "$__ji"
      printf -v __jc '%b' "\\x$__jh"
      __js=${__js//"$__jc"/"\\u00$__jh"}
    done
  fi
  printf -v "$1" '"%s"' "$__js"
}

# Prints the JSON string literal of $1 (json_str_to).
json_str() {
  local out
  json_str_to out "$1"
  printf '%s' "$out"
}

# Prints $1 as a JSON number: an integer as it is, `null` when empty; anything else is a bug
# of the caller (exit 1).
json_num() {
  if [[ -z $1 ]]; then
    printf 'null'
  elif [[ $1 =~ ^-?(0|[1-9][0-9]*)$ ]]; then
    printf '%s' "$1"
  else
    json_bug "json_num: '$1' is not a number"
  fi
}

# Prints $1 (`true` or `false`, as the scripts keep flags) as a JSON boolean; anything else
# is a bug of the caller (exit 1).
json_bool() {
  case $1 in
    true | false) printf '%s' "$1" ;;
    *) json_bug "json_bool: '$1' is not true or false" ;;
  esac
}

# Prints a JSON array of the strings $@.
json_strs() {
  local __jo='' __jv __je
  for __jv in "$@"; do
    json_str_to __je "$__jv"
    __jo+=${__jo:+,}$__je
  done
  printf '[%s]' "$__jo"
}

# Prints a JSON object from KEY VALUE pairs: each KEY a plain name, each VALUE JSON already
# (json_str, json_num, json_bool, json_obj, `[…]`).
json_obj() {
  local __jo='' __jk
  (($# % 2 == 0)) || json_bug "json_obj: a key without a value: $*"
  while (($#)); do
    json_str_to __jk "$1"
    __jo+=${__jo:+,}$__jk:$2
    shift 2
  done
  printf '{%s}' "$__jo"
}

# Joins JSON fragments with commas (the members of an array: `[$(join_json "${items[@]}")]`).
join_json() {
  local IFS=,
  printf '%s' "$*"
}

# Prints the result line of a command: `STAGECOACH_RESULT <json>`, its last line on stdout,
# always at the start of a line (a build's output may end without a newline).
result() { printf '\nSTAGECOACH_RESULT %s\n' "$1"; }
