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
  local timeout=${1:-$STAGECOACH_HEALTH_TIMEOUT} deadline name ok fatal failing reason
  [[ $timeout =~ ^[0-9]+$ ]] || die 2 "health: timeout '$timeout' is not a number of seconds"
  deadline=$((SECONDS + timeout))
  local -a entries failed
  load_slots
  rotate_service_logs "${SERVICES[@]}"
  while :; do
    entries=() failed=() ok=true fatal=false reason=''
    for name in "${SERVICES[@]}"; do
      check_service "$name"
      entries+=("$(printf '{"name":"%s","process":%s,"port":%s,"http":%s,"http_status":%s}' \
        "$name" "$H_PROCESS" "$H_PORT" "$H_HTTP" "$H_STATUS")")
      if [[ -n $H_REASON ]]; then
        ok=false
        failed+=("$name")
        if [[ -z $reason ]]; then failing=$name reason=$H_REASON; fi
        if $H_FATAL; then fatal=true; fi
      fi
    done
    if $ok || $fatal || ((SECONDS >= deadline)); then break; fi
    # a service usually answers within a fraction of a second of starting: poll, don't wait
    sleep 0.2
  done
  if $ok; then
    say "health: all services healthy"
    result "{\"services\":[$(join_json "${entries[@]}")]}"
    return
  fi
  for name in "${failed[@]}"; do print_log_tail "$name"; done
  result "{\"services\":[$(join_json "${entries[@]}")]}"
  die 1 "service $failing: unhealthy after ${timeout}s: $reason; see $LOGS/$failing.log"
}

cmd_status() {
  local name kind pid running port sup rec
  local -a services=() resources=()
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
    services+=("$(printf '{"name":"%s","pid":%s,"running":%s,"port":%s,%s}' \
      "$name" "$(num_or_null "$pid")" "$running" "$SERVICE_PORT" "$sup")")
  done
  for kind in "${RESOURCES[@]}"; do
    port='' running=false
    read -r port 2>/dev/null <"$RES/$kind/port" || true
    if resource_pid "$kind" >/dev/null; then running=true; fi
    say "resource $kind: running=$running port=${port:--}"
    resources+=("$(printf '{"kind":"%s","port":%s,"running":%s}' \
      "$kind" "$(num_or_null "$port")" "$running")")
  done
  EDGE_JSON=''
  if has_edge; then edge_status; fi
  result "{\"services\":[$(join_json "${services[@]}")],\"resources\":[$(join_json "${resources[@]}")]${EDGE_JSON:+,$EDGE_JSON}}"
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
      "${kind}_stop" || say "resource $kind: not running"
    done
  fi
  if [[ -n $EDGE_JSON ]]; then edge=(edge "$EDGE_JSON"); fi
  result "$(json_obj stopped "$(json_strs "${stopped[@]}")" "${edge[@]}")"
}
