# shellcheck shell=bash
# shellcheck disable=SC2153 # SERVICES and RESOURCES are set by load_config (common.sh)
# The commands: cmd_<command> for each manage.sh command.
# Sourced by manage.sh (see docs/target-layout.md); defines functions only.

cmd_setup() {
  ensure_state_dirs
  # setup.sh prints the STAGECOACH_RESULT line; nothing may be printed after it.
  # 9>&-: apt-get may start daemons, which must not inherit the lock (lib/lock.sh).
  bash "$RELEASE_DIR/setup.sh" 9>&-
  touch -- "$RELEASE_DIR/.setup-ok"
}

cmd_start_resources() {
  ensure_state_dirs
  local kind
  local -a entries=()
  for kind in "${RESOURCES[@]}"; do
    entries+=("$(ensure_resource "$kind")")
  done
  result "$(json_obj resources "[$(join_json "${entries[@]}")]")"
}

cmd_build() {
  local name rc
  if [[ -f $RELEASE_DIR/.build-ok ]]; then
    say "build: already done for release ${RELEASE_DIR##*/}"
    result "$(json_obj skipped true)"
    return
  fi
  # builds see what the service will see (e.g. to run migrations): app env, PORT, resource URLs
  load_app_env
  load_resource_env
  for name in "${SERVICES[@]}"; do
    load_service "$name"
    [[ -n $SERVICE_BUILD ]] || continue
    say "service $name: building: $SERVICE_BUILD"
    rc=0
    (
      cd -- "$RELEASE_DIR/scenario" || exit 1 # set -e is off inside the || below
      exec_command - "$SERVICE_BUILD" "${RESOURCE_ENV[@]}" "PORT=$SERVICE_PORT" </dev/null 9>&-
    ) || rc=$?
    ((rc == 0)) ||
      die 1 "service $name: build command failed with exit $rc: $SERVICE_BUILD; fix the build (output above) and deploy again"
  done
  touch -- "$RELEASE_DIR/.build-ok"
  result "$(json_obj skipped false)"
}

cmd_health() {
  local timeout=${1:-$STAGECOACH_HEALTH_TIMEOUT} deadline name ok fatal failing reason round=0
  [[ $timeout =~ ^(0|[1-9][0-9]{0,5})$ ]] || die 2 "health: timeout '$timeout' is not a number of seconds"
  deadline=$((SECONDS + timeout))
  local -a entries=() failed checks
  load_slots
  rotate_service_logs "${SERVICES[@]}"
  while :; do
    checks=() failed=() ok=true fatal=false reason=''
    for name in "${SERVICES[@]}"; do
      check_service "$name"
      checks+=("$H_PROCESS" "$H_PORT" "$H_HTTP" "$H_STATUS")
      if [[ -n $H_REASON ]]; then
        ok=false
        failed+=("$name")
        if [[ -z $reason ]]; then failing=$name reason=$H_REASON; fi
        if $H_FATAL; then fatal=true; fi
      fi
    done
    if $ok || $fatal || ((SECONDS >= deadline)); then break; fi
    # a service usually answers within a fraction of a second of starting: poll, don't wait;
    # every 50 ms for the first 2 s (40 rounds), then every 100 ms
    if ((++round <= 40)); then sleep 0.05; else sleep 0.1; fi
  done
  # Encoded once, from the last round (4 values a service): polling forks no encoders.
  local i=0
  for name in "${SERVICES[@]}"; do
    entries+=("$(json_obj name "$(json_str "$name")" process "$(json_bool "${checks[i]}")" \
      port "$(json_bool "${checks[i + 1]}")" http "$(json_bool "${checks[i + 2]}")" \
      http_status "$(json_num "${checks[i + 3]}")")")
    ((i += 4))
  done
  if $ok; then
    say "health: all services healthy"
    result "$(json_obj services "[$(join_json "${entries[@]}")]")"
    return
  fi
  for name in "${failed[@]}"; do print_log_tail "$name"; done
  result "$(json_obj services "[$(join_json "${entries[@]}")]")"
  die 1 "service $failing: unhealthy after ${timeout}s: $reason; see $LOGS/$failing.log"
}

cmd_status() {
  local name kind pid running port sup rec entry
  local -a services=() resources=() edge=()
  rotate_service_logs "${SERVICES[@]}"
  load_slots
  for name in "${SERVICES[@]}"; do
    load_service "$name"
    # the serving instance (lib/slots.sh), on the port it was launched with
    rec=$(serving_record "$name")
    port=$(service_info "$rec" 2)
    SERVICE_PORT=${port:-$(slot_port "$rec")}
    pid='' running=false
    read -r pid 2>/dev/null <"$RUN/$rec.pid" || true
    if service_pid "$rec" >/dev/null; then running=true; fi
    # Its supervisor (lib/supervision.sh) waiting to restart it, or given up: not running.
    supervision_json_to sup "$rec"
    if [[ $SUP_STATE == backoff || $SUP_STATE == down ]]; then running=false; fi
    say "service $name: running=$running pid=${pid:--} port=$SERVICE_PORT state=${SUP_STATE:--} restarts=$SUP_RESTARTS"
    entry=$(json_obj name "$(json_str "$name")" pid "$(json_num "$pid")" \
      running "$(json_bool "$running")" port "$(json_num "$SERVICE_PORT")")
    # the supervision members (no braces) go last, inside the object
    services+=("${entry%\}},$sup}")
  done
  for kind in "${RESOURCES[@]}"; do
    port='' running=false
    read -r port 2>/dev/null <"$RES/$kind/port" || true
    # its unit's state from systemctl, in systemd mode (lib/systemd-resources.sh)
    if resource_running "$kind"; then running=true; fi
    say "resource $kind: running=$running port=${port:--}"
    resources+=("$(json_obj kind "$(json_str "$kind")" port "$(json_num "$port")" \
      running "$(json_bool "$running")")")
  done
  EDGE_JSON=''
  if has_edge; then edge_status; fi
  if [[ -n $EDGE_JSON ]]; then edge=(edge "$EDGE_JSON"); fi
  result "$(json_obj services "[$(join_json "${services[@]}")]" \
    resources "[$(join_json "${resources[@]}")]" "${edge[@]}")"
}

cmd_stop() {
  local with_resources=false name kind
  local -a stopped=() edge=()
  case ${1:-} in
    '') ;;
    --resources) with_resources=true ;;
    *) die 2 "stop: unknown option '$1'; usage: ./manage.sh stop [--resources]" ;;
  esac
  # The edge first: no traffic is routed to services that are going away.
  EDGE_JSON=''
  if has_edge; then edge_stop; fi
  for name in $(recorded_services); do
    if stop_service "$name"; then stopped+=("$name"); fi
  done
  for name in "${SERVICES[@]}"; do rm -f -- "$RUN/$name.pending"; done
  if $with_resources; then
    # Every resource with state, not only this release's: `stop --resources` means all.
    for kind in "${KNOWN_RESOURCES[@]}"; do
      [[ -d $RES/$kind ]] || continue
      stop_resource "$kind" || say "resource $kind: not running"
    done
  fi
  if [[ -n $EDGE_JSON ]]; then edge=(edge "$EDGE_JSON"); fi
  result "$(json_obj stopped "$(json_strs "${stopped[@]}")" "${edge[@]}")"
}
