# shellcheck shell=bash
# Resources: passwords, port choice and ensure_resource. Each kind (lib/resources-<kind>.sh)
# implements <kind>_pid, <kind>_start PORT and <kind>_stop, and for systemd mode <kind>_prepare PORT
# and <kind>_started PORT (what <kind>_start does before and after the server starts).
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

resource_pid() { "$1_pid"; }

# A random alnum password of 32 characters.
new_password() {
  local pw=''
  while ((${#pw} < 32)); do
    pw+=$(head -c 512 /dev/urandom | tr -dc 'A-Za-z0-9')
  done
  printf '%s' "${pw:0:32}"
}

# Prints the resource's password, generating and recording one on first use.
resource_password() {
  local file=$RES/$1/password pw
  if [[ ! -s $file ]]; then
    write_private "$file" "$(new_password)"
  fi
  read -r pw <"$file"
  printf '%s' "$pw"
}

# True when port $1 is one of this release's service ports.
is_service_port() {
  local name
  for name in "${SERVICES[@]}"; do
    load_service "$name"
    [[ $SERVICE_PORT == "$1" ]] && return 0
  done
  return 1
}

# A free port in 20000-29999 that no service of this release is configured to use.
pick_free_port() {
  local i port
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 10000))
    if ! port_in_use "$port" && ! is_service_port "$port"; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  die 1 "no free port found in 20000-29999; set one in manifest.ports"
}

# The port resource $1 should use: the conf's, else the recorded one (unless now held by
# something else), else a free one.
resource_port() {
  local kind=$1 recorded=''
  RESOURCE_PORT=''
  # shellcheck source=/dev/null
  if [[ -f $CONFIG_DIR/resources/$kind.conf ]]; then source "$CONFIG_DIR/resources/$kind.conf"; fi
  if [[ -n $RESOURCE_PORT ]]; then
    if ! [[ $RESOURCE_PORT =~ ^[0-9]{1,5}$ ]] || ((RESOURCE_PORT < 1 || RESOURCE_PORT > 65535)); then
      die 2 "resource $kind: RESOURCE_PORT '$RESOURCE_PORT' in config/resources/$kind.conf is not a port; fix manifest.ports.$kind"
    fi
    printf '%s\n' "$RESOURCE_PORT"
    return
  fi
  if [[ -s $RES/$kind/port ]]; then read -r recorded <"$RES/$kind/port"; fi
  if [[ -n $recorded ]] && { ! port_in_use "$recorded" || resource_pid "$kind" >/dev/null; }; then
    printf '%s\n' "$recorded"
    return
  fi
  [[ -z $recorded ]] || say "resource $kind: recorded port $recorded is now taken, picking another" >&2
  pick_free_port
}

# Starts resource $1 unless it runs; prints its JSON entry. In systemd mode (SYSTEMD_MODE,
# lib/systemd-resources.sh) it starts as its unit, and one already running is adopted: its unit
# enabled for the boot, on this release, without a restart.
ensure_resource() {
  local kind=$1 port pid started=false running_port
  ensure_dir 711 "$RES/$kind"
  port=$(resource_port "$kind")
  if pid=$(resource_pid "$kind"); then
    running_port=$(cat -- "$RES/$kind/port" 2>/dev/null || true)
    if [[ $running_port == "$port" ]]; then
      say "resource $kind: already running (pid $pid, port $port)" >&2
      if [[ ${SYSTEMD_MODE:-} == true ]]; then systemd_adopt_resource "$kind" >&2; fi
      resource_entry "$kind" "$port" "$pid" false
      return
    fi
    say "resource $kind: moving from port $running_port to $port" >&2
    if [[ ${SYSTEMD_MODE:-} == true ]]; then stop_resource "$kind" >&2 || true; else "${kind}_stop"; fi
  fi
  if port_in_use "$port"; then
    die 3 "resource $kind: port $port is held by another process ($(describe_holders "$port")); free it or set manifest.ports.$kind to another port"
  fi
  write_private "$RES/$kind/port" "$port"
  if [[ ${SYSTEMD_MODE:-} == true ]]; then
    systemd_launch_resource "$kind" "$port" >&2
  else
    "${kind}_start" "$port" >&2
  fi
  pid=$(resource_pid "$kind") || die 1 "resource $kind: it exited right after starting; see its log in $RES/$kind"
  started=true
  resource_entry "$kind" "$port" "$pid" "$started"
}

# The JSON entry of resource $1 on port $2, pid $3, started now or not ($4) (start-resources).
resource_entry() {
  json_obj kind "$(json_str "$1")" port "$(json_num "$2")" pid "$(json_num "$3")" \
    started "$(json_bool "$4")"
}
